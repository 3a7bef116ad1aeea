/**
 * Trees, forests and gradient boosting (app/ml/trees): their preprocessing
 * (imputed or missing values, ordinal categories) and fits, which run in the
 * tree worker pool (app/ml/trees/pool.ts) or, on small data, as exact CART in
 * this thread.
 */
import type { z } from "zod";
import type { DagwoodModel, Estimator, TaskChoice } from "../model";
import { resolveTask } from "../model";
import { fitPreprocessor, type ImputeStrategy, transformFeatures } from "../preprocess";
import {
  exactSplitsFor,
  type FitOptions,
  modelToJSON,
  predictProba,
  predictRaw,
  sharedTreePool,
  type TrainingData,
  type TreeEnsembleModel,
  WorkerTreePool,
} from "../trees";
import type { TrainingContext, TrainingTable } from "./context";
import { type Trainer, type TrainParams, trainModel } from "./train";

/** The params every tree estimator takes. */
export interface TreeTrainParams extends TrainParams {
  task: TaskChoice;
  impute: ImputeStrategy;
  imputeValue: number;
  maxCategories: number;
}

/** A tree estimator: its params search.space may tune, and its fit from the params. */
export interface TreeFit<P> {
  estimator: Estimator;
  tunable: z.ZodObject;
  fit(train: TrainingData, options: FitOptions, params: P): Promise<TreeEnsembleModel>;
}

const preprocessing = (p: TreeTrainParams) => ({
  impute: p.impute,
  imputeValue: p.imputeValue,
  maxCategories: p.maxCategories,
  ...(p.dateFeatures ? { dates: p.dateFeatures } : {}),
});

function treeTrainer<P extends TreeTrainParams>(spec: TreeFit<P>): Trainer<P, DagwoodModel> {
  const { estimator } = spec;
  return {
    estimator,
    tunable: spec.tunable,
    decideTask: (p, target) => resolveTask(p.task, target),
    preprocessing,
    async fitFold(ctx, q, train, test, encoded) {
      const task = encoded.task;
      const foldSpec = fitPreprocessor(train.rows, preprocessing(q));
      const ensemble = await spec.fit(
        {
          data: transformFeatures(foldSpec, train.rows),
          y: train.y,
          task,
          numClasses: encoded.classes?.length,
        },
        { signal: ctx.signal, pool: await sharedTreePool() },
        q,
      );
      const data = transformFeatures(foldSpec, test);
      return task === "regression"
        ? { prediction: predictRaw(ensemble, data) }
        : { probabilities: predictProba(ensemble, data) };
    },
    async fit(ctx, p, { rows, spec: pre, encoded, readMs }) {
      const task = encoded.task;
      const data = transformFeatures(pre, rows);
      const pool = await sharedTreePool();
      // As fitForest decides (app/ml/trees/exact.ts): exact CART splits on small data, histograms beyond.
      const trees = estimator === "forest" ? ((p as { trees?: number }).trees ?? 100) : 1;
      const exact = estimator !== "gbdt" && exactSplitsFor(data.rows, data.features.length, trees);
      const backend = exact
        ? "exact splits, as CART, in this thread (small data)"
        : pool instanceof WorkerTreePool
          ? `histogram kernel in ${pool.size} worker thread(s)`
          : "histogram kernel in the main thread (worker threads unavailable)";
      const what =
        task === "regression" ? "regression" : `${task} classification, ${encoded.classes!.length} classes`;
      ctx.log(
        `Training ${estimator} (${what}) on ${data.rows} rows × ${pre.features.length} features; ${backend}.`,
      );
      const fitStarted = performance.now();
      ctx.progress(0, `Training ${estimator}`);
      const ensemble = await spec.fit(
        { data, y: encoded.y, task, numClasses: encoded.classes?.length },
        {
          signal: ctx.signal,
          pool,
          onProgress: (fraction) => ctx.progress(fraction, `Training ${estimator}`),
          onIteration: (i, losses) => {
            ctx.metric("train_loss", losses.trainLoss, i);
            if (losses.validLoss !== undefined) ctx.metric("valid_loss", losses.validLoss, i);
          },
        },
        p,
      );
      const fitMs = performance.now() - fitStarted;
      ctx.log(
        `Trained ${ensemble.trees.length} tree(s) (${ensemble.iterations} iteration(s)) in ${fitMs.toFixed(0)} ms; reading the table took ${readMs.toFixed(0)} ms.`,
      );
      ctx.progress(1, `Trained ${estimator}`);
      return { fitted: { ensemble: modelToJSON(ensemble) }, trainedRows: data.rows };
    },
  };
}

/** Trains a tree estimator (tree, forest, gbdt) on `table`: see trainModel. */
export function trainTrees<P extends TreeTrainParams>(
  ctx: TrainingContext,
  table: TrainingTable,
  p: P,
  spec: TreeFit<P>,
): Promise<DagwoodModel> {
  return trainModel(ctx, table, p, treeTrainer(spec));
}
