import type { LinearModelJSON } from "../linear";
import type { LinearDagwoodModel } from "../model";
import { type OnnxGraphBuilder, tensor } from "./builder";
import {
  appendPreprocessing,
  type ExportedModel,
  type ExportModelOptions,
  finishModelGraph,
  outputSignature,
  startModelGraph,
} from "./model";
import { appendLabel, appendProbabilities, type ClassNames, type ProducedOutput } from "./trees";

/**
 * Appends the linear model to `builder`, reading `features`, a DOUBLE
 * [N, F] tensor whose columns are `model.featureNames` in order. Produces
 * `prediction` [N] DOUBLE, or `probabilities` [N,K] DOUBLE and `label` [N]
 * (class names when given, else the INT64 index) with `label_index`.
 */
export function appendLinear(
  builder: OnnxGraphBuilder,
  model: LinearModelJSON,
  features: string,
  options: { classes?: ClassNames } = {},
): ProducedOutput[] {
  const F = model.featureNames.length;
  const K = model.coefficients.length;
  checkModel(model, options.classes);
  // Wᵀ: row f holds every output's coefficient of feature f.
  const weights = new Float64Array(F * K);
  model.coefficients.forEach((row, k) => {
    row.forEach((w, f) => {
      weights[f * K + k] = w;
    });
  });
  const W = builder.initializer("coefficients", tensor("DOUBLE", [F, K], weights));
  const b = builder.initializer("intercepts", tensor("DOUBLE", [K], model.intercepts));
  const [product] = builder.node("MatMul", [features, W], [builder.fresh("linear_product")]);
  const [scores] = builder.node("Add", [product!, b], [builder.fresh("scores")]);

  if (model.kind === "ridge") {
    const shape = builder.initializer("flat_shape", tensor("INT64", [1], [-1]));
    builder.node("Reshape", [scores!, shape], ["prediction"]);
    return [{ name: "prediction", elemType: "DOUBLE", shape: [-1] }];
  }

  const { probabilities, decide } = appendProbabilities(builder, scores!, K === 1, "DOUBLE", "probabilities");
  const C = model.numClasses ?? 2;
  const produced: ProducedOutput[] = [{ name: probabilities, elemType: "DOUBLE", shape: [-1, C] }];
  return [...produced, ...appendLabel(builder, decide, options.classes)];
}

/** The layouts dagwood.linear/1 defines: ridge and binary one row, multiclass K rows. */
function checkModel(model: LinearModelJSON, classes: ClassNames | undefined): void {
  const K = model.coefficients.length;
  const F = model.featureNames.length;
  const C = model.numClasses ?? 2;
  const layout =
    model.kind === "ridge" ? K === 1 && model.task === "regression" : K === (C === 2 ? 1 : C) && C >= 2;
  if (!layout) {
    throw new Error(
      `Cannot export a ${model.task} ${model.kind} model with ${K} coefficient rows and ${C} classes`,
    );
  }
  if (model.intercepts.length !== K)
    throw new Error(`The model has ${model.intercepts.length} intercepts for ${K} coefficient rows`);
  const row = model.coefficients.find((r) => r.length !== F);
  if (row) throw new Error(`A coefficient row has ${row.length} values for ${F} features`);
  if (classes && classes.length !== C) {
    throw new Error(`The model has ${C} classes but ${classes.length} class names were given`);
  }
}

/** Exports a whole linear model: one input per raw column, the preprocessing, the linear graph. */
export function exportLinearModelWithInfo(
  model: LinearDagwoodModel,
  options: ExportModelOptions = {},
): ExportedModel {
  const builder = startModelGraph(model, model.linear.featureNames, "coefficients", options);
  const spec = model.preprocess;
  if ((model.task === "regression") !== (model.linear.kind === "ridge")) {
    throw new Error(`A ${model.task} model cannot hold a ${model.linear.kind} estimator`);
  }

  const features = appendPreprocessing(builder, spec);
  const produced = appendLinear(builder, model.linear, features, {
    ...(model.classes ? { classes: model.classes as string[] | number[] } : {}),
  });
  outputSignature(builder, model, produced, "linear");

  return finishModelGraph(builder, model);
}
