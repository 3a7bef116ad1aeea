import { describe, expect, it } from "vitest";
import { fitMlp, type MlpFitOptions, predictMlp, selectBackend } from "./mlp";
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
