import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import {
  checkSuite,
  parseSuite,
  quarantineRows,
  REJECT_COLUMNS,
  runSuite,
  SuiteError,
} from "../app/data/expectations/index";
import { ident } from "../app/data/sql";
import { type BlockContext, BlockError, defineBlock, requireTable } from "../app/engine/block";
import type { SchemaContext } from "../app/engine/schema";
import { maskValidation, personalColumns } from "../app/privacy/masking";
import { expectationName, resultDetail } from "../app/values/expectation-text";
import {
  type ExpectationResult,
  ExpectationSuite,
  OnFailure,
  type ValidationReport,
} from "../app/values/expectations";

/** Where a suite comes from: a file of the project, or the suite itself in the pipeline. */
const SuiteParam = z.union([
  z
    .strictObject({
      path: z
        .string()
        .min(1)
        .regex(/\.json$/i, "a suite file ends with .json")
        .describe(
          "A suite file in the project, e.g. expectations/penguins.json (Great Expectations suite JSON)",
        ),
    })
    .describe("A suite file of the project"),
  z
    .strictObject({
      inline: ExpectationSuite.describe("The suite itself, in Great Expectations suite JSON"),
    })
    .describe("A suite written into the pipeline"),
]);
type SuiteParam = z.output<typeof SuiteParam>;

const params = z.object({
  suite: SuiteParam.describe(
    'The expectations to check: { "path": "expectations/<name>.json" } for a suite file in the project, or { "inline": { "expectation_suite_name": …, "expectations": [ … ] } }',
  ).meta({ order: 1, picker: "suite" }),
  onFailure: OnFailure.default("fail")
    .describe(
      "What a failed expectation does. fail: the node fails and what follows is skipped (the report is kept beside the run). warn: the node succeeds with one warning per failed expectation. quarantine: rows breaking a row-level expectation (each one, whatever `mostly` allows) go to `rejected` with failed_expectation and failure_reason, the rest to `out`; a failed table or aggregate expectation (row count, columns, mean…) still fails the node, since removing rows cannot fix it.",
    )
    .meta({ order: 2 }),
});
type Params = z.output<typeof params>;

const count = (n: number) => n.toLocaleString("en-US");

/** Reads, parses and checks a suite file; a suite that cannot be used is a BlockError naming the file and the expectation. */
async function loadSuiteFile(
  ctx: Pick<BlockContext, "resolvePath">,
  path: string,
): Promise<ExpectationSuite> {
  const abs = ctx.resolvePath(path);
  let text: string;
  try {
    text = await readFile(abs, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new BlockError(
      code === "ENOENT"
        ? `Suite file not found: ${path}. Check the path (relative to the project folder), or write one with \`dagwood expect suggest <data file> --out ${path}\`.`
        : code === "EISDIR"
          ? `${path} is a folder, not a suite file.`
          : `Cannot read the suite ${path}: ${(e as Error).message}`,
    );
  }
  let suite: ExpectationSuite;
  try {
    suite = parseSuite(text, path);
  } catch (e) {
    if (e instanceof SuiteError) throw new BlockError(`The suite ${path} cannot be used: ${e.message}`);
    throw e;
  }
  return suite;
}

/** The suite of the params, checked: every problem (unknown type, bad kwargs) fails the node before any data is read. */
async function resolveSuite(
  ctx: BlockContext,
  suite: SuiteParam,
): Promise<{ suite: ExpectationSuite; source: string }> {
  const source = "path" in suite ? suite.path : "inline";
  const parsed = "path" in suite ? await loadSuiteFile(ctx, suite.path) : suite.inline;
  const problems = checkSuite(parsed);
  if (problems.length) {
    const where = source === "inline" ? "The inline suite" : `The suite ${source}`;
    throw new BlockError(
      `${where} has ${problems.length} problem${problems.length === 1 ? "" : "s"}: ${problems
        .map((p) => p.message)
        .join("; ")}`,
    );
  }
  return { suite: parsed, source };
}

/** "expectations[3].kwargs.min_value" → ["expectations", 3, "kwargs", "min_value"]. */
function pathParts(path: string): (string | number)[] {
  return [...path.matchAll(/[^.[\]]+/g)].map(([part]) => (/^\d+$/.test(part) ? Number(part) : part));
}

/**
 * What validation can tell of the suite before a run (`dagwood validate`, the
 * editor): a suite file that is missing or not a suite, and each expectation's
 * problems, reported at the param. Nothing is read but the suite file.
 */
async function suiteProblems(ctx: SchemaContext, suite: SuiteParam): Promise<void> {
  if ("inline" in suite) {
    for (const q of checkSuite(suite.inline))
      ctx.problem(["suite", "inline", ...pathParts(q.path)], q.message);
    return;
  }
  try {
    const problems = checkSuite(await loadSuiteFile(ctx, suite.path));
    if (problems.length)
      ctx.problem(["suite", "path"], `The suite ${suite.path}: ${problems.map((q) => q.message).join("; ")}`);
  } catch (e) {
    if (!(e instanceof BlockError)) throw e;
    ctx.problem(["suite", "path"], e.message);
  }
}

/** The report's failed expectations, each as "type(column): what broke it". */
function failedLines(report: ValidationReport): string[] {
  return report.results.filter((r) => !r.success).map((r) => `${expectationName(r)}: ${resultDetail(r)}`);
}

/** Row-level expectations have counts of unexpected rows; table and aggregate ones an observed value. */
const isRowLevel = (r: ExpectationResult) => typeof r.result?.unexpected_count === "number";

/** Quarantine adds REJECT_COLUMNS to each rejected row: why an input that already has one cannot be quarantined. */
function rejectColumnClash(columns: readonly { name: string }[]): string | undefined {
  const added = [REJECT_COLUMNS.expectation, REJECT_COLUMNS.reason];
  const clash = added.find((a) => columns.some((c) => c.name.toLowerCase() === a));
  return clash
    ? `The input already has a column "${clash}", which quarantine adds to each rejected row (with ${added.join(" and ")}): rename that column before this block (e.g. a SQL block: SELECT * RENAME (${clash} AS ${clash}_in)), or use onFailure "fail" or "warn".`
    : undefined;
}

/** An empty table shaped as `rejected`: the input's columns and the two reason columns. */
async function emptyRejected(ctx: BlockContext, input: string, name: string): Promise<void> {
  const t = ident(input);
  await ctx.sql.run(
    `CREATE OR REPLACE TABLE ${ident(name)} AS SELECT *, CAST(NULL AS VARCHAR) AS ${ident(REJECT_COLUMNS.expectation)}, CAST(NULL AS VARCHAR) AS ${ident(REJECT_COLUMNS.reason)} FROM ${t} AS ${t} LIMIT 0`,
  );
}

/**
 * A failing node has no outputs, so its report is written where the engine
 * writes a report output (artifacts/<run>/<node>/report.json) for the user,
 * `dagwood run --junit` and the app to read.
 */
async function keepReport(ctx: BlockContext, report: ValidationReport): Promise<string> {
  const dir = await ctx.artifactDir();
  const file = join(dir, "report.json");
  await writeFile(file, JSON.stringify(report));
  return file.startsWith(ctx.projectDir) ? file.slice(ctx.projectDir.length + 1) : file;
}

function recordMetrics(ctx: BlockContext, report: ValidationReport, rejected: number): void {
  const s = report.statistics;
  ctx.metric("expectations_evaluated", s.evaluated_expectations);
  ctx.metric("expectations_failed", s.unsuccessful_expectations);
  ctx.metric("success_percent", s.success_percent ?? 100);
  ctx.metric("rows_rejected", rejected);
}

export default defineBlock({
  kind: "validate.expectations",
  version: 1,
  title: "Validate expectations",
  category: "Data",
  description:
    "Checks a table against an expectation suite (Great Expectations' expectation names, arguments and results): row counts, columns, nulls, ranges, sets, uniqueness, regexes, types, means and quantiles. Sits inline: `out` is the input when the suite passes. On failure it fails the node, warns, or quarantines the rows that break row-level expectations.",
  inputs: { in: { type: "table", description: "The table to check" } },
  outputs: {
    out: { type: "table", description: "The input (without the quarantined rows in quarantine mode)" },
    rejected: {
      type: "table",
      description:
        "Quarantine: the rows that broke a row-level expectation, with failed_expectation and failure_reason; otherwise empty",
    },
    report: {
      type: "report",
      description: "Each expectation's result and the suite's statistics (kind: validation)",
    },
  },
  params,
  async outputSchema(ctx, inputs, p) {
    await suiteProblems(ctx, p.suite);
    const input = inputs.in;
    const clash = input && p.onFailure === "quarantine" ? rejectColumnClash(input.columns) : undefined;
    if (clash) ctx.problem(["onFailure"], clash);
    return {
      out: input,
      rejected: input && {
        ...input,
        columns: [
          ...input.columns,
          { name: REJECT_COLUMNS.expectation, type: "VARCHAR" },
          { name: REJECT_COLUMNS.reason, type: "VARCHAR" },
        ],
      },
      report: undefined,
    };
  },
  async run(ctx, inputs, p: Params) {
    const input = requireTable(inputs, "in");
    const clash = p.onFailure === "quarantine" ? rejectColumnClash(input.columns) : undefined;
    if (clash) throw new BlockError(clash);
    const { suite, source } = await resolveSuite(ctx, p.suite);
    const named =
      source === "inline" ? `the inline suite "${suite.expectation_suite_name}"` : `suite ${source}`;
    // "Suite expectations/x.json: …" or "The inline suite "x": …" at the start of a sentence.
    const Named = named[0]!.toUpperCase() + named.slice(1);
    const deprecated = suite.meta?.dagwood?.deprecated;
    if (deprecated) {
      const instead = deprecated.replacement ? `; use ${deprecated.replacement} instead` : "";
      ctx.log(`${Named} is deprecated (${deprecated.reason})${instead}.`, "warn");
    }
    ctx.progress(0, `Checking ${suite.expectations.length} expectations`);
    const report = await runSuite(ctx.sql, input.name, suite, { signal: ctx.signal, suiteSource: source });
    report.meta.on_failure = p.onFailure;
    const { statistics: s } = report;
    const tally = `${s.successful_expectations} of ${s.evaluated_expectations} expectations passed over ${count(report.meta.rows)} rows`;
    const failed = report.results.filter((r) => !r.success);
    // What the run's log and error say: examples from personal columns masked (the report keeps them;
    // the Api masks it when shown).
    const shown = maskValidation(report, personalColumns(input.columns));
    // Removing rows fixes row-level expectations only: any other failure fails a quarantine too.
    const unfixable = p.onFailure === "quarantine" ? failed.filter((r) => !isRowLevel(r)) : failed;
    if (unfixable.length && p.onFailure !== "warn") {
      recordMetrics(ctx, report, 0);
      for (const line of failedLines(shown)) ctx.log(line, "error");
      const kept = await keepReport(ctx, report);
      const what =
        p.onFailure === "quarantine"
          ? `${unfixable.length} table or aggregate expectation${unfixable.length === 1 ? "" : "s"} failed, which quarantining rows cannot fix`
          : `${failed.length} of ${s.evaluated_expectations} expectations failed`;
      throw new BlockError(
        `${Named}: ${what}: ${shown.results
          .filter((r) => !r.success && (p.onFailure !== "quarantine" || !isRowLevel(r)))
          .map((r) => `${expectationName(r)}: ${resultDetail(r)}`)
          .join("; ")}. The full report: ${kept}.`,
      );
    }
    const rejectedName = ctx.newTable("rejected");
    let out = input.name;
    let rejected = 0;
    const broken = report.results.some((r) => isRowLevel(r) && (r.result.unexpected_count ?? 0) > 0);
    if (p.onFailure === "quarantine" && broken) {
      out = ctx.newTable("out");
      const split = await quarantineRows(ctx.sql, input.name, suite, out, rejectedName, {
        signal: ctx.signal,
      });
      rejected = split.rejected;
      if (rejected) {
        ctx.log(
          `${Named}: quarantined ${count(rejected)} of ${count(report.meta.rows)} rows into "rejected" (${failed.map(expectationName).join(", ") || "rows unexpected within mostly"}).`,
          "warn",
        );
      }
    } else {
      await emptyRejected(ctx, input.name, rejectedName);
    }
    if (p.onFailure === "quarantine") report.meta.rejected_rows = rejected;
    recordMetrics(ctx, report, rejected);
    for (const line of failedLines(shown))
      ctx.log(`${Named}: ${line}`, p.onFailure === "warn" ? "warn" : "info");
    ctx.log(`${Named}: ${tally}.`);
    ctx.progress(1);
    return {
      out: { type: "table", name: out },
      rejected: { type: "table", name: rejectedName },
      report: { type: "report", data: report },
    };
  },
  // The suite file's bytes are part of the key: editing the suite re-runs the node.
  async externalFingerprint(ctx, p) {
    if (!("path" in p.suite)) return "";
    const abs = ctx.resolvePath(p.suite.path);
    try {
      return await ctx.hashFile(abs);
    } catch {
      throw new BlockError(
        `Suite file not found: ${p.suite.path}. Check the path (relative to the project folder), or write one with \`dagwood expect suggest <data file> --out ${p.suite.path}\`.`,
      );
    }
  },
});
