/**
 * The rows a deploy sends through the served model, and what the registry
 * predicts for them.
 *
 * `heldout.json` (kept with a model version by `register` when its `data`
 * input is connected) holds up to 200 rows of the raw input columns the
 * model's signature names, as V2 tensors — exactly what goes over the wire:
 * numbers as they are (FP64), a missing number as null, a missing text as
 * null — and the native model's predictions on those very values. Without
 * it, a deploy builds probe rows from the model itself (its fitted
 * categories, imputation and scaling values, a missing value, an unseen
 * category) and predicts them with the native model at deploy time.
 */
import { ident, type SqlSession } from "../data/sql";
import type { TableValue } from "../engine/ports";
import { type ColumnTable, categoryAt, type RawColumn, readColumns } from "../ml/dataset";
import { type BinaryDecision, binaryLabels } from "../ml/decision";
import { type AnyDagwoodModel, type ClassLabel, predictTable } from "../ml/model";
import { asInputsCarry, type ParityFigures, ParityTally, parityTolerance } from "../ml/onnx/parity";
import type { InferResponse, V2Tensor } from "./client";

export type { ParityFigures };

export const HELDOUT_FORMAT = "dagwood.heldout/1";
/** Rows kept with a version: enough to catch a wrong model, small enough to send in one request. */
export const HELDOUT_MAX_ROWS = 200;

export interface Expected {
  label?: ClassLabel[];
  /** rows × classes, row-major. */
  probabilities?: number[];
  prediction?: number[];
}

export interface HeldoutRows {
  format: typeof HELDOUT_FORMAT;
  rows: number;
  /** One [rows, 1] tensor per signature input. */
  inputs: V2Tensor[];
  /** The native model's predictions on `inputs`. */
  expected: Expected;
}

/**
 * Rows as the served model receives them: numbers of the inputs' type (a
 * version exported before FP64 takes float32), non-finite as missing (NaN:
 * JSON has no Infinity, and the model reads ±Infinity as missing anyway).
 */
function asWire(model: AnyDagwoodModel, raw: ColumnTable): ColumnTable {
  const table = asInputsCarry(model, raw);
  return {
    rows: table.rows,
    columns: table.columns.map((c): RawColumn => {
      if (c.kind !== "numeric") return c;
      return { ...c, values: Float64Array.from(c.values, (v) => (Number.isFinite(v) ? v : Number.NaN)) };
    }),
  };
}

/**
 * The wire tensors and the native predictions for raw rows; a binary model's labels by `decision` (the
 * version's threshold, which its served graph labels by) when given, else the most probable class.
 */
export function rowsFor(model: AnyDagwoodModel, raw: ColumnTable, decision?: BinaryDecision): HeldoutRows {
  const table = asWire(model, raw);
  const byName = new Map(table.columns.map((c) => [c.name, c]));
  const inputs = model.signature.inputs.map((input): V2Tensor => {
    const col = byName.get(input.name);
    if (!col) throw new Error(`The rows lack column "${input.name}", which the model takes`);
    const data: unknown[] = new Array(table.rows);
    for (let r = 0; r < table.rows; r++) {
      if (input.dtype === "BYTES") data[r] = col.kind === "categorical" ? categoryAt(col, r) : String(r);
      else if (col.kind === "numeric") data[r] = Number.isNaN(col.values[r]!) ? null : col.values[r]!;
      else throw new Error(`Column "${input.name}" must be numeric for the model`);
    }
    return { name: input.name, datatype: input.dtype, shape: [table.rows, 1], data };
  });
  const native = predictTable(model, table);
  const expected: Expected = native.prediction
    ? { prediction: Array.from(native.prediction) }
    : {
        label: decision
          ? Array.from(binaryLabels(native.probabilities!, decision), (k) => model.classes![k]!)
          : native.label!,
        probabilities: Array.from(native.probabilities!),
      };
  return { format: HELDOUT_FORMAT, rows: table.rows, inputs, expected };
}

/**
 * Up to `max` rows of `table` (the model's input columns), a deterministic
 * sample: rows ranked by a hash of their content, as split and shuffle do,
 * so the same table always gives the same rows.
 */
export async function sampleHeldout(
  sql: SqlSession,
  table: TableValue,
  model: AnyDagwoodModel,
  max = HELDOUT_MAX_ROWS,
  decision?: BinaryDecision,
): Promise<HeldoutRows> {
  const missing = model.signature.inputs.filter((i) => !table.columns.some((c) => c.name === i.name));
  if (missing.length > 0) {
    throw new Error(
      `The held-out data lacks column(s) ${missing.map((m) => `"${m.name}"`).join(", ")}, which the model takes. Connect the test table the model was evaluated on.`,
    );
  }
  const t = ident(table.name);
  const sample = "heldout_sample";
  const columns = model.preprocess.features.map((f) => ({
    column: table.columns.find((c) => c.name === f.name)!,
    kind: f.kind,
  }));
  await sql.run(
    `CREATE OR REPLACE TEMP TABLE ${ident(sample)} AS
     SELECT ${columns.map((c) => `${t}.${ident(c.column.name)}`).join(", ")}
     FROM ${t} AS ${t} ORDER BY hash(${t}, 0::BIGINT) LIMIT ${max}`,
  );
  try {
    const read = await readColumns(sql, sample, columns);
    return rowsFor(model, { rows: read.rows, columns: read.columns }, decision);
  } finally {
    await sql.run(`DROP TABLE IF EXISTS temp.main.${ident(sample)}`);
  }
}

/**
 * Rows built from the model alone, for a version registered without held-out
 * rows: per numeric input its imputation and scaling values, 0, ±1, a large
 * value and a missing one; per text input each fitted category in turn, a
 * missing value and one never seen in training.
 */
export function probeRows(model: AnyDagwoodModel, decision?: BinaryDecision): HeldoutRows {
  const features = model.preprocess.features;
  const numericValues = (f: (typeof features)[number]) => {
    if (f.kind !== "numeric") return [];
    const values = [0, 1, -1, 1000, Number.NaN];
    if (f.impute) values.push(f.impute.value);
    if (f.scale) values.push(f.scale.offset, f.scale.offset + 1 / (f.scale.scale || 1));
    return values;
  };
  const textValues = (f: (typeof features)[number]) => {
    if (f.kind !== "categorical") return [];
    let unseen = "<unseen>";
    while (f.categories.includes(unseen)) unseen += "_";
    return [...f.categories.slice(0, 20), null, unseen];
  };
  const rows = Math.max(
    ...features.map((f) => (f.kind === "numeric" ? numericValues(f) : textValues(f)).length),
  );
  const columns = features.map((f, k): RawColumn => {
    if (f.kind === "numeric") {
      const values = numericValues(f);
      // Each column walks its list from another offset, so rows mix values rather than repeat one pattern.
      return {
        name: f.name,
        kind: "numeric",
        type: "DOUBLE",
        values: Float64Array.from({ length: rows }, (_, r) => values[(r + k) % values.length]!),
      };
    }
    const values = textValues(f);
    const dictionary = values.filter((v): v is string => v !== null);
    return {
      name: f.name,
      kind: "categorical",
      type: "VARCHAR",
      dictionary,
      codes: Int32Array.from({ length: rows }, (_, r) => {
        const v = values[(r + k) % values.length]!;
        return v === null ? -1 : dictionary.indexOf(v);
      }),
    };
  });
  return rowsFor(model, { rows, columns }, decision);
}

const outputOf = (response: InferResponse, name: string) => response.outputs.find((o) => o.name === name);

/**
 * Compares a V2 infer answer with the registry's predictions on the same rows
 * under the one parity rule (app/ml/onnx/parity.ts); zero rows fail.
 */
export function compareWithServed(expected: Expected, rows: number, response: InferResponse): ParityFigures {
  const numeric = outputOf(response, expected.prediction ? "prediction" : "probabilities");
  const tally = new ParityTally(rows, parityTolerance(numeric?.datatype));
  if (expected.prediction) tally.numbers("prediction", numeric?.data, expected.prediction);
  if (expected.probabilities) tally.numbers("probabilities", numeric?.data, expected.probabilities);
  if (expected.label) {
    const label = outputOf(response, "label");
    // Numeric class labels travel as INT64, FP64 or FP32: compare as the served tensor carries them.
    const fp32 = label?.datatype === "FP32";
    tally.labels(label?.data, expected.label, (got, want) =>
      typeof want === "number" ? Number(got) === (fp32 ? Math.fround(want) : want) : got === want,
    );
  }
  return tally.figures();
}

/** Checks a parsed heldout.json. */
export function asHeldout(data: unknown, file: string): HeldoutRows {
  const h = data as Partial<HeldoutRows> | null;
  if (h?.format !== HELDOUT_FORMAT || !Array.isArray(h.inputs) || typeof h.rows !== "number" || !h.expected) {
    throw new Error(`${file} is not a ${HELDOUT_FORMAT} file`);
  }
  return h as HeldoutRows;
}
