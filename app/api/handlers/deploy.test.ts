import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createHttpServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLocalServers, type LocalServers } from "../../deploy/embedded";
import { createDeployProject, registerTestVersion, type TestDeployProject } from "../../deploy/testing";
import { createServer, type DagwoodServer } from "../../serving/server";
import { trainTestModel } from "../../serving/testing";
import { ApiError, type ApiMethod, parseApiArgs } from "../api";
import { API_METHODS, DEPLOY_METHODS } from "../api-methods";
import { createDeployHandlers } from "./deploy";

const TOKEN = "api-token";
const status = (p: Promise<unknown>) =>
  p.then(
    () => 200,
    (e) => (e instanceof ApiError ? e.status : Promise.reject(e)),
  );

describe("the Api's deploy methods", () => {
  let repo: string;
  let server: DagwoodServer;
  let project: TestDeployProject;
  let downUrl: string;
  const tokens = { env: { DAGWOOD_TOKEN_LOCAL: TOKEN }, platform: "aix" as const };
  let handlers: ReturnType<typeof createDeployHandlers>;
  const call = async (method: (typeof DEPLOY_METHODS)[number], args: unknown) =>
    (handlers[method] as (a: unknown) => Promise<unknown>)(parseApiArgs(method as ApiMethod, args));

  beforeAll(async () => {
    repo = mkdtempSync(join(tmpdir(), "dagwood-api-deploy-"));
    server = createServer({ repository: repo, token: TOKEN, log: () => {} });
    const url = await server.listen(0, "127.0.0.1");
    const closed = createHttpServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", () => r()));
    downUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((r) => closed.close(() => r()));
    project = createDeployProject({
      local: { url, kind: "dagwood" },
      down: { url: downUrl, kind: "dagwood" },
      gpu: { url: downUrl, kind: "triton" },
    });
    handlers = createDeployHandlers(() => project, { tokens });
    await registerTestVersion(project);
    const other = await trainTestModel({ task: "classification", shift: -3 });
    await registerTestVersion(project, { shift: 2, onnx: other.bytes });
  });
  afterAll(async () => {
    project.close();
    await server.close();
    rmSync(repo, { recursive: true, force: true });
  });

  it("are listed with the Api's methods", () => {
    for (const m of DEPLOY_METHODS) expect(API_METHODS).toContain(m);
  });

  it("inferExample: a request for a version from its held-out rows, by number or alias; 404 and 400 say what is wrong", async () => {
    const example = (await call("inferExample", { name: "m", ref: 1 })) as {
      source: string;
      body: { inputs: { name: string; data: unknown[] }[] };
    };
    expect(example.source).toBe("heldout");
    expect(example.body.inputs.map((i) => i.name)).toEqual(["x", "color"]);
    project.registry.setAlias("m", "example", 1, "ana");
    expect(await call("inferExample", { name: "m", ref: "example" })).toEqual(example);
    await expect(call("inferExample", { name: "m", ref: 7 })).rejects.toMatchObject({
      status: 404,
      message: expect.stringContaining('Model "m" has no version 7'),
    });
    expect(() => parseApiArgs("inferExample", { name: "m" })).toThrow(ApiError);
  });

  it("list targets with where their token comes from, never the token", async () => {
    expect(await call("listTargets", {})).toEqual([
      { name: "down", url: downUrl, kind: "dagwood", tokenSource: null },
      { name: "gpu", url: downUrl, kind: "triton", tokenSource: null },
      { name: "local", url: expect.stringMatching(/^http:/), kind: "dagwood", tokenSource: "env" },
    ]);
  });

  it("deploy answers the audit entry; parity failure 409 with the figures; unknown target 404; down 502", async () => {
    const entry = (await call("deployVersion", { name: "m", ref: 1, target: "local" })) as {
      action: string;
      details: { parity: { rows: number } };
    };
    expect(entry).toMatchObject({ action: "deployment.succeeded", model: "m", version: 1 });
    expect(entry.details.parity.rows).toBe(9);
    const parity = call("deployVersion", { name: "m", ref: 2, target: "local" });
    await expect(parity).rejects.toThrow(
      /parity failed on 9 heldout rows: max \|served − registry\| = .*label\(s\) differ/,
    );
    expect(await status(parity)).toBe(409);
    expect(await status(call("deployVersion", { name: "m", ref: 1, target: "prod" }))).toBe(404);
    expect(await status(call("deployVersion", { name: "m", ref: 7, target: "local" }))).toBe(404);
    expect(await status(call("deployVersion", { name: "m", ref: 1, target: "down" }))).toBe(502);
    expect(await status(call("deploymentStatus", {}))).toBe(200);
    expect(await status(call("rollbackDeployment", { name: "m", target: "local", version: 1 }))).toBe(200);
  });

  it("traffic: dagwood only (400 for triton); names checked as for the registry", async () => {
    expect(await call("setTraffic", { target: "local", name: "m", shadow: { version: 1 } })).toEqual({
      policy: { primary: 1, shadow: { version: 1 } },
    });
    expect(
      await status(call("setTraffic", { target: "gpu", name: "m", canary: { version: 1, percent: 5 } })),
    ).toBe(400);
    expect(() => parseApiArgs("setTraffic", { target: "../x", name: "m" })).toThrow(/target: a target name/);
    expect(() => parseApiArgs("deployVersion", { target: "local", name: "../m", ref: 1 })).toThrow(
      /name: a model name/,
    );
    expect(() =>
      parseApiArgs("setTraffic", { target: "local", name: "m", canary: { version: 1, percent: 130 } }),
    ).toThrow(/canary.percent/);
  });
});

describe("the built-in local target", { timeout: 60_000 }, () => {
  let project: TestDeployProject;
  const opened: LocalServers[] = [];
  const tokens = { env: {}, platform: "aix" as const };
  const handlersWith = (local: LocalServers, p: TestDeployProject = project) => {
    const h = createDeployHandlers(() => p, { tokens, local });
    return async (method: (typeof DEPLOY_METHODS)[number], args: unknown = {}) =>
      (h[method] as (a: unknown) => Promise<unknown>)(parseApiArgs(method as ApiMethod, args));
  };
  const localServers = () => {
    const s = createLocalServers({ port: 0, log: () => {} });
    opened.push(s);
    return s;
  };

  beforeAll(async () => {
    project = createDeployProject();
    await registerTestVersion(project);
  });
  afterAll(async () => {
    await Promise.all(opened.map((s) => s.close()));
    project.close();
  });

  it("is listed, stopped, when dagwood.json has no target; deploying starts it and passes parity", async () => {
    const local = localServers();
    const call = handlersWith(local);
    expect(await call("listTargets")).toEqual([
      { name: "local", url: "", kind: "dagwood", tokenSource: null, builtin: true, running: false },
    ]);
    // Nothing served before: the status does not start it.
    expect(await call("deploymentStatus")).toEqual([
      expect.objectContaining({ name: "local", builtin: true, running: false, models: [] }),
    ]);
    const entry = (await call("deployVersion", { name: "m", ref: 1, target: "local" })) as {
      action: string;
      details: { parity: { rows: number; passed: boolean }; url: string };
    };
    expect(entry).toMatchObject({ action: "deployment.succeeded", model: "m", version: 1 });
    expect(entry.details.parity).toMatchObject({ passed: true, rows: 9 });
    const [target] = (await call("listTargets")) as { url: string; running: boolean; tokenSource: string }[];
    expect(target).toMatchObject({ name: "local", running: true, tokenSource: "app", builtin: true });
    expect(target!.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const [status] = (await call("deploymentStatus")) as {
      running: boolean;
      health: { ready: boolean };
      models: { name: string; serving: number }[];
    }[];
    expect(status).toMatchObject({ running: true, health: { ready: true } });
    expect(status!.models).toEqual([expect.objectContaining({ name: "m", serving: 1 })]);
    expect(await call("setTraffic", { target: "local", name: "m", shadow: { version: 1 } })).toEqual({
      policy: { primary: 1, shadow: { version: 1 } },
    });
    await local.close();
  });

  it("Stop stays stopped while the status polls; a new app start restores what it served", async () => {
    const local = localServers();
    const call = handlersWith(local);
    expect(await call("startLocalServer")).toMatchObject({ name: "local", running: true });
    expect(await call("stopLocalServer")).toEqual({
      name: "local",
      url: "",
      kind: "dagwood",
      tokenSource: null,
      builtin: true,
      running: false,
    });
    expect(await call("deploymentStatus")).toEqual([expect.objectContaining({ running: false })]);
    // Another app process: the saved state makes the status start it, with the model serving again.
    const next = localServers();
    const [status] = (await handlersWith(next)("deploymentStatus")) as {
      running: boolean;
      models: { name: string; serving: number }[];
    }[];
    expect(status).toMatchObject({ running: true });
    expect(status!.models).toEqual([expect.objectContaining({ name: "m", serving: 1 })]);
    await next.close();
    // Rolling back to it on a stopped server starts it.
    expect(await call("rollbackDeployment", { name: "m", target: "local", version: 1 })).toMatchObject({
      action: "deployment.rolledBack",
    });
  });

  it("Stop waits for the calls in flight on it (at most stopWaitMs, then 409); a Start during a Stop waits", async () => {
    // A server that holds every request until released, behind a stand-in for the app's servers.
    const held: ServerResponse[] = [];
    let released = false;
    const hang = createHttpServer((_req, res) => {
      if (released) res.writeHead(503).end();
      else held.push(res);
    });
    await new Promise<void>((r) => hang.listen(0, "127.0.0.1", () => r()));
    const info = {
      url: `http://127.0.0.1:${(hang.address() as AddressInfo).port}`,
      token: "t",
      repository: "",
    };
    const events: string[] = [];
    let up = false;
    const fake: LocalServers = {
      running: () => (up ? info : null),
      start: async () => {
        events.push("start");
        up = true;
        return info;
      },
      stop: async () => {
        events.push("stop");
        up = false;
      },
      stoppedByUser: () => false,
      close: async () => {},
    };
    const h = createDeployHandlers(() => project, { tokens, local: fake, stopWaitMs: 300 });
    const call = async (method: (typeof DEPLOY_METHODS)[number], args: unknown = {}) =>
      (h[method] as (a: unknown) => Promise<unknown>)(parseApiArgs(method as ApiMethod, args));
    try {
      const deploy = call("deployVersion", { name: "m", ref: 1, target: "local" }).then(
        () => events.push("deployed"),
        () => events.push("deploy ended"),
      );
      while (!held.length) await new Promise((r) => setTimeout(r, 10));
      // Bounded: the deploy still runs after the wait, so nothing is stopped.
      const tooLong = call("stopLocalServer");
      await expect(tooLong).rejects.toThrow(/a deploy is running/i);
      expect(await status(tooLong)).toBe(409);
      expect(events).toEqual(["start"]);

      const stop = call("stopLocalServer").then(() => events.push("stopped"));
      const start = call("startLocalServer").then(() => events.push("started"));
      await new Promise((r) => setTimeout(r, 100));
      expect(events).toEqual(["start"]);
      released = true;
      for (const res of held.splice(0)) res.writeHead(503).end();
      await Promise.all([deploy, stop, start]);
      // The deploy ended before the server stopped; the Start started it again only after the Stop.
      expect(events.slice(0, 3)).toEqual(["start", "deploy ended", "stop"]);
      expect(events.slice(3).sort()).toEqual(["start", "started", "stopped"]);
      expect(events.lastIndexOf("start")).toBeLessThan(events.indexOf("started"));
    } finally {
      await new Promise<void>((r) => hang.close(() => r()));
    }
  });

  it("a target named local in dagwood.json wins: no built-in one, and Start says why", async () => {
    const repo = mkdtempSync(join(tmpdir(), "dagwood-api-own-local-"));
    const own = createServer({ repository: repo, token: TOKEN, log: () => {} });
    const url = await own.listen(0, "127.0.0.1");
    const configured = createDeployProject({ local: { url, kind: "dagwood" } });
    try {
      await registerTestVersion(configured);
      const local = localServers();
      const h = createDeployHandlers(() => configured, {
        tokens: { env: { DAGWOOD_TOKEN_LOCAL: TOKEN }, platform: "aix" },
        local,
      });
      const call = async (method: (typeof DEPLOY_METHODS)[number], args: unknown = {}) =>
        (h[method] as (a: unknown) => Promise<unknown>)(parseApiArgs(method as ApiMethod, args));
      expect(await call("listTargets")).toEqual([
        { name: "local", url, kind: "dagwood", tokenSource: "env" },
      ]);
      const entry = (await call("deployVersion", { name: "m", ref: 1, target: "local" })) as {
        details: { url: string };
      };
      expect(entry.details.url).toBe(url);
      expect(local.running(configured.dir)).toBeNull();
      await expect(call("startLocalServer")).rejects.toThrow(/defines a target named "local"/);
      expect(await status(call("startLocalServer"))).toBe(409);
    } finally {
      configured.close();
      await own.close();
      rmSync(repo, { recursive: true, force: true });
    }
  });

  it("without the app's servers (the CLI) there is no built-in target", async () => {
    const call = async (method: (typeof DEPLOY_METHODS)[number], args: unknown = {}) => {
      const h = createDeployHandlers(() => project, { tokens });
      return (h[method] as (a: unknown) => Promise<unknown>)(parseApiArgs(method as ApiMethod, args));
    };
    expect(await call("listTargets")).toEqual([]);
    expect(await status(call("deployVersion", { name: "m", ref: 1, target: "local" }))).toBe(404);
    expect(await status(call("startLocalServer"))).toBe(409);
  });
});
