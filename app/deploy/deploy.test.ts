import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createServer, type DagwoodServer } from "../serving/server";
import { trainTestModel } from "../serving/testing";
import { V2Client } from "./client";
import { deploymentStatus, deployVersion, rollbackDeployment, servingVersion, setTraffic } from "./deploy";
import { PARITY_TOLERANCE } from "./heldout";
import { DeployError, listTargets, lookUpToken, tokenVariable } from "./targets";
import { createDeployProject, registerTestVersion, type TestDeployProject } from "./testing";

const TOKEN = "s3cret";
const tokens = { env: { DAGWOOD_TOKEN_LOCAL: TOKEN, DAGWOOD_TOKEN_STUB: TOKEN }, platform: "aix" as const };

/** Infer by model (as a client of the deployed model would): which version answered. */
async function answeringVersion(url: string, name = "m"): Promise<string> {
  const res = await fetch(`${url}/v2/models/${name}/infer`, {
    method: "POST",
    body: JSON.stringify({
      inputs: [
        { name: "x", datatype: "FP32", shape: [1, 1], data: [3] },
        { name: "color", datatype: "BYTES", shape: [1, 1], data: ["red"] },
      ],
    }),
  });
  return ((await res.json()) as { model_version: string }).model_version;
}

async function caught(promise: Promise<unknown>): Promise<DeployError> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof DeployError) return e;
    throw e;
  }
  throw new Error("expected a DeployError");
}

/** A V2 server that accepts any upload and answers every inference with wrong numbers. */
function startWrongServer(): Promise<{ url: string; calls: string[]; close: () => Promise<void> }> {
  const calls: string[] = [];
  let loaded = false;
  const server: Server = createHttpServer((req, res) => {
    calls.push(`${req.method} ${req.url}`);
    req.resume();
    req.on("end", () => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      const url = req.url ?? "";
      if (url.endsWith("/load")) {
        loaded = true;
        return send(200, {});
      }
      if (url.endsWith("/unload")) {
        loaded = false;
        return send(200, {});
      }
      if (url.endsWith("/ready"))
        return loaded ? send(200, { ready: true }) : send(404, { error: "not loaded" });
      if (url.endsWith("/infer")) {
        return send(200, {
          model_name: "m",
          outputs: [
            { name: "label", datatype: "BYTES", shape: [9], data: Array(9).fill("low") },
            { name: "probabilities", datatype: "FP32", shape: [9, 2], data: Array(18).fill(0.5) },
          ],
        });
      }
      if (url.startsWith("/v2/models/m")) {
        return loaded
          ? send(200, { name: "m", versions: ["1"], inputs: [], outputs: [] })
          : send(404, { error: "unknown model m" });
      }
      if (url.startsWith("/v2/health")) return send(200, {});
      return send(404, { error: "no such route" });
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        calls,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}

describe("deploy to a dagwood serve", () => {
  let repo: string;
  let server: DagwoodServer;
  let url: string;
  let project: TestDeployProject;

  beforeAll(async () => {
    repo = mkdtempSync(join(tmpdir(), "dagwood-deploy-repo-"));
    server = createServer({ repository: repo, token: TOKEN, log: () => {} });
    url = await server.listen(0, "127.0.0.1");
  });
  afterAll(async () => {
    await server.close();
    rmSync(repo, { recursive: true, force: true });
  });
  beforeEach(() => {
    project = createDeployProject({ local: { url, kind: "dagwood" } });
  });
  afterEach(async () => {
    project.close();
    const client = new V2Client({ name: "local", url, token: TOKEN });
    for (const name of ["m", "probe"]) await client.unload(name).catch(() => {});
  });

  it("deploys a version, verifies parity on its held-out rows and records it; rolls back to an earlier one", async () => {
    await registerTestVersion(project);
    const progress: string[] = [];
    const first = await deployVersion({
      project,
      target: "local",
      name: "m",
      ref: 1,
      actor: "ana",
      tokens,
      onProgress: (p) => progress.push(p.phase),
    });
    expect(first).toMatchObject({
      status: "succeeded",
      target: "local",
      url,
      kind: "dagwood",
      model: "m",
      version: 1,
      previous: null,
      actor: "ana",
      parity: { source: "heldout", rows: 9, labelMismatches: 0, passed: true, tolerance: PARITY_TOLERANCE },
    });
    expect(first.parity!.maxAbsDiff).toBeLessThanOrEqual(PARITY_TOLERANCE);
    expect(progress).toEqual(expect.arrayContaining(["upload", "parity", "promote"]));
    const audit = project.registry.audit({ model: "m", limit: 1 })[0]!;
    expect(audit).toMatchObject({ action: "deployment.succeeded", version: 1, actor: "ana" });
    expect(audit.details).toMatchObject({ target: "local", url, previous: null, parity: { rows: 9 } });
    expect(typeof audit.details.ms).toBe("number");
    expect(await answeringVersion(url)).toBe("1");

    await registerTestVersion(project, { shift: 1 });
    const second = await deployVersion({ project, target: "local", name: "m", ref: 2, actor: "ana", tokens });
    expect(second).toMatchObject({ version: 2, previous: 1, status: "succeeded" });
    expect(await answeringVersion(url)).toBe("2");

    const back = await rollbackDeployment({
      project,
      target: "local",
      name: "m",
      toVersion: 1,
      actor: "bo",
      tokens,
    });
    expect(back).toMatchObject({ status: "rolledBack", version: 1, previous: 2, parity: { passed: true } });
    expect(await answeringVersion(url)).toBe("1");
    expect(project.registry.audit({ model: "m", limit: 1 })[0]).toMatchObject({
      action: "deployment.rolledBack",
      version: 1,
      actor: "bo",
    });
    // A deploy to a version lower than one loaded still moves the traffic to it.
    const client = new V2Client({ name: "local", url, token: TOKEN });
    expect((await servingVersion(client, "dagwood", "m")).version).toBe(1);
  });

  it("rolls back to a version the target no longer has by uploading it from the registry", async () => {
    await registerTestVersion(project);
    await registerTestVersion(project, { shift: 1 });
    await registerTestVersion(project, { shift: 2 });
    for (const ref of [1, 2, 3])
      await deployVersion({ project, target: "local", name: "m", ref, actor: null, tokens });
    const client = new V2Client({ name: "local", url, token: TOKEN });
    // Deploying v3 over v2 retired v1 (the server keeps the new version and the previous one).
    expect(await client.modelReady("m", 1)).toBe(false);
    await rollbackDeployment({ project, target: "local", name: "m", toVersion: 1, actor: null, tokens });
    expect(await answeringVersion(url)).toBe("1");
  });

  it("fails a deploy whose served answers differ from the registry's, and keeps the previous version serving", async () => {
    await registerTestVersion(project);
    await deployVersion({ project, target: "local", name: "m", ref: 1, actor: null, tokens });
    // Version 2's file is another model than the one the registry predicts with.
    const other = await trainTestModel({ task: "classification", shift: -3 });
    await registerTestVersion(project, { shift: 2, onnx: other.bytes });
    const error = await caught(
      deployVersion({ project, target: "local", name: "m", ref: 2, actor: "ana", tokens }),
    );
    expect(error.code).toBe("parity");
    expect(error.message).toMatch(/Deploying m v2 to local failed: parity failed on 9 heldout rows/);
    expect(error.message).toMatch(/m v1 serves again on local/);
    expect(await answeringVersion(url)).toBe("1");
    const entry = project.registry.audit({ model: "m", limit: 1 })[0]!;
    expect(entry).toMatchObject({ action: "deployment.failed", version: 2, actor: "ana" });
    expect(entry.details).toMatchObject({ previous: 1, restored: 1, parity: { passed: false, rows: 9 } });
    expect((entry.details.parity as { labelMismatches: number }).labelMismatches).toBeGreaterThan(0);
    expect(entry.details.reason).toMatch(/parity failed/);
  });

  it("checks a version without held-out rows on probe rows built from its signature", async () => {
    await registerTestVersion(project, { name: "probe", heldout: false, task: "regression" });
    const record = await deployVersion({
      project,
      target: "local",
      name: "probe",
      ref: 1,
      actor: null,
      tokens,
    });
    expect(record.parity).toMatchObject({ source: "probe", passed: true });
    expect(record.parity!.rows).toBeGreaterThan(3);
  });

  it("reports the status of each target: health, what serves, deployments, traffic", async () => {
    await registerTestVersion(project);
    await deployVersion({ project, target: "local", name: "m", ref: 1, actor: null, tokens });
    await answeringVersion(url);
    await answeringVersion(url);
    const [status] = await deploymentStatus(project, { tokens });
    expect(status).toMatchObject({
      name: "local",
      kind: "dagwood",
      tokenSource: "env",
      health: { live: true, ready: true },
    });
    const model = status!.models.find((m) => m.name === "m")!;
    expect(model).toMatchObject({ serving: 1, versions: [1] });
    expect(model.deployments[0]).toMatchObject({ action: "deployment.succeeded" });
    const traffic = status!.traffic.find((t) => t.model === "m" && t.version === "1")!;
    // Two by model plus the parity check by version.
    expect(traffic.requests).toBeGreaterThanOrEqual(3);
    expect(traffic.errors).toBe(0);
    expect(traffic.p50Ms).toBeGreaterThan(0);
  });

  it("sets canary and shadow traffic on a dagwood target", async () => {
    await registerTestVersion(project);
    await registerTestVersion(project, { shift: 1 });
    await deployVersion({ project, target: "local", name: "m", ref: 1, actor: null, tokens });
    await deployVersion({ project, target: "local", name: "m", ref: 2, actor: null, tokens });
    const policy = await setTraffic(
      project,
      { target: "local", name: "m", canary: { version: 1, percent: 25 } },
      { tokens },
    );
    expect(policy).toEqual({ primary: 2, canary: { version: 1, percent: 25 } });
  });

  it("says what is wrong with the target: unknown, down, no token", async () => {
    await registerTestVersion(project);
    const unknown = await caught(
      deployVersion({ project, target: "prod", name: "m", ref: 1, actor: null, tokens }),
    );
    expect(unknown.code).toBe("unknown-target");
    expect(unknown.message).toMatch(/No deploy target "prod" in dagwood.json \(its targets: local\)/);

    const closed = createHttpServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", () => r()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    project.settings.targets.down = { url: `http://127.0.0.1:${port}`, kind: "dagwood" };
    const down = await caught(
      deployVersion({ project, target: "down", name: "m", ref: 1, actor: null, tokens }),
    );
    expect(down.code).toBe("unreachable");
    expect(down.message).toMatch(
      new RegExp(`Cannot reach target "down" \\(http://127.0.0.1:${port}/v2/models/m\\)`),
    );

    const noToken = await caught(
      deployVersion({
        project,
        target: "local",
        name: "m",
        ref: 1,
        actor: null,
        tokens: { env: {}, platform: "aix" },
      }),
    );
    expect(noToken.code).toBe("unauthorized");
    expect(noToken.message).toMatch(/failed with 401/);
    expect(noToken.message).toMatch(/no token is set for it: set DAGWOOD_TOKEN_LOCAL/);
    // The failed upload is recorded; nothing served before, so nothing was unloaded.
    expect(noToken.message).not.toMatch(/unloaded|serves again/);
    const failed = project.registry.audit({ model: "m", limit: 1 })[0]!;
    expect(failed).toMatchObject({ action: "deployment.failed" });
    expect(failed.details).not.toHaveProperty("restored");
  });
});

describe("deploy to a server that answers wrong numbers (triton kind)", () => {
  it("is rolled back (unloaded: nothing served before) and recorded as failed", async () => {
    const stub = await startWrongServer();
    const project = createDeployProject({ stub: { url: stub.url, kind: "triton" } });
    try {
      await registerTestVersion(project);
      const error = await caught(
        deployVersion({ project, target: "stub", name: "m", ref: 1, actor: null, tokens }),
      );
      expect(error.code).toBe("parity");
      expect(error.message).toMatch(/m was unloaded from stub/);
      expect(stub.calls).toContain("POST /v2/repository/models/m/unload");
      const entry = project.registry.audit({ model: "m", limit: 1 })[0]!;
      expect(entry).toMatchObject({ action: "deployment.failed", version: 1 });
      expect(entry.details).toMatchObject({ kind: "triton", previous: null, restored: null });
      // Triton's JSON cannot carry NaN: the held-out row with a missing number is left out.
      expect((entry.details.parity as { rows: number }).rows).toBe(8);
      await expect(
        setTraffic(project, { target: "stub", name: "m", canary: { version: 1, percent: 5 } }, { tokens }),
      ).rejects.toThrow(/canary and shadow traffic are a Dagwood server extension/);
    } finally {
      project.close();
      await stub.close();
    }
  });
});

describe("target tokens", () => {
  it("come from DAGWOOD_TOKEN_<TARGET>, then the keychain, never from dagwood.json", () => {
    expect(tokenVariable("eu-west.prod")).toBe("DAGWOOD_TOKEN_EU_WEST_PROD");
    const dir = mkdtempSync(join(tmpdir(), "dagwood-keychain-"));
    const log = join(dir, "calls");
    const tool = join(dir, "secret-tool");
    writeFileSync(
      tool,
      `#!/bin/sh\necho "$@" >> "${log}"\nif [ "$5" = "staging" ]; then echo "from-keychain"; else exit 1; fi\n`,
    );
    chmodSync(tool, 0o755);
    const path = process.env.PATH;
    process.env.PATH = `${dir}:${path}`;
    try {
      expect(lookUpToken("staging", { env: {}, platform: "linux" })).toEqual({
        token: "from-keychain",
        source: "keychain",
      });
      expect(readFileSync(log, "utf8")).toBe("lookup service dagwood target staging\n");
      expect(lookUpToken("other", { env: {}, platform: "linux" })).toBeNull();
      expect(lookUpToken("staging", { env: { DAGWOOD_TOKEN_STAGING: "env" }, platform: "linux" })).toEqual({
        token: "env",
        source: "env",
      });
      const settings = {
        targets: {
          staging: { url: "http://h:1/", kind: "dagwood" as const, token: "ignored" },
          other: { url: "http://h:2", kind: "triton" as const },
        },
      };
      expect(listTargets(settings, { env: {}, platform: "linux" })).toEqual([
        { name: "other", url: "http://h:2", kind: "triton", token: null, tokenSource: null },
        {
          name: "staging",
          url: "http://h:1",
          kind: "dagwood",
          token: "from-keychain",
          tokenSource: "keychain",
        },
      ]);
    } finally {
      process.env.PATH = path;
      rmSync(dir, { recursive: true, force: true });
    }
    // No keychain tool at all: no token.
    expect(
      lookUpToken("staging", {
        env: {},
        platform: "linux",
        run: () => {
          throw new Error("ENOENT");
        },
      }),
    ).toBeNull();
  });
});
