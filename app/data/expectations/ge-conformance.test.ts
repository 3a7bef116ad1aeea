/**
 * Great Expectations' own test cases (ge-test-definitions/, copied from
 * great_expectations 0.18.21 tests/test_definitions) run through Dagwood's
 * runner: every case Great Expectations runs on PostgreSQL (not suppressed
 * for it or for SQLAlchemy; `only_for` absent or naming either) must give
 * the same success, observed value and unexpected values. The few cases where
 * Dagwood deliberately differs are listed in DIFFERENCES with the reason, and
 * the test checks they still differ, so the list stays true.
 */

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestProject, type TestProject } from "../../engine/testing";
import type { ExpectationResult } from "../../values/expectations";
import { ident, literal } from "../sql";
import { runSuite } from "./index";

const DIR = join(dirname(fileURLToPath(import.meta.url)), "ge-test-definitions");

interface GeTest {
  title: string;
  in: Record<string, unknown>;
  out: Record<string, unknown>;
  /** An expected exception. */
  error?: { traceback_substring?: string };
  only_for?: string[];
  suppress_test_for?: string[];
  exact_match_out?: boolean;
  /** Absolute tolerance for numbers (Great Expectations' test runner uses it). */
  tolerance?: number;
}
interface GeDataset {
  data: Record<string, unknown[]>;
  schemas?: Record<string, Record<string, string>>;
  tests: GeTest[];
}

const BACKENDS = ["postgresql", "sqlalchemy"];

/** Cases where Dagwood differs on purpose: "<file> / <title>" → why. */
const DIFFERENCES: Record<string, string> = {
  "expect_column_min_to_be_between.json / raise_valueerror_with_both_max_and_min_are_missing":
    "expects the ValueError of the legacy dataset API (great_expectations/dataset/pandas_dataset.py); the 0.18 expectation class validates bounds with validate_metric_value_between_configuration, which allows both null, and the result is vacuously true, as for mean and median",
  "expect_column_sum_to_be_between.json / raise_valueerror_with_both_max_and_min_are_missing":
    "as for min: the legacy dataset API's ValueError; the 0.18 expectation class passes vacuously",
  "expect_column_values_to_be_between.json / error_on_string-to-int_comparisons":
    "the TypeError comes from pandas comparing the strings '1'…'10' with numbers; in the definition's PostgreSQL schema the column is INTEGER and the comparison is well-typed",
  "expect_column_stdev_to_be_between.json / positive_test__exact_min_and_max_sqlalchemy":
    "bounds set to PostgreSQL's stddev_samp of [1, 1, 3] to the last bit (1.1547005383792515); DuckDB's streaming stddev_samp gives 1.1547005383792517",
};

/** PostgreSQL type names in the definitions' schemas → DuckDB. */
const PG_TYPES: Record<string, string> = {
  INTEGER: "INTEGER",
  BIGINT: "BIGINT",
  SMALLINT: "SMALLINT",
  DOUBLE_PRECISION: "DOUBLE",
  NUMERIC: "DOUBLE",
  FLOAT: "DOUBLE",
  REAL: "FLOAT",
  TEXT: "VARCHAR",
  VARCHAR: "VARCHAR",
  CHAR: "VARCHAR",
  BOOLEAN: "BOOLEAN",
  DATE: "DATE",
  TIMESTAMP: "TIMESTAMP",
  DATETIME: "TIMESTAMP",
};

function inferType(values: unknown[], expectationType: string): string {
  const present = values.filter((v) => v !== null && v !== undefined);
  // An all-null column has no type in the data: text for the text expectations, else INTEGER (DuckDB's type for NULL).
  if (present.length === 0) return /regex|lengths/.test(expectationType) ? "VARCHAR" : "INTEGER";
  if (present.every((v) => typeof v === "boolean")) return "BOOLEAN";
  if (present.every((v) => typeof v === "number"))
    return present.every((v) => Number.isInteger(v)) ? "BIGINT" : "DOUBLE";
  return "VARCHAR";
}

function sqlValue(v: unknown, type: string): string {
  if (v === null || v === undefined) return `NULL::${type}`;
  if (typeof v === "number") return `${Number.isFinite(v) ? v : `'${v}'`}::${type}`;
  if (typeof v === "boolean") return `${v}::${type}`;
  if ((type === "TIMESTAMP" || type === "DATE") && typeof v === "string" && !/^\d{4}-\d\d-\d\d/.test(v)) {
    // The definitions load data with pandas, which parses dates such as "1/1/2016" or "Jan 01 1970 12:00:01".
    const ms = Date.parse(`${v} UTC`);
    const iso = new Date(ms).toISOString().replace("Z", "");
    return `${literal(type === "DATE" ? iso.slice(0, 10) : iso)}::${type}`;
  }
  return `${literal(String(v))}::${type}`;
}

function same(actual: unknown, expected: unknown, tolerance = 0): boolean {
  if (typeof expected === "number" && typeof actual === "number")
    return Math.abs(actual - expected) <= Math.max(tolerance, 1e-9 * Math.max(1, Math.abs(expected)));
  if (Array.isArray(expected))
    return (
      Array.isArray(actual) &&
      actual.length === expected.length &&
      expected.every((x, i) => same(actual[i], x, tolerance))
    );
  if (expected && typeof expected === "object")
    return (
      !!actual &&
      typeof actual === "object" &&
      Object.entries(expected).every(([k, v]) => same((actual as Record<string, unknown>)[k], v, tolerance))
    );
  return actual === expected;
}

/** Multiset equality of unexpected values (Great Expectations lists them in row order; order is not part of the contract). */
function sameValues(actual: unknown[], expected: unknown[]): boolean {
  if (actual.length !== expected.length) return false;
  const pool = [...expected];
  for (const a of actual) {
    const i = pool.findIndex((e) => same(a, e));
    if (i < 0) return false;
    pool.splice(i, 1);
  }
  return true;
}

/** What differs between our result and the case's expected output; [] when it matches. */
function mismatches(r: ExpectationResult, t: GeTest): string[] {
  const out = t.out;
  const tol = t.tolerance ?? 0;
  const got: string[] = [];
  if (t.error || "traceback_substring" in out) {
    if (!r.exception_info.raised_exception)
      got.push(`expected an exception (${t.error?.traceback_substring ?? String(out.traceback_substring)})`);
    return got;
  }
  if (r.exception_info.raised_exception) return [`raised: ${r.exception_info.exception_message}`];
  if ("success" in out && r.success !== out.success)
    got.push(`success ${r.success}, expected ${String(out.success)}`);
  if ("observed_value" in out && !same(r.result.observed_value, out.observed_value, tol))
    got.push(
      `observed_value ${JSON.stringify(r.result.observed_value)}, expected ${JSON.stringify(out.observed_value)}`,
    );
  if (Array.isArray(out.unexpected_list)) {
    const want = out.unexpected_list as unknown[];
    const partial = r.result.partial_unexpected_list ?? [];
    const ok =
      want.length <= 20
        ? sameValues(partial, want)
        : partial.length === 20 && partial.every((v) => want.some((w) => same(v, w)));
    if (!ok) got.push(`unexpected ${JSON.stringify(partial)}, expected ${JSON.stringify(want)}`);
  }
  // Dagwood gives the BASIC result format: the counts COMPLETE adds to aggregate results are not compared.
  const basic = !t.in.result_format || t.in.result_format === "BASIC";
  if (basic && out.result && typeof out.result === "object") {
    for (const [k, v] of Object.entries(out.result as Record<string, unknown>)) {
      if (
        [
          "element_count",
          "missing_count",
          "unexpected_count",
          "unexpected_percent",
          "observed_value",
        ].includes(k)
      ) {
        if (!same(r.result[k], v, tol))
          got.push(`result.${k} ${JSON.stringify(r.result[k])}, expected ${JSON.stringify(v)}`);
      }
    }
  }
  return got;
}

const runsOnPostgres = (t: GeTest) =>
  (!t.only_for || t.only_for.some((b) => BACKENDS.includes(b))) &&
  !(t.suppress_test_for ?? []).some((b) => BACKENDS.includes(b)) &&
  !JSON.stringify(t.in).includes("$PARAMETER") &&
  !("row_condition" in t.in);

describe("Great Expectations' own test definitions (0.18.21), as run on PostgreSQL", () => {
  let p: TestProject;
  beforeAll(async () => {
    p = await createTestProject();
  });
  afterAll(() => p.close());

  const files = readdirSync(DIR).filter((f) => f.endsWith(".json"));
  for (const file of files) {
    it(file.replace(/\.json$/, ""), async () => {
      const def = JSON.parse(readFileSync(join(DIR, file), "utf8")) as {
        expectation_type: string;
        datasets: GeDataset[];
      };
      const found: string[] = [];
      let ran = 0;
      for (const [d, ds] of def.datasets.entries()) {
        const tests = ds.tests.filter(runsOnPostgres);
        if (tests.length === 0) continue;
        const table = `ge_${file.replace(/\W/g, "_")}_${d}`;
        const cols = Object.keys(ds.data);
        const schema = ds.schemas?.postgresql;
        const types = cols.map((c) =>
          schema?.[c]
            ? (PG_TYPES[schema[c]!.toUpperCase()] ?? "VARCHAR")
            : inferType(ds.data[c]!, def.expectation_type),
        );
        const n = Math.max(0, ...cols.map((c) => ds.data[c]!.length));
        if (cols.length === 0) {
          await p.sql.run(`CREATE OR REPLACE TABLE ${ident(table)} AS SELECT 1 AS x WHERE false`);
        } else if (n === 0) {
          await p.sql.run(
            `CREATE OR REPLACE TABLE ${ident(table)} (${cols.map((c, i) => `${ident(c)} ${types[i]}`).join(", ")})`,
          );
        } else {
          const rows = Array.from(
            { length: n },
            (_, r) => `(${cols.map((c, i) => sqlValue(ds.data[c]![r], types[i]!)).join(", ")})`,
          );
          await p.sql.run(
            `CREATE OR REPLACE TABLE ${ident(table)} AS SELECT * FROM (VALUES ${rows.join(", ")}) v(${cols.map(ident).join(", ")})`,
          );
        }
        const report = await runSuite(p.sql, table, {
          expectation_suite_name: "ge",
          expectations: tests.map((t) => ({ expectation_type: def.expectation_type, kwargs: t.in })),
        });
        for (const [i, t] of tests.entries()) {
          ran++;
          const key = `${file} / ${t.title}`;
          const diff = mismatches(report.results[i]!, t);
          if (key in DIFFERENCES) {
            expect(
              diff.length,
              `${key} is listed as a difference but now matches: remove it`,
            ).toBeGreaterThan(0);
          } else if (diff.length > 0) {
            found.push(`${key} ${JSON.stringify(t.in)}: ${diff.join("; ")}`);
          }
        }
      }
      expect(found).toEqual([]);
      expect(ran).toBeGreaterThan(0);
    });
  }
});
