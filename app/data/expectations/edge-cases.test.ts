/**
 * Edge data and edge suites found in review: text with a NUL character,
 * ±Infinity in list-valued results, columns whose names the runner uses
 * internally, an input that already has the quarantine's columns, and
 * Great Expectations 0.18 kwargs (exact_match null, mostly on type checks).
 * Expected values are counted by hand from the few rows each table holds.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestProject, type TestProject } from "../../engine/testing";
import type { ExpectationConfig } from "../../values/expectations";
import type { ProfileReport } from "../../values/profile";
import { checkSuite, quarantineRows, runSuite, suggestSuite } from "./index";

const e = (expectation_type: string, kwargs: Record<string, unknown>): ExpectationConfig => ({
  expectation_type,
  kwargs,
});
const suite = (...expectations: ExpectationConfig[]) => ({ expectation_suite_name: "edge", expectations });

let p: TestProject;
beforeAll(async () => {
  p = await createTestProject();
});
afterAll(() => p.close());

describe("edge data", () => {
  it("a NUL character in value_set, a bound or a regex is compared as text, in one pass, and quarantines", async () => {
    await p.table("nul", `SELECT * FROM (VALUES ('a' || chr(0)), ('a'), ('b'), (NULL)) AS v(s)`);
    const s = suite(
      e("expect_column_values_to_be_in_set", { column: "s", value_set: ["a\u0000", "a"] }),
      e("expect_column_values_to_not_be_in_set", { column: "s", value_set: ["a\u0000"] }),
      e("expect_column_values_to_match_regex", { column: "s", regex: "^a\u0000?$" }),
      e("expect_column_values_to_be_between", { column: "s", max_value: "a\u0000" }),
    );
    const r = await runSuite(p.sql, "nul", s);
    expect(r.results.map((x) => x.exception_info?.exception_message ?? null)).toEqual([
      null,
      null,
      null,
      null,
    ]);
    // rows: "a\0", "a", "b", null (3 non-null)
    expect(r.results.map((x) => x.result.unexpected_count)).toEqual([1, 1, 1, 1]);
    expect(r.results[0]!.result.partial_unexpected_list).toEqual(["b"]);
    expect(r.results[1]!.result.partial_unexpected_list).toEqual(["a\u0000"]);
    expect(r.meta.passes).toBe(2);
    const split = await quarantineRows(p.sql, "nul", s, "nul_out", "nul_rejected");
    // "a\0" breaks not_in_set; "b" breaks in_set, the regex and the bound; "a" and null pass
    expect(split).toEqual({ kept: 2, rejected: 2 });
  });

  it("±Infinity in a DOUBLE column: quantiles and distinct values are lists, non-finite values as text", async () => {
    await p.table(
      "inf",
      `SELECT * FROM (VALUES ('-Infinity'::DOUBLE), (1.5), ('Infinity'::DOUBLE), ('NaN'::DOUBLE), (NULL)) AS v(d)`,
    );
    const r = await runSuite(
      p.sql,
      "inf",
      suite(
        e("expect_column_quantile_values_to_be_between", {
          column: "d",
          quantile_ranges: {
            quantiles: [0, 0.5, 1],
            value_ranges: [
              [null, 0],
              [1, 2],
              [1000, null],
            ],
          },
        }),
        e("expect_column_quantile_values_to_be_between", {
          column: "d",
          quantile_ranges: { quantiles: [0.5], value_ranges: [[2, 3]] },
        }),
        e("expect_column_distinct_values_to_be_in_set", { column: "d", value_set: [1.5] }),
      ),
    );
    // NaN and null are missing: the values are -inf, 1.5, +inf.
    expect(r.results[0]!.result.observed_value).toEqual({
      quantiles: [0, 0.5, 1],
      values: ["-Infinity", 1.5, "Infinity"],
    });
    expect(r.results[0]!.result.details).toEqual({ success_details: [true, true, true] });
    expect(r.results[0]!.success).toBe(true);
    expect(r.results[1]!.success).toBe(false);
    expect(r.results[2]!.result.observed_value).toEqual(["-Infinity", 1.5, "Infinity"]);
    expect(r.results[2]!.success).toBe(false);
  });

  it("±Infinity in aggregates: stdev fails alone as pandas' NaN (one pass, no DuckDB error); mean and max say Infinity", async () => {
    await p.table(
      "inf_agg",
      `SELECT * FROM (VALUES (1.5::DOUBLE), ('Infinity'::DOUBLE), (2.0), ('NaN'::DOUBLE)) AS v(d)`,
    );
    const r = await runSuite(
      p.sql,
      "inf_agg",
      suite(
        e("expect_column_stdev_to_be_between", { column: "d", min_value: 0 }),
        e("expect_column_mean_to_be_between", { column: "d", min_value: 0 }),
        e("expect_column_max_to_be_between", { column: "d", max_value: 10 }),
        e("expect_column_values_to_not_be_null", { column: "d" }),
      ),
    );
    expect(r.results.map((x) => x.exception_info?.exception_message ?? null)).toEqual([
      null,
      null,
      null,
      null,
    ]);
    // pandas: std over [1.5, inf, 2.0] is NaN, a null metric, which fails; mean is inf, max is inf.
    expect(r.results.map((x) => [x.success, x.result.observed_value])).toEqual([
      [false, null],
      [true, "Infinity"],
      [false, "Infinity"],
      [false, undefined],
    ]);
    expect(r.results[3]!.result.unexpected_count).toBe(1);
    expect(r.meta.passes).toBe(2);
  });

  it("columns named like the runner's own helpers (__n, __gid, __dagwood_row) are checked like any other", async () => {
    await p.table(
      "names",
      `SELECT * FROM (VALUES (1, 'a', 10), (1, 'a', 11), (2, 'b', 12)) AS v(__n, __gid, __dagwood_row)`,
    );
    const s = suite(
      e("expect_column_values_to_be_unique", { column: "__n" }),
      e("expect_compound_columns_to_be_unique", { column_list: ["__n", "__gid"] }),
      e("expect_column_values_to_be_unique", { column: "__dagwood_row" }),
    );
    const r = await runSuite(p.sql, "names", s);
    expect(r.results.map((x) => x.exception_info?.exception_message ?? null)).toEqual([null, null, null]);
    expect(r.results.map((x) => x.result.unexpected_count)).toEqual([2, 2, 0]);
    expect(r.results[0]!.result.partial_unexpected_list).toEqual([1, 1]);
    const split = await quarantineRows(p.sql, "names", s, "names_out", "names_rejected");
    expect(split).toEqual({ kept: 1, rejected: 2 });
    expect(await p.sql.all(`SELECT __dagwood_row FROM names_out`)).toEqual([{ __dagwood_row: 12 }]);
  });

  it("TIMESTAMP WITH TIME ZONE values read back as ISO 8601 text with a T, as the other timestamps", async () => {
    await p.table(
      "tz",
      `SELECT * FROM (VALUES (TIMESTAMPTZ '2020-01-01 10:00:00+00'), (TIMESTAMPTZ '2020-01-01 10:00:00+00')) AS v(t)`,
    );
    const r = await runSuite(
      p.sql,
      "tz",
      suite(
        e("expect_column_values_to_be_unique", { column: "t" }),
        e("expect_column_values_to_be_null", { column: "t" }),
        e("expect_column_max_to_be_between", { column: "t", max_value: "2019-01-01 00:00:00+00" }),
      ),
    );
    // The offset is the session's time zone; the date and time are joined by a T.
    const iso = /^20(19|20)-(12|01)-(31|01)T\d\d:\d\d:00[+-]\d\d(:\d\d)?$/;
    for (const i of [0, 1]) {
      const list = r.results[i]!.result.partial_unexpected_list as string[];
      expect(list).toHaveLength(2);
      for (const v of list) expect(v).toMatch(iso);
    }
    expect(r.results[2]!.result.observed_value).toMatch(iso);
    expect(r.results[2]!.success).toBe(false);
  });

  it("a column named twice in a compound key counts once (pandas' duplicated), and breaks no other uniqueness check", async () => {
    await p.table("twice", `SELECT * FROM (VALUES (1, 'a'), (1, 'b'), (2, 'b')) AS v(a, b)`);
    const r = await runSuite(
      p.sql,
      "twice",
      suite(
        e("expect_compound_columns_to_be_unique", { column_list: ["a", "a"] }),
        e("expect_column_values_to_be_unique", { column: "b" }),
      ),
    );
    expect(r.results.map((x) => x.exception_info?.exception_message ?? null)).toEqual([null, null]);
    expect(r.results.map((x) => x.result.unexpected_count)).toEqual([2, 2]);
    expect(r.meta.passes).toBe(1);
  });

  it("uniqueness checks DuckDB cannot group fail alone: the other uniqueness checks keep their counts", async () => {
    await p.table("grp", `SELECT * FROM (VALUES (1, 'a'), (1, 'b'), (2, 'b')) AS v(a, b)`);
    await p.sql.run(
      `CREATE OR REPLACE VIEW grp_bad AS SELECT a, b, CASE WHEN a = 2 THEN error('boom') ELSE 1 END AS c FROM grp`,
    );
    const r = await runSuite(
      p.sql,
      "grp_bad",
      suite(
        e("expect_column_values_to_be_unique", { column: "c" }),
        e("expect_column_values_to_be_unique", { column: "b" }),
        e("expect_column_values_to_not_be_null", { column: "a" }),
        e("expect_column_values_to_be_between", { column: "a", min_value: 0 }),
        e("expect_column_mean_to_be_between", { column: "a", min_value: 0 }),
      ),
    );
    expect(r.results[0]!.exception_info?.exception_message).toMatch(/expectations\[0\].*boom/);
    expect(r.results.slice(1).map((x) => x.exception_info?.raised_exception)).toEqual([
      false,
      false,
      false,
      false,
    ]);
    expect(r.results[1]!.result.unexpected_count).toBe(2);
    expect(r.results.slice(2).map((x) => x.success)).toEqual([true, true, true]);
    // The aggregates still take one pass (without the uniqueness fold), then b's uniqueness alone.
    expect(r.meta.passes).toBe(2);
  });

  it("quarantine refuses an input that already has failed_expectation or failure_reason, saying what to do", async () => {
    await p.table("has_reason", `SELECT * FROM (VALUES (1, 'x'), (NULL, 'y')) AS v(a, failure_reason)`);
    await expect(
      quarantineRows(
        p.sql,
        "has_reason",
        suite(e("expect_column_values_to_not_be_null", { column: "a" })),
        "hr_out",
        "hr_rejected",
      ),
    ).rejects.toThrow(/already has a column "failure_reason".*rename/i);
  });
});

describe("Great Expectations 0.18 kwargs", () => {
  it("expect_table_columns_to_match_set: exact_match null is not exact (GE: `if exact_match:`)", async () => {
    await p.table("cols", `SELECT 1 AS a, 2 AS b`);
    const r = await runSuite(
      p.sql,
      "cols",
      suite(
        e("expect_table_columns_to_match_set", { column_set: ["a"], exact_match: null }),
        e("expect_table_columns_to_match_set", { column_set: ["a"] }),
        e("expect_table_columns_to_match_set", { column_set: ["a", "c"], exact_match: null }),
      ),
    );
    expect(r.results.map((x) => x.success)).toEqual([true, false, false]);
  });

  it("mostly on expect_column_values_to_be_of_type / _in_type_list is accepted, as GE's success_keys list it", async () => {
    const s = suite(
      e("expect_column_values_to_be_of_type", { column: "a", type_: "int64", mostly: 0.9 }),
      e("expect_column_values_to_be_in_type_list", { column: "a", type_list: ["INTEGER"], mostly: 1 }),
    );
    expect(checkSuite(s)).toEqual([]);
    await p.table("typed", `SELECT 1::INTEGER AS a`);
    const r = await runSuite(p.sql, "typed", s);
    expect(r.results.map((x) => x.success)).toEqual([false, true]);
    expect(r.results[0]!.exception_info?.raised_exception).toBe(false);
  });

  it("deliberate differences (README): column_index 0 means the first column; strict_min on unique_value_count counts", async () => {
    await p.table("diff", `SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS v(a, b)`);
    const r = await runSuite(
      p.sql,
      "diff",
      suite(
        e("expect_column_to_exist", { column: "b", column_index: 0 }),
        e("expect_column_to_exist", { column: "a", column_index: 0 }),
        e("expect_column_unique_value_count_to_be_between", { column: "b", min_value: 2, strict_min: true }),
      ),
    );
    expect(r.results.map((x) => x.success)).toEqual([false, true, false]);
  });

  it("a suite suggested from a profile passes on that table whatever its column types (TIMETZ, BIT, BIGNUM, UNION…)", async () => {
    const t = await p.table(
      "kinds",
      `SELECT TIMETZ '10:00:00+00' AS tt, '101'::BIT AS bits, i % 2 = 0 AS b, [i] AS l,
         union_value(n := i::INTEGER) AS u, i::BIGNUM AS big, (i / 7)::DECIMAL(10,2) AS dec FROM range(30) r(i)`,
    );
    // The profile's column types are DESCRIBE's (analyze.profile reads them so); only what suggestSuite reads is filled.
    const profile = {
      kind: "profile",
      rows: t.rows,
      columns: t.columns.map((c) => ({
        name: c.name,
        type: c.type,
        kind: "categorical",
        unit: null,
        nulls: 0,
        distinct: 30,
        distinctApprox: false,
        min: null,
        max: null,
        top: null,
      })),
    } as unknown as ProfileReport;
    const s = suggestSuite(profile, { name: "kinds", margin: 0 });
    expect(
      s.expectations.filter((x) => x.expectation_type === "expect_column_values_to_be_of_type"),
    ).toHaveLength(7);
    const r = await runSuite(p.sql, "kinds", s);
    expect(
      r.results.filter((x) => !x.success).map((x) => x.exception_info?.exception_message ?? x.kwargs),
    ).toEqual([]);
    // A type name the column does not have is still a failed expectation, not an unknown name.
    const other = await runSuite(
      p.sql,
      "kinds",
      suite(
        e("expect_column_values_to_be_of_type", { column: "tt", type_: "time with time zone" }),
        e("expect_column_values_to_be_of_type", { column: "bits", type_: "TIMETZ" }),
      ),
    );
    expect(other.results.map((x) => [x.success, x.exception_info?.raised_exception])).toEqual([
      [true, false],
      [false, false],
    ]);
  });

  it("a kwarg that does not fit the column says what to do", async () => {
    await p.table("fit", `SELECT 1 AS n, DATE '2020-01-01' AS d, 'x' AS s`);
    const r = await runSuite(
      p.sql,
      "fit",
      suite(
        e("expect_column_values_to_match_regex", { column: "n", regex: "^1$" }),
        e("expect_column_mean_to_be_between", { column: "s", min_value: 0 }),
        e("expect_column_values_to_be_between", { column: "d", min_value: "01/02/2020" }),
      ),
    );
    const msg = (i: number) => r.results[i]!.exception_info?.exception_message ?? "";
    expect(msg(0)).toMatch(/needs a text column; "n" is INTEGER: choose a text column, or cast this one/);
    expect(msg(1)).toMatch(
      /needs a numeric column; "s" is VARCHAR: choose a numeric column, or cast this one/,
    );
    expect(msg(2)).toMatch(/min_value "01\/02\/2020" is not a DATE value .*write it as 2024-01-31/);
  });
});
