/**
 * Prediction, computed as ONNX TreeEnsemble does: per output, the leaf values
 * of its trees summed in tree order (divided by the tree count for
 * "average"), then base_values added, then the post transform.
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

/** Raw scores, `rows × numOutputs` row-major, before the post transform. */
export function predictRaw(model: TreeEnsembleModel, data: Dataset): Float64Array {
  const cols = columns(model, data);
  const K = model.numOutputs;
  const out = new Float64Array(data.rows * K);
  const perOutput = new Float64Array(K);
  for (const t of model.trees) {
    if (t.output >= 0) perOutput[t.output] = perOutput[t.output]! + 1;
    else perOutput.fill(perOutput[0]! + 1);
  }
  for (const t of model.trees) {
    for (let r = 0; r < data.rows; r++) {
      const leaf = leafOf(t, cols, r);
      if (t.output >= 0) out[r * K + t.output] = out[r * K + t.output]! + t.leafValue[leaf]!;
      else for (let k = 0; k < K; k++) out[r * K + k] = out[r * K + k]! + t.leafValue[leaf * K + k]!;
    }
  }
  for (let r = 0; r < data.rows; r++) {
    for (let k = 0; k < K; k++) {
      let v = out[r * K + k]!;
      if (model.aggregate === "average" && perOutput[k]! > 0) v /= perOutput[k]!;
      out[r * K + k] = v + model.baseScore[k]!;
    }
  }
  return out;
}

/** Class probabilities, `rows × numClasses` row-major (binary: [1 − p, p]). */
export function predictProba(model: TreeEnsembleModel, data: Dataset): Float64Array {
  if (model.task === "regression")
    throw new Error("A regression model has no class probabilities; use predict");
  const raw = predictRaw(model, data);
  const K = model.numOutputs;
  const C = model.numClasses;
  const out = new Float64Array(data.rows * C);
  for (let r = 0; r < data.rows; r++) {
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

/** Regression: the value. Classification: the class index with the highest probability (the first on ties). */
export function predict(model: TreeEnsembleModel, data: Dataset): Float64Array {
  if (model.task === "regression") return predictRaw(model, data);
  const proba = predictProba(model, data);
  const C = model.numClasses;
  const out = new Float64Array(data.rows);
  for (let r = 0; r < data.rows; r++) {
    let best = 0;
    for (let k = 1; k < C; k++) if (proba[r * C + k]! > proba[r * C + best]!) best = k;
    out[r] = best;
  }
  return out;
}
