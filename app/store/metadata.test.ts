import { mkdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openRawSql, specOf } from "./fixtures/store-spec";
import { currentProcess } from "./liveness";
import {
  createTempStore,
  type DatasetTestRecord,
  SqliteMetadataStore,
  SqlMetadataStore,
  type StartRunInput,
} from "./metadata";
import type { Sql } from "./sql";
import { testingOnPostgres } from "./testing";

let seq = 0;
const run = (id: string, over: Partial<StartRunInput> = {}): StartRunInput => ({
  id,
  pipeline: "p",
  pipelinePath: "p.dag.json",
  pipelineHash: "h1",
  pipelineText: '{"format":"dagwood.pipeline/1"}\n',
  params: { seed: 1 },
  resolvedParams: {},
  // Distinct, increasing start times so "newest first" is well defined.
  startedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, seq++)).toISOString(),
  environment: { node: "v20" },
  user: "ana",
  ...over,
});

const nodeRun = (runId: string, nodeId: string, over: Record<string, unknown> = {}) => ({
  runId,
  nodeId,
  block: "split",
  blockVersion: 1,
  status: "ran" as const,
  reason: "first run",
  cacheKey: `k-${nodeId}`,
  paramsHash: "ph",
  inputsHash: "ih",
  ms: 12,
  error: null,
  outputs: { out: { rows: 3 } },
  inputs: {},
  ...over,
});

describe("SqliteMetadataStore: tracking", () => {
  let store: SqliteMetadataStore;
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => {
    ({ store, dir, cleanup } = createTempStore());
  });
  afterEach(() => cleanup());

  it("records a run with its pipeline, params, tags, node runs, metrics, logs and duration", () => {
    store.startRun(
      run("r1", {
        resolvedParams: { "split.testFraction": 0.25, "split.strategy": "stratified", "gbdt.hidden": [8, 4] },
        tags: { team: "a" },
      }),
    );
    store.recordNodeRun(
      nodeRun("r1", "gbdt", { inputs: { train: { node: "split", port: "train", fingerprint: "f1" } } }),
    );
    store.logMetrics([
      { runId: "r1", nodeId: "gbdt", name: "loss", value: 0.5, step: 1 },
      { runId: "r1", nodeId: "gbdt", name: "loss", value: 0.25, step: 2, ts: "2026-01-01T00:00:00.000Z" },
    ]);
    store.logMessage({ runId: "r1", nodeId: "gbdt", level: "warn", message: "hm" });
    store.updateEnvironment("r1", { tfjsBackend: "wasm" });
    store.updateEnvironment("r1", { gitDirty: true });
    store.finishRun("r1", "succeeded");

    const r = store.getRun("r1")!;
    expect(r).toMatchObject({
      status: "succeeded",
      params: { seed: 1 },
      error: null,
      user: "ana",
      pipelineHash: "h1",
      kind: "pipeline",
      parentRunId: null,
      tags: { team: "a" },
      environment: { node: "v20", tfjsBackend: "wasm", gitDirty: true },
    });
    expect(r.durationMs).toBeGreaterThan(0);
    expect(store.pipelineText("r1")).toBe('{"format":"dagwood.pipeline/1"}\n');
    expect(store.pipelineText("nope")).toBeNull();
    expect(store.resolvedParams("r1")).toEqual({
      "gbdt.hidden": [8, 4],
      "split.strategy": "stratified",
      "split.testFraction": 0.25,
    });
    expect(store.nodeRuns("r1")[0]).toMatchObject({
      nodeId: "gbdt",
      outputs: { out: { rows: 3 } },
      inputs: { train: { node: "split", port: "train", fingerprint: "f1" } },
    });
    const metrics = store.metrics("r1");
    expect(metrics.map((m) => [m.value, m.step])).toEqual([
      [0.5, 1],
      [0.25, 2],
    ]);
    expect(metrics[1]!.ts).toBe("2026-01-01T00:00:00.000Z");
    expect(metrics[0]!.ts).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(store.logs("r1")).toEqual([{ runId: "r1", nodeId: "gbdt", level: "warn", message: "hm" }]);
    expect(store.lastCompletedNodeRun("p", "gbdt")?.cacheKey).toBe("k-gbdt");
    expect(store.lastCompletedNodeRun("other", "gbdt")).toBeUndefined();
  });

  it("startRun is one transaction: a run whose tags cannot be written leaves nothing behind", () => {
    store.startRun(run("r1"));
    // A duplicate id fails after nothing else was written; a bad tag value fails after the run row.
    expect(() => store.startRun(run("r1"))).toThrow(/UNIQUE|duplicate key/);
    expect(() =>
      store.startRun(
        run("r2", { resolvedParams: { "a.x": 1 }, tags: { ok: "1", bad: null as unknown as string } }),
      ),
    ).toThrow();
    expect(store.getRun("r2")).toBeUndefined();
    expect(store.resolvedParams("r2")).toEqual({});
  });

  it("keeps NaN and ±Infinity metrics as such, and the latest value per metric", () => {
    store.startRun(run("r1"));
    store.logMetric({ runId: "r1", nodeId: "eval", name: "auc", value: Number.NaN, step: null });
    store.logMetric({ runId: "r1", nodeId: "eval", name: "ll", value: Number.POSITIVE_INFINITY, step: null });
    store.logMetric({
      runId: "r1",
      nodeId: "eval",
      name: "neg",
      value: Number.NEGATIVE_INFINITY,
      step: null,
    });
    expect(store.metrics("r1").map((m) => m.value)).toEqual([
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
    ]);
    const row = store.searchRuns({}).runs[0]!;
    expect(row.metrics["eval.auc"]).toBeNaN();
    expect(row.metrics["eval.ll"]).toBe(Number.POSITIVE_INFINITY);
    // A NaN never satisfies a comparison, and sorts after every number.
    expect(store.searchRuns({ where: [{ field: "metric", key: "eval.auc", op: ">", value: 0 }] }).total).toBe(
      0,
    );
    expect(store.searchRuns({ where: [{ field: "metric", key: "eval.auc", op: "<", value: 1 }] }).total).toBe(
      0,
    );
  });

  it("the latest metric is the highest step, then the later point; an older step does not replace it", () => {
    store.startRun(run("r1"));
    const log = (value: number, step: number | null) =>
      store.logMetric({ runId: "r1", nodeId: "t", name: "loss", value, step });
    log(0.9, 5);
    log(0.8, 3);
    log(0.1, null);
    expect(store.searchRuns({}).runs[0]!.metrics["t.loss"]).toBe(0.9);
    log(0.7, 5);
    expect(store.searchRuns({}).runs[0]!.metrics["t.loss"]).toBe(0.7);
    store.logMetrics([
      { runId: "r1", nodeId: "t", name: "loss", value: 0.6, step: 7 },
      { runId: "r1", nodeId: "t", name: "loss", value: 0.65, step: 6 },
    ]);
    expect(store.searchRuns({}).runs[0]!.metrics["t.loss"]).toBe(0.6);
  });

  it("a metric batch is one transaction: a bad point leaves none of the batch", () => {
    store.startRun(run("r1"));
    expect(() =>
      store.logMetrics([
        { runId: "r1", nodeId: "t", name: "a", value: 1, step: 1 },
        { runId: "missing-run", nodeId: "t", name: "a", value: 2, step: 2 },
      ]),
    ).toThrow(/FOREIGN KEY|foreign key/);
    expect(store.metrics("r1")).toEqual([]);
    expect(store.searchRuns({}).runs[0]!.metrics).toEqual({});
  });

  it("tags and notes: set, replace, remove; unknown run is a clear error", () => {
    store.startRun(run("r1", { tags: { a: "1", b: "2" } }));
    store.setTags("r1", { b: "3", c: "4" }, ["a"]);
    store.setNote("r1", "baseline with the new split");
    expect(store.getRun("r1")).toMatchObject({
      tags: { b: "3", c: "4" },
      note: "baseline with the new split",
    });
    store.setNote("r1", null);
    expect(store.getRun("r1")?.note).toBeNull();
    expect(() => store.setTags("nope", { a: "1" })).toThrow(/Run "nope" not found/);
    expect(() => store.setNote("nope", "x")).toThrow(/Run "nope" not found/);
    expect(() => store.finishRun("nope", "failed")).toThrow(/Run "nope" not found/);
    expect(() => store.updateEnvironment("nope", {})).toThrow(/Run "nope" not found/);
  });

  it("records tuning trials as child runs, kept out of run lists unless asked for", () => {
    store.startRun(run("parent", { resolvedParams: { "gbdt.trees": 100 } }));
    const t0 = store.recordTrial({
      parentRunId: "parent",
      nodeId: "gbdt",
      index: 0,
      params: { trees: 50, tree: { depth: 3 } },
      metrics: { cv_accuracy: 0.9, cv_accuracy_std: Number.NaN },
    });
    const t1 = store.recordTrial({
      parentRunId: "parent",
      nodeId: "gbdt",
      index: 1,
      params: { trees: 200 },
      metrics: { cv_accuracy: 0.95 },
    });
    expect(store.getRun(t0)).toMatchObject({
      kind: "trial",
      status: "succeeded",
      parentRunId: "parent",
      user: "ana",
    });
    expect(store.resolvedParams(t0)).toEqual({ "gbdt.trees": 50, "gbdt.tree.depth": 3 });
    expect(store.metrics(t0).find((m) => m.name === "cv_accuracy_std")?.value).toBeNaN();
    expect(store.listRuns().map((r) => r.id)).toEqual(["parent"]);
    expect(store.searchRuns({}).runs.map((r) => r.id)).toEqual(["parent"]);
    const trials = store.searchRuns({
      parentRunId: "parent",
      orderBy: { field: "metric", key: "gbdt.cv_accuracy", desc: true },
    });
    expect(trials.runs.map((r) => r.id)).toEqual([t1, t0]);
    expect(trials.total).toBe(2);
    expect(store.searchRuns({ includeChildren: true }).total).toBe(3);
    expect(() =>
      store.recordTrial({ parentRunId: "nope", nodeId: "g", index: 0, params: {}, metrics: {} }),
    ).toThrow(/Run "nope" not found/);
  });

  it("numbers trials per node: two tuned nodes in one run both have a trial 0", () => {
    store.startRun(run("two-tuned"));
    const trial = (nodeId: string, index: number) =>
      store.recordTrial({ parentRunId: "two-tuned", nodeId, index, params: { trees: index }, metrics: {} });
    const ids = [trial("gbdt", 0), trial("forest", 0), trial("gbdt", 1), trial("forest", 1)];
    expect(new Set(ids).size).toBe(4);
    expect(ids[0]).toBe("two-tuned-gbdt-trial-0");
    expect(store.resolvedParams(ids[1]!)).toEqual({ "forest.trees": 0 });
    // Characters a pipeline node id cannot hold are escaped, so "a.b" and "a_b" stay apart.
    const dotted = trial("a.b", 0);
    const underscored = trial("a_b", 0);
    expect(dotted).not.toBe(underscored);
    expect(dotted).toMatch(/^[A-Za-z0-9_~-]+$/);
    expect(store.searchRuns({ parentRunId: "two-tuned" }).total).toBe(6);
  });

  it("keeps what a node read from a database with the run's dataset link, and none for file reads", () => {
    store.startRun(run("r1"));
    const database = {
      connection: "warehouse",
      table: "public.orders",
      cursor: { column: "id", from: "1200", to: "1350" },
      rowsRead: 150,
    };
    store.recordDataset("r1", "orders", {
      digest: "a".repeat(64),
      source: "warehouse/public.orders",
      schema: [{ name: "id", type: "BIGINT" }],
      rows: 1350,
      fingerprint: "fp1",
      database,
    });
    store.recordDataset("r1", "file", {
      digest: "b".repeat(64),
      source: "data/penguins.csv",
      schema: [{ name: "species", type: "VARCHAR" }],
      rows: 344,
      fingerprint: "fp2",
    });
    const byNode = Object.fromEntries(store.datasets("r1").map((d) => [d.nodeId, d]));
    expect(byNode.orders!.database).toEqual(database);
    expect(byNode.file!.database).toBeUndefined();
    expect(store.upstreamDatasets("r1", "orders")[0]!.database).toEqual(database);
  });

  it("copies a cached node's metrics, dataset links and artifacts from the run that computed it", () => {
    const digest = "d".repeat(64);
    store.startRun(run("r1"));
    store.recordNodeRun(nodeRun("r1", "ingest", { cacheKey: "K1" }));
    store.recordDataset("r1", "ingest", {
      digest,
      source: "data/penguins.csv",
      schema: [{ name: "species", type: "VARCHAR" }],
      rows: 344,
      fingerprint: "fp",
    });
    store.recordNodeRun(nodeRun("r1", "train", { cacheKey: "K2" }));
    store.logMetrics([
      { runId: "r1", nodeId: "train", name: "loss", value: 0.5, step: 1 },
      { runId: "r1", nodeId: "train", name: "loss", value: Number.NaN, step: 2 },
    ]);
    store.recordArtifact({
      runId: "r1",
      nodeId: "train",
      name: "model/model.onnx",
      kind: "model.onnx",
      path: ".dagwood/artifacts/x/model.onnx",
      bytes: 10,
      sha256: "s",
    });
    store.recordChosenParams("r1", "train", { l2: 10 });
    store.finishRun("r1", "succeeded");

    store.startRun(run("r2"));
    store.recordNodeRun(nodeRun("r2", "ingest", { status: "cached", cacheKey: "K1" }));
    expect(store.copyFromProducer("K1", "r2", "ingest")).toEqual([]);
    const copied = store.copyFromProducer("K2", "r2", "fit");
    expect(copied.map((m) => [m.name, m.step])).toEqual([
      ["loss", 1],
      ["loss", 2],
    ]);
    expect(copied[1]!.value).toBeNaN();
    expect(store.metrics("r2").map((m) => `${m.nodeId}.${m.name}@${m.step}`)).toEqual([
      "fit.loss@1",
      "fit.loss@2",
    ]);
    expect(store.datasets("r2")).toMatchObject([
      { nodeId: "ingest", digest, rows: 344, source: "data/penguins.csv" },
    ]);
    expect(store.artifacts("r2")).toEqual([
      {
        runId: "r2",
        nodeId: "fit",
        name: "model/model.onnx",
        kind: "model.onnx",
        path: ".dagwood/artifacts/x/model.onnx",
        bytes: 10,
        sha256: "s",
      },
    ]);
    // The cached model's searched params come along, under this run's node id.
    expect(store.resolvedParams("r2")).toMatchObject({ "fit.l2": 10, "fit.search.chosen": ["l2"] });
    expect(store.metricsForCacheKey("K2")).toHaveLength(2);
    expect(store.copyFromProducer("no-such-key", "r2", "x")).toEqual([]);
  });

  it("walks node inputs upward to find the datasets a node was made from", () => {
    const ds = (digest: string, source: string) => ({
      digest,
      source,
      schema: [{ name: "x", type: "DOUBLE" }],
      rows: 1,
      fingerprint: `f-${digest}`,
    });
    const ref = (node: string) => ({ node, port: "out", fingerprint: null });
    store.startRun(run("r1"));
    store.recordNodeRun(nodeRun("r1", "a"));
    store.recordNodeRun(nodeRun("r1", "b"));
    store.recordNodeRun(nodeRun("r1", "other"));
    store.recordNodeRun(nodeRun("r1", "join", { inputs: { in: ref("a"), other: ref("b") } }));
    store.recordNodeRun(nodeRun("r1", "train", { inputs: { train: ref("join") } }));
    store.recordDataset("r1", "a", ds("1", "a.csv"));
    store.recordDataset("r1", "b", ds("2", "b.csv"));
    store.recordDataset("r1", "other", ds("3", "c.csv"));
    // Recording a digest again keeps the first record and does not duplicate the link.
    store.recordDataset("r1", "a", { ...ds("1", "elsewhere.csv"), rows: 99 });
    expect(store.upstreamDatasets("r1", "train").map((d) => d.source)).toEqual(["a.csv", "b.csv"]);
    expect(store.upstreamDatasets("r1", "b").map((d) => d.digest)).toEqual(["2"]);
    expect(store.upstreamDatasets("r1", "missing")).toEqual([]);
    expect(store.datasets("r1").map((d) => `${d.nodeId}:${d.source}:${d.rows}`)).toEqual([
      "a:a.csv:1",
      "b:b.csv:1",
      "other:c.csv:1",
    ]);
  });

  it("lists dataset versions by content and name, their reads, tests, and the model versions made from them", () => {
    const ds = (digest: string, source: string, firstSeen: string) => ({
      digest,
      source,
      schema: [{ name: "x", type: "DOUBLE" }],
      rows: 1,
      fingerprint: `f-${digest}`,
      firstSeen,
    });
    store.startRun(
      run("r1", { startedAt: "2026-02-01T00:00:00.000Z", resolvedParams: { "ingest.path": "a.csv" } }),
    );
    store.startRun(
      run("r2", { startedAt: "2026-02-02T00:00:00.000Z", resolvedParams: { "ingest.path": "renamed.csv" } }),
    );
    store.recordDataset("r1", "ingest", ds("d1", "a.csv", "2026-02-01T00:00:00.000Z"));
    // The same bytes under another name, and a second file.
    store.recordDataset("r2", "ingest", ds("d1", "renamed.csv", "2026-02-02T00:00:00.000Z"));
    store.recordDataset("r2", "other", ds("d2", "b.csv", "2026-02-02T00:00:01.000Z"));
    expect(
      store.datasetVersions().map((v) => [v.digest, v.source, v.firstSeen, v.lastSeen, v.runCount]),
    ).toEqual([
      ["d1", "a.csv", "2026-02-01T00:00:00.000Z", "2026-02-01T00:00:00.000Z", 1],
      ["d1", "renamed.csv", "2026-02-02T00:00:00.000Z", "2026-02-02T00:00:00.000Z", 1],
      ["d2", "b.csv", "2026-02-02T00:00:01.000Z", "2026-02-02T00:00:00.000Z", 1],
    ]);
    expect(store.datasetReads(["d1", "nope"]).map((r) => [r.runId, r.nodeId, r.source])).toEqual([
      ["r2", "ingest", "renamed.csv"],
      ["r1", "ingest", "a.csv"],
    ]);
    expect(store.datasetReads([])).toEqual([]);

    const report = { ok: true } as unknown as DatasetTestRecord["report"];
    const test = (runId: string, digest: string, source: string, suite: string, at: string, success = true) =>
      store.recordDatasetTest({
        runId,
        nodeId: "check",
        digest,
        source,
        suite,
        success,
        evaluated: 2,
        successful: success ? 2 : 1,
        at,
        report,
      });
    test("r1", "d1", "a.csv", "s.json", "2026-02-01T00:00:05.000Z");
    test("r2", "d1", "renamed.csv", "s.json", "2026-02-02T00:00:05.000Z", false);
    test("r2", "d9", "never-read.csv", "t.json", "2026-02-02T00:00:06.000Z");
    // A test run again for the same run, node and suite replaces the first.
    test("r1", "d1", "a.csv", "s.json", "2026-02-01T00:00:07.000Z", false);
    const tests = (digests: string[], opts?: { limit?: number; sources?: string[] }) =>
      store.datasetTests(digests, opts).map((t) => [t.runId, t.source, t.success, t.at]);
    expect(tests(["d1"])).toEqual([
      ["r2", "renamed.csv", false, "2026-02-02T00:00:05.000Z"],
      ["r1", "a.csv", false, "2026-02-01T00:00:07.000Z"],
    ]);
    expect(tests(["d1"], { limit: 1 })).toEqual([["r2", "renamed.csv", false, "2026-02-02T00:00:05.000Z"]]);
    expect(tests(["d1"], { sources: ["a.csv"] })).toEqual([
      ["r1", "a.csv", false, "2026-02-01T00:00:07.000Z"],
    ]);
    expect(tests(["d1"], { sources: [] })).toEqual([]);
    expect(tests(["d1"], { limit: 0 })).toEqual([]);
    expect(() => store.datasetTests(["d1"], { limit: -1 })).toThrow(
      /limit must be a whole number, 0 or more; got -1/,
    );
    expect(store.datasetTests([])).toEqual([]);
    expect(store.untrackedTestedDigests()).toEqual([{ digest: "d9", source: "never-read.csv" }]);

    // A model version registered by r1, whose lineage lists d1.
    const out = join(dir, "out");
    mkdirSync(out);
    writeFileSync(join(out, "model.json"), "{}");
    writeFileSync(join(out, "model.onnx"), "onnx");
    store.registry.registerVersion({
      name: "m",
      runId: "r1",
      nodeId: "train",
      modelFingerprint: "fp",
      estimator: "gbdt",
      task: "classification",
      signature: { inputs: [], outputs: [] },
      metrics: {},
      parity: { rows: 1, maxAbsDiff: 0, labelAgreement: 1 },
      files: { native: join(out, "model.json"), onnx: join(out, "model.onnx") },
      lineage: {
        run: {
          id: "r1",
          pipeline: "p",
          pipelinePath: null,
          pipelineHash: null,
          startedAt: "2026-02-01T00:00:00.000Z",
          user: null,
        },
        nodeId: "train",
        datasets: [{ digest: "d1", source: "a.csv", schema: [], rows: 1, fingerprint: "f-d1" }],
        params: {},
        environment: {},
      },
      actor: "ana",
    });
    expect(store.modelVersionsReading(["d1"])).toEqual([{ name: "m", version: 1 }]);
    expect(store.modelVersionsReading(["d1"], ["r1"])).toEqual([{ name: "m", version: 1 }]);
    expect(store.modelVersionsReading(["d1"], ["r2"])).toEqual([]);
    // r2 read d2, but no version was made from it.
    expect(store.modelVersionsReading(["d2"])).toEqual([]);
    expect(store.modelVersionsReading([])).toEqual([]);
  });

  it("recent cache keys count pipeline runs only, not their trials", () => {
    store.startRun(run("old"));
    store.recordNodeRun(nodeRun("old", "n", { cacheKey: "OLD" }));
    store.startRun(run("new"));
    store.recordNodeRun(nodeRun("new", "n", { cacheKey: "NEW" }));
    for (let i = 0; i < 5; i++) {
      store.recordTrial({ parentRunId: "new", nodeId: "n", index: i, params: {}, metrics: {} });
    }
    expect([...store.recentCacheKeys(2)].sort()).toEqual(["NEW", "OLD"]);
    expect([...store.recentCacheKeys(1)]).toEqual(["NEW"]);
  });

  it("joining a run: the first start records it, later joins leave its record, params and tags as they are", () => {
    store.startRun(
      run("wf", {
        join: true,
        params: { seed: 1 },
        resolvedParams: { "a.x": 1, "a.y": "one" },
        tags: { step: "a" },
      }),
    );
    store.recordNodeRun(nodeRun("wf", "a"));
    store.startRun(
      run("wf", {
        join: true,
        params: { seed: 2 },
        resolvedParams: { "b.x": 2 },
        tags: { step: "b" },
        user: "bo",
      }),
    );
    store.recordNodeRun(nodeRun("wf", "b"));
    expect(store.searchRuns({}).runs.map((r) => r.id)).toEqual(["wf"]);
    expect(store.getRun("wf")).toMatchObject({ params: { seed: 1 }, user: "ana", tags: { step: "a" } });
    expect(store.resolvedParams("wf")).toEqual({ "a.x": 1, "a.y": "one" });
    expect(store.nodeRuns("wf").map((n) => n.nodeId)).toEqual(["a", "b"]);
    // Without join a second start of the same id is still refused.
    expect(() => store.startRun(run("wf"))).toThrow(/UNIQUE|duplicate key/);
  });

  it("writes batches larger than one statement: params, tags, metrics and their latest values", () => {
    const resolvedParams = Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`n.p${i}`, i]));
    const tags = Object.fromEntries(Array.from({ length: 230 }, (_, i) => [`t${i}`, `v${i}`]));
    store.startRun(run("big", { resolvedParams, tags }));
    expect(store.resolvedParams("big")).toEqual(resolvedParams);
    expect(store.getRun("big")!.tags).toEqual(tags);
    store.setTags(
      "big",
      Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`t${i}`, `w${i}`])),
      Array.from({ length: 120 }, (_, i) => `t${i + 110}`),
    );
    const expectedTags: Record<string, string> = {};
    for (let i = 0; i < 150; i++) expectedTags[`t${i}`] = `w${i}`;
    for (let i = 110; i < 230; i++) if (i >= 150) delete expectedTags[`t${i}`];
    for (let i = 110; i < 150; i++) expectedTags[`t${i}`] = `w${i}`;
    expect(store.getRun("big")!.tags).toEqual(expectedTags);
    // 120 keys × 3 steps, in one batch, then one more step for some keys in a second one.
    const points = [];
    for (let step = 1; step <= 3; step++) {
      for (let k = 0; k < 120; k++)
        points.push({ runId: "big", nodeId: "m", name: `k${k}`, value: k * 10 + step, step });
    }
    store.logMetrics(points);
    store.logMetrics(
      Array.from({ length: 7 }, (_, k) => ({ runId: "big", nodeId: "m", name: `k${k}`, value: -k, step: 9 })),
    );
    expect(store.metrics("big")).toHaveLength(367);
    const latest = store.searchRuns({}).runs[0]!.metrics;
    expect(Object.keys(latest)).toHaveLength(120);
    expect(latest["m.k3"]).toBe(-3);
    expect(latest["m.k50"]).toBe(503);
    expect(store.searchRuns({}).metricKeys).toHaveLength(120);
    const curve = store.compareRuns(["big"]).curves.find((c) => c.key === "m.k3")!;
    expect(curve.series[0]!.points).toEqual([
      [1, 31],
      [2, 32],
      [3, 33],
      [9, -3],
    ]);
  });
});

describe("markInterruptedRuns on a shared (team) store", () => {
  let temp: ReturnType<typeof createTempStore>;
  let store: SqliteMetadataStore;
  beforeEach(() => {
    temp = createTempStore();
    // The PostgreSQL test store is shared already; the SQLite file is opened again as one.
    store = testingOnPostgres()
      ? temp.store
      : new SqliteMetadataStore(join(temp.dir, ".dagwood", "metadata.sqlite"), {
          projectDir: temp.dir,
          shared: true,
        });
  });
  afterEach(() => {
    if (store !== temp.store) store.close();
    temp.cleanup();
  });
  const sqlOf = (s: SqliteMetadataStore) => (s as unknown as { sql: Sql }).sql;
  const statusOf = (id: string) => sqlOf(store).value<string>("SELECT status FROM runs WHERE id = ?", id);

  it("settles only this host's runs whose process is gone; other hosts' and owner-less runs keep running", () => {
    for (const id of ["other-host", "dead-here", "alive-here", "no-owner"]) store.startRun(run(id));
    const sql = sqlOf(store);
    const setOwner = (id: string, owner: string | null) =>
      sql.run("UPDATE runs SET owner = ? WHERE id = ?", owner, id);
    setOwner(
      "other-host",
      JSON.stringify({ ...currentProcess(), host: `${hostname()}-elsewhere`, pid: 999_999_999 }),
    );
    setOwner("dead-here", JSON.stringify({ ...currentProcess(), pid: 999_999_999 }));
    setOwner("no-owner", null);
    store.markInterruptedRuns();
    expect(
      Object.fromEntries(
        ["other-host", "dead-here", "alive-here", "no-owner"].map((id) => [id, statusOf(id)]),
      ),
    ).toEqual({
      "other-host": "running",
      "dead-here": "interrupted",
      "alive-here": "running",
      "no-owner": "running",
    });
    const dead = store.getRun("dead-here")!;
    expect(dead.error).toMatch(/its process \(pid 999999999\) ended/);
    expect(dead.durationMs).toBeGreaterThan(0);
  });

  it("a store that is not shared still settles every running run (the workspace lock is ours)", () => {
    // The same database opened as a store that is not shared (on PostgreSQL too).
    const own = new SqlMetadataStore(openRawSql(specOf(temp)), { projectDir: temp.dir });
    try {
      own.startRun(run("elsewhere"));
      own.startRun(run("no-owner"));
      sqlOf(own).run(
        "UPDATE runs SET owner = ? WHERE id = 'elsewhere'",
        JSON.stringify({ host: `${hostname()}-elsewhere`, pid: 1 }),
      );
      sqlOf(own).run("UPDATE runs SET owner = NULL WHERE id = 'no-owner'");
      own.markInterruptedRuns();
      for (const id of ["elsewhere", "no-owner"]) {
        const r = own.getRun(id)!;
        expect(r.status).toBe("interrupted");
        expect(r.finishedAt).not.toBeNull();
        expect(r.durationMs).toBeGreaterThan(0);
      }
    } finally {
      own.close();
    }
  });
});
