import { chmodSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer as createNetServer, type Server } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { deployVersion } from "./deploy";
import {
  createLocalServers,
  hasServedState,
  type LocalServers,
  projectServeToken,
  servingRepository,
  tokenFile,
} from "./embedded";
import { createDeployProject, registerTestVersion, type TestDeployProject } from "./testing";

const posix = process.platform !== "win32";
const modeOf = (file: string) => statSync(file).mode & 0o777;

async function infer(url: string, model: string): Promise<Response> {
  return fetch(`${url}/v2/models/${model}/infer`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      inputs: [
        { name: "x", datatype: "FP32", shape: [1, 1], data: [2] },
        { name: "color", datatype: "BYTES", shape: [1, 1], data: ["red"] },
      ],
    }),
  });
}

describe("the built-in local server (embedded)", { timeout: 60_000 }, () => {
  let project: TestDeployProject;
  const open: LocalServers[] = [];
  const servers = (port = 0) => {
    const s = createLocalServers({ port, log: () => {} });
    open.push(s);
    return s;
  };

  beforeAll(async () => {
    project = createDeployProject();
    await registerTestVersion(project);
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });
  afterAll(() => project.close());

  it("starts on 127.0.0.1 with a token kept in .dagwood/serve-token (0600); concurrent starts share one", async () => {
    const local = servers();
    const [a, b] = await Promise.all([local.start(project.dir), local.start(project.dir)]);
    expect(a).toBe(b);
    expect(a.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(a.repository).toBe(servingRepository(project.dir));
    expect(local.running(project.dir)).toBe(a);
    expect(readFileSync(tokenFile(project.dir), "utf8").trim()).toBe(a.token);
    expect(a.token).toMatch(/^[\w-]{43}$/);
    if (posix) expect(modeOf(tokenFile(project.dir))).toBe(0o600);
    expect((await fetch(`${a.url}/v2/health/ready`)).status).toBe(200);
    // The repository calls need the token.
    const index = (token: string) =>
      fetch(`${a.url}/v2/repository/index`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
      });
    expect((await index(a.token)).status).toBe(200);
    expect((await index("wrong")).status).toBe(401);
  });

  it("restarts with the same token and serves again what it served", async () => {
    const first = servers();
    const server = await first.start(project.dir);
    const record = await deployVersion({
      project,
      target: "local",
      name: "m",
      ref: 1,
      actor: null,
      tokens: { builtin: { url: server.url, token: server.token }, env: {}, platform: "aix" },
    });
    expect(record).toMatchObject({ status: "succeeded", target: "local", url: server.url });
    expect(hasServedState(project.dir)).toBe(true);
    await first.close();
    expect(first.running(project.dir)).toBeNull();
    await expect(fetch(`${server.url}/v2/health/live`)).rejects.toThrow();

    const again = await servers().start(project.dir);
    expect(again.token).toBe(server.token);
    const answer = await infer(again.url, "m");
    expect(answer.status).toBe(200);
    expect(answer.headers.get("x-dagwood-model-version")).toBe("1");
  });

  it("takes an ephemeral port when the first one is busy", async () => {
    const busy: Server = createNetServer();
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", () => r()));
    const port = (busy.address() as { port: number }).port;
    try {
      const server = await servers(port).start(project.dir);
      const used = Number(new URL(server.url).port);
      expect(used).not.toBe(port);
      expect(used).toBeGreaterThan(0);
      expect((await fetch(`${server.url}/v2/health/live`)).status).toBe(200);
    } finally {
      await new Promise<void>((r) => busy.close(() => r()));
    }
  });

  it("reads DAGWOOD_LOCAL_SERVE_PORT (0: ephemeral) and refuses a bad one", async () => {
    const saved = process.env.DAGWOOD_LOCAL_SERVE_PORT;
    try {
      process.env.DAGWOOD_LOCAL_SERVE_PORT = "0";
      const local = createLocalServers({ log: () => {} });
      open.push(local);
      expect((await local.start(project.dir)).url).toMatch(/:\d+$/);
      process.env.DAGWOOD_LOCAL_SERVE_PORT = "port";
      const bad = createLocalServers({ log: () => {} });
      open.push(bad);
      await expect(bad.start(project.dir)).rejects.toThrow(/DAGWOOD_LOCAL_SERVE_PORT must be a port number/);
    } finally {
      if (saved === undefined) delete process.env.DAGWOOD_LOCAL_SERVE_PORT;
      else process.env.DAGWOOD_LOCAL_SERVE_PORT = saved;
    }
  });

  it("stop remembers it was stopped; close stops every server and refuses new starts", async () => {
    const local = servers();
    const server = await local.start(project.dir);
    await local.stop(project.dir);
    expect(local.running(project.dir)).toBeNull();
    expect(local.stoppedByUser(project.dir)).toBe(true);
    await expect(fetch(`${server.url}/v2/health/live`)).rejects.toThrow();
    const restarted = await local.start(project.dir);
    expect(local.stoppedByUser(project.dir)).toBe(false);
    await local.close();
    await expect(fetch(`${restarted.url}/v2/health/live`)).rejects.toThrow();
    await expect(local.start(project.dir)).rejects.toThrow(/closing/);
  });

  it.runIf(posix)("narrows a token file others can read to 0600; replaces one holding no token", async () => {
    const first = await projectServeToken(project.dir);
    chmodSync(tokenFile(project.dir), 0o644);
    expect(await projectServeToken(project.dir)).toBe(first);
    expect(modeOf(tokenFile(project.dir))).toBe(0o600);
    writeFileSync(tokenFile(project.dir), "has a space\n");
    const replaced = await projectServeToken(project.dir);
    expect(replaced).not.toBe(first);
    expect(replaced).toMatch(/^[\w-]{43}$/);
    expect(modeOf(tokenFile(project.dir))).toBe(0o600);
  });
});
