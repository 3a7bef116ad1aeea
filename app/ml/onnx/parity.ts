/**
 * Parity between a native model and its ONNX export: the exported bytes are
 * run with onnxruntime-node on the same rows and compared with the native
 * predictions (issue 4, "Parity, always").
 */
import * as ort from "onnxruntime-node";
import { predict, predictProba, predictRaw } from "../trees/predict";
import type { Dataset, TreeEnsembleModel } from "../trees/types";

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
