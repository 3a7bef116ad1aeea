/**
 * Evaluation figures from scored rows: the scalar metrics of a task (also per
 * group, with the gaps between groups) and the charts (curves, confusion
 * matrix, per-class scores, calibration, residuals). Pure computation on
 * typed arrays, so `evaluate` runs it in a worker thread (app/ml/work).
 */
import type { EvaluationReport } from "../values/evaluation";
import { type FairnessOptions, fairnessGaps, type GroupColumn, groupRows, INTERVAL_LEVEL } from "./fairness";
import {
  accuracy,
  brierScore,
  calibrationCurve,
  classificationScores,
  column,
  confusionMatrix,
  downsampleCurve,
  logLoss,
  multiclassBrier,
  oneVsRest,
  ovrRocAuc,
  prCurve,
  regressionScores,
  residualSample,
  rocCurve,
} from "./metrics";
import type { ClassLabel } from "./model";

type Metrics = Record<string, number>;

/** The evaluated rows: truth and predictions, as class indexes or values. */
export type Scored =
  | {
      task: "binary" | "multiclass";
      /** The model's class count; truth indexes ≥ k are labels the model never saw. */
      k: number;
      labels: number;
      y: Int32Array;
      pred: Int32Array;
      probs: Float64Array;
      /** Binary: the positive class index. */
      positive: number;
    }
  | { task: "regression"; y: Float64Array; pred: Float64Array };

function subset(s: Scored, rows: number[]): Scored {
  if (s.task === "regression") {
    return {
      ...s,
      y: Float64Array.from(rows, (r) => s.y[r]!),
      pred: Float64Array.from(rows, (r) => s.pred[r]!),
    };
  }
  const probs = new Float64Array(rows.length * s.k);
  for (const [i, r] of rows.entries()) probs.set(s.probs.subarray(r * s.k, (r + 1) * s.k), i * s.k);
  return {
    ...s,
    y: Int32Array.from(rows, (r) => s.y[r]!),
    pred: Int32Array.from(rows, (r) => s.pred[r]!),
    probs,
  };
}

/**
 * The scalar metrics of a task, the same for the whole data and for each group.
 * `undefinedRate` is what the recall (true positive rate) of rows without an
 * actual positive, and the false positive rate of rows without an actual
 * negative, read as: 0 (scikit-learn's zero_division default, Fairlearn's
 * rates) or NaN (undefined). One value for both names of the same quantity.
 */
function scalarMetrics(s: Scored, calibrationBins: number, undefinedRate: number): Metrics {
  if (s.task === "regression") return { ...regressionScores(s.y, s.pred) };
  const scores = classificationScores(confusionMatrix(s.y, s.pred, s.labels));
  const common: Metrics = {
    accuracy: accuracy(s.y, s.pred),
    precision_macro: scores.macro.precision,
    recall_macro: scores.macro.recall,
    f1_macro: scores.macro.f1,
    precision_weighted: scores.weighted.precision,
    recall_weighted: scores.weighted.recall,
    f1_weighted: scores.weighted.f1,
    log_loss: logLoss(s.probs, s.k, s.y),
  };
  if (s.task === "multiclass") {
    const confidence = Float64Array.from({ length: s.y.length }, (_, r) => s.probs[s.pred[r]! + r * s.k]!);
    const correct = Uint8Array.from({ length: s.y.length }, (_, r) => (s.y[r] === s.pred[r] ? 1 : 0));
    return {
      ...common,
      roc_auc: ovrRocAuc(s.probs, s.k, s.y).macro,
      brier: multiclassBrier(s.probs, s.k, s.y),
      ece: calibrationCurve(confidence, correct, calibrationBins).ece,
    };
  }
  const score = column(s.probs, s.k, s.positive);
  const outcome = oneVsRest(s.y, s.positive);
  const positive = scores.perClass[s.positive]!;
  const n = s.y.length;
  let predictedPositive = 0;
  let falsePositive = 0;
  for (let r = 0; r < n; r++) {
    if (s.pred[r] !== s.positive) continue;
    predictedPositive++;
    if (!outcome[r]) falsePositive++;
  }
  const negatives = n - positive.support;
  return {
    ...common,
    precision: positive.precision,
    recall: positive.support ? positive.recall : undefinedRate,
    f1: positive.f1,
    roc_auc: rocCurve(score, outcome).auc,
    average_precision: prCurve(score, outcome).averagePrecision,
    brier: brierScore(score, outcome),
    ece: calibrationCurve(score, outcome, calibrationBins).ece,
    positive_rate: n ? predictedPositive / n : Number.NaN,
    base_rate: n ? positive.support / n : Number.NaN,
    true_positive_rate: positive.support ? positive.recall : undefinedRate,
    false_positive_rate: negatives ? falsePositive / negatives : undefinedRate,
  };
}

/** Curves, confusion matrix, per-class scores and calibration for the whole data. */
function charts(s: Scored, classes: ClassLabel[], calibrationBins: number): Partial<EvaluationReport> {
  if (s.task === "regression") {
    const sample = residualSample(s.y, s.pred);
    return {
      residuals: {
        predicted: sample.predicted,
        residual: sample.residual,
        sampled: sample.rows.length < s.y.length,
      },
    };
  }
  const matrix = confusionMatrix(s.y, s.pred, s.labels);
  const { perClass } = classificationScores(matrix);
  const report: Partial<EvaluationReport> = {
    confusion: { labels: classes, matrix },
    perClass: perClass.map((c, i) => ({ label: classes[i]!, ...c })),
  };
  if (s.task === "binary") {
    const score = column(s.probs, s.k, s.positive);
    const outcome = oneVsRest(s.y, s.positive);
    const roc = rocCurve(score, outcome);
    const pr = prCurve(score, outcome);
    const calibration = calibrationCurve(score, outcome, calibrationBins);
    return {
      ...report,
      roc: {
        ...downsampleCurve({ fpr: roc.fpr, tpr: roc.tpr, thresholds: roc.thresholds }, "fpr", "tpr"),
        auc: roc.auc,
      },
      pr: {
        ...downsampleCurve(
          { precision: pr.precision, recall: pr.recall, thresholds: pr.thresholds },
          "recall",
          "precision",
        ),
        averagePrecision: pr.averagePrecision,
      },
      calibration: { of: "positive", ...calibration },
    };
  }
  const curves = Array.from({ length: s.k }, (_, k) => {
    const score = column(s.probs, s.k, k);
    const outcome = oneVsRest(s.y, k);
    return { label: classes[k]!, roc: rocCurve(score, outcome), pr: prCurve(score, outcome) };
  });
  const aucs = ovrRocAuc(s.probs, s.k, s.y);
  report.perClass = report.perClass!.map((c, i) => (i < s.k ? { ...c, rocAuc: aucs.perClass[i]! } : c));
  const confidence = Float64Array.from({ length: s.y.length }, (_, r) => s.probs[s.pred[r]! + r * s.k]!);
  const correct = Uint8Array.from({ length: s.y.length }, (_, r) => (s.y[r] === s.pred[r] ? 1 : 0));
  return {
    ...report,
    roc: {
      average: "macro",
      auc: aucs.macro,
      perClass: curves.map((c) => ({
        label: c.label,
        ...downsampleCurve({ fpr: c.roc.fpr, tpr: c.roc.tpr, thresholds: c.roc.thresholds }, "fpr", "tpr"),
        auc: c.roc.auc,
      })),
    },
    pr: {
      perClass: curves.map((c) => ({
        label: c.label,
        ...downsampleCurve(
          { precision: c.pr.precision, recall: c.pr.recall, thresholds: c.pr.thresholds },
          "recall",
          "precision",
        ),
        averagePrecision: c.pr.averagePrecision,
      })),
    },
    calibration: { of: "confidence", ...calibrationCurve(confidence, correct, calibrationBins) },
  };
}

export interface EvaluationInput {
  scored: Scored;
  /** Classification: the model's classes, then labels in the data it never saw. */
  classes: ClassLabel[];
  calibrationBins: number;
  /** How undefined rates read when there is no group (fairness conventions apply to the whole report). */
  conventions: FairnessOptions["conventions"];
  /** Per-group metrics: the grouping columns (each scored row's code, -1 for NULL) and the options. */
  group?: { columns: GroupColumn[]; options: FairnessOptions };
}

export interface EvaluationFigures {
  /** The scalar metrics, then (with a group) the gaps between groups. */
  metrics: Metrics;
  groups?: EvaluationReport["groups"];
  charts: Partial<EvaluationReport>;
}

/** Every figure of an evaluation report that is computed from the scored rows. */
export function evaluationFigures(input: EvaluationInput): EvaluationFigures {
  const { scored, calibrationBins, group } = input;
  const undefinedRate = input.conventions === "fairlearn" ? 0 : Number.NaN;
  const metrics = scalarMetrics(scored, calibrationBins, undefinedRate);
  let groups: EvaluationReport["groups"];
  if (group) {
    const { options } = group;
    const grouping = groupRows(group.columns, scored.y.length, options.conventions);
    const small = grouping.groups.map((g) => g.rows.length < options.minGroupSize);
    const counted = small.map((s) => !s || options.smallGroups === "include");
    const gapInput =
      scored.task === "regression"
        ? scored
        : {
            task: scored.task,
            y: scored.y,
            pred: scored.pred,
            labels: scored.labels,
            positive: scored.positive,
          };
    const figures = fairnessGaps(gapInput, grouping, counted, options);
    Object.assign(metrics, figures.gaps);
    groups = {
      column: group.columns.map((c) => c.name).join(" × "),
      columns: group.columns.map((c) => c.name),
      conventions: options.conventions,
      minGroupSize: options.minGroupSize,
      smallGroups: options.smallGroups,
      droppedRows: grouping.droppedRows,
      leftOut: grouping.groups.filter((_, g) => !counted[g]).map((g) => g.label),
      rows: grouping.groups.map((g, i) => ({
        group: g.label,
        values: g.values,
        n: g.rows.length,
        small: small[i]!,
        counted: counted[i]!,
        metrics: scalarMetrics(subset(scored, g.rows), calibrationBins, undefinedRate),
      })),
      gaps: figures.gaps,
      ...(figures.intervals
        ? {
            intervals: Object.fromEntries(
              Object.entries(figures.intervals).map(([k, v]) => [k, [v.lower, v.upper] as [number, number]]),
            ),
            bootstrap: { resamples: options.resamples, seed: options.seed, level: INTERVAL_LEVEL },
          }
        : {}),
    };
  }
  return { metrics, ...(groups ? { groups } : {}), charts: charts(scored, input.classes, calibrationBins) };
}
