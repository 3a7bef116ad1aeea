import { z } from "zod";
import { defineBlock } from "../app/engine/block";
import { fitTree } from "../app/ml/trees";
import { commonParams, maxDepthParam, minSamplesLeafParam, trainPorts, trainTreeModel } from "./train-common";

const params = z.object({
  ...commonParams,
  maxDepth: maxDepthParam(10),
  minSamplesLeaf: minSamplesLeafParam(1),
});

export default defineBlock({
  kind: "train.tree",
  version: 1,
  title: "Train decision tree",
  category: "Train",
  description:
    "One CART decision tree (classification and regression) on raw columns: missing values, text categories and the task are handled; the preprocessing travels with the model.",
  ...trainPorts,
  params,
  async run(ctx, inputs, p) {
    const tree = { maxDepth: p.maxDepth, minSamplesLeaf: p.minSamplesLeaf, seed: p.seed };
    return trainTreeModel(ctx, inputs, p, "tree", (train, options) => fitTree(train, tree, options));
  },
});
