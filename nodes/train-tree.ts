import { z } from "zod";
import { defineBlock } from "../app/engine/block";
import { trainTrees } from "../app/ml/training";
import { fitTree } from "../app/ml/trees";
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
  maxDepth: maxDepthParam(10).meta({ order: 10 }),
  minSamplesLeaf: minSamplesLeafParam(1).meta({ order: 11 }),
});

const params = z.object({ ...commonParams, ...estimatorParams.shape, search: searchParam });

export default defineBlock({
  kind: "train.tree",
  cpu: "all",
  version: 3,
  title: "Train decision tree",
  category: "Train",
  description:
    "One CART decision tree (classification and regression) on raw columns: missing values, text categories and the task are handled; the preprocessing travels with the model.",
  ...trainPorts,
  params,
  outputSchema: (ctx, inputs, p) => modelSchema(ctx, inputs, p),
  run: async (ctx, inputs, p) =>
    modelOutput(
      await trainTrees(ctx, trainingTable(inputs, p), p, {
        estimator: "tree",
        tunable: estimatorParams,
        fit: (train, options, q) =>
          fitTree(train, { maxDepth: q.maxDepth, minSamplesLeaf: q.minSamplesLeaf, seed: q.seed }, options),
      }),
    ),
});
