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
import type { Scored } from "../app/ml/evaluation";
import type { asModel, ClassLabel } from "../app/ml/model";
import { runTask } from "../app/ml/work/pool";
import { predictInWorkers } from "../app/ml/work/score";
import { shareTable } from "../app/ml/work/shared";
import type { Task } from "../app/values/common";
import type { EvaluationReport } from "../app/values/evaluation";
import { checkModelData, jsonSafe, requireModel, requireModelColumns } from "./model-blocks";

/** Whatever model kinds asModel accepts (tree ensembles, linear models). */
type Model = ReturnType<typeof asModel>;

const params = z.object({
  groupBy: z
    .string()
    .min(1)
    .optional()
    .describe(
      "A column whose groups are compared (fairness): the same metrics per group, and the gaps between groups",
    )
    .meta({ order: 3, picker: "column" }),
  positiveClass: z
    .string()
    .min(1)
    .optional()
    .describe("Binary models: the class counted as positive, as written in the data; unset: the second class")
    .meta({ order: 1 }),
  threshold: z
    .number()
    .min(0)
    .max(1)
    .default(0.5)
    .describe(
      "Binary models: a row is predicted positive when its positive-class probability is at least this",
    )
    .meta({ order: 2 }),
  calibrationBins: z
    .number()
    .int()
    .min(2)
    .max(100)
    .default(10)
    .describe("Equal-width bins of the calibration curve")
    .meta({ order: 4, advanced: true }),
});

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
): Promise<EvaluationReport["model"]["onnxParity"]> {
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
  // In a worker thread (app/ml/work): the native side scores every row again.
  const checked = await runTask(
    "modelParity",
    { onnx: await readFile(path), model, table: shareTable(rows) },
    { signal: ctx.signal },
  );
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
  const byLabel = (a: ClassLabel, b: ClassLabel) => (a < b ? -1 : a > b ? 1 : 0);
  // Typed loops, and text looked up once per distinct label rather than per row: a million rows
  // pass here on the engine's event loop.
  if (target.kind === "categorical") {
    const used = new Uint8Array(target.dictionary.length);
    for (const c of target.codes) if (c >= 0) used[c] = 1;
    const unseen = [...new Set(target.dictionary.filter((s, c) => used[c] === 1 && !index.has(s)))].sort(
      byLabel,
    );
    for (const label of unseen) index.set(label, index.size);
    const byCode = Int32Array.from(target.dictionary, (s) => index.get(s) ?? -1);
    return {
      y: Int32Array.from(target.codes, (c) => (c < 0 ? -1 : byCode[c]!)),
      labels: [...classes, ...unseen],
    };
  }
  const unseenSet = new Set<number>();
  for (const v of target.values) if (Number.isFinite(v) && !index.has(v)) unseenSet.add(v);
  const unseen = [...unseenSet].sort(byLabel);
  for (const label of unseen) index.set(label, index.size);
  return {
    y: Int32Array.from(target.values, (v) => (Number.isFinite(v) ? index.get(v)! : -1)),
    labels: [...classes, ...unseen],
  };
}

export default defineBlock({
  kind: "evaluate",
  cpu: true,
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
  outputSchema(ctx, inputs, p) {
    checkModelData(ctx, inputs, true);
    ctx.checkColumns("data", ["groupBy"], p.groupBy);
    return { report: undefined };
  },
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
    // In worker threads (app/ml/work): the engine's event loop stays free while a big table is scored.
    const predictions = await predictInWorkers(model, featureRows, {
      signal: ctx.signal,
      onProgress: (done, total) =>
        ctx.progress(0.2 + (0.2 * done) / total, `Scored ${done} of ${total} rows`),
    });
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
    // In a worker thread (app/ml/work): curves sort every row.
    const figures = await runTask(
      "evaluationFigures",
      {
        scored,
        classes: truth?.labels ?? [],
        calibrationBins: p.calibrationBins,
        ...(groupColumn?.kind === "categorical" && p.groupBy
          ? {
              group: {
                column: p.groupBy,
                codes: Int32Array.from(kept, (r) => groupColumn.codes[r]!),
                dictionary: groupColumn.dictionary,
              },
            }
          : {}),
      },
      { signal: ctx.signal },
    );
    const { metrics, groups } = figures;

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
      ...figures.charts,
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
