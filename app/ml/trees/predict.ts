/**
 * Prediction, computed as the ONNX export does (app/ml/onnx/trees.ts), so the
 * two agree to the last bit before the post transform wherever the partial
 * sums stay below 2^21 (every classifier's raw scores; large regression
 * values differ by a few ulps, far inside the parity rule): rows are
 * compared with the thresholds in float64; per output, the leaf values of
 * its trees (each on a 2^-32 grid, see `exactLeaf`) are summed; then
 * the base score is added and, for "average", the sum divided by the tree
 * count; then the post transform. Classes are decided on the raw scores
 * (binary: score > 0), so no rounding of a sigmoid or softmax can move a
 * label.
 */
import type { Dataset, TreeEnsembleModel } from "./types";

/** The model's input columns, looked up by name in `data` (the error names a missing one). */
function columns(model: TreeEnsembleModel, data: Dataset): Float64Array[] {
  const byName = new Map(data.features.map((c) => [c.name, c.values]));
  return model.featureNames.map((name) => {
    const values = byName.get(name);
    if (!values) throw new Error(`The data has no column "${name}", which the model was trained on`);
    if (values.length !== data.rows)
      throw new Error(`Column "${name}" has ${values.length} values for ${data.rows} rows`);
    return values;
  });
}

/** The leaf a row reaches: `x <= threshold` goes left, NaN follows missingGoesLeft. */
function leafOf(tree: TreeEnsembleModel["trees"][number], cols: Float64Array[], row: number): number {
  const { feature, threshold, left, right, missingGoesLeft } = tree;
  let n = 0;
  while (feature[n]! >= 0) {
    const x = cols[feature[n]!]![row]!;
    const goLeft = Number.isNaN(x) ? missingGoesLeft[n] === 1 : x <= threshold[n]!;
    n = goLeft ? left[n]! : right[n]!;
  }
  return n;
}

/** Per output, the number of trees that add to it (a vector-leaf tree adds to every output). */
export function treesPerOutput(model: TreeEnsembleModel): Float64Array {
  const counts = new Float64Array(model.numOutputs);
  for (const t of model.trees) {
    if (t.output >= 0) counts[t.output] = counts[t.output]! + 1;
    else for (let k = 0; k < counts.length; k++) counts[k] = counts[k]! + 1;
  }
  return counts;
}

const LEAF_SCALE = 2 ** 32;

/**
 * A leaf value on the 2^-32 grid (a change of at most 1.2e-10). Sums of such
 * values below 2^21 are exact in float64, so they do not depend on the order
 * or the fused multiply-adds of whatever sums them (onnxruntime's MatMul):
 * the native and served scores are the same double, and so are their ties.
 * Values of 2^20 and more are already on the grid.
 */
export function exactLeaf(v: number): number {
  // From 2^20 on every double is on the grid already (and v · 2^32 could overflow).
  return Math.abs(v) >= 2 ** 20 ? v : Math.round(v * LEAF_SCALE) / LEAF_SCALE;
}

/** Raw scores, `rows × numOutputs` row-major, before the post transform. */
export function predictRaw(model: TreeEnsembleModel, data: Dataset): Float64Array {
  const cols = columns(model, data);
  const K = model.numOutputs;
  const out = new Float64Array(data.rows * K);
  for (const t of model.trees) {
    for (let r = 0; r < data.rows; r++) {
      const leaf = leafOf(t, cols, r);
      if (t.output >= 0) out[r * K + t.output] = out[r * K + t.output]! + exactLeaf(t.leafValue[leaf]!);
      else
        for (let k = 0; k < K; k++) out[r * K + k] = out[r * K + k]! + exactLeaf(t.leafValue[leaf * K + k]!);
    }
  }
  const counts = treesPerOutput(model);
  const average = model.aggregate === "average";
  for (let r = 0; r < data.rows; r++) {
    for (let k = 0; k < K; k++) {
      const v = out[r * K + k]! + model.baseScore[k]!;
      out[r * K + k] = average && counts[k]! > 0 ? v / counts[k]! : v;
    }
  }
  return out;
}

/** Class probabilities from raw scores, `rows × numClasses` row-major (binary: [1 − p, p]). */
function probabilitiesOf(model: TreeEnsembleModel, raw: Float64Array, rows: number): Float64Array {
  const K = model.numOutputs;
  const C = model.numClasses;
  const out = new Float64Array(rows * C);
  for (let r = 0; r < rows; r++) {
    if (model.postTransform === "logistic") {
      const p = 1 / (1 + Math.exp(-raw[r]!));
      out[r * 2] = 1 - p;
      out[r * 2 + 1] = p;
    } else if (model.postTransform === "softmax") {
      let m = Number.NEGATIVE_INFINITY;
      for (let k = 0; k < K; k++) m = Math.max(m, raw[r * K + k]!);
      let z = 0;
      for (let k = 0; k < K; k++) z += out[r * C + k] = Math.exp(raw[r * K + k]! - m);
      for (let k = 0; k < K; k++) out[r * C + k] = out[r * C + k]! / z;
    } else {
      for (let k = 0; k < K; k++) out[r * C + k] = raw[r * K + k]!;
    }
  }
  return out;
}

/** The class index per row from raw scores: binary score > 0, else the first highest score. */
function classesOf(model: TreeEnsembleModel, raw: Float64Array, rows: number): Int32Array {
  const K = model.numOutputs;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    if (model.postTransform === "logistic") {
      out[r] = raw[r]! > 0 ? 1 : 0;
      continue;
    }
    let best = 0;
    for (let k = 1; k < K; k++) if (raw[r * K + k]! > raw[r * K + best]!) best = k;
    out[r] = best;
  }
  return out;
}

/** Class probabilities and the class index per row, from one pass over the trees. */
export function predictClasses(
  model: TreeEnsembleModel,
  data: Dataset,
): { probabilities: Float64Array; classIndex: Int32Array } {
  if (model.task === "regression") throw new Error("A regression model has no classes; use predict");
  const raw = predictRaw(model, data);
  return {
    probabilities: probabilitiesOf(model, raw, data.rows),
    classIndex: classesOf(model, raw, data.rows),
  };
}

/** Class probabilities, `rows × numClasses` row-major (binary: [1 − p, p]). */
export function predictProba(model: TreeEnsembleModel, data: Dataset): Float64Array {
  if (model.task === "regression")
    throw new Error("A regression model has no class probabilities; use predict");
  return probabilitiesOf(model, predictRaw(model, data), data.rows);
}

/** Regression: the value. Classification: the class index (binary: score > 0; else the first highest score). */
export function predict(model: TreeEnsembleModel, data: Dataset): Float64Array {
  if (model.task === "regression") return predictRaw(model, data);
  return Float64Array.from(predictClasses(model, data).classIndex);
}
