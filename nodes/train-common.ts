/**
 * What the tree train blocks share: the common params, reading the training
 * table, choosing the task, fitting the preprocessing, running the fit with
 * progress, metrics and cancel, and packing the model.
 */
import { writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { z } from "zod";
import { isTemporalType } from "../app/data/sql";
import {
  type BlockContext,
  BlockError,
  type BlockInputs,
  requireColumns,
  requireTable,
} from "../app/engine/block";
import type { BlockOutput } from "../app/engine/ports";
import {
  type ColumnKind,
  type ColumnRequest,
  type ColumnTable,
  columnKind,
  readColumns,
  selectRows,
} from "../app/ml/dataset";
import {
  type DagwoodModel,
  type Estimator,
  encodeTarget,
  MODEL_FORMAT,
  type OnnxExportInfo,
  resolveTask,
  signatureFor,
} from "../app/ml/model";
import { exportModelWithInfo } from "../app/ml/onnx/model";
import { checkModelParity, parityRows } from "../app/ml/onnx/parity";
import { fitPreprocessor, MAX_CATEGORIES_LIMIT, transformFeatures } from "../app/ml/preprocess";
import {
  type FitOptions,
  modelToJSON,
  sharedTreePool,
  type TrainingData,
  type TreeEnsembleModel,
  WorkerTreePool,
} from "../app/ml/trees";

/** Params every tree train block takes (DESIGN.md: target, features, task, seed), plus preprocessing. */
export const commonParams = {
  target: z.string().min(1).describe("The column to predict"),
  features: z
    .array(z.string().min(1))
    .optional()
    .describe("The feature columns; unset: every column but the target whose type can be a feature"),
  task: z
    .enum(["auto", "classification", "regression"])
    .default("auto")
    .describe(
      "auto: classification when the target is text, boolean or a date, or holds only integers with at most 20 distinct values; regression otherwise",
    ),
  seed: z
    .number()
    .int()
    .default(0)
    .describe("Random seed: the same data, params and seed give the same model"),
  impute: z
    .enum(["median", "mean", "constant", "none"])
    .default("median")
    .describe(
      "How missing numeric values (NULL, NaN, ±Infinity) are filled, from the training rows; none: the trees learn where they go",
    ),
  imputeValue: z.number().default(0).describe("The fill value when impute is constant"),
  maxCategories: z
    .number()
    .int()
    .min(1)
    .max(MAX_CATEGORIES_LIMIT)
    .default(64)
    .describe("Categories kept per text column, most frequent first; the rest share one 'other' code"),
};

export const maxDepthParam = (fallback: number) =>
  z.number().int().min(1).max(64).default(fallback).describe("Depth limit of each tree (root = depth 0)");
export const minSamplesLeafParam = (fallback: number) =>
  z.number().int().min(1).default(fallback).describe("Least training rows in a leaf");

type CommonParams = z.output<z.ZodObject<typeof commonParams>>;

type Fit = (train: TrainingData, options: FitOptions) => Promise<TreeEnsembleModel>;

/** The feature columns and how each is read; unusable defaulted columns are logged and left out. */
function chooseFeatures(ctx: BlockContext, p: CommonParams, columns: TableColumns): ColumnRequest[] {
  if (p.features?.includes(p.target)) {
    throw new BlockError(`The target "${p.target}" is also listed in features; remove it from features.`);
  }
  const chosen = p.features
    ? requireColumns(p.features, columns, "features")
    : columns.filter((c) => c.name !== p.target);
  const usable: ColumnRequest[] = [];
  const unusable: string[] = [];
  for (const column of chosen) {
    if (columnKind(column.type)) usable.push({ column });
    else unusable.push(`"${column.name}" (${column.type})`);
  }
  if (unusable.length > 0 && p.features) {
    throw new BlockError(
      `Feature column(s) ${unusable.join(", ")} cannot be used: features must be numbers, booleans, dates or text. Remove them from features, or convert them first (e.g. with transform.sql).`,
    );
  }
  if (unusable.length > 0)
    ctx.log(`Not used as features (unsupported type): ${unusable.join(", ")}.`, "warn");
  return usable;
}

type TableColumns = ReturnType<typeof requireTable>["columns"];

/** Reads `train`, fits preprocessing and the estimator, and returns the model output. */
export async function trainTreeModel(
  ctx: BlockContext,
  inputs: BlockInputs,
  p: CommonParams,
  estimator: Estimator,
  fitEstimator: Fit,
): Promise<Record<string, BlockOutput>> {
  const input = requireTable(inputs, "train");
  const [targetColumn] = requireColumns([p.target], input.columns, "target");
  const requests = chooseFeatures(ctx, p, input.columns);
  if (requests.length === 0) {
    throw new BlockError(
      `There are no feature columns: the table has only the target "${p.target}" and columns of unsupported types. Add numeric, boolean, date or text columns.`,
    );
  }
  // Boolean and date targets are read as text ("true", "2024-01-31"): labels read well and cast back.
  const asText = targetColumn!.type === "BOOLEAN" || isTemporalType(targetColumn!.type);
  const targetKind: ColumnKind | undefined = asText ? "categorical" : undefined;
  if (!targetKind && !columnKind(targetColumn!.type)) {
    throw new BlockError(
      `The target "${p.target}" has type ${targetColumn!.type}, which cannot be predicted.`,
    );
  }
  const started = performance.now();
  const table = await readColumns(
    ctx.sql,
    input.name,
    [...requests, { column: targetColumn!, kind: targetKind }],
    {
      signal: ctx.signal,
    },
  );
  const target = table.columns.pop()!;
  const readMs = performance.now() - started;

  let kind: "classification" | "regression";
  try {
    kind = resolveTask(p.task, target);
  } catch (e) {
    throw new BlockError((e as Error).message);
  }
  const encoded = encodeTarget(target, kind);
  const skipped = table.rows - encoded.rows.length;
  if (skipped > 0)
    ctx.log(`${skipped} row(s) have no "${p.target}" value and are left out of training.`, "warn");
  if (encoded.rows.length === 0)
    throw new BlockError(`The target "${p.target}" has no values: every row is missing it.`);
  const distinct = encoded.classes?.length ?? new Set(encoded.y).size;
  if (distinct < 2) {
    const value = encoded.classes ? encoded.classes[0] : encoded.y[0];
    throw new BlockError(
      `The target "${p.target}" has the same value (${JSON.stringify(value)}) in every training row, so there is nothing to learn. Choose another target, or check the rows reaching this block.`,
    );
  }
  const rows = selectRows(table, encoded.rows);
  const spec = fitPreprocessor(rows, {
    impute: p.impute,
    imputeValue: p.imputeValue,
    maxCategories: p.maxCategories,
    log: (message, level) => ctx.log(message, level),
  });
  if (spec.features.length === 0) {
    const why = spec.dropped.map((d) => `"${d.name}": ${d.reason}`).join("; ");
    throw new BlockError(`All feature columns were dropped (${why}). Give the model columns with values.`);
  }
  const data = transformFeatures(spec, rows);
  const task = encoded.task;

  const pool = await sharedTreePool();
  const backend =
    pool instanceof WorkerTreePool
      ? `${pool.size} worker thread(s)`
      : "the main thread (worker threads unavailable)";
  const what =
    task === "regression" ? "regression" : `${task} classification, ${encoded.classes!.length} classes`;
  ctx.log(
    `Training ${estimator} (${what}) on ${data.rows} rows × ${spec.features.length} features; tree kernel in ${backend}.`,
  );
  const fitStarted = performance.now();
  ctx.progress(0, `Training ${estimator}`);
  const ensemble = await fitEstimator(
    { data, y: encoded.y, task, numClasses: encoded.classes?.length },
    {
      signal: ctx.signal,
      pool,
      onProgress: (fraction) => ctx.progress(fraction, `Training ${estimator}`),
      onIteration: (i, losses) => {
        ctx.metric("train_loss", losses.trainLoss, i);
        if (losses.validLoss !== undefined) ctx.metric("valid_loss", losses.validLoss, i);
      },
    },
  );
  const fitMs = performance.now() - fitStarted;
  ctx.log(
    `Trained ${ensemble.trees.length} tree(s) (${ensemble.iterations} iteration(s)) in ${fitMs.toFixed(0)} ms; reading the table took ${readMs.toFixed(0)} ms.`,
  );
  ctx.progress(1, `Trained ${estimator}`);

  const model: DagwoodModel = {
    kind: MODEL_FORMAT,
    estimator,
    task,
    target: p.target,
    targetType: targetColumn!.type,
    ...(encoded.classes ? { classes: encoded.classes } : {}),
    signature: signatureFor(spec, task, encoded.classes),
    preprocess: spec,
    ensemble: modelToJSON(ensemble),
    trainedRows: data.rows,
    params: { ...p, features: spec.features.map((f) => f.name) },
  };
  model.onnx = await exportWithParity(ctx, model, rows);
  return { model: { type: "model", data: model } };
}

/** What parity must reach (issue 4, "Parity, always"). */
export const PARITY_MAX_ABS_DIFF = 1e-5;

/**
 * Exports the model to `<artifactDir>/model.onnx` and runs it with
 * onnxruntime against `predictTable` on (a sample of) the training rows plus
 * probe rows (all missing; ±Infinity and unseen categories). Both sides get
 * the same float32-rounded inputs, so any difference is a fault of the
 * export, and the block fails on it.
 */
async function exportWithParity(
  ctx: BlockContext,
  model: DagwoodModel,
  rows: ColumnTable,
): Promise<OnnxExportInfo> {
  ctx.signal.throwIfAborted();
  let exported: ReturnType<typeof exportModelWithInfo>;
  try {
    exported = exportModelWithInfo(model);
  } catch (e) {
    throw new BlockError(`The model trained, but its ONNX export failed: ${(e as Error).message}`);
  }
  const path = join(await ctx.artifactDir(), "model.onnx");
  await writeFile(path, exported.bytes);
  const checked = await checkModelParity(exported.bytes, model, parityRows(model, rows));
  const parity = {
    rows: checked.rows,
    maxAbsDiff: checked.maxAbsDiff,
    labelAgreement: checked.labelAgreement,
  };
  ctx.metric("onnx_max_abs_diff", parity.maxAbsDiff);
  ctx.metric("onnx_label_agreement", parity.labelAgreement);
  const what = model.task === "regression" ? "prediction" : "probability";
  const summary = `max |${what} difference| ${parity.maxAbsDiff.toExponential(2)}, labels agree on ${(100 * parity.labelAgreement).toFixed(2)} % of ${parity.rows} rows`;
  if (!(parity.maxAbsDiff <= PARITY_MAX_ABS_DIFF && parity.labelAgreement === 1)) {
    throw new BlockError(
      `The exported ONNX model does not match the trained model (${summary}; required: at most ${PARITY_MAX_ABS_DIFF} and 100 %). This is a fault in Dagwood's ONNX export, not in your data: please report it with this pipeline. The file is kept at ${path} for inspection.`,
    );
  }
  const file = relative(ctx.projectDir, path);
  ctx.log(
    `Exported ${file} (${exported.bytes.length} bytes); onnxruntime parity with the native model: ${summary}.`,
  );
  return { file, bytes: exported.bytes.length, opsets: exported.opsets, parity };
}

export const trainPorts = {
  inputs: {
    train: { type: "table" as const, description: "The training rows: raw feature columns and the target" },
  },
  outputs: {
    model: {
      type: "model" as const,
      description: "The fitted preprocessing and trees, with the input signature",
    },
  },
};
