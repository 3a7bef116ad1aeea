/**
 * The report `explain` writes (kind "explanation"), as it crosses ports, the
 * cache and the Api. The block writes it through `jsonSafe`: a score the data
 * leaves undefined (R² of a constant target, a model that predicts NaN)
 * arrives as null.
 */
import { z } from "zod";
import { ClassLabel, maybeNumber, Task } from "./common";

/** The score behind permutation importance, and how importance reads it. */
export const ImportanceMetric = z.strictObject({
  /** The score re-computed on permuted data. */
  name: z.enum(["log_loss", "r2"]),
  /** `log_loss(permuted) − log_loss(original)` ("increase") or `r2(original) − r2(permuted)` ("drop"). */
  importance: z.enum(["increase", "drop"]),
  /** The score on the unpermuted sample; null when undefined (R² of a constant target). */
  baseline: maybeNumber,
});
export type ImportanceMetric = z.infer<typeof ImportanceMetric>;

export const FeatureImportance = z.strictObject({
  feature: z.string(),
  mean: maybeNumber,
  std: maybeNumber,
  /** The importance of each repeat. */
  repeats: z.array(maybeNumber),
});
export type FeatureImportance = z.infer<typeof FeatureImportance>;

export const FeatureValue = z.strictObject({
  feature: z.string(),
  /**
   * Split gain is always defined (all 0 for a stump-only model); a coefficient
   * is null when the column's spread is undefined (missing values the model
   * leaves missing).
   */
  value: maybeNumber,
});
export type FeatureValue = z.infer<typeof FeatureValue>;

export const PartialDependence = z.strictObject({
  feature: z.string(),
  kind: z.enum(["numeric", "categorical"]),
  /** Numeric: finite values (distinct values or quantiles); categorical: the most frequent training categories. */
  grid: z.array(z.union([z.number(), z.string()])),
  /** Regression: the mean prediction per grid value; classification: the mean probability per class. */
  values: z.union([z.array(maybeNumber), z.record(z.string(), z.array(maybeNumber))]),
});
export type PartialDependence = z.infer<typeof PartialDependence>;

export const ExplanationReport = z.strictObject({
  kind: z.literal("explanation"),
  task: Task,
  target: z.string(),
  /** Rows the explanations were computed on (sampled, with a known target). */
  rows: z.number(),
  /** Rows in the data with a known target, before sampling. */
  availableRows: z.number(),
  metric: ImportanceMetric,
  /** Per raw column, the most important first. */
  permutation: z.array(FeatureImportance),
  /** Tree models: split gain per raw column, normalized to sum 1. */
  splitGain: z.array(FeatureValue).optional(),
  /** Linear models: |coefficient| on standardized features per raw column (one-hot summed; multiclass: mean over classes). */
  coefficients: z.array(FeatureValue).optional(),
  /** Which model-based importance is present. */
  modelImportance: z.enum(["splitGain", "coefficients", "none"]),
  partialDependence: z.array(PartialDependence),
  /** Classification: the model's classes. */
  classes: z.array(ClassLabel).optional(),
  model: z.strictObject({ estimator: z.string(), task: Task, trainedRows: z.number().optional() }),
});
export type ExplanationReport = z.infer<typeof ExplanationReport>;
