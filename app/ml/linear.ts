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
import type { EncodedRows } from "./preprocess";
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
  /**
   * Whether the fit stopped on its own within maxIter: the gradient fell below
   * tol, or an iteration no longer lowered the loss by more than ftol
   * (relative); always true for ridge.
   */
  converged: boolean;
}

export interface LinearFitData {
  data: Dataset;
  /** regression: the value; binary: 0/1; multiclass: 0..numClasses-1. */
  y: Float64Array;
}

/**
 * Logistic regression's training data: a Dataset, or EncodedRows
 * (preprocess.ts encodeRows), whose rows are written straight into the
 * nonzeros-only matrix the fit uses.
 */
export interface LogisticFitData {
  data: Dataset | EncodedRows;
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
  /**
   * Stop when an iteration lowers the summed objective f by at most this,
   * relative: (f_k − f_k+1) / max(|f_k|, |f_k+1|, 1) ≤ ftol. The default,
   * 2.22e-9, is SciPy's L-BFGS-B default (factr 1e7 × machine epsilon, see
   * scipy.optimize.minimize(method="L-BFGS-B") `ftol`), which scikit-learn's
   * LogisticRegression(solver="lbfgs") runs with; 0 turns it off.
   */
  ftol?: number;
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

function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/**
 * The feature matrix by rows, nonzeros only (CSR): row i's entries are
 * `cols[start[i]..start[i+1])` with `values` alongside, in column order. One
 * pass over the rows then computes a row's logits, its loss and its share of
 * the gradient while the row is in cache; one-hot columns cost their nonzeros
 * only. Sums run in the same order as column by column (each gradient entry
 * over the rows in order, each logit over the columns in order), so the
 * objective is the same to the bit.
 */
interface SparseRows {
  start: Int32Array;
  cols: Int32Array;
  values: Float64Array;
}

function sparseRows(columns: Float64Array[], n: number): SparseRows {
  const start = new Int32Array(n + 1);
  for (const x of columns) for (let i = 0; i < n; i++) if (x[i] !== 0) start[i + 1]!++;
  for (let i = 0; i < n; i++) start[i + 1]! += start[i]!;
  const cols = new Int32Array(start[n]!);
  const values = new Float64Array(start[n]!);
  const next = start.slice(0, n);
  columns.forEach((x, j) => {
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      if (v !== 0) {
        const at = next[i]!++;
        cols[at] = j;
        values[at] = v;
      }
    }
  });
  return { start, cols, values };
}

/** Rows written at a time while the CSR matrix is built from EncodedRows. */
const ENCODE_CHUNK = 1024;

/**
 * The CSR matrix of EncodedRows (preprocess.ts encodeRows), written a chunk
 * of rows at a time, so the dense encoded columns never exist: the same
 * entries, in the same order, as sparseRows of transformFeatures's columns.
 */
function encodedSparseRows(encoded: EncodedRows): SparseRows {
  const n = encoded.rows;
  const F = encoded.names.length;
  const chunk = new Float64Array(ENCODE_CHUNK * F);
  const at = new Int32Array(ENCODE_CHUNK);
  /** Calls `row(i, values)` for every row i, `values` its encoded features. */
  const eachRow = (row: (i: number, values: Float64Array) => void) => {
    for (let first = 0; first < n; first += ENCODE_CHUNK) {
      const m = Math.min(ENCODE_CHUNK, n - first);
      for (let k = 0; k < m; k++) at[k] = first + k;
      encoded.fill(at.subarray(0, m), chunk);
      for (let k = 0; k < m; k++) row(first + k, chunk.subarray(k * F, (k + 1) * F));
    }
  };
  const start = new Int32Array(n + 1);
  eachRow((i, values) => {
    let count = 0;
    for (let j = 0; j < F; j++) if (values[j] !== 0) count++;
    start[i + 1] = start[i]! + count;
  });
  const cols = new Int32Array(start[n]!);
  const values = new Float64Array(start[n]!);
  eachRow((i, row) => {
    let k = start[i]!;
    for (let j = 0; j < F; j++) {
      const v = row[j]!;
      if (v !== 0) {
        cols[k] = j;
        values[k++] = v;
      }
    }
  });
  return { start, cols, values };
}

/** Logistic's training rows as CSR with their feature names, checked as checkedColumns checks. */
function logisticRows(train: LogisticFitData): { x: SparseRows; names: string[]; n: number } {
  const { data, y } = train;
  if (!("names" in data)) {
    return {
      x: sparseRows(checkedColumns({ data, y }), data.rows),
      names: data.features.map((f) => f.name),
      n: data.rows,
    };
  }
  if (y.length !== data.rows) throw new Error(`y has ${y.length} values for ${data.rows} rows`);
  if (data.rows === 0) throw new Error("There are no training rows");
  for (let i = 0; i < y.length; i++) {
    if (!Number.isFinite(y[i]!)) throw new Error(`The target is not finite at row ${i}`);
  }
  const bad = data.firstNonFinite();
  if (bad) {
    throw new Error(
      `Feature "${bad.feature}" has a missing or non-finite value at row ${bad.row}: linear models need imputed features`,
    );
  }
  return { x: encodedSparseRows(data), names: data.names, n: data.rows };
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
  /** Multiclass: one row's logits, then its exponentials. */
  private readonly z: Float64Array;
  private readonly ez: Float64Array;
  private readonly sums: Float64Array;
  constructor(
    private readonly x: SparseRows,
    p: number,
    private readonly n: number,
    private readonly y: Float64Array,
    readonly numClasses: number,
    private readonly l2: number,
  ) {
    this.p = p;
    this.outputs = numClasses === 2 ? 1 : numClasses;
    this.size = this.outputs * (this.p + 1);
    this.z = new Float64Array(this.outputs);
    this.ez = new Float64Array(this.outputs);
    this.sums = new Float64Array(this.size);
  }

  /** The objective at θ; writes the gradient into `grad` when given. */
  evaluate(theta: Float64Array, grad?: Float64Array): number {
    const { p, outputs, l2 } = this;
    const loss = outputs === 1 ? this.binary(theta) : this.multiclass(theta);
    let penalty = 0;
    for (let q = 0; q < outputs * p; q++) penalty += theta[q]! ** 2;
    if (grad) {
      const g = this.sums;
      for (let q = 0; q < outputs * p; q++) grad[q] = (g[q]! + l2 * theta[q]!) / this.n;
      for (let k = 0; k < outputs; k++) grad[outputs * p + k] = g[outputs * p + k]! / this.n;
    }
    return (loss + 0.5 * l2 * penalty) / this.n;
  }

  /** Σ loss over the rows; the unpenalized gradient sums into this.sums. */
  private binary(theta: Float64Array): number {
    const { n, y, p } = this;
    const { start, cols, values } = this.x;
    const g = this.sums.fill(0);
    const b = theta[p]!;
    let loss = 0;
    let gb = 0;
    for (let i = 0; i < n; i++) {
      const from = start[i]!;
      const to = start[i + 1]!;
      let zi = b;
      for (let e = from; e < to; e++) zi += theta[cols[e]!]! * values[e]!;
      // softplus(z) = max(z, 0) + log1p(e^−|z|) and σ(z) share e^−|z|.
      const ex = Math.exp(-Math.abs(zi));
      const yi = y[i]!;
      loss += Math.max(zi, 0) + Math.log1p(ex) - yi * zi;
      const r = (zi >= 0 ? 1 / (1 + ex) : ex / (1 + ex)) - yi;
      for (let e = from; e < to; e++) g[cols[e]!]! += values[e]! * r;
      gb += r;
    }
    g[p] = gb;
    return loss;
  }

  private multiclass(theta: Float64Array): number {
    const { n, y, p, outputs: K, z, ez } = this;
    const { start, cols, values } = this.x;
    const g = this.sums.fill(0);
    let loss = 0;
    for (let i = 0; i < n; i++) {
      const from = start[i]!;
      const to = start[i + 1]!;
      let max = Number.NEGATIVE_INFINITY;
      for (let k = 0; k < K; k++) {
        let zk = theta[K * p + k]!;
        const row = k * p;
        for (let e = from; e < to; e++) zk += theta[row + cols[e]!]! * values[e]!;
        z[k] = zk;
        max = Math.max(max, zk);
      }
      let sum = 0;
      for (let k = 0; k < K; k++) {
        ez[k] = Math.exp(z[k]! - max);
        sum += ez[k]!;
      }
      const yi = y[i]!;
      loss += max + Math.log(sum) - z[yi]!;
      for (let k = 0; k < K; k++) {
        const r = ez[k]! / sum - (k === yi ? 1 : 0);
        const row = k * p;
        for (let e = from; e < to; e++) g[row + cols[e]!]! += values[e]! * r;
        g[K * p + k]! += r;
      }
    }
    return loss;
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
  train: LogisticFitData,
  options: LogisticOptions = {},
): Promise<LinearModelJSON> {
  const l2 = checkL2(options.l2 ?? 1);
  const maxIter = options.maxIter ?? 100;
  const tol = options.tol ?? 1e-6;
  const ftol = options.ftol ?? 2.220446049250313e-9;
  const { x, names, n } = logisticRows(train);
  let K = options.numClasses ?? 0;
  for (const v of train.y) {
    if (!(Number.isInteger(v) && v >= 0)) throw new Error(`Class labels must be integers ≥ 0, got ${v}`);
    if (options.numClasses === undefined) K = Math.max(K, v + 1);
    else if (v >= K) throw new Error(`Class label ${v} is not below numClasses ${K}`);
  }
  if (K < 2) throw new Error("Logistic regression needs at least 2 classes");
  const objective = new LogisticObjective(x, names.length, n, train.y, K, l2);
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
    // SciPy's relative-reduction test on the summed objective n·loss, here per row.
    const reduced = loss - nextLoss <= ftol * Math.max(Math.abs(loss), Math.abs(nextLoss), 1 / n);
    loss = nextLoss;
    options.onIteration?.(iterations, loss);
    iterations++;
    converged = maxAbs(grad) <= tol || reduced;
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
    featureNames: names,
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
