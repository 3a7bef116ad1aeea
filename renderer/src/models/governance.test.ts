import { describe, expect, it } from "vitest";
import { deprecatedBadge, governanceProblem, governanceUpdate } from "./governance";

const form = {
  purpose: "  Churn scores for the CRM ",
  reviewBy: "2027-03-31",
  deprecated: false,
  reason: "",
  replacement: "",
  since: "",
};

describe("model governance", () => {
  it("the list badge names the replacement when there is one", () => {
    expect(deprecatedBadge({ reason: "retrained", replacement: "churn-v2" })).toBe(
      "deprecated → use churn-v2",
    );
    expect(deprecatedBadge({ reason: "retrained" })).toBe("deprecated");
    expect(deprecatedBadge(null)).toBeNull();
    expect(deprecatedBadge(undefined)).toBeNull();
  });

  it("updateModel's arguments: trimmed text, empty fields cleared with null", () => {
    expect(governanceUpdate("churn", form)).toEqual({
      name: "churn",
      purpose: "Churn scores for the CRM",
      reviewBy: "2027-03-31",
      deprecated: null,
    });
    expect(governanceUpdate("churn", { ...form, purpose: " ", reviewBy: "" })).toMatchObject({
      purpose: null,
      reviewBy: null,
    });
    expect(
      governanceUpdate("churn", {
        ...form,
        deprecated: true,
        reason: " retrained on 2026 data ",
        replacement: " churn-v2 ",
        since: "2026-12-01",
      }).deprecated,
    ).toEqual({ reason: "retrained on 2026 data", replacement: "churn-v2", since: "2026-12-01" });
    expect(governanceUpdate("churn", { ...form, deprecated: true, reason: "old" }).deprecated).toEqual({
      reason: "old",
    });
  });

  it("refuses a deprecation without a reason and dates not written as YYYY-MM-DD", () => {
    expect(governanceProblem(form)).toBeNull();
    expect(governanceProblem({ ...form, deprecated: true, reason: "  " })).toMatch(
      /why the model is deprecated/,
    );
    expect(governanceProblem({ ...form, reviewBy: "31/03/2027" })).toMatch(/YYYY-MM-DD/);
    expect(governanceProblem({ ...form, deprecated: true, reason: "x", since: "2026-1-1" })).toMatch(
      /deprecation date/,
    );
  });
});
