/**
 * Models made elsewhere: batching and warm-up are what the model's config
 * says (Triton's max_batch_size and model_warmup), never assumed; Dagwood's
 * own models batch because their metadata declares rows along dimension 0.
 * Expected answers are computed here by hand (elementwise arithmetic), not by
 * the server's code.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { OnnxGraphBuilder } from "../ml/onnx/builder";
import { createServer } from "./server";
import { testServers } from "./test-servers";
import { trainTestModel } from "./testing";

// biome-ignore lint/suspicious/noExplicitAny: the tests read response fields freely
type Json = any;

const TOKEN = "config-test-token";
const auth = { authorization: `Bearer ${TOKEN}` };
const { tempDir: tempRepo, track, close } = testServers("dagwood-config-");

async function start(repository = tempRepo()) {
  const server = createServer({ repository, token: TOKEN, log: () => {} });
  track(server);
  return { url: await server.listen(0), server, repository };
}

async function call(url: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { "content-type": "application/json", ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text) as Json };
}

function load(url: string, name: string, version: number, bytes: Uint8Array, config?: unknown) {
  return call(
    url,
    `/v2/repository/models/${name}/load`,
    {
      parameters: {
        ...(config === undefined
          ? {}
          : { config: typeof config === "string" ? config : JSON.stringify(config) }),
        [`file:${version}/model.onnx`]: Buffer.from(bytes).toString("base64"),
      },
    },
    auth,
  );
}

/** y = a + b, FLOAT [-1, 3] each (broadcasting, as ONNX's Add does). No Dagwood metadata. */
function addModel(): Uint8Array {
  const b = new OnnxGraphBuilder();
  const a = b.input("a", "FLOAT", [-1, 3]);
  const c = b.input("b", "FLOAT", [-1, 3]);
  b.node("Add", [a, c], ["y"]);
  b.output("y", "FLOAT", [-1, 3]);
  return b.encode();
}

/** y = a mod b on INT64 [-1] (fmod 0: the sign of the divisor). A zero divisor is an error in onnxruntime. */
function modModel(): Uint8Array {
  const b = new OnnxGraphBuilder();
  const a = b.input("a", "INT64", [-1]);
  const c = b.input("b", "INT64", [-1]);
  b.node("Mod", [a, c], ["y"]);
  b.output("y", "INT64", [-1]);
  return b.encode();
}

/** y = -x on FLOAT [3]: no batch dimension at all. */
function fixedModel(): Uint8Array {
  const b = new OnnxGraphBuilder();
  const x = b.input("x", "FLOAT", [3]);
  b.node("Neg", [x], ["y"]);
  b.output("y", "FLOAT", [3]);
  return b.encode();
}

const tensor = (name: string, datatype: string, shape: number[], data: unknown[]) => ({
  name,
  datatype,
  shape,
  data,
});

describe("batching is a property of the model", () => {
  it("passes the shapes of a model without max_batch_size as given (broadcast operands)", async () => {
    const { url, repository } = await start();
    expect((await load(url, "add", 1, addModel())).status).toBe(200);
    const a = [1, 2, 3, 4, 5, 6];
    const b = [0.5, -1, 10];
    const r = await call(url, "/v2/models/add/infer", {
      inputs: [tensor("a", "FP32", [2, 3], a), tensor("b", "FP32", [1, 3], b)],
    });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    expect(r.json.outputs[0]).toEqual({
      name: "y",
      datatype: "FP32",
      shape: [2, 3],
      data: a.map((v, i) => v + b[i % 3]!),
    });
    const pbtxt = readFileSync(join(repository, "add", "config.pbtxt"), "utf8");
    expect(pbtxt).toContain("max_batch_size: 0\ninput");
    expect(pbtxt).toMatch(/name: "a"\s+data_type: TYPE_FP32\s+dims: \[ -1, 3 \]/);
  });

  it("with max_batch_size > 0: one batch size across inputs, at most max_batch_size rows, and it survives a restart", async () => {
    const { url, server, repository } = await start();
    const r = await load(url, "add", 1, addModel(), { max_batch_size: 4 });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    const pbtxt = readFileSync(join(repository, "add", "config.pbtxt"), "utf8");
    expect(pbtxt).toContain("max_batch_size: 4\ndynamic_batching { }");
    expect(pbtxt).toMatch(/name: "a"\s+data_type: TYPE_FP32\s+dims: \[ 3 \]/);
    const infer = (rowsA: number, rowsB: number) =>
      call(url, "/v2/models/add/infer", {
        inputs: [
          tensor("a", "FP32", [rowsA, 3], new Array(rowsA * 3).fill(1)),
          tensor("b", "FP32", [rowsB, 3], new Array(rowsB * 3).fill(2)),
        ],
      });
    const ok = await infer(2, 2);
    expect(ok.status).toBe(200);
    expect(ok.json.outputs[0].data).toEqual(new Array(6).fill(3));
    const unequal = await infer(2, 1);
    expect(unequal.status).toBe(400);
    expect(unequal.json.error).toMatch(
      /input "b" has 1 rows but input "a" has 2; this model batches along dimension 0 \(max_batch_size\), so all inputs need the same batch size/,
    );
    const over = await infer(5, 5);
    expect(over.status).toBe(400);
    expect(over.json.error).toMatch(
      /"a" has 5 rows; this model takes at most 4 per request \(its max_batch_size\)/,
    );

    await close(server);
    const again = await start(repository);
    const after = await call(again.url, "/v2/models/add/infer", {
      inputs: [
        tensor("a", "FP32", [5, 3], new Array(15).fill(1)),
        tensor("b", "FP32", [5, 3], new Array(15).fill(1)),
      ],
    });
    expect(after.status).toBe(400);
    expect(after.json.error).toMatch(/at most 4/);
  });

  it("refuses max_batch_size > 0 for a model whose first dimension is fixed, saying what to set", async () => {
    const { url, repository } = await start();
    const r = await load(url, "fixed", 1, fixedModel(), { max_batch_size: 2 });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(
      /max_batch_size 2 needs a variable first dimension on every input and output, but "x" has shape \[3\]; set "max_batch_size": 0/,
    );
    expect(existsSync(join(repository, "fixed", "1"))).toBe(false);
    const zero = await load(url, "fixed", 1, fixedModel(), { max_batch_size: 0 });
    expect(zero.status).toBe(200);
    const y = await call(url, "/v2/models/fixed/infer", { inputs: [tensor("x", "FP32", [3], [1, -2, 0.5])] });
    expect(y.json.outputs[0].data).toEqual([-1, 2, -0.5]);
  });

  it("combines concurrent requests only for a model that batches (Dagwood's metadata or the config)", async () => {
    const { url, server } = await start();
    expect((await load(url, "add", 1, addModel())).status).toBe(200);
    // As the deploy sends it: max_batch_size 0, so that Triton reads the full shapes.
    const deployConfig = { name: "dagwood", platform: "onnxruntime_onnx", max_batch_size: 0 };
    const dagwood = (await trainTestModel({ task: "regression" })).bytes;
    expect((await load(url, "dagwood", 1, dagwood, deployConfig)).status).toBe(200);
    expect((await load(url, "add8", 1, addModel(), { max_batch_size: 8 })).status).toBe(200);
    const runsOf = async (name: string, feeds: () => Record<string, ort.Tensor>) => {
      const loaded = server.manager.models.get(name)!.versions.get(1)!;
      let runs = 0;
      const run = loaded.session.run.bind(loaded.session);
      loaded.session.run = ((...args: Parameters<typeof run>) => {
        runs++;
        return run(...args);
      }) as typeof run;
      const outputs = loaded.signature.outputs.map((o) => o.name);
      // Six requests in one tick: a batching model runs them together.
      await Promise.all(Array.from({ length: 6 }, () => server.manager.run(loaded, feeds(), outputs)));
      return runs;
    };
    const add = () => ({
      a: new ort.Tensor("float32", Float32Array.from([1, 2, 3]), [1, 3]),
      b: new ort.Tensor("float32", Float32Array.from([1, 1, 1]), [1, 3]),
    });
    expect(await runsOf("add", add)).toBe(6);
    expect(await runsOf("add8", add)).toBe(1);
    const meta = server.manager.models.get("dagwood")!.versions.get(1)!.signature.inputs;
    const xType = meta.find((i) => i.name === "x")!.datatype;
    const row = () => ({
      x:
        xType === "FP64"
          ? new ort.Tensor("float64", Float64Array.from([4]), [1, 1])
          : new ort.Tensor("float32", Float32Array.from([4]), [1, 1]),
      color: new ort.Tensor("string", ["red"], [1, 1]),
    });
    expect(await runsOf("dagwood", row)).toBe(1);
  });
});

describe("warm-up runs only when the config asks for it", () => {
  it("loads a valid model that invented zero inputs would fail (Mod by zero), and answers correctly", async () => {
    const { url } = await start();
    const r = await load(url, "mod", 1, modModel());
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    const a = [7, -7, 9, 0];
    const b = [3, 3, -4, 5];
    const y = await call(url, "/v2/models/mod/infer", {
      inputs: [tensor("a", "INT64", [4], a), tensor("b", "INT64", [4], b)],
    });
    expect(y.status).toBe(200);
    // Integer Mod with fmod 0 takes the sign of the divisor (ONNX operator docs), as Python's %.
    expect(y.json.outputs[0].data).toEqual(a.map((v, i) => (((v % b[i]!) + b[i]!) % b[i]!) + 0));
  });

  it("runs the config's model_warmup and refuses the load when it fails; the serving version stays", async () => {
    const { url, repository } = await start();
    expect((await load(url, "mod", 1, modModel())).status).toBe(200);
    const zeros = {
      model_warmup: [
        {
          name: "zeros",
          batch_size: 1,
          inputs: {
            a: { data_type: "TYPE_INT64", dims: [2], zero_data: true },
            b: { data_type: "TYPE_INT64", dims: [2], zero_data: true },
          },
        },
      ],
    };
    const r = await load(url, "mod", 2, modModel(), zeros);
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(
      /the model failed its warm-up "zeros" \(config model_warmup\): .*modulo by zero/,
    );
    expect(existsSync(join(repository, "mod", "2"))).toBe(false);
    expect((await call(url, "/v2/models/mod")).json.versions).toEqual(["1"]);

    const missing = await load(url, "add", 1, addModel(), {
      model_warmup: [
        { name: "half", inputs: { a: { data_type: "TYPE_FP32", dims: [1, 3], zero_data: true } } },
      ],
    });
    expect(missing.status).toBe(400);
    expect(missing.json.error).toMatch(/warm-up "half" gives no data for input "b"/);
    const good = await load(url, "add", 1, addModel(), {
      max_batch_size: 4,
      model_warmup: [
        {
          name: "rows",
          batch_size: 2,
          count: 3,
          inputs: {
            a: { data_type: "TYPE_FP32", dims: [3], random_data: true },
            b: { data_type: "TYPE_FP32", dims: [3], zero_data: true },
          },
        },
      ],
    });
    expect(good.status, JSON.stringify(good.json)).toBe(200);
  });
});

describe("the load's config", () => {
  it("must be a JSON object in a string: 400 saying so", async () => {
    const { url, repository } = await start();
    for (const [config, message] of [
      ["[1]", /parameter "config" must be a JSON object .*not an array/],
      ["5", /must be a JSON object .*not a number/],
      ["null", /must be a JSON object .*not null/],
      ["{", /parameter "config" is not JSON/],
      ['{"max_batch_size": -1}', /"max_batch_size" must be a non-negative integer, not -1/],
    ] as const) {
      const r = await load(url, "add", 1, addModel(), config);
      expect(r.status, config).toBe(400);
      expect(r.json.error).toMatch(message);
    }
    const notString = await call(
      url,
      "/v2/repository/models/add/load",
      {
        parameters: {
          config: { max_batch_size: 0 },
          "file:1/model.onnx": Buffer.from(addModel()).toString("base64"),
        },
      },
      auth,
    );
    expect(notString.status).toBe(400);
    expect(notString.json.error).toMatch(/parameter "config" must be a string holding the JSON config/);
    expect(existsSync(join(repository, "add"))).toBe(false);
  });
});
