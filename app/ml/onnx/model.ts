/**
 * A whole Dagwood model — preprocessing and estimator — as one ONNX graph
 * that takes the raw columns (DESIGN.md, Serving):
 *
 *   numeric x  DOUBLE [N,1] → IsInf → Where(NaN) → Where(IsNaN, fill) (when the spec imputes)
 *              → Sub(offset) → Mul(scale) (when the spec scales)
 *   date parts DOUBLE [N,1] epoch ms → IsInf → Where(NaN) → year, month, day, weekday, hour
 *              (Div/Floor/Mul/Add/Sub: onnx/date-parts.ts) → each imputed and scaled → Concat [N,k]
 *   text c     STRING [N,1] → LabelEncoder (category → code; "" → NaN; unseen → unknownCode or NaN)
 *              ordinal: → Cast DOUBLE;  one-hot: Equal(code, [0..m−1]) → Cast DOUBLE [N,m]
 *   Concat(axis 1, the model's feature order) → the estimator → label, probabilities | prediction
 *
 * Inputs, arithmetic and outputs are float64, the same operations in the
 * same order as `transformFeatures` and the native estimators, so the served
 * model and the app score a row alike: one model, one scoring rule. (A
 * float32 input would move values that are not exact in float32 across a
 * split threshold, and dates would lose minutes.)
 * A missing text value travels as "" (a string tensor has no NULL); "" maps
 * to missing unless it was a category in training, and so it does natively.
 */
import packageJson from "../../../package.json" with { type: "json" };
import {
  type DagwoodModel,
  isLinearModel,
  isMlpModel,
  type LinearDagwoodModel,
  type MlpDagwoodModel,
} from "../model";
import {
  type CategoricalFeatureSpec,
  encodedFeatureNames,
  MISSING_TEXT,
  type NumericFeatureSpec,
  type PreprocessSpec,
} from "../preprocess";
import { modelFromJSON } from "../trees";
import { attr, type BuilderOptions, OnnxGraphBuilder, type Opsets, tensor } from "./builder";
import { appendDateParts } from "./date-parts";
import { exportLinearModelWithInfo } from "./linear";
import { exportMlpModelWithInfo } from "./mlp";
import { appendTreeEnsemble, type ProducedOutput } from "./trees";

const ML = "ai.onnx.ml";
const DOUBLE = 11;

export { MISSING_TEXT };

export interface ExportModelOptions {
  /** Target runtime: opset overrides (merged over DEFAULT_OPSETS), IR version. */
  target?: Omit<BuilderOptions, "graphName">;
  /** Network arithmetic: "double" (default) or "float" (MLP only; outputs stay DOUBLE). */
  precision?: "double" | "float";
}

export interface ExportedModel {
  bytes: Uint8Array;
  /** The opsets the graph imports, per domain ("" is the default ONNX domain). */
  opsets: Opsets;
}

const OUTPUT_NAMES = ["label", "label_index", "probabilities", "prediction"];

/** The model as ONNX bytes (see exportModelWithInfo). */
export function exportModel(
  model: DagwoodModel | LinearDagwoodModel | MlpDagwoodModel,
  options: ExportModelOptions = {},
): Uint8Array {
  return exportModelWithInfo(model, options).bytes;
}

/** Exports the whole model: one input per raw column, the preprocessing, the trees. */
export function exportModelWithInfo(
  model: DagwoodModel | LinearDagwoodModel | MlpDagwoodModel,
  options: ExportModelOptions = {},
): ExportedModel {
  if (isLinearModel(model)) return exportLinearModelWithInfo(model, options);
  if (isMlpModel(model)) return exportMlpModelWithInfo(model, options);
  const ensemble = modelFromJSON(model.ensemble);
  const builder = startModelGraph(model, ensemble.featureNames, "trees", options);
  const spec = model.preprocess;

  const features = appendPreprocessing(builder, spec);
  const isRegression = model.task === "regression";
  const produced = appendTreeEnsemble(builder, ensemble, features, {
    ...(model.classes ? { classes: model.classes as string[] | number[] } : {}),
    ...(isRegression ? { names: { prediction: builder.fresh("prediction_2d") } } : {}),
  });
  if (isRegression) {
    // The signature's prediction is [N]; the ensemble gives [N,1].
    const shape = builder.initializer("flat_shape", tensor("INT64", [1], [-1]));
    builder.node("Reshape", [produced[0]!.name, shape], ["prediction"]);
    builder.output("prediction", "DOUBLE", [-1]);
  } else {
    const label = produced.find((p) => p.name === "label")!;
    builder.output("label", label.elemType, [-1]);
    builder.output("probabilities", "DOUBLE", [-1, model.classes!.length]);
  }

  return finishModelGraph(builder, model);
}

/**
 * Declares one graph input per raw column of `spec` (DOUBLE or STRING
 * [N,1], named as the column) and appends the fitted preprocessing. Returns
 * the DOUBLE [N, F] tensor of encoded features, in the order
 * `transformFeatures` gives them — what any estimator's graph reads.
 */
export function appendPreprocessing(builder: OnnxGraphBuilder, spec: PreprocessSpec): string {
  checkTarget(builder);
  for (const f of spec.features) builder.input(f.name, f.kind === "numeric" ? "DOUBLE" : "STRING", [-1, 1]);
  const parts = spec.features.map((f) =>
    f.kind === "numeric" ? appendNumeric(builder, f) : appendCategorical(builder, f),
  );
  if (parts.length === 1) return parts[0]!;
  return builder.node("Concat", parts, [builder.fresh("features")], { axis: attr.int(1) })[0]!;
}

/** IsInf needs opset 10, Equal on floats 11; LabelEncoder string → float needs ai.onnx.ml 2. */
function checkTarget(builder: OnnxGraphBuilder): void {
  const onnx = builder.opsets[""] ?? 0;
  const ml = builder.opsets[ML] ?? 0;
  if (onnx < 11) {
    throw new Error(
      `The model's preprocessing needs the default ONNX opset 11 or later (IsInf, Equal on floats); this target has ${onnx || "none"}`,
    );
  }
  if (ml < 2) {
    throw new Error(
      `The model's preprocessing needs ai.onnx.ml opset 2 or later (LabelEncoder); this target has ${ml || "none"}`,
    );
  }
}

/** The signature's inputs must be the preprocessing's raw columns, in order, with their wire types. */
/**
 * A model's graph builder, once its parts are known to agree: the estimator
 * (`reader`) reads exactly the features the preprocessing gives, the
 * signature's inputs match the preprocessing, and no feature column is named
 * like an output. Every estimator's export starts here.
 */
export function startModelGraph(
  model: DagwoodModel | LinearDagwoodModel | MlpDagwoodModel,
  estimatorFeatures: readonly string[],
  reader: string,
  options: ExportModelOptions,
): OnnxGraphBuilder {
  const builder = new OnnxGraphBuilder({
    graphName: `dagwood_${model.estimator}_${model.task}`,
    producerVersion: packageJson.version,
    ...options.target,
  });
  const spec = model.preprocess;
  const encodedNames = spec.features.flatMap(encodedFeatureNames);
  if (JSON.stringify(encodedNames) !== JSON.stringify(estimatorFeatures)) {
    throw new Error(
      `The model's preprocessing gives features ${JSON.stringify(encodedNames)} but its ${reader} read ${JSON.stringify(estimatorFeatures)}; the model is inconsistent`,
    );
  }
  checkSignature(model);
  const clash = spec.features.find((f) => OUTPUT_NAMES.includes(f.name));
  if (clash) {
    throw new Error(
      `Feature column "${clash.name}" has the name of an output of the exported model; rename the column (e.g. with transform.sql) and train again`,
    );
  }
  return builder;
}

/**
 * Declares the graph outputs: exactly the signature's, each from what the
 * estimator's graph produced (label_index stays internal). `graph` names it
 * in the error ("linear", "network").
 */
export function outputSignature(
  builder: OnnxGraphBuilder,
  model: LinearDagwoodModel | MlpDagwoodModel,
  produced: readonly ProducedOutput[],
  graph: string,
): void {
  for (const out of model.signature.outputs) {
    const made = produced.find((p) => p.name === out.name);
    if (!made) throw new Error(`The ${graph} graph does not produce the signature's output "${out.name}"`);
    builder.output(made.name, made.elemType, made.shape);
  }
}

/** Writes the metadata every exported model carries, and encodes the graph. */
export function finishModelGraph(
  builder: OnnxGraphBuilder,
  model: DagwoodModel | LinearDagwoodModel | MlpDagwoodModel,
): ExportedModel {
  const spec = model.preprocess;
  const encodedNames = spec.features.flatMap(encodedFeatureNames);
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

function checkSignature(model: DagwoodModel | LinearDagwoodModel | MlpDagwoodModel): void {
  const expected = model.preprocess.features.map((f) => ({
    name: f.name,
    dtype: f.kind === "numeric" ? "FP64" : "BYTES",
  }));
  const actual = model.signature.inputs.map((i) => ({ name: i.name, dtype: i.dtype }));
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new Error(
      `The model's signature inputs ${JSON.stringify(actual)} do not match its preprocessing ${JSON.stringify(expected)}`,
    );
  }
}

/**
 * ±Infinity → NaN, then impute and scale, all in float64 as `transformNumeric`.
 * Returns a DOUBLE [N,1] tensor, or [N,k] for a date used as its k parts.
 */
function appendNumeric(builder: OnnxGraphBuilder, f: NumericFeatureSpec): string {
  const nan = builder.initializer("nan", tensor("DOUBLE", [], [Number.NaN]));
  const [isInf] = builder.node("IsInf", [f.name], [builder.fresh(`${f.name}_is_inf`)]);
  const x = builder.node("Where", [isInf!, nan, f.name], [builder.fresh(`${f.name}_finite`)])[0]!;
  if (!f.dateParts) return appendImputeScale(builder, x, f.name, f);
  const parts = f.dateParts;
  const values = appendDateParts(
    builder,
    x,
    f.name,
    parts.map((p) => p.part),
  );
  const encoded = parts.map((p, k) => appendImputeScale(builder, values[k]!, `${f.name}_${p.part}`, p));
  if (encoded.length === 1) return encoded[0]!;
  return builder.node("Concat", encoded, [builder.fresh(`${f.name}_parts`)], { axis: attr.int(1) })[0]!;
}

/** Impute (NaN → fill) and scale a DOUBLE tensor, as `transformValues`. */
function appendImputeScale(
  builder: OnnxGraphBuilder,
  input: string,
  name: string,
  f: Pick<NumericFeatureSpec, "impute" | "scale">,
): string {
  let x = input;
  if (f.impute) {
    // ai.onnx.ml Imputer takes float only; Where keeps the value exact.
    const fill = builder.initializer(`${name}_fill`, tensor("DOUBLE", [], [f.impute.value]));
    const [isNan] = builder.node("IsNaN", [x], [builder.fresh(`${name}_is_nan`)]);
    [x] = builder.node("Where", [isNan!, fill, x], [builder.fresh(`${name}_imputed`)]) as [string];
  }
  if (f.scale) {
    const offset = builder.initializer(`${name}_offset`, tensor("DOUBLE", [], [f.scale.offset]));
    const scale = builder.initializer(`${name}_scale`, tensor("DOUBLE", [], [f.scale.scale]));
    [x] = builder.node("Sub", [x, offset], [builder.fresh(`${name}_centered`)]) as [string];
    [x] = builder.node("Mul", [x, scale], [builder.fresh(`${name}_scaled`)]) as [string];
  }
  return x;
}

/** Category → code (FLOAT, NaN missing), then ordinal (DOUBLE [N,1]) or one-hot (DOUBLE [N,m]). */
function appendCategorical(builder: OnnxGraphBuilder, f: CategoricalFeatureSpec): string {
  const keys = [...f.categories];
  const codes = f.categories.map((_, i) => i);
  if (!keys.includes(MISSING_TEXT)) {
    keys.push(MISSING_TEXT);
    codes.push(Number.NaN);
  }
  const [code] = builder.node(
    "LabelEncoder",
    [f.name],
    [builder.fresh(`${f.name}_code`)],
    {
      keys_strings: attr.strings(keys),
      values_floats: attr.floats(codes),
      default_float: attr.float(f.unknownCode ?? Number.NaN),
    },
    { domain: ML },
  );
  if (f.encoding === "ordinal") {
    return builder.node("Cast", [code!], [builder.fresh(`${f.name}_f64`)], { to: attr.int(DOUBLE) })[0]!;
  }
  // NaN equals no code: a missing value is all zeros; an unseen one is "other" = 1 when capped.
  const width = f.categories.length + (f.otherCode === null ? 0 : 1);
  const all = builder.initializer(
    `${f.name}_codes`,
    tensor(
      "FLOAT",
      [1, width],
      Array.from({ length: width }, (_, i) => i),
    ),
  );
  const [hot] = builder.node("Equal", [code!, all], [builder.fresh(`${f.name}_is`)]);
  return builder.node("Cast", [hot!], [builder.fresh(`${f.name}_onehot`)], { to: attr.int(DOUBLE) })[0]!;
}
