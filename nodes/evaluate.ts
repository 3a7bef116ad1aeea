import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { z } from "zod";
import {
  type BlockContext,
  BlockError,
  defineBlock,
  requireColumns,
  requireTable,
} from "../app/engine/block";
import type { TableValue } from "../app/engine/ports";
import {
  type ColumnRequest,
  type ColumnTable,
  type RawColumn,
  readColumns,
  selectRows,
} from "../app/ml/dataset";
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
} from "../app/ml/metrics";
import { type asModel, type ClassLabel, predictTable } from "../app/ml/model";
import { checkModelParity } from "../app/ml/onnx/parity";
import { jsonSafe, requireModel, requireModelColumns } from "./model-blocks";

/** Whatever model kinds asModel accepts (tree ensembles, linear models). */
type Model = ReturnType<typeof asModel>;

const params = z.object({
  groupBy: z
    .string()
    .min(1)
    .optional()
    .describe(
      "A column whose groups are compared (fairness): the same metrics per group, and the gaps between groups",
    ),
  positiveClass: z
    .string()
    .min(1)
    .optional()
    .describe(
      "Binary models: the class counted as positive, as written in the data; unset: the second class",
    ),
  threshold: z
    .number()
    .min(0)
    .max(1)
    .default(0.5)
    .describe(
      "Binary models: a row is predicted positive when its positive-class probability is at least this",
    ),
  calibrationBins: z
    .number()
    .int()
    .min(2)
    .max(100)
    .default(10)
    .describe("Equal-width bins of the calibration curve"),
});

type Task = "binary" | "multiclass" | "regression";
type Metrics = Record<string, number>;

/** The report `evaluate` emits; numbers that are undefined for the data (NaN) are null in JSON. */
export interface EvaluationReport {
  kind: "evaluation";
  task: Task;
  /** Rows evaluated: those with a target value. */
  rows: number;
  /** Rows left out because their target is missing. */
  skippedRows: number;
  /** The evaluated table's content fingerprint, so a gate can check it scores a champion on the same data. */
  dataFingerprint: string;
  target: string;
  /** Classification: the model's classes, then any label in the data the model never saw. */
  classes?: ClassLabel[];
  positiveClass?: ClassLabel;
  threshold?: number;
  /** Every scalar metric (also emitted with ctx.metric); with groupBy, the gaps too. */
  metrics: Record<string, number | null>;
  perClass?: {
    label: ClassLabel;
    precision: number;
    recall: number;
    f1: number;
    support: number;
    rocAuc?: number | null;
  }[];
  /** Rows: true label, columns: predicted label. */
  confusion?: { labels: ClassLabel[]; matrix: number[][] };
  roc?:
    | CurveOf<"fpr" | "tpr" | "thresholds">
    | { average: "macro"; auc: number | null; perClass: CurveOf<"fpr" | "tpr" | "thresholds">[] };
  pr?:
    | CurveOf<"precision" | "recall" | "thresholds">
    | { perClass: CurveOf<"precision" | "recall" | "thresholds">[] };
  /** Binary: P(positive) against the positive share; multiclass: the top probability against accuracy. */
  calibration?: {
    of: "positive" | "confidence";
    bins: { lower: number; upper: number; count: number; meanPredicted: number; observed: number }[];
    ece: number | null;
  };
  residuals?: { predicted: number[]; residual: number[]; sampled: boolean };
  groups?: {
    column: string;
    rows: { group: string | null; n: number; metrics: Record<string, number | null> }[];
    gaps: Record<string, number | null>;
  };
  model: { estimator: string; task: Task; trainedRows?: number; onnxParity?: unknown };
}

type CurveOf<K extends string> = { [key in K]: (number | null)[] } & {
  label?: ClassLabel;
  auc?: number | null;
  averagePrecision?: number | null;
};

/** The evaluated rows: truth and predictions, as class indexes or values. */
type Scored =
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

/** The scalar metrics of a task, the same for the whole data and for each group. */
function scalarMetrics(s: Scored, calibrationBins: number): Metrics {
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
    recall: positive.recall,
    f1: positive.f1,
    roc_auc: rocCurve(score, outcome).auc,
    average_precision: prCurve(score, outcome).averagePrecision,
    brier: brierScore(score, outcome),
    ece: calibrationCurve(score, outcome, calibrationBins).ece,
    positive_rate: n ? predictedPositive / n : Number.NaN,
    base_rate: n ? positive.support / n : Number.NaN,
    true_positive_rate: positive.support ? positive.recall : Number.NaN,
    false_positive_rate: negatives ? falsePositive / negatives : Number.NaN,
  };
}

/** The gaps between groups: max − min of a per-group metric over the groups where it is defined. */
const GAPS: Record<Task, Record<string, string>> = {
  binary: {
    demographic_parity_difference: "positive_rate",
    equal_opportunity_difference: "true_positive_rate",
    accuracy_difference: "accuracy",
  },
  multiclass: { accuracy_difference: "accuracy", f1_macro_difference: "f1_macro" },
  regression: { rmse_difference: "rmse", mae_difference: "mae" },
};

function groupGaps(task: Task, groups: Metrics[]): Metrics {
  const gaps: Metrics = {};
  for (const [gap, metric] of Object.entries(GAPS[task])) {
    const values = groups.map((m) => m[metric]!).filter((v) => Number.isFinite(v));
    gaps[gap] = values.length ? Math.max(...values) - Math.min(...values) : Number.NaN;
    if (gap === "demographic_parity_difference") {
      // The "four-fifths rule" reads the same rates as a ratio.
      gaps.demographic_parity_ratio =
        values.length && Math.max(...values) > 0 ? Math.min(...values) / Math.max(...values) : Number.NaN;
    }
  }
  return gaps;
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

/**
 * Runs the model's ONNX file (written at training) on the evaluation rows and
 * compares it with the native predictions: parity is promised on the rows a
 * model is judged on, not only on those it learned from. A missing file (the
 * artifacts were removed) is a warning; a mismatch fails the node.
 */
async function evaluationParity(
  ctx: BlockContext,
  model: ReturnType<typeof asModel>,
  rows: ColumnTable,
): Promise<
  { on: "evaluation" | "training"; rows: number; maxAbsDiff: number; labelAgreement: number } | undefined
> {
  const onnx = (
    model as {
      onnx?: { file: string; parity?: { rows: number; maxAbsDiff: number; labelAgreement: number } };
    }
  ).onnx;
  if (!onnx) return undefined;
  const path = resolve(ctx.projectDir, onnx.file);
  if (!existsSync(path)) {
    ctx.log(`The model's ONNX file ${onnx.file} is gone; showing the parity measured at training.`, "warn");
    return onnx.parity && { on: "training", ...onnx.parity };
  }
  // Nothing to compare on: the parity measured at training stands.
  if (rows.rows === 0) return onnx.parity && { on: "training", ...onnx.parity };
  const checked = await checkModelParity(await readFile(path), model, rows);
  const parity = {
    on: "evaluation" as const,
    rows: checked.rows,
    maxAbsDiff: checked.maxAbsDiff,
    labelAgreement: checked.labelAgreement,
  };
  ctx.metric("onnx_max_abs_diff", parity.maxAbsDiff);
  ctx.metric("onnx_label_agreement", parity.labelAgreement);
  if (!checked.passed) {
    throw new BlockError(
      `On these rows the ONNX file ${onnx.file} does not match the model (max difference ${parity.maxAbsDiff.toExponential(2)}, labels agree on ${(100 * parity.labelAgreement).toFixed(2)} %; required: at most ${checked.tolerance} (relative above 1) and 100 %). This is a fault in Dagwood's ONNX export: please report it with this pipeline.`,
    );
  }
  return parity;
}

/** Checks the data has what evaluation reads, naming what is missing. */
function checkColumns(model: Model, data: TableValue, groupBy: string | undefined): void {
  const columns = data.columns.map((c) => c.name).join(", ");
  if (!data.columns.some((c) => c.name === model.target)) {
    throw new BlockError(
      `The data has no column "${model.target}", the model's target: evaluate compares the predictions with it. Its columns are: ${columns}. Connect rows that hold the true values (e.g. split's test output), or use predict to score unlabeled rows.`,
    );
  }
  requireModelColumns(model, data.columns);
  if (groupBy !== undefined) requireColumns([groupBy], data.columns, "groupBy");
}

/** Truth per row as class indexes (-1: missing); labels the model never saw get indexes after its classes. */
function classIndexes(target: RawColumn, classes: ClassLabel[]): { y: Int32Array; labels: ClassLabel[] } {
  const index = new Map<ClassLabel, number>(classes.map((c, i) => [c, i]));
  const values: (ClassLabel | null)[] =
    target.kind === "numeric"
      ? Array.from(target.values, (v) => (Number.isFinite(v) ? v : null))
      : Array.from(target.codes, (c) => (c < 0 ? null : target.dictionary[c]!));
  const unseen = [...new Set(values.filter((v): v is ClassLabel => v !== null && !index.has(v)))].sort(
    (a, b) => (a < b ? -1 : a > b ? 1 : 0),
  );
  for (const label of unseen) index.set(label, index.size);
  return {
    y: Int32Array.from(values, (v) => (v === null ? -1 : index.get(v)!)),
    labels: [...classes, ...unseen],
  };
}

export default defineBlock({
  kind: "evaluate",
  version: 2,
  title: "Evaluate",
  category: "Evaluate",
  description:
    "Scores labelled rows with a model and reports its metrics: accuracy, precision/recall/F1 (per class, macro, weighted), ROC and PR curves with AUC and average precision, log loss, confusion matrix, calibration and Brier score; for regression RMSE, MAE, R², and the residuals against the predictions. With groupBy: the same metrics per group and the gaps between groups (demographic parity, equal opportunity). Rows without a target value are left out.",
  inputs: {
    model: { type: "model", description: "A trained model" },
    data: { type: "table", description: "Labelled rows: the model's feature columns and its target" },
  },
  outputs: {
    report: { type: "report", description: "Metrics, curves and tables for the UI (kind: evaluation)" },
  },
  params,
  async run(ctx, inputs, p) {
    const model = requireModel(inputs);
    const data = requireTable(inputs, "data");
    checkColumns(model, data, p.groupBy);
    const task: Task = model.task;
    const classes = model.classes ?? [];
    let positive = 1;
    if (p.positiveClass !== undefined) {
      if (task !== "binary") {
        throw new BlockError(
          `positiveClass applies to binary models, but this model is ${task}. Clear positiveClass.`,
        );
      }
      positive = classes.findIndex((c) => String(c) === p.positiveClass);
      if (positive < 0) {
        throw new BlockError(
          `positiveClass "${p.positiveClass}" is not one of the model's classes: ${classes.join(", ")}.`,
        );
      }
    }

    const byName = (name: string) => data.columns.find((c) => c.name === name)!;
    const features: ColumnRequest[] = model.preprocess.features.map((f) => ({
      column: byName(f.name),
      kind: f.kind,
    }));
    // Labels are read as the model's classes were: numbers, or text (booleans and dates too).
    const numericTarget = task === "regression" || classes.every((c) => typeof c === "number");
    const requests: ColumnRequest[] = [
      ...features,
      { column: byName(model.target), kind: numericTarget ? "numeric" : "categorical" },
      ...(p.groupBy ? [{ column: byName(p.groupBy), kind: "categorical" as const }] : []),
    ];
    ctx.progress(0, "Reading the data");
    const table = await readColumns(ctx.sql, data.name, requests, { signal: ctx.signal });
    const target = table.columns[features.length]!;
    const groupColumn = p.groupBy ? table.columns[features.length + 1] : undefined;

    const truth = task === "regression" ? undefined : classIndexes(target, classes);
    const kept: number[] = [];
    for (let r = 0; r < table.rows; r++) {
      const present = truth
        ? truth.y[r]! >= 0
        : target.kind === "numeric" && Number.isFinite(target.values[r]!);
      if (present) kept.push(r);
    }
    if (kept.length === 0) {
      throw new BlockError(
        `The target "${model.target}" is missing in every row of the data, so there is nothing to compare the predictions with.`,
      );
    }
    const skippedRows = table.rows - kept.length;
    if (skippedRows > 0) {
      ctx.log(
        `${skippedRows} row(s) have no "${model.target}" value and are left out of the evaluation.`,
        "warn",
      );
    }

    ctx.progress(0.2, "Scoring");
    const keptRows = Int32Array.from(kept);
    const featureRows = selectRows(
      { rows: table.rows, columns: table.columns.slice(0, features.length) },
      keptRows,
    );
    const predictions = predictTable(model, featureRows);
    ctx.progress(0.4, "Checking the ONNX export on these rows");
    ctx.signal.throwIfAborted();
    let scored: Scored;
    if (task === "regression" || !truth) {
      const values = (target as Extract<RawColumn, { kind: "numeric" }>).values;
      scored = {
        task: "regression",
        y: Float64Array.from(kept, (r) => values[r]!),
        pred: predictions.prediction!,
      };
    } else {
      const k = classes.length;
      const probs = predictions.probabilities!;
      const y = Int32Array.from(kept, (r) => truth.y[r]!);
      const pred =
        task === "binary"
          ? Int32Array.from(kept, (_, i) =>
              probs[i * k + positive]! >= p.threshold ? positive : 1 - positive,
            )
          : predictions.classIndex!;
      scored = { task, k, labels: truth.labels.length, y, pred, probs, positive };
      const unseen = truth.labels.slice(k);
      if (unseen.length > 0) {
        const rows = y.filter((c) => c >= k).length;
        ctx.log(
          `${rows} row(s) have a "${model.target}" value the model never saw (${unseen.map((l) => JSON.stringify(l)).join(", ")}): they count as errors.`,
          "warn",
        );
      }
    }

    ctx.progress(0.6, "Computing metrics");
    const metrics = scalarMetrics(scored, p.calibrationBins);
    let groups: EvaluationReport["groups"];
    if (groupColumn?.kind === "categorical" && p.groupBy) {
      const members = new Map<string | null, number[]>();
      kept.forEach((r, i) => {
        const code = groupColumn.codes[r]!;
        const label = code < 0 ? null : groupColumn.dictionary[code]!;
        const list = members.get(label) ?? [];
        list.push(i);
        members.set(label, list);
      });
      const labels = [...members.keys()].sort((a, b) =>
        a === null ? 1 : b === null ? -1 : a < b ? -1 : a > b ? 1 : 0,
      );
      const perGroup = labels.map((group) => {
        ctx.signal.throwIfAborted();
        const rows = members.get(group)!;
        return { group, n: rows.length, metrics: scalarMetrics(subset(scored, rows), p.calibrationBins) };
      });
      const gaps = groupGaps(
        task,
        perGroup.map((g) => g.metrics),
      );
      Object.assign(metrics, gaps);
      groups = { column: p.groupBy, rows: perGroup, gaps };
    }

    const parity = await evaluationParity(ctx, model, featureRows);
    const report: EvaluationReport = {
      kind: "evaluation",
      task,
      rows: kept.length,
      skippedRows,
      dataFingerprint: data.fingerprint,
      target: model.target,
      ...(truth ? { classes: truth.labels } : {}),
      ...(task === "binary" ? { positiveClass: classes[positive]!, threshold: p.threshold } : {}),
      metrics,
      ...charts(scored, truth?.labels ?? [], p.calibrationBins),
      ...(groups ? { groups } : {}),
      model: {
        estimator: model.estimator,
        task: model.task,
        trainedRows: model.trainedRows,
        ...(parity !== undefined ? { onnxParity: parity } : {}),
      },
    };
    for (const [name, value] of Object.entries(metrics)) if (Number.isFinite(value)) ctx.metric(name, value);
    ctx.progress(1, "Evaluated");
    return { report: { type: "report", data: jsonSafe(report) } };
  },
});
