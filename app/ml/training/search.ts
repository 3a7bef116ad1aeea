/**
 * The hyperparameter search every train block runs (DESIGN.md: grid or
 * random, k-fold cross-validation on the training input, stratified for
 * classification), then the block refits on all rows with the best params.
 */
import type { z } from "zod";
import { type ColumnTable, selectRows } from "../dataset";
import type { EncodedTarget } from "../model";
import {
  checkSpace,
  type FoldPredictions,
  HIGHER_IS_BETTER,
  kFolds,
  planTrials,
  resolveMetric,
  runSearch,
  type SearchMetric,
  type SearchSpace,
  type SearchStrategy,
  scoreFold,
  type TrialParams,
} from "../tuning";
import type { TrainingContext } from "./context";

/** A train block's `search` param. */
export interface SearchParams {
  strategy: SearchStrategy;
  space: SearchSpace;
  folds: number;
  metric?: SearchMetric;
  maxTrials?: number;
  seed?: number;
}

/** What a searched model records (DagwoodModel.tuning). */
export interface TuningRecord {
  strategy: SearchStrategy;
  metric: SearchMetric;
  folds: number;
  seed: number;
  trials: { params: TrialParams; mean: number; std: number }[];
  best: { params: TrialParams; mean: number };
}

export type TunedParams = { seed: number; search?: SearchParams };

/** Fits a trial's model on a fold's training rows (preprocessing included) and predicts its test rows. */
export type FoldFit<P> = (
  params: P,
  train: { rows: ColumnTable; y: Float64Array },
  test: ColumnTable,
) => Promise<FoldPredictions>;

type SearchContext = Pick<
  TrainingContext,
  "log" | "progress" | "metric" | "trial" | "chosenParams" | "signal"
>;

/**
 * Runs `p.search`: every trial is cross-validated with `fitFold`, which fits
 * its own preprocessing on the fold's training rows only, so no statistic of
 * a fold's test rows leaks into its model. Logs each trial and streams
 * `cv_<metric>` with the trial as the step. Returns `p` with the best params.
 */
export async function searchHyperparameters<P extends TunedParams>(
  ctx: SearchContext,
  p: P,
  tunable: z.ZodObject,
  rows: ColumnTable,
  encoded: EncodedTarget,
  fitFold: FoldFit<P>,
): Promise<{ params: P; tuning: TuningRecord }> {
  const search = p.search!;
  const seed = search.seed ?? p.seed;
  const regression = encoded.task === "regression";
  const classes = encoded.classes?.length ?? 0;
  checkSpace(search.space, Object.keys(tunable.shape));
  const metric = resolveMetric(search.metric, regression);
  const planned = planTrials({
    strategy: search.strategy,
    space: search.space,
    maxTrials: search.maxTrials,
    seed,
  });
  const trials = planned.map((trial) => {
    const checked = tunable.safeParse({ ...p, ...trial });
    if (!checked.success) {
      const issue = checked.error.issues[0]!;
      throw new Error(
        `The search tries ${JSON.stringify(trial)}, but ${issue.path.join(".")} is invalid there: ${issue.message}. Narrow search.space${issue.code === "invalid_type" && /int/.test(issue.message) ? " (or set int: true on the range)" : ""}.`,
      );
    }
    return { ...p, ...checked.data } as P;
  });
  const names = encoded.classes?.map(String);
  const plan = kFolds(encoded.y.length, search.folds, seed, regression ? undefined : encoded.y, names);
  for (const warning of plan.warnings) ctx.log(warning, "warn");
  const k = search.folds;
  ctx.log(
    `Searching ${trials.length} ${search.strategy} trial(s) × ${k} folds, scored by cross-validated ${metric} (${HIGHER_IS_BETTER[metric] ? "higher" : "lower"} is better).`,
  );
  const pick = (y: Float64Array, at: Int32Array) => Float64Array.from(at, (i) => y[i]!);
  const result = await runSearch(
    planned,
    async (_, f, t) => {
      ctx.progress(
        (t * k + f) / (trials.length * k),
        `Searching: trial ${t + 1}/${trials.length}, fold ${f + 1}/${k}`,
      );
      const fold = plan.folds[f]!;
      const predicted = await fitFold(
        trials[t]!,
        { rows: selectRows(rows, fold.train), y: pick(encoded.y, fold.train) },
        selectRows(rows, fold.test),
      );
      return scoreFold(metric, pick(encoded.y, fold.test), predicted, classes);
    },
    {
      folds: k,
      higherIsBetter: HIGHER_IS_BETTER[metric],
      signal: ctx.signal,
      onTrial: (t, trial) => {
        ctx.metric(`cv_${metric}`, trial.mean, t);
        ctx.trial(t, trial.params, { [`cv_${metric}`]: trial.mean, [`cv_${metric}_std`]: trial.std });
        ctx.log(
          `Trial ${t + 1}/${trials.length} ${JSON.stringify(trial.params)}: ${metric} ${trial.mean.toPrecision(4)} ± ${trial.std.toPrecision(2)}`,
        );
      },
    },
  );
  ctx.progress(1, "Search done");
  const best = result.trials[result.best.index]!;
  ctx.log(
    `Best trial ${result.best.index + 1}: ${JSON.stringify(best.params)}, ${metric} ${best.mean.toPrecision(4)}; refitting on all ${encoded.y.length} rows.`,
  );
  // The run records the params of the model it produced: the search's choice, not the pipeline's.
  ctx.chosenParams(result.best.params);
  return {
    params: trials[result.best.index]!,
    tuning: {
      strategy: search.strategy,
      metric,
      folds: k,
      seed,
      trials: result.trials.map(({ params, mean, std }) => ({ params, mean, std })),
      best: { params: result.best.params, mean: result.best.mean },
    },
  };
}
