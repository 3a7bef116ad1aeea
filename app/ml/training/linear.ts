/**
 * Ridge and logistic regression (app/ml/linear.ts) behind the linear
 * preprocessing (impute, one-hot with an "other" column, standard scaling),
 * fitted in a work worker (training-tasks.ts).
 */

import type { z } from "zod";
import { isNumericType } from "../../data/sql";
import type { RawColumn } from "../dataset";
import type { LinearModelJSON } from "../linear";
import {
  AUTO_CLASSIFICATION_MAX_CLASSES,
  type LinearDagwoodModel,
  type LinearEstimator,
  resolveTask,
} from "../model";
import type { ImputeStrategy, PreprocessOptions } from "../preprocess";
import type { IterationEvent } from "../work/training-tasks";
import type { TrainingContext, TrainingTable } from "./context";
import { runTrainingTask } from "./run-task";
import { type Trainer, type TrainParams, trainModel } from "./train";

/** Linear models and networks need every value present, categories as 0/1 columns and comparable scales. */
export const oneHotScaledPreprocessing = (p: {
  impute: ImputeStrategy;
  imputeValue: number;
  maxCategories: number;
  dateFeatures?: "parts" | "epoch";
}): Omit<PreprocessOptions, "log"> => ({
  impute: p.impute,
  imputeValue: p.imputeValue,
  maxCategories: p.maxCategories,
  encoding: "onehot",
  scale: "standard",
  ...(p.dateFeatures ? { dates: p.dateFeatures } : {}),
});

export interface LinearTrainParams extends TrainParams {
  task: string;
  l2: number;
  maxIter: number;
  impute: ImputeStrategy;
  imputeValue: number;
  maxCategories: number;
}

/** The estimator's task for this target, or an error that names the other block. */
function taskFor(
  estimator: LinearEstimator,
  choice: string,
  target: RawColumn,
): "classification" | "regression" {
  const name = `"${target.name}"`;
  if (estimator === "linear") {
    if (target.kind !== "numeric" || !isNumericType(target.type)) {
      throw new Error(
        `The target ${name} is ${target.type}, a classification target, and train.linear does regression only. Use train.logistic to classify it.`,
      );
    }
    if (choice === "auto" && resolveTask("auto", target) === "classification") {
      throw new Error(
        `The target ${name} holds only whole numbers with at most ${AUTO_CLASSIFICATION_MAX_CLASSES} distinct values, so it looks like classes. Use train.logistic to classify it, or set task to "regression" to fit it as a number.`,
      );
    }
    return "regression";
  }
  if (choice === "auto" && resolveTask("auto", target) === "regression") {
    throw new Error(
      `The target ${name} is a number with fractions or more than ${AUTO_CLASSIFICATION_MAX_CLASSES} distinct values, a regression target, and train.logistic does classification only. Use train.linear for regression, or set task to "classification" to treat each value as a class.`,
    );
  }
  return "classification";
}

function linearTrainer<P extends LinearTrainParams>(
  estimator: LinearEstimator,
  tunable: z.ZodObject,
): Trainer<P, LinearDagwoodModel> {
  const kind = estimator === "linear" ? "ridge regression" : "logistic regression";
  return {
    estimator,
    tunable,
    decideTask: (p, target) => taskFor(estimator, p.task, target),
    preprocessing: oneHotScaledPreprocessing,
    async fitFold(ctx, q, train, test, encoded) {
      const out = await runTrainingTask(
        "trainLinear",
        {
          estimator,
          rows: train.rows,
          y: train.y,
          preprocess: { options: oneHotScaledPreprocessing(q) },
          test,
          l2: q.l2,
          maxIter: q.maxIter,
          ...(encoded.classes ? { numClasses: encoded.classes.length } : {}),
        },
        ctx.signal,
      );
      return out.predicted!;
    },
    async fit(ctx, p, { rows, spec, encoded }) {
      const started = performance.now();
      ctx.progress(0, `Training ${kind}`);
      let streamed = 0;
      const out = await runTrainingTask<"trainLinear", IterationEvent>(
        "trainLinear",
        {
          estimator,
          rows,
          y: encoded.y,
          preprocess: { spec },
          l2: p.l2,
          maxIter: p.maxIter,
          ...(encoded.classes ? { numClasses: encoded.classes.length } : {}),
        },
        ctx.signal,
        ({ iteration, loss }) => {
          if (iteration !== streamed) return;
          streamed++;
          ctx.metric("train_loss", loss, iteration);
          ctx.progress((iteration + 1) / p.maxIter, `Training ${kind}`);
        },
      );
      // Iterations whose event had not arrived when the result did.
      for (; streamed < out.losses.length; streamed++)
        ctx.metric("train_loss", out.losses[streamed]!, streamed);
      const linear: LinearModelJSON = out.linear;
      if (out.constant.length > 0) {
        ctx.log(
          `Feature(s) ${out.constant.map((n) => `"${n}"`).join(", ")} are constant in the training rows and get coefficient 0.`,
        );
      }
      const ms = (performance.now() - started).toFixed(0);
      const shape = `${rows.rows} rows × ${out.features} encoded features (from ${spec.features.length} columns)`;
      if (linear.kind === "ridge") {
        ctx.metric("train_rmse", out.trainRmse!);
        ctx.log(`Fitted ridge regression on ${shape} in ${ms} ms.`);
      } else {
        const what = `${encoded.task}, ${encoded.classes!.length} classes`;
        ctx.log(
          `Fitted logistic regression (${what}) on ${shape}: ${linear.iterations} L-BFGS iteration(s) in ${ms} ms, loss ${linear.trainLoss.toPrecision(6)}.`,
        );
        if (!linear.converged) {
          ctx.log(
            `Logistic regression did not converge within maxIter (${p.maxIter}) iterations; raise maxIter, or raise l2 if the classes are (nearly) separable.`,
            "warn",
          );
        }
      }
      ctx.progress(1, `Trained ${estimator}`);
      return { fitted: { linear }, trainedRows: rows.rows };
    },
  };
}

/** Trains ridge (`linear`) or logistic regression on `table`: see trainModel. */
export function trainLinear<P extends LinearTrainParams>(
  ctx: TrainingContext,
  table: TrainingTable,
  p: P,
  estimator: LinearEstimator,
  tunable: z.ZodObject,
): Promise<LinearDagwoodModel> {
  return trainModel(ctx, table, p, linearTrainer<P>(estimator, tunable));
}
