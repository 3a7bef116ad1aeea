import type { Sql, SqlParam } from "./sql";
import type { MetricRecord, NodeRunRecord, NodeStatus, RunRecord, RunStatus } from "./types";

/** Row shapes of the tables, and their mapping to the contract's records. */

export interface RunRow {
  id: string;
  pipeline: string;
  pipeline_path: string | null;
  pipeline_hash: string | null;
  status: RunStatus;
  params: string;
  environment: string;
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  error: string | null;
  user: string | null;
  host: string | null;
  parent_run_id: string | null;
  kind: "pipeline" | "trial";
  note: string | null;
}

/** The run columns a record needs (not the pipeline text, which can be large). */
export const RUN_COLUMNS =
  "r.id, r.pipeline, r.pipeline_path, r.pipeline_hash, r.status, r.params, r.environment, r.started_at, " +
  "r.finished_at, r.duration_ms, r.error, r.user, r.host, r.parent_run_id, r.kind, r.note";

export const toRun = (r: RunRow, tags: Record<string, string> = {}): RunRecord => ({
  id: r.id,
  pipeline: r.pipeline,
  pipelinePath: r.pipeline_path,
  pipelineHash: r.pipeline_hash,
  status: r.status,
  params: JSON.parse(r.params),
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  durationMs: r.duration_ms,
  error: r.error,
  environment: JSON.parse(r.environment),
  user: r.user,
  host: r.host,
  parentRunId: r.parent_run_id,
  kind: r.kind,
  tags,
  note: r.note,
});

/** Runs as records, tags included, in the order given. */
export function runsWithTags(sql: Sql, rows: RunRow[]): RunRecord[] {
  if (rows.length === 0) return [];
  const tags = new Map<string, Record<string, string>>();
  const ids = oneOrIn(
    sql,
    "run_id",
    rows.map((r) => r.id),
  );
  const tagRows = sql.rows(
    `SELECT run_id, key, value FROM run_tags WHERE ${ids.text} ORDER BY key`,
    ...ids.args,
  ) as [string, string, string][];
  for (const [runId, key, value] of tagRows) {
    let t = tags.get(runId);
    if (!t) {
      t = {};
      tags.set(runId, t);
    }
    t[key] = value;
  }
  return rows.map((r) => toRun(r, tags.get(r.id) ?? {}));
}

export interface NodeRunRow {
  run_id: string;
  node_id: string;
  block: string;
  block_version: number;
  status: NodeStatus;
  reason: string | null;
  cache_key: string | null;
  params_hash: string | null;
  inputs_hash: string | null;
  ms: number;
  error: string | null;
  outputs: string;
  inputs: string;
}

export const toNodeRun = (r: NodeRunRow): NodeRunRecord => ({
  runId: r.run_id,
  nodeId: r.node_id,
  block: r.block,
  blockVersion: r.block_version,
  status: r.status,
  reason: r.reason,
  cacheKey: r.cache_key,
  paramsHash: r.params_hash,
  inputsHash: r.inputs_hash,
  ms: r.ms,
  error: r.error,
  outputs: JSON.parse(r.outputs),
  inputs: JSON.parse(r.inputs),
});

export interface MetricRow {
  run_id: string;
  node_id: string;
  name: string;
  value: number | null;
  is_nan: number;
  step: number | null;
  ts: string;
}

/** SQLite keeps a NaN as NULL; `is_nan` says which NULLs were NaN. */
export const metricValue = (value: number | null, isNan: number): number =>
  isNan ? Number.NaN : (value ?? Number.NaN);

export const toMetric = (r: MetricRow): MetricRecord => ({
  runId: r.run_id,
  nodeId: r.node_id,
  name: r.name,
  value: metricValue(r.value, r.is_nan),
  step: r.step,
  ts: r.ts,
});

/** How a param value is kept: its JSON, its number (if it is one), its text for '=' and 'contains'. */
export function paramColumns(value: unknown): { value: string; num: number | null; str: string } {
  const json = JSON.stringify(value) ?? "null";
  return {
    value: json,
    num: typeof value === "number" && Number.isFinite(value) ? value : null,
    str: typeof value === "string" ? value : json,
  };
}

/**
 * One node's params under dotted keys, as runs record and search them:
 * `nodeId.param`, nested plain objects as `nodeId.a.b`; arrays, null and empty
 * objects stay values. An undefined param is left out: it is absent, as in the
 * run's JSON record (JSON.stringify drops it), not a null a search would find.
 */
export function flattenParams(nodeId: string, params: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const walk = (path: string, v: unknown) => {
    if (v === undefined) return;
    if (v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length > 0) {
      for (const [k, inner] of Object.entries(v)) walk(`${path}.${k}`, inner);
    } else out[path] = v;
  };
  if (params && typeof params === "object" && !Array.isArray(params)) {
    for (const [k, v] of Object.entries(params)) walk(`${nodeId}.${k}`, v);
  }
  return out;
}

/** The id of the key set holding exactly these (sorted) keys, created if new. */
export function keysetId(sql: Sql, sortedKeys: string[]): number {
  const text = JSON.stringify(sortedKeys);
  sql.run("INSERT INTO keysets (keys) VALUES (?) ON CONFLICT DO NOTHING", text);
  return sql.value<number>("SELECT id FROM keysets WHERE keys = ?", text)!;
}

/** Rows per multi-row statement: a batch of many rows is a few statements (one round trip each on PostgreSQL). */
export const ROWS_PER_STATEMENT = 100;

/**
 * Writes `rows` (each with as many values as the column list of `head`, `INSERT INTO t (a, b, …)`),
 * then `tail` (may hold an `ON CONFLICT` clause; the rows of one call must not repeat a conflict
 * key: PostgreSQL refuses to update one row twice in a statement).
 *
 * SQLite: `VALUES (…), (…)`, up to ROWS_PER_STATEMENT rows per statement. PostgreSQL, given the
 * columns' types (`pgTypes`): every row in one statement with one parameter, the rows as a JSON
 * array of arrays (`jsonb_array_elements`, each value cast from its text): one round trip and one
 * prepared statement whatever the number of rows, where 700-parameter VALUES lists cost a parse
 * and plan each (design17-pg.md section 2).
 */
export function insertRows(sql: Sql, head: string, rows: SqlParam[][], tail = "", pgTypes?: string[]): void {
  if (rows.length === 0) return;
  const width = rows[0]!.length;
  if (sql.dialect === "postgres" && pgTypes) {
    if (pgTypes.length !== width) throw new Error(`insertRows: ${pgTypes.length} types for ${width} columns`);
    const values = pgTypes.map((t, i) => `(r ->> ${i})::${t}`).join(", ");
    sql.run(
      `${head} SELECT ${values} FROM jsonb_array_elements(?::jsonb) r ${tail}`.trimEnd(),
      rowsJson(rows),
    );
    return;
  }
  const place = `(${Array(width).fill("?").join(", ")})`;
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
    const part = rows.slice(i, i + ROWS_PER_STATEMENT);
    sql.run(`${head} VALUES ${Array(part.length).fill(place).join(", ")} ${tail}`.trimEnd(), ...part.flat());
  }
}

/**
 * Rows as JSON whose values read back exactly through `->>` and a cast: numbers as JSON numbers (the
 * shortest text that parses to the same double), NaN and ±Infinity as the texts float8 reads,
 * booleans as 1/0 (as both drivers bind them), byte strings as bytea's hex text; a NUL character in
 * text as U+FFFD, as the PostgreSQL driver binds it (app/store/postgres.ts `withoutNul`).
 */
export function rowsJson(rows: SqlParam[][]): string {
  const plain = (v: SqlParam): string | number | null => {
    if (typeof v === "number") return Number.isFinite(v) ? v : String(v);
    if (v === null) return v;
    // jsonb refuses \u0000 and PostgreSQL's text cannot hold it (PostgreSQL documentation, 8.3).
    if (typeof v === "string") return v.includes("\0") ? v.replaceAll("\0", "\uFFFD") : v;
    if (typeof v === "boolean") return v ? 1 : 0;
    if (typeof v === "bigint") return v.toString();
    return `\\x${v.toString("hex")}`;
  };
  return JSON.stringify(rows.map((r) => r.map(plain)));
}

/** `(?, ?, …)` for `n` values (n ≥ 1): for IN lists of numbers (inJson's values are text on PostgreSQL). */
export const placeholders = (n: number): string => `(${Array(n).fill("?").join(", ")})`;

/**
 * `column = ?` for one value, else `column IN <inJson()>`: a batch of one run's metrics then probes
 * the primary key by equality on both databases (an IN list from JSON is planned as a scan of the
 * whole table on PostgreSQL).
 */
export function oneOrIn(sql: Sql, column: string, values: string[]): { text: string; args: SqlParam[] } {
  return values.length === 1
    ? { text: `${column} = ?`, args: [values[0]!] }
    : { text: `${column} IN ${sql.inJson()}`, args: [JSON.stringify(values)] };
}
