import { describe, expect, it } from "vitest";
import type { CategoricalColumn, ColumnTable, NumericColumn } from "./dataset";
import {
  coefficientImportance,
  partialDependence,
  permutationImportance,
  quantileGrid,
  sampleRows,
  splitGainImportance,
} from "./explain";
import { fitLogistic, fitRidge } from "./linear";
import {
  type DagwoodModel,
  encodeTarget,
  type LinearDagwoodModel,
  MODEL_FORMAT,
  predictTable,
  signatureFor,
} from "./model";
import { fitPreprocessor, transformFeatures } from "./preprocess";
import { fitGbdt, modelToJSON } from "./trees";
import { mulberry32 } from "./trees/binning";

const num = (name: string, values: ArrayLike<number>): NumericColumn => ({
  name,
  kind: "numeric",
  type: "DOUBLE",
  values: Float64Array.from(values),
});
const text = (name: string, values: string[]): CategoricalColumn => {
  const dictionary = [...new Set(values)];
  return {
    name,
    kind: "categorical",
    type: "VARCHAR",
    codes: Int32Array.from(values, (v) => dictionary.indexOf(v)),
    dictionary,
  };
};

/**
 * y = 3·x1 + 0.7·x2 + small noise; x3 and the category c are noise. x1, x2,
 * x3 uniform on [0, 1). Classification: y above its median.
 */
function synthetic(n: number, seed: number): { features: ColumnTable; y: Float64Array } {
  const rand = mulberry32(seed);
  const x1 = Float64Array.from({ length: n }, rand);
  const x2 = Float64Array.from({ length: n }, rand);
  const x3 = Float64Array.from({ length: n }, rand);
  const c = Array.from({ length: n }, () => ["a", "b", "c"][Math.floor(rand() * 3)]!);
  const y = Float64Array.from({ length: n }, (_, i) => 3 * x1[i]! + 0.7 * x2[i]! + 0.05 * (rand() - 0.5));
  return { features: { rows: n, columns: [num("x1", x1), num("x2", x2), num("x3", x3), text("c", c)] }, y };
}

async function gbdtModel(features: ColumnTable, y: Float64Array, classify: boolean): Promise<DagwoodModel> {
  const spec = fitPreprocessor(features);
  const median = [...y].sort((a, b) => a - b)[y.length >> 1]!;
  const target = classify
    ? encodeTarget(
        text(
          "y",
          Array.from(y, (v) => (v > median ? "high" : "low")),
        ),
        "classification",
      )
    : encodeTarget(num("y", y), "regression");
  const ensemble = await fitGbdt(
    { data: transformFeatures(spec, features), y: target.y, task: target.task },
    { trees: 60, seed: 1 },
    { pool: "inline" },
  );
  return {
    kind: MODEL_FORMAT,
    estimator: "gbdt",
    task: target.task,
    target: "y",
    targetType: classify ? "VARCHAR" : "DOUBLE",
    ...(target.classes ? { classes: target.classes } : {}),
    signature: signatureFor(spec, target.task, target.classes),
    preprocess: spec,
    ensemble: modelToJSON(ensemble),
    trainedRows: features.rows,
    params: {},
  };
}

async function linearModel(
  features: ColumnTable,
  y: Float64Array,
  classify: boolean,
): Promise<LinearDagwoodModel> {
  const spec = fitPreprocessor(features, { encoding: "onehot", scale: "standard" });
  const data = transformFeatures(spec, features);
  const median = [...y].sort((a, b) => a - b)[y.length >> 1]!;
  const labels = Float64Array.from(y, (v) => (v > median ? 1 : 0));
  const linear = classify ? await fitLogistic({ data, y: labels }) : fitRidge({ data, y });
  const task = classify ? "binary" : "regression";
  const classes = classify ? ["low", "high"] : undefined;
  return {
    kind: MODEL_FORMAT,
    estimator: classify ? "logistic" : "linear",
    task,
    target: "y",
    targetType: "DOUBLE",
    ...(classes ? { classes } : {}),
    signature: signatureFor(spec, task, classes),
    preprocess: spec,
    linear,
    trainedRows: features.rows,
    params: {},
  };
}

const order = (xs: { feature: string }[]) => xs.map((x) => x.feature);

describe("sampleRows", () => {
  it("keeps every row when there are few, else a seeded sorted sample", () => {
    expect(Array.from(sampleRows(4, 10, 1))).toEqual([0, 1, 2, 3]);
    const a = sampleRows(1000, 50, 7);
    expect(a).toHaveLength(50);
    expect(new Set(a).size).toBe(50);
    expect(Array.from(a)).toEqual([...a].sort((x, y) => x - y));
    expect(Array.from(sampleRows(1000, 50, 7))).toEqual(Array.from(a));
    expect(Array.from(sampleRows(1000, 50, 8))).not.toEqual(Array.from(a));
  });
});

describe("quantileGrid", () => {
  it("gives at most 20 distinct quantiles from min to max, skipping missing values", () => {
    const grid = quantileGrid(Float64Array.from({ length: 101 }, (_, i) => (i === 50 ? Number.NaN : i)));
    expect(grid).toHaveLength(20);
    expect(grid[0]).toBe(0);
    expect(grid.at(-1)).toBe(100);
    expect(quantileGrid(Float64Array.from([1, 1, 2, Number.NaN]))).toEqual([1, 2]);
    expect(quantileGrid(Float64Array.from([Number.NaN]))).toEqual([]);
  });
});

describe("explanations of a model whose answer is known", () => {
  const train = synthetic(2000, 1);
  const test = synthetic(1000, 2);

  it("GBDT regression: x1 > x2 > noise by permutation and split gain; partial dependence follows 3·x1", async () => {
    const model = await gbdtModel(train.features, train.y, false);
    const truth = { task: "regression" as const, y: test.y };
    const { metric, permutation } = permutationImportance(model, test.features, truth, {
      seed: 3,
      repeats: 5,
    });
    console.log(
      `explain gbdt regression: R² ${metric.baseline.toFixed(4)}; permutation ${permutation.map((f) => `${f.feature} ${f.mean.toFixed(4)}±${f.std.toFixed(4)}`).join(", ")}`,
    );
    expect(metric).toMatchObject({ name: "r2", importance: "drop" });
    expect(metric.baseline).toBeGreaterThan(0.95);
    expect(order(permutation).slice(0, 2)).toEqual(["x1", "x2"]);
    const [x1, x2] = permutation;
    // Shuffling x makes E[(f(x) - f(x'))²] = 2 Var(f(x)); over Var(y) ≈ 9/12 + 0.49/12.
    expect(x1!.mean).toBeGreaterThan(1.5);
    expect(x2!.mean).toBeGreaterThan(0.05);
    expect(x2!.mean).toBeLessThan(0.3);
    for (const noise of permutation.slice(2)) expect(Math.abs(noise.mean)).toBeLessThan(0.01);
    expect(x1!.repeats).toHaveLength(5);
    expect(x1!.std).toBeGreaterThan(0);

    const gain = splitGainImportance(model);
    expect(order(gain).slice(0, 2)).toEqual(["x1", "x2"]);
    expect(gain.reduce((s, g) => s + g.value, 0)).toBeCloseTo(1, 12);
    expect(gain[0]!.value).toBeGreaterThan(0.8);

    const [pd1, pd3] = partialDependence(model, test.features, ["x1", "x3"]);
    expect(pd1).toMatchObject({ feature: "x1", kind: "numeric" });
    expect(pd1!.grid).toHaveLength(20);
    const v1 = pd1!.values as number[];
    expect(v1.at(-1)! - v1[0]!).toBeGreaterThan(2.5); // ≈ 3 over x1's range
    for (let i = 1; i < v1.length; i++) expect(v1[i]!).toBeGreaterThanOrEqual(v1[i - 1]! - 0.05);
    const v3 = pd3!.values as number[];
    expect(Math.max(...v3) - Math.min(...v3)).toBeLessThan(0.1);
  });

  it("GBDT classification: log loss increase, probabilities per class that sum to 1", async () => {
    const model = await gbdtModel(train.features, train.y, true);
    const classes = model.classes!;
    const median = [...test.y].sort((a, b) => a - b)[test.y.length >> 1]!;
    const y = Int32Array.from(test.y, (v) => classes.indexOf(v > median ? "high" : "low"));
    const { metric, permutation } = permutationImportance(
      model,
      test.features,
      { task: "classification", y },
      { seed: 3 },
    );
    expect(metric.name).toBe("log_loss");
    expect(order(permutation)[0]).toBe("x1");
    expect(order(permutation).indexOf("x2")).toBeLessThan(order(permutation).indexOf("x3"));

    const [pd] = partialDependence(model, test.features, ["x1"]);
    const values = pd!.values as Record<string, number[]>;
    expect(Object.keys(values)).toEqual(["high", "low"]);
    for (const [i, p] of values.high!.entries()) expect(p + values.low![i]!).toBeCloseTo(1, 12);
    expect(values.high!.at(-1)!).toBeGreaterThan(values.high![0]! + 0.5);
    const [pc] = partialDependence(model, test.features, ["c"]);
    expect(pc).toMatchObject({ kind: "categorical" });
    expect([...pc!.grid].sort()).toEqual(["a", "b", "c"]);
  });

  it("linear models: |standardized coefficient| per raw column, one-hot columns summed", async () => {
    const ridge = await linearModel(train.features, train.y, false);
    const coefficients = coefficientImportance(ridge, test.features);
    expect(order(coefficients).slice(0, 2)).toEqual(["x1", "x2"]);
    // Per standard deviation: 3 / √12 and 0.7 / √12.
    expect(coefficients[0]!.value).toBeCloseTo(3 / Math.sqrt(12), 1);
    expect(coefficients[1]!.value).toBeCloseTo(0.7 / Math.sqrt(12), 1);
    const c = coefficients.find((x) => x.feature === "c")!;
    const oneHot = ridge.linear.featureNames.flatMap((name, j) =>
      name.startsWith("c=") ? [Math.abs(ridge.linear.coefficients[0]![j]!)] : [],
    );
    expect(oneHot).toHaveLength(3);
    expect(c.value).toBeCloseTo(
      oneHot.reduce((s, x) => s + x, 0),
      12,
    );

    const logistic = await linearModel(train.features, train.y, true);
    const { permutation } = permutationImportance(
      logistic,
      test.features,
      { task: "classification", y: Int32Array.from(predictTable(logistic, test.features).classIndex!) },
      { seed: 1 },
    );
    expect(order(permutation)[0]).toBe("x1");
    expect(order(coefficientImportance(logistic, test.features))[0]).toBe("x1");
  });

  it("gives the same numbers for the same seed, and others for another", async () => {
    const model = await gbdtModel(train.features, train.y, false);
    const truth = { task: "regression" as const, y: test.y };
    const a = permutationImportance(model, test.features, truth, { seed: 5, repeats: 2 });
    const b = permutationImportance(model, test.features, truth, { seed: 5, repeats: 2 });
    const c = permutationImportance(model, test.features, truth, { seed: 6, repeats: 2 });
    expect(b).toEqual(a);
    expect(c.permutation[0]!.repeats).not.toEqual(a.permutation[0]!.repeats);
  });

  it("stops when the signal is aborted", async () => {
    const model = await gbdtModel(train.features, train.y, false);
    const controller = new AbortController();
    controller.abort(new Error("cancelled"));
    expect(() =>
      permutationImportance(
        model,
        test.features,
        { task: "regression", y: test.y },
        { signal: controller.signal },
      ),
    ).toThrow("cancelled");
  });
});
