import type { MlpActivation, MlpModelJSON } from "../mlp";
import type { MlpDagwoodModel } from "../model";
import { attr, type OnnxGraphBuilder, tensor } from "./builder";
import {
  appendPreprocessing,
  type ExportedModel,
  type ExportModelOptions,
  finishModelGraph,
  outputSignature,
  startModelGraph,
} from "./model";
import { appendLabel, appendProbabilities, type ClassNames, type ProducedOutput } from "./trees";

const FLOAT = 1;
const DOUBLE = 11;

const ACTIVATION_OPS: Record<MlpActivation, string> = { relu: "Relu", tanh: "Tanh", sigmoid: "Sigmoid" };

export interface AppendMlpOptions {
  /** Class names by class index; `label` then holds them (and `label_index` the index). */
  classes?: ClassNames;
  /** "double" (default) or "float": the dtype of the weights and the arithmetic. */
  precision?: "double" | "float";
}

/**
 * Appends the network to `builder`, reading `features`, a DOUBLE [N, F]
 * tensor whose columns are `model.featureNames` in order (what
 * appendPreprocessing gives). Produces `prediction` [N] DOUBLE, or
 * `probabilities` [N,K] DOUBLE and `label` [N] (class names when given, else
 * the INT64 index) with `label_index`.
 */
export function appendMlp(
  builder: OnnxGraphBuilder,
  model: MlpModelJSON,
  features: string,
  options: AppendMlpOptions = {},
): ProducedOutput[] {
  checkModel(model, options.classes);
  const precision = options.precision ?? "double";
  const dtype = precision === "double" ? "DOUBLE" : "FLOAT";
  let h =
    precision === "double"
      ? features
      : builder.node("Cast", [features], [builder.fresh("features_f32")], { to: attr.int(FLOAT) })[0]!;
  const last = model.layers.length - 1;
  model.layers.forEach((layer, l) => {
    const W = builder.initializer(
      `dense${l}_weights`,
      tensor(dtype, [layer.inputs, layer.units], layer.weights),
    );
    const b = builder.initializer(`dense${l}_bias`, tensor(dtype, [layer.units], layer.bias));
    const [product] = builder.node("MatMul", [h, W], [builder.fresh(`dense${l}_product`)]);
    [h] = builder.node("Add", [product!, b], [builder.fresh(l < last ? `dense${l}_linear` : "logits")]) as [
      string,
    ];
    if (l < last) {
      [h] = builder.node(ACTIVATION_OPS[model.activation], [h], [builder.fresh(`dense${l}_out`)]) as [string];
    }
  });
  // The outputs are DOUBLE whatever the arithmetic.
  const toOutput = (x: string, name: string) =>
    precision === "double"
      ? builder.node("Identity", [x], [name])[0]!
      : builder.node("Cast", [x], [name], { to: attr.int(DOUBLE) })[0]!;

  if (model.output === "identity") {
    const { mean, std } = model.targetScale ?? { mean: 0, std: 1 };
    const scale = builder.initializer("target_std", tensor(dtype, [], [std]));
    const offset = builder.initializer("target_mean", tensor(dtype, [], [mean]));
    const [scaled] = builder.node("Mul", [h, scale], [builder.fresh("prediction_scaled")]);
    const [shifted] = builder.node("Add", [scaled!, offset], [builder.fresh("prediction_2d")]);
    const shape = builder.initializer("flat_shape", tensor("INT64", [1], [-1]));
    const [flat] = builder.node("Reshape", [shifted!, shape], [builder.fresh("prediction_flat")]);
    toOutput(flat!, "prediction");
    return [{ name: "prediction", elemType: "DOUBLE", shape: [-1] }];
  }

  const { probabilities, decide } = appendProbabilities(
    builder,
    h,
    model.output === "sigmoid",
    dtype,
    "probabilities_raw",
  );
  const C = model.numClasses ?? 2;
  toOutput(probabilities, "probabilities");
  const produced: ProducedOutput[] = [{ name: "probabilities", elemType: "DOUBLE", shape: [-1, C] }];
  return [...produced, ...appendLabel(builder, decide, options.classes)];
}

/** The layouts dagwood.mlp/1 defines: chained layers ending in 1 unit, or K for multiclass. */
function checkModel(model: MlpModelJSON, classes: ClassNames | undefined): void {
  if (model.layers.length === 0) throw new Error("The network has no layers");
  let width = model.featureNames.length;
  model.layers.forEach((layer, l) => {
    if (layer.inputs !== width) throw new Error(`Layer ${l} takes ${layer.inputs} inputs, not ${width}`);
    if (layer.weights.length !== layer.inputs * layer.units || layer.bias.length !== layer.units) {
      throw new Error(`Layer ${l} has ${layer.weights.length} weights and ${layer.bias.length} biases`);
    }
    width = layer.units;
  });
  const C = model.numClasses ?? 2;
  const expected = model.output === "softmax" ? C : 1;
  const layout =
    model.output === "identity"
      ? model.task === "regression"
      : model.task !== "regression" && width === expected;
  if (!layout || width !== expected) {
    throw new Error(
      `Cannot export a ${model.task} network with ${width} outputs and a ${model.output} output`,
    );
  }
  if (classes && classes.length !== C) {
    throw new Error(`The model has ${C} classes but ${classes.length} class names were given`);
  }
}

/** Exports a whole MLP model: one input per raw column, the preprocessing, the network. */
export function exportMlpModelWithInfo(
  model: MlpDagwoodModel,
  options: ExportModelOptions = {},
): ExportedModel {
  const builder = startModelGraph(model, model.mlp.featureNames, "network", options);
  const spec = model.preprocess;
  if (model.task !== model.mlp.task) {
    throw new Error(`A ${model.task} model cannot hold a ${model.mlp.task} network`);
  }

  const features = appendPreprocessing(builder, spec);
  const produced = appendMlp(builder, model.mlp, features, {
    ...(model.classes ? { classes: model.classes as string[] | number[] } : {}),
    ...(options.precision ? { precision: options.precision } : {}),
  });
  outputSignature(builder, model, produced, "network");

  return finishModelGraph(builder, model);
}
