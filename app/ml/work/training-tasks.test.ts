import { afterAll, describe, expect, it } from "vitest";
import type { ColumnTable } from "../dataset";
import { fitLogistic, fitRidge, predictLinear } from "../linear";
import { fitMlp } from "../mlp";
import { encodeTarget, type LinearDagwoodModel, MODEL_FORMAT, signatureFor } from "../model";
import { fitPreprocessor, transformFeatures } from "../preprocess";
import { runTrainingTask } from "../training/run-task";
import { closeWorkPool, runTask, startedWorkers } from "./pool";
import type { IterationEvent } from "./training-tasks";

afterAll(() => closeWorkPool());

/** A deterministic uniform [0, 1) stream (LCG). */
function uniform(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** n rows: two numbers (one with NULLs) and a text column; y depends on all three. */
function table(n: number, seed = 1): { rows: ColumnTable; y: Float64Array } {
  const u = uniform(seed);
  const a = Float64Array.from({ length: n }, () => u() * 4 - 2);
  const b = Float64Array.from({ length: n }, (_, i) => (i % 17 === 0 ? Number.NaN : u() * 10));
  const codes = Int32Array.from({ length: n }, () => Math.floor(u() * 4));
  const y = Float64Array.from({ length: n }, (_, i) => {
    const z = a[i]! - 0.2 * (Number.isNaN(b[i]!) ? 5 : b[i]!) + [0, 1, -1, 0.5][codes[i]!]! + 0.5;
    return u() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  });
  return {
    rows: {
      rows: n,
      columns: [
        { name: "a", kind: "numeric", type: "DOUBLE", values: a },
        { name: "b", kind: "numeric", type: "DOUBLE", values: b },
        { name: "g", kind: "categorical", type: "VARCHAR", codes, dictionary: ["p", "q", "r", "s"] },
      ],
    },
    y,
  };
}

const linearOptions = { impute: "median", maxCategories: 64, encoding: "onehot", scale: "standard" } as const;

describe("training tasks in work workers", () => {
  it("fits logistic regression in a worker to the model the same fit gives in this thread, streaming each iteration", async () => {
    const { rows, y } = table(2000);
    const spec = fitPreprocessor(rows, linearOptions);
    const here = await fitLogistic({ data: transformFeatures(spec, rows), y }, { l2: 1, maxIter: 100 });
    const events: IterationEvent[] = [];
    const out = await runTrainingTask<"trainLinear", IterationEvent>(
      "trainLinear",
      { estimator: "logistic", rows, y, preprocess: { spec }, l2: 1, maxIter: 100, numClasses: 2 },
      new AbortController().signal,
      (e) => events.push(e),
    );
    expect(out.linear).toEqual(here);
    expect(out.features).toBe(spec.features.length + 3); // a, b, and g one-hot with 4 categories
    expect(out.losses).toHaveLength(here.iterations);
    // Events arrive in order; any still in flight when the result came are in out.losses.
    expect(events.map((e) => e.iteration)).toEqual(events.map((_, i) => i));
    expect(events.map((e) => e.loss)).toEqual(out.losses.slice(0, events.length));
  });

  it("fits without the dense one-hot matrix to the models the dense columns give: multiclass logistic and the MLP", async () => {
    const { rows, y } = table(1500, 5);
    // A constant column, and a text column with more categories than maxCategories (an "other" column).
    const city = Int32Array.from({ length: rows.rows }, (_, i) => (i % 29 === 0 ? -1 : (i * 7) % 40));
    const wide: ColumnTable = {
      rows: rows.rows,
      columns: [
        ...rows.columns,
        { name: "k", kind: "numeric", type: "DOUBLE", values: new Float64Array(rows.rows).fill(3) },
        {
          name: "city",
          kind: "categorical",
          type: "VARCHAR",
          codes: city,
          dictionary: Array.from({ length: 40 }, (_, j) => `c${j}`),
        },
      ],
    };
    const classes = Float64Array.from(y, (v, i) => v + (city[i]! % 3 === 0 ? 1 : 0));
    const spec = fitPreprocessor(wide, { ...linearOptions, maxCategories: 8 });
    const dense = transformFeatures(spec, wide);
    const here = await fitLogistic({ data: dense, y: classes }, { l2: 1, maxIter: 60, numClasses: 3 });
    const out = await runTrainingTask(
      "trainLinear",
      {
        estimator: "logistic",
        rows: wide,
        y: classes,
        preprocess: { spec },
        l2: 1,
        maxIter: 60,
        numClasses: 3,
      },
      new AbortController().signal,
    );
    expect(out.linear).toEqual(here);
    expect(out.features).toBe(dense.features.length);
    expect(dense.features.map((f) => f.name)).toContain("city=<other>");
    // Independently of the worker: the dense columns holding one value.
    const constant = dense.features
      .filter((f) => f.values.every((v) => v === f.values[0]))
      .map((f) => f.name);
    expect(constant).toEqual(["k"]);
    expect(out.constant).toEqual(constant);

    const options = {
      task: "binary" as const,
      hidden: [6],
      activation: "relu" as const,
      epochs: 2,
      batchSize: 64,
      learningRate: 0.01,
      dropout: 0,
      seed: 4,
      validationFraction: 0.1,
    };
    const mlpHere = await fitMlp({ data: dense, y }, options);
    const mlpOut = await runTrainingTask(
      "trainMlp",
      { rows: wide, y, preprocess: { spec }, options },
      new AbortController().signal,
    );
    expect(mlpOut.mlp.layers).toEqual(mlpHere.layers);
    expect(mlpOut.mlp.training.loss).toEqual(mlpHere.training.loss);
    expect(mlpOut.mlp.featureNames).toEqual(mlpHere.featureNames);
    expect(mlpOut.features).toBe(dense.features.length);
  });

  it("fits a search fold: preprocessing on the fold's rows only, then predicts the held-out rows", async () => {
    const { rows, y } = table(600, 2);
    const train: ColumnTable = {
      rows: 400,
      columns: rows.columns.map((c) =>
        c.kind === "numeric"
          ? { ...c, values: c.values.slice(0, 400) }
          : { ...c, codes: c.codes.slice(0, 400) },
      ),
    };
    const test: ColumnTable = {
      rows: 200,
      columns: rows.columns.map((c) =>
        c.kind === "numeric" ? { ...c, values: c.values.slice(400) } : { ...c, codes: c.codes.slice(400) },
      ),
    };
    const out = await runTask("trainLinear", {
      estimator: "linear",
      rows: train,
      y: y.slice(0, 400),
      preprocess: { options: linearOptions },
      test,
      l2: 1,
      maxIter: 1,
    });
    // The same fit here, on preprocessing fitted on the 400 training rows alone.
    const spec = fitPreprocessor(train, linearOptions);
    const ridge = fitRidge({ data: transformFeatures(spec, train), y: y.slice(0, 400) }, { l2: 1 });
    expect(out.linear).toEqual(ridge);
    expect(Array.from(out.predicted!.prediction!)).toEqual(
      Array.from(predictLinear(ridge, transformFeatures(spec, test)).prediction!),
    );
  });

  it("exports to ONNX and checks parity in a worker; an export failure comes back as such", async () => {
    const { rows, y } = table(500, 3);
    const spec = fitPreprocessor(rows, linearOptions);
    const linear = await fitLogistic({ data: transformFeatures(spec, rows), y }, { l2: 1 });
    const target = encodeTarget({ name: "y", kind: "numeric", type: "BIGINT", values: y }, "classification");
    const model: LinearDagwoodModel = {
      kind: MODEL_FORMAT,
      estimator: "logistic",
      task: "binary",
      target: "y",
      targetType: "BIGINT",
      classes: target.classes!,
      signature: signatureFor(spec, "binary", target.classes),
      preprocess: spec,
      linear,
      trainedRows: rows.rows,
      params: {},
    } as unknown as LinearDagwoodModel;
    const out = await runTask("exportOnnx", { model, rows, options: {} });
    if ("exportError" in out) throw new Error(out.exportError);
    expect(out.parity).toMatchObject({ passed: true, labelAgreement: 1 });
    // The training rows plus probe rows (all missing, ±Infinity, unseen categories).
    expect(out.parity.rows).toBeGreaterThan(rows.rows);
    expect(out.bytes).toBeInstanceOf(Uint8Array);
    expect(out.opsets["ai.onnx.ml"]).toBe(3);

    const bad = await runTask("exportOnnx", {
      model,
      rows,
      options: { target: { opsets: { "ai.onnx.ml": 1 } } },
    });
    expect(bad).toMatchObject({ exportError: expect.stringMatching(/ai\.onnx\.ml/) });
  });

  it("stops a fit when cancelled: the worker is terminated and the next task gets a fresh one", async () => {
    const { rows, y } = table(200_000, 4);
    const spec = fitPreprocessor(rows, linearOptions);
    const controller = new AbortController();
    let iterations = 0;
    const run = runTrainingTask<"trainLinear", IterationEvent>(
      "trainLinear",
      // A tiny penalty and maxIter 100,000: the fit runs far past the two iterations it is given.
      { estimator: "logistic", rows, y, preprocess: { spec }, l2: 1e-9, maxIter: 100_000, numClasses: 2 },
      controller.signal,
      () => {
        iterations++;
        if (iterations === 2) controller.abort();
      },
    );
    await expect(run).rejects.toThrow(/Training was cancelled/);
    expect(iterations).toBeLessThan(100);
    const small = table(300, 5);
    const again = await runTask("trainLinear", {
      estimator: "linear",
      rows: small.rows,
      y: small.y,
      preprocess: { options: linearOptions },
      l2: 1,
      maxIter: 1,
    });
    expect(again.linear.kind).toBe("ridge");
    expect(startedWorkers()).toBeGreaterThan(0);
  });
});
