/**
 * `dagwood expect run|suggest|list`: data tests from the command line. A data
 * file is read as `ingest.file` reads it, into a private in-memory DuckDB that
 * may read only the file's folder (the workspace's limits; no project lock);
 * a workspace table is read from the project's workspace.
 */
import { existsSync, realpathSync, statSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { basename, dirname, relative, resolve } from "node:path";
import type { SqlSession } from "../data/sql";
import type { BlockContext } from "../engine/block";
import type { TableValue } from "../engine/ports";
import { standaloneContext } from "../engine/standalone-context";
import { expectationName, resultDetail } from "../values/expectation-text";
import type { ExpectationResult, ExpectationSuite, ValidationReport } from "../values/expectations";
import type { ProfileReport } from "../values/profile";
import { EXIT, type Io, parse, UsageError } from "./args";
import { formatValue, renderTable } from "./format";
import { junitProblem, renderSuiteJunit } from "./junit";

/** A problem with what the command was given (a suite, a data file): printed as is, exit 2. */
export class InputError extends Error {}

/** A workspace table's name, as nodes' outputs are named. */
export const TABLE_NAME = /^t_[0-9a-f]+_[A-Za-z0-9_]+$/;

/** Reads, parses and checks a suite file; every problem is an InputError naming the file and the expectation. */
async function loadSuite(file: string): Promise<ExpectationSuite> {
  const { parseSuite, checkSuite, SuiteError } = await import("../data/expectations/index");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(
      code === "ENOENT"
        ? `Suite file not found: ${file}`
        : code === "EISDIR"
          ? `${file} is a folder, not a suite file`
          : `Cannot read the suite ${file}: ${(e as Error).message}`,
    );
  }
  let suite: ExpectationSuite;
  try {
    suite = parseSuite(text, file);
  } catch (e) {
    if (e instanceof SuiteError)
      throw new InputError(e.message.includes(file) ? e.message : `${file}: ${e.message}`);
    throw e;
  }
  const problems = checkSuite(suite);
  if (problems.length) {
    throw new InputError(
      `${file}: ${problems.length} problem${problems.length === 1 ? "" : "s"}\n${problems.map((p) => `  ${p.path}: ${p.message}`).join("\n")}`,
    );
  }
  return suite;
}

/**
 * Reads `file` with ingest.file's own reading (formats, sniffing, its error
 * messages) into a private in-memory DuckDB allowed to read only the file's
 * folder, and hands the table to `use`.
 */
export async function withDataFile<T>(
  file: string,
  use: (sql: SqlSession, table: TableValue, ctx: BlockContext) => Promise<T>,
): Promise<T> {
  const abs = resolve(file);
  if (!existsSync(abs)) {
    throw new InputError(
      TABLE_NAME.test(file)
        ? `No file ${file}. To validate a workspace table, give --project DIR (default: the project around the current folder).`
        : `Data file not found: ${file}`,
    );
  }
  if (statSync(abs).isDirectory()) throw new InputError(`${file} is a folder; give a data file`);
  const real = realpathSync(abs);
  const dir = dirname(real);
  const [{ Workspace }, { default: ingestFile }, { BlockError }] = await Promise.all([
    import("../data/workspace"),
    import("../../nodes/ingest-file"),
    import("../engine/block"),
  ]);
  const workspace = await Workspace.open({ path: ":memory:", allowedDirs: [dir] });
  const sql = await workspace.session();
  try {
    const ctx = standaloneContext(sql, dir);
    let name: string;
    try {
      const out = await ingestFile.run(ctx, {}, ingestFile.params.parse({ path: basename(real) }));
      name = (out.out as { name: string }).name;
    } catch (e) {
      if (e instanceof BlockError) throw new InputError(e.message.split(basename(real)).join(file));
      throw e;
    }
    return await use(sql, await workspace.describeTable(name, sql), ctx);
  } finally {
    sql.close();
    workspace.close();
  }
}

/** Opens the project's workspace (its lock) and hands `use` the named table. */
export async function withWorkspaceTable<T>(
  io: Io,
  projectOpt: unknown,
  table: string,
  use: (sql: SqlSession, table: TableValue) => Promise<T>,
): Promise<T | number> {
  const { findProjectDir, Project } = await import("../project/project");
  const dir = projectOpt ? resolve(projectOpt as string) : findProjectDir(resolve("_"));
  let project: Awaited<ReturnType<typeof Project.open>>;
  try {
    project = await Project.open(dir);
  } catch (e) {
    io.stderr.write(
      `Cannot open the workspace of ${dir} to read table ${table}: ${(e as Error).message.split("\n")[0]}\nA workspace table is read from the project's workspace, which a run or Dagwood (the app, dagwood ui) may be holding: wait for it or close it, or validate the data file instead.\n`,
    );
    return EXIT.failed;
  }
  try {
    if (!(await project.workspace.tableExists(table))) {
      throw new InputError(
        `No table ${table} in the workspace of ${dir}. Tables are node outputs: \`dagwood runs show <run-id>\` lists them.`,
      );
    }
    const sql = await project.workspace.session();
    try {
      return await use(sql, await project.workspace.describeTable(table, sql));
    } finally {
      sql.close();
    }
  } finally {
    project.close();
  }
}

/** A result's cells: ✓/✗, expectation, column(s), observed value, unexpected count and share. */
function resultRow(r: ExpectationResult): string[] {
  const name = expectationName(r);
  const column =
    name.length > r.expectation_type.length ? name.slice(r.expectation_type.length + 1, -1) : "—";
  const res = r.result ?? {};
  const observed = r.exception_info?.raised_exception
    ? "error"
    : "observed_value" in res
      ? formatValue(res.observed_value)
      : "";
  const unexpected =
    typeof res.unexpected_count === "number"
      ? `${res.unexpected_count.toLocaleString("en-US")}${typeof res.unexpected_percent === "number" ? ` (${formatValue(res.unexpected_percent)} %)` : ""}`
      : "";
  const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
  return [r.success ? "✓" : "✗", r.expectation_type, cut(column, 30), cut(observed, 40), unexpected];
}

/** The results as a table, what broke the failed ones below it, and the suite's statistics. */
export function renderReport(report: ValidationReport, data: string): string {
  const rows = report.results.map(resultRow);
  const table = renderTable(["", "expectation", "column", "observed", "unexpected"], rows, new Set([4]));
  const failed = report.results.filter((r) => !r.success);
  const notes = failed.map((r) => `  ✗ ${expectationName(r)}: ${resultDetail(r)}`);
  const s = report.statistics;
  const pct = s.success_percent === null ? "" : ` (${formatValue(s.success_percent)} %)`;
  const verdict = report.success ? "Passed" : "Failed";
  return [
    `Suite ${report.meta.expectation_suite_name} on ${data}: ${report.meta.rows.toLocaleString("en-US")} rows`,
    "",
    table,
    ...(notes.length ? ["", ...notes] : []),
    "",
    `${verdict}: ${s.successful_expectations} of ${s.evaluated_expectations} expectations passed${pct}.`,
    "",
  ].join("\n");
}

async function runSubcommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    data: { type: "string" },
    project: { type: "string" },
    json: { type: "boolean" },
    junit: { type: "string" },
  });
  if (positionals.length !== 1) throw new UsageError("expect run takes exactly one suite file");
  const data = values.data as string | undefined;
  if (!data) throw new UsageError("expect run needs --data <file or table>: the data to check");
  const junit = values.junit as string | undefined;
  const junitIssue = junit ? junitProblem(junit) : undefined;
  if (junitIssue) throw new UsageError(`--junit: ${junitIssue}`);
  const file = positionals[0]!;
  const suite = await loadSuite(file);
  const { runSuite } = await import("../data/expectations/index");
  const started = performance.now();
  const check = (sql: SqlSession, table: TableValue) =>
    runSuite(sql, table.name, suite, { suiteSource: file });
  const asTable = TABLE_NAME.test(data) && !existsSync(resolve(data));
  const outcome = asTable
    ? await withWorkspaceTable(io, values.project, data, check)
    : await withDataFile(data, (sql, table) => check(sql, table));
  if (typeof outcome === "number") return outcome;
  const report = outcome;
  io.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report, data));
  if (junit) {
    const seconds = (performance.now() - started) / 1000;
    try {
      await writeFile(junit, renderSuiteJunit(report, report.meta.expectation_suite_name, seconds));
    } catch (e) {
      io.stderr.write(
        `--junit: could not write ${junit} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})\n`,
      );
      return EXIT.invalid;
    }
  }
  return report.success ? EXIT.ok : EXIT.failed;
}

async function suggestSubcommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    out: { type: "string" },
    margin: { type: "string" },
    name: { type: "string" },
    force: { type: "boolean" },
  });
  if (positionals.length !== 1) throw new UsageError("expect suggest takes exactly one data file");
  const out = values.out as string | undefined;
  if (!out)
    throw new UsageError("expect suggest needs --out expectations/<name>.json: where to write the suite");
  if (!out.endsWith(".json")) throw new UsageError(`--out: a suite file ends with .json, got ${out}`);
  const margin = values.margin === undefined ? 0.1 : Number(values.margin);
  if (!Number.isFinite(margin) || margin < 0 || margin > 10)
    throw new UsageError(`--margin takes a share between 0 and 10 (0.1 = 10 %), got ${values.margin}`);
  const name = (values.name as string | undefined) ?? basename(out, ".json");
  if (!name.trim()) throw new UsageError("--name: the suite needs a name");
  if (existsSync(out) && !values.force) {
    io.stderr.write(`${out} already exists; pass --force to replace it, or choose another --out.\n`);
    return EXIT.failed;
  }
  if (existsSync(out) && statSync(out).isDirectory()) throw new UsageError(`--out: ${out} is a folder`);
  const data = positionals[0]!;
  const [{ suggestSuite, formatSuite }, { default: profileBlock }, { parseParams }] = await Promise.all([
    import("../data/expectations/index"),
    import("../../nodes/analyze-profile"),
    import("../engine/execute"),
  ]);
  const profile = await withDataFile(data, async (_sql, table, ctx) => {
    const report = await profileBlock.run(ctx, { in: table }, parseParams(profileBlock, {}) as never);
    return (report.report as { data: ProfileReport }).data;
  });
  const suite = suggestSuite(profile, { name, margin });
  await mkdir(dirname(resolve(out)), { recursive: true });
  const { writeFileAtomic } = await import("../store/atomic-write");
  await writeFileAtomic(resolve(out), formatSuite(suite));
  const shown = relative(process.cwd(), resolve(out)) || out;
  io.stdout.write(
    `Wrote ${shown}: ${suite.expectations.length} expectations from a profile of ${profile.rows.toLocaleString("en-US")} rows (margin ${formatValue(margin * 100)} %). Review them before use; run them with:\n  dagwood expect run ${shown} --data ${data}\n`,
  );
  return EXIT.ok;
}

async function listSubcommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { json: { type: "boolean" } });
  if (positionals.length) throw new UsageError("expect list takes no arguments");
  const { EXPECTATIONS } = await import("../data/expectations/index");
  if (values.json) {
    io.stdout.write(`${JSON.stringify(EXPECTATIONS, null, 2)}\n`);
    return EXIT.ok;
  }
  const rows = EXPECTATIONS.map((e) => [
    e.type,
    e.scope,
    e.kwargs.map((k) => (k.required ? k.name : `[${k.name}]`)).join(" "),
  ]);
  io.stdout.write(`${renderTable(["expectation", "scope", "kwargs ([optional])"], rows)}\n`);
  return EXIT.ok;
}

export async function expectCommand(args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  try {
    switch (sub) {
      case "run":
        return await runSubcommand(rest, io);
      case "suggest":
        return await suggestSubcommand(rest, io);
      case "list":
        return await listSubcommand(rest, io);
      default:
        throw new UsageError(
          sub
            ? `Unknown expect command "${sub}": use run, suggest or list`
            : "expect needs a command: run, suggest or list",
        );
    }
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    io.stderr.write(`${e.message}\n`);
    return EXIT.invalid;
  }
}
