/**
 * What every model on a `model` port carries (`dagwood.model/1`): its task,
 * target and classes, the served signature, the fitted preprocessing, and its
 * ONNX export with the parity measured at training. The estimator itself
 * (trees, coefficients, network weights) differs per kind and is app/ml's
 * (`AnyDagwoodModel` there has all of this and more); the schema keeps only
 * the shared part, so a model of any kind parses.
 */
import { z } from "zod";
import { ClassLabel, Task } from "./common";
import { OnnxParity } from "./evaluation";

/** FP32 only in models exported before inputs and outputs became FP64 (read, never written). */
export const TensorType = z.enum(["FP64", "FP32", "INT64", "BYTES"]);
export type TensorType = z.infer<typeof TensorType>;

export const TensorSpec = z.strictObject({
  name: z.string(),
  dtype: TensorType,
  /** -1 is the batch dimension. */
  shape: z.array(z.number()),
  /** Inputs: the column's DuckDB type in the training table (e.g. DOUBLE, DATE, VARCHAR). */
  sourceType: z.string().optional(),
  /** Inputs: what a number means, where that is not the plain value (dates: epoch milliseconds). */
  unit: z.string().optional(),
  /** Inputs: how the model uses the column, in words (e.g. "date parts (UTC): year, month, …"). */
  use: z.string().optional(),
});
export type TensorSpec = z.infer<typeof TensorSpec>;

/** The served model's tensors: one input per raw column; `label` and `probabilities`, or `prediction`. */
export const ModelSignature = z.strictObject({ inputs: z.array(TensorSpec), outputs: z.array(TensorSpec) });
export type ModelSignature = z.infer<typeof ModelSignature>;

/** The value that replaces a missing value; null: left missing (NaN). */
const NumericImpute = z
  .strictObject({ strategy: z.enum(["median", "mean", "mode", "constant"]), value: z.number() })
  .nullable();
/** `y = (x − offset) × scale` after imputation (ONNX Scaler), or null. */
const NumericScale = z
  .strictObject({ kind: z.enum(["standard", "minmax"]), offset: z.number(), scale: z.number() })
  .nullable();

/**
 * A calendar part of a date or timestamp, in UTC: year; month 1–12; day of
 * the month 1–31; weekday 1 (Monday) to 7 (Sunday), as ISO 8601 and DuckDB's
 * `isodow`; hour 0–23 (timestamps only).
 */
export const DatePart = z.enum(["year", "month", "day", "weekday", "hour"]);
export type DatePart = z.infer<typeof DatePart>;

/** One date part a date column gives the model, with its own imputation and scaling. */
export const DatePartSpec = z.strictObject({ part: DatePart, impute: NumericImpute, scale: NumericScale });
export type DatePartSpec = z.infer<typeof DatePartSpec>;

export const NumericFeatureSpec = z.strictObject({
  name: z.string(),
  kind: z.literal("numeric"),
  /** The DuckDB type in the training table. */
  sourceType: z.string(),
  /** The value that replaces a missing value; null: left missing (NaN). Null when `dateParts` is set. */
  impute: NumericImpute,
  /** `y = (x − offset) × scale` after imputation (ONNX Scaler), or null. Null when `dateParts` is set. */
  scale: NumericScale,
  /**
   * A DATE or TIMESTAMP column used as its calendar parts: the raw input is
   * still epoch milliseconds (NaN, ±Infinity missing), and the model reads
   * one feature per part (`name.part`), each imputed and scaled on its own.
   * Absent: the column is one number (epoch milliseconds for dates).
   */
  dateParts: z.array(DatePartSpec).optional(),
});
export type NumericFeatureSpec = z.infer<typeof NumericFeatureSpec>;

export const CategoricalFeatureSpec = z.strictObject({
  name: z.string(),
  kind: z.literal("categorical"),
  sourceType: z.string(),
  encoding: z.enum(["ordinal", "onehot"]),
  /** Kept categories in code order: code i is categories[i]. */
  categories: z.array(z.string()),
  /** The "other" code (= categories.length) when the column was capped, else null. */
  otherCode: z.number().nullable(),
  /** What an unseen category becomes: otherCode when capped, else null = missing (NaN). */
  unknownCode: z.number().nullable(),
});
export type CategoricalFeatureSpec = z.infer<typeof CategoricalFeatureSpec>;

export const FeatureSpec = z.discriminatedUnion("kind", [NumericFeatureSpec, CategoricalFeatureSpec]);
export type FeatureSpec = z.infer<typeof FeatureSpec>;

export const PreprocessSpec = z.strictObject({
  format: z.literal("dagwood.preprocess/1"),
  /** NULL, NaN and ±Infinity in numeric inputs are missing values. */
  nonFinite: z.literal("missing"),
  /** The raw input columns in model order, each with its fitted transform. */
  features: z.array(FeatureSpec),
  /** Columns asked for but not used, with why. */
  dropped: z.array(z.strictObject({ name: z.string(), reason: z.string() })),
});
export type PreprocessSpec = z.infer<typeof PreprocessSpec>;

export const OnnxExportInfo = z.strictObject({
  /** The model.onnx file, relative to the project folder. */
  file: z.string(),
  bytes: z.number(),
  /** Opset per domain ("" is the default ONNX domain). */
  opsets: z.record(z.string(), z.number()),
  /** onnxruntime against the native model on the training rows (and probe rows). */
  parity: OnnxParity,
});
export type OnnxExportInfo = z.infer<typeof OnnxExportInfo>;

export const MODEL_FORMAT = "dagwood.model/1";

/** The part of a model that every kind has; the estimator's own fields are not listed (and not refused). */
export const ModelSummary = z.object({
  kind: z.literal(MODEL_FORMAT),
  /** gbdt, forest, tree, linear, logistic, mlp. */
  estimator: z.string(),
  task: Task,
  target: z.string(),
  /** The target's DuckDB type: predicted labels are cast back to it. */
  targetType: z.string(),
  /** Classification: the class labels in code order (sorted ascending); binary: classes[1] is positive. */
  classes: z.array(ClassLabel).optional(),
  signature: ModelSignature,
  preprocess: PreprocessSpec,
  trainedRows: z.number(),
  /** Rows of the training input left out because their target was missing (absent in older models). */
  missingTargetRows: z.number().optional(),
  /** The block params the model was trained with (after defaults, or as a search chose them). */
  params: z.record(z.string(), z.unknown()),
  /** The ONNX export written after training, and its parity with the native model. */
  onnx: OnnxExportInfo.optional(),
});
export type ModelSummary = z.infer<typeof ModelSummary>;

/** What a parity check found: ONNX against the native model, or a served model against the registry. */
export interface ParityFigures {
  rows: number;
  /** Max |ONNX − native| over the probabilities (classification) or the prediction (regression). */
  maxAbsDiff: number;
  /** Rows whose ONNX label differs from the native one. */
  labelMismatches: number;
  /** Fraction of rows with the same label (1 for regression). */
  labelAgreement: number;
  /** The tolerance applied (relative above 1, see PARITY_TOLERANCE in app/ml/onnx/parity.ts). */
  tolerance: number;
  /** Every value within tolerance, every label equal, and at least one row: nothing compared is nothing verified. */
  passed: boolean;
  /** The first differing row, to show. */
  firstDifference?: { row: number; served: unknown; expected: unknown };
}
