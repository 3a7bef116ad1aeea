/**
 * A V2 infer request for a registered version that works as pasted: one
 * tensor per signature input, filled with a real held-out row (the first
 * complete row of the version's `heldout.json`, the rows `register` kept from
 * the evaluated test table), or, for a version registered without held-out
 * rows, typed example values read from the model's fitted preprocessing (a
 * number's imputation value, a text column's first category). Each input
 * says how a value is sent: its type, its unit (dates as epoch milliseconds,
 * UTC), its allowed categories, and what a missing value (null) becomes.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type AnyDagwoodModel, asModel } from "../ml/model";
import { maskValue } from "../privacy/mask";
import { NO_MASK, recordUnmasked, versionPersonalInputs } from "../privacy/masking";
import type { ModelVersion, Registry } from "../store/types";
import type { V2Tensor } from "./client";
import { withVersionFiles } from "./deploy";
import { asHeldout } from "./heldout";
import { DeployError } from "./targets";

export interface InferExampleInput {
  name: string;
  /** The V2 datatype the tensor is sent as (FP64, INT64, BYTES). */
  datatype: string;
  /** The column's DuckDB type in the training table (DATE, DOUBLE, VARCHAR…), when recorded. */
  sourceType: string | null;
  /** What a value is: "number", "date", "timestamp", "time", "boolean", "category". */
  kind: "number" | "date" | "timestamp" | "time" | "boolean" | "category";
  /** How to send a value, in words: "a date, as epoch milliseconds (UTC)". */
  how: string;
  /** What null (a missing value) becomes in the model. */
  missing: string;
  /** The example's value, as sent. */
  value: unknown;
  /** The example's value for a reader: "2015-06-01" for a date sent as 1433116800000. */
  shown: string;
  /** A text input's fitted categories (at most 20), for the reader. */
  categories?: string[];
}

export interface InferExampleOutput {
  name: string;
  datatype: string;
  /** What the output holds, in words. */
  what: string;
}

export interface InferExample {
  model: string;
  version: number;
  /** `heldout`: a real row the model was evaluated on; `typed`: values made from the model's preprocessing. */
  source: "heldout" | "typed";
  /** Where the row came from, in words. */
  note: string;
  /** The V2 infer request body: POST it to /v2/models/<model>/infer. */
  body: { inputs: V2Tensor[] };
  inputs: InferExampleInput[];
  outputs: InferExampleOutput[];
  /** Classification: the class names, in the order of the probabilities' columns. */
  classes?: (string | number)[];
  /**
   * The personal inputs (a pii or sensitive tag, ModelLineage.personalData) whose values are masked
   * here, with their fitted categories; absent when none is, or when asked for them in clear.
   */
  masked?: string[];
}

type Feature = AnyDagwoodModel["preprocess"]["features"][number];

const MS_PER_DAY = 86_400_000;

function kindOf(datatype: string, sourceType: string | null): InferExampleInput["kind"] {
  if (datatype === "BYTES") return "category";
  const t = (sourceType ?? "").toUpperCase();
  if (t === "DATE") return "date";
  if (t.startsWith("TIMESTAMP")) return "timestamp";
  if (t === "TIME") return "time";
  if (t === "BOOLEAN") return "boolean";
  return "number";
}

const HOW: Record<InferExampleInput["kind"], string> = {
  number: "a number",
  date: "a date, as epoch milliseconds (UTC midnight): 2015-06-01 is 1433116800000",
  timestamp: "a timestamp, as epoch milliseconds (UTC)",
  time: "a time of day, as milliseconds since midnight",
  boolean: "a boolean, as 1 (true) or 0 (false)",
  category: "a category, as a string",
};

/** How the model uses an input, where that says more than its kind (a date's parts, not "number"). */
function usedAs(use: string | undefined): string {
  if (!use || use === "number" || use.startsWith("category")) return "";
  return `; the model uses it as ${use}`;
}

/** A value as a reader knows it: a date for epoch milliseconds, a time of day for milliseconds. */
function shownValue(kind: InferExampleInput["kind"], value: unknown): string {
  if (value === null || value === undefined) return "null (missing)";
  // The wire form of a missing text (DESIGN.md, ONNX export).
  if (kind === "category" && value === "") return '"" (missing)';
  if (typeof value === "number" && Number.isFinite(value)) {
    if (kind === "date") return new Date(value).toISOString().slice(0, 10);
    if (kind === "timestamp") return new Date(value).toISOString().replace(".000Z", "Z");
    if (kind === "time") return new Date(value).toISOString().slice(11, 19);
    if (kind === "boolean") return value ? "true" : "false";
  }
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/** What the model does with null for this input (its fitted imputation, or how it treats a missing category). */
function missingText(feature: Feature | undefined): string {
  if (!feature) return "a missing value";
  if (feature.kind === "categorical") {
    return feature.unknownCode !== null
      ? 'null or "" is a missing value, and an unseen category counts as "other"'
      : 'null or "" is a missing value, and so is an unseen category';
  }
  if (feature.dateParts?.length) {
    // impute "none": the parts stay missing, and the trees send them down each split's missing branch.
    return feature.dateParts.every((p) => p.impute)
      ? "null is a missing date: each of its parts is replaced by the value seen in training"
      : "null is a missing date, which the model handles as it was trained to";
  }
  if (!feature.impute) return "null is a missing value, which the model handles as it was trained to";
  return `null is replaced by the ${feature.impute.strategy} seen in training (${Number(feature.impute.value.toPrecision(6))})`;
}

/** A typed example value for an input, from the fitted preprocessing. */
function typedValue(feature: Feature | undefined, kind: InferExampleInput["kind"]): unknown {
  if (kind === "category") return feature?.kind === "categorical" ? (feature.categories[0] ?? "") : "";
  const fitted =
    feature?.kind === "numeric" ? (feature.impute?.value ?? feature.scale?.offset ?? Number.NaN) : Number.NaN;
  // A date used by its parts keeps no single fitted value: a recent date reads better than 1970-01-01.
  const v = Number.isFinite(fitted)
    ? fitted
    : kind === "date" || kind === "timestamp"
      ? Date.UTC(2020, 0, 1)
      : 0;
  if (kind === "date") return Math.round(v / MS_PER_DAY) * MS_PER_DAY;
  if (kind === "timestamp" || kind === "time" || kind === "boolean") return Math.round(v);
  return Number(v.toPrecision(6));
}

/** The index of the first held-out row with no missing value (0 when every row misses one). */
function completeRow(inputs: V2Tensor[], rows: number): number {
  for (let r = 0; r < rows; r++) {
    if (inputs.every((t) => t.data[r] !== null && t.data[r] !== undefined && t.data[r] !== "")) return r;
  }
  return 0;
}

function outputText(name: string, task: string, classes: (string | number)[] | undefined): string {
  if (name === "label") return "the predicted class, per row";
  if (name === "probabilities") {
    const list = classes ? `: ${classes.map((c) => String(c)).join(", ")}` : "";
    return `one probability per class, per row, in the order of parameters.class_names${list}`;
  }
  if (name === "prediction") return task === "regression" ? "the predicted value, per row" : "the prediction";
  return "";
}

async function nativeModel(projectDir: string, version: ModelVersion): Promise<AnyDagwoodModel> {
  return asModel(JSON.parse(await readFile(join(projectDir, version.nativePath), "utf8")));
}

/**
 * The example request for `name` at `ref` (a version number or an alias): a
 * real held-out row when the version kept some, else typed values.
 */
export async function inferExample(
  project: { dir: string; registry: Registry },
  name: string,
  ref: number | string,
  opts: { unmasked?: boolean; actor?: string | null } = {},
): Promise<InferExample> {
  const version = project.registry.getVersion(name, ref);
  if (!version) {
    throw new DeployError(
      `Model "${name}" has no version ${JSON.stringify(ref)}: \`dagwood models show ${name}\` lists them.`,
      "not-found",
    );
  }
  await withVersionFiles(project.dir, version);
  const model = await nativeModel(project.dir, version);
  const features = new Map(model.preprocess.features.map((f) => [f.name, f]));
  // A real row's personal values are masked unless asked for (app/privacy/masking.ts); typed values
  // come from the model, not a person, but are masked alike so the snippet never shows a category in clear.
  const personal = opts.unmasked ? NO_MASK : versionPersonalInputs(version);
  if (opts.unmasked) {
    const columns = [...versionPersonalInputs(version).keys()];
    if (columns.length > 0)
      recordUnmasked(project.registry, {
        actor: opts.actor ?? null,
        what: "example request",
        where: "the app",
        columns,
        model: name,
        version: version.version,
      });
  }
  let values: Map<string, unknown> | null = null;
  let note = "";
  if (version.heldoutPath) {
    const file = join(project.dir, version.heldoutPath);
    const held = asHeldout(JSON.parse(await readFile(file, "utf8")), file);
    if (held.rows > 0) {
      const r = completeRow(held.inputs, held.rows);
      values = new Map(held.inputs.map((t) => [t.name, t.data[r] ?? null]));
      note = `a real row of the data the version was evaluated on (held-out row ${r + 1} of ${held.rows})`;
    }
  }
  if (!values) {
    note =
      "typed example values (no held-out rows were kept with this version: connect the test table to register's data input to keep some)";
  }
  const inputs = version.signature.inputs.map((spec): InferExampleInput => {
    const sourceType = spec.sourceType ?? features.get(spec.name)?.sourceType ?? null;
    const kind = kindOf(spec.dtype, sourceType);
    const feature = features.get(spec.name);
    let value = values?.has(spec.name) ? values.get(spec.name) : typedValue(feature, kind);
    // The wire form of a missing text value is "" (DESIGN.md, ONNX export).
    if (kind === "category" && (value === null || value === undefined)) value = "";
    const masked = personal.has(spec.name);
    if (masked) value = maskValue(value, personal.get(spec.name)) ?? null;
    return {
      name: spec.name,
      datatype: spec.dtype,
      sourceType,
      kind,
      how: `${spec.unit && kind === "number" ? `a number, in ${spec.unit}` : HOW[kind]}${usedAs(spec.use)}`,
      missing: missingText(feature),
      value,
      shown: masked ? `${shownValue(kind, value)} (masked: personal data)` : shownValue(kind, value),
      ...(feature?.kind === "categorical"
        ? {
            categories: feature.categories
              .slice(0, 20)
              .map((c) => (masked ? String(maskValue(c, personal.get(spec.name))) : c)),
          }
        : {}),
    };
  });
  const classes = model.classes;
  return {
    model: name,
    version: version.version,
    source: values ? "heldout" : "typed",
    note: inputs.some((i) => personal.has(i.name))
      ? `${note}; personal data masked: ${inputs
          .filter((i) => personal.has(i.name))
          .map((i) => i.name)
          .join(", ")} (send real values in their place)`
      : note,
    body: {
      inputs: inputs.map((i) => ({ name: i.name, datatype: i.datatype, shape: [1, 1], data: [i.value] })),
    },
    inputs,
    outputs: version.signature.outputs.map((o) => ({
      name: o.name,
      datatype: o.dtype,
      what: outputText(o.name, version.task, classes),
    })),
    ...(classes ? { classes } : {}),
    ...(inputs.some((i) => personal.has(i.name))
      ? { masked: inputs.filter((i) => personal.has(i.name)).map((i) => i.name) }
      : {}),
  };
}
