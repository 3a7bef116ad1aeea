/** train.logistic: logistic regression on raw columns (the training is app/ml/training/linear.ts). */
import { z } from "zod";
import { defineBlock } from "../app/engine/block";
import { trainLinear } from "../app/ml/training";
import { linearFamilyParams, linearPorts, modelOutput, modelSchema, trainingTable } from "./train-common";

const params = z.object({
  ...linearFamilyParams,
  task: z
    .enum(["auto", "classification"])
    .default("auto")
    .describe(
      "Always classification; auto also refuses a target that looks like a quantity (fractions, or many distinct numbers), classification treats each value as a class",
    )
    .meta({ order: 3 }),
  maxIter: linearFamilyParams.maxIter.describe(
    "L-BFGS iterations at most; the fit also stops when the gradient is below 1e-6 per row or an iteration lowers the loss by at most 2.2e-9 relative (as scikit-learn's lbfgs)",
  ),
});

/** What search.space may tune. */
const tunable = z.object({ l2: linearFamilyParams.l2, maxIter: linearFamilyParams.maxIter });

export default defineBlock({
  kind: "train.logistic",
  cpu: true,
  version: 5,
  title: "Train logistic regression",
  category: "Train",
  description:
    "L2-regularized logistic regression, binary or multiclass (softmax), fitted by L-BFGS on raw columns: missing values are imputed, text categories one-hot encoded and numbers standard-scaled, and that preprocessing travels with the model. Streams the training loss per iteration.",
  ...linearPorts,
  params,
  outputSchema: (ctx, inputs, p) => modelSchema(ctx, inputs, p, "classification"),
  run: async (ctx, inputs, p) =>
    modelOutput(await trainLinear(ctx, trainingTable(inputs, p), p, "logistic", tunable)),
});
