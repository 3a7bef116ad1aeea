/**
 * The rows a deploy sends through the served model, and what the registry
 * predicts for them.
 *
 * `heldout.json` (kept with a model version by `register` when its `data`
 * input is connected) holds up to 200 rows of the raw input columns the
 * model's signature names, as V2 tensors — exactly what goes over the wire:
 * numbers rounded to float32, a missing number as null, a missing text as
 * null — and the native model's predictions on those very values. Without
 * it, a deploy builds probe rows from the model itself (its fitted
 * categories, imputation and scaling values, a missing value, an unseen
 * category) and predicts them with the native model at deploy time.
 */
import { ident, type SqlSession } from "../data/sql";
import type { TableValue } from "../engine/ports";
import { type ColumnTable, categoryAt, type RawColumn, readColumns } from "../ml/dataset";
import { type AnyDagwoodModel, type ClassLabel, predictTable } from "../ml/model";
import { asOnnxSees } from "../ml/onnx/parity";
import type { InferResponse, V2Tensor } from "./client";

export const HELDOUT_FORMAT = "dagwood.heldout/1";
/** Rows kept with a version: enough to catch a wrong model, small enough to send in one request. */
export const HELDOUT_MAX_ROWS = 200;
/** Served probabilities / predictions may differ from the registry's by at most this. */
export const PARITY_TOLERANCE = 1e-5;

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

/** Rows as the served model receives them: float32 numbers, non-finite as missing (NaN). */
function asWire(table: ColumnTable): ColumnTable {
  return {
    rows: table.rows,
    columns: table.columns.map((c): RawColumn => {
      if (c.kind !== "numeric") return c;
      return {
        ...c,
        values: Float64Array.from(c.values, (v) => (Number.isFinite(v) ? Math.fround(v) : Number.NaN)),
      };
    }),
  };
}

/** The wire tensors and the native predictions for raw rows. */
export function rowsFor(model: AnyDagwoodModel, raw: ColumnTable): HeldoutRows {
  const table = asWire(raw);
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
  const native = predictTable(model, asOnnxSees(model, table));
  const expected: Expected = native.prediction
    ? { prediction: Array.from(native.prediction) }
    : { label: native.label!, probabilities: Array.from(native.probabilities!) };
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
    return rowsFor(model, { rows: read.rows, columns: read.columns });
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
export function probeRows(model: AnyDagwoodModel): HeldoutRows {
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
  return rowsFor(model, { rows, columns });
}

export interface ParityFigures {
  rows: number;
  /** Max |served − registry| over probabilities (classification) or predictions (regression). */
  maxAbsDiff: number;
  /** Rows whose served label differs from the registry's. */
  labelMismatches: number;
  tolerance: number;
  passed: boolean;
  /** The first differing row, to show. */
  firstDifference?: { row: number; served: unknown; expected: unknown };
}

const numbersOf = (response: InferResponse, name: string): unknown[] | undefined =>
  response.outputs.find((o) => o.name === name)?.data;

/** Compares a V2 infer answer with the registry's predictions on the same rows (zero rows fail). */
export function compareWithServed(expected: Expected, rows: number, response: InferResponse): ParityFigures {
  let maxAbsDiff = 0;
  let labelMismatches = 0;
  let firstDifference: ParityFigures["firstDifference"];
  const numeric = (name: string, want: number[]) => {
    const got = numbersOf(response, name);
    if (!got || got.length !== want.length) {
      maxAbsDiff = Number.POSITIVE_INFINITY;
      firstDifference ??= { row: 0, served: got?.length ?? "no output", expected: `${want.length} values` };
      return;
    }
    const width = want.length / Math.max(rows, 1);
    for (let i = 0; i < want.length; i++) {
      const served = got[i] === null ? Number.NaN : Number(got[i]);
      const wanted = Math.fround(want[i]!);
      if (Number.isNaN(served) && Number.isNaN(wanted)) continue;
      const d = Math.abs(served - wanted);
      const diff = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
      if (diff > PARITY_TOLERANCE && !firstDifference) {
        firstDifference = { row: Math.floor(i / width), served: got[i], expected: want[i] };
      }
      maxAbsDiff = Math.max(maxAbsDiff, diff);
    }
  };
  if (expected.prediction) numeric("prediction", expected.prediction);
  if (expected.probabilities) numeric("probabilities", expected.probabilities);
  if (expected.label) {
    const got = numbersOf(response, "label");
    for (let r = 0; r < expected.label.length; r++) {
      const want = expected.label[r]!;
      // Numeric class labels travel as INT64 or FP32: compare as the served tensor carries them.
      const same = typeof want === "number" ? Number(got?.[r]) === Math.fround(want) : got?.[r] === want;
      if (!same) {
        labelMismatches++;
        firstDifference ??= { row: r, served: got?.[r], expected: expected.label[r] };
      }
    }
  }
  return {
    rows,
    maxAbsDiff,
    labelMismatches,
    tolerance: PARITY_TOLERANCE,
    // Nothing compared is nothing verified: zero rows never pass.
    passed: rows > 0 && maxAbsDiff <= PARITY_TOLERANCE && labelMismatches === 0,
    ...(firstDifference ? { firstDifference } : {}),
  };
}

/** Checks a parsed heldout.json. */
export function asHeldout(data: unknown, file: string): HeldoutRows {
  const h = data as Partial<HeldoutRows> | null;
  if (h?.format !== HELDOUT_FORMAT || !Array.isArray(h.inputs) || typeof h.rows !== "number" || !h.expected) {
    throw new Error(`${file} is not a ${HELDOUT_FORMAT} file`);
  }
  return h as HeldoutRows;
}
