/**
 * Ground truth for logged predictions: labels sent to a server as feedback
 * (`<repo>/<model>/feedback.jsonl`, or `GET /v2/logs/models/{m}/feedback`
 * on a target) or given as a table or file with `id,label` columns, joined to
 * the inference-log table (app/monitoring/inference-log.ts) by request id —
 * the rows (inputs, prediction, label, time) that performance over time is
 * computed from.
 *
 * A label's id is a request id, or `<request id>/<row>` for one row of a
 * request of several rows (the log table's `row_id`). An id labelled twice
 * keeps its latest label (the last line of the feedback file, the last row
 * of a labels file).
 */
import { createReadStream } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { timestampTZValue } from "@duckdb/node-api";
import { ident, literal, type SqlSession } from "../data/sql";
import { FEEDBACK_FILE, type FeedbackRecord } from "../serving/feedback";
import type { InferenceLogTable } from "./inference-log";
import { type InferenceLogSource, parseSince } from "./inference-log";

/** Feedback records of a model, oldest first, received after `since` (a Date, epoch ms, ISO time or duration). */
export async function readFeedback(
  source: InferenceLogSource,
  options: { since?: Date | number | string; now?: number; fetch?: typeof fetch } = {},
): Promise<FeedbackRecord[]> {
  const since = options.since === undefined ? undefined : parseSince(options.since, options.now);
  if ("repository" in source) {
    const records: FeedbackRecord[] = [];
    const input = createReadStream(join(source.repository, source.model, FEEDBACK_FILE));
    const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
    try {
      for await (const line of lines) {
        if (line.trim() === "") continue;
        try {
          const r = JSON.parse(line) as FeedbackRecord;
          if (since === undefined || Date.parse(r.time) > since) records.push(r);
        } catch {
          // a line cut by a crash
        }
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    } finally {
      input.destroy();
    }
    return records;
  }
  const fetchImpl = options.fetch ?? fetch;
  const base = `${source.url.replace(/\/+$/, "")}/v2/logs/models/${encodeURIComponent(source.model)}/feedback`;
  const headers: Record<string, string> = source.token ? { authorization: `Bearer ${source.token}` } : {};
  const records: FeedbackRecord[] = [];
  let cursor = since === undefined ? "0" : String(Math.max(since, 1e11));
  for (;;) {
    const res = await fetchImpl(`${base}?since=${cursor}&limit=10000`, { headers });
    const text = await res.text();
    if (!res.ok)
      throw new Error(
        `${source.url}: the feedback of ${source.model} answered ${res.status}: ${text.slice(0, 300)}`,
      );
    const page = JSON.parse(text) as { feedback: FeedbackRecord[]; more?: boolean; next?: number };
    records.push(...page.feedback);
    if (!page.more || page.next === undefined) break;
    cursor = String(page.next);
  }
  return records;
}

export interface LabelsTable {
  name: string;
  /** DuckDB type of `label`: DOUBLE when every label is a number, BOOLEAN when every one is a boolean, else VARCHAR. */
  labelType: "DOUBLE" | "BOOLEAN" | "VARCHAR";
  /** Distinct ids (the latest label of each). */
  rows: number;
  /** Labels replaced by a later one for the same id. */
  replaced: number;
}

/** A temp table `(id VARCHAR, label, time TIMESTAMPTZ)` of feedback records, the latest label of each id. */
export async function feedbackTable(
  sql: SqlSession,
  table: string,
  records: FeedbackRecord[],
): Promise<LabelsTable> {
  const latest = new Map<string, FeedbackRecord>();
  for (const r of records) latest.set(r.id, r); // records are oldest first: the last one wins
  const kept = [...latest.values()];
  const labelType = kept.every((r) => typeof r.label === "number")
    ? "DOUBLE"
    : kept.every((r) => typeof r.label === "boolean")
      ? "BOOLEAN"
      : "VARCHAR";
  await sql.run(
    `CREATE OR REPLACE TEMP TABLE ${ident(table)} (id VARCHAR, label ${kept.length ? labelType : "VARCHAR"}, time TIMESTAMP WITH TIME ZONE)`,
  );
  const appender = await sql.connection.createAppender(table, "main", "temp");
  try {
    for (const r of kept) {
      appender.appendVarchar(r.id);
      if (labelType === "DOUBLE") appender.appendDouble(r.label as number);
      else if (labelType === "BOOLEAN") appender.appendBoolean(r.label as boolean);
      else appender.appendVarchar(String(r.label));
      appender.appendTimestampTZ(timestampTZValue(BigInt(Date.parse(r.time)) * 1000n));
      appender.endRow();
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
  return {
    name: table,
    labelType: kept.length ? labelType : "VARCHAR",
    rows: kept.length,
    replaced: records.length - kept.length,
  };
}

/**
 * A temp table of labels from a CSV, Parquet or JSON file (or, with
 * `fromTable`, a table of the session), with its `id` and `label` columns
 * (other names with `idColumn` / `labelColumn`); the last row of an id wins.
 */
export async function labelsFromFile(
  sql: SqlSession,
  table: string,
  file: string,
  options: { idColumn?: string; labelColumn?: string; fromTable?: boolean } = {},
): Promise<LabelsTable> {
  const idColumn = options.idColumn ?? "id";
  const labelColumn = options.labelColumn ?? "label";
  const lower = file.toLowerCase();
  const source = options.fromTable
    ? ident(file)
    : lower.endsWith(".parquet")
      ? `read_parquet(${literal(file)})`
      : lower.endsWith(".json") || lower.endsWith(".jsonl") || lower.endsWith(".ndjson")
        ? `read_json_auto(${literal(file)})`
        : `read_csv(${literal(file)}, header = true)`;
  await sql.run(`CREATE OR REPLACE TEMP TABLE ${ident(`${table}_raw`)} AS SELECT * FROM ${source}`);
  const columns = (await sql.columns(`${table}_raw`)).map((c) => c.name);
  const missing = [idColumn, labelColumn].filter((c) => !columns.includes(c));
  if (missing.length) {
    await sql.run(`DROP TABLE ${ident(`${table}_raw`)}`);
    throw new Error(
      `the labels in ${file} need columns ${JSON.stringify(idColumn)} (the request id) and ${JSON.stringify(labelColumn)}; ${missing.map((m) => JSON.stringify(m)).join(" and ")} ${missing.length === 1 ? "is" : "are"} missing (its columns: ${columns.join(", ")}). Name them with idColumn / labelColumn.`,
    );
  }
  await sql.run(
    `CREATE OR REPLACE TEMP TABLE ${ident(table)} AS
     SELECT CAST(${ident(idColumn)} AS VARCHAR) AS id, ${ident(labelColumn)} AS label
     FROM (SELECT *, rowid AS _r FROM ${ident(`${table}_raw`)}) WHERE ${ident(idColumn)} IS NOT NULL
     QUALIFY row_number() OVER (PARTITION BY CAST(${ident(idColumn)} AS VARCHAR) ORDER BY _r DESC) = 1`,
  );
  const { total } = await sql.one<{ total: number }>(
    `SELECT count(*)::DOUBLE AS total FROM ${ident(`${table}_raw`)} WHERE ${ident(idColumn)} IS NOT NULL`,
  );
  await sql.run(`DROP TABLE ${ident(`${table}_raw`)}`);
  const { rows } = await sql.one<{ rows: number }>(`SELECT count(*)::DOUBLE AS rows FROM ${ident(table)}`);
  const [labelInfo] = (await sql.columns(table)).filter((c) => c.name === "label");
  const type = labelInfo!.type.toUpperCase();
  const labelType =
    type === "BOOLEAN" ? "BOOLEAN" : /INT|DOUBLE|FLOAT|DECIMAL|REAL/.test(type) ? "DOUBLE" : "VARCHAR";
  return { name: table, labelType, rows, replaced: total - rows };
}

export interface LabelledTable {
  name: string;
  /** The inputs, prediction, label and time columns (and the log's other columns). */
  columns: { name: string; type: string }[];
  /** The model's answer column ("label" or "prediction") and the ground-truth column. */
  prediction?: string;
  target: string;
  time: string;
  /** Rows with a label (only those are in the table). */
  rows: number;
  /** Logged rows without a label yet. */
  unlabelled: number;
  /** Labels whose id matches no logged row (a request sampled out, dropped for the budget, or outside the window). */
  unmatched: number;
  /** Labels that could not be read as the prediction's type (e.g. "abc" for a regression): left out, counted. */
  badLabels: number;
}

/**
 * Joins labels to the log table on `row_id` (a request id, or
 * `<request id>/<row>`): a temp table of the labelled rows with the log's
 * columns and the label as `target` (cast to the prediction's type when the
 * log has one, `targetColumn` to name it otherwise).
 */
export async function joinLabels(
  sql: SqlSession,
  log: InferenceLogTable,
  labels: LabelsTable,
  options: { table?: string; targetColumn?: string } = {},
): Promise<LabelledTable> {
  const name = options.table ?? "labelled";
  const taken = new Set(log.columns.map((c) => c.name.toLowerCase()));
  const target = options.targetColumn ?? "target";
  if (taken.has(target.toLowerCase()))
    throw new Error(
      `the log table already has a column "${target}"; name the ground-truth column otherwise (targetColumn)`,
    );
  const predictionType = log.prediction
    ? log.columns.find((c) => c.name === log.prediction)!.type
    : undefined;
  const cast = predictionType ? `TRY_CAST(lab.label AS ${predictionType})` : "lab.label";
  const rowId = ident(log.meta.rowId);
  await sql.run(
    `CREATE OR REPLACE TEMP TABLE ${ident(name)} AS
     SELECT l.*, ${cast} AS ${ident(target)}
     FROM ${ident(log.name)} AS l JOIN ${ident(labels.name)} AS lab ON l.${rowId} = lab.id
     WHERE lab.label IS NOT NULL AND ${cast} IS NOT NULL
     ORDER BY l.${ident(log.meta.seq)}, l.${ident(log.meta.row)}`,
  );
  const counts = await sql.one<{ rows: number; matched: number; unmatched: number; bad: number }>(
    `SELECT (SELECT count(*) FROM ${ident(name)})::DOUBLE AS rows,
            (SELECT count(*) FROM ${ident(log.name)} AS l WHERE l.${rowId} IN (SELECT id FROM ${ident(labels.name)}))::DOUBLE AS matched,
            (SELECT count(*) FROM ${ident(labels.name)} WHERE id NOT IN (SELECT ${rowId} FROM ${ident(log.name)}))::DOUBLE AS unmatched,
            (SELECT count(*) FROM ${ident(log.name)} AS l JOIN ${ident(labels.name)} AS lab ON l.${rowId} = lab.id
              WHERE lab.label IS NULL OR ${cast} IS NULL)::DOUBLE AS bad`,
  );
  return {
    name,
    columns: await sql.columns(name),
    ...(log.prediction ? { prediction: log.prediction } : {}),
    target,
    time: log.meta.time,
    rows: counts.rows,
    unlabelled: log.rows - counts.matched,
    unmatched: counts.unmatched,
    badLabels: counts.bad,
  };
}
