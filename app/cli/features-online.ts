/**
 * `dagwood features materialize|materialize-incremental`: the latest feature
 * rows of each view within an event-time window, from its offline source
 * into the project's online store (dagwood.json `online`: SQLite by default,
 * or Redis), atomically per view (app/features/materialize.ts). Like the
 * other feature commands, they open their own in-memory DuckDB, so they work
 * while the app has the project open. Exit 0: done; 1: a source does not fit
 * its view or the online store cannot be reached; 2: bad arguments or
 * definitions.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type * as Materialize from "../features/materialize";
import type { MaterializationRecord } from "../features/types";
import { EXIT, type Io, parse, UsageError } from "./args";
import { renderTable, toJson } from "./format";

export const FEATURES_ONLINE_HELP = `  dagwood features materialize --start TIME --end TIME [--views a,b] [--json]
                                       the latest row per entity key of each online view with its event time in
                                       [start, end] into the online store (dagwood.json "online": SQLite, or Redis)
  dagwood features materialize-incremental --end TIME [--views a,b] [--json]
                                       the same from each view's last materialised end (else end − TTL)
  TIME: ISO 8601 (2026-01-31T00:00:00Z; UTC when no zone is given), or "now".
`;

/** An ISO 8601 time (UTC when it names no zone, as Feast's CLI reads one), or "now". */
export function parseTime(option: string, text: string | undefined): Date {
  if (text === undefined)
    throw new UsageError(`${option} is required: an ISO 8601 time, e.g. 2026-01-31T00:00:00Z`);
  if (text === "now") return new Date();
  const zoned = /(Z|[+-]\d\d:?\d\d)$/i.test(text) || /^\d{4}-\d\d-\d\d$/.test(text) ? text : `${text}Z`;
  const t = /^\d{4}-\d\d-\d\d/.test(text) ? new Date(zoned) : new Date(Number.NaN);
  if (Number.isNaN(t.getTime()))
    throw new UsageError(`${option} ${text}: not a time; give ISO 8601, e.g. 2026-01-31T00:00:00Z, or "now"`);
  return t;
}

function render(records: MaterializationRecord[]): string {
  if (!records.length) return "Nothing to materialise: every view is already materialised up to --end.\n";
  const rows = records.map((r) => [
    r.view,
    `v${r.version}`,
    r.start,
    r.end,
    r.rows.toLocaleString("en-US"),
    `${Math.round(r.ms).toLocaleString("en-US")} ms`,
  ]);
  return `${renderTable(["view", "version", "start", "end", "rows", "took"], rows, new Set([4, 5]))}\n`;
}

async function run(
  io: Io,
  values: { project?: string; views?: string; json?: boolean },
  go: (
    m: typeof Materialize,
    target: Materialize.MaterializeTarget,
    views: string[] | undefined,
  ) => Promise<MaterializationRecord[]>,
): Promise<number> {
  const { findProjectDir, readProjectSettings, ProjectSettingsError } = await import("../project/project");
  const dir = values.project ? resolve(values.project) : findProjectDir(join(process.cwd(), "_"));
  if (!existsSync(dir)) throw new UsageError(`--project ${values.project}: no such folder`);
  const views = values.views
    ?.split(",")
    .map((v) => v.trim())
    .filter(Boolean);
  if (views && !views.length)
    throw new UsageError("--views names no view: give view names separated by commas");
  const m = await import("../features/materialize");
  const { FeatureRepoError, loadFeatureRepo } = await import("../features/repo");
  const { FeatureSourceError } = await import("../features/offline-source");
  const { OnlineStoreError } = await import("../features/online/values");
  const { openOnlineStore } = await import("../features/online/open");
  const { openFeatureProject } = await import("../features/project");
  try {
    const settings = readProjectSettings(dir);
    const repo = loadFeatureRepo(dir);
    const store = openOnlineStore({ dir, settings });
    try {
      const project = await openFeatureProject(dir);
      try {
        const records = await go(m, m.materializeTarget(project, repo, store), views);
        io.stdout.write(values.json ? toJson(records) : render(records));
        return EXIT.ok;
      } finally {
        project.close();
      }
    } finally {
      await store.close();
    }
  } catch (e) {
    if (
      e instanceof FeatureRepoError ||
      e instanceof m.MaterializeError ||
      e instanceof ProjectSettingsError
    ) {
      io.stderr.write(`${e.message}\n`);
      return EXIT.invalid;
    }
    if (e instanceof FeatureSourceError || e instanceof OnlineStoreError) {
      io.stderr.write(`${e.message}\n`);
      return EXIT.failed;
    }
    throw e;
  }
}

const OPTIONS = {
  project: { type: "string" },
  views: { type: "string" },
  json: { type: "boolean" },
} as const;

async function materializeCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    ...OPTIONS,
    start: { type: "string" },
    end: { type: "string" },
  });
  if (positionals.length) throw new UsageError("features materialize takes no positional arguments");
  const start = parseTime("--start", values.start);
  const end = parseTime("--end", values.end);
  if (start.getTime() > end.getTime())
    throw new UsageError(`--start ${values.start} is after --end ${values.end}: give a start before the end`);
  return run(io, values, (m, target, views) => m.materialize(target, { start, end, views }));
}

async function incrementalCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { ...OPTIONS, end: { type: "string" } });
  if (positionals.length)
    throw new UsageError("features materialize-incremental takes no positional arguments");
  const end = parseTime("--end", values.end);
  return run(io, values, (m, target, views) => m.materializeIncremental(target, { end, views }));
}

/** The online subcommands of `dagwood features`; the dispatcher calls this for `materialize` and `materialize-incremental`. */
export function featuresOnlineCommand(sub: string, args: string[], io: Io): Promise<number> {
  if (sub === "materialize") return materializeCommand(args, io);
  if (sub === "materialize-incremental") return incrementalCommand(args, io);
  throw new UsageError(`Unknown command "features ${sub}"`);
}
