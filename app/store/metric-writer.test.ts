import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createTempStore, type MetricRecord, type SqliteMetadataStore } from "./metadata";
import { MetricWriter } from "./metric-writer";

const point = (step: number, over: Partial<MetricRecord> = {}): MetricRecord => ({
  runId: "r1",
  nodeId: "train",
  name: "loss",
  value: 1 / (step + 1),
  step,
  ...over,
});

describe("MetricWriter", () => {
  let store: SqliteMetadataStore;
  let cleanup: () => void;
  beforeEach(() => {
    ({ store, cleanup } = createTempStore());
    store.startRun({
      id: "r1",
      pipeline: "p",
      pipelinePath: null,
      pipelineHash: null,
      pipelineText: null,
      params: {},
      resolvedParams: {},
      startedAt: "2026-01-01T00:00:00.000Z",
      environment: {},
      user: null,
    });
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
    cleanup();
  });

  it("writes in the order added, one transaction per maxBuffered points, the rest on close", () => {
    const batches = vi.spyOn(store, "logMetrics");
    const writer = new MetricWriter(store, { intervalMs: 60_000, maxBuffered: 1000 });
    for (let step = 0; step < 999; step++) writer.add(point(step, { name: step % 2 ? "loss" : "acc" }));
    expect(store.metrics("r1")).toHaveLength(0);
    writer.add(point(999, { name: "loss" }));
    expect(store.metrics("r1")).toHaveLength(1000);
    for (let step = 1000; step < 2500; step++) writer.add(point(step, { name: step % 2 ? "loss" : "acc" }));
    writer.close();
    expect(batches.mock.calls.map(([batch]) => batch.length)).toEqual([1000, 1000, 500]);
    const written = store.metrics("r1");
    expect(written.map((m) => m.step)).toEqual(Array.from({ length: 2500 }, (_, i) => i));
    expect(written.filter((m) => m.name === "acc")).toHaveLength(1250);
    // The latest value follows the highest step, as with direct logging.
    expect(store.searchRuns({}).runs[0]!.metrics["train.loss"]).toBe(1 / 2500);
  });

  it("stamps each point when it is added, not when its batch is written", () => {
    vi.useFakeTimers({ now: Date.parse("2026-03-01T10:00:00.000Z") });
    const writer = new MetricWriter(store, { intervalMs: 50 });
    writer.add(point(0));
    vi.advanceTimersByTime(30);
    writer.add(point(1));
    writer.add(point(2, { ts: "2025-12-31T23:59:59.000Z" }));
    vi.advanceTimersByTime(1000);
    writer.flush();
    expect(store.metrics("r1").map((m) => m.ts)).toEqual([
      "2026-03-01T10:00:00.000Z",
      "2026-03-01T10:00:00.030Z",
      "2025-12-31T23:59:59.000Z",
    ]);
  });

  it("writes what waits when the interval passes, on an unref'd timer", () => {
    vi.useFakeTimers();
    const batches = vi.spyOn(store, "logMetrics");
    const writer = new MetricWriter(store);
    writer.add(point(0));
    writer.add(point(1));
    vi.advanceTimersByTime(49);
    expect(store.metrics("r1")).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(store.metrics("r1").map((m) => m.step)).toEqual([0, 1]);
    expect(batches).toHaveBeenCalledTimes(1);
    // Nothing waits, so no timer runs until the next point.
    vi.advanceTimersByTime(500);
    expect(batches).toHaveBeenCalledTimes(1);
    writer.add(point(2));
    vi.advanceTimersByTime(50);
    expect(batches).toHaveBeenCalledTimes(2);
    writer.close();
    expect(batches).toHaveBeenCalledTimes(2);
  });

  it("does not keep the process alive while points wait, and flushes on its real timer", async () => {
    const timers = vi.spyOn(globalThis, "setTimeout");
    const writer = new MetricWriter(store, { intervalMs: 5 });
    writer.add(point(0));
    const timer = timers.mock.results[0]!.value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);
    await new Promise((r) => setTimeout(r, 40));
    expect(store.metrics("r1")).toHaveLength(1);
    writer.close();
  });

  it("flushes on close, refuses points after it, and closing twice is harmless", () => {
    const writer = new MetricWriter(store, { intervalMs: 60_000 });
    writer.add(point(0));
    writer.add(point(1));
    writer.close();
    expect(store.metrics("r1")).toHaveLength(2);
    expect(() => writer.add(point(2))).toThrow(
      'Cannot log metric "train.loss" for run "r1": its metric writer is closed',
    );
    writer.close();
    expect(store.metrics("r1")).toHaveLength(2);
  });

  it("reports a write that failed on the timer at the next call, naming the run, without losing later points", () => {
    vi.useFakeTimers();
    const writer = new MetricWriter(store);
    writer.add(point(0, { runId: "ghost" }));
    // A throw inside the timer callback would end the process; it must not escape.
    expect(() => vi.advanceTimersByTime(50)).not.toThrow();
    expect(() => writer.add(point(1))).toThrow(
      /Writing 1 metric point\(s\) of run "ghost" failed, so they were not recorded/,
    );
    // The point added with the report is kept and written.
    writer.flush();
    expect(store.metrics("r1").map((m) => m.step)).toEqual([1]);
  });

  it("reports a failed flush directly", () => {
    const writer = new MetricWriter(store, { intervalMs: 60_000 });
    writer.add(point(0, { runId: "ghost" }));
    expect(() => writer.close()).toThrow(/run "ghost" failed/);
    expect(store.metrics("ghost")).toEqual([]);
  });

  it("refuses options that cannot work", () => {
    expect(() => new MetricWriter(store, { intervalMs: -1 })).toThrow(/intervalMs must be 0 or more.*got -1/);
    expect(() => new MetricWriter(store, { intervalMs: Number.NaN })).toThrow(/intervalMs/);
    expect(() => new MetricWriter(store, { maxBuffered: 0 })).toThrow(
      /maxBuffered must be .*1 or more; got 0/,
    );
    expect(() => new MetricWriter(store, { maxBuffered: 1.5 })).toThrow(/got 1.5/);
  });
});
