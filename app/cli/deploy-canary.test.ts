/**
 * `dagwood deploy <ref> --canary PERCENT` and `dagwood deploy canary
 * promote|remove` against a real `dagwood serve` on loopback.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { V2Client } from "../deploy/client";
import type { DeploymentRecord } from "../deploy/deploy";
import { createDeployProject, registerTestVersion, type TestDeployProject } from "../deploy/testing";
import { createServer, type DagwoodServer } from "../serving/server";
import { runDagwood as dagwood } from "./testing";

const TOKEN = "cli-canary-token";

describe("dagwood deploy --canary and deploy canary promote|remove", { timeout: 60_000 }, () => {
  let project: TestDeployProject;
  let repo: string;
  let server: DagwoodServer;
  let client: V2Client;

  beforeAll(async () => {
    repo = mkdtempSync(join(tmpdir(), "dagwood-cli-canary-"));
    server = createServer({ repository: repo, token: TOKEN, log: () => {} });
    const url = await server.listen(0, "127.0.0.1");
    client = new V2Client({ name: "local", url, token: TOKEN });
    project = createDeployProject();
    // "tri": a Triton target nobody listens on (a refusal must come before any request to it).
    writeFileSync(
      join(project.dir, "dagwood.json"),
      JSON.stringify({ targets: { local: { url }, tri: { url: "http://127.0.0.1:9", kind: "triton" } } }),
    );
    await registerTestVersion(project);
    await registerTestVersion(project, { shift: 1 });
    await registerTestVersion(project, { shift: 2 });
    process.env.DAGWOOD_TOKEN_LOCAL = TOKEN;
  });
  afterAll(async () => {
    delete process.env.DAGWOOD_TOKEN_LOCAL;
    project.close();
    await server.close();
    rmSync(repo, { recursive: true, force: true });
  });

  it("deploys a canary, promotes it, deploys another and removes it", async () => {
    const p = ["--target", "local", "--project", project.dir];
    expect((await dagwood("deploy", "m:1", ...p)).code).toBe(0);

    const canary = await dagwood("deploy", "m:2", ...p, "--canary", "25");
    expect(canary.code, canary.stderr).toBe(0);
    expect(canary.stdout).toMatch(
      /^Deployed m v2 as a canary on local \(http:.*, dagwood\) in .*: it takes 25 % of the requests, v1 the rest; parity on 9 heldout rows/,
    );
    expect((await client.traffic("m")).policy).toEqual({ primary: 1, canary: { version: 2, percent: 25 } });
    // Again, as JSON: the same record (the first call's audit entry), nothing redone.
    const [first] = project.registry.audit({ model: "m", limit: 100 });
    expect(first).toMatchObject({ action: "deployment.canary", version: 2 });
    const entries = project.registry.audit({ model: "m", limit: 100 }).length;
    const again = await dagwood("deploy", "m:2", ...p, "--canary", "25", "--json");
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout) as DeploymentRecord).toMatchObject({
      status: "canary",
      version: 2,
      percent: 25,
      previous: 1,
      auditId: first!.id,
    });
    expect(again.stderr).not.toMatch(/upload|parity/);
    expect(project.registry.audit({ model: "m", limit: 100 })).toHaveLength(entries);

    const promoted = await dagwood("deploy", "canary", "promote", "m", ...p);
    expect(promoted.code, promoted.stderr).toBe(0);
    expect(promoted.stdout).toMatch(
      /^Promoted the canary m v2 on local .*: it serves all the requests; .*v1 served before\.\n$/,
    );
    expect((await client.traffic("m")).policy).toEqual({ primary: 2 });

    expect((await dagwood("deploy", "m:3", ...p, "--canary", "10")).code).toBe(0);
    const removed = await dagwood(
      "deploy",
      "canary",
      "remove",
      "m",
      ...p,
      "--reason",
      "worse on fresh labels",
    );
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toBe(
      "Removed the canary m v3 from local: v2 serves all the requests (worse on fresh labels).\n",
    );
    expect((await client.traffic("m")).policy).toEqual({ primary: 2 });

    // No canary left: says so, exit 1.
    const none = await dagwood("deploy", "canary", "promote", "m", ...p);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^m has no canary on local: give the version with --version/);
  });

  it("refuses bad arguments with exit 2, saying what is expected", async () => {
    const p = ["--target", "local", "--project", project.dir];
    for (const bad of ["0", "100", "abc", "-5", ""]) {
      const r = await dagwood("deploy", "m:2", ...p, `--canary=${bad}`);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(
        /--canary takes the canary's share of the requests, a number more than 0 and less than 100/,
      );
    }
    const verb = await dagwood("deploy", "canary", "keep", "m", ...p);
    expect(verb.code).toBe(2);
    expect(verb.stderr).toMatch(/deploy canary takes promote or remove/);
    const withRef = await dagwood("deploy", "canary", "remove", "m:2", ...p);
    expect(withRef.code).toBe(2);
    expect(withRef.stderr).toMatch(/takes a model name; give the version with --version/);
    const noTarget = await dagwood("deploy", "canary", "remove", "m", "--project", project.dir);
    expect(noTarget.code).toBe(2);
    expect(noTarget.stderr).toMatch(/needs --target NAME/);
    // A reason is what a removal records; a promotion has none to record, and an empty one says nothing.
    const entries = project.registry.audit({ limit: 1000 }).length;
    const promoteWhy = await dagwood("deploy", "canary", "promote", "m", ...p, "--reason", "better");
    expect(promoteWhy.code).toBe(2);
    expect(promoteWhy.stderr).toMatch(
      /^--reason is for deploy canary remove \(why the canary is taken out\); a promotion records no reason/,
    );
    const emptyWhy = await dagwood("deploy", "canary", "remove", "m", ...p, "--reason", " ");
    expect(emptyWhy.code).toBe(2);
    expect(emptyWhy.stderr).toMatch(/^--reason takes why the canary is removed \(it goes in the audit log\)/);
    expect(project.registry.audit({ limit: 1000 })).toHaveLength(entries);
  });

  it("on a Triton target, with or without --version: refused as invalid (exit 2) before the target is asked", async () => {
    const p = ["--target", "tri", "--project", project.dir];
    for (const action of ["promote", "remove"]) {
      const r = await dagwood("deploy", "canary", action, "m", ...p);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toBe(
        `Target "tri" is triton: it has no canary to ${action} (a canary needs Dagwood's traffic extension, which gives a version a share of the requests by model). Split traffic in front of it instead (e.g. KServe's canaryTrafficPercent).\n`,
      );
      const withVersion = await dagwood("deploy", "canary", action, "m", ...p, "--version", "2");
      expect(withVersion.code).toBe(2);
      expect(withVersion.stderr).toMatch(/^Target "tri" is triton: .* needs Dagwood's traffic extension/);
    }
  });
});
