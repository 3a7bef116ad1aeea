import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runPlan } from "../app/engine/engine";
import type { TableValue } from "../app/engine/ports";
import { inferSchemas } from "../app/engine/schema";
import {
  closeTempProject,
  createTestProject,
  openTempProject,
  PENGUINS_CSV,
  penguinsTable,
  type TestProject,
} from "../app/engine/testing";
import { validatePipelineText } from "../app/pipeline/validate";
import type { ValidationReport } from "../app/values/expectations";
import { catalog } from "./index";
import block from "./validate-expectations";

/** A suite over the starter's penguins.csv (344 rows; 2 rows with no measurements, 10 with no sex, one with sex "."). */
const suite = (
  expectations: { expectation_type: string; kwargs: Record<string, unknown> }[],
  meta?: object,
) => ({
  expectation_suite_name: "penguins",
  expectations,
  ...(meta ? { meta } : {}),
});

const PASSING = suite([
  { expectation_type: "expect_table_row_count_to_be_between", kwargs: { min_value: 300, max_value: 400 } },
  { expectation_type: "expect_column_values_to_not_be_null", kwargs: { column: "species" } },
  {
    expectation_type: "expect_column_values_to_be_in_set",
    kwargs: { column: "island", value_set: ["Biscoe", "Dream", "Torgersen"] },
  },
  {
    expectation_type: "expect_column_values_to_be_between",
    kwargs: { column: "body_mass_g", min_value: 2500, max_value: 6500 },
  },
]);

/** Two row-level expectations that break: 10 rows with no sex; 52 Torgersen rows outside the set. */
const ROW_FAILURES = [
  { expectation_type: "expect_column_values_to_not_be_null", kwargs: { column: "sex" } },
  {
    expectation_type: "expect_column_values_to_be_in_set",
    kwargs: { column: "island", value_set: ["Biscoe", "Dream"] },
  },
  {
    expectation_type: "expect_column_values_to_be_between",
    kwargs: { column: "body_mass_g", min_value: 3000, max_value: 6000 },
  },
];

const reportOf = (out: Record<string, unknown>) => (out.report as { data: ValidationReport }).data;

describe("validate.expectations", () => {
  let p: TestProject;
  let penguins: TableValue;
  beforeEach(async () => {
    p = await createTestProject();
    penguins = await penguinsTable(p);
  });
  afterEach(() => p.close());

  it("passes the input through as it is when the suite passes, with an empty rejected table and the report", async () => {
    const out = await p.run(block, { in: penguins }, { suite: { inline: PASSING } });
    expect(out.out).toEqual(penguins); // the same table: no copy
    const rejected = out.rejected as TableValue;
    expect(rejected.rows).toBe(0);
    expect(rejected.columns.map((c) => c.name)).toEqual([
      ...penguins.columns.map((c) => c.name),
      "failed_expectation",
      "failure_reason",
    ]);
    const report = reportOf(out);
    expect(report).toMatchObject({
      kind: "validation",
      success: true,
      statistics: { evaluated_expectations: 4, successful_expectations: 4, unsuccessful_expectations: 0 },
      meta: { expectation_suite_name: "penguins", rows: 344, suite_source: "inline", on_failure: "fail" },
    });
    expect(Object.fromEntries(p.metrics.map((m) => [m.name, m.value]))).toEqual({
      expectations_evaluated: 4,
      expectations_failed: 0,
      success_percent: 100,
      rows_rejected: 0,
    });
    expect(p.logs.filter((l) => l.level === "warn")).toEqual([]);
  });

  it("fails by default, naming each failed expectation with its counts, and keeps the report beside the run", async () => {
    const run = p.run(
      block,
      { in: penguins },
      { suite: { inline: suite([...PASSING.expectations, ...ROW_FAILURES]) } },
    );
    await expect(run).rejects.toThrow(/3 of 7 expectations failed/);
    const message = await run.catch((e: Error) => e.message);
    expect(message).toContain("expect_column_values_to_not_be_null(sex): 10 of 344 rows unexpected");
    expect(message).toContain("expect_column_values_to_be_in_set(island): 52 of 344 rows unexpected");
    expect(message).toMatch(/The full report: \.dagwood\/artifacts\/test\/report\.json/);
    const kept = JSON.parse(
      readFileSync(join(p.dir, ".dagwood", "artifacts", "test", "report.json"), "utf8"),
    );
    expect(kept.statistics).toMatchObject({ evaluated_expectations: 7, unsuccessful_expectations: 3 });
    expect(p.metrics.find((m) => m.name === "expectations_failed")?.value).toBe(3);
  });

  it("keeps a personal column's values out of the run's log and error; the report keeps them", async () => {
    const tagged = {
      ...penguins,
      columns: penguins.columns.map((c) =>
        c.name === "island"
          ? { ...c, tags: [{ tag: "pii", origin: { dataset: "penguins", column: "island" }, via: [] }] }
          : c,
      ),
    };
    const out = await p.run(
      block,
      { in: tagged },
      { suite: { inline: suite(ROW_FAILURES) }, onFailure: "warn" },
    );
    const warnings = p.logs.filter((l) => l.level === "warn").map((l) => l.message);
    expect(warnings[1]).toMatch(/expect_column_values_to_be_in_set\(island\): 52 of 344 rows unexpected/);
    expect(warnings.join("\n")).not.toContain("Torgersen");
    expect(JSON.stringify(reportOf(out))).toContain("Torgersen");
    const failing = p.run(block, { in: tagged }, { suite: { inline: suite(ROW_FAILURES) } });
    const message = await failing.catch((e: Error) => e.message);
    expect(message).toContain("expect_column_values_to_be_in_set(island): 52 of 344 rows unexpected");
    expect(message).not.toContain("Torgersen");
  });

  it("warn: succeeds with one warning per failed expectation, and passes every row on", async () => {
    const out = await p.run(
      block,
      { in: penguins },
      { suite: { inline: suite(ROW_FAILURES) }, onFailure: "warn" },
    );
    expect(out.out).toEqual(penguins);
    const warnings = p.logs.filter((l) => l.level === "warn").map((l) => l.message);
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/expect_column_values_to_not_be_null\(sex\): 10 of 344 rows unexpected/);
    expect(warnings[1]).toMatch(
      /expect_column_values_to_be_in_set\(island\): 52 of 344 rows unexpected .*"Torgersen"/,
    );
    expect(reportOf(out)).toMatchObject({ success: false, meta: { on_failure: "warn" } });
  });

  it("quarantine: the rows breaking a row-level expectation go to rejected with the reason, as pandas counts them", async () => {
    const out = await p.run(
      block,
      { in: penguins },
      { suite: { inline: suite(ROW_FAILURES) }, onFailure: "quarantine" },
    );
    // Great Expectations' semantics in pandas: nulls break only the null expectation.
    const script = `
import json, sys, pandas as pd
d = pd.read_csv(sys.argv[1])
bad_sex = d.sex.isna()
bad_island = d.island.notna() & ~d.island.isin(["Biscoe", "Dream"])
bad_mass = d.body_mass_g.notna() & ~d.body_mass_g.between(3000, 6000)
bad = bad_sex | bad_island | bad_mass
print(json.dumps({"rejected": int(bad.sum()), "kept": int((~bad).sum()),
  "sex": int(bad_sex.sum()), "island": int(bad_island.sum()), "mass": int(bad_mass.sum())}))`;
    const expected = JSON.parse(
      execFileSync("/usr/bin/python3", ["-c", script, PENGUINS_CSV], { encoding: "utf8" }),
    );
    expect((out.rejected as TableValue).rows).toBe(expected.rejected);
    expect((out.out as TableValue).rows).toBe(expected.kept);
    const report = reportOf(out);
    expect(report.results.map((r) => r.result.unexpected_count)).toEqual([
      expected.sex,
      expected.island,
      expected.mass,
    ]);
    expect(report.meta.rejected_rows).toBe(expected.rejected);
    expect(p.metrics.find((m) => m.name === "rows_rejected")?.value).toBe(expected.rejected);
    const rejected = await p.rows(out.rejected);
    expect(
      rejected.every((r) => typeof r.failed_expectation === "string" && typeof r.failure_reason === "string"),
    ).toBe(true);
    expect(
      rejected.filter((r) => String(r.failed_expectation).includes("expect_column_values_to_not_be_null")),
    ).toHaveLength(expected.sex);
    // What is kept passes the suite.
    const kept = await p.run(block, { in: out.out }, { suite: { inline: suite(ROW_FAILURES) } });
    expect(reportOf(kept).success).toBe(true);
    expect(
      p.logs
        .filter((l) => l.level === "warn")
        .map((l) => l.message)
        .join("\n"),
    ).toMatch(new RegExp(`quarantined ${expected.rejected} of 344 rows`));
  });

  it("quarantine refuses an input that already has failed_expectation, before reading it, saying what to do", async () => {
    const has = await p.table("has_reason", `SELECT 1 AS a, 'mine' AS failed_expectation`);
    const passing = suite([
      { expectation_type: "expect_column_values_to_not_be_null", kwargs: { column: "a" } },
    ]);
    await expect(
      p.run(block, { in: has }, { suite: { inline: passing }, onFailure: "quarantine" }),
    ).rejects.toThrow(/already has a column "failed_expectation".*rename/i);
    const problems: { path: (string | number)[]; message: string }[] = [];
    const inferred = await block.outputSchema!(
      {
        problem: (path: (string | number)[], message: string) => problems.push({ path, message }),
        resolvePath: (x: string) => x,
      } as never,
      { in: has },
      block.params.parse({ suite: { inline: passing }, onFailure: "quarantine" }),
    );
    expect(inferred).toBeDefined();
    expect(problems.map((q) => q.path.join("."))).toEqual(["onFailure"]);
    // warn and fail do not add the columns to any row: the input is fine for them.
    const warned = await p.run(block, { in: has }, { suite: { inline: passing }, onFailure: "warn" });
    expect(reportOf(warned).success).toBe(true);
  });
  it("quarantine still fails on a table or aggregate expectation, which removing rows cannot fix", async () => {
    const failing = suite([
      ...ROW_FAILURES,
      { expectation_type: "expect_table_row_count_to_be_between", kwargs: { min_value: 1000 } },
    ]);
    await expect(
      p.run(block, { in: penguins }, { suite: { inline: failing }, onFailure: "quarantine" }),
    ).rejects.toThrow(
      /1 table or aggregate expectation failed, which quarantining rows cannot fix: expect_table_row_count_to_be_between: observed 344/,
    );
  });

  it("refuses a suite it cannot use before reading any data, naming the file and the expectation", async () => {
    const ghost: TableValue = { ...penguins, name: "no_such_table" };
    const run = (suiteParam: unknown) => p.run(block, { in: ghost }, { suite: suiteParam });
    mkdirSync(join(p.dir, "expectations"));
    await expect(run({ path: "expectations/missing.json" })).rejects.toThrow(
      /Suite file not found: expectations\/missing\.json.*dagwood expect suggest/,
    );
    writeFileSync(join(p.dir, "expectations", "broken.json"), '{ "expectation_suite_name": "x", ');
    await expect(run({ path: "expectations/broken.json" })).rejects.toThrow(
      /The suite expectations\/broken\.json cannot be used/,
    );
    writeFileSync(
      join(p.dir, "expectations", "typo.json"),
      JSON.stringify(
        suite([{ expectation_type: "expect_column_values_to_not_be_nul", kwargs: { column: "sex" } }]),
      ),
    );
    await expect(run({ path: "expectations/typo.json" })).rejects.toThrow(
      /The suite expectations\/typo\.json has 1 problem: expectations\[0\].*expect_column_values_to_not_be_null/,
    );
    await expect(
      run({ inline: suite([{ expectation_type: "expect_column_values_to_be_between", kwargs: {} }]) }),
    ).rejects.toThrow(
      /The inline suite has 2 problems: expectations\[0\] expect_column_values_to_be_between: is missing kwarg "column"/,
    );
    await expect(run({ path: "../outside.json" })).rejects.toThrow(/outside the project folder/);
    mkdirSync(join(p.dir, "expectations", "dir.json"));
    await expect(run({ path: "expectations/dir.json" })).rejects.toThrow(/is a folder, not a suite file/);
    await expect(run({ path: "expectations/x.yaml" })).rejects.toThrow(/ends with \.json/);
  });

  it("warns when the suite is deprecated, naming the replacement", async () => {
    const old = suite(PASSING.expectations, {
      dagwood: {
        owner: "data-team",
        deprecated: { reason: "island codes changed", replacement: "expectations/penguins-v2.json" },
      },
    });
    await p.run(block, { in: penguins }, { suite: { inline: old }, onFailure: "warn" });
    expect(p.logs.filter((l) => l.level === "warn").map((l) => l.message)).toEqual([
      'The inline suite "penguins" is deprecated (island codes changed); use expectations/penguins-v2.json instead.',
    ]);
  });

  it("keys the cache on the suite file's bytes", async () => {
    mkdirSync(join(p.dir, "expectations"));
    const file = join(p.dir, "expectations", "p.json");
    writeFileSync(file, JSON.stringify(PASSING));
    const params = { suite: { path: "expectations/p.json" } };
    const first = await p.fingerprint(block, params);
    expect(first).toMatch(/^[0-9a-f]{16,}$/);
    expect(await p.fingerprint(block, params)).toBe(first);
    writeFileSync(file, JSON.stringify(suite(ROW_FAILURES)));
    const second = await p.fingerprint(block, params);
    expect(second).not.toBe(first);
    writeFileSync(file, JSON.stringify(PASSING));
    expect(await p.fingerprint(block, params)).toBe(first);
    await expect(p.fingerprint(block, { suite: { path: "expectations/gone.json" } })).rejects.toThrow(
      /Suite file not found/,
    );
    expect(await p.fingerprint(block, { suite: { inline: PASSING } })).toBe("");
  });
});

describe("validate.expectations in a pipeline", () => {
  const pipeline = (onFailure: string) =>
    JSON.stringify({
      format: "dagwood.pipeline/1",
      name: "validated",
      params: {},
      nodes: [
        { id: "penguins", block: "ingest.file", params: { path: "data/penguins.csv" } },
        {
          id: "check",
          block: "validate.expectations",
          params: { suite: { path: "expectations/penguins.json" }, onFailure },
        },
        { id: "after", block: "shuffle", params: {} },
      ],
      edges: [
        { from: "penguins.out", to: "check.in" },
        { from: "check.out", to: "after.in" },
      ],
    });

  it("validation reports a suite that cannot be used before any run, at the param", async () => {
    const { dir, project } = await openTempProject("dagwood-validate-schema-");
    try {
      mkdirSync(join(dir, "data"));
      copyFileSync(PENGUINS_CSV, join(dir, "data", "penguins.csv"));
      const doc = JSON.parse(pipeline("fail"));
      doc.nodes.push({
        id: "inline",
        block: "validate.expectations",
        params: {
          suite: {
            inline: suite([{ expectation_type: "expect_column_mean_to_be_betwen", kwargs: { column: "x" } }]),
          },
        },
      });
      doc.edges.push({ from: "penguins.out", to: "inline.in" });
      const { plan } = validatePipelineText(JSON.stringify(doc), catalog);
      const { problems, schemas } = await inferSchemas({
        pipeline: plan!.pipeline,
        catalog,
        projectDir: dir,
        allowedDirs: project.allowedDirs,
      });
      expect(problems.map((q) => q.path)).toEqual([
        "$.nodes[1].params.suite.path",
        "$.nodes[3].params.suite.inline.expectations[0].expectation_type",
      ]);
      expect(problems[0]!.message).toMatch(/Suite file not found: expectations\/penguins\.json/);
      expect(problems[1]!.message).toMatch(/Did you mean "expect_column_mean_to_be_between"/);
      // The columns still flow through: out is the input, rejected adds the two reason columns.
      expect(schemas.check?.out?.columns).toEqual(schemas.penguins?.out?.columns);
      expect(schemas.check?.rejected?.columns.slice(-2).map((c) => c.name)).toEqual([
        "failed_expectation",
        "failure_reason",
      ]);
    } finally {
      closeTempProject(project);
    }
  });

  it("a failed suite fails the node and skips what follows; a fixed suite file re-runs the node", async () => {
    const { dir, project } = await openTempProject("dagwood-validate-");
    try {
      mkdirSync(join(dir, "data"));
      mkdirSync(join(dir, "expectations"));
      copyFileSync(PENGUINS_CSV, join(dir, "data", "penguins.csv"));
      writeFileSync(
        join(dir, "expectations", "penguins.json"),
        JSON.stringify(suite([...PASSING.expectations, ROW_FAILURES[0]!])),
      );
      const { plan, problems } = validatePipelineText(pipeline("fail"), catalog);
      expect(problems).toEqual([]);
      const failed = await runPlan({ project, plan: plan! });
      expect(failed.status).toBe("failed");
      const byId = Object.fromEntries(failed.nodes.map((n) => [n.id, n]));
      expect(byId.check).toMatchObject({ status: "failed" });
      expect(byId.check!.error).toMatch(
        /expect_column_values_to_not_be_null\(sex\): 10 of 344 rows unexpected/,
      );
      expect(byId.after).toMatchObject({ status: "skipped", reason: 'upstream node "check" did not finish' });
      expect(existsSync(join(dir, ".dagwood", "artifacts", failed.runId, "check", "report.json"))).toBe(true);

      writeFileSync(join(dir, "expectations", "penguins.json"), JSON.stringify(PASSING));
      const passed = await runPlan({ project, plan: plan! });
      expect(passed.status).toBe("succeeded");
      expect(Object.fromEntries(passed.nodes.map((n) => [n.id, n.status]))).toEqual({
        penguins: "cached",
        check: "ran",
        after: "ran",
      });
      const again = await runPlan({ project, plan: plan! });
      expect(again.nodes.find((n) => n.id === "check")?.status).toBe("cached");
    } finally {
      closeTempProject(project);
    }
  });
});
