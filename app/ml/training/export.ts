/**
 * Packing a fitted estimator into the `dagwood.model/1` container, and its
 * ONNX export with the parity check, which runs in a work worker
 * (training-tasks.ts: the export and onnxruntime take seconds on big forests).
 */
import { writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import type { ColumnTable } from "../dataset";
import {
  type AnyDagwoodModel,
  type EncodedTarget,
  MODEL_FORMAT,
  type OnnxExportInfo,
  signatureFor,
} from "../model";
import { PROBES } from "../onnx/parity";
import type { PreprocessSpec } from "../preprocess";
import { abortError } from "../trees/grow";
import { COMPLEXITY_METRICS, type Latency, modelSize } from "./complexity";
import type { TrainingContext } from "./context";
import { runTrainingTask } from "./run-task";
import type { TuningRecord } from "./search";

/** Opset overrides of the exported file (a train block's `onnxOpset` param). */
export interface OnnxOpsets {
  default?: number;
  ml?: number;
}

/** What packModel needs besides the fitted estimator. */
export interface TrainedParts {
  p: { target: string; onnxOpset?: OnnxOpsets };
  targetColumn: { name: string; type: string };
  encoded: EncodedTarget;
  spec: PreprocessSpec;
  trainedRows: number;
  /** Rows of the training input left out because their target was missing. */
  missingTargetRows?: number;
  /** The training rows, for the parity check. */
  rows: ColumnTable;
  tuning: TuningRecord | undefined;
}

/** The estimator's own part of the model: its `ensemble`, `linear` or `mlp` field. */
export type Fitted<M extends AnyDagwoodModel> = Pick<M, Extract<keyof M, "ensemble" | "linear" | "mlp">>;

/**
 * Packs a fitted estimator into the `dagwood.model/1` container, exports it
 * to `<artifactDir>/model.onnx` with its parity checked (exportWithParity
 * fails the training unless it matches), and returns the model.
 */
export async function packModel<M extends AnyDagwoodModel>(
  ctx: TrainingContext,
  estimator: M["estimator"],
  fitted: Fitted<M>,
  { p, targetColumn, encoded, spec, trainedRows, missingTargetRows, rows, tuning }: TrainedParts,
): Promise<M> {
  // The cast: TypeScript cannot tie the spread `fitted` back to M's estimator field.
  const model = {
    kind: MODEL_FORMAT,
    estimator,
    task: encoded.task,
    target: p.target,
    targetType: targetColumn.type,
    ...(encoded.classes ? { classes: encoded.classes } : {}),
    signature: signatureFor(spec, encoded.task, encoded.classes),
    preprocess: spec,
    ...fitted,
    trainedRows,
    ...(missingTargetRows !== undefined ? { missingTargetRows } : {}),
    params: { ...p, features: spec.features.map((f) => f.name) },
    ...(tuning ? { tuning } : {}),
  } as unknown as M & { tuning?: TuningRecord };
  model.onnx = await exportWithParity(ctx, model, rows, p.onnxOpset);
  return model;
}

/** The model's size and single-row latency as metrics, for complexity-versus-accuracy comparisons. */
function logComplexity(
  ctx: Pick<TrainingContext, "metric">,
  model: AnyDagwoodModel,
  onnxBytes: number,
  latency: Latency | undefined,
): void {
  ctx.metric(COMPLEXITY_METRICS.onnxBytes, onnxBytes);
  if (latency) ctx.metric(COMPLEXITY_METRICS.latencyP50, latency.p50Us);
  const size = modelSize(model);
  if ("parameters" in size) ctx.metric(COMPLEXITY_METRICS.parameters, size.parameters);
  else {
    ctx.metric(COMPLEXITY_METRICS.trees, size.trees);
    ctx.metric(COMPLEXITY_METRICS.leaves, size.leaves);
  }
}

/**
 * Exports the model to `<artifactDir>/model.onnx` and runs it with
 * onnxruntime against `predictTable` on (a sample of) the training rows plus
 * probe rows (all missing; ±Infinity and unseen categories), in a worker.
 * Both sides get the same raw rows, so any difference beyond float64
 * summation order is a fault of the export, and the training fails on it.
 */
export async function exportWithParity(
  ctx: TrainingContext,
  model: AnyDagwoodModel,
  rows: ColumnTable,
  opset?: OnnxOpsets,
): Promise<OnnxExportInfo> {
  ctx.signal.throwIfAborted();
  const opsets = {
    ...(opset?.default !== undefined ? { "": opset.default } : {}),
    ...(opset?.ml !== undefined ? { "ai.onnx.ml": opset.ml } : {}),
  };
  const out = await runTrainingTask(
    "exportOnnx",
    { model, rows, options: Object.keys(opsets).length ? { target: { opsets } } : {} },
    ctx.signal,
  );
  if ("exportError" in out)
    throw new Error(`The model trained, but its ONNX export failed: ${out.exportError}`);
  const path = join(await ctx.artifactDir(), "model.onnx");
  // A cancel that arrived as the export finished: no model file is written.
  if (ctx.signal.aborted) throw abortError(ctx.signal);
  await writeFile(path, out.bytes);
  const parity = {
    rows: out.parity.rows,
    probeRows: PROBES,
    maxAbsDiff: out.parity.maxAbsDiff,
    labelAgreement: out.parity.labelAgreement,
  };
  ctx.metric("onnx_max_abs_diff", parity.maxAbsDiff);
  ctx.metric("onnx_label_agreement", parity.labelAgreement);
  const what = model.task === "regression" ? "prediction" : "probability";
  const summary = `max |${what} difference| ${parity.maxAbsDiff.toExponential(2)}, labels agree on ${(100 * parity.labelAgreement).toFixed(2)} % of ${parity.rows} rows`;
  if (!out.parity.passed) {
    throw new Error(
      `The exported ONNX model does not match the trained model (${summary}; required: at most ${out.parity.tolerance} (relative above 1) and 100 %). This is a fault in Dagwood's ONNX export, not in your data: please report it with this pipeline. The file is kept at ${path} for inspection.`,
    );
  }
  const file = relative(ctx.projectDir, path);
  logComplexity(ctx, model, out.bytes.length, out.latency);
  const latency = out.latency
    ? `; one row scores in ${out.latency.p50Us.toFixed(0)} µs (median of ${out.latency.calls} calls)`
    : "";
  ctx.log(
    `Exported ${file} (${out.bytes.length} bytes); onnxruntime parity with the native model: ${summary}${latency}.`,
  );
  return { file, bytes: out.bytes.length, opsets: out.opsets, parity };
}
