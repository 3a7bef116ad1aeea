/**
 * `dagwood features apply|list|training-set`: the project's feature
 * definitions (features/*.json) checked against their sources and
 * versioned, listed, and joined point-in-time onto an entity file. Each
 * opens its own in-memory DuckDB (never the project's workspace), so it works
 * while the app has the project open.
 */
import { existsSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { literal } from "../data/sql";
import { EXIT, type Io, parse, runSubcommand, type Subcommands, UsageError } from "./args";
import { formatTime, renderTable, toJson } from "./format";

function projectDir(opt: unknown): Promise<string> {
  return import("../project/project").then(({ findProjectDir }) => {
    const dir = opt ? resolve(opt as string) : findProjectDir(join(process.cwd(), "_"));
    if (!existsSync(dir)) throw new UsageError(`--project ${opt}: no such folder`);
    return dir;
  });
}

/** Writes what a feature command refused: bad definitions or requests exit 2, sources that do not fit exit 1. */
async function reported(io: Io, fn: () => Promise<number>): Promise<number> {
  const { FeatureRepoError, FeatureRefError } = await import("../features/repo");
  const { FeatureSourceError } = await import("../features/offline-source");
  const { FeatureApplyError } = await import("../features/apply");
  const { TrainingSetError } = await import("../features/offline");
  try {
    return await fn();
  } catch (e) {
    if (e instanceof FeatureRepoError || e instanceof FeatureRefError || e instanceof TrainingSetError) {
      io.stderr.write(`${e.message}\n`);
      return EXIT.invalid;
    }
    if (e instanceof FeatureSourceError || e instanceof FeatureApplyError) {
      io.stderr.write(`${e.message}\n`);
      return EXIT.failed;
    }
    throw e;
  }
}

async function featuresApply(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { project: { type: "string" }, json: { type: "boolean" } });
  if (positionals.length) throw new UsageError("features apply takes no positional arguments");
  const dir = await projectDir(values.project);
  const { openFeatureProject } = await import("../features/project");
  const { applyFeatures } = await import("../features/apply");
  return reported(io, async () => {
    const project = await openFeatureProject(dir);
    try {
      const report = await applyFeatures(project);
      if (values.json) {
        io.stdout.write(toJson(report));
        return EXIT.ok;
      }
      if (!report.views.length && !report.entities) {
        io.stdout.write("No feature definitions: add features/<name>.json (see README, Feature store).\n");
        return EXIT.ok;
      }
      const rows = report.views.map((v) => [
        v.name,
        `v${v.version}${v.changed ? " (new)" : ""}`,
        v.rows === null ? "—" : v.rows.toLocaleString("en-US"),
        formatTime(v.newestEvent),
        v.unchecked ?? "ok",
      ]);
      io.stdout.write(
        `${renderTable(["view", "version", "rows", "newest event", "source"], rows, new Set([2]))}\n` +
          `Applied ${report.entities} entit${report.entities === 1 ? "y" : "ies"}, ${report.views.length} view${report.views.length === 1 ? "" : "s"}, ${report.services} service${report.services === 1 ? "" : "s"}.\n`,
      );
      return EXIT.ok;
    } finally {
      project.close();
    }
  });
}

async function featuresList(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { project: { type: "string" }, json: { type: "boolean" } });
  if (positionals.length) throw new UsageError("features list takes no positional arguments");
  const dir = await projectDir(values.project);
  if (values.json) {
    // The record the app's Features view shows (app/values/features.ts FeaturesOverview): definitions
    // with their problems, applied versions, freshness, services with their models, materialisations.
    const { readFeaturesOverview } = await import("../features/overview");
    return reported(io, async () => {
      const overview = await readFeaturesOverview(dir);
      io.stdout.write(toJson(overview));
      return overview.problems.length ? EXIT.invalid : EXIT.ok;
    });
  }
  const { loadFeatureRepo, viewJoinKeys } = await import("../features/repo");
  return reported(io, async () => {
    const repo = loadFeatureRepo(dir);
    // Versions come from the metadata store when there is one; listing never creates it.
    const latest = new Map<string, { version: number; appliedAt: string }>();
    const { readProjectSettings } = await import("../project/project");
    const { openProjectStore } = await import("../store/open");
    const metadata = openProjectStore(dir, readProjectSettings(dir), { existingOnly: true });
    if (metadata) {
      try {
        for (const v of metadata.featureViewVersions()) if (!latest.has(v.view)) latest.set(v.view, v);
      } finally {
        metadata.close();
      }
    }
    const views = [...repo.views.values()].map((v) => ({
      ...v,
      joinKeys: viewJoinKeys(repo, v),
      file: repo.files.get(`feature view:${v.name}`)!,
      version: latest.get(v.name)?.version ?? null,
      appliedAt: latest.get(v.name)?.appliedAt ?? null,
    }));
    const out: string[] = [];
    out.push(
      renderTable(
        ["entity", "join keys", "description"],
        [...repo.entities.values()].map((e) => [e.name, e.joinKeys.join(", "), e.description]),
      ),
      "",
      renderTable(
        ["feature view", "entities", "features", "ttl", "source", "version", "owner"],
        views.map((v) => [
          v.name,
          v.entities.join(", "),
          String(v.features.length),
          v.ttl,
          "block" in v.source ? "features.view block" : v.source.path,
          v.version === null ? "not applied" : `v${v.version}`,
          v.owner ?? "—",
        ]),
        new Set([2]),
      ),
    );
    if (repo.services.size)
      out.push(
        "",
        renderTable(
          ["feature service", "features"],
          [...repo.services.values()].map((s) => [s.name, s.features.join(", ")]),
        ),
      );
    io.stdout.write(`${out.join("\n")}\n`);
    return EXIT.ok;
  });
}

function readerFor(file: string): string {
  const lower = file.toLowerCase();
  if (lower.endsWith(".parquet")) return `read_parquet(${literal(file)})`;
  if (/\.(csv|tsv)$/.test(lower)) return `read_csv_auto(${literal(file)})`;
  if (/\.(json|ndjson|jsonl)$/.test(lower)) return `read_json_auto(${literal(file)})`;
  throw new UsageError(`--entities ${file}: name a .csv, .tsv, .parquet or .json file`);
}

async function featuresTrainingSet(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    project: { type: "string" },
    entities: { type: "string" },
    features: { type: "string" },
    service: { type: "string" },
    out: { type: "string" },
    "timestamp-column": { type: "string" },
    "full-feature-names": { type: "boolean" },
  });
  if (positionals.length) throw new UsageError("features training-set takes no positional arguments");
  if (!values.entities) throw new UsageError("features training-set needs --entities FILE");
  if (!values.out) throw new UsageError("features training-set needs --out FILE (.parquet or .csv)");
  if (!!values.features === !!values.service)
    throw new UsageError("features training-set needs either --features view:feature,… or --service NAME");
  const entities = resolve(values.entities);
  if (!existsSync(entities)) throw new UsageError(`--entities ${values.entities}: no such file`);
  const reader = readerFor(entities);
  const out = resolve(values.out);
  const format = out.toLowerCase().endsWith(".parquet")
    ? "PARQUET"
    : out.toLowerCase().endsWith(".csv")
      ? "CSV"
      : "";
  if (!format) throw new UsageError(`--out ${values.out}: name a .parquet or .csv file`);
  if (!existsSync(dirname(out)))
    throw new UsageError(`--out ${values.out}: the folder ${dirname(out)} does not exist`);
  const dir = await projectDir(values.project);
  const { openFeatureProject } = await import("../features/project");
  const { buildTrainingSet } = await import("../features/offline");
  const { loadFeatureRepo } = await import("../features/repo");
  return reported(io, async () => {
    const repo = loadFeatureRepo(dir);
    // DuckDB reads the project's folders, and the entity file's and output's folders the user named.
    const project = await openFeatureProject(dir, [dirname(entities), dirname(out)]);
    const tmp = join(dirname(out), `.${basename(out)}.${process.pid}.tmp`);
    try {
      await project.sql.run(`CREATE TEMP TABLE __entities AS SELECT * FROM ${reader}`);
      const { features } = await buildTrainingSet(
        project.sql,
        { projectDir: project.dir, allowedDirs: project.allowedDirs },
        repo,
        {
          entitiesTable: "__entities",
          features: values.features?.split(",").map((f) => f.trim()),
          service: values.service,
          fullFeatureNames: values["full-feature-names"] ?? false,
          timestampColumn: values["timestamp-column"],
        },
        "__training_set",
      );
      const { n } = await project.sql.one<{ n: number }>("SELECT count(*) AS n FROM __training_set");
      // Written beside the output, then renamed: a failed run never leaves half a file at --out.
      await project.sql.run(`COPY __training_set TO ${literal(tmp)} (FORMAT ${format})`);
      renameSync(tmp, out);
      io.stdout.write(
        `Wrote ${n.toLocaleString("en-US")} rows with ${features.length} feature${features.length === 1 ? "" : "s"} (${features.map((f) => f.column).join(", ")}) to ${values.out}\n`,
      );
      return EXIT.ok;
    } finally {
      rmSync(tmp, { force: true });
      project.close();
    }
  });
}

const SUBCOMMANDS: Subcommands = {
  apply: featuresApply,
  list: featuresList,
  "training-set": featuresTrainingSet,
  materialize: async (args, io) =>
    (await import("./features-online")).featuresOnlineCommand("materialize", args, io),
  "materialize-incremental": async (args, io) =>
    (await import("./features-online")).featuresOnlineCommand("materialize-incremental", args, io),
  serve: async (args, io) => (await import("./features-serve")).featuresServeCommand(args, io),
};

export function featuresCommand(args: string[], io: Io): Promise<number> {
  return runSubcommand("features", SUBCOMMANDS, args, io);
}
