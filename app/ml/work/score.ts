/**
 * predictTable in worker threads: the rows are split into one range per
 * worker, each scored in chunks (progress, cancel); the predictions are those
 * of predictTable, bit for bit (every estimator scores a row on its own).
 */
import type { ColumnTable } from "../dataset";
import { type AnyDagwoodModel, missingInputs, type Predictions } from "../model";
import { runTask, workerCount } from "./pool";
import type { ScoreBuffers } from "./scoring-tasks";
import { sharedArray, shareTable } from "./shared";

/** Fewest rows worth a worker of their own: below this one worker scores everything. */
export const MIN_ROWS_PER_WORKER = 16_384;

export interface ScoreOptions {
  signal?: AbortSignal;
  /** Classification: leave `label` out (the caller reads classIndex); saves an array of a million labels. */
  noLabels?: boolean;
  /** Rows scored so far, of `total`. */
  onProgress?: (done: number, total: number) => void;
}

/** Scores raw columns with `model` in worker threads; the same result as predictTable(model, table). */
export async function predictInWorkers(
  model: AnyDagwoodModel,
  table: ColumnTable,
  options: ScoreOptions = {},
): Promise<Predictions> {
  const missing = missingInputs(model, table.columns);
  if (missing.length > 0) {
    throw new Error(
      `The data lacks column(s) ${missing.map((n) => `"${n}"`).join(", ")}, which the model was trained on`,
    );
  }
  const names = new Set(model.preprocess.features.map((f) => f.name));
  const rows = shareTable({ rows: table.rows, columns: table.columns.filter((c) => names.has(c.name)) });
  const n = table.rows;
  const regression = model.task === "regression";
  const K = model.classes?.length ?? 2;
  const out: ScoreBuffers = regression
    ? { prediction: sharedArray(Float64Array, n) }
    : { probabilities: sharedArray(Float64Array, n * K), classIndex: sharedArray(Int32Array, n), classes: K };
  const parts = Math.max(1, Math.min(workerCount(), Math.floor(n / MIN_ROWS_PER_WORKER)));
  const doneBy = new Array<number>(parts).fill(0);
  // One part failing stops the others: their work would be thrown away.
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  await Promise.all(
    Array.from({ length: parts }, (_, i) => {
      const start = Math.floor((i * n) / parts);
      const end = Math.floor(((i + 1) * n) / parts);
      return runTask(
        "predictRows",
        { model, table: rows, start, end, out },
        {
          signal,
          onProgress: (done) => {
            doneBy[i] = done;
            options.onProgress?.(
              doneBy.reduce((s, x) => s + x, 0),
              n,
            );
          },
        },
      ).catch((e: unknown) => {
        if (!stop.signal.aborted) stop.abort(e);
        throw e;
      });
    }),
  ).catch((e: unknown) => {
    // The first failure, not a sibling's "canceled" that it caused.
    throw stop.signal.reason ?? e;
  });
  if ("prediction" in out) return { prediction: out.prediction };
  const classes = model.classes ?? [];
  return {
    ...(options.noLabels ? {} : { label: Array.from(out.classIndex, (k) => classes[k]!) }),
    classIndex: out.classIndex,
    probabilities: out.probabilities,
  };
}
