// predictInWorkers splits the rows over the pool; when one part fails, the
// others are told to stop (their work would be thrown away) and the caller
// gets the first failure, not the "canceled" it caused.
import { describe, expect, it, vi } from "vitest";
import type { ColumnTable } from "../dataset";

const seen: { start: number; signal: AbortSignal | undefined }[] = [];

vi.mock("./pool", () => ({
  workerCount: () => 2,
  runTask: (_task: string, input: { start: number }, opts: { signal?: AbortSignal }) => {
    seen.push({ start: input.start, signal: opts.signal });
    if (input.start === 0) return Promise.reject(new Error("part one failed: bad tree"));
    // The second part runs until it is told to stop.
    return new Promise((_, reject) => {
      opts.signal?.addEventListener("abort", () => reject(new Error("predictRows canceled")), { once: true });
    });
  },
}));

const { predictInWorkers } = await import("./score");

const rows = 40_000;
const table: ColumnTable = {
  rows,
  columns: [{ kind: "numeric", name: "x", type: "DOUBLE", values: new Float64Array(rows) }],
};
const model = {
  task: "regression",
  preprocess: { features: [{ name: "x" }] },
} as never;

describe("predictInWorkers", () => {
  it("stops the other parts when one fails and reports that failure", async () => {
    seen.length = 0;
    await expect(predictInWorkers(model, table)).rejects.toThrow("part one failed: bad tree");
    expect(seen.map((s) => s.start)).toEqual([0, 20_000]);
    expect(seen[1]!.signal?.aborted).toBe(true);
  });

  it("passes the caller's cancel to every part", async () => {
    seen.length = 0;
    const controller = new AbortController();
    const pending = predictInWorkers(model, table, { signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toThrow();
    expect(seen.every((s) => s.signal?.aborted)).toBe(true);
  });
});
