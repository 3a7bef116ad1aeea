import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import type { LoopStage, MonitorLoop } from "../values/loop";
import { appendMetricChunks } from "./chunks";
import { listViewVersions, recordViewVersion } from "./feature-versions";
import { currentProcess, ownerState } from "./liveness";
import { createLoop, getLoopRecord, listLoopRecords, loopClaim, updateLoopRecord } from "./loops";
import { SqliteRegistry } from "./registry";
import {
  flattenParams,
  insertRows,
  keysetId,
  type MetricRow,
  metricValue,
  type NodeRunRow,
  oneOrIn,
  paramColumns,
  RUN_COLUMNS,
  type RunRow,
  runsWithTags,
  toMetric,
  toNodeRun,
} from "./rows";
import { compareRuns, searchRuns } from "./search";
import { type Sql, SqliteSql, type SqlParam } from "./sql";
import { nowIso, openMetadataDatabase } from "./sqlite";
import { createTestStore } from "./testing";
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

/** The metrics columns a record needs (PostgreSQL's table also has `seq`, its insertion order). */
const METRIC_COLUMNS = "run_id, node_id, name, value, is_nan, step, ts";

/** An upsert that rewrites every column but the key, as `INSERT OR REPLACE` did (no table references these rows). */
const ARTIFACT_UPDATE =
  "kind = excluded.kind, path = excluded.path, bytes = excluded.bytes, sha256 = excluded.sha256";
const DATASET_TEST_UPDATE =
  "digest = excluded.digest, source = excluded.source, success = excluded.success, " +
  "evaluated = excluded.evaluated, successful = excluded.successful, at = excluded.at, report = excluded.report";

/** PostgreSQL column types of the rows the store writes in batches (insertRows). */
const PG_TYPES = {
  metrics: ["text", "text", "text", "float8", "bigint", "bigint", "text"],
  latestMetrics: ["text", "text", "float8", "bigint", "bigint", "text"],
  runParams: ["text", "text", "text", "float8", "text"],
  runTags: ["text", "text", "text"],
};

/** Milliseconds from `startedAt` to `now` (ISO texts), or null when `startedAt` is not a time. */
function durationMs(startedAt: string, now: string): number | null {
  const ms = Date.parse(now) - Date.parse(startedAt);
  return Number.isFinite(ms) ? ms : null;
}

/**
 * A write refused because another process holds the lock or the database is read-only: SQLite's
 * SQLITE_BUSY and SQLITE_READONLY codes (and their extended forms); PostgreSQL's lock_not_available (55P03), read_only_sql_transaction
 * (25006), serialization_failure (40001), deadlock_detected (40P01) (PostgreSQL manual, Appendix A).
 */
function isBusyOrReadOnly(e: unknown): boolean {
  const code = String(
    (e as { code?: unknown; sqlState?: unknown }).code ?? (e as { sqlState?: unknown }).sqlState ?? "",
  );
  return (
    code.startsWith("SQLITE_READONLY") ||
    code.startsWith("SQLITE_BUSY") ||
    ["55P03", "25006", "40001", "40P01"].includes(code)
  );
}

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
  /**
   * A store several machines share (a team's PostgreSQL): `markInterruptedRuns` then settles only
   * this host's runs whose process is gone, never another analyst's running run.
   */
  shared?: boolean;
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
  private readonly shared: boolean;

  constructor(sql: Sql, opts: MetadataStoreOptions & { inMemory?: boolean }) {
    this.sql = sql;
    this.shared = opts.shared ?? false;
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
    if (this.sql.value("SELECT 1 FROM runs WHERE id = ?", id) === undefined) {
      throw new Error(`Run "${id}" not found in the metadata store. List the runs with: dagwood runs list`);
    }
  }

  startRun(run: StartRunInput): void {
    this.write(() => {
      const paramKeys = Object.keys(run.resolvedParams).sort();
      const textSha =
        run.pipelineText === null ? null : createHash("sha256").update(run.pipelineText).digest("hex");
      if (textSha !== null) {
        this.sql.run(
          "INSERT INTO pipeline_texts (sha256, text) VALUES (?, ?) ON CONFLICT (sha256) DO NOTHING",
          textSha,
          run.pipelineText,
        );
      }
      // Joining: the first process to insert the run writes it; the others find it there (on
      // PostgreSQL a concurrent second insert waits for the first's commit, then does nothing).
      const inserted = this.sql.run(
        `INSERT INTO runs (id, pipeline, pipeline_path, pipeline_hash, pipeline_text_sha, status, params, environment,
             started_at, "user", kind, param_keyset, owner, host)
           VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, 'pipeline', ?, ?, ?)${run.join ? " ON CONFLICT (id) DO NOTHING" : ""}`,
        run.id,
        run.pipeline,
        run.pipelinePath,
        run.pipelineHash,
        textSha,
        JSON.stringify(run.params),
        JSON.stringify(run.environment),
        run.startedAt,
        run.user,
        keysetId(this.sql, paramKeys),
        JSON.stringify(currentProcess()),
        currentProcess().host,
      );
      if (inserted.changes === 0) return;
      this.insertParams(run.id, run.resolvedParams);
      insertRows(
        this.sql,
        "INSERT INTO run_tags (run_id, key, value)",
        Object.entries(run.tags ?? {}).map(([k, v]) => [run.id, k, v]),
        "",
        PG_TYPES.runTags,
      );
    });
  }

  /** One multi-row statement per ROWS_PER_STATEMENT params, not one per param. */
  private insertParams(runId: string, params: Record<string, unknown>): void {
    insertRows(
      this.sql,
      "INSERT INTO run_params (run_id, key, value, num, str)",
      Object.entries(params).map(([key, v]) => {
        const c = paramColumns(v);
        return [runId, key, c.value, c.num, c.str];
      }),
      "",
      PG_TYPES.runParams,
    );
  }

  finishRun(id: string, status: RunStatus, error: string | null = null): void {
    this.write(() => {
      const started = this.sql.value<string>("SELECT started_at FROM runs WHERE id = ?", id);
      if (started === undefined) this.requireRun(id);
      const finished = new Date();
      const duration = finished.getTime() - Date.parse(started!);
      this.sql.run(
        "UPDATE runs SET status = ?, finished_at = ?, duration_ms = ?, error = ? WHERE id = ?",
        status,
        finished.toISOString(),
        Number.isFinite(duration) ? duration : null,
        error,
        id,
      );
    });
  }

  updateEnvironment(id: string, facts: RunEnvironment): void {
    this.write(() => {
      const text = this.sql.value<string>("SELECT environment FROM runs WHERE id = ?", id);
      if (text === undefined) this.requireRun(id);
      const merged = { ...JSON.parse(text!), ...facts };
      this.sql.run("UPDATE runs SET environment = ? WHERE id = ?", JSON.stringify(merged), id);
    });
  }

  createMonitorLoop(input: NewLoopInput): MonitorLoop | undefined {
    return createLoop(this.sql, input);
  }

  monitorLoop(id: number): MonitorLoop | undefined {
    return getLoopRecord(this.sql, id);
  }

  monitorLoops(query?: LoopQuery): MonitorLoop[] {
    return listLoopRecords(this.sql, query);
  }

  recordFeatureViewVersion(input: Omit<FeatureViewVersion, "version" | "appliedAt"> & { at?: string }): {
    version: FeatureViewVersion;
    changed: boolean;
  } {
    return this.write(() => recordViewVersion(this.sql, input));
  }

  featureViewVersions(view?: string): FeatureViewVersion[] {
    return listViewVersions(this.sql, view);
  }

  monitorLoopClaim(id: number): string | null {
    return loopClaim(this.sql, id);
  }

  updateMonitorLoop(
    id: number,
    expect: { stage: LoopStage; claim?: string | null },
    update: LoopUpdate,
  ): MonitorLoop | undefined {
    return updateLoopRecord(this.sql, id, expect, update);
  }

  /**
   * Marks runs still "running" as interrupted. Call it only while holding
   * the project's workspace (one process at a time): then such a run
   * belongs to a process that died. On a shared store (`shared`), other
   * machines' runs may well be running: only this host's runs whose process
   * is gone are settled (as the readers do), and runs without an owner record
   * are left alone.
   */
  markInterruptedRuns(): void {
    if (this.shared) {
      this.settleOrphanedRuns();
      return;
    }
    const now = nowIso();
    this.write(() => {
      const running = this.sql.all<{ id: string; started_at: string }>(
        "SELECT id, started_at FROM runs WHERE status = 'running'",
      );
      for (const r of running) {
        this.sql.run(
          "UPDATE runs SET status = 'interrupted', finished_at = ?, duration_ms = ? WHERE id = ? AND status = 'running'",
          now,
          durationMs(r.started_at, now),
          r.id,
        );
      }
    });
  }

  /**
   * Marks as interrupted the runs still "running" whose process has ended
   * (killed, crashed) on this host: the readers call it first, so no reader
   * shows such a run as running. Runs of other hosts, and runs recorded
   * before owners were (no owner), are left to `markInterruptedRuns`.
   */
  private settleOrphanedRuns(): void {
    const running = this.sql.all<{ id: string; owner: string; started_at: string }>(
      "SELECT id, owner, started_at FROM runs WHERE status = 'running' AND owner IS NOT NULL",
    );
    if (running.length === 0) return;
    const gone: { id: string; pid: unknown; startedAt: string }[] = [];
    for (const r of running) {
      let owner: unknown;
      try {
        owner = JSON.parse(r.owner);
      } catch {
        continue;
      }
      if (ownerState(owner) === "gone") {
        gone.push({ id: r.id, pid: (owner as { pid?: unknown }).pid, startedAt: r.started_at });
      }
    }
    if (gone.length === 0) return;
    const now = nowIso();
    try {
      this.write(() => {
        for (const g of gone) {
          this.sql.run(
            `UPDATE runs SET status = 'interrupted', finished_at = ?, duration_ms = ?, error = coalesce(error, ?)
               WHERE id = ? AND status = 'running'`,
            now,
            durationMs(g.startedAt, now),
            `Interrupted: its process (pid ${g.pid}) ended before the run finished (killed or crashed).`,
            g.id,
          );
        }
      });
    } catch (e) {
      // A read-only or locked database: the next reader settles them.
      if (!isBusyOrReadOnly(e)) throw e;
    }
  }

  recordNodeRun(n: NodeRunRecord): void {
    this.sql.run(
      `INSERT INTO node_runs (run_id, node_id, block, block_version, status, reason, cache_key, params_hash,
           inputs_hash, ms, error, outputs, inputs)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
    const points: SqlParam[][] = [];
    for (const m of metrics) {
      const ts = m.ts ?? now;
      const isNan = Number.isNaN(m.value) ? 1 : 0;
      points.push([m.runId, m.nodeId, m.name, isNan ? null : m.value, isNan, m.step, ts]);
      const key = `${m.nodeId}.${m.name}`;
      const id = `${m.runId}\u0000${key}`;
      const prev = winners.get(id);
      if (!prev || (m.step ?? Number.NEGATIVE_INFINITY) >= (prev.m.step ?? Number.NEGATIVE_INFINITY)) {
        winners.set(id, { runId: m.runId, key, m, ts });
      }
    }
    // Many rows per statement: a 10,000-point batch is 100 statements, not 10,000.
    insertRows(
      this.sql,
      "INSERT INTO metrics (run_id, node_id, name, value, is_nan, step, ts)",
      points,
      "",
      PG_TYPES.metrics,
    );
    const runIds = oneOrIn(this.sql, "run_id", [...new Set([...winners.values()].map((w) => w.runId))]);
    const known = new Set(
      (
        this.sql.rows(
          `SELECT run_id, key FROM latest_metrics WHERE ${runIds.text} AND key IN ${this.sql.inJson()}`,
          ...runIds.args,
          JSON.stringify([...new Set([...winners.values()].map((w) => w.key))]),
        ) as [string, string][]
      ).map(([runId, key]) => `${runId}\u0000${key}`),
    );
    const runsWithNewKeys = new Set<string>();
    for (const [id, { runId }] of winners) if (!known.has(id)) runsWithNewKeys.add(runId);
    insertRows(
      this.sql,
      "INSERT INTO latest_metrics (run_id, key, value, is_nan, step, ts)",
      [...winners.values()].map(({ runId, key, m, ts }) => {
        const isNan = Number.isNaN(m.value) ? 1 : 0;
        return [runId, key, isNan ? null : m.value, isNan, m.step, ts];
      }),
      `ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, is_nan = excluded.is_nan,
         step = excluded.step, ts = excluded.ts
       WHERE coalesce(excluded.step, -9223372036854775808) >= coalesce(latest_metrics.step, -9223372036854775808)`,
      PG_TYPES.latestMetrics,
    );
    appendMetricChunks(
      this.sql,
      metrics.map((m) => ({ runId: m.runId, key: `${m.nodeId}.${m.name}`, step: m.step, value: m.value })),
    );
    for (const runId of runsWithNewKeys) {
      // Steps of one workflow log into one run at once: the second to list the keys waits for the
      // first's commit, so that it sees (and keeps) the first's new keys (PostgreSQL, READ COMMITTED).
      this.sql.lock(`run-keys:${runId}`);
      const keys = this.sql.column<string>(
        "SELECT key FROM latest_metrics WHERE run_id = ? ORDER BY key",
        runId,
      );
      this.sql.run("UPDATE runs SET metric_keyset = ? WHERE id = ?", keysetId(this.sql, keys), runId);
    }
  }

  logMessage(e: LogRecord): void {
    this.sql.run(
      "INSERT INTO logs (run_id, node_id, level, message) VALUES (?, ?, ?, ?)",
      e.runId,
      e.nodeId,
      e.level,
      e.message,
    );
  }

  recordArtifact(a: ArtifactRecord): void {
    this.sql.run(
      `INSERT INTO artifacts (run_id, node_id, name, kind, path, bytes, sha256) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (run_id, node_id, name) DO UPDATE SET ${ARTIFACT_UPDATE}`,
      a.runId,
      a.nodeId,
      a.name,
      a.kind,
      a.path,
      a.bytes,
      a.sha256,
    );
  }

  recordDataset(runId: string, nodeId: string, d: DatasetRecord): void {
    this.write(() => {
      this.sql.run(
        `INSERT INTO datasets (digest, source, schema, rows, fingerprint, first_seen)
           VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING`,
        d.digest,
        d.source,
        JSON.stringify(d.schema),
        d.rows,
        d.fingerprint,
        d.firstSeen ?? nowIso(),
      );
      this.sql.run(
        "INSERT INTO run_datasets (run_id, node_id, digest, read) VALUES (?, ?, ?, ?) ON CONFLICT (run_id, node_id, digest) DO NOTHING",
        runId,
        nodeId,
        d.digest,
        d.database ? JSON.stringify(d.database) : null,
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
    this.sql.run(
      `DELETE FROM run_params WHERE run_id = ? AND key IN ${this.sql.inJson()}`,
      runId,
      JSON.stringify(Object.keys(flat)),
    );
    this.insertParams(runId, flat);
    this.sql.lock(`run-params:${runId}`); // as for the metric keys (insertMetrics)
    const all = this.sql.column<string>("SELECT key FROM run_params WHERE run_id = ? ORDER BY key", runId);
    this.sql.run("UPDATE runs SET param_keyset = ? WHERE id = ?", keysetId(this.sql, all), runId);
  }

  /** The params a search chose for a node run (recordChosenParams), or undefined. */
  private chosenParamsOf(runId: string, nodeId: string): Record<string, unknown> | undefined {
    const get = (key: string) =>
      this.sql.value<string>("SELECT value FROM run_params WHERE run_id = ? AND key = ?", runId, key);
    const listed = get(`${nodeId}.search.chosen`);
    if (listed === undefined) return undefined;
    const keys = JSON.parse(listed) as string[];
    return Object.fromEntries(
      keys.flatMap((k) => {
        const value = get(`${nodeId}.${k}`);
        return value === undefined ? [] : [[k, JSON.parse(value)]];
      }),
    );
  }

  recordTrial(t: TrialRunInput): string {
    // The node is part of the id: two tuned train nodes in one run each number their trials from 0.
    const id = `${t.parentRunId}-${runIdPart(t.nodeId)}-trial-${t.index}`;
    this.write(() => {
      const parent = this.sql.get<
        Pick<RunRow, "pipeline" | "pipeline_path" | "pipeline_hash" | "environment" | "user" | "host">
      >(
        `SELECT pipeline, pipeline_path, pipeline_hash, environment, "user", host FROM runs WHERE id = ?`,
        t.parentRunId,
      );
      if (!parent) this.requireRun(t.parentRunId);
      const params = flattenParams(t.nodeId, t.params);
      const now = nowIso();
      this.sql.run(
        `INSERT INTO runs (id, pipeline, pipeline_path, pipeline_hash, status, params, environment, started_at,
             finished_at, duration_ms, "user", host, parent_run_id, kind, param_keyset)
           VALUES (?, ?, ?, ?, 'succeeded', ?, ?, ?, ?, 0, ?, ?, ?, 'trial', ?)`,
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
        keysetId(this.sql, Object.keys(params).sort()),
      );
      this.insertParams(id, params);
      this.sql.run("INSERT INTO run_tags (run_id, key, value) VALUES (?, 'trial', ?)", id, String(t.index));
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
    return this.sql.get<{ run_id: string; node_id: string }>(
      "SELECT run_id, node_id FROM node_runs WHERE cache_key = ? AND status = 'ran' ORDER BY seq DESC LIMIT 1",
      cacheKey,
    );
  }

  private producerMetrics(producer: { run_id: string; node_id: string }): MetricRow[] {
    return this.sql.all<MetricRow>(
      `SELECT ${METRIC_COLUMNS} FROM metrics WHERE run_id = ? AND node_id = ? ORDER BY ${this.sql.insertionOrder()}`,
      producer.run_id,
      producer.node_id,
    );
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
      // (A WHERE clause ends each SELECT: SQLite would otherwise read ON CONFLICT as a join's ON.)
      this.sql.run(
        `INSERT INTO run_datasets (run_id, node_id, digest)
           SELECT CAST(? AS TEXT), CAST(? AS TEXT), digest FROM run_datasets WHERE run_id = ? AND node_id = ?
           ON CONFLICT (run_id, node_id, digest) DO NOTHING`,
        runId,
        nodeId,
        producer.run_id,
        producer.node_id,
      );
      this.sql.run(
        `INSERT INTO dataset_tests
             (run_id, node_id, digest, source, suite, success, evaluated, successful, at, report)
           SELECT CAST(? AS TEXT), CAST(? AS TEXT), digest, source, suite, success, evaluated, successful,
                  CAST(? AS TEXT), report
           FROM dataset_tests WHERE run_id = ? AND node_id = ?
           ON CONFLICT (run_id, node_id, suite) DO UPDATE SET ${DATASET_TEST_UPDATE}`,
        runId,
        nodeId,
        nowIso(),
        producer.run_id,
        producer.node_id,
      );
      this.sql.run(
        `INSERT INTO artifacts (run_id, node_id, name, kind, path, bytes, sha256)
           SELECT CAST(? AS TEXT), CAST(? AS TEXT), name, kind, path, bytes, sha256
           FROM artifacts WHERE run_id = ? AND node_id = ?
           ON CONFLICT (run_id, node_id, name) DO UPDATE SET ${ARTIFACT_UPDATE}`,
        runId,
        nodeId,
        producer.run_id,
        producer.node_id,
      );
      return metrics;
    });
  }

  producerWarnings(cacheKey: string): string[] {
    const producer = this.producerOf(cacheKey);
    if (!producer) return [];
    return this.sql.column<string>(
      `SELECT message FROM logs WHERE run_id = ? AND node_id = ? AND level = 'warn' ORDER BY ${this.sql.insertionOrder()}`,
      producer.run_id,
      producer.node_id,
    );
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
    const keys = this.sql.column<string>(
      `SELECT DISTINCT n.cache_key FROM node_runs n JOIN (
           SELECT id FROM (
             SELECT id, row_number() OVER (PARTITION BY pipeline ORDER BY started_at DESC) AS k
             FROM runs WHERE parent_run_id IS NULL
           ) ranked WHERE k <= ?
         ) r ON r.id = n.run_id
         WHERE n.cache_key IS NOT NULL AND n.status IN ('ran', 'cached')`,
      runs,
    );
    return new Set(keys);
  }

  getRun(id: string): RunRecord | undefined {
    this.settleOrphanedRuns();
    const row = this.sql.get<RunRow>(`SELECT ${RUN_COLUMNS} FROM runs r WHERE r.id = ?`, id);
    return row && runsWithTags(this.sql, [row])[0];
  }

  pipelineText(id: string): string | null {
    return (
      this.sql.value<string>(
        "SELECT t.text FROM runs r JOIN pipeline_texts t ON t.sha256 = r.pipeline_text_sha WHERE r.id = ?",
        id,
      ) ?? null
    );
  }

  resolvedParams(id: string): Record<string, unknown> {
    const rows = this.sql.rows("SELECT key, value FROM run_params WHERE run_id = ? ORDER BY key", id) as [
      string,
      string,
    ][];
    return Object.fromEntries(rows.map(([k, v]) => [k, JSON.parse(v)]));
  }

  /** Pipeline runs (not tuning trials), newest first. */
  listRuns(opts: { pipeline?: string; limit?: number } = {}): RunRecord[] {
    this.settleOrphanedRuns();
    const limit = opts.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 0) {
      throw new Error(`A run listing's limit must be a whole number, 0 or more; got ${limit}.`);
    }
    const rows = this.sql.all<RunRow>(
      `SELECT ${RUN_COLUMNS} FROM runs r
         WHERE r.parent_run_id IS NULL AND (${this.sql.nullParam()} IS NULL OR r.pipeline = ?)
         ORDER BY r.started_at DESC LIMIT ?`,
      opts.pipeline ?? null,
      opts.pipeline ?? null,
      limit,
    );
    return runsWithTags(this.sql, rows);
  }

  searchRuns(query: RunQuery): RunPage {
    this.settleOrphanedRuns();
    return searchRuns(this.sql, query);
  }

  compareRuns(ids: string[]): RunComparison {
    this.settleOrphanedRuns();
    return compareRuns(this.sql, ids);
  }

  setTags(id: string, set: Record<string, string>, remove: string[] = []): void {
    this.write(() => {
      this.requireRun(id);
      if (remove.length > 0) {
        this.sql.run(
          `DELETE FROM run_tags WHERE run_id = ? AND key IN ${this.sql.inJson()}`,
          id,
          JSON.stringify(remove),
        );
      }
      insertRows(
        this.sql,
        "INSERT INTO run_tags (run_id, key, value)",
        Object.entries(set).map(([k, v]) => [id, k, v]),
        "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
        PG_TYPES.runTags,
      );
    });
  }

  setNote(id: string, note: string | null): void {
    this.write(() => {
      this.requireRun(id);
      this.sql.run("UPDATE runs SET note = ? WHERE id = ?", note, id);
    });
  }

  nodeRuns(runId: string): NodeRunRecord[] {
    return this.sql
      .all<NodeRunRow>("SELECT * FROM node_runs WHERE run_id = ? ORDER BY seq", runId)
      .map(toNodeRun);
  }

  metrics(runId: string): MetricRecord[] {
    return this.sql
      .all<MetricRow>(
        `SELECT ${METRIC_COLUMNS} FROM metrics WHERE run_id = ? ORDER BY ${this.sql.insertionOrder()}`,
        runId,
      )
      .map(toMetric);
  }

  logs(runId: string): LogRecord[] {
    return this.sql
      .all<{ run_id: string; node_id: string; level: string; message: string }>(
        `SELECT run_id, node_id, level, message FROM logs WHERE run_id = ? ORDER BY ${this.sql.insertionOrder()}`,
        runId,
      )
      .map((r) => ({ runId: r.run_id, nodeId: r.node_id, level: r.level, message: r.message }));
  }

  artifacts(runId: string): ArtifactRecord[] {
    return this.sql
      .all<Omit<ArtifactRecord, "runId" | "nodeId"> & { run_id: string; node_id: string }>(
        "SELECT run_id, node_id, name, kind, path, bytes, sha256 FROM artifacts WHERE run_id = ? ORDER BY node_id, name",
        runId,
      )
      .map(({ run_id, node_id, ...a }) => ({ runId: run_id, nodeId: node_id, ...a }));
  }

  private datasetRows(sql: string, ...args: SqlParam[]): (DatasetRecord & { nodeId: string })[] {
    return this.sql
      .all<{
        node_id: string;
        digest: string;
        source: string;
        schema: string;
        rows: number;
        fingerprint: string;
        first_seen: string;
        read?: string | null;
      }>(sql, ...args)
      .map((r) => ({
        nodeId: r.node_id,
        digest: r.digest,
        source: r.source,
        schema: JSON.parse(r.schema),
        rows: r.rows,
        fingerprint: r.fingerprint,
        firstSeen: r.first_seen,
        ...(r.read ? { database: JSON.parse(r.read) } : {}),
      }));
  }

  datasets(runId: string): (DatasetRecord & { nodeId: string })[] {
    // `datasets` keeps the first name a content was read under; this run's node may have read the
    // same bytes under another (a copy, a renamed file): its `path` param names what it read.
    return this.datasetRows(
      `SELECT l.node_id, d.digest, coalesce(p.str, d.source) AS source, d.schema, d.rows,
              d.fingerprint, d.first_seen, l.read
       FROM run_datasets l JOIN datasets d ON d.digest = l.digest
       LEFT JOIN run_params p ON p.run_id = l.run_id AND p.key = l.node_id || '.path'
       WHERE l.run_id = ? ORDER BY l.node_id, 3`,
      runId,
    );
  }

  upstreamDatasets(runId: string, nodeId: string): DatasetRecord[] {
    const inputsOf = (node: string) =>
      this.sql.value<string>(
        "SELECT inputs FROM node_runs WHERE run_id = ? AND node_id = ? ORDER BY seq DESC LIMIT 1",
        runId,
        node,
      );
    const seen = new Set<string>([nodeId]);
    const queue = [nodeId];
    while (queue.length > 0) {
      const text = inputsOf(queue.shift()!);
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
              d.fingerprint, d.first_seen, l.read
       FROM run_datasets l JOIN datasets d ON d.digest = l.digest
       LEFT JOIN run_params p ON p.run_id = l.run_id AND p.key = l.node_id || '.path'
       WHERE l.run_id = ? AND l.node_id IN ${this.sql.inJson()} ORDER BY 3, d.digest`,
      runId,
      JSON.stringify([...seen]),
    );
    for (const { nodeId: _node, ...d } of rows) byDigest.set(d.digest, d);
    return [...byDigest.values()];
  }

  recordDatasetTest(t: DatasetTestRecord): void {
    this.sql.run(
      `INSERT INTO dataset_tests
           (run_id, node_id, digest, source, suite, success, evaluated, successful, at, report)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (run_id, node_id, suite) DO UPDATE SET ${DATASET_TEST_UPDATE}`,
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
    // CROSS JOIN is SQLite's way to fix the join order; PostgreSQL has no CROSS JOIN … ON.
    const crossJoin = this.sql.dialect === "sqlite" ? "CROSS JOIN" : "JOIN";
    const rows = this.sql.all<{
      digest: string;
      source: string;
      schema: string;
      rows: number;
      fingerprint: string;
      first_seen: string;
      last_seen: string | null;
      run_count: number | null;
    }>(
      `SELECT d.digest, coalesce(r.source, d.source) AS source, d.schema, d.rows, d.fingerprint,
              CASE WHEN r.source IS NULL OR r.source = d.source THEN d.first_seen
                   ELSE r.first_read END AS first_seen,
              r.last_seen, r.run_count
         FROM datasets d
         LEFT JOIN (
           SELECT l.digest, coalesce(p.str, x.source) AS source, min(u.started_at) AS first_read,
                  max(u.started_at) AS last_seen, count(DISTINCT l.run_id) AS run_count
           FROM runs u ${crossJoin} run_datasets l ON l.run_id = u.id
           JOIN datasets x ON x.digest = l.digest
           LEFT JOIN run_params p ON p.run_id = l.run_id AND p.key = l.node_id || '.path'
           GROUP BY l.digest, coalesce(p.str, x.source)
         ) r ON r.digest = d.digest
         ORDER BY 6, d.digest, 2`,
    );
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
    const crossJoin = this.sql.dialect === "sqlite" ? "CROSS JOIN" : "JOIN";
    return this.sql.all<{ digest: string; source: string }>(
      // The digests come from dataset_tests_digest alone (the table's rows carry whole reports: a
      // scan of them read every report ever kept, at each listing); their rows are then few.
      `SELECT t.digest, t.source FROM (
           SELECT DISTINCT digest FROM dataset_tests WHERE digest NOT IN (SELECT digest FROM datasets)
         ) u ${crossJoin} dataset_tests t ON t.digest = u.digest
         GROUP BY t.digest, t.source ORDER BY min(t.at), t.digest, t.source`,
    );
  }

  datasetReads(digests: readonly string[]): DatasetReadRecord[] {
    if (digests.length === 0) return [];
    const rows = this.sql.all<{
      digest: string;
      source: string;
      run_id: string;
      node_id: string;
      pipeline: string;
      pipeline_path: string | null;
      started_at: string;
    }>(
      `SELECT l.digest, l.run_id, l.node_id, r.pipeline, r.pipeline_path, r.started_at,
              coalesce(p.str, d.source) AS source
         FROM run_datasets l JOIN runs r ON r.id = l.run_id JOIN datasets d ON d.digest = l.digest
         LEFT JOIN run_params p ON p.run_id = l.run_id AND p.key = l.node_id || '.path'
         WHERE l.digest IN ${this.sql.inJson()}
         ORDER BY r.started_at DESC, l.run_id DESC, l.node_id`,
      JSON.stringify(digests),
    );
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
    const limit = opts.limit;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
      throw new Error(`A dataset test listing's limit must be a whole number, 0 or more; got ${limit}.`);
    }
    const sources = opts.sources ? [`AND source IN ${this.sql.inJson()}`] : [];
    const rows = this.sql.all<{
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
    }>(
      `SELECT run_id, node_id, digest, source, suite, success, evaluated, successful, at, report
         FROM dataset_tests WHERE digest IN ${this.sql.inJson()} ${sources.join("")}
         ORDER BY at DESC, run_id DESC, node_id, suite${limit === undefined ? "" : " LIMIT ?"}`,
      JSON.stringify(digests),
      ...(opts.sources ? [JSON.stringify(opts.sources)] : []),
      ...(limit === undefined ? [] : [limit]),
    );
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
    const inJson = this.sql.inJson();
    // The digests each version's lineage lists (lineage.datasets[].digest).
    const lineageDigests =
      this.sql.dialect === "sqlite"
        ? "SELECT json_extract(d.value, '$.digest') AS digest FROM json_each(v.lineage, '$.datasets') d"
        : "SELECT d.value ->> 'digest' AS digest FROM jsonb_array_elements(v.lineage::jsonb -> 'datasets') d";
    const digestsJson = JSON.stringify(digests);
    return this.sql.all<{ name: string; version: number }>(
      `SELECT v.name, v.version FROM model_versions v
         WHERE v.run_id IN (
           SELECT run_id FROM run_datasets WHERE digest IN ${inJson}${runIds ? ` AND run_id IN ${inJson}` : ""}
         )
         AND EXISTS (
           SELECT 1 FROM (${lineageDigests}) x WHERE x.digest IN ${inJson}
         )
         ORDER BY v.name, v.version`,
      digestsJson,
      ...(runIds ? [JSON.stringify(runIds)] : []),
      digestsJson,
    );
  }

  lastCompletedNodeRun(pipeline: string, nodeId: string): NodeRunRecord | undefined {
    const row = this.sql.get<NodeRunRow>(
      `SELECT n.* FROM node_runs n JOIN runs r ON r.id = n.run_id
         WHERE r.pipeline = ? AND n.node_id = ? AND n.status IN ('ran', 'cached')
         ORDER BY n.seq DESC LIMIT 1`,
      pipeline,
      nodeId,
    );
    return row && toNodeRun(row);
  }

  close(): void {
    if (this.sql.dialect === "sqlite") {
      const db = (this.sql as SqliteSql).db;
      if (!db.open) return;
      try {
        // Never wait for another process's lock just to refresh statistics.
        db.pragma("busy_timeout = 0");
        db.pragma("optimize");
      } catch {
        // Statistics are an optimization; another process holding the lock is no reason to fail closing.
      }
    }
    this.sql.close();
  }
}

/** A store in a fresh temporary project folder, for tests; `cleanup()` closes it and removes the folder. */
export function createTempStore(): { store: SqliteMetadataStore; dir: string; cleanup: () => void } {
  // On the database the test run selects: SQLite, or PostgreSQL under DAGWOOD_TEST_STORE=postgres.
  return createTestStore();
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
      ...(opts?.shared ? { shared: true } : {}),
      inMemory: path === ":memory:" && !opts,
    });
  }
}
