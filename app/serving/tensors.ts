/**
 * V2 (Open Inference Protocol) JSON tensors ↔ onnxruntime tensors, checked
 * against the model's signature so a bad request is a 400 naming the input.
 */
import type * as ort from "onnxruntime-node";
import { onnxruntime } from "../data/native";

export type V2Datatype =
  | "BOOL"
  | "UINT8"
  | "UINT16"
  | "UINT32"
  | "UINT64"
  | "INT8"
  | "INT16"
  | "INT32"
  | "INT64"
  | "FP16"
  | "FP32"
  | "FP64"
  | "BYTES";

/** A tensor as the V2 protocol describes it (metadata: shape with -1 for a dynamic dimension). */
export interface TensorMeta {
  name: string;
  datatype: V2Datatype;
  shape: number[];
}

export interface V2Tensor extends TensorMeta {
  data: unknown[];
  /** Inference log only: `data` holds the first rows of `shape` (the tensor was too large to log whole). */
  truncated?: boolean;
}

const ORT_TO_V2: Record<string, V2Datatype> = {
  bool: "BOOL",
  uint8: "UINT8",
  uint16: "UINT16",
  uint32: "UINT32",
  uint64: "UINT64",
  int8: "INT8",
  int16: "INT16",
  int32: "INT32",
  int64: "INT64",
  float16: "FP16",
  float32: "FP32",
  float64: "FP64",
  string: "BYTES",
};

/** Triton's config.pbtxt data types. */
export const TRITON_TYPES: Record<V2Datatype, string> = {
  BOOL: "TYPE_BOOL",
  UINT8: "TYPE_UINT8",
  UINT16: "TYPE_UINT16",
  UINT32: "TYPE_UINT32",
  UINT64: "TYPE_UINT64",
  INT8: "TYPE_INT8",
  INT16: "TYPE_INT16",
  INT32: "TYPE_INT32",
  INT64: "TYPE_INT64",
  FP16: "TYPE_FP16",
  FP32: "TYPE_FP32",
  FP64: "TYPE_FP64",
  BYTES: "TYPE_STRING",
};

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The IEEE 754 binary16 bits nearest to `value` (ties to even; overflow to ±Infinity). */
export function toHalf(value: number): number {
  f32[0] = value;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  const round = (m: number, shift: number) => {
    const kept = Math.floor(m / 2 ** shift);
    const rest = m - kept * 2 ** shift;
    const half = 2 ** (shift - 1);
    return rest > half || (rest === half && kept % 2 === 1) ? kept + 1 : kept;
  };
  // A carry out of the mantissa moves into the exponent, which is the right answer (up to Infinity).
  if (e <= 0) return e < -10 ? sign : sign | round(mantissa | 0x800000, 14 - e);
  return sign | round((e << 23) | mantissa, 13);
}

/** The number IEEE 754 binary16 bits stand for. */
export function fromHalf(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

export class RequestError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** The signature of a session, in V2 terms (symbolic dimensions as -1). */
export function sessionSignature(session: ort.InferenceSession): {
  inputs: TensorMeta[];
  outputs: TensorMeta[];
} {
  const describe = (m: ort.InferenceSession.ValueMetadata): TensorMeta => {
    if (!m.isTensor)
      throw new Error(`${m.name} is not a tensor; only tensor inputs and outputs can be served`);
    const datatype = ORT_TO_V2[m.type];
    if (!datatype) throw new Error(`${m.name} has type ${m.type}, which the V2 protocol cannot carry`);
    return { name: m.name, datatype, shape: m.shape.map((d) => (typeof d === "number" && d >= 0 ? d : -1)) };
  };
  return { inputs: session.inputMetadata.map(describe), outputs: session.outputMetadata.map(describe) };
}

/**
 * A V2 input's `data` as a flat row-major list, checked against its shape:
 * flat data must have exactly prod(shape) elements; nested data must nest
 * exactly as the shape says (every level the declared length, values only at
 * the innermost). Iterative, so however deep a request nests, it is a 400.
 */
export function flattenData(data: unknown, shape: number[], name: string): unknown[] {
  let size = 1;
  for (const d of shape) size *= d;
  const values = Array.isArray(data) ? data : [data];
  if (!values.some(Array.isArray)) {
    if (values.length !== size) {
      throw new RequestError(
        `input "${name}" has ${values.length} elements; shape [${shape.join(", ")}] needs ${size}`,
      );
    }
    return values;
  }
  const mismatch = (what: string) =>
    new RequestError(`input "${name}": nested data does not match shape [${shape.join(", ")}]: ${what}`);
  if (shape.length === 0) throw mismatch("a scalar cannot be nested");
  if (values.length !== shape[0]) throw mismatch(`${values.length} rows where the shape says ${shape[0]}`);
  const out: unknown[] = new Array(size);
  let at = 0;
  const stack: { list: unknown[]; depth: number; next: number }[] = [{ list: values, depth: 0, next: 0 }];
  const innermost = shape.length - 1;
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.next >= top.list.length) {
      stack.pop();
      continue;
    }
    const item = top.list[top.next++];
    if (top.depth === innermost) {
      if (Array.isArray(item)) throw mismatch(`nested deeper than its ${shape.length} dimensions`);
      out[at++] = item;
      continue;
    }
    const expected = shape[top.depth + 1]!;
    if (!Array.isArray(item)) throw mismatch(`a value where dimension ${top.depth + 1} needs ${expected}`);
    if (item.length !== expected) {
      throw mismatch(`a list of ${item.length} where dimension ${top.depth + 1} needs ${expected}`);
    }
    stack.push({ list: item, depth: top.depth + 1, next: 0 });
  }
  return out;
}

/**
 * A float element: a JSON number; null, a missing value (NaN), as the exported
 * models expect; or "NaN", "Infinity", "-Infinity", which JSON has no number for.
 */
function floatValue(v: unknown): number | undefined {
  if (typeof v === "number") return v;
  if (v === null || v === "NaN") return Number.NaN;
  if (v === "Infinity") return Number.POSITIVE_INFINITY;
  if (v === "-Infinity") return Number.NEGATIVE_INFINITY;
  return undefined;
}

/** The typed array and onnxruntime type of each numeric V2 datatype (FP16 and the others have their own cases). */
const NUMERIC = {
  FP32: { ctor: Float32Array, ortType: "float32" },
  FP64: { ctor: Float64Array, ortType: "float64" },
  INT8: { ctor: Int8Array, ortType: "int8" },
  INT16: { ctor: Int16Array, ortType: "int16" },
  INT32: { ctor: Int32Array, ortType: "int32" },
  UINT8: { ctor: Uint8Array, ortType: "uint8" },
  UINT16: { ctor: Uint16Array, ortType: "uint16" },
  UINT32: { ctor: Uint32Array, ortType: "uint32" },
} as const;

type NumericArrayConstructor = (typeof NUMERIC)[keyof typeof NUMERIC]["ctor"];

/**
 * A small request's numeric tensors are views into shared slabs: one
 * ArrayBuffer per 64 KiB of tensors instead of one per tensor (each backing
 * store is an allocation, and GC work, on every request). A slab is never
 * reused: a full one is dropped and freed by the GC once no tensor views it.
 */
const SLAB_BYTES = 64 * 1024;
const SLAB_MAX_TENSOR = 4 * 1024;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabUsed = 0;

function smallTypedArray(
  ctor: NumericArrayConstructor,
  length: number,
): InstanceType<NumericArrayConstructor> {
  const bytes = length * ctor.BYTES_PER_ELEMENT;
  if (bytes > SLAB_MAX_TENSOR) return new ctor(length);
  let at = (slabUsed + 7) & ~7; // 8-byte aligned for Float64Array
  if (at + bytes > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    at = 0;
  }
  slabUsed = at + bytes;
  return new ctor(slab, at, length);
}

/** An onnxruntime tensor from flat values, checked element by element; a bad value is a 400 naming the input. */
export function makeTensor(
  datatype: V2Datatype,
  values: unknown[],
  shape: number[],
  name = "tensor",
): ort.Tensor {
  const bad = (what: string) => new RequestError(`input "${name}": ${what} (datatype ${datatype})`);
  switch (datatype) {
    case "BYTES": {
      const out: string[] = new Array(values.length);
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (typeof v === "string") out[i] = v;
        else if (v === null)
          out[i] = ""; // how a missing text value travels (MISSING_TEXT)
        else throw bad(`element ${i} is ${JSON.stringify(v)}, not a string`);
      }
      return new (onnxruntime().Tensor)("string", out, shape);
    }
    case "INT64":
    case "UINT64": {
      const out = datatype === "INT64" ? new BigInt64Array(values.length) : new BigUint64Array(values.length);
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (typeof v !== "number" || !Number.isSafeInteger(v)) {
          throw bad(`element ${i} is ${JSON.stringify(v)}, not an integer`);
        }
        if (datatype === "UINT64" && v < 0) throw bad(`element ${i} is negative`);
        out[i] = BigInt(v);
      }
      return new (onnxruntime().Tensor)(datatype === "INT64" ? "int64" : "uint64", out, shape);
    }
    case "BOOL": {
      const out = new Uint8Array(values.length);
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (typeof v !== "boolean" && v !== 0 && v !== 1)
          throw bad(`element ${i} is ${JSON.stringify(v)}, not a boolean`);
        out[i] = v ? 1 : 0;
      }
      return new (onnxruntime().Tensor)("bool", out, shape);
    }
    case "FP16": {
      const out = new Uint16Array(values.length);
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        const x = floatValue(v);
        if (x === undefined) throw bad(`element ${i} is ${JSON.stringify(v)}, not a number`);
        out[i] = toHalf(x);
      }
      return new (onnxruntime().Tensor)("float16", out, shape);
    }
    default: {
      const { ctor, ortType } = NUMERIC[datatype as keyof typeof NUMERIC];
      const isFloat = datatype === "FP32" || datatype === "FP64";
      const out = smallTypedArray(ctor, values.length);
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        // The common case first: a plain number into a float tensor.
        if (isFloat && typeof v === "number") {
          out[i] = v;
          continue;
        }
        const x = isFloat ? floatValue(v) : typeof v === "number" && Number.isInteger(v) ? v : undefined;
        if (x !== undefined) out[i] = x;
        else throw bad(`element ${i} is ${JSON.stringify(v)}, not ${isFloat ? "a number" : "an integer"}`);
      }
      return new (onnxruntime().Tensor)(ortType as "float32", out as Float32Array, shape);
    }
  }
}

/** Each signature's inputs by name, made once per loaded version rather than per request. */
const byName = new WeakMap<TensorMeta[], Map<string, TensorMeta>>();

/**
 * The feeds for `session.run` from a V2 request's `inputs`, validated
 * against the signature: every input present once, the declared datatype, a
 * shape of the model's rank whose fixed dimensions match, as many elements
 * as the shape says. For a model that batches (`maxBatch`: its
 * max_batch_size), dimension 0 is the batch: the same across inputs and at
 * most `maxBatch`, as Triton checks; otherwise shapes pass as given.
 */
export function parseInputs(
  body: unknown,
  signature: TensorMeta[],
  maxBatch?: number,
): Record<string, ort.Tensor> {
  const inputs = (body as { inputs?: unknown })?.inputs;
  if (!Array.isArray(inputs)) throw new RequestError('the request needs an "inputs" array');
  let expected = byName.get(signature);
  if (!expected) {
    expected = new Map(signature.map((s) => [s.name, s]));
    byName.set(signature, expected);
  }
  const feeds: Record<string, ort.Tensor> = {};
  let batch: { size: number; name: string } | undefined;
  for (const raw of inputs) {
    const input = raw as Partial<V2Tensor>;
    if (typeof input?.name !== "string") throw new RequestError('each input needs a "name"');
    const name = input.name;
    const spec = expected.get(name);
    if (!spec) {
      throw new RequestError(
        `unknown input "${name}"; the model takes ${signature.map((s) => `"${s.name}"`).join(", ")}`,
      );
    }
    if (feeds[name]) throw new RequestError(`input "${name}" is given twice`);
    if (input.datatype !== spec.datatype) {
      throw new RequestError(
        `input "${name}" has datatype ${JSON.stringify(input.datatype)}; the model expects ${spec.datatype}`,
      );
    }
    const shape = input.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new RequestError(`input "${name}" needs a "shape" of non-negative integers`);
    }
    if (
      shape.length !== spec.shape.length ||
      shape.some((d, i) => spec.shape[i]! >= 0 && spec.shape[i] !== d)
    ) {
      throw new RequestError(
        `input "${name}" has shape [${shape.join(", ")}]; the model expects [${spec.shape.join(", ")}] (-1: any size)`,
      );
    }
    if (maxBatch !== undefined) {
      if (shape[0]! > maxBatch) {
        throw new RequestError(
          `input "${name}" has ${shape[0]} rows; this model takes at most ${maxBatch} per request (its max_batch_size)`,
        );
      }
      if (batch && batch.size !== shape[0]) {
        throw new RequestError(
          `input "${name}" has ${shape[0]} rows but input "${batch.name}" has ${batch.size}; this model batches along dimension 0 (max_batch_size), so all inputs need the same batch size`,
        );
      }
      batch ??= { size: shape[0]!, name };
    }
    if (input.data === undefined) throw new RequestError(`input "${name}" has no "data"`);
    const values = flattenData(input.data, shape, name);
    feeds[name] = makeTensor(spec.datatype, values, shape, name);
  }
  const missing = signature.filter((s) => !feeds[s.name]);
  if (missing.length > 0) {
    throw new RequestError(`missing input ${missing.map((s) => `"${s.name}"`).join(", ")}`);
  }
  return feeds;
}

/** The output names a request asks for (its optional "outputs"), checked against the signature. */
export function requestedOutputs(body: unknown, signature: TensorMeta[]): string[] {
  const outputs = (body as { outputs?: unknown })?.outputs;
  if (outputs === undefined) return signature.map((s) => s.name);
  if (!Array.isArray(outputs)) throw new RequestError('"outputs" must be an array of {"name": ...}');
  return outputs.map((o) => {
    const name = (o as { name?: unknown })?.name;
    if (typeof name !== "string" || !signature.some((s) => s.name === name)) {
      throw new RequestError(
        `unknown output ${JSON.stringify(name)}; the model gives ${signature.map((s) => `"${s.name}"`).join(", ")}`,
      );
    }
    return name;
  });
}

/** A number as a JSON element: NaN as null (a missing value), ±Infinity as "Infinity" / "-Infinity". */
function jsonNumber(v: number): number | string | null {
  if (Number.isFinite(v)) return v;
  if (Number.isNaN(v)) return null;
  return v > 0 ? "Infinity" : "-Infinity";
}

/** An onnxruntime tensor as a V2 JSON tensor (flat data); past `maxRows` rows, only those (`truncated`). */
export function toV2(name: string, tensor: ort.Tensor, maxRows = Number.POSITIVE_INFINITY): V2Tensor {
  const datatype = ORT_TO_V2[tensor.type] ?? "BYTES";
  let raw = tensor.data as ArrayLike<unknown>;
  const rows = tensor.dims[0];
  const truncated = tensor.dims.length > 0 && rows !== undefined && rows > maxRows;
  if (truncated) {
    const width = tensor.dims.slice(1).reduce((a, b) => a * b, 1);
    raw = (raw as unknown[]).slice(0, maxRows * width);
  }
  const data =
    raw instanceof BigInt64Array || raw instanceof BigUint64Array
      ? Array.from(raw, (v) => Number(v))
      : datatype === "BOOL"
        ? Array.from(raw as Uint8Array, (v) => v !== 0)
        : datatype === "FP16" && raw instanceof Uint16Array
          ? Array.from(raw, (v) => jsonNumber(fromHalf(v)))
          : Array.from(raw as ArrayLike<number | string>, (v) => (typeof v === "number" ? jsonNumber(v) : v));
  return { name, datatype, shape: [...tensor.dims], data, ...(truncated ? { truncated: true } : {}) };
}

/** A V2 tensor cut to its first `maxRows` rows (`truncated`), or itself if it has no more. */
export function truncateRows(tensor: V2Tensor, maxRows: number): V2Tensor {
  const rows = tensor.shape[0];
  if (tensor.shape.length === 0 || rows === undefined || rows <= maxRows) return tensor;
  const width = tensor.shape.slice(1).reduce((a, b) => a * b, 1);
  return { ...tensor, data: tensor.data.slice(0, maxRows * width), truncated: true };
}

/** The V2 tensors of a request's feeds, for the inference log (at most `maxRows` rows each). */
export function feedsToV2(feeds: Record<string, ort.Tensor>, maxRows?: number): V2Tensor[] {
  return Object.entries(feeds).map(([name, t]) => toV2(name, t, maxRows));
}
