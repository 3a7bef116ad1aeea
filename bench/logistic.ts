/**
 * Logistic regression training time (issue 11, §3 `train.logistic`) against
 * scikit-learn's LogisticRegression (lbfgs), on the flights-model example's
 * task: flights-3m sampled 1 in 15 as the example samples it (about 200,000
 * rows), a seeded 80 % of those as the training rows (about 160,000), features
 * hour, weekday, month, distance, origin, destination, label delay > 15;
 * train.logistic's preprocessing (median impute, one-hot of at most 64
 * categories with an "other" column, standard scaling) and params (l2 1,
 * maxIter 200, as the example sets).
 *
 * Both fits get the very same preprocessed float64 matrix (written once for
 * the peer, bench/logistic_peer.py), and each times only its fit call. They
 * run interleaved, `--reps` times (default 3; env BENCH_LOGISTIC_REPS). Prints
 * each fit time, the min and median per tool, the ratio ours/peer, and each
 * fit's iterations and training objective (mean log loss + ½ l2 ‖w‖² / rows),
 * so a faster fit that stops short shows.
 *
 *   npx tsx bench/logistic.ts [--reps 3] [--peer-threads N] [--in-worker]
 *
 * `--in-worker` fits through the worker pool (app/ml/work/pool.ts) as the
 * block does: the raw columns go to a worker, which encodes and fits them, so
 * the time includes the hand-over and the encoding.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { ColumnTable, RawColumn } from "../app/ml/dataset";
import { fitLogistic, type LinearModelJSON } from "../app/ml/linear";
import { fitPreprocessor, transformFeatures } from "../app/ml/preprocess";
import { findPython, load, loadWarning, median, PeerProcess, repsFrom } from "./peer";

const GOAL = 1.5;
const L2 = 1;
const MAX_ITER = 200;

const { values: args } = parseArgs({
  options: {
    reps: { type: "string" },
    "peer-threads": { type: "string" },
    "in-worker": { type: "boolean", default: false },
  },
});
const reps = repsFrom(args.reps, "BENCH_LOGISTIC_REPS", 3);
const peerThreads = args["peer-threads"];
if (peerThreads !== undefined && !(Number.isInteger(Number(peerThreads)) && Number(peerThreads) >= 1))
  throw new Error(`--peer-threads must be a whole number ≥ 1; got "${peerThreads}"`);

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const parquet = join(root, "node_modules", "vega-datasets", "data", "flights-3m.parquet");

/** The example's sample and a seeded 80 % of it, as the raw columns train.logistic reads. */
async function readRows(): Promise<{ table: ColumnTable; y: Float64Array }> {
  const { DuckDBInstance } = await import("@duckdb/node-api");
  const db = await DuckDBInstance.create(":memory:");
  const sql = await db.connect();
  const file = parquet.replaceAll("'", "''");
  const reader = await sql.runAndReadAll(`
    SELECT hour, weekday, month, distance, origin, destination, delayed FROM (
      SELECT hour(date)::DOUBLE AS hour, dayofweek(date)::DOUBLE AS weekday, month(date)::DOUBLE AS month,
             distance::DOUBLE AS distance, origin, destination, (delay > 15)::DOUBLE AS delayed,
             hash(date, delay, distance, origin, destination) AS h
      FROM read_parquet('${file}') WHERE hash(date, delay, distance, origin, destination) % 15 = 0)
    WHERE hash(h + 42) % 5 <> 0 AND delayed IS NOT NULL
    ORDER BY h`);
  const cols = reader.getColumnsJS();
  sql.closeSync();
  const n = cols[0]!.length;
  const numeric = (name: string, i: number): RawColumn => ({
    name,
    kind: "numeric",
    type: "DOUBLE",
    values: Float64Array.from(cols[i]!, (v) => (v === null ? Number.NaN : Number(v))),
  });
  const categorical = (name: string, i: number): RawColumn => {
    const dictionary: string[] = [];
    const index = new Map<string, number>();
    const codes = Int32Array.from(cols[i]!, (v) => {
      if (v === null) return -1;
      const s = String(v);
      let c = index.get(s);
      if (c === undefined) {
        c = dictionary.push(s) - 1;
        index.set(s, c);
      }
      return c;
    });
    return { name, kind: "categorical", type: "VARCHAR", codes, dictionary };
  };
  return {
    table: {
      rows: n,
      columns: [
        numeric("hour", 0),
        numeric("weekday", 1),
        numeric("month", 2),
        numeric("distance", 3),
        categorical("origin", 4),
        categorical("destination", 5),
      ],
    },
    y: Float64Array.from(cols[6]!, (v) => Number(v)),
  };
}

interface PeerFit {
  fit_seconds: number;
  iterations: number;
  loss: number;
}

const dir = mkdtempSync(join(tmpdir(), "dagwood-bench-logistic-"));
let peer: PeerProcess | undefined;
let peerNote = "";
let peerVersion = "";
try {
  const { table, y } = await readRows();
  const spec = fitPreprocessor(table, {
    impute: "median",
    maxCategories: 64,
    encoding: "onehot",
    scale: "standard",
  });
  const data = transformFeatures(spec, table);
  const P = data.features.length;
  const n = data.rows;

  const found = findPython(["numpy", "sklearn"]);
  if ("error" in found) peerNote = `not measured: ${found.error}`;
  else {
    const x = new Float64Array(n * P);
    data.features.forEach((f, j) => {
      for (let i = 0; i < n; i++) x[i * P + j] = f.values[i]!;
    });
    writeFileSync(join(dir, "x.f64"), new Uint8Array(x.buffer));
    writeFileSync(join(dir, "y.f64"), new Uint8Array(y.buffer));
    const threadEnv = peerThreads
      ? { OPENBLAS_NUM_THREADS: peerThreads, OMP_NUM_THREADS: peerThreads, MKL_NUM_THREADS: peerThreads }
      : {};
    peer = new PeerProcess(
      found.python,
      [join(root, "bench", "logistic_peer.py"), dir, "--features", String(P)],
      threadEnv,
    );
    try {
      const ready = await peer.next<{ version: string; rows: number; blas: string[] }>();
      if (ready.rows !== n) throw new Error(`it read ${ready.rows} rows, not ${n}`);
      peerVersion = `${ready.version} (BLAS: ${ready.blas.join(", ") || "none reported"})`;
    } catch (e) {
      peerNote = `not measured: ${(e as Error).message}`;
      await peer.close();
      peer = undefined;
    }
  }

  const fitOurs = async (): Promise<LinearModelJSON> => {
    if (!args["in-worker"])
      return await fitLogistic({ data, y }, { l2: L2, maxIter: MAX_ITER, numClasses: 2 });
    const { runTask } = await import("../app/ml/work/pool");
    const out = await runTask("trainLinear", {
      estimator: "logistic",
      rows: table,
      y,
      preprocess: { spec },
      l2: L2,
      maxIter: MAX_ITER,
      numClasses: 2,
    });
    return out.linear;
  };

  console.log(
    `Logistic regression, flights: ${n} rows × ${P} encoded features (from ${table.columns.length} columns), ` +
      `l2 ${L2}, maxIter ${MAX_ITER}${args["in-worker"] ? ", ours through the worker pool" : ""}; ` +
      `${reps} interleaved repetitions (ours, sklearn); ${load()}`,
  );
  const ours: number[] = [];
  const theirs: number[] = [];
  let model: LinearModelJSON | undefined;
  let peerFit: PeerFit | undefined;
  for (let rep = 0; rep < reps; rep++) {
    const started = performance.now();
    model = await fitOurs();
    ours.push((performance.now() - started) / 1000);
    const line = [`ours ${ours.at(-1)!.toFixed(3)} s`];
    if (peer) {
      try {
        peerFit = await peer.request<PeerFit>({ C: 1 / L2, max_iter: MAX_ITER });
        theirs.push(peerFit.fit_seconds);
        line.push(`sklearn ${peerFit.fit_seconds.toFixed(3)} s`);
      } catch (e) {
        peerNote = `failed: ${(e as Error).message}`;
        await peer.close();
        peer = undefined;
      }
    }
    console.log(`rep ${rep + 1}/${reps}: ${line.join(", ")}  (${load()})`);
  }
  const summary = (xs: number[]) =>
    `fit min ${Math.min(...xs).toFixed(3)} s / median ${median(xs).toFixed(3)} s`;
  console.log(
    `\nours: ${summary(ours)}; ${model!.iterations} iterations${model!.converged ? "" : " (maxIter reached)"}, objective ${model!.trainLoss.toFixed(8)}`,
  );
  if (theirs.length > 0 && peerFit) {
    console.log(
      `sklearn LogisticRegression(lbfgs) ${peerVersion}: ${summary(theirs)}; ${peerFit.iterations} iterations, objective ${peerFit.loss.toFixed(8)}`,
    );
    const ratio = Math.min(...ours) / Math.min(...theirs);
    console.log(
      `ours/sklearn fit time: ${ratio.toFixed(2)}× (min), ${(median(ours) / median(theirs)).toFixed(2)}× (median); ` +
        `goal ≤ ${GOAL}×: ${ratio <= GOAL ? "met" : "MISSED"}; objective ours − sklearn ${(model!.trainLoss - peerFit.loss).toExponential(2)}; ${load()} at the end`,
    );
  }
  if (peerNote) console.log(`sklearn LogisticRegression: ${peerNote}`);
  const warning = loadWarning();
  if (warning) console.log(warning);
} finally {
  await peer?.close();
  rmSync(dir, { recursive: true, force: true });
}
