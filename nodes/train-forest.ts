import { z } from "zod";
import { defineBlock } from "../app/engine/block";
import { trainTrees } from "../app/ml/training";
import { fitForest } from "../app/ml/trees";
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
    .describe("Number of trees, each on a bootstrap sample")
    .meta({ order: 10 }),
  maxFeatures: z
    .union([z.enum(["sqrt", "all"]), z.number().gt(0).max(1)])
    .default("sqrt")
    .describe('Features drawn at each split: "sqrt" of their number, "all", or a fraction in (0, 1]')
    .meta({ order: 11 }),
  maxDepth: maxDepthParam(16).meta({ order: 12 }),
  minSamplesLeaf: minSamplesLeafParam(1).meta({ order: 13 }),
});

const params = z.object({ ...commonParams, ...estimatorParams.shape, search: searchParam });

export default defineBlock({
  kind: "train.forest",
  cpu: "all",
  version: 3,
  title: "Train random forest",
  category: "Train",
  description:
    "Random forest (classification and regression) on raw columns: missing values, text categories and the task are handled; the preprocessing travels with the model.",
  ...trainPorts,
  params,
  outputSchema: (ctx, inputs, p) => modelSchema(ctx, inputs, p),
  run: async (ctx, inputs, p) =>
    modelOutput(
      await trainTrees(ctx, trainingTable(inputs, p), p, {
        estimator: "forest",
        tunable: estimatorParams,
        fit: (train, options, q) =>
          fitForest(
            train,
            {
              trees: q.trees,
              maxFeatures: q.maxFeatures,
              maxDepth: q.maxDepth,
              minSamplesLeaf: q.minSamplesLeaf,
              seed: q.seed,
            },
            options,
          ),
      }),
    ),
});
