import type Database from "better-sqlite3";
import { appendMetricChunks } from "./chunks";
import { keysetId } from "./rows";
import { type Sql, SqliteSql } from "./sql";

/**
 * Versioned migrations: each runs once, in order, in its own transaction, and
 * sets `user_version` to its 1-based index. Append new ones; never edit one
 * that has shipped, so every existing project database upgrades the same way.
 *
 * One numbering for both dialects: schema N is the same tables and columns on SQLite and on
 * PostgreSQL. PostgreSQL starts from a baseline (app/store/pg-schema.ts, the end state of
 * migrations 1–11) and runs the entries after it. So a new migration gives both texts,
 * `{ sqlite, postgres }`: on PostgreSQL a text column is `TEXT COLLATE "C"` (byte order, as
 * SQLite compares), an integer BIGINT, a real DOUBLE PRECISION, a blob BYTEA, and `user` is
 * quoted. A plain string is run on both and is only right when it is portable and adds no
 * text column. The schema-parity test (app/store/pg-schema.test.ts) fails when the two
 * dialects end up different.
 */
export type Migration =
  | string
  /** SQLite only: PostgreSQL refuses to run one after its baseline. */
  | ((db: Database.Database) => void)
  | { sqlite: string | ((db: Database.Database) => void); postgres: string | ((sql: Sql) => void) };

/** Applies one migration to a SQLite database (the caller owns the transaction and user_version). */
export function applySqliteMigration(db: Database.Database, m: Migration): void {
  const sqlite = typeof m === "object" ? m.sqlite : m;
  if (typeof sqlite === "string") db.exec(sqlite);
  else sqlite(db);
}

export const MIGRATIONS: Migration[] = [
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
  // Tracking: who/what/how long, resolved params, tags, notes, trials; metrics
  // that keep NaN (SQLite stores a NaN as NULL, so `value REAL NOT NULL` threw);
  // the latest value per metric kept on write so search never scans `metrics`.
  `ALTER TABLE runs ADD COLUMN pipeline_hash TEXT;
   -- The pipeline file a run used, kept once per content (runs of one version share it)
   -- and out of the runs rows, so scanning runs never reads past a large text.
   ALTER TABLE runs ADD COLUMN pipeline_text_sha TEXT REFERENCES pipeline_texts (sha256);
   CREATE TABLE pipeline_texts (sha256 TEXT PRIMARY KEY, text TEXT NOT NULL) WITHOUT ROWID;
   ALTER TABLE runs ADD COLUMN user TEXT;
   ALTER TABLE runs ADD COLUMN parent_run_id TEXT REFERENCES runs (id) ON DELETE CASCADE;
   ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'pipeline';
   ALTER TABLE runs ADD COLUMN note TEXT;
   ALTER TABLE runs ADD COLUMN duration_ms REAL;
   -- The sorted key lists of a run's params and metrics, shared between runs
   -- (runs of one pipeline have the same keys), so a search lists the keys of
   -- thousands of matching runs by reading a handful of key sets.
   ALTER TABLE runs ADD COLUMN param_keyset INTEGER;
   ALTER TABLE runs ADD COLUMN metric_keyset INTEGER;
   CREATE TABLE keysets (id INTEGER PRIMARY KEY, keys TEXT NOT NULL UNIQUE);
   UPDATE runs SET duration_ms = round((julianday(finished_at) - julianday(started_at)) * 86400000.0)
     WHERE finished_at IS NOT NULL;
   CREATE INDEX runs_parent ON runs (parent_run_id, started_at);
   CREATE INDEX runs_started ON runs (started_at);

   CREATE TABLE run_tags (
     run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
     key TEXT NOT NULL,
     value TEXT NOT NULL,
     PRIMARY KEY (run_id, key)
   ) WITHOUT ROWID;

   -- value: the JSON text; num: the value when it is a number; str: the
   -- value when it is a string, else its JSON text (what '=' and 'contains' compare).
   CREATE TABLE run_params (
     run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
     key TEXT NOT NULL,
     value TEXT NOT NULL,
     num REAL,
     str TEXT NOT NULL,
     PRIMARY KEY (run_id, key)
   ) WITHOUT ROWID;

   CREATE TABLE metrics_v3 (
     run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
     node_id TEXT NOT NULL,
     name TEXT NOT NULL,
     value REAL,
     is_nan INTEGER NOT NULL DEFAULT 0,
     step INTEGER,
     ts TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
   );
   INSERT INTO metrics_v3 (run_id, node_id, name, value, is_nan, step, ts)
     SELECT run_id, node_id, name, value, 0, step, ts FROM metrics ORDER BY rowid;
   DROP TABLE metrics;
   ALTER TABLE metrics_v3 RENAME TO metrics;
   CREATE INDEX metrics_run ON metrics (run_id, node_id, name);

   CREATE TABLE latest_metrics (
     run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
     key TEXT NOT NULL,
     value REAL,
     is_nan INTEGER NOT NULL DEFAULT 0,
     step INTEGER,
     ts TEXT NOT NULL,
     PRIMARY KEY (run_id, key)
   ) WITHOUT ROWID;
   INSERT INTO latest_metrics (run_id, key, value, is_nan, step, ts)
     SELECT run_id, key, value, is_nan, step, ts FROM (
       SELECT run_id, node_id || '.' || name AS key, value, is_nan, step, ts,
              row_number() OVER (
                PARTITION BY run_id, node_id, name
                ORDER BY coalesce(step, -9223372036854775808) DESC, rowid DESC
              ) AS k
       FROM metrics
     ) WHERE k = 1;

   -- Every metric's points again, packed per (run, key) in chunks of up to
   -- 256 [step, value] float64 pairs (a NULL step as NaN), so comparing runs
   -- reads a few blobs per curve instead of a row per point.
   CREATE TABLE metric_chunks (
     run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
     key TEXT NOT NULL,
     chunk INTEGER NOT NULL,
     n INTEGER NOT NULL,
     points BLOB NOT NULL,
     PRIMARY KEY (run_id, key, chunk)
   ) WITHOUT ROWID;

   ALTER TABLE node_runs ADD COLUMN inputs TEXT NOT NULL DEFAULT '{}';
   CREATE INDEX node_runs_cache ON node_runs (cache_key, seq);

   CREATE TABLE artifacts (
     run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
     node_id TEXT NOT NULL,
     name TEXT NOT NULL,
     kind TEXT NOT NULL,
     path TEXT NOT NULL,
     bytes INTEGER NOT NULL,
     sha256 TEXT NOT NULL,
     PRIMARY KEY (run_id, node_id, name)
   ) WITHOUT ROWID;

   CREATE TABLE datasets (
     digest TEXT PRIMARY KEY,
     source TEXT NOT NULL,
     schema TEXT NOT NULL,
     rows INTEGER NOT NULL,
     fingerprint TEXT NOT NULL,
     first_seen TEXT NOT NULL
   ) WITHOUT ROWID;
   CREATE TABLE run_datasets (
     run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
     node_id TEXT NOT NULL,
     digest TEXT NOT NULL REFERENCES datasets (digest),
     PRIMARY KEY (run_id, node_id, digest)
   ) WITHOUT ROWID;
   CREATE INDEX run_datasets_digest ON run_datasets (digest);`,
  // Key sets and packed points for the metrics migration 3 carried over.
  (db) => {
    const sql = new SqliteSql(db);
    for (const id of sql.column<string>("SELECT DISTINCT run_id FROM latest_metrics")) {
      const keys = sql.column<string>("SELECT key FROM latest_metrics WHERE run_id = ? ORDER BY key", id);
      sql.run("UPDATE runs SET metric_keyset = ? WHERE id = ?", keysetId(sql, keys), id);
    }
    const points = sql.rows(
      "SELECT run_id, node_id || '.' || name, step, value, is_nan FROM metrics ORDER BY rowid",
    ) as [string, string, number | null, number | null, number][];
    appendMetricChunks(
      sql,
      points.map(([runId, key, step, value, isNan]) => ({
        runId,
        key,
        step,
        value: isNan ? Number.NaN : (value ?? Number.NaN),
      })),
    );
  },
  // The model registry. The audit log is append-only: triggers refuse any change to a row.
  `CREATE TABLE models (
     name TEXT PRIMARY KEY,
     description TEXT NOT NULL DEFAULT '',
     owner TEXT,
     tags TEXT NOT NULL DEFAULT '{}',
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL
   );
   CREATE TABLE model_versions (
     name TEXT NOT NULL REFERENCES models (name),
     version INTEGER NOT NULL,
     status TEXT NOT NULL,
     description TEXT NOT NULL DEFAULT '',
     created_at TEXT NOT NULL,
     created_by TEXT,
     run_id TEXT NOT NULL,
     node_id TEXT NOT NULL,
     model_fingerprint TEXT NOT NULL,
     estimator TEXT NOT NULL,
     task TEXT NOT NULL,
     signature TEXT NOT NULL,
     metrics TEXT NOT NULL,
     parity TEXT,
     native_path TEXT NOT NULL,
     onnx_path TEXT NOT NULL,
     lineage TEXT NOT NULL,
     PRIMARY KEY (name, version)
   );
   CREATE INDEX model_versions_fingerprint ON model_versions (name, model_fingerprint);
   CREATE TABLE model_aliases (
     name TEXT NOT NULL REFERENCES models (name),
     alias TEXT NOT NULL,
     version INTEGER NOT NULL,
     PRIMARY KEY (name, alias),
     FOREIGN KEY (name, version) REFERENCES model_versions (name, version)
   );
   CREATE TABLE audit (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     at TEXT NOT NULL,
     actor TEXT,
     action TEXT NOT NULL,
     model TEXT NOT NULL,
     version INTEGER,
     details TEXT NOT NULL
   );
   CREATE INDEX audit_model ON audit (model, id);
   CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
     BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
   CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
     BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;`,
  // Held-out rows kept with a version, for deploy parity (app/deploy/heldout.ts).
  "ALTER TABLE model_versions ADD COLUMN heldout_path TEXT;",
  // The process running a run (app/store/liveness.ts ProcessOwner, as JSON), so a reader can tell a
  // run whose process was killed; runs from before have none and wait for markInterruptedRuns.
  `ALTER TABLE runs ADD COLUMN owner TEXT;
   CREATE INDEX runs_running ON runs (status) WHERE status = 'running';`,
  // Data artifacts: each suite run on a dataset a run read (ingest.file with a suite attached in
  // dagwood.json), and the governance fields of registered models.
  `CREATE TABLE dataset_tests (
     run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
     node_id TEXT NOT NULL,
     digest TEXT NOT NULL,
     source TEXT NOT NULL,
     suite TEXT NOT NULL,
     success INTEGER NOT NULL,
     evaluated INTEGER NOT NULL,
     successful INTEGER NOT NULL,
     at TEXT NOT NULL,
     report TEXT NOT NULL,
     PRIMARY KEY (run_id, node_id, suite)
   ) WITHOUT ROWID;
   CREATE INDEX dataset_tests_digest ON dataset_tests (digest, at);
   ALTER TABLE models ADD COLUMN purpose TEXT;
   ALTER TABLE models ADD COLUMN review_by TEXT;
   ALTER TABLE models ADD COLUMN deprecated TEXT;`,
  // The retraining loop's records (app/store/loops.ts): one per breached window of a monitor. The
  // record is JSON (app/values/loop.ts MonitorLoop); stage and status are columns for the
  // compare-and-set and the queries; claim is the process taking an external step (a run).
  `CREATE TABLE monitor_loops (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     monitor TEXT NOT NULL,
     model TEXT NOT NULL,
     target TEXT NOT NULL,
     window_start TEXT NOT NULL,
     stage TEXT NOT NULL,
     status TEXT NOT NULL,
     record TEXT NOT NULL,
     claim TEXT,
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL,
     UNIQUE (monitor, window_start)
   );
   CREATE INDEX monitor_loops_model ON monitor_loops (model, id);
   CREATE INDEX monitor_loops_status ON monitor_loops (status, id);`,
  // Feature views' versions (app/store/feature-versions.ts): one row each time
  // `dagwood features apply` finds a view's definition changed.
  `CREATE TABLE feature_view_versions (
     view TEXT NOT NULL,
     version INTEGER NOT NULL,
     digest TEXT NOT NULL,
     definition TEXT NOT NULL,
     file TEXT NOT NULL,
     applied_at TEXT NOT NULL,
     PRIMARY KEY (view, version)
   ) WITHOUT ROWID;`,
  // The feature service a model version was registered with (null: none; versions from before).
  "ALTER TABLE model_versions ADD COLUMN feature_service TEXT;",
  // The machine a run ran on, so a shared (team) store can show and filter whose run is whose;
  // runs from before are filled from their owner record where they have one.
  {
    sqlite: `ALTER TABLE runs ADD COLUMN host TEXT;
      UPDATE runs SET host = json_extract(owner, '$.host') WHERE owner IS NOT NULL AND json_valid(owner);
      CREATE INDEX runs_user_host ON runs (user, host);`,
    postgres: `ALTER TABLE runs ADD COLUMN host TEXT COLLATE "C";
      UPDATE runs SET host = owner::jsonb ->> 'host' WHERE owner IS NOT NULL;
      CREATE INDEX runs_user_host ON runs ("user", host);`,
  },
  // A version's files in the shared artifact location (JSON: location, and per file its content key,
  // sha256 and size; app/artifacts/version-files.ts); null when only the registering machine has them.
  {
    sqlite: "ALTER TABLE model_versions ADD COLUMN artifacts TEXT;",
    postgres: 'ALTER TABLE model_versions ADD COLUMN artifacts TEXT COLLATE "C";',
  },
  // A binary classifier's decision rule as evaluated (ModelVersion.decision): the threshold on the
  // positive class's probability, and that class as text; null for versions registered without one.
  {
    sqlite: `ALTER TABLE model_versions ADD COLUMN decision_threshold REAL;
      ALTER TABLE model_versions ADD COLUMN decision_positive_class TEXT;`,
    postgres: `ALTER TABLE model_versions ADD COLUMN decision_threshold DOUBLE PRECISION;
      ALTER TABLE model_versions ADD COLUMN decision_positive_class TEXT COLLATE "C";`,
  },
  // What a node read from a database, per run (DatasetRecord.database: connection, table or query,
  // the incremental cursor range, rows read); null for file reads and for cached nodes.
  {
    sqlite: "ALTER TABLE run_datasets ADD COLUMN read TEXT;",
    postgres: 'ALTER TABLE run_datasets ADD COLUMN read TEXT COLLATE "C";',
  },
];
