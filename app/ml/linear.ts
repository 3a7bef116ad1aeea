/**
 * Linear estimators over Float64Array feature columns: ridge regression in
 * closed form, and L2-regularized logistic regression (binary: sigmoid;
 * multiclass: multinomial softmax) fitted by L-BFGS with a backtracking line
 * search. Both are deterministic: no randomness, fixed summation order.
 *
 * Objectives (sums over rows, as scikit-learn's Ridge(alpha = l2) and
 * LogisticRegression(C = 1 / l2), so `l2` means the same there and here):
 *   ridge      ½ Σᵢ (yᵢ − b − w·xᵢ)² + ½ l2 ‖w‖²
 *   logistic   Σᵢ −log p(yᵢ | xᵢ) + ½ l2 ‖W‖²
 * The intercepts are never penalized.
 *
 * Scaling: the features are used as given. The train blocks standard-scale
 * numeric columns in the preprocessing (one-hot columns stay 0/1), so the
 * coefficients apply to the preprocessed features — exactly what the ONNX
 * graph feeds LinearRegressor/LinearClassifier after Scaler and
 * OneHotEncoder. Ridge centers the columns internally, which is the same
 * solution as the (p+1)×(p+1) normal equations with an unpenalized intercept
 * and better conditioned.
 *
 * Float32: coefficients and intercepts are rounded to float32 after fitting
 * (ridge then refits its intercept for the rounded coefficients), and
 * prediction uses the rounded values, so an ONNX model holding them as float
 * attributes scores the same up to float32 arithmetic.
 *
 * Missing values must be imputed before (the preprocessing does): a
 * non-finite feature value is an error, not a silent NaN model.
 */
import type { Dataset, Task } from "./trees";

export const LINEAR_FORMAT = "dagwood.linear/1";

export interface LinearModelJSON {
  format: typeof LINEAR_FORMAT;
  /** ridge: y = b + w·x; logistic: binary p(class 1) = σ(b + w·x), multiclass softmax over rows. */
  kind: "ridge" | "logistic";
  task: Task;
  /** The encoded feature columns, in the order the coefficients use. */
  featureNames: string[];
  /**
   * One row per output, float32-exact: regression and binary 1 row (binary:
   * the positive class, class index 1), multiclass K rows (class order).
   */
  coefficients: number[][];
  /** One per coefficient row, float32-exact. */
  intercepts: number[];
  /** Classification: the number of classes. */
  numClasses?: number;
  l2: number;
  /** The training objective per row (mean loss + penalty / n), with the rounded coefficients. */
  trainLoss: number;
  /** Optimizer iterations (0 for the closed-form ridge). */
  iterations: number;
  /** Whether the gradient fell below tol within maxIter (always true for ridge). */
  converged: boolean;
}

export interface LinearFitData {
  data: Dataset;
  /** regression: the value; binary: 0/1; multiclass: 0..numClasses-1. */
  y: Float64Array;
}

export interface RidgeOptions {
  /** L2 penalty on the coefficients (≥ 0); default 1. */
  l2?: number;
}

export interface LogisticOptions {
  /** L2 penalty on the coefficients (≥ 0; > 0 keeps separable data finite); default 1. */
  l2?: number;
  /** L-BFGS iterations at most; default 100. */
  maxIter?: number;
  /** Stop when every gradient entry of the per-row objective is below this; default 1e-6. */
  tol?: number;
  /** Number of classes (2 = binary); default: max(y) + 1. */
  numClasses?: number;
  /** Checked between iterations (the fit yields to the event loop so an abort lands). */
  signal?: AbortSignal;
  /** After each iteration: its index (0-based) and the per-row objective. */
  onIteration?: (iteration: number, loss: number) => void;
}

const f32 = Math.fround;

/** The feature columns, checked: same length as y, all values finite. */
function checkedColumns({ data, y }: LinearFitData): Float64Array[] {
  if (y.length !== data.rows) throw new Error(`y has ${y.length} values for ${data.rows} rows`);
  if (data.rows === 0) throw new Error("There are no training rows");
  for (let i = 0; i < y.length; i++) {
    if (!Number.isFinite(y[i]!)) throw new Error(`The target is not finite at row ${i}`);
  }
  return data.features.map((f) => {
    if (f.values.length !== data.rows) throw new Error(`Feature "${f.name}" has the wrong length`);
    for (let i = 0; i < f.values.length; i++) {
      if (!Number.isFinite(f.values[i]!)) {
        throw new Error(
          `Feature "${f.name}" has a missing or non-finite value at row ${i}: linear models need imputed features`,
        );
      }
    }
    return f.values;
  });
}

function checkL2(l2: number): number {
  if (!(Number.isFinite(l2) && l2 >= 0)) throw new Error(`l2 must be a finite number ≥ 0, got ${l2}`);
  return l2;
}

/** Solves A x = b in place for a symmetric positive definite A (row-major m×m); false when A is not. */
function choleskySolve(A: Float64Array, b: Float64Array, m: number): boolean {
  let maxDiag = 0;
  for (let j = 0; j < m; j++) maxDiag = Math.max(maxDiag, A[j * m + j]!);
  for (let j = 0; j < m; j++) {
    let d = A[j * m + j]!;
    for (let k = 0; k < j; k++) d -= A[j * m + k]! ** 2;
    if (!(d > 1e-12 * maxDiag)) return false;
    const ljj = Math.sqrt(d);
    A[j * m + j] = ljj;
    for (let i = j + 1; i < m; i++) {
      let s = A[i * m + j]!;
      for (let k = 0; k < j; k++) s -= A[i * m + k]! * A[j * m + k]!;
      A[i * m + j] = s / ljj;
    }
  }
  for (let i = 0; i < m; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= A[i * m + k]! * b[k]!;
    b[i] = s / A[i * m + i]!;
  }
  for (let i = m - 1; i >= 0; i--) {
    let s = b[i]!;
    for (let k = i + 1; k < m; k++) s -= A[k * m + i]! * b[k]!;
    b[i] = s / A[i * m + i]!;
  }
  return true;
}

function isConstant(x: Float64Array): boolean {
  const first = x[0]!;
  for (let i = 1; i < x.length; i++) if (x[i] !== first) return false;
  return true;
}

/**
 * A feature column, with the rows where it is nonzero when those are at
 * most a quarter (one-hot columns): sums then skip the zeros.
 */
interface Column {
  values: Float64Array;
  nonzero: Int32Array | null;
}

function indexColumn(values: Float64Array): Column {
  let count = 0;
  for (let i = 0; i < values.length; i++) if (values[i] !== 0) count++;
  if (count > values.length / 4) return { values, nonzero: null };
  const nonzero = new Int32Array(count);
  for (let i = 0, k = 0; i < values.length; i++) if (values[i] !== 0) nonzero[k++] = i;
  return { values, nonzero };
}

/** Σᵢ xᵢ rᵢ over a column. */
function columnDot({ values: x, nonzero }: Column, r: Float64Array): number {
  let s = 0;
  if (nonzero) for (const i of nonzero) s += x[i]! * r[i]!;
  else for (let i = 0; i < x.length; i++) s += x[i]! * r[i]!;
  return s;
}

/** z += w·x over a column. */
function addScaled(z: Float64Array, w: number, { values: x, nonzero }: Column): void {
  if (nonzero) for (const i of nonzero) z[i]! += w * x[i]!;
  else for (let i = 0; i < x.length; i++) z[i]! += w * x[i]!;
}

/** Σᵢ (aᵢ − ma)(cᵢ − mc); with a sparse side, Σ aᵢcᵢ − n·ma·mc over its nonzero rows. */
function centeredDot(a: Column, ma: number, c: Column, mc: number): number {
  const sparse = a.nonzero ? a : c.nonzero ? c : null;
  if (sparse) {
    const other = sparse === a ? c.values : a.values;
    let s = 0;
    for (const i of sparse.nonzero!) s += sparse.values[i]! * other[i]!;
    return s - a.values.length * ma * mc;
  }
  let s = 0;
  for (let i = 0; i < a.values.length; i++) s += (a.values[i]! - ma) * (c.values[i]! - mc);
  return s;
}

/**
 * Ridge regression in closed form. Constant columns get coefficient 0 (with
 * an unpenalized intercept they carry nothing). With l2 = 0, collinear
 * columns have no unique solution: that is an error asking for l2 > 0.
 */
export function fitRidge(train: LinearFitData, options: RidgeOptions = {}): LinearModelJSON {
  const l2 = checkL2(options.l2 ?? 1);
  const cols = checkedColumns(train);
  const n = train.data.rows;
  const y = train.y;
  const means = cols.map((x) => x.reduce((s, v) => s + v, 0) / n);
  const yMean = y.reduce((s, v) => s + v, 0) / n;
  const active = cols.map((_, j) => j).filter((j) => !isConstant(cols[j]!));
  const m = active.length;
  const indexed = active.map((j) => indexColumn(cols[j]!));
  const centeredY = indexColumn(y.map((v) => v - yMean));
  const A = new Float64Array(m * m);
  const rhs = new Float64Array(m);
  for (let a = 0; a < m; a++) {
    const ma = means[active[a]!]!;
    rhs[a] = centeredDot(indexed[a]!, ma, centeredY, 0);
    for (let c = 0; c <= a; c++) {
      const s = centeredDot(indexed[a]!, ma, indexed[c]!, means[active[c]!]!);
      A[a * m + c] = s;
      A[c * m + a] = s;
    }
    A[a * m + a]! += l2;
  }
  if (!choleskySolve(A, rhs, m)) {
    throw new Error(
      "The features are collinear (some are linear combinations of others, e.g. every one-hot column of a category), so ridge regression with l2 = 0 has no unique solution. Set l2 > 0.",
    );
  }
  const w = new Array<number>(cols.length).fill(0);
  active.forEach((j, a) => {
    w[j] = f32(rhs[a]!);
  });
  // The best intercept for the rounded coefficients.
  const b = f32(yMean - w.reduce((s, wj, j) => s + wj * means[j]!, 0));
  let sse = 0;
  const pred = linearScores(cols, n, w, b);
  for (let i = 0; i < n; i++) sse += (y[i]! - pred[i]!) ** 2;
  const penalty = w.reduce((s, v) => s + v * v, 0);
  return {
    format: LINEAR_FORMAT,
    kind: "ridge",
    task: "regression",
    featureNames: train.data.features.map((f) => f.name),
    coefficients: [w],
    intercepts: [b],
    l2,
    trainLoss: (0.5 * sse + 0.5 * l2 * penalty) / n,
    iterations: 0,
    converged: true,
  };
}

/** b + Σⱼ wⱼ xⱼ per row. */
function linearScores(cols: Float64Array[], n: number, w: ArrayLike<number>, b: number): Float64Array {
  const z = new Float64Array(n).fill(b);
  for (let j = 0; j < cols.length; j++) {
    const wj = w[j]!;
    if (wj === 0) continue;
    const x = cols[j]!;
    for (let i = 0; i < n; i++) z[i]! += wj * x[i]!;
  }
  return z;
}

/** log(1 + eᶻ) without overflow. */
function softplus(z: number): number {
  return Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
}

function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/**
 * The logistic objective per row and its gradient. θ holds the coefficient
 * rows (outputs × p, row-major), then the intercepts. Binary has one output
 * (class 1's logit); multiclass has K.
 */
class LogisticObjective {
  readonly p: number;
  readonly outputs: number;
  readonly size: number;
  private readonly z: Float64Array[];
  constructor(
    private readonly cols: Column[],
    private readonly n: number,
    private readonly y: Float64Array,
    readonly numClasses: number,
    private readonly l2: number,
  ) {
    this.p = cols.length;
    this.outputs = numClasses === 2 ? 1 : numClasses;
    this.size = this.outputs * (this.p + 1);
    this.z = Array.from({ length: this.outputs }, () => new Float64Array(n));
  }

  /** Fills z with the logits for θ. */
  private scores(theta: Float64Array): void {
    const { p, cols } = this;
    for (let k = 0; k < this.outputs; k++) {
      const z = this.z[k]!;
      z.fill(theta[this.outputs * p + k]!);
      for (let j = 0; j < p; j++) {
        const w = theta[k * p + j]!;
        if (w !== 0) addScaled(z, w, cols[j]!);
      }
    }
  }

  /** The objective at θ; writes the gradient into `grad` when given. */
  evaluate(theta: Float64Array, grad?: Float64Array): number {
    const { p, n, y, outputs } = this;
    this.scores(theta);
    let loss = 0;
    if (outputs === 1) {
      const z = this.z[0]!;
      for (let i = 0; i < n; i++) {
        const zi = z[i]!;
        loss += softplus(zi) - y[i]! * zi;
        z[i] = sigmoid(zi) - y[i]!; // the residual, for the gradient
      }
    } else {
      for (let i = 0; i < n; i++) {
        let max = Number.NEGATIVE_INFINITY;
        for (let k = 0; k < outputs; k++) max = Math.max(max, this.z[k]![i]!);
        let sum = 0;
        for (let k = 0; k < outputs; k++) sum += Math.exp(this.z[k]![i]! - max);
        const yi = y[i]!;
        loss += max + Math.log(sum) - this.z[yi]![i]!;
        for (let k = 0; k < outputs; k++) {
          const z = this.z[k]!;
          z[i] = Math.exp(z[i]! - max) / sum - (k === yi ? 1 : 0);
        }
      }
    }
    let penalty = 0;
    for (let q = 0; q < outputs * p; q++) penalty += theta[q]! ** 2;
    if (grad) {
      for (let k = 0; k < outputs; k++) {
        const r = this.z[k]!;
        for (let j = 0; j < p; j++) {
          grad[k * p + j] = (columnDot(this.cols[j]!, r) + this.l2 * theta[k * p + j]!) / n;
        }
        let s = 0;
        for (let i = 0; i < n; i++) s += r[i]!;
        grad[outputs * p + k] = s / n;
      }
    }
    return (loss + 0.5 * this.l2 * penalty) / n;
  }
}

const dot = (a: Float64Array, b: Float64Array) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

const maxAbs = (a: Float64Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

/** Lets pending events (an abort) run when the loop has held the thread for a while. */
function yielder(signal: AbortSignal | undefined): () => Promise<void> {
  let last = performance.now();
  return async () => {
    if (performance.now() - last > 20) {
      await new Promise((resolve) => setImmediate(resolve));
      last = performance.now();
    }
    if (signal?.aborted) {
      const err = new Error("Training was cancelled", { cause: signal.reason });
      err.name = "AbortError";
      throw err;
    }
  };
}

/**
 * Logistic regression by L-BFGS (10 correction pairs; backtracking Armijo
 * line search; pairs kept only with positive curvature). Starts from zero,
 * so the same data and options give the same model. With l2 > 0 the
 * objective is strictly convex in the coefficients, so perfectly separable
 * data still has a finite optimum.
 */
export async function fitLogistic(
  train: LinearFitData,
  options: LogisticOptions = {},
): Promise<LinearModelJSON> {
  const l2 = checkL2(options.l2 ?? 1);
  const maxIter = options.maxIter ?? 100;
  const tol = options.tol ?? 1e-6;
  const cols = checkedColumns(train);
  const n = train.data.rows;
  let K = options.numClasses ?? 0;
  for (const v of train.y) {
    if (!(Number.isInteger(v) && v >= 0)) throw new Error(`Class labels must be integers ≥ 0, got ${v}`);
    if (options.numClasses === undefined) K = Math.max(K, v + 1);
    else if (v >= K) throw new Error(`Class label ${v} is not below numClasses ${K}`);
  }
  if (K < 2) throw new Error("Logistic regression needs at least 2 classes");
  const objective = new LogisticObjective(cols.map(indexColumn), n, train.y, K, l2);
  const size = objective.size;
  const pause = yielder(options.signal);

  const memory = 10;
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  let theta = new Float64Array(size);
  let grad = new Float64Array(size);
  let loss = objective.evaluate(theta, grad);
  const direction = new Float64Array(size);
  const alpha = new Float64Array(memory);
  let nextTheta = new Float64Array(size);
  let nextGrad = new Float64Array(size);
  let iterations = 0;
  let converged = maxAbs(grad) <= tol;
  while (!converged && iterations < maxIter) {
    await pause();
    // Two-loop recursion: direction = −H·grad.
    direction.set(grad);
    for (let m = S.length - 1; m >= 0; m--) {
      alpha[m] = rho[m]! * dot(S[m]!, direction);
      const yv = Y[m]!;
      for (let q = 0; q < size; q++) direction[q]! -= alpha[m]! * yv[q]!;
    }
    const gamma = S.length > 0 ? dot(S.at(-1)!, Y.at(-1)!) / dot(Y.at(-1)!, Y.at(-1)!) : 1;
    for (let q = 0; q < size; q++) direction[q]! *= gamma;
    for (let m = 0; m < S.length; m++) {
      const beta = rho[m]! * dot(Y[m]!, direction);
      const sv = S[m]!;
      for (let q = 0; q < size; q++) direction[q]! += sv[q]! * (alpha[m]! - beta);
    }
    for (let q = 0; q < size; q++) direction[q] = -direction[q]!;
    let slope = dot(grad, direction);
    if (!(slope < 0)) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      S.length = Y.length = rho.length = 0;
      for (let q = 0; q < size; q++) direction[q] = -grad[q]!;
      slope = dot(grad, direction);
    }
    let step = S.length === 0 ? Math.min(1, 1 / maxAbs(grad)) : 1;
    let nextLoss = Number.POSITIVE_INFINITY;
    let accepted = false;
    for (let tries = 0; tries < 50; tries++) {
      for (let q = 0; q < size; q++) nextTheta[q] = theta[q]! + step * direction[q]!;
      nextLoss = objective.evaluate(nextTheta, nextGrad);
      // Armijo; or, once the loss only changes within its rounding, a smaller gradient
      // (Hager–Zhang's approximate Wolfe idea), so a tight tol stays reachable.
      const armijo = nextLoss <= loss + 1e-4 * step * slope;
      const flat = nextLoss <= loss + 1e-12 * Math.abs(loss) && maxAbs(nextGrad) < maxAbs(grad);
      if (armijo || flat) {
        accepted = true;
        break;
      }
      step *= 0.5;
    }
    if (!accepted) break; // no decrease left at machine precision: as converged as it gets
    const s = new Float64Array(size);
    const yv = new Float64Array(size);
    for (let q = 0; q < size; q++) {
      s[q] = nextTheta[q]! - theta[q]!;
      yv[q] = nextGrad[q]! - grad[q]!;
    }
    const sy = dot(s, yv);
    if (sy > 1e-12 * Math.sqrt(dot(s, s) * dot(yv, yv))) {
      if (S.length === memory) {
        S.shift();
        Y.shift();
        rho.shift();
      }
      S.push(s);
      Y.push(yv);
      rho.push(1 / sy);
    }
    [theta, nextTheta] = [nextTheta, theta];
    [grad, nextGrad] = [nextGrad, grad];
    loss = nextLoss;
    options.onIteration?.(iterations, loss);
    iterations++;
    converged = maxAbs(grad) <= tol;
  }

  const { p, outputs } = objective;
  if (outputs > 1) {
    // Softmax ignores a common shift of the intercepts: center them, for a canonical model.
    let mean = 0;
    for (let k = 0; k < outputs; k++) mean += theta[outputs * p + k]! / outputs;
    for (let k = 0; k < outputs; k++) theta[outputs * p + k]! -= mean;
  }
  const rounded = theta.map(f32);
  return {
    format: LINEAR_FORMAT,
    kind: "logistic",
    task: K === 2 ? "binary" : "multiclass",
    featureNames: train.data.features.map((f) => f.name),
    coefficients: Array.from({ length: outputs }, (_, k) => Array.from(rounded.subarray(k * p, (k + 1) * p))),
    intercepts: Array.from(rounded.subarray(outputs * p)),
    numClasses: K,
    l2,
    trainLoss: objective.evaluate(rounded),
    iterations,
    converged,
  };
}

export interface LinearPredictions {
  /** Regression: the predicted value per row. */
  prediction?: Float64Array;
  /** Classification: rows × classes, row-major. */
  probabilities?: Float64Array;
  /** Classification: the predicted class per row (binary: 1 when p > 0.5; else the first largest). */
  classIndex?: Int32Array;
}

/** Scores preprocessed features (named and ordered as in training) with a linear model. */
export function predictLinear(model: LinearModelJSON, data: Dataset): LinearPredictions {
  const byName = new Map(data.features.map((f) => [f.name, f.values]));
  const cols = model.featureNames.map((name) => {
    const values = byName.get(name);
    if (!values) throw new Error(`The data has no feature "${name}", which the model was trained on`);
    return values;
  });
  const n = data.rows;
  const scores = model.coefficients.map((w, k) => linearScores(cols, n, w, model.intercepts[k]!));
  if (model.kind === "ridge") return { prediction: scores[0]! };
  const K = model.numClasses ?? 2;
  const probabilities = new Float64Array(n * K);
  const classIndex = new Int32Array(n);
  if (scores.length === 1) {
    const z = scores[0]!;
    for (let i = 0; i < n; i++) {
      const p1 = sigmoid(z[i]!);
      probabilities[i * 2] = 1 - p1;
      probabilities[i * 2 + 1] = p1;
      classIndex[i] = p1 > 0.5 ? 1 : 0;
    }
    return { probabilities, classIndex };
  }
  for (let i = 0; i < n; i++) {
    let max = Number.NEGATIVE_INFINITY;
    let best = 0;
    for (let k = 0; k < K; k++) {
      const zk = scores[k]![i]!;
      if (zk > max) {
        max = zk;
        best = k;
      }
    }
    let sum = 0;
    for (let k = 0; k < K; k++) sum += Math.exp(scores[k]![i]! - max);
    for (let k = 0; k < K; k++) probabilities[i * K + k] = Math.exp(scores[k]![i]! - max) / sum;
    classIndex[i] = best;
  }
  return { probabilities, classIndex };
}
