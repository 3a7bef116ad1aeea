/**
 * How big and how fast a trained model is, logged as train-node metrics so
 * runs can be compared on complexity against accuracy (the Experiments
 * compare view): the size of what the model learned (trees and leaves, or
 * weights and biases), and the median latency of scoring one row through
 * onnxruntime, measured in the export worker after the parity check.
 */
import type * as ort from "onnxruntime-node";
import { onnxruntime } from "../../data/native";
import type { ColumnTable, RawColumn } from "../dataset";
import { type AnyDagwoodModel, isLinearModel, isMlpModel } from "../model";
import { modelFeeds } from "../onnx/parity";
import { SERVING_SESSION_OPTIONS } from "../onnx/session-options";

/** Metric names a train node logs (README: "Comparing runs"). */
export const COMPLEXITY_METRICS = {
  onnxBytes: "onnx_bytes",
  latencyP50: "onnx_latency_p50_us",
  trees: "model_trees",
  leaves: "model_leaves",
  parameters: "model_parameters",
} as const;

/** What a model learned, counted: trees and leaves for ensembles, weights and biases for linear models and MLPs. */
export type ModelSize = { trees: number; leaves: number } | { parameters: number };

/** Counts a model's trees and leaves (a leaf has no left child), or its weights and biases. */
export function modelSize(model: AnyDagwoodModel): ModelSize {
  if (isLinearModel(model)) {
    const { coefficients, intercepts } = model.linear;
    return { parameters: coefficients.reduce((n, row) => n + row.length, 0) + intercepts.length };
  }
  if (isMlpModel(model)) {
    return { parameters: model.mlp.layers.reduce((n, l) => n + l.weights.length + l.bias.length, 0) };
  }
  const trees = model.ensemble.trees;
  let leaves = 0;
  for (const t of trees) for (const child of t.left) if (child < 0) leaves++;
  return { trees: trees.length, leaves };
}

/** One row of a table, as a table of one row. */
function rowOf(table: ColumnTable, r: number): ColumnTable {
  const columns = table.columns.map(
    (c): RawColumn =>
      c.kind === "numeric"
        ? { ...c, values: c.values.slice(r, r + 1) }
        : { ...c, codes: c.codes.slice(r, r + 1) },
  );
  return { rows: 1, columns };
}

export interface LatencyOptions {
  /** Calls before timing starts (session and allocator warm-up). */
  warmup?: number;
  /** Timed single-row calls. */
  calls?: number;
}

/** Median single-row scoring time, and how many calls it is the median of. */
export interface Latency {
  p50Us: number;
  calls: number;
}

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: ArrayLike<number>): number {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  return n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}

/**
 * Scores single rows of `rows` (cycling through up to 50 of them) through a
 * fresh onnxruntime session of `onnxBytes`, opened with the server's options
 * (SERVING_SESSION_OPTIONS), `warmup` calls then `calls`
 * timed ones, and returns the median in microseconds. Each call is one
 * `session.run` with [1, 1] feeds, as one request to a V2 server scores.
 */
export async function singleRowLatency(
  onnxBytes: Uint8Array,
  model: AnyDagwoodModel,
  rows: ColumnTable,
  { warmup = 20, calls = 200 }: LatencyOptions = {},
): Promise<Latency> {
  if (rows.rows === 0) throw new Error("Single-row latency needs at least one row to score");
  if (!(calls > 0)) throw new Error(`Single-row latency needs at least one timed call, not ${calls}`);
  const feeds: Record<string, ort.Tensor>[] = [];
  for (let r = 0; r < Math.min(rows.rows, 50); r++) feeds.push(modelFeeds(model, rowOf(rows, r)));
  // Opened as `dagwood serve` opens a version (one thread per run), so the figure is the served one.
  const session = await onnxruntime().InferenceSession.create(onnxBytes, { ...SERVING_SESSION_OPTIONS });
  try {
    for (let i = 0; i < warmup; i++) await session.run(feeds[i % feeds.length]!);
    const times = new Float64Array(calls);
    for (let i = 0; i < calls; i++) {
      const start = process.hrtime.bigint();
      await session.run(feeds[i % feeds.length]!);
      times[i] = Number(process.hrtime.bigint() - start) / 1000;
    }
    return { p50Us: median(times), calls };
  } finally {
    await session.release();
  }
}
