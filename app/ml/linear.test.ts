import { describe, expect, it } from "vitest";
import type { ColumnTable } from "./dataset";
import { fitLogistic, fitRidge, type LinearModelJSON, predictLinear } from "./linear";
import { encodeRows, fitPreprocessor, transformFeatures } from "./preprocess";
import type { Dataset } from "./trees";

const dataset = (columns: Record<string, number[] | Float64Array>): Dataset => {
  const features = Object.entries(columns).map(([name, v]) => ({
    name,
    kind: "numeric" as const,
    values: Float64Array.from(v),
  }));
  return { rows: features[0]!.values.length, features };
};

/** A deterministic uniform [0, 1) stream (LCG), so the synthetic data is the same on every run. */
function uniform(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const isFloat32 = (m: LinearModelJSON) =>
  [...m.coefficients.flat(), ...m.intercepts].every((v) => v === Math.fround(v));

/** Solves the (p+1)×(p+1) normal equations [n, 1ᵀX; Xᵀ1, XᵀX + λI] [b; w] = [Σy; Xᵀy] by Gaussian elimination. */
function normalEquations(data: Dataset, y: Float64Array, l2: number): { b: number; w: number[] } {
  const cols = [new Float64Array(data.rows).fill(1), ...data.features.map((f) => f.values)];
  const m = cols.length;
  const A = cols.map((a, i) => [
    ...cols.map((c, j) => a.reduce((s, v, r) => s + v * c[r]!, 0) + (i === j && i > 0 ? l2 : 0)),
    a.reduce((s, v, r) => s + v * y[r]!, 0),
  ]);
  for (let k = 0; k < m; k++) {
    let pivot = k;
    for (let i = k + 1; i < m; i++) if (Math.abs(A[i]![k]!) > Math.abs(A[pivot]![k]!)) pivot = i;
    [A[k], A[pivot]] = [A[pivot]!, A[k]!];
    for (let i = k + 1; i < m; i++) {
      const f = A[i]![k]! / A[k]![k]!;
      for (let j = k; j <= m; j++) A[i]![j]! -= f * A[k]![j]!;
    }
  }
  const x = new Array<number>(m).fill(0);
  for (let i = m - 1; i >= 0; i--) {
    let s = A[i]![m]!;
    for (let j = i + 1; j < m; j++) s -= A[i]![j]! * x[j]!;
    x[i] = s / A[i]![i]!;
  }
  return { b: x[0]!, w: x.slice(1) };
}

/**
 * The reference: plain gradient descent with step 1/L on the same objective
 * (mean log loss + l2/(2n)‖W‖², intercepts free), run to a gradient below 1e-12.
 */
function gradientDescent(data: Dataset, y: Float64Array, K: number, l2: number): number[][] {
  const n = data.rows;
  const cols = data.features.map((f) => f.values);
  const p = cols.length;
  const outputs = K === 2 ? 1 : K;
  // W[k] = [w_k1..w_kp, b_k]
  const W = Array.from({ length: outputs }, () => new Array<number>(p + 1).fill(0));
  let rowNorm = 0;
  for (let i = 0; i < n; i++) rowNorm += 1 + cols.reduce((s, c) => s + c[i]! ** 2, 0);
  // The log-loss Hessian is at most ½ (binary ¼) times the data's second moment; its trace bounds λmax.
  const L = ((outputs === 1 ? 0.25 : 0.5) * rowNorm) / n + l2 / n;
  for (let iter = 0; iter < 2_000_000; iter++) {
    const grad = W.map((w) => w.map(() => 0));
    for (let i = 0; i < n; i++) {
      const z = W.map((w) => w[p]! + cols.reduce((s, c, j) => s + w[j]! * c[i]!, 0));
      let r: number[];
      if (outputs === 1) r = [1 / (1 + Math.exp(-z[0]!)) - y[i]!];
      else {
        const max = Math.max(...z);
        const e = z.map((v) => Math.exp(v - max));
        const sum = e.reduce((a, b) => a + b, 0);
        r = e.map((v, k) => v / sum - (k === y[i] ? 1 : 0));
      }
      for (let k = 0; k < outputs; k++) {
        for (let j = 0; j < p; j++) grad[k]![j]! += (r[k]! * cols[j]![i]!) / n;
        grad[k]![p]! += r[k]! / n;
      }
    }
    let worst = 0;
    for (let k = 0; k < outputs; k++) {
      for (let j = 0; j <= p; j++) {
        if (j < p) grad[k]![j]! += (l2 * W[k]![j]!) / n;
        worst = Math.max(worst, Math.abs(grad[k]![j]!));
        W[k]![j]! -= grad[k]![j]! / L;
      }
    }
    if (worst < 1e-12) return W;
  }
  throw new Error("the reference did not converge");
}

/** Our model as [w…, b] rows, like the reference. */
const rowsOf = (m: LinearModelJSON) => m.coefficients.map((w, k) => [...w, m.intercepts[k]!]);

function expectClose(actual: number[][], expected: number[][], tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((row, k) => {
    row.forEach((v, j) => {
      const e = expected[k]![j]!;
      if (Math.abs(v - e) > tolerance * Math.max(1, Math.abs(e))) {
        throw new Error(`entry [${k}][${j}]: ${v} vs reference ${e}`);
      }
    });
  });
}

describe("fitRidge", () => {
  it("gives the exact least-squares line, and the hand-computed ridge shrinkage", () => {
    const data = dataset({ x: [0, 1, 2, 3] });
    const y = Float64Array.from([1, 3, 5, 7]);
    const ols = fitRidge({ data, y }, { l2: 0 });
    expect(ols.coefficients).toEqual([[2]]);
    expect(ols.intercepts).toEqual([1]);
    expect(ols.trainLoss).toBe(0);
    // Centered x = ±0.5, ±1.5: Sxx = 5, Sxy = 10; w = Sxy / (Sxx + l2) = 1 with l2 = 5; b = ȳ − w·x̄ = 4 − 1.5.
    const ridge = fitRidge({ data, y }, { l2: 5 });
    expect(ridge.coefficients).toEqual([[1]]);
    expect(ridge.intercepts).toEqual([2.5]);
    expect(Array.from(predictLinear(ridge, data).prediction!)).toEqual([2.5, 3.5, 4.5, 5.5]);
    expect(ridge).toMatchObject({ kind: "ridge", task: "regression", featureNames: ["x"], iterations: 0 });
  });

  it("agrees with the (p+1)×(p+1) normal equations with an unpenalized intercept", () => {
    const u = uniform(11);
    const n = 60;
    const a = Float64Array.from({ length: n }, () => u() * 10);
    const b = Float64Array.from({ length: n }, () => u() - 0.5);
    const c = Float64Array.from({ length: n }, (_, i) => a[i]! * 0.3 + u());
    const data = dataset({ a, b, c });
    const y = Float64Array.from({ length: n }, (_, i) => 3 + 2 * a[i]! - 5 * b[i]! + c[i]! + u() * 0.1);
    for (const l2 of [0, 0.5, 10]) {
      const model = fitRidge({ data, y }, { l2 });
      const ref = normalEquations(data, y, l2);
      expectClose(rowsOf(model), [[...ref.w, ref.b]], 1e-6);
      expect(isFloat32(model)).toBe(true);
    }
  });

  it("agrees with the normal equations on one-hot columns (summed over their nonzero rows only)", () => {
    const u = uniform(17);
    const n = 100;
    const code = Int32Array.from({ length: n }, () => Math.floor(u() * 5));
    const x = Float64Array.from({ length: n }, () => u() * 2 - 1);
    const oneHot = Object.fromEntries(
      [0, 1, 2, 3, 4].map((c) => [`g=${c}`, Float64Array.from(code, (k) => (k === c ? 1 : 0))]),
    );
    const data = dataset({ x, ...oneHot });
    const y = Float64Array.from({ length: n }, (_, i) => 10 + 3 * x[i]! + code[i]! ** 1.5 + u());
    const model = fitRidge({ data, y }, { l2: 0.3 });
    const ref = normalEquations(data, y, 0.3);
    expectClose(rowsOf(model), [[...ref.w, ref.b]], 1e-6);
  });

  it("gives constant columns coefficient 0, and asks for l2 > 0 when columns are collinear", () => {
    const data = dataset({ x: [1, 2, 3, 4, 5], k: [7, 7, 7, 7, 7] });
    const y = Float64Array.from([2, 4, 6, 8, 10]);
    for (const l2 of [0, 1]) expect(fitRidge({ data, y }, { l2 }).coefficients[0]![1]).toBe(0);
    const twins = dataset({ x: [1, 2, 3, 4, 5], x2: [2, 4, 6, 8, 10] });
    expect(() => fitRidge({ data: twins, y }, { l2: 0 })).toThrow(/collinear.*Set l2 > 0/);
    expect(fitRidge({ data: twins, y }, { l2: 1 }).coefficients[0]!.every(Number.isFinite)).toBe(true);
  });

  it("refuses missing feature values and a bad l2", () => {
    const data = dataset({ x: [1, Number.NaN, 3] });
    const y = Float64Array.from([1, 2, 3]);
    expect(() => fitRidge({ data, y })).toThrow(/"x" has a missing or non-finite value at row 1/);
    expect(() => fitRidge({ data: dataset({ x: [1, 2, 3] }), y }, { l2: -1 })).toThrow(/l2 must be/);
  });
});

describe("fitLogistic", () => {
  const precise = { maxIter: 2000, tol: 1e-10, ftol: 0 };

  it("matches a gradient-descent reference on noisy binary data", async () => {
    const u = uniform(3);
    const n = 200;
    const x1 = Float64Array.from({ length: n }, () => u() * 4 - 2);
    const x2 = Float64Array.from({ length: n }, () => u() * 4 - 2);
    const y = Float64Array.from({ length: n }, (_, i) =>
      u() < 1 / (1 + Math.exp(-(0.5 + x1[i]! - 2 * x2[i]!))) ? 1 : 0,
    );
    const g = Float64Array.from({ length: n }, () => (u() < 0.15 ? 1 : 0)); // sparse, as a one-hot column
    const data = dataset({ x1, x2, g });
    for (const l2 of [1, 0.1]) {
      const model = await fitLogistic({ data, y }, { l2, ...precise });
      expect(model).toMatchObject({ kind: "logistic", task: "binary", numClasses: 2, converged: true });
      expect(model.coefficients).toHaveLength(1);
      expect(isFloat32(model)).toBe(true);
      expectClose(rowsOf(model), gradientDescent(data, y, 2, l2), 1e-6);
    }
  });

  it("fits rows written from raw columns (encodeRows) to the model of the dense columns, and refuses what they would", async () => {
    const u = uniform(5);
    const n = 700;
    const x = Float64Array.from({ length: n }, (_, i) => (i % 31 === 0 ? Number.NaN : u() * 4 - 2));
    const codes = Int32Array.from({ length: n }, (_, i) => (i % 13 === 0 ? -1 : Math.floor(u() * u() * 12)));
    const y = Float64Array.from({ length: n }, (_, i) => (u() < (codes[i]! % 2 === 0 ? 0.7 : 0.3) ? 1 : 0));
    const rows: ColumnTable = {
      rows: n,
      columns: [
        { name: "x", kind: "numeric", type: "DOUBLE", values: x },
        {
          name: "g",
          kind: "categorical",
          type: "VARCHAR",
          codes,
          dictionary: Array.from({ length: 12 }, (_, k) => `g${k}`),
        },
      ],
    };
    const options = { maxCategories: 5, encoding: "onehot", scale: "standard" } as const;
    const spec = fitPreprocessor(rows, { ...options, impute: "median" });
    const dense = await fitLogistic({ data: transformFeatures(spec, rows), y }, { l2: 0.5 });
    expect(dense.featureNames).toContain("g=<other>");
    expect(await fitLogistic({ data: encodeRows(spec, rows), y }, { l2: 0.5 })).toEqual(dense);

    const unimputed = fitPreprocessor(rows, { ...options, impute: "none" });
    const message =
      'Feature "x" has a missing or non-finite value at row 0: linear models need imputed features';
    await expect(fitLogistic({ data: transformFeatures(unimputed, rows), y })).rejects.toThrow(message);
    await expect(fitLogistic({ data: encodeRows(unimputed, rows), y })).rejects.toThrow(message);
    await expect(fitLogistic({ data: encodeRows(spec, rows), y: y.subarray(1) })).rejects.toThrow(
      `y has ${n - 1} values for ${n} rows`,
    );
  });

  it("stops as SciPy's L-BFGS-B does by default: when an iteration lowers the loss by ≤ 2.22e-9 relative", async () => {
    const u = uniform(11);
    const n = 3000;
    const cols = Object.fromEntries(
      Array.from({ length: 6 }, (_, j) => [`x${j}`, Float64Array.from({ length: n }, () => u() * 2 - 1)]),
    );
    const z = (i: number) => Object.values(cols).reduce((s, x, j) => s + (j - 2.5) * x[i]!, 0.3);
    const y = Float64Array.from({ length: n }, (_, i) => (u() < 1 / (1 + Math.exp(-z(i))) ? 1 : 0));
    const data = dataset(cols);
    const exact = await fitLogistic({ data, y }, { l2: 1, ...precise });
    const iterations: number[] = [];
    const model = await fitLogistic(
      { data, y },
      { l2: 1, onIteration: (_, loss) => iterations.push(loss), tol: 1e-12 },
    );
    expect(model.converged).toBe(true);
    expect(model.iterations).toBeLessThan(exact.iterations);
    // The last step's relative reduction on the summed loss is what stopped it.
    const [before, after] = [iterations.at(-2)!, iterations.at(-1)!];
    expect((before - after) / Math.max(before, after, 1 / n)).toBeLessThanOrEqual(2.220446049250313e-9);
    // The summed objective is within ftol-sized distance of the optimum: same model to float32.
    expect(model.trainLoss - exact.trainLoss).toBeLessThan(1e-8 * exact.trainLoss);
    expectClose(rowsOf(model), rowsOf(exact), 1e-3);
  });

  it("stays finite on perfectly separable data, and still matches the reference", async () => {
    const x = Float64Array.from({ length: 40 }, (_, i) => (i - 19.5) / 10);
    const y = Float64Array.from(x, (v) => (v > 0 ? 1 : 0));
    const data = dataset({ x });
    const model = await fitLogistic({ data, y }, { l2: 1, ...precise });
    expect(model.converged).toBe(true);
    expectClose(rowsOf(model), gradientDescent(data, y, 2, 1), 1e-6);
    const { classIndex } = predictLinear(model, data);
    expect(Array.from(classIndex!)).toEqual(Array.from(y));
    const weak = await fitLogistic({ data, y }, { l2: 1e-3, ...precise });
    expect(Number.isFinite(weak.coefficients[0]![0]!)).toBe(true);
    expect(weak.coefficients[0]![0]!).toBeGreaterThan(model.coefficients[0]![0]!);
  });

  it("fits a multinomial model that matches the reference", async () => {
    const u = uniform(5);
    const n = 150;
    const centers = [
      [0, 0],
      [2, 1],
      [0, 2],
    ];
    const y = Float64Array.from({ length: n }, (_, i) => i % 3);
    const a = Float64Array.from(y, (k) => centers[k]![0]! + u() * 2 - 1);
    const b = Float64Array.from(y, (k) => centers[k]![1]! + u() * 2 - 1);
    const data = dataset({ a, b });
    const model = await fitLogistic({ data, y }, { l2: 0.5, ...precise });
    expect(model).toMatchObject({ task: "multiclass", numClasses: 3, converged: true });
    expect(model.coefficients).toHaveLength(3);
    expectClose(rowsOf(model), gradientDescent(data, y, 3, 0.5), 1e-6);
    const { probabilities, classIndex } = predictLinear(model, data);
    for (let i = 0; i < n; i++) {
      const row = Array.from(probabilities!.subarray(i * 3, i * 3 + 3));
      expect(row.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 12);
      expect(classIndex![i]).toBe(row.indexOf(Math.max(...row)));
    }
    const accuracy = Array.from(classIndex!).filter((k, i) => k === y[i]).length / n;
    expect(accuracy).toBeGreaterThan(0.8);
  });

  it("labels p = 0.5 as class 0, and p just above as class 1", () => {
    const model: LinearModelJSON = {
      format: "dagwood.linear/1",
      kind: "logistic",
      task: "binary",
      featureNames: ["x"],
      coefficients: [[1]],
      intercepts: [0],
      numClasses: 2,
      l2: 1,
      trainLoss: 0,
      iterations: 0,
      converged: true,
    };
    const out = predictLinear(model, dataset({ x: [0, 1e-9, -1e-9] }));
    expect(Array.from(out.classIndex!)).toEqual([0, 1, 0]);
    expect(Array.from(out.probabilities!.subarray(0, 2))).toEqual([0.5, 0.5]);
  });

  it("is deterministic, leaves constant columns at 0, and refuses bad input", async () => {
    const x = Float64Array.from({ length: 30 }, (_, i) => Math.sin(i));
    const data = dataset({ x, k: new Float64Array(30) });
    const y = Float64Array.from(x, (v, i) => (v + 0.3 * Math.cos(3 * i) > 0 ? 1 : 0));
    const a = await fitLogistic({ data, y });
    const b = await fitLogistic({ data, y });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(a.coefficients[0]![1]).toBe(0);
    await expect(fitLogistic({ data, y: new Float64Array(30) })).rejects.toThrow(/at least 2 classes/);
    await expect(fitLogistic({ data, y: y.map((v) => v + 0.5) })).rejects.toThrow(/integers/);
    await expect(
      fitLogistic({ data: dataset({ x: [1, Number.POSITIVE_INFINITY] }), y: Float64Array.from([0, 1]) }),
    ).rejects.toThrow(/non-finite value at row 1/);
  });

  it("stops when cancelled", async () => {
    const controller = new AbortController();
    controller.abort();
    const data = dataset({ x: [0, 1, 2, 3] });
    await expect(
      fitLogistic({ data, y: Float64Array.from([0, 1, 0, 1]) }, { signal: controller.signal }),
    ).rejects.toThrow(/Training was cancelled/);
  });
});
