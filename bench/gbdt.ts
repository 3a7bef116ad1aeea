/**
 * GBDT benchmark: the flights task (issue 4). Features hour, weekday, month
 * (from `date`), distance, origin, destination (codes by training frequency,
 * at most 255), label delay > 15; a seeded random 1,000,000 training and
 * 200,000 test rows; 100 trees, depth 6 (or 31 leaves), learning rate 0.1.
 * Prints our fit time, test AUC and peak RSS, then XGBoost `hist` and
 * scikit-learn HistGradientBoosting on the same rows (bench/gbdt_peer.py),
 * where installed, and the ratios.
 *
 *   npx tsx bench/gbdt.ts [--leaves 31] [--workers N] [--rows 1000000] [--test 200000] [--no-peers] [--fresh]
 *
 * The data is prepared with DuckDB in a child process (so its memory is not
 * counted as ours) into a temp folder, reused by later runs: train.csv and
 * test.csv for the peers, and the same columns as raw float64 for us.
 * Exits non-zero only on an error; a missed goal is printed as MISSED.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { fitGbdt } from "../app/ml/trees/gbdt";
import { WorkerTreePool } from "../app/ml/trees/pool";
import { predictProba } from "../app/ml/trees/predict";
import type { Dataset } from "../app/ml/trees/types";

const SEED = 20240;
const COLUMNS = ["hour", "weekday", "month", "distance", "origin", "destination"] as const;
const CATEGORICAL = new Set(["origin", "destination"]);
const AUC_GOAL = 0.005;
const TIME_RATIO_GOAL = 2;
const RSS_GOAL_BYTES = 1.5 * 1024 ** 3;

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const parquet = join(root, "node_modules", "vega-datasets", "data", "flights-3m.parquet");

const { values: args } = parseArgs({
  options: {
    rows: { type: "string", default: "1000000" },
    test: { type: "string", default: "200000" },
    leaves: { type: "string" },
    workers: { type: "string" },
    trees: { type: "string", default: "100" },
    "no-peers": { type: "boolean", default: false },
    fresh: { type: "boolean", default: false },
    prepare: { type: "string" },
  },
});
const nTrain = Number(args.rows);
const nTest = Number(args.test);

/** In a child process: DuckDB reads the Parquet file and writes the sample. */
async function prepare(dir: string): Promise<void> {
  const { DuckDBInstance } = await import("@duckdb/node-api");
  const db = await DuckDBInstance.create(":memory:");
  const sql = await db.connect();
  const q = (s: string) => sql.run(s);
  const file = parquet.replaceAll("'", "''");
  await q(`CREATE TABLE sample AS
    SELECT *, row_number() OVER (ORDER BY hash(rid + ${SEED}), rid) AS pos FROM (
      SELECT file_row_number AS rid, hour(date)::DOUBLE AS hour, dayofweek(date)::DOUBLE AS weekday,
             month(date)::DOUBLE AS month, distance::DOUBLE AS distance, origin, destination,
             (delay > 15)::DOUBLE AS label
      FROM read_parquet('${file}', file_row_number = true))
    QUALIFY pos <= ${nTrain + nTest}`);
  // Codes by frequency in the training rows; past 254 one "other" code; unseen in training: missing.
  for (const c of ["origin", "destination"]) {
    await q(`CREATE TABLE ${c}_codes AS
      SELECT ${c} AS v, least(row_number() OVER (ORDER BY count(*) DESC, ${c}) - 1, 254)::DOUBLE AS code
      FROM sample WHERE pos <= ${nTrain} GROUP BY ${c}`);
  }
  await q(`CREATE TABLE rows AS
    SELECT s.pos, s.hour, s.weekday, s.month, s.distance, o.code AS origin, d.code AS destination, s.label
    FROM sample s LEFT JOIN origin_codes o ON s.origin = o.v LEFT JOIN destination_codes d ON s.destination = d.v
    ORDER BY s.pos`);
  const cols = [...COLUMNS, "label"].join(", ");
  for (const [name, where] of [
    ["train", `pos <= ${nTrain}`],
    ["test", `pos > ${nTrain}`],
  ] as const) {
    const path = join(dir, `${name}.csv`).replaceAll("'", "''");
    await q(
      `COPY (SELECT ${cols} FROM rows WHERE ${where} ORDER BY pos) TO '${path}' (HEADER, NULLSTR 'nan')`,
    );
    const reader = await sql.runAndReadAll(`SELECT ${cols} FROM rows WHERE ${where} ORDER BY pos`);
    const columns = reader.getColumnsJS();
    [...COLUMNS, "label"].forEach((c, i) => {
      const values = Float64Array.from(columns[i]!, (v) => (v === null ? Number.NaN : Number(v)));
      writeFileSync(join(dir, `${name}.${c}.f64`), new Uint8Array(values.buffer));
    });
  }
  sql.closeSync();
  writeFileSync(join(dir, "done"), new Date().toISOString());
}

function load(dir: string, split: "train" | "test"): { data: Dataset; y: Float64Array } {
  const read = (c: string) => {
    const buf = readFileSync(join(dir, `${split}.${c}.f64`));
    return new Float64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  };
  const y = read("label");
  return {
    y,
    data: {
      rows: y.length,
      features: COLUMNS.map((name) => ({
        name,
        kind: CATEGORICAL.has(name) ? ("categorical" as const) : ("numeric" as const),
        values: read(name),
      })),
    },
  };
}

/** Exact ROC AUC: the Mann–Whitney statistic with average ranks for tied scores. */
export function auc(y: Float64Array, score: Float64Array): number {
  const order = Array.from(score.keys()).sort((a, b) => score[a]! - score[b]!);
  let rankSumPos = 0;
  let nPos = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j < order.length && score[order[j]!] === score[order[i]!]) j++;
    const rank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) {
      if (y[order[k]!] === 1) {
        rankSumPos += rank;
        nPos++;
      }
    }
    i = j;
  }
  const nNeg = order.length - nPos;
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

interface Peer {
  name: string;
  seconds?: number;
  auc?: number;
  version?: string;
  note?: string;
}

/** The first python3 that has the peer's module (PATH's may be a pyenv without Debian's packages). */
function runPeer(peer: "xgboost" | "sklearn", dir: string, threads: number, leaves: number | null): Peer {
  const name = peer === "xgboost" ? "XGBoost hist" : "sklearn HistGradientBoosting";
  const script = join(root, "bench", "gbdt_peer.py");
  const shape = leaves ? ["--leaves", String(leaves)] : ["--depth", "6"];
  let lastError = "no python3 found";
  for (const python of ["python3", "/usr/bin/python3"]) {
    const r = spawnSync(
      python,
      [
        script,
        peer,
        join(dir, "train.csv"),
        join(dir, "test.csv"),
        "--threads",
        String(threads),
        "--trees",
        args.trees!,
        ...shape,
      ],
      { encoding: "utf8", env: { ...process.env, OMP_NUM_THREADS: String(threads) }, maxBuffer: 1 << 20 },
    );
    if (r.error) continue;
    const line = r.stdout.trim().split("\n").pop() ?? "";
    try {
      const out = JSON.parse(line) as { error?: string; fit_seconds: number; auc: number; version: string };
      if (out.error) {
        lastError = out.error;
        continue;
      }
      return { name, seconds: out.fit_seconds, auc: out.auc, version: out.version };
    } catch {
      lastError = (r.stderr || r.stdout).trim().split("\n").slice(-3).join(" ");
    }
  }
  return { name, note: `not measured (${lastError})` };
}

async function main() {
  if (args.prepare) {
    await prepare(args.prepare);
    return;
  }
  const dir = join(tmpdir(), `dagwood-bench-gbdt-${SEED}-${nTrain}-${nTest}`);
  if (args.fresh) rmSync(dir, { recursive: true, force: true });
  if (!existsSync(join(dir, "done"))) {
    mkdirSync(dir, { recursive: true });
    console.log(`Preparing ${nTrain} + ${nTest} rows from ${parquet} into ${dir} ...`);
    const r = spawnSync(
      process.execPath,
      [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2), "--prepare", dir],
      {
        stdio: "inherit",
      },
    );
    if (r.status !== 0) throw new Error(`data preparation failed (exit ${r.status})`);
  }
  const train = load(dir, "train");
  const test = load(dir, "test");
  const workers = args.workers ? Number(args.workers) : availableParallelism();
  const leaves = args.leaves ? Number(args.leaves) : null;
  const trees = Number(args.trees);
  const pool = new WorkerTreePool(workers);

  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 20);
  const t0 = performance.now();
  const model = await fitGbdt(
    { data: train.data, y: train.y, task: "binary" },
    { trees, learningRate: 0.1, ...(leaves ? { maxLeaves: leaves } : { maxDepth: 6 }) },
    { pool },
  );
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.resourceUsage().maxRSS * 1024);
  await pool.close();
  const proba = predictProba(model, test.data);
  const p1 = new Float64Array(test.data.rows);
  for (let i = 0; i < p1.length; i++) p1[i] = proba[2 * i + 1]!;
  const ours = auc(test.y, p1);

  const shape = leaves ? `${leaves} leaves` : "depth 6";
  console.log(
    `flights: ${train.data.rows} train / ${test.data.rows} test rows, ${trees} trees, ${shape}, lr 0.1, ${workers} workers`,
  );
  console.log(
    `ours: fit ${seconds.toFixed(2)} s, test AUC ${ours.toFixed(4)}, peak RSS ${(peakRss / 1024 ** 2).toFixed(0)} MiB`,
  );

  const peers: Peer[] = args["no-peers"]
    ? []
    : [runPeer("xgboost", dir, workers, leaves), runPeer("sklearn", dir, workers, leaves)];
  const rows = [
    ["", "fit s", "test AUC", "time ratio (ours/peer)", "AUC diff (ours-peer)"],
    ["ours (dagwood)", seconds.toFixed(2), ours.toFixed(4), "", ""],
    ...peers.map((p) =>
      p.seconds === undefined
        ? [p.name, p.note ?? "not measured", "", "", ""]
        : [
            `${p.name} ${p.version}`,
            p.seconds.toFixed(2),
            p.auc!.toFixed(4),
            `${(seconds / p.seconds).toFixed(2)}×`,
            `${ours - p.auc! >= 0 ? "+" : ""}${(ours - p.auc!).toFixed(4)}`,
          ],
    ),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c]!)).join("  "));

  const xgb = peers.find((p) => p.name.startsWith("XGBoost") && p.seconds !== undefined);
  const goal = (ok: boolean) => (ok ? "met" : "MISSED");
  if (xgb) {
    console.log(`goal AUC within ${AUC_GOAL} of XGBoost: ${goal(ours >= xgb.auc! - AUC_GOAL)}`);
    console.log(
      `goal fit time ≤ ${TIME_RATIO_GOAL}× XGBoost: ${goal(seconds <= TIME_RATIO_GOAL * xgb.seconds!)}`,
    );
  } else
    console.log(
      `goals against XGBoost: not measured (${args["no-peers"] ? "--no-peers" : "XGBoost not installed"})`,
    );
  console.log(`goal peak RSS < 1.5 GiB: ${goal(peakRss < RSS_GOAL_BYTES)}`);
  // The issue asks this bench to print the MLP's throughput and its tfjs backend too.
  console.log("\nMLP training throughput (bench/mlp.ts):");
  spawnSync(
    process.execPath,
    [...process.execArgv, join(dirname(fileURLToPath(import.meta.url)), "mlp.ts")],
    {
      stdio: "inherit",
    },
  );
}

await main();
