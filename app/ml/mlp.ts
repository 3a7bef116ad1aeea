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
 * much again as the step on small networks). tfjs-layers builds and
 * initializes the layers; the step is ours: the forward pass over the
 * layers' variables with a dense op whose gradient avoids the wasm backend's
 * slow transposed products, tf.variableGrads, and Adam on float32 arrays
 * (one read and one write per variable instead of ~10 tensor ops). Each
 * minibatch's input is written when it is trained on (EncodedRows,
 * preprocess.ts), never the whole rows × features matrix: the same float32
 * values as gathered from that matrix, so the same weights. Every
 * training row is trained
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
import type { EncodedRows } from "./preprocess";
import { mulberry32 } from "./trees/binning";
import { abortError } from "./trees/grow";
import type { Dataset, Task } from "./trees/types";
import { COLLECT_AFTER_BYTES, collectGarbage } from "./work/gc";

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

/**
 * A Dataset as rows written on demand (EncodedRows), checked finite: the
 * network reads its input one minibatch at a time, so the input costs
 * batch × features, not rows × features, beside the caller's data.
 */
export function datasetRows(data: Dataset): EncodedRows {
  const columns = data.features.map((f) => f.values);
  const width = columns.length;
  data.features.forEach((f) => {
    if (f.values.length !== data.rows) throw new Error(`Feature "${f.name}" has the wrong length`);
  });
  return {
    rows: data.rows,
    names: data.features.map((f) => f.name),
    fill(at, out) {
      for (let r = 0; r < at.length; r++) {
        const row = at[r]!;
        const base = r * width;
        for (let j = 0; j < width; j++) out[base + j] = columns[j]![row]!;
      }
    },
    firstNonFinite() {
      for (const f of data.features) {
        for (let r = 0; r < data.rows; r++) {
          if (!Number.isFinite(f.values[r]!)) return { feature: f.name, row: r };
        }
      }
      return undefined;
    },
  };
}

/** `rows` (row indices) of the input as a float32 tensor, rows × features. */
function inputBatch(tf: typeof TF, input: EncodedRows, rows: ArrayLike<number>): TF.Tensor2D {
  const F = input.names.length;
  const x = new Float32Array(rows.length * F);
  input.fill(rows, x);
  return tf.tensor2d(x, [rows.length, F]);
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

/**
 * A batch's mean loss, its correct labels and the gradient of the mean loss
 * with respect to the logits, from the outputs `out` (rows × K) of the rows
 * `at` of the targets Y. The losses are the ones Keras and tfjs-layers compile
 * for these tasks: squared error; binary and categorical cross-entropy with
 * the outputs clipped to [1e-7, 1 − 1e-7] (tf.metrics.binaryCrossentropy,
 * categoricalCrossentropy); accuracy as tf.metrics.binaryAccuracy (output >
 * 0.5) and categoricalAccuracy (the first largest output).
 */
function headLoss(
  out: Float32Array,
  Y: Float32Array,
  at: Int32Array,
  K: number,
  task: Task,
): { loss: number; correct: number; grad: Float32Array } {
  const B = at.length;
  const grad = new Float32Array(B * K);
  const eps = 1e-7;
  const clip = (p: number) => Math.min(Math.max(p, eps), 1 - eps);
  let loss = 0;
  let correct = 0;
  for (let r = 0; r < B; r++) {
    const row = at[r]!;
    if (task === "regression") {
      const d = out[r]! - Y[row]!;
      loss += d * d;
      grad[r] = (2 * d) / B;
    } else if (task === "binary") {
      const p = out[r]!;
      const y = Y[row]!;
      loss -= y * Math.log(clip(p)) + (1 - y) * Math.log(1 - clip(p));
      grad[r] = (p - y) / B;
      if ((p > 0.5 ? 1 : 0) === y) correct++;
    } else {
      let sum = 0;
      let best = 0;
      let truth = 0;
      for (let k = 0; k < K; k++) {
        const p = out[r * K + k]!;
        sum += p;
        if (p > out[r * K + best]!) best = k;
        const y = Y[row * K + k]!;
        if (y > Y[row * K + truth]!) truth = k;
        grad[r * K + k] = (p - y) / B;
      }
      loss -= Math.log(clip(out[r * K + truth]! / sum));
      if (best === truth) correct++;
    }
  }
  return { loss: loss / B, correct, grad };
}

/**
 * Adam (Kingma & Ba, https://arxiv.org/abs/1412.6980) with tfjs's defaults
 * (β1 0.9, β2 0.999, ε 1e-7: tf.train.adam), its moments and the weights kept
 * here as float32 arrays. tfjs's own optimizer runs about ten tensor ops per
 * variable and step, whose fixed cost dominates a small network's step on
 * the wasm backend; this reads each gradient once and assigns each weight
 * once.
 */
class Adam {
  private readonly state: { m: Float32Array; v: Float32Array; w: Float32Array }[];
  private t = 0;
  constructor(
    private readonly tf: typeof TF,
    private readonly variables: TF.Variable[],
    private readonly lr: number,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly epsilon = 1e-7,
  ) {
    this.state = variables.map((v) => ({
      m: new Float32Array(v.size),
      v: new Float32Array(v.size),
      w: Float32Array.from(v.dataSync() as Float32Array),
    }));
  }

  step(grads: TF.Tensor[]): void {
    const { beta1, beta2, epsilon, lr } = this;
    this.t++;
    const c1 = 1 - beta1 ** this.t;
    const c2 = 1 - beta2 ** this.t;
    this.variables.forEach((variable, i) => {
      const g = grads[i]!.dataSync() as Float32Array;
      const { m, v, w } = this.state[i]!;
      for (let j = 0; j < w.length; j++) {
        const gj = g[j]!;
        m[j] = beta1 * m[j]! + (1 - beta1) * gj;
        v[j] = beta2 * v[j]! + (1 - beta2) * gj * gj;
        w[j] = w[j]! - (lr * (m[j]! / c1)) / (Math.sqrt(v[j]! / c2) + epsilon);
      }
      const next = this.tf.tensor(w, variable.shape, "float32");
      variable.assign(next);
      next.dispose();
    });
  }
}

/** Lets pending events (an abort) run when the loop has held the thread for 20 ms. */
function yielder(): () => Promise<void> {
  let last = performance.now();
  return async () => {
    if (performance.now() - last > 20) {
      await new Promise((resolve) => setImmediate(resolve));
      last = performance.now();
    }
  };
}

/**
 * Fits the network on preprocessed features (see the file comment): a
 * Dataset, or EncodedRows (preprocess.ts encodeRows) whose minibatches are
 * written as they are trained on.
 */
export async function fitMlp(
  train: { data: Dataset | EncodedRows; y: Float64Array },
  o: MlpFitOptions,
): Promise<MlpModelJSON> {
  const { y } = train;
  const input = "features" in train.data ? datasetRows(train.data) : train.data;
  const n = input.rows;
  checkOptions(o, n);
  if (y.length !== n) throw new Error(`y has ${y.length} values for ${n} rows`);
  for (let i = 0; i < n; i++)
    if (!Number.isFinite(y[i]!)) throw new Error(`The target is not finite at row ${i}`);
  const F = input.names.length;
  if (F === 0) throw new Error("There are no features");
  const bad = input.firstNonFinite();
  if (bad) {
    throw new Error(
      `Feature "${bad.feature}" has a missing or non-finite value at row ${bad.row}: the network needs imputed features`,
    );
  }
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
  const adam = new Adam(tf, variables, o.learningRate);
  const pause = yielder();
  // The training forward pass, over the Dense layers' own variables: x·W + b with its own
  // gradient, then the layer's activation and (training) dropout, as the layers compute them.
  // tfjs's MatMul gradient multiplies by transposed operands (matMul(a, b, transposeA/B)), which
  // the wasm backend runs many times slower than a transpose then a plain matMul (a 256×64 by
  // 64×64 product, measured side by side: 7.7 ms transposed, 0.3 ms transpose + matMul); the
  // gradient here does the latter, with the same products.
  const affine = tf.customGrad((...args) => {
    const [x, w, b, save] = args as [TF.Tensor2D, TF.Tensor2D, TF.Tensor1D, TF.GradSaveFunc];
    save([x, w]);
    return {
      value: tf.add(tf.matMul(x, w), b) as TF.Tensor2D,
      gradFunc: (dy: TF.Tensor, saved: TF.Tensor[]) => [
        tf.matMul(dy as TF.Tensor2D, tf.transpose(saved[1]!) as TF.Tensor2D),
        tf.matMul(tf.transpose(saved[0]!) as TF.Tensor2D, dy as TF.Tensor2D),
        tf.sum(dy, 0),
      ],
    };
  });
  const denseVars = model.layers
    .filter((layer) => layer.getClassName() === "Dense")
    .map((layer) => layer.trainableWeights.map((w) => w.read()) as [TF.Tensor2D, TF.Tensor1D]);
  const hiddenActivation = { relu: tf.relu, tanh: tf.tanh, sigmoid: tf.sigmoid }[o.activation];
  const outputOf = (z: TF.Tensor): TF.Tensor =>
    output === "sigmoid" ? tf.sigmoid(z) : output === "softmax" ? tf.softmax(z, -1) : z;
  /** The output layer's pre-activation (logits), from the features. */
  const logits = (x: TF.Tensor, dropoutSeeds?: number[]): TF.Tensor => {
    let h = x as TF.Tensor2D;
    let z = h;
    denseVars.forEach(([w, b], l) => {
      z = affine(h, w, b);
      if (l < denseVars.length - 1) {
        h = hiddenActivation(z) as TF.Tensor2D;
        if (dropoutSeeds) h = tf.dropout(h, o.dropout, undefined, dropoutSeeds[l]) as TF.Tensor2D;
      }
    });
    return z;
  };
  // The batch's mean loss from the logits, as one op: the loss and accuracy are computed here
  // from the outputs read back once, and the gradient with respect to the logits is the
  // closed form of these losses, (output − target) / rows (2 (output − target) / rows for
  // squared error), instead of some twenty taped tensor ops per step.
  let batch: Int32Array = new Int32Array(0);
  let batchCorrect = 0;
  const head = tf.customGrad((...args) => {
    const z = args[0] as TF.Tensor2D;
    const out = outputOf(z);
    const { loss: value, correct, grad } = headLoss(out.dataSync() as Float32Array, Y, batch, K, o.task);
    batchCorrect = correct;
    return {
      value: tf.scalar(value),
      gradFunc: (dy: TF.Tensor) => [tf.mul(tf.tensor2d(grad, [batch.length, K]), dy)],
    };
  });

  // The validation rows are held as one tensor; the training rows are written a minibatch at a time.
  const validation =
    held > 0
      ? tf.tidy(() => {
          const yAll = tf.tensor2d(Y, [n, K]);
          return [inputBatch(tf, input, valIdx), tf.gather(yAll, tf.tensor1d(valIdx, "int32"))] as [
            TF.Tensor,
            TF.Tensor,
          ];
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
      let lossSum = 0;
      let correctSum = 0;
      for (let b = 0; b < trainIdx.length; b += o.batchSize) {
        if (o.signal?.aborted) break;
        // A new dropout seed per batch and layer keeps masks seeded yet varied.
        const seeds = dropouts.length > 0 ? dropouts.map(() => seedOf()) : undefined;
        const at = trainIdx.subarray(b, Math.min(b + o.batchSize, trainIdx.length));
        batch = at;
        const { value, grads } = tf.tidy(() => {
          const xb = inputBatch(tf, input, at);
          return tf.variableGrads(() => head(logits(xb, seeds)) as TF.Scalar, variables);
        });
        lossSum += value.dataSync()[0]! * at.length;
        correctSum += batchCorrect;
        adam.step(variables.map((v) => grads[v.name]!));
        tf.dispose([value, ...Object.values(grads)]);
        await pause();
      }
      if (o.signal?.aborted) throw abortError(o.signal);
      const m = trainIdx.length;
      const logs: EpochLogs = { loss: lossSum / m };
      if (classify) logs.accuracy = correctSum / m;
      loss.push(logs.loss);
      if (validation) {
        const [vl, va] = tf.tidy(() => {
          const pred = outputOf(logits(validation[0]));
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
      // An epoch leaves tens of MiB of tfjs garbage (tensor objects, minibatch arrays): V8 let the
      // worker's heap grow to 115 MiB over three epochs of the flights example, 63 MiB with this.
      collectGarbage(COLLECT_AFTER_BYTES);
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
      featureNames: input.names,
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

/** Rows scored at a time: the layers' activations cost chunk × units, not rows × units. */
const PREDICT_CHUNK = 2048;

/**
 * Scores preprocessed features (named as in training) with the network, in
 * float64, a chunk of rows at a time.
 */
export function predictMlp(model: MlpModelJSON, data: Dataset): MlpPredictions {
  const byName = new Map(data.features.map((f) => [f.name, f.values]));
  const n = data.rows;
  const columns = model.featureNames.map((name) => {
    const values = byName.get(name);
    if (!values) throw new Error(`The data has no feature "${name}", which the model was trained on`);
    return values;
  });
  let width = columns.length;
  model.layers.forEach((layer, l) => {
    if (layer.inputs !== width) throw new Error(`Layer ${l} takes ${layer.inputs} inputs, not ${width}`);
    width = layer.units;
  });
  const regression = model.output === "identity";
  const K = model.output === "sigmoid" ? 2 : width;
  const prediction = regression ? new Float64Array(n) : undefined;
  const probabilities = regression ? undefined : new Float64Array(n * K);
  const classIndex = regression ? undefined : new Int32Array(n);
  const { mean, std } = model.targetScale ?? { mean: 0, std: 1 };
  const last = model.layers.length - 1;
  const act = ACTIVATIONS[model.activation];
  for (let start = 0; start < n; start += PREDICT_CHUNK) {
    const rows = Math.min(PREDICT_CHUNK, n - start);
    let w = columns.length;
    let h = new Float64Array(rows * w);
    columns.forEach((values, j) => {
      for (let r = 0; r < rows; r++) h[r * w + j] = values[start + r]!;
    });
    model.layers.forEach((layer, l) => {
      const { units, weights, bias } = layer;
      const out = new Float64Array(rows * units);
      for (let r = 0; r < rows; r++) {
        const o = r * units;
        for (let j = 0; j < units; j++) out[o + j] = bias[j]!;
        for (let i = 0; i < w; i++) {
          const x = h[r * w + i]!;
          if (x === 0) continue;
          const at = i * units;
          for (let j = 0; j < units; j++) out[o + j]! += x * weights[at + j]!;
        }
        if (l < last) for (let j = 0; j < units; j++) out[o + j] = act(out[o + j]!);
      }
      h = out;
      w = units;
    });
    if (prediction) {
      for (let r = 0; r < rows; r++) prediction[start + r] = h[r]! * std + mean;
      continue;
    }
    for (let r = 0; r < rows; r++) {
      const p = probabilities!.subarray((start + r) * K, (start + r + 1) * K);
      if (model.output === "sigmoid") {
        const s = ACTIVATIONS.sigmoid(h[r]!);
        p[0] = 1 - s;
        p[1] = s;
      } else {
        let max = Number.NEGATIVE_INFINITY;
        for (let k = 0; k < K; k++) max = Math.max(max, h[r * K + k]!);
        let sum = 0;
        for (let k = 0; k < K; k++) sum += Math.exp(h[r * K + k]! - max);
        for (let k = 0; k < K; k++) p[k] = Math.exp(h[r * K + k]! - max) / sum;
      }
      // As the ONNX graph decides: binary on [1 − p, p] (class 1 iff p > 0.5), multiclass on the
      // logits (softmax is monotone; float64 logits never tie where rounded probabilities might).
      const decide = model.output === "sigmoid" ? p : h.subarray(r * K);
      let best = 0;
      for (let k = 1; k < K; k++) if (decide[k]! > decide[best]!) best = k;
      classIndex![start + r] = best;
    }
  }
  return prediction ? { prediction } : { probabilities: probabilities!, classIndex: classIndex! };
}
