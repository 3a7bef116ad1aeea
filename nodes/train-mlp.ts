/**
 * train.mlp: a dense network on TensorFlow.js (app/ml/mlp.ts) behind the
 * linear family's preprocessing (impute, one-hot with an "other" bucket,
 * standard scaling), packed as `dagwood.model/1` with the network's float32
 * weights, then exported to ONNX with parity checked (exportWithParity).
 */
import { z } from "zod";
import { type BlockContext, BlockError, type BlockInputs, defineBlock } from "../app/engine/block";
import type { BlockOutput } from "../app/engine/ports";
import { fitMlp, type MlpFitOptions, type MlpModelJSON, predictMlp } from "../app/ml/mlp";
import { type MlpDagwoodModel, resolveTask } from "../app/ml/model";
import { fitPreprocessor, transformFeatures } from "../app/ml/preprocess";
import type { Task } from "../app/ml/trees";
import {
  commonParams,
  fitTrainingPreprocessor,
  oneHotScaledPreprocessing,
  onnxOpsetParam,
  packModel,
  readTrainingRows,
  searchHyperparameters,
  searchParam,
  type TuningRecord,
  trainPorts,
} from "./train-common";
import { linearFamilyParams } from "./train-linear";

const networkParams = {
  hidden: z
    .array(z.number().int().min(1).max(4096))
    .max(16)
    .default([64, 32])
    .describe("Units per hidden layer, input side first; [] fits a linear (regression) or logistic model"),
  activation: z.enum(["relu", "tanh", "sigmoid"]).default("relu").describe("The hidden layers' activation"),
  epochs: z.number().int().min(1).max(10_000).default(50).describe("Passes over the training rows"),
  batchSize: z.number().int().min(1).max(65_536).default(32).describe("Rows per Adam step"),
  learningRate: z.number().positive().max(10).default(0.001).describe("Adam's step size"),
  dropout: z
    .number()
    .min(0)
    .max(0.9)
    .default(0)
    .describe("Fraction of each hidden layer's units dropped per training step; 0: no dropout"),
  validationFraction: z
    .number()
    .min(0)
    .max(0.5)
    .default(0)
    .describe(
      "Training rows held out (seeded) to report val_loss per epoch; they are not trained on. 0 (default): none, every row is trained on, as scikit-learn's MLP without early stopping",
    ),
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
  search: searchParam,
});

type MlpParams = z.output<typeof params>;

/** What search.space may tune (hidden is a list, which a search value cannot be). */
const tunable = z.object({
  activation: networkParams.activation,
  epochs: networkParams.epochs,
  batchSize: networkParams.batchSize,
  learningRate: networkParams.learningRate,
  dropout: networkParams.dropout,
});

const fitOptions = (p: MlpParams, task: Task, numClasses: number | undefined): MlpFitOptions => ({
  task,
  ...(numClasses ? { numClasses } : {}),
  hidden: p.hidden,
  activation: p.activation,
  epochs: p.epochs,
  batchSize: p.batchSize,
  learningRate: p.learningRate,
  dropout: p.dropout,
  seed: p.seed,
  validationFraction: p.validationFraction,
});

async function trainMlp(
  ctx: BlockContext,
  inputs: BlockInputs,
  given: MlpParams,
): Promise<Record<string, BlockOutput>> {
  let p = given;
  const { targetColumn, encoded, rows } = await readTrainingRows(ctx, inputs, p, (target) =>
    resolveTask(p.task, target),
  );
  const task = encoded.task;
  const numClasses = encoded.classes?.length;
  let tuning: TuningRecord | undefined;
  if (p.search) {
    ({ params: p, tuning } = await searchHyperparameters(
      ctx,
      p,
      tunable,
      rows,
      encoded,
      async (q, train, test) => {
        const foldSpec = fitPreprocessor(train.rows, oneHotScaledPreprocessing(q));
        const fitted = await fitMlp(
          { data: transformFeatures(foldSpec, train.rows), y: train.y },
          { ...fitOptions(q, task, numClasses), signal: ctx.signal },
        );
        const { prediction, probabilities } = predictMlp(fitted, transformFeatures(foldSpec, test));
        return { prediction, probabilities };
      },
    ));
  }
  const { spec, data } = fitTrainingPreprocessor(ctx, rows, oneHotScaledPreprocessing(p));

  const layers = [...p.hidden, task === "multiclass" ? numClasses : 1].join("→");
  const what = task === "regression" ? "regression" : `${task} classification, ${numClasses} classes`;
  ctx.progress(0, "Training MLP");
  let mlp: MlpModelJSON;
  try {
    mlp = await fitMlp(
      { data, y: encoded.y },
      {
        ...fitOptions(p, task, numClasses),
        signal: ctx.signal,
        onEpoch: (epoch, logs) => {
          ctx.metric("loss", logs.loss, epoch);
          if (logs.valLoss !== undefined) ctx.metric("val_loss", logs.valLoss, epoch);
          if (logs.accuracy !== undefined) ctx.metric("accuracy", logs.accuracy, epoch);
          if (logs.valAccuracy !== undefined) ctx.metric("val_accuracy", logs.valAccuracy, epoch);
          ctx.progress((epoch + 1) / p.epochs, `Training MLP: epoch ${epoch + 1}/${p.epochs}`);
        },
      },
    );
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new BlockError((e as Error).message);
  }
  const t = mlp.training;
  ctx.environment({ tfjsBackend: t.backend });
  ctx.log(
    `Trained an MLP (${what}; ${data.features.length} encoded features → ${layers}, ${p.activation}) on TensorFlow.js backend "${t.backend}" (${t.backendNote}): ${t.epochs} epoch(s) over ${t.trainRows} rows${t.validationRows > 0 ? ` (${t.validationRows} held out)` : ""} in ${t.ms.toFixed(0)} ms, final loss ${t.loss.at(-1)!.toPrecision(4)}${t.valLoss ? `, val_loss ${t.valLoss.at(-1)!.toPrecision(4)}` : ""}.`,
  );
  ctx.progress(1, "Trained MLP");

  return packModel<MlpDagwoodModel>(
    ctx,
    "mlp",
    { mlp },
    { p, targetColumn, encoded, spec, trainedRows: data.rows, rows, tuning },
  );
}

export default defineBlock({
  kind: "train.mlp",
  version: 2,
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
  run: trainMlp,
});
