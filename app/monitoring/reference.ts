/**
 * A model's reference profile: the profile (profile.ts) of the rows it was
 * trained on — its input columns and its target — and of its own predictions
 * on those rows, as a `prediction` column so that prediction drift is tested
 * like any column. A train block writes it beside model.onnx when it trains
 * (app/ml/training/train.ts); the register block copies it into the version
 * folder as `reference-profile.json`; `dagwood monitor drift --model` and the
 * `monitor.drift` block read it back as the reference.
 *
 * Small by construction: per column at most PROFILE_EXACT_VALUES values, or
 * PROFILE_MAX_CATEGORIES category counts, or PROFILE_QUANTILES + 1 quantiles
 * (types.ts), whatever the training set's size.
 */
import { writeFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import type { DuckDBAppender } from "@duckdb/node-api";
import { ident, type SqlSession } from "../data/sql";
import type { ColumnTable } from "../ml/dataset";
import type { AnyDagwoodModel } from "../ml/model";
import type { TrainingContext, TrainingTable } from "../ml/training/context";
import { predictInWorkers } from "../ml/work/score";
import type { ClassLabel } from "../values/common";
import { buildReferenceProfile, profileTable, type ReferenceProfile } from "./profile";
import type { DriftTable } from "./types";

export const REFERENCE_PROFILE_FORMAT = "dagwood.reference-profile/1";
/** The file's name in a train node's artifact folder and in a registered version's folder. */
export const REFERENCE_PROFILE_FILE = "reference-profile.json";

export interface StoredReferenceProfile extends ReferenceProfile {
  format: typeof REFERENCE_PROFILE_FORMAT;
  /** The target column (a column of the profile), or null. */
  target: string | null;
  /** The column holding the model's predictions on the training rows (a label for classifiers), or null. */
  prediction: string | null;
  /** When it was built (ISO). */
  createdAt: string;
}

/** What the Api's getReferenceProfile answers. */
export interface ReferenceProfileResult {
  name: string;
  version: number;
  /** The profile file, relative to the project folder. */
  file: string;
  bytes: number;
  profile: StoredReferenceProfile;
}

/** What a model file says of its profile (DagwoodModel.referenceProfile). */
export interface ReferenceProfileInfo {
  /** The profile file, relative to the project folder. */
  file: string;
  bytes: number;
  rows: number;
}

/** The model's predictions on the profiled rows: labels (classification) or values (regression). */
export type ProfilePredictions =
  | { kind: "label"; sqlType: string; values: readonly ClassLabel[] }
  | { kind: "value"; values: Float64Array };

/** `prediction`, or `prediction_1`… when the training table has a column of that name. */
function predictionName(columns: { name: string }[]): string {
  const taken = new Set(columns.map((c) => c.name.toLowerCase()));
  let name = "prediction";
  for (let i = 1; taken.has(name.toLowerCase()); i++) name = `prediction_${i}`;
  return name;
}

async function predictionTable(sql: SqlSession, name: string, column: string, p: ProfilePredictions) {
  const type = p.kind === "value" ? "DOUBLE" : p.sqlType;
  const appendType = p.kind === "value" || /^(VARCHAR|UUID)$/.test(p.sqlType) ? type : "VARCHAR";
  await sql.run(`CREATE OR REPLACE TEMP TABLE ${ident(name)} (${ident(column)} ${appendType})`);
  const appender: DuckDBAppender = await sql.connection.createAppender(name, "main", "temp");
  try {
    for (const v of p.values) {
      if (v === null || (typeof v === "number" && !Number.isFinite(v))) appender.appendNull();
      else if (appendType === "DOUBLE") appender.appendDouble(Number(v));
      else appender.appendVarchar(String(v));
      appender.endRow();
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
  if (appendType !== type)
    await sql.run(
      `ALTER TABLE ${ident(name)} ALTER ${ident(column)} TYPE ${type} USING CAST(${ident(column)} AS ${type})`,
    );
  return { name, columns: [{ name: column, type }] };
}

/**
 * Profiles `columns` of training table `table` and the model's predictions on
 * its rows (one per row the model was trained on; rows left out for a missing
 * target are counted missing in the prediction column).
 */
export async function buildModelReferenceProfile(
  sql: SqlSession,
  table: DriftTable,
  options: { target: string | null; predictions?: ProfilePredictions },
): Promise<StoredReferenceProfile> {
  const profile = await buildReferenceProfile(sql, table);
  let prediction: string | null = null;
  if (options.predictions) {
    prediction = predictionName(table.columns);
    const tmp = `__reference_predictions_${process.pid}_${Date.now()}`;
    try {
      const t = await predictionTable(sql, tmp, prediction, options.predictions);
      const p = await buildReferenceProfile(sql, t);
      const col = p.columns[0]!;
      // Counted against the training table's rows: rows not predicted are missing.
      col.missing += profile.rows - col.rows;
      col.rows = profile.rows;
      profile.columns.push(col);
    } finally {
      await sql.run(`DROP TABLE IF EXISTS ${ident(tmp)}`);
    }
  }
  return {
    format: REFERENCE_PROFILE_FORMAT,
    ...profile,
    target: options.target,
    prediction,
    createdAt: new Date().toISOString(),
  };
}

/** Writes the profile as `<dir>/reference-profile.json`; returns what the model file keeps of it. */
export async function writeReferenceProfile(
  projectDir: string,
  dir: string,
  profile: StoredReferenceProfile,
): Promise<ReferenceProfileInfo> {
  const file = join(dir, REFERENCE_PROFILE_FILE);
  const text = JSON.stringify(profile);
  await writeFile(file, text);
  return {
    file: relative(projectDir, file).split(sep).join("/"),
    bytes: Buffer.byteLength(text),
    rows: profile.rows,
  };
}

/** Reads a stored profile, refusing a file that is not one (with the file named). */
export function parseReferenceProfile(text: string, file: string): StoredReferenceProfile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new Error(
      `${file} is not valid JSON (${(e as Error).message}); re-register the model to rebuild it.`,
    );
  }
  const p = data as Partial<StoredReferenceProfile> | null;
  if (!p || p.format !== REFERENCE_PROFILE_FORMAT || !Array.isArray(p.columns) || typeof p.rows !== "number")
    throw new Error(
      `${file} is not a reference profile (format ${REFERENCE_PROFILE_FORMAT}); re-register the model to rebuild it.`,
    );
  return p as StoredReferenceProfile;
}

/**
 * A model input as its served tensor carries it (app/ml/model.ts signature):
 * dates and timestamps as milliseconds since 1970, times of day as
 * milliseconds since midnight, booleans as 0/1 (DOUBLE, as app/ml/dataset.ts
 * reads them for training); other columns as they are.
 */
function servedForm(c: { name: string; type: string }): { expression: string; type: string } {
  const q = ident(c.name);
  if (c.type === "DATE" || c.type.startsWith("TIMESTAMP"))
    return { expression: `epoch_ms(${q})::DOUBLE`, type: "DOUBLE" };
  if (c.type === "TIME") return { expression: `(epoch(${q}) * 1000)::DOUBLE`, type: "DOUBLE" };
  if (c.type === "BOOLEAN") return { expression: `CAST(${q} AS DOUBLE)`, type: "DOUBLE" };
  return { expression: q, type: c.type };
}

/**
 * At the end of training: profiles the training table's model inputs (in
 * their served form) and target, and the model's predictions on the training rows, into the train
 * node's artifact folder. A profile that cannot be built never fails the
 * training: it is logged, and the model has no profile (drift then needs a
 * reference table).
 */
export async function keepReferenceProfile(
  ctx: TrainingContext,
  table: TrainingTable,
  model: AnyDagwoodModel,
  rows: ColumnTable,
): Promise<ReferenceProfileInfo | undefined> {
  try {
    const inputs = new Set(model.signature.inputs.map((t) => t.name));
    const features = table.features.filter((c) => inputs.has(c.name) && c.name !== table.target.name);
    // The inputs as the served model receives them, so a serving log compares like with like.
    const view = `__reference_inputs_${process.pid}_${Date.now()}`;
    const served = features.map((c) => ({ ...c, ...servedForm(c) }));
    await ctx.sql.run(
      `CREATE OR REPLACE TEMP VIEW ${ident(view)} AS SELECT ${[
        ...served.map((c) => `${c.expression} AS ${ident(c.name)}`),
        ident(table.target.name),
      ].join(", ")} FROM ${ident(table.name)}`,
    );
    try {
      const scored = await predictInWorkers(model, rows, { signal: ctx.signal });
      const predictions: ProfilePredictions =
        model.task === "regression"
          ? { kind: "value", values: scored.prediction! }
          : { kind: "label", sqlType: model.targetType, values: scored.label! };
      const profile = await buildModelReferenceProfile(
        ctx.sql,
        { name: view, columns: [...served.map((c) => ({ name: c.name, type: c.type })), table.target] },
        { target: table.target.name, predictions },
      );
      // What each input was in the training table, before its served form.
      const before = new Map(features.map((c) => [c.name, c.type]));
      for (const c of profile.columns) c.sourceType = before.get(c.name) ?? c.sourceType;
      return await writeReferenceProfile(ctx.projectDir, await ctx.artifactDir(), profile);
    } finally {
      await ctx.sql.run(`DROP VIEW IF EXISTS ${ident(view)}`);
    }
  } catch (e) {
    if (ctx.signal.aborted) throw e;
    ctx.log(
      `No reference profile was kept for drift monitoring: ${(e as Error).message}. Drift checks of this model need a reference table.`,
      "warn",
    );
    return undefined;
  }
}

const DATE_OR_TIME = /^(DATE|TIME|TIMESTAMP.*)$/;

/**
 * A model's date, time and boolean inputs are profiled in their served form
 * (servedForm: milliseconds, 0/1), which is what the serving log holds too.
 * Current data from a file or table holds them as dates, times or booleans:
 * against it, each such column of the rebuilt reference takes its type back,
 * so both sides have one type, not a schema drift. Dates and times are then
 * left untested, as between two tables; booleans are tested as booleans
 * (their 0/1 counts are kept exactly). A profile written before `sourceType`
 * was kept says DOUBLE for a date: against a date or time column of the
 * current data it is taken for one (a DOUBLE input the model was trained on
 * is what a date is served as).
 */
async function asCurrentHoldsThem(
  sql: SqlSession,
  stored: StoredReferenceProfile,
  reference: DriftTable,
  current: DriftTable,
): Promise<DriftTable> {
  const now = new Map(current.columns.map((c) => [c.name, c.type]));
  const columns = reference.columns.map((c) => ({ ...c }));
  for (const col of columns) {
    const profiled = stored.columns.find((c) => c.name === col.name);
    const type = now.get(col.name);
    if (!profiled || !type || type === col.type || col.type !== "DOUBLE") continue;
    const source = profiled.sourceType ?? (DATE_OR_TIME.test(type) ? type : undefined);
    const c = ident(col.name);
    let back: string;
    if (source && DATE_OR_TIME.test(source) && DATE_OR_TIME.test(type))
      back = `CAST(epoch_ms(CAST(${c} AS BIGINT)) AS ${source})`;
    else if (source === "BOOLEAN" && type === "BOOLEAN") back = `${c} <> 0`;
    else continue;
    await sql.run(`ALTER TABLE ${ident(reference.name)} ALTER ${c} TYPE ${source} USING ${back}`);
    col.type = source;
  }
  return { name: reference.name, columns };
}

/**
 * A stored profile as the reference side of a drift check against `current`:
 * the profile rebuilt as table `name` (profile.ts profileTable), and the
 * options that go with it. The profile's target and prediction columns are
 * tested when the current data has them — under `prediction`'s name when the
 * current data calls its predictions otherwise (a log's `label`) — and left
 * out when it does not: a model's inputs never include its target, so a log
 * lacking one is no schema drift. `columns`, when given, are the caller's.
 */
export async function profileReference(
  sql: SqlSession,
  stored: StoredReferenceProfile,
  current: DriftTable,
  name: string,
  options: { columns?: string[]; target?: string; prediction?: string } = {},
): Promise<{ reference: DriftTable; columns?: string[]; target?: string; prediction?: string }> {
  let reference = await profileTable(sql, stored, name);
  reference = await asCurrentHoldsThem(sql, stored, reference, current);
  const has = new Set(current.columns.map((c) => c.name));
  let prediction = options.prediction;
  const storedPrediction = stored.prediction;
  if (storedPrediction && prediction && prediction !== storedPrediction && has.has(prediction)) {
    if (reference.columns.some((c) => c.name === prediction))
      throw new Error(
        `The reference profile has a column "${prediction}" already, so its predictions ("${storedPrediction}") cannot be renamed to it; name the current data's prediction column otherwise.`,
      );
    await sql.run(
      `ALTER TABLE ${ident(name)} RENAME COLUMN ${ident(storedPrediction)} TO ${ident(prediction)}`,
    );
    reference = {
      name,
      columns: reference.columns.map((c) => (c.name === storedPrediction ? { ...c, name: prediction! } : c)),
    };
  } else if (storedPrediction && has.has(storedPrediction)) prediction ??= storedPrediction;
  const target = options.target ?? (stored.target && has.has(stored.target) ? stored.target : undefined);
  const absent = [stored.target, prediction ?? storedPrediction].filter(
    (c): c is string => !!c && !has.has(c),
  );
  const columns = options.columns?.length
    ? options.columns
    : absent.length
      ? reference.columns.map((c) => c.name).filter((c) => !absent.includes(c))
      : undefined;
  return {
    reference,
    ...(columns ? { columns } : {}),
    ...(target ? { target } : {}),
    ...(prediction ? { prediction } : {}),
  };
}
