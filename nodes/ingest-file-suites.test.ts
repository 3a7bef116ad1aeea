import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestProject, type TestProject } from "../app/engine/testing";
import { describeFailure } from "../app/project/dataset-suites";
import type { ExpectationResult } from "../app/values/expectations";
import ingestFile from "./ingest-file";

const result = (over: Partial<ExpectationResult>): ExpectationResult => ({
  expectation_type: "expect_column_values_to_not_be_null",
  kwargs: { column: "dep_delay" },
  success: false,
  result: {},
  expectation_config: {
    expectation_type: "expect_column_values_to_not_be_null",
    kwargs: { column: "dep_delay" },
  },
  exception_info: { raised_exception: false, exception_message: null, exception_traceback: null },
  ...over,
});

describe("describeFailure", () => {
  it("gives counts with thousands separators and the share, over all rows for the null expectations", () => {
    const r = result({
      result: {
        element_count: 3_000_000,
        missing_count: 812,
        unexpected_count: 812,
        unexpected_percent: 0.027,
      },
    });
    expect(describeFailure(r)).toBe(
      "expect_column_values_to_not_be_null(dep_delay) failed: 812 of 3,000,000 rows (0.03 %)",
    );
  });

  it("counts non-null rows for other row expectations, names column pairs, and marks tiny shares", () => {
    const r = result({
      expectation_type: "expect_column_pair_values_a_to_be_greater_than_b",
      kwargs: { column_A: "arr", column_B: "dep" },
      result: {
        element_count: 1_000_100,
        missing_count: 100,
        unexpected_count: 3,
        unexpected_percent: 0.0003,
      },
    });
    expect(describeFailure(r)).toBe(
      "expect_column_pair_values_a_to_be_greater_than_b(arr, dep) failed: 3 of 1,000,000 non-null rows (<0.01 %)",
    );
  });

  it("gives the observed value of an aggregate, and the reason when the expectation could not run", () => {
    expect(
      describeFailure(
        result({ expectation_type: "expect_column_mean_to_be_between", result: { observed_value: 12.5 } }),
      ),
    ).toBe("expect_column_mean_to_be_between(dep_delay) failed: observed 12.5");
    expect(
      describeFailure(
        result({
          expectation_type: "expect_column_values_to_match_regex",
          exception_info: {
            raised_exception: true,
            exception_message: 'column "dep_dealy" does not exist',
            exception_traceback: null,
          },
        }),
      ),
    ).toBe(
      'expect_column_values_to_match_regex(dep_delay) could not be evaluated: column "dep_dealy" does not exist',
    );
  });
});

describe("ingest.file with a dataset's suites (dagwood.json)", () => {
  let project: TestProject;
  const suite = (max: number) =>
    JSON.stringify({
      expectation_suite_name: "t",
      expectations: [
        {
          expectation_type: "expect_column_values_to_be_between",
          kwargs: { column: "x", min_value: 0, max_value: max },
        },
      ],
    });

  beforeEach(async () => {
    project = await createTestProject();
    writeFileSync(join(project.dir, "data", "t.csv"), "x\n1\n5\n9\n");
    mkdirSync(join(project.dir, "expectations"));
    writeFileSync(join(project.dir, "expectations", "t.json"), suite(5));
  });
  afterEach(() => project.close());

  const settings = (entry: Record<string, unknown>) =>
    writeFileSync(join(project.dir, "dagwood.json"), JSON.stringify({ datasets: { t: entry } }));

  it("reports each suite's result through ctx.dataTest, with the digest and source of ctx.dataset", async () => {
    settings({ path: "data/*.csv", suites: ["expectations/t.json"] });
    await project.run(ingestFile, {}, { path: "data/t.csv" });
    expect(project.dataTests).toHaveLength(1);
    const [test] = project.dataTests;
    expect(test).toMatchObject({ suite: "expectations/t.json", source: "data/t.csv" });
    expect(test!.digest).toBe(project.datasets[0]!.digest);
    expect(test!.report.success).toBe(false);
    expect(test!.report.results[0]!.result.partial_unexpected_list).toEqual([9]);
    expect(project.logs.filter((l) => l.level === "warn").map((l) => l.message)).toEqual([
      "suite expectations/t.json: expect_column_values_to_be_between(x) failed: 1 of 3 rows (33.33 %)",
    ]);
  });

  it("keys the cache on the suite's bytes and the entry, not on its owner", async () => {
    const plain = await project.fingerprint(ingestFile, { path: "data/t.csv" });
    settings({ path: "data/t.csv", suites: ["expectations/t.json"] });
    const withSuite = await project.fingerprint(ingestFile, { path: "data/t.csv" });
    expect(withSuite).not.toBe(plain);
    expect(withSuite!.startsWith(plain!)).toBe(true);
    settings({ path: "data/t.csv", suites: ["expectations/t.json"], owner: "someone else" });
    expect(await project.fingerprint(ingestFile, { path: "data/t.csv" })).toBe(withSuite);
    settings({ path: "data/t.csv", suites: ["expectations/t.json"], onFailure: "fail" });
    const failing = await project.fingerprint(ingestFile, { path: "data/t.csv" });
    expect(failing).not.toBe(withSuite);
    writeFileSync(join(project.dir, "expectations", "t.json"), suite(10));
    expect(await project.fingerprint(ingestFile, { path: "data/t.csv" })).not.toBe(failing);
  });

  it("refuses a suite outside the project in the cache key already, naming the entry", async () => {
    settings({ path: "data/t.csv", suites: ["../elsewhere/t.json"] });
    await expect(project.fingerprint(ingestFile, { path: "data/t.csv" })).rejects.toThrow(
      /dataset "t" \(dagwood\.json\) attaches the suite \.\.\/elsewhere\/t\.json: /,
    );
  });

  it("reads a file no entry names as before: no tests, no warnings", async () => {
    settings({ path: "data/other.csv", suites: ["expectations/t.json"] });
    await project.run(ingestFile, {}, { path: "data/t.csv" });
    expect(project.dataTests).toEqual([]);
    expect(project.logs.filter((l) => l.level === "warn")).toEqual([]);
  });
});
