/**
 * Current data from a model's inference log: the entries of a time window,
 * read from a local model repository (`<repo>/<model>/inference-log*.jsonl`,
 * read-only, beside a running server) or from a target's
 * `GET /v2/logs/models/{model}?since=` (its token), turned into a table in a
 * DuckDB session — one row per row of each request: the input columns, the
 * outputs, and the request's id, time, version and role — that the drift
 * statistics and the label join read.
 *
 *   const log = await loadInferenceLog(sql, { url, token, model: "penguins" }, { since: "1h", table: "current" });
 *   await computeDrift(sql, reference, log, { prediction: log.prediction });
 */
import { createReadStream } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { type DuckDBAppender, timestampTZValue } from "@duckdb/node-api";
import { ident, type SqlSession } from "../data/sql";
import { MISSING_TEXT } from "../ml/preprocess";
import {
  type InferenceLogEntry,
  type LogDropped,
  logFiles,
  readLogDropped,
  windowComplete,
} from "../serving/observability";
import type { V2Tensor } from "../serving/tensors";
import { CHECK_REQUEST_PREFIX } from "../values/deployment";

/** Where a model's log is: a local model repository, or a target's V2 endpoint (its token). */
export type InferenceLogSource =
  | { repository: string; model: string }
  | { url: string; model: string; token?: string };

export interface ReadLogOptions {
  /** Start of the window: a Date, epoch ms, an ISO time, or a duration back from now ("90s", "30m", "1h", "7d"). */
  since?: Date | number | string;
  /** Roles kept (default primary, canary, direct: what answered a caller; "shadow" runs were not returned). */
  roles?: InferenceLogEntry["role"][];
  /** For tests: the clock a duration counts back from. */
  now?: number;
  /** For tests and other transports. */
  fetch?: typeof fetch;
}

export interface InferenceLogRead {
  entries: InferenceLogEntry[];
  /** What the budget deleted from the model's log (ever). */
  dropped: LogDropped;
  /** False when the window reaches back before entries the budget deleted. */
  complete: boolean;
  /** The window's start, epoch ms (undefined: the whole log). */
  since?: number;
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 };

/** A window start as epoch ms; a duration counts back from `now`. Throws a message saying what is accepted. */
export function parseSince(since: Date | number | string, now = Date.now()): number {
  if (since instanceof Date) return since.getTime();
  if (typeof since === "number") return since;
  const text = since.trim();
  const duration = DURATION.exec(text);
  if (duration) return now - Number(duration[1]) * UNIT_MS[duration[2]!]!;
  if (/^\d+$/.test(text)) return Number(text);
  const time = Date.parse(text);
  if (Number.isNaN(time))
    throw new Error(
      `since ${JSON.stringify(since)} is not a duration (90s, 30m, 1h, 7d), an ISO time (2026-12-06T14:00:00Z) or epoch milliseconds`,
    );
  return time;
}

const PAGE = 5000;

async function readLocal(repository: string, model: string, since: number | undefined) {
  const dir = join(repository, model);
  const entries: InferenceLogEntry[] = [];
  for (const file of await logFiles(dir)) {
    const input = createReadStream(file);
    const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
    try {
      for await (const line of lines) {
        if (line.trim() === "") continue;
        let entry: InferenceLogEntry;
        try {
          entry = JSON.parse(line) as InferenceLogEntry;
        } catch {
          continue; // a line cut by a crash, or being written right now
        }
        if (since === undefined || Date.parse(entry.time) > since) entries.push(entry);
      }
    } catch (e) {
      // A segment the server deleted for its budget while this read ran: its entries are counted as dropped.
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    } finally {
      input.destroy();
    }
  }
  return { entries, dropped: await readLogDropped(dir) };
}

async function readHttp(
  source: { url: string; model: string; token?: string },
  since: number | undefined,
  fetchImpl: typeof fetch,
) {
  const base = `${source.url.replace(/\/+$/, "")}/v2/logs/models/${encodeURIComponent(source.model)}`;
  const headers: Record<string, string> = source.token ? { authorization: `Bearer ${source.token}` } : {};
  const entries: InferenceLogEntry[] = [];
  // The first page by time (epoch ms; 0 for the whole log reads as seq 0), the next ones after the last seq.
  let cursor = since === undefined ? "0" : String(Math.max(since, 1e11));
  let dropped: LogDropped = { entries: 0, bytes: 0, throughSeq: 0 };
  for (;;) {
    let res: Response;
    try {
      res = await fetchImpl(`${base}?since=${cursor}&limit=${PAGE}`, { headers });
    } catch (e) {
      throw new Error(
        `cannot reach ${source.url} for the inference log of ${source.model}: ${(e as Error).message}`,
      );
    }
    const text = await res.text();
    if (!res.ok) {
      let message = text;
      try {
        message = (JSON.parse(text) as { error?: string }).error ?? text;
      } catch {}
      const hint =
        res.status === 401
          ? " (the log needs the target's token)"
          : res.status === 404
            ? " (is the model deployed there?)"
            : "";
      throw new Error(
        `${source.url}: the inference log of ${source.model} answered ${res.status}: ${message}${hint}`,
      );
    }
    const page = JSON.parse(text) as {
      entries: InferenceLogEntry[];
      more?: boolean;
      next?: number;
      dropped?: LogDropped;
    };
    entries.push(...page.entries);
    if (page.dropped) dropped = page.dropped;
    if (!page.more || page.next === undefined) break;
    cursor = String(page.next);
  }
  return { entries, dropped };
}

/** The entries of a model's log in a window, oldest first, from a repository folder or over HTTP. */
export async function readInferenceLog(
  source: InferenceLogSource,
  options: ReadLogOptions = {},
): Promise<InferenceLogRead> {
  const since = options.since === undefined ? undefined : parseSince(options.since, options.now);
  const read =
    "repository" in source
      ? await readLocal(source.repository, source.model, since)
      : await readHttp(source, since, options.fetch ?? fetch);
  const roles = new Set(options.roles ?? ["primary", "canary", "direct"]);
  // A deploy's parity check (its rows are the registry's held-out rows) is not traffic.
  const entries = read.entries
    .filter(
      (e) => roles.has(e.role) && !(e.role === "direct" && e.requestId.startsWith(CHECK_REQUEST_PREFIX)),
    )
    .sort((a, b) => a.seq - b.seq);
  return {
    entries,
    dropped: read.dropped,
    complete: windowComplete(read.dropped, since === undefined ? undefined : { time: since }),
    ...(since === undefined ? {} : { since }),
  };
}

type SqlType = "DOUBLE" | "BIGINT" | "BOOLEAN" | "VARCHAR";

function sqlTypeOf(datatype: V2Tensor["datatype"]): SqlType {
  if (datatype === "BYTES") return "VARCHAR";
  if (datatype === "BOOL") return "BOOLEAN";
  if (datatype.startsWith("FP")) return "DOUBLE";
  return "BIGINT";
}

/** One type for a column whose tensor had several (versions with other signatures): numbers widen to DOUBLE, else text. */
function widen(a: SqlType, b: SqlType): SqlType {
  if (a === b) return a;
  if ((a === "DOUBLE" || a === "BIGINT") && (b === "DOUBLE" || b === "BIGINT")) return "DOUBLE";
  return "VARCHAR";
}

interface Column {
  name: string;
  tensor: string;
  /** Index within the tensor's row (its columns after dimension 0). */
  index: number;
  type: SqlType;
  kind: "input" | "output";
}

export interface InferenceLogTable {
  /** The table, in the session's temp schema. */
  name: string;
  /** Every column with its DuckDB type, as the drift engine takes a table. */
  columns: { name: string; type: string }[];
  /** Feature columns (one per input tensor column: `x`, or `v_0`, `v_1` for a tensor of width 2). */
  inputs: string[];
  /** Output columns (`label`, `prediction`, `probability_<class>` or `probabilities_<k>`). */
  outputs: string[];
  /** The output that is the model's answer: "label" (classifier) or "prediction" (regression), if logged. */
  prediction?: string;
  /** Names of the columns about the request (renamed with a leading "_" if a tensor has the same name). */
  meta: {
    requestId: string;
    rowId: string;
    row: string;
    time: string;
    version: string;
    role: string;
    seq: string;
  };
  rows: number;
  requests: number;
  /** Requests logged as their first rows only (sampled mode's 100-row cut): their other rows are not in the table. */
  truncatedRequests: number;
  /**
   * Inputs the model's privacy policy kept out of the log as sent (entries' `privacy`): `hashed`, the
   * input columns holding "hmac:…" text (in some entries at least); `dropped`, inputs left out that are
   * no column of the table (absent by design, not missing values). Pass them with the project's key to
   * the drift options (DriftOptions.privacy).
   */
  privacy: { hashed: string[]; dropped: string[] };
}

function freeName(name: string, taken: Set<string>): string {
  let n = name;
  while (taken.has(n.toLowerCase())) n = `_${n}`;
  taken.add(n.toLowerCase());
  return n;
}

function append(appender: DuckDBAppender, type: SqlType, value: unknown): void {
  if (value === null || value === undefined) appender.appendNull();
  else if (type === "DOUBLE") {
    const n = typeof value === "number" ? value : Number(value); // "NaN", "Infinity" as the server writes them
    if (Number.isNaN(n)) appender.appendNull();
    else appender.appendDouble(n);
  } else if (type === "BIGINT") {
    if (typeof value === "number" && Number.isSafeInteger(value)) appender.appendBigInt(BigInt(value));
    else appender.appendNull();
  } else if (type === "BOOLEAN") appender.appendBoolean(value === true);
  else appender.appendVarchar(String(value));
}

/** Rows of a tensor as logged (its data may be cut to the first rows) and its width. */
function shapeOf(t: V2Tensor): { rows: number; width: number } {
  const width = t.shape.slice(1).reduce((a, b) => a * b, 1);
  if (t.shape.length === 0) return { rows: 1, width: 1 };
  return { rows: width === 0 ? 0 : Math.floor(t.data.length / width), width };
}

/**
 * Builds a temp table from log entries: a row per row of each request
 * (dimension 0 of its tensors), the input and output tensors as columns —
 * numbers DOUBLE or BIGINT, BOOL BOOLEAN, BYTES VARCHAR, null/NaN as NULL,
 * and a text input's MISSING_TEXT ("", what the model reads as missing) as NULL —
 * and `request_id`, `row_id` (the request id for a one-row request, else
 * `<request id>/<row>`: the key feedback labels use), `row_index`, `time`
 * (TIMESTAMPTZ), `model_version`, `role`, `seq`.
 */
export async function inferenceLogTable(
  sql: SqlSession,
  table: string,
  entries: InferenceLogEntry[],
  options: { classNames?: string[] } = {},
): Promise<InferenceLogTable> {
  // Columns, in the order first seen: inputs, then outputs.
  const byKey = new Map<string, Column>();
  for (const kind of ["input", "output"] as const) {
    for (const e of entries) {
      for (const t of kind === "input" ? e.inputs : e.outputs) {
        const { width } = shapeOf(t);
        for (let j = 0; j < width; j++) {
          const key = `${kind}:${t.name}:${j}`;
          const type = sqlTypeOf(t.datatype);
          const seen = byKey.get(key);
          if (seen) seen.type = widen(seen.type, type);
          else {
            const classes = options.classNames;
            const name =
              width === 1
                ? t.name
                : t.name === "probabilities" && classes?.length === width
                  ? `probability_${classes[j]}`
                  : `${t.name}_${j}`;
            byKey.set(key, { name, tensor: t.name, index: j, type, kind });
          }
        }
      }
    }
  }
  const columns = [...byKey.values()];
  const taken = new Set<string>();
  for (const c of columns) c.name = freeName(c.name, taken);
  const meta = {
    requestId: freeName("request_id", taken),
    rowId: freeName("row_id", taken),
    row: freeName("row_index", taken),
    time: freeName("time", taken),
    version: freeName("model_version", taken),
    role: freeName("role", taken),
    seq: freeName("seq", taken),
  };
  const metaTypes = [
    [meta.requestId, "VARCHAR"],
    [meta.rowId, "VARCHAR"],
    [meta.row, "INTEGER"],
    [meta.time, "TIMESTAMP WITH TIME ZONE"],
    [meta.version, "INTEGER"],
    [meta.role, "VARCHAR"],
    [meta.seq, "BIGINT"],
  ] as const;
  const all = [...columns.map((c) => [c.name, c.type] as const), ...metaTypes];
  await sql.run(
    `CREATE OR REPLACE TEMP TABLE ${ident(table)} (${all.map(([n, t]) => `${ident(n)} ${t}`).join(", ")})`,
  );
  const appender = await sql.connection.createAppender(table, "main", "temp");
  let rows = 0;
  let truncatedRequests = 0;
  try {
    for (const e of entries) {
      const tensors = new Map<string, { t: V2Tensor; width: number; rows: number }>();
      for (const [kind, list] of [
        ["input", e.inputs],
        ["output", e.outputs],
      ] as const) {
        for (const t of list) tensors.set(`${kind}:${t.name}`, { t, ...shapeOf(t) });
      }
      const n = Math.min(...[...tensors.values()].map((x) => x.rows));
      if ([...tensors.values()].some((x) => x.t.truncated)) truncatedRequests++;
      const declared = Math.max(...[...tensors.values()].map((x) => x.t.shape[0] ?? 1));
      for (let r = 0; r < (Number.isFinite(n) ? n : 0); r++) {
        for (const c of columns) {
          const x = tensors.get(`${c.kind}:${c.tensor}`);
          const value = x ? x.t.data[r * x.width + c.index] : null;
          // A text input's MISSING_TEXT is what the model got for a missing value (the server sends
          // a JSON null as it): NULL here, so that drift counts it missing as the reference profile
          // does and fresh training data has NULL where training had NULL.
          const missingText = c.kind === "input" && x?.t.datatype === "BYTES" && value === MISSING_TEXT;
          append(appender, c.type, missingText ? null : value);
        }
        appender.appendVarchar(e.requestId);
        appender.appendVarchar(declared === 1 ? e.requestId : `${e.requestId}/${r}`);
        appender.appendInteger(r);
        appender.appendTimestampTZ(timestampTZValue(BigInt(Date.parse(e.time)) * 1000n));
        appender.appendInteger(e.version);
        appender.appendVarchar(e.role);
        appender.appendBigInt(BigInt(e.seq));
        appender.endRow();
        rows++;
      }
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
  const outputs = columns.filter((c) => c.kind === "output").map((c) => c.name);
  const hashedTensors = new Set<string>();
  const droppedTensors = new Set<string>();
  for (const e of entries) {
    for (const t of e.privacy?.hashed ?? []) hashedTensors.add(t);
    for (const t of e.privacy?.dropped ?? []) droppedTensors.add(t);
  }
  const inputColumns = columns.filter((c) => c.kind === "input");
  const privacy = {
    hashed: inputColumns.filter((c) => hashedTensors.has(c.tensor)).map((c) => c.name),
    dropped: [...droppedTensors].filter((t) => !inputColumns.some((c) => c.tensor === t)),
  };
  const prediction = columns.find(
    (c) => c.kind === "output" && c.index === 0 && (c.tensor === "label" || c.tensor === "prediction"),
  )?.name;
  return {
    name: table,
    columns: all.map(([name, type]) => ({ name, type })),
    inputs: columns.filter((c) => c.kind === "input").map((c) => c.name),
    outputs,
    ...(prediction ? { prediction } : {}),
    meta,
    rows,
    requests: entries.length,
    truncatedRequests,
    privacy,
  };
}

/**
 * A model's log for a window as a temp table (default name "current"):
 * `readInferenceLog` then `inferenceLogTable`. With an HTTP source and no
 * `classNames`, a classifier's class names are read from the target's model
 * metadata (`parameters.class_names`) when it answers.
 */
export async function loadInferenceLog(
  sql: SqlSession,
  source: InferenceLogSource,
  options: ReadLogOptions & { table?: string; classNames?: string[] } = {},
): Promise<InferenceLogTable & Omit<InferenceLogRead, "entries">> {
  const { entries, ...read } = await readInferenceLog(source, options);
  let classNames = options.classNames;
  if (!classNames && "url" in source) classNames = await remoteClassNames(source, options.fetch ?? fetch);
  const table = await inferenceLogTable(
    sql,
    options.table ?? "current",
    entries,
    classNames ? { classNames } : {},
  );
  return { ...table, ...read };
}

async function remoteClassNames(
  source: { url: string; model: string; token?: string },
  fetchImpl: typeof fetch,
): Promise<string[] | undefined> {
  try {
    const res = await fetchImpl(
      `${source.url.replace(/\/+$/, "")}/v2/models/${encodeURIComponent(source.model)}`,
      {
        headers: source.token ? { authorization: `Bearer ${source.token}` } : {},
      },
    );
    if (!res.ok) return undefined;
    const meta = (await res.json()) as { parameters?: { class_names?: string } };
    const names = meta.parameters?.class_names ? JSON.parse(meta.parameters.class_names) : undefined;
    return Array.isArray(names) ? names.map(String) : undefined;
  } catch {
    return undefined;
  }
}
