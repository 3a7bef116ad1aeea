import { describe, expect, it } from "vitest";
import { mulberry32 } from "./binning";
import { fitTree } from "./cart";
import { fitForest } from "./forest";
import { predict, predictProba, predictRaw } from "./predict";
import { accuracy, categorical, dataset, numeric, penguins, take, trainTestRows } from "./testing";
import { modelFromJSON, modelToJSON } from "./types";

describe("fitTree (CART)", () => {
  it("puts a depth-1 stump between separable classes, with pure probability leaves", async () => {
    const data = dataset(numeric("x", [1, 2, 3, 4]));
    const model = await fitTree({ data, y: Float64Array.of(0, 0, 1, 1), task: "binary" }, { maxDepth: 1 });
    const tree = model.trees[0]!;
    expect(tree.output).toBe(-1);
    expect(Array.from(tree.feature)).toEqual([0, -1, -1]);
    expect(tree.threshold[0]).toBe(2.5);
    expect(Array.from(tree.leafValue)).toEqual([0, 0, 1, 0, 0, 1]);
    // Gini gain (weighted impurity decrease) of the perfect split: 4·0.5 − 0 = 2.
    expect(tree.gain[0]).toBeCloseTo(2, 12);
    expect(Array.from(tree.cover)).toEqual([4, 2, 2]);
    expect(Array.from(predictProba(model, data))).toEqual([1, 0, 1, 0, 0, 1, 0, 1]);
    expect(model.aggregate).toBe("average");
    expect(model.postTransform).toBe("none");
  });

  it("picks the variance-reducing threshold and leaf means for regression", async () => {
    // Best split is between 0.3 and 0.7 (means 1 and 10); its threshold is their midpoint (exact CART).
    const data = dataset(numeric("x", [0.1, 0.2, 0.3, 0.7, 0.8]), numeric("noise", [5, 1, 4, 2, 3]));
    const model = await fitTree(
      { data, y: Float64Array.of(1, 1, 1, 10, 10), task: "regression" },
      { maxDepth: 1 },
    );
    const tree = model.trees[0]!;
    expect(tree.feature[0]).toBe(0);
    expect(tree.threshold[0]).toBe(0.3 / 2 + 0.7 / 2);
    expect(tree.leafValue[1]).toBe(1);
    expect(tree.leafValue[2]).toBe(10);
    expect(Array.from(predict(model, data))).toEqual([1, 1, 1, 10, 10]);
  });

  it("splits ordinal category codes with code <= c + 0.5", async () => {
    const data = dataset(categorical("c", [0, 0, 1, 1, 2, 2]));
    const model = await fitTree(
      { data, y: Float64Array.of(0, 0, 0, 0, 1, 1), task: "binary" },
      { maxDepth: 1 },
    );
    expect(model.trees[0]!.threshold[0]).toBe(1.5);
  });

  it("learns where missing values go and predicts them there", async () => {
    // Missing x goes with the high x (label 1): the split must send NaN right.
    const data = dataset(numeric("x", [1, 2, 3, 4, Number.NaN, Number.NaN]));
    const model = await fitTree(
      { data, y: Float64Array.of(0, 0, 1, 1, 1, 1), task: "binary" },
      { maxDepth: 1 },
    );
    const tree = model.trees[0]!;
    expect(tree.threshold[0]).toBe(2.5);
    expect(tree.missingGoesLeft[0]).toBe(0);
    expect(Array.from(predict(model, dataset(numeric("x", [Number.NaN, 0, 9]))))).toEqual([1, 0, 1]);
    // And to the left when missing goes with the low values.
    const flipped = await fitTree(
      { data, y: Float64Array.of(1, 1, 0, 0, 1, 1), task: "binary" },
      { maxDepth: 1 },
    );
    expect(flipped.trees[0]!.missingGoesLeft[0]).toBe(1);
    expect(predict(flipped, dataset(numeric("x", [Number.NaN])))[0]).toBe(1);
  });

  it("reaches high accuracy on penguins", async () => {
    const p = penguins();
    const { train, test } = trainTestRows(p.data.rows, 0.25, 7);
    const tr = take(p.data, p.y, train);
    const te = take(p.data, p.y, test);
    const model = await fitTree(
      { data: tr.data, y: tr.y, task: "multiclass", numClasses: 3 },
      { maxDepth: 5 },
    );
    expect(accuracy(predict(model, te.data), te.y)).toBeGreaterThan(0.9);
  });
});

describe("fitForest", () => {
  it("averages bootstrapped trees into class probabilities; ≥ 0.95 on penguins", async () => {
    const p = penguins();
    const { train, test } = trainTestRows(p.data.rows, 0.25, 7);
    const tr = take(p.data, p.y, train);
    const te = take(p.data, p.y, test);
    const model = await fitForest(
      { data: tr.data, y: tr.y, task: "multiclass", numClasses: 3 },
      { trees: 50, seed: 1 },
    );
    expect(model.trees.length).toBe(50);
    const proba = predictProba(model, te.data);
    for (let i = 0; i < te.data.rows; i++)
      expect(proba[3 * i]! + proba[3 * i + 1]! + proba[3 * i + 2]!).toBeCloseTo(1, 6);
    expect(accuracy(predict(model, te.data), te.y)).toBeGreaterThanOrEqual(0.95);
  });

  it("regresses y = x1 + noise, deterministically for a seed", async () => {
    const rand = mulberry32(5);
    const n = 2000;
    const x1 = Float64Array.from({ length: n }, () => rand() * 10);
    const x2 = Float64Array.from({ length: n }, () => rand());
    const y = Float64Array.from(x1, (v) => v + (rand() - 0.5) * 0.2);
    const data = dataset(numeric("x1", x1), numeric("x2", x2));
    // The histogram grower: the same model in the worker pool and inline.
    const params = {
      trees: 20,
      maxFeatures: "all" as const,
      minSamplesLeaf: 5,
      seed: 2,
      splits: "histogram" as const,
    };
    const model = await fitForest({ data, y, task: "regression" }, params);
    const again = await fitForest({ data, y, task: "regression" }, params, { pool: "inline" });
    expect(JSON.stringify(modelToJSON(again))).toBe(JSON.stringify(modelToJSON(model)));
    const pred = predict(model, data);
    let se = 0;
    for (let i = 0; i < n; i++) se += (pred[i]! - y[i]!) ** 2;
    expect(Math.sqrt(se / n)).toBeLessThan(0.2);
    const back = modelFromJSON(JSON.parse(JSON.stringify(modelToJSON(model))));
    expect(Array.from(predictRaw(back, data))).toEqual(Array.from(predictRaw(model, data)));
  });

  it("honours row weights", async () => {
    // Same x for all rows; the heavier class wins the leaf.
    const data = dataset(numeric("x", [1, 1, 1, 1]));
    const model = await fitTree({
      data,
      y: Float64Array.of(0, 0, 0, 1),
      weights: Float64Array.of(1, 1, 1, 9),
      task: "binary",
    });
    expect(Array.from(predictProba(model, dataset(numeric("x", [1]))))).toEqual([0.25, 0.75]);
  });
});
