/**
 * The desktop app's engine process (engine-host.ts) under plain Node: Electron
 * cannot run here, so `process.parentPort` and the MessagePortMain it hands
 * over are stood in for by an EventEmitter and a worker_threads MessageChannel
 * with Electron's shapes (messages arrive as `{ data, ports }`).
 */
import { EventEmitter } from "node:events";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MessageChannel, type MessagePort } from "node:worker_threads";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { connectPort, nodePortEnd } from "../app/api/port-rpc";
import { findEngine } from "../app/cli/attach";
import { engineFilePath, readEngineFile } from "../app/project/engine-file";
import type { EngineControl } from "./electron-port";

/** Electron's MessagePortMain, over one end of a Node MessageChannel. */
class PortMain extends EventEmitter {
  constructor(private readonly port: MessagePort) {
    super();
    port.on("message", (data) => this.emit("message", { data, ports: [] }));
    port.on("close", () => this.emit("close"));
  }
  postMessage(message: unknown) {
    this.port.postMessage(message);
  }
  start() {}
  close() {
    this.port.close();
  }
}

/** process.parentPort: what the engine posts is collected; the test emits what main would send. */
class ParentPort extends EventEmitter {
  readonly sent: EngineControl[] = [];
  postMessage(message: EngineControl) {
    this.sent.push(message);
    this.emit("sent", message);
  }
  next(type: EngineControl["type"]): Promise<EngineControl> {
    const found = this.sent.find((m) => m.type === type);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => {
      const check = (m: EngineControl) => {
        if (m.type !== type) return;
        this.off("sent", check);
        resolve(m);
      };
      this.on("sent", check);
    });
  }
}

describe("the engine process (Electron utilityProcess entry)", { timeout: 60_000 }, () => {
  let dir: string;
  let parent: ParentPort;
  let channel: MessageChannel;
  let exit: ReturnType<typeof vi.spyOn>;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-engine-host-"));
    writeFileSync(join(dir, "dagwood.json"), '{ "name": "host" }\n');
    parent = new ParentPort();
    (process as unknown as { parentPort: ParentPort }).parentPort = parent;
    exit = vi.spyOn(process, "exit").mockImplementation((() => undefined) as never);
    channel = new MessageChannel();
    vi.resetModules();
    await import("./engine-host");
  });
  afterEach(async () => {
    // An engine a test left running is closed the way main.ts closes it, and has exited before the next test.
    if (parent.sent.some((m) => m.type === "ready")) {
      parent.emit("message", { data: { type: "close" }, ports: [] });
      await parent.next("closed");
    }
    channel.port1.close();
    exit.mockRestore();
    delete (process as unknown as { parentPort?: ParentPort }).parentPort;
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves the Api on the port it is given, advertises itself for the CLI, and closes on request", async () => {
    parent.emit("message", {
      data: { type: "start", projectDir: dir },
      ports: [new PortMain(channel.port2)],
    });
    const ready = await parent.next("ready");
    expect(ready).toEqual({ type: "ready", bridgePort: expect.any(Number) });

    const client = connectPort(nodePortEnd(channel.port1));
    expect(await client.call("getProject", {})).toMatchObject({ dir, name: "host" });
    await expect(client.call("loadPipeline", { path: "none.dag.json" })).rejects.toMatchObject({
      status: 404,
    });

    // The CLI finds it: engine.json names this process and its bridge, which answers with the token.
    expect(readEngineFile(dir)).toMatchObject({
      pid: process.pid,
      port: (ready as { bridgePort: number }).bridgePort,
    });
    expect((await findEngine(dir)).state).toBe("live");

    parent.emit("message", { data: { type: "close" }, ports: [] });
    await parent.next("closed");
    expect(exit).toHaveBeenCalledWith(0);
    expect(existsSync(engineFilePath(dir))).toBe(false);
    client.close();
  });

  it("starts without the project when it cannot open it, and says why", async () => {
    const missing = join(dir, "moved-away");
    parent.emit("message", {
      data: { type: "start", projectDir: missing },
      ports: [new PortMain(channel.port2)],
    });
    const ready = (await parent.next("ready")) as Extract<EngineControl, { type: "ready" }>;
    expect(ready.projectError).toBe(`${missing}: Project folder not found: ${missing}`);
    const client = connectPort(nodePortEnd(channel.port1));
    expect(await client.call("getProject", {})).toBeNull();
    client.close();
  });

  it("exits when the window's process goes away (its port closes), leaving no engine file behind", async () => {
    parent.emit("message", {
      data: { type: "start", projectDir: dir },
      ports: [new PortMain(channel.port2)],
    });
    await parent.next("ready");
    expect(existsSync(engineFilePath(dir))).toBe(true);
    channel.port1.close();
    await vi.waitFor(() => expect(exit).toHaveBeenCalledWith(0), { timeout: 10_000 });
    expect(existsSync(engineFilePath(dir))).toBe(false);
  });

  it("refuses a first message that is not a start with a port", async () => {
    parent.emit("message", { data: { type: "start", projectDir: dir }, ports: [] });
    expect(exit).toHaveBeenCalledWith(2);
    expect(parent.sent).toEqual([]);
  });
});
