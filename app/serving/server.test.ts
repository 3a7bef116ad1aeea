import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { findRoute } from "../net/http-guard";
import { serveCommand } from "./cli";
import { SERVE_ROUTES } from "./routes";
import { createServer, type DagwoodServer, type ServeOptions } from "./server";
import { trainTestModel } from "./testing";

// biome-ignore lint/suspicious/noExplicitAny: the tests read response fields freely
type Json = any;

const TOKEN = "s3cret-token";
const auth = { authorization: `Bearer ${TOKEN}` };

let classifier: Uint8Array;
let regressionV1: Uint8Array;
let regressionV2: Uint8Array;
/** The wire types of the test model's numeric input and probabilities, as its exporter declares them. */
let X_TYPE: string;
let P_TYPE: string;
const dirs: string[] = [];
const servers: DagwoodServer[] = [];

beforeAll(async () => {
  const trained = await trainTestModel({ task: "classification" });
  classifier = trained.bytes;
  X_TYPE = trained.model.signature.inputs.find((i) => i.name === "x")!.dtype;
  P_TYPE = trained.model.signature.outputs.find((o) => o.name === "probabilities")!.dtype;
  regressionV1 = (await trainTestModel({ task: "regression", shift: 0 })).bytes;
  regressionV2 = (await trainTestModel({ task: "regression", shift: 100 })).bytes;
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function tempRepo(): string {
  const dir = mkdtempSync(join(tmpdir(), "dagwood-serve-"));
  dirs.push(dir);
  return dir;
}

async function start(options: Partial<ServeOptions> = {}): Promise<{ url: string; server: DagwoodServer }> {
  const server = createServer({ repository: tempRepo(), token: TOKEN, log: () => {}, ...options });
  servers.push(server);
  const url = await server.listen(0);
  return { url, server };
}

async function call(
  url: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  method = body === undefined ? "GET" : "POST",
) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { "content-type": "application/json", ...headers },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: Json;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

function loadBody(version: number, bytes: Uint8Array, config?: unknown) {
  return {
    parameters: {
      ...(config ? { config: JSON.stringify(config) } : {}),
      [`file:${version}/model.onnx`]: Buffer.from(bytes).toString("base64"),
    },
  };
}

async function upload(url: string, name: string, version: number, bytes: Uint8Array) {
  const r = await call(url, `/v2/repository/models/${name}/load`, loadBody(version, bytes), auth);
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return r;
}

/** An onnxruntime tensor of x values, in the model's input type. */
function xTensor(xs: number[]): ort.Tensor {
  return X_TYPE === "FP64"
    ? new ort.Tensor("float64", Float64Array.from(xs), [xs.length, 1])
    : new ort.Tensor("float32", Float32Array.from(xs), [xs.length, 1]);
}

function rows(xs: number[], colors: string[], nested = false) {
  const wrap = (v: unknown[]) => (nested ? v.map((e: Json) => [e]) : v);
  return {
    inputs: [
      { name: "x", datatype: X_TYPE, shape: [xs.length, 1], data: wrap(xs) },
      { name: "color", datatype: "BYTES", shape: [colors.length, 1], data: wrap(colors) },
    ],
  };
}

/** What a version-1 or version-2 regression model predicts for x: shift 0 ≈ 2x, shift 100 ≈ 2x + 100. */
function versionOf(prediction: number): number {
  return prediction > 60 ? 2 : 1;
}

describe("V2 endpoints", () => {
  it("health, server metadata with its extensions", async () => {
    const { url } = await start();
    expect((await call(url, "/v2/health/live")).status).toBe(200);
    expect((await call(url, "/v2/health/ready")).status).toBe(200);
    const meta = await call(url, "/v2");
    expect(meta.json.name).toBe("dagwood");
    expect(meta.json.extensions).toEqual(expect.arrayContaining(["model_repository", "dagwood_traffic"]));
    expect((await call(url, "/v2/health/live", {}, {}, "POST")).status).toBe(405);
    expect((await call(url, "/nowhere")).status).toBe(404);
    expect((await call(url, "/v2/nowhere")).json.error).toMatch(/no such route/);
  });

  it("loads a model, writes Triton's layout, serves metadata, and answers what onnxruntime answers", async () => {
    const { url, server } = await start();
    const config = { name: "penguins", platform: "onnxruntime_onnx" };
    const r = await call(url, "/v2/repository/models/penguins/load", loadBody(3, classifier, config), auth);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    const repo = join(server.manager.repository.dir, "penguins");
    expect(existsSync(join(repo, "3", "model.onnx"))).toBe(true);
    const pbtxt = readFileSync(join(repo, "config.pbtxt"), "utf8");
    expect(pbtxt).toContain('platform: "onnxruntime_onnx"');
    expect(pbtxt).toMatch(new RegExp(`name: "x"\\s+data_type: TYPE_${X_TYPE}\\s+dims: \\[ -1, 1 \\]`));
    expect(pbtxt).toMatch(/name: "color"\s+data_type: TYPE_STRING/);
    expect(JSON.parse(readFileSync(join(repo, "config.json"), "utf8"))).toEqual(config);
    expect(readdirSync(repo).filter((f) => f.startsWith("."))).toEqual([]);

    const meta = await call(url, "/v2/models/penguins");
    expect(meta.json).toEqual({
      name: "penguins",
      versions: ["3"],
      platform: "onnxruntime_onnx",
      inputs: [
        { name: "x", datatype: X_TYPE, shape: [-1, 1] },
        { name: "color", datatype: "BYTES", shape: [-1, 1] },
      ],
      outputs: [
        { name: "label", datatype: "BYTES", shape: [-1] },
        { name: "probabilities", datatype: P_TYPE, shape: [-1, 2] },
      ],
      // The classifier's class names, as the exporter wrote them (classes sorted: "high" < "low"); a
      // V2 parameter value is a string, a number or a boolean, so the list travels as JSON text.
      parameters: { sha256: sha256(classifier), class_names: '["high","low"]' },
    });
    expect((await call(url, "/v2/models/penguins/ready")).status).toBe(200);
    expect((await call(url, "/v2/models/penguins/versions/3/ready")).status).toBe(200);
    expect((await call(url, "/v2/models/penguins/versions/3")).json).toMatchObject({
      versions: ["3"],
      parameters: { sha256: sha256(classifier) },
    });

    const xs = [0, 1.5, 4.2, 7.7, 9.9, Number.NaN];
    const colors = ["red", "green", "blue", "", "unseen", "red"];
    const body = rows(xs.map((x) => (Number.isNaN(x) ? null : x)) as number[], colors);
    const flat = await call(url, "/v2/models/penguins/infer", { id: "req-1", ...body });
    expect(flat.status, JSON.stringify(flat.json)).toBe(200);
    expect(flat.headers.get("x-dagwood-model-version")).toBe("3");
    expect(flat.json.model_name).toBe("penguins");
    expect(flat.json.model_version).toBe("3");
    expect(flat.json.id).toBe("req-1");

    const session = await ort.InferenceSession.create(classifier);
    const direct = await session.run({
      x: xTensor(xs),
      color: new ort.Tensor("string", colors, [colors.length, 1]),
    });
    const byName = Object.fromEntries(flat.json.outputs.map((o: Json) => [o.name, o]));
    expect(byName.label).toEqual({ name: "label", datatype: "BYTES", shape: [6], data: direct.label!.data });
    expect(byName.probabilities.shape).toEqual([6, 2]);
    expect(byName.probabilities.data).toEqual(Array.from(direct.probabilities!.data as Float64Array));
    // The probabilities name their columns; the label (already a class name) carries no parameters.
    expect(byName.probabilities.parameters).toEqual({ class_names: '["high","low"]' });
    const names = JSON.parse(byName.probabilities.parameters.class_names) as string[];
    const probs = byName.probabilities.data as number[];
    for (let r = 0; r < 6; r++) {
      const row = probs.slice(r * 2, r * 2 + 2);
      expect(byName.label.data[r]).toBe(names[row.indexOf(Math.max(...row))]);
    }
    await session.release();

    const nested = await call(url, "/v2/models/penguins/versions/3/infer", {
      ...rows([1.5], ["green"], true),
      outputs: [{ name: "label" }],
    });
    expect(nested.json.outputs.map((o: Json) => o.name)).toEqual(["label"]);
    expect(nested.json.outputs[0].data).toEqual([byName.label.data[1]]);
  });

  it("answers 400 naming the input for malformed JSON, wrong datatype, shape, or a missing input", async () => {
    const { url } = await start();
    await upload(url, "m", 1, regressionV1);
    const infer = (body: unknown) => call(url, "/v2/models/m/infer", body);
    const cases: [unknown, RegExp][] = [
      ['{"inputs": [', /malformed JSON/],
      ["", /needs a JSON body/],
      [{}, /"inputs" array/],
      [
        { inputs: [{ ...rows([1], ["red"]).inputs[0], datatype: "INT64" }, rows([1], ["red"]).inputs[1]] },
        new RegExp(`"x".*INT64.*${X_TYPE}`),
      ],
      [
        { inputs: [{ ...rows([1], ["red"]).inputs[0], shape: [1] }, rows([1], ["red"]).inputs[1]] },
        /"x" has shape \[1\]/,
      ],
      [
        { inputs: [{ ...rows([1], ["red"]).inputs[0], shape: [1, 2] }, rows([1], ["red"]).inputs[1]] },
        /"x" has shape/,
      ],
      [
        { inputs: [{ ...rows([1], ["red"]).inputs[0], shape: [2, 1] }, rows([1], ["red"]).inputs[1]] },
        /"x" has 2 rows|"x" has 1 elements/,
      ],
      [{ inputs: [rows([1], ["red"]).inputs[0]] }, /missing input "color"/],
      [
        { inputs: [...rows([1], ["red"]).inputs, { name: "z", datatype: "FP32", shape: [1, 1], data: [1] }] },
        /unknown input "z"/,
      ],
      [
        { inputs: [{ ...rows([1], ["red"]).inputs[0], data: ["one"] }, rows([1], ["red"]).inputs[1]] },
        /input "x": element 0/,
      ],
      [
        { inputs: [rows([1], ["red"]).inputs[0], { ...rows([1], ["red"]).inputs[1], data: [5] }] },
        /input "color": element 0/,
      ],
      [{ ...rows([1], ["red"]), outputs: [{ name: "nope" }] }, /unknown output "nope"/],
    ];
    for (const [body, message] of cases) {
      const r = await infer(body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error).toMatch(message);
    }
    expect((await call(url, "/v2/models/nope/infer", rows([1], ["red"]))).status).toBe(404);
    expect((await call(url, "/v2/models/m/versions/7/infer", rows([1], ["red"]))).status).toBe(404);
    expect((await call(url, "/v2/models/m/versions/7")).status).toBe(404);
    expect((await call(url, "/v2/models/nope")).status).toBe(404);
    expect((await call(url, "/v2/models/m/versions/0/infer", rows([1], ["red"]))).status).toBe(400);
    expect((await call(url, "/v2/models/m/infer")).status).toBe(405);
  });
  it("batches concurrent requests, answering each as onnxruntime answers it alone", async () => {
    const { url, server } = await start();
    await upload(url, "m", 1, classifier);
    const session = server.manager.models.get("m")!.versions.get(1)!.session;
    let runs = 0;
    const run = session.run.bind(session);
    session.run = ((...args: Parameters<typeof run>) => {
      runs++;
      return run(...args);
    }) as typeof session.run;
    const requests = Array.from({ length: 60 }, (_, i) => {
      const n = (i % 3) + 1;
      const xs = Array.from({ length: n }, (_, j) => ((i * 7 + j * 3) % 100) / 10);
      const colors = Array.from({ length: n }, (_, j) => ["red", "green", "blue", ""][(i + j) % 4]!);
      return { xs, colors, outputs: i % 5 === 0 ? [{ name: "label" }] : undefined };
    });
    // Raw sockets, all connected first and written in one tick, so the requests arrive in one event-loop turn.
    const sockets = await Promise.all(
      requests.map(
        () =>
          new Promise<Socket>((resolve) => {
            const socket = connect(Number(new URL(url).port), "127.0.0.1", () => resolve(socket));
          }),
      ),
    );
    const replies = sockets.map(
      (socket) =>
        new Promise<string>((resolve) => {
          let text = "";
          socket.on("data", (d) => {
            text += d;
          });
          socket.on("end", () => resolve(text));
        }),
    );
    await new Promise((r) => setTimeout(r, 100)); // the server accepts every connection first
    requests.forEach((r, i) => {
      const body = JSON.stringify({ ...rows(r.xs, r.colors), ...(r.outputs ? { outputs: r.outputs } : {}) });
      sockets[i]!.write(
        `POST /v2/models/m/infer HTTP/1.1\r\nhost: 127.0.0.1:${new URL(url).port}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    });
    const answers = (await Promise.all(replies)).map((text) => ({
      json: JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4)),
    }));
    expect(runs).toBeLessThan(60);
    const direct = await ort.InferenceSession.create(classifier);
    for (const [i, r] of requests.entries()) {
      const expected = await direct.run({
        x: xTensor(r.xs),
        color: new ort.Tensor("string", r.colors, [r.colors.length, 1]),
      });
      const got = Object.fromEntries(answers[i]!.json.outputs.map((o: Json) => [o.name, o]));
      expect(got.label.data).toEqual(expected.label!.data);
      expect(got.label.shape).toEqual([r.xs.length]);
      if (r.outputs) expect(got.probabilities).toBeUndefined();
      else {
        expect(got.probabilities.data).toEqual(Array.from(expected.probabilities!.data as Float64Array));
        expect(got.probabilities.shape).toEqual([r.xs.length, 2]);
      }
    }
    await direct.release();
  });
});

describe("repository safety", () => {
  it("answers on loopback only requests addressed to a loopback name (no DNS rebinding)", async () => {
    const { url } = await start();
    const port = new URL(url).port;
    const get = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(`${url}/v2/health/live`, { headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", reject);
        req.end();
      });
    expect(await get(`attacker.example:${port}`)).toBe(403);
    expect(await get("127.0.0.1:1")).toBe(403);
    expect(await get(`localhost:${port}`)).toBe(200);
    expect(await get(`127.0.0.1:${port}`)).toBe(200);
  });

  it("refuses repository calls without the token, or when the server has none", async () => {
    const { url } = await start();
    const body = loadBody(1, regressionV1);
    expect((await call(url, "/v2/repository/models/m/load", body)).status).toBe(401);
    const wrong = await call(url, "/v2/repository/models/m/load", body, { authorization: "Bearer nope" });
    expect(wrong.status).toBe(401);
    expect((await call(url, "/v2/repository/index", {})).status).toBe(401);
    expect((await call(url, "/v2/repository/models/m/unload", {})).status).toBe(401);

    const bare = await start({ token: undefined });
    const refused = await call(bare.url, "/v2/repository/models/m/load", body, auth);
    expect(refused.status).toBe(401);
    expect(refused.json.error).toMatch(/--token or DAGWOOD_SERVE_TOKEN/);
  });

  it("refuses names that would leave the repository, and bad versions", async () => {
    const { url } = await start();
    const body = loadBody(1, regressionV1);
    for (const name of ["..%2Fx", "%2e%2e%2fx", "a%2Fb", "CON", "nul.txt", "x.", "-x", "%00x"]) {
      const r = await call(url, `/v2/repository/models/${name}/load`, body, auth);
      expect(r.status, name).toBe(400);
      expect(r.json.error).toMatch(/invalid model name/);
    }
    for (const path of [
      "/v2/repository/models/../x/load",
      "/v2/repository/models/a/b/load",
      "/v2/models/a/b/infer",
    ]) {
      // fetch would normalize "..": send the raw path.
      const status = await new Promise<number>((resolve, reject) => {
        const u = new URL(url);
        const req = request(
          { host: u.hostname, port: u.port, path, method: "POST", headers: auth },
          (res) => {
            res.resume();
            resolve(res.statusCode!);
          },
        );
        req.on("error", reject);
        req.end("{}");
      });
      expect(status, path).toBe(400);
    }
    const badVersion = await call(
      url,
      "/v2/repository/models/m/load",
      { parameters: { "file:0/model.onnx": "AAAA" } },
      auth,
    );
    expect(badVersion.status).toBe(400);
    expect(badVersion.json.error).toMatch(/positive integers/);
  });

  it("a failed load leaves the serving version untouched and no new version on disk", async () => {
    const { url, server } = await start();
    await upload(url, "m", 1, regressionV1);
    const bad: [string, RegExp][] = [
      ["not base64 at all!", /not base64/],
      [Buffer.from("this is not an onnx model").toString("base64"), /onnxruntime could not load/],
    ];
    for (const [payload, message] of bad) {
      const r = await call(
        url,
        "/v2/repository/models/m/load",
        { parameters: { "file:2/model.onnx": payload } },
        auth,
      );
      expect(r.status).toBe(400);
      expect(r.json.error).toMatch(message);
    }
    const cfg = await call(url, "/v2/repository/models/m/load", { parameters: { config: "{nope" } }, auth);
    expect(cfg.status).toBe(400);
    expect(await server.manager.repository.versions("m")).toEqual([1]);
    const answer = await call(url, "/v2/models/m/infer", rows([5], ["blue"]));
    expect(answer.json.model_version).toBe("1");
    expect((await call(url, "/v2/models/m/versions/2")).status).toBe(404);
  });

  it("answers 413 past the infer and the load limits", async () => {
    const { url } = await start({ maxInferBytes: 1024, maxLoadBytes: 32_000 });
    await upload(url, "m", 1, regressionV1);
    const big = rows(new Array(500).fill(1), new Array(500).fill("red"));
    const infer = await call(url, "/v2/models/m/infer", big);
    expect(infer.status).toBe(413);
    expect(infer.json.error).toMatch(/max-infer-bytes/);
    const load = await call(url, "/v2/repository/models/m/load", loadBody(2, new Uint8Array(40_000)), auth);
    expect(load.status).toBe(413);
    expect(load.json.error).toMatch(/max-load-bytes/);
    // Chunked (no content-length): the limit holds while streaming.
    const chunks = new ReadableStream({
      start(c) {
        for (let i = 0; i < 10; i++) c.enqueue(new TextEncoder().encode(" ".repeat(1000)));
        c.close();
      },
    });
    const res = await fetch(`${url}/v2/models/m/infer`, {
      method: "POST",
      body: chunks,
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(413);
  });

  it("can require the token for infer", async () => {
    const { url } = await start({ inferToken: true });
    await upload(url, "m", 1, regressionV1);
    expect((await call(url, "/v2/models/m/infer", rows([1], ["red"]))).status).toBe(401);
    expect((await call(url, "/v2/models/m/infer", rows([1], ["red"]), auth)).status).toBe(200);
  });
});

describe("versions, restart and traffic", () => {
  it("keeps answering during a load: 200 concurrent clients, each answer from the version it names", async () => {
    const { url } = await start();
    await upload(url, "m", 1, regressionV1);
    const results: { status: number; version: string; prediction: number }[] = [];
    let loading = true;
    const client = async (i: number) => {
      do {
        const r = await call(url, "/v2/models/m/infer", rows([(i % 10) + 0.5], ["green"]));
        results.push({
          status: r.status,
          version: r.json.model_version,
          prediction: r.json.outputs?.[0]?.data[0],
        });
      } while (loading);
    };
    const clients = Array.from({ length: 200 }, (_, i) => client(i));
    const load = (async () => {
      await new Promise((r) => setTimeout(r, 50));
      await upload(url, "m", 2, regressionV2);
      await new Promise((r) => setTimeout(r, 50));
      loading = false;
    })();
    await Promise.all([load, ...clients]);
    expect(results.filter((r: Json) => r.status !== 200)).toEqual([]);
    for (const r of results) expect(versionOf(r.prediction)).toBe(Number(r.version));
    const versions = new Set(results.map((r: Json) => r.version));
    expect(versions).toEqual(new Set(["1", "2"]));
    console.log(`concurrent load: ${results.length} requests, versions ${[...versions].join(", ")}`);
  });

  it("restores what was serving after a restart, and skips a model whose version is missing", async () => {
    const repository = tempRepo();
    const first = await start({ repository });
    await upload(first.url, "m", 1, regressionV1);
    await upload(first.url, "m", 2, regressionV2);
    await upload(first.url, "gone", 1, regressionV1);
    await upload(first.url, "dropped", 1, classifier);
    await call(first.url, "/v2/repository/models/dropped/unload", {}, auth);
    await call(first.url, "/v2/repository/models/m/traffic", { primary: 1 }, auth);
    await first.server.close();
    rmSync(join(repository, "gone", "1"), { recursive: true });

    const messages: string[] = [];
    const second = await start({ repository, log: (m) => messages.push(m) });
    expect((await call(second.url, "/v2/models/m/infer", rows([2], ["red"]))).json.model_version).toBe("1");
    expect((await call(second.url, "/v2/models/m/versions/2/infer", rows([2], ["red"]))).status).toBe(200);
    expect((await call(second.url, "/v2/models/dropped")).status).toBe(404);
    expect((await call(second.url, "/v2/models/gone")).status).toBe(404);
    expect(messages.join("\n")).toMatch(/not restoring model gone/);

    const index = await call(second.url, "/v2/repository/index", {}, auth);
    expect(index.json).toEqual(
      expect.arrayContaining([
        { name: "m", version: "1", state: "READY", reason: "", sha256: sha256(regressionV1) },
        {
          name: "dropped",
          version: "1",
          state: "UNAVAILABLE",
          reason: "unloaded",
          sha256: sha256(classifier),
        },
      ]),
    );
    const ready = await call(second.url, "/v2/repository/index", { ready: true }, auth);
    expect(ready.json.every((r: Json) => r.state === "READY")).toBe(true);
    // Load from disk, no body: the highest version.
    const fromDisk = await call(second.url, "/v2/repository/models/dropped/load", undefined, auth, "POST");
    expect(fromDisk.status).toBe(200);
    expect((await call(second.url, "/v2/models/dropped/ready")).status).toBe(200);
    await call(second.url, "/v2/repository/models/m/unload", {}, auth);
    expect((await call(second.url, "/v2/models/m/infer", rows([2], ["red"]))).status).toBe(404);
  });

  it("routes a canary share, deterministically per request id", async () => {
    // Every request is logged here (no per-second cap), so the log's roles can be counted.
    const { url } = await start({ logMaxPerSecond: Number.POSITIVE_INFINITY });
    await upload(url, "m", 1, regressionV1);
    await upload(url, "m", 2, regressionV2);
    const set = await call(
      url,
      "/v2/repository/models/m/traffic",
      { primary: 1, canary: { version: 2, percent: 30 } },
      auth,
    );
    expect(set.status, JSON.stringify(set.json)).toBe(200);
    expect(
      (await call(url, "/v2/repository/models/m/traffic", undefined, auth)).json.policy.canary.percent,
    ).toBe(30);
    const answers = await Promise.all(
      Array.from({ length: 400 }, (_, i) =>
        call(url, "/v2/models/m/infer", { id: `r${i}`, ...rows([3], ["blue"]) }),
      ),
    );
    const canary = answers.filter((a) => a.json.model_version === "2");
    for (const a of answers) expect(versionOf(a.json.outputs[0].data[0])).toBe(Number(a.json.model_version));
    expect(canary.length / 400).toBeGreaterThan(0.2);
    expect(canary.length / 400).toBeLessThan(0.4);
    const log = await call(url, "/v2/logs/models/m?limit=1000", undefined, auth);
    expect(log.json.entries.filter((e: Json) => e.role === "canary").length).toBe(canary.length);
    const again = await call(url, "/v2/models/m/infer", { id: "r0", ...rows([3], ["blue"]) });
    expect(again.json.model_version).toBe(answers[0]!.json.model_version);
    // By version ignores the policy.
    expect((await call(url, "/v2/models/m/versions/1/infer", rows([3], ["blue"]))).json.model_version).toBe(
      "1",
    );
    expect(
      (await call(url, "/v2/repository/models/m/traffic", { canary: { version: 2, percent: 130 } }, auth))
        .status,
    ).toBe(400);
    expect(
      (await call(url, "/v2/repository/models/m/traffic", { canary: { version: 9, percent: 10 } }, auth))
        .status,
    ).toBe(404);
    expect((await call(url, "/v2/repository/models/m/traffic", {}, auth)).json.primary).toBe("2");
  });

  it("mirrors to a shadow without changing responses, and logs both", async () => {
    const { url } = await start();
    await upload(url, "m", 1, regressionV1);
    await upload(url, "m", 2, regressionV2);
    await call(url, "/v2/repository/models/m/traffic", { primary: 1, shadow: { version: 2 } }, auth);
    const plain = await call(url, "/v2/models/m/versions/1/infer", rows([4], ["red"]));
    for (let i = 0; i < 20; i++) {
      const r = await call(url, "/v2/models/m/infer", { id: `s${i}`, ...rows([4], ["red"]) });
      expect(r.json.model_version).toBe("1");
      expect(r.json.outputs).toEqual(plain.json.outputs);
    }
    await new Promise((r) => setTimeout(r, 100));
    const log = await call(url, "/v2/logs/models/m?limit=100", undefined, auth);
    const shadows = log.json.entries.filter((e: Json) => e.role === "shadow");
    expect(shadows).toHaveLength(20);
    expect(shadows[0]).toMatchObject({ model: "m", version: 2, requestId: expect.stringMatching(/^s/) });
    expect(shadows[0].outputs[0].data[0]).toBeGreaterThan(60);
    const primaries = log.json.entries.filter((e: Json) => e.role === "primary");
    expect(primaries).toHaveLength(20);
    expect(primaries[0]).toMatchObject({
      version: 1,
      inputs: [
        { name: "x", datatype: X_TYPE, shape: [1, 1], data: [4] },
        { name: "color", datatype: "BYTES", shape: [1, 1], data: ["red"] },
      ],
    });
    expect(typeof primaries[0].latencyMs).toBe("number");
    expect(Date.parse(primaries[0].time)).not.toBeNaN();
    const since = await call(url, `/v2/logs/models/m?since=${primaries[5].seq}&limit=3`, undefined, auth);
    expect(since.json.entries).toHaveLength(3);
  });
});

describe("observability", () => {
  it("exports Prometheus metrics and an authenticated inference log", async () => {
    const { url, server } = await start({ logSampleRate: 1 });
    await upload(url, "m", 1, regressionV1);
    await call(url, "/v2/models/m/infer", rows([1], ["red"]));
    await call(url, "/v2/models/m/infer", { inputs: [] });
    const metrics = await fetch(`${url}/metrics`).then((r) => r.text());
    expect(metrics).toContain('dagwood_requests_total{model="m",version="1",code="200"} 1');
    expect(metrics).toContain('dagwood_requests_total{model="m",version="",code="400"} 1');
    expect(metrics).toContain('dagwood_errors_total{model="m",version="",kind="client"} 1');
    expect(metrics).toMatch(
      /dagwood_inference_duration_seconds_bucket\{le="0.0005",model="m",version="1",role="primary"\}/,
    );
    expect((await call(url, "/v2/logs/models/m")).status).toBe(401);
    expect((await call(url, "/v2/logs/models/nope", undefined, auth)).status).toBe(404);
    const log = await call(url, "/v2/logs/models/m", undefined, auth);
    expect(log.json.entries).toHaveLength(1);
    await server.close();
    servers.splice(servers.indexOf(server), 1);
    const file = join(server.manager.repository.dir, "m", "inference-log.jsonl");
    expect(JSON.parse(readFileSync(file, "utf8").trim()).model).toBe("m");
  });

  it("samples the log", async () => {
    const { url } = await start({ logSampleRate: 0 });
    await upload(url, "m", 1, regressionV1);
    await call(url, "/v2/models/m/infer", rows([1], ["red"]));
    const log = await call(url, "/v2/logs/models/m", undefined, auth);
    expect(log.json.entries).toHaveLength(0);
  });
});

function sink(stdout: (s: string) => void, stderr: (s: string) => void) {
  const stream = (write: (s: string) => void) => ({
    write: (s: string) => {
      write(s);
      return true;
    },
  });
  return { stdout: stream(stdout), stderr: stream(stderr) } as unknown as Parameters<typeof serveCommand>[1];
}

describe("serveCommand", () => {
  it("rejects bad arguments with exit 2", async () => {
    let err = "";
    const io = sink(
      () => {},
      (s) => {
        err += s;
      },
    );
    expect(await serveCommand(["--port", "x"], io)).toBe(2);
    expect(err).toMatch(/--port/);
    expect(await serveCommand(["--infer-token"], io)).toBe(2);
  });

  it("serves until a signal, printing the URL and whether a token is set", async () => {
    let out = "";
    const io = sink(
      (s) => {
        out += s;
      },
      () => {},
    );
    const listeners: (() => void)[] = [];
    const signals = { once: (_: string, l: () => void) => listeners.push(l) };
    const repo = tempRepo();
    writeFileSync(join(repo, "README"), "");
    const done = serveCommand(["--port", "0", "--repository", repo, "--token", "t"], io, signals);
    while (!out.includes("listening")) await new Promise((r) => setTimeout(r, 20));
    const url = /listening on (\S+)/.exec(out)![1]!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(out).toMatch(/token: set/);
    expect((await fetch(`${url}/v2/health/live`)).status).toBe(200);
    listeners[0]!();
    expect(await done).toBe(0);
  });
});

describe("versions are identified by their bytes, and loads are all or nothing", () => {
  it("keeps each version's sha256: the same bytes again are a no-op, other bytes a 409", async () => {
    const { url, server } = await start();
    await upload(url, "m", 1, regressionV1);
    const again = await upload(url, "m", 1, regressionV1);
    expect(again.json).toMatchObject({ versions: ["1"], serving: "1" });
    const clash = await call(url, "/v2/repository/models/m/load", loadBody(1, regressionV2), auth);
    expect(clash.status).toBe(409);
    expect(clash.json.error).toBe(
      `version 1 of m already exists with other bytes (sha256 ${sha256(regressionV1)}); upload it as a new version`,
    );
    const file = readFileSync(join(server.manager.repository.dir, "m", "1", "model.onnx"));
    expect(sha256(file)).toBe(sha256(regressionV1));
    expect((await call(url, "/v2/models/m/versions/1")).json.parameters).toEqual({
      sha256: sha256(regressionV1),
    });
    await upload(url, "m", 2, regressionV2);
    expect((await call(url, "/v2/models/m")).json.parameters).toEqual({ sha256: sha256(regressionV2) });
    const index = await call(url, "/v2/repository/index", {}, auth);
    expect(index.json.map((r: Json) => [r.version, r.sha256])).toEqual([
      ["1", sha256(regressionV1)],
      ["2", sha256(regressionV2)],
    ]);
  });

  it("undoes a load whose state cannot be saved: 500, the previous version serves, disk as before", async () => {
    const { url, server } = await start();
    const repo = server.manager.repository;
    await upload(url, "m", 1, regressionV1);
    await call(
      url,
      "/v2/repository/models/m/load",
      loadBody(1, regressionV1, { name: "m", note: "one" }),
      auth,
    );
    const stateBefore = readFileSync(join(repo.dir, ".dagwood-state.json"), "utf8");
    const configBefore = readFileSync(join(repo.dir, "m", "config.json"), "utf8");
    const writeState = repo.writeState.bind(repo);
    repo.writeState = async () => {
      throw new Error("disk full");
    };
    const r = await call(
      url,
      "/v2/repository/models/m/load",
      loadBody(2, regressionV2, { note: "two" }),
      auth,
    );
    expect(r.status).toBe(500);
    repo.writeState = writeState;
    expect((await call(url, "/v2/models/m/infer", rows([5], ["blue"]))).json.model_version).toBe("1");
    expect([...server.manager.models.get("m")!.versions.keys()]).toEqual([1]);
    expect(await repo.versions("m")).toEqual([1]);
    expect(readFileSync(join(repo.dir, "m", "config.json"), "utf8")).toBe(configBefore);
    expect(readFileSync(join(repo.dir, ".dagwood-state.json"), "utf8")).toBe(stateBefore);
    // The same upload succeeds once the state can be written.
    expect((await upload(url, "m", 2, regressionV2)).json.serving).toBe("2");
  });

  it("a traffic change that fails leaves the policy and versions as they were, in memory and on disk", async () => {
    const { url, server } = await start();
    const repo = server.manager.repository;
    await upload(url, "m", 1, regressionV1);
    await upload(url, "m", 2, regressionV2);
    await upload(url, "m", 3, regressionV1);
    const loadedVersions = () => [...server.manager.models.get("m")!.versions.keys()].sort();
    expect(loadedVersions()).toEqual([2, 3]);
    const state = () => JSON.parse(readFileSync(join(repo.dir, ".dagwood-state.json"), "utf8")).models.m;
    const before = state();
    // Version 1 is on disk and loads; version 9 is not: nothing may change.
    const r = await call(
      url,
      "/v2/repository/models/m/traffic",
      { primary: 1, canary: { version: 9, percent: 10 } },
      auth,
    );
    expect(r.status).toBe(404);
    expect(loadedVersions()).toEqual([2, 3]);
    expect(server.manager.models.get("m")!.policy).toEqual({});
    expect(state()).toEqual(before);

    const writeState = repo.writeState.bind(repo);
    let writes = 0;
    repo.writeState = async (s) => {
      if (writes++ === 0) throw new Error("disk full");
      return writeState(s);
    };
    const failed = await call(url, "/v2/repository/models/m/traffic", { primary: 1 }, auth);
    expect(failed.status).toBe(500);
    expect(loadedVersions()).toEqual([2, 3]);
    expect(server.manager.models.get("m")!.policy).toEqual({});
    expect(state()).toEqual(before);
    expect((await call(url, "/v2/models/m/infer", rows([5], ["blue"]))).json.model_version).toBe("3");
  });

  it("refuses a model name that differs from an existing one only in case", async () => {
    const { url } = await start();
    await upload(url, "Penguins", 1, classifier);
    const r = await call(url, "/v2/repository/models/penguins/load", loadBody(1, classifier), auth);
    expect(r.status).toBe(409);
    expect(r.json.error).toMatch(/existing model Penguins/);
    expect((await call(url, "/v2/repository/models/PENGUINS/load", undefined, auth, "POST")).status).toBe(
      409,
    );
  });

  it("a load makes its version the primary, unless dagwood_keep_primary", async () => {
    const { url } = await start();
    await upload(url, "m", 1, regressionV1);
    await upload(url, "m", 2, regressionV2);
    await call(url, "/v2/repository/models/m/traffic", { primary: 1 }, auth);
    const servingVersion = async () =>
      (await call(url, "/v2/models/m/infer", rows([5], ["blue"]))).json.model_version;
    expect(await servingVersion()).toBe("1");
    // Uploading 3 moves the pin to 3, as Triton would serve it.
    const v3 = await upload(url, "m", 3, regressionV2.slice());
    expect(v3.json.serving).toBe("3");
    expect(await servingVersion()).toBe("3");
    // With dagwood_keep_primary the current primary stays (and is pinned), pinned or not before.
    const kept = await call(
      url,
      "/v2/repository/models/m/load",
      { parameters: { ...loadBody(4, regressionV1).parameters, dagwood_keep_primary: true } },
      auth,
    );
    expect(kept.json.serving).toBe("3");
    expect(await servingVersion()).toBe("3");
    expect((await call(url, "/v2/models/m/versions/4/ready")).status).toBe(200);
    // From disk with a version: that one becomes the primary, unless dagwood_keep_primary.
    const disk = await call(url, "/v2/repository/models/m/load", { parameters: { version: 1 } }, auth);
    expect(disk.json.serving).toBe("1");
    expect(await servingVersion()).toBe("1");
    await call(
      url,
      "/v2/repository/models/m/load",
      { parameters: { version: 2, dagwood_keep_primary: true } },
      auth,
    );
    expect(await servingVersion()).toBe("1");
    expect((await call(url, "/v2/models/m/versions/2/ready")).status).toBe(200);
    const bad = await call(
      url,
      "/v2/repository/models/m/load",
      { parameters: { dagwood_keep_primary: 1 } },
      auth,
    );
    expect(bad.status).toBe(400);
  });
});

describe("request checks", () => {
  it("releases the shadow's hold when the primary run fails", async () => {
    const { url, server } = await start();
    await upload(url, "m", 1, regressionV1);
    await upload(url, "m", 2, regressionV2);
    await call(url, "/v2/repository/models/m/traffic", { primary: 1, shadow: { version: 2 } }, auth);
    const versions = server.manager.models.get("m")!.versions;
    versions.get(1)!.session.run = (() => Promise.reject(new Error("boom"))) as never;
    for (let i = 0; i < 3; i++)
      expect((await call(url, "/v2/models/m/infer", rows([1], ["red"]))).status).toBe(500);
    await new Promise((r) => setTimeout(r, 50));
    expect(versions.get(2)!.active).toBe(0);
    expect(versions.get(1)!.active).toBe(0);
  });

  it("answers 400, not a stack overflow, for data nested deeper than its shape; nested data must match the shape", async () => {
    const { url } = await start();
    await upload(url, "m", 1, regressionV1);
    const x = rows([1], ["red"]).inputs[0]!;
    const color = rows([1], ["red"]).inputs[1]!;
    const deep = `${"[".repeat(200_000)}1${"]".repeat(200_000)}`;
    const body = `{"inputs": [${JSON.stringify(color)}, {"name": "x", "datatype": "${X_TYPE}", "shape": [1, 1], "data": ${deep}}]}`;
    const r = await call(url, "/v2/models/m/infer", body);
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(/input "x": nested data does not match shape \[1, 1\]/);
    const wrong = await call(url, "/v2/models/m/infer", {
      inputs: [
        { ...x, shape: [2, 1], data: [[3, 4]] },
        { ...color, shape: [2, 1], data: ["red", "blue"] },
      ],
    });
    expect(wrong.status).toBe(400);
    expect(wrong.json.error).toMatch(/input "x": nested data does not match shape \[2, 1\]/);
    const flat = await call(url, "/v2/models/m/infer", { inputs: [{ ...x, data: [1, 2] }, color] });
    expect(flat.status).toBe(400);
    expect(flat.json.error).toMatch(/input "x" has 2 elements; shape \[1, 1\] needs 1/);
  });

  it("needs a string id", async () => {
    const { url } = await start();
    await upload(url, "m", 1, regressionV1);
    const r = await call(url, "/v2/models/m/infer", { id: 7, ...rows([1], ["red"]) });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(/"id" must be a string/);
    expect((await call(url, "/v2/models/m/infer", { id: "7", ...rows([1], ["red"]) })).json.id).toBe("7");
  });

  it("answers 503 for models while restoring, not 404", async () => {
    const repository = tempRepo();
    const first = await start({ repository });
    await upload(first.url, "m", 1, regressionV1);
    await first.server.close();
    servers.splice(servers.indexOf(first.server), 1);

    const server = createServer({ repository, token: TOKEN, log: () => {} });
    servers.push(server);
    let open!: () => void;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    const restore = server.manager.restore.bind(server.manager);
    server.manager.restore = async () => {
      await gate;
      return restore();
    };
    const listening = server.listen(0);
    while (!server.url) await new Promise((r) => setTimeout(r, 5));
    const url = server.url;
    for (const r of [
      await call(url, "/v2/models/m/infer", rows([1], ["red"])),
      await call(url, "/v2/models/m/versions/1/infer", rows([1], ["red"])),
      await call(url, "/v2/models/m"),
      await call(url, "/v2/models/m/versions/1/ready"),
      await call(url, "/v2/health/ready"),
    ]) {
      expect(r.status).toBe(503);
      expect(r.json.error).toBe("the server is starting (restoring models)");
    }
    open();
    await listening;
    expect((await call(url, "/v2/models/m/infer", rows([1], ["red"]))).status).toBe(200);
    expect((await call(url, "/v2/models/nope")).status).toBe(404);
  });

  it("guards model metadata and ready with --infer-token; health and /metrics stay open", async () => {
    const { url } = await start({ inferToken: true });
    await upload(url, "m", 1, regressionV1);
    for (const path of [
      "/v2/models/m",
      "/v2/models/m/ready",
      "/v2/models/m/versions/1",
      "/v2/models/m/versions/1/ready",
    ]) {
      expect((await call(url, path)).status, path).toBe(401);
      expect((await call(url, path, undefined, auth)).status, path).toBe(200);
    }
    expect((await call(url, "/v2/health/ready")).status).toBe(200);
    expect((await fetch(`${url}/metrics`)).status).toBe(200);
  });

  it("limits index, unload and traffic bodies to 64 KiB with a 413 naming the endpoint", async () => {
    const { url } = await start();
    await upload(url, "m", 1, regressionV1);
    const big = { pad: "x".repeat(70_000) };
    for (const [path, what] of [
      ["/v2/repository/index", "index"],
      ["/v2/repository/models/m/unload", "unload"],
      ["/v2/repository/models/m/traffic", "traffic"],
    ] as const) {
      const r = await call(url, path, big, auth);
      expect(r.status, path).toBe(413);
      expect(r.json.error).toBe(
        `the ${what} body is larger than 65536 bytes, the limit for ${what} requests`,
      );
    }
    expect((await call(url, "/v2/models/m/ready")).status).toBe(200);
  });
});

describe("inference log across restarts and for large requests", () => {
  it("continues seq after a restart, from the JSONL file's tail", async () => {
    const repository = tempRepo();
    const first = await start({ repository });
    await upload(first.url, "m", 1, regressionV1);
    for (let i = 0; i < 3; i++) await call(first.url, "/v2/models/m/infer", rows([i], ["red"]));
    const before = (await call(first.url, "/v2/logs/models/m", undefined, auth)).json.entries;
    await first.server.close();
    servers.splice(servers.indexOf(first.server), 1);
    const second = await start({ repository });
    await call(second.url, "/v2/models/m/infer", rows([1], ["red"]));
    const after = (await call(second.url, "/v2/logs/models/m", undefined, auth)).json.entries;
    expect(after[0].seq).toBe(before[before.length - 1].seq + 1);
    const since = await call(second.url, `/v2/logs/models/m?since=${before[2].seq}`, undefined, auth);
    expect(since.json.entries).toHaveLength(1);
  });

  it("logs a large request as its shape and first 100 rows", async () => {
    const { url } = await start();
    await upload(url, "m", 1, regressionV1);
    const n = 250;
    const r = await call(
      url,
      "/v2/models/m/infer",
      rows(
        Array.from({ length: n }, (_, i) => i % 10),
        new Array(n).fill("red"),
      ),
    );
    expect(r.json.outputs[0].data).toHaveLength(n);
    const [entry] = (await call(url, "/v2/logs/models/m", undefined, auth)).json.entries;
    for (const t of [...entry.inputs, ...entry.outputs]) {
      expect(t.shape[0]).toBe(n);
      expect(t.truncated).toBe(true);
      expect(t.data).toHaveLength(100 * t.shape.slice(1).reduce((a: number, b: number) => a * b, 1));
    }
    expect(entry.inputs[0].data.slice(0, 3)).toEqual([0, 1, 2]);
  });
});

describe("declared routes", () => {
  /** A request for each route and method of the table (model "m" version 1 loaded). */
  const EXAMPLES: Record<string, string> = {
    "infer POST": "/v2/models/m/versions/1/infer",
    "model ready GET": "/v2/models/m/ready",
    "model metadata GET": "/v2/models/m/versions/1",
    "live GET": "/v2/health/live",
    "ready GET": "/v2/health/ready",
    "server metadata GET": "/v2",
    "metrics GET": "/metrics",
    "index POST": "/v2/repository/index",
    "load POST": "/v2/repository/models/m/load",
    "unload POST": "/v2/repository/models/m/unload",
    "traffic GET": "/v2/repository/models/m/traffic",
    "traffic POST": "/v2/repository/models/m/traffic",
    "log GET": "/v2/logs/models/m",
    "feedback POST": "/v2/models/m/feedback",
    "feedback log GET": "/v2/logs/models/m/feedback",
  };
  const each = SERVE_ROUTES.flatMap((route) => route.methods.map((method) => ({ route, method })));

  /** A raw request whose body is sent in chunks without a Content-Length (fetch would declare one). */
  function chunked(
    url: string,
    method: string,
    path: string,
    headers: Record<string, string>,
    chunks: number,
  ): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      // Node frames a GET's body only when asked to (it assumes GETs have none).
      const framed = { ...headers, "transfer-encoding": "chunked" };
      const req = request(`${url}${path}`, { method, headers: framed }, (res) => {
        let text = "";
        res.on("data", (d) => {
          text += d;
        });
        res.on("end", () => resolve({ status: res.statusCode!, text }));
      });
      req.on("error", (e: NodeJS.ErrnoException) => {
        if (e.code !== "ECONNRESET" && e.code !== "EPIPE") reject(e);
      });
      for (let i = 0; i < chunks; i++) req.write(Buffer.alloc(16 * 1024, 32));
      req.end();
    });
  }

  it("every route declares its auth and body limit; state-changing and repository routes need the token", () => {
    expect(Object.keys(EXAMPLES).sort()).toEqual(
      each.map(({ route, method }) => `${route.name} ${method}`).sort(),
    );
    for (const { route, method } of each) {
      const key = `${route.name} ${method}`;
      expect(["none", "read", "write"], key).toContain(route.auth);
      expect(
        typeof route.bodyLimit === "number"
          ? route.bodyLimit > 0
          : ["infer", "load"].includes(route.bodyLimit),
        key,
      ).toBe(true);
      expect(["GET", "POST"], key).toContain(method);
      // A POST changes state, except infer (it reads a model); so do all repository and log routes.
      if ((method === "POST" && route.name !== "infer") || /^\/v2\/(repository|logs)\//.test(route.path)) {
        expect(route.auth, key).toBe("write");
      }
      // The example is this route's.
      const path = EXAMPLES[key]!.split("/").slice(1);
      expect(findRoute(SERVE_ROUTES, path, method)?.route, key).toBe(route);
    }
  });

  it("refuses each write route without the token, or with a wrong one, before it has any effect", async () => {
    const { url, server } = await start();
    await upload(url, "m", 1, regressionV1);
    for (const { route, method } of each) {
      const path = EXAMPLES[`${route.name} ${method}`]!;
      const body = method === "POST" ? {} : undefined;
      const none = await call(url, path, body, {}, method);
      const wrong = await call(url, path, body, { authorization: "Bearer s3cret-tokem" }, method);
      if (route.auth === "write") {
        expect([none.status, wrong.status], path).toEqual([401, 401]);
        expect(wrong.json.error).toMatch(/missing or wrong bearer token/);
      } else {
        expect(none.status, path).not.toBe(401);
      }
    }
    // The unload refused above did not happen.
    expect(server.manager.models.get("m")?.versions.has(1)).toBe(true);
    // With --infer-token, the read routes need it too; the open ones stay open.
    const guarded = await start({ inferToken: true });
    await upload(guarded.url, "m", 1, regressionV1);
    for (const { route, method } of each) {
      const path = EXAMPLES[`${route.name} ${method}`]!;
      const r = await call(guarded.url, path, method === "POST" ? {} : undefined, {}, method);
      expect(r.status === 401, `${method} ${path}`).toBe(route.auth !== "none");
    }
  });

  it("holds every route to its body limit, for a body sent without a Content-Length", async () => {
    // 1.1 MiB sent: over the control limit (64 KiB), the feedback limit (1 MiB) and the infer and load limits set here.
    const { url } = await start({ maxInferBytes: 100_000, maxLoadBytes: 100_000 });
    await upload(url, "m", 1, regressionV1);
    for (const { route, method } of each) {
      const path = EXAMPLES[`${route.name} ${method}`]!;
      const r = await chunked(url, method, path, auth, 72);
      expect(r.status, `${method} ${path} ${r.text}`).toBe(413);
      expect(JSON.parse(r.text).error, path).toMatch(new RegExp(`^the ${route.name} body is larger than`));
    }
    // A request within the limits still works after all that.
    expect((await call(url, "/v2/models/m/ready")).status).toBe(200);
  });
});
