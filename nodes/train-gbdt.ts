import { z } from "zod";
import { defineBlock } from "../app/engine/block";
import { trainTrees } from "../app/ml/training";
import { fitGbdt } from "../app/ml/trees";
import {
  commonParams,
  maxDepthParam,
  minSamplesLeafParam,
  modelOutput,
  modelSchema,
  searchParam,
  trainingTable,
  trainPorts,
} from "./train-common";

/** The estimator's own params: what search.space may tune. */
const estimatorParams = z.object({
  trees: z
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(100)
    .describe("Boosting rounds (one tree per class per round)")
    .meta({ order: 10 }),
  learningRate: z
    .number()
    .gt(0)
    .max(1)
    .default(0.1)
    .describe("Shrinkage applied to each tree's values")
    .meta({ order: 11 }),
  maxDepth: maxDepthParam(6).meta({ order: 12 }),
  maxLeaves: z
    .number()
    .int()
    .min(2)
    .optional()
    .describe("Grow leaf-wise with at most this many leaves per tree (then maxDepth only caps depth)")
    .meta({ order: 13 }),
  minSamplesLeaf: minSamplesLeafParam(20).meta({ order: 14 }),
  l2: z.number().min(0).default(1).describe("L2 regularization λ on the leaf values").meta({ order: 15 }),
  subsample: z
    .number()
    .gt(0)
    .max(1)
    .default(1)
    .describe("Fraction of rows drawn (seeded) for each round")
    .meta({ order: 16 }),
  earlyStopping: z
    .boolean()
    .default(false)
    .describe(
      "Hold out validationFraction of the rows and stop when their loss has not improved for patience rounds",
    )
    .meta({ order: 17 }),
  validationFraction: z
    .number()
    .gt(0)
    .lt(1)
    .default(0.1)
    .describe("Rows held out for early stopping")
    .meta({ order: 18, showWhen: { param: "earlyStopping", in: [true] } }),
  patience: z
    .number()
    .int()
    .min(1)
    .default(10)
    .describe("Rounds without improvement before stopping")
    .meta({ order: 19, showWhen: { param: "earlyStopping", in: [true] } }),
});

const params = z.object({ ...commonParams, ...estimatorParams.shape, search: searchParam });

const gbdtParams = (p: z.output<typeof params>) => ({
  trees: p.trees,
  learningRate: p.learningRate,
  maxDepth: p.maxDepth,
  ...(p.maxLeaves !== undefined ? { maxLeaves: p.maxLeaves } : {}),
  minSamplesLeaf: p.minSamplesLeaf,
  l2: p.l2,
  subsample: p.subsample,
  earlyStopping: p.earlyStopping
    ? { validationFraction: p.validationFraction, patience: p.patience }
    : (false as const),
  seed: p.seed,
});

export default defineBlock({
  kind: "train.gbdt",
  cpu: "all",
  version: 3,
  title: "Train gradient boosting",
  category: "Train",
  description:
    "Histogram gradient boosting (classification and regression) on raw columns: missing values, text categories and the task are handled; the preprocessing travels with the model. Streams the training and validation loss per round.",
  ...trainPorts,
  params,
  outputSchema: (ctx, inputs, p) => modelSchema(ctx, inputs, p),
  run: async (ctx, inputs, p) =>
    modelOutput(
      await trainTrees(ctx, trainingTable(inputs, p), p, {
        estimator: "gbdt",
        tunable: estimatorParams,
        fit: (train, options, q) => fitGbdt(train, gbdtParams(q), options),
      }),
    ),
});
