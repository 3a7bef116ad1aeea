/**
 * Data and model formats of the tree estimators (CART, random forest, GBDT).
 *
 * The model is a flat, typed-array ensemble that maps one-to-one onto ONNX
 * ai.onnx.ml TreeEnsembleRegressor / TreeEnsembleClassifier (see README.md in
 * this folder for the mapping): every split is `x <= threshold` (BRANCH_LEQ),
 * a NaN follows `missingGoesLeft` (nodes_missing_value_tracks_true), and
 * thresholds, leaf values and base scores are float32-representable so the
 * exporter's float32 attributes lose nothing.
 */

/** One input column. NaN is a missing value. */
export interface FeatureColumn {
  name: string;
  /**
   * `categorical` values are integer codes 0..k-1 (k ≤ 255), NaN for missing or
   * unseen. They are split as ordinal codes (`code <= c + 0.5`), see README.md.
   */
  kind: "numeric" | "categorical";
  values: Float64Array;
}

export interface Dataset {
  rows: number;
  features: FeatureColumn[];
}

export type Task = "regression" | "binary" | "multiclass";

/** What a fit takes: the features, the labels and the task. */
export interface TrainingData {
  data: Dataset;
  /** regression: the value; binary: 0/1; multiclass: 0..numClasses-1. */
  y: Float64Array;
  /** Optional non-negative row weights. */
  weights?: Float64Array;
  task: Task;
  /** Required for multiclass (≥ 2); binary is 2, regression 1. */
  numClasses?: number;
}

/**
 * One tree as flat arrays indexed by node id (0 is the root). A leaf has
 * `feature[i] === -1` and `left[i] === right[i] === -1`.
 */
export interface Tree {
  /**
   * The raw-score index this tree adds its leaf value to, or -1 when each leaf
   * carries a vector over all outputs (forest/CART classification: class
   * probabilities).
   */
  output: number;
  feature: Int32Array;
  /** Split rule: go left when `x <= threshold`; float32-representable. */
  threshold: Float64Array;
  left: Int32Array;
  right: Int32Array;
  /** 1: a NaN goes left (ONNX nodes_missing_value_tracks_true = 1). */
  missingGoesLeft: Uint8Array;
  /**
   * Leaf values, `nodes × width` where width is 1 when `output >= 0`, else
   * the model's `numOutputs`; 0 at internal nodes. Float32-representable.
   */
  leafValue: Float64Array;
  /** Split gain at internal nodes (0 at leaves): for split-gain importance. */
  gain: Float64Array;
  /** Training rows (bootstrap multiplicity counted) that reached the node. */
  cover: Float64Array;
}

export interface TreeEnsembleModel {
  format: "dagwood.trees/1";
  kind: "cart" | "forest" | "gbdt";
  task: Task;
  /** 1 for regression, else the number of classes (2 for binary). */
  numClasses: number;
  /**
   * Width of the raw score: 1 for regression and GBDT binary (the logit of
   * class 1), numClasses for GBDT multiclass and forest/CART classification.
   */
  numOutputs: number;
  featureNames: string[];
  featureKinds: FeatureColumn["kind"][];
  /** Per output: added to the aggregated tree sum (ONNX base_values). */
  baseScore: number[];
  aggregate: "sum" | "average";
  postTransform: "none" | "logistic" | "softmax";
  trees: Tree[];
  /** Number of boosting rounds kept (GBDT), or trees (forest), or 1 (CART). */
  iterations: number;
}

/** Per-iteration losses streamed by GBDT fits. */
export interface IterationLosses {
  /** Mean loss on the training rows (squared error, log loss or cross-entropy). */
  trainLoss: number;
  /** Mean loss on the early-stopping validation rows, when there are some. */
  validLoss?: number;
}

export interface FitOptions {
  /** Abort stops the fit within a second; it then rejects with an AbortError. */
  signal?: AbortSignal;
  /**
   * Where the hot loops run: a worker pool (default: the shared pool with
   * os.availableParallelism() workers), or "inline" for this thread.
   */
  pool?: import("./pool").TreePool | "inline";
  /** GBDT: called after each boosting round (0-based) with its losses. */
  onIteration?: (iteration: number, losses: IterationLosses) => void;
  /** Fraction done in [0, 1]. */
  onProgress?: (fraction: number) => void;
}

export const FLOAT32_MAX = 3.4028234663852886e38;

/** The JSON form: typed arrays as plain number arrays. */
export type TreeJSON = { [K in keyof Tree]: Tree[K] extends number ? number : number[] };
export type TreeEnsembleJSON = Omit<TreeEnsembleModel, "trees"> & { trees: TreeJSON[] };

export function modelToJSON(model: TreeEnsembleModel): TreeEnsembleJSON {
  return {
    ...model,
    featureNames: [...model.featureNames],
    featureKinds: [...model.featureKinds],
    baseScore: [...model.baseScore],
    trees: model.trees.map((t) => ({
      output: t.output,
      feature: Array.from(t.feature),
      threshold: Array.from(t.threshold),
      left: Array.from(t.left),
      right: Array.from(t.right),
      missingGoesLeft: Array.from(t.missingGoesLeft),
      leafValue: Array.from(t.leafValue),
      gain: Array.from(t.gain),
      cover: Array.from(t.cover),
    })),
  };
}

export function modelFromJSON(json: TreeEnsembleJSON): TreeEnsembleModel {
  if (json?.format !== "dagwood.trees/1") {
    throw new Error(
      `Not a tree ensemble model (format ${JSON.stringify(json?.format)}, want "dagwood.trees/1")`,
    );
  }
  const trees = json.trees.map((t, i): Tree => {
    const n = t.feature.length;
    const width = t.output >= 0 ? 1 : json.numOutputs;
    const arrays = [t.threshold, t.left, t.right, t.missingGoesLeft, t.gain, t.cover];
    if (arrays.some((a) => a.length !== n) || t.leafValue.length !== n * width) {
      throw new Error(`Tree ${i} of the model has arrays of different lengths; the model file is damaged`);
    }
    return {
      output: t.output,
      feature: Int32Array.from(t.feature),
      threshold: Float64Array.from(t.threshold),
      left: Int32Array.from(t.left),
      right: Int32Array.from(t.right),
      missingGoesLeft: Uint8Array.from(t.missingGoesLeft),
      leafValue: Float64Array.from(t.leafValue),
      gain: Float64Array.from(t.gain),
      cover: Float64Array.from(t.cover),
    };
  });
  return {
    ...json,
    featureNames: [...json.featureNames],
    featureKinds: [...json.featureKinds],
    baseScore: [...json.baseScore],
    trees,
  };
}
