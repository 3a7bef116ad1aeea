/**
 * Training, written once for every estimator: read the training rows, run
 * the hyperparameter search (each fold fitting its own preprocessing), fit
 * the preprocessing and the estimator on all rows, pack the model and export
 * it with its parity checked. An estimator (trees.ts, linear.ts, mlp.ts)
 * brings only what is its own: the task it accepts, its preprocessing, a
 * fold's fit and the final fit.
 */
import type { z } from "zod";
import { keepReferenceProfile } from "../../monitoring/reference";
import type { ColumnTable, RawColumn } from "../dataset";
import { isDateType } from "../date-parts";
import type { AnyDagwoodModel, EncodedTarget } from "../model";
import { fitPreprocessor, type PreprocessOptions, type PreprocessSpec } from "../preprocess";
import type { FoldPredictions } from "../tuning";
import { shareTable } from "../work/shared";
import type { TrainingContext, TrainingTable } from "./context";
import { type Fitted, type OnnxOpsets, packModel } from "./export";
import { readTrainingRows } from "./rows";
import { searchHyperparameters, type TunedParams, type TuningRecord } from "./search";

/** The params every estimator takes. */
export interface TrainParams extends TunedParams {
  target: string;
  onnxOpset?: OnnxOpsets;
  /**
   * DATE and TIMESTAMP features: "parts" (year, month, day, weekday, and
   * hour for timestamps) or "epoch" (one number, milliseconds since 1970).
   * Unset: parts when `features` is unset, epoch for date columns listed in
   * `features` (what they meant before dates had parts).
   */
  dateFeatures?: "parts" | "epoch";
}

/** What the final fit gets: the rows, the fitted preprocessing, the target. */
export interface FinalFit {
  /** The raw feature columns (in shared memory: a worker reads them in place). */
  rows: ColumnTable;
  spec: PreprocessSpec;
  encoded: EncodedTarget;
  readMs: number;
}

/** An estimator's part of training. */
export interface Trainer<P extends TrainParams, M extends AnyDagwoodModel> {
  estimator: M["estimator"];
  /** What search.space may tune. */
  tunable: z.ZodObject;
  /** The task for this target, or an error that says which block to use instead. */
  decideTask(p: P, target: RawColumn): "classification" | "regression";
  preprocessing(p: P): Omit<PreprocessOptions, "log">;
  /** A search fold: fits preprocessing and estimator on `train`, predicts `test`. */
  fitFold(
    ctx: TrainingContext,
    p: P,
    train: { rows: ColumnTable; y: Float64Array },
    test: ColumnTable,
    encoded: EncodedTarget,
  ): Promise<FoldPredictions>;
  /** The final fit, streaming its progress, metrics and logs to `ctx`. */
  fit(ctx: TrainingContext, p: P, input: FinalFit): Promise<{ fitted: Fitted<M>; trainedRows: number }>;
}

/**
 * Fits the final preprocessing on all training rows, logging what it drops,
 * and refuses when no feature is left.
 */
export function fitTrainingPreprocessor(
  ctx: Pick<TrainingContext, "log">,
  rows: ColumnTable,
  options: Omit<PreprocessOptions, "log">,
): PreprocessSpec {
  const spec = fitPreprocessor(rows, { ...options, log: (message, level) => ctx.log(message, level) });
  if (spec.features.length === 0) {
    const why = spec.dropped.map((d) => `"${d.name}": ${d.reason}`).join("; ");
    throw new Error(`All feature columns were dropped (${why}). Give the model columns with values.`);
  }
  return spec;
}

/** Trains `trainer`'s estimator on `table` with params `given` (see the file comment). */
export async function trainModel<P extends TrainParams, M extends AnyDagwoodModel>(
  ctx: TrainingContext,
  table: TrainingTable,
  given: P,
  trainer: Trainer<P, M>,
): Promise<M> {
  let p: P = { ...given, dateFeatures: given.dateFeatures ?? (table.explicit ? "epoch" : "parts") };
  const read = await readTrainingRows(ctx, table, (target) => trainer.decideTask(p, target));
  const { targetColumn, encoded, readMs } = read;
  // In shared memory, the fit and export workers read the columns in place.
  const rows = shareTable(read.rows);
  let tuning: TuningRecord | undefined;
  if (p.search) {
    ({ params: p, tuning } = await searchHyperparameters(
      ctx,
      p,
      trainer.tunable,
      rows,
      encoded,
      (q, train, test) => trainer.fitFold(ctx, q, train, test, encoded),
    ));
  }
  const spec = fitTrainingPreprocessor(ctx, rows, trainer.preprocessing(p));
  logDateFeatures(ctx, spec, given.dateFeatures);
  const { fitted, trainedRows } = await trainer.fit(ctx, p, { rows, spec, encoded, readMs });
  const model = await packModel<M>(ctx, trainer.estimator, fitted, {
    p,
    targetColumn,
    encoded,
    spec,
    trainedRows,
    missingTargetRows: read.missingTargetRows,
    rows,
    tuning,
  });
  // The reference profile drift monitoring compares traffic with (app/monitoring/reference.ts).
  const profile = await keepReferenceProfile(ctx, table, model, rows);
  if (profile) model.referenceProfile = profile;
  return model;
}

/**
 * Says how each date column is used, in the node's log (and the model
 * summary's `use`). Date parts, the default, are what a user expects: an info
 * line. A date used as one number without the pipeline choosing it (listed in
 * `features`) is a warning, so the node shows it: every bundled example would
 * otherwise end "with 1 warning" and teach users to ignore the badge.
 */
function logDateFeatures(
  ctx: Pick<TrainingContext, "log">,
  spec: PreprocessSpec,
  chosen: TrainParams["dateFeatures"],
): void {
  for (const f of spec.features) {
    if (f.kind !== "numeric" || !isDateType(f.sourceType)) continue;
    if (f.dateParts) {
      const parts = f.dateParts.map((d) => d.part).join(", ");
      ctx.log(
        `Date column "${f.name}" used as ${parts} (UTC; weekday 1 = Monday … 7 = Sunday)${chosen ? "." : '; set dateFeatures to "epoch" to use it as one number.'}`,
        "info",
      );
    } else {
      ctx.log(
        `Date column "${f.name}" used as one number, milliseconds since 1970-01-01 UTC${chosen ? "." : '; set dateFeatures to "parts" to use its year, month, day and weekday.'}`,
        chosen ? "info" : "warn",
      );
    }
  }
}
