import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PortValue, ReportValue } from "../app/engine/ports";
import { createTestProject, type TestProject } from "../app/engine/testing";
import type { EvaluationReport } from "../app/values/evaluation";
import evaluate from "./evaluate";
import gate from "./gate";
import register from "./register";
import trainTree from "./train-tree";

/** Just the metrics of an evaluation report: all the gate reads without a champion. */
const reportWith = (metrics: Record<string, number | null>) =>
  ({ type: "report", data: { kind: "evaluation", metrics }, fingerprint: "f" }) as unknown as PortValue;

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
    const profile = {
      type: "report",
      data: { kind: "profile", rows: 3 },
      fingerprint: "p",
    } as unknown as PortValue;
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

describe("gate against the registered champion", () => {
  let p: TestProject;
  let test: PortValue;
  let other: PortValue;
  let weak: { model: PortValue; report: PortValue };
  let strong: { model: PortValue; report: PortValue };

  beforeEach(async () => {
    p = await createTestProject();
    // y is x > 50; a stump on z (x with noise) is weaker than a tree on x.
    const rows = (from: number) =>
      `SELECT (range % 100)::DOUBLE AS x, (range % 100 + (range * 7919) % 41 - 20)::DOUBLE AS z, (range % 100) > 50 AS y FROM range(${from}, ${from} + 400)`;
    const train = await p.table("train", rows(0));
    test = await p.table("test", rows(1000));
    other = await p.table("other", rows(5000).replace("400)", "300)"));
    p.upstream = { model: { node: "tree", port: "model" } };
    // Registered as soon as trained: the test context gives every run the same artifact folder.
    const trainAndRegister = async (params: Record<string, unknown>) => {
      const { model } = await p.run(trainTree, { train }, { target: "y", ...params });
      const { report } = await p.run(evaluate, { model, data: test });
      await p.run(register, { model }, { name: "clf" });
      return { model: model!, report: report! };
    };
    weak = await trainAndRegister({ features: ["z"], maxDepth: 1 });
    strong = await trainAndRegister({ features: ["x"], maxDepth: 4 });
    p.logs.length = 0;
  });
  afterEach(() => p.close());

  const accuracy = (r: PortValue) => ((r as ReportValue).data as EvaluationReport).metrics.accuracy!;
  /** Weak is clf v1, strong clf v2. */
  const crown = (version: number) => p.metadata().registry.setAlias("clf", "champion", version, "tester");
  const champion = { model: "clf" };

  it("passes with a log line when no version holds the alias yet", async () => {
    const out = await p.run(gate, { report: weak.report, data: test }, { metric: "accuracy", champion });
    expect((out.report as { data: { champion: unknown } }).data.champion).toEqual({
      model: "clf",
      alias: "champion",
      version: null,
      value: null,
    });
    expect(p.logs.map((l) => l.message)).toContain(
      'No champion yet: clf has no version under "champion", so there is nothing to beat.',
    );
  });

  it("passes a challenger at least as good as the champion on the same data, and adds the champion's score", async () => {
    expect(accuracy(strong.report)).toBeGreaterThan(accuracy(weak.report));
    crown(1);
    const out = await p.run(
      gate,
      { report: strong.report, data: test },
      { metric: "accuracy", threshold: 0.5, champion },
    );
    const data = (out.report as { data: { champion: unknown; metrics: unknown } }).data;
    expect(data.champion).toEqual({
      model: "clf",
      alias: "champion",
      version: 1,
      value: accuracy(weak.report),
    });
    expect(data.metrics).toEqual((strong.report as { data: { metrics: unknown } }).data.metrics);
    expect(p.logs.at(-1)?.message).toMatch(
      /^Gate passed: accuracy \S+ against the champion clf v1 \(@champion\)/,
    );
    expect(p.logs.some((l) => l.message.startsWith("Champion v1: "))).toBe(false);
    // The champion itself is as good as the champion.
    await p.run(gate, { report: weak.report, data: test }, { metric: "accuracy", champion });
  });

  it("fails a challenger worse than the champion, or not better by the margin", async () => {
    crown(2);
    await expect(
      p.run(gate, { report: weak.report, data: test }, { metric: "accuracy", champion }),
    ).rejects.toThrow(
      /Gate failed: accuracy \S+ against the champion clf v2 \(@champion\) \S+; higher is better/,
    );
    // Lower is better for log loss: the weak model's is higher.
    await expect(
      p.run(gate, { report: weak.report, data: test }, { metric: "log_loss", champion }),
    ).rejects.toThrow(/lower is better, and it must do as well\./);
    await expect(
      p.run(
        gate,
        { report: strong.report, data: test },
        { metric: "accuracy", champion: { model: "clf", margin: 0.01 } },
      ),
    ).rejects.toThrow(/must do as well by at least 0.01/);
  });

  it("refuses to compare on other data, without data, or on a metric with no better direction", async () => {
    crown(1);
    await expect(
      p.run(gate, { report: strong.report, data: other }, { metric: "accuracy", champion }),
    ).rejects.toThrow(/The data input is not the table the report was evaluated on/);
    // A report from before evaluate recorded its data's fingerprint: the row counts must match.
    const { dataFingerprint: _, ...unstamped } = (strong.report as { data: { dataFingerprint?: string } })
      .data;
    await expect(
      p.run(
        gate,
        { report: { type: "report", data: unstamped as EvaluationReport, fingerprint: "u" }, data: other },
        { metric: "accuracy", champion },
      ),
    ).rejects.toThrow(/The data input has 300 labelled rows, but the report was evaluated on 400/);
    const stamped: PortValue = {
      type: "report",
      data: {
        ...((strong.report as ReportValue).data as EvaluationReport),
        dataFingerprint: "0123456789abcdef",
      },
      fingerprint: "s",
    };
    await expect(
      p.run(gate, { report: stamped, data: test }, { metric: "accuracy", champion }),
    ).rejects.toThrow(
      /The data input is not the table the report was evaluated on \(fingerprint \w+, the report's 0123456789ab\)/,
    );
    await expect(p.run(gate, { report: strong.report }, { metric: "accuracy", champion })).rejects.toThrow(
      /To compare with the champion clf@champion \(v1\), connect "data"/,
    );
    await expect(
      p.run(gate, { report: strong.report, data: test }, { metric: "positive_rate", champion }),
    ).rejects.toThrow(/positive_rate is neither better high nor low/);
    await expect(
      p.run(gate, { report: strong.report }, { metric: "accuracy", champion: { model: "a/b" } }),
    ).rejects.toThrow(/Invalid params for gate: champion.model/);
  });

  it("scores the champion's fairness gap with the report's groups and conventions", async () => {
    crown(1);
    const grouped = await p.table(
      "grouped",
      `SELECT *, (x % 3)::VARCHAR AS third, CASE WHEN x % 7 = 0 THEN NULL ELSE (x % 2)::VARCHAR END AS parity FROM "${(test as { name: string }).name}"`,
    );
    const options = { groupBy: ["third", "parity"], fairnessConventions: "dagwood", minGroupSize: 10 };
    const report = (await p.run(evaluate, { model: strong.model, data: grouped }, options)).report!;
    const reportGroups = ((report as ReportValue).data as EvaluationReport).groups!;
    expect(reportGroups.rows.some((r) => r.values?.includes(null))).toBe(true); // dagwood keeps the missing values
    // The champion scored here by hand, natively: the test context's one artifact folder holds the
    // last trained model's ONNX file, not weak's (the gate reads the registry's copy).
    const weakNative = { ...weak.model, data: { ...(weak.model as { data: object }).data, onnx: undefined } };
    const weakGap = (
      (
        (await p.run(evaluate, { model: weakNative as PortValue, data: grouped }, options))
          .report as ReportValue
      ).data as EvaluationReport
    ).metrics.equalized_odds_difference!;
    // Scored with Fairlearn's conventions the champion's gap would differ: the gate must pass them on.
    const weakFairlearn = (
      (
        (
          await p.run(
            evaluate,
            { model: weakNative as PortValue, data: grouped },
            { groupBy: ["third", "parity"] },
          )
        ).report as ReportValue
      ).data as EvaluationReport
    ).metrics.equalized_odds_difference;
    expect(weakFairlearn).not.toBe(weakGap);
    const metric = "equalized_odds_difference";
    const ours = ((report as ReportValue).data as EvaluationReport).metrics[metric]!;
    // The strong tree is exact on x (gap 0); the stump on z is not (gap 0.25).
    expect(ours).toBe(0);
    const out = await p.run(gate, { report, data: grouped }, { metric, champion });
    expect((out.report as { data: EvaluationReport }).data.champion).toEqual({
      model: "clf",
      alias: "champion",
      version: 1,
      value: weakGap,
    });
    expect(weakGap).toBeGreaterThan(0.1);
  });

  it("keys its cache on the champion's current version", async () => {
    const params = { metric: "accuracy", champion };
    const none = await p.fingerprint(gate, params);
    expect(none).toBe("clf@champion=none");
    crown(1);
    expect(await p.fingerprint(gate, params)).toBe("clf@champion=1");
    crown(2);
    expect(await p.fingerprint(gate, params)).toBe("clf@champion=2");
    expect(await p.fingerprint(gate, { metric: "accuracy", threshold: 1 })).toBe("");
  });
});
