import { z } from "zod";
import { defineBlock } from "../app/engine/block";
import { fitTree } from "../app/ml/trees";
import {
  commonParams,
  maxDepthParam,
  minSamplesLeafParam,
  searchParam,
  trainPorts,
  trainTreeModel,
} from "./train-common";

/** The estimator's own params: what search.space may tune. */
const estimatorParams = z.object({
  maxDepth: maxDepthParam(10),
  minSamplesLeaf: minSamplesLeafParam(1),
});

const params = z.object({ ...commonParams, ...estimatorParams.shape, search: searchParam });

export default defineBlock({
  kind: "train.tree",
  version: 2,
  title: "Train decision tree",
  category: "Train",
  description:
    "One CART decision tree (classification and regression) on raw columns: missing values, text categories and the task are handled; the preprocessing travels with the model.",
  ...trainPorts,
  params,
  run: (ctx, inputs, p) =>
    trainTreeModel(ctx, inputs, p, {
      estimator: "tree",
      tunable: estimatorParams,
      fit: (train, options, q) =>
        fitTree(train, { maxDepth: q.maxDepth, minSamplesLeaf: q.minSamplesLeaf, seed: q.seed }, options),
    }),
});
