/**
 * The Api's canary methods (deployCanary, promoteCanary, removeCanary) over a
 * real `dagwood serve` on loopback: their audit entries, and the HTTP-like
 * statuses of what they refuse.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { V2Client } from "../../deploy/client";
import { createDeployProject, registerTestVersion, type TestDeployProject } from "../../deploy/testing";
import { createServer, type DagwoodServer } from "../../serving/server";
import { ApiError, type ApiMethod, parseApiArgs } from "../api";
import type { DEPLOY_METHODS } from "../api-methods";
import { createDeployHandlers } from "./deploy";

const TOKEN = "api-canary-token";

describe("the Api's canary methods", () => {
  let repo: string;
  let server: DagwoodServer;
  let project: TestDeployProject;
  let client: V2Client;
  const tokens = { env: { DAGWOOD_TOKEN_LOCAL: TOKEN }, platform: "aix" as const };
  let handlers: ReturnType<typeof createDeployHandlers>;
  const call = async (method: (typeof DEPLOY_METHODS)[number], args: unknown) =>
    (handlers[method] as (a: unknown) => Promise<unknown>)(parseApiArgs(method as ApiMethod, args));

  beforeAll(async () => {
    repo = mkdtempSync(join(tmpdir(), "dagwood-api-canary-"));
    server = createServer({ repository: repo, token: TOKEN, log: () => {} });
    const url = await server.listen(0, "127.0.0.1");
    client = new V2Client({ name: "local", url, token: TOKEN });
    project = createDeployProject({
      local: { url, kind: "dagwood" },
      gpu: { url: "http://127.0.0.1:9", kind: "triton" },
    });
    handlers = createDeployHandlers(() => project, { tokens });
    await registerTestVersion(project);
    await registerTestVersion(project, { shift: 1 });
    await call("deployVersion", { name: "m", ref: 1, target: "local" });
  });
  afterAll(async () => {
    project.close();
    await server.close();
    rmSync(repo, { recursive: true, force: true });
  });

  it("deploy a canary, then remove it and promote it again, answering the audit entries", async () => {
    const canary = await call("deployCanary", { name: "m", ref: 2, target: "local", percent: 15 });
    expect(canary).toMatchObject({
      action: "deployment.canary",
      version: 2,
      details: { target: "local", percent: 15, previous: 1 },
    });
    expect(await call("deployCanary", { name: "m", ref: 2, target: "local", percent: 15 })).toEqual(canary);
    const removed = await call("removeCanary", { name: "m", target: "local", version: 2, reason: "by hand" });
    expect(removed).toMatchObject({
      action: "deployment.canaryEnded",
      version: 2,
      details: { outcome: "removed", reason: "by hand" },
    });
    expect((await client.traffic("m")).policy).toEqual({ primary: 1 });
    await call("deployCanary", { name: "m", ref: 2, target: "local", percent: 15 });
    const promoted = await call("promoteCanary", { name: "m", target: "local", version: 2 });
    expect(promoted).toMatchObject({ action: "deployment.succeeded", version: 2, details: { previous: 1 } });
    expect((await client.traffic("m")).policy).toEqual({ primary: 2 });
  });

  it("refuse with a status that says why: 400 bad input or Triton, 404 not the canary, 409 the primary", async () => {
    expect(() => parseApiArgs("deployCanary", { name: "m", ref: 2, target: "local", percent: 100 })).toThrow(
      ApiError,
    );
    expect(() =>
      parseApiArgs("removeCanary", { name: "m", target: "local", version: 2, reason: " " }),
    ).toThrow(ApiError);
    await expect(
      call("deployCanary", { name: "m", ref: 1, target: "gpu", percent: 10 }),
    ).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining("needs Dagwood's traffic extension"),
    });
    await expect(call("promoteCanary", { name: "m", target: "local", version: 1 })).rejects.toMatchObject({
      status: 404,
      message: expect.stringContaining("m v1 is not the canary on local"),
    });
    const primary = (await client.traffic("m")).policy.primary!;
    await expect(
      call("deployCanary", { name: "m", ref: primary, target: "local", percent: 10 }),
    ).rejects.toMatchObject({
      status: 409,
      message: expect.stringContaining("already serves all the traffic"),
    });
  });
});
