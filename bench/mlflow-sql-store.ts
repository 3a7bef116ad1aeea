/**
 * The baseline for bench/tracking.ts: what MLflow's SQL tracking store
 * (`SqlAlchemyStore`, mlflow/mlflow, mlflow/store/tracking/sqlalchemy_store.py)
 * does on SQLite, statement for statement, in better-sqlite3 — the same SQLite
 * engine Dagwood's store runs on.
 *
 * Schema: mlflow/store/tracking/dbmodels/models.py (SqlExperiment, SqlRun,
 * SqlTag, SqlParam, SqlMetric, SqlLatestMetric) with their primary keys and
 * indexes, including `latest_metrics` (migration 89d4b8295536, 2019: the
 * latest value per run and key, which search and sort read) and the
 * (run_uuid, key, step) index on metrics (migration a5b4c3d2e1f0).
 *
 * Writes: `log_batch` → `_log_metrics` → `_update_latest_metrics_if_necessary`;
 * `log_metric` → `_log_metrics` with one metric. Each `ManagedSessionMaker`
 * session on SQLite first runs `PRAGMA foreign_keys = ON`, `busy_timeout`,
 * `case_sensitive_like` (mlflow/store/db/utils.py, `_get_managed_session_maker`),
 * then loads the run to check it is active. A batch holds at most 1,000 metrics
 * (`MAX_METRICS_PER_BATCH`, mlflow/utils/validation.py).
 *
 * Reads: `search_runs` joins one filtered subquery of `params`/`latest_metrics`
 * per condition, outer-joins `latest_metrics` for the sort key, orders by
 * (is_nan/missing, value, start_time DESC, run_uuid), then loads each returned
 * run's latest metrics, params and tags with one `IN` query each
 * (`selectinload`, `_get_eager_run_query_options`); `get_run` does the same for
 * one run; `get_metric_history_bulk` reads one key's points of many runs.
 *
 * Left out, so this is a lower bound on MLflow's own time: Python, SQLAlchemy's
 * ORM and unit-of-work bookkeeping, input validation, the dataset-inputs query
 * of search_runs/get_run (this bench logs no datasets). The journal settings
 * are Dagwood's (WAL, synchronous NORMAL); MLflow keeps SQLite's defaults
 * (rollback journal, synchronous FULL), which make every commit slower.
 */
import Database from "better-sqlite3";

export const MAX_METRICS_PER_BATCH = 1000;

const SCHEMA = `
  CREATE TABLE experiments (
    experiment_id INTEGER NOT NULL, name VARCHAR(256) NOT NULL, artifact_location VARCHAR(256),
    lifecycle_stage VARCHAR(32), creation_time BIGINT, last_update_time BIGINT,
    CONSTRAINT experiment_pk PRIMARY KEY (experiment_id), UNIQUE (name),
    CONSTRAINT experiments_lifecycle_stage CHECK (lifecycle_stage IN ('active', 'deleted')));
  CREATE TABLE experiment_tags (
    key VARCHAR(250) NOT NULL, value VARCHAR(5000), experiment_id INTEGER NOT NULL,
    CONSTRAINT experiment_tag_pk PRIMARY KEY (key, experiment_id),
    FOREIGN KEY (experiment_id) REFERENCES experiments (experiment_id));
  CREATE TABLE runs (
    run_uuid VARCHAR(32) NOT NULL, name VARCHAR(250), source_type VARCHAR(20), source_name VARCHAR(500),
    entry_point_name VARCHAR(50), user_id VARCHAR(256), status VARCHAR(9), start_time BIGINT, end_time BIGINT,
    deleted_time BIGINT, source_version VARCHAR(50), lifecycle_stage VARCHAR(20), artifact_uri VARCHAR(200),
    experiment_id INTEGER,
    CONSTRAINT run_pk PRIMARY KEY (run_uuid),
    CONSTRAINT source_type CHECK (source_type IN ('NOTEBOOK', 'JOB', 'LOCAL', 'UNKNOWN', 'PROJECT')),
    CONSTRAINT status CHECK (status IN ('SCHEDULED', 'FAILED', 'FINISHED', 'RUNNING', 'KILLED')),
    CONSTRAINT runs_lifecycle_stage CHECK (lifecycle_stage IN ('active', 'deleted')),
    FOREIGN KEY (experiment_id) REFERENCES experiments (experiment_id));
  CREATE TABLE tags (
    key VARCHAR(250) NOT NULL, value VARCHAR(5000), run_uuid VARCHAR(32) NOT NULL,
    CONSTRAINT tag_pk PRIMARY KEY (key, run_uuid), FOREIGN KEY (run_uuid) REFERENCES runs (run_uuid));
  CREATE INDEX index_tags_run_uuid ON tags (run_uuid);
  CREATE TABLE params (
    key VARCHAR(250) NOT NULL, value VARCHAR(8000) NOT NULL, run_uuid VARCHAR(32) NOT NULL,
    CONSTRAINT param_pk PRIMARY KEY (key, run_uuid), FOREIGN KEY (run_uuid) REFERENCES runs (run_uuid));
  CREATE INDEX index_params_run_uuid ON params (run_uuid);
  CREATE TABLE metrics (
    key VARCHAR(250) NOT NULL, value FLOAT NOT NULL, timestamp BIGINT NOT NULL, run_uuid VARCHAR(32) NOT NULL,
    step BIGINT DEFAULT '0' NOT NULL, is_nan BOOLEAN DEFAULT '0' NOT NULL,
    CONSTRAINT metric_pk PRIMARY KEY (key, timestamp, step, run_uuid, value, is_nan),
    CHECK (is_nan IN (0, 1)), FOREIGN KEY (run_uuid) REFERENCES runs (run_uuid));
  CREATE INDEX index_metrics_run_uuid ON metrics (run_uuid);
  CREATE INDEX index_metrics_run_uuid_key_step ON metrics (run_uuid, key, step);
  CREATE TABLE latest_metrics (
    key VARCHAR(250) NOT NULL, value FLOAT NOT NULL, timestamp BIGINT, step BIGINT NOT NULL,
    is_nan BOOLEAN NOT NULL, run_uuid VARCHAR(32) NOT NULL,
    CONSTRAINT latest_metric_pk PRIMARY KEY (key, run_uuid),
    CHECK (is_nan IN (0, 1)), FOREIGN KEY (run_uuid) REFERENCES runs (run_uuid));
  CREATE INDEX index_latest_metrics_run_uuid ON latest_metrics (run_uuid);
`;

export interface MlflowMetric {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}

interface LatestRow {
  key: string;
  value: number;
  timestamp: number;
  step: number;
  is_nan: number;
  run_uuid: string;
}

export interface SearchQuery {
  experimentName: string;
  /** MLflow compares params as strings (=, !=, LIKE); the bench's numeric condition casts the text. */
  param: { key: string; gt: number };
  metric: { key: string; gt: number };
  /** Sorted by this metric, descending. */
  sortMetric: string;
  limit: number;
}

const placeholders = (n: number) => Array(n).fill("?").join(", ");

/** `(step, timestamp, value)` of a strictly more recent than b's, as `_compare_metrics`. */
function moreRecent(a: MlflowMetric, b: MlflowMetric): boolean {
  if (a.step !== b.step) return a.step > b.step;
  if (a.timestamp !== b.timestamp) return a.timestamp > b.timestamp;
  return a.value > b.value;
}

export class MlflowSqlStore {
  readonly db: Database.Database;
  private readonly cache = new Map<string, Database.Statement>();

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.exec(SCHEMA);
  }

  /** A prepared statement per SQL text, as pysqlite's statement cache keeps them. */
  private stmt(sql: string): Database.Statement {
    let s = this.cache.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.cache.set(sql, s);
    }
    return s;
  }

  /** What every ManagedSessionMaker session runs first on SQLite. */
  private session(): void {
    this.stmt("PRAGMA foreign_keys = ON").run();
    this.stmt("PRAGMA busy_timeout = 20000").run();
    this.stmt("PRAGMA case_sensitive_like = true").run();
  }

  /** `_get_run` + `_check_run_is_active`. */
  private activeRun(runId: string): void {
    const run = this.stmt("SELECT * FROM runs WHERE runs.run_uuid = ?").get(runId) as
      | { lifecycle_stage: string }
      | undefined;
    if (!run) throw new Error(`Run with id=${runId} not found`);
    if (run.lifecycle_stage !== "active") throw new Error(`The run ${runId} must be in the 'active' state`);
  }

  createExperiment(id: number, name: string, now: number): void {
    this.stmt(
      "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES (?, ?, ?, 'active', ?, ?)",
    ).run(id, name, `mlruns/${id}`, now, now);
  }

  /** `create_run`: the experiment must be active; the run starts RUNNING. */
  createRun(runId: string, experimentId: number, startTime: number, user: string): void {
    this.session();
    const exp = this.stmt("SELECT * FROM experiments WHERE experiment_id = ?").get(experimentId) as
      | { lifecycle_stage: string }
      | undefined;
    if (exp?.lifecycle_stage !== "active") throw new Error(`experiment ${experimentId} is not active`);
    this.db.transaction(() => {
      this.stmt(
        `INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time,
           end_time, source_version, lifecycle_stage, artifact_uri, experiment_id)
         VALUES (?, ?, 'UNKNOWN', '', '', ?, 'RUNNING', ?, NULL, '', 'active', ?, ?)`,
      ).run(runId, runId, user, startTime, `mlruns/${experimentId}/${runId}/artifacts`, experimentId);
      this.stmt("INSERT INTO tags (key, value, run_uuid) VALUES ('mlflow.runName', ?, ?)").run(runId, runId);
      this.stmt("INSERT INTO tags (key, value, run_uuid) VALUES ('mlflow.user', ?, ?)").run(user, runId);
    })();
  }

  /** `update_run_info` to FINISHED. */
  finishRun(runId: string, endTime: number): void {
    this.stmt("UPDATE runs SET status = 'FINISHED', end_time = ? WHERE run_uuid = ?").run(endTime, runId);
  }

  /** `_log_params`: new rows only (a run's params are written once). */
  logParams(runId: string, params: [string, string][]): void {
    const insert = this.stmt("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)");
    this.db.transaction(() => {
      for (const [k, v] of params) insert.run(k, v, runId);
    })();
  }

  /** `log_batch(run_id, metrics, [], [])`; at most MAX_METRICS_PER_BATCH metrics, as MLflow validates. */
  logBatch(runId: string, metrics: MlflowMetric[]): void {
    if (metrics.length > MAX_METRICS_PER_BATCH) {
      throw new Error(`A batch logging request can contain at most ${MAX_METRICS_PER_BATCH} metrics`);
    }
    this.session();
    this.activeRun(runId);
    // _log_params([]) and _set_tags([]) return at once; _log_metrics and _log_model_metrics open sessions.
    this.logMetrics(runId, metrics);
    this.session(); // _log_model_metrics: no metric has a model id, an empty session commits.
  }

  /** `log_metric(run_id, metric)`: `_log_metrics` with one metric, then `_log_model_metrics`. */
  logMetric(runId: string, metric: MlflowMetric): void {
    this.logMetrics(runId, [metric]);
    this.session();
  }

  /** `_log_metrics`: drop duplicates, insert, keep `latest_metrics` current, commit — one transaction. */
  private logMetrics(runId: string, metrics: MlflowMetric[]): void {
    const seen = new Set<string>();
    const rows: MlflowMetric[] = [];
    for (const m of metrics) {
      const id = `${m.key}\u0000${m.value}\u0000${m.timestamp}\u0000${m.step}`;
      if (!seen.has(id)) rows.push(m);
      seen.add(id);
    }
    this.session();
    this.activeRun(runId);
    const insert = this.stmt(
      "INSERT INTO metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, ?, ?)",
    );
    this.db.transaction(() => {
      // session.add_all, flushed (one INSERT per row, executemany) before the first query below.
      for (const m of rows) {
        const isNan = Number.isNaN(m.value);
        insert.run(m.key, isNan ? 0 : m.value, m.timestamp, m.step, isNan ? 1 : 0, runId);
      }
      this.updateLatestMetrics(runId, rows);
    })();
  }

  /** `_update_latest_metrics_if_necessary`. */
  private updateLatestMetrics(runId: string, logged: MlflowMetric[]): void {
    if (logged.length === 0) return;
    const latest = new Map<string, LatestRow>();
    // Keys in batches of 500, duplicates included, as MLflow binds them.
    const keys = logged.map((m) => m.key);
    for (let i = 0; i < keys.length; i += 500) {
      const batch = keys.slice(i, i + 500);
      const present = this.stmt(
        `SELECT latest_metrics.key FROM latest_metrics WHERE latest_metrics.run_uuid = ? AND latest_metrics.key IN (${placeholders(batch.length)})`,
      )
        .pluck()
        .all(runId, ...batch) as string[];
      if (present.length > 0) {
        // SELECT … FOR UPDATE: SQLite has no row locks; the write transaction already excludes others.
        const found = this.stmt(
          `SELECT * FROM latest_metrics WHERE latest_metrics.run_uuid = ? AND latest_metrics.key IN (${placeholders(present.length)}) ORDER BY latest_metrics.run_uuid, latest_metrics.key`,
        ).all(runId, ...present) as LatestRow[];
        for (const r of found) latest.set(r.key, r);
      }
    }
    const created = new Map<string, MlflowMetric>();
    const updated = new Set<LatestRow>();
    for (const m of logged) {
      const row = latest.get(m.key);
      const fresh = created.get(m.key);
      if (!row && !fresh) created.set(m.key, { ...m });
      else if (!row && fresh) {
        if (moreRecent(m, fresh)) created.set(m.key, { ...m });
      } else if (row && moreRecent(m, row)) {
        Object.assign(row, { value: m.value, step: m.step, timestamp: m.timestamp, is_nan: 0 });
        updated.add(row);
      }
    }
    const update = this.stmt(
      "UPDATE latest_metrics SET value = ?, timestamp = ?, step = ?, is_nan = ? WHERE latest_metrics.key = ? AND latest_metrics.run_uuid = ?",
    );
    for (const r of updated) update.run(r.value, r.timestamp, r.step, r.is_nan, r.key, r.run_uuid);
    const insert = this.stmt(
      "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, ?, ?)",
    );
    for (const m of created.values()) {
      const isNan = Number.isNaN(m.value);
      insert.run(m.key, isNan ? 0 : m.value, m.timestamp, m.step, isNan ? 1 : 0, runId);
    }
  }

  /** A run's latest metrics, params and tags: the three `selectinload` queries for `ids`. */
  private runData(ids: string[]) {
    const ph = placeholders(ids.length);
    return {
      latest: this.stmt(`SELECT * FROM latest_metrics WHERE latest_metrics.run_uuid IN (${ph})`).all(...ids),
      params: this.stmt(`SELECT * FROM params WHERE params.run_uuid IN (${ph})`).all(...ids),
      tags: this.stmt(`SELECT * FROM tags WHERE tags.run_uuid IN (${ph})`).all(...ids),
    };
  }

  /**
   * `get_experiment_by_name`, then `search_runs([id], filter, max_results, order_by)`. MLflow returns a
   * page and no count; the bench's question includes how many runs match, so the same joins are
   * counted once more.
   */
  searchRuns(q: SearchQuery): { runIds: string[]; total: number } {
    this.session();
    const exp = this.stmt(
      "SELECT * FROM experiments WHERE experiments.name = ? AND experiments.lifecycle_stage IN ('active', 'deleted')",
    ).get(q.experimentName) as { experiment_id: number } | undefined;
    if (!exp) return { runIds: [], total: 0 };
    this.stmt("SELECT * FROM experiment_tags WHERE experiment_tags.experiment_id IN (?)").all(
      exp.experiment_id,
    );
    this.session();
    // The filters as SQLAlchemy emits them: one inner-joined subquery per condition.
    const filtered = `FROM runs
      JOIN (SELECT * FROM params WHERE params.key = @pk AND CAST(params.value AS REAL) > @pv) AS anon_1
        ON runs.run_uuid = anon_1.run_uuid
      JOIN (SELECT * FROM latest_metrics WHERE latest_metrics.key = @mk AND latest_metrics.value > @mv) AS anon_2
        ON runs.run_uuid = anon_2.run_uuid`;
    const where = "WHERE runs.experiment_id IN (@exp) AND runs.lifecycle_stage IN ('active')";
    const binds = {
      pk: q.param.key,
      pv: q.param.gt,
      mk: q.metric.key,
      mv: q.metric.gt,
      exp: exp.experiment_id,
    };
    // The sort key's outer join. SQLAlchemy emits it as a subquery too (`LEFT OUTER JOIN (SELECT … FROM
    // latest_metrics WHERE key = ?) AS anon_3`); SQLite 3.40 (Debian's Python) gives that subquery an
    // automatic index, but 3.53 (better-sqlite3's) scans it once per row, ~20× slower here. Joining the
    // table with the key in the ON clause returns the same rows with the plan MLflow gets on 3.40.
    const page = this.stmt(
      `SELECT DISTINCT runs.*,
         CASE WHEN (anon_3.is_nan = 1) THEN 1 WHEN (anon_3.value IS NULL) THEN 2 ELSE 0 END AS clause_1,
         anon_3.value AS sort_value
       ${filtered}
       LEFT OUTER JOIN latest_metrics AS anon_3 ON runs.run_uuid = anon_3.run_uuid AND anon_3.key = @sk
       ${where}
       ORDER BY clause_1, sort_value DESC, runs.start_time DESC, runs.run_uuid
       LIMIT @limit OFFSET 0`,
    ).all({ ...binds, sk: q.sortMetric, limit: q.limit }) as { run_uuid: string }[];
    const runIds = page.map((r) => r.run_uuid);
    if (runIds.length > 0) this.runData(runIds);
    const total = this.stmt(`SELECT count(DISTINCT runs.run_uuid) ${filtered} ${where}`)
      .pluck()
      .get(binds) as number;
    return { runIds, total };
  }

  /**
   * The compare view, done the cheapest way MLflow's store allows: `get_run` for each run (its params
   * and latest metrics), then for each key that some run logged past step 0 (a curve, as its
   * latest_metrics row shows) one `get_metric_history_bulk` over all the runs, without the REST
   * handler's cap on points. Per-(run, key) `get_metric_history` would be far slower on SQLite: the
   * planner takes the covering primary-key index on `key` and reads that key's points of every run
   * (EXPLAIN QUERY PLAN, SQLite 3.40 and 3.53; MLflow runs no ANALYZE).
   */
  compare(ids: string[]): number {
    const curveKeys = new Set<string>();
    for (const id of ids) {
      this.session();
      this.stmt("SELECT * FROM runs WHERE runs.run_uuid = ?").get(id);
      const { latest } = this.runData([id]) as { latest: LatestRow[] };
      for (const m of latest) if (m.step > 0) curveKeys.add(m.key);
    }
    let points = 0;
    for (const key of [...curveKeys].sort()) {
      this.session();
      const history = this.stmt(
        `SELECT * FROM metrics WHERE metrics.key = ? AND metrics.run_uuid IN (${placeholders(ids.length)})
         ORDER BY metrics.run_uuid, metrics.timestamp, metrics.step, metrics.value`,
      ).all(key, ...ids);
      points += history.length;
    }
    return points;
  }

  /** Every latest_metrics row of a run, for the bench's checks. */
  latestOf(runId: string): Map<string, { value: number; step: number }> {
    const rows = this.db
      .prepare("SELECT key, value, step FROM latest_metrics WHERE run_uuid = ?")
      .all(runId) as { key: string; value: number; step: number }[];
    return new Map(rows.map((r) => [r.key, { value: r.value, step: r.step }]));
  }

  close(): void {
    this.db.close();
  }
}
