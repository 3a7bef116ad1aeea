/**
 * The inference log's privacy policy on a real server (issue 19): tagged
 * inputs hashed with the project's key (checked against Python's hmac
 * module), dropped or kept in clear, the key never answered, and retention
 * deleting older entries at start, hourly and across segments.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { RETENTION_FILE } from "../privacy/log-policy";
import { InferenceLog, type InferenceLogEntry } from "./observability";
import { PRIVACY_FILE } from "./privacy";
import { createServer, type ServeOptions } from "./server";
import { testServers } from "./test-servers";
import { trainTestModel } from "./testing";

// biome-ignore lint/suspicious/noExplicitAny: the tests read response fields freely
type Json = any;

const TOKEN = "privacy-token";
const auth = { authorization: `Bearer ${TOKEN}` };
const KEY = randomBytes(32).toString("hex");
const DAY = 86_400_000;
const { tempDir, track, close } = testServers("dagwood-logpriv-");

let model: Uint8Array;
let xType: string;

beforeAll(async () => {
  const trained = await trainTestModel({ task: "classification" });
  model = trained.bytes;
  xType = trained.model.signature.inputs.find((i) => i.name === "x")!.dtype;
});

/** HMAC-SHA256 by Python's hmac module (an independent implementation): "hmac:" + the first 32 hex. */
function pythonHashes(keyHex: string, values: string[]): string[] {
  const code = [
    "import hmac, hashlib, json, sys",
    "key = bytes.fromhex(sys.argv[1])",
    "values = json.loads(sys.stdin.read())",
    "print(json.dumps(['hmac:' + hmac.new(key, v.encode('utf-8'), hashlib.sha256).hexdigest()[:32] for v in values]))",
  ].join("\n");
  const out = execFileSync("/usr/bin/python3", ["-c", code, keyHex], { input: JSON.stringify(values) });
  return JSON.parse(out.toString()) as string[];
}

async function call(url: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { "content-type": "application/json", ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: Json;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, text };
}

function request(xs: number[], colors: string[], id: string) {
  return {
    id,
    inputs: [
      { name: "x", datatype: xType, shape: [xs.length, 1], data: xs },
      { name: "color", datatype: "BYTES", shape: [colors.length, 1], data: colors },
    ],
  };
}

function loadBody(privacy?: unknown) {
  return {
    parameters: {
      "file:1/model.onnx": Buffer.from(model).toString("base64"),
      ...(privacy === undefined
        ? {}
        : { dagwood_privacy: typeof privacy === "string" ? privacy : JSON.stringify(privacy) }),
    },
  };
}

async function start(options: Partial<ServeOptions> = {}, repository = tempDir()) {
  const messages: string[] = [];
  const server = track(
    createServer({ repository, token: TOKEN, logAll: true, log: (m) => messages.push(m), ...options }),
  );
  const url = await server.listen(0);
  return { url, server, repository, messages };
}

async function entriesOf(url: string): Promise<Json[]> {
  const read = await call(url, "/v2/logs/models/m?since=0&limit=1000", undefined, auth);
  expect(read.status, read.text).toBe(200);
  return read.json.entries;
}

describe("the inference log's privacy policy on a server", () => {
  it("hashes tagged inputs with the project's key as Python's hmac does; untagged inputs stay", async () => {
    const { url, repository, messages } = await start();
    const load = await call(
      url,
      "/v2/repository/models/m/load",
      loadBody({ policy: { tagged: "hash" }, tagged: ["color"], key: KEY }),
      auth,
    );
    expect(load.status, load.text).toBe(200);
    for (const [id, colors] of [
      ["r1", ["red", "green"]],
      ["r2", ["red"]],
      ["r3", ["blue ü"]],
    ] as const) {
      const answer = await call(
        url,
        "/v2/models/m/infer",
        request(
          colors.map(() => 1.5),
          [...colors],
          id,
        ),
      );
      expect(answer.status, answer.text).toBe(200);
    }
    const entries = await entriesOf(url);
    expect(entries.map((e) => e.requestId)).toEqual(["r1", "r2", "r3"]);
    const expected = pythonHashes(KEY, ["red", "green", "blue ü"]);
    const colorOf = (e: Json) => e.inputs.find((t: Json) => t.name === "color");
    expect(colorOf(entries[0])).toMatchObject({ datatype: "BYTES", data: [expected[0], expected[1]] });
    // Equal values, equal hashes: categories and joins still work.
    expect(colorOf(entries[1]).data).toEqual([expected[0]]);
    expect(colorOf(entries[2]).data).toEqual([expected[2]]);
    expect(entries[0].privacy).toEqual({ hashed: ["color"] });
    expect(entries[0].inputs.find((t: Json) => t.name === "x").data).toEqual([1.5, 1.5]);
    // Nowhere in clear: not on disk, not in memory (the log API without since).
    const disk = readFileSync(join(repository, "m", "inference-log.jsonl"), "utf8");
    expect(disk).not.toMatch(/"red"|"green"|blue ü/);
    const memory = await call(url, "/v2/logs/models/m?limit=10", undefined, auth);
    expect(memory.text).not.toMatch(/"red"|"green"/);
    // Feedback still joins by request id.
    const fb = await call(url, "/v2/models/m/feedback", { feedback: [{ id: "r1", label: "high" }] }, auth);
    expect(fb.status, fb.text).toBe(200);
    expect(fb.json.unknown ?? 0).toBe(0);
    // The key: in a 0600 file, never in an answer or a server message.
    const file = join(repository, "m", PRIVACY_FILE);
    if (process.platform !== "win32") expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, "utf8")).key).toBe(KEY);
    // Model metadata (no token) says what the log keeps of the version's personal inputs: never the key.
    const meta = await call(url, "/v2/models/m");
    expect(JSON.parse(meta.json.parameters.dagwood_log_policy)).toEqual({
      tagged: "hash",
      inputs: ["color"],
    });
    for (const path of ["/v2", "/v2/models/m", "/v2/models/m/versions/1"]) {
      const r = await call(url, path);
      expect(r.status).toBe(200);
      expect(r.text).not.toContain(KEY);
    }
    for (const [path, body] of [
      ["/v2/repository/index", {}],
      ["/v2/repository/models/m/traffic", undefined],
      ["/v2/logs/models/m?since=0", undefined],
    ] as const) {
      const r = await call(url, path, body, auth);
      expect(r.status, path).toBe(200);
      expect(r.text).not.toContain(KEY);
    }
    expect(messages.join("\n")).not.toContain(KEY);
  });

  it("hashes a numeric input as its text (a BYTES tensor of hashes) when it is tagged", async () => {
    const { url } = await start();
    const load = await call(
      url,
      "/v2/repository/models/m/load",
      loadBody({ policy: { tagged: "hash" }, tagged: ["x", "color"], key: KEY }),
      auth,
    );
    expect(load.status, load.text).toBe(200);
    expect((await call(url, "/v2/models/m/infer", request([1.5, 7.25], ["red", "red"], "n1"))).status).toBe(
      200,
    );
    const [entry] = await entriesOf(url);
    const x = entry.inputs.find((t: Json) => t.name === "x");
    expect(x).toMatchObject({ datatype: "BYTES", shape: [2, 1], data: pythonHashes(KEY, ["1.5", "7.25"]) });
    expect(entry.privacy).toEqual({ hashed: ["x", "color"] });
  });

  it("drops tagged inputs (and says so), or keeps them in clear when the policy says clear", async () => {
    const dropped = await start();
    const load = await call(
      dropped.url,
      "/v2/repository/models/m/load",
      loadBody({ policy: { tagged: "drop" }, tagged: ["color"] }),
      auth,
    );
    expect(load.status, load.text).toBe(200);
    await call(dropped.url, "/v2/models/m/infer", request([2], ["green"], "d1"));
    const [d] = await entriesOf(dropped.url);
    expect(d.inputs.map((t: Json) => t.name)).toEqual(["x"]);
    expect(d.privacy).toEqual({ dropped: ["color"] });
    expect(JSON.parse(readFileSync(join(dropped.repository, "m", PRIVACY_FILE), "utf8")).key).toBeUndefined();

    const clear = await start();
    await call(
      clear.url,
      "/v2/repository/models/m/load",
      loadBody({ policy: { tagged: "clear" }, tagged: ["color"] }),
      auth,
    );
    await call(clear.url, "/v2/models/m/infer", request([2], ["green"], "c1"));
    const [c] = await entriesOf(clear.url);
    expect(c.inputs.find((t: Json) => t.name === "color").data).toEqual(["green"]);
    expect(c.privacy).toEqual({ clear: ["color"] });
  });

  it("logs as before for a model with no tagged inputs, and for a load without the parameter", async () => {
    const { url } = await start();
    await call(
      url,
      "/v2/repository/models/m/load",
      loadBody({ policy: { tagged: "hash" }, tagged: [] }),
      auth,
    );
    await call(url, "/v2/models/m/infer", request([2], ["green"], "p1"));
    const [e] = await entriesOf(url);
    expect(e.privacy).toBeUndefined();
    expect(e.inputs.find((t: Json) => t.name === "color").data).toEqual(["green"]);
  });

  it("applies a version's tagged inputs to every version of the model: the shadow tags color, the primary's entry hashes it too", async () => {
    const { url } = await start();
    const v1 = await call(
      url,
      "/v2/repository/models/m/load",
      loadBody({ policy: { tagged: "hash" }, tagged: [] }),
      auth,
    );
    expect(v1.status, v1.text).toBe(200);
    const v2 = await call(
      url,
      "/v2/repository/models/m/load",
      {
        parameters: {
          "file:2/model.onnx": Buffer.from(model).toString("base64"),
          dagwood_keep_primary: true,
          dagwood_privacy: JSON.stringify({ policy: { tagged: "hash" }, tagged: ["color"], key: KEY }),
        },
      },
      auth,
    );
    expect(v2.status, v2.text).toBe(200);
    const traffic = await call(
      url,
      "/v2/repository/models/m/traffic",
      { primary: 1, shadow: { version: 2 } },
      auth,
    );
    expect(traffic.status, traffic.text).toBe(200);
    await call(url, "/v2/models/m/infer", request([2], ["blue"], "s1"));
    let entries: Json[] = [];
    for (let i = 0; i < 50 && entries.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 20));
      entries = await entriesOf(url);
    }
    const byRole = Object.fromEntries(entries.map((e) => [e.role, e]));
    expect(byRole.primary.version).toBe(1);
    // The primary ran on the same request: its entry hashes color too, or "blue" would sit in the
    // log in clear beside its hash under the same request id.
    expect(byRole.primary.privacy).toEqual({ hashed: ["color"] });
    expect(byRole.primary.inputs.find((t: Json) => t.name === "color").data).toEqual(
      pythonHashes(KEY, ["blue"]),
    );
    expect(byRole.shadow.version).toBe(2);
    expect(byRole.shadow.privacy).toEqual({ hashed: ["color"] });
    expect(byRole.shadow.inputs.find((t: Json) => t.name === "color").data).toEqual(
      pythonHashes(KEY, ["blue"]),
    );
  });

  it("hashes the tagged inputs of a version loaded before the model had a privacy file", async () => {
    const { url } = await start();
    expect((await call(url, "/v2/repository/models/m/load", loadBody(), auth)).status).toBe(200);
    const v2 = await call(
      url,
      "/v2/repository/models/m/load",
      {
        parameters: {
          "file:2/model.onnx": Buffer.from(model).toString("base64"),
          dagwood_keep_primary: true,
          dagwood_privacy: JSON.stringify({ policy: { tagged: "hash" }, tagged: ["color"], key: KEY }),
        },
      },
      auth,
    );
    expect(v2.status, v2.text).toBe(200);
    await call(url, "/v2/models/m/versions/1/infer", request([2], ["teal"], "old"));
    const [e] = await entriesOf(url);
    expect(e.version).toBe(1);
    expect(e.privacy).toEqual({ hashed: ["color"] });
    expect(e.inputs.find((t: Json) => t.name === "color").data).toEqual(pythonHashes(KEY, ["teal"]));
    const meta = await call(url, "/v2/models/m/versions/1");
    expect(JSON.parse(meta.json.parameters.dagwood_log_policy)).toEqual({
      tagged: "hash",
      inputs: ["color"],
    });
  });

  it("logs no input of a model whose privacy file cannot be read at start (never in clear), and says so", async () => {
    const first = await start();
    await call(
      first.url,
      "/v2/repository/models/m/load",
      loadBody({ policy: { tagged: "hash" }, tagged: ["color"], key: KEY }),
      auth,
    );
    await close(first.server);
    // Cut short in the middle of the key: the server's message must not quote it.
    const file = join(first.repository, "m", PRIVACY_FILE);
    const text = readFileSync(file, "utf8");
    writeFileSync(file, text.slice(0, text.indexOf(KEY) + 40));
    const again = await start({}, first.repository);
    const answer = await call(again.url, "/v2/models/m/infer", request([3], ["mauve"], "after"));
    expect(answer.status, answer.text).toBe(200);
    const [e] = await entriesOf(again.url);
    expect(e.inputs).toEqual([]);
    expect(e.privacy).toEqual({ dropped: ["color", "x"] });
    expect(JSON.stringify(e)).not.toContain("mauve");
    expect(again.messages.join("\n")).toMatch(/privacy\.json of model m cannot be read.*inputs are left out/);
    expect(again.messages.join("\n")).not.toContain(KEY.slice(0, 40));
    // A load that fails half-way puts the unreadable file back, and with it the rule.
    const broken = await call(
      again.url,
      "/v2/repository/models/m/load",
      {
        parameters: {
          "file:2/model.onnx": Buffer.from("not a model").toString("base64"),
          dagwood_keep_primary: true,
          dagwood_privacy: JSON.stringify({ policy: { tagged: "hash" }, tagged: [] }),
        },
      },
      auth,
    );
    expect(broken.status, broken.text).toBe(400);
    await call(again.url, "/v2/models/m/infer", request([3], ["mauve"], "after failed load"));
    expect((await entriesOf(again.url)).at(-1).inputs).toEqual([]);
    expect(readFileSync(file, "utf8")).toBe(text.slice(0, text.indexOf(KEY) + 40));
    // A deploy writes the file again: the model's tagged inputs are hashed, the others logged.
    await call(
      again.url,
      "/v2/repository/models/m/load",
      loadBody({ policy: { tagged: "hash" }, tagged: ["color"], key: KEY }),
      auth,
    );
    await call(again.url, "/v2/models/m/infer", request([4], ["mauve"], "redeployed"));
    const last = (await entriesOf(again.url)).at(-1);
    expect(last.privacy).toEqual({ hashed: ["color"] });
    expect(last.inputs.map((t: Json) => t.name).sort()).toEqual(["color", "x"]);
  });

  it("refuses a bad privacy parameter with a 400 that names it and never repeats a key", async () => {
    const { url, repository } = await start();
    const cases: [unknown, RegExp][] = [
      [{ policy: { tagged: "scramble" } }, /dagwood_privacy\.policy\.tagged/],
      [{ policy: { tagged: "hash", retentionDays: 0 } }, /retentionDays/],
      [{ policy: { tagged: "hash", retentionDays: -3 } }, /retentionDays/],
      [{ policy: {}, tagged: ["color"], key: "not-hex-secret-value" }, /64 hex digits/],
      [{ policy: {}, tagged: ["color"] }, /no key/],
      [{ policy: {}, tagged: "color" }, /array of input names/],
      ["{not json", /not JSON/],
    ];
    for (const [privacy, message] of cases) {
      const r = await call(url, "/v2/repository/models/m/load", loadBody(privacy), auth);
      expect(r.status, r.text).toBe(400);
      expect(r.json.error).toMatch(message);
      expect(r.text).not.toContain("not-hex-secret-value");
    }
    expect(existsSync(join(repository, "m", "1"))).toBe(false);
    expect(existsSync(join(repository, "m", PRIVACY_FILE))).toBe(false);
    // A valid parameter with a model onnxruntime refuses: nothing is left, not even the folder.
    const broken = await call(
      url,
      "/v2/repository/models/m/load",
      {
        parameters: {
          "file:1/model.onnx": Buffer.from("not a model").toString("base64"),
          dagwood_privacy: JSON.stringify({ policy: { tagged: "drop" }, tagged: ["color"] }),
        },
      },
      auth,
    );
    expect(broken.status, broken.text).toBe(400);
    expect(existsSync(join(repository, "m"))).toBe(false);
  });

  it("keeps hashing after a restart (privacy.json is read back)", async () => {
    const first = await start();
    await call(
      first.url,
      "/v2/repository/models/m/load",
      loadBody({ policy: { tagged: "hash" }, tagged: ["color"], key: KEY }),
      auth,
    );
    await close(first.server);
    const again = await start({}, first.repository);
    const answer = await call(again.url, "/v2/models/m/infer", request([3], ["red"], "after"));
    expect(answer.status, answer.text).toBe(200);
    const entries = await entriesOf(again.url);
    expect(entries.at(-1).inputs.find((t: Json) => t.name === "color").data).toEqual(
      pythonHashes(KEY, ["red"]),
    );
  });

  it("deletes entries older than the retention at start; seq numbers continue after them", async () => {
    const first = await start();
    await call(
      first.url,
      "/v2/repository/models/m/load",
      loadBody({ policy: { tagged: "hash", retentionDays: 30 }, tagged: [] }),
      auth,
    );
    for (let i = 0; i < 5; i++) await call(first.url, "/v2/models/m/infer", request([i], ["red"], `old${i}`));
    expect(await entriesOf(first.url)).toHaveLength(5);
    await close(first.server);
    // 29 days on: nothing is old enough.
    const at29 = await start({ logClock: () => Date.now() + 29 * DAY }, first.repository);
    expect(await entriesOf(at29.url)).toHaveLength(5);
    await close(at29.server);
    // 31 days on: all five go, and the server says how many (never what).
    const later = await start({ logClock: () => Date.now() + 31 * DAY }, first.repository);
    expect(await entriesOf(later.url)).toHaveLength(0);
    expect(later.messages.join("\n")).toMatch(/retention removed 5 entries/);
    const record = JSON.parse(readFileSync(join(first.repository, "m", RETENTION_FILE), "utf8"));
    expect(record).toMatchObject({ entries: 5, throughSeq: 5 });
    await call(later.url, "/v2/models/m/infer", request([1], ["red"], "new"));
    const [fresh] = await entriesOf(later.url);
    expect(fresh.seq).toBe(6);
  });
});

describe("retention in the log itself", () => {
  function entry(time: number, i: number): Omit<InferenceLogEntry, "seq"> {
    return {
      time: new Date(time).toISOString(),
      requestId: `q${i}`,
      model: "m",
      version: 1,
      role: "primary",
      latencyMs: 1,
      inputs: [{ name: "x", datatype: "FP64", shape: [1, 1], data: [i] }],
      outputs: [],
    };
  }

  it("deletes whole segments, rewrites the one holding the cut, and purges memory, on an injected clock", async () => {
    const repository = tempDir();
    const now = Date.parse("2026-06-01T00:00:00Z");
    let clock = now;
    mkdirSync(join(repository, "m"));
    const log = new InferenceLog({ repository, maxFileBytes: 4096, maxDiskBytes: 1 << 30, now: () => clock });
    log.privacy.set("m", { policy: { tagged: "hash", retentionDays: 7 }, tagged: {} });
    // 200 entries, one an hour, ending now: 7 days back is entry 200 - 168.
    for (let i = 0; i < 200; i++) {
      log.add(entry(now - (199 - i) * 3_600_000, i));
      if (i % 20 === 19) await log.flush();
    }
    await log.flush();
    const segmentsBefore = readdirSync(join(repository, "m")).filter((f) => /\.\d+\.jsonl$/.test(f));
    expect(segmentsBefore.length).toBeGreaterThan(2);
    const results = await log.retain();
    const r = results.get("m")!;
    // Entries at or before the cutoff: times now-199h .. now-168h, 32 of them.
    expect(r.entries).toBe(32);
    expect(r.deletedFiles.length).toBeGreaterThan(0);
    expect(r.rewrittenFiles.length).toBe(1);
    const page = await log.readForward("m", { since: { seq: 0 }, limit: 1000 });
    expect(page.entries.map((e) => e.requestId)).toEqual(Array.from({ length: 168 }, (_, k) => `q${k + 32}`));
    expect(log.read("m", { limit: 1000 })).toHaveLength(168);
    // No temp file is left, and appends continue into the current file.
    expect(readdirSync(join(repository, "m")).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    log.add(entry(now + 1000, 999));
    await log.flush();
    expect((await log.readForward("m", { since: { seq: 0 }, limit: 1000 })).entries).toHaveLength(169);
    // An hour on, the next pass removes one more.
    clock = now + 3_600_000;
    expect((await log.retain()).get("m")!.entries).toBe(1);
    await log.close();
  });

  it("removes what an interrupted rewrite left (a temp file), and a model without retention is left alone", async () => {
    const repository = tempDir();
    const now = Date.now();
    mkdirSync(join(repository, "m"));
    mkdirSync(join(repository, "keep"));
    const log = new InferenceLog({ repository, now: () => now + 10 * DAY });
    log.privacy.set("m", { policy: { tagged: "hash", retentionDays: 1 }, tagged: {} });
    log.privacy.set("keep", { policy: { tagged: "hash" }, tagged: {} });
    log.add(entry(now, 1));
    log.add({ ...entry(now, 2), model: "keep" });
    await log.flush();
    writeFileSync(join(repository, "m", ".inference-log.jsonl.abc123.tmp"), "half a line");
    const results = await log.retain();
    expect(results.get("m")!.entries).toBe(1);
    expect(results.has("keep")).toBe(false);
    expect(readdirSync(join(repository, "m")).some((f) => f.endsWith(".tmp"))).toBe(false);
    expect((await log.readForward("keep", { since: { seq: 0 } })).entries).toHaveLength(1);
    await log.close();
  });

  it("runs hourly on its own timer (unref'd), without a restart", async () => {
    const repository = tempDir();
    const now = Date.now();
    let clock = now;
    mkdirSync(join(repository, "m"));
    const log = new InferenceLog({ repository, now: () => clock, retentionIntervalMs: 50 });
    await log.init();
    log.privacy.set("m", { policy: { tagged: "hash", retentionDays: 1 }, tagged: {} });
    log.add(entry(now, 1));
    await log.flush();
    await new Promise((r) => setTimeout(r, 200));
    expect((await log.readForward("m", { since: { seq: 0 } })).entries).toHaveLength(1);
    clock = now + 2 * DAY;
    await new Promise((r) => setTimeout(r, 300));
    expect((await log.readForward("m", { since: { seq: 0 } })).entries).toHaveLength(0);
    await log.close();
  });
});
