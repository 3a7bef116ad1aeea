/**
 * The dense network (app/ml/mlp.ts, TensorFlow.js) behind the linear
 * preprocessing, fitted in a work worker (training-tasks.ts), so neither
 * tfjs's import nor its training loop runs on the engine's thread.
 */
import type { z } from "zod";
import type { MlpActivation, MlpFitOptions } from "../mlp";
import { type MlpDagwoodModel, resolveTask, type TaskChoice } from "../model";
import type { ImputeStrategy } from "../preprocess";
import type { Task } from "../trees/types";
import type { EpochEvent } from "../work/training-tasks";
import type { TrainingContext, TrainingTable } from "./context";
import { oneHotScaledPreprocessing } from "./linear";
import { runTrainingTask } from "./run-task";
import { type Trainer, type TrainParams, trainModel } from "./train";

export interface MlpTrainParams extends TrainParams {
  task: TaskChoice;
  hidden: number[];
  activation: MlpActivation;
  epochs: number;
  batchSize: number;
  learningRate: number;
  dropout: number;
  validationFraction: number;
  impute: ImputeStrategy;
  imputeValue: number;
  maxCategories: number;
}

const fitOptions = (
  p: MlpTrainParams,
  task: Task,
  numClasses: number | undefined,
): Omit<MlpFitOptions, "signal" | "onEpoch"> => ({
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

function mlpTrainer<P extends MlpTrainParams>(tunable: z.ZodObject): Trainer<P, MlpDagwoodModel> {
  return {
    estimator: "mlp",
    tunable,
    decideTask: (p, target) => resolveTask(p.task, target),
    preprocessing: oneHotScaledPreprocessing,
    async fitFold(ctx, q, train, test, encoded) {
      const out = await runTrainingTask(
        "trainMlp",
        {
          rows: train.rows,
          y: train.y,
          preprocess: { options: oneHotScaledPreprocessing(q) },
          test,
          options: fitOptions(q, encoded.task, encoded.classes?.length),
        },
        ctx.signal,
      );
      return out.predicted!;
    },
    async fit(ctx, p, { rows, spec, encoded }) {
      const task = encoded.task;
      const numClasses = encoded.classes?.length;
      ctx.progress(0, "Training MLP");
      let streamed = 0;
      const report = (epoch: number, logs: EpochEvent["logs"]) => {
        ctx.metric("loss", logs.loss, epoch);
        if (logs.valLoss !== undefined) ctx.metric("val_loss", logs.valLoss, epoch);
        if (logs.accuracy !== undefined) ctx.metric("accuracy", logs.accuracy, epoch);
        if (logs.valAccuracy !== undefined) ctx.metric("val_accuracy", logs.valAccuracy, epoch);
        ctx.progress((epoch + 1) / p.epochs, `Training MLP: epoch ${epoch + 1}/${p.epochs}`);
      };
      const out = await runTrainingTask<"trainMlp", EpochEvent>(
        "trainMlp",
        { rows, y: encoded.y, preprocess: { spec }, options: fitOptions(p, task, numClasses) },
        ctx.signal,
        ({ epoch, logs }) => {
          if (epoch !== streamed) return;
          streamed++;
          report(epoch, logs);
        },
      );
      // Epochs whose event had not arrived when the result did.
      for (; streamed < out.epochs.length; streamed++) report(streamed, out.epochs[streamed]!);
      const { mlp } = out;
      const t = mlp.training;
      const layers = [...p.hidden, task === "multiclass" ? numClasses : 1].join("→");
      const what = task === "regression" ? "regression" : `${task} classification, ${numClasses} classes`;
      ctx.environment({ tfjsBackend: t.backend });
      ctx.log(
        `Trained an MLP (${what}; ${out.features} encoded features → ${layers}, ${p.activation}) on TensorFlow.js backend "${t.backend}" (${t.backendNote}): ${t.epochs} epoch(s) over ${t.trainRows} rows${t.validationRows > 0 ? ` (${t.validationRows} held out)` : ""} in ${t.ms.toFixed(0)} ms, final loss ${t.loss.at(-1)!.toPrecision(4)}${t.valLoss ? `, val_loss ${t.valLoss.at(-1)!.toPrecision(4)}` : ""}.`,
      );
      ctx.progress(1, "Trained MLP");
      return { fitted: { mlp }, trainedRows: rows.rows };
    },
  };
}

/** Trains the network on `table`: see trainModel. */
export function trainNetwork<P extends MlpTrainParams>(
  ctx: TrainingContext,
  table: TrainingTable,
  p: P,
  tunable: z.ZodObject,
): Promise<MlpDagwoodModel> {
  return trainModel(ctx, table, p, mlpTrainer<P>(tunable));
}
