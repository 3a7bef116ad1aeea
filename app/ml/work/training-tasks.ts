/**
 * Training tasks, run in work workers (pool.ts) so a fit never holds the
 * engine's event loop: ridge and logistic regression, the MLP, and the ONNX
 * export with its parity check. The caller (app/ml/training) sends the raw
 * feature columns (shared memory where it can) with the fitted preprocessing,
 * or the options to fit it on a search fold's rows, so the encoded matrix
 * (rows × one-hot columns, often a hundred times the raw columns) is built
 * here and never copied between threads.
 *
 * Per-iteration losses and per-epoch logs stream on `events`, a MessagePort
 * the caller transfers with the input; results are plain objects and typed
 * arrays.
 */
import type { MessagePort } from "node:worker_threads";
import type { ColumnTable } from "../dataset";
import { fitLogistic, fitRidge, type LinearModelJSON, predictLinear } from "../linear";
import { type EpochLogs, fitMlp, type MlpFitOptions, type MlpModelJSON, predictMlp } from "../mlp";
import type { AnyDagwoodModel, OnnxExportInfo } from "../model";
import type { ExportModelOptions } from "../onnx/model";
import type { ParityFigures } from "../onnx/parity";
import {
  type EncodedRows,
  encodeRows,
  fitPreprocessor,
  type PreprocessOptions,
  type PreprocessSpec,
  transformFeatures,
} from "../preprocess";
import type { Latency } from "../training/complexity";
import type { FoldPredictions } from "../tuning";
import type { TaskFn } from "./tasks";

/** What every fit task gets: raw columns, target, preprocessing, and optionally rows to predict after. */
export interface FitTaskInput {
  /** The raw feature columns of the training rows. */
  rows: ColumnTable;
  y: Float64Array;
  /** The fitted preprocessing (the final fit), or how to fit it on `rows` (a search fold). */
  preprocess: { spec: PreprocessSpec } | { options: Omit<PreprocessOptions, "log"> };
  /** A search fold's held-out rows: predicted after the fit. */
  test?: ColumnTable;
  /** Where iteration or epoch events are posted; the caller transfers it. */
  events?: MessagePort;
}

export interface LinearTaskInput extends FitTaskInput {
  estimator: "linear" | "logistic";
  l2: number;
  maxIter: number;
  /** Logistic: the number of classes. */
  numClasses?: number;
}

export interface LinearTaskOutput {
  linear: LinearModelJSON;
  /** Encoded feature columns that are constant in the training rows (their coefficient is 0). */
  constant: string[];
  /** Encoded feature columns the fit saw. */
  features: number;
  /** Ridge: the training RMSE. */
  trainRmse?: number;
  /** Logistic: the objective after each iteration. */
  losses: number[];
  predicted?: FoldPredictions;
}

/** A logistic iteration, posted on `events`. */
export interface IterationEvent {
  iteration: number;
  loss: number;
}

export interface MlpTaskInput extends FitTaskInput {
  options: Omit<MlpFitOptions, "signal" | "onEpoch">;
}

export interface MlpTaskOutput {
  mlp: MlpModelJSON;
  features: number;
  /** Every epoch's logs, also posted on `events` as they come. */
  epochs: EpochLogs[];
  predicted?: FoldPredictions;
}

/** An epoch's end, posted on `events`. */
export interface EpochEvent {
  epoch: number;
  logs: EpochLogs;
}

export interface ExportTaskInput {
  model: AnyDagwoodModel;
  /** The training rows: the parity check scores a sample of them, plus probe rows, both ways. */
  rows: ColumnTable;
  options: ExportModelOptions;
}

export type ExportTaskOutput =
  | { exportError: string }
  | {
      bytes: Uint8Array;
      opsets: OnnxExportInfo["opsets"];
      parity: Pick<ParityFigures, "rows" | "maxAbsDiff" | "labelAgreement" | "tolerance" | "passed">;
      /** Median single-row scoring time through onnxruntime, measured once parity passed. */
      latency?: Latency;
    };

/** The preprocessing the fit uses: the caller's, or fitted here on a search fold's rows. */
function preprocessing(input: FitTaskInput): PreprocessSpec {
  return "spec" in input.preprocess
    ? input.preprocess.spec
    : fitPreprocessor(input.rows, input.preprocess.options);
}

/** The encoded features that hold one value in every row, read a chunk of rows at a time. */
function constantFeatures(encoded: EncodedRows): string[] {
  const F = encoded.names.length;
  const chunk = 1024;
  const first = new Float64Array(F);
  encoded.fill([0], first);
  const varies = new Uint8Array(F);
  const values = new Float64Array(chunk * F);
  const at = new Int32Array(chunk);
  for (let start = 0; start < encoded.rows; start += chunk) {
    const m = Math.min(chunk, encoded.rows - start);
    for (let k = 0; k < m; k++) at[k] = start + k;
    encoded.fill(at.subarray(0, m), values);
    for (let k = 0; k < m; k++) {
      for (let j = 0; j < F; j++) if (values[k * F + j] !== first[j]) varies[j] = 1;
    }
  }
  return encoded.names.filter((_, j) => varies[j] === 0);
}

async function trainLinear(input: LinearTaskInput): Promise<LinearTaskOutput> {
  const spec = preprocessing(input);
  const { y, events } = input;
  const losses: number[] = [];
  try {
    if (input.estimator === "logistic") {
      // Not the encoded matrix (rows × one-hot columns): the fit builds its nonzeros from this.
      const encoded = encodeRows(spec, input.rows);
      const linear = await fitLogistic(
        { data: encoded, y },
        {
          l2: input.l2,
          maxIter: input.maxIter,
          ...(input.numClasses !== undefined ? { numClasses: input.numClasses } : {}),
          onIteration: (iteration, loss) => {
            losses.push(loss);
            events?.postMessage({ iteration, loss } satisfies IterationEvent);
          },
        },
      );
      const out: LinearTaskOutput = {
        linear,
        constant: constantFeatures(encoded),
        features: encoded.names.length,
        losses,
      };
      if (input.test) {
        const { prediction, probabilities } = predictLinear(linear, transformFeatures(spec, input.test));
        out.predicted = {
          ...(prediction ? { prediction } : {}),
          ...(probabilities ? { probabilities } : {}),
        };
      }
      return out;
    }
    const data = transformFeatures(spec, input.rows);
    const linear = fitRidge({ data, y }, { l2: input.l2 });
    const out: LinearTaskOutput = {
      linear,
      constant: data.features.filter((f) => f.values.every((v) => v === f.values[0])).map((f) => f.name),
      features: data.features.length,
      losses,
    };
    if (!input.test) {
      const prediction = predictLinear(linear, data).prediction!;
      let sse = 0;
      for (let i = 0; i < data.rows; i++) sse += (prediction[i]! - y[i]!) ** 2;
      out.trainRmse = Math.sqrt(sse / data.rows);
    } else {
      const { prediction, probabilities } = predictLinear(linear, transformFeatures(spec, input.test));
      out.predicted = { ...(prediction ? { prediction } : {}), ...(probabilities ? { probabilities } : {}) };
    }
    return out;
  } finally {
    events?.close();
  }
}

async function trainMlp(input: MlpTaskInput): Promise<MlpTaskOutput> {
  const spec = preprocessing(input);
  // Not the encoded matrix (rows × one-hot columns): the network writes each minibatch from this.
  const data = encodeRows(spec, input.rows);
  const { events } = input;
  const epochs: EpochLogs[] = [];
  try {
    const mlp = await fitMlp(
      { data, y: input.y },
      {
        ...input.options,
        onEpoch: (epoch, logs) => {
          epochs.push(logs);
          events?.postMessage({ epoch, logs } satisfies EpochEvent);
        },
      },
    );
    const out: MlpTaskOutput = { mlp, features: data.names.length, epochs };
    if (input.test) {
      const { prediction, probabilities } = predictMlp(mlp, transformFeatures(spec, input.test));
      out.predicted = { ...(prediction ? { prediction } : {}), ...(probabilities ? { probabilities } : {}) };
    }
    return out;
  } finally {
    events?.close();
  }
}

async function exportOnnx(input: ExportTaskInput): Promise<ExportTaskOutput> {
  // Loaded here, not at the top: a worker that only scores never loads onnxruntime.
  const { exportModelWithInfo } = await import("../onnx/model");
  const { checkModelParity, parityRows } = await import("../onnx/parity");
  let exported: ReturnType<typeof exportModelWithInfo>;
  try {
    exported = exportModelWithInfo(input.model, input.options);
  } catch (e) {
    return { exportError: (e as Error).message };
  }
  const { rows, maxAbsDiff, labelAgreement, tolerance, passed } = await checkModelParity(
    exported.bytes,
    input.model,
    parityRows(input.model, input.rows),
  );
  // Timed here, after the parity check's session is gone, so the two do not share the thread.
  const { singleRowLatency } = await import("../training/complexity");
  const latency =
    passed && input.rows.rows > 0
      ? await singleRowLatency(exported.bytes, input.model, input.rows)
      : undefined;
  return {
    bytes: exported.bytes,
    opsets: exported.opsets,
    parity: { rows, maxAbsDiff, labelAgreement, tolerance, passed },
    ...(latency ? { latency } : {}),
  };
}

export const trainingTasks = {
  trainLinear: (input: LinearTaskInput) => trainLinear(input),
  trainMlp: (input: MlpTaskInput) => trainMlp(input),
  exportOnnx: (input: ExportTaskInput) => exportOnnx(input),
} satisfies Record<string, TaskFn>;
