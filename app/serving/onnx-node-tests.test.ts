/**
 * ONNX's own backend node tests (Debian package libonnx-testdata) through
 * `dagwood serve`: every case onnxruntime-node itself passes must pass when
 * its model is loaded through the repository extension and its inputs are
 * sent over V2 REST (JSON tensors), with the tolerance ONNX's test runner
 * uses (onnx/backend/test/runner: rtol 1e-3, atol 1e-7, NaN equals NaN).
 *
 * The expected outputs come from the package (output_*.pb), not from our
 * code. Cases onnxruntime-node cannot load, cannot feed (sequence, optional
 * or bfloat16 values) or does not match are listed as "not supported by
 * onnxruntime-node" and are not failures.
 *
 * Without the package the suite fails, telling you to install it (CI does).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { onnxRoot } from "../ml/onnx/schema";
import { createServer, type DagwoodServer } from "./server";
import { fromHalf } from "./tensors";

/** Where Debian's libonnx-testdata puts the node tests (`dpkg -L libonnx-testdata`); ONNX_NODE_TESTS overrides. */
const NODE_TESTS = process.env.ONNX_NODE_TESTS ?? "/usr/share/libonnx-testdata/data/node";
const RTOL = 1e-3;
const ATOL = 1e-7;
const TOKEN = "node-tests-token";
const TensorProto = onnxRoot().lookupType("onnx.TensorProto");

type Values = ArrayLike<number | bigint | string | boolean>;

interface Tensor {
  name: string;
  type: ort.Tensor.Type;
  dims: number[];
  data: ort.Tensor["data"];
}

interface Case {
  name: string;
  dir: string;
  model: Uint8Array;
  /** The test data sets, decoded once onnxruntime says every input and output is a tensor. */
  sets: { inputs: Tensor[]; outputs: Tensor[] }[];
}

/** TensorProto.DataType (onnx.proto) → onnxruntime's tensor type, for the types onnxruntime-node can hold. */
const ORT_TYPES: Record<number, ort.Tensor.Type> = {
  1: "float32",
  2: "uint8",
  3: "int8",
  4: "uint16",
  5: "int16",
  6: "int32",
  7: "int64",
  8: "string",
  9: "bool",
  10: "float16",
  11: "float64",
  12: "uint32",
  13: "uint64",
};

const V2_TYPES: Partial<Record<ort.Tensor.Type, string>> = {
  float32: "FP32",
  uint8: "UINT8",
  int8: "INT8",
  uint16: "UINT16",
  int16: "INT16",
  int32: "INT32",
  int64: "INT64",
  string: "BYTES",
  bool: "BOOL",
  float16: "FP16",
  float64: "FP64",
  uint32: "UINT32",
  uint64: "UINT64",
};

class Unsupported extends Error {}

/** A TensorProto's values, from its typed field or from raw_data (little-endian, as onnx.proto says). */
function decodeTensor(bytes: Uint8Array, fallbackName: string): Tensor {
  const t = TensorProto.decode(bytes) as unknown as {
    name?: string;
    dims: unknown[];
    data_type?: number;
    raw_data?: Uint8Array;
    float_data: number[];
    int32_data: number[];
    string_data: Uint8Array[];
    int64_data: unknown[];
    double_data: number[];
    uint64_data: unknown[];
  };
  const type = ORT_TYPES[t.data_type ?? 0];
  if (!type) throw new Unsupported(`data type ${t.data_type} of ${fallbackName}`);
  const dims = t.dims.map((d) => Number(String(d)));
  const size = dims.reduce((a, b) => a * b, 1);
  const raw = t.raw_data && t.raw_data.length > 0 ? Uint8Array.from(t.raw_data).buffer : undefined;
  const big = (list: unknown[], signed: boolean) =>
    signed
      ? BigInt64Array.from(list, (v) => BigInt(String(v)))
      : BigUint64Array.from(list, (v) => BigInt.asUintN(64, BigInt(String(v))));
  let data: ort.Tensor["data"];
  switch (type) {
    case "float32":
      data = raw ? new Float32Array(raw) : Float32Array.from(t.float_data);
      break;
    case "float64":
      data = raw ? new Float64Array(raw) : Float64Array.from(t.double_data);
      break;
    case "int64":
      data = raw ? new BigInt64Array(raw) : big(t.int64_data, true);
      break;
    case "uint64":
      data = raw ? new BigUint64Array(raw) : big(t.uint64_data, false);
      break;
    case "uint32":
      data = raw ? new Uint32Array(raw) : Uint32Array.from(t.uint64_data, (v) => Number(String(v)));
      break;
    case "string":
      data = t.string_data.map((s) => Buffer.from(s).toString("utf8"));
      break;
    default: {
      const Ctor = {
        uint8: Uint8Array,
        int8: Int8Array,
        uint16: Uint16Array,
        int16: Int16Array,
        int32: Int32Array,
        bool: Uint8Array,
        float16: Uint16Array,
      }[type as "uint8"];
      data = raw ? new Ctor(raw) : Ctor.from(t.int32_data);
    }
  }
  if (data.length !== size)
    throw new Unsupported(`${fallbackName} has ${data.length} values for dims [${dims}]`);
  return { name: t.name || fallbackName, type, dims, data };
}

function readSets(dir: string): Case["sets"] {
  return readdirSync(dir)
    .filter((f) => f.startsWith("test_data_set_"))
    .sort()
    .map((set) => {
      const files = readdirSync(join(dir, set));
      const read = (prefix: string) =>
        files
          .filter((f) => f.startsWith(prefix) && f.endsWith(".pb"))
          .sort((a, b) => Number(a.slice(prefix.length, -3)) - Number(b.slice(prefix.length, -3)))
          .map((f) => decodeTensor(readFileSync(join(dir, set, f)), f));
      return { inputs: read("input_"), outputs: read("output_") };
    });
}

/** numpy.testing.assert_allclose(actual, expected, rtol, atol) with equal_nan, plus the dtype and shape checks of ONNX's runner. */
function compare(
  expected: Tensor,
  actual: { type: string; dims: readonly number[]; data: Values },
): string | undefined {
  const where = `output ${expected.name}`;
  if (actual.type !== expected.type) return `${where}: type ${actual.type}, expected ${expected.type}`;
  if (actual.dims.join() !== expected.dims.join())
    return `${where}: shape [${actual.dims}], expected [${expected.dims}]`;
  const want =
    expected.type === "float16" ? Array.from(expected.data as Uint16Array, fromHalf) : expected.data;
  for (let i = 0; i < want.length; i++) {
    const e = want[i] as number | bigint | string;
    const a = actual.data[i] as number | bigint | string | boolean;
    if (typeof e === "string" || typeof e === "bigint") {
      if (String(e) !== String(a)) return `${where}[${i}] = ${a}, expected ${e}`;
      continue;
    }
    const x = Number(a);
    if (Number.isNaN(e) && Number.isNaN(x)) continue;
    if (e === x) continue; // infinities
    if (!(Math.abs(x - e) <= ATOL + RTOL * Math.abs(e))) return `${where}[${i}] = ${x}, expected ${e}`;
  }
  return undefined;
}

function ortTensor(t: Tensor): ort.Tensor {
  return new ort.Tensor(t.type, t.data as Float32Array, t.dims);
}

/** Runs a case with onnxruntime-node alone; undefined when it passes, else why not. */
async function runDirect(c: Case): Promise<string | undefined> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(c.model);
  } catch (e) {
    return `cannot load: ${(e as Error).message.split("\n")[0]}`;
  }
  try {
    const meta = [...session.inputMetadata, ...session.outputMetadata];
    const notTensor = meta.find((m) => !m.isTensor);
    if (notTensor) return `${notTensor.name} is not a tensor (a sequence, map or optional value)`;
    try {
      c.sets = readSets(c.dir);
    } catch (e) {
      if (e instanceof Unsupported) return e.message;
      throw e;
    }
    for (const set of c.sets) {
      const feeds = Object.fromEntries(set.inputs.map((t, i) => [session.inputNames[i]!, ortTensor(t)]));
      const result = await session.run(feeds);
      // A random op (Bernoulli, Dropout in training mode) could match by chance: not comparable.
      const again = await session.run(feeds);
      for (const name of session.outputNames) {
        const [x, y] = [result[name]!.data, again[name]!.data] as ArrayLike<unknown>[];
        if (Array.from(x!).some((v, k) => !Object.is(v, y![k])))
          return `${name} differs between two runs (random)`;
      }
      for (const [i, want] of set.outputs.entries()) {
        const got = result[session.outputNames[i]!]!;
        const data =
          got.type === "float16" && got.data instanceof Uint16Array
            ? Array.from(got.data, fromHalf)
            : (got.data as Values);
        const wrong = compare(want, { type: got.type, dims: got.dims, data });
        if (wrong) return wrong;
      }
    }
    return undefined;
  } catch (e) {
    return (e as Error).message.split("\n")[0];
  } finally {
    await session.release();
  }
}

/** JSON has no NaN or Infinity: the server takes them as strings. */
function jsonFloat(v: number): number | string {
  return Number.isFinite(v) ? v : String(v);
}

/** A tensor as V2 JSON: flat data, float16 as numbers, int64 as numbers (exact below 2^53). */
function v2Input(name: string, t: Tensor) {
  let data: unknown[];
  if (t.type === "float16") data = Array.from(t.data as Uint16Array, (v) => jsonFloat(fromHalf(v)));
  else if (t.type === "float32" || t.type === "float64") data = Array.from(t.data as Float32Array, jsonFloat);
  else if (t.type === "bool") data = Array.from(t.data as Uint8Array, (v) => v !== 0);
  else if (t.data instanceof BigInt64Array || t.data instanceof BigUint64Array)
    data = Array.from(t.data, Number);
  else data = Array.from(t.data as ArrayLike<number | string>);
  return { name, datatype: V2_TYPES[t.type], shape: t.dims, data };
}

const V2_TO_ORT = Object.fromEntries(Object.entries(V2_TYPES).map(([k, v]) => [v, k]));

async function post(url: string, path: string, body: unknown, auth = true) {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(auth ? { authorization: `Bearer ${TOKEN}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  try {
    return { status: res.status, json: JSON.parse(text) };
  } catch {
    return { status: res.status, json: text };
  }
}

/** The V2 datatypes the suite sent (inputs) and received (outputs) through the server. */
const carried = { inputs: new Set<string>(), outputs: new Set<string>() };

/** Loads a case over the repository extension and checks every test data set over V2 infer. */
async function runServed(url: string, c: Case): Promise<string | undefined> {
  const config = { name: c.name, platform: "onnxruntime_onnx", max_batch_size: 0 };
  const load = await post(url, `/v2/repository/models/${c.name}/load`, {
    parameters: {
      config: JSON.stringify(config),
      "file:1/model.onnx": Buffer.from(c.model).toString("base64"),
    },
  });
  if (load.status !== 200) return `load answered ${load.status}: ${load.json.error ?? load.json}`;
  const meta = (await fetch(`${url}/v2/models/${c.name}`).then((r) => r.json())) as {
    inputs: { name: string }[];
    outputs: { name: string }[];
  };
  for (const set of c.sets) {
    const inputs = set.inputs.map((t, i) => v2Input(meta.inputs[i]!.name, t));
    for (const input of inputs) carried.inputs.add(String(input.datatype));
    const answer = await post(url, `/v2/models/${c.name}/infer`, { inputs }, false);
    if (answer.status !== 200) return `infer answered ${answer.status}: ${answer.json.error ?? answer.json}`;
    for (const [i, want] of set.outputs.entries()) {
      const name = meta.outputs[i]!.name;
      const got = answer.json.outputs.find((o: { name: string }) => o.name === name);
      if (!got) return `no output ${name}`;
      carried.outputs.add(got.datatype);
      const wrong = compare(want, {
        type: V2_TO_ORT[got.datatype] ?? got.datatype,
        dims: got.shape,
        data: got.data.map((v: unknown) => (v === null ? Number.NaN : v)),
      });
      if (wrong) return wrong;
    }
  }
  return undefined;
}

/** Runs `task` over `items`, `width` at a time. */
async function pool<T, R>(items: T[], width: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await task(items[i]!);
      }
    }),
  );
  return out;
}

describe("ONNX backend node tests through dagwood serve", () => {
  let server: DagwoodServer;
  let url: string;
  let repo: string;

  beforeAll(async () => {
    repo = mkdtempSync(join(tmpdir(), "dagwood-node-tests-"));
    server = createServer({ repository: repo, token: TOKEN, log: () => {} });
    url = await server.listen(0, "127.0.0.1");
  });

  afterAll(async () => {
    await server?.close();
    rmSync(repo, { recursive: true, force: true });
  });

  it("serves every case onnxruntime-node passes, with the expected outputs", {
    timeout: 600_000,
  }, async () => {
    if (!existsSync(NODE_TESTS)) {
      throw new Error(
        `${NODE_TESTS} is missing: install Debian's libonnx-testdata (apt-get install libonnx-testdata; CI installs it), or point ONNX_NODE_TESTS at onnx/backend/test/data/node`,
      );
    }
    const names = readdirSync(NODE_TESTS)
      .filter((n) => existsSync(join(NODE_TESTS, n, "model.onnx")))
      .sort();
    const unsupported: string[] = [];
    const failures: string[] = [];
    let served = 0;
    let ortPassing = 0;
    await pool(names, 2, async (name) => {
      const dir = join(NODE_TESTS, name);
      const c: Case = { name, dir, model: readFileSync(join(dir, "model.onnx")), sets: [] };
      const direct = await runDirect(c);
      if (direct) {
        unsupported.push(`${name}: ${direct}`);
        return;
      }
      ortPassing++;
      const wrong = await runServed(url, c);
      if (wrong) failures.push(`${name}: ${wrong}`);
      else served++;
    });
    process.stdout.write(
      `ONNX node tests: ${served} passed through dagwood serve / ${ortPassing} passed by onnxruntime-node / ${names.length} cases\n` +
        `not supported by onnxruntime-node (${unsupported.length}):\n  ${unsupported.sort().join("\n  ")}\n` +
        `datatypes carried: inputs ${[...carried.inputs].sort().join(" ")}; outputs ${[...carried.outputs].sort().join(" ")}\n` +
        (failures.length > 0
          ? `FAILED through the server (${failures.length}):\n  ${failures.sort().join("\n  ")}\n`
          : ""),
    );
    expect(failures).toEqual([]);
    expect(served).toBe(ortPassing);
    expect(ortPassing).toBeGreaterThan(0);
    // Every V2 datatype onnxruntime has went through the server's JSON both ways.
    const all = Object.values(V2_TYPES).sort();
    expect([...carried.inputs].sort()).toEqual(all);
    expect([...carried.outputs].sort()).toEqual(all);
  });
});
