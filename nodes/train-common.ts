/**
 * What the train blocks share as declarations: the common params, the
 * `search` param, the ports, and turning a block's `train` input into the
 * training table app/ml/training reads. The training itself (search, fit,
 * packing, ONNX export and parity) is app/ml/training's.
 */
import { z } from "zod";
import { isNumericType } from "../app/data/sql";
import { type BlockInputs, requireColumns, requireTable } from "../app/engine/block";
import type { BlockOutput } from "../app/engine/ports";
import type { OutputSchemas, PortSchema, SchemaContext } from "../app/engine/schema";
import { columnKind } from "../app/ml/dataset";
import type { AnyDagwoodModel } from "../app/ml/model";
import { MAX_CATEGORIES_LIMIT } from "../app/ml/preprocess";
import type { TrainingTable } from "../app/ml/training";
import { DEFAULT_GRID_BUDGET, DEFAULT_RANDOM_TRIALS, SEARCH_METRICS } from "../app/ml/tuning";

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
    )
    .meta({ order: 90, advanced: true });
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
  target: z.string().min(1).describe("The column to predict").meta({ order: 1, picker: "column" }),
  features: z
    .array(z.string().min(1))
    .optional()
    .describe("The feature columns; unset: every column but the target whose type can be a feature")
    .meta({ order: 2, picker: "columns" }),
  task: z
    .enum(["auto", "classification", "regression"])
    .default("auto")
    .describe(
      "auto: classification when the target is text, boolean or a date, or holds only integers with at most 20 distinct values; regression otherwise",
    )
    .meta({ order: 3 }),
  seed: z
    .number()
    .int()
    .default(0)
    .describe("Random seed: the same data, params and seed give the same model")
    .meta({ order: 70, advanced: true }),
  impute: z
    .enum(["median", "mean", "mode", "constant", "none"])
    .default("median")
    .describe(
      "How missing numeric values (NULL, NaN, ±Infinity) are filled, from the training rows; none: the trees learn where they go",
    )
    .meta({ order: 60, advanced: true }),
  imputeValue: z
    .number()
    .default(0)
    .describe("The fill value when impute is constant")
    .meta({ order: 61, advanced: true, showWhen: { param: "impute", in: ["constant"] } }),
  maxCategories: z
    .number()
    .int()
    .min(1)
    .max(MAX_CATEGORIES_LIMIT)
    .default(64)
    .describe("Categories kept per text column, most frequent first; the rest share one 'other' code")
    .meta({ order: 62, advanced: true }),
  dateFeatures: z
    .enum(["parts", "epoch"])
    .optional()
    .describe(
      "How DATE and TIMESTAMP columns are used: parts (year, month, day, weekday in UTC, and hour for timestamps, computed again inside the ONNX model) or epoch (one number, milliseconds since 1970); unset: parts, except epoch for date columns listed in features",
    )
    .meta({ order: 64, advanced: true }),
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
  )
  .meta({ order: 50 });

/**
 * The block's `train` input as the table training reads: the target column
 * and the candidate features (the named ones, or every column), each checked
 * to exist.
 */
export function trainingTable(
  inputs: BlockInputs,
  p: { target: string; features?: string[] },
): TrainingTable {
  const input = requireTable(inputs, "train");
  const [target] = requireColumns([p.target], input.columns, "target");
  return {
    name: input.name,
    target: target!,
    features: p.features ? requireColumns(p.features, input.columns, "features") : input.columns,
    explicit: p.features !== undefined,
  };
}

/**
 * A train block's model before a run: the raw columns it will read (the named
 * features, or every other column whose type can be a feature) and its
 * target; the task when the params or the target's type decide it.
 */
export function modelSchema(
  ctx: SchemaContext,
  inputs: Record<string, PortSchema | undefined>,
  p: { target: string; features?: string[]; task?: string },
  fixed?: "classification" | "regression",
): OutputSchemas {
  const [target] = ctx.checkColumns("train", ["target"], p.target);
  const named = p.features ? ctx.checkColumns("train", ["features"], p.features) : undefined;
  const input = inputs.train;
  if (!input || !target) return { model: undefined };
  if (named?.some((c) => c.name === target.name)) {
    ctx.problem(
      ["features"],
      `The target "${target.name}" is also listed in features; remove it from features.`,
    );
  }
  for (const [i, c] of (named ?? []).entries()) {
    if (c.name !== target.name && !columnKind(c.type)) {
      ctx.problem(
        ["features", p.features!.indexOf(c.name) >= 0 ? p.features!.indexOf(c.name) : i],
        `Feature "${c.name}" is ${c.type}, which cannot be a feature: features must be numbers, booleans, dates or text. Remove it, or convert it first (e.g. with transform.sql).`,
      );
    }
  }
  const columns = (named ?? input.columns).filter((c) => c.name !== target.name && columnKind(c.type));
  const choice = fixed ?? p.task;
  const task =
    choice === "classification" || choice === "regression"
      ? choice
      : !isNumericType(target.type)
        ? "classification"
        : undefined;
  return {
    model: {
      columns,
      target,
      ...(task ? { task } : {}),
      ...(input.subset || input.open ? { subset: input.subset ?? input.open } : {}),
    },
  };
}

/** A train block's output: the model. */
export const modelOutput = (model: AnyDagwoodModel): Record<string, BlockOutput> => ({
  model: { type: "model", data: model },
});

/** Params train.linear, train.logistic and train.mlp share: the linear preprocessing, and l2 and maxIter. */
export const linearFamilyParams = {
  onnxOpset: onnxOpsetParam,
  target: commonParams.target,
  features: commonParams.features,
  seed: z
    .number()
    .int()
    .default(0)
    .describe(
      "Kept for the shared train params; the fit uses no randomness, so every seed gives the same model; a search's folds are drawn with it",
    )
    // The fit itself ignores it; app/ml/training/search.ts seeds the folds with it.
    .meta({ order: 70, advanced: true, showWhen: { param: "search", set: true } }),
  l2: z
    .number()
    .min(0)
    .default(1)
    .describe("L2 penalty on the coefficients, on the summed loss (as scikit-learn's alpha, or 1/C); 0: none")
    .meta({ order: 10 }),
  maxIter: z.number().int().min(1).max(100_000).default(100).meta({ order: 63, advanced: true }),
  impute: z
    .enum(["median", "mean", "mode", "constant"])
    .default("median")
    .describe("How missing numeric values (NULL, NaN, ±Infinity) are filled, from the training rows")
    .meta({ order: 60, advanced: true }),
  imputeValue: commonParams.imputeValue,
  maxCategories: commonParams.maxCategories.describe(
    "Categories kept per text column, each its own 0/1 feature, most frequent first; the rest share one 'other' feature",
  ),
  dateFeatures: commonParams.dateFeatures,
  search: searchParam,
};

export const linearPorts = {
  inputs: {
    train: { type: "table" as const, description: "The training rows: raw feature columns and the target" },
  },
  outputs: {
    model: {
      type: "model" as const,
      description: "The fitted preprocessing and coefficients, with the input signature",
    },
  },
};

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
