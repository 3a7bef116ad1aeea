import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog } from "../../nodes/index";
import { Token } from "../net/http-guard";
import type { RunEvent } from "./api";
import { type CoreApi, createCoreApi } from "./core";
import { bridgeRoutes, type HttpBridge, MAX_BODY_BYTES, startHttpBridge } from "./http";
import { decodeNonFinite } from "./json-numbers";

const EXAMPLE = join(import.meta.dirname, "..", "..", "resources", "examples", "starter");

describe("HTTP bridge", () => {
  let dir: string;
  let api: CoreApi;
  let bridge: HttpBridge;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-http-"));
    mkdirSync(join(dir, "data"));
    mkdirSync(join(dir, "ui"));
    writeFileSync(join(dir, "data", "penguins.csv"), readFileSync(join(EXAMPLE, "data", "penguins.csv")));
    writeFileSync(join(dir, "penguins.dag.json"), readFileSync(join(EXAMPLE, "penguins.dag.json")));
    // An exported run holds a copy of its pipeline; the project's pipeline list must not show it.
    mkdirSync(join(dir, "exports", "run-1"), { recursive: true });
    writeFileSync(
      join(dir, "exports", "run-1", "pipeline.dag.json"),
      readFileSync(join(EXAMPLE, "penguins.dag.json")),
    );
    writeFileSync(join(dir, "ui", "index.html"), "<!doctype html><title>Dagwood</title>");
    api = await createCoreApi({ catalog, projectDir: dir });
    bridge = await startHttpBridge({ api, staticDir: join(dir, "ui") });
  });
  afterAll(async () => {
    await bridge.close();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const call = (method: string, args: unknown, headers: Record<string, string> = {}) =>
    fetch(`${bridge.origin}/api/${method}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-dagwood-token": bridge.token, ...headers },
      body: JSON.stringify(args),
    });
  const ok = async <T = unknown>(method: string, args: unknown = {}): Promise<T> => {
    const res = await call(method, args);
    const body = (await res.json()) as { result: T; error?: string };
    if (res.status !== 200) throw new Error(`${method}: ${res.status} ${body.error}`);
    return body.result;
  };

  it("listens on loopback only and serves the page under a path made of the token", () => {
    expect(bridge.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/[\w-]{20,}\/$/);
  });

  it("refuses requests without the token (401), from another Origin or Host (403)", async () => {
    const noToken = await fetch(`${bridge.origin}/api/listBlocks`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(noToken.status).toBe(401);
    expect((await call("listBlocks", {}, { "x-dagwood-token": "wrong" })).status).toBe(401);
    expect((await call("listBlocks", {}, { origin: "https://evil.example" })).status).toBe(403);
    // fetch may not set Host; a raw request can, as a DNS-rebinding page would make the browser do.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        `${bridge.origin}/api/listBlocks`,
        {
          method: "POST",
          headers: {
            host: "evil.example",
            "content-type": "application/json",
            "x-dagwood-token": bridge.token,
          },
        },
        (res) => resolve(res.statusCode ?? 0),
      );
      req.on("error", reject);
      req.end("{}");
    });
    expect(status).toBe(403);
    expect((await call("listBlocks", {}, { origin: bridge.origin })).status).toBe(200);
  });

  it("answers wrong-shaped arguments with 400 and the schema's message", async () => {
    const res = await call("previewTable", { table: "users; DROP TABLE x", limit: "ten" });
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: string };
    expect(error).toMatch(/Invalid arguments for previewTable: table: not a node output table name; limit:/);
    const notJson = await fetch(`${bridge.origin}/api/listBlocks`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-dagwood-token": bridge.token },
      body: "{nope",
    });
    expect(notJson.status).toBe(400);
    expect((await call("noSuchMethod", {})).status).toBe(404);
    const big = await call("validatePipeline", { document: { pad: "x".repeat(9 * 1024 * 1024) } });
    expect(big.status).toBe(413);
  });

  it("serves the UI with a CSP under the token's path only, and survives malformed URLs", async () => {
    const res = await fetch(bridge.url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-security-policy")).toMatch(/script-src 'self'/);
    expect(res.headers.get("set-cookie")).toBeNull();
    expect((await fetch(`${bridge.origin}/`)).status).toBe(401);
    expect((await fetch(`${bridge.origin}/${"x".repeat(32)}/`)).status).toBe(401);
    expect((await fetch(`${bridge.url}%ZZ`)).status).toBe(400);
    const traversal = await fetch(`${bridge.url}..%2F..%2Fpenguins.dag.json`);
    expect(await traversal.text()).not.toMatch(/dagwood\.pipeline/);
    // still alive
    expect((await fetch(bridge.url)).status).toBe(200);
  });

  it("opens, validates, saves and refuses paths outside the project", async () => {
    const project = await ok<{ pipelines: string[] }>("getProject");
    expect(project.pipelines).toEqual(["penguins.dag.json"]);
    const blocks =
      await ok<{ kind: string; paramsSchema: { properties: Record<string, unknown> } }[]>("listBlocks");
    expect(blocks.find((b) => b.kind === "split")!.paramsSchema.properties).toHaveProperty("testFraction");
    const loaded = await ok<{ text: string; document: Record<string, unknown>; problems: unknown[] }>(
      "loadPipeline",
      {
        path: "penguins.dag.json",
      },
    );
    expect(loaded.problems).toEqual([]);
    const saved = await ok<{ text: string }>("savePipeline", {
      path: "copy.dag.json",
      document: loaded.document,
    });
    expect(saved.text).toBe(loaded.text);
    expect(readFileSync(join(dir, "copy.dag.json"), "utf8")).toBe(loaded.text);
    expect(
      (await call("savePipeline", { path: "../escape.dag.json", document: loaded.document })).status,
    ).toBe(403);
    expect((await call("loadPipeline", { path: "/etc/passwd" })).status).toBe(400);

    const withUnknown = structuredClone(loaded.document) as { nodes: { block: string; params: unknown }[] };
    withUnknown.nodes[0] = { ...withUnknown.nodes[0]!, block: "from.the.future", params: { keep: [1, 2] } };
    const { problems } = await ok<{ problems: { message: string }[] }>("validatePipeline", {
      document: withUnknown,
    });
    expect(problems[0]!.message).toMatch(/Unknown block "from\.the\.future"/);
    const kept = await ok<{ text: string }>("savePipeline", {
      path: "future.dag.json",
      document: withUnknown,
    });
    expect(kept.text).toMatch(/"from\.the\.future"/);
    expect(kept.text).toMatch(/"keep": \[\s+1,\s+2\s+\]/);
  });

  it("runs a pipeline, streams its events, and previews and profiles its tables", async () => {
    const events: RunEvent[] = [];
    const controller = new AbortController();
    const stream = await fetch(`${bridge.origin}/api/events`, {
      headers: { "x-dagwood-token": bridge.token },
      signal: controller.signal,
    });
    const reading = (async () => {
      const decoder = new TextDecoder();
      let buffer = "";
      for await (const chunk of stream.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk);
        let end = buffer.indexOf("\n\n");
        while (end >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (frame.startsWith("data: ")) events.push(JSON.parse(frame.slice(6)));
          end = buffer.indexOf("\n\n");
        }
        if (events.some((e) => e.type === "run.finished")) return;
      }
    })();
    const loaded = await ok<{ document: Record<string, unknown> }>("loadPipeline", {
      path: "penguins.dag.json",
    });
    const before = await ok<{ nodes: Record<string, string> }>("cacheState", { document: loaded.document });
    expect(new Set(Object.values(before.nodes))).toEqual(new Set(["stale"]));
    const { runId } = await ok<{ runId: string }>("startRun", {
      document: loaded.document,
      path: "penguins.dag.json",
    });
    await reading;
    controller.abort();
    expect(
      events.filter((e) => e.type === "node.finished").map((e) => (e as { status: string }).status),
    ).toEqual(["ran", "ran", "ran", "ran"]);
    const after = await ok<{ nodes: Record<string, string> }>("cacheState", { document: loaded.document });
    expect(new Set(Object.values(after.nodes))).toEqual(new Set(["cached"]));

    const detail = await ok<{
      run: { status: string };
      nodes: { nodeId: string; outputs: Record<string, { table?: string }> }[];
    }>("getRun", { runId });
    expect(detail.run.status).toBe("succeeded");
    const table = detail.nodes.find((n) => n.nodeId === "penguins")!.outputs.out!.table!;
    const page = await ok<{ rows: Record<string, unknown>[]; total: number; columns: unknown[] }>(
      "previewTable",
      {
        table,
        offset: 10,
        limit: 5,
        orderBy: { column: "body_mass_g", desc: true },
      },
    );
    expect(page.total).toBe(344);
    expect(page.rows).toHaveLength(5);
    const masses = page.rows.map((r) => r.body_mass_g as number);
    expect([...masses].sort((a, b) => b - a)).toEqual(masses);
    expect((await call("previewTable", { table, orderBy: { column: "nope" } })).status).toBe(400);
    // Paging a sort with many ties (3 species) still returns every row exactly once.
    const seen: string[] = [];
    for (let offset = 0; offset < 344; offset += 20) {
      const p = await ok<{ rows: Record<string, unknown>[] }>("previewTable", {
        table,
        offset,
        limit: 20,
        orderBy: { column: "species" },
      });
      seen.push(...p.rows.map((r) => JSON.stringify(r)));
    }
    const all = await ok<{ rows: Record<string, unknown>[] }>("previewTable", { table, limit: 344 });
    expect(seen.sort()).toEqual(all.rows.map((r) => JSON.stringify(r)).sort());
    expect((await call("previewTable", { table: "t_00_out" })).status).toBe(404);

    const profile = await ok<{ rows: number; columns: { name: string; kind: string }[] }>("profileTable", {
      table,
    });
    expect(profile.rows).toBe(344);
    expect(profile.columns.find((c) => c.name === "species")!.kind).toBe("categorical");
    const report = await ok<{ data: { kind: string } }>("getReport", {
      runId,
      nodeId: "profile",
      port: "report",
    });
    expect(report.data.kind).toBe("profile");
    const runs = await ok<{ id: string }[]>("listRuns", {});
    expect(runs[0]!.id).toBe(runId);
  });
});

describe("HTTP bridge numbers", () => {
  it("carries NaN and ±Infinity in results, arguments and events, which plain JSON turns into null", async () => {
    const listeners = new Set<(e: unknown) => void>();
    let received: unknown;
    const fake = {
      async call(_method: string, args: unknown) {
        received = args;
        return { metrics: { "eval.r2": Number.NaN, "eval.max": Number.POSITIVE_INFINITY }, low: -Infinity };
      },
      onEvent(listener: (e: unknown) => void) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    } as unknown as CoreApi;
    const bridge = await startHttpBridge({ api: fake });
    try {
      const res = await fetch(`${bridge.origin}/api/getRun`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-dagwood-token": bridge.token },
        body: JSON.stringify({ value: { $number: "-Infinity" }, n: 1 }),
      });
      const text = await res.text();
      expect(text).not.toMatch(/null/);
      const body = JSON.parse(text, decodeNonFinite) as { result: Record<string, unknown> };
      expect(body.result).toEqual({
        metrics: { "eval.r2": Number.NaN, "eval.max": Number.POSITIVE_INFINITY },
        low: Number.NEGATIVE_INFINITY,
      });
      expect(Number.isNaN((body.result.metrics as Record<string, number>)["eval.r2"])).toBe(true);
      expect(received).toEqual({ value: Number.NEGATIVE_INFINITY, n: 1 });

      const controller = new AbortController();
      const stream = await fetch(`${bridge.origin}/api/events?token=${bridge.token}`, {
        signal: controller.signal,
      });
      const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
      await reader.read(); // ": connected"
      for (const l of listeners) l({ type: "node.metric", name: "loss", value: Number.NaN });
      const { value } = await reader.read();
      controller.abort();
      const frame = new TextDecoder().decode(value);
      const event = JSON.parse(frame.replace(/^data: /, ""), decodeNonFinite) as { value: number };
      expect(Number.isNaN(event.value)).toBe(true);
    } finally {
      await bridge.close();
    }
  });

  it("leaves objects that only look tagged, and finite numbers, as they are", () => {
    const text = JSON.stringify({ a: { $number: "NaN", other: 1 }, b: { $number: "zero" }, c: 1.5 });
    expect(JSON.parse(text, decodeNonFinite)).toEqual({
      a: { $number: "NaN", other: 1 },
      b: { $number: "zero" },
      c: 1.5,
    });
  });
});

describe("HTTP bridge routes", () => {
  const calls: string[] = [];
  const fake = {
    async call(method: string) {
      calls.push(method);
      return { ok: true };
    },
    onEvent: () => () => {},
  } as unknown as CoreApi;

  /** A raw request: fetch cannot set Host, and would declare the body's length. */
  function raw(
    url: string,
    method: string,
    headers: Record<string, string>,
    chunks: Buffer[] = [],
  ): Promise<{ status: number; text: string; connection?: string }> {
    return new Promise((resolve, reject) => {
      const req = request(url, { method, headers }, (res) => {
        let text = "";
        res.on("data", (d) => {
          text += d;
        });
        res.on("end", () => resolve({ status: res.statusCode!, text, connection: res.headers.connection }));
      });
      req.on("error", (e: NodeJS.ErrnoException) => {
        if (e.code !== "ECONNRESET" && e.code !== "EPIPE") reject(e);
      });
      for (const c of chunks) req.write(c);
      req.end();
    });
  }

  it("every route needs the token, in a header, the query or its path, and declares a body limit", () => {
    const token = new Token("the-token");
    const routes = bridgeRoutes({ api: fake, token, sse: new Set() });
    expect(routes.map((r) => `${r.name} ${r.methods.join("|")} ${r.auth}`)).toEqual([
      "events GET token",
      "call POST token",
      "page GET|HEAD path",
    ]);
    for (const route of routes) {
      expect(route.bodyLimit, route.name).toBeGreaterThan(0);
      if (route.auth === "path") {
        // A path route checks the token itself: its match refuses any other first segment.
        expect(route.match(["the-token", "index.html"]), route.name).toBeDefined();
        for (const wrong of [["the-tokem"], ["the-token-x"], [""], ["api", "events"]]) {
          expect(route.match(wrong), `${route.name} ${wrong.join("/")}`).toBeUndefined();
        }
      }
    }
  });

  it("refuses each route without the token, with a wrong one, from a foreign Origin or for a foreign Host", async () => {
    const bridge = await startHttpBridge({ api: fake });
    try {
      const json = { "content-type": "application/json" };
      const good = { ...json, "x-dagwood-token": bridge.token };
      const requests: [string, string, Record<string, string>][] = [
        ["POST", "/api/listBlocks", json],
        ["GET", "/api/events", {}],
        ["GET", `/${"x".repeat(bridge.token.length)}/`, {}],
        ["POST", "/no/such/path", json],
      ];
      for (const [method, path] of requests) {
        const none = await raw(`${bridge.origin}${path}`, method, json);
        expect(none.status, `${method} ${path}`).toBe(401);
        expect(JSON.parse(none.text).error).toMatch(/open the URL that `dagwood ui` printed/);
        const wrong = await raw(`${bridge.origin}${path}?token=nope`, method, {
          ...json,
          "x-dagwood-token": "nope",
        });
        expect(wrong.status, `${method} ${path}`).toBe(401);
      }
      expect(calls).toEqual([]);
      for (const [method, path] of [
        ["POST", "/api/listBlocks"],
        ["GET", `/${bridge.token}/`],
      ] as const) {
        const foreign = await raw(`${bridge.origin}${path}`, method, {
          ...good,
          origin: "http://evil.example",
        });
        expect(foreign.status, path).toBe(403);
        expect(JSON.parse(foreign.text).error).toBe(
          "Origin http://evil.example is not allowed: the bridge answers only its own page; open the URL that `dagwood ui` printed",
        );
        // Another port on this machine is another origin.
        const port = await raw(`${bridge.origin}${path}`, method, { ...good, origin: "http://127.0.0.1:1" });
        expect(port.status, path).toBe(403);
        const rebound = await raw(`${bridge.origin}${path}`, method, { ...good, host: "evil.example" });
        expect(rebound.status, path).toBe(403);
        expect(JSON.parse(rebound.text).error).toBe(
          'Unknown Host "evil.example": open the URL that `dagwood ui` printed',
        );
      }
      expect(calls).toEqual([]);
      // With everything right, the call goes through, from the page's own origin too.
      const ok = await raw(`${bridge.origin}/api/listBlocks`, "POST", { ...good, origin: bridge.origin }, [
        Buffer.from("{}"),
      ]);
      expect(ok.status).toBe(200);
      expect(calls).toEqual(["listBlocks"]);
      // A wrong method on a known path is a 405 naming the right one, once the token is given.
      const get = await raw(`${bridge.origin}/api/listBlocks`, "GET", good);
      expect([get.status, JSON.parse(get.text).error]).toEqual([405, "Use POST"]);
    } finally {
      await bridge.close();
    }
  });

  it("answers 413 for a body over the limit sent without a Content-Length, and 415 before reading a non-JSON one", async () => {
    const bridge = await startHttpBridge({ api: fake });
    try {
      const headers = { "content-type": "application/json", "x-dagwood-token": bridge.token };
      const over = Math.ceil(MAX_BODY_BYTES / (256 * 1024)) + 1;
      const big = await raw(
        `${bridge.origin}/api/validatePipeline`,
        "POST",
        headers,
        Array.from({ length: over }, () => Buffer.alloc(256 * 1024, 32)),
      );
      expect(big.status).toBe(413);
      expect(JSON.parse(big.text).error).toBe(`Request body over ${MAX_BODY_BYTES} bytes`);
      expect(big.connection).toBe("close");
      const text = await raw(
        `${bridge.origin}/api/listBlocks`,
        "POST",
        { ...headers, "content-type": "text/plain" },
        [Buffer.from("{}")],
      );
      expect([text.status, JSON.parse(text.text).error]).toEqual([415, "Send application/json"]);
      const invalid = await raw(`${bridge.origin}/api/listBlocks`, "POST", headers, [Buffer.from("{nope")]);
      expect([invalid.status, JSON.parse(invalid.text).error]).toEqual([
        400,
        "The request body is not valid JSON",
      ]);
      expect(calls.filter((c) => c === "validatePipeline")).toEqual([]);
      // The bridge still answers.
      expect(
        (await raw(`${bridge.origin}/api/listBlocks`, "POST", headers, [Buffer.from("{}")])).status,
      ).toBe(200);
    } finally {
      await bridge.close();
    }
  });
});
