/**
 * A dense network (multi-layer perceptron) trained with TensorFlow.js, and
 * its native prediction.
 *
 * Backend (issue 4): `@tensorflow/tfjs-node` when it is installed (native
 * TensorFlow), else `@tensorflow/tfjs-backend-wasm` (XNNPACK, single-threaded
 * in Node), else tfjs's pure-JS CPU backend. `DAGWOOD_TFJS_BACKEND`
 * (tensorflow | wasm | cpu) asks for one first. The backend that ran is
 * recorded in the model (`training.backend`). tfjs is imported lazily, so
 * scoring a model (app/ml/model.ts) never loads it.
 *
 * The fit: dense hidden layers (Glorot-uniform kernels, zero biases) with an
 * optional dropout after each, then the output layer — regression: 1 linear
 * unit on the standardized target, mean squared error; binary: 1 sigmoid
 * unit, binary cross-entropy; multiclass: softmax, categorical cross-entropy —
 * trained with Adam on minibatches, in a plain loop of optimizer steps (not
 * tfjs-layers' model.fit, whose per-batch callbacks and metrics cost about as
 * much again as the step on small networks). Every training row is trained
 * on unless `validationFraction` holds some out for val_loss: on small data
 * a held-out tenth costs accuracy (iris: 0.8 points on the mean over 10
 * splits), and scikit-learn's MLP holds none out by default either. Seeded
 * end to end: the initializer seeds, the validation rows, the per-epoch row
 * order (shuffled here with a seeded PRNG) and the dropout masks (a fresh
 * seed per batch) all come from `seed`, so the same data, params and seed
 * give the same weights (on the same backend).
 *
 * The model: float32 weights as plain arrays (float32-exact numbers). Native
 * prediction evaluates that float32 network in float64 — as the ONNX export
 * does (app/ml/onnx/mlp.ts, DOUBLE MatMul/Add) — so native and ONNX agree to
 * ~1e-12 before the outputs are rounded to float32, whatever the target's
 * scale. (A float32 graph cannot be matched to 1e-5 on a regression target in
 * the thousands: onnxruntime's sgemm accumulation order is not reproducible
 * here.) The float64 evaluation differs from tfjs's own float32 forward pass
 * by float32 rounding only (~1e-6 relative).
 */
import { createRequire } from "node:module";
import { dirname } from "node:path";
import type * as TF from "@tensorflow/tfjs";
import { mulberry32 } from "./trees/binning";
import { abortError } from "./trees/grow";
import type { Dataset, Task } from "./trees/types";

export const MLP_FORMAT = "dagwood.mlp/1";

export type MlpActivation = "relu" | "tanh" | "sigmoid";
export type TfBackendName = "tensorflow" | "wasm" | "cpu";
export const TF_BACKENDS: readonly TfBackendName[] = ["tensorflow", "wasm", "cpu"];

export interface MlpLayerJSON {
  inputs: number;
  units: number;
  /** inputs × units, row-major (weights[i * units + j] links input i to unit j), float32-exact. */
  weights: number[];
  /** One per unit, float32-exact. */
  bias: number[];
}

export interface MlpModelJSON {
  format: typeof MLP_FORMAT;
  task: Task;
  /** The encoded feature columns, in the order the first layer reads them. */
  featureNames: string[];
  /** The hidden layers' activation. */
  activation: MlpActivation;
  /** The hidden layers, then the output layer (1 unit, or K for multiclass). */
  layers: MlpLayerJSON[];
  /** The output layer's activation: identity (regression), sigmoid (binary), softmax (multiclass). */
  output: "identity" | "sigmoid" | "softmax";
  /** Classification: the number of classes. */
  numClasses?: number;
  /** Regression: the network predicts the standardized target; prediction = mean + std × output. */
  targetScale?: { mean: number; std: number };
  training: MlpTrainingRecord;
}

export interface MlpTrainingRecord {
  /** The tfjs backend that ran the fit, and why that one. */
  backend: TfBackendName;
  backendNote: string;
  epochs: number;
  batchSize: number;
  learningRate: number;
  dropout: number;
  seed: number;
  trainRows: number;
  validationRows: number;
  /** Per epoch: the training loss (regression: MSE of the standardized target). */
  loss: number[];
  valLoss?: number[];
  ms: number;
}

export interface MlpFitOptions {
  task: Task;
  /** Required for multiclass. */
  numClasses?: number;
  /** Units per hidden layer; [] is a linear / logistic model. */
  hidden: number[];
  activation: MlpActivation;
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Dropout rate after each hidden layer, 0 ≤ rate < 1. */
  dropout: number;
  seed: number;
  /** Rows held out (seeded) for val_loss; 0: none. */
  validationFraction: number;
  /** Checked between batches: training stops and the fit throws an AbortError. */
  signal?: AbortSignal;
  onEpoch?: (epoch: number, logs: EpochLogs) => void;
  /** Asks for this backend first (else: DAGWOOD_TFJS_BACKEND, then tensorflow → wasm → cpu). */
  backend?: TfBackendName;
}

export interface EpochLogs {
  loss: number;
  valLoss?: number;
  accuracy?: number;
  valAccuracy?: number;
}

export interface TfBackend {
  name: TfBackendName;
  /** Why this backend: what was tried before it. */
  note: string;
  tf: typeof TF;
}

const require = createRequire(import.meta.url);
/** Which backends could be set up (memoized: a failed import stays failed). */
const available = new Map<TfBackendName, Promise<string | null>>();

async function loadTf(): Promise<typeof TF> {
  return await import("@tensorflow/tfjs");
}

/** Registers `name` with tfjs; resolves to null when ready, else to why not. */
function prepare(tf: typeof TF, name: TfBackendName): Promise<string | null> {
  let ready = available.get(name);
  if (!ready) {
    ready = (async () => {
      try {
        if (name === "tensorflow") {
          // Optional and not a dependency: a variable specifier keeps bundlers and tsc from resolving it.
          const specifier = "@tensorflow/tfjs-node";
          await import(specifier);
        } else if (name === "wasm") {
          const wasm = await import("@tensorflow/tfjs-backend-wasm");
          // In Node the .wasm binaries are read from the package's dist/ folder, found here.
          wasm.setWasmPaths(`${dirname(require.resolve("@tensorflow/tfjs-backend-wasm"))}/`);
        }
        return (await tf.setBackend(name)) ? null : `tfjs could not initialize the ${name} backend`;
      } catch (e) {
        const message = (e as Error).message.split("\n")[0]!;
        return /Cannot find (module|package)/.test(message)
          ? `${name === "tensorflow" ? "@tensorflow/tfjs-node" : `the ${name} backend`} is not installed`
          : message;
      }
    })();
    available.set(name, ready);
  }
  return ready;
}

/**
 * Selects the tfjs backend: `preferred` (or DAGWOOD_TFJS_BACKEND) first, then
 * tensorflow (tfjs-node), wasm, cpu — the first that initializes.
 */
export async function selectBackend(preferred?: TfBackendName): Promise<TfBackend> {
  const tf = await loadTf();
  const env = process.env.DAGWOOD_TFJS_BACKEND as TfBackendName | undefined;
  const first = preferred ?? (env && TF_BACKENDS.includes(env) ? env : undefined);
  const order = first ? [first, ...TF_BACKENDS.filter((b) => b !== first)] : [...TF_BACKENDS];
  const skipped: string[] = [];
  for (const name of order) {
    const why = await prepare(tf, name);
    if (why === null) {
      if (tf.getBackend() !== name) await tf.setBackend(name);
      const note = skipped.length > 0 ? `${skipped.join("; ")}` : `${name} was the first choice`;
      return { name, note, tf };
    }
    skipped.push(`${name}: ${why}`);
  }
  throw new Error(`No TensorFlow.js backend could be initialized (${skipped.join("; ")})`);
}

/** The encoded features as a row-major float32 matrix, checked finite. */
function featureMatrix(data: Dataset): Float32Array {
  const F = data.features.length;
  const x = new Float32Array(data.rows * F);
  data.features.forEach((f, j) => {
    if (f.values.length !== data.rows) throw new Error(`Feature "${f.name}" has the wrong length`);
    for (let r = 0; r < data.rows; r++) {
      const v = f.values[r]!;
      if (!Number.isFinite(v)) {
        throw new Error(
          `Feature "${f.name}" has a missing or non-finite value at row ${r}: the network needs imputed features`,
        );
      }
      x[r * F + j] = v;
    }
  });
  return x;
}

function checkOptions(o: MlpFitOptions, rows: number): void {
  const bad = (what: string) => {
    throw new Error(what);
  };
  if (rows === 0) bad("There are no training rows");
  if (!o.hidden.every((u) => Number.isInteger(u) && u >= 1)) bad("hidden must list whole numbers ≥ 1");
  if (!(Number.isInteger(o.epochs) && o.epochs >= 1))
    bad(`epochs must be a whole number ≥ 1, got ${o.epochs}`);
  if (!(Number.isInteger(o.batchSize) && o.batchSize >= 1))
    bad(`batchSize must be a whole number ≥ 1, got ${o.batchSize}`);
  if (!(o.learningRate > 0 && Number.isFinite(o.learningRate)))
    bad(`learningRate must be > 0, got ${o.learningRate}`);
  if (!(o.dropout >= 0 && o.dropout < 1)) bad(`dropout must be in [0, 1), got ${o.dropout}`);
  if (!(o.validationFraction >= 0 && o.validationFraction < 1))
    bad(`validationFraction must be in [0, 1), got ${o.validationFraction}`);
  if (o.task === "multiclass" && !(o.numClasses && o.numClasses >= 2)) bad("multiclass needs numClasses ≥ 2");
}

/** Fisher–Yates with the given PRNG, in place. */
function shuffleInPlace(a: Int32Array, rand: () => number): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
}

/** Fits the network on preprocessed features (see the file comment). */
export async function fitMlp(
  train: { data: Dataset; y: Float64Array },
  o: MlpFitOptions,
): Promise<MlpModelJSON> {
  const { data, y } = train;
  const n = data.rows;
  checkOptions(o, n);
  if (y.length !== n) throw new Error(`y has ${y.length} values for ${n} rows`);
  for (let i = 0; i < n; i++)
    if (!Number.isFinite(y[i]!)) throw new Error(`The target is not finite at row ${i}`);
  const F = data.features.length;
  if (F === 0) throw new Error("There are no features");
  const started = performance.now();
  const { tf, name: backend, note } = await selectBackend(o.backend);
  o.signal?.throwIfAborted();

  const rand = mulberry32(o.seed ^ 0x5eed);
  const seedOf = () => Math.floor(rand() * 2 ** 31);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  shuffleInPlace(order, rand);
  const held = Math.min(Math.floor(n * o.validationFraction), n - 1);
  const valIdx = order.slice(0, held);
  const trainIdx = order.slice(held);

  const K = o.task === "multiclass" ? o.numClasses! : 1;
  let targetScale: MlpModelJSON["targetScale"];
  const Y = new Float32Array(n * K);
  if (o.task === "regression") {
    let sum = 0;
    for (const i of trainIdx) sum += y[i]!;
    const mean = sum / trainIdx.length;
    let ss = 0;
    for (const i of trainIdx) ss += (y[i]! - mean) ** 2;
    const std = Math.sqrt(ss / trainIdx.length);
    targetScale = { mean, std: std > 0 ? std : 1 };
    for (let i = 0; i < n; i++) Y[i] = (y[i]! - targetScale.mean) / targetScale.std;
  } else if (o.task === "binary") {
    for (let i = 0; i < n; i++) Y[i] = y[i]!;
  } else {
    for (let i = 0; i < n; i++) Y[i * K + y[i]!] = 1;
  }

  const output = o.task === "regression" ? "identity" : o.task === "binary" ? "sigmoid" : "softmax";
  const model = tf.sequential();
  const dropouts: TF.layers.Layer[] = [];
  const dense = (units: number, activation: "relu" | "tanh" | "sigmoid" | "linear" | "softmax") =>
    tf.layers.dense({
      units,
      activation,
      kernelInitializer: tf.initializers.glorotUniform({ seed: seedOf() }),
      biasInitializer: "zeros",
      ...(model.layers.length === 0 ? { inputShape: [F] } : {}),
    });
  for (const units of o.hidden) {
    model.add(dense(units, o.activation));
    if (o.dropout > 0) {
      const layer = tf.layers.dropout({ rate: o.dropout, seed: seedOf() });
      dropouts.push(layer);
      model.add(layer);
    }
  }
  model.add(dense(K, output === "identity" ? "linear" : output));
  const optimizer = tf.train.adam(o.learningRate);
  const classify = o.task !== "regression";
  // The losses Keras/tfjs-layers compile for these names (with their probability clipping), per row.
  const rowLoss = (yTrue: TF.Tensor, yPred: TF.Tensor): TF.Tensor =>
    o.task === "regression"
      ? tf.metrics.meanSquaredError(yTrue, yPred)
      : o.task === "binary"
        ? tf.metrics.binaryCrossentropy(yTrue, yPred)
        : tf.metrics.categoricalCrossentropy(yTrue, yPred);
  const rowCorrect = (yTrue: TF.Tensor, yPred: TF.Tensor): TF.Tensor =>
    o.task === "binary"
      ? tf.metrics.binaryAccuracy(yTrue, yPred)
      : tf.metrics.categoricalAccuracy(yTrue, yPred);
  // Built by its first call; the trainable variables are then known.
  tf.tidy(() => {
    model.predict(tf.zeros([1, F]));
  });
  const variables = model.trainableWeights.map((w) => w.read() as TF.Variable);

  const xAll = tf.tensor2d(featureMatrix(data), [n, F]);
  const yAll = tf.tensor2d(Y, [n, K]);
  const validation =
    held > 0
      ? tf.tidy(() => {
          const at = tf.tensor1d(valIdx, "int32");
          return [tf.gather(xAll, at), tf.gather(yAll, at)] as [TF.Tensor, TF.Tensor];
        })
      : undefined;
  const loss: number[] = [];
  const valLoss: number[] = [];
  try {
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      shuffleInPlace(trainIdx, rand);
      // One Adam step per minibatch (a plain loop: tfjs-layers' model.fit costs about as much
      // again per step in callbacks and per-batch metrics). The epoch's loss and accuracy are
      // the means over its rows of the per-batch values, as model.fit reports them.
      let lossSum: TF.Tensor = tf.scalar(0);
      let correctSum: TF.Tensor = tf.scalar(0);
      for (let b = 0; b < trainIdx.length; b += o.batchSize) {
        if (o.signal?.aborted) break;
        // tfjs reuses a Dropout layer's seed for every mask; a new seed per batch keeps masks seeded yet varied.
        for (const layer of dropouts) (layer as unknown as { seed?: number }).seed = seedOf();
        const at = trainIdx.subarray(b, Math.min(b + o.batchSize, trainIdx.length));
        let correct: TF.Tensor | undefined;
        const next = tf.tidy(() => {
          const idx = tf.tensor1d(at, "int32");
          const xb = tf.gather(xAll, idx);
          const yb = tf.gather(yAll, idx);
          const cost = optimizer.minimize(
            () => {
              const pred = model.apply(xb, { training: true }) as TF.Tensor;
              if (classify) correct = tf.keep(tf.sum(rowCorrect(yb, pred)));
              return tf.mean(rowLoss(yb, pred)) as TF.Scalar;
            },
            true,
            variables,
          )!;
          const sums = [tf.add(lossSum, tf.mul(cost, at.length))];
          if (correct) sums.push(tf.add(correctSum, correct));
          return sums;
        });
        correct?.dispose();
        tf.dispose(lossSum);
        lossSum = next[0]!;
        if (next[1]) {
          tf.dispose(correctSum);
          correctSum = next[1];
        }
        await new Promise((r) => setImmediate(r));
      }
      if (o.signal?.aborted) {
        tf.dispose([lossSum, correctSum]);
        throw abortError(o.signal);
      }
      const m = trainIdx.length;
      const logs: EpochLogs = { loss: lossSum.dataSync()[0]! / m };
      if (classify) logs.accuracy = correctSum.dataSync()[0]! / m;
      tf.dispose([lossSum, correctSum]);
      loss.push(logs.loss);
      if (validation) {
        const [vl, va] = tf.tidy(() => {
          const pred = model.apply(validation[0], { training: false }) as TF.Tensor;
          return [
            tf.mean(rowLoss(validation[1], pred)),
            classify ? tf.mean(rowCorrect(validation[1], pred)) : tf.scalar(0),
          ];
        });
        const v = vl!.dataSync()[0]!;
        logs.valLoss = v;
        valLoss.push(v);
        if (classify) logs.valAccuracy = va!.dataSync()[0]!;
        tf.dispose([vl!, va!]);
      }
      if (!Number.isFinite(logs.loss)) {
        throw new Error(
          `The training loss became ${logs.loss} at epoch ${epoch + 1}: lower learningRate, or check the features for extreme values`,
        );
      }
      o.onEpoch?.(epoch, logs);
    }
    const layers: MlpLayerJSON[] = [];
    for (const layer of model.layers) {
      if (layer.getClassName() !== "Dense") continue;
      const [kernel, bias] = layer.getWeights();
      const [inputs, units] = kernel!.shape as [number, number];
      layers.push({
        inputs,
        units,
        weights: Array.from(kernel!.dataSync()),
        bias: Array.from(bias!.dataSync()),
      });
    }
    return {
      format: MLP_FORMAT,
      task: o.task,
      featureNames: data.features.map((f) => f.name),
      activation: o.activation,
      layers,
      output,
      ...(classify ? { numClasses: o.task === "binary" ? 2 : K } : {}),
      ...(targetScale ? { targetScale } : {}),
      training: {
        backend,
        backendNote: note,
        epochs: loss.length,
        batchSize: o.batchSize,
        learningRate: o.learningRate,
        dropout: o.dropout,
        seed: o.seed,
        trainRows: trainIdx.length,
        validationRows: held,
        loss,
        ...(held > 0 ? { valLoss } : {}),
        ms: performance.now() - started,
      },
    };
  } finally {
    model.dispose();
    optimizer.dispose();
    xAll.dispose();
    yAll.dispose();
    for (const t of validation ?? []) t.dispose();
  }
}

export interface MlpPredictions {
  /** Regression: the predicted value per row. */
  prediction?: Float64Array;
  /** Classification: rows × classes, row-major. */
  probabilities?: Float64Array;
  /** Classification: the most probable class, the first on ties (as the ONNX graph's ArgMax). */
  classIndex?: Int32Array;
}

const ACTIVATIONS: Record<MlpActivation, (x: number) => number> = {
  relu: (x) => Math.max(x, 0),
  tanh: Math.tanh,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
};

/** Scores preprocessed features (named as in training) with the network, in float64. */
export function predictMlp(model: MlpModelJSON, data: Dataset): MlpPredictions {
  const byName = new Map(data.features.map((f) => [f.name, f.values]));
  const n = data.rows;
  let width = model.featureNames.length;
  let h = new Float64Array(n * width);
  model.featureNames.forEach((name, j) => {
    const values = byName.get(name);
    if (!values) throw new Error(`The data has no feature "${name}", which the model was trained on`);
    for (let r = 0; r < n; r++) h[r * width + j] = values[r]!;
  });
  const last = model.layers.length - 1;
  model.layers.forEach((layer, l) => {
    if (layer.inputs !== width) throw new Error(`Layer ${l} takes ${layer.inputs} inputs, not ${width}`);
    const { units, weights, bias } = layer;
    const out = new Float64Array(n * units);
    const act = l < last ? ACTIVATIONS[model.activation] : undefined;
    for (let r = 0; r < n; r++) {
      const o = r * units;
      for (let j = 0; j < units; j++) out[o + j] = bias[j]!;
      for (let i = 0; i < width; i++) {
        const x = h[r * width + i]!;
        if (x === 0) continue;
        const w = i * units;
        for (let j = 0; j < units; j++) out[o + j]! += x * weights[w + j]!;
      }
      if (act) for (let j = 0; j < units; j++) out[o + j] = act(out[o + j]!);
    }
    h = out;
    width = units;
  });
  if (model.output === "identity") {
    const { mean, std } = model.targetScale ?? { mean: 0, std: 1 };
    return { prediction: h.map((z) => z * std + mean) };
  }
  const K = model.output === "sigmoid" ? 2 : width;
  const probabilities = new Float64Array(n * K);
  const classIndex = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    if (model.output === "sigmoid") {
      const p = ACTIVATIONS.sigmoid(h[r]!);
      probabilities[r * 2] = 1 - p;
      probabilities[r * 2 + 1] = p;
    } else {
      let max = Number.NEGATIVE_INFINITY;
      for (let k = 0; k < K; k++) max = Math.max(max, h[r * K + k]!);
      let sum = 0;
      for (let k = 0; k < K; k++) sum += Math.exp(h[r * K + k]! - max);
      for (let k = 0; k < K; k++) probabilities[r * K + k] = Math.exp(h[r * K + k]! - max) / sum;
    }
    // As the ONNX graph decides: binary on [1 − p, p] (class 1 iff p > 0.5), multiclass on the
    // logits (softmax is monotone; float64 logits never tie where rounded probabilities might).
    const decide = model.output === "sigmoid" ? probabilities.subarray(r * 2, r * 2 + 2) : h.subarray(r * K);
    let best = 0;
    for (let k = 1; k < K; k++) if (decide[k]! > decide[best]!) best = k;
    classIndex[r] = best;
  }
  return { probabilities, classIndex };
}
