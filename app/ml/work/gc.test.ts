import { describe, expect, it } from "vitest";
import { COLLECT_AFTER_BYTES, collectGarbage, exposeGc } from "./gc";

describe("collectGarbage", () => {
  it("collects an unreachable array at once, without --expose-gc on the command line", async () => {
    expect(exposeGc()).toBeTypeOf("function");
    let ref: WeakRef<Float64Array> | undefined;
    (() => {
      ref = new WeakRef(new Float64Array(1 << 20));
    })();
    expect(ref!.deref()).toBeInstanceOf(Float64Array);
    // A WeakRef's target lives to the end of the job that made or dereferenced it (ECMA-262 ClearKeptObjects).
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(collectGarbage()).toBe(true);
    expect(ref!.deref()).toBeUndefined();
  });

  it("with a threshold, collects only once the thread holds that much more than after its last collection", async () => {
    collectGarbage();
    let ref: WeakRef<Float64Array> | undefined;
    (() => {
      ref = new WeakRef(new Float64Array(1 << 18)); // 2 MiB, below COLLECT_AFTER_BYTES
    })();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(collectGarbage(COLLECT_AFTER_BYTES)).toBe(false);
    expect(ref!.deref()).toBeInstanceOf(Float64Array);
    await new Promise((resolve) => setTimeout(resolve, 0));
    // 16 MiB more of garbage: now over the threshold.
    let sum = 0;
    for (let i = 0; i < 16; i++) sum += new Float64Array(1 << 17).fill(1)[0]!;
    expect(sum).toBe(16);
    expect(collectGarbage(COLLECT_AFTER_BYTES)).toBe(true);
    expect(ref!.deref()).toBeUndefined();
  });

  it("keeps what is still reachable", async () => {
    const kept = new Float64Array(1024).fill(3);
    const ref = new WeakRef(kept);
    await new Promise((resolve) => setTimeout(resolve, 0));
    collectGarbage();
    expect(ref.deref()).toBe(kept);
    expect(kept[1023]).toBe(3);
  });
});
