import type Database from "better-sqlite3";
import { IN_JSON } from "./sqlite";
import { prepare } from "./statements";
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
export function runsWithTags(db: Database.Database, rows: RunRow[]): RunRecord[] {
  if (rows.length === 0) return [];
  const tags = new Map<string, Record<string, string>>();
  const tagRows = prepare(
    db,
    `SELECT run_id, key, value FROM run_tags WHERE run_id IN ${IN_JSON} ORDER BY key`,
  )
    .raw()
    .all(JSON.stringify(rows.map((r) => r.id))) as [string, string, string][];
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
