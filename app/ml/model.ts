/**
 * The model that flows on the `model` port: fitted preprocessing + tree
 * ensemble + what a served model needs to know (input signature, classes),
 * all plain JSON. `predictTable` scores raw columns with it.
 */
import { isNumericType } from "../data/sql";
import type { ClassLabel } from "../values/common";
import type { OnnxExportInfo, TensorSpec, TensorType } from "../values/model";
import type { ColumnTable, RawColumn } from "./dataset";
import { type LinearModelJSON, predictLinear } from "./linear";
import { type MlpModelJSON, predictMlp } from "./mlp";
import { type PreprocessSpec, transformFeatures } from "./preprocess";
import { modelFromJSON, predictClasses, predictRaw, type Task, type TreeEnsembleJSON } from "./trees";

export const MODEL_FORMAT = "dagwood.model/1";

export type Estimator = "gbdt" | "forest" | "tree";
export type LinearEstimator = "linear" | "logistic";
// The shared part of a model (what crosses ports, the Api and the renderer) is defined in app/values.
export type { ClassLabel, OnnxExportInfo, TensorSpec, TensorType };

/**
 * How a column of `sourceType` travels as a number: dates and timestamps as
 * milliseconds since 1970-01-01 00:00:00 UTC, times of day as milliseconds
 * since midnight, booleans as 0/1 (app/ml/dataset.ts reads them so).
 */
export function numericUnit(sourceType: string): string | undefined {
  if (sourceType === "DATE" || sourceType.startsWith("TIMESTAMP")) return "ms since 1970-01-01T00:00:00Z";
  if (sourceType === "TIME") return "ms since midnight";
  if (sourceType === "BOOLEAN") return "0 (false) or 1 (true)";
  return undefined;
}

export interface DagwoodModel {
  kind: typeof MODEL_FORMAT;
  estimator: Estimator;
  task: Task;
  target: string;
  /** The target's DuckDB type: predicted labels are cast back to it. */
  targetType: string;
  /** Classification: the class labels in code order (sorted ascending); binary: classes[1] is positive. */
  classes?: ClassLabel[];
  /**
   * The served model's tensors. Inputs: one per raw feature column, shape
   * [-1, 1]; numeric columns FP64 (NaN = missing; `unit` says what dates and
   * times mean), categorical BYTES (NULL sent as ""). Outputs: `label` [-1]
   * (class names: BYTES, or INT64 / FP32 for numeric classes) and
   * `probabilities` [-1, K] FP64, or `prediction` [-1] FP64. The ONNX export
   * has exactly these tensors, and computes in float64 throughout, as the
   * native model does.
   */
  signature: { inputs: TensorSpec[]; outputs: TensorSpec[] };
  preprocess: PreprocessSpec;
  ensemble: TreeEnsembleJSON;
  trainedRows: number;
  /** Rows of the training input left out because their target was missing. */
  missingTargetRows?: number;
  /** The block params the model was trained with (after defaults). */
  params: Record<string, unknown>;
  /** The ONNX export written after training, and its parity with `predictTable`. */
  onnx?: OnnxExportInfo;
  /** The profile of the training rows and the model's predictions on them (app/monitoring/reference.ts). */
  referenceProfile?: { file: string; bytes: number; rows: number };
}

export interface Predictions {
  /** Classification: the predicted class label per row. */
  label?: ClassLabel[];
  /** Classification: the predicted class index per row (into `classes`). */
  classIndex?: Int32Array;
  /** Classification: rows × classes, row-major. */
  probabilities?: Float64Array;
  /** Regression: the predicted value per row. */
  prediction?: Float64Array;
}

/** How the model uses a raw input column, in words (the signature's `use`). */
export function inputUse(f: PreprocessSpec["features"][number]): string {
  if (f.kind === "categorical") {
    const other = f.otherCode !== null ? " + other" : "";
    return `category, ${f.encoding === "onehot" ? "one-hot" : "ordinal code"} (${f.categories.length} kept${other})`;
  }
  if (f.dateParts) {
    const parts = f.dateParts.map((d) => (d.part === "weekday" ? "weekday (1 = Monday)" : d.part));
    return `date parts in UTC: ${parts.join(", ")}`;
  }
  if (f.sourceType === "DATE" || f.sourceType.startsWith("TIMESTAMP"))
    return "one number (epoch milliseconds)";
  return "number";
}

export function signatureFor(
  spec: PreprocessSpec,
  task: Task,
  classes?: ClassLabel[],
): DagwoodModel["signature"] {
  const inputs = spec.features.map((f): TensorSpec => {
    const unit = f.kind === "numeric" ? numericUnit(f.sourceType) : undefined;
    return {
      name: f.name,
      dtype: f.kind === "numeric" ? "FP64" : "BYTES",
      shape: [-1, 1],
      sourceType: f.sourceType,
      ...(unit ? { unit } : {}),
      use: inputUse(f),
    };
  });
  if (task === "regression") return { inputs, outputs: [{ name: "prediction", dtype: "FP64", shape: [-1] }] };
  const labelType: TensorType = classes?.every((c) => typeof c === "number" && Number.isSafeInteger(c))
    ? "INT64"
    : classes?.every((c) => typeof c === "number")
      ? "FP32"
      : "BYTES";
  return {
    inputs,
    outputs: [
      { name: "label", dtype: labelType, shape: [-1] },
      { name: "probabilities", dtype: "FP64", shape: [-1, classes?.length ?? 2] },
    ],
  };
}

/** A ridge or logistic model: the same container, with `linear` in place of `ensemble`. */
export interface LinearDagwoodModel extends Omit<DagwoodModel, "estimator" | "ensemble"> {
  estimator: LinearEstimator;
  linear: LinearModelJSON;
}

/** A dense network (train.mlp): the same container, with `mlp` in place of `ensemble`. */
export interface MlpDagwoodModel extends Omit<DagwoodModel, "estimator" | "ensemble"> {
  estimator: "mlp";
  mlp: MlpModelJSON;
}

export type AnyDagwoodModel = DagwoodModel | LinearDagwoodModel | MlpDagwoodModel;

export function isLinearModel(model: AnyDagwoodModel): model is LinearDagwoodModel {
  return model.estimator === "linear" || model.estimator === "logistic";
}

export function isMlpModel(model: AnyDagwoodModel): model is MlpDagwoodModel {
  return model.estimator === "mlp";
}

/**
 * Checks that `data` is a model this code can score, with a message for the
 * user if not. It may be a linear model too (see isLinearModel); the return
 * type stays DagwoodModel until its callers narrow with isLinearModel.
 */
export function asModel(data: unknown): DagwoodModel {
  const m = data as Partial<DagwoodModel> | undefined;
  if (m?.kind !== MODEL_FORMAT) {
    throw new Error(
      `The model input is not a Dagwood model (kind ${JSON.stringify(m?.kind)}, expected "${MODEL_FORMAT}")`,
    );
  }
  return m as DagwoodModel;
}

/** The feature columns the model reads that `columns` lacks. */
export function missingInputs(model: AnyDagwoodModel, columns: readonly { name: string }[]): string[] {
  const have = new Set(columns.map((c) => c.name));
  return model.preprocess.features.map((f) => f.name).filter((n) => !have.has(n));
}

/** Scores raw columns: preprocessing, then the estimator. Throws naming any missing feature column. */
export function predictTable(model: AnyDagwoodModel, table: ColumnTable): Predictions {
  const missing = missingInputs(model, table.columns);
  if (missing.length > 0) {
    throw new Error(
      `The data lacks column(s) ${missing.map((n) => `"${n}"`).join(", ")}, which the model was trained on`,
    );
  }
  const data = transformFeatures(model.preprocess, table);
  if (isLinearModel(model) || isMlpModel(model)) {
    const { prediction, probabilities, classIndex } = isMlpModel(model)
      ? predictMlp(model.mlp, data)
      : predictLinear(model.linear, data);
    if (prediction) return { prediction };
    const classes = model.classes ?? [];
    return { label: Array.from(classIndex!, (k) => classes[k]!), classIndex, probabilities };
  }
  const ensemble = modelFromJSON(model.ensemble);
  if (model.task === "regression") return { prediction: predictRaw(ensemble, data) };
  const classes = model.classes ?? [];
  // Decided on the raw scores (app/ml/trees/predict.ts), as the ONNX export decides.
  const { probabilities, classIndex } = predictClasses(ensemble, data);
  return { label: Array.from(classIndex, (k) => classes[k]!), classIndex, probabilities };
}

export type TaskChoice = "auto" | "classification" | "regression";

/** Most distinct integer values a numeric target may have for `auto` to call it classification. */
export const AUTO_CLASSIFICATION_MAX_CLASSES = 20;

/**
 * The task for a target column. auto: classification when the target is not
 * numeric (text, boolean, dates), or holds only integers with at most 20
 * distinct values; regression otherwise. Throws when regression is asked of
 * a non-numeric target.
 */
export function resolveTask(choice: TaskChoice, target: RawColumn): "classification" | "regression" {
  const numeric = target.kind === "numeric" && isNumericType(target.type);
  if (choice === "regression") {
    if (!numeric) {
      throw new Error(
        `Regression needs a numeric target, but "${target.name}" is ${target.type}. Set task to classification, or cast the column to a number first (e.g. with transform.sql).`,
      );
    }
    return "regression";
  }
  if (choice === "classification" || target.kind === "categorical" || !numeric) return "classification";
  const distinct = new Set<number>();
  for (const x of target.values) {
    if (!Number.isFinite(x)) continue;
    if (!Number.isInteger(x)) return "regression";
    distinct.add(x);
    if (distinct.size > AUTO_CLASSIFICATION_MAX_CLASSES) return "regression";
  }
  return "classification";
}

export interface EncodedTarget {
  task: Task;
  /** The rows with a target value (others are left out of training). */
  rows: Int32Array;
  /** Per kept row: the value (regression) or the class index. */
  y: Float64Array;
  classes?: ClassLabel[];
}

/**
 * The labels the trees train on. Rows whose target is missing (NULL, NaN,
 * ±Infinity) are left out. Classes are sorted ascending (numbers by value,
 * text by code point), so class codes do not depend on row order.
 */
export function encodeTarget(target: RawColumn, kind: "classification" | "regression"): EncodedTarget {
  const n = target.kind === "numeric" ? target.values.length : target.codes.length;
  const rows: number[] = [];
  if (target.kind === "numeric") {
    for (let i = 0; i < n; i++) if (Number.isFinite(target.values[i]!)) rows.push(i);
  } else {
    for (let i = 0; i < n; i++) if (target.codes[i]! >= 0) rows.push(i);
  }
  const kept = Int32Array.from(rows);
  if (kind === "regression" && target.kind === "numeric") {
    return { task: "regression", rows: kept, y: Float64Array.from(kept, (i) => target.values[i]!) };
  }
  let classes: ClassLabel[];
  let y: Float64Array;
  if (target.kind === "numeric") {
    classes = [...new Set(Array.from(kept, (i) => target.values[i]!))].sort((a, b) => a - b);
    const index = new Map(classes.map((c, i) => [c, i]));
    y = Float64Array.from(kept, (i) => index.get(target.values[i]!)!);
  } else {
    const used = new Uint8Array(target.dictionary.length);
    for (const i of kept) used[target.codes[i]!] = 1;
    const labels = target.dictionary.filter((_, i) => used[i] === 1);
    labels.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    classes = labels;
    const rank = new Map(labels.map((c, i) => [c, i]));
    const byCode = Float64Array.from(target.dictionary, (s) => rank.get(s) ?? -1);
    y = Float64Array.from(kept, (i) => byCode[target.codes[i]!]!);
  }
  return { task: classes.length === 2 ? "binary" : "multiclass", rows: kept, y, classes };
}
