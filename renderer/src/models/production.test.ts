import { describe, expect, it } from "vitest";
import type { AuditEntry } from "../../../app/api/api";
import type { ProductionRecord } from "../../../app/values/registry";
import { gateText, requirements, versionProductionHistory } from "./production";

const record: ProductionRecord = {
  run: { id: "r1", pipeline: "p", pipelinePath: null, pipelineHash: null, gitCommit: null, gitDirty: null },
  datasets: [],
  gates: [
    {
      source: "run",
      node: "gate",
      status: "failed",
      metric: "accuracy",
      op: ">=",
      threshold: 0.95,
      value: 0.9123456,
      champion: null,
      error: "Gate failed: accuracy 0.9123 is not >= 0.95",
    },
  ],
  staging: null,
  missing: [
    'a passed gate: gate "gate" failed in run r1 (Gate failed: accuracy 0.9123 is not >= 0.95)',
    'a successful deploy to the "staging" target: v1 was never deployed there (deploy it with: dagwood deploy m:1 --target staging)',
  ],
  reason: null,
};

describe("production in words", () => {
  it("says each requirement's state with what is missing", () => {
    expect(requirements(record)).toEqual([
      {
        label: "Passed its gate",
        met: false,
        detail: 'gate "gate" failed in run r1 (Gate failed: accuracy 0.9123 is not >= 0.95)',
      },
      {
        label: "Deployed to staging",
        met: false,
        detail: "v1 was never deployed there (deploy it with: dagwood deploy m:1 --target staging)",
      },
    ]);
    const met = requirements({
      ...record,
      missing: [],
      gates: [{ ...record.gates[0]!, status: "passed", error: null, threshold: 0.9 }],
      staging: { target: "staging", auditId: 3, at: "2026-01-01T00:00:00Z", actor: "ci" },
    });
    expect(met.map((r) => [r.met, r.detail])).toEqual([
      [true, "accuracy 0.9123 >= 0.9 — passed (node gate)"],
      [true, "by ci"],
    ]);
  });

  it("names the champion a gate compared with", () => {
    expect(
      gateText({
        ...record.gates[0]!,
        threshold: null,
        op: null,
        status: "passed",
        error: null,
        champion: { model: "m", alias: "champion", margin: 0, version: 2, value: 0.9 },
      }),
    ).toBe("accuracy 0.9123 against m@champion v2 0.9 — passed (node gate)");
  });

  it("keeps the production changes into and out of a version", () => {
    const entry = (id: number, action: string, details: Record<string, unknown>): AuditEntry => ({
      id,
      at: "2026-01-01T00:00:00Z",
      actor: "ana",
      action: action as AuditEntry["action"],
      model: "m",
      version: (details.to ?? details.from) as number,
      details,
    });
    const audit = [
      entry(4, "alias.moved", { alias: "production", from: 1, to: 2, production: record }),
      entry(3, "alias.set", { alias: "champion", to: 1 }),
      entry(2, "alias.set", { alias: "production", to: 1, production: record }),
      entry(1, "alias.set", { alias: "staging", to: 1 }),
    ];
    expect(versionProductionHistory(audit, 1).map((c) => c.auditId)).toEqual([4, 2]);
    expect(versionProductionHistory(audit, 2).map((c) => c.auditId)).toEqual([4]);
    expect(versionProductionHistory(audit, 3)).toEqual([]);
  });
});
