/**
 * Which way a metric is better, one table for every side: the search that
 * picks a trial, the gate that compares with a champion, and the runs table
 * that sorts the best first. It follows scikit-learn's scorers: a metric whose
 * scorer is `neg_<metric>` (log loss, RMSE, MAE, MSE, Brier) is better lower.
 */

/** "higher" or "lower" is better; undefined: neither (a rate that describes the predictions, a spread). */
export type MetricDirection = "higher" | "lower" | undefined;

/** Lower is better: losses and errors, calibration error, false alarms, parity gaps, model size and latency. */
const LOWER = new Set([
  "log_loss",
  "loss",
  "rmse",
  "mae",
  "mse",
  "brier",
  "ece",
  "false_positive_rate",
  "onnx_max_abs_diff",
  "parity_max_abs_diff",
  "onnx_bytes",
  "onnx_latency_p50_us",
]);

/** They describe the predictions or the model's shape rather than grade them: neither high nor low is better. */
const NEITHER = new Set([
  "positive_rate",
  "base_rate",
  "bias",
  "model_trees",
  "model_leaves",
  "model_parameters",
]);

/** Prefixes runs put before a score: cross-validated, on the training or the validation rows. */
const SCORE_PREFIX = /^(?:cv|train|val|valid|test)_/;

/**
 * The direction of a metric, by its name as a report has it (`rmse`) or as a
 * run records it (`evaluate.rmse`, `gbdt.cv_rmse`). Every `*_difference` (a
 * fairness gap) and `*_loss` is better lower; a `*_std` (a spread) neither;
 * any other score (accuracy, roc_auc, f1, r2, a `*_ratio`…) higher.
 */
export function metricDirection(metric: string): MetricDirection {
  const name = metric.slice(metric.lastIndexOf(".") + 1);
  if (NEITHER.has(name) || name.endsWith("_std")) return undefined;
  const score = name.replace(SCORE_PREFIX, "");
  if (LOWER.has(score) || score.endsWith("_difference") || score.endsWith("_loss")) return "lower";
  if (NEITHER.has(score)) return undefined;
  return "higher";
}
