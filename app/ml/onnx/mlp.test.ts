import { describe, expect, it } from "vitest";
import type { CategoricalColumn, ColumnTable, NumericColumn } from "../dataset";
import { fitMlp, type MlpActivation } from "../mlp";
import { type ClassLabel, type MlpDagwoodModel, MODEL_FORMAT, signatureFor } from "../model";
import { fitPreprocessor, transformFeatures } from "../preprocess";
import { mulberry32 } from "../trees/binning";
import type { Task } from "../trees/types";
import { decodeModel } from "./builder";
import { exportModelWithInfo } from "./model";
import { checkModelParity, parityRows } from "./parity";

const N = 400;

/** Raw columns: x (with NaN and ±Infinity), z, and a text column g (with NULLs). */
function rawTable(seed: number): ColumnTable {
  const rand = mulberry32(seed);
  const x = Float64Array.from({ length: N }, (_, i) =>
    i % 41 === 0 ? Number.NaN : i % 53 === 0 ? Number.POSITIVE_INFINITY : rand() * 20 - 10,
  );
  const z = Float64Array.from({ length: N }, () => rand() * 1000);
  const codes = Int32Array.from({ length: N }, (_, i) => (i % 29 === 0 ? -1 : Math.floor(rand() * 4)));
  return {
    rows: N,
    columns: [
      { name: "x", kind: "numeric", type: "DOUBLE", values: x },
      { name: "z", kind: "numeric", type: "DOUBLE", values: z },
      {
        name: "g",
        kind: "categorical",
        type: "VARCHAR",
        codes,
        dictionary: ["red", "green", "blue", "teal"],
      },
    ],
  };
}

async function trainModel(
  task: Task,
  classes: ClassLabel[] | undefined,
  activation: MlpActivation,
  y: (x: number, z: number, g: number) => number,
): Promise<{ model: MlpDagwoodModel; table: ColumnTable }> {
  const table = rawTable(7);
  const [x, z, g] = table.columns as [NumericColumn, NumericColumn, CategoricalColumn];
  const target = Float64Array.from({ length: N }, (_, i) =>
    y(Number.isFinite(x.values[i]!) ? x.values[i]! : 0, z.values[i]!, g.codes[i]!),
  );
  const spec = fitPreprocessor(table, { encoding: "onehot", scale: "standard" });
  const mlp = await fitMlp(
    { data: transformFeatures(spec, table), y: target },
    {
      task,
      ...(classes ? { numClasses: classes.length } : {}),
      hidden: [12, 6],
      activation,
      epochs: 10,
      batchSize: 32,
      learningRate: 0.01,
      dropout: 0,
      seed: 4,
      validationFraction: 0,
    },
  );
  const model: MlpDagwoodModel = {
    kind: MODEL_FORMAT,
    estimator: "mlp",
    task,
    target: "y",
    targetType: "DOUBLE",
    ...(classes ? { classes } : {}),
    signature: signatureFor(spec, task, classes),
    preprocess: spec,
    mlp,
    trainedRows: N,
    params: {},
  };
  return { model, table };
}

describe("MLP ONNX export", () => {
  const cases: [
    string,
    Task,
    ClassLabel[] | undefined,
    MlpActivation,
    (x: number, z: number, g: number) => number,
  ][] = [
    [
      "regression in the thousands",
      "regression",
      undefined,
      "relu",
      (x, z, g) => 4000 + 100 * x + z + 50 * g,
    ],
    ["binary with text classes", "binary", ["no", "yes"], "tanh", (x, _z, g) => (x > 0 || g === 2 ? 1 : 0)],
    [
      "multiclass with integer classes",
      "multiclass",
      [3, 5, 8],
      "sigmoid",
      (x, z) => (x > 3 ? 2 : z > 500 ? 1 : 0),
    ],
  ];
  for (const [name, task, classes, activation, y] of cases) {
    it(`matches predictTable to ≤ 1e-5 with 100 % labels: ${name}`, async () => {
      const { model, table } = await trainModel(task, classes, activation, y);
      const { bytes } = exportModelWithInfo(model);
      const ops = decodeModel(bytes).graph.node.map((n) => n.op_type);
      expect(ops.filter((op) => op === "MatMul")).toHaveLength(3);
      expect(ops).toContain({ relu: "Relu", tanh: "Tanh", sigmoid: "Sigmoid" }[activation]);
      const parity = await checkModelParity(bytes, model, parityRows(model, table));
      console.log(
        `mlp onnx ${name}: max |diff| ${parity.maxAbsDiff.toExponential(2)}, labels ${parity.labelAgreement}`,
      );
      expect(parity.rows).toBe(N + 3);
      expect(parity.passed).toBe(true);
      expect(parity.labelAgreement).toBe(1);
      if (classes) expect(parity.onnx.label!.every((l) => classes.includes(l))).toBe(true);
    });
  }

  it("runs in float32 too (precision float): within 1e-5, but outside the parity rule", async () => {
    const { model, table } = await trainModel("multiclass", ["a", "b", "c"], "relu", (x, z) =>
      x > 3 ? 2 : z > 500 ? 1 : 0,
    );
    const { bytes } = exportModelWithInfo(model, { precision: "float" });
    const parity = await checkModelParity(bytes, model, parityRows(model, table));
    expect(parity.maxAbsDiff).toBeLessThanOrEqual(1e-5);
    // float32 arithmetic is not the native model's: the one parity rule (1e-9) refuses it.
    expect(parity.maxAbsDiff).toBeGreaterThan(1e-9);
    expect(parity.passed).toBe(false);
  });

  it("refuses a network whose inputs do not match the preprocessing", async () => {
    const { model } = await trainModel("binary", [0, 1], "relu", (x) => (x > 0 ? 1 : 0));
    const broken = { ...model, mlp: { ...model.mlp, featureNames: model.mlp.featureNames.slice(1) } };
    expect(() => exportModelWithInfo(broken)).toThrow(/the model is inconsistent/);
    const wrongWidth = {
      ...model,
      mlp: { ...model.mlp, layers: [{ ...model.mlp.layers[0]!, inputs: 2 }, ...model.mlp.layers.slice(1)] },
    };
    expect(() => exportModelWithInfo(wrongWidth)).toThrow(/Layer 0 takes 2 inputs/);
  });
});
