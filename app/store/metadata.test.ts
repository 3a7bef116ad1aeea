import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTempStore, SqliteMetadataStore, type StartRunInput } from "./metadata";
import { MIGRATIONS } from "./schema";

const require = createRequire(import.meta.url);

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

describe("SqliteMetadataStore: opening", () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-meta-"));
    path = join(dir, "metadata.sqlite");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("marks runs left running by a dead process as interrupted when asked (and only then)", () => {
    const a = new SqliteMetadataStore(path, { projectDir: dir });
    a.startRun(run("r1"));
    a.close();
    const b = new SqliteMetadataStore(path, { projectDir: dir });
    expect(b.getRun("r1")?.status).toBe("running");
    b.markInterruptedRuns();
    const r = b.getRun("r1")!;
    expect(r.status).toBe("interrupted");
    expect(r.durationMs).toBeGreaterThan(0);
    b.close();
  });

  it("uses WAL and refuses a store written by a newer Dagwood, naming the file", () => {
    new SqliteMetadataStore(path, { projectDir: dir }).close();
    const db = new Database(path);
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.pragma("user_version", { simple: true })).toBe(MIGRATIONS.length);
    db.pragma("user_version = 99");
    db.close();
    expect(() => new SqliteMetadataStore(path, { projectDir: dir })).toThrow(
      /newer Dagwood.*Upgrade Dagwood/,
    );
    expect(() => new SqliteMetadataStore(path, { projectDir: dir })).toThrow(path);
    // Refusing did not touch it.
    const again = new Database(path);
    expect(again.pragma("user_version", { simple: true })).toBe(99);
    again.close();
  });

  it("refuses a file of random bytes with an error naming it and saying what to do", () => {
    const bytes = Buffer.alloc(8192);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919 + 13) % 251;
    writeFileSync(path, bytes);
    let error: Error | undefined;
    try {
      new SqliteMetadataStore(path, { projectDir: dir });
    } catch (e) {
      error = e as Error;
    }
    expect(error?.message).toContain(path);
    expect(error?.message).toMatch(/Move it aside/);
    expect(error?.message).toMatch(/workspace cache .* kept/);
    // It says what happens to the model files when a model is registered again.
    expect(error?.message).toMatch(/stays in the file you moved/);
    expect(error?.message).toMatch(
      /moved, untouched, to \.dagwood\/registry\/<model>\/\.orphan-<version>-<random>/,
    );
    expect(error?.message).not.toMatch(/^SQLITE_/);
    // The file is left as it was, for the user to keep or inspect.
    expect(readFileSync(path).equals(bytes)).toBe(true);
  });

  it("refuses a database whose header was truncated", () => {
    new SqliteMetadataStore(path, { projectDir: dir }).close();
    writeFileSync(path, readFileSync(path).subarray(0, 60));
    rmSync(`${path}-wal`, { force: true });
    rmSync(`${path}-shm`, { force: true });
    expect(() => new SqliteMetadataStore(path, { projectDir: dir })).toThrow(
      new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is damaged or not a SQLite database`),
    );
  });

  it("upgrades a database written before tracking (schema 2): runs, metrics and latest values carry over", () => {
    const old = new Database(path);
    old.exec(MIGRATIONS[0] as string);
    old.exec(MIGRATIONS[1] as string);
    old.pragma("user_version = 2");
    old
      .prepare(
        "INSERT INTO runs (id, pipeline, pipeline_path, status, params, environment, started_at, finished_at) VALUES (?, 'p', NULL, 'succeeded', '{}', '{}', ?, ?)",
      )
      .run("old", "2025-01-01T00:00:00.000Z", "2025-01-01T00:00:02.500Z");
    const m = old.prepare(
      "INSERT INTO metrics (run_id, node_id, name, value, step) VALUES ('old', ?, ?, ?, ?)",
    );
    m.run("train", "loss", 0.9, 1);
    m.run("train", "loss", 0.4, 2);
    m.run("train", "loss", 0.7, 0);
    m.run("eval", "accuracy", 0.8, null);
    old.close();

    const store = new SqliteMetadataStore(path, { projectDir: dir });
    expect(store.getRun("old")).toMatchObject({
      kind: "pipeline",
      durationMs: 2500,
      tags: {},
      pipelineHash: null,
    });
    expect(store.metrics("old")).toHaveLength(4);
    const page = store.searchRuns({ orderBy: { field: "metric", key: "train.loss" } });
    expect(page.runs[0]!.metrics).toEqual({ "train.loss": 0.4, "eval.accuracy": 0.8 });
    expect(page.metricKeys).toEqual(["eval.accuracy", "train.loss"]);
    // The carried-over points are packed for comparison too, curve sorted by step.
    expect(store.compareRuns(["old"]).curves).toEqual([
      {
        key: "train.loss",
        series: [
          {
            runId: "old",
            points: [
              [0, 0.7],
              [1, 0.9],
              [2, 0.4],
            ],
          },
        ],
      },
    ]);
    store.close();
  });

  it("loads the SQLite addon named by DAGWOOD_SQLITE_BINDING (Electron's build)", () => {
    const saved = process.env.DAGWOOD_SQLITE_BINDING;
    try {
      process.env.DAGWOOD_SQLITE_BINDING = join(dir, "missing.node");
      expect(() => new SqliteMetadataStore(path)).toThrow(/missing\.node/);
      process.env.DAGWOOD_SQLITE_BINDING = require.resolve(
        "better-sqlite3/build/Release/better_sqlite3.node",
      );
      new SqliteMetadataStore(path).close();
    } finally {
      if (saved === undefined) delete process.env.DAGWOOD_SQLITE_BINDING;
      else process.env.DAGWOOD_SQLITE_BINDING = saved;
    }
  });
});

describe("SqliteMetadataStore: tracking", () => {
  let store: SqliteMetadataStore;
  let cleanup: () => void;
  beforeEach(() => {
    ({ store, cleanup } = createTempStore());
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
    expect(() => store.startRun(run("r1"))).toThrow(/UNIQUE/);
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
    ).toThrow(/FOREIGN KEY/);
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
});
