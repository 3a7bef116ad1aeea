import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MessageChannel, type MessagePort } from "node:worker_threads";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { catalog } from "../../nodes/index";
import type { RunEvent } from "../engine/events";
import { type CoreApi, createCoreApi } from "./core";
import { connectPort, nodePortEnd, type PortCallError, type PortClient, servePort } from "./port-rpc";

/** The next message that arrives on `port`. */
const nextMessage = (port: MessagePort) => new Promise<unknown>((resolve) => port.once("message", resolve));

describe("the Api over a message port (the desktop app's engine process)", () => {
  let dir: string;
  let api: CoreApi;
  let channel: MessageChannel;
  let client: PortClient;
  let stopServing: () => void;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-port-"));
    writeFileSync(join(dir, "dagwood.json"), '{ "name": "port" }\n');
    writeFileSync(join(dir, "rows.csv"), "x,y\n1,a\n2,b\n3,c\n");
    api = await createCoreApi({ catalog, projectDir: dir });
    channel = new MessageChannel();
    stopServing = servePort(nodePortEnd(channel.port2), api);
    client = connectPort(nodePortEnd(channel.port1));
  });
  afterEach(async () => {
    client.close();
    stopServing();
    channel.port1.close();
    channel.port2.close();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers calls with their results and pushes a run's events, in order, to the caller", async () => {
    expect(await client.call("getProject", {})).toMatchObject({ dir, name: "port", pipelines: [] });
    const events: RunEvent[] = [];
    client.onEvent((e) => events.push(e));
    const document = {
      format: "dagwood.pipeline/1",
      name: "rows",
      nodes: [{ id: "rows", block: "ingest.file", params: { path: "rows.csv" } }],
      edges: [],
    };
    const { runId } = (await client.call("startRun", { document })) as { runId: string };
    await new Promise<void>((resolve) => {
      const off = client.onEvent((e) => {
        if (e.type === "run.finished") {
          off();
          resolve();
        }
      });
    });
    const types = events.map((e) => e.type);
    expect(types[0]).toBe("run.started");
    expect(types.at(-1)).toBe("run.finished");
    expect(types.indexOf("node.started")).toBeLessThan(types.indexOf("node.finished"));
    expect(events.every((e) => e.runId === runId)).toBe(true);
    expect(events.at(-1)).toMatchObject({ status: "succeeded" });
    // The result crossed as the core answers it (structured clone: numbers, nested objects).
    const runs = (await client.call("listRuns", {})) as { id: string; status: string }[];
    expect(runs).toEqual(await api.listRuns({}));
    expect(runs[0]).toMatchObject({ id: runId, status: "succeeded" });
  });

  it("keeps each error's status: 400 for bad arguments (checked by core.call), 403, 404", async () => {
    const failure = (method: string, args: unknown) =>
      client.call(method, args).then(
        () => {
          throw new Error(`${method} should have failed`);
        },
        (e: PortCallError) => ({ name: e.name, status: e.status, message: e.message }),
      );
    expect(await failure("startRun", { document: 5 })).toMatchObject({
      name: "PortCallError",
      status: 400,
      message: expect.stringContaining("Invalid arguments for startRun: document"),
    });
    expect(await failure("loadPipeline", { path: "../outside.dag.json" })).toMatchObject({ status: 403 });
    expect(await failure("loadPipeline", { path: "none.dag.json" })).toMatchObject({
      status: 404,
      message: "Cannot read none.dag.json: no such file",
    });
    expect(await failure("noSuchMethod", {})).toMatchObject({
      status: 404,
      message: 'Unknown method "noSuchMethod"',
    });
    expect(await failure("cancelRun", {})).toMatchObject({ status: 400 });
    await api.call("openProject", { dir });
    expect(await failure("openProject", { dir: join(dir, "missing") })).toMatchObject({ status: 400 });
  });

  it("answers a malformed message with a 400 and keeps serving", async () => {
    // Raw messages on the caller's port, as a confused or hostile sender would post them.
    const raw = channel.port1;
    client.close();
    raw.postMessage("hello");
    expect(await nextMessage(raw)).toEqual({
      kind: "error",
      status: 400,
      error: expect.stringContaining("Not a call"),
    });
    raw.postMessage({ kind: "call", id: 7, method: 42 });
    expect(await nextMessage(raw)).toMatchObject({ kind: "result", id: 7, ok: false, status: 400 });
    raw.postMessage({ kind: "call", id: 8, method: "x".repeat(1000), args: {} });
    expect(await nextMessage(raw)).toMatchObject({ kind: "result", id: 8, ok: false, status: 400 });
    raw.postMessage(null);
    expect(await nextMessage(raw)).toMatchObject({ kind: "error", status: 400 });
    raw.postMessage({ kind: "call", id: 9, method: "getProject", args: {} });
    expect(await nextMessage(raw)).toMatchObject({ kind: "result", id: 9, ok: true, result: { dir } });
  });

  it("refuses arguments that cannot cross the port, and fails calls in flight when the engine goes away", async () => {
    await expect(client.call("getProject", { f: () => 1 })).rejects.toMatchObject({ status: 400 });
    stopServing();
    const inFlight = client.call("getProject", {});
    client.close("The engine process exited");
    await expect(inFlight).rejects.toThrow("The engine process exited");
    await expect(client.call("getProject", {})).rejects.toThrow("The engine process exited");
  });

  it("answers a result that cannot cross the port with a 500 naming the method, and keeps serving", async () => {
    const other = new MessageChannel();
    const served = {
      call: async (method: string) => {
        if (method === "weird") return { f: () => 1 };
        if (method === "throwsText") throw "not an Error";
        return { fine: true };
      },
      onEvent: () => () => undefined,
    };
    const stop = servePort(nodePortEnd(other.port2), served);
    const caller = connectPort(nodePortEnd(other.port1));
    try {
      const err = (await caller.call("weird", {}).catch((e: unknown) => e)) as PortCallError;
      expect(err.status).toBe(500);
      expect(err.message).toMatch(/^The result of weird cannot be sent: /);
      await expect(caller.call("throwsText", {})).rejects.toMatchObject({
        status: 500,
        message: "not an Error",
      });
      expect(await caller.call("fine", {})).toEqual({ fine: true });
    } finally {
      caller.close();
      stop();
      other.port1.close();
      other.port2.close();
    }
  });
});
