import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { mulberry32 } from "../trees/binning";
import { fitForest, fitGbdt, fitTree } from "../trees/index";
import { categorical, dataset, gaussian, numeric, penguins, take, trainTestRows } from "../trees/testing";
import { type Dataset, FLOAT32_MAX, type Task, type TreeEnsembleModel } from "../trees/types";
import { decodeModel } from "./builder";
import { checkTreeParity, featureMatrix, nativeTreePredictions } from "./parity";
import { exportTreeEnsemble, TREE_CHUNK } from "./trees";

type Kind = TreeEnsembleModel["kind"];

function fitModel(kind: Kind, data: Dataset, y: Float64Array, task: Task, numClasses: number) {
  const train = { data, y, task, numClasses };
  if (kind === "gbdt") return fitGbdt(train, { trees: 60, minSamplesLeaf: 5, seed: 1 }, { pool: "inline" });
  if (kind === "forest") return fitForest(train, { trees: 25, seed: 1 }, { pool: "inline" });
  return fitTree(train, { seed: 1 }, { pool: "inline" });
}

/** Numeric and categorical features with ~15 % missing values, and labels for each task. */
function synthetic(n: number, seed: number) {
  const rand = mulberry32(seed);
  const g = gaussian(rand);
  const missing = (p: number, v: () => number) =>
    Array.from({ length: n }, () => (rand() < p ? Number.NaN : v()));
  const x0 = missing(0.15, g);
  const x1 = missing(0.1, () => 3 * g());
  const x2 = missing(0.2, () => 1000 * rand());
  const c = missing(0.1, () => Math.floor(rand() * 4));
  const score = Float64Array.from(
    { length: n },
    (_, i) =>
      (Number.isNaN(x0[i]!) ? 1.5 : Math.sin(2 * x0[i]!)) +
      0.3 * (x1[i]! || 0) +
      (c[i] === 2 ? 1 : 0) +
      (x2[i]! > 500 ? 0.5 : 0) +
      0.2 * g(),
  );
  return {
    data: dataset(numeric("x0", x0), numeric("x1", x1), numeric("x2", x2), categorical("c", c)),
    y: {
      regression: score,
      binary: Float64Array.from(score, (v) => (v > 0.4 ? 1 : 0)),
      multiclass: Float64Array.from(score, (v) => (v < -0.3 ? 0 : v < 0.9 ? 1 : 2)),
    } as Record<Task, Float64Array>,
  };
}

/** The penguins with one task per target: species (multiclass), Adelie or not (binary), beak depth (regression). */
function penguinTasks() {
  const { data, y, classes } = penguins();
  const depth = data.features.find((f) => f.name === "beak_depth_mm")!.values;
  const others: Dataset = {
    rows: data.rows,
    features: data.features.filter((f) => f.name !== "beak_depth_mm"),
  };
  return {
    classes,
    tasks: {
      multiclass: { data, y },
      binary: { data, y: Float64Array.from(y, (v) => (v === 0 ? 1 : 0)) },
      // Rows without a target are dropped, as a train block would.
      regression: take(
        others,
        depth,
        Array.from(depth.keys()).filter((i) => !Number.isNaN(depth[i]!)),
      ),
    } as Record<Task, { data: Dataset; y: Float64Array }>,
  };
}

/** Rows of `data` with features knocked out at random (every row gets at least one NaN). */
function withMissing(data: Dataset, seed: number): Dataset {
  const rand = mulberry32(seed);
  const features = data.features.map((f) => ({ ...f, values: Float64Array.from(f.values) }));
  for (let r = 0; r < data.rows; r++) {
    features[Math.floor(rand() * features.length)]!.values[r] = Number.NaN;
    for (const f of features) if (rand() < 0.2) f.values[r] = Number.NaN;
  }
  return { rows: data.rows, features };
}

function concatRows(a: Dataset, b: Dataset): Dataset {
  return {
    rows: a.rows + b.rows,
    features: a.features.map((f, i) => {
      const values = new Float64Array(a.rows + b.rows);
      values.set(f.values);
      values.set(b.features[i]!.values, a.rows);
      return { ...f, values };
    }),
  };
}

const numClassesOf = { regression: 1, binary: 2, multiclass: 3 } as const;
const kinds: Kind[] = ["cart", "forest", "gbdt"];
const tasks: Task[] = ["regression", "binary", "multiclass"];

describe("exportTreeEnsemble parity with onnxruntime", () => {
  const syn = synthetic(1500, 11);
  const { train, test } = trainTestRows(syn.data.rows, 0.3, 5);
  const peng = penguinTasks();

  for (const kind of kinds) {
    for (const task of tasks) {
      it(`${kind} ${task}, synthetic data with missing values`, async () => {
        const fitRows = take(syn.data, syn.y[task], train);
        const model = await fitModel(kind, fitRows.data, fitRows.y, task, numClassesOf[task]);
        const held = take(syn.data, syn.y[task], test).data;
        const rows = concatRows(held, withMissing(held, 3));
        const parity = await checkTreeParity(exportTreeEnsemble(model), model, rows);
        expect(parity.rows).toBe(2 * test.length);
        expect(parity.maxAbsDiff).toBeLessThanOrEqual(1e-12);
        expect(parity.labelAgreement).toBe(1);
        expect(parity.passed).toBe(true);
      });

      it(`${kind} ${task}, penguins`, async () => {
        const { data, y } = peng.tasks[task];
        const split = trainTestRows(data.rows, 0.25, 7);
        const fitRows = take(data, y, split.train);
        const model = await fitModel(kind, fitRows.data, fitRows.y, task, numClassesOf[task]);
        const rows = concatRows(data, withMissing(data, 9));
        const parity = await checkTreeParity(exportTreeEnsemble(model), model, rows);
        expect(parity.maxAbsDiff).toBeLessThanOrEqual(1e-12);
        expect(parity.labelAgreement).toBe(1);
        expect(parity.passed).toBe(true);
      });
    }
  }

  it("sums ensembles of more trees than TREE_CHUNK in chunks, with the same exact parity", async () => {
    const gbdt = await fitGbdt(
      { data: syn.data, y: syn.y.multiclass, task: "multiclass", numClasses: 3 },
      { trees: 100, minSamplesLeaf: 5, seed: 1 },
      { pool: "inline" },
    );
    const forest = await fitForest(
      { data: syn.data, y: syn.y.binary, task: "binary", numClasses: 2 },
      { trees: TREE_CHUNK + 44, seed: 1 },
      { pool: "inline" },
    );
    for (const model of [gbdt, forest]) {
      expect(model.trees.length).toBeGreaterThan(TREE_CHUNK);
      const bytes = exportTreeEnsemble(model);
      const ensembles = decodeModel(bytes).graph.node.filter((n) => n.op_type === "TreeEnsembleRegressor");
      expect(ensembles).toHaveLength(Math.ceil(model.trees.length / TREE_CHUNK));
      const parity = await checkTreeParity(bytes, model, withMissing(syn.data, 4));
      // The scores are exact sums on both sides: a forest's probabilities (its mean scores) are not
      // a bit apart; GBDT's go through two softmax implementations.
      expect(parity.maxAbsDiff).toBeLessThanOrEqual(model === forest ? 0 : 1e-15);
      expect(parity.labelMismatches).toBe(0);
      expect(parity.passed).toBe(true);
    }
  });

  it("refuses an ai.onnx.ml opset without float64 thresholds", async () => {
    const model = await fitModel("gbdt", syn.data, syn.y.binary, "binary", 2);
    expect(() => exportTreeEnsemble(model, { target: { opsets: { "ai.onnx.ml": 2 } } })).toThrow(
      /ai\.onnx\.ml opset 3 or 4 .*has 2/,
    );
  });

  it("maps class indices to class names with LabelEncoder (strings and numbers)", async () => {
    const { data, y } = peng.tasks.multiclass;
    const model = await fitModel("gbdt", data, y, "multiclass", 3);
    const named = await checkTreeParity(exportTreeEnsemble(model, { classes: peng.classes }), model, data);
    const native = nativeTreePredictions(model, data).labels!;
    expect(named.labelAgreement).toBe(1);
    expect(named.onnx.names).toEqual(Array.from(native, (k) => peng.classes[k]));

    const numbered = await checkTreeParity(exportTreeEnsemble(model, { classes: [10, 20, -5] }), model, data);
    expect(numbered.onnx.names).toEqual(Array.from(native, (k) => BigInt([10, 20, -5][k]!)));
    expect(() => exportTreeEnsemble(model, { classes: ["a", "b"] })).toThrow(/3 classes but 2 class names/);
  });

  it("takes one [N,1] input per raw column when asked", async () => {
    const { data, y } = peng.tasks.binary;
    const model = await fitModel("forest", data, y, "binary", 2);
    const inputs = model.featureNames.map((name, column) => ({ name, column })).reverse();
    const session = await ort.InferenceSession.create(exportTreeEnsemble(model, { input: inputs }));
    const feeds = Object.fromEntries(
      data.features.map((f) => [
        f.name,
        new ort.Tensor("float64", Float64Array.from(f.values), [data.rows, 1]),
      ]),
    );
    const out = await session.run(feeds);
    await session.release();
    const native = nativeTreePredictions(model, data);
    expect(Array.from(out.label!.data as BigInt64Array, Number)).toEqual(Array.from(native.labels!));
    const proba = out.probabilities!.data as Float64Array;
    for (let i = 0; i < proba.length; i++)
      expect(Math.abs(proba[i]! - native.probabilities![i]!)).toBeLessThan(1e-6);
    expect(session.inputNames).toEqual(model.featureNames.slice().reverse());
  });

  it("describes the graph: inputs, outputs, opsets and metadata", async () => {
    const model = await fitModel("gbdt", syn.data, syn.y.binary, "binary", 2);
    const decoded = decodeModel(exportTreeEnsemble(model, { classes: ["no", "yes"] }));
    expect(decoded.producer_name).toBe("dagwood");
    expect(decoded.graph.input.map((i) => i.name)).toEqual(["features"]);
    expect(decoded.graph.output.map((o) => o.name)).toEqual(["probabilities", "label", "label_index"]);
    expect(decoded.graph.node.map((n) => n.op_type)).toEqual([
      "Cast",
      "TreeEnsembleRegressor",
      "Cast",
      "Add",
      "Gather",
      "ReduceSum",
      "Add",
      "Sigmoid",
      "Sub",
      "Concat",
      "Neg",
      "Concat",
      "ArgMax",
      "LabelEncoder",
    ]);
    expect(decoded.metadata_props).toContainEqual({ key: "dagwood.classes", value: '["no","yes"]' });
  });
});

/** A one-split binary GBDT on x: x <= t → leaf -1, else +1; base score as given. */
function stump(threshold: number, missingGoesLeft: number, baseScore = 0.25): TreeEnsembleModel {
  return {
    format: "dagwood.trees/1",
    kind: "gbdt",
    task: "binary",
    numClasses: 2,
    numOutputs: 1,
    featureNames: ["x"],
    featureKinds: ["numeric"],
    baseScore: [baseScore],
    aggregate: "sum",
    postTransform: "logistic",
    iterations: 1,
    trees: [
      {
        output: 0,
        feature: Int32Array.of(0, -1, -1),
        threshold: Float64Array.of(threshold, 0, 0),
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

describe("exportTreeEnsemble routing edge cases", () => {
  const x = numeric("x", [0.5, Math.fround(0.5000001), Number.NaN, -1e30, 1e30, Number.POSITIVE_INFINITY]);
  const data = dataset(x);

  for (const missingGoesLeft of [0, 1]) {
    it(`sends NaN ${missingGoesLeft ? "left" : "right"} as missingGoesLeft = ${missingGoesLeft} says`, async () => {
      const model = stump(0.5, missingGoesLeft);
      const parity = await checkTreeParity(exportTreeEnsemble(model), model, data);
      expect(parity.maxAbsDiff).toBeLessThanOrEqual(1e-7);
      expect(parity.labelAgreement).toBe(1);
      expect(parity.onnx.labels![2]).toBe(missingGoesLeft ? 0 : 1);
    });
  }

  it("routes the all-left split at FLOAT32_MAX (NaN right, +Infinity right)", async () => {
    const model = stump(FLOAT32_MAX, 0);
    const parity = await checkTreeParity(exportTreeEnsemble(model), model, data);
    expect(parity.onnx.labels).toEqual([0, 0, 1, 0, 0, 1]);
    expect(parity.labelAgreement).toBe(1);
  });

  it("labels an exact tie (p = 0.5) as class 0 on both sides", async () => {
    const model = stump(0.5, 0, 1);
    const parity = await checkTreeParity(exportTreeEnsemble(model), model, data);
    expect(parity.onnx.probabilities!.slice(0, 2)).toEqual(Float64Array.of(0.5, 0.5));
    expect(parity.onnx.labels![0]).toBe(0);
    expect(parity.labelAgreement).toBe(1);
  });

  it("routes values that are not exact in float32 as the native model does", async () => {
    // 0.1 + 2^-55 rounds to float32 0.1f, which is above 0.1: a float32 input would go right.
    const t = 0.1;
    const near = numeric("x", [t, t + 2 ** -55, t - 2 ** -55, 0.1000000001, Math.fround(t)]);
    const model = stump(t, 0);
    const parity = await checkTreeParity(exportTreeEnsemble(model), model, dataset(near));
    expect(parity.onnx.labels).toEqual([0, 1, 0, 1, 1]);
    expect(parity.passed).toBe(true);
  });

  it("fails the check when the exported threshold is one ulp off the native one", async () => {
    const x = 0.3;
    const model = stump(x, 0);
    const below = new Float64Array(1);
    below[0] = x;
    const bits = new BigInt64Array(below.buffer);
    bits[0]! -= 1n; // the next double below 0.3
    const exported = stump(below[0]!, 0);
    const parity = await checkTreeParity(
      exportTreeEnsemble(exported),
      model,
      dataset(numeric("x", [x, 1, -1])),
    );
    expect(parity.passed).toBe(false);
    expect(parity.labelMismatches).toBe(1);
    expect(parity.firstDifference?.row).toBe(0);
    // The same model exported unchanged passes.
    const same = await checkTreeParity(exportTreeEnsemble(model), model, dataset(numeric("x", [x, 1, -1])));
    expect(same.passed).toBe(true);
  });

  it("keeps the feature matrix in the model's column order", () => {
    const model = { ...stump(0.5, 0), featureNames: ["b", "a"] };
    const m = featureMatrix(model, dataset(numeric("a", [1, 2]), numeric("b", [3, 4])));
    expect(Array.from(m.values)).toEqual([3, 1, 4, 2]);
    expect(() => featureMatrix(model, dataset(numeric("a", [1])))).toThrow(/no column "b"/);
  });
});
