/**
 * The report the `explain` block emits (kind "explanation"). The renderer may
 * import only types from app/api, and this one is not exported there, so it is
 * mirrored from nodes/explain.ts (`ExplanationReport`) and app/ml/explain.ts
 * (`ImportanceMetric`, `FeatureImportance`, `FeatureValue`, `PartialDependence`).
 * Keep it in step with those files (or export it from app/api).
 *
 * The block writes the report through `jsonSafe`: NaN and Infinity (e.g. R² of
 * a constant target) arrive as null, so every number here may be null.
 */
import type { ClassLabel, Task } from "./types";

export interface ImportanceMetric {
  /** The score re-computed on permuted data. */
  name: "log_loss" | "r2";
  /** `log_loss(permuted) − log_loss(original)` ("increase") or `r2(original) − r2(permuted)` ("drop"). */
  importance: "increase" | "drop";
  /** The score on the unpermuted sample. */
  baseline: number | null;
}

export interface FeatureImportance {
  feature: string;
  mean: number | null;
  std: number | null;
  /** The importance of each repeat. */
  repeats: (number | null)[];
}

export interface FeatureValue {
  feature: string;
  value: number | null;
}

export interface PartialDependence {
  feature: string;
  kind: "numeric" | "categorical";
  grid: (number | string)[];
  /** Regression: the mean prediction per grid value; classification: the mean probability per class. */
  values: (number | null)[] | Record<string, (number | null)[]>;
}

export interface ExplanationReport {
  kind: "explanation";
  task: Task;
  target: string;
  /** Rows the explanations were computed on (sampled, with a known target). */
  rows: number;
  /** Rows in the data with a known target, before sampling. */
  availableRows: number;
  metric: ImportanceMetric;
  /** Per raw column, the most important first. */
  permutation: FeatureImportance[];
  /** Tree models: split gain per raw column, normalized to sum 1. */
  splitGain?: FeatureValue[];
  /** Linear models: |coefficient| on standardized features per raw column. */
  coefficients?: FeatureValue[];
  modelImportance: "splitGain" | "coefficients" | "none";
  partialDependence: PartialDependence[];
  classes?: ClassLabel[];
  model: { estimator: string; task: string; trainedRows?: number };
}

export const isExplanationReport = (data: unknown): data is ExplanationReport =>
  !!data && typeof data === "object" && (data as { kind?: unknown }).kind === "explanation";
