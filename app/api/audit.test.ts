import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createTempStore } from "../store/metadata";
import type { AuditEntry } from "../store/types";
import { describeAudit } from "./audit";

const entry = (action: AuditEntry["action"], version: number | null, details: Record<string, unknown> = {}) =>
  ({
    id: 1,
    at: "2026-01-01T00:00:00Z",
    actor: "ana",
    action,
    model: "penguins",
    version,
    details,
  }) as AuditEntry;

describe("describeAudit", () => {
  it("says what an alias change did", () => {
    expect(describeAudit(entry("alias.moved", 4, { alias: "champion", from: 3, to: 4 }))).toBe(
      "alias champion moved v3 → v4",
    );
    expect(describeAudit(entry("alias.set", 2, { alias: "challenger" }))).toBe("alias challenger set on v2");
    expect(describeAudit(entry("alias.removed", 3, { alias: "champion" }))).toBe(
      "alias champion removed from v3",
    );
  });

  it("says what happened to versions, models and deployments", () => {
    expect(describeAudit(entry("version.created", 1, { runId: "20261126T170221-a1b2c3" }))).toBe(
      "v1 created from run 20261126T170221-a1b2c3",
    );
    expect(describeAudit(entry("version.archived", 2))).toBe("v2 archived");
    expect(describeAudit(entry("model.created", null))).toBe("model penguins created");
    expect(describeAudit(entry("model.updated", null, { description: "x" }))).toBe(
      "model description updated",
    );
    expect(describeAudit(entry("deployment.succeeded", 4, { target: "local" }))).toBe("v4 deployed to local");
    expect(describeAudit(entry("deployment.failed", 4, { target: "prod", error: "refused" }))).toBe(
      "deploying v4 to prod failed: refused",
    );
    // What app/deploy records: the reason.
    expect(describeAudit(entry("deployment.failed", 2, { target: "local", reason: "parity failed" }))).toBe(
      "deploying v2 to local failed: parity failed",
    );
    expect(describeAudit(entry("deployment.rolledBack", 1, { target: "local" }))).toBe(
      "local rolled back to v1",
    );
  });

  it("says which step failed: a deploy, a rollback, or a canary's deploy, promotion or removal", () => {
    const failed = (operation: string | undefined, version: number) =>
      describeAudit(
        entry("deployment.failed", version, {
          target: "local",
          reason: "parity failed",
          ...(operation ? { operation } : {}),
        }),
      );
    expect(failed(undefined, 3)).toBe("deploying v3 to local failed: parity failed");
    expect(failed("rollback", 1)).toBe("rolling local back to v1 failed: parity failed");
    expect(failed("canary", 3)).toBe("deploying v3 to local as a canary failed: parity failed");
    expect(failed("promote", 2)).toBe("promoting the canary v2 on local failed: parity failed");
    expect(failed("removeCanary", 2)).toBe("removing the canary v2 from local failed: parity failed");
    // An operation this version does not know still reads as a failure of that version there.
    expect(failed("resize", 2)).toBe("deploying v2 to local failed: parity failed");
  });

  it("says what happened to a canary", () => {
    expect(describeAudit(entry("deployment.canary", 2, { target: "local", percent: 20, previous: 1 }))).toBe(
      "v2 deployed to local as a canary taking 20 % of the traffic beside v1",
    );
    expect(describeAudit(entry("deployment.canaryEnded", 2, { target: "local", outcome: "promoted" }))).toBe(
      "canary v2 promoted on local: it serves all the traffic",
    );
    expect(
      describeAudit(
        entry("deployment.canaryEnded", 2, {
          target: "local",
          outcome: "removed",
          reason: "accuracy 0.6 < 0.8",
        }),
      ),
    ).toBe("canary v2 removed from local: accuracy 0.6 < 0.8");
    expect(describeAudit(entry("deployment.canary", null))).toBe(
      "a version deployed to a target as a canary",
    );
  });

  it("shortens the run id only when asked", () => {
    const created = entry("version.created", 1, { runId: "20261126T170221-a1b2c3" });
    expect(describeAudit(created, (id) => id.slice(-6))).toBe("v1 created from run a1b2c3");
  });

  it("reads entries with missing details without throwing", () => {
    expect(describeAudit(entry("alias.moved", null))).toBe("alias ? moved a version → a version");
    expect(describeAudit({ ...entry("alias.set", null), details: undefined as never })).toBe(
      "alias ? set on a version",
    );
  });

  it("reads what the registry itself records", () => {
    const { store, dir, cleanup } = createTempStore();
    try {
      mkdirSync(join(dir, "out"));
      const files = { native: join(dir, "out", "model.json"), onnx: join(dir, "out", "model.onnx") };
      writeFileSync(files.native, "{}");
      writeFileSync(files.onnx, "onnx-bytes");
      const register = (fingerprint: string) =>
        store.registry.registerVersion({
          name: "penguins",
          runId: `run-${fingerprint}`,
          nodeId: "gbdt",
          modelFingerprint: fingerprint,
          estimator: "gbdt",
          task: "binary",
          signature: { inputs: [], outputs: [] },
          metrics: {},
          parity: { rows: 1, maxAbsDiff: 0, labelAgreement: 1 },
          files,
          lineage: {
            run: {
              id: `run-${fingerprint}`,
              pipeline: "p",
              pipelinePath: null,
              pipelineHash: "h",
              startedAt: "2026-01-01T00:00:00Z",
              user: null,
            },
            nodeId: "gbdt",
            datasets: [],
            params: {},
            environment: {},
          },
          actor: "ana",
        });
      register("f1");
      register("f2");
      const { registry } = store;
      registry.setAlias("penguins", "champion", 1, "ana");
      registry.setAlias("penguins", "champion", 2, "ana");
      registry.archiveVersion("penguins", 2, "ana");
      registry.setAlias("penguins", "staging", 1, "ana");
      registry.removeAlias("penguins", "staging", "ana");
      const said = registry
        .audit({ model: "penguins" })
        .map((e) => describeAudit(e))
        .sort();
      expect(said).toEqual(
        [
          "model penguins created",
          "v1 created from run run-f1",
          "v2 created from run run-f2",
          "alias champion set on v1",
          "alias champion moved v1 → v2",
          "v2 archived (alias champion removed)",
          "alias staging set on v1",
          "alias staging removed from v1",
        ].sort(),
      );
    } finally {
      cleanup();
    }
  });
});
