/**
 * Data tests in DuckDB: expectation suites with Great Expectations' names,
 * arguments and result shapes (app/values/expectations.ts), computed in as
 * few passes over a table as possible.
 *
 * THE PUBLIC INTERFACE (other modules import only from this file); the
 * work is in catalog.ts, compile.ts, run.ts, suite.ts, suggest.ts, types.ts.
 */

import type { ExpectationSuite, ValidationReport } from "../../values/expectations";
import type { ProfileReport } from "../../values/profile";
import type { SqlSession } from "../sql";
import { SPECS } from "./catalog";
import type { SuiteProblem } from "./errors";
import * as runner from "./run";
import * as suggest from "./suggest";
import * as suiteFile from "./suite";

export { SuiteError, type SuiteProblem } from "./errors";

/** Every expectation type this runner knows, with a one-line description and its kwargs (for the UI and `dagwood expect list`). */
export interface ExpectationInfo {
  type: string;
  scope: "table" | "row" | "aggregate";
  description: string;
  kwargs: { name: string; required: boolean; description: string }[];
}
export const EXPECTATIONS: readonly ExpectationInfo[] = SPECS.map((s) => ({
  type: s.type,
  scope: s.scope,
  description: s.description,
  kwargs: s.kwargs.map((k) => ({ name: k.name, required: k.required, description: k.description })),
}));

/**
 * Parses a suite file's text (Great Expectations suite JSON). Throws
 * SuiteError for text that is not JSON (line and column) or not a suite.
 * Unknown expectation types and bad kwargs are NOT thrown: see checkSuite.
 */
export function parseSuite(text: string, source: string): ExpectationSuite {
  return suiteFile.parseSuite(text, source);
}

/** Problems of each expectation (unknown type, missing or wrong kwargs); [] when the suite is usable. */
export function checkSuite(suite: ExpectationSuite): SuiteProblem[] {
  return suiteFile.checkSuite(suite);
}

/** The suite as Great Expectations writes it: its own key order, two spaces, a trailing newline. */
export function formatSuite(suite: ExpectationSuite): string {
  return suiteFile.formatSuite(suite);
}

export interface RunSuiteOptions {
  signal?: AbortSignal;
  /** Where the suite came from (a project path, or "inline"); goes into the report's meta. */
  suiteSource?: string;
}

/**
 * Runs a suite over a workspace table (an unquoted table or view name the
 * session can read). Each expectation's problem (unknown type, bad kwargs,
 * missing column, bad regex) becomes that expectation's failed result with
 * exception_info, never a throw; only a cancel or a DuckDB failure of the
 * table itself throws.
 */
export function runSuite(
  sql: SqlSession,
  table: string,
  suite: ExpectationSuite,
  opts?: RunSuiteOptions,
): Promise<ValidationReport> {
  return runner.runSuite(sql, table, suite, opts);
}

/** Columns quarantine adds to each rejected row. */
export const REJECT_COLUMNS = { expectation: "failed_expectation", reason: "failure_reason" } as const;

/**
 * Splits `table` by the suite's row-level expectations: rows breaking any go
 * to `rejectedTable` with REJECT_COLUMNS added (the expectation types, and a
 * sentence per failure, in suite order, joined by "; "), the rest to
 * `outTable` (CREATE OR REPLACE both). Nulls break only the null
 * expectations, as in runSuite.
 */
export function quarantineRows(
  sql: SqlSession,
  table: string,
  suite: ExpectationSuite,
  outTable: string,
  rejectedTable: string,
  opts?: { signal?: AbortSignal },
): Promise<{ kept: number; rejected: number }> {
  return runner.quarantineRows(sql, table, suite, outTable, rejectedTable, REJECT_COLUMNS, opts);
}

export interface SuggestOptions {
  /** The suite's name (expectation_suite_name). */
  name: string;
  /**
   * How much to loosen what was observed: ranges widen by this share of
   * their span on each side (0.1 = 10 %); row counts by this share of the
   * count. Null shares and category sets are kept as observed.
   */
  margin: number;
}

/** A suite drafted from a profile: column set, types, null shares, ranges and category sets observed, loosened by the margin. */
export function suggestSuite(profile: ProfileReport, opts: SuggestOptions): ExpectationSuite {
  return suggest.suggestSuite(profile, opts);
}
