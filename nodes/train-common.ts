/**
 * What the tree train blocks share: the common params, reading the training
 * table, choosing the task, fitting the preprocessing, the hyperparameter
 * search (for the linear family too), running the fit with progress, metrics
 * and cancel, and packing the model.
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
  type RawColumn,
  readColumns,
  selectRows,
} from "../app/ml/dataset";
import {
  type DagwoodModel,
  type EncodedTarget,
  type Estimator,
  encodeTarget,
  type LinearDagwoodModel,
  type MlpDagwoodModel,
  MODEL_FORMAT,
  type OnnxExportInfo,
  resolveTask,
  signatureFor,
} from "../app/ml/model";
import { exportModelWithInfo } from "../app/ml/onnx/model";
import { checkModelParity, parityRows } from "../app/ml/onnx/parity";
import {
  fitPreprocessor,
  MAX_CATEGORIES_LIMIT,
  type PreprocessOptions,
  type PreprocessSpec,
  transformFeatures,
} from "../app/ml/preprocess";
import {
  type Dataset,
  exactSplitsFor,
  type FitOptions,
  modelToJSON,
  predictProba,
  predictRaw,
  sharedTreePool,
  type TrainingData,
  type TreeEnsembleModel,
  WorkerTreePool,
} from "../app/ml/trees";
import {
  checkSpace,
  DEFAULT_GRID_BUDGET,
  DEFAULT_RANDOM_TRIALS,
  type FoldPredictions,
  HIGHER_IS_BETTER,
  kFolds,
  planTrials,
  resolveMetric,
  runSearch,
  SEARCH_METRICS,
  type SearchMetric,
  type SearchStrategy,
  scoreFold,
  type TrialParams,
} from "../app/ml/tuning";

/** Opset versions for the exported ONNX file, for runtimes that need older (or newer) ones; `ml` from `mlMin` to `mlMax`. */
function opsetParam(mlMin: number, mlMax: number, why: string) {
  return z
    .object({
      default: z
        .number()
        .int()
        .min(11)
        .max(23)
        .optional()
        .describe("Version of the default ONNX domain (default 17)"),
      ml: z
        .number()
        .int()
        .min(mlMin)
        .max(mlMax)
        .optional()
        .describe(`Version of the ai.onnx.ml domain (default 3; ${mlMin} to ${mlMax}: ${why})`),
    })
    .optional()
    .describe(
      "Opset versions of the exported ONNX file; unset: ONNX 17 and ai.onnx.ml 3, which onnxruntime 1.17+ and Triton load",
    );
}

/** Linear models and networks: LabelEncoder needs ai.onnx.ml 2. */
export const onnxOpsetParam = opsetParam(2, 5, "LabelEncoder needs 2");
/** Trees: their float64 thresholds need TreeEnsembleRegressor's *_as_tensor (3), which 5 deprecates. */
export const treeOnnxOpsetParam = opsetParam(
  3,
  4,
  "float64 thresholds need 3; 5 drops TreeEnsembleRegressor",
);

/** Params every tree train block takes (DESIGN.md: target, features, task, seed), plus preprocessing. */
export const commonParams = {
  onnxOpset: treeOnnxOpsetParam,
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
    .enum(["median", "mean", "mode", "constant", "none"])
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

const searchValue = z.union([z.number(), z.string(), z.boolean()]);

/** The `search` param of every train block (DESIGN.md: grid or random, k-fold CV on the training input). */
export const searchParam = z
  .object({
    strategy: z
      .enum(["grid", "random"])
      .describe("grid: every combination of the value lists; random: maxTrials seeded draws"),
    space: z
      .record(
        z.string(),
        z.union([
          z.array(searchValue).min(1),
          z.object({
            min: z.number(),
            max: z.number(),
            log: z.boolean().optional().describe("Sample log-uniformly (min > 0)"),
            int: z.boolean().optional().describe("Whole numbers only"),
          }),
        ]),
      )
      .describe(
        "The block's own estimator params to search: a list of values, or (random only) a range {min, max, log?, int?}",
      ),
    folds: z.number().int().min(2).max(10).default(5).describe("k of the k-fold cross-validation"),
    metric: z
      .enum(SEARCH_METRICS)
      .optional()
      .describe(
        "The cross-validation score to optimize; unset: accuracy (classification), rmse (regression)",
      ),
    maxTrials: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe(
        `The trial budget; unset: ${DEFAULT_RANDOM_TRIALS} for random, ${DEFAULT_GRID_BUDGET} for a grid (a larger grid is an error)`,
      ),
    seed: z
      .number()
      .int()
      .optional()
      .describe("Seed of the folds and the random draws; unset: the block's seed"),
  })
  .optional()
  .describe(
    "Hyperparameter search with k-fold cross-validation, then a refit on all rows with the best params",
  );

export type SearchParams = NonNullable<z.output<typeof searchParam>>;

/** What a searched model records (DagwoodModel.tuning). */
export interface TuningRecord {
  strategy: SearchStrategy;
  metric: SearchMetric;
  folds: number;
  seed: number;
  trials: { params: TrialParams; mean: number; std: number }[];
  best: { params: TrialParams; mean: number };
}

type CommonParams = z.output<z.ZodObject<typeof commonParams>>;
type TunedParams = { seed: number; search?: SearchParams };

/** Fits a trial's model on a fold's training rows (preprocessing included) and predicts its test rows. */
export type FoldFit<P> = (
  params: P,
  train: { rows: ColumnTable; y: Float64Array },
  test: ColumnTable,
) => Promise<FoldPredictions>;

/**
 * Runs `p.search`: every trial is cross-validated with `fitFold`, which fits
 * its own preprocessing on the fold's training rows only, so no statistic of
 * a fold's test rows leaks into its model. Logs each trial and streams
 * `cv_<metric>` with the trial as the step. Returns `p` with the best params.
 */
export async function searchHyperparameters<P extends TunedParams>(
  ctx: BlockContext,
  p: P,
  tunable: z.ZodObject,
  rows: ColumnTable,
  encoded: EncodedTarget,
  fitFold: FoldFit<P>,
): Promise<{ params: P; tuning: TuningRecord }> {
  const search = p.search!;
  const seed = search.seed ?? p.seed;
  const regression = encoded.task === "regression";
  const classes = encoded.classes?.length ?? 0;
  let metric: SearchMetric;
  let trials: P[];
  let plan: ReturnType<typeof kFolds>;
  let planned: TrialParams[];
  try {
    checkSpace(search.space, Object.keys(tunable.shape));
    metric = resolveMetric(search.metric, regression);
    planned = planTrials({
      strategy: search.strategy,
      space: search.space,
      maxTrials: search.maxTrials,
      seed,
    });
    trials = planned.map((trial) => {
      const checked = tunable.safeParse({ ...p, ...trial });
      if (!checked.success) {
        const issue = checked.error.issues[0]!;
        throw new Error(
          `The search tries ${JSON.stringify(trial)}, but ${issue.path.join(".")} is invalid there: ${issue.message}. Narrow search.space${issue.code === "invalid_type" && /int/.test(issue.message) ? " (or set int: true on the range)" : ""}.`,
        );
      }
      return { ...p, ...checked.data };
    });
    const names = encoded.classes?.map(String);
    plan = kFolds(encoded.y.length, search.folds, seed, regression ? undefined : encoded.y, names);
  } catch (e) {
    throw new BlockError((e as Error).message);
  }
  for (const warning of plan.warnings) ctx.log(warning, "warn");
  const k = search.folds;
  ctx.log(
    `Searching ${trials.length} ${search.strategy} trial(s) × ${k} folds, scored by cross-validated ${metric} (${HIGHER_IS_BETTER[metric] ? "higher" : "lower"} is better).`,
  );
  const pick = (y: Float64Array, at: Int32Array) => Float64Array.from(at, (i) => y[i]!);
  const result = await runSearch(
    planned,
    async (_, f, t) => {
      ctx.progress(
        (t * k + f) / (trials.length * k),
        `Searching: trial ${t + 1}/${trials.length}, fold ${f + 1}/${k}`,
      );
      const fold = plan.folds[f]!;
      const predicted = await fitFold(
        trials[t]!,
        { rows: selectRows(rows, fold.train), y: pick(encoded.y, fold.train) },
        selectRows(rows, fold.test),
      );
      return scoreFold(metric, pick(encoded.y, fold.test), predicted, classes);
    },
    {
      folds: k,
      higherIsBetter: HIGHER_IS_BETTER[metric],
      signal: ctx.signal,
      onTrial: (t, trial) => {
        ctx.metric(`cv_${metric}`, trial.mean, t);
        ctx.trial(t, trial.params, { [`cv_${metric}`]: trial.mean, [`cv_${metric}_std`]: trial.std });
        ctx.log(
          `Trial ${t + 1}/${trials.length} ${JSON.stringify(trial.params)}: ${metric} ${trial.mean.toPrecision(4)} ± ${trial.std.toPrecision(2)}`,
        );
      },
    },
  );
  ctx.progress(1, "Search done");
  const best = result.trials[result.best.index]!;
  ctx.log(
    `Best trial ${result.best.index + 1}: ${JSON.stringify(best.params)}, ${metric} ${best.mean.toPrecision(4)}; refitting on all ${encoded.y.length} rows.`,
  );
  // The run records the params of the model it produced: the search's choice, not the pipeline's.
  ctx.chosenParams(result.best.params);
  return {
    params: trials[result.best.index]!,
    tuning: {
      strategy: search.strategy,
      metric,
      folds: k,
      seed,
      trials: result.trials.map(({ params, mean, std }) => ({ params, mean, std })),
      best: { params: result.best.params, mean: result.best.mean },
    },
  };
}

/** A tree block's estimator: the params search.space may tune, and the fit from the block's params. */
export interface TreeTrainer<P> {
  estimator: Estimator;
  tunable: z.ZodObject;
  fit(train: TrainingData, options: FitOptions, params: P): Promise<TreeEnsembleModel>;
}

const treePreprocessing = (p: CommonParams) => ({
  impute: p.impute,
  imputeValue: p.imputeValue,
  maxCategories: p.maxCategories,
});

/** The feature columns and how each is read; unusable defaulted columns are logged and left out. */
function chooseFeatures(
  ctx: BlockContext,
  p: { target: string; features?: string[] },
  columns: TableColumns,
): ColumnRequest[] {
  if (p.features?.includes(p.target)) {
    throw new BlockError(`The target "${p.target}" is also listed in features; remove it from features.`);
  }
  const chosen = p.features
    ? requireColumns(p.features, columns, "features")
    : columns.filter((c) => c.name !== p.target);
  const usable = chosen.filter((c) => columnKind(c.type));
  const unusable = chosen.filter((c) => !columnKind(c.type)).map((c) => `"${c.name}" (${c.type})`);
  if (unusable.length > 0 && p.features) {
    throw new BlockError(
      `Feature column(s) ${unusable.join(", ")} cannot be used: features must be numbers, booleans, dates or text. Remove them from features, or convert them first (e.g. with transform.sql).`,
    );
  }
  if (unusable.length > 0)
    ctx.log(`Not used as features (unsupported type): ${unusable.join(", ")}.`, "warn");
  return usable.map((column) => ({ column }));
}

/** The training rows every train block starts from, read and checked. */
export interface TrainingRows {
  targetColumn: TableColumns[number];
  encoded: ReturnType<typeof encodeTarget>;
  /** The feature columns of the rows that have a target value. */
  rows: ColumnTable;
  readMs: number;
}

/**
 * Reads `train` for a train block: chooses the features, reads them and the
 * target in columns, decides the task (`decideTask` may refuse with the block
 * to use instead), leaves out rows without a target, and refuses a target
 * with a single value.
 */
export async function readTrainingRows(
  ctx: BlockContext,
  inputs: BlockInputs,
  p: { target: string; features?: string[] },
  decideTask: (target: RawColumn) => "classification" | "regression",
): Promise<TrainingRows> {
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
    kind = decideTask(target);
  } catch (e) {
    throw e instanceof BlockError ? e : new BlockError((e as Error).message);
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
  return { targetColumn: targetColumn!, encoded, rows: selectRows(table, encoded.rows), readMs };
}

type TableColumns = ReturnType<typeof requireTable>["columns"];

/** Reads `train`, fits preprocessing and the estimator, and returns the model output. */
export async function trainTreeModel<P extends CommonParams & TunedParams>(
  ctx: BlockContext,
  inputs: BlockInputs,
  given: P,
  trainer: TreeTrainer<P>,
): Promise<Record<string, BlockOutput>> {
  const { estimator } = trainer;
  let p = given;
  const { targetColumn, encoded, rows, readMs } = await readTrainingRows(ctx, inputs, p, (target) =>
    resolveTask(p.task, target),
  );
  const task = encoded.task;
  const pool = await sharedTreePool();
  let tuning: TuningRecord | undefined;
  if (p.search) {
    const numClasses = encoded.classes?.length;
    ({ params: p, tuning } = await searchHyperparameters(
      ctx,
      p,
      trainer.tunable,
      rows,
      encoded,
      async (q, train, test) => {
        const foldSpec = fitPreprocessor(train.rows, treePreprocessing(q));
        const ensemble = await trainer.fit(
          { data: transformFeatures(foldSpec, train.rows), y: train.y, task, numClasses },
          { signal: ctx.signal, pool },
          q,
        );
        const data = transformFeatures(foldSpec, test);
        return task === "regression"
          ? { prediction: predictRaw(ensemble, data) }
          : { probabilities: predictProba(ensemble, data) };
      },
    ));
  }
  const { spec, data } = fitTrainingPreprocessor(ctx, rows, treePreprocessing(p));

  // As fitForest decides (app/ml/trees/exact.ts): exact CART splits on small data, histograms beyond.
  const trees = estimator === "forest" ? ((p as { trees?: number }).trees ?? 100) : 1;
  const exact = estimator !== "gbdt" && exactSplitsFor(data.rows, data.features.length, trees);
  const backend = exact
    ? "exact splits, as CART, in this thread (small data)"
    : pool instanceof WorkerTreePool
      ? `histogram kernel in ${pool.size} worker thread(s)`
      : "histogram kernel in the main thread (worker threads unavailable)";
  const what =
    task === "regression" ? "regression" : `${task} classification, ${encoded.classes!.length} classes`;
  ctx.log(
    `Training ${estimator} (${what}) on ${data.rows} rows × ${spec.features.length} features; ${backend}.`,
  );
  const fitStarted = performance.now();
  ctx.progress(0, `Training ${estimator}`);
  const ensemble = await trainer.fit(
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
    p,
  );
  const fitMs = performance.now() - fitStarted;
  ctx.log(
    `Trained ${ensemble.trees.length} tree(s) (${ensemble.iterations} iteration(s)) in ${fitMs.toFixed(0)} ms; reading the table took ${readMs.toFixed(0)} ms.`,
  );
  ctx.progress(1, `Trained ${estimator}`);

  return packModel<DagwoodModel>(
    ctx,
    estimator,
    { ensemble: modelToJSON(ensemble) },
    { p, targetColumn, encoded, spec, trainedRows: data.rows, rows, tuning },
  );
}

/**
 * Fits the final preprocessing on all training rows, logging what it drops,
 * and refuses when no feature is left; returns the spec and the encoded rows.
 */
export function fitTrainingPreprocessor(
  ctx: BlockContext,
  rows: ColumnTable,
  options: PreprocessOptions,
): { spec: PreprocessSpec; data: Dataset } {
  const spec = fitPreprocessor(rows, {
    ...options,
    log: (message, level) => ctx.log(message, level),
  });
  if (spec.features.length === 0) {
    const why = spec.dropped.map((d) => `"${d.name}": ${d.reason}`).join("; ");
    throw new BlockError(`All feature columns were dropped (${why}). Give the model columns with values.`);
  }
  return { spec, data: transformFeatures(spec, rows) };
}

/** Linear models and networks need every value present, categories as 0/1 columns and comparable scales. */
export const oneHotScaledPreprocessing = (p: {
  impute: PreprocessOptions["impute"];
  imputeValue: number;
  maxCategories: number;
}): PreprocessOptions => ({
  impute: p.impute,
  imputeValue: p.imputeValue,
  maxCategories: p.maxCategories,
  encoding: "onehot",
  scale: "standard",
});

/** What packModel needs besides the fitted estimator. */
export interface TrainedParts {
  p: { target: string; onnxOpset?: z.output<typeof onnxOpsetParam> };
  targetColumn: TableColumns[number];
  encoded: EncodedTarget;
  spec: PreprocessSpec;
  trainedRows: number;
  /** The training rows, for the parity check. */
  rows: ColumnTable;
  tuning: TuningRecord | undefined;
}

/**
 * Packs a fitted estimator (`fitted`: its `ensemble`, `linear` or `mlp`
 * field) into the `dagwood.model/1` container, exports it to
 * `<artifactDir>/model.onnx` with its parity checked (exportWithParity fails
 * the block unless it matches), and returns the block's model output.
 */
export async function packModel<M extends DagwoodModel | LinearDagwoodModel | MlpDagwoodModel>(
  ctx: BlockContext,
  estimator: M["estimator"],
  fitted: Pick<M, Extract<keyof M, "ensemble" | "linear" | "mlp">>,
  { p, targetColumn, encoded, spec, trainedRows, rows, tuning }: TrainedParts,
): Promise<Record<string, BlockOutput>> {
  // The cast: TypeScript cannot tie the spread `fitted` back to M's estimator field.
  const model = {
    kind: MODEL_FORMAT,
    estimator,
    task: encoded.task,
    target: p.target,
    targetType: targetColumn.type,
    ...(encoded.classes ? { classes: encoded.classes } : {}),
    signature: signatureFor(spec, encoded.task, encoded.classes),
    preprocess: spec,
    ...fitted,
    trainedRows,
    params: { ...p, features: spec.features.map((f) => f.name) },
    ...(tuning ? { tuning } : {}),
  } as unknown as M & { tuning?: TuningRecord };
  model.onnx = await exportWithParity(ctx, model, rows, p.onnxOpset);
  return { model: { type: "model", data: model } };
}

/**
 * Exports the model to `<artifactDir>/model.onnx` and runs it with
 * onnxruntime against `predictTable` on (a sample of) the training rows plus
 * probe rows (all missing; ±Infinity and unseen categories). Both sides get
 * the same raw rows, so any difference beyond float64 summation order is a
 * fault of the export, and the block fails on it.
 */
export async function exportWithParity(
  ctx: BlockContext,
  model: DagwoodModel | LinearDagwoodModel | MlpDagwoodModel,
  rows: ColumnTable,
  opset?: z.output<typeof onnxOpsetParam>,
): Promise<OnnxExportInfo> {
  ctx.signal.throwIfAborted();
  let exported: ReturnType<typeof exportModelWithInfo>;
  const opsets = {
    ...(opset?.default !== undefined ? { "": opset.default } : {}),
    ...(opset?.ml !== undefined ? { "ai.onnx.ml": opset.ml } : {}),
  };
  try {
    exported = exportModelWithInfo(model, Object.keys(opsets).length ? { target: { opsets } } : {});
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
  if (!checked.passed) {
    throw new BlockError(
      `The exported ONNX model does not match the trained model (${summary}; required: at most ${checked.tolerance} (relative above 1) and 100 %). This is a fault in Dagwood's ONNX export, not in your data: please report it with this pipeline. The file is kept at ${path} for inspection.`,
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
