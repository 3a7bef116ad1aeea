/**
 * A dataset's suites at work: `ingest.file` finds the dagwood.json entry of
 * the file it reads, runs the suites the entry attaches on the table it
 * loaded, records each result with the dataset version (ctx.dataTest), and
 * warns per failed expectation, or fails when the entry says so. The entry
 * and the suites' bytes join the node's cache key.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { parseSuite, runSuite, SuiteError } from "../data/expectations/index";
import { type BlockContext, BlockError, type FingerprintContext } from "../engine/block";
import { stableStringify } from "../engine/execute";
import type { ExpectationResult, ExpectationSuite } from "../values/expectations";
import { deprecationNotice } from "../values/governance";
import { type DatasetEntry, findDatasetEntry } from "./datasets";
import { readProjectSettings } from "./project";

/**
 * The dagwood.json entry the file belongs to, read from the file each time:
 * the app edits dagwood.json (updateDataset) while the project is open.
 */
export function datasetEntryOf(projectDir: string, abs: string): DatasetEntry | undefined {
  return findDatasetEntry(readProjectSettings(projectDir), projectDir, abs);
}

const entryName = (entry: DatasetEntry) => `dataset "${entry.name}" (dagwood.json)`;

/** A suite the entry attaches, as an absolute path; a missing one fails the node, naming the entry and the path. */
function suiteFile(ctx: Pick<FingerprintContext, "resolvePath">, entry: DatasetEntry, suite: string): string {
  let abs: string;
  try {
    abs = ctx.resolvePath(suite);
  } catch (e) {
    throw new BlockError(`${entryName(entry)} attaches the suite ${suite}: ${(e as Error).message}`);
  }
  if (!existsSync(abs)) {
    throw new BlockError(
      `${entryName(entry)} attaches the suite ${suite}, which does not exist. Create it (dagwood expect suggest, or the profile's "Create expectations"), or take it out of the dataset's "suites".`,
    );
  }
  return abs;
}

/** Every attached suite, parsed before any runs: a suite that is not a suite fails the node (the user's settings to fix). */
async function loadSuites(
  ctx: BlockContext,
  entry: DatasetEntry,
): Promise<{ path: string; suite: ExpectationSuite }[]> {
  const suites: { path: string; suite: ExpectationSuite }[] = [];
  for (const path of entry.settings.suites) {
    const text = await readFile(suiteFile(ctx, entry, path), "utf8");
    try {
      suites.push({ path, suite: parseSuite(text, path) });
    } catch (e) {
      if (!(e instanceof SuiteError)) throw e;
      throw new BlockError(
        `${entryName(entry)} attaches the suite ${path}, which cannot be used: ${e.message}`,
      );
    }
  }
  return suites;
}

const count = (n: number) => n.toLocaleString("en-US");
const percent = (p: number) => (p > 0 && p < 0.01 ? "<0.01" : p.toFixed(2));

/** "expect_column_values_to_be_between(dep_delay)": the type and the columns it is about. */
function expectationLabel(r: Pick<ExpectationResult, "expectation_type" | "kwargs">): string {
  const k = r.kwargs;
  const columns = [k.column, k.column_A, k.column_B, ...(Array.isArray(k.column_list) ? k.column_list : [])]
    .filter((c) => typeof c === "string")
    .join(", ");
  return `${r.expectation_type}(${columns})`;
}

/** One failed expectation in a sentence: how many rows broke it, or what was observed, or why it could not run. */
export function describeFailure(r: ExpectationResult): string {
  const label = expectationLabel(r);
  if (r.exception_info?.raised_exception) {
    return `${label} could not be evaluated: ${r.exception_info.exception_message ?? "unknown error"}`;
  }
  const d = r.result;
  if (typeof d.unexpected_count === "number" && typeof d.element_count === "number") {
    // unexpected_percent is over the non-null rows, except for the null expectations themselves.
    const nullsCount = /_to_(not_)?be_null$/.test(r.expectation_type);
    const missing = nullsCount ? 0 : (d.missing_count ?? 0);
    const rows = `${count(d.element_count - missing)}${missing ? " non-null" : ""} rows`;
    const share = typeof d.unexpected_percent === "number" ? ` (${percent(d.unexpected_percent)} %)` : "";
    return `${label} failed: ${count(d.unexpected_count)} of ${rows}${share}`;
  }
  if (d.observed_value !== undefined) return `${label} failed: observed ${JSON.stringify(d.observed_value)}`;
  return `${label} failed`;
}

/** At most this many failed expectations become warnings on the node; the rest are counted. */
const MAX_FAILURE_WARNINGS = 20;

/**
 * Runs the entry's suites on the table just read, records each result with
 * the dataset version (ctx.dataTest), and warns per failed expectation, or
 * fails the node when the entry says `onFailure: "fail"`.
 */
export async function testDataset(
  ctx: BlockContext,
  entry: DatasetEntry,
  table: string,
  dataset: { digest: string; source: string },
): Promise<void> {
  const suites = await loadSuites(ctx, entry);
  const failures: string[] = [];
  for (const { path, suite } of suites) {
    ctx.progress(0.9, `Testing ${dataset.source} with ${path}`);
    const report = await runSuite(ctx.sql, table, suite, { signal: ctx.signal, suiteSource: path });
    ctx.dataTest({ suite: path, ...dataset, report });
    const { successful_expectations: passed, evaluated_expectations: evaluated } = report.statistics;
    ctx.log(`suite ${path}: ${passed} of ${evaluated} expectations passed`);
    for (const r of report.results) if (!r.success) failures.push(`suite ${path}: ${describeFailure(r)}`);
  }
  if (failures.length === 0) return;
  if (entry.settings.onFailure === "fail") {
    throw new BlockError(
      `${entryName(entry)} failed its suites, and its onFailure is "fail": ${failures.join("; ")}. Fix the data, or set "onFailure": "warn" to read it with warnings.`,
    );
  }
  for (const f of failures.slice(0, MAX_FAILURE_WARNINGS)) ctx.log(f, "warn");
  if (failures.length > MAX_FAILURE_WARNINGS) {
    ctx.log(
      `… and ${failures.length - MAX_FAILURE_WARNINGS} more failed expectations (see the run's test results)`,
      "warn",
    );
  }
}

export function deprecationWarning(entry: DatasetEntry): string | undefined {
  const d = entry.settings.deprecated;
  return d && deprecationNotice(`Dataset "${entry.name}"`, d);
}

/**
 * What of the entry the node's outputs and records depend on, for the cache
 * key: its settings but owner, purpose and reviewBy (which change nothing the
 * node does), and each suite's bytes, so editing a suite runs it again.
 */
export async function entryFingerprint(ctx: FingerprintContext, entry: DatasetEntry): Promise<string> {
  const { owner: _o, purpose: _p, reviewBy: _r, columns, ...rest } = entry.settings;
  // Column tags (issue 19) re-run the read when set; an entry with none keeps the key it had before.
  const settings = columns && Object.keys(columns).length ? { ...rest, columns } : rest;
  const suites: [string, string][] = [];
  for (const path of entry.settings.suites)
    suites.push([path, await ctx.hashFile(suiteFile(ctx, entry, path))]);
  return stableStringify({ dataset: entry.name, settings, suites });
}
