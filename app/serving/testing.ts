/**
 * Small real models for the serving tests and bench: a GBDT trained on a
 * synthetic table (a numeric column `x` and a text column `color`) and
 * exported with the app's own ONNX exporter, so the server sees exactly
 * what a deploy pushes. `shift` moves the target, so two versions trained
 * with different shifts answer differently for the same row.
 */
import type { CategoricalColumn, ColumnTable, NumericColumn } from "../ml/dataset";
import { type DagwoodModel, encodeTarget, MODEL_FORMAT, signatureFor } from "../ml/model";
import { exportModel } from "../ml/onnx/model";
import { fitPreprocessor, transformFeatures } from "../ml/preprocess";
import { fitGbdt, modelToJSON } from "../ml/trees";

const COLORS = ["red", "green", "blue"];

export interface TestModelOptions {
  task?: "regression" | "classification";
  /** Added to the regression target; for classification it moves the class boundary. */
  shift?: number;
  rows?: number;
  trees?: number;
  maxDepth?: number;
}

function syntheticTable(rows: number, task: "regression" | "classification", shift: number): ColumnTable {
  const x = new Float64Array(rows);
  const codes = new Int32Array(rows);
  const target = new Float64Array(rows);
  const label = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    x[i] = ((i * 7919) % 1000) / 100; // 0..10, spread without a random generator
    codes[i] = i % 3;
    const bonus = codes[i] === 0 ? 3 : 0;
    target[i] = 2 * x[i]! + bonus + shift;
    label[i] = x[i]! + bonus > 5 + shift ? 1 : 0;
  }
  const xCol: NumericColumn = { name: "x", kind: "numeric", type: "DOUBLE", values: x };
  const colorCol: CategoricalColumn = {
    name: "color",
    kind: "categorical",
    type: "VARCHAR",
    codes,
    dictionary: COLORS,
  };
  const y: NumericColumn | CategoricalColumn =
    task === "regression"
      ? { name: "y", kind: "numeric", type: "DOUBLE", values: target }
      : { name: "y", kind: "categorical", type: "VARCHAR", codes: label, dictionary: ["low", "high"] };
  return { rows, columns: [xCol, colorCol, y] };
}

/** Trains and exports a tiny model: `{ model, bytes }` (ONNX inputs `x`, numeric as the exporter types it, and `color` BYTES, [-1, 1]). */
export async function trainTestModel(
  options: TestModelOptions = {},
): Promise<{ model: DagwoodModel; bytes: Uint8Array }> {
  const task = options.task ?? "regression";
  const table = syntheticTable(options.rows ?? 300, task, options.shift ?? 0);
  const targetColumn = table.columns[2]!;
  const features = { rows: table.rows, columns: table.columns.slice(0, 2) };
  const encoded = encodeTarget(targetColumn, task);
  const spec = fitPreprocessor(features);
  const ensemble = await fitGbdt(
    {
      data: transformFeatures(spec, features),
      y: encoded.y,
      task: encoded.task,
      numClasses: encoded.classes?.length,
    },
    { trees: options.trees ?? 10, maxDepth: options.maxDepth ?? 3, minSamplesLeaf: 5, seed: 1 },
    { pool: "inline" },
  );
  const model: DagwoodModel = {
    kind: MODEL_FORMAT,
    estimator: "gbdt",
    task: encoded.task,
    target: "y",
    targetType: targetColumn.type,
    ...(encoded.classes ? { classes: encoded.classes } : {}),
    signature: signatureFor(spec, encoded.task, encoded.classes),
    preprocess: spec,
    ensemble: modelToJSON(ensemble),
    trainedRows: table.rows,
    params: {},
  };
  return { model, bytes: exportModel(model) };
}

/** POSTs one row of the test models' columns (`x`, `color`) with request id `id` to model `name`'s infer at `url`. */
export function inferTestRow(
  url: string,
  name: string,
  id: string,
  x: number,
  color: string,
): Promise<Response> {
  return fetch(`${url}/v2/models/${name}/infer`, {
    method: "POST",
    body: JSON.stringify({
      id,
      inputs: [
        { name: "x", datatype: "FP64", shape: [1, 1], data: [x] },
        { name: "color", datatype: "BYTES", shape: [1, 1], data: [color] },
      ],
    }),
  });
}
