/**
 * Parity between a native model and its ONNX export: the exported bytes are
 * run with onnxruntime-node on the same rows and compared with the native
 * predictions (issue 4, "Parity, always").
 */
import * as ort from "onnxruntime-node";
import type { ColumnTable, RawColumn } from "../dataset";
import { type AnyDagwoodModel, predictTable } from "../model";
import { predict, predictProba, predictRaw } from "../trees/predict";
import type { Dataset, TreeEnsembleModel } from "../trees/types";
import { MISSING_TEXT } from "./model";

/** Rows × columns, row-major, as the ONNX model's FLOAT input takes them (NaN: missing). */
export interface FeatureMatrix {
  rows: number;
  columns: number;
  values: Float32Array;
}

/** What the native model predicted for the same rows. */
export interface NativePredictions {
  /** Classification: rows × classes, row-major. */
  probabilities?: ArrayLike<number>;
  /** Regression: one value per row. */
  prediction?: ArrayLike<number>;
  /** Classification: the class index per row. */
  labels?: ArrayLike<number>;
}

export interface ParityResult {
  rows: number;
  /** Max |ONNX − native| over the probabilities (classification) or the prediction (regression). */
  maxAbsDiff: number;
  /** Fraction of rows whose ONNX class index equals the native one (1 for regression). */
  labelAgreement: number;
  /** The ONNX outputs, for further checks. */
  onnx: { probabilities?: Float32Array; prediction?: Float32Array; labels?: number[]; names?: unknown[] };
}

export interface ParityOptions {
  /** The feature-matrix input's name (default "features"). */
  input?: string;
  /** The output holding the class index: "label_index" when present, else "label". */
  labelOutput?: string;
}

/**
 * Runs `onnxBytes` on `features` and compares with `native`. NaN on both
 * sides counts as equal; NaN on one side makes maxAbsDiff Infinity.
 */
export async function checkParity(
  onnxBytes: Uint8Array,
  native: NativePredictions,
  features: FeatureMatrix,
  options: ParityOptions = {},
): Promise<ParityResult> {
  const session = await ort.InferenceSession.create(onnxBytes);
  try {
    const feeds = {
      [options.input ?? "features"]: new ort.Tensor("float32", features.values, [
        features.rows,
        features.columns,
      ]),
    };
    const out = await session.run(feeds);
    const onnx: ParityResult["onnx"] = {};
    let maxAbsDiff = 0;
    const compare = (a: ArrayLike<number>, b: ArrayLike<number>, what: string) => {
      if (a.length !== b.length) {
        throw new Error(`ONNX ${what} has ${a.length} values, the native model ${b.length}`);
      }
      for (let i = 0; i < a.length; i++) {
        const x = a[i]!;
        const y = b[i]!;
        if (Number.isNaN(x) && Number.isNaN(y)) continue;
        const d = Math.abs(x - y);
        maxAbsDiff = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(maxAbsDiff, d);
      }
    };
    if (native.prediction) {
      const prediction = out.prediction?.data as Float32Array | undefined;
      if (!prediction) throw new Error('The ONNX model has no "prediction" output');
      onnx.prediction = prediction;
      compare(prediction, native.prediction, "prediction");
    }
    if (native.probabilities) {
      const probabilities = out.probabilities?.data as Float32Array | undefined;
      if (!probabilities) throw new Error('The ONNX model has no "probabilities" output');
      onnx.probabilities = probabilities;
      compare(probabilities, native.probabilities, "probabilities");
    }
    let labelAgreement = 1;
    if (native.labels) {
      const name = options.labelOutput ?? ("label_index" in out ? "label_index" : "label");
      const labels = out[name]?.data;
      if (!(labels instanceof BigInt64Array)) throw new Error(`The ONNX model has no INT64 "${name}" output`);
      onnx.labels = Array.from(labels, Number);
      if (name !== "label" && out.label) onnx.names = Array.from(out.label.data as ArrayLike<unknown>);
      let agree = 0;
      for (let i = 0; i < native.labels.length; i++) if (onnx.labels[i] === native.labels[i]) agree++;
      labelAgreement = native.labels.length === 0 ? 1 : agree / native.labels.length;
    }
    return { rows: features.rows, maxAbsDiff, labelAgreement, onnx };
  } finally {
    await session.release();
  }
}

/** The model's columns of `data`, in the model's order, as a float32 row-major matrix. */
export function featureMatrix(model: TreeEnsembleModel, data: Dataset): FeatureMatrix {
  const byName = new Map(data.features.map((c) => [c.name, c.values]));
  const F = model.featureNames.length;
  const values = new Float32Array(data.rows * F);
  model.featureNames.forEach((name, f) => {
    const column = byName.get(name);
    if (!column) throw new Error(`The data has no column "${name}", which the model was trained on`);
    for (let r = 0; r < data.rows; r++) values[r * F + f] = column[r]!;
  });
  return { rows: data.rows, columns: F, values };
}

/**
 * The native predictions to compare with. The rows are first rounded to
 * float32, as the ONNX model receives them, so both sides route the same
 * values (a float64 value within half a float32 ulp above a threshold would
 * otherwise legitimately go another way; see app/ml/trees/README.md).
 */
export function nativeTreePredictions(model: TreeEnsembleModel, data: Dataset): NativePredictions {
  const rounded: Dataset = {
    rows: data.rows,
    features: data.features.map((c) => ({ ...c, values: Float64Array.from(Float32Array.from(c.values)) })),
  };
  if (model.task === "regression") return { prediction: predictRaw(model, rounded) };
  return { probabilities: predictProba(model, rounded), labels: predict(model, rounded) };
}

/** Export-independent convenience: parity of `onnxBytes` with `model` on `data`. */
export function checkTreeParity(
  onnxBytes: Uint8Array,
  model: TreeEnsembleModel,
  data: Dataset,
  options?: ParityOptions,
): Promise<ParityResult> {
  return checkParity(onnxBytes, nativeTreePredictions(model, data), featureMatrix(model, data), options);
}

/** Parity of a whole model's export (app/ml/onnx/model.ts) with `predictTable`, on raw columns. */
export interface ModelParity {
  rows: number;
  /**
   * Max |ONNX − native| over the probabilities (classification) or the
   * prediction (regression), the native value first rounded to float32 (the
   * FP32 output the contract gives cannot carry more).
   */
  maxAbsDiff: number;
  /** Fraction of rows whose ONNX `label` (a class name) equals the native one; 1 for regression. */
  labelAgreement: number;
  /** The ONNX outputs, for further checks. */
  onnx: { label?: (string | number)[]; probabilities?: Float32Array; prediction?: Float32Array };
}

/**
 * The ONNX feeds for raw columns, one [N,1] tensor per signature input:
 * numbers as float32 (NaN for NULL), text as strings (MISSING_TEXT for NULL).
 */
export function modelFeeds(model: AnyDagwoodModel, table: ColumnTable): Record<string, ort.Tensor> {
  const byName = new Map(table.columns.map((c) => [c.name, c]));
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of model.signature.inputs) {
    const col = byName.get(input.name);
    if (!col) throw new Error(`The data has no column "${input.name}", which the model was trained on`);
    if (input.dtype === "BYTES") {
      if (col.kind !== "categorical") throw new Error(`Column "${input.name}" must be text for the model`);
      const values = Array.from(col.codes, (c) => (c < 0 ? MISSING_TEXT : col.dictionary[c]!));
      feeds[input.name] = new ort.Tensor("string", values, [table.rows, 1]);
    } else {
      if (col.kind !== "numeric") throw new Error(`Column "${input.name}" must be numeric for the model`);
      feeds[input.name] = new ort.Tensor("float32", Float32Array.from(col.values), [table.rows, 1]);
    }
  }
  return feeds;
}

/**
 * The raw columns as the ONNX model receives them: numbers rounded to
 * float32 (a value beyond the float32 range becomes ±Infinity, i.e.
 * missing), NULL text as MISSING_TEXT (still NULL unless "" was a training
 * category). Native predictions on this table are what parity compares with.
 */
export function asOnnxSees(model: AnyDagwoodModel, table: ColumnTable): ColumnTable {
  const emptyIsCategory = new Set(
    model.preprocess.features
      .filter((f) => f.kind === "categorical" && f.categories.includes(MISSING_TEXT))
      .map((f) => f.name),
  );
  const columns = table.columns.map((col): RawColumn => {
    if (col.kind === "numeric") return { ...col, values: Float64Array.from(Float32Array.from(col.values)) };
    if (!emptyIsCategory.has(col.name)) return col;
    let empty = col.dictionary.indexOf(MISSING_TEXT);
    const dictionary = empty >= 0 ? col.dictionary : [...col.dictionary, MISSING_TEXT];
    if (empty < 0) empty = dictionary.length - 1;
    return { ...col, dictionary, codes: Int32Array.from(col.codes, (c) => (c < 0 ? empty : c)) };
  });
  return { rows: table.rows, columns };
}

/** Runs the exported model on raw columns and compares with `predictTable` on the same (float32) inputs. */
export async function checkModelParity(
  onnxBytes: Uint8Array,
  model: AnyDagwoodModel,
  table: ColumnTable,
): Promise<ModelParity> {
  const native = predictTable(model, asOnnxSees(model, table));
  const session = await ort.InferenceSession.create(onnxBytes);
  let out: ort.InferenceSession.OnnxValueMapType;
  try {
    out = await session.run(modelFeeds(model, table));
  } finally {
    await session.release();
  }
  let maxAbsDiff = 0;
  const compare = (onnx: Float32Array, expected: ArrayLike<number>, what: string) => {
    if (onnx.length !== expected.length) {
      throw new Error(`ONNX ${what} has ${onnx.length} values, the native model ${expected.length}`);
    }
    for (let i = 0; i < onnx.length; i++) {
      const x = onnx[i]!;
      const y = Math.fround(expected[i]!);
      if (Number.isNaN(x) && Number.isNaN(y)) continue;
      const d = Math.abs(x - y);
      maxAbsDiff = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(maxAbsDiff, d);
    }
  };
  const onnx: ModelParity["onnx"] = {};
  if (model.task === "regression") {
    const prediction = out.prediction?.data;
    if (!(prediction instanceof Float32Array))
      throw new Error('The ONNX model has no FLOAT "prediction" output');
    onnx.prediction = prediction;
    compare(prediction, native.prediction!, "prediction");
    return { rows: table.rows, maxAbsDiff, labelAgreement: 1, onnx };
  }
  const probabilities = out.probabilities?.data;
  if (!(probabilities instanceof Float32Array))
    throw new Error('The ONNX model has no FLOAT "probabilities" output');
  onnx.probabilities = probabilities;
  compare(probabilities, native.probabilities!, "probabilities");
  const raw = out.label?.data as ArrayLike<string | number | bigint> | undefined;
  if (!raw || raw.length !== table.rows) throw new Error('The ONNX model has no "label" output per row');
  onnx.label = Array.from(raw, (v) => (typeof v === "bigint" ? Number(v) : v));
  let agree = 0;
  for (let i = 0; i < table.rows; i++) if (onnx.label[i] === native.label![i]) agree++;
  return { rows: table.rows, maxAbsDiff, labelAgreement: table.rows === 0 ? 1 : agree / table.rows, onnx };
}

/** Rows with a missing value in any column of `table` (NULL text; NaN or ±Infinity numbers). */
function hasMissing(table: ColumnTable, row: number): boolean {
  return table.columns.some((c) =>
    c.kind === "numeric" ? !Number.isFinite(c.values[row]!) : c.codes[row]! < 0,
  );
}

/** Probe rows parityRows appends. */
const PROBES = 3;

/**
 * The rows a train block checks parity on: all of `table` up to `max` rows,
 * else up to a tenth of `max` rows with missing values and an even spread of
 * the rest; then three probe rows the training data may lack: every feature
 * missing; every number +Infinity, and then −Infinity, with every text a
 * category never seen in training.
 */
export function parityRows(model: AnyDagwoodModel, table: ColumnTable, max = 5000): ColumnTable {
  let chosen: number[];
  if (table.rows <= max) {
    chosen = Array.from({ length: table.rows }, (_, i) => i);
  } else {
    const withMissing: number[] = [];
    for (let r = 0; r < table.rows && withMissing.length < Math.floor(max / 10); r++)
      if (hasMissing(table, r)) withMissing.push(r);
    const taken = new Set(withMissing);
    const others: number[] = [];
    for (let r = 0; r < table.rows; r++) if (!taken.has(r)) others.push(r);
    const rest = max - withMissing.length;
    const step = others.length / rest;
    chosen = [...withMissing];
    for (let i = 0; i < rest; i++) chosen.push(others[Math.floor(i * step)]!);
    chosen.sort((a, b) => a - b);
  }
  const n = chosen.length;
  const categories = new Map(
    model.preprocess.features.flatMap((f) => (f.kind === "categorical" ? [[f.name, f.categories]] : [])),
  );
  const columns = table.columns.map((col): RawColumn => {
    if (col.kind === "numeric") {
      const values = new Float64Array(n + PROBES);
      chosen.forEach((r, i) => {
        values[i] = col.values[r]!;
      });
      values.set([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY], n);
      return { ...col, values };
    }
    const known = new Set([...(categories.get(col.name) ?? []), ...col.dictionary]);
    let unseen = "<unseen>";
    while (known.has(unseen)) unseen += "_";
    const codes = new Int32Array(n + PROBES);
    chosen.forEach((r, i) => {
      codes[i] = col.codes[r]!;
    });
    codes.set([-1, col.dictionary.length, col.dictionary.length], n);
    return { ...col, codes, dictionary: [...col.dictionary, unseen] };
  });
  return { rows: n + PROBES, columns };
}
