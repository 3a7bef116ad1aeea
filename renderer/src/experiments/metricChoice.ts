/**
 * Which metrics the compare charts show. A run logs thirty-odd metrics per
 * model (evaluation scores, ONNX bookkeeping, sizes, losses); the charts
 * start with the few that grade a model for its task, as scikit-learn's
 * model-evaluation guide leads with them (accuracy, F1, ROC AUC, log loss;
 * RMSE, MAE, R²), and the rest are a choice away. Metrics are chosen by name
 * (`accuracy`), so one choice covers every evaluate node and is remembered
 * across comparisons.
 */
import { splitKey } from "./nodeInfo";

/** The metrics that grade a model, per task, in the order the charts show them. */
export const TASK_METRICS = {
  classification: ["accuracy", "f1_macro", "roc_auc", "log_loss"],
  regression: ["rmse", "mae", "r2"],
} as const;

/** The distinct metric names among `node.metric` keys, in first-seen order. */
export function metricNames(keys: string[]): string[] {
  return [...new Set(keys.map((k) => splitKey(k).name))];
}

/** The task(s) a set of metric names speaks of: accuracy means classification, rmse regression. */
export function tasksOf(names: string[]): ("classification" | "regression")[] {
  const has = new Set(names);
  const tasks: ("classification" | "regression")[] = [];
  if (has.has("accuracy")) tasks.push("classification");
  if (has.has("rmse")) tasks.push("regression");
  return tasks;
}

/** How many metrics are shown when the runs have none of the task's metrics (no evaluate node). */
const FALLBACK_COUNT = 4;

/** The names shown before the user chooses: the task's metrics the runs have, else the first few. */
export function defaultMetricNames(available: string[]): string[] {
  const has = new Set(available);
  const chosen = tasksOf(available).flatMap((t) => TASK_METRICS[t].filter((m) => has.has(m)));
  return chosen.length ? chosen : available.slice(0, FALLBACK_COUNT);
}

/**
 * The names to chart: the remembered choice, kept to the names these runs
 * have; the default when nothing was chosen or nothing chosen is here.
 */
export function chosenMetricNames(available: string[], remembered: string[] | null): string[] {
  if (remembered) {
    const has = new Set(available);
    const kept = remembered.filter((m) => has.has(m));
    if (kept.length) return kept;
  }
  return defaultMetricNames(available);
}

/** The names to offer in the chooser: the task's metrics first, then the rest alphabetically. */
export function orderedMetricNames(available: string[]): string[] {
  const first = tasksOf(available).length ? defaultMetricNames(available) : [];
  const rest = available.filter((m) => !first.includes(m)).sort();
  return [...first, ...rest];
}

const STORAGE_KEY = "dagwood.compare.metrics";

function storage(): Storage | undefined {
  try {
    return typeof window === "undefined" ? undefined : window.localStorage;
  } catch {
    return undefined;
  }
}

/** The metric names last chosen in the compare view, or null for the default. */
export function loadChosenMetrics(): string[] | null {
  try {
    const value: unknown = JSON.parse(storage()?.getItem(STORAGE_KEY) ?? "null");
    return Array.isArray(value) && value.every((v) => typeof v === "string") ? value : null;
  } catch {
    return null;
  }
}

/** Remembers the chosen names (null: back to the default). */
export function saveChosenMetrics(names: string[] | null): void {
  try {
    if (names) storage()?.setItem(STORAGE_KEY, JSON.stringify(names));
    else storage()?.removeItem(STORAGE_KEY);
  } catch {
    // Storage full or refused: the choice still holds for this session.
  }
}
