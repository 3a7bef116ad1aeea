import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { aliasChanges, type ProductionRecord } from "../values/registry";
import {
  createTempStore,
  type RegisterVersionInput,
  RegistryError,
  type SqliteMetadataStore,
} from "./metadata";

const COMMIT = "a".repeat(40);

/** The RegistryError `attempt` throws, or undefined when it does not throw. */
function thrownBy(attempt: () => unknown): RegistryError | undefined {
  try {
    attempt();
  } catch (err) {
    return err as RegistryError;
  }
  return undefined;
}

describe("the production alias", () => {
  let store: SqliteMetadataStore;
  let dir: string;
  let cleanup: () => void;
  let files: { native: string; onnx: string };
  beforeEach(() => {
    ({ store, dir, cleanup } = createTempStore());
    mkdirSync(join(dir, "out"));
    files = { native: join(dir, "out", "model.json"), onnx: join(dir, "out", "model.onnx") };
    writeFileSync(files.native, '{"estimator":"gbdt"}');
    writeFileSync(files.onnx, "onnx-bytes");
  });
  afterEach(() => cleanup());

  /**
   * A run `id` of train → evaluate (accuracy logged) → gate (`gate` status) → register: what a
   * pipeline run records. `gate: null` gives a run without a gate node.
   */
  function recordRun(id: string, gate: "ran" | "cached" | "failed" | "skipped" | null, accuracy = 0.93) {
    store.startRun({
      id,
      pipeline: "penguins",
      pipelinePath: "pipelines/penguins.dag.json",
      pipelineHash: `hash-${id}`,
      pipelineText: null,
      params: {},
      resolvedParams: {
        "gate.metric": "accuracy",
        "gate.op": ">=",
        "gate.threshold": 0.9,
        "gate.champion.model": "penguins",
        "gate.champion.alias": "champion",
        "gate.champion.margin": 0.01,
      },
      startedAt: new Date().toISOString(),
      environment: { gitCommit: COMMIT, gitDirty: false },
      user: "ana",
    });
    const node = (nodeId: string, block: string, status: string, inputs = {}, error: string | null = null) =>
      store.recordNodeRun({
        runId: id,
        nodeId,
        block,
        blockVersion: 1,
        status: status as "ran",
        reason: null,
        cacheKey: null,
        paramsHash: null,
        inputsHash: null,
        ms: 1,
        error,
        outputs: {},
        inputs,
      });
    node("train", "train.gbdt", "ran");
    node("evaluate", "evaluate", "ran", { model: { node: "train", port: "model", fingerprint: null } });
    store.logMetrics([
      { runId: id, nodeId: "evaluate", name: "accuracy", value: accuracy, step: null },
      { runId: id, nodeId: "evaluate", name: "f1_macro", value: 0.5, step: null },
    ]);
    if (gate !== null) {
      const error = gate === "failed" ? `Gate failed: accuracy ${accuracy} is not >= 0.9` : null;
      node("gate", "gate", gate, { report: { node: "evaluate", port: "report", fingerprint: null } }, error);
      if (gate === "ran") {
        // The report a passing gate puts out, with the champion's score (as nodes/gate.ts adds it).
        const path = join(".dagwood", "artifacts", id, "gate", "report.json");
        mkdirSync(join(dir, ".dagwood", "artifacts", id, "gate"), { recursive: true });
        writeFileSync(
          join(dir, path),
          JSON.stringify({
            metrics: { accuracy },
            champion: { model: "penguins", alias: "champion", version: 1, value: 0.9 },
          }),
        );
        store.recordArtifact({
          runId: id,
          nodeId: "gate",
          name: "report/report.json",
          kind: "report",
          path,
          bytes: 1,
          sha256: "x",
        });
      }
    }
    store.finishRun(id, gate === "failed" ? "failed" : "succeeded");
  }

  const input = (runId: string, fingerprint: string): RegisterVersionInput => ({
    name: "penguins",
    runId,
    nodeId: "train",
    modelFingerprint: fingerprint,
    estimator: "gbdt",
    task: "classification",
    signature: { inputs: [{ name: "bill", dtype: "FP64", shape: [-1, 1] }], outputs: [] },
    metrics: { accuracy: 0.93 },
    parity: null,
    files,
    lineage: {
      run: {
        id: runId,
        pipeline: "penguins",
        pipelinePath: "pipelines/penguins.dag.json",
        pipelineHash: `hash-${runId}`,
        startedAt: "2026-01-01T00:00:00Z",
        user: "ana",
      },
      nodeId: "train",
      datasets: [
        {
          digest: "d".repeat(64),
          source: "data/penguins.csv",
          schema: [],
          rows: 344,
          fingerprint: "f",
        },
      ],
      params: {},
      environment: {},
    },
    actor: "ana",
  });

  /** Registers v(n) from a run with this gate outcome. */
  function register(runId: string, gate: Parameters<typeof recordRun>[1], fingerprint = runId): number {
    recordRun(runId, gate);
    return store.registry.registerVersion(input(runId, fingerprint)).version.version;
  }

  /** A deploy of the version to a target, as app/deploy/deploy.ts audits it. */
  function deployed(version: number, target: string, action = "deployment.succeeded") {
    return store.registry.appendAudit({
      actor: "ci",
      action: action as "deployment.succeeded",
      model: "penguins",
      version,
      details: { target, url: "http://127.0.0.1:8000", kind: "dagwood", previous: null, parity: null, ms: 5 },
    });
  }

  it("moves to a version that passed its gate and was deployed to staging, recording commit, data and gate figures", () => {
    const v = register("r1", "ran");
    const deploy = deployed(v, "staging");
    const entry = store.registry.setAlias("penguins", "production", v, "ana");
    expect(entry).toMatchObject({ action: "alias.set", actor: "ana", model: "penguins", version: v });
    const record = entry.details.production as ProductionRecord;
    expect(record).toEqual({
      run: {
        id: "r1",
        pipeline: "penguins",
        pipelinePath: "pipelines/penguins.dag.json",
        pipelineHash: "hash-r1",
        gitCommit: COMMIT,
        gitDirty: false,
      },
      datasets: [{ source: "data/penguins.csv", digest: "d".repeat(64), rows: 344 }],
      gates: [
        {
          source: "run",
          node: "gate",
          status: "passed",
          metric: "accuracy",
          op: ">=",
          threshold: 0.9,
          value: 0.93,
          champion: { model: "penguins", alias: "champion", margin: 0.01, version: 1, value: 0.9 },
          error: null,
        },
      ],
      staging: { target: "staging", auditId: deploy.id, at: deploy.at, actor: "ci" },
      missing: [],
      reason: null,
    });
    expect(store.registry.getModel("penguins")!.aliases.production).toBe(v);
    // The entry as the audit log returns it is the same record (one entry per production change).
    expect(store.registry.audit({ model: "penguins", limit: 1 })[0]!.details.production).toEqual(record);
  });

  it("counts a cached gate as passed, and a rollback to staging as a deploy there", () => {
    const v = register("r1", "cached");
    deployed(v, "staging", "deployment.rolledBack");
    const record = store.registry.productionCheck("penguins", v);
    expect(record.missing).toEqual([]);
    // Without the gate's report artifact the value still comes from the metric the gate checked.
    expect(record.gates[0]).toMatchObject({ status: "passed", value: 0.93, threshold: 0.9 });
    expect(record.gates[0]!.champion).toMatchObject({ model: "penguins", version: null, value: null });
  });

  it("refuses a version whose run had no gate, saying what is missing and how to override", () => {
    const v = register("r1", null);
    deployed(v, "staging");
    const e = thrownBy(() => store.registry.setAlias("penguins", "production", v, "ana"));
    expect(e).toBeInstanceOf(RegistryError);
    expect(e!.code).toBe("conflict");
    expect(e!.message).toContain('Cannot point "production" at penguins v1');
    expect(e!.message).toContain("run r1, which registered v1, has no gate node");
    expect(e!.message).toContain('--override-reason "…"');
    expect(e!.message).not.toContain("staging");
    // Nothing changed and nothing was audited.
    expect(store.registry.getModel("penguins")!.aliases).toEqual({});
    expect(store.registry.audit({ model: "penguins" }).some((a) => a.action.startsWith("alias."))).toBe(
      false,
    );
  });

  it("refuses a version whose gate failed, with the gate's own message", () => {
    const v = register("r1", "failed");
    deployed(v, "staging");
    const e = thrownBy(() => store.registry.setAlias("penguins", "production", v, "ana"));
    expect(e?.message).toContain('gate "gate" failed in run r1 (Gate failed: accuracy 0.93 is not >= 0.9)');
    const check = store.registry.productionCheck("penguins", v);
    expect(check.gates[0]).toMatchObject({ status: "failed", value: 0.93, op: ">=", threshold: 0.9 });
  });

  it("refuses a version never deployed to staging (a deploy elsewhere does not count), naming the deploy command", () => {
    const v = register("r1", "ran");
    deployed(v, "prod-eu");
    deployed(v, "staging", "deployment.failed");
    const e = thrownBy(() => store.registry.setAlias("penguins", "production", v, "ana"));
    expect(e?.code).toBe("conflict");
    expect(e?.message).toContain('a successful deploy to the "staging" target: v1 failed there');
    expect(e?.message).toContain("dagwood deploy penguins:1 --target staging");
    expect(e?.message).not.toContain("gate");
    // A successful staging deploy of another version does not count for this one.
    const v2 = register("r2", "ran");
    deployed(v2, "staging");
    expect(store.registry.productionCheck("penguins", v).missing).toHaveLength(1);
    expect(store.registry.productionCheck("penguins", v2).missing).toEqual([]);
  });

  it("lists every missing requirement at once", () => {
    const v = register("r1", "skipped");
    const e = thrownBy(() => store.registry.setAlias("penguins", "production", v, "ana"));
    expect(e?.message).toMatch(/gate "gate" was not reached in run r1.*; and a successful deploy/);
  });

  it("moves with an override reason, recording the reason and what it overrode", () => {
    const v = register("r1", null);
    const entry = store.registry.setAlias("penguins", "production", v, "ana", {
      reason: "  hotfix for incident 42: the gate's data was stale  ",
    });
    const record = entry.details.production as ProductionRecord;
    expect(record.reason).toBe("hotfix for incident 42: the gate's data was stale");
    expect(record.missing).toHaveLength(2);
    expect(record.staging).toBeNull();
    expect(store.registry.getModel("penguins")!.aliases.production).toBe(v);
  });

  it("refuses an override without a reason, and an overlong one", () => {
    const v = register("r1", null);
    for (const reason of ["", "   \n"]) {
      const e = thrownBy(() => store.registry.setAlias("penguins", "production", v, "ana", { reason }));
      expect(e?.code).toBe("invalid");
      expect(e?.message).toContain("An override needs a reason");
    }
    const long = thrownBy(() =>
      store.registry.setAlias("penguins", "production", v, "ana", { reason: "x".repeat(2001) }),
    );
    expect(long?.message).toContain("keep it to 2000");
    expect(store.registry.getModel("penguins")!.aliases).toEqual({});
  });

  it("refuses an unknown version or model before anything else", () => {
    register("r1", "ran");
    const e = thrownBy(() =>
      store.registry.setAlias("penguins", "production", 7, "ana", { reason: "because" }),
    );
    expect(e?.code).toBe("not-found");
    expect(e?.message).toContain("has no version 7");
    expect(thrownBy(() => store.registry.productionCheck("penguins", 7))?.code).toBe("not-found");
    expect(thrownBy(() => store.registry.productionCheck("nope", 1))?.code).toBe("not-found");
  });

  it("leaves other aliases free: staging and champion move without requirements", () => {
    const v = register("r1", null);
    expect(store.registry.setAlias("penguins", "staging", v, "ana").details).toEqual({
      alias: "staging",
      to: v,
    });
    expect(store.registry.setAlias("penguins", "champion", v, "ana").action).toBe("alias.set");
  });

  it("holds for registration too: register with alias production is refused and registers nothing", () => {
    recordRun("r1", "ran");
    const e = thrownBy(() => store.registry.registerVersion({ ...input("r1", "f1"), alias: "production" }));
    expect(e?.message).toContain("was never deployed there");
    expect(store.registry.getModel("penguins")).toBeUndefined();
  });

  it("uses a retraining loop's gate for a version its run did not gate", () => {
    const v = register("r1", null);
    deployed(v, "staging");
    store.registry.appendAudit({
      actor: "monitor:drift",
      action: "monitor.gate",
      model: "penguins",
      version: v,
      details: {
        loop: 1,
        monitor: "drift",
        metric: "accuracy",
        higherIsBetter: true,
        champion: 0.8,
        challenger: 0.85,
        margin: 0,
        rows: 40,
        passed: true,
      },
    });
    const record = store.registry.productionCheck("penguins", v);
    expect(record.missing).toEqual([]);
    expect(record.gates).toEqual([
      {
        source: "monitor",
        node: "drift",
        status: "passed",
        metric: "accuracy",
        op: null,
        threshold: null,
        value: 0.85,
        champion: { model: "penguins", alias: "champion", margin: 0, version: null, value: 0.8 },
        error: null,
      },
    ]);
  });

  it("lists alias changes newest first, production ones with their record", () => {
    const v1 = register("r1", "ran");
    deployed(v1, "staging");
    const v2 = register("r2", null);
    store.registry.setAlias("penguins", "production", v1, "ana");
    store.registry.setAlias("penguins", "staging", v2, "bo");
    store.registry.setAlias("penguins", "production", v2, "bo", { reason: "rollback of a bad feature" });
    store.registry.removeAlias("penguins", "staging", "bo");
    store.registry.archiveVersion("penguins", v2, "cy", { reason: "v2 leaks a feature" });
    const all = aliasChanges(store.registry.audit({ model: "penguins" }));
    expect(all.map((c) => [c.alias, c.change, c.from, c.to, c.actor])).toEqual([
      ["production", "archived", v2, null, "cy"],
      ["staging", "removed", v2, null, "bo"],
      ["production", "moved", v1, v2, "bo"],
      ["staging", "set", null, v2, "bo"],
      ["production", "set", null, v1, "ana"],
    ]);
    const prod = aliasChanges(store.registry.audit({ model: "penguins" }), "production");
    expect(prod).toHaveLength(3);
    expect(prod[1]!.production).toMatchObject({ reason: "rollback of a bad feature", run: { id: "r2" } });
    expect(prod[2]!.production).toMatchObject({ reason: null, missing: [], run: { gitCommit: COMMIT } });
    expect(prod[0]).toMatchObject({ change: "archived", production: null, reason: "v2 leaks a feature" });
    expect(all[1]).toMatchObject({ alias: "staging", change: "removed", reason: null });
  });

  it("removes production only with a reason, which its audit entry and the history keep", () => {
    const v1 = register("r1", "ran");
    deployed(v1, "staging");
    store.registry.setAlias("penguins", "production", v1, "ana");
    store.registry.setAlias("penguins", "staging", v1, "ana");
    const refused = thrownBy(() => store.registry.removeAlias("penguins", "production", "bo"));
    expect(refused).toBeInstanceOf(RegistryError);
    expect(refused?.code).toBe("conflict");
    expect(refused?.message).toContain('Cannot remove "production" from penguins v1 without a reason');
    expect(refused?.message).toContain(
      'dagwood models alias penguins production --remove --override-reason "…"',
    );
    const blank = thrownBy(() =>
      store.registry.removeAlias("penguins", "production", "bo", { reason: "  " }),
    );
    expect(blank?.code).toBe("invalid");
    // Refused changes leave the alias and the audit as they were.
    expect(store.registry.getModel("penguins")!.aliases.production).toBe(v1);
    const before = store.registry.audit({ model: "penguins" }).length;
    // Other aliases still go without one.
    store.registry.removeAlias("penguins", "staging", "bo");
    expect(store.registry.audit({ model: "penguins" })).toHaveLength(before + 1);

    const entry = store.registry.removeAlias("penguins", "production", "bo", {
      reason: "  v1 serves stale prices, incident 7 ",
    });
    expect(entry).toMatchObject({
      action: "alias.removed",
      actor: "bo",
      version: v1,
      details: { alias: "production", from: v1, reason: "v1 serves stale prices, incident 7" },
    });
    expect(store.registry.getModel("penguins")!.aliases).toEqual({});
    const [change] = aliasChanges(store.registry.audit({ model: "penguins" }), "production");
    expect(change).toMatchObject({
      change: "removed",
      from: v1,
      actor: "bo",
      reason: "v1 serves stale prices, incident 7",
    });
  });

  it("archives the version that holds production only with a reason", () => {
    const v1 = register("r1", "ran");
    deployed(v1, "staging");
    const v2 = register("r2", "ran");
    store.registry.setAlias("penguins", "production", v1, "ana");
    store.registry.setAlias("penguins", "champion", v1, "ana");
    const refused = thrownBy(() => store.registry.archiveVersion("penguins", v1, "bo"));
    expect(refused?.code).toBe("conflict");
    expect(refused?.message).toContain(
      `Cannot archive penguins v${v1} without a reason: it holds "production"`,
    );
    expect(refused?.message).toContain("reason field of the archive dialog");
    // Nothing changed: still ready, both aliases kept.
    expect(store.registry.getVersion("penguins", v1)!.status).toBe("ready");
    expect(store.registry.getModel("penguins")!.aliases).toEqual({ production: v1, champion: v1 });
    // A version without production archives as before.
    expect(store.registry.archiveVersion("penguins", v2, "bo").details).toEqual({ aliasesRemoved: [] });

    const entry = store.registry.archiveVersion("penguins", v1, "bo", { reason: "trained on a bad extract" });
    expect(entry).toMatchObject({
      action: "version.archived",
      version: v1,
      details: { aliasesRemoved: ["champion", "production"], reason: "trained on a bad extract" },
    });
    expect(aliasChanges(store.registry.audit({ model: "penguins" }), "production")[0]).toMatchObject({
      change: "archived",
      from: v1,
      reason: "trained on a bad extract",
    });
  });
});
