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
import { binaryLabels, decisionParams, positiveClassIndex } from "../app/ml/decision";
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
    // One column was written as a string before several were allowed.
    .preprocess((v) => (typeof v === "string" ? [v] : v), z.array(z.string().min(1)).min(1))
    .optional()
    .describe(
      "Columns whose groups are compared (fairness): the same metrics per group, and the gaps between groups; several columns: a group per combination (a × b)",
    )
    .meta({ order: 3, picker: "columns" }),
  fairnessConventions: z
    .enum(["fairlearn", "dagwood"])
    .default("fairlearn")
    .describe(
      'With groupBy: "fairlearn" drops rows whose group value is missing and scores a rate with nothing to divide by (a group without actual positives or negatives) as 0, as Fairlearn does; "dagwood" keeps missing values as a group of their own and leaves undefined rates out of the gaps',
    )
    .meta({ order: 5, advanced: true }),
  minGroupSize: z
    .number()
    .int()
    .min(1)
    .default(30)
    .describe("With groupBy: groups with fewer rows are marked small (their rates are too noisy to judge)")
    .meta({ order: 6, advanced: true }),
  smallGroups: z
    .enum(["exclude", "include"])
    .default("exclude")
    .describe(
      "With groupBy: whether groups smaller than minGroupSize count in the gaps (they are always reported)",
    )
    .meta({ order: 7, advanced: true }),
  bootstrapResamples: z
    .number()
    .int()
    .min(0)
    .max(100_000)
    .default(1000)
    .describe(
      "With groupBy: resamples of the rows for each gap's 95 % bootstrap interval (each one pass over the rows); 0: no intervals",
    )
    .meta({ order: 8, advanced: true }),
  seed: z
    .number()
    .int()
    .default(1)
    .describe("With groupBy: the seed of the bootstrap resamples")
    .meta({ order: 9, advanced: true }),
  ...decisionParams,
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
function checkColumns(model: Model, data: TableValue, groupBy: string[] | undefined): void {
  const columns = data.columns.map((c) => c.name).join(", ");
  if (!data.columns.some((c) => c.name === model.target)) {
    throw new BlockError(
      `The data has no column "${model.target}", the model's target: evaluate compares the predictions with it. Its columns are: ${columns}. Connect rows that hold the true values (e.g. split's test output), or use predict to score unlabeled rows.`,
    );
  }
  requireModelColumns(model, data.columns);
  if (groupBy !== undefined) requireColumns(groupBy, data.columns, "groupBy");
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

/** Says which rows and groups the fairness gaps leave out, and why. */
function logGroups(ctx: BlockContext, groups: NonNullable<EvaluationReport["groups"]>): void {
  if (groups.droppedRows) {
    ctx.log(
      `${groups.droppedRows} row(s) have no ${groups.column} value: they are in no group (Fairlearn's conventions drop them; fairnessConventions "dagwood" keeps them as a group of their own).`,
      "warn",
    );
  }
  const leftOut = groups.rows.filter((g) => g.counted === false);
  if (leftOut.length > 0) {
    ctx.log(
      `${leftOut.length} group(s) have fewer than ${groups.minGroupSize} rows and are left out of the gaps: ${leftOut.map((g) => `${g.group ?? "(missing)"} (${g.n})`).join(", ")}. Lower minGroupSize or set smallGroups to "include" to count them.`,
      "warn",
    );
  }
  const counted = groups.rows.length - leftOut.length;
  if (counted < 2) {
    ctx.log(
      `Only ${counted} group(s) count in the gaps, so there is nothing to compare them with: the gaps are undefined (null). Lower minGroupSize, or set smallGroups to "include".`,
      "warn",
    );
  }
}

export default defineBlock({
  kind: "evaluate",
  cpu: true,
  version: 2,
  title: "Evaluate",
  category: "Evaluate",
  description:
    "Scores labelled rows with a model and reports its metrics: accuracy, precision/recall/F1 (per class, macro, weighted), ROC and PR curves with AUC and average precision, log loss, confusion matrix, calibration and Brier score; for regression RMSE, MAE, R², and the residuals against the predictions. With groupBy (one or several columns): the same metrics per group and the gaps between groups with bootstrap intervals (demographic parity, equal opportunity, false positive rate, equalized odds; Fairlearn's definitions and conventions by default), small groups marked and left out. Rows without a target value are left out.",
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
    const positive = positiveClassIndex(task, classes, p.positiveClass, (m) => new BlockError(m));

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
      ...(p.groupBy ?? []).map((name) => ({ column: byName(name), kind: "categorical" as const })),
    ];
    ctx.progress(0, "Reading the data");
    const table = await readColumns(ctx.sql, data.name, requests, { signal: ctx.signal });
    const target = table.columns[features.length]!;
    const groupColumns = table.columns.slice(features.length + 1);

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
          ? binaryLabels(probs, { positive, threshold: p.threshold })
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
        conventions: p.fairnessConventions,
        ...(p.groupBy
          ? {
              group: {
                columns: groupColumns.map((column, i) => {
                  const codes = column as Extract<RawColumn, { kind: "categorical" }>;
                  return {
                    name: p.groupBy![i]!,
                    codes: Int32Array.from(kept, (r) => codes.codes[r]!),
                    dictionary: codes.dictionary,
                  };
                }),
                options: {
                  conventions: p.fairnessConventions,
                  minGroupSize: p.minGroupSize,
                  smallGroups: p.smallGroups,
                  resamples: p.bootstrapResamples,
                  seed: p.seed,
                },
              },
            }
          : {}),
      },
      { signal: ctx.signal },
    );
    const { metrics, groups } = figures;
    if (groups) logGroups(ctx, groups);

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
