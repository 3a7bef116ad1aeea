/**
 * The expectations runner against an independent computation: each
 * expectation's counts, percentages, observed values and success are
 * compared with ge_reference.py, Great Expectations' documented semantics
 * implemented in pandas (Debian's /usr/bin/python3), over real data (vega
 * penguins, the starter's penguins.csv, seattle-weather, cars) and a crafted
 * table with nulls, NaN, duplicates, empty strings and unicode, and an empty
 * table.
 */

import { spawnSync } from "node:child_process";
import { copyFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestProject, PENGUINS_CSV, type TestProject } from "../../engine/testing";
import type { ExpectationConfig, ExpectationSuite, ValidationReport } from "../../values/expectations";
import type { ProfileReport } from "../../values/profile";
import { ident, isNumericType, literal } from "../sql";
import {
  checkSuite,
  EXPECTATIONS,
  formatSuite,
  parseSuite,
  quarantineRows,
  REJECT_COLUMNS,
  runSuite,
  SuiteError,
  suggestSuite,
} from "./index";

const here = dirname(fileURLToPath(import.meta.url));
const DATA = resolve(here, "../../../node_modules/vega-datasets/data");
const REFERENCE = join(here, "ge_reference.py");

interface Reference {
  success: boolean;
  element_count?: number;
  missing_count?: number | null;
  unexpected_count?: number;
  unexpected_percent?: number | null;
  observed_value?: unknown;
  unexpected_values?: unknown[];
  unexpected_rows?: number[];
}

/** Runs ge_reference.py over the table's rows (as DuckDB holds them) and the expectations. */
async function reference(
  p: TestProject,
  table: string,
  expectations: ExpectationConfig[],
): Promise<Reference[]> {
  const columns = await p.sql.columns(table);
  const rows = await p.sql.all<{ j: string }>(`SELECT to_json(t) AS j FROM "${table}" t`);
  // NaN and Infinity pass through to_json as bare words, which Python's json accepts.
  const input = `{"columns": ${JSON.stringify(columns)}, "expectations": ${JSON.stringify(expectations)}, "rows": [${rows.map((r) => r.j).join(",")}]}`;
  const run = spawnSync("/usr/bin/python3", [REFERENCE], {
    input,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  if (run.status !== 0) throw new Error(`ge_reference.py failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as Reference[];
}

const suite = (expectations: ExpectationConfig[], name = "test"): ExpectationSuite => ({
  expectation_suite_name: name,
  expectations,
});
const e = (expectation_type: string, kwargs: Record<string, unknown>): ExpectationConfig => ({
  expectation_type,
  kwargs,
});

function closeTo(actual: unknown, expected: unknown, what: string): void {
  if (typeof expected === "number" && typeof actual === "number") {
    expect(actual, what).toBeCloseTo(expected, Math.abs(expected) > 1e6 ? 0 : 6);
  } else if (Array.isArray(expected)) {
    expect(Array.isArray(actual), what).toBe(true);
    expect((actual as unknown[]).length, what).toBe(expected.length);
    for (const [i, x] of expected.entries()) closeTo((actual as unknown[])[i], x, `${what}[${i}]`);
  } else if (expected && typeof expected === "object") {
    for (const [k, v] of Object.entries(expected))
      closeTo((actual as Record<string, unknown>)[k], v, `${what}.${k}`);
  } else {
    expect(actual, what).toEqual(expected);
  }
}

/** Compares every result with the reference: success, counts, percentages, observed value, the partial list. */
function compare(report: ValidationReport, ref: Reference[]): void {
  expect(report.results.length).toBe(ref.length);
  report.results.forEach((r, i) => {
    const want = ref[i]!;
    const what = `expectations[${i}] ${r.expectation_type} ${JSON.stringify(r.kwargs)}`;
    expect(r.exception_info.exception_message, what).toBeNull();
    expect(r.success, what).toBe(want.success);
    if (want.unexpected_count !== undefined) {
      expect(r.result.element_count, what).toBe(want.element_count);
      expect(r.result.unexpected_count, what).toBe(want.unexpected_count);
      if (want.unexpected_percent === null) expect(r.result.unexpected_percent, what).toBeNull();
      else expect(r.result.unexpected_percent, what).toBeCloseTo(want.unexpected_percent!, 9);
      if (want.missing_count === null) expect(r.result.missing_count, what).toBeUndefined();
      else expect(r.result.missing_count, what).toBe(want.missing_count);
      const partial = r.result.partial_unexpected_list!;
      expect(partial.length, what).toBe(Math.min(20, want.unexpected_count));
      if (want.unexpected_values && want.unexpected_values.length > 0) {
        const pool = [...want.unexpected_values];
        for (const v of partial) {
          const at = pool.findIndex((x) =>
            typeof x === "number" && typeof v === "number" ? Math.abs(x - v) < 1e-9 : x === v,
          );
          expect(at, `${what}: ${JSON.stringify(v)} is one of the unexpected values`).toBeGreaterThanOrEqual(
            0,
          );
          pool.splice(at, 1);
        }
      }
    }
    if (want.observed_value !== undefined)
      closeTo(r.result.observed_value, want.observed_value, `${what} observed_value`);
  });
}

/** A broad suite over two numeric columns and a text column, with bounds that some rows break. */
async function broadSuite(
  p: TestProject,
  table: string,
  c: { num: string; num2: string; text: string; cats: string[] },
): Promise<ExpectationConfig[]> {
  const s = await p.sql.one<{ lo: number; hi: number; lo2: number }>(
    `SELECT min("${c.num}")::DOUBLE AS lo, max("${c.num}")::DOUBLE AS hi, min("${c.num2}")::DOUBLE AS lo2 FROM "${table}" WHERE NOT isnan("${c.num}"::DOUBLE)`,
  );
  if (s.lo === null || s.hi === null) Object.assign(s, { lo: 0, hi: 1, lo2: 0 }); // no rows
  const span = s.hi - s.lo;
  const a = s.lo + span * 0.2;
  const b = s.hi - span * 0.2;
  const cols = (await p.sql.columns(table)).map((x) => x.name);
  return [
    e("expect_table_row_count_to_be_between", { min_value: 1, max_value: 1_000_000 }),
    e("expect_table_row_count_to_be_between", { min_value: 1_000_000, max_value: null }),
    e("expect_table_columns_to_match_set", { column_set: cols, exact_match: true }),
    e("expect_table_columns_to_match_set", { column_set: cols.slice(1), exact_match: false }),
    e("expect_table_columns_to_match_set", { column_set: cols.slice(1) }),
    e("expect_table_columns_to_match_ordered_list", { column_list: cols }),
    e("expect_table_columns_to_match_ordered_list", { column_list: [...cols].reverse() }),
    e("expect_column_to_exist", { column: c.text }),
    e("expect_column_to_exist", { column: cols[0], column_index: 0 }),
    e("expect_column_to_exist", { column: cols[0], column_index: 1 }),
    e("expect_column_values_to_not_be_null", { column: c.num }),
    e("expect_column_values_to_not_be_null", { column: c.text, mostly: 0.9 }),
    e("expect_column_values_to_be_null", { column: c.num2 }),
    e("expect_column_values_to_be_null", { column: c.num2, mostly: 0.001 }),
    e("expect_column_values_to_be_between", { column: c.num, min_value: a, max_value: b }),
    e("expect_column_values_to_be_between", { column: c.num, min_value: a, max_value: b, mostly: 0.5 }),
    e("expect_column_values_to_be_between", { column: c.num, min_value: s.lo, strict_min: true }),
    e("expect_column_values_to_be_between", { column: c.num, max_value: s.hi, strict_max: false }),
    e("expect_column_values_to_be_between", {
      column: c.num,
      max_value: s.hi,
      strict_max: true,
      mostly: 0.99,
    }),
    e("expect_column_values_to_be_in_set", { column: c.text, value_set: c.cats }),
    e("expect_column_values_to_be_in_set", { column: c.text, value_set: c.cats.slice(0, 1), mostly: 0.3 }),
    e("expect_column_values_to_not_be_in_set", { column: c.text, value_set: c.cats.slice(0, 1) }),
    e("expect_column_values_to_be_unique", { column: c.num }),
    e("expect_column_values_to_be_unique", { column: c.num2, mostly: 0.2 }),
    e("expect_column_values_to_match_regex", { column: c.text, regex: "^[A-Z]" }),
    e("expect_column_values_to_match_regex", { column: c.text, regex: "a" }),
    e("expect_column_values_to_not_match_regex", { column: c.text, regex: "e.?s", mostly: 0.6 }),
    e("expect_column_value_lengths_to_be_between", { column: c.text, min_value: 4, max_value: 6 }),
    e("expect_column_value_lengths_to_be_between", { column: c.text, min_value: 1 }),
    e("expect_column_pair_values_a_to_be_greater_than_b", { column_A: c.num, column_B: c.num2 }),
    e("expect_column_pair_values_a_to_be_greater_than_b", {
      column_A: c.num2,
      column_B: c.num,
      or_equal: true,
    }),
    e("expect_column_pair_values_a_to_be_greater_than_b", {
      column_A: c.num,
      column_B: c.num2,
      ignore_row_if: "either_value_is_missing",
    }),
    e("expect_column_pair_values_a_to_be_greater_than_b", {
      column_A: c.num,
      column_B: c.num2,
      ignore_row_if: "neither",
    }),
    e("expect_compound_columns_to_be_unique", { column_list: [c.text, c.num2] }),
    e("expect_compound_columns_to_be_unique", {
      column_list: [c.text, c.num, c.num2],
      ignore_row_if: "any_value_is_missing",
    }),
    e("expect_compound_columns_to_be_unique", {
      column_list: [c.text, c.num2],
      ignore_row_if: "never",
      mostly: 0.5,
    }),
    e("expect_column_mean_to_be_between", { column: c.num, min_value: a, max_value: b }),
    e("expect_column_mean_to_be_between", { column: c.num, min_value: b }),
    e("expect_column_median_to_be_between", { column: c.num, min_value: a, max_value: b }),
    e("expect_column_stdev_to_be_between", { column: c.num, min_value: 0, max_value: span / 10 }),
    e("expect_column_stdev_to_be_between", { column: c.num2, min_value: 0 }),
    e("expect_column_min_to_be_between", {
      column: c.num,
      min_value: s.lo,
      max_value: s.lo,
      strict_min: true,
    }),
    e("expect_column_min_to_be_between", { column: c.num, min_value: s.lo, max_value: s.lo }),
    e("expect_column_max_to_be_between", { column: c.num, min_value: a, max_value: null }),
    e("expect_column_sum_to_be_between", { column: c.num2, min_value: 0, max_value: null }),
    e("expect_column_unique_value_count_to_be_between", { column: c.text, min_value: 2, max_value: 5 }),
    e("expect_column_proportion_of_unique_values_to_be_between", {
      column: c.num,
      min_value: 0.5,
      max_value: 1,
    }),
    e("expect_column_proportion_of_unique_values_to_be_between", {
      column: c.text,
      min_value: 0,
      max_value: 0.1,
    }),
    e("expect_column_distinct_values_to_be_in_set", { column: c.text, value_set: c.cats }),
    e("expect_column_distinct_values_to_be_in_set", { column: c.text, value_set: c.cats.slice(1) }),
    e("expect_column_quantile_values_to_be_between", {
      column: c.num,
      quantile_ranges: {
        quantiles: [0, 0.05, 0.25, 0.5, 0.75, 0.95, 1],
        value_ranges: [
          [s.lo, s.lo],
          [null, null],
          [a, null],
          [a, b],
          [null, b],
          [null, null],
          [s.hi, s.hi],
        ],
      },
    }),
    e("expect_column_quantile_values_to_be_between", {
      column: c.num,
      quantile_ranges: {
        quantiles: [0.333, 0.5],
        value_ranges: [
          [null, s.lo],
          [null, null],
        ],
      },
      allow_relative_error: false,
    }),
  ];
}

describe("expectations runner against ge_reference.py (pandas)", () => {
  let p: TestProject;
  beforeAll(async () => {
    p = await createTestProject();
    const local = (from: string) => {
      // The workspace reads only inside the project: copy the data in.
      const to = join(p.dir, "data", from.split("/").pop()!);
      copyFileSync(from, to);
      return literal(to);
    };
    await p.sql.run(
      `CREATE TABLE penguins AS SELECT * FROM read_json_auto(${local(join(DATA, "penguins.json"))})`,
    );
    await p.sql.run(`CREATE TABLE penguins_csv AS SELECT * FROM read_csv(${local(PENGUINS_CSV)})`);
    await p.sql.run(
      `CREATE TABLE weather AS SELECT * FROM read_csv(${local(join(DATA, "seattle-weather.csv"))})`,
    );
    await p.sql.run(`CREATE TABLE cars AS SELECT * FROM read_json_auto(${local(join(DATA, "cars.json"))})`);
    // Nulls, NaN, duplicates, empty strings, unicode; quoted names.
    await p.sql.run(`CREATE TABLE crafted AS SELECT * FROM (VALUES
      (0, 1.5::DOUBLE, 'apple', 10.0::DOUBLE, DATE '2020-01-03'),
      (1, 'nan'::DOUBLE, 'äpfel', 2.0, DATE '2020-01-01'),
      (2, 3.0, '', 3.0, NULL),
      (3, NULL, NULL, NULL, DATE '2021-06-30'),
      (4, 3.0, '日本語', 'nan'::DOUBLE, DATE '2020-01-03'),
      (5, -7.25, 'apple', 3.0, DATE '2019-12-31'),
      (6, 100.0, 'Banana', 1.0, DATE '2020-02-29'),
      (7, 3.0, 'apple', 3.0, NULL),
      (8, 0.0, 'ß', -1.0, DATE '2020-01-03'),
      (9, 2.5, 'apple ', NULL, DATE '2020-01-04')
    ) t("id", "x val", "s", "y", "d")`);
    await p.sql.run(`CREATE TABLE empty AS SELECT * FROM crafted WHERE false`);
  });
  afterAll(() => p.close());

  const cases: [string, { num: string; num2: string; text: string; cats: string[] }][] = [
    [
      "penguins",
      {
        num: "Beak Length (mm)",
        num2: "Body Mass (g)",
        text: "Species",
        cats: ["Adelie", "Gentoo", "Chinstrap"],
      },
    ],
    [
      "penguins_csv",
      { num: "beak_length_mm", num2: "flipper_length_mm", text: "sex", cats: ["MALE", "FEMALE"] },
    ],
    [
      "weather",
      { num: "temp_max", num2: "temp_min", text: "weather", cats: ["sun", "rain", "drizzle", "fog"] },
    ],
    [
      "cars",
      { num: "Horsepower", num2: "Miles_per_Gallon", text: "Origin", cats: ["USA", "Europe", "Japan"] },
    ],
    ["crafted", { num: "x val", num2: "y", text: "s", cats: ["apple", "", "日本語", "ß"] }],
    ["empty", { num: "x val", num2: "y", text: "s", cats: ["apple"] }],
  ];
  for (const [table, cols] of cases) {
    it(`${table}: every expectation's counts, observed values and success match`, async () => {
      const expectations = await broadSuite(p, table, cols);
      const [report, ref] = await Promise.all([
        runSuite(p.sql, table, suite(expectations)),
        reference(p, table, expectations),
      ]);
      compare(report, ref);
      // Not vacuous: both outcomes occur, except over the empty table where row-level ones pass.
      const outcomes = new Set(report.results.map((r) => r.success));
      expect(outcomes.has(false)).toBe(true);
      if (table !== "empty") expect(outcomes.has(true)).toBe(true);
      expect(report.meta.passes).toBeLessThanOrEqual(2);
      expect(report.statistics.evaluated_expectations).toBe(expectations.length);
      expect(report.statistics.successful_expectations).toBe(ref.filter((r) => r.success).length);
    });
  }

  it("text, dates and NaN: in_set/not_in_set/unique over unicode and empty strings, min/max of dates, NaN as missing", async () => {
    const expectations = [
      e("expect_column_values_to_be_in_set", {
        column: "s",
        value_set: ["apple", "äpfel", "ß", "日本語", ""],
      }),
      e("expect_column_values_to_not_be_in_set", { column: "s", value_set: ["", "Banana"] }),
      e("expect_column_values_to_be_unique", { column: "s" }),
      e("expect_column_values_to_be_unique", { column: "x val" }),
      e("expect_column_values_to_not_be_null", { column: "x val" }),
      e("expect_column_values_to_be_null", { column: "y" }),
      e("expect_column_value_lengths_to_be_between", { column: "s", min_value: 1, max_value: 3 }),
      e("expect_column_values_to_match_regex", { column: "s", regex: "^\\S+$" }),
      e("expect_column_values_to_be_between", {
        column: "d",
        min_value: "2020-01-01",
        max_value: "2020-12-31",
      }),
      e("expect_column_min_to_be_between", { column: "d", min_value: "2019-01-01", max_value: "2020-01-01" }),
      e("expect_column_max_to_be_between", { column: "d", min_value: "2021-06-30", max_value: "2021-06-30" }),
      e("expect_column_max_to_be_between", { column: "s", min_value: "z" }),
      e("expect_column_unique_value_count_to_be_between", { column: "x val", min_value: 7, max_value: 7 }),
      e("expect_column_distinct_values_to_be_in_set", {
        column: "x val",
        value_set: [1.5, 3, -7.25, 100, 0, 2.5],
      }),
      e("expect_compound_columns_to_be_unique", { column_list: ["x val", "y"], ignore_row_if: "never" }),
      e("expect_column_mean_to_be_between", { column: "y", min_value: 2.5, max_value: 3 }),
    ];
    const [report, ref] = await Promise.all([
      runSuite(p.sql, "crafted", suite(expectations)),
      reference(p, "crafted", expectations),
    ]);
    compare(report, ref);
    // Hand-checked anchors: 'apple' four times, one NaN and one null in "x val".
    expect(report.results[2]!.result.unexpected_count).toBe(3);
    expect(report.results[4]!.result.unexpected_count).toBe(2);
    expect(report.results[10]!.result.observed_value).toBe("2021-06-30");
  });

  it("RE2 differs from Python's re where documented: \\w is ASCII only", async () => {
    const r = await runSuite(
      p.sql,
      "crafted",
      suite([e("expect_column_values_to_match_regex", { column: "s", regex: "^\\w+$" })]),
    );
    // Python's re.search counts 'äpfel', 'ß' and '日本語' as word characters; RE2 does not (and '' and 'apple ' fail in both).
    expect(r.results[0]!.result.unexpected_count).toBe(5);
    expect(new Set(r.results[0]!.result.partial_unexpected_list)).toEqual(
      new Set(["äpfel", "", "日本語", "ß", "apple "]),
    );
  });

  it("GE BASIC result shape: null expectations carry no missing_count; percentages are null without rows", async () => {
    const r = await runSuite(
      p.sql,
      "empty",
      suite([
        e("expect_column_values_to_not_be_null", { column: "s" }),
        e("expect_column_values_to_be_between", { column: "x val", min_value: 0 }),
        e("expect_column_mean_to_be_between", { column: "x val", min_value: 0 }),
        e("expect_table_row_count_to_be_between", { min_value: 0, max_value: 0 }),
      ]),
    );
    expect(r.results[0]!.result).toEqual({
      element_count: 0,
      unexpected_count: 0,
      unexpected_percent: null,
      partial_unexpected_list: [],
    });
    expect(r.results[1]!.result).toEqual({
      element_count: 0,
      unexpected_count: 0,
      unexpected_percent: null,
      partial_unexpected_list: [],
      missing_count: 0,
      missing_percent: null,
      unexpected_percent_total: null,
      unexpected_percent_nonmissing: null,
    });
    expect(r.results[1]!.success).toBe(true);
    // Great Expectations: a mean over no rows is null, and a null metric fails.
    expect(r.results[2]).toMatchObject({ success: false, result: { observed_value: null } });
    expect(r.results[3]).toMatchObject({ success: true, result: { observed_value: 0 } });
    expect(r.meta.rows).toBe(0);
    expect(r.results[0]!.expectation_config).toEqual({
      expectation_type: "expect_column_values_to_not_be_null",
      kwargs: { column: "s" },
    });
    expect(r.results[0]!.exception_info).toEqual({
      raised_exception: false,
      exception_message: null,
      exception_traceback: null,
    });
  });

  it("quarantine: out ∪ rejected is the input, rejected rows are exactly those the reference flags", async () => {
    await p.sql.run(
      `CREATE OR REPLACE TABLE pq AS SELECT row_number() OVER () - 1 AS rid, * FROM penguins_csv`,
    );
    const row = [
      e("expect_column_values_to_not_be_null", { column: "sex" }),
      e("expect_column_values_to_be_between", {
        column: "beak_length_mm",
        min_value: 35,
        max_value: 55,
        mostly: 0.5,
      }),
      e("expect_column_values_to_be_in_set", { column: "island", value_set: ["Biscoe", "Dream"] }),
      e("expect_column_values_to_be_unique", { column: "body_mass_g" }),
      e("expect_compound_columns_to_be_unique", { column_list: ["species", "flipper_length_mm", "sex"] }),
      e("expect_column_pair_values_a_to_be_greater_than_b", {
        column_A: "flipper_length_mm",
        column_B: "beak_length_mm",
      }),
      e("expect_column_values_to_match_regex", { column: "species", regex: "^[AG]" }),
    ];
    const all = [
      ...row,
      e("expect_column_mean_to_be_between", { column: "beak_length_mm", min_value: 0 }),
      e("expect_table_row_count_to_be_between", { min_value: 1 }),
      e("expect_column_values_to_be_between", { column: "no such column", min_value: 1 }),
    ];
    const ref = await reference(p, "pq", row);
    const flagged = new Map<number, string[]>();
    ref.forEach((r, i) => {
      for (const at of r.unexpected_rows ?? [])
        flagged.set(at, [...(flagged.get(at) ?? []), row[i]!.expectation_type]);
    });
    const { kept, rejected } = await quarantineRows(p.sql, "pq", suite(all), "pq_out", "pq_rejected");
    const total = (await p.sql.one<{ n: number }>("SELECT count(*) AS n FROM pq")).n;
    expect(kept + rejected).toBe(total);
    expect(rejected).toBe(flagged.size);
    expect(rejected).toBeGreaterThan(0);
    const rej = await p.sql.all<{ rid: number; failed_expectation: string; failure_reason: string }>(
      `SELECT rid, ${REJECT_COLUMNS.expectation} AS failed_expectation, ${REJECT_COLUMNS.reason} AS failure_reason FROM pq_rejected ORDER BY rid`,
    );
    expect(rej.map((r) => r.rid)).toEqual([...flagged.keys()].sort((a, b) => a - b));
    for (const r of rej) {
      expect(r.failed_expectation.split("; ")).toEqual(flagged.get(r.rid));
      expect(r.failure_reason.split("; ").length).toBe(flagged.get(r.rid)!.length);
    }
    // out keeps the input's columns and order; rejected adds the two columns.
    const outCols = (await p.sql.columns("pq_out")).map((c) => c.name);
    expect(outCols).toEqual((await p.sql.columns("pq")).map((c) => c.name));
    expect((await p.sql.columns("pq_rejected")).map((c) => c.name)).toEqual([
      ...outCols,
      REJECT_COLUMNS.expectation,
      REJECT_COLUMNS.reason,
    ]);
    const outIds = (await p.sql.all<{ rid: number }>("SELECT rid FROM pq_out")).map((r) => r.rid);
    expect(outIds).toEqual([...outIds].sort((a, b) => a - b));
    const union = await p.sql.one<{ n: number }>(
      "SELECT count(*) AS n FROM (SELECT rid FROM pq_out UNION SELECT rid FROM pq_rejected)",
    );
    expect(union.n).toBe(total);
    const sample = rej.find((r) => r.failed_expectation === "expect_column_values_to_be_in_set");
    expect(sample?.failure_reason).toMatch(
      /^expect_column_values_to_be_in_set: island = Torgersen is not in value_set$/,
    );
  });

  it("a suite of 20 over a big generated table takes 2 passes (aggregates with uniqueness folded in, then the examples)", async () => {
    await p.sql.run(
      "CREATE TABLE big AS SELECT i AS id, (i % 1000)::DOUBLE AS x, 'k' || (i % 37) AS k, CASE WHEN i % 11 = 0 THEN NULL ELSE i % 5 END AS c FROM range(300000) r(i)",
    );
    const twenty = [
      e("expect_table_row_count_to_be_between", { min_value: 1 }),
      e("expect_table_columns_to_match_set", { column_set: ["id", "x", "k", "c"] }),
      e("expect_column_values_to_not_be_null", { column: "c" }),
      e("expect_column_values_to_be_between", { column: "x", min_value: 0, max_value: 900 }),
      e("expect_column_values_to_be_in_set", { column: "c", value_set: [0, 1, 2, 3] }),
      e("expect_column_values_to_be_unique", { column: "id" }),
      e("expect_column_values_to_be_unique", { column: "x" }),
      e("expect_compound_columns_to_be_unique", { column_list: ["k", "c"] }),
      e("expect_column_values_to_match_regex", { column: "k", regex: "^k[0-9]$" }),
      e("expect_column_value_lengths_to_be_between", { column: "k", max_value: 2 }),
      e("expect_column_pair_values_a_to_be_greater_than_b", {
        column_A: "id",
        column_B: "x",
        or_equal: true,
      }),
      e("expect_column_mean_to_be_between", { column: "x", min_value: 400, max_value: 600 }),
      e("expect_column_median_to_be_between", { column: "x", min_value: 400, max_value: 600 }),
      e("expect_column_stdev_to_be_between", { column: "x", min_value: 200 }),
      e("expect_column_min_to_be_between", { column: "id", min_value: 0, max_value: 0 }),
      e("expect_column_max_to_be_between", { column: "id", min_value: 299999 }),
      e("expect_column_sum_to_be_between", { column: "c", min_value: 0 }),
      e("expect_column_unique_value_count_to_be_between", { column: "k", min_value: 37, max_value: 37 }),
      e("expect_column_distinct_values_to_be_in_set", { column: "c", value_set: [0, 1, 2, 3, 4] }),
      e("expect_column_quantile_values_to_be_between", {
        column: "x",
        quantile_ranges: { quantiles: [0.5], value_ranges: [[499, 500]] },
      }),
    ];
    expect(twenty).toHaveLength(20);
    const r = await runSuite(p.sql, "big", suite(twenty));
    expect(r.meta.passes).toBe(2);
    expect(r.results.every((x) => !x.exception_info.raised_exception)).toBe(true);
    expect(r.results[5]!.success).toBe(true);
    expect(r.results[6]!.result.unexpected_count).toBe(300000);
    expect(r.results[6]!.result.partial_unexpected_list).toHaveLength(20);
    expect(r.results[2]!.result.unexpected_count).toBe(Math.ceil(300000 / 11));
    const onlyAggregates = await runSuite(p.sql, "big", suite(twenty.slice(11)));
    expect(onlyAggregates.meta.passes).toBe(1);
  });
});

describe("bad input", () => {
  let p: TestProject;
  beforeAll(async () => {
    p = await createTestProject();
    await p.sql.run(
      `CREATE TABLE t AS SELECT * FROM (VALUES (1, 'a''b', DATE '2020-01-01'), (2, 'c', NULL), (NULL, NULL, DATE '2021-01-01')) v("n", "we""ird", "d")`,
    );
  });
  afterAll(() => p.close());

  it("suite text that is not JSON: the line and column", () => {
    const text =
      '{\n  "expectation_suite_name": "x",\n  "expectations": [\n    { "expectation_type": "a" ]\n}\n';
    try {
      parseSuite(text, "expectations/x.json");
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(SuiteError);
      expect((err as Error).message).toMatch(
        /^expectations\/x\.json is not valid JSON: .* at line 4, column 31\./,
      );
    }
    expect(() => parseSuite("", "s.json")).toThrow(/s\.json is not valid JSON/);
    expect(() => parseSuite('{"a": 1} // note', "s.json")).toThrow(/not valid JSON/);
  });

  it("JSON that is not a suite: what is missing", () => {
    expect(() => parseSuite("[1, 2]", "s.json")).toThrow(
      /s\.json is not an expectation suite: expected a JSON object.*a list/,
    );
    expect(() => parseSuite('{"expectations": []}', "s.json")).toThrow(
      /s\.json is not an expectation suite: expectation_suite_name: .*"expectation_suite_name" \(text\)/,
    );
    try {
      parseSuite(
        '{"expectation_suite_name": "x", "expectations": [{"kwargs": {}}, {"expectation_type": 3}]}',
        "s.json",
      );
      expect.unreachable();
    } catch (err) {
      const problems = (err as SuiteError).problems;
      expect(problems.map((q) => q.path)).toEqual([
        "expectations[0].expectation_type",
        "expectations[1].expectation_type",
      ]);
      expect(problems[0]!.message).toMatch(/^expectations\[0\].expectation_type \(expectations\[0\] \?\)/);
    }
  });

  it("checkSuite: unknown types (did you mean), missing, wrong and unknown kwargs, each naming the expectation", () => {
    const s = suite([
      e("expect_column_values_to_be_between", { column: "n", min_value: 0 }),
      e("expect_column_valus_to_not_be_null", { column: "n" }),
      e("expect_column_values_to_be_in_set", { column: "n" }),
      e("expect_column_values_to_be_between", { column: "n", min_value: [1], mostly: 2 }),
      e("expect_column_values_to_be_between", { column: "n", min_val: 1, max_value: 3 }),
      e("expect_column_values_to_be_between", { column: "n" }),
      e("expect_column_values_to_be_between", { column: "n", min_value: 5, max_value: 1 }),
      e("expect_table_columns_to_match_set", { column_set: "n" }),
      e("expect_column_values_to_not_be_null", { column: "n", row_condition: "n > 1" }),
      e("expect_column_quantile_values_to_be_between", {
        column: "n",
        quantile_ranges: { quantiles: [0.5, 2], value_ranges: [[0, 1]] },
      }),
      e("expect_column_values_to_not_be_null", {
        column: "n",
        result_format: "COMPLETE",
        catch_exceptions: true,
      }),
    ]);
    const problems = checkSuite(s);
    const msgs = (i: number) =>
      problems.filter((q) => q.path.startsWith(`expectations[${i}]`)).map((q) => q.message);
    expect(msgs(0)).toEqual([]);
    expect(msgs(1)).toEqual([
      'expectations[1] expect_column_valus_to_not_be_null: unknown expectation type "expect_column_valus_to_not_be_null". Did you mean "expect_column_values_to_not_be_null"?',
    ]);
    expect(msgs(2)).toEqual([
      'expectations[2] expect_column_values_to_be_in_set: is missing kwarg "value_set" (The allowed values (null: any).)',
    ]);
    expect(msgs(3).join("\n")).toMatch(
      /kwarg "min_value" must be a number .*got a list\n.*kwarg "mostly" must be a number from 0 to 1, got number 2/,
    );
    expect(msgs(4)).toEqual([
      'expectations[4] expect_column_values_to_be_between: has unknown kwarg "min_val". Did you mean "min_value"?',
    ]);
    expect(msgs(5)).toEqual([
      "expectations[5] expect_column_values_to_be_between: needs min_value or max_value: both cannot be null",
    ]);
    expect(msgs(6)).toEqual([
      "expectations[6] expect_column_values_to_be_between: has min_value 5 above max_value 1",
    ]);
    expect(msgs(7)[0]).toMatch(/kwarg "column_set" must be a non-empty list of column names, got string "n"/);
    expect(msgs(8)[0]).toMatch(/row_condition, which Dagwood does not support/);
    expect(msgs(9)[0]).toMatch(/needs quantiles: a list of numbers from 0 to 1/);
    expect(msgs(10)).toEqual([]);
    expect(problems.find((q) => q.path === "expectations[4].kwargs.min_val")).toBeDefined();
  });

  it("runSuite: each bad expectation is its own failed result with exception_info; the others still run", async () => {
    const s = suite([
      e("expect_column_values_to_not_be_null", { column: "n" }),
      e("expect_column_valus_to_not_be_null", { column: "n" }),
      e("expect_column_values_to_be_in_set", { column: "n" }),
      e("expect_column_values_to_be_between", { column: "m", min_value: 0 }),
      e("expect_column_values_to_match_regex", { column: 'we"ird', regex: "a(?=b)" }),
      e("expect_column_values_to_match_regex", { column: 'we"ird', regex: "(unclosed" }),
      e("expect_column_mean_to_be_between", { column: 'we"ird', min_value: 0 }),
      e("expect_column_values_to_be_between", { column: "n", min_value: "one" }),
      e("expect_column_values_to_be_between", { column: "d", min_value: "2020-13-45" }),
      e("expect_column_values_to_be_of_type", { column: "n", type_: "Integr" }),
      e("expect_column_values_to_match_regex", { column: "n", regex: "1" }),
      e("expect_column_values_to_be_in_set", {
        column: 'we"ird',
        value_set: ["a'b", "x'); DROP TABLE t; --"],
      }),
      e("expect_column_values_to_be_between", { column: "d", min_value: "2020-06-01" }),
    ]);
    const r = await runSuite(p.sql, "t", s);
    const msg = (i: number) => r.results[i]!.exception_info.exception_message;
    expect(r.results[0]).toMatchObject({ success: false, result: { unexpected_count: 1 } });
    expect(r.results[0]!.exception_info.raised_exception).toBe(false);
    for (const i of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) {
      expect(r.results[i]!.success).toBe(false);
      expect(r.results[i]!.exception_info.raised_exception).toBe(true);
      expect(msg(i)).toMatch(new RegExp(`^expectations\\[${i}\\] ${r.results[i]!.expectation_type}: `));
    }
    expect(msg(1)).toMatch(/Did you mean "expect_column_values_to_not_be_null"\?$/);
    expect(msg(2)).toMatch(/missing kwarg "value_set"/);
    expect(msg(3)).toMatch(
      /The column "m" does not exist in the table \(did you mean "n"\?\); its columns are n, we"ird, d\./,
    );
    expect(msg(4)).toMatch(/DuckDB cannot compile the regex "a\(\?=b\)".*RE2 .*no lookahead/);
    expect(msg(5)).toMatch(/DuckDB cannot compile the regex "\(unclosed"/);
    expect(msg(6)).toMatch(/needs a numeric column; "we"ird" is VARCHAR/);
    expect(msg(7)).toMatch(/min_value must be a number for the numeric column "n"/);
    expect(msg(8)).toMatch(/min_value "2020-13-45" is not a DATE value/);
    expect(msg(9)).toMatch(/unknown type name "Integr"/);
    expect(msg(10)).toMatch(/needs a text column; "n" is INTEGER/);
    // Quotes in names and values go through identifiers and literals: the table is intact and the value matched.
    expect(r.results[11]).toMatchObject({
      success: false,
      result: { unexpected_count: 1, partial_unexpected_list: ["c"] },
    });
    expect(r.results[12]).toMatchObject({
      success: false,
      result: { unexpected_count: 1, partial_unexpected_list: ["2020-01-01"] },
    });
    expect((await p.sql.one<{ n: number }>("SELECT count(*) AS n FROM t")).n).toBe(3);
    expect(r.statistics).toEqual({
      evaluated_expectations: 13,
      successful_expectations: 0,
      unsuccessful_expectations: 13,
      success_percent: 0,
    });
  });

  it("types: DuckDB, pandas/numpy and SQLAlchemy names, case-insensitive", async () => {
    await p.sql.run(
      "CREATE TABLE typed AS SELECT 1::BIGINT AS i, 1.5::DOUBLE AS f, 'x' AS s, true AS b, TIMESTAMP '2020-01-01' AS ts, 1.5::DECIMAL(10,2) AS dec, 1::INTEGER AS i32",
    );
    const cases: [string, string, boolean][] = [
      ["i", "BIGINT", true],
      ["i", "int64", true],
      ["i", "Integer", true],
      ["i", "int32", false],
      ["i32", "int32", true],
      ["i32", "INTEGER", true],
      ["f", "float64", true],
      ["f", "Float", true],
      ["f", "double", true],
      ["f", "float32", false],
      ["s", "object", true],
      ["s", "str", true],
      ["s", "TEXT", true],
      ["s", "String", true],
      ["s", "int64", false],
      ["b", "bool", true],
      ["b", "BOOLEAN", true],
      ["ts", "datetime64[ns]", true],
      ["ts", "DateTime", true],
      ["ts", "TIMESTAMP", true],
      ["ts", "DATE", false],
      ["dec", "DECIMAL", true],
      ["dec", "DECIMAL(10,2)", true],
      ["dec", "Numeric", true],
    ];
    const r = await runSuite(
      p.sql,
      "typed",
      suite([
        ...cases.map(([column, type_]) => e("expect_column_values_to_be_of_type", { column, type_ })),
        e("expect_column_values_to_be_in_type_list", { column: "f", type_list: ["int64", "float64"] }),
        e("expect_column_values_to_be_in_type_list", { column: "s", type_list: ["int64", "float64"] }),
      ]),
    );
    cases.forEach(([column, type_, ok], i) => {
      expect(r.results[i]!.success, `${column} ${type_}`).toBe(ok);
    });
    expect(r.results[0]!.result.observed_value).toBe("BIGINT");
    expect(r.results[cases.length]!.success).toBe(true);
    expect(r.results[cases.length + 1]!.success).toBe(false);
  });

  it("an expectation DuckDB fails on while scanning (a DECIMAL sum overflows) fails alone; the others keep their results", async () => {
    await p.sql.run(
      "CREATE TABLE huge AS SELECT * FROM (VALUES (99999999999999999999999999999999999999::DECIMAL(38,0), 1), (99999999999999999999999999999999999999::DECIMAL(38,0), 1)) v(d, k)",
    );
    const r = await runSuite(
      p.sql,
      "huge",
      suite([
        e("expect_column_sum_to_be_between", { column: "d", min_value: 0 }),
        e("expect_column_values_to_be_unique", { column: "k" }),
        e("expect_column_values_to_be_between", { column: "k", min_value: 2 }),
        e("expect_column_max_to_be_between", { column: "k", max_value: 1 }),
      ]),
    );
    expect(r.results[0]!.exception_info.exception_message).toMatch(
      /^expectations\[0\] expect_column_sum_to_be_between: DuckDB could not compute it: .*Overflow/,
    );
    expect(r.results[1]).toMatchObject({
      success: false,
      result: { unexpected_count: 2, partial_unexpected_list: [1, 1] },
    });
    expect(r.results[2]).toMatchObject({
      success: false,
      result: { unexpected_count: 2, partial_unexpected_list: [1, 1] },
    });
    expect(r.results[3]).toMatchObject({ success: true, result: { observed_value: 1 } });
    expect(r.meta.rows).toBe(2);
  });

  it("a canceled run throws before any query; a view validates like a table", async () => {
    const abort = new AbortController();
    abort.abort();
    await expect(
      runSuite(p.sql, "t", suite([e("expect_column_to_exist", { column: "n" })]), { signal: abort.signal }),
    ).rejects.toThrow();
    await p.sql.run(`CREATE VIEW "t v" AS SELECT * FROM t WHERE "n" IS NOT NULL`);
    const r = await runSuite(
      p.sql,
      "t v",
      suite([e("expect_column_values_to_not_be_null", { column: "n" })]),
      {
        suiteSource: "inline",
      },
    );
    expect(r.success).toBe(true);
    expect(r.meta).toMatchObject({
      rows: 2,
      suite_source: "inline",
      expectation_suite_name: "test",
      passes: 1,
    });
  });

  it("timestamps read back as ISO 8601 text, as Great Expectations serializes a datetime", async () => {
    await p.sql.run(
      "CREATE TABLE ts AS SELECT * FROM (VALUES (TIMESTAMP '2020-01-01 10:00:00'), (TIMESTAMP '2020-01-01 10:00:00'), (TIMESTAMP '2021-05-06 07:08:09')) v(t)",
    );
    const r = await runSuite(
      p.sql,
      "ts",
      suite([
        e("expect_column_values_to_be_between", { column: "t", max_value: "2021-01-01" }),
        e("expect_column_values_to_be_unique", { column: "t" }),
        e("expect_column_max_to_be_between", { column: "t", min_value: "2021-05-06 07:08:09" }),
        e("expect_column_distinct_values_to_be_in_set", { column: "t", value_set: ["2020-01-01 10:00:00"] }),
      ]),
    );
    expect(r.results[0]!.result.partial_unexpected_list).toEqual(["2021-05-06T07:08:09"]);
    expect(r.results[1]!.result.partial_unexpected_list).toEqual([
      "2020-01-01T10:00:00",
      "2020-01-01T10:00:00",
    ]);
    expect(r.results[2]).toMatchObject({ success: true, result: { observed_value: "2021-05-06T07:08:09" } });
    expect(r.results[3]).toMatchObject({
      success: false,
      result: { observed_value: ["2020-01-01T10:00:00", "2021-05-06T07:08:09"] },
    });
  });

  it("a table that does not exist throws (the table itself is the caller's problem)", async () => {
    await expect(
      runSuite(p.sql, "nope", suite([e("expect_column_to_exist", { column: "a" })])),
    ).rejects.toThrow();
  });
});

describe("suite files", () => {
  // The shape Great Expectations 0.18 writes (great_expectations/core/expectation_suite.py,
  // ExpectationSuite.to_json_dict: expectation_suite_name, ge_cloud_id, expectations, data_asset_type, meta;
  // ExpectationConfiguration.to_json_dict: expectation_type, kwargs, meta).
  const GE_SUITE = `{
  "expectation_suite_name": "penguins.warning",
  "ge_cloud_id": null,
  "expectations": [
    {
      "expectation_type": "expect_table_row_count_to_be_between",
      "kwargs": {
        "max_value": 400,
        "min_value": 300
      },
      "meta": {
        "profiler_details": {
          "metric_configuration": {
            "domain_kwargs": {},
            "metric_name": "table.row_count"
          },
          "num_batches": 1
        }
      }
    },
    {
      "expectation_type": "expect_column_values_to_be_in_set",
      "kwargs": {
        "column": "species",
        "value_set": [
          "Adelie",
          "Chinstrap",
          "Gentoo"
        ],
        "mostly": 0.95
      },
      "meta": {
        "notes": {
          "content": "Three species in the Palmer data",
          "format": "markdown"
        }
      },
      "rendered_content": []
    }
  ],
  "data_asset_type": null,
  "meta": {
    "great_expectations_version": "0.18.8",
    "citations": [
      {
        "citation_date": "2024-01-15T10:00:00.000000Z",
        "comment": "Created suite added via CLI"
      }
    ],
    "dagwood": {
      "owner": "data-team",
      "purpose": "Gate the penguins data"
    }
  },
  "notes": "an unknown top-level field is kept"
}
`;

  it("a Great Expectations suite reads and writes back byte for byte, unknown fields included", () => {
    const s = parseSuite(GE_SUITE, "expectations/penguins.json");
    expect(s.expectations).toHaveLength(2);
    expect(checkSuite(s)).toEqual([]);
    expect(formatSuite(s)).toBe(GE_SUITE);
    expect(parseSuite(formatSuite(s), "again")).toEqual(s);
  });

  it("formatSuite puts Great Expectations' keys first, in its order", () => {
    const text = formatSuite({
      meta: { x: 1 },
      expectations: [{ meta: {}, kwargs: { column: "a" }, expectation_type: "expect_column_to_exist" }],
      extra: true,
      expectation_suite_name: "s",
    } as ExpectationSuite);
    expect(text.endsWith("}\n")).toBe(true);
    expect(Object.keys(JSON.parse(text))).toEqual([
      "expectation_suite_name",
      "expectations",
      "meta",
      "extra",
    ]);
    expect(Object.keys(JSON.parse(text).expectations[0])).toEqual(["expectation_type", "kwargs", "meta"]);
    expect(text).toContain('\n  "expectations": [\n    {\n      "expectation_type"');
  });

  it("EXPECTATIONS lists every type the issue names, each with its kwargs", () => {
    const types = EXPECTATIONS.map((x) => x.type);
    expect(types).toHaveLength(27);
    expect(new Set(types).size).toBe(27);
    for (const x of EXPECTATIONS) {
      expect(x.description.length).toBeGreaterThan(10);
      if (x.scope === "row" && x.type !== "expect_column_values_to_be_of_type")
        expect(
          x.kwargs.some((k) => k.name === "mostly"),
          x.type,
        ).toBe(true);
    }
  });
});

/** A profile as analyze.profile reports it, computed here by hand for the fields suggestSuite reads. */
async function profileOf(p: TestProject, table: string): Promise<ProfileReport> {
  const rows = (await p.sql.one<{ n: number }>(`SELECT count(*) AS n FROM ${ident(table)}`)).n;
  const columns = [];
  for (const c of await p.sql.columns(table)) {
    const numeric = isNumericType(c.type);
    const s = await p.sql.one<{ nulls: number; distinct: number; min: number | null; max: number | null }>(
      `SELECT count(*) FILTER (WHERE ${ident(c.name)} IS NULL) AS nulls, count(DISTINCT ${ident(c.name)}) AS distinct,
        ${numeric ? `min(${ident(c.name)})::DOUBLE` : "NULL"} AS min, ${numeric ? `max(${ident(c.name)})::DOUBLE` : "NULL"} AS max
       FROM ${ident(table)}`,
    );
    const top = numeric
      ? null
      : await p.sql.all<{ value: string; count: number }>(
          `SELECT ${ident(c.name)} AS value, count(*) AS count FROM ${ident(table)} WHERE ${ident(c.name)} IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20`,
        );
    columns.push({
      name: c.name,
      type: c.type,
      kind: numeric ? ("numeric" as const) : ("categorical" as const),
      unit: null,
      nulls: s.nulls,
      nullFraction: rows ? s.nulls / rows : null,
      distinct: s.distinct,
      distinctApprox: false,
      nonFinite: 0,
      min: s.min,
      max: s.max,
      mean: null,
      std: null,
      quantiles: null,
      histogram: null,
      top,
    });
  }
  return { kind: "profile", rows, columns, correlation: { method: "pearson", columns: [], matrix: [] } };
}

describe("suggestSuite", () => {
  let p: TestProject;
  beforeAll(async () => {
    p = await createTestProject();
  });
  afterAll(() => p.close());

  it("drafts a suite from a profile that passes on the profiled table and is a valid GE suite", async () => {
    const path = join(p.dir, "data", "penguins.csv");
    copyFileSync(PENGUINS_CSV, path);
    const input = await p.table("pg", `SELECT * FROM read_csv(${literal(path)})`);
    const profile = await profileOf(p, input.name);
    const s = suggestSuite(profile, { name: "penguins", margin: 0.1 });
    expect(s.expectation_suite_name).toBe("penguins");
    expect(s.meta).toEqual({
      notes: `Suggested by Dagwood from a profile of ${profile.rows} rows; review before use`,
    });
    expect(checkSuite(s)).toEqual([]);
    const types = s.expectations.map((x) => x.expectation_type);
    expect(types[0]).toBe("expect_table_row_count_to_be_between");
    expect(s.expectations[0]!.kwargs).toEqual({
      min_value: Math.floor(344 * 0.9),
      max_value: Math.ceil(344 * 1.1),
    });
    expect(s.expectations[1]!.kwargs).toEqual({
      column_set: profile.columns.map((c) => c.name),
      exact_match: true,
    });
    const kw = (type: string, column: string) =>
      s.expectations.find((x) => x.expectation_type === type && x.kwargs.column === column)?.kwargs;
    expect(kw("expect_column_values_to_be_of_type", "beak_length_mm")).toEqual({
      column: "beak_length_mm",
      type_: "DOUBLE",
    });
    expect(kw("expect_column_values_to_not_be_null", "species")).toEqual({ column: "species" });
    // sex: 10 nulls of 344 → 97.09 % non-null, rounded down to 0.97.
    expect((await p.sql.one<{ n: number }>("SELECT count(*) AS n FROM pg WHERE sex IS NULL")).n).toBe(10);
    expect(kw("expect_column_values_to_not_be_null", "sex")).toEqual({ column: "sex", mostly: 0.97 });
    // beak_length_mm: 32.1 … 59.6, span 27.5, 10 % = 2.75 → 29.35 … 62.35, rounded outward to a step of 1.
    expect(kw("expect_column_values_to_be_between", "beak_length_mm")).toEqual({
      column: "beak_length_mm",
      min_value: 29,
      max_value: 63,
    });
    expect(kw("expect_column_values_to_be_in_set", "island")?.value_set).toEqual(
      expect.arrayContaining(["Biscoe", "Dream", "Torgersen"]),
    );
    const report = await runSuite(p.sql, "pg", parseSuite(formatSuite(s), "suggested"));
    expect(report.results.filter((r) => !r.success).map((r) => r.expectation_type)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it("constant columns, an empty table and margin 0 still give a usable suite", async () => {
    await p.table("k", "SELECT 5 AS c, 'a' AS s, NULL::DOUBLE AS allnull FROM range(10)");
    const s = suggestSuite(await profileOf(p, "k"), { name: "k", margin: 0 });
    expect(checkSuite(s)).toEqual([]);
    expect(
      s.expectations.find((x) => x.expectation_type === "expect_column_values_to_be_between")?.kwargs,
    ).toEqual({
      column: "c",
      min_value: 5,
      max_value: 5,
    });
    // A column with no values gets no not_be_null (mostly would be 0) and no range.
    expect(
      s.expectations.filter((x) => x.kwargs.column === "allnull").map((x) => x.expectation_type),
    ).toEqual(["expect_column_values_to_be_of_type"]);
    expect((await runSuite(p.sql, "k", s)).success).toBe(true);
    await p.table("none", "SELECT * FROM k WHERE false");
    const empty = suggestSuite(await profileOf(p, "none"), { name: "none", margin: 0.2 });
    expect(empty.expectations[0]!.kwargs).toEqual({ min_value: 0, max_value: 0 });
    expect((await runSuite(p.sql, "none", empty)).success).toBe(true);
  });
});
