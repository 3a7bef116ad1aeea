/**
 * Performance per window against scikit-learn on the same rows (accuracy,
 * F1 macro, log loss; RMSE, MAE, R²), the breach against registered figures
 * found in the windows that got worse only, and the monitoring report built
 * from a real inference-log table and feedback: labels for unknown ids
 * counted, no labels giving no performance.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestProject, type TestProject } from "../engine/testing";
import type { InferenceLogEntry } from "../serving/observability";
import { MonitoringReport } from "../values/monitoring";
import { inferenceLogTable } from "./inference-log";
import { feedbackTable, joinLabels } from "./labels";
import { compareMetric, type LabelledRows, performanceOverWindows } from "./performance";
import { buildMonitoringReport } from "./report";

const VEGA = resolve(import.meta.dirname, "../../node_modules/vega-datasets/data");
const START = Date.parse("2026-12-06T00:00:00Z");
const HOUR2 = 2 * 3600e3;
const CLASSES = ["drizzle", "fog", "rain", "snow", "sun"];

let p: TestProject;
let cls: LabelledRows;
let reg: LabelledRows;

/** scikit-learn's metrics per two-hour window of the rows. */
function sklearn(
  task: "classification" | "regression",
  rows: unknown[],
): Record<string, Record<string, number>> {
  const script = `import json, sys, numpy as np, pandas as pd
from sklearn import metrics as m
d = pd.DataFrame(json.load(sys.stdin))
out = {}
for w, g in d.groupby((d.t // ${HOUR2}) * ${HOUR2}):
    if "${task}" == "regression":
        out[str(int(w))] = {"rmse": float(np.sqrt(m.mean_squared_error(g.y, g.p))), "mae": float(m.mean_absolute_error(g.y, g.p)),
                            "r2": float(m.r2_score(g.y, g.p))}
    else:
        labels = ${JSON.stringify(CLASSES)}
        out[str(int(w))] = {"accuracy": float(m.accuracy_score(g.y, g.p)), "f1_macro": float(m.f1_score(g.y, g.p, average="macro")),
                            "log_loss": float(m.log_loss(g.y, g[["q_" + c for c in labels]].to_numpy(), labels=labels))}
print(json.dumps(out))`;
  return JSON.parse(
    execFileSync("/usr/bin/python3", ["-c", script], {
      input: JSON.stringify(rows),
      maxBuffer: 1 << 28,
    }).toString(),
  );
}

beforeAll(async () => {
  p = await createTestProject();
  copyFileSync(join(VEGA, "seattle-weather.csv"), join(p.dir, "data", "seattle-weather.csv"));
  const src = `read_csv_auto('${join(p.dir, "data", "seattle-weather.csv")}')`;
  const shuffled = `WITH s AS (SELECT *, row_number() OVER (ORDER BY hash(date), date) - 1 AS rn FROM ${src})`;
  // A classifier right on most rows; from row 720 on it also says "sun" on a third of the rows. It gives its
  // answer probability 0.6 and each other class 0.1.
  const t = await p.table(
    "perf_cls",
    `${shuffled}, q AS (
       SELECT weather AS target, TIMESTAMPTZ '2026-12-06 00:00:00+00' + to_minutes(rn) AS time,
              CASE WHEN rn >= 720 AND hash(date) % 3 = 0 THEN 'sun' WHEN hash(date) % 10 = 0 THEN 'rain' ELSE weather END AS label
       FROM s)
     SELECT *, ${CLASSES.map((c) => `CASE WHEN label = '${c}' THEN 0.6 ELSE 0.1 END AS probability_${c}`).join(", ")} FROM q`,
  );
  cls = { name: t.name, columns: t.columns, prediction: "label", target: "target", time: "time" };
  // A regression off by (k − 3) · 0.5 (k = 0…6) until row 720, four times that after.
  const r = await p.table(
    "perf_reg",
    `${shuffled}
     SELECT temp_max AS target, TIMESTAMPTZ '2026-12-06 00:00:00+00' + to_minutes(rn) AS time,
            temp_max + ((hash(date) % 7)::DOUBLE - 3) * CASE WHEN rn >= 720 THEN 2 ELSE 0.5 END AS prediction
     FROM s`,
  );
  reg = { name: r.name, columns: r.columns, prediction: "prediction", target: "target", time: "time" };
});
afterAll(() => p.close());

describe("performanceOverWindows", () => {
  it("classification: accuracy, F1 macro and log loss per window as scikit-learn computes them; worse windows breach", async () => {
    const result = await performanceOverWindows(p.sql, cls, {
      window: "2h",
      registered: { accuracy: 0.9, f1_macro: 0.8, log_loss: 0.6, roc_auc: 0.95 },
      tolerance: 0.05,
    });
    expect(result.task).toBe("multiclass");
    expect(result.registered).toEqual({ accuracy: 0.9, f1_macro: 0.8, log_loss: 0.6 });
    const rows = await p.sql.all(
      `SELECT epoch_ms(time)::DOUBLE AS t, target AS y, label AS p, ${CLASSES.map((c) => `probability_${c} AS q_${c}`).join(", ")} FROM perf_cls`,
    );
    const peer = sklearn("classification", rows);
    expect(result.windows).toHaveLength(13);
    for (const w of result.windows) {
      const e = peer[String(w.startMs)]!;
      for (const m of ["accuracy", "f1_macro", "log_loss"]) {
        expect(Math.abs(w.performance![m]!.value! - e[m]!), `${w.startMs} ${m}`).toBeLessThan(1e-9);
        expect(w.performance![m]!.delta).toBeCloseTo(w.performance![m]!.value! - result.registered[m]!, 12);
      }
    }
    expect(result.windows.map((w) => w.labelled)).toEqual([...new Array(12).fill(120), 21]);
    // Accuracy falls by about a third from row 720 (window 6): those windows breach, the earlier ones do not.
    expect(result.windows.map((w) => w.performance!.accuracy!.breached)).toEqual(
      result.windows.map((_, k) => k >= 6),
    );
    for (const w of result.windows)
      expect(w.breached).toBe(Object.values(w.performance!).some((m) => m.breached));
  });

  it("regression: RMSE, MAE and R² per window as scikit-learn computes them; RMSE breaches where the errors grew", async () => {
    const result = await performanceOverWindows(p.sql, reg, {
      window: HOUR2,
      registered: { rmse: 1, mae: 0.9 },
      tolerance: 0.5,
    });
    expect(result.task).toBe("regression");
    const rows = await p.sql.all(
      `SELECT epoch_ms(time)::DOUBLE AS t, target AS y, prediction AS p FROM perf_reg`,
    );
    const peer = sklearn("regression", rows);
    for (const w of result.windows) {
      const e = peer[String(w.startMs)]!;
      for (const m of ["rmse", "mae", "r2"])
        expect(Math.abs(w.performance![m]!.value! - e[m]!), `${w.startMs} ${m}`).toBeLessThan(1e-9);
      expect(w.performance!.r2).toMatchObject({ registered: null, delta: null, breached: false });
    }
    expect(result.windows.map((w) => w.breached)).toEqual(result.windows.map((_, k) => k >= 6));
  });

  it("leaves out log loss without probabilities, and metrics below minRows labelled rows", async () => {
    const bare = { ...cls, columns: cls.columns.filter((c) => !c.name.startsWith("probability_")) };
    const result = await performanceOverWindows(p.sql, bare, { window: "2h", minRows: 30 });
    expect(Object.keys(result.windows[0]!.performance!)).toEqual(["accuracy", "f1_macro"]);
    expect(result.windows.at(-1)).toMatchObject({ labelled: 21, performance: null, breached: false });
    // A binary task is named by its two labels.
    const binary = await p.table(
      "perf_bin",
      `SELECT time, target = 'sun' AS target, label = 'sun' AS label FROM perf_cls`,
    );
    const b = await performanceOverWindows(
      p.sql,
      { name: binary.name, columns: binary.columns, prediction: "label", target: "target", time: "time" },
      { window: "2h" },
    );
    expect(b.task).toBe("binary");
  });

  it("compares in the metric's direction: higher-better falls, lower-better rises", () => {
    expect(compareMetric("accuracy", 0.84, 0.9, 0.05).breached).toBe(true);
    expect(compareMetric("accuracy", 0.86, 0.9, 0.05).breached).toBe(false);
    expect(compareMetric("accuracy", 0.99, 0.9, 0.05).breached).toBe(false);
    expect(compareMetric("rmse", 1.6, 1, 0.5).breached).toBe(true);
    expect(compareMetric("rmse", 0.2, 1, 0.5).breached).toBe(false);
    expect(compareMetric("r2", Number.NaN, 0.8, 0.05)).toEqual({
      value: null,
      registered: 0.8,
      delta: null,
      breached: false,
    });
  });

  it("refuses rows without a prediction, a regression on text labels and a negative tolerance", async () => {
    await expect(
      performanceOverWindows(p.sql, { ...cls, prediction: undefined }, { window: "1h" }),
    ).rejects.toThrow(/no prediction column/);
    await expect(performanceOverWindows(p.sql, cls, { window: "1h", task: "regression" })).rejects.toThrow(
      /regression but the ground truth "target" is VARCHAR/,
    );
    await expect(performanceOverWindows(p.sql, cls, { window: "1h", tolerance: -1 })).rejects.toThrow(
      /tolerance must be a number ≥ 0/,
    );
    await expect(performanceOverWindows(p.sql, { ...cls, time: "when" }, { window: "1h" })).rejects.toThrow(
      /no column "when"/,
    );
  });
});

describe("buildMonitoringReport from an inference log", () => {
  /** 60 one-row requests a minute apart, x = 0…59; the model answers "high" for x ≥ 30 (from minute 30 x is doubled). */
  function entries(): InferenceLogEntry[] {
    return Array.from({ length: 60 }, (_, i) => {
      const x = i < 30 ? i % 10 : (i % 10) * 2;
      return {
        seq: i + 1,
        time: new Date(START + i * 60e3 + 1000).toISOString(),
        requestId: `r${i}`,
        model: "m",
        version: 1,
        role: "primary",
        latencyMs: 1,
        inputs: [{ name: "x", datatype: "FP64", shape: [1, 1], data: [x] }],
        outputs: [{ name: "label", datatype: "BYTES", shape: [1], data: [x >= 5 ? "high" : "low"] }],
      } as InferenceLogEntry;
    });
  }

  it("merges drift and performance on one time axis, counts labels for unknown ids, and validates as the JSON shape", async () => {
    const log = await inferenceLogTable(p.sql, "mlog", entries());
    const reference = await p.table("mref", `SELECT (range % 10)::DOUBLE AS x FROM range(100)`);
    // Truth: "high" for x ≥ 6 — the model is wrong at x = 5 only; plus a label for a request never logged.
    const records = entries().map((e, i) => ({
      id: e.requestId,
      label: (e.inputs[0]!.data[0] as number) >= 6 ? "high" : "low",
      seq: i + 1,
      time: e.time,
    }));
    records.push({ id: "ghost", label: "low", seq: 61, time: new Date(START).toISOString() });
    const labels = await feedbackTable(p.sql, "mlabels", records);
    const labelled = await joinLabels(p.sql, log, labels);
    const report = await buildMonitoringReport(p.sql, {
      reference,
      current: log,
      labelled,
      window: "30m",
      minRows: 10,
      prediction: log.prediction,
      columns: ["x"],
      model: "m",
      version: 1,
      registered: { accuracy: 1 },
      tolerance: 0.05,
    });
    expect(MonitoringReport.parse(report)).toEqual(report);
    expect(report.labels).toEqual({ labelled: 60, unlabelled: 0, unmatched: 1, bad: 0 });
    expect(report.windows.map((w) => w.rows)).toEqual([30, 30]);
    // x doubled in the second half: drift there only; the reference has 100 rows, so KS.
    expect(report.windows.map((w) => w.drift.x!.drifted)).toEqual([false, true]);
    expect(report.windows[0]!.drift.x!.test).toBe("ks");
    expect(report.windows[0]!.prediction).toEqual({
      kind: "classes",
      rows: 30,
      shares: { high: 0.5, low: 0.5 },
    });
    // Window 1: x ∈ {0, 2, …, 18}: "high" for 6 of 10 values in the model's and the truth's eyes alike.
    expect(report.windows[1]!.prediction).toEqual({
      kind: "classes",
      rows: 30,
      shares: { high: 0.7, low: 0.3 },
    });
    // Wrong at x = 5 only, which window 0 has 3 times (i = 5, 15, 25): accuracy 27/30, breached against 1 ± 0.05.
    expect(report.windows[0]!.performance!.accuracy).toMatchObject({
      value: 0.9,
      registered: 1,
      breached: true,
    });
    expect(report.windows[1]!.performance!.accuracy).toMatchObject({ value: 1, breached: false });
    expect(report.windows.map((w) => w.labelled)).toEqual([30, 30]);
  });

  it("without labels: no performance in any window, labels null", async () => {
    const log = await inferenceLogTable(p.sql, "mlog2", entries());
    const reference = await p.table("mref2", `SELECT (range % 10)::DOUBLE AS x FROM range(100)`);
    const report = await buildMonitoringReport(p.sql, {
      reference,
      current: log,
      window: "30m",
      minRows: 10,
      prediction: log.prediction,
      columns: ["x"],
    });
    expect(report.labels).toBeNull();
    expect(report.task).toBeNull();
    expect(report.windows.map((w) => [w.labelled, w.performance, w.breached])).toEqual([
      [0, null, false],
      [0, null, false],
    ]);
  });
});
