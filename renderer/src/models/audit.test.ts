import { describe, expect, it } from "vitest";
import type { AuditEntry } from "../../../app/api/api";
import { aliasChange, describeAudit } from "./audit";

describe("describeAudit", () => {
  // The sentences themselves are app/api/audit's, tested there.
  it("shortens run ids", () => {
    const created: AuditEntry = {
      id: 1,
      at: "2026-01-01T00:00:00Z",
      actor: "ana",
      action: "version.created",
      model: "penguins",
      version: 1,
      details: { runId: "20261126T170221-a1b2c3" },
    };
    expect(describeAudit(created)).toBe("v1 created from run 170221-a1b2c3");
  });
});

describe("aliasChange", () => {
  const aliases = { champion: 3, challenger: 4 };
  it("asks to move an alias that is on another version", () => {
    expect(aliasChange("champion", 4, aliases)).toEqual({
      kind: "move",
      from: 3,
      question: "champion now points at v3; move it to v4?",
    });
  });
  it("asks to set a new alias", () => {
    expect(aliasChange("staging", 4, aliases)).toEqual({ kind: "set", question: "Set staging on v4?" });
  });
  it("says when there is nothing to change", () => {
    expect(aliasChange("challenger", 4, aliases).kind).toBe("none");
  });
});
