/** train.linear: ridge regression on raw columns (the training is app/ml/training/linear.ts). */
import { z } from "zod";
import { defineBlock } from "../app/engine/block";
import { trainLinear } from "../app/ml/training";
import { linearFamilyParams, linearPorts, modelOutput, modelSchema, trainingTable } from "./train-common";

const params = z.object({
  ...linearFamilyParams,
  task: z
    .enum(["auto", "regression"])
    .default("auto")
    .describe(
      "Always regression; auto also refuses a target that looks like classes (text, or few whole numbers), regression fits it as a number",
    )
    .meta({ order: 3 }),
  maxIter: linearFamilyParams.maxIter
    .describe(
      "Unused by ridge, which is solved exactly in closed form; kept so train.linear and train.logistic share their params",
    )
    .meta({ hidden: true }),
});

/** What search.space may tune: ridge is solved exactly, so only l2. */
const tunable = z.object({ l2: linearFamilyParams.l2 });

export default defineBlock({
  kind: "train.linear",
  cpu: true,
  version: 4,
  title: "Train linear regression",
  category: "Train",
  description:
    "Ridge regression (L2-penalized least squares, solved exactly) on raw columns: missing values are imputed, text categories one-hot encoded and numbers standard-scaled, and that preprocessing travels with the model.",
  ...linearPorts,
  params,
  outputSchema: (ctx, inputs, p) => modelSchema(ctx, inputs, p, "regression"),
  run: async (ctx, inputs, p) =>
    modelOutput(await trainLinear(ctx, trainingTable(inputs, p), p, "linear", tunable)),
});
