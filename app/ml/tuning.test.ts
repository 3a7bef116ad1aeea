import { describe, expect, it } from "vitest";
import {
  checkSpace,
  expandGrid,
  kFolds,
  planTrials,
  resolveMetric,
  runSearch,
  sampleRandom,
  scoreFold,
} from "./tuning";

function expectPartition(folds: { train: Int32Array; test: Int32Array }[], n: number, scored = n) {
  const seen = new Int32Array(n);
  for (const f of folds) {
    const test = new Set(f.test);
    expect(f.train.length + f.test.length).toBe(n);
    for (const i of f.train) expect(test.has(i)).toBe(false);
    for (const i of f.test) seen[i]!++;
  }
  // every scored row is in exactly one test fold
  expect(Array.from(seen).filter((c) => c === 1).length).toBe(scored);
  expect(Array.from(seen).every((c) => c <= 1)).toBe(true);
}

describe("kFolds", () => {
  it("splits rows into disjoint test folds that cover every row, sizes within one", () => {
    const { folds, warnings } = kFolds(103, 5, 1);
    expect(folds).toHaveLength(5);
    expectPartition(folds, 103);
    const sizes = folds.map((f) => f.test.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    expect(warnings).toEqual([]);
  });

  it("is deterministic by seed", () => {
    expect(kFolds(50, 3, 7).folds).toEqual(kFolds(50, 3, 7).folds);
    expect(kFolds(50, 3, 7).folds[0]!.test).not.toEqual(kFolds(50, 3, 8).folds[0]!.test);
  });

  it("stratifies: each fold holds each class's share within one row", () => {
    // 60 / 30 / 10 rows of classes 0, 1, 2
    const y = Float64Array.from({ length: 100 }, (_, i) => (i < 60 ? 0 : i < 90 ? 1 : 2));
    const { folds } = kFolds(100, 5, 3, y);
    expectPartition(folds, 100);
    for (const f of folds) {
      const counts = [0, 0, 0];
      for (const i of f.test) counts[y[i]!]!++;
      expect(counts).toEqual([12, 6, 2]);
    }
  });

  it("keeps a class with fewer rows than folds in every training fold, with a warning", () => {
    const y = Float64Array.from({ length: 31 }, (_, i) => (i === 30 ? 2 : i % 2));
    const { folds, warnings } = kFolds(31, 3, 0, y, ["a", "b", "rare"]);
    expect(warnings).toEqual([
      'Class "rare" has 1 row(s), fewer than the 3 folds: its rows stay in every training fold and are not scored.',
    ]);
    expectPartition(folds, 31, 30);
    for (const f of folds) {
      expect(Array.from(f.train)).toContain(30);
      expect(Array.from(f.test)).not.toContain(30);
    }
  });

  it("refuses fewer rows than folds", () => {
    expect(() => kFolds(3, 5, 0)).toThrow(/needs at least 5 rows, but there are 3/);
  });
});

describe("search space", () => {
  it("expands a grid as the cartesian product, the last param fastest", () => {
    expect(expandGrid({ a: [1, 2], b: ["x", "y", "z"] })).toEqual([
      { a: 1, b: "x" },
      { a: 1, b: "y" },
      { a: 1, b: "z" },
      { a: 2, b: "x" },
      { a: 2, b: "y" },
      { a: 2, b: "z" },
    ]);
    expect(() => expandGrid({ a: { min: 0, max: 1 } })).toThrow(/a grid cannot enumerate/);
  });

  it("samples the same trials for the same seed, inside the ranges", () => {
    const space = {
      l2: { min: 0.01, max: 10, log: true },
      depth: { min: 2, max: 4, int: true },
      kind: ["a", "b"],
    };
    const trials = sampleRandom(space, 200, 5);
    expect(trials).toEqual(sampleRandom(space, 200, 5));
    expect(trials).not.toEqual(sampleRandom(space, 200, 6));
    for (const t of trials) {
      expect(t.l2).toBeGreaterThanOrEqual(0.01);
      expect(t.l2).toBeLessThanOrEqual(10);
      expect([2, 3, 4]).toContain(t.depth);
      expect(["a", "b"]).toContain(t.kind);
    }
    // log-uniform: about half the draws below the geometric midpoint √(0.01·10) ≈ 0.316
    const below = trials.filter((t) => (t.l2 as number) < Math.sqrt(0.1)).length;
    expect(below).toBeGreaterThan(70);
    expect(below).toBeLessThan(130);
    expect(new Set(trials.map((t) => t.depth))).toEqual(new Set([2, 3, 4]));
  });

  it("runs a grid within the budget and names its size when over", () => {
    const space = { a: [1, 2, 3], b: [1, 2, 3] };
    expect(planTrials({ strategy: "grid", space, seed: 0 })).toHaveLength(9);
    expect(() => planTrials({ strategy: "grid", space, maxTrials: 8, seed: 0 })).toThrow(
      /grid has 9 combinations, more than the budget of 8 trials.*raise maxTrials to 9/,
    );
    expect(planTrials({ strategy: "random", space, seed: 0 })).toHaveLength(20);
    expect(planTrials({ strategy: "random", space, maxTrials: 3, seed: 0 })).toHaveLength(3);
  });

  it("refuses params the block cannot tune, listing those it can", () => {
    expect(() => checkSpace({ maxDepth: [1], depth: [2] }, ["maxDepth", "learningRate"])).toThrow(
      'search.space names "depth", which this block cannot tune. Tunable params: maxDepth, learningRate.',
    );
    expect(() => checkSpace({ l2: { min: 0, max: 1, log: true } }, ["l2"])).toThrow(/min must be > 0/);
    expect(() => checkSpace({ l2: { min: 2, max: 1 } }, ["l2"])).toThrow(/min ≤ max/);
    expect(() => checkSpace({}, ["l2"])).toThrow(/empty/);
  });
});

describe("scoring and the search loop", () => {
  it("scores a fold by the chosen metric", () => {
    const y = [0, 1, 1, 0];
    const probabilities = Float64Array.from([0.8, 0.2, 0.3, 0.7, 0.6, 0.4, 0.9, 0.1]);
    expect(scoreFold("accuracy", y, { probabilities }, 2)).toBe(0.75);
    // the positives score 0.7 and 0.4, above both negatives (0.2, 0.1), though 0.4 is labelled 0
    expect(scoreFold("roc_auc", y, { probabilities }, 2)).toBe(1);
    expect(scoreFold("log_loss", y, { probabilities }, 2)).toBeCloseTo(
      -(Math.log(0.8) + Math.log(0.7) + Math.log(0.4) + Math.log(0.9)) / 4,
    );
    expect(scoreFold("rmse", [1, 2], { prediction: Float64Array.from([1, 4]) })).toBeCloseTo(Math.sqrt(2));
    expect(() => resolveMetric("rmse", false)).toThrow(/does not apply to classification/);
    expect(resolveMetric(undefined, true)).toBe("rmse");
    expect(resolveMetric(undefined, false)).toBe("accuracy");
  });

  it("returns every trial with mean and std, the best by direction, ties to the first", async () => {
    const trials = [{ a: 1 }, { a: 2 }, { a: 3 }, { a: 2 }];
    const evaluate = (p: Record<string, unknown>, fold: number) => (p.a === 1 ? 0.5 : (p.a as number) + fold);
    const max = await runSearch(trials, evaluate, { folds: 2, higherIsBetter: true });
    expect(max.trials.map((t) => [t.mean, t.std])).toEqual([
      [0.5, 0],
      [2.5, 0.5],
      [3.5, 0.5],
      [2.5, 0.5],
    ]);
    expect(max.best).toEqual({ index: 2, params: { a: 3 }, mean: 3.5 });
    const min = await runSearch(trials.slice(1), evaluate, { folds: 2, higherIsBetter: false });
    expect(min.best.index).toBe(0);
  });

  it("lets NaN lose and stops at an abort between folds", async () => {
    const nan = await runSearch([{ a: 0 }, { a: 1 }], (p) => (p.a === 0 ? Number.NaN : 0.1), {
      folds: 2,
      higherIsBetter: true,
    });
    expect(nan.best.index).toBe(1);
    const controller = new AbortController();
    let calls = 0;
    const run = runSearch(
      [{ a: 0 }, { a: 1 }],
      () => {
        calls++;
        controller.abort();
        return 1;
      },
      { folds: 3, higherIsBetter: true, signal: controller.signal },
    );
    await expect(run).rejects.toThrow();
    expect(calls).toBe(1);
  });
});
