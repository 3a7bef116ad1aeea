// Experiment tracking at scale: 10,000 runs × 50 params × 20 metrics, with
// 1,000-step training curves (two per run) on 100 of them. Times a filtered,
// sorted search, a 100-run comparison and logging 10,000 metric points (in one
// call, and one by one as a run logs them), in Dagwood's store and in a
// baseline that does what MLflow's SQL tracking store does on the same SQLite
// engine (bench/mlflow-sql-store.ts: its schema with `latest_metrics`, its
// search joins, `log_batch` in batches of 1,000, `log_metric`). Each operation
// runs interleaved, ours then the baseline, repeated; prints min and median
// of each and the ratio of the medians, with the load average.
//
// With `--store postgres`, the same store on PostgreSQL (the team store: app/store/postgres-store.ts)
// joins the comparison: the same runs are loaded into it, each operation runs on SQLite, then on
// PostgreSQL, then the baseline, and the PostgreSQL/SQLite ratio of the medians is printed against
// the goal (within 3×). The server is a throw-away cluster (app/store/pg-testing.ts: Debian's
// postgresql, fsync and synchronous_commit off, TCP on 127.0.0.1), or `--pg-url` (no password in it;
// PGPASSWORD or ~/.pgpass), in a fresh schema that is dropped at the end.
//
//   npx tsx bench/tracking.ts [--reps N] [--store sqlite|postgres] [--pg-url URL]
//     (env BENCH_TRACKING_RUNS: runs, default 10,000; --reps or BENCH_TRACKING_REPS: multiplies the repetitions)
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type MetricRecord, SqliteMetadataStore, type SqlMetadataStore } from "../app/store/metadata";
import { MetricWriter } from "../app/store/metric-writer";
import { startTestPostgres, type TestPostgres } from "../app/store/pg-testing";
import { openPostgres } from "../app/store/postgres";
import { openPostgresStore } from "../app/store/postgres-store";
import { MAX_METRICS_PER_BATCH, type MlflowMetric, MlflowSqlStore } from "./mlflow-sql-store";
import { load, median, repsFrom } from "./peer";

const RUNS = Number(process.env.BENCH_TRACKING_RUNS ?? 10_000);
const PARAMS = 50;
const METRICS = 20;
const CURVE_RUNS = 100;
const CURVE_STEPS = 1000;
const CURVES = ["train.loss", "train.val_loss"];
const PIPELINES = 5;
const LOG_POINTS = 10_000;
const GOALS = { search: 50, compare: 200, log: 100, logOneByOne: 100 };
/** The team store's goal: each operation within this factor of the SQLite store (issue 17). */
const POSTGRES_GOAL = 3;

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
  return fill(new SqliteMetadataStore(join(dir, ".dagwood", "metadata.sqlite"), { projectDir: dir }));
}

/** Loads the runs, params, metrics and curves into a store, as runs would have logged them. */
function fill<S extends SqlMetadataStore>(store: S): S {
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

function oursSearch(store: SqlMetadataStore) {
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
// ---------------------------------------------------------------- logging

function startLogRun(store: SqlMetadataStore, id: string): void {
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

function logInOneCall(store: SqlMetadataStore, id: string): void {
  startLogRun(store, id);
  const batch: MetricRecord[] = [];
  for (let p = 0; p < LOG_POINTS; p++) batch.push(logPoint(id, p));
  store.logMetrics(batch);
}

function logOneByOne(store: SqlMetadataStore, id: string): void {
  startLogRun(store, id);
  const writer = new MetricWriter(store);
  for (let p = 0; p < LOG_POINTS; p++) writer.add(logPoint(id, p));
  writer.close();
}

/** ANALYZE the bench's tables on a connection of its own (the store's is not reachable from here). */
function openPostgresAnalyze(url: string, schema: string): void {
  const sql = openPostgres({ url, schema });
  try {
    for (const table of sql.column<string>(
      "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()",
    ))
      sql.exec(`ANALYZE "${table}"`);
  } finally {
    sql.close();
  }
}

// ---------------------------------------------------------------- MLflow SQL store baseline

const T0 = Date.UTC(2026, 0, 1);

/**
 * The same runs, params, metrics and curves, loaded in one transaction (building is not timed):
 * the rows MLflow's store would hold after logging them, `latest_metrics` included.
 */
function buildBaseline(path: string): MlflowSqlStore {
  const store = new MlflowSqlStore(path);
  const db = store.db;
  db.transaction(() => {
    for (let e = 0; e < PIPELINES; e++) store.createExperiment(e, pipelineOf(e), T0);
    store.createExperiment(PIPELINES, "log", T0);
    const run = db.prepare(
      `INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time,
         end_time, source_version, lifecycle_stage, artifact_uri, experiment_id)
       VALUES (?, ?, 'UNKNOWN', '', '', 'bench', 'FINISHED', ?, ?, '', 'active', '', ?)`,
    );
    const tag = db.prepare("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)");
    const param = db.prepare("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)");
    const metric = db.prepare(
      "INSERT INTO metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, 0, ?)",
    );
    const latest = db.prepare(
      "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, 0, ?)",
    );
    for (let i = 0; i < RUNS; i++) {
      const id = runId(i);
      run.run(id, id, T0 + i * 60_000, T0 + i * 60_000 + 1, i % PIPELINES);
      tag.run("mlflow.runName", id, id);
      tag.run("mlflow.user", "bench", id);
      for (const [k, v] of Object.entries(paramsOf(i))) param.run(k, String(v), id);
      metricsOf(i).forEach((v, k) => {
        metric.run(metricKey(k), v, T0 + i, 0, id);
        latest.run(metricKey(k), v, T0 + i, 0, id);
      });
    }
    for (const id of curveRunIds) {
      const i = Number(id.slice(4));
      CURVES.forEach((key, c) => {
        for (let step = 0; step < CURVE_STEPS; step++)
          metric.run(key, curveValue(i, c, step), T0 + step, step, id);
        const last = CURVE_STEPS - 1;
        latest.run(key, curveValue(i, c, last), T0 + last, last, id);
      });
    }
  })();
  return store;
}

const baselineSearch = (store: MlflowSqlStore) =>
  store.searchRuns({
    experimentName: SEARCH.pipeline,
    param: SEARCH.param,
    metric: SEARCH.metric,
    sortMetric: SEARCH.sort,
    limit: SEARCH.limit,
  });

/** Point `p` of the log run in MLflow's terms (key `train.c<k>`, as ours names it). */
const mlflowPoint = (p: number, timestamp: number): MlflowMetric => ({
  key: `train.c${p % 10}`,
  value: p / LOG_POINTS,
  timestamp,
  step: Math.floor(p / 10),
});

/** `log_batch` as a client must call it: 10,000 points in batches of MAX_METRICS_PER_BATCH. */
function baselineLogBatch(store: MlflowSqlStore, id: string): void {
  store.createRun(id, PIPELINES, Date.now(), "bench");
  const now = Date.now();
  const points = Array.from({ length: LOG_POINTS }, (_, p) => mlflowPoint(p, now));
  for (let i = 0; i < points.length; i += MAX_METRICS_PER_BATCH) {
    store.logBatch(id, points.slice(i, i + MAX_METRICS_PER_BATCH));
  }
}

/** `log_metric` per point, MLflow's default (synchronous) logging: one transaction each. */
function baselineLogOneByOne(store: MlflowSqlStore, id: string): void {
  store.createRun(id, PIPELINES, Date.now(), "bench");
  for (let p = 0; p < LOG_POINTS; p++) store.logMetric(id, mlflowPoint(p, Date.now()));
}

/** After logging: 10 keys, each latest at step 999 with the value of point 9,990 + k (computed here). */
function checkLogged(store: MlflowSqlStore, id: string): void {
  const latest = store.latestOf(id);
  const lastStep = LOG_POINTS / 10 - 1;
  for (let k = 0; k < 10; k++) {
    const got = latest.get(`train.c${k}`);
    const want = (lastStep * 10 + k) / LOG_POINTS;
    if (got?.step !== lastStep || got.value !== want) {
      throw new Error(
        `baseline latest_metrics for train.c${k}: ${JSON.stringify(got)}, expected step ${lastStep} value ${want}`,
      );
    }
  }
  const n = store.db.prepare("SELECT count(*) FROM metrics WHERE run_uuid = ?").pluck().get(id) as number;
  if (n !== LOG_POINTS) throw new Error(`baseline holds ${n} metric rows for ${id}, expected ${LOG_POINTS}`);
}

// ---------------------------------------------------------------- timing

interface Timed {
  ours: number[];
  base: number[];
  /** Ours on PostgreSQL, with --store postgres. */
  pg?: number[];
}

/**
 * Warm-up (statement preparation, page cache, as in a running app), then `reps` rounds of ours
 * (SQLite), ours on PostgreSQL when given, then the baseline, so load from other processes falls
 * on all alike.
 */
function interleave(
  reps: number,
  ours: (rep: number) => void,
  base: (rep: number) => void,
  pg?: (rep: number) => void,
): Timed {
  ours(-1);
  pg?.(-1);
  base(-1);
  const out: Timed = { ours: [], base: [], ...(pg ? { pg: [] } : {}) };
  const time = (fn: (rep: number) => void, r: number, into: number[]) => {
    const t0 = performance.now();
    fn(r);
    into.push(performance.now() - t0);
  };
  for (let r = 0; r < reps; r++) {
    time(ours, r, out.ours);
    if (pg) time(pg, r, out.pg!);
    time(base, r, out.base);
  }
  return out;
}

// ---------------------------------------------------------------- main

const { values: cli } = parseArgs({
  options: {
    reps: { type: "string" },
    store: { type: "string", default: "sqlite" },
    "pg-url": { type: "string" },
  },
});
if (cli.store !== "sqlite" && cli.store !== "postgres")
  throw new Error(
    `--store ${cli.store}: expected sqlite or postgres (postgres adds the team store beside SQLite).`,
  );
const onPostgres = cli.store === "postgres";
const repScale = repsFrom(cli.reps, "BENCH_TRACKING_REPS", 1);
const dir = mkdtempSync(join(tmpdir(), "dagwood-bench-tracking-"));
let server: TestPostgres | undefined;
let pgUrl: string | undefined;
const pgSchema = `bench_tracking_${process.pid}`;
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
  let pg: SqlMetadataStore | undefined;
  if (onPostgres) {
    t0 = performance.now();
    if (cli["pg-url"]) pgUrl = cli["pg-url"];
    else {
      server = await startTestPostgres();
      pgUrl = server.url;
    }
    mkdirSync(join(dir, "pg", ".dagwood"), { recursive: true });
    pg = fill(openPostgresStore({ url: pgUrl, schema: pgSchema, projectDir: join(dir, "pg") }));
    // Fresh statistics for the planner, as autovacuum would have gathered them on a store in use.
    openPostgresAnalyze(pgUrl, pgSchema);
    process.stderr.write(
      `  postgresql store built in ${((performance.now() - t0) / 1000).toFixed(1)} s (${server ? "throw-away cluster, fsync and synchronous_commit off" : pgUrl})\n`,
    );
  }

  // Both answer the same question.
  const a = oursSearch(ours);
  const b = baselineSearch(base);
  if (a.total !== b.total || a.runs.map((r) => r.id).join() !== b.runIds.join()) {
    throw new Error(`the stores disagree on the search: ${a.total} vs ${b.total} runs`);
  }
  const cmp = ours.compareRuns(curveRunIds);
  const points = cmp.curves.reduce((n, c) => n + c.series.reduce((m, s) => m + s.points.length, 0), 0);
  if (points !== CURVE_RUNS * CURVES.length * CURVE_STEPS)
    throw new Error(`compare returned ${points} curve points`);
  if (pg) {
    const p = oursSearch(pg);
    if (p.total !== a.total || p.runs.map((r) => r.id).join() !== a.runs.map((r) => r.id).join())
      throw new Error(`PostgreSQL and SQLite disagree on the search: ${p.total} vs ${a.total} runs`);
    const pgCmp = pg.compareRuns(curveRunIds);
    if (
      JSON.stringify(pgCmp.curves) !== JSON.stringify(cmp.curves) ||
      JSON.stringify(pgCmp.metrics) !== JSON.stringify(cmp.metrics)
    )
      throw new Error("PostgreSQL and SQLite disagree on the comparison of the curve runs");
  }
  const basePoints = base.compare(curveRunIds);
  if (basePoints !== CURVE_RUNS * CURVES.length * CURVE_STEPS)
    throw new Error(`the baseline's compare read ${basePoints} metric points`);

  console.log(
    `\nexperiment tracking, ${RUNS} runs; interleaved (dagwood${pg ? ", dagwood on PostgreSQL" : ""}, then the MLflow SQL-store baseline), min / median ms; ${load()}`,
  );
  const report = (op: string, goal: number, t: Timed) => {
    const [om, bm] = [median(t.ours), median(t.base)];
    console.log(`  ${op}`);
    console.log(
      `    dagwood ${Math.min(...t.ours).toFixed(1)} / ${om.toFixed(1)} ms   ` +
        `baseline ${Math.min(...t.base).toFixed(1)} / ${bm.toFixed(1)} ms   ` +
        `baseline/dagwood (medians) ${(bm / om).toFixed(1)}×   goal < ${goal} ms ${om < goal ? "PASS" : "MISSED"}   (${load()})`,
    );
    if (t.pg) {
      const pm = median(t.pg);
      console.log(
        `    dagwood on PostgreSQL ${Math.min(...t.pg).toFixed(1)} / ${pm.toFixed(1)} ms   ` +
          `postgresql/sqlite (medians) ${(pm / om).toFixed(1)}×   goal within ${POSTGRES_GOAL}× ${pm <= POSTGRES_GOAL * om ? "PASS" : "MISSED"}`,
      );
    }
  };

  report(
    `search (pipeline + param + metric filter, sort by metric, limit ${SEARCH.limit}; ${a.total} match)`,
    GOALS.search,
    interleave(
      15 * repScale,
      () => oursSearch(ours),
      () => baselineSearch(base),
      pg && (() => oursSearch(pg)),
    ),
  );
  report(
    `compare ${CURVE_RUNS} runs (${PARAMS} params, ${METRICS} metrics, ${points} curve points)`,
    GOALS.compare,
    interleave(
      7 * repScale,
      () => ours.compareRuns(curveRunIds),
      () => base.compare(curveRunIds),
      pg && (() => pg.compareRuns(curveRunIds)),
    ),
  );
  report(
    `log ${LOG_POINTS} metric points into a new run (10 metrics × 1,000 steps): ours in one call; ` +
      `baseline log_batch × ${LOG_POINTS / MAX_METRICS_PER_BATCH} (at most ${MAX_METRICS_PER_BATCH} metrics each)`,
    GOALS.log,
    interleave(
      5 * repScale,
      (rep) => logInOneCall(ours, `log-${rep + 1}`),
      (rep) => baselineLogBatch(base, `log-${rep + 1}`),
      pg && ((rep) => logInOneCall(pg, `log-${rep + 1}`)),
    ),
  );
  checkLogged(base, "log-1");
  report(
    `log ${LOG_POINTS} metric points one by one, as a run does: ours MetricWriter.add each, then close; ` +
      "baseline log_metric each (MLflow's default, synchronous; its async mode batches into log_batch, as above)",
    GOALS.logOneByOne,
    interleave(
      5 * repScale,
      (rep) => logOneByOne(ours, `log-writer-${rep + 1}`),
      (rep) => baselineLogOneByOne(base, `log-writer-${rep + 1}`),
      pg && ((rep) => logOneByOne(pg, `log-writer-${rep + 1}`)),
    ),
  );
  checkLogged(base, "log-writer-1");
  if (pg) {
    // Every point arrived on PostgreSQL too, the same as on SQLite.
    for (const id of ["log-1", "log-writer-1"]) {
      const [s, p] = [ours.metrics(id), pg.metrics(id)];
      if (
        p.length !== LOG_POINTS ||
        JSON.stringify(p.map((m) => [m.name, m.step, m.value])) !==
          JSON.stringify(s.map((m) => [m.name, m.step, m.value]))
      )
        throw new Error(`PostgreSQL holds ${p.length} points for ${id}, not the ${s.length} SQLite holds`);
    }
    pg.close();
  }
  ours.close();
  base.close();
} finally {
  if (pgUrl && !server) {
    const admin = openPostgres({ url: pgUrl, schema: "public" });
    try {
      admin.exec(`DROP SCHEMA IF EXISTS "${pgSchema}" CASCADE`);
    } finally {
      admin.close();
    }
  }
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
}
