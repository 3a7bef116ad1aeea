/**
 * The preprocessing that is part of every model: fitted on the training rows
 * only, stored as plain JSON in the model, applied unchanged in evaluation,
 * batch prediction and the ONNX graph, so a model takes raw columns.
 *
 * Numeric features: NULL, NaN and ±Infinity are all "missing" (the ONNX graph
 * maps ±Inf to NaN first, then Imputer replaces NaN). Missing values are
 * replaced by the training median (default), mean, mode (most frequent value), a constant, or left as NaN
 * ("none": trees then send them down each split's learned missing branch).
 * Then optional scaling `y = (x − offset) × scale` (ONNX Scaler).
 *
 * Dates and timestamps (option `dates: "parts"`): the column, read as epoch
 * milliseconds, becomes its calendar parts in UTC (year, month, day,
 * weekday, and hour for timestamps: app/ml/date-parts.ts), features named
 * `column.part`; each part is imputed and scaled as a numeric column of its
 * own, and a missing date makes every part missing. With `dates: "epoch"` a
 * date is one number, as any numeric column.
 *
 * Categorical features, ordinal encoding (what the trees use): categories are
 * numbered by training frequency, most frequent first, ties by value. With
 * more than `maxCategories`, the most frequent `maxCategories` keep their own
 * code and the rest share one "other" code (= maxCategories); that is logged,
 * not an error. At prediction time NULL is missing (NaN), and a category
 * unseen in training gets the column's `unknownCode`: the "other" code when
 * the column was capped (rare and new categories are alike), else missing
 * (NaN: the trees' missing branch takes it). ONNX: LabelEncoder with
 * keys = categories, values = codes, default = unknownCode (NaN when null).
 *
 * One-hot encoding (for linear models): one 0/1 feature per kept category
 * (plus "other" when capped); NULL and unseen categories give all zeros, or
 * "other" = 1 when capped. ONNX: the same LabelEncoder, then Equal against the codes and Cast.
 */

import type {
  CategoricalFeatureSpec,
  DatePartSpec,
  FeatureSpec,
  NumericFeatureSpec,
  PreprocessSpec,
} from "../values/model";
import type { CategoricalColumn, ColumnTable, NumericColumn, RawColumn } from "./dataset";
import { datePartColumns, datePartName, datePartsFor, isDateType } from "./date-parts";
import type { Dataset, FeatureColumn } from "./trees";

export type ImputeStrategy = "median" | "mean" | "mode" | "constant" | "none";
export type ScaleKind = "none" | "standard" | "minmax";
export type CategoricalEncoding = "ordinal" | "onehot";

/** At most 254 kept categories, so codes including "other" stay within the trees' 255. */
export const MAX_CATEGORIES_LIMIT = 254;

export interface PreprocessOptions {
  /** How numeric missing values are filled; default "median". */
  impute?: ImputeStrategy;
  /** The fill value for impute "constant"; default 0. */
  imputeValue?: number;
  /** Numeric scaling; default "none" (trees do not need it). */
  scale?: ScaleKind;
  /** Categorical encoding; default "ordinal". */
  encoding?: CategoricalEncoding;
  /** Categories kept per column before the rest become "other"; default 64, at most 254. */
  maxCategories?: number;
  /**
   * DATE and TIMESTAMP columns: "parts" uses each as its calendar parts
   * (year, month, day, weekday, and hour for timestamps; app/ml/date-parts.ts),
   * "epoch" as one number, milliseconds since 1970. Default "epoch".
   */
  dates?: "parts" | "epoch";
  log?: (message: string, level?: "info" | "warn") => void;
}

// The fitted preprocessing travels inside the model: its shape is defined in app/values.
export type { CategoricalFeatureSpec, DatePartSpec, FeatureSpec, NumericFeatureSpec, PreprocessSpec };

function median(sorted: Float64Array): number {
  const n = sorted.length;
  const mid = n >> 1;
  return n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The most frequent value of a sorted array; ties go to the smallest. */
function mode(sorted: Float64Array): number {
  let best = sorted[0]!;
  let bestCount = 0;
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j < sorted.length && sorted[j] === sorted[i]) j++;
    if (j - i > bestCount) {
      best = sorted[i]!;
      bestCount = j - i;
    }
    i = j;
  }
  return best;
}

/** Float32-representable, like every constant the ONNX graph holds. */
const f32 = Math.fround;

/** A numeric column's fitted imputation and scaling, with its missing counts, or why it cannot be used. */
interface FittedValues {
  impute: NumericFeatureSpec["impute"];
  scale: NumericFeatureSpec["scale"];
  missing: number;
  infinite: number;
}

function fitNumericValues(
  values: Float64Array,
  o: Required<Omit<PreprocessOptions, "log">>,
): FittedValues | string {
  // One plain loop, no callbacks: this runs on every numeric column of every fit.
  const buffer = new Float64Array(values.length);
  let kept = 0;
  let infinite = 0;
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    if (x - x === 0) buffer[kept++] = x;
    else if (x === Infinity || x === -Infinity) infinite++;
  }
  if (kept === 0) return "it has no values in the training rows (all NULL, NaN or ±Infinity)";
  const finite = buffer.subarray(0, kept);
  const missing = values.length - kept;
  finite.sort();
  // Summed in sorted order, as the mean has always been.
  let sum = 0;
  for (let i = 0; i < kept; i++) sum += finite[i]!;
  const mean = sum / finite.length;
  let impute: NumericFeatureSpec["impute"] = null;
  if (o.impute !== "none") {
    const value =
      o.impute === "median"
        ? median(finite)
        : o.impute === "mean"
          ? mean
          : o.impute === "mode"
            ? mode(finite)
            : o.imputeValue;
    impute = { strategy: o.impute, value: f32(value) };
  }
  let scale: NumericFeatureSpec["scale"] = null;
  if (o.scale === "standard") {
    let ss = 0;
    for (const x of finite) ss += (x - mean) ** 2;
    const std = Math.sqrt(ss / finite.length);
    scale = { kind: "standard", offset: f32(mean), scale: f32(std > 0 ? 1 / std : 1) };
  } else if (o.scale === "minmax") {
    const lo = finite[0]!;
    const hi = finite[finite.length - 1]!;
    scale = { kind: "minmax", offset: f32(lo), scale: f32(hi > lo ? 1 / (hi - lo) : 1) };
  }
  // A constant beyond float32 becomes ±Infinity, which turns every row into ±Infinity or NaN and
  // is written to JSON as null (the saved model would not load).
  const constants = [impute?.value, scale?.offset, scale?.scale];
  if (constants.some((v) => v !== undefined && !Number.isFinite(v))) {
    return "its imputed value or scaling is beyond float32's range (about ±3.4e38, or a spread below about 3e-39), where the model's constants are stored; rescale it first (e.g. multiply or divide it in transform.sql)";
  }
  return { impute, scale, missing, infinite };
}

function logMissing(
  name: string,
  fitted: Pick<FittedValues, "missing" | "infinite">,
  fill: string,
  log: Logger,
): void {
  if (fitted.missing === 0) return;
  const inf = fitted.infinite > 0 ? ` (${fitted.infinite} of them ±Infinity)` : "";
  log(
    `Column "${name}": ${fitted.missing} missing value(s)${inf} in the training rows, ${fill}.`,
    fitted.infinite > 0 ? "warn" : "info",
  );
}

function fitNumeric(
  col: NumericColumn,
  o: Required<Omit<PreprocessOptions, "log">>,
  log: Logger,
): FeatureSpec | string {
  if (o.dates === "parts" && isDateType(col.type)) return fitDateParts(col, o, log);
  const fitted = fitNumericValues(col.values, o);
  if (typeof fitted === "string") return fitted;
  const { impute, scale } = fitted;
  const fill = impute
    ? `filled with the ${impute.strategy} ${Number(impute.value.toPrecision(7))}`
    : "left missing";
  logMissing(col.name, fitted, fill, log);
  return { name: col.name, kind: "numeric", sourceType: col.type, impute, scale };
}

/** A DATE or TIMESTAMP column as its calendar parts, each fitted as a numeric column of its own. */
function fitDateParts(
  col: NumericColumn,
  o: Required<Omit<PreprocessOptions, "log">>,
  log: Logger,
): FeatureSpec | string {
  const parts = datePartsFor(col.type);
  const columns = datePartColumns(col.values, parts);
  const dateParts: DatePartSpec[] = [];
  let counts: FittedValues | undefined;
  for (let k = 0; k < parts.length; k++) {
    const fitted = fitNumericValues(columns[k]!, o);
    if (typeof fitted === "string") return fitted;
    dateParts.push({ part: parts[k]!, impute: fitted.impute, scale: fitted.scale });
    counts = fitted;
  }
  // Every part is missing exactly where the date is; ±Infinity is counted on the raw column.
  let infinite = 0;
  for (const x of col.values) if (x === Infinity || x === -Infinity) infinite++;
  const impute = dateParts[0]!.impute;
  const fill = impute ? `each part filled with its ${impute.strategy}` : "left missing";
  logMissing(col.name, { ...counts!, infinite }, fill, log);
  return { name: col.name, kind: "numeric", sourceType: col.type, impute: null, scale: null, dateParts };
}

function fitCategorical(
  col: CategoricalColumn,
  o: Required<Omit<PreprocessOptions, "log">>,
  log: Logger,
): FeatureSpec | string {
  const counts = new Float64Array(col.dictionary.length);
  for (const c of col.codes) if (c >= 0) counts[c]!++;
  const seen = col.dictionary.map((value, i) => ({ value, count: counts[i]! })).filter((e) => e.count > 0);
  if (seen.length === 0) return "it has no values in the training rows (all NULL)";
  seen.sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  const capped = seen.length > o.maxCategories;
  const kept = capped ? seen.slice(0, o.maxCategories) : seen;
  if (capped) {
    const rest = seen.slice(o.maxCategories);
    const rows = rest.reduce((n, e) => n + e.count, 0);
    log(
      `Column "${col.name}" has ${seen.length} categories, more than maxCategories (${o.maxCategories}): the ${rest.length} least frequent (${rows} rows) share one "other" code. Raise maxCategories to keep more.`,
      "warn",
    );
  }
  const otherCode = capped ? kept.length : null;
  return {
    name: col.name,
    kind: "categorical",
    sourceType: col.type,
    encoding: o.encoding,
    categories: kept.map((e) => e.value),
    otherCode,
    unknownCode: otherCode,
  };
}

type Logger = NonNullable<PreprocessOptions["log"]>;

/** Fits the preprocessing on the training columns (every column of `table` is a feature). */
export function fitPreprocessor(table: ColumnTable, options: PreprocessOptions = {}): PreprocessSpec {
  const o = {
    impute: options.impute ?? "median",
    imputeValue: options.imputeValue ?? 0,
    scale: options.scale ?? "none",
    encoding: options.encoding ?? "ordinal",
    maxCategories: options.maxCategories ?? 64,
    dates: options.dates ?? "epoch",
  } satisfies Required<Omit<PreprocessOptions, "log">>;
  if (
    !(Number.isInteger(o.maxCategories) && o.maxCategories >= 1 && o.maxCategories <= MAX_CATEGORIES_LIMIT)
  ) {
    throw new Error(
      `maxCategories must be an integer from 1 to ${MAX_CATEGORIES_LIMIT}, got ${o.maxCategories}`,
    );
  }
  if (o.impute === "constant" && !Number.isFinite(o.imputeValue)) {
    throw new Error(`imputeValue must be a finite number, got ${o.imputeValue}`);
  }
  const log: Logger = options.log ?? (() => {});
  const features: FeatureSpec[] = [];
  const dropped: PreprocessSpec["dropped"] = [];
  for (const col of table.columns) {
    const fitted = col.kind === "numeric" ? fitNumeric(col, o, log) : fitCategorical(col, o, log);
    if (typeof fitted === "string") {
      dropped.push({ name: col.name, reason: fitted });
      log(`Column "${col.name}" is not used: ${fitted}.`, "warn");
    } else {
      features.push(fitted);
    }
  }
  return { format: "dagwood.preprocess/1", nonFinite: "missing", features, dropped };
}

/** The raw columns a fitted preprocessing reads, and how each is read. */
export function inputColumns(spec: PreprocessSpec): { name: string; kind: "numeric" | "categorical" }[] {
  return spec.features.map((f) => ({ name: f.name, kind: f.kind }));
}

function transformValues(
  values: Float64Array,
  impute: NumericFeatureSpec["impute"],
  scaling: NumericFeatureSpec["scale"],
): Float64Array {
  const out = new Float64Array(values.length);
  const fill = impute ? impute.value : Number.NaN;
  const offset = scaling?.offset ?? 0;
  const scale = scaling?.scale ?? 1;
  for (let i = 0; i < out.length; i++) {
    const x = values[i]!;
    out[i] = ((Number.isFinite(x) ? x : fill) - offset) * scale;
  }
  return out;
}

/** A numeric column's encoded features: the value, or one column per date part (named as encodedFeatureNames). */
function transformNumeric(
  f: NumericFeatureSpec,
  col: NumericColumn,
): { name: string; values: Float64Array }[] {
  if (!f.dateParts) return [{ name: f.name, values: transformValues(col.values, f.impute, f.scale) }];
  const parts = f.dateParts;
  const columns = datePartColumns(
    col.values,
    parts.map((p) => p.part),
  );
  return parts.map((p, k) => ({
    name: datePartName(f.name, p.part),
    values: transformValues(columns[k]!, p.impute, p.scale),
  }));
}

/**
 * The string a missing (NULL) text value is sent as to a served model (a
 * string tensor has no NULL). The native model reads text the same way:
 * NULL and "" are one value, missing unless "" was a training category.
 */
export const MISSING_TEXT = "";

/** Per dictionary entry of `col`: its model code, or NaN (missing). */
function codesFor(f: CategoricalFeatureSpec, col: CategoricalColumn): Float64Array {
  const index = new Map(f.categories.map((c, i) => [c, i]));
  const unknown = f.unknownCode ?? Number.NaN;
  return Float64Array.from(
    col.dictionary,
    (s) => index.get(s) ?? (s === MISSING_TEXT ? Number.NaN : unknown),
  );
}

/** The model code of a NULL text value: that of MISSING_TEXT when it was a category, else NaN. */
function nullCode(f: CategoricalFeatureSpec): number {
  const i = f.categories.indexOf(MISSING_TEXT);
  return i >= 0 ? i : Number.NaN;
}

/** The encoded feature columns, named `name` (ordinal) or `name=category` / `name=<other>` (one-hot). */
export function encodedFeatureNames(f: FeatureSpec): string[] {
  if (f.kind === "numeric" && f.dateParts) return f.dateParts.map((p) => datePartName(f.name, p.part));
  if (f.kind === "numeric" || f.encoding === "ordinal") return [f.name];
  const names = f.categories.map((c) => `${f.name}=${c}`);
  if (f.otherCode !== null) names.push(`${f.name}=<other>`);
  return names;
}

function transformCategorical(f: CategoricalFeatureSpec, col: CategoricalColumn): FeatureColumn[] {
  const rows = col.codes.length;
  const byEntry = codesFor(f, col);
  const missing = nullCode(f);
  if (f.encoding === "ordinal") {
    const values = new Float64Array(rows);
    for (let i = 0; i < rows; i++) {
      const c = col.codes[i]!;
      values[i] = c < 0 ? missing : byEntry[c]!;
    }
    return [{ name: f.name, kind: "categorical", values }];
  }
  const names = encodedFeatureNames(f);
  const columns = names.map((name) => ({ name, kind: "numeric" as const, values: new Float64Array(rows) }));
  for (let i = 0; i < rows; i++) {
    const c = col.codes[i]!;
    const code = c < 0 ? missing : byEntry[c]!;
    if (!Number.isNaN(code)) columns[code]!.values[i] = 1;
  }
  return columns;
}

/**
 * Applies a fitted preprocessing to raw columns, giving the estimator's
 * Dataset. Columns are found by name; missing ones are named in the error.
 */
export function transformFeatures(spec: PreprocessSpec, table: ColumnTable): Dataset {
  const byName = new Map<string, RawColumn>(table.columns.map((c) => [c.name, c]));
  const absent = spec.features.filter((f) => !byName.has(f.name)).map((f) => `"${f.name}"`);
  if (absent.length > 0) {
    throw new Error(`The data has no column ${absent.join(", ")}, which the model was trained on`);
  }
  const features: FeatureColumn[] = [];
  for (const f of spec.features) {
    const col = byName.get(f.name)!;
    if (col.kind !== f.kind) {
      throw new Error(`Column "${f.name}" was ${f.kind} in training but is read as ${col.kind}`);
    }
    if (f.kind === "numeric") {
      for (const { name, values } of transformNumeric(f, col as NumericColumn)) {
        features.push({ name, kind: "numeric", values });
      }
    } else {
      features.push(...transformCategorical(f, col as CategoricalColumn));
    }
  }
  return { rows: table.rows, features };
}

/**
 * The encoded features of some rows, written one row at a time: what
 * `transformFeatures` gives, without holding it. A one-hot column is kept as
 * the index of its hot entry per row (or none), so a table with categories
 * costs its raw columns, not rows × categories; a network's minibatch
 * (app/ml/mlp.ts) is written from it on demand.
 */
export interface EncodedRows {
  rows: number;
  /** The encoded feature names, in `transformFeatures`'s order. */
  names: string[];
  /** Writes rows `at` (row-major, `names.length` values per row) into `out`, starting at its index 0. */
  fill(at: ArrayLike<number>, out: Float32Array | Float64Array): void;
  /** The first encoded feature value that is not finite (NaN: a value left missing), by feature then row. */
  firstNonFinite(): { feature: string; row: number } | undefined;
}

/** Applies a fitted preprocessing to raw columns, row by row on demand (see EncodedRows). */
export function encodeRows(spec: PreprocessSpec, table: ColumnTable): EncodedRows {
  const byName = new Map<string, RawColumn>(table.columns.map((c) => [c.name, c]));
  const absent = spec.features.filter((f) => !byName.has(f.name)).map((f) => `"${f.name}"`);
  if (absent.length > 0) {
    throw new Error(`The data has no column ${absent.join(", ")}, which the model was trained on`);
  }
  const names: string[] = [];
  /** A feature given by value: at `offset`, its encoded values. */
  const dense: { offset: number; name: string; values: Float64Array }[] = [];
  /** A one-hot block: at `offset`, `width` 0/1 columns; hot[row] is the 1's index, or -1. */
  const oneHot: { offset: number; width: number; hot: Int32Array }[] = [];
  for (const f of spec.features) {
    const col = byName.get(f.name)!;
    if (col.kind !== f.kind) {
      throw new Error(`Column "${f.name}" was ${f.kind} in training but is read as ${col.kind}`);
    }
    const offset = names.length;
    if (f.kind === "numeric") {
      for (const { name, values } of transformNumeric(f, col as NumericColumn)) {
        dense.push({ offset: names.length, name, values });
        names.push(name);
      }
    } else if (f.encoding === "ordinal") {
      const [ordinal] = transformCategorical(f, col as CategoricalColumn);
      dense.push({ offset, name: f.name, values: ordinal!.values });
      names.push(f.name);
    } else {
      const codes = (col as CategoricalColumn).codes;
      const byEntry = codesFor(f, col as CategoricalColumn);
      const missing = nullCode(f);
      const hot = new Int32Array(codes.length);
      for (let i = 0; i < codes.length; i++) {
        const c = codes[i]!;
        const code = c < 0 ? missing : byEntry[c]!;
        hot[i] = Number.isNaN(code) ? -1 : code;
      }
      const block = encodedFeatureNames(f);
      oneHot.push({ offset, width: block.length, hot });
      names.push(...block);
    }
  }
  const width = names.length;
  return {
    rows: table.rows,
    names,
    fill(at, out) {
      out.fill(0, 0, at.length * width);
      for (let r = 0; r < at.length; r++) {
        const row = at[r]!;
        const base = r * width;
        for (const d of dense) out[base + d.offset] = d.values[row]!;
        for (const b of oneHot) {
          const k = b.hot[row]!;
          if (k >= 0) out[base + b.offset + k] = 1;
        }
      }
    },
    firstNonFinite() {
      for (const d of dense) {
        for (let r = 0; r < d.values.length; r++) {
          if (!Number.isFinite(d.values[r]!)) return { feature: d.name, row: r };
        }
      }
      return undefined;
    },
  };
}
