import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { ColumnTable } from "./dataset";
import { fitMlp, type MlpFitOptions, type MlpModelJSON, predictMlp, selectBackend } from "./mlp";
import { encodeRows, fitPreprocessor, transformFeatures } from "./preprocess";
import { mulberry32 } from "./trees/binning";
import type { Dataset } from "./trees/types";

/** Two uniform features in [-1, 1]; y from `label`. */
function synthetic(n: number, seed: number, label: (a: number, b: number) => number) {
  const rand = mulberry32(seed);
  const a = Float64Array.from({ length: n }, () => rand() * 2 - 1);
  const b = Float64Array.from({ length: n }, () => rand() * 2 - 1);
  const data: Dataset = {
    rows: n,
    features: [
      { name: "a", kind: "numeric", values: a },
      { name: "b", kind: "numeric", values: b },
    ],
  };
  return { data, y: Float64Array.from(a, (x, i) => label(x, b[i]!)) };
}

const base: MlpFitOptions = {
  task: "binary",
  hidden: [16, 16],
  activation: "relu",
  epochs: 60,
  batchSize: 32,
  learningRate: 0.01,
  dropout: 0,
  seed: 1,
  validationFraction: 0,
};

describe("selectBackend", () => {
  it("picks wasm when tfjs-node is not installed, says why, and falls back to cpu on request", async () => {
    const wasm = await selectBackend();
    expect(wasm.name).toBe("wasm");
    expect(wasm.note).toMatch(/@tensorflow\/tfjs-node is not installed/);
    expect(wasm.tf.getBackend()).toBe("wasm");
    const cpu = await selectBackend("cpu");
    expect(cpu.name).toBe("cpu");
    expect(cpu.tf.getBackend()).toBe("cpu");
    expect((await selectBackend()).tf.getBackend()).toBe("wasm");
  });
});

describe("fitMlp / predictMlp", () => {
  it("learns XOR, leaks no tensors, and records the backend and loss curve", async () => {
    const { tf } = await selectBackend();
    const before = tf.memory().numTensors;
    const { data, y } = synthetic(400, 5, (a, b) => (a > 0 !== b > 0 ? 1 : 0));
    const epochs: number[] = [];
    const model = await fitMlp(
      { data, y },
      { ...base, validationFraction: 0.2, onEpoch: (e) => epochs.push(e) },
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(epochs).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(model.training).toMatchObject({ backend: "wasm", epochs: 60, trainRows: 320, validationRows: 80 });
    expect(model.training.valLoss).toHaveLength(60);
    const { classIndex, probabilities } = predictMlp(model, data);
    let right = 0;
    for (let i = 0; i < 400; i++) if (classIndex![i] === y[i]) right++;
    expect(right / 400).toBeGreaterThanOrEqual(0.95);
    for (let i = 0; i < 400; i++)
      expect(probabilities![2 * i]! + probabilities![2 * i + 1]!).toBeCloseTo(1, 12);
    for (const layer of model.layers) expect(layer.weights.every((w) => Math.fround(w) === w)).toBe(true);
  });

  it("predicts natively as the tfjs network does (float32 rounding apart)", async () => {
    const { tf } = await selectBackend();
    const { data, y } = synthetic(200, 6, (a, b) => (a + b > 0.3 ? 2 : a > b ? 1 : 0));
    const model = await fitMlp(
      { data, y },
      { ...base, task: "multiclass", numClasses: 3, activation: "tanh", epochs: 5 },
    );
    const net = tf.sequential();
    model.layers.forEach((l, i) => {
      net.add(
        tf.layers.dense({
          units: l.units,
          activation: i < model.layers.length - 1 ? "tanh" : "softmax",
          ...(i === 0 ? { inputShape: [l.inputs] } : {}),
        }),
      );
    });
    const before = tf.memory().numTensors;
    const expected = tf.tidy(() => {
      net.setWeights(
        model.layers.flatMap((l) => [tf.tensor2d(l.weights, [l.inputs, l.units]), tf.tensor1d(l.bias)]),
      );
      const rows = Float32Array.from({ length: 400 }, (_, k) => data.features[k % 2]!.values[k >> 1]!);
      return (net.predict(tf.tensor2d(rows, [200, 2])) as ReturnType<typeof tf.tensor>).dataSync();
    });
    net.dispose();
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before);
    const native = predictMlp(model, data).probabilities!;
    let max = 0;
    for (let i = 0; i < native.length; i++) max = Math.max(max, Math.abs(native[i]! - expected[i]!));
    expect(max).toBeLessThan(1e-5);
  });

  it("regresses on the standardized target and predicts in the target's units", async () => {
    const { data, y } = synthetic(300, 7, (a, b) => 5000 + 800 * a - 300 * b);
    const model = await fitMlp({ data, y }, { ...base, task: "regression", hidden: [8], epochs: 100 });
    expect(model.output).toBe("identity");
    expect(model.targetScale!.mean).toBeCloseTo(5000, -2);
    const prediction = predictMlp(model, data).prediction!;
    let sse = 0;
    for (let i = 0; i < 300; i++) sse += (prediction[i]! - y[i]!) ** 2;
    expect(Math.sqrt(sse / 300)).toBeLessThan(60);
  });

  it("is deterministic for a seed, dropout included", async () => {
    const { data, y } = synthetic(150, 8, (a) => (a > 0 ? 1 : 0));
    const options = { ...base, dropout: 0.3, epochs: 4, validationFraction: 0.1 };
    const a = await fitMlp({ data, y }, options);
    const b = await fitMlp({ data, y }, options);
    expect(a.layers).toEqual(b.layers);
    expect(a.training.loss).toEqual(b.training.loss);
  });

  it("stops with an AbortError when the signal is aborted", async () => {
    const { data, y } = synthetic(2000, 9, (a) => (a > 0 ? 1 : 0));
    const controller = new AbortController();
    const fit = fitMlp(
      { data, y },
      {
        ...base,
        epochs: 1000,
        signal: controller.signal,
        onEpoch: (e) => {
          if (e === 1) controller.abort();
        },
      },
    );
    await expect(fit).rejects.toMatchObject({ name: "AbortError", message: "Training was cancelled" });
    const { tf } = await selectBackend();
    const before = tf.memory().numTensors;
    await fitMlp({ data, y }, { ...base, epochs: 1 });
    expect(tf.memory().numTensors).toBe(before);
  });

  it("refuses missing values and bad options", async () => {
    const { data, y } = synthetic(20, 10, (a) => (a > 0 ? 1 : 0));
    const holed: Dataset = {
      rows: 20,
      features: [
        {
          name: "a",
          kind: "numeric",
          values: Float64Array.from(data.features[0]!.values, (v, i) => (i === 3 ? Number.NaN : v)),
        },
      ],
    };
    await expect(fitMlp({ data: holed, y }, base)).rejects.toThrow(
      /"a" has a missing or non-finite value at row 3/,
    );
    await expect(fitMlp({ data, y }, { ...base, dropout: 1 })).rejects.toThrow(/dropout/);
    await expect(fitMlp({ data, y }, { ...base, task: "multiclass" })).rejects.toThrow(/numClasses/);
    await expect(fitMlp({ data: { rows: 20, features: [] }, y }, base)).rejects.toThrow(/no features/);
  });
});

/** A numeric column with missing values and two text columns, one capped to 10 categories plus "other". */
function categoricalTable(n: number): { rows: ColumnTable; y: Float64Array } {
  const rand = mulberry32(7);
  const x = new Float64Array(n);
  const city = new Int32Array(n);
  const day = new Int32Array(n);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = i % 17 === 0 ? Number.NaN : rand() * 10 - 3;
    const c = Math.floor(rand() * rand() * 30);
    city[i] = i % 23 === 0 ? -1 : c;
    day[i] = Math.floor(rand() * 7);
    y[i] = (c % 3 === 0 ? 1 : 0) ^ (day[i]! >= 5 ? 1 : 0) ^ (rand() < 0.1 ? 1 : 0);
  }
  const cities = Array.from({ length: 30 }, (_, k) => `c${k}`);
  const days = ["mo", "tu", "we", "th", "fr", "sa", "su"];
  return {
    rows: {
      rows: n,
      columns: [
        { name: "x", kind: "numeric", type: "DOUBLE", values: x },
        { name: "city", kind: "categorical", type: "VARCHAR", codes: city, dictionary: cities },
        { name: "day", kind: "categorical", type: "VARCHAR", codes: day, dictionary: days },
      ],
    },
    y,
  };
}

describe("fitMlp on rows written per minibatch (encodeRows)", () => {
  const { rows, y } = categoricalTable(600);
  const spec = fitPreprocessor(rows, {
    impute: "median",
    imputeValue: 0,
    maxCategories: 10,
    encoding: "onehot",
    scale: "standard",
  });
  const options: MlpFitOptions = {
    ...base,
    hidden: [8],
    epochs: 4,
    dropout: 0.1,
    seed: 3,
    validationFraction: 0.1,
  };
  const digest = (m: MlpModelJSON) =>
    createHash("sha256")
      .update(JSON.stringify([m.layers, m.training.loss, m.training.valLoss, m.featureNames]))
      .digest("hex");

  it("writes the rows transformFeatures gives, in its column order", () => {
    const dense = transformFeatures(spec, rows);
    const encoded = encodeRows(spec, rows);
    expect(encoded.names).toEqual(dense.features.map((f) => f.name));
    expect(encoded.names).toContain("city=<other>");
    const at = [0, 23, 599, 5, 5];
    const out = new Float64Array(at.length * encoded.names.length).fill(7);
    encoded.fill(at, out);
    at.forEach((row, r) => {
      dense.features.forEach((f, j) => {
        expect(out[r * encoded.names.length + j]).toBe(f.values[row]);
      });
    });
    expect(encoded.firstNonFinite()).toBeUndefined();
  });

  it("gives bit-identical weights to the fit on the whole dense matrix", async () => {
    // The digest of the fit made, before minibatches were written on demand, by gathering each
    // minibatch from the whole float32 matrix of transformFeatures's columns (wasm backend).
    const beforeMinibatches = "36ef09d2feee75c36a5ebaff1507f1c2f6bbf9c89f03a62c1e870d8229c8e518";
    const fromRows = await fitMlp({ data: encodeRows(spec, rows), y }, options);
    expect(fromRows.training.backend).toBe("wasm");
    expect(fromRows.featureNames).toHaveLength(19);
    expect(digest(fromRows)).toBe(beforeMinibatches);
    const fromDataset = await fitMlp({ data: transformFeatures(spec, rows), y }, options);
    expect(digest(fromDataset)).toBe(beforeMinibatches);
  });

  it("refuses a feature left missing, naming it and the row", async () => {
    const unimputed = fitPreprocessor(rows, {
      impute: "none",
      imputeValue: 0,
      maxCategories: 10,
      encoding: "onehot",
      scale: "standard",
    });
    const encoded = encodeRows(unimputed, rows);
    expect(encoded.firstNonFinite()).toEqual({ feature: "x", row: 0 });
    await expect(fitMlp({ data: encoded, y }, options)).rejects.toThrow(
      'Feature "x" has a missing or non-finite value at row 0: the network needs imputed features',
    );
  });
});

describe("predictMlp in chunks", () => {
  it("scores more rows than a chunk as a plain float64 forward pass does", async () => {
    const { data, y } = synthetic(5000, 11, (a, b) => (a * b > 0 ? 1 : 0));
    const model = await fitMlp({ data, y }, { ...base, hidden: [4], epochs: 1 });
    const { probabilities, classIndex } = predictMlp(model, data);
    const [hidden, out] = model.layers as [MlpModelJSON["layers"][0], MlpModelJSON["layers"][0]];
    for (const r of [0, 2047, 2048, 4095, 4096, 4999]) {
      const x = [data.features[0]!.values[r]!, data.features[1]!.values[r]!];
      const h = Array.from({ length: 4 }, (_, j) =>
        Math.max(0, hidden.bias[j]! + x[0]! * hidden.weights[j]! + x[1]! * hidden.weights[4 + j]!),
      );
      const z = h.reduce((s, v, j) => s + v * out.weights[j]!, out.bias[0]!);
      const p = 1 / (1 + Math.exp(-z));
      expect(probabilities![r * 2 + 1]).toBeCloseTo(p, 12);
      expect(classIndex![r]).toBe(p > 0.5 ? 1 : 0);
    }
  });
});
