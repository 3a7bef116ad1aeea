import { describe, expect, it } from "vitest";
import { sharedTreePool, WorkerTreePool } from "./pool";
import { predict, predictProba, predictRaw } from "./predict";
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
