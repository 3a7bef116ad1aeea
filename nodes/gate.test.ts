import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PortValue } from "../app/engine/ports";
import { createTestProject, type TestProject } from "../app/engine/testing";
import evaluate from "./evaluate";
import gate from "./gate";
import trainTree from "./train-tree";

const reportWith = (metrics: Record<string, number | null>): PortValue => ({
  type: "report",
  data: { kind: "evaluation", metrics },
  fingerprint: "f",
});

describe("gate", () => {
  let p: TestProject;
  beforeEach(async () => {
    p = await createTestProject();
  });
  afterEach(() => p.close());

  const report = reportWith({ accuracy: 0.91, roc_auc: 0.9731, rmse: null });

  it("passes the report through when the condition holds", async () => {
    const out = await p.run(gate, { report }, { metric: "accuracy", op: ">=", threshold: 0.9 });
    expect(out.report?.type === "report" && out.report.data).toEqual((report as { data: unknown }).data);
    expect(p.logs).toContainEqual({ level: "info", message: "Gate passed: accuracy 0.91 >= 0.9" });
    await p.run(gate, { report }, { metric: "accuracy", op: "<", threshold: 0.92 });
    await p.run(gate, { report }, { metric: "accuracy", op: "<=", threshold: 0.91 });
    await p.run(gate, { report }, { metric: "roc_auc", threshold: 0.97 }); // op defaults to >=
  });

  it("fails the node, saying by how much, when it does not", async () => {
    await expect(p.run(gate, { report }, { metric: "accuracy", op: ">=", threshold: 0.95 })).rejects.toThrow(
      "Gate failed: accuracy 0.91 is not >= 0.95",
    );
    await expect(p.run(gate, { report }, { metric: "accuracy", op: ">", threshold: 0.91 })).rejects.toThrow(
      "Gate failed: accuracy 0.91 is not > 0.91",
    );
    // Rounding would read "0.95 is not >= 0.95": the exact value is shown instead.
    const close = reportWith({ accuracy: 0.94996 });
    await expect(p.run(gate, { report: close }, { metric: "accuracy", threshold: 0.95 })).rejects.toThrow(
      "Gate failed: accuracy 0.94996 is not >= 0.95",
    );
    await expect(p.run(gate, { report }, { metric: "rmse", op: "<", threshold: 1 })).rejects.toThrow(
      /Gate failed: rmse is undefined for this data \(null\)/,
    );
  });

  it("lists the metrics there are when the metric is unknown", async () => {
    await expect(p.run(gate, { report }, { metric: "f1", threshold: 0.5 })).rejects.toThrow(
      'The report has no metric "f1". Its metrics are: accuracy, roc_auc, rmse.',
    );
  });

  it("refuses a report without metrics, another input type, and bad params", async () => {
    const profile: PortValue = { type: "report", data: { kind: "profile", rows: 3 }, fingerprint: "p" };
    await expect(p.run(gate, { report: profile }, { metric: "accuracy", threshold: 1 })).rejects.toThrow(
      /The report \(kind "profile"\) has no metrics to check/,
    );
    const table = await p.table("t", "SELECT 1 AS x");
    await expect(p.run(gate, { report: table }, { metric: "accuracy", threshold: 1 })).rejects.toThrow(
      /Input "report" must be a report, got table/,
    );
    await expect(p.run(gate, { report }, { metric: "accuracy", op: "==", threshold: 1 })).rejects.toThrow(
      /Invalid params for gate: op/,
    );
    await expect(p.run(gate, { report }, { metric: "accuracy" })).rejects.toThrow(/threshold/);
  });

  it("checks an evaluate report, fairness gaps included", async () => {
    // Group g holds every x alike; group h (x's parity) does not: 60 % of odd x are big, 40 % of even.
    const data = await p.table(
      "t",
      "SELECT (range % 10)::DOUBLE AS x, (range // 10) % 2 AS g, range % 2 AS h, range % 10 >= 5 AS big FROM range(200)",
    );
    const { model } = await p.run(trainTree, { train: data }, { target: "big", features: ["x"] });
    const fair = (await p.run(evaluate, { model, data }, { groupBy: "g" })).report;
    const skewed = (await p.run(evaluate, { model, data }, { groupBy: "h" })).report;
    const parity = { metric: "demographic_parity_difference", op: "<=", threshold: 0.1 };
    await p.run(gate, { report: fair }, { metric: "accuracy", threshold: 0.99 });
    await p.run(gate, { report: fair }, parity);
    await expect(p.run(gate, { report: skewed }, parity)).rejects.toThrow(
      "Gate failed: demographic_parity_difference 0.2 is not <= 0.1",
    );
    await expect(
      p.run(gate, { report: fair }, { metric: "log_loss", op: ">", threshold: 1 }),
    ).rejects.toThrow(/Gate failed: log_loss \S+ is not > 1/);
  });
});
