// Experiment tracking at scale: 10,000 runs × 50 params × 20 metrics, with
// 1,000-step training curves (two per run) on 100 of them. Times a filtered,
// sorted search, a 100-run comparison and logging 10,000 metric points (in one
// batch, and one by one through the MetricWriter a run logs with), in
// Dagwood's store and in an MLflow-style baseline written here: MLflow's
// SQL-store table shapes (params/metrics as key-value rows, no latest-value
// table), one row per INSERT, each INSERT its own autocommit transaction,
// and search as subqueries over the raw metrics table.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { type MetricRecord, SqliteMetadataStore } from "../app/store/metadata";
import { MetricWriter } from "../app/store/metric-writer";

const RUNS = Number(process.env.BENCH_TRACKING_RUNS ?? 10_000);
const PARAMS = 50;
const METRICS = 20;
const CURVE_RUNS = 100;
const CURVE_STEPS = 1000;
const CURVES = ["train.loss", "train.val_loss"];
const PIPELINES = 5;
const LOG_POINTS = 10_000;
const GOALS = { search: 50, compare: 200, log: 100, logOneByOne: 100 };

/** A small deterministic PRNG, so both stores hold the same numbers. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const runId = (i: number) => `run-${String(i).padStart(5, "0")}`;
const pipelineOf = (i: number) => `pipeline-${i % PIPELINES}`;
/** 10 nodes × 5 params; every fifth param is text. */
const paramKey = (k: number) => `n${Math.floor(k / 5)}.p${k % 5}`;
const metricKey = (k: number) => `eval.m${k}`;
/** A pipeline file of a realistic size (~4 KB), one per pipeline. */
const pipelineTextOf = (i: number) =>
  `${JSON.stringify(
    {
      format: "dagwood.pipeline/1",
      name: pipelineOf(i),
      nodes: Array.from({ length: 10 }, (_, n) => ({
        id: `n${n}`,
        block: "train.gbdt",
        params: Object.fromEntries(Array.from({ length: 5 }, (_, k) => [`p${k}`, "${seed}"])),
      })),
      edges: Array.from({ length: 9 }, (_, n) => ({ from: `n${n}.out`, to: `n${n + 1}.in` })),
      layout: Object.fromEntries(Array.from({ length: 10 }, (_, n) => [`n${n}`, { x: n * 240, y: 0 }])),
    },
    null,
    2,
  )}\n`;
const pipelineTexts = Array.from({ length: PIPELINES }, (_, p) => pipelineTextOf(p));
const startedAt = (i: number) => new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString();

function paramsOf(i: number): Record<string, unknown> {
  const rnd = mulberry32(i + 1);
  const out: Record<string, unknown> = {};
  for (let k = 0; k < PARAMS; k++) out[paramKey(k)] = k % 5 === 4 ? `choice-${Math.floor(rnd() * 4)}` : rnd();
  return out;
}
function metricsOf(i: number): number[] {
  const rnd = mulberry32(1_000_000 + i);
  return Array.from({ length: METRICS }, () => rnd());
}
const curveValue = (i: number, c: number, step: number) => (1 + c) / (1 + step / 50) + (i % 7) * 1e-3;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
function time(reps: number, fn: (rep: number) => void): number {
  fn(-1); // warm-up: statement preparation and page cache, as in a running app
  const ms: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    fn(r);
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

// The search both stores answer: one pipeline, one param condition, one metric condition, sorted by a metric.
const SEARCH = {
  pipeline: pipelineOf(2),
  param: { key: paramKey(6), gt: 0.5 },
  metric: { key: metricKey(4), gt: 0.3 },
  sort: metricKey(7),
  limit: 50,
};
const curveRunIds = Array.from({ length: CURVE_RUNS }, (_, c) => runId(Math.floor((c * RUNS) / CURVE_RUNS)));

// ---------------------------------------------------------------- Dagwood

function buildOurs(dir: string): SqliteMetadataStore {
  mkdirSync(join(dir, ".dagwood"), { recursive: true });
  const store = new SqliteMetadataStore(join(dir, ".dagwood", "metadata.sqlite"), { projectDir: dir });
  let batch: MetricRecord[] = [];
  for (let i = 0; i < RUNS; i++) {
    store.startRun({
      id: runId(i),
      pipeline: pipelineOf(i),
      pipelinePath: `${pipelineOf(i)}.dag.json`,
      pipelineHash: null,
      pipelineText: pipelineTexts[i % PIPELINES]!,
      params: {},
      resolvedParams: paramsOf(i),
      startedAt: startedAt(i),
      environment: {},
      user: "bench",
    });
    metricsOf(i).forEach((value, k) => {
      batch.push({ runId: runId(i), nodeId: "eval", name: `m${k}`, value, step: null });
    });
    if (batch.length >= 20_000) {
      store.logMetrics(batch);
      batch = [];
    }
  }
  store.logMetrics(batch);
  for (const id of curveRunIds) {
    const i = Number(id.slice(4));
    const points: MetricRecord[] = [];
    CURVES.forEach((key, c) => {
      for (let step = 0; step < CURVE_STEPS; step++) {
        points.push({
          runId: id,
          nodeId: "train",
          name: key.split(".")[1]!,
          value: curveValue(i, c, step),
          step,
        });
      }
    });
    store.logMetrics(points);
  }
  for (let i = 0; i < RUNS; i++) store.finishRun(runId(i), "succeeded");
  return store;
}

function oursSearch(store: SqliteMetadataStore) {
  return store.searchRuns({
    pipeline: SEARCH.pipeline,
    where: [
      { field: "param", key: SEARCH.param.key, op: ">", value: SEARCH.param.gt },
      { field: "metric", key: SEARCH.metric.key, op: ">", value: SEARCH.metric.gt },
    ],
    orderBy: { field: "metric", key: SEARCH.sort, desc: true },
    limit: SEARCH.limit,
    paramKeys: [SEARCH.param.key],
  });
}

// ---------------------------------------------------------------- MLflow-style baseline

const BASELINE_SCHEMA = `
  CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL);
  CREATE TABLE runs (
    run_uuid TEXT PRIMARY KEY, name TEXT, experiment_id INTEGER REFERENCES experiments,
    user_id TEXT, status TEXT, start_time INTEGER, end_time INTEGER, lifecycle_stage TEXT
  );
  CREATE TABLE params (key TEXT NOT NULL, value TEXT NOT NULL, run_uuid TEXT NOT NULL REFERENCES runs,
    PRIMARY KEY (key, run_uuid));
  CREATE TABLE tags (key TEXT NOT NULL, value TEXT, run_uuid TEXT NOT NULL REFERENCES runs,
    PRIMARY KEY (key, run_uuid));
  CREATE TABLE metrics (key TEXT NOT NULL, value REAL NOT NULL, timestamp INTEGER NOT NULL,
    run_uuid TEXT NOT NULL REFERENCES runs, step INTEGER NOT NULL DEFAULT 0, is_nan INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key, timestamp, step, run_uuid, value, is_nan));
  CREATE INDEX index_metrics_run_uuid ON metrics (run_uuid);
  CREATE INDEX index_params_run_uuid ON params (run_uuid);
`;

function buildBaseline(path: string): Database.Database {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.exec(BASELINE_SCHEMA);
  const ts = Date.UTC(2026, 0, 1);
  // Built in one transaction (only logging is timed one row per insert).
  db.transaction(() => {
    for (let e = 0; e < PIPELINES; e++) {
      db.prepare("INSERT INTO experiments VALUES (?, ?)").run(e, pipelineOf(e));
    }
    const run = db.prepare("INSERT INTO runs VALUES (?, ?, ?, 'bench', 'FINISHED', ?, ?, 'active')");
    const param = db.prepare("INSERT INTO params VALUES (?, ?, ?)");
    const metric = db.prepare("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, 0)");
    for (let i = 0; i < RUNS; i++) {
      run.run(runId(i), runId(i), i % PIPELINES, ts + i, ts + i + 1);
      for (const [k, v] of Object.entries(paramsOf(i))) param.run(k, String(v), runId(i));
      metricsOf(i).forEach((v, k) => {
        metric.run(metricKey(k), v, ts + i, runId(i), 0);
      });
    }
    for (const id of curveRunIds) {
      const i = Number(id.slice(4));
      CURVES.forEach((key, c) => {
        for (let step = 0; step < CURVE_STEPS; step++)
          metric.run(key, curveValue(i, c, step), ts + step, id, step);
      });
    }
  })();
  db.exec("ANALYZE");
  return db;
}

const LATEST = (run: string, key: string) =>
  `(SELECT value FROM metrics m WHERE m.run_uuid = ${run} AND m.key = ${key} ORDER BY m.step DESC, m.timestamp DESC LIMIT 1)`;

function baselineSearch(db: Database.Database) {
  const where = `r.experiment_id = (SELECT experiment_id FROM experiments WHERE name = @pipeline)
    AND EXISTS (SELECT 1 FROM params p WHERE p.run_uuid = r.run_uuid AND p.key = @pk AND CAST(p.value AS REAL) > @pv)
    AND ${LATEST("r.run_uuid", "@mk")} > @mv`;
  const args = {
    pipeline: SEARCH.pipeline,
    pk: SEARCH.param.key,
    pv: SEARCH.param.gt,
    mk: SEARCH.metric.key,
    mv: SEARCH.metric.gt,
  };
  const total = db.prepare(`SELECT count(*) FROM runs r WHERE ${where}`).pluck().get(args) as number;
  const page = db
    .prepare(
      `SELECT r.*, ${LATEST("r.run_uuid", "@sk")} AS s FROM runs r WHERE ${where}
       ORDER BY s IS NULL, s DESC LIMIT @limit`,
    )
    .all({ ...args, sk: SEARCH.sort, limit: SEARCH.limit }) as { run_uuid: string }[];
  // Each returned run carries its params and latest metrics, as MLflow's search_runs does.
  const params = db.prepare("SELECT key, value FROM params WHERE run_uuid = ?");
  const latest = db.prepare(
    `SELECT key, value FROM metrics m WHERE run_uuid = ? AND step = (
       SELECT max(step) FROM metrics WHERE run_uuid = m.run_uuid AND key = m.key)`,
  );
  const runs = page.map((r) => ({ ...r, params: params.all(r.run_uuid), metrics: latest.all(r.run_uuid) }));
  return { runs, total };
}

function baselineCompare(db: Database.Database, ids: string[]) {
  const params = db.prepare("SELECT key, value FROM params WHERE run_uuid = ?");
  const keys = db.prepare("SELECT DISTINCT key FROM metrics WHERE run_uuid = ?").pluck();
  const history = db.prepare(
    "SELECT step, value, timestamp FROM metrics WHERE run_uuid = ? AND key = ? ORDER BY step",
  );
  // MLflow's compare view: each run's params, then the metric history of each (run, key).
  return ids.map((id) => ({
    params: params.all(id),
    metrics: (keys.all(id) as string[]).map((key) => ({ key, history: history.all(id, key) })),
  }));
}

// ---------------------------------------------------------------- logging

function startLogRun(store: SqliteMetadataStore, id: string): void {
  store.startRun({
    id,
    pipeline: "log",
    pipelinePath: null,
    pipelineHash: null,
    pipelineText: null,
    params: {},
    resolvedParams: {},
    startedAt: new Date().toISOString(),
    environment: {},
    user: null,
  });
}

/** Point `p` of a run logging 10 metrics per step. */
const logPoint = (runId: string, p: number): MetricRecord => ({
  runId,
  nodeId: "train",
  name: `c${p % 10}`,
  value: p / LOG_POINTS,
  step: Math.floor(p / 10),
});

/** The baseline logs as MLflow's SQL store does: one row per INSERT, each its own transaction. */
function baselineLog(db: Database.Database, id: string): void {
  db.prepare("INSERT INTO runs VALUES (?, ?, 0, NULL, 'RUNNING', 0, NULL, 'active')").run(id, id);
  const insert = db.prepare("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, 0)");
  const now = Date.now();
  for (let p = 0; p < LOG_POINTS; p++)
    insert.run(`c${p % 10}`, p / LOG_POINTS, now + p, id, Math.floor(p / 10));
}

// ---------------------------------------------------------------- main

const dir = mkdtempSync(join(tmpdir(), "dagwood-bench-tracking-"));
try {
  process.stderr.write(
    `building ${RUNS} runs × ${PARAMS} params × ${METRICS} metrics, ${CURVES.length}×${CURVE_STEPS}-step curves on ${CURVE_RUNS}…\n`,
  );
  let t0 = performance.now();
  const ours = buildOurs(join(dir, "ours"));
  process.stderr.write(`  dagwood store built in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  t0 = performance.now();
  const base = buildBaseline(join(dir, "baseline.sqlite"));
  process.stderr.write(`  baseline built in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

  // Both answer the same question.
  const a = oursSearch(ours);
  const b = baselineSearch(base);
  if (a.total !== b.total || a.runs.map((r) => r.id).join() !== b.runs.map((r) => r.run_uuid).join()) {
    throw new Error(`the stores disagree on the search: ${a.total} vs ${b.total} runs`);
  }
  const cmp = ours.compareRuns(curveRunIds);
  const points = cmp.curves.reduce((n, c) => n + c.series.reduce((m, s) => m + s.points.length, 0), 0);
  if (points !== CURVE_RUNS * CURVES.length * CURVE_STEPS)
    throw new Error(`compare returned ${points} curve points`);

  const results = [
    {
      op: `search (pipeline + param + metric filter, sort by metric, limit ${SEARCH.limit}; ${a.total} match)`,
      goal: GOALS.search,
      ours: time(15, () => oursSearch(ours)),
      base: time(15, () => baselineSearch(base)),
    },
    {
      op: `compare ${CURVE_RUNS} runs (${PARAMS} params, ${METRICS} metrics, ${points} curve points)`,
      goal: GOALS.compare,
      ours: time(7, () => ours.compareRuns(curveRunIds)),
      base: time(7, () => baselineCompare(base, curveRunIds)),
    },
    {
      op: `log ${LOG_POINTS} metric points (10 metrics × 1,000 steps into a new run)`,
      goal: GOALS.log,
      ours: time(5, (rep) => {
        const id = `log-${rep + 1}`;
        startLogRun(ours, id);
        const batch: MetricRecord[] = [];
        for (let p = 0; p < LOG_POINTS; p++) batch.push(logPoint(id, p));
        ours.logMetrics(batch);
      }),
      base: time(5, (rep) => baselineLog(base, `log-${rep + 1}`)),
    },
    {
      op: `log ${LOG_POINTS} metric points one by one, as a run does (MetricWriter.add each, then flush)`,
      goal: GOALS.logOneByOne,
      ours: time(5, (rep) => {
        const id = `log-writer-${rep + 1}`;
        startLogRun(ours, id);
        const writer = new MetricWriter(ours);
        for (let p = 0; p < LOG_POINTS; p++) writer.add(logPoint(id, p));
        writer.close();
      }),
      base: time(5, (rep) => baselineLog(base, `log-writer-${rep + 1}`)),
    },
  ];

  console.log(`\nexperiment tracking, ${RUNS} runs (median; the baseline: MLflow-style, one row per insert)`);
  for (const r of results) {
    console.log(`  ${r.op}`);
    console.log(
      `    dagwood ${r.ours.toFixed(1).padStart(8)} ms   baseline ${r.base.toFixed(1).padStart(8)} ms   ` +
        `baseline/dagwood ${(r.base / r.ours).toFixed(1).padStart(6)}×   goal < ${r.goal} ms ${r.ours < r.goal ? "PASS" : "MISSED"}`,
    );
  }
  ours.close();
  base.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
