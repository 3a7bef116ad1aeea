/**
 * `dagwood store status|sync`: where the project's tracking store and registry are (the
 * embedded SQLite file or a team's PostgreSQL), whether it answers, its schema version and
 * the runs waiting in the local journal; and copying those runs into the team store once it
 * is reachable again (app/store/journal.ts).
 */
import { resolve } from "node:path";
import type { Sql } from "../store/sql";
import { EXIT, type Io, parse, runSubcommand, type Subcommands, UsageError } from "./args";
import { toJson } from "./format";

/** The project and its settings; invalid settings are said on stderr (undefined: the command exits 2). */
async function projectOf(io: Io, projectOpt: unknown) {
  const { findProjectDir, readProjectSettings, ProjectSettingsError } = await import("../project/project");
  const dir = projectOpt ? resolve(projectOpt as string) : findProjectDir(resolve(process.cwd(), "_"));
  try {
    return { dir, settings: readProjectSettings(dir) };
  } catch (e) {
    if (!(e instanceof ProjectSettingsError)) throw e;
    io.stderr.write(`${e.message}\n`);
    return undefined;
  }
}

function schemaVersion(sql: Sql): number | null {
  const v =
    sql.dialect === "sqlite"
      ? sql.value<number>("PRAGMA user_version")
      : sql.value<number | string>("SELECT max(version) FROM dagwood_schema");
  return v === undefined || v === null ? null : Number(v);
}

async function storeStatus(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { project: { type: "string" }, json: { type: "boolean" } });
  if (positionals.length) throw new UsageError("store status takes no positional arguments");
  const project = await projectOf(io, values.project);
  if (!project) return EXIT.invalid;
  const { dir, settings } = project;
  const { describeStore, openStoreSql, passwordOrigin, storePassword } = await import("../store/open");
  const { Journal, JOURNAL_FILE } = await import("../store/journal");
  const { MIGRATIONS } = await import("../store/schema");
  const where = describeStore(dir, settings.store);
  let reachable = true;
  let problem: string | null = null;
  let version: number | null = null;
  try {
    const sql = openStoreSql(dir, settings);
    try {
      version = schemaVersion(sql);
    } finally {
      sql.close();
    }
  } catch (e) {
    reachable = false;
    problem = (e as Error).message;
  }
  const journal = Journal.openExisting(dir);
  const pending = journal?.pending() ?? [];
  journal?.close();
  const password =
    settings.store.kind === "postgres"
      ? passwordOrigin(storePassword(settings.store.url)?.source ?? "libpq", settings.store.url)
      : null;
  if (values.json) {
    io.stdout.write(
      toJson({
        kind: settings.store.kind,
        where,
        reachable,
        problem,
        schemaVersion: version,
        knownSchemaVersion: MIGRATIONS.length,
        password,
        journal: JOURNAL_FILE,
        pending,
      }),
    );
    return reachable ? EXIT.ok : EXIT.failed;
  }
  const lines = [
    `Store:     ${settings.store.kind === "sqlite" ? "SQLite (embedded)" : "PostgreSQL (team store)"}`,
    `Where:     ${where}`,
    `Reachable: ${reachable ? "yes" : `no — ${problem}`}`,
    `Schema:    ${version === null ? "unknown" : version} (this Dagwood writes ${MIGRATIONS.length})`,
  ];
  if (password) lines.push(`Password:  from ${password}`);
  lines.push(`Pending:   ${pending.length} run${pending.length === 1 ? "" : "s"} in ${JOURNAL_FILE}`);
  for (const p of pending)
    lines.push(`  ${p.runId}  ${p.pipeline}  ${p.status}  since ${p.since}  (${p.reason.split("\n")[0]})`);
  if (pending.length && reachable) lines.push("Run `dagwood store sync` to copy them to the store.");
  io.stdout.write(`${lines.join("\n")}\n`);
  return reachable ? EXIT.ok : EXIT.failed;
}

async function storeSync(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { project: { type: "string" }, json: { type: "boolean" } });
  if (positionals.length) throw new UsageError("store sync takes no positional arguments");
  const project = await projectOf(io, values.project);
  if (!project) return EXIT.invalid;
  const { dir, settings } = project;
  const { describeStore, openStoreSql } = await import("../store/open");
  const { Journal, JOURNAL_FILE, syncJournal } = await import("../store/journal");
  const journal = Journal.openExisting(dir);
  if (!journal) {
    if (values.json) io.stdout.write(toJson({ synced: [], skipped: [] }));
    else io.stdout.write(`Nothing to sync: ${JOURNAL_FILE} does not exist.\n`);
    return EXIT.ok;
  }
  try {
    const where = describeStore(dir, settings.store);
    let team: Sql;
    try {
      team = openStoreSql(dir, settings);
    } catch (e) {
      io.stderr.write(
        `Cannot sync: the store (${where}) cannot be opened: ${(e as Error).message}\nThe pending runs stay in ${JOURNAL_FILE}; run \`dagwood store sync\` again once it is reachable.\n`,
      );
      return EXIT.failed;
    }
    try {
      const result = syncJournal(journal, team, {
        only: (p) =>
          p.team === where ? null : `it was recorded for ${p.team}, and dagwood.json now names ${where}`,
        onRun: (id) => {
          if (!values.json) io.stdout.write(`synced ${id}\n`);
        },
      });
      if (values.json) io.stdout.write(toJson(result));
      else {
        for (const s of result.skipped) io.stdout.write(`left ${s.runId}: ${s.reason}\n`);
        io.stdout.write(
          `${result.synced.length} run${result.synced.length === 1 ? "" : "s"} synced to ${where}` +
            `${result.skipped.length ? `; ${result.skipped.length} left in ${JOURNAL_FILE}` : ""}.\n`,
        );
      }
      return EXIT.ok;
    } catch (e) {
      io.stderr.write(
        `Sync stopped: ${(e as Error).message}\nWhat was synced is removed from ${JOURNAL_FILE}; the rest stays there. Run \`dagwood store sync\` again: it picks up where it stopped.\n`,
      );
      return EXIT.failed;
    } finally {
      team.close();
    }
  } finally {
    journal.close();
  }
}

const STORE: Subcommands = { status: storeStatus, sync: storeSync };

export function storeCommand(args: string[], io: Io): Promise<number> {
  return runSubcommand("store", STORE, args, io);
}
