import { describe, expect, it } from "vitest";
import { mulberry32 } from "./binning";
import { sharedTreePool, WorkerTreePool } from "./pool";
import { exactLeaf, predict, predictProba, predictRaw } from "./predict";
import { dataset, numeric } from "./testing";
import { modelFromJSON, type TreeEnsembleModel } from "./types";

/** One stump on x: x <= 0.5 → -1, else +1; NaN as missingGoesLeft says. */
function stump(missingGoesLeft: number): TreeEnsembleModel {
  return {
    format: "dagwood.trees/1",
    kind: "gbdt",
    task: "binary",
    numClasses: 2,
    numOutputs: 1,
    featureNames: ["x"],
    featureKinds: ["numeric"],
    baseScore: [0.25],
    aggregate: "sum",
    postTransform: "logistic",
    iterations: 1,
    trees: [
      {
        output: 0,
        feature: Int32Array.of(0, -1, -1),
        threshold: Float64Array.of(0.5, 0, 0),
        left: Int32Array.of(1, -1, -1),
        right: Int32Array.of(2, -1, -1),
        missingGoesLeft: Uint8Array.of(missingGoesLeft, 0, 0),
        leafValue: Float64Array.of(0, -1, 1),
        gain: Float64Array.of(1, 0, 0),
        cover: Float64Array.of(2, 1, 1),
      },
    ],
  };
}

describe("predict", () => {
  it("goes left on x <= threshold, and a NaN where missingGoesLeft says", () => {
    const data = dataset(numeric("x", [0.5, 0.50001, Number.NaN]));
    expect(Array.from(predictRaw(stump(1), data))).toEqual([-0.75, 1.25, -0.75]);
    expect(Array.from(predictRaw(stump(0), data))).toEqual([-0.75, 1.25, 1.25]);
  });

  it("applies the logistic to the sum plus base score; labels are the argmax, class 0 on a tie", () => {
    const model = stump(1);
    model.baseScore = [1];
    const data = dataset(numeric("x", [0, 1]));
    const p = 1 / (1 + Math.exp(-0));
    expect(Array.from(predictProba(model, data)).slice(0, 2)).toEqual([1 - p, p]);
    expect(Array.from(predict(model, data))).toEqual([0, 1]);
  });

  it("names a column the data lacks", () => {
    expect(() => predict(stump(0), dataset(numeric("y", [1])))).toThrow(/no column "x"/);
  });

  it("refuses a damaged model file", () => {
    expect(() => modelFromJSON({ format: "other" } as never)).toThrow(/Not a tree ensemble model/);
  });
});

describe("tree pool", () => {
  it("runs in worker threads by default (the kernel starts from its source text)", async () => {
    expect(await sharedTreePool()).toBeInstanceOf(WorkerTreePool);
  });
});

describe("exactLeaf", () => {
  it("puts leaf values on a 2^-32 grid, so their sums do not depend on the order", () => {
    const rand = mulberry32(5);
    const leaves = Array.from({ length: 500 }, () => exactLeaf((rand() - 0.5) * 3));
    for (const v of leaves) expect(Number.isInteger(v * 2 ** 32)).toBe(true);
    const forward = leaves.reduce((a, b) => a + b, 0);
    const backward = [...leaves].reverse().reduce((a, b) => a + b, 0);
    const pairwise = (xs: number[]): number =>
      xs.length <= 2
        ? xs.reduce((a, b) => a + b, 0)
        : pairwise(xs.slice(0, xs.length >> 1)) + pairwise(xs.slice(xs.length >> 1));
    expect(backward).toBe(forward);
    expect(pairwise(leaves)).toBe(forward);
    // Unrounded, the same values summed in other orders differ.
    const raw = Array.from({ length: 500 }, () => (rand() - 0.5) / 3);
    const orders = [
      raw.reduce((a, b) => a + b, 0),
      [...raw].reverse().reduce((a, b) => a + b, 0),
      pairwise(raw),
    ];
    expect(new Set(orders).size).toBeGreaterThan(1);
  });

  it("changes a value by at most 2^-33 and leaves large and non-finite-prone values alone", () => {
    expect(Math.abs(exactLeaf(0.1) - 0.1)).toBeLessThanOrEqual(2 ** -33);
    expect(exactLeaf(1e300)).toBe(1e300);
    expect(exactLeaf(-3e6 - 0.1)).toBe(-3e6 - 0.1);
    expect(exactLeaf(0.5)).toBe(0.5);
  });
});
