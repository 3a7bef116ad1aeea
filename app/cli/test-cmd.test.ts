/**
 * `dagwood test`: pipeline tests with fixtures, run through the engine's
 * normal run path in a stand-in for the project.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCiProject, PIPELINE, SMALL_ROWS, writeTest } from "../ci/testing";
import { ROOT, runDagwood } from "./testing";

let dir: string;
beforeAll(() => {
  dir = makeCiProject("dagwood-test-cmd-");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Each test writes its own files; they are removed after, so the folder holds only what a case names. */
function only(...files: string[]) {
  for (const f of readdirSync(join(dir, "tests")))
    if (f.endsWith(".test.json") && !files.includes(join(dir, "tests", f))) rmSync(join(dir, "tests", f));
}

/** `dagwood test` in this process, with --project and --json. */
async function test(...args: string[]) {
  const r = await runDagwood("test", "--project", dir, "--json", ...args);
  return { ...r, json: r.stdout ? JSON.parse(r.stdout) : undefined };
}

/** The rows of a CSV file, counted here (not by the engine). */
const csvRows = (file: string) => readFileSync(file, "utf8").trim().split("\n").length - 1;

describe("dagwood test", () => {
  it("runs the pipeline on the fixture instead of the full data, and leaves the project's state alone", async () => {
    const file = writeTest(dir, "fixture", {
      fixtures: { src: "tests/fixtures/small.csv" },
      assertions: [
        { node: "feat", rows: csvRows(join(dir, "tests/fixtures/small.csv")) },
        { node: "feat", columns: { exactly: ["x", "y", "cat", "label"] } },
        { node: "split", port: "test", rows: { min: 1, max: SMALL_ROWS - 1 } },
        { node: "eval", metric: "accuracy", min: 0, max: 1 },
      ],
    });
    only(file);
    const { code, json, stderr } = await test();
    expect(stderr).toContain("✓ tests/fixture.test.json (small.dag.json): 4 of 4 assertions passed");
    expect(code).toBe(0);
    const [result] = json.results;
    expect(result.status).toBe("passed");
    expect(result.assertions.map((a: { ok: boolean }) => a.ok)).toEqual([true, true, true, true]);
    expect(result.assertions[0].message).toBe(`${SMALL_ROWS} rows`);
    // Only what the assertions need ran: gate and register did not.
    expect(result.nodes.map((n: { id: string }) => n.id).sort()).toEqual([
      "eval",
      "feat",
      "split",
      "src",
      "tree",
    ]);
    expect(existsSync(join(dir, ".dagwood"))).toBe(false);
  });

  it("replaces a node that is not an ingest by its fixture, so the nodes above it never run", async () => {
    const file = writeTest(dir, "replace", {
      fixtures: {
        feat: "tests/fixtures/small.csv",
      },
      assertions: [{ node: "split", port: "train", rows: { min: 1, max: SMALL_ROWS } }],
    });
    only(file);
    const { code, json } = await test();
    expect(code).toBe(0);
    expect(json.results[0].nodes.map((n: { id: string }) => n.id).sort()).toEqual(["feat", "split"]);
  });

  it("takes one fixture per port for a node with several table outputs", async () => {
    writeFileSync(
      join(dir, "tests/fixtures/train.csv"),
      "x,y,cat,label\n0.1,0.2,a,low\n0.9,0.1,b,high\n0.8,0.5,a,high\n0.2,0.3,b,low\n",
    );
    const file = writeTest(dir, "ports", {
      fixtures: { split: { train: "tests/fixtures/train.csv", test: "tests/fixtures/small.csv" } },
      assertions: [
        { node: "split", port: "train", rows: 4 },
        { node: "eval", metric: "accuracy", min: 0 },
      ],
    });
    only(file);
    const { code, json, stderr } = await test();
    expect(stderr).not.toContain("✗");
    expect(code).toBe(0);
    expect(json.results[0].nodes.map((n: { id: string }) => n.id)).not.toContain("src");
  });

  it("fails an assertion with what it saw, exits 1, and writes one JUnit case per assertion", async () => {
    const file = writeTest(dir, "failing", {
      fixtures: { src: "tests/fixtures/small.csv" },
      params: { minAccuracy: 1.5 },
      nodeParams: { tree: { maxDepth: 2 } },
      assertions: [
        { node: "feat", rows: 5 },
        { node: "feat", columns: ["x", "colour"] },
        { node: "eval", metric: "acuracy", min: 0.5 },
        { node: "gate", fails: "1.5" },
      ],
    });
    only(file);
    const junit = join(dir, "junit.xml");
    const { code, json, stderr } = await test("--junit", junit);
    expect(code).toBe(1);
    const messages = json.results[0].assertions.map((a: { ok: boolean; message: string }) => [
      a.ok,
      a.message,
    ]);
    expect(messages[0]).toEqual([false, `${SMALL_ROWS} rows, expected 5`]);
    expect(messages[1]).toEqual([false, "missing colour (its columns: x, y, cat, label)"]);
    expect(messages[2][0]).toBe(false);
    expect(messages[2][1]).toMatch(/^eval recorded no metric "acuracy": did you mean "accuracy"\?/);
    // The gate failed, as the test says it must (threshold 1.5 from the test's params).
    expect(messages[3][0]).toBe(true);
    expect(stderr).toContain("✗ feat rows = 5: 24 rows, expected 5");
    const xml = readFileSync(junit, "utf8");
    expect(xml.match(/<testcase /g)).toHaveLength(4);
    expect(xml.match(/<failure /g)).toHaveLength(3);
    expect(xml).toContain('<testsuites name="dagwood" tests="4" failures="3" skipped="0"');
    expect(xml).toContain('name="feat rows = 5" classname="tests/failing.test.json"');
  });

  it("runs an expectation suite of the project on a node's table", async () => {
    writeFileSync(
      join(dir, "expectations", "small.json"),
      JSON.stringify({
        expectation_suite_name: "small",
        expectations: [
          {
            expectation_type: "expect_column_values_to_be_in_set",
            kwargs: { column: "label", value_set: ["high", "low"] },
          },
          {
            expectation_type: "expect_column_values_to_be_between",
            kwargs: { column: "x", min_value: 0, max_value: 0.5 },
          },
        ],
      }),
    );
    const file = writeTest(dir, "suite", {
      fixtures: { src: "tests/fixtures/small.csv" },
      assertions: [{ node: "feat", expect: "expectations/small.json" }],
    });
    only(file);
    const { code, json } = await test();
    expect(code).toBe(1);
    const [a] = json.results[0].assertions;
    expect(a.ok).toBe(false);
    expect(a.message).toMatch(/^1 of 2 expectations failed: expect_column_values_to_be_between\(x\)/);
  });

  it("names a node that does not exist, with its file and JSON path, and exits 2 without running", async () => {
    const file = writeTest(dir, "unknown", {
      fixtures: { sorce: "tests/fixtures/small.csv", src: "tests/fixtures/missing.csv" },
      nodeParams: { tree: { maxDepth: "deep" } },
      assertions: [
        { node: "evl", metric: "accuracy", min: 0 },
        { node: "tree", rows: 3 },
      ],
    });
    only(file);
    const { code, stderr, json } = await test();
    expect(code).toBe(2);
    expect(json.results).toEqual([]);
    const ids = PIPELINE.nodes.map((n) => n.id).join(", ");
    expect(stderr).toContain(
      `tests/unknown.test.json at $.fixtures.sorce: no node "sorce" in small.dag.json: did you mean "src"? (its nodes: ${ids})`,
    );
    expect(stderr).toContain(
      "tests/unknown.test.json at $.fixtures.src: fixture file not found: tests/fixtures/missing.csv (paths are relative to the project)",
    );
    // Every problem at once: the node's params, as the block's schema checks them, under the test's own path.
    expect(stderr).toMatch(/tests\/unknown\.test\.json at \$\.nodeParams\.tree\.maxDepth: .*number/);
    writeTest(dir, "unknown", {
      assertions: [
        { node: "evl", metric: "accuracy", min: 0 },
        { node: "tree", rows: 3 },
        { node: "split", rows: 3 },
      ],
    });
    const third = await test();
    expect(third.code).toBe(2);
    expect(third.stderr).toContain(
      `tests/unknown.test.json at $.assertions[0].node: no node "evl" in small.dag.json: did you mean "eval"? (its nodes: ${ids})`,
    );
    expect(third.stderr).toContain(
      'tests/unknown.test.json at $.assertions[1]: tree (train.tree) gives no table: rows, columns and expect check tables (check its "metric", or a node below it)',
    );
    expect(third.stderr).toContain(
      'tests/unknown.test.json at $.assertions[2]: split has the table outputs train and test: say which with "port"',
    );
  });

  it("refuses a fixture for a node whose model the pipeline uses, or a port it lacks", async () => {
    const file = writeTest(dir, "model", {
      fixtures: {
        tree: "tests/fixtures/small.csv",
        split: { train: "tests/fixtures/small.csv", valid: "tests/fixtures/small.csv" },
        src: { out: "tests/fixtures/small.csv" },
      },
      assertions: [{ node: "eval", metric: "accuracy", min: 0 }],
    });
    only(file);
    const { code, stderr } = await test();
    expect(code).toBe(2);
    expect(stderr).toContain(
      'tests/model.test.json at $.fixtures.tree: a fixture stands for a table, but tree (train.tree) also gives "model" (model), which the pipeline uses: put the fixture on a node above it',
    );
    expect(stderr).toContain(
      'tests/model.test.json at $.fixtures.split.valid: split (split) has no table output "valid" (its table outputs: train, test)',
    );
    expect(stderr).toContain(
      "tests/model.test.json at $.fixtures.split: the pipeline uses split.test: give a fixture for it too",
    );
    expect(stderr).toContain(
      'tests/model.test.json at $.fixtures.src: src is an ingest.file node with one output: its fixture is one file, e.g. "tests/fixtures/src.csv"',
    );
  });

  it("names a missing suite or pipeline file, each test file on its own, and runs none", async () => {
    const suite = writeTest(dir, "suite-missing", {
      assertions: [{ node: "feat", expect: "expectations/nope.json" }],
    });
    const pipeline = writeTest(dir, "pipeline-missing", {
      pipeline: "nope.dag.json",
      assertions: [{ node: "feat", rows: 1 }],
    });
    const outside = writeTest(dir, "pipeline-outside", {
      pipeline: "../elsewhere/other.dag.json",
      assertions: [{ node: "feat", rows: 1 }],
    });
    only(suite, pipeline, outside);
    const { code, stderr, json } = await test();
    expect(code).toBe(2);
    expect(json.invalid.map((i: { file: string }) => i.file)).toEqual([
      "tests/pipeline-missing.test.json",
      "tests/pipeline-outside.test.json",
      "tests/suite-missing.test.json",
    ]);
    expect(stderr).toContain(
      "tests/pipeline-outside.test.json at $.pipeline: the pipeline ../elsewhere/other.dag.json is outside the project: a test names one of the project's own pipelines",
    );
    expect(stderr).toContain(
      `tests/pipeline-missing.test.json at $.pipeline: pipeline file not found: nope.dag.json (relative to the project ${dir})`,
    );
    expect(stderr).toContain(
      "tests/suite-missing.test.json at $.assertions[0].expect: suite file not found: expectations/nope.json (paths are relative to the project)",
    );
  });

  it("refuses a test that would deploy", async () => {
    const pipeline = structuredClone(PIPELINE);
    pipeline.nodes.push({ id: "ship", block: "deploy", params: { target: "staging" } });
    pipeline.edges.push({ from: "register.version", to: "ship.version" });
    writeFileSync(join(dir, "deploying.dag.json"), JSON.stringify(pipeline));
    const file = writeTest(dir, "deploy", {
      pipeline: "deploying.dag.json",
      assertions: [{ node: "ship", fails: true }],
    });
    only(file);
    const { code, stderr } = await test();
    expect(code).toBe(2);
    expect(stderr).toContain(
      "tests/deploy.test.json at $.assertions[0]: checking ship would run ship (deploy), which pushes to a real target: a test asserts on the nodes above a deploy",
    );
  });

  it("says so when there are no tests, and exits 2", async () => {
    only();
    const { code, stderr } = await test();
    expect(code).toBe(2);
    expect(stderr).toBe(
      `No pipeline tests in ${join(dir, "tests")}: a test is a tests/<name>.test.json file naming a pipeline, its fixtures and assertions (dagwood test --help).\n`,
    );
  });

  it("passes the starter example's own tests, without writing into the example", async () => {
    const starter = resolve(ROOT, "resources/examples/starter");
    const before = existsSync(join(starter, ".dagwood"))
      ? readdirSync(join(starter, ".dagwood")).sort()
      : null;
    const r = await runDagwood("test", "--project", starter);
    expect(r.stderr).not.toContain("✗");
    expect(r.stdout).toMatch(/^2 of 2 tests passed in /);
    expect(r.code).toBe(0);
    expect(
      existsSync(join(starter, ".dagwood")) ? readdirSync(join(starter, ".dagwood")).sort() : null,
    ).toEqual(before);
  }, 60_000);
});
