/**
 * The shapes the evaluation and model views read. The renderer may import only
 * types from app/api, and these are not exported there, so they are mirrored:
 * - `EvaluationReport`: nodes/evaluate.ts (`EvaluationReport`, kind "evaluation")
 * - `ModelValue`: app/ml/model.ts (`DagwoodModel`, `dagwood.model/1`) and
 *   app/ml/preprocess.ts (`PreprocessSpec`)
 * Keep them in step with those files (or export them from app/api).
 */

export type Task = "binary" | "multiclass" | "regression";
export type ClassLabel = string | number;

export type Curve<K extends string> = { [key in K]: (number | null)[] } & {
  label?: ClassLabel;
  auc?: number | null;
  averagePrecision?: number | null;
};
export type RocCurve = Curve<"fpr" | "tpr" | "thresholds">;
export type PrCurve = Curve<"precision" | "recall" | "thresholds">;

export interface OnnxParity {
  rows: number;
  maxAbsDiff: number;
  labelAgreement: number;
}

export interface CalibrationBin {
  lower: number;
  upper: number;
  count: number;
  meanPredicted: number;
  observed: number;
}

export interface GroupRow {
  group: string | null;
  n: number;
  metrics: Record<string, number | null>;
}

export interface EvaluationReport {
  kind: "evaluation";
  task: Task;
  rows: number;
  skippedRows: number;
  target: string;
  classes?: ClassLabel[];
  positiveClass?: ClassLabel;
  threshold?: number;
  /** Undefined numbers (NaN) are null in JSON. */
  metrics: Record<string, number | null>;
  perClass?: {
    label: ClassLabel;
    precision: number;
    recall: number;
    f1: number;
    support: number;
    rocAuc?: number | null;
  }[];
  /** Rows: true label, columns: predicted label. */
  confusion?: { labels: ClassLabel[]; matrix: number[][] };
  roc?: RocCurve | { average: "macro"; auc: number | null; perClass: RocCurve[] };
  pr?: PrCurve | { perClass: PrCurve[] };
  calibration?: { of: "positive" | "confidence"; bins: CalibrationBin[]; ece: number | null };
  residuals?: { predicted: number[]; residual: number[]; sampled: boolean };
  groups?: { column: string; rows: GroupRow[]; gaps: Record<string, number | null> };
  model: { estimator: string; task: Task; trainedRows?: number; onnxParity?: unknown };
}

export interface TensorSpec {
  name: string;
  dtype: string;
  shape: number[];
  /** Inputs: the column's type in the training table. */
  sourceType?: string;
  /** Inputs: what a number means (dates: milliseconds since 1970). */
  unit?: string;
}

export interface NumericFeature {
  name: string;
  kind: "numeric";
  sourceType: string;
  impute: { strategy: string; value: number } | null;
  scale: { kind: string; offset: number; scale: number } | null;
}

export interface CategoricalFeature {
  name: string;
  kind: "categorical";
  sourceType: string;
  encoding: "ordinal" | "onehot";
  categories: string[];
  otherCode: number | null;
  unknownCode: number | null;
}

export interface ModelValue {
  kind: "dagwood.model/1";
  estimator: string;
  task: Task;
  target: string;
  targetType?: string;
  classes?: ClassLabel[];
  signature?: { inputs: TensorSpec[]; outputs: TensorSpec[] };
  preprocess?: {
    features: (NumericFeature | CategoricalFeature)[];
    dropped?: { name: string; reason: string }[];
  };
  trainedRows?: number;
  params?: Record<string, unknown>;
  onnx?: { file: string; bytes: number; opsets?: Record<string, number>; parity?: OnnxParity };
}

export const isEvaluationReport = (data: unknown): data is EvaluationReport =>
  !!data && typeof data === "object" && (data as { kind?: unknown }).kind === "evaluation";

export const isModelValue = (data: unknown): data is ModelValue =>
  !!data && typeof data === "object" && (data as { kind?: unknown }).kind === "dagwood.model/1";

export const isParity = (p: unknown): p is OnnxParity =>
  !!p &&
  typeof p === "object" &&
  typeof (p as OnnxParity).maxAbsDiff === "number" &&
  typeof (p as OnnxParity).labelAgreement === "number";
