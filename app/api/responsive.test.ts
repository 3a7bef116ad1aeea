/**
 * The engine stays responsive while it scores a big table: scoring runs in
 * worker threads (app/ml/work), so the Api answers during a 1M-row predict,
 * and a cancel stops it at once.
 *
 * This is the one test that asserts time, because responsiveness is what it
 * is about (issue 11: "while a 1M-row scoring job runs, an Api list call
 * answers within 50 ms, and cancel stops the job within 1 s"). Were scoring
 * on the event loop, a call would wait seconds (the whole scoring), far above
 * these bounds, so they separate the two cases even on a loaded machine: the
 * test takes many samples and allows a few slow ones to the scheduler (a
 * shared CI machine can stall any process for a moment), and prints what it
 * measured.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog } from "../../nodes/index";
import type { RunEvent } from "../engine/events";
import { closeWorkPool } from "../ml/work/pool";
import { createCoreApi } from "./core";

const ROWS = 1_000_000;

const document = {
  format: "dagwood.pipeline/1",
  name: "score-a-million",
  nodes: [
    { id: "rows", block: "ingest.file", params: { path: "data/rows.parquet" } },
    { id: "sample", block: "transform.sql", params: { query: "SELECT * FROM input WHERE id < 5000" } },
    {
      id: "model",
      block: "train.gbdt",
      params: { target: "y", features: ["x1", "x2", "x3", "c"], trees: 60 },
    },
    { id: "scores", block: "predict", params: {} },
  ],
  edges: [
    { from: "rows.out", to: "sample.in" },
    { from: "sample.out", to: "model.train" },
    { from: "model.model", to: "scores.model" },
    { from: "rows.out", to: "scores.data" },
  ],
};

describe("CPU-heavy blocks", () => {
  it("are the training, scoring, explaining and feature-selection blocks", () => {
    const heavy = [...catalog.values()].filter((b) => b.cpu).map((b) => b.kind);
    expect(heavy.sort()).toEqual(
      [
        "evaluate",
        "explain",
        "predict",
        "select.features",
        "train.forest",
        "train.gbdt",
        "train.linear",
        "train.logistic",
        "train.mlp",
        "train.tree",
      ].sort(),
    );
  });
});

describe("the Api while a 1M-row scoring job runs", { timeout: 240_000 }, () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-responsive-"));
    writeFileSync(join(dir, "dagwood.json"), JSON.stringify({ name: "responsive" }));
    mkdirSync(join(dir, "data"));
    const db = await DuckDBInstance.create(":memory:");
    const c = await db.connect();
    // x1, x2, x3 in [0, 1), a category, and a label that depends on x1 + x2.
    await c.run(`COPY (
      SELECT range AS id, hash(range) % 1000 / 1000.0 AS x1, hash(range + 1) % 997 / 997.0 AS x2,
             hash(range + 2) % 991 / 991.0 AS x3, ['a', 'b', 'c'][1 + (hash(range + 3) % 3)::INTEGER] AS c,
             CASE WHEN hash(range) % 1000 / 1000.0 + hash(range + 1) % 997 / 997.0 > 1 THEN 'yes' ELSE 'no' END AS y
      FROM range(${ROWS})) TO '${join(dir, "data", "rows.parquet").replaceAll("'", "''")}' (FORMAT parquet)`);
    c.closeSync();
    db.closeSync();
  });
  afterAll(async () => {
    await closeWorkPool();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers list calls within 50 ms, and cancel stops the job within 1 s", async () => {
    const api = await createCoreApi({ catalog, projectDir: dir });
    try {
      const events: RunEvent[] = [];
      api.onEvent((e) => events.push(e));
      const scoring = (runId: string) =>
        events.some(
          (e) =>
            e.type === "node.progress" &&
            e.runId === runId &&
            e.nodeId === "scores" &&
            /^Scored \d/.test(e.message ?? ""),
        );
      const writing = (runId: string) =>
        events.some(
          (e) =>
            e.type === "node.progress" &&
            e.runId === runId &&
            e.nodeId === "scores" &&
            e.message === "Writing the predictions",
        );
      const finished = (runId: string) => events.some((e) => e.type === "run.finished" && e.runId === runId);

      // 1. A whole run; list calls while the predict node scores.
      const { runId } = (await api.call("startRun", { document })) as { runId: string };
      while (!scoring(runId) && !finished(runId)) await new Promise((r) => setTimeout(r, 5));
      expect(finished(runId)).toBe(false);
      const lag = monitorEventLoopDelay({ resolution: 5 });
      lag.enable();
      // Each call is due every 20 ms; its latency counts from when it was due, so time the event
      // loop was held before it started (the timer fired late) counts too.
      const latencies: number[] = [];
      const scoringStarted = performance.now();
      let scoringMs = Number.POSITIVE_INFINITY;
      let due = performance.now();
      while (!finished(runId)) {
        await api.call("listRuns", {});
        await api.call("listBlocks", {});
        const now = performance.now();
        latencies.push(now - due);
        if (scoringMs === Number.POSITIVE_INFINITY && writing(runId)) scoringMs = now - scoringStarted;
        due = Math.max(due + 20, now);
        await new Promise((r) => setTimeout(r, due - performance.now()));
        // While the predict node runs: scoring, then writing the predictions.
        if (events.some((e) => e.type === "node.finished" && e.runId === runId && e.nodeId === "scores"))
          break;
      }
      lag.disable();
      while (!finished(runId)) await new Promise((r) => setTimeout(r, 20));
      const run = events.find((e) => e.type === "run.finished" && e.runId === runId);
      expect(run).toMatchObject({ status: "succeeded" });
      latencies.sort((a, b) => a - b);
      const p90 = latencies[Math.floor(latencies.length * 0.9)]!;
      const max = latencies.at(-1)!;
      console.log(
        `responsive: ${latencies.length} listRuns+listBlocks calls during 1M-row predict: median ${latencies[latencies.length >> 1]!.toFixed(1)} ms, p90 ${p90.toFixed(1)} ms, max ${max.toFixed(1)} ms; scoring took ${scoringMs.toFixed(0)} ms; event-loop lag max ${(lag.max / 1e6).toFixed(1)} ms, p99 ${(lag.percentile(99) / 1e6).toFixed(1)} ms`,
      );
      expect(latencies.length).toBeGreaterThanOrEqual(10);
      expect(p90).toBeLessThan(50);
      // Scoring on the event loop would hold one call for the whole scoring (one predictTable call);
      // in workers no call waits for more than a moment of it, however loaded the machine.
      expect(max).toBeLessThan(scoringMs / 4);

      // 2. Cancel while it scores (everything runs again: --no-cache).
      const second = (await api.call("startRun", { document, noCache: true })) as { runId: string };
      while (!scoring(second.runId) && !finished(second.runId)) await new Promise((r) => setTimeout(r, 5));
      expect(finished(second.runId)).toBe(false);
      const t0 = performance.now();
      expect(await api.call("cancelRun", { runId: second.runId })).toEqual({ canceled: true });
      const cancelMs = performance.now() - t0;
      console.log(`responsive: cancel during 1M-row scoring took ${cancelMs.toFixed(0)} ms`);
      expect(cancelMs).toBeLessThan(1000);
      expect(events.find((e) => e.type === "run.finished" && e.runId === second.runId)).toMatchObject({
        status: "canceled",
      });
      const node = events.find(
        (e) => e.type === "node.finished" && e.runId === second.runId && e.nodeId === "scores",
      );
      expect(node).toMatchObject({ status: "failed", error: 'Node "scores" (predict) failed: canceled' });
    } finally {
      await api.close();
    }
  });
});
