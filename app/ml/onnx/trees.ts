/**
 * Tree ensembles (app/ml/trees) to ONNX: one ai.onnx.ml TreeEnsembleRegressor
 * for every model kind and task, followed by standard ops for the class
 * probabilities and labels. The classifier op is avoided on purpose: its
 * binary rule labels [0.9, 0.1] as the second class in onnxruntime (issue 4),
 * and ArgMax over the probabilities is exactly what `predict` does.
 *
 *   regression        TreeEnsembleRegressor(n_targets 1) → prediction [N,1]
 *   GBDT binary       TER(logit) → Sigmoid → p; Concat(1 − p, p) → probabilities [N,2]
 *   GBDT multiclass   TER(n_targets K, SUM, base_values) → Softmax → probabilities [N,K]
 *   forest/CART class TER(n_targets K, AVERAGE, leaves = class probabilities) → probabilities [N,K]
 *   classification    ArgMax(probabilities, keepdims 0) → label [N] INT64 (first on ties, like predict);
 *                     with class names: → label_index, LabelEncoder → label [N] (STRING, INT64 or FLOAT)
 */
import type { TreeEnsembleModel } from "../trees/types";
import { type AttributeValue, attr, type BuilderOptions, OnnxGraphBuilder, tensor } from "./builder";
import type { DataTypeName } from "./schema";

const ML = "ai.onnx.ml";

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
  /**
   * "double" (default from ai.onnx.ml opset 3) casts the features to DOUBLE and gives the thresholds
   * and leaf values as DOUBLE tensors (`*_as_tensor`), so onnxruntime sums
   * the leaves in float64 as `predict` does; only the result is rounded to
   * float. "float" keeps everything in float32 (smaller, sums in float32:
   * regression scores then differ by a few float32 ulps of their scale).
   */
  precision?: "double" | "float";
}

/** A graph output the ensemble produced: its name, type and shape. */
export interface ProducedOutput {
  name: string;
  elemType: DataTypeName;
  shape: (number | string)[];
}

/**
 * Appends the ensemble to `builder`, reading `features`, a [N, F] FLOAT tensor
 * whose columns are `model.featureNames` in order. Returns the tensors it
 * produced (prediction, or probabilities + label [+ label_index]); the caller
 * declares them as graph outputs (or feeds them on).
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
  const precision = checkTarget(builder, options);
  const input = precision === "double" ? castToDouble(builder, features) : features;

  if (model.task === "regression") {
    builder.node("TreeEnsembleRegressor", [input], [names.prediction], ensembleAttributes(model, precision), {
      domain: ML,
    });
    return [{ name: names.prediction, elemType: "FLOAT", shape: [-1, 1] }];
  }

  // Probability leaves come out of the ensemble as they are; scores go through a transform.
  const scores = model.postTransform === "none" ? names.probabilities : builder.fresh("tree_scores");
  builder.node("TreeEnsembleRegressor", [input], [scores], ensembleAttributes(model, precision), {
    domain: ML,
  });
  if (model.postTransform === "logistic") {
    const [p] = builder.node("Sigmoid", [scores], [builder.fresh("p_positive")]);
    const one = builder.initializer("one", tensor("FLOAT", [], [1]));
    const [q] = builder.node("Sub", [one, p!], [builder.fresh("p_negative")]);
    builder.node("Concat", [q!, p!], [names.probabilities], { axis: attr.int(1) });
  } else if (model.postTransform === "softmax") {
    builder.node("Softmax", [scores], [names.probabilities], { axis: attr.int(-1) });
  }

  const produced: ProducedOutput[] = [{ name: names.probabilities, elemType: "FLOAT", shape: [-1, C] }];
  return [...produced, ...appendLabel(builder, names.probabilities, options.classes, names)];
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
 * the `*_as_tensor` attributes exist from opset 3, LabelEncoder's
 * keys_int64s from 2, and opset 5 deprecates TreeEnsembleRegressor (for
 * ai.onnx.ml.TreeEnsemble, which this exporter does not write yet).
 * Returns the precision to use: "double" by default where available.
 */
function checkTarget(builder: OnnxGraphBuilder, options: AppendTreeOptions): "double" | "float" {
  const ml = builder.opsets[ML] ?? 0;
  if (ml < 1 || ml >= 5) {
    throw new Error(
      `Tree ensembles export as ai.onnx.ml TreeEnsembleRegressor, which needs an ai.onnx.ml opset from 1 to 4 (this target has ${ml || "none"}); use the default 3`,
    );
  }
  if (options.classes && ml < 2) {
    throw new Error(
      "Class names need LabelEncoder with keys_int64s, from ai.onnx.ml opset 2; raise the opset",
    );
  }
  if (options.precision === "double" && ml < 3) {
    throw new Error('precision "double" needs ai.onnx.ml opset 3 (the *_as_tensor attributes); use "float"');
  }
  return options.precision ?? (ml >= 3 ? "double" : "float");
}

function castToDouble(builder: OnnxGraphBuilder, features: string): string {
  const [out] = builder.node("Cast", [features], [builder.fresh("features_f64")], { to: attr.int(11) });
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

/** The TreeEnsembleRegressor attributes (see app/ml/trees/README.md, "ONNX mapping"). */
export function ensembleAttributes(
  model: TreeEnsembleModel,
  precision: "double" | "float" = "double",
): Record<string, AttributeValue> {
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

  const values: Record<string, AttributeValue> =
    precision === "double"
      ? {
          nodes_values_as_tensor: attr.tensor(tensor("DOUBLE", [nodeCount], thresholds)),
          target_weights_as_tensor: attr.tensor(tensor("DOUBLE", [targetWeight.length], targetWeight)),
          base_values_as_tensor: attr.tensor(tensor("DOUBLE", [K], model.baseScore)),
        }
      : {
          nodes_values: attr.floats(thresholds),
          target_weights: attr.floats(targetWeight),
          base_values: attr.floats(model.baseScore),
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

/** Raw-column inputs: each a [N,1] FLOAT input feeding model column `column`. */
export interface ColumnInput {
  name: string;
  column: number;
}

export interface ExportTreeOptions extends AppendTreeOptions {
  /**
   * The graph's inputs: a name for one [N, F] FLOAT feature matrix (default
   * "features"), or one [N,1] FLOAT input per model column, concatenated in
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
    for (const c of options.input) builder.input(c.name, "FLOAT", [-1, 1]);
    features = builder.fresh("features");
    builder.node(
      "Concat",
      byColumn.map((c) => c.name),
      [features],
      { axis: attr.int(1) },
    );
  } else {
    features = builder.input(options.input ?? "features", "FLOAT", [-1, F]);
  }
  const outputs = appendTreeEnsemble(builder, model, features, options);
  for (const o of outputs) builder.output(o.name, o.elemType, o.shape);
  builder.meta("dagwood.model", `trees/${model.kind}/${model.task}`);
  builder.meta("dagwood.features", JSON.stringify(model.featureNames));
  if (options.classes) builder.meta("dagwood.classes", JSON.stringify(options.classes));
  for (const [k, v] of Object.entries(options.metadata ?? {})) builder.meta(k, v);
  return builder.encode();
}
