import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DeploymentRecord } from "../app/deploy/deploy";
import { registerTestVersion } from "../app/deploy/testing";
import type { PortValue } from "../app/engine/ports";
import { createTestProject, type TestProject } from "../app/engine/testing";
import { createServer, type DagwoodServer } from "../app/serving/server";
import { trainTestModel } from "../app/serving/testing";
import type { ModelVersionRef } from "../app/values/registry";
import deploy from "./deploy";

const TOKEN = "node-token";

describe("deploy block", () => {
  let repo: string;
  let server: DagwoodServer;
  let url: string;
  let p: TestProject;

  beforeAll(() => {
    process.env.DAGWOOD_TOKEN_LOCAL = TOKEN;
  });
  afterAll(() => {
    delete process.env.DAGWOOD_TOKEN_LOCAL;
  });
  // A server per test: each test's registry numbers its versions from 1, and a target
  // refuses a version number it already holds with other bytes.
  beforeEach(async () => {
    repo = mkdtempSync(join(tmpdir(), "dagwood-deploy-node-"));
    server = createServer({ repository: repo, token: TOKEN, log: () => {} });
    url = await server.listen(0, "127.0.0.1");
    p = await createTestProject();
    writeFileSync(join(p.dir, "dagwood.json"), JSON.stringify({ targets: { local: { url } } }));
  });
  afterEach(async () => {
    p.close();
    await server.close();
    rmSync(repo, { recursive: true, force: true });
  });

  const versionPort = (version: number): PortValue => ({
    type: "modelVersion",
    data: { name: "m", version, created: true, modelFingerprint: "f" } satisfies ModelVersionRef,
    fingerprint: `v${version}`,
  });
  const project = () => ({ metadata: p.metadata(), registry: p.metadata().registry });

  it("deploys the version, records it, and keys its cache on what the target serves", async () => {
    await registerTestVersion(project());
    await registerTestVersion(project(), { shift: 1 });
    const before = await p.fingerprint(deploy, { target: "local" });
    const out = await p.run(deploy, { version: versionPort(1) }, { target: "local" });
    const record = (out.deployment as { data: DeploymentRecord }).data;
    expect(record).toMatchObject({
      status: "succeeded",
      target: "local",
      version: 1,
      parity: { passed: true },
    });
    expect(p.logs.at(-1)?.message).toMatch(/^Deployed m v1 to local \(http:.*\); parity on 9 heldout rows/);
    expect(p.metrics.map((m) => m.name)).toEqual(["parity_max_abs_diff", "parity_rows"]);
    expect(p.progress.length).toBeGreaterThan(0);
    const deployed = await p.fingerprint(deploy, { target: "local" });
    expect(deployed).not.toBe(before);
    expect(await p.fingerprint(deploy, { target: "local" })).toBe(deployed);
    await p.run(deploy, { version: versionPort(2) }, { target: "local" });
    expect(await p.fingerprint(deploy, { target: "local" })).not.toBe(deployed);
  });

  it("fails the run after rolling back when parity fails; an unknown or unreachable target always runs", async () => {
    await registerTestVersion(project());
    await p.run(deploy, { version: versionPort(1) }, { target: "local" });
    const other = await trainTestModel({ task: "classification", shift: -3 });
    await registerTestVersion(project(), { shift: 2, onnx: other.bytes });
    await expect(p.run(deploy, { version: versionPort(2) }, { target: "local" })).rejects.toThrow(
      /Deploying m v2 to local failed: parity failed .* m v1 serves again on local/,
    );
    await expect(p.run(deploy, { version: versionPort(1) }, { target: "nowhere" })).rejects.toThrow(
      /No deploy target "nowhere" in dagwood.json \(its targets: local\)/,
    );
    const a = await p.fingerprint(deploy, { target: "nowhere" });
    expect(await p.fingerprint(deploy, { target: "nowhere" })).not.toBe(a);
    await expect(p.run(deploy, { version: versionPort(1) }, { target: "9" })).rejects.toThrow(
      /Invalid params.*target/,
    );
  });
});
