/**
 * The loop records' store (app/store/loops.ts): one loop per breached window,
 * compare-and-set steps that a second process (a second store on the same
 * database) cannot take twice, and the queries the app lists alerts with.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openSpec, specOf } from "./fixtures/store-spec";
import { createTestStore } from "./testing";
import type { NewLoopInput } from "./types";

let temp: ReturnType<typeof createTestStore>;
beforeEach(() => {
  temp = createTestStore();
});
afterEach(() => temp.cleanup());

const input = (over: Partial<NewLoopInput> = {}): NewLoopInput => ({
  monitor: "drift",
  model: "m",
  target: "local",
  action: "retrain",
  window: { start: "2026-12-01T00:00:00.000Z", end: "2026-12-02T00:00:00.000Z" },
  reasons: ["dataset drift: 2 of 2 columns (100 %) ≥ 50 %"],
  champion: 3,
  message: "alert: dataset drift",
  auditId: 7,
  at: "2026-12-02T00:00:01.000Z",
  ...over,
});

describe("monitor loop records", () => {
  it("creates one loop per window of a monitor, open at stage alerted", () => {
    const loop = temp.store.createMonitorLoop(input())!;
    expect(loop).toMatchObject({
      kind: "monitor-loop",
      monitor: "drift",
      stage: "alerted",
      status: "open",
      champion: 3,
      runId: null,
      challenger: null,
      createdAt: "2026-12-02T00:00:01.000Z",
      history: [
        { at: "2026-12-02T00:00:01.000Z", stage: "alerted", message: "alert: dataset drift", auditId: 7 },
      ],
    });
    // The same window again (another process alerting at once): no second loop.
    expect(temp.store.createMonitorLoop(input())).toBeUndefined();
    // Another window, or another monitor on the same window: new loops.
    expect(
      temp.store.createMonitorLoop(input({ window: { start: "2026-12-02T00:00:00.000Z", end: "x" } }))?.id,
    ).toBe(loop.id + 1);
    expect(temp.store.createMonitorLoop(input({ monitor: "perf" }))?.id).toBe(loop.id + 2);
    expect(temp.store.monitorLoops().map((l) => l.id)).toEqual([loop.id + 2, loop.id + 1, loop.id]);
    expect(temp.store.monitorLoops({ monitor: "perf" }).map((l) => l.monitor)).toEqual(["perf"]);
    expect(temp.store.monitorLoops({ limit: 1 })).toHaveLength(1);
    expect(temp.store.monitorLoops({ model: "m", monitor: "drift" }).map((l) => l.id)).toEqual([
      loop.id + 1,
      loop.id,
    ]);
    expect(temp.store.monitorLoops({ model: "other" })).toEqual([]);
    expect(temp.store.monitorLoop(9999)).toBeUndefined();
    expect(temp.store.updateMonitorLoop(9999, { stage: "alerted" }, { stage: "retraining" })).toBeUndefined();
    expect(temp.store.monitorLoopClaim(9999)).toBeNull();
  });

  it("a step is a compare-and-set on the stage (and the claim): a second process cannot take it again", () => {
    const loop = temp.store.createMonitorLoop(input())!;
    const other = openSpec(specOf(temp), temp.dir);
    try {
      const first = temp.store.updateMonitorLoop(
        loop.id,
        { stage: "alerted" },
        { stage: "retraining", event: { message: "retraining" }, at: "2026-12-02T00:01:00.000Z" },
      );
      expect(first?.stage).toBe("retraining");
      // The other process read "alerted" before: its step is refused, nothing changes.
      expect(other.updateMonitorLoop(loop.id, { stage: "alerted" }, { stage: "retraining" })).toBeUndefined();
      expect(other.monitorLoop(loop.id)?.history.map((h) => h.message)).toEqual([
        "alert: dataset drift",
        "retraining",
      ]);

      // A claim: only the holder of the claim read before may change it.
      const claimed = other.updateMonitorLoop(loop.id, { stage: "retraining", claim: null }, { claim: "A" });
      expect(claimed).toBeDefined();
      expect(temp.store.monitorLoopClaim(loop.id)).toBe("A");
      expect(
        temp.store.updateMonitorLoop(loop.id, { stage: "retraining", claim: null }, { claim: "B" }),
      ).toBeUndefined();
      const done = temp.store.updateMonitorLoop(
        loop.id,
        { stage: "retraining", claim: "A" },
        {
          runId: "r1",
          challenger: 4,
          claim: null,
          stage: "kept",
          outcome: "champion kept",
          event: { message: "kept", auditId: 9 },
        },
      )!;
      expect(done).toMatchObject({
        stage: "kept",
        status: "closed",
        runId: "r1",
        challenger: 4,
        outcome: "champion kept",
      });
      expect(done.history.at(-1)).toMatchObject({ stage: "kept", message: "kept", auditId: 9 });
      expect(temp.store.monitorLoopClaim(loop.id)).toBeNull();
      expect(temp.store.monitorLoops({ status: "closed" }).map((l) => l.id)).toEqual([loop.id]);
      expect(temp.store.monitorLoops({ status: "open" })).toEqual([]);
      // A failed loop's alert stays open.
      const failed = temp.store.createMonitorLoop(input({ monitor: "x" }))!;
      expect(temp.store.updateMonitorLoop(failed.id, { stage: "alerted" }, { stage: "failed" })?.status).toBe(
        "open",
      );
    } finally {
      other.close();
    }
  });

  it("refuses a record the schema does not allow, changing nothing", () => {
    const loop = temp.store.createMonitorLoop(input())!;
    expect(() =>
      temp.store.updateMonitorLoop(loop.id, { stage: "alerted" }, { stage: "nonsense" as "kept" }),
    ).toThrow();
    expect(temp.store.monitorLoop(loop.id)?.stage).toBe("alerted");
  });
});
