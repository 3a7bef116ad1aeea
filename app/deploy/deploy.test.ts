import { createHash } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PARITY_TOLERANCE } from "../ml/onnx/parity";
import { createServer, type DagwoodServer } from "../serving/server";
import { trainTestModel } from "../serving/testing";
import { V2Client } from "./client";
import {
  deploymentRecordOf,
  deploymentStatus,
  deployVersion,
  rollbackDeployment,
  servingVersion,
  setTraffic,
} from "./deploy";
import { compareWithServed, rowsFor } from "./heldout";
import { DeployError, listTargets, lookUpToken, tokenVariable } from "./targets";
import {
  caught,
  createDeployProject,
  registerTestVersion,
  type TestDeployProject,
  testRows,
} from "./testing";

const TOKEN = "s3cret";
const tokens = { env: { DAGWOOD_TOKEN_LOCAL: TOKEN, DAGWOOD_TOKEN_STUB: TOKEN }, platform: "aix" as const };

/** One row inferred by model (as a client of the deployed model would): the V2 answer. */
async function inferByModel(
  url: string,
  name: string,
): Promise<{ model_version: string; outputs: { name: string; data: unknown[] }[] }> {
  const res = await fetch(`${url}/v2/models/${name}/infer`, {
    method: "POST",
    body: JSON.stringify({
      inputs: [
        { name: "x", datatype: "FP64", shape: [1, 1], data: [3] },
        { name: "color", datatype: "BYTES", shape: [1, 1], data: ["red"] },
      ],
    }),
  });
  return (await res.json()) as { model_version: string; outputs: { name: string; data: unknown[] }[] };
}

/** Which version answers an inference by model. */
async function answeringVersion(url: string, name = "m"): Promise<string> {
  return (await inferByModel(url, name)).model_version;
}

/** The first row's probabilities, inferring by model: which bytes answer. */
async function answer(url: string, name = "m"): Promise<unknown> {
  return (await inferByModel(url, name)).outputs.find((o) => o.name === "probabilities")?.data;
}

/**
 * fetch, recording each call (method, path, JSON body) and letting a test
 * rewrite answers: `edit(path, method, body)` returns a replacement body,
 * a status to answer with, or undefined to pass the answer through.
 */
function spyFetch(
  edit: (path: string, method: string, body: unknown) => unknown | number | undefined = () => undefined,
) {
  const calls: { method: string; path: string; body: unknown }[] = [];
  const fn: typeof fetch = async (input, init) => {
    const path = new URL(String(input)).pathname;
    const method = init?.method ?? "GET";
    calls.push({ method, path, body: init?.body ? JSON.parse(String(init.body)) : undefined });
    const res = await fetch(input, init);
    const text = await res.text();
    const parsed = text ? JSON.parse(text) : undefined;
    const edited = edit(path, method, parsed);
    if (typeof edited === "number")
      return new Response(JSON.stringify({ error: "injected" }), { status: edited });
    return new Response(edited === undefined ? text : JSON.stringify(edited), {
      status: res.status,
      headers: { "content-type": "application/json" },
    });
  };
  return { calls, fetch: fn };
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

  // A server and repository per test: a version number written by one test must not meet
  // another test's registry (the target would rightly refuse other bytes under that number).
  beforeEach(async () => {
    repo = mkdtempSync(join(tmpdir(), "dagwood-deploy-repo-"));
    server = createServer({ repository: repo, token: TOKEN, log: () => {} });
    url = await server.listen(0, "127.0.0.1");
    project = createDeployProject({ local: { url, kind: "dagwood" } });
  });
  afterEach(async () => {
    project.close();
    await server.close();
    rmSync(repo, { recursive: true, force: true });
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
    // The entry read back is the record answered (what the CLI prints for a deploy through the app).
    expect(deploymentRecordOf(audit)).toEqual(first);
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
    const rolledBack = project.registry.audit({ model: "m", limit: 1 })[0]!;
    expect(rolledBack).toMatchObject({ action: "deployment.rolledBack", version: 1, actor: "bo" });
    expect(deploymentRecordOf(rolledBack)).toEqual(back);
    // An entry that is no deployment is not read as one.
    const created = project.registry
      .audit({ model: "m", limit: 100 })
      .find((e) => e.action === "version.created")!;
    expect(() => deploymentRecordOf(created)).toThrow(
      `Audit entry ${created.id} (version.created) records no deployment.`,
    );
    // A deploy to a version lower than one loaded still moves the traffic to it.
    const client = new V2Client({ name: "local", url, token: TOKEN });
    expect((await servingVersion(client, "dagwood", "m")).version).toBe(1);
  });

  it("deploys a version registered with a feature service so that it is served callable by entity", async () => {
    // A server whose feature store fills x and color per entity key (the real one: app/features/server.ts).
    const lookups: { service: string; entities: unknown }[] = [];
    const byEntityRepo = mkdtempSync(join(tmpdir(), "dagwood-deploy-repo-"));
    const byEntity = createServer({
      repository: byEntityRepo,
      token: TOKEN,
      log: () => {},
      entityInputs: async (service, _inputs, entities) => {
        lookups.push({ service, entities });
        return {
          inputs: [
            { name: "x", datatype: "FP64", shape: [1, 1], data: [3] },
            { name: "color", datatype: "BYTES", shape: [1, 1], data: ["red"] },
          ],
          parameters: { features_not_found: "{}", features_outside_max_age: "{}" },
        };
      },
    });
    const byEntityUrl = await byEntity.listen(0, "127.0.0.1");
    const withFeatures = createDeployProject({ local: { url: byEntityUrl, kind: "dagwood" } });
    try {
      await registerTestVersion(withFeatures, { featureService: "colour_stats" });
      const calls = spyFetch();
      const record = await deployVersion({
        project: withFeatures,
        target: "local",
        name: "m",
        ref: 1,
        actor: "ana",
        tokens,
        client: { fetch: calls.fetch },
      });
      expect(record.status).toBe("succeeded");
      // The load's config names the service in Triton's ModelConfig.parameters.
      const load = calls.calls.find((c) => c.path === "/v2/repository/models/m/load")!;
      const config = JSON.parse((load.body as { parameters: { config: string } }).parameters.config);
      expect(config.parameters).toEqual({ feature_service: { string_value: "colour_stats" } });
      const res = await fetch(`${byEntityUrl}/v2/models/m/infer`, {
        method: "POST",
        body: JSON.stringify({ parameters: { entities: { colour_id: [7] } } }),
      });
      expect(res.status).toBe(200);
      const answered = (await res.json()) as { outputs: { name: string; data: unknown[] }[] };
      expect(lookups).toEqual([{ service: "colour_stats", entities: { colour_id: [7] } }]);
      expect(answered.outputs.find((o) => o.name === "probabilities")?.data).toEqual(
        await answer(byEntityUrl),
      );
    } finally {
      withFeatures.close();
      await byEntity.close();
      rmSync(byEntityRepo, { recursive: true, force: true });
    }
  });

  it("deploys a version without a feature service with no parameters in its config", async () => {
    await registerTestVersion(project);
    const calls = spyFetch();
    await deployVersion({
      project,
      target: "local",
      name: "m",
      ref: 1,
      actor: "ana",
      tokens,
      client: { fetch: calls.fetch },
    });
    const load = calls.calls.find((c) => c.path === "/v2/repository/models/m/load")!;
    expect(
      JSON.parse((load.body as { parameters: { config: string } }).parameters.config),
    ).not.toHaveProperty("parameters");
    const res = await fetch(`${url}/v2/models/m/infer`, {
      method: "POST",
      body: JSON.stringify({ parameters: { entities: { colour_id: [7] } } }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(
      /is not registered with a feature service/,
    );
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
    // Read back, a failed deployment is "failed" (never "succeeded"), the record the error carried.
    expect(deploymentRecordOf(entry)).toEqual(error.details.deployment);
    expect(deploymentRecordOf(entry).status).toBe("failed");
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

  it("refuses to overwrite a version number the target holds with other bytes (no digest: by parity), changing nothing", async () => {
    await registerTestVersion(project);
    await deployVersion({ project, target: "local", name: "m", ref: 1, actor: null, tokens });
    const before = await answer(url);
    // Another project (or a re-created registry) has its own m v1: another model.
    const other = createDeployProject({ local: { url, kind: "dagwood" } });
    try {
      await registerTestVersion(other, { shift: 3 });
      // A server that does not give digests (Triton, an older dagwood serve).
      const spy = spyFetch((path, method, body) => {
        if (method === "GET" && path.startsWith("/v2/models/m"))
          return { ...(body as object), parameters: undefined };
        if (path === "/v2/repository/index")
          return (body as { sha256?: string }[]).map(({ sha256: _, ...r }) => r);
        return undefined;
      });
      const error = await caught(
        deployVersion({
          project: other,
          target: "local",
          name: "m",
          ref: 1,
          actor: "eve",
          tokens,
          client: { fetch: spy.fetch },
        }),
      );
      expect(error.code).toBe("conflict");
      expect(error.message).toMatch(
        /local already has m v1 and it does not answer as the registry's v1 does/,
      );
      expect(error.message).toMatch(/Nothing was changed on local: m v1 still serves\.$/);
      expect(spy.calls.filter((c) => c.method === "POST" && /\/(load|unload|traffic)$/.test(c.path))).toEqual(
        [],
      );
      expect(await answer(url)).toEqual(before);
      const entry = other.registry.audit({ model: "m", limit: 1 })[0]!;
      expect(entry).toMatchObject({ action: "deployment.failed", version: 1, actor: "eve" });
      expect(entry.details.reason).toMatch(/already has m v1/);
      expect(entry.details).not.toHaveProperty("restored");
    } finally {
      other.close();
    }
  });

  it("compares the target's sha256 of a version before uploading it, and uploads keeping the primary", async () => {
    const { bytes } = await registerTestVersion(project);
    await registerTestVersion(project, { shift: 1 });
    await deployVersion({ project, target: "local", name: "m", ref: 1, actor: null, tokens });
    const ours = createHash("sha256").update(bytes).digest("hex");
    // The server as it describes versions: `parameters.sha256` in version metadata, `sha256` in index rows.
    const withDigest = (sha: string) =>
      spyFetch((path, method, body) => {
        if (method === "GET" && path === "/v2/models/m/versions/1")
          return { ...(body as object), parameters: { sha256: sha } };
        if (path === "/v2/repository/index")
          return (body as { name: string; version: string }[]).map((r) =>
            r.name === "m" && r.version === "1" ? { ...r, sha256: sha } : r,
          );
        return undefined;
      });
    const differs = withDigest("ab".repeat(32));
    const error = await caught(
      deployVersion({
        project,
        target: "local",
        name: "m",
        ref: 1,
        actor: null,
        tokens,
        client: { fetch: differs.fetch },
      }),
    );
    expect(error.code).toBe("conflict");
    expect(error.message).toMatch(/local already has m v1 with other bytes \(sha256 abababababab…/);
    expect(differs.calls.some((c) => c.path.endsWith("/infer") || c.path.endsWith("/load"))).toBe(false);

    const same = withDigest(ours);
    const again = await deployVersion({
      project,
      target: "local",
      name: "m",
      ref: 1,
      actor: null,
      tokens,
      client: { fetch: same.fetch },
    });
    expect(again).toMatchObject({ status: "succeeded", version: 1, previous: 1 });

    const spy = spyFetch();
    await deployVersion({
      project,
      target: "local",
      name: "m",
      ref: 2,
      actor: null,
      tokens,
      client: { fetch: spy.fetch },
    });
    const load = spy.calls.find((c) => c.path === "/v2/repository/models/m/load")!;
    expect((load.body as { parameters: Record<string, unknown> }).parameters).toMatchObject({
      dagwood_keep_primary: true,
    });
    expect(Object.keys((load.body as { parameters: object }).parameters)).toContain("file:2/model.onnx");
  });

  it("a first deploy that fails parity is unloaded, and the record says how long it was reachable", async () => {
    const other = await trainTestModel({ task: "classification", shift: -3 });
    await registerTestVersion(project, { shift: 2, onnx: other.bytes });
    const error = await caught(
      deployVersion({ project, target: "local", name: "m", ref: 1, actor: null, tokens }),
    );
    expect(error.code).toBe("parity");
    expect(error.message).toMatch(
      /m was unloaded from local \(nothing served it before\)\. m v1 was reachable for \d+ ms before that\./,
    );
    const entry = project.registry.audit({ model: "m", limit: 1 })[0]!;
    expect(entry.details).toMatchObject({ previous: null, restored: null });
    expect(entry.details.reachableMs).toBeGreaterThanOrEqual(0);
    const client = new V2Client({ name: "local", url, token: TOKEN });
    expect(await client.modelReady("m", 1)).toBe(false);
  });

  it("a rollback that fails after changing the target restores what served, audits and says why", async () => {
    for (const shift of [0, 1, 2]) await registerTestVersion(project, { shift });
    for (const ref of [1, 2, 3])
      await deployVersion({ project, target: "local", name: "m", ref, actor: null, tokens });
    // v1 was retired: the rollback uploads it, then its parity check meets a failing server.
    const spy = spyFetch((path, method) =>
      method === "POST" && path === "/v2/models/m/versions/1/infer" ? 500 : undefined,
    );
    const error = await caught(
      rollbackDeployment({
        project,
        target: "local",
        name: "m",
        toVersion: 1,
        actor: "bo",
        tokens,
        client: { fetch: spy.fetch },
      }),
    );
    expect(error.message).toMatch(
      /^Rolling m back to v1 on local failed: POST .* failed with 500: injected\. m v3 serves again on local\.$/,
    );
    expect(await answeringVersion(url)).toBe("3");
    const entry = project.registry.audit({ model: "m", limit: 1 })[0]!;
    expect(entry).toMatchObject({ action: "deployment.failed", version: 1, actor: "bo" });
    expect(entry.details).toMatchObject({ operation: "rollback", previous: 3, restored: 3 });
    expect(entry.details.reason).toMatch(/failed with 500/);
  });

  it("falls back to probe rows (and says so) when no held-out row can travel to a triton target", async () => {
    const { version, model } = await registerTestVersion(project);
    // Every held-out row has a missing number, which Triton's JSON cannot carry.
    const rows = testRows();
    const x = rows.columns[0]! as { values: Float64Array };
    x.values.fill(Number.NaN);
    writeFileSync(join(project.dir, version.heldoutPath!), JSON.stringify(rowsFor(model, rows)));
    project.settings.targets.tri = { url, kind: "triton" };
    const record = await deployVersion({
      project,
      target: "tri",
      name: "m",
      ref: 1,
      actor: null,
      tokens: { ...tokens, env: { DAGWOOD_TOKEN_TRI: TOKEN } },
    });
    expect(record.parity).toMatchObject({ source: "probe", passed: true });
    expect(record.parity!.rows).toBeGreaterThan(0);
    expect(record.parity!.note).toMatch(/all 9 held-out rows have a missing number/);
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
    expect(noToken.message).toMatch(/The target "local" refused the request \(401\): no token is set for it/);
    expect(noToken.message).toMatch(/Set DAGWOOD_TOKEN_LOCAL or the keychain entry/);
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

function caughtSync(fn: () => unknown): DeployError {
  try {
    fn();
  } catch (e) {
    if (e instanceof DeployError) return e;
    throw e;
  }
  throw new Error("expected a DeployError");
}

describe("parity and the client's messages", () => {
  it("never passes on zero rows", () => {
    const figures = compareWithServed({ prediction: [] }, 0, {
      model_name: "m",
      outputs: [{ name: "prediction", datatype: "FP32", shape: [0], data: [] }],
    });
    expect(figures.passed).toBe(false);
  });

  it("never puts the token in an error message", async () => {
    const leaky: typeof fetch = async (_input, init) => {
      const auth = (init?.headers as Record<string, string> | undefined)?.authorization;
      throw new TypeError(`Headers.append: "${auth}" is an invalid header value.`);
    };
    const client = new V2Client(
      { name: "t", url: "http://127.0.0.1:9", token: "s3cret-value" },
      { fetch: leaky },
    );
    const error = await caught(client.live());
    expect(error.message).toMatch(/Cannot reach target "t"/);
    expect(error.message).not.toContain("s3cret-value");
    expect(error.message).toContain('"Bearer [redacted]" is an invalid header value');
    // A token with a line break is refused before any request, without its value.
    let sent = false;
    const broken = new V2Client(
      { name: "t", url: "http://127.0.0.1:9", token: "s3cret\nvalue" },
      {
        fetch: async () => {
          sent = true;
          return new Response("{}");
        },
      },
    );
    const refused = await caught(broken.live());
    expect(refused.code).toBe("invalid");
    expect(refused.message).toMatch(/The token for target "t" contains a line break/);
    expect(refused.message).not.toContain("s3cret");
    expect(sent).toBe(false);
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
    // A token an HTTP header cannot carry: refused where it is looked up, its value never shown.
    const bad = caughtSync(() =>
      lookUpToken("prod", { env: { DAGWOOD_TOKEN_PROD: "t0ken\r\n" }, platform: "aix" }),
    );
    expect(bad.code).toBe("invalid");
    expect(bad.message).toMatch(/from the environment variable DAGWOOD_TOKEN_PROD contains a line break/);
    expect(bad.message).not.toContain("t0ken");
    const fromKeychain = caughtSync(() =>
      lookUpToken("prod", { env: {}, platform: "linux", run: () => "t0ken\u0007x\n" }),
    );
    expect(fromKeychain.message).toMatch(
      /from the keychain \(service dagwood, target prod\) contains a control character/,
    );
    expect(fromKeychain.message).not.toContain("t0ken");
    // One bad token does not hide the other targets.
    const listed = listTargets(
      {
        targets: {
          prod: { url: "http://h:3", kind: "dagwood" as const },
          ok: { url: "http://h:4", kind: "dagwood" as const },
        },
      },
      { env: { DAGWOOD_TOKEN_PROD: "t0ken\n", DAGWOOD_TOKEN_OK: "fine" }, platform: "aix" },
    );
    expect(listed.map((t) => [t.name, t.token, t.tokenError !== undefined])).toEqual([
      ["ok", "fine", false],
      ["prod", null, true],
    ]);
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
