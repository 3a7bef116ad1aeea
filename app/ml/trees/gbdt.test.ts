import { describe, expect, it } from "vitest";
import { mulberry32 } from "./binning";
import { fitGbdt, type GbdtParams } from "./gbdt";
import { InlineTreePool, type TreePool, WorkerTreePool } from "./pool";
import { predict, predictProba, predictRaw } from "./predict";
import { accuracy, dataset, gaussian, numeric, penguins, take, trainTestRows } from "./testing";
import { modelFromJSON, modelToJSON, type TrainingData } from "./types";

function regressionData(n: number, seed: number) {
  const rand = mulberry32(seed);
  const noise = gaussian(rand);
  const x1 = Float64Array.from({ length: n }, () => rand() * 10);
  const x2 = Float64Array.from({ length: n }, () => rand());
  const y = Float64Array.from(x1, (v) => v + 0.1 * noise());
  return { data: dataset(numeric("x1", x1), numeric("x2", x2)), y };
}

/** Two features, three separable classes (by x1 bands), x2 noise with some NaN. */
function classData(n: number, seed: number, classes: number) {
  const rand = mulberry32(seed);
  const x1 = Float64Array.from({ length: n }, () => rand() * classes);
  const x2 = Float64Array.from({ length: n }, () => (rand() < 0.1 ? Number.NaN : rand()));
  const y = Float64Array.from(x1, (v) => Math.floor(v));
  return { data: dataset(numeric("x1", x1), numeric("x2", x2)), y, x1 };
}

describe("fitGbdt", () => {
  it("computes Newton leaf values with L2 by hand: −G/(H+λ)·lr", async () => {
    // base = mean(y) = 2; g = F − y = [1, 1, −1, −1], h = 1. Left: G = 2, H = 2.
    const train: TrainingData = {
      data: dataset(numeric("x", [0, 0, 1, 1])),
      y: Float64Array.of(1, 1, 3, 3),
      task: "regression",
    };
    const model = await fitGbdt(
      train,
      { trees: 1, learningRate: 0.5, maxDepth: 1, l2: 1, minSamplesLeaf: 1 },
      { pool: "inline" },
    );
    expect(model.baseScore).toEqual([2]);
    const tree = model.trees[0]!;
    expect(Array.from(tree.feature)).toEqual([0, -1, -1]);
    expect(tree.threshold[0]).toBe(0.5);
    expect(tree.leafValue[1]).toBe(Math.fround((-2 / 3) * 0.5));
    expect(tree.leafValue[2]).toBe(Math.fround((2 / 3) * 0.5));
    // Gain: G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ) = 4/3 + 4/3 − 0.
    expect(tree.gain[0]).toBeCloseTo(8 / 3, 10);
    expect(Array.from(predictRaw(model, train.data))).toEqual([
      Math.fround((-2 / 3) * 0.5) + 2,
      Math.fround((-2 / 3) * 0.5) + 2,
      Math.fround((2 / 3) * 0.5) + 2,
      Math.fround((2 / 3) * 0.5) + 2,
    ]);
  });

  it("fits y = x1 + noise to a low RMSE", async () => {
    const { data, y } = regressionData(4000, 1);
    const test = regressionData(1000, 2);
    const model = await fitGbdt({ data, y, task: "regression" }, { trees: 200, learningRate: 0.1 });
    const pred = predict(model, test.data);
    let se = 0;
    for (let i = 0; i < pred.length; i++) se += (pred[i]! - test.y[i]!) ** 2;
    expect(Math.sqrt(se / pred.length)).toBeLessThan(0.2);
  });

  it("separates binary classes (logistic) and learns where missing values go", async () => {
    const { data, y } = classData(3000, 3, 2);
    const test = classData(1000, 4, 2);
    const model = await fitGbdt({ data, y, task: "binary" }, { trees: 50 });
    expect(model.postTransform).toBe("logistic");
    expect(model.numOutputs).toBe(1);
    expect(accuracy(predict(model, test.data), test.y)).toBeGreaterThan(0.98);
    const proba = predictProba(model, test.data);
    for (let i = 0; i < test.data.rows; i++) expect(proba[2 * i]! + proba[2 * i + 1]!).toBeCloseTo(1, 12);
  });

  it("separates three classes with softmax, one tree per class per round", async () => {
    const { data, y } = classData(3000, 5, 3);
    const test = classData(1000, 6, 3);
    const model = await fitGbdt({ data, y, task: "multiclass", numClasses: 3 }, { trees: 30 });
    expect(model.trees.length).toBe(90);
    expect(model.trees.map((t) => t.output).slice(0, 6)).toEqual([0, 1, 2, 0, 1, 2]);
    expect(accuracy(predict(model, test.data), test.y)).toBeGreaterThan(0.97);
  });

  it("reaches ≥ 0.95 test accuracy on penguins", async () => {
    const p = penguins();
    const { train, test } = trainTestRows(p.data.rows, 0.25, 7);
    const tr = take(p.data, p.y, train);
    const te = take(p.data, p.y, test);
    const model = await fitGbdt(
      { data: tr.data, y: tr.y, task: "multiclass", numClasses: 3 },
      { trees: 100, minSamplesLeaf: 5, seed: 7 },
    );
    expect(accuracy(predict(model, te.data), te.y)).toBeGreaterThanOrEqual(0.95);
  });

  it("streams per-iteration losses that fall, and stops early on a validation fraction", async () => {
    const rand = mulberry32(9);
    const n = 3000;
    const x = Float64Array.from({ length: n }, () => rand());
    // Labels mostly noise: the validation loss soon stops improving.
    const y = Float64Array.from(x, (v) => (rand() < 0.3 + 0.4 * v ? 1 : 0));
    const losses: { trainLoss: number; validLoss?: number }[] = [];
    const model = await fitGbdt(
      { data: dataset(numeric("x", x)), y, task: "binary" },
      { trees: 500, learningRate: 0.3, earlyStopping: { validationFraction: 0.2, patience: 5 } },
      {
        onIteration: (i, l) => {
          losses[i] = l;
        },
      },
    );
    expect(losses.length).toBeLessThan(500);
    expect(model.iterations).toBe(losses.length - 5);
    expect(model.trees.length).toBe(model.iterations);
    expect(losses.every((l) => Number.isFinite(l.trainLoss) && Number.isFinite(l.validLoss))).toBe(true);
    expect(losses[losses.length - 1]!.trainLoss).toBeLessThan(losses[0]!.trainLoss);
  });

  it("is deterministic for a seed, for any number of workers", async () => {
    const multi = classData(20_000, 11, 3);
    const binary = classData(20_000, 12, 2);
    // [data, params, whether the seed draws anything (rows, features, validation rows)]
    const cases: [TrainingData, GbdtParams, boolean][] = [
      [
        { data: multi.data, y: multi.y, task: "multiclass", numClasses: 3 },
        { trees: 8, subsample: 0.7, colsample: 0.5, maxLeaves: 7, seed: 3 },
        true,
      ],
      [{ data: binary.data, y: binary.y, task: "binary" }, { trees: 8, maxDepth: 4, seed: 3 }, false],
      [
        { data: binary.data, y: binary.x1, task: "regression" },
        { trees: 8, seed: 3, earlyStopping: true },
        true,
      ],
    ];
    const workers = new WorkerTreePool(2);
    try {
      for (const [train, params, seeded] of cases) {
        const a = JSON.stringify(modelToJSON(await fitGbdt(train, params, { pool: "inline" })));
        const b = JSON.stringify(modelToJSON(await fitGbdt(train, params, { pool: new InlineTreePool(3) })));
        const c = JSON.stringify(modelToJSON(await fitGbdt(train, params, { pool: workers })));
        const d = JSON.stringify(
          modelToJSON(await fitGbdt(train, { ...params, seed: 4 }, { pool: "inline" })),
        );
        expect(b).toBe(a);
        expect(c).toBe(a);
        if (seeded) expect(d).not.toBe(a);
        else expect(d).toBe(a);
      }
    } finally {
      await workers.close();
    }
  });

  it("lays out each round's root in the previous round's apply, and a loss listener changes no tree", async () => {
    // Without row subsampling, `apply` fills the next round's records and root histogram in the
    // pass that computes its gradients, so only the first tree sends a `root` message.
    const binary = classData(30_000, 21, 2);
    const rand = mulberry32(22);
    const weights = Float64Array.from({ length: 30_000 }, () => 0.5 + rand());
    const multi = classData(30_000, 23, 3);
    const cases: [TrainingData, GbdtParams, number][] = [
      [{ data: binary.data, y: binary.y, task: "binary" }, { trees: 12, maxDepth: 5 }, 1],
      [
        { data: binary.data, y: binary.y, weights, task: "binary" },
        { trees: 12, maxLeaves: 9, colsample: 0.5 },
        1,
      ],
      [{ data: binary.data, y: binary.x1, task: "regression" }, { trees: 12, maxDepth: 4 }, 1],
      [
        { data: binary.data, y: binary.x1, weights, task: "regression" },
        { trees: 12, earlyStopping: true },
        1,
      ],
      // Softmax: the round's first tree comes laid out, the other K - 1 send `root`.
      [
        { data: multi.data, y: multi.y, task: "multiclass", numClasses: 3 },
        { trees: 6, maxDepth: 3 },
        1 + 5 * 2 + 2,
      ],
      // Row subsampling draws each tree's rows in `root`: one per tree.
      [{ data: binary.data, y: binary.y, task: "binary" }, { trees: 12, subsample: 0.8 }, 12],
    ];
    const workers = new WorkerTreePool(2);
    try {
      for (const [train, params, roots] of cases) {
        const ops: string[] = [];
        const inline = new InlineTreePool(2);
        const counting: TreePool = {
          size: inline.size,
          run: (messages) => {
            ops.push(messages[0]!.op);
            return inline.run(messages);
          },
          close: () => inline.close(),
        };
        const losses: number[] = [];
        const listened = await fitGbdt(train, params, {
          pool: counting,
          onIteration: (_, l) => losses.push(l.trainLoss),
        });
        expect(ops.filter((op) => op === "root")).toHaveLength(roots);
        expect(losses.length).toBeGreaterThan(0);
        expect(losses.every(Number.isFinite)).toBe(true);
        const expected = JSON.stringify(modelToJSON(listened));
        for (const pool of ["inline", new InlineTreePool(3), workers] as const) {
          expect(JSON.stringify(modelToJSON(await fitGbdt(train, params, { pool })))).toBe(expected);
        }
      }
    } finally {
      await workers.close();
    }
  });

  it("honours row weights", async () => {
    const { data, y } = classData(4000, 15, 2);
    // Noisy labels: flip a third, so the leaves are not pure and weights matter.
    const rand = mulberry32(16);
    const noisy = Float64Array.from(y, (v) => (rand() < 0.33 ? 1 - v : v));
    const weights = Float64Array.from(noisy, (v) => (v === 1 ? 3 : 1));
    const plain = await fitGbdt({ data, y: noisy, task: "binary" }, { trees: 20 });
    const weighted = await fitGbdt({ data, y: noisy, weights, task: "binary" }, { trees: 20 });
    const mean = (m: typeof plain) => {
      const p = predictProba(m, data);
      let s = 0;
      for (let i = 0; i < data.rows; i++) s += p[2 * i + 1]!;
      return s / data.rows;
    };
    expect(mean(weighted)).toBeGreaterThan(mean(plain) + 0.1);
  });

  it("runs concurrent fits on the shared pool without mixing them up", async () => {
    const a = classData(30_000, 17, 2);
    const b = classData(30_000, 18, 3);
    const fitA = () => fitGbdt({ data: a.data, y: a.y, task: "binary" }, { trees: 10 });
    const fitB = () => fitGbdt({ data: b.data, y: b.y, task: "multiclass", numClasses: 3 }, { trees: 10 });
    const [ca, cb] = await Promise.all([fitA(), fitB()]);
    expect(JSON.stringify(modelToJSON(ca))).toBe(JSON.stringify(modelToJSON(await fitA())));
    expect(JSON.stringify(modelToJSON(cb))).toBe(JSON.stringify(modelToJSON(await fitB())));
  });

  it("round-trips through JSON and predicts identically", async () => {
    const { data, y } = classData(2000, 12, 2);
    const model = await fitGbdt({ data, y, task: "binary" }, { trees: 20 });
    const back = modelFromJSON(JSON.parse(JSON.stringify(modelToJSON(model))));
    expect(Array.from(predictRaw(back, data))).toEqual(Array.from(predictRaw(model, data)));
    expect(back.trees[0]!.feature).toBeInstanceOf(Int32Array);
  });

  it("keeps thresholds, leaf values and base scores float32-exact, so float32 inputs route alike", async () => {
    const { data, y } = regressionData(3000, 13);
    const model = await fitGbdt({ data, y, task: "regression" }, { trees: 20 });
    for (const v of model.baseScore) expect(Math.fround(v)).toBe(v);
    for (const t of model.trees) {
      for (const v of t.threshold) expect(Math.fround(v)).toBe(v);
      for (const v of t.leafValue) expect(Math.fround(v)).toBe(v);
    }
    const as32 = {
      rows: data.rows,
      features: data.features.map((f) => ({ ...f, values: Float64Array.from(f.values, Math.fround) })),
    };
    expect(Array.from(predictRaw(model, as32))).toEqual(Array.from(predictRaw(model, data)));
  });

  it("stops mid-fit on an abort and rejects with an AbortError", async () => {
    const { data, y } = classData(200_000, 14, 2);
    const controller = new AbortController();
    const fit = fitGbdt({ data, y, task: "binary" }, { trees: 100_000 }, { signal: controller.signal });
    await new Promise((r) => setTimeout(r, 300));
    controller.abort();
    await expect(fit).rejects.toMatchObject({ name: "AbortError" });
  });

  it("refuses an empty table, a constant target and bad labels, saying why", async () => {
    const one = (y: number[], task: TrainingData["task"], x = y.map((_, i) => i)) =>
      fitGbdt({ data: dataset(numeric("x", x)), y: Float64Array.from(y), task }, {}, { pool: "inline" });
    await expect(one([], "regression")).rejects.toThrow(/training table is empty/);
    await expect(one([5, 5, 5], "regression")).rejects.toThrow(/target is constant/);
    await expect(one([1, 1, 1], "binary")).rejects.toThrow(/only one class/);
    await expect(one([0, 2, 1], "binary")).rejects.toThrow(/must be 0 or 1/);
    await expect(one([0, Number.NaN, 1], "regression")).rejects.toThrow(/missing or infinite/);
    await expect(
      fitGbdt({ data: { rows: 2, features: [] }, y: Float64Array.of(0, 1), task: "binary" }),
    ).rejects.toThrow(/No feature columns/);
  });
});
