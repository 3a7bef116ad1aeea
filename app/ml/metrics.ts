/**
 * Evaluation metrics over typed arrays: pure functions, no I/O. Class labels
 * are indexes (0..K-1); binary labels are 0/1 with 1 the positive class;
 * probabilities are rows × classes, row-major. A metric that is undefined for
 * the data (AUC with one class present, R² of a constant target) is NaN —
 * reports turn it into null.
 */

/** Rows: the true class; columns: the predicted class. */
export function confusionMatrix(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, k: number): number[][] {
  const matrix = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < yTrue.length; i++) matrix[yTrue[i]!]![yPred[i]!]!++;
  return matrix;
}

export function accuracy(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  let correct = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) correct++;
  return yTrue.length ? correct / yTrue.length : Number.NaN;
}

export interface ClassScores {
  precision: number;
  recall: number;
  f1: number;
  /** Rows whose true class this is. */
  support: number;
}

export interface ClassificationScores {
  perClass: ClassScores[];
  /** Unweighted mean over the classes present in the data or predictions. */
  macro: Omit<ClassScores, "support">;
  /** Mean weighted by support. */
  weighted: Omit<ClassScores, "support">;
}

/**
 * Precision, recall and F1 per class from a confusion matrix. A ratio with a
 * zero denominator is 0 (as scikit-learn's zero_division=0). The macro mean
 * leaves out classes that are neither in the data nor predicted: they say
 * nothing about this model on these rows.
 */
export function classificationScores(matrix: number[][]): ClassificationScores {
  const k = matrix.length;
  const ratio = (a: number, b: number) => (b > 0 ? a / b : 0);
  const perClass: ClassScores[] = [];
  for (let c = 0; c < k; c++) {
    const tp = matrix[c]![c]!;
    let support = 0;
    let predicted = 0;
    for (let j = 0; j < k; j++) {
      support += matrix[c]![j]!;
      predicted += matrix[j]![c]!;
    }
    const precision = ratio(tp, predicted);
    const recall = ratio(tp, support);
    perClass.push({ precision, recall, f1: ratio(2 * precision * recall, precision + recall), support });
  }
  const seen = perClass.filter((s, c) => s.support > 0 || matrix.some((row) => row[c]! > 0));
  const total = perClass.reduce((s, c) => s + c.support, 0);
  const mean = (key: keyof Omit<ClassScores, "support">, weighted: boolean) =>
    weighted
      ? ratio(
          perClass.reduce((s, c) => s + c[key] * c.support, 0),
          total,
        )
      : ratio(
          seen.reduce((s, c) => s + c[key], 0),
          seen.length,
        );
  return {
    perClass,
    macro: { precision: mean("precision", false), recall: mean("recall", false), f1: mean("f1", false) },
    weighted: { precision: mean("precision", true), recall: mean("recall", true), f1: mean("f1", true) },
  };
}

export interface RocCurve {
  /** From (0, 0) to (1, 1), one point per distinct score. */
  fpr: number[];
  tpr: number[];
  /** Predicted positive when score ≥ threshold; the first point's threshold is +Infinity. */
  thresholds: number[];
  auc: number;
}

export interface PrCurve {
  /** One point per distinct score, from the highest threshold down, then recall 1's end. */
  precision: number[];
  recall: number[];
  thresholds: number[];
  averagePrecision: number;
}

/**
 * Cumulative true and false positives at each distinct score, from the
 * highest down: tied scores form one step, which is what makes the
 * trapezoid AUC count a tied positive/negative pair as one half. The
 * positives' and negatives' scores are sorted apart (native typed-array
 * sorts) and merged. A NaN score ranks lowest, as -Infinity.
 */
function thresholdSteps(scores: ArrayLike<number>, positive: ArrayLike<number>) {
  let positives = 0;
  for (let i = 0; i < scores.length; i++) if (positive[i]) positives++;
  const pos = new Float64Array(positives);
  const neg = new Float64Array(scores.length - positives);
  for (let i = 0, a = 0, b = 0; i < scores.length; i++) {
    const score = Number.isNaN(scores[i]!) ? Number.NEGATIVE_INFINITY : scores[i]!;
    if (positive[i]) pos[a++] = score;
    else neg[b++] = score;
  }
  pos.sort();
  neg.sort();
  const tps: number[] = [];
  const fps: number[] = [];
  const thresholds: number[] = [];
  let i = pos.length - 1;
  let j = neg.length - 1;
  let tp = 0;
  let fp = 0;
  while (i >= 0 || j >= 0) {
    const t = Math.max(
      i >= 0 ? pos[i]! : Number.NEGATIVE_INFINITY,
      j >= 0 ? neg[j]! : Number.NEGATIVE_INFINITY,
    );
    while (i >= 0 && pos[i] === t) {
      tp++;
      i--;
    }
    while (j >= 0 && neg[j] === t) {
      fp++;
      j--;
    }
    tps.push(tp);
    fps.push(fp);
    thresholds.push(t);
  }
  return { tps, fps, thresholds, positives, negatives: neg.length };
}

/** Area under a polyline by the trapezoid rule (x need not be sorted: signed areas). */
export function trapezoid(x: readonly number[], y: readonly number[]): number {
  let area = 0;
  for (let i = 1; i < x.length; i++) area += ((x[i]! - x[i - 1]!) * (y[i]! + y[i - 1]!)) / 2;
  return area;
}

/** The exact ROC curve and its AUC (NaN when the data holds only one of the two classes). */
export function rocCurve(scores: ArrayLike<number>, positive: ArrayLike<number>): RocCurve {
  const { tps, fps, thresholds, positives, negatives } = thresholdSteps(scores, positive);
  const tpr = [0, ...tps.map((t) => t / positives)];
  const fpr = [0, ...fps.map((f) => f / negatives)];
  const auc = positives > 0 && negatives > 0 ? trapezoid(fpr, tpr) : Number.NaN;
  return { fpr, tpr, thresholds: [Number.POSITIVE_INFINITY, ...thresholds], auc };
}

/**
 * The precision–recall curve and average precision, AP = Σ (Rₙ − Rₙ₋₁) Pₙ
 * over the distinct thresholds (no interpolation, as scikit-learn). NaN when
 * there are no positives.
 */
export function prCurve(scores: ArrayLike<number>, positive: ArrayLike<number>): PrCurve {
  const { tps, fps, thresholds, positives } = thresholdSteps(scores, positive);
  const precision = tps.map((t, i) => t / (t + fps[i]!));
  const recall = tps.map((t) => t / positives);
  let ap = 0;
  let previous = 0;
  for (let i = 0; i < recall.length; i++) {
    ap += (recall[i]! - previous) * precision[i]!;
    previous = recall[i]!;
  }
  // The curve starts at recall 0, precision 1 (no row predicted positive).
  return {
    precision: [1, ...precision],
    recall: [0, ...recall],
    thresholds: [Number.POSITIVE_INFINITY, ...thresholds],
    averagePrecision: positives > 0 ? ap : Number.NaN,
  };
}

/** Column `k` of a rows × `classes` matrix. */
export function column(probabilities: ArrayLike<number>, classes: number, k: number): Float64Array {
  const rows = probabilities.length / classes;
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) out[r] = probabilities[r * classes + k]!;
  return out;
}

/** 1 where yTrue is class k, else 0. */
export function oneVsRest(yTrue: ArrayLike<number>, k: number): Uint8Array {
  return Uint8Array.from({ length: yTrue.length }, (_, i) => (yTrue[i] === k ? 1 : 0));
}

/**
 * One-vs-rest ROC AUC per class and their unweighted mean over the classes
 * where it is defined (present and absent both). `yTrue` may hold indexes
 * ≥ `classes` (labels the model does not know): negatives for every class.
 */
export function ovrRocAuc(
  probabilities: ArrayLike<number>,
  classes: number,
  yTrue: ArrayLike<number>,
): { perClass: number[]; macro: number } {
  const perClass = Array.from(
    { length: classes },
    (_, k) => rocCurve(column(probabilities, classes, k), oneVsRest(yTrue, k)).auc,
  );
  const defined = perClass.filter((a) => !Number.isNaN(a));
  return {
    perClass,
    macro: defined.length ? defined.reduce((s, a) => s + a, 0) / defined.length : Number.NaN,
  };
}

/** Probabilities are clipped to [eps, 1 − eps] so one confident mistake costs −log(eps), not Infinity. */
export const LOG_LOSS_EPS = 1e-15;

/** Mean −log p(true class). A true index outside the model's classes counts as probability 0. */
export function logLoss(
  probabilities: ArrayLike<number>,
  classes: number,
  yTrue: ArrayLike<number>,
  eps = LOG_LOSS_EPS,
): number {
  let sum = 0;
  for (let r = 0; r < yTrue.length; r++) {
    const y = yTrue[r]!;
    const p = y < classes ? probabilities[r * classes + y]! : 0;
    sum -= Math.log(Math.min(1 - eps, Math.max(eps, p)));
  }
  return yTrue.length ? sum / yTrue.length : Number.NaN;
}

/** Mean squared difference between a probability and the 0/1 outcome. */
export function brierScore(probability: ArrayLike<number>, outcome: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < probability.length; i++) sum += (probability[i]! - outcome[i]!) ** 2;
  return probability.length ? sum / probability.length : Number.NaN;
}

/** The multiclass Brier score: per row Σₖ (pₖ − [y = k])², averaged (0 is perfect, 2 the worst). */
export function multiclassBrier(
  probabilities: ArrayLike<number>,
  classes: number,
  yTrue: ArrayLike<number>,
): number {
  let sum = 0;
  for (let r = 0; r < yTrue.length; r++) {
    for (let k = 0; k < classes; k++)
      sum += (probabilities[r * classes + k]! - (yTrue[r] === k ? 1 : 0)) ** 2;
    if (yTrue[r]! >= classes) sum += 1;
  }
  return yTrue.length ? sum / yTrue.length : Number.NaN;
}

export interface CalibrationBin {
  lower: number;
  upper: number;
  /** Rows whose probability falls in [lower, upper) ([lower, 1] for the last bin). */
  count: number;
  meanPredicted: number;
  /** Share of those rows whose outcome is 1. */
  observed: number;
}

export interface CalibrationCurve {
  bins: CalibrationBin[];
  /** Expected calibration error: Σ (count / rows) · |observed − meanPredicted|. */
  ece: number;
}

/** Equal-width bins over [0, 1]; empty bins are left out. */
export function calibrationCurve(
  probability: ArrayLike<number>,
  outcome: ArrayLike<number>,
  bins = 10,
): CalibrationCurve {
  const count = new Float64Array(bins);
  const predicted = new Float64Array(bins);
  const observed = new Float64Array(bins);
  for (let i = 0; i < probability.length; i++) {
    const p = probability[i]!;
    const b = Math.min(bins - 1, Math.max(0, Math.floor(p * bins)));
    count[b]!++;
    predicted[b]! += p;
    observed[b]! += outcome[i]!;
  }
  const out: CalibrationBin[] = [];
  let ece = 0;
  for (let b = 0; b < bins; b++) {
    if (count[b] === 0) continue;
    const bin = {
      lower: b / bins,
      upper: (b + 1) / bins,
      count: count[b]!,
      meanPredicted: predicted[b]! / count[b]!,
      observed: observed[b]! / count[b]!,
    };
    ece += (bin.count / probability.length) * Math.abs(bin.observed - bin.meanPredicted);
    out.push(bin);
  }
  return { bins: out, ece: probability.length ? ece : Number.NaN };
}

export interface RegressionScores {
  rmse: number;
  mae: number;
  /** 1 − SS_res / SS_tot; NaN when the target is constant. */
  r2: number;
  /** Mean residual (observed − predicted): > 0 when the model under-predicts. */
  bias: number;
}

export function regressionScores(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): RegressionScores {
  const n = yTrue.length;
  if (n === 0) return { rmse: Number.NaN, mae: Number.NaN, r2: Number.NaN, bias: Number.NaN };
  let mean = 0;
  for (let i = 0; i < n; i++) mean += yTrue[i]!;
  mean /= n;
  let sse = 0;
  let sae = 0;
  let sst = 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const e = yTrue[i]! - yPred[i]!;
    sse += e * e;
    sae += Math.abs(e);
    sum += e;
    sst += (yTrue[i]! - mean) ** 2;
  }
  return { rmse: Math.sqrt(sse / n), mae: sae / n, r2: sst > 0 ? 1 - sse / sst : Number.NaN, bias: sum / n };
}

/** At most this many points in a residual scatter. */
export const MAX_RESIDUAL_POINTS = 2000;

/**
 * A deterministic sample of the residual scatter: the rows with the largest
 * |residual| (the ones a reader looks for) plus evenly spaced rows, in row
 * order, at most `max` in all.
 */
export function residualSample(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  max = MAX_RESIDUAL_POINTS,
): { rows: number[]; predicted: number[]; residual: number[] } {
  const n = yTrue.length;
  let rows: number[];
  if (n <= max) rows = Array.from({ length: n }, (_, i) => i);
  else {
    const extremes = Math.floor(max / 20);
    const byError = Array.from({ length: n }, (_, i) => i).sort(
      (a, b) => Math.abs(yTrue[b]! - yPred[b]!) - Math.abs(yTrue[a]! - yPred[a]!) || a - b,
    );
    const picked = new Set(byError.slice(0, extremes));
    const even = max - extremes;
    for (let j = 0; j < even && picked.size < max; j++) picked.add(Math.floor((j * n) / even));
    rows = [...picked].sort((a, b) => a - b);
  }
  return {
    rows,
    predicted: rows.map((i) => yPred[i]!),
    residual: rows.map((i) => yTrue[i]! - yPred[i]!),
  };
}

/** Default cap on the points of a curve sent to the UI. */
export const MAX_CURVE_POINTS = 200;

/**
 * Indexes of at most `max` points of a polyline, first and last kept,
 * spread evenly along its length (|Δx| + |Δy|) so steep and flat stretches
 * keep their shape. Deterministic.
 */
export function downsampleIndices(
  x: readonly number[],
  y: readonly number[],
  max = MAX_CURVE_POINTS,
): number[] {
  const n = x.length;
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  const length = new Float64Array(n);
  for (let i = 1; i < n; i++)
    length[i] = length[i - 1]! + Math.abs(x[i]! - x[i - 1]!) + Math.abs(y[i]! - y[i - 1]!);
  const total = length[n - 1]!;
  const picked: number[] = [0];
  let i = 0;
  for (let j = 1; j < max - 1; j++) {
    const target = (total * j) / (max - 1);
    while (i < n - 1 && length[i]! < target) i++;
    if (i > picked.at(-1)! && i < n - 1) picked.push(i);
  }
  picked.push(n - 1);
  return picked;
}

/** The curve's arrays at the downsampled indexes of (x, y). */
export function downsampleCurve<T extends Record<string, number[]>>(
  curve: T,
  x: keyof T,
  y: keyof T,
  max = MAX_CURVE_POINTS,
): T {
  const keep = downsampleIndices(curve[x]!, curve[y]!, max);
  const out: Record<string, number[]> = {};
  for (const [key, values] of Object.entries(curve)) out[key] = keep.map((i) => values[i]!);
  return out as T;
}
