import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog } from "../../../nodes/index";
import { runPlan } from "../../engine/engine";
import { closeTempProject, openTempProject } from "../../engine/testing";
import { validatePipelineText } from "../../pipeline/validate";
import type { Project } from "../../project/project";
import { PENGUINS_CSV, penguinTreePipeline } from "../../tracking/testing";
import { DatasetDetail, DatasetSummary } from "../../values/datasets";
import { ApiError, parseApiArgs } from "../api";
import { API_METHODS, DATASET_METHODS } from "../api-methods";
import { createDatasetHandlers } from "./datasets";

/** dagwood.json as a plain object: its // comments dropped (the text keeps them). */
const validJsonc = (text: string) => JSON.parse(text.replace(/^\s*\/\/.*$/gm, ""));

const sha = (text: string) => createHash("sha256").update(text).digest("hex");

const V1 = "flight,carrier,dep_delay\n1,AA,5\n2,AA,12\n3,UA,\n4,UA,40\n";
// Two rows more, two of them late beyond the suite's range, and a flight number that is not a number.
const V2 = `${V1}X5,DL,500\nX6,DL,900\n`;

const SUITE = (max: number) =>
  JSON.stringify({
    expectation_suite_name: "flights",
    expectations: [
      {
        expectation_type: "expect_column_values_to_be_between",
        kwargs: { column: "dep_delay", min_value: 0, max_value: max },
      },
      { expectation_type: "expect_column_to_exist", kwargs: { column: "carrier" } },
    ],
  });

const DAGWOOD = `{
  // flights are tested on every read
  "name": "datasets-test",
  "datasets": {
    "flights": {
      "path": "data/*.csv",
      "suites": ["expectations/flights.json"],
      "owner": "ops-data"
    }
  }
}
`;

const PIPELINE = JSON.stringify({
  format: "dagwood.pipeline/1",
  name: "flights",
  nodes: [{ id: "read", block: "ingest.file", params: { path: "data/flights.csv" } }],
  edges: [],
});

/** The values of `column` above `max`, read from the CSV text itself (not through DuckDB). */
const lateBeyond = (csv: string, max: number) =>
  csv
    .trim()
    .split("\n")
    .slice(1)
    .map((line) => line.split(",")[2]!)
    .filter((v) => v !== "" && Number(v) > max)
    .map(Number);

describe("datasets: versions, schema changes and test history from real runs", () => {
  let project: Project;
  let dir: string;
  const handlers = () => createDatasetHandlers(() => project);
  const call = async <M extends (typeof DATASET_METHODS)[number]>(method: M, args: unknown) =>
    (handlers()[method] as (a: unknown) => Promise<unknown>)(parseApiArgs(method, args));

  const run = async (text = PIPELINE) => {
    const { plan, problems } = validatePipelineText(text, catalog);
    expect(problems).toEqual([]);
    return runPlan({ project, plan: plan!, pipelinePath: join(dir, "flights.dag.json") });
  };

  beforeAll(async () => {
    ({ dir, project } = await openTempProject("dagwood-datasets-", { "dagwood.json": DAGWOOD }));
    mkdirSync(join(dir, "data"));
    mkdirSync(join(dir, "expectations"));
    writeFileSync(join(dir, "expectations", "flights.json"), SUITE(100));
  });
  afterAll(() => closeTempProject(project));

  const runs: string[] = [];

  it("tests each read, records a cached read's test again, and warns per failed expectation", async () => {
    writeFileSync(join(dir, "data", "flights.csv"), V1);
    const first = await run();
    expect(first.status).toBe("succeeded");
    expect(first.nodes[0]).toMatchObject({ status: "ran" });
    expect(first.nodes[0]!.warnings ?? 0).toBe(0);
    const again = await run();
    expect(again.nodes[0]).toMatchObject({ status: "cached" });

    writeFileSync(join(dir, "data", "flights.csv"), V2);
    const broken = await run();
    expect(broken.status).toBe("succeeded");
    expect(broken.nodes[0]).toMatchObject({ status: "ran", warnings: 1 });
    const warnings = project.metadata
      .logs(broken.runId)
      .filter((l) => l.level === "warn")
      .map((l) => l.message);
    expect(warnings).toEqual([
      "suite expectations/flights.json: expect_column_values_to_be_between(dep_delay) failed: 2 of 5 non-null rows (40.00 %)",
    ]);
    runs.push(first.runId, again.runId, broken.runId);
  });

  it("lists two versions with their rows, the retyped column, and pass, pass, fail newest first", async () => {
    const detail = DatasetDetail.parse(await call("getDataset", { name: "flights" }));
    expect(detail).toMatchObject({
      name: "flights",
      path: "data/*.csv",
      configured: true,
      governance: { owner: "ops-data" },
      suites: ["expectations/flights.json"],
      versions: 2,
      rowsHistory: [4, 6],
      latest: { digest: sha(V2), rows: 6, source: "data/flights.csv" },
    });
    expect(detail.allVersions.map((v) => [v.digest, v.rows])).toEqual([
      [sha(V2), 6],
      [sha(V1), 4],
    ]);
    // The cached second run read V1 too.
    expect(detail.allVersions[1]!.runs.map((r) => r.runId).sort()).toEqual([runs[0], runs[1]].sort());
    expect(detail.allVersions[1]!.runs.every((r) => r.pipeline === "flights" && r.nodeId === "read")).toBe(
      true,
    );
    expect(detail.schemaChanges).toEqual([
      {
        from: sha(V1),
        to: sha(V2),
        added: [],
        removed: [],
        retyped: [{ name: "flight", from: "BIGINT", to: "VARCHAR" }],
      },
    ]);
    expect(detail.tests.map((t) => [t.runId, t.digest, t.success, t.evaluated, t.successful])).toEqual([
      [runs[2], sha(V2), false, 2, 1],
      [runs[1], sha(V1), true, 2, 2],
      [runs[0], sha(V1), true, 2, 2],
    ]);
    const [failed] = detail.tests[0]!.failed;
    expect(failed).toMatchObject({
      expectation_type: "expect_column_values_to_be_between",
      kwargs: { column: "dep_delay", min_value: 0, max_value: 100 },
      unexpected_count: 2,
      unexpected_percent: 40,
      exception_message: null,
    });
    expect([...failed!.partial_unexpected_list].map(Number).sort((a, b) => a - b)).toEqual(
      lateBeyond(V2, 100),
    );
    expect(detail.usedBy).toEqual({ pipelines: ["flights.dag.json"], models: [] });
    // Tagged personal, the column's unexpected values are masked in the history; the counts stay.
    await call("updateDataset", { name: "flights", columns: { dep_delay: { tags: ["sensitive"] } } });
    const tagged = DatasetDetail.parse(await call("getDataset", { name: "flights" }));
    expect(tagged.tests[0]!.failed[0]).toMatchObject({
      unexpected_count: 2,
      partial_unexpected_list: [null, null],
    });
    await call("updateDataset", { name: "flights", columns: { dep_delay: null } });

    const list = (await call("listDatasets", {})) as unknown[];
    const summaries = list.map((s) => DatasetSummary.parse(s));
    expect(summaries.map((s) => s.name)).toEqual(["flights"]);
    expect(summaries[0]!.lastTest).toMatchObject({ runId: runs[2], success: false });
  });

  it("runs the tests again when the suite changes, and passes with the loosened range", async () => {
    writeFileSync(join(dir, "expectations", "flights.json"), SUITE(1000));
    const summary = await run();
    expect(summary.nodes[0]).toMatchObject({ status: "ran" });
    expect(summary.nodes[0]!.warnings ?? 0).toBe(0);
    const detail = DatasetDetail.parse(await call("getDataset", { name: "flights" }));
    expect(detail.tests[0]).toMatchObject({ runId: summary.runId, success: true, digest: sha(V2) });
    expect(detail.versions).toBe(2);
  });

  it("fails the node when the entry says onFailure fail, and still records the failed test and the version read", async () => {
    writeFileSync(join(dir, "expectations", "flights.json"), SUITE(100));
    // A content not read before: the failed read is still a version of the dataset.
    const V3 = `${V2}X7,DL,50\n`;
    writeFileSync(join(dir, "data", "flights.csv"), V3);
    const updated = DatasetSummary.parse(await call("updateDataset", { name: "flights", onFailure: "fail" }));
    expect(updated.configured).toBe(true);
    expect(readFileSync(join(dir, "dagwood.json"), "utf8")).toContain("// flights are tested on every read");
    const summary = await run();
    expect(summary.status).toBe("failed");
    expect(summary.nodes[0]!.error).toMatch(
      /dataset "flights" \(dagwood\.json\) failed its suites, and its onFailure is "fail": suite expectations\/flights\.json: expect_column_values_to_be_between\(dep_delay\) failed: 2 of 6 non-null rows/,
    );
    const detail = DatasetDetail.parse(await call("getDataset", { name: "flights" }));
    expect(detail.tests[0]).toMatchObject({ runId: summary.runId, success: false, digest: sha(V3) });
    expect(detail.allVersions[0]).toMatchObject({ digest: sha(V3), rows: 7 });
    expect(detail.allVersions[0]!.runs.map((r) => r.runId)).toEqual([summary.runId]);
    writeFileSync(join(dir, "data", "flights.csv"), V2);
    await call("updateDataset", { name: "flights", onFailure: "warn" });
  });

  it("fails the node naming the entry and the suite when the suite is missing or not a suite", async () => {
    await call("updateDataset", { name: "flights", suites: ["expectations/missing.json"] });
    let summary = await run();
    expect(summary.status).toBe("failed");
    expect(summary.nodes[0]!.error).toMatch(
      /dataset "flights" \(dagwood\.json\) attaches the suite expectations\/missing\.json, which does not exist/,
    );
    writeFileSync(join(dir, "expectations", "broken.json"), "{ not json");
    await call("updateDataset", { name: "flights", suites: ["expectations/broken.json"] });
    summary = await run();
    expect(summary.status).toBe("failed");
    expect(summary.nodes[0]!.error).toMatch(
      /dataset "flights" \(dagwood\.json\) attaches the suite expectations\/broken\.json, which cannot be used/,
    );
    await call("updateDataset", { name: "flights", suites: ["expectations/flights.json"] });
  });

  it("warns on the node when the dataset is deprecated, naming the replacement", async () => {
    await call("updateDataset", {
      name: "flights",
      governance: { deprecated: { reason: "the feed moved", replacement: "flights_v2" } },
    });
    const summary = await run();
    const warnings = project.metadata
      .logs(summary.runId)
      .filter((l) => l.level === "warn")
      .map((l) => l.message);
    expect(warnings).toContain('Dataset "flights" is deprecated: the feed moved. Use flights_v2 instead.');
    const detail = DatasetDetail.parse(await call("getDataset", { name: "flights" }));
    expect(detail.governance.deprecated).toEqual({ reason: "the feed moved", replacement: "flights_v2" });
  });

  it("answers 404 for an unknown dataset and 400 for a bad update, leaving dagwood.json as it was", async () => {
    const statusOf = (p: Promise<unknown>) =>
      p.then(
        () => 200,
        (e) => (e instanceof ApiError ? e.status : `not an ApiError: ${e}`),
      );
    const err = (await call("getDataset", { name: "Flights" }).catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(404);
    expect(err.message).toMatch(/No dataset "Flights" in this project\. Did you mean "flights"\?/);
    const before = readFileSync(join(dir, "dagwood.json"), "utf8");
    expect(await statusOf(call("updateDataset", { name: "1st", path: "x.csv" }))).toBe(400);
    expect(await statusOf(call("updateDataset", { name: "flights", governance: { reviewBy: "soon" } }))).toBe(
      400,
    );
    expect(await statusOf(call("updateDataset", { name: "weather", governance: { owner: "x" } }))).toBe(400);
    expect(await statusOf(call("updateDataset", { name: "flights", onFailure: "quarantine" }))).toBe(400);
    expect(readFileSync(join(dir, "dagwood.json"), "utf8")).toBe(before);
  });

  it("creates an entry for a new name, listed after the others with no versions yet", async () => {
    const created = DatasetSummary.parse(
      await call("updateDataset", {
        name: "weather",
        path: "weather/*.csv",
        governance: { owner: "met", reviewBy: "2027-06-30" },
      }),
    );
    expect(created).toMatchObject({
      name: "weather",
      path: "weather/*.csv",
      configured: true,
      governance: { owner: "met", reviewBy: "2027-06-30" },
      suites: [],
      versions: 0,
      latest: null,
      lastTest: null,
    });
    const names = ((await call("listDatasets", {})) as DatasetSummary[]).map((d) => d.name);
    expect(names).toEqual(["flights", "weather"]);
    const cleared = DatasetSummary.parse(
      await call("updateDataset", { name: "weather", governance: { reviewBy: null } }),
    );
    expect(cleared.governance).toEqual({ owner: "met" });
  });

  it("tags a column and takes the tag off again (the app's undo), dagwood.json's comment kept", async () => {
    const tagsIn = () => {
      const text = readFileSync(join(dir, "dagwood.json"), "utf8");
      expect(text).toContain("// flights are tested on every read");
      return validJsonc(text).datasets.flights.columns as Record<string, { tags: string[] }> | undefined;
    };
    const tagged = DatasetSummary.parse(
      await call("updateDataset", { name: "flights", columns: { carrier: { tags: ["pii", "contact"] } } }),
    );
    expect(tagged.columnTags).toEqual({ carrier: ["pii", "contact"] });
    expect(tagsIn()).toEqual({ carrier: { tags: ["pii", "contact"] } });
    const detail = DatasetDetail.parse(await call("getDataset", { name: "flights" }));
    expect(detail.columnTags).toEqual({ carrier: ["pii", "contact"] });
    // A bad tag name is refused with the rule, nothing written.
    const refused = (await call("updateDataset", {
      name: "flights",
      columns: { carrier: { tags: ["PII"] } },
    }).catch((e: unknown) => e)) as ApiError;
    expect(refused.status).toBe(400);
    expect(refused.message).toMatch(/lower-case letters, digits, _ or -/);
    expect(tagsIn()).toEqual({ carrier: { tags: ["pii", "contact"] } });
    const undone = DatasetSummary.parse(
      await call("updateDataset", { name: "flights", columns: { carrier: null } }),
    );
    expect(undone.columnTags).toEqual({});
    expect(tagsIn()).toBeUndefined();
  });

  it("are listed among the Api's methods", () => {
    for (const m of DATASET_METHODS) expect(API_METHODS).toContain(m);
  });
});

describe("datasets: the model versions trained on a version", () => {
  let project: Project;
  let dir: string;

  beforeAll(async () => {
    ({ dir, project } = await openTempProject("dagwood-datasets-models-", {
      "dagwood.json": JSON.stringify({ datasets: { penguins: { path: "data/penguins.csv" } } }),
    }));
    mkdirSync(join(dir, "data"));
    writeFileSync(join(dir, "data", "penguins.csv"), readFileSync(PENGUINS_CSV));
  });
  afterAll(() => closeTempProject(project));

  it("come from the registry's lineage, for the version they were trained on", async () => {
    const text = JSON.stringify(penguinTreePipeline({ csvPath: "data/penguins.csv", testFraction: 0.25 }));
    const { plan } = validatePipelineText(text, catalog);
    const summary = await runPlan({ project, plan: plan!, pipelinePath: join(dir, "tree.dag.json") });
    expect(summary.status).toBe("succeeded");
    const handlers = createDatasetHandlers(() => project);
    const detail = DatasetDetail.parse(await handlers.getDataset({ name: "penguins" }));
    expect(detail.usedBy).toEqual({
      pipelines: ["tree.dag.json"],
      models: [{ name: "penguins", version: 1 }],
    });
    expect(detail.latest?.digest).toBe(sha(readFileSync(PENGUINS_CSV, "utf8")));
    // No suites attached: the version is recorded, with no tests.
    expect(detail.tests).toEqual([]);
    expect(detail.lastTest).toBeNull();
  });
});
