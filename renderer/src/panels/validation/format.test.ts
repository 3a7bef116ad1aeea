import { describe, expect, it } from "vitest";
import type { ExpectationResult, ValidationReport } from "../../../../app/values/expectations";
import {
  compactKwargs,
  compactValue,
  distinctExamples,
  exceptionMessage,
  expectationColumns,
  mostlyText,
  orderedResults,
  percentText,
  readableType,
  summaryText,
  unexpectedText,
} from "./format";
import { inlineSuiteProblems, suitePath } from "./suiteCheck";

const result = (
  type: string,
  success: boolean,
  extra: Partial<ExpectationResult> = {},
): ExpectationResult => ({
  expectation_type: type,
  kwargs: {},
  success,
  result: {},
  expectation_config: { expectation_type: type, kwargs: {} },
  exception_info: { raised_exception: false, exception_message: null, exception_traceback: null },
  ...extra,
});

describe("expectation names", () => {
  it("reads Great Expectations' type names as words", () => {
    expect(readableType("expect_column_values_to_not_be_null")).toBe("values not null");
    expect(readableType("expect_column_values_to_be_between")).toBe("values between");
    expect(readableType("expect_table_row_count_to_be_between")).toBe("table row count between");
    expect(readableType("expect_column_to_exist")).toBe("column exists");
    expect(readableType("expect_column_values_to_not_match_regex")).toBe("values not match regex");
    expect(readableType("expect_column_pair_values_a_to_be_greater_than_b")).toBe(
      "pair values a greater than b",
    );
    expect(readableType("expect_compound_columns_to_be_unique")).toBe("compound columns unique");
    expect(readableType("expect_column_proportion_of_unique_values_to_be_between")).toBe(
      "proportion of unique values between",
    );
    expect(readableType("my_custom_check")).toBe("my custom check");
  });

  it("names the columns from column, column_A/B and column_list", () => {
    expect(expectationColumns({ column: "bill_length_mm", min_value: 1 })).toBe("bill_length_mm");
    expect(expectationColumns({ column_A: "a", column_B: "b" })).toBe("a, b");
    expect(expectationColumns({ column_list: ["x", "y", "z"] })).toBe("x, y, z");
    expect(expectationColumns({ min_value: 3 })).toBe("");
  });
});

describe("kwargs and values in one line", () => {
  it("leaves out the columns, mostly and output settings; cuts long lists", () => {
    expect(
      compactKwargs({
        column: "a",
        min_value: 0,
        max_value: 100.123456,
        mostly: 0.95,
        result_format: "BASIC",
      }),
    ).toBe("min_value=0, max_value=100.1");
    expect(compactKwargs({ column: "s", value_set: ["A", "B", "C", "D", "E", "F", "G"] })).toBe(
      'value_set=["A", "B", "C", "D", "E", … +2]',
    );
    expect(compactKwargs({ column: "a" })).toBe("");
  });

  it("formats observed values of every kind", () => {
    expect(compactValue(1234567)).toBe("1,234,567");
    expect(compactValue(0.000012)).toBe("1.20e-5");
    expect(compactValue(null)).toBe("null");
    expect(compactValue("x".repeat(80))).toBe(`"${"x".repeat(57)}…"`);
    expect(compactValue({ quantiles: [0.1, 0.9], values: [1, 2] })).toBe(
      "{quantiles: [0.1, 0.9], values: [1, 2]}",
    );
  });

  it('examples: each distinct value once with its count, in first-seen order; null and "null" apart', () => {
    expect(distinctExamples(["Chinstrap", "Chinstrap", 3, "Dream", "Chinstrap", null, "null"])).toEqual([
      { text: '"Chinstrap"', count: 3 },
      { text: "3", count: 1 },
      { text: '"Dream"', count: 1 },
      { text: "null", count: 1 },
      { text: '"null"', count: 1 },
    ]);
    expect(distinctExamples([])).toEqual([]);
  });

  it("percentages: tiny shares are not rounded to 0, none is a dash", () => {
    expect(percentText(3.2145)).toBe("3.21 %");
    expect(percentText(0.001)).toBe("< 0.01 %");
    expect(percentText(99.999)).toBe("> 99.99 %");
    expect(percentText(0)).toBe("0 %");
    expect(percentText(null)).toBe("—");
  });

  it("unexpected counts with their share; mostly as a percentage; none for aggregates", () => {
    const r = result("expect_column_values_to_be_between", false, {
      kwargs: { column: "a", mostly: 0.95 },
      result: { unexpected_count: 812, unexpected_percent: 16.24 },
    });
    expect(unexpectedText(r)).toBe("812 (16.2 %)");
    expect(mostlyText(r.kwargs)).toBe("mostly 95 %");
    expect(mostlyText({})).toBeNull();
    expect(
      unexpectedText(result("expect_column_mean_to_be_between", false, { result: { observed_value: 3 } })),
    ).toBeNull();
  });

  it("an expectation that was itself wrong gives its message; a plain failure none", () => {
    const wrong = result("expect_column_values_to_not_be_null", false, {
      exception_info: {
        raised_exception: true,
        exception_message: 'expectations[2] expect_column_values_to_not_be_null: no column "nope"',
        exception_traceback: null,
      },
    });
    expect(exceptionMessage(wrong)).toContain('no column "nope"');
    expect(exceptionMessage(result("expect_column_to_exist", false))).toBeNull();
  });
});

describe("the suite's summary and order", () => {
  const report = (meta: Partial<ValidationReport["meta"]>): ValidationReport => ({
    kind: "validation",
    success: false,
    statistics: {
      evaluated_expectations: 20,
      successful_expectations: 18,
      unsuccessful_expectations: 2,
      success_percent: 90,
    },
    results: [],
    meta: { expectation_suite_name: "s", rows: 5000, ...meta },
  });

  it("says how many passed and, with quarantine, how many rows were rejected", () => {
    expect(summaryText(report({ on_failure: "quarantine", rejected_rows: 812 }))).toBe(
      "18 of 20 expectations passed · 812 rows rejected",
    );
    expect(summaryText(report({ on_failure: "warn" }))).toBe("18 of 20 expectations passed");
    expect(summaryText(report({ on_failure: "quarantine", rejected_rows: 1 }))).toBe(
      "18 of 20 expectations passed · 1 row rejected",
    );
    const empty = report({});
    empty.statistics = {
      evaluated_expectations: 0,
      successful_expectations: 0,
      unsuccessful_expectations: 0,
      success_percent: null,
    };
    expect(summaryText(empty)).toBe("The suite has no expectations");
  });

  it("failed first, each group in suite order; the failed filter keeps only those", () => {
    const rs = [result("a", true), result("b", false), result("c", true), result("d", false)];
    expect(orderedResults(rs, "all").map((r) => r.index)).toEqual([1, 3, 0, 2]);
    expect(orderedResults(rs, "failed").map((r) => r.result.expectation_type)).toEqual(["b", "d"]);
  });
});

describe("suite files and inline suites", () => {
  it("a suite name becomes a safe file under expectations/", () => {
    expect(suitePath("penguins")).toBe("expectations/penguins.json");
    expect(suitePath("clean penguins/v2")).toBe("expectations/clean_penguins_v2.json");
    expect(suitePath("../../etc")).toBe("expectations/etc.json");
    expect(suitePath("  ")).toBe("expectations/suite.json");
  });

  it("an inline suite as typed: its shape, unknown types and missing required kwargs", () => {
    const types = [
      {
        type: "expect_column_values_to_not_be_null",
        scope: "row" as const,
        description: "",
        kwargs: [{ name: "column", required: true, description: "the column" }],
      },
    ];
    expect(inlineSuiteProblems([], types)[0]?.message).toMatch(/an object/);
    expect(inlineSuiteProblems({ expectations: [] }, types).map((p) => p.path)).toEqual([
      "expectation_suite_name",
    ]);
    const problems = inlineSuiteProblems(
      {
        expectation_suite_name: "s",
        expectations: [
          { expectation_type: "expect_column_values_to_not_be_null", kwargs: {} },
          { expectation_type: "expect_unicorns" },
          { kwargs: {} },
          { expectation_type: "expect_column_values_to_not_be_null", kwargs: { column: "a" } },
        ],
      },
      types,
    );
    expect(problems.map((p) => p.path)).toEqual([
      "expectations[0].kwargs.column",
      "expectations[1].expectation_type",
      "expectations[2]",
    ]);
    expect(problems[1]?.message).toContain("unknown expectation type expect_unicorns");
    // Without the list of types only the shape is checked.
    expect(
      inlineSuiteProblems({ expectation_suite_name: "s", expectations: [{ expectation_type: "x" }] }),
    ).toEqual([]);
  });
});
