/**
 * Parity between a native model and its ONNX export: the exported bytes are
 * run with onnxruntime-node on the same raw rows, of the same types, that
 * the app scores, and compared with the native predictions. There is no
 * rounding step on either side that a user's path lacks: the export computes
 * in float64 as the native model does (app/ml/onnx/model.ts), so the two may
 * differ only by the order of float64 sums. The tolerance and the rule live
 * here, for training, evaluate and deploy alike.
 */
import type * as ort from "onnxruntime-node";
import { onnxruntime } from "../../data/native";
import type { ParityFigures } from "../../values/model";
import type { ColumnTable, RawColumn } from "../dataset";
import { type AnyDagwoodModel, predictTable, type TensorType } from "../model";
import { predict, predictProba, predictRaw } from "../trees/predict";
import type { Dataset, TreeEnsembleModel } from "../trees/types";
import { MISSING_TEXT } from "./model";

/**
 * How far an FP64 output (probability or prediction) may be from the native
 * model's: `|onnx − native| ≤ PARITY_TOLERANCE × max(1, |native|)`, i.e.
 * absolute for probabilities, relative for large predictions. Float64 sums
 * in another order differ by a few ulps (~1e-16); a wrong export by far more.
 */
export const PARITY_TOLERANCE = 1e-9;
/** The same for FP32 outputs, which only versions exported before the FP64 signature have. */
export const PARITY_TOLERANCE_FP32 = 1e-5;

/** The tolerance for an output of this datatype (V2 or signature name). */
export function parityTolerance(dtype: TensorType | string | undefined): number {
  return dtype === "FP32" ? PARITY_TOLERANCE_FP32 : PARITY_TOLERANCE;
}

// What a parity check found: a value that deployments record, defined in app/values.
export type { ParityFigures };

/** Accumulates the comparison of outputs with native predictions under the one rule above. */
export class ParityTally {
  private maxAbsDiff = 0;
  private withinTolerance = true;
  private labelMismatches = 0;
  private firstDifference: ParityFigures["firstDifference"];

  constructor(
    readonly rows: number,
    readonly tolerance: number = PARITY_TOLERANCE,
  ) {}

  /** Compares numbers, `width` per row (null or NaN on both sides counts as equal). */
  numbers(what: string, got: ArrayLike<unknown> | undefined, want: ArrayLike<number>): void {
    if (!got || got.length !== want.length) {
      this.maxAbsDiff = Number.POSITIVE_INFINITY;
      this.withinTolerance = false;
      this.firstDifference ??= {
        row: 0,
        served: got ? `${got.length} ${what} values` : `no ${what} output`,
        expected: `${want.length} values`,
      };
      return;
    }
    const width = want.length / Math.max(this.rows, 1);
    for (let i = 0; i < want.length; i++) {
      const raw = got[i];
      const x = raw === null ? Number.NaN : Number(raw);
      const y = want[i]!;
      if (Number.isNaN(x) && Number.isNaN(y)) continue;
      const d = Math.abs(x - y);
      const diff = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
      if (!(diff <= this.tolerance * Math.max(1, Math.abs(y)))) {
        this.withinTolerance = false;
        this.firstDifference ??= { row: Math.floor(i / width), served: raw, expected: y };
      }
      this.maxAbsDiff = Math.max(this.maxAbsDiff, diff);
    }
  }

  /** Compares labels row by row; `same` decides equality (default ===). */
  labels(
    got: ArrayLike<unknown> | undefined,
    want: readonly unknown[],
    same: (a: unknown, b: unknown) => boolean = (a, b) => a === b,
  ): void {
    for (let r = 0; r < want.length; r++) {
      if (!same(got?.[r], want[r])) {
        this.labelMismatches++;
        this.firstDifference ??= { row: r, served: got?.[r], expected: want[r] };
      }
    }
  }

  figures(): ParityFigures {
    return {
      rows: this.rows,
      maxAbsDiff: this.maxAbsDiff,
      labelMismatches: this.labelMismatches,
      labelAgreement: this.rows === 0 ? 1 : (this.rows - this.labelMismatches) / this.rows,
      tolerance: this.tolerance,
      passed: this.rows > 0 && this.withinTolerance && this.labelMismatches === 0,
      ...(this.firstDifference ? { firstDifference: this.firstDifference } : {}),
    };
  }
}

/** Rows × columns, row-major, as a tree ensemble's [N, F] input takes them (NaN: missing). */
export interface FeatureMatrix {
  rows: number;
  columns: number;
  values: Float64Array;
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

export interface ParityResult extends ParityFigures {
  /** The ONNX outputs, for further checks. */
  onnx: { probabilities?: Float64Array; prediction?: Float64Array; labels?: number[]; names?: unknown[] };
}

export interface ParityOptions {
  /** The feature-matrix input's name (default "features"). */
  input?: string;
  /** The output holding the class index: "label_index" when present, else "label". */
  labelOutput?: string;
}

function float64Output(out: ort.InferenceSession.OnnxValueMapType, name: string): Float64Array {
  const data = out[name]?.data;
  if (!(data instanceof Float64Array)) throw new Error(`The ONNX model has no DOUBLE "${name}" output`);
  return data;
}

/** Runs a tree ensemble's export (exportTreeEnsemble) on `features` and compares with `native`. */
export async function checkParity(
  onnxBytes: Uint8Array,
  native: NativePredictions,
  features: FeatureMatrix,
  options: ParityOptions = {},
): Promise<ParityResult> {
  const session = await onnxruntime().InferenceSession.create(onnxBytes);
  try {
    const feeds = {
      [options.input ?? "features"]: new (onnxruntime().Tensor)("float64", features.values, [
        features.rows,
        features.columns,
      ]),
    };
    const out = await session.run(feeds);
    const onnx: ParityResult["onnx"] = {};
    const tally = new ParityTally(features.rows);
    if (native.prediction) {
      onnx.prediction = float64Output(out, "prediction");
      tally.numbers("prediction", onnx.prediction, native.prediction);
    }
    if (native.probabilities) {
      onnx.probabilities = float64Output(out, "probabilities");
      tally.numbers("probabilities", onnx.probabilities, native.probabilities);
    }
    if (native.labels) {
      const name = options.labelOutput ?? ("label_index" in out ? "label_index" : "label");
      const labels = out[name]?.data;
      if (!(labels instanceof BigInt64Array)) throw new Error(`The ONNX model has no INT64 "${name}" output`);
      onnx.labels = Array.from(labels, Number);
      if (name !== "label" && out.label) onnx.names = Array.from(out.label.data as ArrayLike<unknown>);
      tally.labels(onnx.labels, Array.from(native.labels));
    }
    return { ...tally.figures(), onnx };
  } finally {
    await session.release();
  }
}

/** The model's columns of `data`, in the model's order, as a float64 row-major matrix. */
export function featureMatrix(model: TreeEnsembleModel, data: Dataset): FeatureMatrix {
  const byName = new Map(data.features.map((c) => [c.name, c.values]));
  const F = model.featureNames.length;
  const values = new Float64Array(data.rows * F);
  model.featureNames.forEach((name, f) => {
    const column = byName.get(name);
    if (!column) throw new Error(`The data has no column "${name}", which the model was trained on`);
    for (let r = 0; r < data.rows; r++) values[r * F + f] = column[r]!;
  });
  return { rows: data.rows, columns: F, values };
}

/** The native predictions of a tree ensemble on `data`, as they are. */
export function nativeTreePredictions(model: TreeEnsembleModel, data: Dataset): NativePredictions {
  if (model.task === "regression") return { prediction: predictRaw(model, data) };
  return { probabilities: predictProba(model, data), labels: predict(model, data) };
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
export interface ModelParity extends ParityFigures {
  /** The ONNX outputs, for further checks. */
  onnx: {
    label?: (string | number)[];
    probabilities?: Float64Array | Float32Array;
    prediction?: Float64Array | Float32Array;
  };
}

/**
 * The ONNX feeds for raw columns, one [N,1] tensor per signature input, of
 * the signature's type: numbers as float64 (NaN for NULL; float32 for a
 * version exported before FP64), text as strings (MISSING_TEXT for NULL).
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
      feeds[input.name] = new (onnxruntime().Tensor)("string", values, [table.rows, 1]);
    } else {
      if (col.kind !== "numeric") throw new Error(`Column "${input.name}" must be numeric for the model`);
      feeds[input.name] =
        input.dtype === "FP32"
          ? new (onnxruntime().Tensor)("float32", Float32Array.from(col.values), [table.rows, 1])
          : new (onnxruntime().Tensor)("float64", col.values, [table.rows, 1]);
    }
  }
  return feeds;
}

/**
 * The raw rows as a model's inputs carry them. For FP64 inputs (every model
 * exported since the FP64 signature) that is the rows as they are; a
 * version exported before takes FP32 numbers, so its native side must see
 * them rounded to float32 (beyond the float32 range: ±Infinity, missing).
 */
export function asInputsCarry(model: AnyDagwoodModel, table: ColumnTable): ColumnTable {
  const fp32 = new Set(model.signature.inputs.filter((i) => i.dtype === "FP32").map((i) => i.name));
  if (fp32.size === 0) return table;
  const columns = table.columns.map(
    (col): RawColumn =>
      col.kind === "numeric" && fp32.has(col.name)
        ? { ...col, values: Float64Array.from(Float32Array.from(col.values)) }
        : col,
  );
  return { rows: table.rows, columns };
}

/** Runs the exported model on raw columns and compares with `predictTable` on the very same rows. */
export async function checkModelParity(
  onnxBytes: Uint8Array,
  model: AnyDagwoodModel,
  table: ColumnTable,
): Promise<ModelParity> {
  const native = predictTable(model, asInputsCarry(model, table));
  const session = await onnxruntime().InferenceSession.create(onnxBytes);
  let out: ort.InferenceSession.OnnxValueMapType;
  try {
    out = await session.run(modelFeeds(model, table));
  } finally {
    await session.release();
  }
  const numeric = model.signature.outputs.find((o) => o.name === "prediction" || o.name === "probabilities");
  const tally = new ParityTally(table.rows, parityTolerance(numeric?.dtype));
  const numbers = (name: string) => {
    const data = out[name]?.data;
    if (!(data instanceof Float64Array || data instanceof Float32Array)) {
      throw new Error(`The ONNX model has no floating-point "${name}" output`);
    }
    return data;
  };
  const onnx: ModelParity["onnx"] = {};
  if (model.task === "regression") {
    onnx.prediction = numbers("prediction");
    tally.numbers("prediction", onnx.prediction, native.prediction!);
    return { ...tally.figures(), onnx };
  }
  onnx.probabilities = numbers("probabilities");
  tally.numbers("probabilities", onnx.probabilities, native.probabilities!);
  const raw = out.label?.data as ArrayLike<string | number | bigint> | undefined;
  if (!raw || raw.length !== table.rows) throw new Error('The ONNX model has no "label" output per row');
  onnx.label = Array.from(raw, (v) => (typeof v === "bigint" ? Number(v) : v));
  tally.labels(onnx.label, native.label!);
  return { ...tally.figures(), onnx };
}

/** Rows with a missing value in any column of `table` (NULL text; NaN or ±Infinity numbers). */
function hasMissing(table: ColumnTable, row: number): boolean {
  return table.columns.some((c) =>
    c.kind === "numeric" ? !Number.isFinite(c.values[row]!) : c.codes[row]! < 0,
  );
}

/** Probe rows parityRows appends. */
export const PROBES = 3;

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
