/**
 * Hyperparameter search: k-fold splits, the trials of a grid or random
 * search, the cross-validation score of a fold's predictions, and the loop
 * that runs the trials and picks the best. Pure apart from the `evaluate`
 * callback; the train blocks bring the fitting (nodes/train-common.ts).
 */

import { metricDirection } from "../values/metric-direction";
import {
  accuracy,
  classificationScores,
  column,
  confusionMatrix,
  logLoss,
  ovrRocAuc,
  regressionScores,
  rocCurve,
} from "./metrics";
import { mulberry32 } from "./trees/binning";

export type SearchValue = number | string | boolean;
/** A numeric range to sample from; `log`: log-uniform (min > 0); `int`: whole numbers only. */
export interface SearchRange {
  min: number;
  max: number;
  log?: boolean;
  int?: boolean;
}
export type SearchSpace = Record<string, SearchValue[] | SearchRange>;
export type SearchStrategy = "grid" | "random";

export const CLASSIFICATION_METRICS = ["accuracy", "log_loss", "roc_auc", "f1_macro"] as const;
export const REGRESSION_METRICS = ["rmse", "mae", "r2"] as const;
export const SEARCH_METRICS = [...CLASSIFICATION_METRICS, ...REGRESSION_METRICS] as const;
export type SearchMetric = (typeof SEARCH_METRICS)[number];

/** Whether a higher score is better, for each search metric: app/values/metric-direction decides. */
export const HIGHER_IS_BETTER = Object.fromEntries(
  SEARCH_METRICS.map((m) => [m, metricDirection(m) === "higher"]),
) as Record<SearchMetric, boolean>;

/** Random search runs this many trials unless maxTrials says otherwise. */
export const DEFAULT_RANDOM_TRIALS = 20;
/** A grid runs every combination, up to this many unless maxTrials says otherwise. */
export const DEFAULT_GRID_BUDGET = 100;

export type TrialParams = Record<string, SearchValue>;

export interface Fold {
  /** Row indexes the fold's model is fitted on. */
  train: Int32Array;
  /** Row indexes it is scored on. */
  test: Int32Array;
}

export interface FoldPlan {
  folds: Fold[];
  /** Classes with fewer rows than folds: kept in every training fold, never scored. */
  warnings: string[];
}

function shuffled(indexes: number[], rand: () => number): number[] {
  for (let i = indexes.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [indexes[i], indexes[j]] = [indexes[j]!, indexes[i]!];
  }
  return indexes;
}

/**
 * Splits rows 0..n-1 into k folds, shuffled by `seed`. With `classes` (the
 * class index per row) the folds are stratified: each class is dealt round
 * the folds in turn, so every fold holds its share of each class (±1 row)
 * and fold sizes differ by at most one (`classNames` name the classes in
 * warnings). A class with fewer rows than folds
 * cannot be in every test fold; its rows stay in every training fold (so each
 * fold's model knows the class) and a warning says so — rather than refusing
 * data with a rare class, which is common and not the user's fault.
 */
export function kFolds(
  n: number,
  k: number,
  seed: number,
  classes?: ArrayLike<number>,
  classNames?: readonly string[],
): FoldPlan {
  if (!Number.isInteger(k) || k < 2) throw new Error(`Cross-validation needs at least 2 folds, got ${k}.`);
  if (n < k) {
    throw new Error(
      `Cross-validation with ${k} folds needs at least ${k} rows, but there are ${n}. Lower search.folds or give the block more rows.`,
    );
  }
  const rand = mulberry32(seed ^ 0x2545f491);
  const fold = new Int32Array(n).fill(-1);
  const warnings: string[] = [];
  if (classes) {
    const byClass = new Map<number, number[]>();
    for (let i = 0; i < n; i++) {
      const c = classes[i]!;
      const list = byClass.get(c);
      if (list) list.push(i);
      else byClass.set(c, [i]);
    }
    let next = 0;
    for (const c of [...byClass.keys()].sort((a, b) => a - b)) {
      const rows = byClass.get(c)!;
      if (rows.length < k) {
        warnings.push(
          `Class ${JSON.stringify(classNames?.[c] ?? c)} has ${rows.length} row(s), fewer than the ${k} folds: its rows stay in every training fold and are not scored.`,
        );
        continue;
      }
      for (const i of shuffled(rows, rand)) fold[i] = next++ % k;
    }
  } else {
    shuffled(
      Array.from({ length: n }, (_, i) => i),
      rand,
    ).forEach((i, position) => {
      fold[i] = position % k;
    });
  }
  const folds: Fold[] = [];
  for (let f = 0; f < k; f++) {
    const train: number[] = [];
    const test: number[] = [];
    for (let i = 0; i < n; i++) (fold[i] === f ? test : train).push(i);
    if (test.length === 0) {
      throw new Error(
        `Cross-validation fold ${f + 1} of ${k} has no rows to score: too few rows in classes with at least ${k} rows. Lower search.folds.`,
      );
    }
    folds.push({ train: Int32Array.from(train), test: Int32Array.from(test) });
  }
  return { folds, warnings };
}

const isRange = (v: SearchValue[] | SearchRange): v is SearchRange => !Array.isArray(v);

/** Checks the space names only `allowed` params and each entry is usable; throws a message for the user. */
export function checkSpace(space: SearchSpace, allowed: readonly string[]): void {
  const names = Object.keys(space);
  if (names.length === 0) {
    throw new Error(
      `search.space is empty: give at least one param to search. Tunable: ${allowed.join(", ")}.`,
    );
  }
  const unknown = names.filter((n) => !allowed.includes(n));
  if (unknown.length > 0) {
    throw new Error(
      `search.space names ${unknown.map((n) => `"${n}"`).join(", ")}, which this block cannot tune. Tunable params: ${allowed.join(", ")}.`,
    );
  }
  for (const [name, entry] of Object.entries(space)) {
    if (!isRange(entry)) {
      if (entry.length === 0)
        throw new Error(`search.space.${name} is an empty list: give at least one value.`);
      continue;
    }
    const { min, max, log, int } = entry;
    if (!Number.isFinite(min) || !Number.isFinite(max) || min > max) {
      throw new Error(`search.space.${name} needs finite min ≤ max, got min ${min}, max ${max}.`);
    }
    if (log && min <= 0)
      throw new Error(`search.space.${name} is log-scaled, so min must be > 0 (got ${min}).`);
    if (int && Math.ceil(min) > Math.floor(max)) {
      throw new Error(`search.space.${name} asks for whole numbers, but none lies in [${min}, ${max}].`);
    }
  }
}

/** Every combination of the value lists, the last param varying fastest. */
export function expandGrid(space: SearchSpace): TrialParams[] {
  let trials: TrialParams[] = [{}];
  for (const [name, entry] of Object.entries(space)) {
    if (isRange(entry)) {
      throw new Error(
        `search.space.${name} is a range, which a grid cannot enumerate: list its values (e.g. [0.01, 0.1, 1]) or use strategy "random".`,
      );
    }
    trials = trials.flatMap((t) => entry.map((v) => ({ ...t, [name]: v })));
  }
  return trials;
}

/** `count` draws from the space, the same for the same seed: a list picks one value, a range samples. */
export function sampleRandom(space: SearchSpace, count: number, seed: number): TrialParams[] {
  const rand = mulberry32(seed ^ 0x68e31da4);
  const draw = (entry: SearchValue[] | SearchRange): SearchValue => {
    if (!isRange(entry)) return entry[Math.floor(rand() * entry.length)]!;
    const lo = entry.int ? Math.ceil(entry.min) : entry.min;
    // Whole numbers: sample [lo, hi + 1) and floor, so both ends are as likely as the rest.
    const hi = entry.int ? Math.floor(entry.max) + 1 : entry.max;
    const u = rand();
    const x = entry.log ? Math.exp(Math.log(lo) + u * (Math.log(hi) - Math.log(lo))) : lo + u * (hi - lo);
    return entry.int ? Math.min(Math.floor(x), hi - 1) : x;
  };
  return Array.from({ length: count }, () =>
    Object.fromEntries(Object.entries(space).map(([name, entry]) => [name, draw(entry)])),
  );
}

export interface TrialPlanOptions {
  strategy: SearchStrategy;
  space: SearchSpace;
  maxTrials?: number;
  seed: number;
}

/** The trials to run: the whole grid (an error if it exceeds the budget) or the random draws. */
export function planTrials(o: TrialPlanOptions): TrialParams[] {
  if (o.strategy === "random") return sampleRandom(o.space, o.maxTrials ?? DEFAULT_RANDOM_TRIALS, o.seed);
  const grid = expandGrid(o.space);
  const budget = o.maxTrials ?? DEFAULT_GRID_BUDGET;
  if (grid.length > budget) {
    throw new Error(
      `The search grid has ${grid.length} combinations, more than the budget of ${budget} trials (search.maxTrials). Shorten the value lists, raise maxTrials to ${grid.length}, or use strategy "random".`,
    );
  }
  return grid;
}

/** What a fold's model predicted for the fold's test rows. */
export interface FoldPredictions {
  /** Classification: rows × classes, row-major. */
  probabilities?: Float64Array;
  /** Regression. */
  prediction?: Float64Array;
}

/** The default metric of a task; classification metrics on regression (and back) are an error. */
export function resolveMetric(metric: SearchMetric | undefined, regression: boolean): SearchMetric {
  if (metric === undefined) return regression ? "rmse" : "accuracy";
  const fits = regression
    ? (REGRESSION_METRICS as readonly string[]).includes(metric)
    : (CLASSIFICATION_METRICS as readonly string[]).includes(metric);
  if (!fits) {
    const allowed = regression ? REGRESSION_METRICS : CLASSIFICATION_METRICS;
    throw new Error(
      `search.metric "${metric}" does not apply to ${regression ? "regression" : "classification"}; choose one of ${allowed.join(", ")}.`,
    );
  }
  return metric;
}

/** The score of one fold. `classes`: the number of classes (classification). */
export function scoreFold(
  metric: SearchMetric,
  yTrue: ArrayLike<number>,
  predicted: FoldPredictions,
  classes = 0,
): number {
  if (predicted.prediction) {
    const scores = regressionScores(yTrue, predicted.prediction);
    if (metric === "rmse" || metric === "mae" || metric === "r2") return scores[metric];
    throw new Error(`Metric ${metric} needs class probabilities, but the model predicts numbers.`);
  }
  const probabilities = predicted.probabilities!;
  switch (metric) {
    case "log_loss":
      return logLoss(probabilities, classes, yTrue);
    case "roc_auc":
      return classes === 2
        ? rocCurve(
            column(probabilities, 2, 1),
            Uint8Array.from(yTrue, (y) => (y === 1 ? 1 : 0)),
          ).auc
        : ovrRocAuc(probabilities, classes, yTrue).macro;
    case "accuracy":
    case "f1_macro": {
      // argmax, the first class on ties (as predictTable)
      const label = new Int32Array(yTrue.length);
      for (let r = 0; r < label.length; r++) {
        let best = 0;
        for (let k = 1; k < classes; k++)
          if (probabilities[r * classes + k]! > probabilities[r * classes + best]!) best = k;
        label[r] = best;
      }
      if (metric === "accuracy") return accuracy(yTrue, label);
      return classificationScores(confusionMatrix(yTrue, label, classes)).macro.f1;
    }
    default:
      throw new Error(`Metric ${metric} needs numeric predictions, but the model predicts classes.`);
  }
}

export interface TrialResult {
  params: TrialParams;
  /** One score per fold. */
  scores: number[];
  mean: number;
  /** Population standard deviation over the folds. */
  std: number;
}

export interface SearchResult {
  trials: TrialResult[];
  best: { index: number; params: TrialParams; mean: number };
}

export interface SearchOptions {
  folds: number;
  higherIsBetter: boolean;
  /** Checked before every fold: an abort stops the search there. */
  signal?: AbortSignal;
  onTrial?: (index: number, trial: TrialResult) => void;
}

/**
 * Runs every trial on every fold and picks the best mean score (ties: the
 * first trial). A NaN mean (a metric undefined on some fold) never wins
 * unless every trial is NaN.
 */
export async function runSearch(
  trials: readonly TrialParams[],
  evaluate: (params: TrialParams, fold: number, trial: number) => Promise<number> | number,
  options: SearchOptions,
): Promise<SearchResult> {
  if (trials.length === 0) throw new Error("The search has no trials to run.");
  const results: TrialResult[] = [];
  let best = 0;
  for (let t = 0; t < trials.length; t++) {
    const scores: number[] = [];
    for (let f = 0; f < options.folds; f++) {
      options.signal?.throwIfAborted();
      scores.push(await evaluate(trials[t]!, f, t));
    }
    const mean = scores.reduce((s, x) => s + x, 0) / scores.length;
    const std = Math.sqrt(scores.reduce((s, x) => s + (x - mean) ** 2, 0) / scores.length);
    const result = { params: trials[t]!, scores, mean, std };
    results.push(result);
    options.onTrial?.(t, result);
    const current = results[best]!.mean;
    const better = options.higherIsBetter ? mean > current : mean < current;
    if (t > 0 && (better || (Number.isNaN(current) && !Number.isNaN(mean)))) best = t;
  }
  return { trials: results, best: { index: best, params: results[best]!.params, mean: results[best]!.mean } };
}
