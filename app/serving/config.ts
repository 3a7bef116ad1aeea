/**
 * A model's configuration, as Triton reads it (model_config.proto, sent as
 * JSON in the repository extension's `config` load parameter), for the parts
 * this server honours: `max_batch_size` (batching is a property of the
 * model, never assumed) and `model_warmup` (a warm-up runs only when the
 * config asks for one). Other keys are kept in config.json and ignored.
 *
 * Source: triton-inference-server/common, protobuf/model_config.proto
 * (ModelConfig.max_batch_size, ModelWarmup) and the server's
 * docs/user_guide/model_configuration.md ("Maximum Batch Size", "Model Warmup").
 */
import type * as ort from "onnxruntime-node";
import { makeTensor, RequestError, type TensorMeta, TRITON_TYPES, type V2Datatype } from "./tensors";

export interface WarmupInput {
  datatype: V2Datatype;
  dims: number[];
  data: "zero" | "random";
}

export interface Warmup {
  name: string;
  batchSize: number;
  count: number;
  inputs: Map<string, WarmupInput>;
}

export interface ModelConfig {
  /** `max_batch_size` if the config sets it (0: requests pass with their shapes as given). */
  maxBatchSize?: number;
  warmup: Warmup[];
  /**
   * The feature service whose features fill the model's inputs when an infer
   * names entities (`parameters: {"entities": …}`): the config's
   * `parameters: {"feature_service": {"string_value": "<name>"}}` (Triton's
   * ModelConfig.parameters, a map of ModelParameter).
   */
  featureService?: string;
}

/**
 * How a version batches: dimension 0 of every input and output is the batch,
 * requests may carry up to `max` rows, and requests that arrive together may
 * run as one batch. Undefined: no batching, shapes pass as given.
 */
export interface Batching {
  max: number;
}

/** Dagwood's exporter writes this metadata_props entry into every model: rows along dimension 0 (DESIGN.md, "Exported models"). */
export const DAGWOOD_SIGNATURE_KEY = "dagwood.signature";
/** A Dagwood classifier's class labels in code order (the `probabilities` columns), as a JSON array. */
export const DAGWOOD_CLASSES_KEY = "dagwood.classes";
/** A binary classifier's decision rule ({"threshold", "positiveClass"}), written by app/ml/onnx/decision.ts. */
export const DAGWOOD_DECISION_KEY = "dagwood.decision";

const FROM_TRITON = Object.fromEntries(Object.entries(TRITON_TYPES).map(([v2, t]) => [t, v2])) as Record<
  string,
  V2Datatype
>;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A non-negative integer as protobuf's JSON mapping writes it (uint32 as a number, int64 as a number or a string). */
function integer(value: unknown, where: string): number {
  const n = typeof value === "string" && /^-?[0-9]+$/.test(value) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0)
    throw new RequestError(`${where} must be a non-negative integer, not ${JSON.stringify(value)}`);
  return n;
}

function kindOf(value: unknown): string {
  return Array.isArray(value) ? "an array" : value === null ? "null" : `a ${typeof value}`;
}

/** Checks a load's config (parsed JSON) and reads what this server honours; a bad config is a 400 saying what to fix. */
export function parseModelConfig(config: unknown, name: string): ModelConfig {
  if (!isObject(config)) {
    throw new RequestError(
      `parameter "config" must be a JSON object (Triton's model configuration, e.g. {"max_batch_size": 0}), not ${kindOf(config)}`,
    );
  }
  if (config.name !== undefined && config.name !== name) {
    throw new RequestError(`the config names model ${JSON.stringify(config.name)}, not ${name}`);
  }
  if (config.platform !== undefined && config.platform !== "onnxruntime_onnx") {
    throw new RequestError(`platform ${JSON.stringify(config.platform)}: this server runs onnxruntime_onnx`);
  }
  if (config.backend !== undefined && config.backend !== "onnxruntime") {
    throw new RequestError(`backend ${JSON.stringify(config.backend)}: this server runs onnxruntime`);
  }
  const parsed: ModelConfig = { warmup: [] };
  if (config.max_batch_size !== undefined)
    parsed.maxBatchSize = integer(config.max_batch_size, 'config "max_batch_size"');
  const warmups = config.model_warmup;
  if (warmups !== undefined) {
    if (!Array.isArray(warmups))
      throw new RequestError(`config "model_warmup" must be an array, not ${kindOf(warmups)}`);
    parsed.warmup = warmups.map((w, i) => parseWarmup(w, `config "model_warmup"[${i}]`));
  }
  const featureService = featureServiceOf(config.parameters);
  if (featureService !== undefined) parsed.featureService = featureService;
  return parsed;
}

/** `parameters.feature_service.string_value`, checked; other parameters are Triton's business and kept as they are. */
function featureServiceOf(parameters: unknown): string | undefined {
  if (parameters === undefined) return undefined;
  if (!isObject(parameters))
    throw new RequestError(
      `config "parameters" must be an object of name → {"string_value": …}, not ${kindOf(parameters)}`,
    );
  const p = parameters.feature_service;
  if (p === undefined) return undefined;
  const value = isObject(p) ? p.string_value : undefined;
  if (typeof value !== "string" || !/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(value))
    throw new RequestError(
      'config "parameters.feature_service" must be {"string_value": "<feature service name>"} (a letter or _, then letters, digits, _)',
    );
  return value;
}

function parseWarmup(w: unknown, where: string): Warmup {
  if (!isObject(w)) throw new RequestError(`${where} must be an object, not ${kindOf(w)}`);
  const name = w.name === undefined ? where : String(w.name);
  const label = `warm-up ${JSON.stringify(name)}`;
  if (!isObject(w.inputs) || Object.keys(w.inputs).length === 0)
    throw new RequestError(`${label} needs "inputs": {"<input>": {"data_type", "dims", "zero_data"}}`);
  const inputs = new Map<string, WarmupInput>();
  for (const [input, spec] of Object.entries(w.inputs)) {
    const at = `${label}, input ${JSON.stringify(input)}`;
    if (!isObject(spec)) throw new RequestError(`${at} must be an object`);
    const datatype = FROM_TRITON[String(spec.data_type)];
    if (!datatype)
      throw new RequestError(
        `${at}: data_type ${JSON.stringify(spec.data_type)} is not one of ${Object.keys(FROM_TRITON).join(", ")}`,
      );
    if (!Array.isArray(spec.dims)) throw new RequestError(`${at} needs "dims" (an array)`);
    const dims = spec.dims.map((d, k) => integer(d, `${at}, dims[${k}]`));
    if (spec.input_data_file !== undefined) {
      throw new RequestError(
        `${at}: input_data_file is not supported here (a load carries only model.onnx); use zero_data or random_data`,
      );
    }
    const data =
      spec.zero_data !== undefined ? "zero" : spec.random_data !== undefined ? "random" : undefined;
    if (!data) throw new RequestError(`${at} needs zero_data or random_data`);
    inputs.set(input, { datatype, dims, data });
  }
  const batchSize = w.batch_size === undefined ? 0 : integer(w.batch_size, `${label} batch_size`);
  const count = w.count === undefined ? 1 : integer(w.count, `${label} count`);
  if (count > 100) throw new RequestError(`${label} count ${count} is over 100`);
  return { name, batchSize, count: Math.max(count, 1), inputs };
}

/**
 * The metadata_props of an ONNX ModelProto (field 14, key 1, value 2 in
 * onnx.proto), read from the top level of the protobuf wire format without
 * decoding the graph. Malformed bytes give what was read so far: onnxruntime
 * has already accepted the model, so this never refuses one.
 */
export function onnxMetadata(bytes: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  const decoder = new TextDecoder();
  let at = 0;
  const varint = (end: number): number => {
    let value = 0;
    let scale = 1;
    while (at < end) {
      const byte = bytes[at++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    throw new RangeError("truncated varint");
  };
  const fields = (start: number, end: number, visit: (field: number, from: number, to: number) => void) => {
    at = start;
    while (at < end) {
      const tag = varint(end);
      const field = Math.floor(tag / 8);
      const wire = tag & 7;
      if (wire === 0) varint(end);
      else if (wire === 1) at += 8;
      else if (wire === 5) at += 4;
      else if (wire === 2) {
        const length = varint(end);
        const from = at;
        at += length;
        if (at > end) throw new RangeError("truncated field");
        const resume = at;
        visit(field, from, at);
        at = resume;
      } else throw new RangeError(`wire type ${wire}`);
    }
  };
  try {
    fields(0, bytes.length, (field, from, to) => {
      if (field !== 14) return;
      let key = "";
      let value = "";
      fields(from, to, (f, a, b) => {
        if (f === 1) key = decoder.decode(bytes.subarray(a, b));
        if (f === 2) value = decoder.decode(bytes.subarray(a, b));
      });
      out.set(key, value);
    });
  } catch {
    // Keep what was read.
  }
  return out;
}

/** Tensors whose first dimension is not variable, which a batching model cannot have. */
function unbatchable(signature: { inputs: TensorMeta[]; outputs: TensorMeta[] }): TensorMeta[] {
  return [...signature.inputs, ...signature.outputs].filter((t) => t.shape.length === 0 || t.shape[0] !== -1);
}

/**
 * How a version batches. A config with `max_batch_size` > 0 turns batching on
 * (as on Triton, it needs dimension 0 of every input and output variable, else
 * the load is refused). A model Dagwood exported declares its rows along
 * dimension 0 in its metadata, and batches whatever its config says: its rows
 * are independent by construction, and the deploy sends `max_batch_size: 0`
 * so that Triton reads the full shapes. Any other model is not batched.
 */
export function resolveBatching(
  config: ModelConfig,
  signature: { inputs: TensorMeta[]; outputs: TensorMeta[] },
  metadata: Map<string, string>,
): Batching | undefined {
  const fixed = unbatchable(signature);
  if (config.maxBatchSize !== undefined && config.maxBatchSize > 0) {
    if (fixed.length > 0) {
      const t = fixed[0]!;
      throw new RequestError(
        `max_batch_size ${config.maxBatchSize} needs a variable first dimension on every input and output, but "${t.name}" has shape [${t.shape.join(", ")}]; set "max_batch_size": 0 to serve the model with its shapes as given`,
      );
    }
    return { max: config.maxBatchSize };
  }
  if (metadata.has(DAGWOOD_SIGNATURE_KEY) && fixed.length === 0) return { max: Number.POSITIVE_INFINITY };
  return undefined;
}

/** The feeds of one warm-up (Triton: with batching, the shape is [batch_size, ...dims]). */
export function warmupFeeds(
  warmup: Warmup,
  inputs: TensorMeta[],
  batching: Batching | undefined,
): Record<string, ort.Tensor> {
  const label = `warm-up ${JSON.stringify(warmup.name)}`;
  const extra = [...warmup.inputs.keys()].filter((k) => !inputs.some((i) => i.name === k));
  if (extra.length > 0)
    throw new RequestError(`${label} names input ${JSON.stringify(extra[0])}, which the model does not take`);
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of inputs) {
    const spec = warmup.inputs.get(input.name);
    if (!spec) throw new RequestError(`${label} gives no data for input "${input.name}"`);
    if (spec.datatype !== input.datatype)
      throw new RequestError(`${label}: input "${input.name}" is ${input.datatype}, not ${spec.datatype}`);
    const shape = batching ? [Math.max(warmup.batchSize, 1), ...spec.dims] : spec.dims;
    const size = shape.reduce((a, b) => a * b, 1);
    if (size > 1 << 24) throw new RequestError(`${label}: input "${input.name}" has over 2^24 elements`);
    const values = Array.from({ length: size }, () => {
      if (spec.datatype === "BYTES") return spec.data === "zero" ? "" : Math.random().toString(36).slice(2);
      if (spec.datatype === "BOOL") return spec.data === "zero" ? false : Math.random() < 0.5;
      if (spec.data === "zero") return 0;
      return spec.datatype.startsWith("FP") ? Math.random() : Math.floor(Math.random() * 100);
    });
    feeds[input.name] = makeTensor(spec.datatype, values, shape, input.name);
  }
  return feeds;
}
