import { z } from "zod";
import { defineBlock } from "../app/engine/block";
import { fitForest } from "../app/ml/trees";
import { commonParams, maxDepthParam, minSamplesLeafParam, trainPorts, trainTreeModel } from "./train-common";

const params = z.object({
  ...commonParams,
  trees: z
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(100)
    .describe("Number of trees, each on a bootstrap sample"),
  maxFeatures: z
    .union([z.enum(["sqrt", "all"]), z.number().gt(0).max(1)])
    .default("sqrt")
    .describe('Features drawn at each split: "sqrt" of their number, "all", or a fraction in (0, 1]'),
  maxDepth: maxDepthParam(16),
  minSamplesLeaf: minSamplesLeafParam(1),
});

export default defineBlock({
  kind: "train.forest",
  version: 1,
  title: "Train random forest",
  category: "Train",
  description:
    "Random forest (classification and regression) on raw columns: missing values, text categories and the task are handled; the preprocessing travels with the model.",
  ...trainPorts,
  params,
  async run(ctx, inputs, p) {
    const forest = {
      trees: p.trees,
      maxFeatures: p.maxFeatures,
      maxDepth: p.maxDepth,
      minSamplesLeaf: p.minSamplesLeaf,
      seed: p.seed,
    };
    return trainTreeModel(ctx, inputs, p, "forest", (train, options) => fitForest(train, forest, options));
  },
});
