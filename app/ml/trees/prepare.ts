/**
 * What every tree fit does first: check the training data (with errors that
 * say what to fix), hold out validation rows, bin, and lay the rows out for
 * the kernel (training rows first, then validation rows, row-major bins in
 * SharedArrayBuffers).
 */
import { type BinMapper, binRows, fitBins, mulberry32, thresholdOf } from "./binning";
import type { GrownTree } from "./grow";
import { InlineTreePool, sharedTreePool, type TreePool } from "./pool";
import { sharedFloat64, sharedUint8 } from "./session";
import type { FitOptions, TrainingData, Tree } from "./types";

export interface CheckedTraining {
  rows: number;
  numClasses: number;
  /** Weighted class totals (classification) over all rows. */
  classWeights: Float64Array;
}

/** Checks the training data; throws an error naming the problem and the fix. */
export function checkTraining(train: TrainingData): CheckedTraining {
  const { data, y, weights, task } = train;
  if (!data || !Array.isArray(data.features)) throw new Error("Training data has no feature columns");
  if (data.features.length === 0) {
    throw new Error("No feature columns to train on: keep at least one feature besides the target");
  }
  if (data.rows === 0) throw new Error("No training rows: the training table is empty");
  if (y.length !== data.rows) throw new Error(`The target has ${y.length} values for ${data.rows} rows`);
  for (const c of data.features) {
    if (c.values.length !== data.rows) {
      throw new Error(`Feature "${c.name}" has ${c.values.length} values for ${data.rows} rows`);
    }
  }
  if (weights) {
    if (weights.length !== data.rows)
      throw new Error(`The weights have ${weights.length} values for ${data.rows} rows`);
    for (const w of weights) {
      if (!(w >= 0 && Number.isFinite(w))) throw new Error(`Row weights must be finite and ≥ 0, got ${w}`);
    }
  }
  const numClasses = task === "regression" ? 1 : task === "binary" ? 2 : (train.numClasses ?? 0);
  if (task === "multiclass" && !(Number.isInteger(numClasses) && numClasses >= 2)) {
    throw new Error(`A multiclass task needs numClasses ≥ 2, got ${train.numClasses}`);
  }
  const classWeights = new Float64Array(task === "regression" ? 0 : numClasses);
  if (task === "regression") {
    let first = Number.NaN;
    let constant = true;
    for (let i = 0; i < y.length; i++) {
      const v = y[i]!;
      if (!Number.isFinite(v)) {
        throw new Error(
          `The regression target has a missing or infinite value (row ${i}): drop or impute those rows`,
        );
      }
      if (i === 0) first = v;
      else if (v !== first) constant = false;
    }
    if (constant) throw new Error(`The target is constant (${first}): there is nothing to learn`);
  } else {
    for (let i = 0; i < y.length; i++) {
      const v = y[i]!;
      if (!(Number.isInteger(v) && v >= 0 && v < numClasses)) {
        throw new Error(
          task === "binary"
            ? `A binary target must be 0 or 1; row ${i} has ${v}`
            : `A multiclass target must be a class index 0..${numClasses - 1}; row ${i} has ${v}`,
        );
      }
      classWeights[v] = classWeights[v]! + (weights ? weights[i]! : 1);
    }
    const present = classWeights.filter((w) => w > 0).length;
    if (present < 2)
      throw new Error("The target has only one class in the training rows: there is nothing to learn");
  }
  return { rows: data.rows, numClasses, classWeights };
}

/**
 * Splits row ids into training and validation rows, seeded; stratified by
 * class for classification so every class keeps rows on both sides.
 */
export function validationSplit(
  train: TrainingData,
  fraction: number,
  seed: number,
): { trainRows: Int32Array; validRows: Int32Array } {
  const n = train.data.rows;
  if (!(fraction > 0 && fraction < 1))
    throw new Error(`validationFraction must be in (0, 1), got ${fraction}`);
  const groups: number[][] = [];
  if (train.task === "regression") groups.push(Array.from({ length: n }, (_, i) => i));
  else {
    for (let i = 0; i < n; i++) {
      const k = train.y[i]!;
      groups[k] ??= [];
      groups[k].push(i);
    }
  }
  const rand = mulberry32(seed ^ 0x7f4a7c15);
  const valid: number[] = [];
  for (const g of groups) {
    if (!g) continue;
    for (let i = g.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [g[i], g[j]] = [g[j]!, g[i]!];
    }
    const take = g.length >= 2 ? Math.min(g.length - 1, Math.round(g.length * fraction)) : 0;
    for (let i = 0; i < take; i++) valid.push(g[i]!);
  }
  const isValid = new Uint8Array(n);
  for (const i of valid) isValid[i] = 1;
  const trainRows: number[] = [];
  for (let i = 0; i < n; i++) if (!isValid[i]) trainRows.push(i);
  valid.sort((a, b) => a - b);
  if (valid.length === 0) throw new Error("Too few rows to hold out a validation set for early stopping");
  return { trainRows: Int32Array.from(trainRows), validRows: Int32Array.from(valid) };
}

export interface Laid {
  mapper: BinMapper;
  /** Original row id of each laid-out row: training rows, then validation rows. */
  order: Int32Array;
  nTrain: number;
  nValid: number;
  /** Row-major bins, `rowBytes` per row (features padded to a multiple of 4). */
  bins: Uint8Array;
  rowBytes: number;
  labels: Float64Array;
  weights: Float64Array | null;
}

export function layOut(
  train: TrainingData,
  trainRows: Int32Array,
  validRows: Int32Array,
  maxBins: number,
  seed: number,
): Laid {
  const mapper = fitBins(train.data, { maxBins, seed, rows: trainRows });
  const order = new Int32Array(trainRows.length + validRows.length);
  order.set(trainRows);
  order.set(validRows, trainRows.length);
  const rowBytes = 4 * Math.ceil(mapper.features.length / 4);
  // Every row in its own place (no validation rows): no gather.
  let identity = order.length === train.data.rows;
  for (let i = 0; identity && i < order.length; i++) identity = order[i] === i;
  const bins = binRows(
    mapper,
    train.data,
    identity ? undefined : order,
    sharedUint8(order.length * rowBytes),
    rowBytes,
  );
  const labels = sharedFloat64(order.length);
  if (identity) labels.set(train.y);
  else for (let i = 0; i < order.length; i++) labels[i] = train.y[order[i]!]!;
  let weights: Float64Array | null = null;
  if (train.weights) {
    weights = sharedFloat64(order.length);
    for (let i = 0; i < order.length; i++) weights[i] = train.weights[order[i]!]!;
  }
  return {
    mapper,
    order,
    nTrain: trainRows.length,
    nValid: validRows.length,
    bins,
    rowBytes,
    labels,
    weights,
  };
}

export function allRows(n: number): Int32Array {
  const rows = new Int32Array(n);
  for (let i = 0; i < n; i++) rows[i] = i;
  return rows;
}

export async function resolvePool(options: FitOptions): Promise<TreePool> {
  if (options.pool === "inline") return new InlineTreePool();
  return options.pool ?? (await sharedTreePool());
}

/**
 * A power-of-two quantum for stats whose largest magnitude is `maxAbs` over
 * `n` rows: each stat in quanta fits an int32 (≤ 2^30) and n of them sum to at
 * most 2^51, so float64 sums of them are exact in any order.
 */
export function quantumFor(maxAbs: number, n: number): number {
  if (!(maxAbs > 0)) return 1;
  return 2 ** Math.ceil(Math.log2(Math.max(maxAbs / 2 ** 30, (maxAbs * Math.max(1, n)) / 2 ** 51)));
}

/** A grown tree as a model tree: bins become real thresholds; `leaf` fills each leaf's values. */
export function toModelTree(
  grown: GrownTree,
  mapper: BinMapper,
  output: number,
  width: number,
  /** Writes a leaf's values from its dequantized totals [G.., H, count] at `offset`. */
  leaf: (totals: Float64Array, offset: number, out: Float64Array, at: number) => void,
): Tree {
  const n = grown.nodes;
  const S = grown.totals.length / n;
  const threshold = new Float64Array(n);
  const leafValue = new Float64Array(n * width);
  const cover = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    cover[i] = grown.totals[i * S + S - 1]!;
    const f = grown.feature[i]!;
    if (f >= 0) threshold[i] = thresholdOf(mapper.features[f]!, grown.bin[i]!);
    else leaf(grown.totals, i * S, leafValue, i * width);
  }
  const left = Int32Array.from(grown.left);
  const right = Int32Array.from(grown.right);
  return {
    output,
    feature: Int32Array.from(grown.feature),
    threshold,
    left,
    right,
    missingGoesLeft: Uint8Array.from(grown.missingLeft),
    leafValue,
    gain: Float64Array.from(grown.gain),
    cover,
  };
}
