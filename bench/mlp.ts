/**
 * MLP training throughput (issue 4, Performance): 100,000 synthetic rows ×
 * 10 features, hidden [64, 64] relu, 5 epochs, batch 256, binary target;
 * prints rows/s (rows × epochs / fit seconds) and the tfjs backend that ran.
 *
 *   npx tsx bench/mlp.ts [--backend wasm|cpu|tensorflow] [--rows 100000]
 */
import { fitMlp, TF_BACKENDS, type TfBackendName } from "../app/ml/mlp";
import { mulberry32 } from "../app/ml/trees/binning";
import type { Dataset } from "../app/ml/trees/types";

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const backend = arg("backend") as TfBackendName | undefined;
if (backend && !TF_BACKENDS.includes(backend))
  throw new Error(`--backend must be one of ${TF_BACKENDS.join(", ")}`);
const rows = Number(arg("rows") ?? 100_000);
const F = 10;
const EPOCHS = 5;

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

const started = performance.now();
const model = await fitMlp(
  { data, y },
  {
    task: "binary",
    hidden: [64, 64],
    activation: "relu",
    epochs: EPOCHS,
    batchSize: 256,
    learningRate: 0.001,
    dropout: 0,
    seed: 1,
    validationFraction: 0,
    ...(backend ? { backend } : {}),
  },
);
const seconds = (performance.now() - started) / 1000;
const t = model.training;
console.log(
  `MLP ${rows} rows × ${F} features, hidden [64, 64], ${EPOCHS} epochs, batch 256: ${seconds.toFixed(2)} s, ` +
    `${Math.round((rows * EPOCHS) / seconds).toLocaleString("en-US")} rows/s on tfjs backend "${t.backend}" (${t.backendNote}); ` +
    `loss ${t.loss.map((l) => l.toFixed(4)).join(" → ")}`,
);
