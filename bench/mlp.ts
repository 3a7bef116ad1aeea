/**
 * MLP training throughput (issue 4, Performance) against scikit-learn's
 * MLPClassifier: 100,000 synthetic rows × 10 features, hidden [64, 64] relu,
 * Adam (lr 0.001), batch 256, 5 epochs, binary target, no L2, no dropout, no
 * validation split. Ours and the peer (bench/mlp_peer.py, where scikit-learn
 * is installed; same rows, shape, optimizer, batch size and epochs) run
 * interleaved, `--reps` times (default 3; env BENCH_MLP_REPS). Prints each fit
 * time, the min and median per tool, rows/s (rows × epochs / fit seconds), the
 * ratios ours/peer, the per-epoch training loss of both, the tfjs backend that
 * ran and the load average.
 *
 * `--peer-threads N` limits the peer's BLAS threads (OPENBLAS_NUM_THREADS,
 * OMP_NUM_THREADS, MKL_NUM_THREADS); by default it uses what its BLAS picks
 * (printed), while tfjs's WebAssembly backend runs on one thread in Node.
 *
 *   npx tsx bench/mlp.ts [--reps 3] [--backend wasm|cpu|tensorflow] [--rows 100000] [--peer-threads N]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { fitMlp, type MlpModelJSON, TF_BACKENDS, type TfBackendName } from "../app/ml/mlp";
import { mulberry32 } from "../app/ml/trees/binning";
import type { Dataset } from "../app/ml/trees/types";
import { findPython, load, loadWarning, median, PeerProcess, repsFrom } from "./peer";

const { values: args } = parseArgs({
  options: {
    backend: { type: "string" },
    rows: { type: "string", default: "100000" },
    reps: { type: "string" },
    "peer-threads": { type: "string" },
  },
});
const backend = args.backend as TfBackendName | undefined;
if (backend && !TF_BACKENDS.includes(backend))
  throw new Error(`--backend must be one of ${TF_BACKENDS.join(", ")}; got "${backend}"`);
const rows = Number(args.rows);
if (!Number.isInteger(rows) || rows < 1)
  throw new Error(`--rows must be a whole number ≥ 1; got "${args.rows}"`);
const reps = repsFrom(args.reps, "BENCH_MLP_REPS", 3);
const peerThreads = args["peer-threads"];
if (peerThreads !== undefined && !(Number.isInteger(Number(peerThreads)) && Number(peerThreads) >= 1))
  throw new Error(`--peer-threads must be a whole number ≥ 1; got "${peerThreads}"`);
const F = 10;
const EPOCHS = 5;
const HIDDEN = [64, 64];
const BATCH = 256;
const LR = 0.001;
const SEED = 1;

const rand = mulberry32(42);
const features = Array.from({ length: F }, (_, j) => ({
  name: `x${j}`,
  kind: "numeric" as const,
  values: Float64Array.from({ length: rows }, () => rand() * 2 - 1),
}));
const y = Float64Array.from({ length: rows }, (_, i) => {
  let s = 0;
  for (let j = 0; j < F; j++) s += (j % 2 ? 1 : -1) * features[j]!.values[i]! * (1 + j / F);
  return s + 0.5 * features[0]!.values[i]! * features[1]!.values[i]! > 0 ? 1 : 0;
});
const data: Dataset = { rows, features };

/** The same rows for the peer: x row-major float64, y float64. */
function writePeerData(dir: string): void {
  const x = new Float64Array(rows * F);
  for (let i = 0; i < rows; i++) for (let j = 0; j < F; j++) x[i * F + j] = features[j]!.values[i]!;
  writeFileSync(join(dir, "x.f64"), new Uint8Array(x.buffer));
  writeFileSync(join(dir, "y.f64"), new Uint8Array(y.buffer));
}

interface PeerFit {
  fit_seconds: number;
  epochs_run: number;
  loss: number[];
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const dir = mkdtempSync(join(tmpdir(), "dagwood-bench-mlp-"));
let peer: PeerProcess | undefined;
let peerNote = "";
let peerVersion = "";
try {
  const found = findPython(["numpy", "sklearn"]);
  if ("error" in found) peerNote = `not measured: ${found.error}`;
  else {
    writePeerData(dir);
    const threadEnv = peerThreads
      ? { OPENBLAS_NUM_THREADS: peerThreads, OMP_NUM_THREADS: peerThreads, MKL_NUM_THREADS: peerThreads }
      : {};
    peer = new PeerProcess(
      found.python,
      [join(root, "bench", "mlp_peer.py"), dir, "--features", String(F)],
      threadEnv,
    );
    try {
      const ready = await peer.next<{ version: string; rows: number; blas: string[] }>();
      if (ready.rows !== rows) throw new Error(`it read ${ready.rows} rows, not ${rows}`);
      peerVersion = `${ready.version} (BLAS: ${ready.blas.join(", ") || "none reported"})`;
    } catch (e) {
      peerNote = `not measured: ${(e as Error).message}`;
      await peer.close();
      peer = undefined;
    }
  }

  console.log(
    `MLP ${rows} rows × ${F} features, hidden [${HIDDEN.join(", ")}] relu, Adam lr ${LR}, batch ${BATCH}, ` +
      `${EPOCHS} epochs; ${reps} interleaved repetitions (ours, sklearn); ${load()}`,
  );
  const ours: number[] = [];
  const theirs: number[] = [];
  let model: MlpModelJSON | undefined;
  let peerLoss: number[] = [];
  for (let rep = 0; rep < reps; rep++) {
    const started = performance.now();
    model = await fitMlp(
      { data, y },
      {
        task: "binary",
        hidden: HIDDEN,
        activation: "relu",
        epochs: EPOCHS,
        batchSize: BATCH,
        learningRate: LR,
        dropout: 0,
        seed: SEED,
        validationFraction: 0,
        ...(backend ? { backend } : {}),
      },
    );
    ours.push((performance.now() - started) / 1000);
    const line = [`ours ${ours.at(-1)!.toFixed(2)} s`];
    if (peer) {
      try {
        const out = await peer.request<PeerFit>({
          hidden: HIDDEN,
          activation: "relu",
          epochs: EPOCHS,
          batch_size: BATCH,
          lr: LR,
          seed: SEED,
        });
        theirs.push(out.fit_seconds);
        peerLoss = out.loss;
        line.push(`sklearn ${out.fit_seconds.toFixed(2)} s`);
      } catch (e) {
        peerNote = `failed: ${(e as Error).message}`;
        await peer.close();
        peer = undefined;
      }
    }
    console.log(`rep ${rep + 1}/${reps}: ${line.join(", ")}  (${load()})`);
  }

  const t = model!.training;
  const rate = (s: number) => `${Math.round((rows * EPOCHS) / s).toLocaleString("en-US")} rows/s`;
  const summary = (xs: number[]) =>
    `fit min ${Math.min(...xs).toFixed(2)} s / median ${median(xs).toFixed(2)} s (${rate(Math.min(...xs))} / ${rate(median(xs))})`;
  const losses = (xs: number[]) => xs.map((l) => l.toFixed(4)).join(" → ");
  console.log(`\nours (tfjs backend "${t.backend}", ${t.backendNote}): ${summary(ours)}`);
  console.log(`  training loss per epoch ${losses(t.loss)}`);
  if (theirs.length > 0) {
    console.log(`sklearn MLPClassifier ${peerVersion}: ${summary(theirs)}`);
    console.log(`  training loss per epoch ${losses(peerLoss)}`);
    console.log(
      `ours/sklearn fit time: ${(Math.min(...ours) / Math.min(...theirs)).toFixed(2)}× (min), ` +
        `${(median(ours) / median(theirs)).toFixed(2)}× (median); > 1: ours is slower; ${load()} at the end`,
    );
  }
  if (peerNote) console.log(`sklearn MLPClassifier: ${peerNote}`);
  const warning = loadWarning(
    peerThreads === "1" ? "" : " (or compare with --peer-threads 1: our wasm backend runs on one thread)",
  );
  if (warning) console.log(warning);
} finally {
  await peer?.close();
  rmSync(dir, { recursive: true, force: true });
}
