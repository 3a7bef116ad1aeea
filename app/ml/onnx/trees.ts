/**
 * Tree ensembles (app/ml/trees) to ONNX, computed in float64 exactly as
 * `predict.ts` does. The classifier op is avoided on purpose: its binary rule
 * labels [0.9, 0.1] as the second class in onnxruntime (issue 4), and ArgMax
 * over the probabilities is exactly what `predict` does.
 *
 * TreeEnsembleRegressor compares DOUBLE inputs with DOUBLE thresholds
 * (`nodes_values_as_tensor`, ai.onnx.ml 3), so a row is routed as natively;
 * but its output is FLOAT by the spec, which would round every score. So the
 * ensemble is asked for the leaf each tree reaches, not for the sum: one
 * target per tree, whose weight is the leaf's node index (an integer, exact
 * in float). The leaf values are then looked up in a DOUBLE table and summed
 * in float64:
 *
 *   TER(n_targets T, weight = node index) → Cast INT64 → Add(tree offsets) → Gather(leaf table)
 *     trees with vector leaves:          [N,T,K] → ReduceSum(axis 1)
 *     trees of one output (K = 1):       [N,T]   → ReduceSum(axis 1, keepdims)
 *     per-output trees, K outputs:       [N,T]   → MatMul(A [T,K], A[t, output_t] = 1)
 *   → Add(base) → Div(trees per output) for "average" → raw scores [N,K] DOUBLE
 *
 * The leaf values are on the 2^-32 grid of `exactLeaf`, so a sum below 2^21
 * (any classifier's) is exact in any order and equals predictRaw's to the
 * bit, ties included; larger regression sums differ by a few ulps.
 *
 *   regression        raw [N,1] → prediction
 *   GBDT binary       raw → Sigmoid → p; Concat(1 − p, p) → probabilities [N,2]
 *   GBDT multiclass   raw [N,K] → Softmax → probabilities [N,K]
 *   forest/CART class raw (mean class probabilities) → probabilities [N,K]
 *   classification    ArgMax(probabilities, keepdims 0) → label [N] INT64 (first on ties, like predict);
 *                     with class names: → label_index, LabelEncoder → label [N] (STRING, INT64 or FLOAT)
 */
import { exactLeaf, treesPerOutput } from "../trees/predict";
import type { TreeEnsembleModel } from "../trees/types";
import { type AttributeValue, attr, type BuilderOptions, OnnxGraphBuilder, tensor } from "./builder";
import type { DataTypeName } from "./schema";

const ML = "ai.onnx.ml";
const DOUBLE = 11;
const INT64 = 7;

export type ClassNames = readonly string[] | readonly number[];

export interface TreeTensorNames {
  prediction: string;
  probabilities: string;
  label: string;
  /** The INT64 class index, a separate output only when class names are given. */
  labelIndex: string;
}

export const DEFAULT_TENSOR_NAMES: TreeTensorNames = {
  prediction: "prediction",
  probabilities: "probabilities",
  label: "label",
  labelIndex: "label_index",
};

export interface AppendTreeOptions {
  /** Class names by class index; `label` then holds them (and `label_index` the index). */
  classes?: ClassNames;
  /** Names of the tensors to produce (defaults: DEFAULT_TENSOR_NAMES). */
  names?: Partial<TreeTensorNames>;
}

/** A graph output the ensemble produced: its name, type and shape. */
export interface ProducedOutput {
  name: string;
  elemType: DataTypeName;
  shape: (number | string)[];
}

/**
 * Appends the ensemble to `builder`, reading `features`, a [N, F] DOUBLE (or
 * FLOAT) tensor whose columns are `model.featureNames` in order. Returns the
 * tensors it produced (prediction, or probabilities + label [+ label_index]),
 * all DOUBLE but the labels; the caller declares them as graph outputs (or
 * feeds them on).
 */
export function appendTreeEnsemble(
  builder: OnnxGraphBuilder,
  model: TreeEnsembleModel,
  features: string,
  options: AppendTreeOptions = {},
): ProducedOutput[] {
  const names = { ...DEFAULT_TENSOR_NAMES, ...options.names };
  const C = model.numClasses;
  checkModel(model, options.classes);
  checkTarget(builder, options);
  const input = castToDouble(builder, features);

  if (model.task === "regression") {
    appendRawScores(builder, model, input, names.prediction);
    return [{ name: names.prediction, elemType: "DOUBLE", shape: [-1, 1] }];
  }

  // Probability leaves come out of the ensemble as they are; scores go through a transform.
  const scores = model.postTransform === "none" ? names.probabilities : builder.fresh("tree_scores");
  appendRawScores(builder, model, input, scores);
  // Classes are decided on the raw scores, as predict does: binary on [−s, s] (class 1 iff s > 0),
  // multiclass on the scores themselves (softmax is monotone; its rounding could tie distinct scores).
  let decide = scores;
  if (model.postTransform === "logistic") {
    const [p] = builder.node("Sigmoid", [scores], [builder.fresh("p_positive")]);
    const one = builder.initializer("one", tensor("DOUBLE", [], [1]));
    const [q] = builder.node("Sub", [one, p!], [builder.fresh("p_negative")]);
    builder.node("Concat", [q!, p!], [names.probabilities], { axis: attr.int(1) });
    const [negated] = builder.node("Neg", [scores], [builder.fresh("tree_scores_negated")]);
    [decide] = builder.node("Concat", [negated!, scores], [builder.fresh("tree_decide")], {
      axis: attr.int(1),
    }) as [string];
  } else if (model.postTransform === "softmax") {
    builder.node("Softmax", [scores], [names.probabilities], { axis: attr.int(-1) });
  }

  const produced: ProducedOutput[] = [{ name: names.probabilities, elemType: "DOUBLE", shape: [-1, C] }];
  return [...produced, ...appendLabel(builder, decide, options.classes, names)];
}

/**
 * The raw scores [N, K] DOUBLE into `output`, as `predictRaw`: per output the
 * leaf values of its trees summed, plus the base score, divided by the tree
 * count for "average" (see the file comment).
 */
function appendRawScores(
  builder: OnnxGraphBuilder,
  model: TreeEnsembleModel,
  input: string,
  output: string,
): void {
  const K = model.numOutputs;
  const vectorLeaves = model.trees.every((t) => t.output < 0);
  if (!vectorLeaves && model.trees.some((t) => t.output < 0)) {
    throw new Error("Cannot export an ensemble that mixes vector-leaf trees with per-output trees");
  }
  if (!vectorLeaves && K > 1 && model.aggregate === "average") {
    throw new Error('Cannot export an "average" ensemble of per-output trees');
  }
  // One leaf table for all trees, indexed by the node's place in the whole ensemble.
  const offsets: number[] = [];
  let total = 0;
  for (const t of model.trees) {
    offsets.push(total);
    total += t.feature.length;
  }
  const width = vectorLeaves ? K : 1;
  const table = new Float64Array(total * width);
  model.trees.forEach((t, i) => {
    for (let j = 0; j < t.feature.length * width; j++)
      table[offsets[i]! * width + j] = exactLeaf(t.leafValue[j]!);
  });
  const leaves = builder.initializer(
    "tree_leaf_values",
    tensor("DOUBLE", vectorLeaves ? [total, K] : [total], table),
  );
  // Trees in chunks: each chunk's [N, chunk] intermediates are freed before the next, so a run's
  // memory grows with rows × TREE_CHUNK, not rows × trees. The leaves are on a 2^-32 grid
  // (exactLeaf): sums below 2^21 are exact whatever their order, chunked or not.
  let sum: string | undefined;
  for (let first = 0; first < model.trees.length; first += TREE_CHUNK) {
    const trees = model.trees.slice(first, first + TREE_CHUNK);
    const part = appendChunkSum(
      builder,
      { ...model, trees },
      input,
      leaves,
      offsets.slice(first),
      vectorLeaves,
    );
    sum = sum === undefined ? part : builder.node("Add", [sum, part], [builder.fresh("tree_sum")])[0]!;
  }
  const base = builder.initializer("tree_base", tensor("DOUBLE", [K], model.baseScore));
  if (model.aggregate !== "average") {
    builder.node("Add", [sum!, base], [output]);
    return;
  }
  // No MatMul precedes this Div: onnxruntime fuses MatMul → Div (or Mul) by a constant into
  // FusedMatMul, whose float32 alpha would round the mean.
  const [based] = builder.node("Add", [sum!, base], [builder.fresh("tree_sum_based")]);
  const counts = treesPerOutput(model);
  const divisor = builder.initializer(
    "tree_counts",
    tensor(
      "DOUBLE",
      [K],
      Array.from(counts, (c) => c || 1),
    ),
  );
  builder.node("Div", [based!, divisor], [output]);
}

/** Trees per TreeEnsembleRegressor node of the export (see appendRawScores). */
export const TREE_CHUNK = 256;

/** The sum over `model.trees` (one chunk) of each row's leaf values: [N, K] DOUBLE. */
function appendChunkSum(
  builder: OnnxGraphBuilder,
  model: TreeEnsembleModel,
  input: string,
  leaves: string,
  offsets: readonly number[],
  vectorLeaves: boolean,
): string {
  const K = model.numOutputs;
  const T = model.trees.length;
  const [leafIds] = builder.node(
    "TreeEnsembleRegressor",
    [input],
    [builder.fresh("tree_leaf_ids")],
    leafIdAttributes(model),
    { domain: ML },
  );
  const [local] = builder.node("Cast", [leafIds!], [builder.fresh("tree_leaf_local")], {
    to: attr.int(INT64),
  });
  const offset = builder.initializer("tree_node_offsets", tensor("INT64", [T], offsets.slice(0, T)));
  const [global] = builder.node("Add", [local!, offset], [builder.fresh("tree_leaf_global")]);
  const [picked] = builder.node("Gather", [leaves, global!], [builder.fresh("tree_leaf_picked")], {
    axis: attr.int(0),
  });
  if (vectorLeaves || K === 1) return appendSumOverTrees(builder, picked!, vectorLeaves ? 0 : 1);
  // Per-output trees of several outputs (GBDT multiclass, always "sum"): a 0/1 assignment matrix.
  const assign = new Float64Array(T * K);
  model.trees.forEach((t, i) => {
    assign[i * K + t.output] = 1;
  });
  const A = builder.initializer("tree_sum_matrix", tensor("DOUBLE", [T, K], assign));
  return builder.node("MatMul", [picked!, A], [builder.fresh("tree_sum")])[0]!;
}

/** ReduceSum over axis 1 ([N,T] → [N,1] with keepdims, [N,T,K] → [N,K] without), axes as the opset takes them. */
function appendSumOverTrees(builder: OnnxGraphBuilder, picked: string, keepdims: 0 | 1): string {
  const out = builder.fresh("tree_sum");
  if ((builder.opsets[""] ?? 0) >= 13) {
    const axes = builder.initializer("tree_sum_axes", tensor("INT64", [1], [1]));
    builder.node("ReduceSum", [picked, axes], [out], { keepdims: attr.int(keepdims) });
  } else {
    builder.node("ReduceSum", [picked], [out], { axes: attr.ints([1]), keepdims: attr.int(keepdims) });
  }
  return out;
}

/** TreeEnsembleRegressor attributes giving, per tree t (target t), the node index of the leaf a row reaches. */
function leafIdAttributes(model: TreeEnsembleModel): Record<string, AttributeValue> {
  const routing = ensembleAttributes(model);
  const targetTree: number[] = [];
  const targetNode: number[] = [];
  const leafIds: number[] = [];
  model.trees.forEach((tree, t) => {
    if (tree.feature.length > 1 << 24) {
      throw new Error(`Tree ${t} has ${tree.feature.length} nodes; the export takes at most 2^24 per tree`);
    }
    for (let i = 0; i < tree.feature.length; i++) {
      if (tree.feature[i]! >= 0) continue;
      targetTree.push(t);
      targetNode.push(i);
      leafIds.push(i);
    }
  });
  return {
    ...routing,
    n_targets: attr.int(model.trees.length),
    aggregate_function: attr.string("SUM"),
    target_treeids: attr.ints(targetTree),
    target_nodeids: attr.ints(targetNode),
    target_ids: attr.ints(targetTree),
    target_weights_as_tensor: attr.tensor(tensor("DOUBLE", [leafIds.length], leafIds)),
    base_values_as_tensor: attr.tensor(
      tensor("DOUBLE", [model.trees.length], new Float64Array(model.trees.length)),
    ),
  };
}

/**
 * Class probabilities from a linear or network head's `scores` [N, K]: a
 * binary head (K = 1) gives [1 − σ, σ], a multiclass head the softmax.
 * `decide` is what appendLabel should take the ArgMax of: the probabilities
 * (binary) or the scores (their softmax has the same ArgMax).
 */
export function appendProbabilities(
  builder: OnnxGraphBuilder,
  scores: string,
  binary: boolean,
  dtype: "DOUBLE" | "FLOAT",
  name: string,
): { probabilities: string; decide: string } {
  if (binary) {
    const [p] = builder.node("Sigmoid", [scores], [builder.fresh("p_positive")]);
    const one = builder.initializer("one", tensor(dtype, [], [1]));
    const [q] = builder.node("Sub", [one, p!], [builder.fresh("p_negative")]);
    const [probabilities] = builder.node("Concat", [q!, p!], [builder.fresh(name)], { axis: attr.int(1) });
    return { probabilities: probabilities!, decide: probabilities! };
  }
  const [probabilities] = builder.node("Softmax", [scores], [builder.fresh(name)], { axis: attr.int(-1) });
  return { probabilities: probabilities!, decide: scores };
}

/**
 * The `label` output every classifier ends with: ArgMax over `decide` (first
 * on ties, like predict), then, with class names, LabelEncoder from the index
 * (kept as `label_index`) to the names.
 */
export function appendLabel(
  builder: OnnxGraphBuilder,
  decide: string,
  classes: ClassNames | undefined,
  names: { label: string; labelIndex: string } = { label: "label", labelIndex: "label_index" },
): ProducedOutput[] {
  const argmaxAttrs = { axis: attr.int(1), keepdims: attr.int(0) };
  if (!classes) {
    builder.node("ArgMax", [decide], [names.label], argmaxAttrs);
    return [{ name: names.label, elemType: "INT64", shape: [-1] }];
  }
  builder.node("ArgMax", [decide], [names.labelIndex], argmaxAttrs);
  const { elemType, values } = classValues(classes);
  builder.node(
    "LabelEncoder",
    [names.labelIndex],
    [names.label],
    { keys_int64s: attr.ints(classes.map((_, i) => i)), ...values },
    { domain: ML },
  );
  return [
    { name: names.label, elemType, shape: [-1] },
    { name: names.labelIndex, elemType: "INT64", shape: [-1] },
  ];
}

/** The output layouts this exporter knows (app/ml/trees/README.md, the model table). */
function checkModel(model: TreeEnsembleModel, classes: ClassNames | undefined): void {
  const K = model.numOutputs;
  const C = model.numClasses;
  const layout =
    model.task === "regression"
      ? K === 1 && model.postTransform === "none"
      : model.postTransform === "logistic"
        ? K === 1 && C === 2
        : K === C;
  if (!layout) {
    throw new Error(
      `Cannot export a ${model.task} ${model.kind} model with ${K} outputs, ${C} classes and post transform "${model.postTransform}"`,
    );
  }
  if (model.baseScore.length !== K)
    throw new Error(`The model has ${model.baseScore.length} base scores for ${K} outputs`);
  if (classes && classes.length !== C) {
    throw new Error(`The model has ${C} classes but ${classes.length} class names were given`);
  }
}

/**
 * What the target's ai.onnx.ml opset allows (checked with onnxruntime 1.30):
 * the `*_as_tensor` attributes that carry DOUBLE thresholds exist from
 * opset 3, and opset 5 deprecates TreeEnsembleRegressor (for
 * ai.onnx.ml.TreeEnsemble, which this exporter does not write yet).
 */
function checkTarget(builder: OnnxGraphBuilder, _options: AppendTreeOptions): void {
  const ml = builder.opsets[ML] ?? 0;
  if (ml < 3 || ml >= 5) {
    throw new Error(
      `Tree ensembles export as ai.onnx.ml TreeEnsembleRegressor with float64 thresholds, which needs ai.onnx.ml opset 3 or 4 (this target has ${ml || "none"}); use the default 3`,
    );
  }
}

function castToDouble(builder: OnnxGraphBuilder, features: string): string {
  const [out] = builder.node("Cast", [features], [builder.fresh("features_f64")], { to: attr.int(DOUBLE) });
  return out!;
}

/** LabelEncoder values for the class names: strings, integers, or floats. */
export function classValues(classes: ClassNames): {
  elemType: DataTypeName;
  values: Record<string, AttributeValue>;
} {
  if (classes.every((c) => typeof c === "string")) {
    return { elemType: "STRING", values: { values_strings: attr.strings(classes as string[]) } };
  }
  const numbers = classes as readonly number[];
  if (numbers.every((c) => Number.isSafeInteger(c))) {
    return { elemType: "INT64", values: { values_int64s: attr.ints(numbers) } };
  }
  if (numbers.every((c) => Math.fround(c) === c)) {
    return { elemType: "FLOAT", values: { values_floats: attr.floats(numbers) } };
  }
  throw new Error("Class names must be all strings, or numbers that are integers or float32-representable");
}

/**
 * The TreeEnsembleRegressor attributes of the ensemble's own sum (see
 * app/ml/trees/README.md, "ONNX mapping"): the routing, with DOUBLE
 * thresholds, and the leaf values as targets. The export replaces the
 * targets with leaf ids (leafIdAttributes).
 */
export function ensembleAttributes(model: TreeEnsembleModel): Record<string, AttributeValue> {
  const K = model.numOutputs;
  const nodeCount = model.trees.reduce((n, t) => n + t.feature.length, 0);
  const treeIds = new Int32Array(nodeCount);
  const nodeIds = new Int32Array(nodeCount);
  const featureIds = new Int32Array(nodeCount);
  const modes: string[] = new Array(nodeCount);
  const thresholds = new Float64Array(nodeCount);
  const trueIds = new Int32Array(nodeCount);
  const falseIds = new Int32Array(nodeCount);
  const missingTrue = new Int32Array(nodeCount);
  const targetTree: number[] = [];
  const targetNode: number[] = [];
  const targetId: number[] = [];
  const targetWeight: number[] = [];

  let j = 0;
  model.trees.forEach((tree, t) => {
    const width = tree.output >= 0 ? 1 : K;
    for (let i = 0; i < tree.feature.length; i++, j++) {
      treeIds[j] = t;
      nodeIds[j] = i;
      const leaf = tree.feature[i]! < 0;
      modes[j] = leaf ? "LEAF" : "BRANCH_LEQ";
      if (leaf) {
        for (let k = 0; k < width; k++) {
          targetTree.push(t);
          targetNode.push(i);
          targetId.push(tree.output >= 0 ? tree.output : k);
          targetWeight.push(tree.leafValue[i * width + k]!);
        }
      } else {
        featureIds[j] = tree.feature[i]!;
        thresholds[j] = tree.threshold[i]!;
        trueIds[j] = tree.left[i]!;
        falseIds[j] = tree.right[i]!;
        missingTrue[j] = tree.missingGoesLeft[i]!;
      }
    }
  });

  const values: Record<string, AttributeValue> = {
    nodes_values_as_tensor: attr.tensor(tensor("DOUBLE", [nodeCount], thresholds)),
    target_weights_as_tensor: attr.tensor(tensor("DOUBLE", [targetWeight.length], targetWeight)),
    base_values_as_tensor: attr.tensor(tensor("DOUBLE", [K], model.baseScore)),
  };
  return {
    n_targets: attr.int(K),
    aggregate_function: attr.string(model.aggregate === "average" ? "AVERAGE" : "SUM"),
    post_transform: attr.string("NONE"),
    nodes_treeids: attr.ints(treeIds),
    nodes_nodeids: attr.ints(nodeIds),
    nodes_featureids: attr.ints(featureIds),
    nodes_modes: attr.strings(modes),
    nodes_truenodeids: attr.ints(trueIds),
    nodes_falsenodeids: attr.ints(falseIds),
    nodes_missing_value_tracks_true: attr.ints(missingTrue),
    target_treeids: attr.ints(targetTree),
    target_nodeids: attr.ints(targetNode),
    target_ids: attr.ints(targetId),
    ...values,
  };
}

/** Raw-column inputs: each a [N,1] DOUBLE input feeding model column `column`. */
export interface ColumnInput {
  name: string;
  column: number;
}

export interface ExportTreeOptions extends AppendTreeOptions {
  /**
   * The graph's inputs: a name for one [N, F] DOUBLE feature matrix (default
   * "features"), or one [N,1] DOUBLE input per model column, concatenated in
   * column order.
   */
  input?: string | ColumnInput[];
  /** Target runtime: opset overrides, IR version, producer version. */
  target?: BuilderOptions;
  /** Extra metadata_props. */
  metadata?: Record<string, string>;
}

/** A whole ONNX model for a tree ensemble, encoded. */
export function exportTreeEnsemble(model: TreeEnsembleModel, options: ExportTreeOptions = {}): Uint8Array {
  const builder = new OnnxGraphBuilder({
    graphName: `dagwood_${model.kind}_${model.task}`,
    ...options.target,
  });
  const F = model.featureNames.length;
  let features: string;
  if (Array.isArray(options.input)) {
    const byColumn = [...options.input].sort((a, b) => a.column - b.column);
    if (byColumn.length !== F || byColumn.some((c, i) => c.column !== i)) {
      throw new Error(`The inputs must map each of the model's ${F} columns (0..${F - 1}) exactly once`);
    }
    // Inputs are declared in the caller's order; the Concat puts them in column order.
    for (const c of options.input) builder.input(c.name, "DOUBLE", [-1, 1]);
    features = builder.fresh("features");
    builder.node(
      "Concat",
      byColumn.map((c) => c.name),
      [features],
      { axis: attr.int(1) },
    );
  } else {
    features = builder.input(options.input ?? "features", "DOUBLE", [-1, F]);
  }
  const outputs = appendTreeEnsemble(builder, model, features, options);
  for (const o of outputs) builder.output(o.name, o.elemType, o.shape);
  builder.meta("dagwood.model", `trees/${model.kind}/${model.task}`);
  builder.meta("dagwood.features", JSON.stringify(model.featureNames));
  if (options.classes) builder.meta("dagwood.classes", JSON.stringify(options.classes));
  for (const [k, v] of Object.entries(options.metadata ?? {})) builder.meta(k, v);
  return builder.encode();
}
