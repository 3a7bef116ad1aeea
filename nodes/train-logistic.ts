import { z } from "zod";
import { defineBlock } from "../app/engine/block";
import { linearFamilyParams, linearPorts, trainLinearFamily } from "./train-linear";

const params = z.object({
  ...linearFamilyParams,
  task: z
    .enum(["auto", "classification"])
    .default("auto")
    .describe(
      "Always classification; auto also refuses a target that looks like a quantity (fractions, or many distinct numbers), classification treats each value as a class",
    ),
  maxIter: linearFamilyParams.maxIter.describe("L-BFGS iterations at most"),
});

export default defineBlock({
  kind: "train.logistic",
  version: 3,
  title: "Train logistic regression",
  category: "Train",
  description:
    "L2-regularized logistic regression, binary or multiclass (softmax), fitted by L-BFGS on raw columns: missing values are imputed, text categories one-hot encoded and numbers standard-scaled, and that preprocessing travels with the model. Streams the training loss per iteration.",
  ...linearPorts,
  params,
  run: (ctx, inputs, p) => trainLinearFamily(ctx, inputs, p, "logistic"),
});
