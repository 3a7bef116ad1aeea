/**
 * Model explanations over raw columns, for any model `predictTable` scores:
 *
 * - **Permutation importance**: how much worse the model scores when one raw
 *   column's values are shuffled across the rows (breaking its link with the
 *   target, keeping its distribution). The score is log loss for
 *   classification (its increase is reported: smooth, and it moves even when
 *   a shuffled column changes a probability but not the label, which
 *   accuracy on a few hundred rows would miss) and R² for regression (its
 *   drop is reported: the increase of MSE over the target's variance, so it
 *   is unit-free and comparable across targets). Positive = the model relies
 *   on the column; about 0 = it does not; negative = noise that happened to
 *   help. Mean and standard deviation over the repeats.
 * - **Model-based importance**: for tree ensembles the split gain summed per
 *   feature over all trees, normalized to sum 1; for linear models the
 *   absolute coefficient on standardized features (one-hot columns summed per
 *   raw column; multiclass: the mean over the classes).
 * - **Partial dependence**: the mean prediction (or mean probability per
 *   class) over the rows when one column is set to each grid value in every
 *   row: quantiles for numbers, the most frequent training categories for text.
 *
 * Everything runs in memory on one sample of the rows; the same data, model
 * and seed give the same numbers. Permutation importance and partial
 * dependence run in this thread or, through the `…InWorkers` functions, in
 * worker threads (app/ml/work) with the very same results.
 */
import type { ColumnTable, RawColumn } from "./dataset";
import { logLoss, regressionScores } from "./metrics";
import {
  type AnyDagwoodModel,
  type ClassLabel,
  isLinearModel,
  isMlpModel,
  type LinearDagwoodModel,
  predictTable,
} from "./model";
import { encodedFeatureNames, transformFeatures } from "./preprocess";
import { mulberry32 } from "./trees/binning";
import { runTask, workerCount } from "./work/pool";
import { shared, shareTable } from "./work/shared";

export const DEFAULT_MAX_ROWS = 5000;
/** Grid points of a numeric partial dependence, and categories of a categorical one, at most. */
export const MAX_GRID_POINTS = 20;

/** The true values of the sampled rows: class indexes into the model's classes, or numbers. */
export type Truth = { task: "classification"; y: Int32Array } | { task: "regression"; y: Float64Array };

export interface ImportanceMetric {
  /** The score that is re-computed on permuted data. */
  name: "log_loss" | "r2";
  /** The importance is `log_loss(permuted) − log_loss(original)` or `r2(original) − r2(permuted)`. */
  importance: "increase" | "drop";
  /** The score on the unpermuted sample. */
  baseline: number;
}

export interface FeatureImportance {
  feature: string;
  mean: number;
  std: number;
  /** The importance of each repeat. */
  repeats: number[];
}

export interface FeatureValue {
  feature: string;
  value: number;
}

export interface PartialDependence {
  feature: string;
  kind: "numeric" | "categorical";
  grid: (number | string)[];
  /** Regression: the mean prediction per grid value; classification: the mean probability per class. */
  values: number[] | Record<string, number[]>;
}

export interface ExplainOptions {
  seed?: number;
  repeats?: number;
  topK?: number;
  signal?: AbortSignal;
  onProgress?: (fraction: number, message: string) => void;
}

/** `maxRows` row indexes of `n`, drawn without replacement by `seed`, in ascending order (all when n ≤ maxRows). */
export function sampleRows(n: number, maxRows: number, seed: number): Int32Array {
  const ids = Int32Array.from({ length: n }, (_, i) => i);
  if (n <= maxRows) return ids;
  const rand = mulberry32(seed ^ 0x2c1b3c6d);
  for (let i = 0; i < maxRows; i++) {
    const j = i + Math.floor(rand() * (n - i));
    const t = ids[i]!;
    ids[i] = ids[j]!;
    ids[j] = t;
  }
  return ids.subarray(0, maxRows).sort();
}

/** The score of the model on `table` against `truth` (log loss or R²). */
function score(model: AnyDagwoodModel, table: ColumnTable, truth: Truth): number {
  const predictions = predictTable(model, table);
  if (truth.task === "regression") return regressionScores(truth.y, predictions.prediction!).r2;
  return logLoss(predictions.probabilities!, model.classes?.length ?? 2, truth.y);
}

/** A copy of `col` with its rows reordered by `order`. */
function reorder(col: RawColumn, order: Int32Array): RawColumn {
  if (col.kind === "numeric") return { ...col, values: Float64Array.from(order, (i) => col.values[i]!) };
  return { ...col, codes: Int32Array.from(order, (i) => col.codes[i]!) };
}

/** A seeded permutation of 0..n-1 (Fisher–Yates). */
function permutation(n: number, seed: number): Int32Array {
  const rand = mulberry32(seed);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

function meanStd(xs: number[]): { mean: number; std: number } {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
  return { mean, std: Math.sqrt(variance) };
}

/** The raw feature columns the model reads, taken from `table` in model order. */
function modelColumns(model: AnyDagwoodModel, table: ColumnTable): RawColumn[] {
  return model.preprocess.features.map((f) => {
    const col = table.columns.find((c) => c.name === f.name);
    if (!col) throw new Error(`The data lacks column "${f.name}", which the model was trained on`);
    return col;
  });
}

/** The score on the unpermuted rows, and how permutation importance reads it. */
export function importanceBaseline(
  model: AnyDagwoodModel,
  table: ColumnTable,
  truth: Truth,
): ImportanceMetric {
  const baseline = score(model, { rows: table.rows, columns: modelColumns(model, table) }, truth);
  return truth.task === "regression"
    ? { name: "r2", importance: "drop", baseline }
    : { name: "log_loss", importance: "increase", baseline };
}

/**
 * The permutation importance of the model's columns at positions `features`
 * (indexes into the model's features), each against `metric.baseline`. A
 * (column, repeat) permutation is seeded from the seed, the column's position
 * in the model and the repeat alone, so any split of the columns over workers
 * gives the same numbers. `onStep` is called after each repeat.
 */
export function permuteFeatures(
  model: AnyDagwoodModel,
  table: ColumnTable,
  truth: Truth,
  metric: ImportanceMetric,
  features: readonly number[],
  options: { seed: number; repeats: number; signal?: AbortSignal; onStep?: (feature: string) => void },
): FeatureImportance[] {
  const { seed, repeats } = options;
  const columns = modelColumns(model, table);
  const { baseline } = metric;
  return features.map((f): FeatureImportance => {
    const col = columns[f]!;
    const drops: number[] = [];
    for (let r = 0; r < repeats; r++) {
      options.signal?.throwIfAborted();
      const order = permutation(table.rows, (seed * 0x9e3779b1 + f * 7919 + r * 104729) | 0);
      const permuted = columns.map((c, i) => (i === f ? reorder(c, order) : c));
      const s = score(model, { rows: table.rows, columns: permuted }, truth);
      drops.push(truth.task === "regression" ? baseline - s : s - baseline);
      options.onStep?.(col.name);
    }
    return { feature: col.name, ...meanStd(drops), repeats: drops };
  });
}

/** Most important first, ties by name. */
function byImportance(a: FeatureImportance, b: FeatureImportance): number {
  return b.mean - a.mean || (a.feature < b.feature ? -1 : a.feature > b.feature ? 1 : 0);
}

/**
 * Permutation importance of every raw feature column, most important first
 * (ties by name), in this thread. Each (column, repeat) permutation is seeded
 * from the seed, the column's position in the model and the repeat, so it
 * does not depend on which other columns there are.
 */
export function permutationImportance(
  model: AnyDagwoodModel,
  table: ColumnTable,
  truth: Truth,
  options: ExplainOptions = {},
): { metric: ImportanceMetric; permutation: FeatureImportance[] } {
  const repeats = options.repeats ?? 5;
  const columns = modelColumns(model, table);
  const metric = importanceBaseline(model, table, truth);
  const total = columns.length * repeats;
  let done = 0;
  const importances = permuteFeatures(
    model,
    table,
    truth,
    metric,
    columns.map((_, f) => f),
    {
      seed: options.seed ?? 0,
      repeats,
      ...(options.signal ? { signal: options.signal } : {}),
      onStep: (name) => options.onProgress?.(++done / total, `Permuting "${name}"`),
    },
  );
  importances.sort(byImportance);
  return { metric, permutation: importances };
}

/** `n` items dealt round-robin into at most `parts` non-empty groups. */
function deal<T>(items: readonly T[], parts: number): T[][] {
  const groups = Array.from({ length: Math.max(1, Math.min(parts, items.length)) }, () => [] as T[]);
  items.forEach((item, i) => {
    groups[i % groups.length]!.push(item);
  });
  return groups.filter((g) => g.length > 0);
}

/**
 * permutationImportance in worker threads (app/ml/work): the columns are
 * dealt over the workers, each permuting its own; the numbers are those of
 * permutationImportance, bit for bit.
 */
export async function permutationImportanceInWorkers(
  model: AnyDagwoodModel,
  table: ColumnTable,
  truth: Truth,
  options: ExplainOptions = {},
): Promise<{ metric: ImportanceMetric; permutation: FeatureImportance[] }> {
  const repeats = options.repeats ?? 5;
  const columns = modelColumns(model, table);
  const rows = shareTable({ rows: table.rows, columns });
  const sharedTruth: Truth =
    truth.task === "regression"
      ? { task: "regression", y: shared(truth.y) }
      : { task: "classification", y: shared(truth.y) };
  const total = columns.length * repeats;
  const doneBy: number[] = [];
  const parts = await Promise.all(
    deal(
      columns.map((_, f) => f),
      workerCount(),
    ).map((features, part) =>
      runTask(
        "permutationImportance",
        { model, table: rows, truth: sharedTruth, features, seed: options.seed ?? 0, repeats },
        {
          ...(options.signal ? { signal: options.signal } : {}),
          onProgress: (done) => {
            doneBy[part] = done;
            const sum = doneBy.reduce((s, x) => s + (x ?? 0), 0);
            // Step `done` of this part permuted its column done-1 / repeats.
            const name = columns[features[Math.floor((done - 1) / repeats)]!]!.name;
            options.onProgress?.(sum / total, `Permuting "${name}"`);
          },
        },
      ),
    ),
  );
  const metric = parts[0]!.metric;
  const importances = parts.flatMap((p) => p.importances);
  importances.sort(byImportance);
  return { metric, permutation: importances };
}

const byValue = (a: FeatureValue, b: FeatureValue) =>
  b.value - a.value || (a.feature < b.feature ? -1 : a.feature > b.feature ? 1 : 0);

/** Encoded feature name → the raw column it comes from. */
function rawOf(model: AnyDagwoodModel): Map<string, string> {
  const map = new Map<string, string>();
  for (const f of model.preprocess.features) for (const name of encodedFeatureNames(f)) map.set(name, f.name);
  return map;
}

/** Tree ensembles: split gain summed per raw column over all trees, normalized to sum 1 (all 0 for a stump-only model). */
export function splitGainImportance(model: AnyDagwoodModel): FeatureValue[] {
  if (isLinearModel(model) || isMlpModel(model)) throw new Error("Split-gain importance needs a tree model");
  const raw = rawOf(model);
  const names = model.ensemble.featureNames;
  const totals = new Map(model.preprocess.features.map((f) => [f.name, 0]));
  for (const tree of model.ensemble.trees) {
    for (let i = 0; i < tree.feature.length; i++) {
      const f = tree.feature[i]!;
      if (f < 0) continue;
      const name = raw.get(names[f]!) ?? names[f]!;
      totals.set(name, (totals.get(name) ?? 0) + tree.gain[i]!);
    }
  }
  const sum = [...totals.values()].reduce((s, x) => s + x, 0);
  return [...totals].map(([feature, value]) => ({ feature, value: sum > 0 ? value / sum : 0 })).sort(byValue);
}

/**
 * Linear models: |coefficient| per raw column on standardized features,
 * one-hot columns summed; multiclass: the mean over the class rows. The
 * linear train blocks standard-scale numbers, so their coefficients are
 * already per standard deviation; a numeric column scaled otherwise is put on
 * that footing with its standard deviation in `table`.
 */
export function coefficientImportance(model: LinearDagwoodModel, table: ColumnTable): FeatureValue[] {
  const raw = rawOf(model);
  const { featureNames, coefficients } = model.linear;
  // Date parts are scaled part by part (DatePartSpec), the linear blocks' standard scaling included.
  const unscaled = model.preprocess.features.filter(
    (f) => f.kind === "numeric" && !f.dateParts && f.scale?.kind !== "standard",
  );
  const stdOf = new Map<string, number>();
  if (unscaled.length > 0) {
    const data = transformFeatures({ ...model.preprocess, features: unscaled }, table);
    for (const f of data.features) stdOf.set(f.name, meanStd(Array.from(f.values)).std);
  }
  const totals = new Map(model.preprocess.features.map((f) => [f.name, 0]));
  featureNames.forEach((name, j) => {
    const mean = coefficients.reduce((s, row) => s + Math.abs(row[j]!), 0) / coefficients.length;
    const feature = raw.get(name) ?? name;
    totals.set(feature, (totals.get(feature) ?? 0) + mean * (stdOf.get(name) ?? 1));
  });
  return [...totals].map(([feature, value]) => ({ feature, value })).sort(byValue);
}

/**
 * The grid of a numeric partial dependence: the distinct finite values when
 * there are at most MAX_GRID_POINTS (so a count or a flag is not evaluated
 * between its values), else that many evenly spaced quantiles from min to max.
 */
export function quantileGrid(values: Float64Array): number[] {
  const finite = values.filter(Number.isFinite).sort();
  if (finite.length === 0) return [];
  const distinct = [...new Set(finite)];
  if (distinct.length <= MAX_GRID_POINTS) return distinct;
  const grid: number[] = [];
  for (let i = 0; i < MAX_GRID_POINTS; i++) {
    const q = (i / (MAX_GRID_POINTS - 1)) * (finite.length - 1);
    const lo = Math.floor(q);
    const hi = Math.min(lo + 1, finite.length - 1);
    const x = finite[lo]! + (q - lo) * (finite[hi]! - finite[lo]!);
    if (grid.length === 0 || x !== grid[grid.length - 1]) grid.push(x);
  }
  return grid;
}

/** One raw column with the same value in every row. */
function constantColumn(col: RawColumn, rows: number, value: number | string): RawColumn {
  if (col.kind === "numeric") return { ...col, values: new Float64Array(rows).fill(value as number) };
  return { ...col, codes: new Int32Array(rows), dictionary: [String(value)] };
}

/**
 * Partial dependence of the model on each named column: the column is set to
 * each grid value in every row, and the predictions averaged.
 */
export function partialDependence(
  model: AnyDagwoodModel,
  table: ColumnTable,
  features: readonly string[],
  options: Pick<ExplainOptions, "signal" | "onProgress"> = {},
): PartialDependence[] {
  return features.map((name, done) => {
    const pd = partialDependenceOn(model, table, name, options.signal);
    options.onProgress?.((done + 1) / features.length, `Partial dependence on "${name}"`);
    return pd;
  });
}

/** partialDependence in worker threads (app/ml/work), the features dealt over the workers: the same numbers. */
export async function partialDependenceInWorkers(
  model: AnyDagwoodModel,
  table: ColumnTable,
  features: readonly string[],
  options: Pick<ExplainOptions, "signal" | "onProgress"> = {},
): Promise<PartialDependence[]> {
  if (features.length === 0) return [];
  const rows = shareTable({ rows: table.rows, columns: modelColumns(model, table) });
  let done = 0;
  const groups = deal(features, workerCount());
  const parts = await Promise.all(
    groups.map((names) =>
      runTask(
        "partialDependence",
        { model, table: rows, features: names },
        {
          ...(options.signal ? { signal: options.signal } : {}),
          onProgress: (_, __) => {
            done++;
            options.onProgress?.(
              done / features.length,
              `Partial dependence: ${done} of ${features.length} columns`,
            );
          },
        },
      ),
    ),
  );
  const byName = new Map(parts.flat().map((pd) => [pd.feature, pd]));
  return features.map((name) => byName.get(name)!);
}

/** Partial dependence on one column (see partialDependence). */
export function partialDependenceOn(
  model: AnyDagwoodModel,
  table: ColumnTable,
  name: string,
  signal?: AbortSignal,
): PartialDependence {
  const columns = modelColumns(model, table);
  const classes: ClassLabel[] = model.task === "regression" ? [] : (model.classes ?? []);
  const K = classes.length;
  const f = columns.findIndex((c) => c.name === name);
  if (f < 0) throw new Error(`Partial dependence on "${name}": the model has no such feature column`);
  const col = columns[f]!;
  const spec = model.preprocess.features[f]!;
  const grid: (number | string)[] =
    col.kind === "numeric"
      ? quantileGrid(col.values)
      : spec.kind === "categorical"
        ? spec.categories.slice(0, MAX_GRID_POINTS)
        : [];
  const regression: number[] = [];
  const perClass = classes.map(() => [] as number[]);
  for (const value of grid) {
    signal?.throwIfAborted();
    const set = columns.map((c, i) => (i === f ? constantColumn(c, table.rows, value) : c));
    const predictions = predictTable(model, { rows: table.rows, columns: set });
    if (K === 0) {
      regression.push(predictions.prediction!.reduce((s, x) => s + x, 0) / table.rows);
      continue;
    }
    const probabilities = predictions.probabilities!;
    for (let k = 0; k < K; k++) {
      let sum = 0;
      for (let r = 0; r < table.rows; r++) sum += probabilities[r * K + k]!;
      perClass[k]!.push(sum / table.rows);
    }
  }
  return {
    feature: name,
    kind: col.kind,
    grid,
    values: K === 0 ? regression : Object.fromEntries(classes.map((c, k) => [String(c), perClass[k]!])),
  };
}
