/**
 * train.linear (ridge regression), and what it shares with train.logistic:
 * reading the training table, the task check, the linear preprocessing
 * (impute, one-hot with an "other" bucket, standard scaling) and packing the
 * model into the `dagwood.model/1` container, exported to ONNX with its
 * parity checked (exportWithParity, as the tree blocks).
 */
import { z } from "zod";
import { isNumericType } from "../app/data/sql";
import { type BlockContext, BlockError, type BlockInputs, defineBlock } from "../app/engine/block";
import type { BlockOutput } from "../app/engine/ports";
import type { RawColumn } from "../app/ml/dataset";
import { fitLogistic, fitRidge, type LinearModelJSON, predictLinear } from "../app/ml/linear";
import {
  AUTO_CLASSIFICATION_MAX_CLASSES,
  type LinearDagwoodModel,
  type LinearEstimator,
  resolveTask,
} from "../app/ml/model";
import { fitPreprocessor, transformFeatures } from "../app/ml/preprocess";
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

/** Params train.linear and train.logistic share (DESIGN.md: target, features, task, seed; l2, maxIter). */
export const linearFamilyParams = {
  onnxOpset: onnxOpsetParam,
  target: commonParams.target,
  features: commonParams.features,
  seed: z
    .number()
    .int()
    .default(0)
    .describe(
      "Kept for the shared train params; the fit uses no randomness, so every seed gives the same model",
    ),
  l2: z
    .number()
    .min(0)
    .default(1)
    .describe(
      "L2 penalty on the coefficients, on the summed loss (as scikit-learn's alpha, or 1/C); 0: none",
    ),
  maxIter: z.number().int().min(1).max(100_000).default(100),
  impute: z
    .enum(["median", "mean", "mode", "constant"])
    .default("median")
    .describe("How missing numeric values (NULL, NaN, ±Infinity) are filled, from the training rows"),
  imputeValue: commonParams.imputeValue,
  maxCategories: commonParams.maxCategories.describe(
    "Categories kept per text column, each its own 0/1 feature, most frequent first; the rest share one 'other' feature",
  ),
  search: searchParam,
};

/** What search.space may tune: ridge is solved exactly, so maxIter is logistic's only. */
const tunableParams = {
  linear: z.object({ l2: linearFamilyParams.l2 }),
  logistic: z.object({ l2: linearFamilyParams.l2, maxIter: linearFamilyParams.maxIter }),
};

type LinearFamilyParams = z.output<z.ZodObject<typeof linearFamilyParams>> & { task: string };

/** The block's task for this target, or an error that names the other block. */
function taskFor(
  estimator: LinearEstimator,
  choice: string,
  target: RawColumn,
): "classification" | "regression" {
  const name = `"${target.name}"`;
  if (estimator === "linear") {
    if (target.kind !== "numeric" || !isNumericType(target.type)) {
      throw new BlockError(
        `The target ${name} is ${target.type}, a classification target, and train.linear does regression only. Use train.logistic to classify it.`,
      );
    }
    if (choice === "auto" && resolveTask("auto", target) === "classification") {
      throw new BlockError(
        `The target ${name} holds only whole numbers with at most ${AUTO_CLASSIFICATION_MAX_CLASSES} distinct values, so it looks like classes. Use train.logistic to classify it, or set task to "regression" to fit it as a number.`,
      );
    }
    return "regression";
  }
  if (choice === "auto" && resolveTask("auto", target) === "regression") {
    throw new BlockError(
      `The target ${name} is a number with fractions or more than ${AUTO_CLASSIFICATION_MAX_CLASSES} distinct values, a regression target, and train.logistic does classification only. Use train.linear for regression, or set task to "classification" to treat each value as a class.`,
    );
  }
  return "classification";
}

/** Reads `train`, fits the linear preprocessing and the estimator, and returns the model output. */
export async function trainLinearFamily(
  ctx: BlockContext,
  inputs: BlockInputs,
  given: LinearFamilyParams,
  estimator: LinearEstimator,
): Promise<Record<string, BlockOutput>> {
  let p = given;
  const { targetColumn, encoded, rows } = await readTrainingRows(ctx, inputs, p, (target) =>
    taskFor(estimator, p.task, target),
  );
  let tuning: TuningRecord | undefined;
  if (p.search) {
    const numClasses = encoded.classes?.length ?? 0;
    ({ params: p, tuning } = await searchHyperparameters(
      ctx,
      p,
      tunableParams[estimator],
      rows,
      encoded,
      async (q, train, test) => {
        const foldSpec = fitPreprocessor(train.rows, oneHotScaledPreprocessing(q));
        const data = transformFeatures(foldSpec, train.rows);
        const fitted =
          estimator === "linear"
            ? fitRidge({ data, y: train.y }, { l2: q.l2 })
            : await fitLogistic(
                { data, y: train.y },
                { l2: q.l2, maxIter: q.maxIter, numClasses, signal: ctx.signal },
              );
        const { prediction, probabilities } = predictLinear(fitted, transformFeatures(foldSpec, test));
        return { prediction, probabilities };
      },
    ));
  }
  const { spec, data } = fitTrainingPreprocessor(ctx, rows, oneHotScaledPreprocessing(p));
  const constant = data.features.filter((f) => f.values.every((v) => v === f.values[0])).map((f) => f.name);
  if (constant.length > 0) {
    ctx.log(
      `Feature(s) ${constant.map((n) => `"${n}"`).join(", ")} are constant in the training rows and get coefficient 0.`,
    );
  }

  const started = performance.now();
  let linear: LinearModelJSON;
  try {
    if (estimator === "linear") {
      ctx.progress(0, "Training ridge regression");
      linear = fitRidge({ data, y: encoded.y }, { l2: p.l2 });
    } else {
      ctx.progress(0, "Training logistic regression");
      linear = await fitLogistic(
        { data, y: encoded.y },
        {
          l2: p.l2,
          maxIter: p.maxIter,
          numClasses: encoded.classes!.length,
          signal: ctx.signal,
          onIteration: (i, loss) => {
            ctx.metric("train_loss", loss, i);
            ctx.progress((i + 1) / p.maxIter, "Training logistic regression");
          },
        },
      );
    }
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new BlockError((e as Error).message);
  }
  const ms = (performance.now() - started).toFixed(0);
  const shape = `${data.rows} rows × ${data.features.length} encoded features (from ${spec.features.length} columns)`;
  if (linear.kind === "ridge") {
    const prediction = predictLinear(linear, data).prediction!;
    let sse = 0;
    for (let i = 0; i < data.rows; i++) sse += (prediction[i]! - encoded.y[i]!) ** 2;
    ctx.metric("train_rmse", Math.sqrt(sse / data.rows));
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

  return packModel<LinearDagwoodModel>(
    ctx,
    estimator,
    { linear },
    { p, targetColumn, encoded, spec, trainedRows: data.rows, rows, tuning },
  );
}

export const linearPorts = {
  inputs: trainPorts.inputs,
  outputs: {
    model: {
      type: "model" as const,
      description: "The fitted preprocessing and coefficients, with the input signature",
    },
  },
};

const params = z.object({
  ...linearFamilyParams,
  task: z
    .enum(["auto", "regression"])
    .default("auto")
    .describe(
      "Always regression; auto also refuses a target that looks like classes (text, or few whole numbers), regression fits it as a number",
    ),
  maxIter: linearFamilyParams.maxIter.describe(
    "Unused by ridge, which is solved exactly in closed form; kept so train.linear and train.logistic share their params",
  ),
});

export default defineBlock({
  kind: "train.linear",
  version: 3,
  title: "Train linear regression",
  category: "Train",
  description:
    "Ridge regression (L2-penalized least squares, solved exactly) on raw columns: missing values are imputed, text categories one-hot encoded and numbers standard-scaled, and that preprocessing travels with the model.",
  ...linearPorts,
  params,
  run: (ctx, inputs, p) => trainLinearFamily(ctx, inputs, p, "linear"),
});
