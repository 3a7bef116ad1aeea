import { describe, expect, it } from "vitest";
import { fitBins, mulberry32 } from "./binning";
import { fitTree } from "./cart";
import { EXACT_MAX_ROWS, exactSplitsFor, midpoint } from "./exact";
import { fitForest } from "./forest";
import { predict } from "./predict";
import { accuracy, dataset, gaussian, numeric } from "./testing";
import { modelToJSON } from "./types";

/**
 * The best root split by brute force, from the textbook definition: the
 * weighted Gini impurity decrease over every threshold halfway between two
 * consecutive distinct values (independent of the grower's G²/W form).
 */
function bruteForceRoot(columns: Float64Array[], y: Float64Array, K: number) {
  const n = y.length;
  const gini = (counts: number[], total: number) =>
    total === 0 ? 0 : 1 - counts.reduce((s, c) => s + (c / total) ** 2, 0);
  const all = new Array<number>(K).fill(0);
  for (const v of y) all[v]!++;
  const parent = gini(all, n);
  let best = { feature: -1, threshold: 0, decrease: Number.NEGATIVE_INFINITY };
  columns.forEach((x, f) => {
    const distinct = [...new Set(x)].sort((a, b) => a - b);
    for (let i = 0; i + 1 < distinct.length; i++) {
      const t = (distinct[i]! + distinct[i + 1]!) / 2;
      const l = new Array<number>(K).fill(0);
      const r = new Array<number>(K).fill(0);
      for (let j = 0; j < n; j++) (x[j]! <= t ? l : r)[y[j]!]!++;
      const nl = l.reduce((s, c) => s + c, 0);
      const decrease = parent - (nl / n) * gini(l, nl) - ((n - nl) / n) * gini(r, n - nl);
      if (decrease > best.decrease + 1e-12) best = { feature: f, threshold: t, decrease };
    }
  });
  return best;
}

describe("exact CART splits (small data)", () => {
  it("chooses exact splits on small data and histograms on large data", () => {
    expect(exactSplitsFor(1_000, 10, 1)).toBe(true);
    expect(exactSplitsFor(1_000, 64, 100)).toBe(true);
    expect(exactSplitsFor(EXACT_MAX_ROWS + 1, 3, 1)).toBe(false);
    expect(exactSplitsFor(50_000, 50, 100)).toBe(false);
    // Memory: the presorted lists of 100,000 rows × 1,000 features would take 800 MB.
    expect(exactSplitsFor(100_000, 1_000, 1)).toBe(false);
  });

  it("finds the boundary inside what would be one histogram bin, at the midpoint of its neighbours", async () => {
    // 1,000 distinct values: 255 quantile bins hold ~4 values each. The classes change
    // between two neighbouring values near the median that no bin edge separates.
    const rand = mulberry32(11);
    const x = Float64Array.from({ length: 1000 }, () => rand() * 100);
    const sorted = Float64Array.from(x).sort();
    const data = dataset(numeric("x", x));
    const { edges } = fitBins(data).features[0]!;
    let i = 500;
    while (edges.some((e) => sorted[i]! <= e && e < sorted[i + 1]!)) i++;
    const y = Float64Array.from(x, (v) => (v > sorted[i]! ? 1 : 0));
    const exact = await fitTree({ data, y, task: "binary" }, { maxDepth: 1 });
    expect(exact.trees[0]!.threshold[0]).toBe(sorted[i]! / 2 + sorted[i + 1]! / 2);
    expect(accuracy(predict(exact, data), y)).toBe(1);
    const binned = await fitTree({ data, y, task: "binary" }, { maxDepth: 1, splits: "histogram" });
    expect(accuracy(predict(binned, data), y)).toBeLessThan(1);
  });

  it("takes the root split with the largest Gini decrease, as a brute-force search does", async () => {
    for (const seed of [1, 2, 3, 4]) {
      const rand = mulberry32(seed);
      const g = gaussian(rand);
      const n = 200;
      const cols = [0, 1, 2].map(() => Float64Array.from({ length: n }, () => Math.round(g() * 50) / 10));
      const y = Float64Array.from({ length: n }, (_, i) => {
        const s = cols[0]![i]! + 0.5 * cols[1]![i]! + g();
        return s < -0.5 ? 0 : s < 0.7 ? 1 : 2;
      });
      const model = await fitTree(
        { data: dataset(...cols.map((c, f) => numeric(`x${f}`, c))), y, task: "multiclass", numClasses: 3 },
        { maxDepth: 1 },
      );
      const want = bruteForceRoot(cols, y, 3);
      const tree = model.trees[0]!;
      expect([tree.feature[0], tree.threshold[0]]).toEqual([want.feature, want.threshold]);
      // The recorded gain is the decrease in weighted impurity (n × Gini decrease).
      expect(tree.gain[0]).toBeCloseTo(n * want.decrease, 9);
    }
  });

  it("grows until the leaves are pure (no depth limit), splitting XOR though its root split gains nothing", async () => {
    const a = [0, 0, 1, 1, 0, 0, 1, 1];
    const b = [0, 1, 0, 1, 0, 1, 0, 1];
    const y = Float64Array.from(a, (v, i) => v ^ b[i]!);
    const data = dataset(numeric("a", a), numeric("b", b));
    const model = await fitTree({ data, y, task: "binary" }, { maxDepth: 64 });
    expect(accuracy(predict(model, data), y)).toBe(1);
    expect(model.trees[0]!.gain[0]).toBe(0);
    // Random continuous data: a full tree reproduces every training label.
    const rand = mulberry32(3);
    const n = 500;
    const x1 = Float64Array.from({ length: n }, () => rand());
    const x2 = Float64Array.from({ length: n }, () => rand());
    const noisy = Float64Array.from({ length: n }, () => (rand() < 0.5 ? 1 : 0));
    const full = await fitTree(
      { data: dataset(numeric("x1", x1), numeric("x2", x2)), y: noisy, task: "binary" },
      { maxDepth: 64 },
    );
    expect(accuracy(predict(full, dataset(numeric("x1", x1), numeric("x2", x2))), noisy)).toBe(1);
  });

  it("keeps thresholds finite and between the neighbours, infinities included", async () => {
    expect(midpoint(1, 2)).toBe(1.5);
    // The midpoint of two adjacent doubles rounds to one of them: the lower one is taken.
    expect(midpoint(1, 1 + Number.EPSILON)).toBe(1);
    expect(midpoint(Number.MAX_VALUE / 2, Number.MAX_VALUE)).toBe(0.75 * Number.MAX_VALUE);
    expect(midpoint(5, Number.POSITIVE_INFINITY)).toBe(5);
    expect(midpoint(Number.NEGATIVE_INFINITY, -5)).toBe(-Number.MAX_VALUE);
    const x = [Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, 1, Number.POSITIVE_INFINITY, 7];
    const y = Float64Array.of(0, 0, 1, 1, 2, 2);
    const data = dataset(numeric("x", x));
    const model = await fitTree({ data, y, task: "multiclass", numClasses: 3 });
    const back = JSON.parse(JSON.stringify(modelToJSON(model)));
    expect(back.trees[0].threshold.every((t: unknown) => typeof t === "number")).toBe(true);
    expect(Array.from(predict(model, data))).toEqual([0, 0, 1, 1, 2, 2]);
  });

  it("regresses with leaf means on exact thresholds", async () => {
    const x = [3, 1, 2, 10, 11, 12];
    const data = dataset(numeric("x", x));
    const model = await fitTree(
      { data, y: Float64Array.of(1, 1, 1, 5, 5, 8), task: "regression" },
      { maxDepth: 1 },
    );
    const tree = model.trees[0]!;
    expect(tree.threshold[0]).toBe(6.5);
    expect(tree.leafValue[1]).toBe(1);
    expect(tree.leafValue[2]).toBe(6);
    expect(Array.from(tree.cover)).toEqual([6, 3, 3]);
  });

  it("looks past constant features in a forest, as scikit-learn draws them", async () => {
    // Nine constant columns and one informative one; maxFeatures sqrt draws 3 per split.
    const n = 300;
    const rand = mulberry32(5);
    const x = Float64Array.from({ length: n }, () => rand());
    const y = Float64Array.from(x, (v) => (v > 0.5 ? 1 : 0));
    const cols = Array.from({ length: 9 }, (_, f) => numeric(`c${f}`, new Float64Array(n).fill(f)));
    const model = await fitForest(
      { data: dataset(...cols, numeric("x", x)), y, task: "binary" },
      { trees: 30, maxDepth: 1, seed: 2 },
    );
    for (const t of model.trees) expect(t.feature[0]).toBe(9);
  });

  it("is deterministic for a seed; another seed gives another forest", async () => {
    const rand = mulberry32(8);
    const n = 400;
    const cols = [0, 1, 2, 3].map((f) =>
      numeric(
        `x${f}`,
        Float64Array.from({ length: n }, () => rand()),
      ),
    );
    const y = Float64Array.from({ length: n }, (_, i) =>
      cols[0]!.values[i]! + cols[1]!.values[i]! > 1 ? 1 : 0,
    );
    const train = { data: dataset(...cols), y, task: "binary" as const };
    const a = JSON.stringify(modelToJSON(await fitForest(train, { trees: 10, seed: 1 })));
    const b = JSON.stringify(modelToJSON(await fitForest(train, { trees: 10, seed: 1 })));
    const c = JSON.stringify(modelToJSON(await fitForest(train, { trees: 10, seed: 2 })));
    expect(a).toBe(b);
    expect(c).not.toBe(a);
  });

  it("refuses an unknown splits value", async () => {
    const data = dataset(numeric("x", [1, 2, 3, 4]));
    await expect(
      fitTree({ data, y: Float64Array.of(0, 0, 1, 1), task: "binary" }, { splits: "fast" as "exact" }),
    ).rejects.toThrow(/splits must be "auto", "exact" or "histogram", got "fast"/);
  });

  it("stops mid-fit on an abort and rejects with an AbortError", async () => {
    const rand = mulberry32(9);
    const n = 60_000;
    const cols = Array.from({ length: 12 }, (_, f) =>
      numeric(
        `x${f}`,
        Float64Array.from({ length: n }, () => rand()),
      ),
    );
    const y = Float64Array.from({ length: n }, () => rand());
    const controller = new AbortController();
    const fit = fitForest(
      { data: dataset(...cols), y, task: "regression" },
      { trees: 50, maxFeatures: "all", splits: "exact" },
      { signal: controller.signal },
    );
    await new Promise((r) => setTimeout(r, 300));
    controller.abort();
    await expect(fit).rejects.toMatchObject({ name: "AbortError" });
  });
});
