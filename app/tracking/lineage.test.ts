/**
 * The lineage graph with the retraining loop in it, over a real temporary
 * store: a champion v1 served on "local", a monitor's breach recorded as a
 * loop record (as app/monitoring/loop.ts records it: createMonitorLoop, then
 * compare-and-set steps), the retraining run registering v2, and v2's canary
 * and promotion as deployment.* audit entries.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTempStore, type SqliteMetadataStore } from "../store/metadata";
import type { DatasetRecord, ModelLineage } from "../store/types";
import { TrackingError } from "./export";
import { type LineageGraphData, lineageGraph } from "./lineage";

const TRAIN_RUN = "20261201T100000-aaaaaa";
const RETRAIN_RUN = "20261203T120000-bbbbbb";
const FAILED_RUN = "20261204T120000-cccccc";
const ONNX_BYTES = Buffer.from([0x08, 0x08, 0x12, 0x02, 0xff, 0x00]);

const dataset = (name: string, digit: string): DatasetRecord => ({
  digest: digit.repeat(64),
  source: `data/${name}`,
  schema: [{ name: "bill_length_mm", type: "DOUBLE" }],
  rows: 300,
  fingerprint: `fp-${name}`,
});
const PENGUINS = dataset("penguins.csv", "a");
const FRESH = dataset("fresh.csv", "b");
const FRESH_FAILED = dataset("fresh-2.csv", "c");

/** The edges as "from → to" text, to compare as a set. */
const edgeText = (g: LineageGraphData) => g.edges.map((e) => `${e.from} → ${e.to}`).sort();

/** Whether `to` is reachable from `from` along the graph's edges (a breadth-first walk). */
function reaches(g: LineageGraphData, from: string, to: string): boolean {
  const seen = new Set([from]);
  const queue = [from];
  while (queue.length) {
    const at = queue.shift()!;
    if (at === to) return true;
    for (const e of g.edges)
      if (e.from === at && !seen.has(e.to)) {
        seen.add(e.to);
        queue.push(e.to);
      }
  }
  return false;
}

describe("lineage of the retraining loop", () => {
  let store: SqliteMetadataStore;
  let dir: string;
  let cleanup: () => void;

  const startRun = (id: string, pipeline: string, tags: Record<string, string> = {}) =>
    store.startRun({
      id,
      pipeline,
      pipelinePath: `${pipeline}.dag.json`,
      pipelineHash: "e".repeat(64),
      pipelineText: `{"format":"dagwood.pipeline/1","name":"${pipeline}"}`,
      params: {},
      resolvedParams: {},
      startedAt: "2026-12-01T10:00:00.000Z",
      environment: { node: "v22" },
      user: "ana",
      tags,
    });

  /** Registers a version trained by `runId` on `data` (the model files written into the run's artifacts). */
  const register = (
    runId: string,
    pipeline: string,
    data: DatasetRecord,
    alias?: string,
    featureService?: string,
  ) => {
    const folder = join(dir, ".dagwood", "artifacts", runId, "train");
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, "model.onnx"), ONNX_BYTES);
    writeFileSync(join(folder, "model.json"), JSON.stringify({ kind: "dagwood.model/1" }));
    const lineage: ModelLineage = {
      run: {
        id: runId,
        pipeline,
        pipelinePath: `${pipeline}.dag.json`,
        pipelineHash: "e".repeat(64),
        startedAt: "2026-12-01T10:00:00.000Z",
        user: "ana",
      },
      nodeId: "train",
      datasets: [data],
      params: {},
      environment: { node: "v22" },
    };
    return store.registry.registerVersion({
      name: "penguins",
      runId,
      nodeId: "train",
      modelFingerprint: `fp-${runId}`,
      estimator: "tree",
      task: "multiclass",
      signature: {
        inputs: [{ name: "bill_length_mm", dtype: "FP32", shape: [-1, 1] }],
        outputs: [{ name: "label", dtype: "BYTES", shape: [-1] }],
      },
      metrics: { accuracy: 0.91 },
      parity: { rows: 3, maxAbsDiff: 0, labelAgreement: 1 },
      files: { native: join(folder, "model.json"), onnx: join(folder, "model.onnx") },
      lineage,
      alias,
      actor: "ana",
      ...(featureService !== undefined ? { featureService } : {}),
    });
  };

  const audit = (
    action: Parameters<SqliteMetadataStore["registry"]["appendAudit"]>[0]["action"],
    version: number,
    details: Record<string, unknown>,
  ) => store.registry.appendAudit({ actor: "dagwood", action, model: "penguins", version, details });

  /** A breach of monitor "penguins-shift" on the window starting at `start`, as the monitor records it. */
  const alert = (start: string, action: "alert" | "retrain" = "retrain", champion: number | null = 1) => {
    const entry = audit("monitor.alert", champion ?? 1, {
      monitor: "penguins-shift",
      target: "local",
      window: start,
      reasons: ["drift: 3 of 4 columns drifted (share 0.75 ≥ 0.5)"],
    });
    const loop = store.createMonitorLoop({
      monitor: "penguins-shift",
      model: "penguins",
      target: "local",
      action,
      window: { start, end: new Date(Date.parse(start) + 3_600_000).toISOString() },
      reasons: ["drift: 3 of 4 columns drifted (share 0.75 ≥ 0.5)"],
      champion,
      message: "drift on penguins v1",
      auditId: entry.id,
    });
    if (!loop) throw new Error("the window already has a loop");
    return { loop, entry };
  };

  beforeEach(() => {
    ({ store, dir, cleanup } = createTempStore());
    startRun(TRAIN_RUN, "penguins");
    store.recordDataset(TRAIN_RUN, "load", PENGUINS);
    store.finishRun(TRAIN_RUN, "succeeded");
    register(TRAIN_RUN, "penguins", PENGUINS, "champion");
    audit("deployment.succeeded", 1, { target: "local", url: "http://127.0.0.1:8000" });
  });
  afterEach(() => cleanup());

  it("reads v1 → alert → retraining run → v2 → canary → promotion", () => {
    const { loop, entry } = alert("2026-12-03T11:00:00.000Z");
    startRun(RETRAIN_RUN, "penguins-retrain", {
      "dagwood.monitor": "penguins-shift",
      "dagwood.loop": String(loop.id),
      "dagwood.alert": String(entry.id),
    });
    store.recordDataset(RETRAIN_RUN, "fresh", FRESH);
    store.finishRun(RETRAIN_RUN, "succeeded");
    store.updateMonitorLoop(loop.id, { stage: "alerted" }, { stage: "retraining", runId: RETRAIN_RUN });
    register(RETRAIN_RUN, "penguins-retrain", FRESH);
    const gate = {
      metric: "accuracy",
      higherIsBetter: true,
      champion: 0.71,
      challenger: 0.93,
      margin: 0,
      rows: 40,
      passed: true,
    };
    store.updateMonitorLoop(loop.id, { stage: "retraining" }, { stage: "gating", challenger: 2, gate });
    audit("deployment.canary", 2, { target: "local", percent: 20, previous: 1 });
    store.updateMonitorLoop(loop.id, { stage: "gating" }, { stage: "canary" });
    audit("deployment.canaryEnded", 2, { target: "local", previous: 1, outcome: "promoted" });
    audit("deployment.succeeded", 2, { target: "local", previous: 1, operation: "promote" });
    store.updateMonitorLoop(
      loop.id,
      { stage: "canary" },
      { stage: "promoted", outcome: "promoted v2: accuracy 0.93 vs 0.71 on 40 labelled rows" },
    );

    const g = lineageGraph(store, { model: "penguins" });
    const alertId = `alert:${loop.id}`;
    const byId = new Map(g.nodes.map((n) => [n.id, n]));
    expect(g.nodes.map((n) => `${n.kind}:${n.label}`).sort()).toEqual([
      "alert:alert · penguins-shift",
      "dataset:fresh.csv",
      "dataset:penguins.csv",
      "deployment:canary 20% → local",
      "deployment:canary promoted → local",
      "deployment:succeeded → local",
      "deployment:succeeded → local",
      "modelVersion:penguins v1",
      "modelVersion:penguins v2",
      `run:penguins · ${TRAIN_RUN}`,
      `run:penguins-retrain · ${RETRAIN_RUN}`,
    ]);
    const deployments = g.nodes.filter((n) => n.kind === "deployment");
    const canary = deployments.find((n) => n.detail.action === "deployment.canary")!;
    const promoted = deployments.find((n) => n.detail.action === "deployment.canaryEnded")!;
    expect(edgeText(g)).toEqual(
      [
        `dataset:${PENGUINS.digest} → run:${TRAIN_RUN}`,
        `run:${TRAIN_RUN} → model:penguins:v1`,
        `model:penguins:v1 → ${deployments.find((n) => n.detail.version === 1)!.id}`,
        `model:penguins:v1 → ${alertId}`,
        `${alertId} → run:${RETRAIN_RUN}`,
        `dataset:${FRESH.digest} → run:${RETRAIN_RUN}`,
        `run:${RETRAIN_RUN} → model:penguins:v2`,
        `model:penguins:v2 → ${canary.id}`,
        `model:penguins:v2 → ${promoted.id}`,
        `model:penguins:v2 → ${deployments.find((n) => n.detail.operation === "promote")!.id}`,
      ].sort(),
    );
    expect(reaches(g, "model:penguins:v1", canary.id)).toBe(true);
    // The graph flows one way: v2 does not lead back to the alert.
    expect(reaches(g, "model:penguins:v2", alertId)).toBe(false);

    const a = byId.get(alertId)!;
    expect(a.detail).toMatchObject({
      loop: loop.id,
      monitor: "penguins-shift",
      model: "penguins",
      target: "local",
      onBreach: "retrain",
      window: { start: "2026-12-03T11:00:00.000Z", end: "2026-12-03T12:00:00.000Z" },
      reasons: ["drift: 3 of 4 columns drifted (share 0.75 ≥ 0.5)"],
      stage: "promoted",
      status: "closed",
      outcome: "promoted v2: accuracy 0.93 vs 0.71 on 40 labelled rows",
      champion: 1,
      challenger: 2,
      runId: RETRAIN_RUN,
      gate,
      auditId: entry.id,
    });
    // The retraining run is drawn once, from the version's lineage, with its status from the store.
    expect(g.nodes.filter((n) => n.id === `run:${RETRAIN_RUN}`)).toHaveLength(1);
    expect(byId.get(`run:${RETRAIN_RUN}`)!.detail.status).toBe("succeeded");
    expect(canary.detail).toMatchObject({ percent: 20, previous: 1, target: "local" });
  });

  it("draws a failed retraining run and the data it read, with no version after it", () => {
    const { loop } = alert("2026-12-04T11:00:00.000Z");
    startRun(FAILED_RUN, "penguins-retrain", { "dagwood.loop": String(loop.id) });
    store.recordDataset(FAILED_RUN, "fresh", FRESH_FAILED);
    store.finishRun(FAILED_RUN, "failed", "train: no rows");
    store.updateMonitorLoop(loop.id, { stage: "alerted" }, { stage: "retraining", runId: FAILED_RUN });
    store.updateMonitorLoop(
      loop.id,
      { stage: "retraining" },
      { stage: "failed", outcome: "the retraining run failed: train: no rows" },
    );
    const g = lineageGraph(store, { model: "penguins" });
    const alertId = `alert:${loop.id}`;
    const run = g.nodes.find((n) => n.id === `run:${FAILED_RUN}`)!;
    expect(run).toMatchObject({
      kind: "run",
      label: `penguins-retrain · ${FAILED_RUN}`,
      detail: { runId: FAILED_RUN, pipeline: "penguins-retrain", status: "failed", user: "ana" },
    });
    expect(g.edges).toContainEqual({ from: "model:penguins:v1", to: alertId });
    expect(g.edges).toContainEqual({ from: alertId, to: `run:${FAILED_RUN}` });
    expect(g.edges).toContainEqual({ from: `dataset:${FRESH_FAILED.digest}`, to: `run:${FAILED_RUN}` });
    expect(g.edges.filter((e) => e.from === `run:${FAILED_RUN}`)).toEqual([]);
    expect(g.nodes.find((n) => n.id === alertId)!.detail).toMatchObject({
      stage: "failed",
      status: "open",
      challenger: null,
      outcome: "the retraining run failed: train: no rows",
    });
  });

  it("draws an alert-only loop from its champion, and leaves out a run the store does not know", () => {
    const { loop: acked } = alert("2026-12-05T11:00:00.000Z", "alert");
    store.updateMonitorLoop(
      acked.id,
      { stage: "alerted" },
      { stage: "acknowledged", event: { message: "ack" } },
    );
    const { loop: gone } = alert("2026-12-05T12:00:00.000Z");
    store.updateMonitorLoop(
      gone.id,
      { stage: "alerted" },
      { stage: "retraining", runId: "20261205T120000-gone00" },
    );
    // A loop raised while no version held the alias: no version leads to it.
    const { loop: orphan } = alert("2026-12-05T13:00:00.000Z", "alert", null);

    const g = lineageGraph(store, { model: "penguins" });
    const alerts = g.nodes.filter((n) => n.kind === "alert");
    // Oldest loop first.
    expect(alerts.map((n) => n.id)).toEqual([`alert:${acked.id}`, `alert:${gone.id}`, `alert:${orphan.id}`]);
    expect(alerts[0]!.detail).toMatchObject({ onBreach: "alert", stage: "acknowledged", runId: null });
    expect(g.edges.filter((e) => e.from.startsWith("alert:"))).toEqual([]);
    expect(g.edges.filter((e) => e.to.startsWith("alert:")).map((e) => `${e.from} → ${e.to}`)).toEqual([
      `model:penguins:v1 → alert:${acked.id}`,
      `model:penguins:v1 → alert:${gone.id}`,
    ]);
    expect(g.nodes.some((n) => n.id === "run:20261205T120000-gone00")).toBe(false);
    // Every edge joins two nodes of the graph.
    const ids = new Set(g.nodes.map((n) => n.id));
    for (const e of g.edges) expect(ids.has(e.from) && ids.has(e.to)).toBe(true);
  });

  it("links a version registered with a feature service to that service, once however many versions use it", () => {
    // v1 (beforeEach) has no service; v2 and v3 share one.
    startRun(RETRAIN_RUN, "retrain");
    register(RETRAIN_RUN, "retrain", FRESH, undefined, "penguin_stats");
    startRun(FAILED_RUN, "retrain");
    register(FAILED_RUN, "retrain", FRESH_FAILED, undefined, "penguin_stats");
    const g = lineageGraph(store, { model: "penguins" });
    const services = g.nodes.filter((n) => n.kind === "featureService");
    expect(services).toEqual([
      {
        id: "feature-service:penguin_stats",
        kind: "featureService",
        label: "penguin_stats",
        detail: { service: "penguin_stats" },
      },
    ]);
    expect(edgeText(g).filter((e) => e.startsWith("feature-service:"))).toEqual([
      "feature-service:penguin_stats → model:penguins:v2",
      "feature-service:penguin_stats → model:penguins:v3",
    ]);
    expect(reaches(g, "feature-service:penguin_stats", "model:penguins:v1")).toBe(false);
  });

  it("keeps a model's alerts to its own graph; every model's graph has them all", () => {
    const { loop } = alert("2026-12-06T11:00:00.000Z", "alert");
    const other = store.createMonitorLoop({
      monitor: "weather-watch",
      model: "weather",
      target: "local",
      action: "alert",
      window: { start: "2026-12-06T11:00:00.000Z", end: "2026-12-06T12:00:00.000Z" },
      reasons: ["accuracy 0.61 fell below 0.80 − 0.05"],
      champion: 3,
      message: "performance",
      auditId: null,
    })!;
    expect(
      lineageGraph(store, { model: "penguins" })
        .nodes.filter((n) => n.kind === "alert")
        .map((n) => n.id),
    ).toEqual([`alert:${loop.id}`]);
    // "weather" is not registered: its loop is in no model's graph, and asking for it is an error.
    expect(lineageGraph(store).nodes.some((n) => n.id === `alert:${other.id}`)).toBe(false);
    expect(() => lineageGraph(store, { model: "weather" })).toThrow(TrackingError);
    expect(() => lineageGraph(store, { model: "weather" })).toThrow(/No registered model "weather"/);
  });
});
