/**
 * Canaries on a real `dagwood serve` on loopback, with a real registry:
 * the share of requests by id is checked against the rule the server
 * documents (DESIGN.md "Serving": deterministic per request id), computed
 * here on its own from the request ids with node:crypto.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createServer, type DagwoodServer } from "../serving/server";
import { inferTestRow, trainTestModel } from "../serving/testing";
import { deployCanary, promoteCanary, removeCanary } from "./canary";
import { V2Client } from "./client";
import { deploymentStatus, deployVersion, rollbackDeployment } from "./deploy";
import { caught, createDeployProject, registerTestVersion, type TestDeployProject } from "./testing";

const TOKEN = "canary-token";
const tokens = { env: { DAGWOOD_TOKEN_LOCAL: TOKEN }, platform: "aix" as const };

/** One row inferred by model with a request id: the version that answered. */
async function versionFor(url: string, id: string, name = "m"): Promise<number> {
  const res = await inferTestRow(url, name, id, 3, "red");
  expect(res.status).toBe(200);
  return Number(((await res.json()) as { model_version: string }).model_version);
}

/** fetch that counts the uploads and traffic changes it passes on. */
function countingFetch() {
  const writes: string[] = [];
  const fn: typeof fetch = async (input, init) => {
    const path = new URL(String(input)).pathname;
    if ((init?.method ?? "GET") === "POST" && /\/(load|unload|traffic)$/.test(path)) writes.push(path);
    return fetch(input, init);
  };
  return { writes, fetch: fn };
}

/** fetch whose answers from `version`'s own infer URL differ from the model's (labels and probabilities changed). */
function corruptingFetch(version: number): typeof fetch {
  return async (input, init) => {
    const res = await fetch(input, init);
    if (!new URL(String(input)).pathname.endsWith(`/versions/${version}/infer`)) return res;
    const body = (await res.json()) as { outputs: { name: string; data: unknown[] }[] };
    for (const o of body.outputs)
      o.data = o.data.map((v) => (typeof v === "number" ? 1 - v : `not-${String(v)}`));
    return new Response(JSON.stringify(body), { status: res.status, headers: res.headers });
  };
}

describe("canary on a dagwood serve", () => {
  let repo: string;
  let server: DagwoodServer;
  let url: string;
  let project: TestDeployProject;
  let client: V2Client;

  beforeEach(async () => {
    repo = mkdtempSync(join(tmpdir(), "dagwood-canary-repo-"));
    server = createServer({ repository: repo, token: TOKEN, log: () => {} });
    url = await server.listen(0, "127.0.0.1");
    project = createDeployProject({ local: { url, kind: "dagwood" } });
    client = new V2Client({ name: "local", url, token: TOKEN });
    await registerTestVersion(project);
    await registerTestVersion(project, { shift: 1 });
    await deploy({ ref: 1, actor: null });
  });
  afterEach(async () => {
    project.close();
    await server.close();
    rmSync(repo, { recursive: true, force: true });
  });

  const audit = () => project.registry.audit({ model: "m", limit: 100 });
  // The calls of this suite: model m on target "local", with the test's tokens; the rest is each call's own.
  type Local<T> = Omit<T, "project" | "target" | "name" | "tokens">;
  const local = { target: "local", name: "m", tokens } as const;
  const canary = (o: Local<Parameters<typeof deployCanary>[0]>) => deployCanary({ project, ...local, ...o });
  const promote = (o: Local<Parameters<typeof promoteCanary>[0]>) =>
    promoteCanary({ project, ...local, ...o });
  const remove = (o: Local<Parameters<typeof removeCanary>[0]>) => removeCanary({ project, ...local, ...o });
  const deploy = (o: Local<Parameters<typeof deployVersion>[0]>) =>
    deployVersion({ project, ...local, ...o });
  const rollback = (o: Local<Parameters<typeof rollbackDeployment>[0]>) =>
    rollbackDeployment({ project, ...local, ...o });

  it("puts a version beside the primary at a share of the requests, the same arm for the same id; a second call changes nothing", async () => {
    const record = await canary({ ref: 2, percent: 20, actor: "ana" });
    expect(record).toMatchObject({
      status: "canary",
      model: "m",
      version: 2,
      previous: 1,
      percent: 20,
      target: "local",
      parity: { passed: true, source: "heldout", rows: 9 },
    });
    expect((await client.traffic("m")).policy).toEqual({ primary: 1, canary: { version: 2, percent: 20 } });
    // The target's status shows the split and the canary's entry as the latest deployment.
    const [status] = await deploymentStatus(project, { tokens });
    const served = status!.models.find((m) => m.name === "m")!;
    expect(served).toMatchObject({ serving: 1, policy: { primary: 1, canary: { version: 2, percent: 20 } } });
    expect(served.deployments[0]).toMatchObject({ action: "deployment.canary", version: 2 });
    const entry = audit()[0]!;
    expect(entry).toMatchObject({
      action: "deployment.canary",
      version: 2,
      actor: "ana",
      id: record.auditId,
    });
    expect(entry.details).toMatchObject({ target: "local", previous: 1, percent: 20 });

    // The server's rule, computed here: the first 4 bytes of sha256(id), big-endian, mod 100, below the percent.
    const ids = Array.from({ length: 300 }, (_, i) => `req-${i}`);
    const expected = ids.map((id) =>
      createHash("sha256").update(id).digest().readUInt32BE(0) % 100 < 20 ? 2 : 1,
    );
    const answered: number[] = [];
    for (const id of ids) answered.push(await versionFor(url, id));
    expect(answered).toEqual(expected);
    const share = answered.filter((v) => v === 2).length / ids.length;
    expect(share).toBeGreaterThan(0.12);
    expect(share).toBeLessThan(0.28);
    // The same id takes the same arm again.
    for (const i of [0, 1, 2, 3, 4, 5]) expect(await versionFor(url, ids[i]!)).toBe(expected[i]);

    // Again: nothing uploaded, no traffic change, no audit entry; the first record is the answer.
    const before = audit().length;
    const spy = countingFetch();
    const again = await canary({ ref: 2, percent: 20, actor: "ana", client: { fetch: spy.fetch } });
    expect(spy.writes).toEqual([]);
    expect(audit()).toHaveLength(before);
    expect(again).toMatchObject({ status: "canary", version: 2, percent: 20, auditId: record.auditId });

    // Another share for the same canary: no upload, only the policy changes, recorded.
    const spy2 = countingFetch();
    const wider = await canary({ ref: 2, percent: 50, actor: "ana", client: { fetch: spy2.fetch } });
    expect(spy2.writes).toEqual(["/v2/repository/models/m/traffic"]);
    expect(wider).toMatchObject({ status: "canary", percent: 50 });
    expect(wider.auditId).not.toBe(record.auditId);
    expect((await client.traffic("m")).policy).toEqual({ primary: 1, canary: { version: 2, percent: 50 } });
  });

  it("promotes the canary: it serves every request, the canary share is gone; promoting again changes nothing", async () => {
    await canary({ ref: 2, percent: 30, actor: null });
    const record = await promote({ version: 2, actor: "bo" });
    expect(record).toMatchObject({
      status: "succeeded",
      version: 2,
      previous: 1,
      percent: 30,
      parity: { passed: true },
    });
    expect((await client.traffic("m")).policy).toEqual({ primary: 2 });
    for (let i = 0; i < 30; i++) expect(await versionFor(url, `p-${i}`)).toBe(2);
    const [succeeded, ended] = audit();
    expect(succeeded).toMatchObject({
      action: "deployment.succeeded",
      version: 2,
      actor: "bo",
      id: record.auditId,
    });
    expect(ended).toMatchObject({ action: "deployment.canaryEnded", version: 2, actor: "bo" });
    expect(ended!.details).toMatchObject({ outcome: "promoted", target: "local", previous: 1, percent: 30 });

    const before = audit().length;
    const spy = countingFetch();
    const again = await promote({ version: 2, actor: "bo", client: { fetch: spy.fetch } });
    expect(spy.writes).toEqual([]);
    expect(audit()).toHaveLength(before);
    expect(again).toMatchObject({ status: "succeeded", version: 2, auditId: record.auditId });
  });

  it("removes the canary: the primary serves every request, unchanged; removing again changes nothing", async () => {
    await canary({ ref: 2, percent: 40, actor: null });
    const record = await remove({
      version: 2,
      actor: "cy",
      reason: "accuracy 0.61 vs 0.83 on 40 labelled rows",
    });
    expect(record).toMatchObject({ status: "canaryEnded", version: 2, previous: 1, percent: 40 });
    expect((await client.traffic("m")).policy).toEqual({ primary: 1 });
    for (let i = 0; i < 30; i++) expect(await versionFor(url, `r-${i}`)).toBe(1);
    const entry = audit()[0]!;
    expect(entry).toMatchObject({
      action: "deployment.canaryEnded",
      version: 2,
      actor: "cy",
      id: record.auditId,
    });
    expect(entry.details).toMatchObject({
      outcome: "removed",
      reason: "accuracy 0.61 vs 0.83 on 40 labelled rows",
      previous: 1,
    });

    const before = audit().length;
    const again = await remove({ version: 2, actor: "cy", reason: "again" });
    expect(again.auditId).toBe(record.auditId);
    expect(audit()).toHaveLength(before);
    // A version that never was the canary there has nothing to remove; the primary neither.
    const never = await caught(remove({ version: 5, actor: null, reason: "x" }));
    expect(never.code).toBe("not-found");
    expect(never.message).toMatch(/m v5 is not the canary on local \(it has no canary\): nothing to remove/);
    const primary = await caught(remove({ version: 1, actor: null, reason: "x" }));
    expect(primary.code).toBe("conflict");
    expect(primary.message).toBe(
      "m v1 is no canary on local: it serves all the requests there: nothing to remove.",
    );
    expect(audit()).toHaveLength(before);
  });

  it("fails a canary whose answers differ from the registry's: the policy is as it was, the failure audited", async () => {
    const other = await trainTestModel({ task: "classification", shift: -3 });
    await registerTestVersion(project, { shift: 2, onnx: other.bytes });
    const policyBefore = (await client.traffic("m")).policy;
    const error = await caught(canary({ ref: 3, percent: 20, actor: "ana" }));
    expect(error.code).toBe("parity");
    expect(error.message).toMatch(
      /Deploying m v3 to local as a canary failed: parity failed on 9 heldout rows/,
    );
    expect(error.message).toMatch(/m v1 serves again on local/);
    expect((await client.traffic("m")).policy).toEqual(policyBefore);
    expect(policyBefore.canary).toBeUndefined();
    for (let i = 0; i < 20; i++) expect(await versionFor(url, `f-${i}`)).toBe(1);
    const entry = audit()[0]!;
    expect(entry).toMatchObject({ action: "deployment.failed", version: 3, actor: "ana" });
    expect(entry.details).toMatchObject({
      operation: "canary",
      previous: 1,
      restored: 1,
      parity: { passed: false },
    });
    expect(audit().some((e) => e.action === "deployment.canary")).toBe(false);
  });

  it("refuses what is not a canary: bad percent, nothing served, the primary itself, a second canary, a version not the canary", async () => {
    const bad = await caught(canary({ ref: 2, percent: 100, actor: null }));
    expect(bad.code).toBe("invalid");
    expect(bad.message).toMatch(/percent must be a number more than 0 and less than 100, got 100/);
    expect((await caught(canary({ ref: 2, percent: 0, actor: null }))).code).toBe("invalid");

    await registerTestVersion(project, { name: "fresh" });
    const unserved = await caught(
      deployCanary({ project, target: "local", name: "fresh", ref: 1, percent: 10, actor: null, tokens }),
    );
    expect(unserved.code).toBe("not-found");
    expect(unserved.message).toMatch(/fresh is not served by target "local".*Deploy a version first/);

    const primary = await caught(canary({ ref: 1, percent: 10, actor: null }));
    expect(primary.code).toBe("conflict");
    expect(primary.message).toMatch(/m v1 already serves all the traffic on local/);

    await registerTestVersion(project, { shift: 2 });
    await canary({ ref: 2, percent: 10, actor: null });
    const second = await caught(canary({ ref: 3, percent: 10, actor: null }));
    expect(second.code).toBe("conflict");
    expect(second.message).toMatch(
      /m v2 is already the canary on local \(10 %\): promote or remove it first/,
    );
    const notCanary = await caught(promote({ version: 3, actor: null }));
    expect(notCanary.code).toBe("not-found");
    expect(notCanary.message).toMatch(/m v3 is not the canary on local \(its canary is v2; v1 serves\)/);
    // Nothing of the refusals reached the target.
    expect((await client.traffic("m")).policy).toEqual({ primary: 1, canary: { version: 2, percent: 10 } });
  });

  it("a deploy while another version is the canary is refused, nothing changed; deploying the canary itself makes it the primary, the canary cleared", async () => {
    await registerTestVersion(project, { shift: 2 });
    await canary({ ref: 2, percent: 20, actor: null });
    const before = audit().length;
    const spy = countingFetch();
    const refused = await caught(deploy({ ref: 3, actor: "ana", client: { fetch: spy.fetch } }));
    expect(refused.code).toBe("conflict");
    expect(refused.message).toBe(
      "m v2 is the canary on local (20 %): promote or remove it before deploying v3 (dagwood deploy canary promote|remove m --target local).",
    );
    // Nothing uploaded, no traffic change, nothing recorded; v3 never reached the target.
    expect(spy.writes).toEqual([]);
    expect(audit()).toHaveLength(before);
    expect((await client.traffic("m")).policy).toEqual({ primary: 1, canary: { version: 2, percent: 20 } });
    expect(await client.modelReady("m", 3)).toBe(false);

    // The canary's own version, deployed: it serves every request, no canary left, its canary recorded as ended.
    const spy2 = countingFetch();
    const record = await deploy({ ref: 2, actor: "bo", client: { fetch: spy2.fetch } });
    expect(record).toMatchObject({ status: "succeeded", version: 2, previous: 1, parity: { passed: true } });
    // Loaded already (its bytes checked): not uploaded again, only the traffic moves.
    expect(spy2.writes).toEqual(["/v2/repository/models/m/traffic"]);
    expect((await client.traffic("m")).policy).toEqual({ primary: 2 });
    for (let i = 0; i < 30; i++) expect(await versionFor(url, `d-${i}`)).toBe(2);
    const [succeeded, ended] = audit();
    expect(succeeded).toMatchObject({ action: "deployment.succeeded", version: 2, id: record.auditId });
    expect(ended).toMatchObject({ action: "deployment.canaryEnded", version: 2, actor: "bo" });
    expect(ended!.details).toMatchObject({ outcome: "promoted", target: "local", previous: 1, percent: 20 });
    // Promoting it afterwards answers that deployment, recording nothing more.
    const after = audit().length;
    const promoted = await promote({ version: 2, actor: null });
    expect(promoted.auditId).toBe(record.auditId);
    expect(audit()).toHaveLength(after);
  });

  it("a rollback while another version is the canary is refused, nothing changed; rolling back to the canary itself makes it the primary, the canary cleared", async () => {
    await registerTestVersion(project, { shift: 2 });
    await deploy({ ref: 3, actor: null });
    await canary({ ref: 2, percent: 20, actor: null });
    const before = audit().length;
    const spy = countingFetch();
    const refused = await caught(rollback({ toVersion: 1, actor: "ana", client: { fetch: spy.fetch } }));
    expect(refused.code).toBe("conflict");
    expect(refused.message).toBe(
      "m v2 is the canary on local (20 %): promote or remove it before rolling back to v1 (dagwood deploy canary promote|remove m --target local).",
    );
    // Nothing uploaded, no traffic change, nothing recorded: v3 serves, v2 keeps its share.
    expect(spy.writes).toEqual([]);
    expect(audit()).toHaveLength(before);
    expect((await client.traffic("m")).policy).toEqual({ primary: 3, canary: { version: 2, percent: 20 } });

    // Back to the canary's own version: it serves every request, no canary left, its canary recorded as ended.
    const spy2 = countingFetch();
    const record = await rollback({ toVersion: 2, actor: "bo", client: { fetch: spy2.fetch } });
    expect(record).toMatchObject({ status: "rolledBack", version: 2, previous: 3, parity: { passed: true } });
    // Loaded already: not uploaded again, only the traffic moves.
    expect(spy2.writes).toEqual(["/v2/repository/models/m/traffic"]);
    expect((await client.traffic("m")).policy).toEqual({ primary: 2 });
    for (let i = 0; i < 30; i++) expect(await versionFor(url, `r-${i}`)).toBe(2);
    expect(audit()).toHaveLength(before + 2);
    const [rolledBack, ended] = audit();
    expect(rolledBack).toMatchObject({ action: "deployment.rolledBack", version: 2, id: record.auditId });
    expect(ended).toMatchObject({ action: "deployment.canaryEnded", version: 2, actor: "bo" });
    expect(ended!.details).toMatchObject({ outcome: "promoted", target: "local", previous: 3, percent: 20 });
    expect(ended!.id).toBeLessThan(rolledBack!.id);
    // Promoting it afterwards answers that rollback, recording nothing more; removing it is refused.
    const promoted = await promote({ version: 2, actor: null });
    expect(promoted.auditId).toBe(record.auditId);
    const removed = await caught(remove({ version: 2, actor: null, reason: "x" }));
    expect(removed.code).toBe("conflict");
    expect(audit()).toHaveLength(before + 2);
  });

  describe("canary steps resumed after a crash, and steps that would misreport", () => {
    const actions = () => audit().map((e) => `${e.action} v${e.version}`);

    it("a canary already on the target is answered as it is after a later, unrelated deployment entry", async () => {
      const first = await canary({ ref: 2, percent: 20, actor: null });
      // A failed rollback to the canary's own version leaves the policy, canary included, and records deployment.failed.
      // (A deploy or rollback to another version is refused while a canary is on, recording nothing.)
      const failed = await caught(
        rollback({ toVersion: 2, actor: null, client: { fetch: corruptingFetch(2) } }),
      );
      expect(failed.code).toBe("parity");
      expect(failed.message).toMatch(
        /^Rolling m back to v2 on local failed: parity failed on 9 heldout rows.* Nothing was changed on local: m v1 still serves\.$/,
      );
      expect(audit()[0]).toMatchObject({
        action: "deployment.failed",
        version: 2,
        details: { operation: "rollback" },
      });
      expect(audit().some((e) => e.action === "deployment.canaryEnded")).toBe(false);
      expect((await client.traffic("m")).policy).toEqual({ primary: 1, canary: { version: 2, percent: 20 } });
      const before = audit().length;
      const spy = countingFetch();
      const again = await canary({ ref: 2, percent: 20, actor: null, client: { fetch: spy.fetch } });
      expect(again.auditId).toBe(first.auditId);
      expect(spy.writes).toEqual([]);
      expect(audit()).toHaveLength(before);
    });

    it("a canary whose traffic change was made but never recorded is recorded once, not uploaded again", async () => {
      await canary({ ref: 2, percent: 20, actor: null });
      await remove({ version: 2, actor: null, reason: "x" });
      // The process stopped right after giving v2 its share again.
      await client.setTraffic("m", { primary: 1, canary: { version: 2, percent: 20 } });
      const before = audit().length;
      const spy = countingFetch();
      const record = await canary({ ref: 2, percent: 20, actor: "ana", client: { fetch: spy.fetch } });
      expect(spy.writes.filter((w) => w.endsWith("/load"))).toEqual([]);
      expect(record).toMatchObject({
        status: "canary",
        version: 2,
        previous: 1,
        percent: 20,
        parity: { passed: true },
      });
      expect(audit()).toHaveLength(before + 1);
      expect(audit()[0]).toMatchObject({ action: "deployment.canary", id: record.auditId, actor: "ana" });
      const again = await canary({ ref: 2, percent: 20, actor: "ana" });
      expect(again.auditId).toBe(record.auditId);
      expect(audit()).toHaveLength(before + 1);
    });

    it("a promotion whose traffic change was made but never recorded is recorded once, its canary ended", async () => {
      await canary({ ref: 2, percent: 30, actor: null });
      // The process stopped right after making the canary the primary.
      await client.setTraffic("m", { primary: 2 });
      const record = await promote({ version: 2, actor: "bo" });
      expect(record).toMatchObject({
        status: "succeeded",
        version: 2,
        previous: 2,
        percent: 30,
        operation: "promote",
      });
      expect(actions().slice(0, 3)).toEqual([
        "deployment.succeeded v2",
        "deployment.canaryEnded v2",
        "deployment.canary v2",
      ]);
      expect(audit()[1]!.details).toMatchObject({ outcome: "promoted", percent: 30 });
      const before = audit().length;
      const again = await promote({ version: 2, actor: "bo" });
      expect(again.auditId).toBe(record.auditId);
      expect(audit()).toHaveLength(before);
    });

    it("a removal whose traffic change was made but never recorded is recorded once, not refused", async () => {
      await canary({ ref: 2, percent: 40, actor: null });
      // The process stopped right after taking the canary out.
      await client.setTraffic("m", { primary: 1 });
      const record = await remove({ version: 2, actor: "cy", reason: "worse" });
      expect(record).toMatchObject({
        status: "canaryEnded",
        version: 2,
        previous: 1,
        percent: 40,
        reason: "worse",
      });
      expect(audit()[0]).toMatchObject({
        action: "deployment.canaryEnded",
        id: record.auditId,
        details: { outcome: "removed", reason: "worse" },
      });
      const before = audit().length;
      const again = await remove({ version: 2, actor: "cy", reason: "worse" });
      expect(again.auditId).toBe(record.auditId);
      expect(audit()).toHaveLength(before);
      expect((await client.traffic("m")).policy).toEqual({ primary: 1 });
    });

    it("refuses to remove a canary that was promoted: it serves all the traffic, and saying it was removed would be false", async () => {
      await canary({ ref: 2, percent: 40, actor: null });
      await promote({ version: 2, actor: null });
      const before = audit().length;
      const error = await caught(remove({ version: 2, actor: null, reason: "worse" }));
      expect(error.code).toBe("conflict");
      expect(error.message).toMatch(
        /m v2 is no canary on local: it serves all the requests there \(its canary was promoted\), so there is no share to take from it\. To serve v1 again: dagwood deploy rollback m --target local --to 1\.$/,
      );
      expect(audit()).toHaveLength(before);
      expect((await client.traffic("m")).policy).toEqual({ primary: 2 });
    });

    it("takes a canary whose answers differ from the registry's at promotion out of the traffic, and records why", async () => {
      await canary({ ref: 2, percent: 40, actor: null });
      const error = await caught(promote({ version: 2, actor: "bo", client: { fetch: corruptingFetch(2) } }));
      expect(error.code).toBe("parity");
      expect(error.message).toMatch(
        /^Promoting the canary m v2 on local failed: parity failed on 9 heldout rows.* m v1 serves again on local\. The canary v2 takes no requests any more/,
      );
      expect((await client.traffic("m")).policy).toEqual({ primary: 1 });
      for (let i = 0; i < 20; i++) expect(await versionFor(url, `x-${i}`)).toBe(1);
      const [ended, failed] = audit();
      expect(failed).toMatchObject({
        action: "deployment.failed",
        version: 2,
        details: { operation: "promote", restored: 1, parity: { passed: false } },
      });
      expect(ended).toMatchObject({ action: "deployment.canaryEnded", version: 2, actor: "bo" });
      expect(ended!.details).toMatchObject({ outcome: "removed", percent: 40 });
      expect(String(ended!.details.reason)).toMatch(/^promotion failed: parity failed on 9 heldout rows/);
    });
  });
});

describe("canary on a Triton target", () => {
  it("is refused with what to do instead, before anything is asked of the target", async () => {
    const project = createDeployProject({ tri: { url: "http://127.0.0.1:9", kind: "triton" } });
    try {
      await registerTestVersion(project);
      const tk = { env: { DAGWOOD_TOKEN_TRI: TOKEN }, platform: "aix" as const };
      for (const call of [
        deployCanary({ project, target: "tri", name: "m", ref: 1, percent: 10, actor: null, tokens: tk }),
        promoteCanary({ project, target: "tri", name: "m", version: 1, actor: null, tokens: tk }),
        removeCanary({ project, target: "tri", name: "m", version: 1, actor: null, reason: "x", tokens: tk }),
      ]) {
        const error = await caught(call);
        expect(error.code).toBe("invalid");
        expect(error.message).toMatch(
          /Target "tri" is triton: .* needs Dagwood's traffic extension.*KServe's canaryTrafficPercent/,
        );
      }
      expect(
        project.registry.audit({ model: "m", limit: 10 }).some((e) => e.action.startsWith("deployment.")),
      ).toBe(false);
    } finally {
      project.close();
    }
  });
});
