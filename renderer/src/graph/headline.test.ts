import { describe, expect, it } from "vitest";
import type { NodeOutputs, NodeRun, OutputSummary } from "../store/run";
import { nodeHeadline, shownWarnings, warningTitle } from "./headline";

const table = (rows: number, columns = 7): OutputSummary => ({
  type: "table",
  table: "t",
  rows,
  columns,
  fingerprint: "f",
});
const withHeadline = (type: string, headline: OutputSummary["headline"]): OutputSummary => ({
  type,
  fingerprint: "f",
  headline,
});

describe("nodeHeadline", () => {
  it("tables: the row counts in the block's port order, with thousands separators", () => {
    // A split's outputs, listed test first: the headline still reads train / test.
    const h = nodeHeadline({ test: table(39_981), train: table(159_926) }, ["train", "test"]);
    expect(h?.text).toBe("159,926 / 39,981 rows");
    expect(h?.title).toBe("train: 159,926 rows, 7 columns\ntest: 39,981 rows, 7 columns");
    expect(nodeHeadline({ out: table(0) }, ["out"])?.text).toBe("0 rows");
  });

  it("evaluate: accuracy for classification, RMSE for regression, a dash when undefined", () => {
    const acc = nodeHeadline(
      {
        report: withHeadline("report", {
          kind: "metric",
          name: "accuracy",
          value: 0.9186046511627907,
          rows: 86,
        }),
      },
      ["report"],
    );
    expect(acc).toEqual({ text: "accuracy 0.9186", title: "accuracy 0.9186046511627907 on 86 rows" });
    const rmse = nodeHeadline(
      { report: withHeadline("report", { kind: "metric", name: "rmse", value: 1234.5678, rows: 1_000 }) },
      ["report"],
    );
    expect(rmse?.text).toBe("RMSE 1,235");
    expect(rmse?.title).toBe("RMSE 1234.5678 on 1,000 rows");
    const tiny = nodeHeadline(
      { report: withHeadline("report", { kind: "metric", name: "rmse", value: 0.000012345, rows: 5 }) },
      ["report"],
    );
    expect(tiny?.text).toBe("RMSE 1.23e-5");
    const none = nodeHeadline(
      { report: withHeadline("report", { kind: "metric", name: "accuracy", value: null, rows: 0 }) },
      ["report"],
    );
    expect(none?.text).toBe("accuracy —");
    expect(none?.title).toMatch(/not defined/);
  });

  it("train: parity ok when every label agrees, the agreement otherwise; the difference in the tooltip", () => {
    const ok = nodeHeadline(
      {
        model: withHeadline("model", { kind: "parity", maxAbsDiff: 3.33e-16, labelAgreement: 1, rows: 261 }),
      },
      ["model"],
    );
    expect(ok?.text).toBe("parity ok");
    expect(ok?.title).toBe(
      "ONNX against the native model on 261 rows: max |difference| 3.3e-16, labels agree on 100%",
    );
    const off = nodeHeadline(
      { model: withHeadline("model", { kind: "parity", maxAbsDiff: 0.5, labelAgreement: 0.985, rows: 200 }) },
      ["model"],
    );
    expect(off?.text).toBe("parity: labels 98.5%");
  });

  it("register and deploy: the version, and where it serves", () => {
    expect(
      nodeHeadline(
        {
          version: withHeadline("modelVersion", {
            kind: "version",
            model: "penguins",
            version: 3,
            created: true,
          }),
        },
        ["version"],
      ),
    ).toEqual({ text: "penguins v3", title: "Registered penguins version 3" });
    expect(
      nodeHeadline(
        {
          version: withHeadline("modelVersion", {
            kind: "version",
            model: "penguins",
            version: 2,
            created: false,
          }),
        },
        ["version"],
      )?.title,
    ).toBe("The same model was registered before, as penguins version 2");
    const deployed = nodeHeadline(
      {
        deployment: withHeadline("deployment", {
          kind: "deployment",
          target: "staging",
          model: "penguins",
          version: 3,
          previous: 2,
        }),
      },
      ["deployment"],
    );
    expect(deployed).toEqual({
      text: "v3 on staging",
      title: "penguins version 3 serves on staging (was version 2)",
    });
  });

  it("nothing to show: no outputs, or outputs without a headline (a profile, a summary from an older run)", () => {
    expect(nodeHeadline(undefined, ["out"])).toBeNull();
    expect(nodeHeadline({}, ["out"])).toBeNull();
    expect(nodeHeadline({ report: { type: "report", fingerprint: "f" } }, ["report"])).toBeNull();
  });
});

describe("nodeHeadline of a suite's result", () => {
  const validation = (failed: number, rejected: number | null, onFailure: "warn" | "quarantine" | null) =>
    withHeadline("report", {
      kind: "validation",
      suite: "flights",
      evaluated: 20,
      failed,
      rows: 5000,
      rejected,
      onFailure,
    });

  it("shows passed or failed counts rather than the row counts of out and rejected", () => {
    const all = nodeHeadline({ out: table(5000), rejected: table(0), report: validation(0, null, null) }, [
      "out",
      "rejected",
      "report",
    ]);
    expect(all?.text).toBe("20/20 passed");
    expect(all?.title).toBe("Suite flights on 5,000 rows: 20 of 20 expectations passed");
    const warned = nodeHeadline({ out: table(5000), report: validation(2, null, "warn") }, ["out", "report"]);
    expect(warned?.text).toBe("2 of 20 failed");
    expect(warned?.title).toContain("onFailure is warn: the node succeeded with a warning");
  });

  it("quarantine: the rows it moved out, with thousands separators; none moved adds nothing", () => {
    const q = nodeHeadline({ out: table(4188), report: validation(1, 812, "quarantine") }, ["out", "report"]);
    expect(q?.text).toBe("1 of 20 failed · 812 rejected");
    expect(q?.title).toContain("812 rows moved to rejected (quarantine)");
    const big = nodeHeadline({ report: validation(3, 1_234_567, "quarantine") }, ["report"]);
    expect(big?.text).toBe("3 of 20 failed · 1,234,567 rejected");
    const none = nodeHeadline({ report: validation(0, 0, "quarantine") }, ["report"]);
    expect(none?.text).toBe("20/20 passed");
    expect(none?.title).toContain("0 rows moved to rejected");
  });
});

describe("nodeHeadline of a drift report", () => {
  const drift = (drifted: number, datasetDrift: boolean) =>
    withHeadline("report", { kind: "drift", drifted, considered: 20, datasetDrift, rows: 12_500 });

  it("says how many columns drifted, or no drift", () => {
    const some = nodeHeadline({ report: drift(3, false) }, ["report"]);
    expect(some?.text).toBe("3 of 20 drifted");
    expect(some?.title).toBe("3 of 20 columns drifted on 12,500 current rows: no dataset drift");
    expect(nodeHeadline({ report: drift(11, true) }, ["report"])?.title).toContain(": dataset drift");
    expect(nodeHeadline({ report: drift(0, false) }, ["report"])?.text).toBe("no drift");
  });
});

describe("warningTitle", () => {
  it("the count, the first messages, and how many more the run log holds", () => {
    expect(warningTitle(1, ["did not converge"])).toBe(
      "1 warning — click to see them in the run log\n• did not converge",
    );
    expect(warningTitle(7, ["a", "b"])).toBe(
      "7 warnings — click to see them in the run log\n• a\n• b\n… and 5 more",
    );
  });
});

describe("shownWarnings", () => {
  const produced: NodeOutputs = { runId: "r", outputs: {}, warnings: { count: 2, messages: ["a", "b"] } };
  const run: NodeRun = { state: "failed", warnings: 1, warningMessages: ["x"] };

  it("a done or cached node shows the warnings of the outputs it shows (also from an earlier session)", () => {
    expect(shownWarnings("done", { state: "done", warnings: 2 }, produced)).toEqual({
      count: 2,
      messages: ["a", "b"],
    });
    expect(shownWarnings("cached", undefined, produced)).toEqual({ count: 2, messages: ["a", "b"] });
    expect(shownWarnings("cached", undefined, { runId: "r", outputs: {} })).toBeNull();
    expect(shownWarnings("done", undefined, undefined)).toBeNull();
  });

  it("a running or failed node shows its run's; a stale or idle node none", () => {
    expect(shownWarnings("failed", run, undefined)).toEqual({ count: 1, messages: ["x"] });
    expect(shownWarnings("running", { state: "running", warnings: 3 }, produced)).toEqual({
      count: 3,
      messages: [],
    });
    expect(shownWarnings("stale", run, produced)).toBeNull();
    expect(shownWarnings("idle", undefined, produced)).toBeNull();
    // The run's failure is not what the node shows after an edit (it shows its cache state instead).
    expect(shownWarnings("queued", run, undefined)).toBeNull();
  });
});
