import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type Database from "better-sqlite3";
import type { LoopStage, MonitorLoop } from "../values/loop";
import { appendMetricChunks } from "./chunks";
import { listViewVersions, recordViewVersion } from "./feature-versions";
import { currentProcess, ownerState } from "./liveness";
import { createLoop, getLoopRecord, listLoopRecords, loopClaim, updateLoopRecord } from "./loops";
import { SqliteRegistry } from "./registry";
import {
  flattenParams,
  type MetricRow,
  metricValue,
  type NodeRunRow,
  paramColumns,
  RUN_COLUMNS,
  type RunRow,
  runsWithTags,
  toMetric,
  toNodeRun,
} from "./rows";
import { keysetId } from "./schema";
import { compareRuns, searchRuns } from "./search";
import { type Sql, SqliteSql } from "./sql";
import { nowIso, openMetadataDatabase } from "./sqlite";
import { prepare } from "./statements";
import type {
  ArtifactRecord,
  DatasetReadRecord,
  DatasetRecord,
  DatasetTestRecord,
  DatasetVersionRecord,
  FeatureViewVersion,
  LogRecord,
  LoopQuery,
  LoopUpdate,
  MetadataStore,
  MetricRecord,
  NewLoopInput,
  NodeRunRecord,
  RunComparison,
  RunEnvironment,
  RunPage,
  RunQuery,
  RunRecord,
  RunStatus,
  StartRunInput,
  TrialRunInput,
} from "./types";

// Other code imports the store's types from here; they live in types.ts.
export * from "./types";

const METRIC_ROWS_PER_INSERT = 100;

/**
 * A node id as part of a run id: pipeline node ids (letters, digits, `_`, `-`) stay as they are; any
 * other character becomes `~` and its hex code, so distinct ids never map to the same text.
 */
const runIdPart = (nodeId: string): string =>
  nodeId.replace(/[^A-Za-z0-9_-]/g, (c) => `~${c.codePointAt(0)!.toString(16)}~`);

export interface MetadataStoreOptions {
  /** The project folder: registry paths are stored relative to it. */
  projectDir: string;
  /** Where registered model files go; default `<projectDir>/.dagwood/registry`. */
  registryDir?: string;
}

/**
 * The metadata store on a database reached through the `Sql` port: SQLite
 * (`.dagwood/metadata.sqlite`, the embedded default) or a team's PostgreSQL.
 * Every change that writes more than one row is one write transaction, so a
 * crash never leaves half of it, and a second process writing the same store
 * waits its turn instead of failing mid-way.
 */
export class SqlMetadataStore implements MetadataStore {
  readonly registry: SqliteRegistry;
  protected readonly sql: Sql;
  /** Transitional: the SQLite connection, while statements move to `this.sql`. */
  private readonly db: Database.Database;

  constructor(sql: Sql, opts: MetadataStoreOptions & { inMemory?: boolean }) {
    this.sql = sql;
    this.db = (sql as SqliteSql).db;
    const projectDir = opts.projectDir;
    this.registry = new SqliteRegistry(sql, {
      projectDir,
      registryDir: opts.registryDir ?? join(projectDir, ".dagwood", "registry"),
      inMemory: opts.inMemory ?? false,
      runs: this,
    });
  }

  /** Runs `fn` in one write transaction, taking the write lock up front (no upgrade deadlock). */
  private write<T>(fn: () => T): T {
    return this.sql.write(fn);
  }

  private requireRun(id: string): void {
    if (!prepare(this.db, "SELECT 1 FROM runs WHERE id = ?").get(id)) {
      throw new Error(`Run "${id}" not found in the metadata store. List the runs with: dagwood runs list`);
    }
  }

  startRun(run: StartRunInput): void {
    this.write(() => {
      const paramKeys = Object.keys(run.resolvedParams).sort();
      const textSha =
        run.pipelineText === null ? null : createHash("sha256").update(run.pipelineText).digest("hex");
      if (textSha !== null) {
        prepare(this.db, "INSERT OR IGNORE INTO pipeline_texts (sha256, text) VALUES (?, ?)").run(
          textSha,
          run.pipelineText,
        );
      }
      prepare(
        this.db,
        `INSERT INTO runs (id, pipeline, pipeline_path, pipeline_hash, pipeline_text_sha, status, params, environment,
             started_at, user, kind, param_keyset, owner, host)
           VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, 'pipeline', ?, ?, ?)`,
      ).run(
        run.id,
        run.pipeline,
        run.pipelinePath,
        run.pipelineHash,
        textSha,
        JSON.stringify(run.params),
        JSON.stringify(run.environment),
        run.startedAt,
        run.user,
        keysetId(this.db, paramKeys),
        JSON.stringify(currentProcess()),
        currentProcess().host,
      );
      this.insertParams(run.id, run.resolvedParams);
      const tag = prepare(this.db, "INSERT INTO run_tags (run_id, key, value) VALUES (?, ?, ?)");
      for (const [k, v] of Object.entries(run.tags ?? {})) tag.run(run.id, k, v);
    });
  }

  private insertParams(runId: string, params: Record<string, unknown>): void {
    const insert = prepare(
      this.db,
      "INSERT INTO run_params (run_id, key, value, num, str) VALUES (?, ?, ?, ?, ?)",
    );
    for (const [key, v] of Object.entries(params)) {
      const c = paramColumns(v);
      insert.run(runId, key, c.value, c.num, c.str);
    }
  }

  finishRun(id: string, status: RunStatus, error: string | null = null): void {
    this.write(() => {
      const started = prepare(this.db, "SELECT started_at FROM runs WHERE id = ?").pluck().get(id) as
        | string
        | undefined;
      if (started === undefined) this.requireRun(id);
      const finished = new Date();
      const duration = finished.getTime() - Date.parse(started!);
      prepare(
        this.db,
        "UPDATE runs SET status = ?, finished_at = ?, duration_ms = ?, error = ? WHERE id = ?",
      ).run(status, finished.toISOString(), Number.isFinite(duration) ? duration : null, error, id);
    });
  }

  updateEnvironment(id: string, facts: RunEnvironment): void {
    this.write(() => {
      const text = prepare(this.db, "SELECT environment FROM runs WHERE id = ?").pluck().get(id) as
        | string
        | undefined;
      if (text === undefined) this.requireRun(id);
      const merged = { ...JSON.parse(text!), ...facts };
      prepare(this.db, "UPDATE runs SET environment = ? WHERE id = ?").run(JSON.stringify(merged), id);
    });
  }

  createMonitorLoop(input: NewLoopInput): MonitorLoop | undefined {
    return createLoop(this.db, input);
  }

  monitorLoop(id: number): MonitorLoop | undefined {
    return getLoopRecord(this.db, id);
  }

  monitorLoops(query?: LoopQuery): MonitorLoop[] {
    return listLoopRecords(this.db, query);
  }

  recordFeatureViewVersion(input: Omit<FeatureViewVersion, "version" | "appliedAt"> & { at?: string }): {
    version: FeatureViewVersion;
    changed: boolean;
  } {
    return this.write(() => recordViewVersion(this.db, input));
  }

  featureViewVersions(view?: string): FeatureViewVersion[] {
    return listViewVersions(this.db, view);
  }

  monitorLoopClaim(id: number): string | null {
    return loopClaim(this.db, id);
  }

  updateMonitorLoop(
    id: number,
    expect: { stage: LoopStage; claim?: string | null },
    update: LoopUpdate,
  ): MonitorLoop | undefined {
    return updateLoopRecord(this.db, id, expect, update);
  }

  /**
   * Marks runs still "running" as interrupted. Call it only while holding
   * the project's workspace (one process at a time): then such a run
   * belongs to a process that died.
   */
  markInterruptedRuns(): void {
    const now = nowIso();
    prepare(
      this.db,
      `UPDATE runs SET status = 'interrupted', finished_at = ?,
           duration_ms = round((julianday(?) - julianday(started_at)) * 86400000.0)
         WHERE status = 'running'`,
    ).run(now, now);
  }

  /**
   * Marks as interrupted the runs still "running" whose process has ended
   * (killed, crashed) on this host: the readers call it first, so no reader
   * shows such a run as running. Runs of other hosts, and runs recorded
   * before owners were (no owner), are left to `markInterruptedRuns`.
   */
  private settleOrphanedRuns(): void {
    const running = prepare(
      this.db,
      "SELECT id, owner FROM runs WHERE status = 'running' AND owner IS NOT NULL",
    ).all() as { id: string; owner: string }[];
    if (running.length === 0) return;
    const gone: { id: string; pid: unknown }[] = [];
    for (const r of running) {
      let owner: unknown;
      try {
        owner = JSON.parse(r.owner);
      } catch {
        continue;
      }
      if (ownerState(owner) === "gone") gone.push({ id: r.id, pid: (owner as { pid?: unknown }).pid });
    }
    if (gone.length === 0) return;
    const now = nowIso();
    const mark = prepare(
      this.db,
      `UPDATE runs SET status = 'interrupted', finished_at = ?,
           duration_ms = round((julianday(?) - julianday(started_at)) * 86400000.0),
           error = coalesce(error, ?)
         WHERE id = ? AND status = 'running'`,
    );
    try {
      this.write(() => {
        for (const g of gone) {
          mark.run(
            now,
            now,
            `Interrupted: its process (pid ${g.pid}) ended before the run finished (killed or crashed).`,
            g.id,
          );
        }
      });
    } catch (e) {
      // A read-only or locked database: the next reader settles them.
      const code = (e as { code?: string }).code ?? "";
      if (!code.startsWith("SQLITE_READONLY") && !code.startsWith("SQLITE_BUSY")) throw e;
    }
  }

  recordNodeRun(n: NodeRunRecord): void {
    prepare(
      this.db,
      `INSERT INTO node_runs (run_id, node_id, block, block_version, status, reason, cache_key, params_hash,
           inputs_hash, ms, error, outputs, inputs)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      n.runId,
      n.nodeId,
      n.block,
      n.blockVersion,
      n.status,
      n.reason,
      n.cacheKey,
      n.paramsHash,
      n.inputsHash,
      n.ms,
      n.error,
      JSON.stringify(n.outputs),
      JSON.stringify(n.inputs ?? {}),
    );
  }

  logMetrics(metrics: MetricRecord[]): void {
    if (metrics.length === 0) return;
    this.write(() => this.insertMetrics(metrics));
  }

  logMetric(metric: MetricRecord): void {
    this.logMetrics([metric]);
  }

  /**
   * Inserts the points and keeps `latest_metrics` current: per (run, key) the
   * batch's winner (highest step, then the later point; no step counts as
   * lowest) replaces the stored one unless that has a higher step.
   */
  private insertMetrics(metrics: MetricRecord[]): void {
    const now = nowIso();
    const winners = new Map<string, { runId: string; key: string; m: MetricRecord; ts: string }>();
    const values: unknown[] = [];
    for (const m of metrics) {
      const ts = m.ts ?? now;
      const isNan = Number.isNaN(m.value) ? 1 : 0;
      values.push(m.runId, m.nodeId, m.name, isNan ? null : m.value, isNan, m.step, ts);
      const key = `${m.nodeId}.${m.name}`;
      const id = `${m.runId}\u0000${key}`;
      const prev = winners.get(id);
      if (!prev || (m.step ?? Number.NEGATIVE_INFINITY) >= (prev.m.step ?? Number.NEGATIVE_INFINITY)) {
        winners.set(id, { runId: m.runId, key, m, ts });
      }
    }
    // Many rows per statement: a 10,000-point batch is 100 statements, not 10,000.
    const insertSql = (rows: number) =>
      `INSERT INTO metrics (run_id, node_id, name, value, is_nan, step, ts) VALUES ${Array(rows).fill("(?, ?, ?, ?, ?, ?, ?)").join(", ")}`;
    const full = Math.floor(metrics.length / METRIC_ROWS_PER_INSERT) * METRIC_ROWS_PER_INSERT;
    const many = full > 0 ? prepare(this.db, insertSql(METRIC_ROWS_PER_INSERT)) : undefined;
    for (let i = 0; i < full; i += METRIC_ROWS_PER_INSERT) {
      many!.run(values.slice(i * 7, (i + METRIC_ROWS_PER_INSERT) * 7));
    }
    const one = prepare(this.db, insertSql(1));
    for (let i = full; i < metrics.length; i++) one.run(values.slice(i * 7, i * 7 + 7));
    const exists = prepare(this.db, "SELECT 1 FROM latest_metrics WHERE run_id = ? AND key = ?");
    const upsert = prepare(
      this.db,
      `INSERT INTO latest_metrics (run_id, key, value, is_nan, step, ts) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, is_nan = excluded.is_nan,
         step = excluded.step, ts = excluded.ts
       WHERE coalesce(excluded.step, -9223372036854775808) >= coalesce(latest_metrics.step, -9223372036854775808)`,
    );
    const runsWithNewKeys = new Set<string>();
    for (const { runId, key, m, ts } of winners.values()) {
      if (!exists.get(runId, key)) runsWithNewKeys.add(runId);
      const isNan = Number.isNaN(m.value) ? 1 : 0;
      upsert.run(runId, key, isNan ? null : m.value, isNan, m.step, ts);
    }
    appendMetricChunks(
      this.db,
      metrics.map((m) => ({ runId: m.runId, key: `${m.nodeId}.${m.name}`, step: m.step, value: m.value })),
    );
    const keysOf = prepare(this.db, "SELECT key FROM latest_metrics WHERE run_id = ? ORDER BY key").pluck();
    const setKeyset = prepare(this.db, "UPDATE runs SET metric_keyset = ? WHERE id = ?");
    for (const runId of runsWithNewKeys) {
      setKeyset.run(keysetId(this.db, keysOf.all(runId) as string[]), runId);
    }
  }

  logMessage(e: LogRecord): void {
    prepare(this.db, "INSERT INTO logs (run_id, node_id, level, message) VALUES (?, ?, ?, ?)").run(
      e.runId,
      e.nodeId,
      e.level,
      e.message,
    );
  }

  recordArtifact(a: ArtifactRecord): void {
    prepare(
      this.db,
      `INSERT OR REPLACE INTO artifacts (run_id, node_id, name, kind, path, bytes, sha256)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(a.runId, a.nodeId, a.name, a.kind, a.path, a.bytes, a.sha256);
  }

  recordDataset(runId: string, nodeId: string, d: DatasetRecord): void {
    this.write(() => {
      prepare(
        this.db,
        `INSERT OR IGNORE INTO datasets (digest, source, schema, rows, fingerprint, first_seen)
           VALUES (?, ?, ?, ?, ?, ?)`,
      ).run(d.digest, d.source, JSON.stringify(d.schema), d.rows, d.fingerprint, d.firstSeen ?? nowIso());
      prepare(this.db, "INSERT OR IGNORE INTO run_datasets (run_id, node_id, digest) VALUES (?, ?, ?)").run(
        runId,
        nodeId,
        d.digest,
      );
    });
  }

  /**
   * Records the params a node's model was trained with where they differ
   * from the pipeline's (a search chose them): `node.key` then holds the
   * chosen value, and `node.search.chosen` lists the chosen keys, so search
   * and compare see the params of the model the run produced.
   */
  recordChosenParams(runId: string, nodeId: string, params: Record<string, unknown>): void {
    if (Object.keys(params).length === 0) return;
    this.write(() => {
      this.requireRun(runId);
      this.writeChosenParams(runId, nodeId, params);
    });
  }

  private writeChosenParams(runId: string, nodeId: string, params: Record<string, unknown>): void {
    const flat = flattenParams(nodeId, params);
    flat[`${nodeId}.search.chosen`] = Object.keys(params).sort();
    const remove = prepare(this.db, "DELETE FROM run_params WHERE run_id = ? AND key = ?");
    for (const key of Object.keys(flat)) remove.run(runId, key);
    this.insertParams(runId, flat);
    const all = prepare(this.db, "SELECT key FROM run_params WHERE run_id = ? ORDER BY key")
      .pluck()
      .all(runId) as string[];
    prepare(this.db, "UPDATE runs SET param_keyset = ? WHERE id = ?").run(keysetId(this.db, all), runId);
  }

  /** The params a search chose for a node run (recordChosenParams), or undefined. */
  private chosenParamsOf(runId: string, nodeId: string): Record<string, unknown> | undefined {
    const get = prepare(this.db, "SELECT value FROM run_params WHERE run_id = ? AND key = ?");
    const listed = get.get(runId, `${nodeId}.search.chosen`) as { value: string } | undefined;
    if (!listed) return undefined;
    const keys = JSON.parse(listed.value) as string[];
    return Object.fromEntries(
      keys.flatMap((k) => {
        const row = get.get(runId, `${nodeId}.${k}`) as { value: string } | undefined;
        return row ? [[k, JSON.parse(row.value)]] : [];
      }),
    );
  }

  recordTrial(t: TrialRunInput): string {
    // The node is part of the id: two tuned train nodes in one run each number their trials from 0.
    const id = `${t.parentRunId}-${runIdPart(t.nodeId)}-trial-${t.index}`;
    this.write(() => {
      const parent = prepare(
        this.db,
        "SELECT pipeline, pipeline_path, pipeline_hash, environment, user, host FROM runs WHERE id = ?",
      ).get(t.parentRunId) as
        | Pick<RunRow, "pipeline" | "pipeline_path" | "pipeline_hash" | "environment" | "user" | "host">
        | undefined;
      if (!parent) this.requireRun(t.parentRunId);
      const params = flattenParams(t.nodeId, t.params);
      const now = nowIso();
      prepare(
        this.db,
        `INSERT INTO runs (id, pipeline, pipeline_path, pipeline_hash, status, params, environment, started_at,
             finished_at, duration_ms, user, host, parent_run_id, kind, param_keyset)
           VALUES (?, ?, ?, ?, 'succeeded', ?, ?, ?, ?, 0, ?, ?, ?, 'trial', ?)`,
      ).run(
        id,
        parent!.pipeline,
        parent!.pipeline_path,
        parent!.pipeline_hash,
        JSON.stringify(t.params),
        parent!.environment,
        now,
        now,
        parent!.user,
        parent!.host,
        t.parentRunId,
        keysetId(this.db, Object.keys(params).sort()),
      );
      this.insertParams(id, params);
      prepare(this.db, "INSERT INTO run_tags (run_id, key, value) VALUES (?, 'trial', ?)").run(
        id,
        String(t.index),
      );
      this.insertMetrics(
        Object.entries(t.metrics).map(([name, value]) => ({
          runId: id,
          nodeId: t.nodeId,
          name,
          value,
          step: null,
        })),
      );
    });
    return id;
  }

  private producerOf(cacheKey: string): { run_id: string; node_id: string } | undefined {
    return prepare(
      this.db,
      "SELECT run_id, node_id FROM node_runs WHERE cache_key = ? AND status = 'ran' ORDER BY seq DESC LIMIT 1",
    ).get(cacheKey) as { run_id: string; node_id: string } | undefined;
  }

  private producerMetrics(producer: { run_id: string; node_id: string }): MetricRow[] {
    return prepare(this.db, "SELECT * FROM metrics WHERE run_id = ? AND node_id = ? ORDER BY rowid").all(
      producer.run_id,
      producer.node_id,
    ) as MetricRow[];
  }

  copyFromProducer(
    cacheKey: string,
    runId: string,
    nodeId: string,
  ): { name: string; value: number; step: number | null }[] {
    return this.write(() => {
      const producer = this.producerOf(cacheKey);
      if (!producer) return [];
      const metrics = this.producerMetrics(producer).map((r) => ({
        name: r.name,
        value: metricValue(r.value, r.is_nan),
        step: r.step,
      }));
      if (producer.run_id === runId && producer.node_id === nodeId) return metrics;
      this.insertMetrics(metrics.map((m) => ({ ...m, runId, nodeId })));
      // A cached model was made with the params its search chose: this run records them too.
      const chosen = this.chosenParamsOf(producer.run_id, producer.node_id);
      if (chosen) this.writeChosenParams(runId, nodeId, chosen);
      prepare(
        this.db,
        `INSERT OR IGNORE INTO run_datasets (run_id, node_id, digest)
           SELECT ?, ?, digest FROM run_datasets WHERE run_id = ? AND node_id = ?`,
      ).run(runId, nodeId, producer.run_id, producer.node_id);
      prepare(
        this.db,
        `INSERT OR REPLACE INTO dataset_tests
             (run_id, node_id, digest, source, suite, success, evaluated, successful, at, report)
           SELECT ?, ?, digest, source, suite, success, evaluated, successful, ?, report
           FROM dataset_tests WHERE run_id = ? AND node_id = ?`,
      ).run(runId, nodeId, nowIso(), producer.run_id, producer.node_id);
      prepare(
        this.db,
        `INSERT OR REPLACE INTO artifacts (run_id, node_id, name, kind, path, bytes, sha256)
           SELECT ?, ?, name, kind, path, bytes, sha256 FROM artifacts WHERE run_id = ? AND node_id = ?`,
      ).run(runId, nodeId, producer.run_id, producer.node_id);
      return metrics;
    });
  }

  producerWarnings(cacheKey: string): string[] {
    const producer = this.producerOf(cacheKey);
    if (!producer) return [];
    return prepare(
      this.db,
      "SELECT message FROM logs WHERE run_id = ? AND node_id = ? AND level = 'warn' ORDER BY rowid",
    )
      .pluck()
      .all(producer.run_id, producer.node_id) as string[];
  }

  /** The metrics logged by the latest node run that computed the outputs under this cache key. */
  metricsForCacheKey(key: string): { name: string; value: number; step: number | null }[] {
    const producer = this.producerOf(key);
    if (!producer) return [];
    return this.producerMetrics(producer).map((r) => ({
      name: r.name,
      value: metricValue(r.value, r.is_nan),
      step: r.step,
    }));
  }

  recentCacheKeys(runs: number): Set<string> {
    const keys = prepare(
      this.db,
      `SELECT DISTINCT n.cache_key FROM node_runs n JOIN (
           SELECT id FROM (
             SELECT id, row_number() OVER (PARTITION BY pipeline ORDER BY started_at DESC) AS k
             FROM runs WHERE parent_run_id IS NULL
           ) WHERE k <= ?
         ) r ON r.id = n.run_id
         WHERE n.cache_key IS NOT NULL AND n.status IN ('ran', 'cached')`,
    )
      .pluck()
      .all(runs) as string[];
    return new Set(keys);
  }

  getRun(id: string): RunRecord | undefined {
    this.settleOrphanedRuns();
    const row = prepare(this.db, `SELECT ${RUN_COLUMNS} FROM runs r WHERE r.id = ?`).get(id) as
      | RunRow
      | undefined;
    return row && runsWithTags(this.db, [row])[0];
  }

  pipelineText(id: string): string | null {
    return (
      (prepare(
        this.db,
        "SELECT t.text FROM runs r JOIN pipeline_texts t ON t.sha256 = r.pipeline_text_sha WHERE r.id = ?",
      )
        .pluck()
        .get(id) as string | undefined) ?? null
    );
  }

  resolvedParams(id: string): Record<string, unknown> {
    const rows = prepare(this.db, "SELECT key, value FROM run_params WHERE run_id = ? ORDER BY key")
      .raw()
      .all(id) as [string, string][];
    return Object.fromEntries(rows.map(([k, v]) => [k, JSON.parse(v)]));
  }

  /** Pipeline runs (not tuning trials), newest first. */
  listRuns(opts: { pipeline?: string; limit?: number } = {}): RunRecord[] {
    this.settleOrphanedRuns();
    const rows = prepare(
      this.db,
      `SELECT ${RUN_COLUMNS} FROM runs r
         WHERE r.parent_run_id IS NULL AND (@pipeline IS NULL OR r.pipeline = @pipeline)
         ORDER BY r.started_at DESC LIMIT @limit`,
    ).all({ pipeline: opts.pipeline ?? null, limit: opts.limit ?? 100 }) as RunRow[];
    return runsWithTags(this.db, rows);
  }

  searchRuns(query: RunQuery): RunPage {
    this.settleOrphanedRuns();
    return searchRuns(this.db, query);
  }

  compareRuns(ids: string[]): RunComparison {
    this.settleOrphanedRuns();
    return compareRuns(this.db, ids);
  }

  setTags(id: string, set: Record<string, string>, remove: string[] = []): void {
    this.write(() => {
      this.requireRun(id);
      const del = prepare(this.db, "DELETE FROM run_tags WHERE run_id = ? AND key = ?");
      for (const k of remove) del.run(id, k);
      const upsert = prepare(
        this.db,
        "INSERT OR REPLACE INTO run_tags (run_id, key, value) VALUES (?, ?, ?)",
      );
      for (const [k, v] of Object.entries(set)) upsert.run(id, k, v);
    });
  }

  setNote(id: string, note: string | null): void {
    this.write(() => {
      this.requireRun(id);
      prepare(this.db, "UPDATE runs SET note = ? WHERE id = ?").run(note, id);
    });
  }

  nodeRuns(runId: string): NodeRunRecord[] {
    return (
      prepare(this.db, "SELECT * FROM node_runs WHERE run_id = ? ORDER BY seq").all(runId) as NodeRunRow[]
    ).map(toNodeRun);
  }

  metrics(runId: string): MetricRecord[] {
    return (
      prepare(this.db, "SELECT * FROM metrics WHERE run_id = ? ORDER BY rowid").all(runId) as MetricRow[]
    ).map(toMetric);
  }

  logs(runId: string): LogRecord[] {
    return (
      prepare(
        this.db,
        "SELECT run_id, node_id, level, message FROM logs WHERE run_id = ? ORDER BY rowid",
      ).all(runId) as { run_id: string; node_id: string; level: string; message: string }[]
    ).map((r) => ({ runId: r.run_id, nodeId: r.node_id, level: r.level, message: r.message }));
  }

  artifacts(runId: string): ArtifactRecord[] {
    return (
      prepare(this.db, "SELECT * FROM artifacts WHERE run_id = ? ORDER BY node_id, name").all(runId) as (Omit<
        ArtifactRecord,
        "runId" | "nodeId"
      > & { run_id: string; node_id: string })[]
    ).map(({ run_id, node_id, ...a }) => ({ runId: run_id, nodeId: node_id, ...a }));
  }

  private datasetRows(sql: string, ...args: unknown[]): (DatasetRecord & { nodeId: string })[] {
    return (
      prepare(this.db, sql).all(...args) as {
        node_id: string;
        digest: string;
        source: string;
        schema: string;
        rows: number;
        fingerprint: string;
        first_seen: string;
      }[]
    ).map((r) => ({
      nodeId: r.node_id,
      digest: r.digest,
      source: r.source,
      schema: JSON.parse(r.schema),
      rows: r.rows,
      fingerprint: r.fingerprint,
      firstSeen: r.first_seen,
    }));
  }

  datasets(runId: string): (DatasetRecord & { nodeId: string })[] {
    // `datasets` keeps the first name a content was read under; this run's node may have read the
    // same bytes under another (a copy, a renamed file): its `path` param names what it read.
    return this.datasetRows(
      `SELECT l.node_id, d.digest, coalesce(p.str, d.source) AS source, d.schema, d.rows,
              d.fingerprint, d.first_seen
       FROM run_datasets l JOIN datasets d ON d.digest = l.digest
       LEFT JOIN run_params p ON p.run_id = l.run_id AND p.key = l.node_id || '.path'
       WHERE l.run_id = ? ORDER BY l.node_id, 3`,
      runId,
    );
  }

  upstreamDatasets(runId: string, nodeId: string): DatasetRecord[] {
    const inputsOf = prepare(
      this.db,
      "SELECT inputs FROM node_runs WHERE run_id = ? AND node_id = ? ORDER BY seq DESC LIMIT 1",
    ).pluck();
    const seen = new Set<string>([nodeId]);
    const queue = [nodeId];
    while (queue.length > 0) {
      const text = inputsOf.get(runId, queue.shift()!) as string | undefined;
      if (!text) continue;
      for (const ref of Object.values(JSON.parse(text) as Record<string, { node?: unknown }>)) {
        if (typeof ref?.node === "string" && !seen.has(ref.node)) {
          seen.add(ref.node);
          queue.push(ref.node);
        }
      }
    }
    const byDigest = new Map<string, DatasetRecord>();
    const rows = this.datasetRows(
      `SELECT l.node_id, d.digest, coalesce(p.str, d.source) AS source, d.schema, d.rows,
              d.fingerprint, d.first_seen
       FROM run_datasets l JOIN datasets d ON d.digest = l.digest
       LEFT JOIN run_params p ON p.run_id = l.run_id AND p.key = l.node_id || '.path'
       WHERE l.run_id = ? AND l.node_id IN (SELECT value FROM json_each(?)) ORDER BY 3, d.digest`,
      runId,
      JSON.stringify([...seen]),
    );
    for (const { nodeId: _node, ...d } of rows) byDigest.set(d.digest, d);
    return [...byDigest.values()];
  }

  recordDatasetTest(t: DatasetTestRecord): void {
    prepare(
      this.db,
      `INSERT OR REPLACE INTO dataset_tests
           (run_id, node_id, digest, source, suite, success, evaluated, successful, at, report)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      t.runId,
      t.nodeId,
      t.digest,
      t.source,
      t.suite,
      t.success ? 1 : 0,
      t.evaluated,
      t.successful,
      t.at ?? nowIso(),
      JSON.stringify(t.report),
    );
  }

  datasetVersions(): DatasetVersionRecord[] {
    // One row per content and the name runs read it under: `datasets` keeps one source per digest
    // (the first name), so the same bytes under two names, or a file renamed, would otherwise show
    // under one dataset only. A read's name is its node's `path` param (ingest.file, the block that
    // records datasets) from run_params; the datasets row's source when the run has none. CROSS JOIN
    // keeps runs outside and each run's links found by key: statistics from a young store once had
    // the planner scan runs for every link (minutes over 20,000 runs).
    const rows = prepare(
      this.db,
      `SELECT d.digest, coalesce(r.source, d.source) AS source, d.schema, d.rows, d.fingerprint,
              CASE WHEN r.source IS NULL OR r.source = d.source THEN d.first_seen
                   ELSE r.first_read END AS first_seen,
              r.last_seen, r.run_count
         FROM datasets d
         LEFT JOIN (
           SELECT l.digest, coalesce(p.str, x.source) AS source, min(u.started_at) AS first_read,
                  max(u.started_at) AS last_seen, count(DISTINCT l.run_id) AS run_count
           FROM runs u CROSS JOIN run_datasets l ON l.run_id = u.id
           JOIN datasets x ON x.digest = l.digest
           LEFT JOIN run_params p ON p.run_id = l.run_id AND p.key = l.node_id || '.path'
           GROUP BY l.digest, coalesce(p.str, x.source)
         ) r ON r.digest = d.digest
         ORDER BY 6, d.digest, 2`,
    ).all() as {
      digest: string;
      source: string;
      schema: string;
      rows: number;
      fingerprint: string;
      first_seen: string;
      last_seen: string | null;
      run_count: number | null;
    }[];
    return rows.map((r) => ({
      digest: r.digest,
      source: r.source,
      schema: JSON.parse(r.schema),
      rows: r.rows,
      fingerprint: r.fingerprint,
      firstSeen: r.first_seen,
      lastSeen: r.last_seen ?? r.first_seen,
      runCount: r.run_count ?? 0,
    }));
  }

  untrackedTestedDigests(): { digest: string; source: string }[] {
    return prepare(
      this.db,
      // The digests come from dataset_tests_digest alone (the table's rows carry whole reports: a
      // scan of them read every report ever kept, at each listing); their rows are then few.
      `SELECT t.digest, t.source FROM (
           SELECT DISTINCT digest FROM dataset_tests WHERE digest NOT IN (SELECT digest FROM datasets)
         ) u CROSS JOIN dataset_tests t ON t.digest = u.digest
         GROUP BY t.digest, t.source ORDER BY min(t.at)`,
    ).all() as { digest: string; source: string }[];
  }

  datasetReads(digests: readonly string[]): DatasetReadRecord[] {
    if (digests.length === 0) return [];
    const rows = prepare(
      this.db,
      `SELECT l.digest, l.run_id, l.node_id, r.pipeline, r.pipeline_path, r.started_at,
              coalesce(p.str, d.source) AS source
         FROM run_datasets l JOIN runs r ON r.id = l.run_id JOIN datasets d ON d.digest = l.digest
         LEFT JOIN run_params p ON p.run_id = l.run_id AND p.key = l.node_id || '.path'
         WHERE l.digest IN (SELECT value FROM json_each(?))
         ORDER BY r.started_at DESC, l.run_id DESC, l.node_id`,
    ).all(JSON.stringify(digests)) as {
      digest: string;
      source: string;
      run_id: string;
      node_id: string;
      pipeline: string;
      pipeline_path: string | null;
      started_at: string;
    }[];
    return rows.map((r) => ({
      digest: r.digest,
      source: r.source,
      runId: r.run_id,
      nodeId: r.node_id,
      pipeline: r.pipeline,
      pipelinePath: r.pipeline_path,
      startedAt: r.started_at,
    }));
  }

  datasetTests(
    digests: readonly string[],
    opts: { limit?: number; sources?: readonly string[] } = {},
  ): DatasetTestRecord[] {
    if (digests.length === 0) return [];
    // dataset_tests_digest (digest, at) serves both the lookup and the order.
    const rows = prepare(
      this.db,
      `SELECT * FROM dataset_tests WHERE digest IN (SELECT value FROM json_each(?))
         AND (? IS NULL OR source IN (SELECT value FROM json_each(?)))
         ORDER BY at DESC, run_id DESC, node_id, suite LIMIT ?`,
    ).all(
      JSON.stringify(digests),
      opts.sources ? 1 : null,
      JSON.stringify(opts.sources ?? []),
      opts.limit ?? -1,
    ) as {
      run_id: string;
      node_id: string;
      digest: string;
      source: string;
      suite: string;
      success: number;
      evaluated: number;
      successful: number;
      at: string;
      report: string;
    }[];
    return rows.map((r) => ({
      runId: r.run_id,
      nodeId: r.node_id,
      digest: r.digest,
      source: r.source,
      suite: r.suite,
      success: r.success === 1,
      evaluated: r.evaluated,
      successful: r.successful,
      at: r.at,
      report: JSON.parse(r.report),
    }));
  }

  modelVersionsReading(
    digests: readonly string[],
    runIds?: readonly string[],
  ): { name: string; version: number }[] {
    if (digests.length === 0) return [];
    // Only versions registered by runs that read one of the digests (run_datasets' digest index),
    // or by the runs given, have their lineage looked into.
    return prepare(
      this.db,
      `SELECT v.name, v.version FROM model_versions v
         WHERE v.run_id IN (
           SELECT run_id FROM run_datasets WHERE digest IN (SELECT value FROM json_each(@digests))
             AND (@runs IS NULL OR run_id IN (SELECT value FROM json_each(@runs)))
         )
         AND EXISTS (
           SELECT 1 FROM json_each(v.lineage, '$.datasets') d
           WHERE json_extract(d.value, '$.digest') IN (SELECT value FROM json_each(@digests))
         )
         ORDER BY v.name, v.version`,
    ).all({ digests: JSON.stringify(digests), runs: runIds ? JSON.stringify(runIds) : null }) as {
      name: string;
      version: number;
    }[];
  }

  lastCompletedNodeRun(pipeline: string, nodeId: string): NodeRunRecord | undefined {
    const row = prepare(
      this.db,
      `SELECT n.* FROM node_runs n JOIN runs r ON r.id = n.run_id
         WHERE r.pipeline = ? AND n.node_id = ? AND n.status IN ('ran', 'cached')
         ORDER BY n.seq DESC LIMIT 1`,
    ).get(pipeline, nodeId) as NodeRunRow | undefined;
    return row && toNodeRun(row);
  }

  close(): void {
    if (!this.db.open) return;
    try {
      // Never wait for another process's lock just to refresh statistics.
      this.db.pragma("busy_timeout = 0");
      this.db.pragma("optimize");
    } catch {
      // Statistics are an optimization; another process holding the lock is no reason to fail closing.
    }
    this.db.close();
  }
}

/** A store in a fresh temporary project folder, for tests; `cleanup()` closes it and removes the folder. */
export function createTempStore(): { store: SqliteMetadataStore; dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "dagwood-store-"));
  mkdirSync(join(dir, ".dagwood"), { recursive: true });
  const store = new SqliteMetadataStore(join(dir, ".dagwood", "metadata.sqlite"), { projectDir: dir });
  return {
    store,
    dir,
    cleanup: () => {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The embedded store: a SQLite file (`.dagwood/metadata.sqlite`), migrated on open. */
export class SqliteMetadataStore extends SqlMetadataStore {
  /**
   * Without options, the project folder is the parent of the database's
   * folder (`<project>/.dagwood/metadata.sqlite`).
   */
  constructor(path: string, opts?: MetadataStoreOptions) {
    super(new SqliteSql(openMetadataDatabase(path)), {
      projectDir: opts?.projectDir ?? dirname(dirname(path)),
      ...(opts?.registryDir ? { registryDir: opts.registryDir } : {}),
      inMemory: path === ":memory:" && !opts,
    });
  }
}
