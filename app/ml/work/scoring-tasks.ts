/**
 * Scoring tasks, run in work workers (pool.ts): a model's predictions over a
 * range of rows, permutation importance and partial dependence. Their inputs
 * carry column tables in shared memory (shared.ts), so each task sees the
 * caller's arrays, not copies.
 */

import type { ColumnTable } from "../dataset";
import { type EvaluationInput, evaluationFigures } from "../evaluation";
import {
  type FeatureImportance,
  type ImportanceMetric,
  importanceBaseline,
  type PartialDependence,
  partialDependenceOn,
  permuteFeatures,
  type Truth,
} from "../explain";
import { type AnyDagwoodModel, predictTable } from "../model";
import { sliceTable } from "./shared";
import type { TaskFn } from "./tasks";

/**
 * Rows scored between two progress reports (and cancel points: a cancel
 * terminates the worker). A linear model or network scores a chunk through its
 * encoded matrix (rows × one-hot columns, float64): 8192 rows of the flights
 * example's 134 columns are 8.6 MB.
 */
export const SCORE_CHUNK_ROWS = 8192;

/** Rows the parity check runs at a time, both ways: onnxruntime's tensors and ours grow with it. */
export const PARITY_CHUNK_ROWS = 8192;

/** Where predictRows writes: arrays over every row of the table, in shared memory. */
export type ScoreBuffers =
  | { prediction: Float64Array }
  | { probabilities: Float64Array; classIndex: Int32Array; classes: number };

export interface PredictRowsInput {
  model: AnyDagwoodModel;
  /** The model's feature columns (shared memory). */
  table: ColumnTable;
  start: number;
  end: number;
  out: ScoreBuffers;
}

/** Scores rows [start, end) chunk by chunk into `out`; progress counts rows. */
function predictRows(
  input: PredictRowsInput,
  ctx: { progress(done: number, total: number): void },
): { rows: number } {
  const { model, table, start, end, out } = input;
  for (let from = start; from < end; from += SCORE_CHUNK_ROWS) {
    const to = Math.min(end, from + SCORE_CHUNK_ROWS);
    const p = predictTable(model, sliceTable(table, from, to));
    if ("prediction" in out) {
      if (!p.prediction) throw new Error("The model gave no prediction; expected a regression model");
      out.prediction.set(p.prediction, from);
    } else {
      if (!p.probabilities || !p.classIndex)
        throw new Error("The model gave no probabilities; expected a classifier");
      if (p.probabilities.length !== (to - from) * out.classes) {
        throw new Error(
          `The model gave ${p.probabilities.length / (to - from)} probabilities per row, expected ${out.classes}`,
        );
      }
      out.probabilities.set(p.probabilities, from * out.classes);
      out.classIndex.set(p.classIndex, from);
    }
    ctx.progress(to - start, end - start);
  }
  return { rows: end - start };
}

export interface PermutationInput {
  model: AnyDagwoodModel;
  table: ColumnTable;
  truth: Truth;
  /** Indexes into the model's features. */
  features: number[];
  seed: number;
  repeats: number;
}

/** Permutation importance of some of the model's columns; progress counts shuffles. */
function permutationImportance(
  input: PermutationInput,
  ctx: { progress(done: number, total: number): void },
): { metric: ImportanceMetric; importances: FeatureImportance[] } {
  const { model, table, truth, features, seed, repeats } = input;
  const metric = importanceBaseline(model, table, truth);
  const total = features.length * repeats;
  let done = 0;
  const importances = permuteFeatures(model, table, truth, metric, features, {
    seed,
    repeats,
    onStep: () => ctx.progress(++done, total),
  });
  return { metric, importances };
}

/** Partial dependence on some columns; progress counts columns. */
function partialDependence(
  input: { model: AnyDagwoodModel; table: ColumnTable; features: string[] },
  ctx: { progress(done: number, total: number): void },
): PartialDependence[] {
  return input.features.map((name, i) => {
    const pd = partialDependenceOn(input.model, input.table, name);
    ctx.progress(i + 1, input.features.length);
    return pd;
  });
}

/** The parity check figures (ParityFigures, without the outputs compared). */
export interface ParityCheck {
  rows: number;
  maxAbsDiff: number;
  labelAgreement: number;
  tolerance: number;
  passed: boolean;
}

/**
 * Runs a model's ONNX file on `table` and compares it with the native
 * predictions (app/ml/onnx/parity.ts), PARITY_CHUNK_ROWS rows at a time (every
 * estimator scores a row on its own, both ways): the figures are those of one
 * check over all rows, and memory grows with the chunk, not the table.
 */
async function modelParity(input: {
  onnx: Uint8Array;
  model: AnyDagwoodModel;
  table: ColumnTable;
}): Promise<ParityCheck> {
  // Loaded here, not at the top: a worker that only scores never loads onnxruntime.
  const { checkModelParity } = await import("../onnx/parity");
  const n = input.table.rows;
  let maxAbsDiff = 0;
  let mismatches = 0;
  let tolerance = Number.NaN;
  let passed = n > 0;
  for (let from = 0; from < Math.max(n, 1); from += PARITY_CHUNK_ROWS) {
    const to = Math.min(n, from + PARITY_CHUNK_ROWS);
    const rows = sliceTable(input.table, from, to);
    // onnxruntime-node refuses tensors over shared memory ("Invalid argument"): its rows in plain arrays.
    const table: ColumnTable = {
      rows: rows.rows,
      columns: rows.columns.map((c) =>
        c.kind === "numeric" ? { ...c, values: c.values.slice() } : { ...c, codes: c.codes.slice() },
      ),
    };
    const part = await checkModelParity(input.onnx, input.model, table);
    maxAbsDiff = Math.max(maxAbsDiff, part.maxAbsDiff);
    mismatches += part.labelMismatches;
    tolerance = part.tolerance;
    passed &&= part.passed;
  }
  return { rows: n, maxAbsDiff, labelAgreement: n === 0 ? 1 : (n - mismatches) / n, tolerance, passed };
}

export const scoringTasks = {
  predictRows,
  evaluationFigures: (input: EvaluationInput) => evaluationFigures(input),
  permutationImportance,
  partialDependence,
  modelParity,
} satisfies Record<string, TaskFn>;
