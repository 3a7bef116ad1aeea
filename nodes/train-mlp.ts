/**
 * train.mlp: a dense network on raw columns (the training is
 * app/ml/training/mlp.ts, TensorFlow.js in a worker thread).
 */
import { z } from "zod";
import { defineBlock } from "../app/engine/block";
import { trainNetwork } from "../app/ml/training";
import {
  commonParams,
  linearFamilyParams,
  modelOutput,
  modelSchema,
  onnxOpsetParam,
  searchParam,
  trainingTable,
  trainPorts,
} from "./train-common";

const networkParams = {
  hidden: z
    .array(z.number().int().min(1).max(4096))
    .max(16)
    .default([64, 32])
    .describe("Units per hidden layer, input side first; [] fits a linear (regression) or logistic model")
    .meta({ order: 10 }),
  activation: z
    .enum(["relu", "tanh", "sigmoid"])
    .default("relu")
    .describe("The hidden layers' activation")
    .meta({ order: 11 }),
  epochs: z
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(50)
    .describe("Passes over the training rows")
    .meta({ order: 12 }),
  batchSize: z
    .number()
    .int()
    .min(1)
    .max(65_536)
    .default(32)
    .describe("Rows per Adam step")
    .meta({ order: 13 }),
  learningRate: z.number().positive().max(10).default(0.001).describe("Adam's step size").meta({ order: 14 }),
  dropout: z
    .number()
    .min(0)
    .max(0.9)
    .default(0)
    .describe("Fraction of each hidden layer's units dropped per training step; 0: no dropout")
    .meta({ order: 15 }),
  validationFraction: z
    .number()
    .min(0)
    .max(0.5)
    .default(0)
    .describe(
      "Training rows held out (seeded) to report val_loss per epoch; they are not trained on. 0 (default): none, every row is trained on, as scikit-learn's MLP without early stopping",
    )
    .meta({ order: 16 }),
};

const params = z.object({
  onnxOpset: onnxOpsetParam,
  target: commonParams.target,
  features: commonParams.features,
  task: commonParams.task,
  seed: commonParams.seed.describe(
    "Random seed of the initial weights, the row order, dropout and the validation rows: the same data, params and seed give the same network",
  ),
  ...networkParams,
  impute: linearFamilyParams.impute,
  imputeValue: linearFamilyParams.imputeValue,
  maxCategories: linearFamilyParams.maxCategories,
  dateFeatures: commonParams.dateFeatures,
  search: searchParam,
});

/** What search.space may tune (hidden is a list, which a search value cannot be). */
const tunable = z.object({
  activation: networkParams.activation,
  epochs: networkParams.epochs,
  batchSize: networkParams.batchSize,
  learningRate: networkParams.learningRate,
  dropout: networkParams.dropout,
});

export default defineBlock({
  kind: "train.mlp",
  cpu: true,
  version: 4,
  title: "Train neural network (MLP)",
  category: "Train",
  description:
    "A dense neural network (multi-layer perceptron) trained with Adam on TensorFlow.js, for classification or regression, on raw columns: missing values are imputed, text categories one-hot encoded and numbers standard-scaled, and that preprocessing travels with the model. Streams loss per epoch (and val_loss with validationFraction > 0); seeded.",
  inputs: trainPorts.inputs,
  outputs: {
    model: {
      type: "model" as const,
      description: "The fitted preprocessing and network weights, with the input signature",
    },
  },
  params,
  outputSchema: (ctx, inputs, p) => modelSchema(ctx, inputs, p),
  run: async (ctx, inputs, p) => modelOutput(await trainNetwork(ctx, trainingTable(inputs, p), p, tunable)),
});
