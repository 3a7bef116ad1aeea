/**
 * Logging every request within a byte budget, and feedback labels
 * (`POST /v2/models/{m}/feedback`), on a real server on loopback.
 */
import { appendFileSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { serveCommand } from "./cli";
import { FEEDBACK_MAX_BATCH } from "./feedback";
import { createServer, type ServeOptions } from "./server";
import { testServers } from "./test-servers";
import { trainTestModel } from "./testing";

// biome-ignore lint/suspicious/noExplicitAny: the tests read response fields freely
type Json = any;

const TOKEN = "feedback-token";
const auth = { authorization: `Bearer ${TOKEN}` };
const { tempDir, track, close } = testServers("dagwood-logfb-");

let model: Uint8Array;
let xType: string;

beforeAll(async () => {
  const trained = await trainTestModel({ task: "classification" });
  model = trained.bytes;
  xType = trained.model.signature.inputs.find((i) => i.name === "x")!.dtype;
});

async function start(options: Partial<ServeOptions> = {}) {
  const server = track(createServer({ repository: tempDir(), token: TOKEN, log: () => {}, ...options }));
  const url = await server.listen(0);
  const load = await call(
    url,
    "/v2/repository/models/m/load",
    { parameters: { "file:1/model.onnx": Buffer.from(model).toString("base64") } },
    auth,
  );
  expect(load.status, JSON.stringify(load.json)).toBe(200);
  return { url, server, dir: server.manager.repository.dir };
}

async function call(url: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}${path}`, {
    method: body === undefined ? "GET" : "POST",
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

function request(xs: number[], colors: string[], id?: string) {
  return {
    ...(id === undefined ? {} : { id }),
    inputs: [
      { name: "x", datatype: xType, shape: [xs.length, 1], data: xs },
      { name: "color", datatype: "BYTES", shape: [colors.length, 1], data: colors },
    ],
  };
}

/** Every entry after `since` over the log API, page by page. */
async function readAll(url: string, model: string, since = 0, limit = 100) {
  const entries: Json[] = [];
  let at = since;
  let last: Json;
  for (;;) {
    last = await call(url, `/v2/logs/models/${model}?since=${at}&limit=${limit}`, undefined, auth);
    expect(last.status, JSON.stringify(last.json)).toBe(200);
    entries.push(...last.json.entries);
    if (!last.json.more) break;
    at = last.json.next;
  }
  return { entries, last: last.json };
}

describe("logging every request", () => {
  it("logs every request under load, whole, and pages through them from disk", async () => {
    const { url } = await start({ logAll: true });
    const meta = await call(url, "/v2");
    expect(meta.json.inference_log).toMatchObject({ mode: "all", sampleRate: 1, maxPerSecond: null });
    // 600 requests, 50 at a time: over the default cap of 100 a second, which log-all lifts.
    const sent: string[] = [];
    for (let wave = 0; wave < 12; wave++) {
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) => {
          const id = `w${wave}-${i}`;
          sent.push(id);
          return call(url, "/v2/models/m/infer", request([i % 10], ["red"], id));
        }),
      );
      for (const a of answers) expect(a.status).toBe(200);
    }
    // A request without an id gets one, told in a header; a 250-row request is kept whole.
    const big = await call(
      url,
      "/v2/models/m/infer",
      request(
        Array.from({ length: 250 }, (_, i) => i % 10),
        new Array(250).fill("blue"),
      ),
    );
    const madeUp = big.headers.get("x-dagwood-request-id");
    expect(madeUp).toMatch(/^[0-9a-f-]{36}$/);
    expect(big.json.id).toBeUndefined();
    const { entries, last } = await readAll(url, "m", 0, 64);
    expect(entries).toHaveLength(601);
    expect(new Set(entries.map((e) => e.requestId))).toEqual(new Set([...sent, madeUp]));
    // Oldest first, in seq order.
    const seqs = entries.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    const whole = entries.find((e) => e.requestId === madeUp);
    expect(whole.inputs[0].data).toHaveLength(250);
    expect(whole.inputs[0].truncated).toBeUndefined();
    expect(last).toMatchObject({ dropped: { entries: 0 }, complete: true });
    // A time window: entries after the 300th's time.
    const cut = entries[299].time;
    const byTime = await readAll(url, "m", Date.parse(cut), 1000);
    expect(byTime.entries.every((e) => Date.parse(e.time) > Date.parse(cut))).toBe(true);
    expect(byTime.entries.length).toBe(entries.filter((e) => Date.parse(e.time) > Date.parse(cut)).length);
  });

  it("keeps the sampled default: at most 100 entries a second per model", async () => {
    const { url } = await start();
    expect((await call(url, "/v2")).json.inference_log).toMatchObject({
      mode: "sampled",
      maxPerSecond: 100,
      maxRows: 100,
    });
    const started = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 300 }, (_, i) => call(url, "/v2/models/m/infer", request([1], ["red"], `s${i}`))),
    );
    const seconds = (performance.now() - started) / 1000;
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const { entries } = await readAll(url, "m");
    // A bucket of 100, refilled at 100 a second.
    expect(entries.length).toBeGreaterThanOrEqual(100);
    expect(entries.length).toBeLessThanOrEqual(Math.min(300, 100 + Math.ceil(100 * seconds)));
  });

  it("drops the oldest entries past the byte budget, counts them, and never refuses a request", async () => {
    const budget = 64 * 1024;
    const { url, dir, server } = await start({ logAll: true, logMaxDiskBytes: budget });
    let sent = 0;
    for (let wave = 0; wave < 10; wave++) {
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          call(url, "/v2/models/m/infer", request([i % 10, 1, 2], ["red", "green", "blue"], `b${sent++}`)),
        ),
      );
      // Flush between waves, as the server's timer would: each flush makes room before it writes.
      await readAll(url, "m", 1e10 - 1);
    }
    const { entries, last } = await readAll(url, "m", 0, 1000);
    expect(last.dropped.entries).toBeGreaterThan(0);
    // Nothing lost silently: kept + dropped = sent, and what was dropped is the oldest.
    expect(entries.length + last.dropped.entries).toBe(sent);
    expect(entries[0].seq).toBe(last.dropped.throughSeq + 1);
    expect(entries[entries.length - 1].requestId).toBe(`b${sent - 1}`);
    expect(last.complete).toBe(false);
    const files = readdirSync(join(dir, "m")).filter((f) => /^inference-log(\.\d+)?\.jsonl$/.test(f));
    const onDisk = files.reduce((sum, f) => sum + statSync(join(dir, "m", f)).size, 0);
    expect(onDisk).toBeLessThanOrEqual(budget);
    expect(files.length).toBeGreaterThan(1);
    const metrics = await fetch(`${url}/metrics`).then((r) => r.text());
    expect(metrics).toContain(`dagwood_inference_log_dropped_total{model="m"} ${last.dropped.entries}`);
    // The count survives a restart, and seq keeps increasing past what was dropped.
    await close(server);
    const again = track(createServer({ repository: dir, token: TOKEN, log: () => {}, logAll: true }));
    const url2 = await again.listen(0);
    const after = await call(url2, "/v2/logs/models/m", undefined, auth);
    expect(after.json.dropped).toEqual(last.dropped);
    expect((await call(url2, "/v2/models/m/infer", request([1], ["red"], "late"))).status).toBe(200);
    const tail = await readAll(url2, "m", entries[entries.length - 1].seq);
    expect(tail.entries.map((e) => e.requestId)).toEqual(["late"]);
  });

  it("reads a log whose last line a crash cut, and continues on a new line", async () => {
    const { url, dir, server } = await start({ logAll: true });
    await call(url, "/v2/models/m/infer", request([1], ["red"], "before"));
    await close(server);
    appendFileSync(
      join(dir, "m", "inference-log.jsonl"),
      '{"seq":999,"time":"2026-01-01T00:00:00.000Z","req',
    );
    const again = track(createServer({ repository: dir, token: TOKEN, log: () => {}, logAll: true }));
    const url2 = await again.listen(0);
    await call(url2, "/v2/models/m/infer", request([1], ["red"], "after"));
    const { entries } = await readAll(url2, "m");
    expect(entries.map((e) => e.requestId)).toEqual(["before", "after"]);
    expect(entries[1].seq).toBe(1000); // the cut line's seq is still honoured
  });
});

describe("feedback", () => {
  it("stores labels for logged requests, counts unknown ids, and keeps the latest label of a duplicate", async () => {
    const { url, dir } = await start({ logAll: true });
    for (const id of ["a", "b", "c"]) await call(url, "/v2/models/m/infer", request([1], ["red"], id));
    const one = await call(url, "/v2/models/m/feedback", { id: "a", label: "high" }, auth);
    expect(one.status, JSON.stringify(one.json)).toBe(200);
    expect(one.json).toEqual({ model_name: "m", accepted: 1, unknownIds: [], replacedIds: [] });
    const batch = await call(
      url,
      "/v2/models/m/feedback",
      {
        feedback: [
          { id: "b", label: "low" },
          { id: "nope", label: "low" },
          { id: "a", label: "low" },
          { id: "c", label: 1 },
          { id: "c", label: true },
        ],
      },
      auth,
    );
    expect(batch.json).toEqual({
      model_name: "m",
      accepted: 5,
      unknownIds: ["nope"],
      replacedIds: ["a", "c"],
    });
    // On disk: one line per label, in order; the last label of an id is the one that counts.
    const lines = readFileSync(join(dir, "m", "feedback.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map(JSON.parse as (t: string) => Json);
    expect(lines.map((l) => [l.seq, l.id, l.label])).toEqual([
      [1, "a", "high"],
      [2, "b", "low"],
      [3, "nope", "low"],
      [4, "a", "low"],
      [5, "c", 1],
      [6, "c", true],
    ]);
    const read = await call(url, "/v2/logs/models/m/feedback?since=3&limit=2", undefined, auth);
    expect(read.json.feedback.map((f: Json) => f.seq)).toEqual([4, 5]);
    expect(read.json).toMatchObject({ more: true, next: 5 });
    // A header-made id is known too.
    const anonymous = await call(url, "/v2/models/m/infer", request([1], ["red"]));
    const id = anonymous.headers.get("x-dagwood-request-id")!;
    expect((await call(url, "/v2/models/m/feedback", { id, label: "low" }, auth)).json.unknownIds).toEqual(
      [],
    );
  });

  it("knows ids logged before a restart, and appends after a line a crash cut", async () => {
    const { url, dir, server } = await start({ logAll: true });
    await call(url, "/v2/models/m/infer", request([1], ["red"], "old"));
    await call(url, "/v2/models/m/feedback", { id: "old", label: "low" }, auth);
    await close(server);
    appendFileSync(join(dir, "m", "feedback.jsonl"), '{"seq":2,"time":"2026-01-0');
    const again = track(createServer({ repository: dir, token: TOKEN, log: () => {}, logAll: true }));
    const url2 = await again.listen(0);
    const r = await call(url2, "/v2/models/m/feedback", { id: "old", label: "high" }, auth);
    expect(r.json).toMatchObject({ accepted: 1, unknownIds: [], replacedIds: ["old"] });
    const read = await call(url2, "/v2/logs/models/m/feedback", undefined, auth);
    expect(read.json.feedback.map((f: Json) => [f.seq, f.label])).toEqual([
      [1, "low"],
      [2, "high"],
    ]);
  });

  it("refuses feedback without the token, too large, malformed, or for an unknown model", async () => {
    const { url } = await start();
    const path = "/v2/models/m/feedback";
    expect((await call(url, path, { id: "a", label: 1 })).status).toBe(401);
    expect((await call(url, path, { id: "a", label: 1 }, { authorization: "Bearer nope" })).status).toBe(401);
    const huge = await call(url, path, { id: "a", label: "x".repeat(1024 * 1024 + 10) }, auth);
    expect(huge.status).toBe(413);
    expect(huge.json.error).toMatch(/the feedback body is larger than 1048576 bytes/);
    const bad = await call(url, path, '{"id": "a", "label"', auth);
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/malformed JSON/);
    const cases: [unknown, RegExp][] = [
      [[], /must be a JSON object/],
      [{ id: "a" }, /has no "label"/],
      [{ id: "", label: 1 }, /"id" must be the request's id/],
      [{ id: 7, label: 1 }, /"id" must be the request's id/],
      [{ id: "a", label: null }, /"label" must be a string .*, a finite number or a boolean/],
      [{ id: "a", label: [1] }, /"label" must be/],
      [{ id: "a", label: 1, extra: 2 }, /unknown key "extra"/],
      [{ feedback: [] }, /"feedback" is empty/],
      [{ feedback: {} }, /must be an array/],
      [{ feedback: [{ id: "a", label: 1 }, { id: "b" }] }, /feedback\[1\] has no "label"/],
      [{ feedback: [], id: "a" }, /not both/],
    ];
    for (const [body, message] of cases) {
      const r = await call(url, path, body, auth);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error, JSON.stringify(body)).toMatch(message);
    }
    const tooMany = Array.from({ length: FEEDBACK_MAX_BATCH + 1 }, (_, i) => ({ id: `${i}`, label: 0 }));
    const many = await call(url, path, { feedback: tooMany }, auth);
    expect(many.status).toBe(413);
    expect(many.json.error).toMatch(/send at most 10000 per call/);
    // A refused call stores nothing.
    expect((await call(url, "/v2/logs/models/m/feedback", undefined, auth)).json.feedback).toEqual([]);
    expect((await call(url, "/v2/models/zz/feedback", { id: "a", label: 1 }, auth)).status).toBe(404);
    expect((await call(url, "/v2/models/m/versions/1/feedback", { id: "a", label: 1 }, auth)).status).toBe(
      404,
    );
    expect((await call(url, "/v2/logs/models/m/feedback?since=x", undefined, auth)).status).toBe(400);
  });
});

describe("dagwood serve flags", () => {
  const io = (err: { text: string }) =>
    ({
      stdout: { write: () => true },
      stderr: {
        write: (s: string) => {
          err.text += s;
          return true;
        },
      },
    }) as unknown as Parameters<typeof serveCommand>[1];

  it("refuses --log-all with sampling flags, and a budget below 64 KiB", async () => {
    const err = { text: "" };
    expect(await serveCommand(["--log-all", "--log-sample-rate", "0.5"], io(err))).toBe(2);
    expect(err.text).toMatch(/--log-all logs every request whole; drop --log-sample-rate/);
    expect(await serveCommand(["--log-max-bytes", "1000"], io(err))).toBe(2);
    expect(err.text).toMatch(/--log-max-bytes must be at least 65536/);
    expect(await serveCommand(["--log-max-rows", "0"], io(err))).toBe(2);
    expect(await serveCommand(["--log-max-bytes", "lots"], io(err))).toBe(2);
  });

  it("serves with --log-all --log-max-bytes and says so", async () => {
    let out = "";
    const repo = tempDir();
    writeFileSync(join(repo, "README"), "");
    const listeners: (() => void)[] = [];
    const done = serveCommand(
      ["--port", "0", "--repository", repo, "--log-all", "--log-max-bytes", "1000000"],
      {
        stdout: {
          write: (s: string) => {
            out += s;
            return true;
          },
        },
        stderr: { write: () => true },
      } as unknown as Parameters<typeof serveCommand>[1],
      { once: (_: string, l: () => void) => listeners.push(l) },
    );
    while (!out.includes("inference log")) await new Promise((r) => setTimeout(r, 20));
    expect(out).toMatch(/inference log: every request, at most 1000000 bytes on disk per model/);
    const url = /listening on (\S+)/.exec(out)![1]!;
    expect((await call(url, "/v2")).json.inference_log).toMatchObject({ mode: "all", maxDiskBytes: 1000000 });
    listeners[0]!();
    expect(await done).toBe(0);
  });
});
