import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiError, type ApiMethod, parseApiArgs } from "../api/api";
import { API_METHODS, DEPLOY_METHODS } from "../api/api-methods";
import { createServer, type DagwoodServer } from "../serving/server";
import { trainTestModel } from "../serving/testing";
import { createDeployHandlers } from "./handlers";
import { createDeployProject, registerTestVersion, type TestDeployProject } from "./testing";

const TOKEN = "api-token";

describe("the Api's deploy methods", () => {
  let repo: string;
  let server: DagwoodServer;
  let project: TestDeployProject;
  let downUrl: string;
  const tokens = { env: { DAGWOOD_TOKEN_LOCAL: TOKEN }, platform: "aix" as const };
  let handlers: ReturnType<typeof createDeployHandlers>;
  const call = async (method: (typeof DEPLOY_METHODS)[number], args: unknown) =>
    (handlers[method] as (a: unknown) => Promise<unknown>)(parseApiArgs(method as ApiMethod, args));
  const status = (p: Promise<unknown>) =>
    p.then(
      () => 200,
      (e) => (e instanceof ApiError ? e.status : Promise.reject(e)),
    );

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
