import type { OnnxParity } from "../../../../app/values/evaluation";

/** A metric value: 3–4 significant digits, exponent for tiny or huge values, "—" when undefined. */
export function num(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "—";
  const abs = Math.abs(v);
  if (abs !== 0 && (abs >= 1e6 || abs < 1e-3)) return v.toExponential(1);
  if (abs >= 100) return v.toLocaleString(undefined, { maximumFractionDigits: 1 });
  return v.toLocaleString(undefined, { maximumFractionDigits: digits });
}

export const pct = (v: number | null | undefined, digits = 1) =>
  v === null || v === undefined || !Number.isFinite(v) ? "—" : `${(v * 100).toFixed(digits)} %`;

/** "ONNX parity: max |Δ| 1.2e-7, labels 100 %". */
export function parityText(p: OnnxParity): string {
  const diff = p.maxAbsDiff === 0 ? "0" : p.maxAbsDiff.toExponential(1);
  const labels = p.labelAgreement === 1 ? "100 %" : pct(p.labelAgreement, 2);
  return `ONNX parity: max |Δ| ${diff}, labels ${labels} (${p.rows.toLocaleString()} rows)`;
}

export const bytes = (n: number) =>
  n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KB` : `${n} B`;

/** Readable metric names: "roc_auc" → "ROC AUC". */
const NAMES: Record<string, string> = {
  accuracy: "Accuracy",
  f1: "F1",
  f1_macro: "F1 (macro)",
  f1_weighted: "F1 (weighted)",
  precision: "Precision",
  recall: "Recall",
  roc_auc: "ROC AUC",
  average_precision: "Avg precision",
  log_loss: "Log loss",
  brier: "Brier",
  ece: "ECE",
  rmse: "RMSE",
  mae: "MAE",
  r2: "R²",
  bias: "Bias",
  positive_rate: "Positive rate",
  true_positive_rate: "TPR",
  false_positive_rate: "FPR",
};

export const metricName = (key: string) => NAMES[key] ?? key.replaceAll("_", " ");

export const COLORS = [
  "#2f7dd1",
  "#e07b39",
  "#2e8b57",
  "#9b59b6",
  "#c8423b",
  "#17a2b8",
  "#b7791f",
  "#5d6d7e",
];
