import { describe, expect, it } from "vitest";
import type { AuditEntry } from "../../../app/api/api";
import { aliasChange, describeAudit } from "./audit";

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
      "v1 created from run 170221-a1b2c3",
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
  });

  it("reads entries with missing details without throwing", () => {
    expect(describeAudit(entry("alias.moved", null))).toBe("alias ? moved a version → a version");
  });
});

describe("aliasChange", () => {
  const aliases = { champion: 3, challenger: 4 };
  it("asks to move an alias that is on another version", () => {
    expect(aliasChange("champion", 4, aliases)).toEqual({
      kind: "move",
      from: 3,
      question: "Move champion from v3 to v4?",
    });
  });
  it("asks to set a new alias", () => {
    expect(aliasChange("staging", 4, aliases)).toEqual({ kind: "set", question: "Set staging on v4?" });
  });
  it("says when there is nothing to change", () => {
    expect(aliasChange("challenger", 4, aliases).kind).toBe("none");
  });
});
