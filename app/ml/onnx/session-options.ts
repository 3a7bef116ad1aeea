/**
 * How `dagwood serve` opens every version's onnxruntime session
 * (app/serving/models.ts). Requests run concurrently on libuv's pool; one
 * thread per run keeps single-row latency low. Training measures a model's
 * single-row latency with these very options (app/ml/training/complexity.ts),
 * so the figure it logs is the served one.
 */
import type * as ort from "onnxruntime-node";

export const SERVING_SESSION_OPTIONS: Readonly<ort.InferenceSession.SessionOptions> = Object.freeze({
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  graphOptimizationLevel: "all",
});
