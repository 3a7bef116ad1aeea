import { describe, expect, it } from "vitest";
import type { PipelineDocument } from "../store/types";
import { withDeprecation, withField } from "./PipelineGovernance";

const doc: PipelineDocument = { name: "churn", owner: "ana", nodes: [], edges: [] };

describe("pipeline governance edits", () => {
  it("sets a field, and an emptied field leaves the file", () => {
    const withPurpose = withField(doc, "purpose", "Weekly churn scores for the CRM");
    expect(withPurpose.purpose).toBe("Weekly churn scores for the CRM");
    expect(doc).not.toHaveProperty("purpose");
    expect(withField(withPurpose, "purpose", "")).not.toHaveProperty("purpose");
    expect(withField(withPurpose, "purpose", undefined)).not.toHaveProperty("purpose");
    expect(withField(doc, "reviewBy", "2027-03-31").reviewBy).toBe("2027-03-31");
  });

  it("deprecation: each field kept beside the others; optional ones removed when emptied, the reason kept", () => {
    let d = withField(doc, "deprecated", { reason: "", since: "2026-12-01" });
    d = withDeprecation(d, "reason", "superseded by churn-v2");
    d = withDeprecation(d, "replacement", "pipelines/churn-v2.dag.json");
    expect(d.deprecated).toEqual({
      reason: "superseded by churn-v2",
      replacement: "pipelines/churn-v2.dag.json",
      since: "2026-12-01",
    });
    d = withDeprecation(d, "replacement", "");
    d = withDeprecation(d, "since", "");
    expect(d.deprecated).toEqual({ reason: "superseded by churn-v2" });
    expect(withDeprecation(d, "reason", "").deprecated).toEqual({ reason: "" });
    expect(withField(d, "deprecated", undefined)).not.toHaveProperty("deprecated");
  });
});
