import Database from "better-sqlite3";

export type RunStatus = "running" | "succeeded" | "failed" | "canceled" | "interrupted";
export type NodeStatus = "ran" | "cached" | "failed" | "skipped";

export interface RunRecord {
  id: string;
  pipeline: string;
  pipelinePath: string | null;
  status: RunStatus;
  params: Record<string, unknown>;
  startedAt: string;
  finishedAt: string | null;
  error: string | null;
  /** The backend or environment facts the run used (e.g. DuckDB version). */
  environment: Record<string, unknown>;
}

export interface NodeRunRecord {
  runId: string;
  nodeId: string;
  block: string;
  blockVersion: number;
  status: NodeStatus;
  reason: string | null;
  cacheKey: string | null;
  paramsHash: string | null;
  inputsHash: string | null;
  ms: number;
  error: string | null;
  /** Port → summary (table name, rows, fingerprint) of what the node produced. */
  outputs: Record<string, unknown>;
}

export interface MetricRecord {
  runId: string;
  nodeId: string;
  name: string;
  value: number;
  step: number | null;
}

export interface LogRecord {
  runId: string;
  nodeId: string;
  level: string;
  message: string;
}

/**
 * Run bookkeeping: runs, node runs, metrics. One interface; the SQLite
 * implementation below is the only one, and tests open it on ":memory:".
 */
export interface MetadataStore {
  startRun(run: Omit<RunRecord, "finishedAt" | "error" | "status">): void;
  finishRun(id: string, status: RunStatus, error?: string | null): void;
  recordNodeRun(node: NodeRunRecord): void;
  logMetrics(metrics: MetricRecord[]): void;
  logMetric(metric: MetricRecord): void;
  logMessage(entry: LogRecord): void;
  /** The metrics logged by the latest node run that computed the outputs under this cache key. */
  metricsForCacheKey(key: string): { name: string; value: number; step: number | null }[];
  getRun(id: string): RunRecord | undefined;
  listRuns(opts?: { pipeline?: string; limit?: number }): RunRecord[];
  nodeRuns(runId: string): NodeRunRecord[];
  metrics(runId: string): MetricRecord[];
  logs(runId: string): LogRecord[];
  /** The most recent node run of a node that produced outputs (ran or cached), to explain why it runs again. */
  lastCompletedNodeRun(pipeline: string, nodeId: string): NodeRunRecord | undefined;
  markInterruptedRuns(): void;
  /** The cache keys that the latest `runs` runs of each pipeline used (ran or cached). */
  recentCacheKeys(runs: number): Set<string>;
  close(): void;
}

/** Versioned migrations: each runs once, in order, in its own transaction. */
const MIGRATIONS: string[] = [
  `CREATE TABLE runs (
     id TEXT PRIMARY KEY,
     pipeline TEXT NOT NULL,
     pipeline_path TEXT,
     status TEXT NOT NULL,
     params TEXT NOT NULL,
     environment TEXT NOT NULL,
     started_at TEXT NOT NULL,
     finished_at TEXT,
     error TEXT
   );
   CREATE INDEX runs_pipeline ON runs (pipeline, started_at);
   CREATE TABLE node_runs (
     run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
     node_id TEXT NOT NULL,
     block TEXT NOT NULL,
     block_version INTEGER NOT NULL,
     status TEXT NOT NULL,
     reason TEXT,
     cache_key TEXT,
     params_hash TEXT,
     inputs_hash TEXT,
     ms REAL NOT NULL,
     error TEXT,
     outputs TEXT NOT NULL,
     seq INTEGER PRIMARY KEY AUTOINCREMENT
   );
   CREATE INDEX node_runs_run ON node_runs (run_id);
   CREATE INDEX node_runs_node ON node_runs (node_id, seq);
   CREATE TABLE metrics (
     run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
     node_id TEXT NOT NULL,
     name TEXT NOT NULL,
     value REAL NOT NULL,
     step INTEGER,
     ts TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
   );
   CREATE INDEX metrics_run ON metrics (run_id, node_id, name);`,
  `CREATE TABLE logs (
     run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
     node_id TEXT NOT NULL,
     level TEXT NOT NULL,
     message TEXT NOT NULL,
     ts TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
   );
   CREATE INDEX logs_run ON logs (run_id);`,
];

interface RunRow {
  id: string;
  pipeline: string;
  pipeline_path: string | null;
  status: RunStatus;
  params: string;
  environment: string;
  started_at: string;
  finished_at: string | null;
  error: string | null;
}

interface NodeRunRow {
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
}

const toRun = (r: RunRow): RunRecord => ({
  id: r.id,
  pipeline: r.pipeline,
  pipelinePath: r.pipeline_path,
  status: r.status,
  params: JSON.parse(r.params),
  environment: JSON.parse(r.environment),
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  error: r.error,
});

const toNodeRun = (r: NodeRunRow): NodeRunRecord => ({
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
});

export class SqliteMetadataStore implements MetadataStore {
  private readonly db: Database.Database;

  constructor(path: string) {
    // Under Electron, the addon built for Electron's ABI (see bin/electron-native.mjs).
    const nativeBinding = process.env.DAGWOOD_SQLITE_BINDING;
    this.db = new Database(path, nativeBinding ? { nativeBinding } : {});
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("foreign_keys = ON");
    this.db.pragma("busy_timeout = 5000");
    this.migrate();
  }

  /**
   * Marks runs still "running" as interrupted. Call it only while holding
   * the project's workspace (one process at a time): then such a run
   * belongs to a process that died.
   */
  markInterruptedRuns(): void {
    this.db
      .prepare("UPDATE runs SET status = 'interrupted', finished_at = ? WHERE status = 'running'")
      .run(new Date().toISOString());
  }

  private migrate(): void {
    const version = this.db.pragma("user_version", { simple: true }) as number;
    if (version > MIGRATIONS.length) {
      throw new Error(
        `The metadata store was written by a newer Dagwood (schema ${version}, this one knows ${MIGRATIONS.length}). Upgrade Dagwood.`,
      );
    }
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  startRun(run: Omit<RunRecord, "finishedAt" | "error" | "status">): void {
    this.db
      .prepare(
        "INSERT INTO runs (id, pipeline, pipeline_path, status, params, environment, started_at) VALUES (?, ?, ?, 'running', ?, ?, ?)",
      )
      .run(
        run.id,
        run.pipeline,
        run.pipelinePath,
        JSON.stringify(run.params),
        JSON.stringify(run.environment),
        run.startedAt,
      );
  }

  finishRun(id: string, status: RunStatus, error: string | null = null): void {
    this.db
      .prepare("UPDATE runs SET status = ?, finished_at = ?, error = ? WHERE id = ?")
      .run(status, new Date().toISOString(), error, id);
  }

  recordNodeRun(n: NodeRunRecord): void {
    this.db
      .prepare(
        `INSERT INTO node_runs (run_id, node_id, block, block_version, status, reason, cache_key, params_hash, inputs_hash, ms, error, outputs)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
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
      );
  }

  logMetrics(metrics: MetricRecord[]): void {
    const insert = this.db.prepare(
      "INSERT INTO metrics (run_id, node_id, name, value, step) VALUES (?, ?, ?, ?, ?)",
    );
    this.db.transaction(() => {
      for (const m of metrics) insert.run(m.runId, m.nodeId, m.name, m.value, m.step);
    })();
  }

  logMetric(metric: MetricRecord): void {
    this.logMetrics([metric]);
  }

  recentCacheKeys(runs: number): Set<string> {
    const rows = this.db
      .prepare(
        `SELECT DISTINCT n.cache_key AS key FROM node_runs n JOIN (
           SELECT id FROM (
             SELECT id, row_number() OVER (PARTITION BY pipeline ORDER BY started_at DESC) AS k FROM runs
           ) WHERE k <= ?
         ) r ON r.id = n.run_id
         WHERE n.cache_key IS NOT NULL AND n.status IN ('ran', 'cached')`,
      )
      .all(runs) as { key: string }[];
    return new Set(rows.map((r) => r.key));
  }

  metricsForCacheKey(key: string): { name: string; value: number; step: number | null }[] {
    const producer = this.db
      .prepare(
        "SELECT run_id, node_id FROM node_runs WHERE cache_key = ? AND status = 'ran' ORDER BY seq DESC LIMIT 1",
      )
      .get(key) as { run_id: string; node_id: string } | undefined;
    if (!producer) return [];
    return this.db
      .prepare("SELECT name, value, step FROM metrics WHERE run_id = ? AND node_id = ? ORDER BY rowid")
      .all(producer.run_id, producer.node_id) as { name: string; value: number; step: number | null }[];
  }

  logMessage(e: LogRecord): void {
    this.db
      .prepare("INSERT INTO logs (run_id, node_id, level, message) VALUES (?, ?, ?, ?)")
      .run(e.runId, e.nodeId, e.level, e.message);
  }

  logs(runId: string): LogRecord[] {
    return (
      this.db
        .prepare("SELECT run_id, node_id, level, message FROM logs WHERE run_id = ? ORDER BY rowid")
        .all(runId) as {
        run_id: string;
        node_id: string;
        level: string;
        message: string;
      }[]
    ).map((r) => ({ runId: r.run_id, nodeId: r.node_id, level: r.level, message: r.message }));
  }

  getRun(id: string): RunRecord | undefined {
    const row = this.db.prepare("SELECT * FROM runs WHERE id = ?").get(id) as RunRow | undefined;
    return row && toRun(row);
  }

  listRuns(opts: { pipeline?: string; limit?: number } = {}): RunRecord[] {
    const rows = opts.pipeline
      ? this.db
          .prepare("SELECT * FROM runs WHERE pipeline = ? ORDER BY started_at DESC LIMIT ?")
          .all(opts.pipeline, opts.limit ?? 100)
      : this.db.prepare("SELECT * FROM runs ORDER BY started_at DESC LIMIT ?").all(opts.limit ?? 100);
    return (rows as RunRow[]).map(toRun);
  }

  nodeRuns(runId: string): NodeRunRecord[] {
    return (
      this.db.prepare("SELECT * FROM node_runs WHERE run_id = ? ORDER BY seq").all(runId) as NodeRunRow[]
    ).map(toNodeRun);
  }

  metrics(runId: string): MetricRecord[] {
    return (
      this.db
        .prepare("SELECT run_id, node_id, name, value, step FROM metrics WHERE run_id = ? ORDER BY rowid")
        .all(runId) as {
        run_id: string;
        node_id: string;
        name: string;
        value: number;
        step: number | null;
      }[]
    ).map((r) => ({ runId: r.run_id, nodeId: r.node_id, name: r.name, value: r.value, step: r.step }));
  }

  lastCompletedNodeRun(pipeline: string, nodeId: string): NodeRunRecord | undefined {
    const row = this.db
      .prepare(
        `SELECT n.* FROM node_runs n JOIN runs r ON r.id = n.run_id
         WHERE r.pipeline = ? AND n.node_id = ? AND n.status IN ('ran', 'cached')
         ORDER BY n.seq DESC LIMIT 1`,
      )
      .get(pipeline, nodeId) as NodeRunRow | undefined;
    return row && toNodeRun(row);
  }

  close(): void {
    this.db.close();
  }
}
