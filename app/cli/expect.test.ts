import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { catalog } from "../../nodes/index";
import { createCoreApi } from "../api/core";
import { advertiseEngine } from "../api/engine-advert";
import { startHttpBridge } from "../api/http";
import { ROOT, startDagwood } from "./testing";

const PENGUINS = join(ROOT, "resources", "examples", "starter", "data", "penguins.csv");

const dagwood = (cwd: string, ...args: string[]) => startDagwood(args, { cwd }).done;

/** Great Expectations' semantics in pandas, an independent count: nulls are not unexpected for a range. */
function pandasCounts(): { massOutside: number; massNonNull: number; sexNull: number; flipperMean: number } {
  const script = `
import json, sys, pandas as pd
d = pd.read_csv(sys.argv[1])
m = d.body_mass_g.dropna()
print(json.dumps({"massOutside": int((~m.between(3000, 6000)).sum()), "massNonNull": int(m.size),
  "sexNull": int(d.sex.isna().sum()), "flipperMean": float(d.flipper_length_mm.mean())}))`;
  return JSON.parse(execFileSync("/usr/bin/python3", ["-c", script, PENGUINS], { encoding: "utf8" }));
}

const FAILING = {
  expectation_suite_name: "penguins-strict",
  expectations: [
    { expectation_type: "expect_table_row_count_to_be_between", kwargs: { min_value: 300, max_value: 400 } },
    {
      expectation_type: "expect_column_values_to_be_between",
      kwargs: { column: "body_mass_g", min_value: 3000, max_value: 6000 },
    },
    { expectation_type: "expect_column_values_to_not_be_null", kwargs: { column: "sex", mostly: 0.95 } },
    {
      expectation_type: "expect_column_mean_to_be_between",
      kwargs: { column: "flipper_length_mm", min_value: 210 },
    },
  ],
};

describe("dagwood expect", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-expect-"));
    writeFileSync(join(dir, "dagwood.json"), '{ "name": "expect-test" }\n');
    mkdirSync(join(dir, "data"));
    copyFileSync(PENGUINS, join(dir, "data", "penguins.csv"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("suggests a suite from a profile that the same data passes, and refuses to overwrite it without --force", async () => {
    const suggested = await dagwood(
      dir,
      "expect",
      "suggest",
      "data/penguins.csv",
      "--out",
      "expectations/penguins.json",
    );
    expect(suggested.stderr).toBe("");
    expect(suggested.code).toBe(0);
    expect(suggested.stdout).toMatch(
      /Wrote expectations\/penguins\.json: \d+ expectations from a profile of 344 rows \(margin 10 %\)/,
    );
    const text = readFileSync(join(dir, "expectations", "penguins.json"), "utf8");
    const suite = JSON.parse(text);
    expect(Object.keys(suite)[0]).toBe("expectation_suite_name");
    expect(suite.expectation_suite_name).toBe("penguins");
    expect(suite.expectations.map((e: { expectation_type: string }) => e.expectation_type)).toContain(
      "expect_table_columns_to_match_set",
    );

    const run = await dagwood(
      dir,
      "expect",
      "run",
      "expectations/penguins.json",
      "--data",
      "data/penguins.csv",
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^Suite penguins on data\/penguins\.csv: 344 rows/);
    expect(run.stdout).toMatch(/✓\s+expect_table_row_count_to_be_between\s+—\s+344/);
    expect(run.stdout).toMatch(
      new RegExp(
        `Passed: ${suite.expectations.length} of ${suite.expectations.length} expectations passed \\(100 %\\)`,
      ),
    );

    const again = await dagwood(
      dir,
      "expect",
      "suggest",
      "data/penguins.csv",
      "--out",
      "expectations/penguins.json",
      "--margin",
      "0.5",
    );
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/expectations\/penguins\.json already exists; pass --force/);
    expect(readFileSync(join(dir, "expectations", "penguins.json"), "utf8")).toBe(text);
    const forced = await dagwood(
      dir,
      ...[
        "expect",
        "suggest",
        "data/penguins.csv",
        "--out",
        "expectations/penguins.json",
        "--margin",
        "0.5",
        "--name",
        "wide",
        "--force",
      ],
    );
    expect(forced.code, forced.stderr).toBe(0);
    expect(
      JSON.parse(readFileSync(join(dir, "expectations", "penguins.json"), "utf8")).expectation_suite_name,
    ).toBe("wide");
  });

  it("prints each result and exits 1 on a failure, with counts as pandas computes them; --json and --junit", async () => {
    const expected = pandasCounts();
    writeFileSync(join(dir, "strict.json"), JSON.stringify(FAILING));
    const run = await dagwood(
      dir,
      "expect",
      "run",
      "strict.json",
      "--data",
      "data/penguins.csv",
      "--junit",
      "junit.xml",
    );
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toMatch(
      new RegExp(`✗\\s+expect_column_values_to_be_between\\s+body_mass_g\\s+${expected.massOutside} \\(`),
    );
    expect(run.stdout).toMatch(/✓\s+expect_column_values_to_not_be_null\s+sex\s+10 \(2\.907 %\)/);
    expect(run.stdout).toContain(
      `✗ expect_column_values_to_be_between(body_mass_g): ${expected.massOutside} of ${expected.massNonNull} rows unexpected`,
    );
    expect(run.stdout).toMatch(/Failed: 2 of 4 expectations passed \(50 %\)\./);

    const xml = readFileSync(join(dir, "junit.xml"), "utf8");
    expect(xml).toMatch(/<testsuite name="penguins-strict" tests="4" failures="2" skipped="0">/);
    expect(xml).toContain(
      '<testcase name="expect_column_values_to_not_be_null(sex)" classname="penguins-strict" time="0.000"/>',
    );
    expect(xml).toMatch(
      new RegExp(
        `<testcase name="expect_column_values_to_be_between\\(body_mass_g\\)"[^>]*>\\s*<failure message="${expected.massOutside} of ${expected.massNonNull} rows unexpected`,
      ),
    );

    const json = await dagwood(dir, "expect", "run", "strict.json", "--data", "data/penguins.csv", "--json");
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout);
    expect(report).toMatchObject({
      kind: "validation",
      success: false,
      statistics: {
        evaluated_expectations: 4,
        successful_expectations: 2,
        unsuccessful_expectations: 2,
        success_percent: 50,
      },
    });
    expect(report.results[1].result.unexpected_count).toBe(expected.massOutside);
    expect(report.results[3].result.observed_value).toBeCloseTo(expected.flipperMean, 9);
  });

  it("exits 2 with a message naming the problem for bad arguments and suites that cannot be used", async () => {
    const code = async (...args: string[]) => {
      const r = await dagwood(dir, "expect", ...args);
      return { code: r.code, stderr: r.stderr.split("\n")[0] ?? "" };
    };
    writeFileSync(join(dir, "good.json"), JSON.stringify(FAILING));
    writeFileSync(join(dir, "broken.json"), '{ "expectation_suite_name": "x",\n  "expectations": [ }');
    writeFileSync(
      join(dir, "typo.json"),
      JSON.stringify({
        expectation_suite_name: "x",
        expectations: [{ expectation_type: "expect_column_values_to_be_unqiue", kwargs: { column: "sex" } }],
      }),
    );
    expect(await code("run", "missing.json", "--data", "data/penguins.csv")).toEqual({
      code: 2,
      stderr: "Suite file not found: missing.json",
    });
    const broken = await code("run", "broken.json", "--data", "data/penguins.csv");
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/broken\.json.*not valid JSON.*line 2/);
    const typo = await dagwood(dir, "expect", "run", "typo.json", "--data", "data/penguins.csv");
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/expectations\[0\].*Did you mean "expect_column_values_to_be_unique"/);
    expect(await code("run", "good.json", "--data", "data/nothing.csv")).toEqual({
      code: 2,
      stderr: "Data file not found: data/nothing.csv",
    });
    expect((await code("run", "good.json")).stderr).toMatch(/needs --data/);
    expect(
      (await code("run", "good.json", "--data", "data/penguins.csv", "--junit", "no/such/dir/j.xml")).code,
    ).toBe(2);
    expect((await code("suggest", "data/penguins.csv")).stderr).toMatch(/needs --out/);
    expect((await code("suggest", "data/penguins.csv", "--out", "x.yaml")).stderr).toMatch(
      /ends with \.json/,
    );
    expect((await code("suggest", "data/penguins.csv", "--out", "x.json", "--margin", "-1")).stderr).toMatch(
      /--margin/,
    );
    expect((await code("frobnicate")).stderr).toMatch(/Unknown expect command "frobnicate"/);
    writeFileSync(join(dir, "data", "bad.parquet"), "species,island\nAdelie,Dream\n");
    expect(await code("run", "good.json", "--data", "data/bad.parquet")).toEqual({
      code: 2,
      stderr:
        'Could not read data/bad.parquet: it is not a Parquet file. Check the file, or set "format" to match it.',
    });
    expect(existsSync(join(dir, "x.json"))).toBe(false);
  });

  it("lists the expectation types", async () => {
    const list = await dagwood(dir, "expect", "list");
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(
      /expect_column_values_to_be_between\s+row\s+column \[min_value\] \[max_value\]/,
    );
    const json = JSON.parse((await dagwood(dir, "expect", "list", "--json")).stdout);
    expect(json.map((e: { type: string }) => e.type)).toContain(
      "expect_column_quantile_values_to_be_between",
    );
  });
});

describe("dagwood run --junit with validate.expectations", () => {
  let dir: string;
  const pipeline = (onFailure: string) => ({
    format: "dagwood.pipeline/1",
    name: "checked",
    params: {},
    nodes: [
      { id: "penguins", block: "ingest.file", params: { path: "data/penguins.csv" } },
      {
        id: "check",
        block: "validate.expectations",
        params: { suite: { path: "expectations/strict.json" }, onFailure },
      },
      { id: "after", block: "shuffle", params: {} },
    ],
    edges: [
      { from: "penguins.out", to: "check.in" },
      { from: "check.out", to: "after.in" },
    ],
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-expect-run-"));
    writeFileSync(join(dir, "dagwood.json"), '{ "name": "expect-run-test" }\n');
    mkdirSync(join(dir, "data"));
    mkdirSync(join(dir, "expectations"));
    copyFileSync(PENGUINS, join(dir, "data", "penguins.csv"));
    writeFileSync(join(dir, "expectations", "strict.json"), JSON.stringify(FAILING));
    writeFileSync(join(dir, "warn.dag.json"), JSON.stringify(pipeline("warn")));
    writeFileSync(join(dir, "fail.dag.json"), JSON.stringify(pipeline("fail")));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const normal = (xml: string) =>
    xml.replace(/(id|time)="[^"]*"/g, '$1="_"').replace(/\d{8}T\d{6}-[0-9a-f]{6}/g, "<run>");

  it("writes a test case per expectation besides the node cases, for a node that warned, was cached or failed", async () => {
    const { massOutside, massNonNull } = pandasCounts();
    const warned = await dagwood(dir, "run", "warn.dag.json", "--junit", "warn.xml");
    expect(warned.code, warned.stderr).toBe(0);
    const xml = readFileSync(join(dir, "warn.xml"), "utf8");
    expect(xml).toMatch(/<testsuite name="checked" id="[^"]+" tests="7" failures="2" skipped="0">/);
    expect(xml).toContain('<testcase name="check" classname="checked.validate.expectations"');
    expect(xml).toMatch(
      new RegExp(
        `<testcase name="expect_column_values_to_be_between\\(body_mass_g\\)" classname="checked.check" time="0.000">\\s*<failure message="${massOutside} of ${massNonNull} rows unexpected`,
      ),
    );
    expect(xml).toMatch(
      /<testcase name="expect_column_mean_to_be_between\(flipper_length_mm\)" classname="checked.check"[^>]*>\s*<failure message="observed 200\.9/,
    );

    const cached = await dagwood(dir, "run", "warn.dag.json", "--junit", "cached.xml");
    expect(cached.code).toBe(0);
    expect(normal(readFileSync(join(dir, "cached.xml"), "utf8"))).toBe(normal(xml));

    const failed = await dagwood(dir, "run", "fail.dag.json", "--junit", "fail.xml");
    expect(failed.code).toBe(1);
    const failXml = readFileSync(join(dir, "fail.xml"), "utf8");
    // The node fails, what follows is skipped, and its expectations are still there, one case each.
    expect(failXml).toMatch(/tests="7" failures="3" skipped="1"/);
    expect(failXml).toMatch(
      /<testcase name="check" classname="checked.validate.expectations"[^>]*>\s*<failure message="[^"]*Suite expectations\/strict.json: 2 of 4 expectations failed/,
    );
    expect(failXml).toContain('classname="checked.check"');
  });

  it("checks a workspace table of the project: a node's output", async () => {
    const run = await dagwood(dir, "run", "warn.dag.json", "--json");
    expect(run.code, run.stderr).toBe(0);
    const table = JSON.parse(run.stdout).nodes.find((n: { id: string }) => n.id === "penguins").outputs.out
      .table;
    const checked = await dagwood(
      dir,
      "expect",
      "run",
      "expectations/strict.json",
      "--data",
      table,
      "--json",
    );
    expect(checked.code, checked.stderr).toBe(1);
    expect(JSON.parse(checked.stdout).results[1].result.unexpected_count).toBe(pandasCounts().massOutside);
    const missing = await dagwood(
      dir,
      "expect",
      "run",
      "expectations/strict.json",
      "--data",
      "t_0123456789abcdef_out",
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/No table t_0123456789abcdef_out in the workspace of .*dagwood runs show/);
  });

  it("writes the same XML when the run happens in the app that has the project open", async () => {
    const alone = await dagwood(dir, "run", "fail.dag.json", "--junit", "alone.xml");
    expect(alone.code).toBe(1);
    const api = await createCoreApi({ catalog, projectDir: dir });
    const bridge = await startHttpBridge({ api, host: "127.0.0.1", port: 0 });
    const advertised = advertiseEngine(api, { host: "127.0.0.1", port: bridge.port, token: bridge.token });
    try {
      const attached = await dagwood(dir, "run", "fail.dag.json", "--junit", "attached.xml");
      expect(attached.stderr).toContain("Running in Dagwood");
      expect(attached.code).toBe(1);
      const a = readFileSync(join(dir, "alone.xml"), "utf8");
      expect(normal(readFileSync(join(dir, "attached.xml"), "utf8"))).toBe(normal(a));
      expect(a).toMatch(/classname="checked.check"/);
    } finally {
      advertised.stop();
      await bridge.close();
      await api.close();
    }
  });
});
