/**
 * Linear models (app/ml/linear.ts, `dagwood.linear/1`) inside a whole
 * `dagwood.model/1` export: the same raw-column inputs and preprocessing as
 * the trees (appendPreprocessing: impute, one-hot, standard scaling in
 * float64), then standard ops, all in DOUBLE until the outputs:
 *
 *   features DOUBLE [N,F] → MatMul(Wᵀ [F,K]) → Add(b [K]) → scores z [N,K]
 *   ridge        z [N,1] → Reshape [N] → Cast FLOAT → prediction [N]
 *   binary       Sigmoid(z) = p; Concat(1 − p, p) → P [N,2]
 *   multiclass   Softmax(z, axis −1) → P [N,K]
 *   classes      Cast(P) FLOAT → probabilities; ArgMax(keepdims 0) → label_index → LabelEncoder → label
 *
 * Float64 throughout, as predictLinear computes: a regression target in the
 * thousands (body mass ≈ 4000 g) has a float32 ulp of 2.4e-4, so a float32
 * MatMul would miss the 1e-5 parity; only the outputs are rounded to float.
 * ArgMax reads the float64 values, never the float32 probabilities (two
 * classes a hair apart round to a float32 tie): binary takes [1 − p, p],
 * which is class 1 exactly when p > 0.5 (tie → class 0, as predictLinear);
 * multiclass takes the scores, the first largest as predictLinear.
 */
import packageJson from "../../../package.json" with { type: "json" };
import type { LinearModelJSON } from "../linear";
import type { LinearDagwoodModel } from "../model";
import { encodedFeatureNames } from "../preprocess";
import { attr, OnnxGraphBuilder, tensor } from "./builder";
import { appendPreprocessing, type ExportedModel, type ExportModelOptions, MISSING_TEXT } from "./model";
import { type ClassNames, classValues, type ProducedOutput } from "./trees";

const ML = "ai.onnx.ml";
const FLOAT = 1;

const OUTPUT_NAMES = ["label", "label_index", "probabilities", "prediction"];

/**
 * Appends the linear model to `builder`, reading `features`, a DOUBLE
 * [N, F] tensor whose columns are `model.featureNames` in order. Produces
 * `prediction` [N] FLOAT, or `probabilities` [N,K] FLOAT and `label` [N]
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
    const [flat] = builder.node("Reshape", [scores!, shape], [builder.fresh("prediction_f64")]);
    builder.node("Cast", [flat!], ["prediction"], { to: attr.int(FLOAT) });
    return [{ name: "prediction", elemType: "FLOAT", shape: [-1] }];
  }

  let probabilities: string;
  let decide: string;
  if (K === 1) {
    const [p] = builder.node("Sigmoid", [scores!], [builder.fresh("p_positive")]);
    const one = builder.initializer("one", tensor("DOUBLE", [], [1]));
    const [q] = builder.node("Sub", [one, p!], [builder.fresh("p_negative")]);
    [probabilities] = builder.node("Concat", [q!, p!], [builder.fresh("probabilities_f64")], {
      axis: attr.int(1),
    }) as [string];
    decide = probabilities;
  } else {
    [probabilities] = builder.node("Softmax", [scores!], [builder.fresh("probabilities_f64")], {
      axis: attr.int(-1),
    }) as [string];
    decide = scores!;
  }
  const C = model.numClasses ?? 2;
  builder.node("Cast", [probabilities], ["probabilities"], { to: attr.int(FLOAT) });
  const produced: ProducedOutput[] = [{ name: "probabilities", elemType: "FLOAT", shape: [-1, C] }];
  const argmax = { axis: attr.int(1), keepdims: attr.int(0) };
  if (!options.classes) {
    builder.node("ArgMax", [decide], ["label"], argmax);
    produced.push({ name: "label", elemType: "INT64", shape: [-1] });
    return produced;
  }
  builder.node("ArgMax", [decide], ["label_index"], argmax);
  const { elemType, values } = classValues(options.classes);
  builder.node(
    "LabelEncoder",
    ["label_index"],
    ["label"],
    { keys_int64s: attr.ints(options.classes.map((_, i) => i)), ...values },
    { domain: ML },
  );
  produced.push(
    { name: "label", elemType, shape: [-1] },
    { name: "label_index", elemType: "INT64", shape: [-1] },
  );
  return produced;
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
  const builder = new OnnxGraphBuilder({
    graphName: `dagwood_${model.estimator}_${model.task}`,
    producerVersion: packageJson.version,
    ...options.target,
  });
  const spec = model.preprocess;
  const encodedNames = spec.features.flatMap(encodedFeatureNames);
  if (JSON.stringify(encodedNames) !== JSON.stringify(model.linear.featureNames)) {
    throw new Error(
      `The model's preprocessing gives features ${JSON.stringify(encodedNames)} but its coefficients read ${JSON.stringify(model.linear.featureNames)}; the model is inconsistent`,
    );
  }
  const expected = spec.features.map((f) => ({
    name: f.name,
    dtype: f.kind === "numeric" ? "FP32" : "BYTES",
  }));
  const actual = model.signature.inputs.map((i) => ({ name: i.name, dtype: i.dtype }));
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new Error(
      `The model's signature inputs ${JSON.stringify(actual)} do not match its preprocessing ${JSON.stringify(expected)}`,
    );
  }
  const clash = spec.features.find((f) => OUTPUT_NAMES.includes(f.name));
  if (clash) {
    throw new Error(
      `Feature column "${clash.name}" has the name of an output of the exported model; rename the column (e.g. with transform.sql) and train again`,
    );
  }
  if ((model.task === "regression") !== (model.linear.kind === "ridge")) {
    throw new Error(`A ${model.task} model cannot hold a ${model.linear.kind} estimator`);
  }

  const features = appendPreprocessing(builder, spec);
  const produced = appendLinear(builder, model.linear, features, {
    ...(model.classes ? { classes: model.classes as string[] | number[] } : {}),
  });
  // The graph outputs are exactly the signature's (label_index stays internal).
  for (const out of model.signature.outputs) {
    const tensorOut = produced.find((p) => p.name === out.name);
    if (!tensorOut) throw new Error(`The linear graph does not produce the signature's output "${out.name}"`);
    builder.output(tensorOut.name, tensorOut.elemType, tensorOut.shape);
  }

  builder.meta("dagwood.format", model.kind);
  builder.meta("dagwood.version", packageJson.version);
  builder.meta("dagwood.estimator", model.estimator);
  builder.meta("dagwood.task", model.task);
  builder.meta("dagwood.target", model.target);
  if (model.classes) builder.meta("dagwood.classes", JSON.stringify(model.classes));
  builder.meta("dagwood.features", JSON.stringify(spec.features.map((f) => f.name)));
  builder.meta("dagwood.encoded_features", JSON.stringify(encodedNames));
  builder.meta("dagwood.signature", JSON.stringify(model.signature));
  builder.meta("dagwood.missing_text", JSON.stringify(MISSING_TEXT));
  return { bytes: builder.encode(), opsets: { ...builder.opsets } };
}
