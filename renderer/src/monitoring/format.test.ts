import { describe, expect, it } from "vitest";
import type { MonitorLoop } from "../../../app/values/loop";
import type { MonitoringReport, MonitoringWindow, WindowColumnDrift } from "../../../app/values/monitoring";
import {
  cellKind,
  chosenMetric,
  describeCell,
  driftSeverity,
  loopActions,
  loopSteps,
  num,
  pageOfWindows,
  predictionRows,
  SCALE,
  severityColor,
  timeLabel,
  windowLabel,
} from "./format";

const cell = (over: Partial<WindowColumnDrift>): WindowColumnDrift => ({
  test: "ks",
  tested: true,
  statistic: 0.3,
  pValue: 0.5,
  threshold: 0.05,
  drifted: false,
  schema: null,
  ...over,
});

const window = (over: Partial<MonitoringWindow> = {}): MonitoringWindow => ({
  start: "2026-12-06T00:30:00.000Z",
  end: "2026-12-06T01:00:00.000Z",
  rows: 40,
  tested: true,
  drift: {},
  driftedColumns: 0,
  driftShare: 0,
  datasetDrift: false,
  prediction: null,
  labelled: 0,
  performance: null,
  breached: false,
  ...over,
});

const loop = (over: Partial<MonitorLoop>): MonitorLoop => ({
  kind: "monitor-loop",
  id: 3,
  monitor: "penguins-drift",
  model: "penguins",
  target: "local",
  action: "retrain",
  window: { start: "2026-12-06T00:00:00.000Z", end: "2026-12-06T01:00:00.000Z" },
  reasons: ["bill_length_mm drifted"],
  status: "open",
  stage: "alerted",
  champion: 1,
  runId: null,
  challenger: null,
  gate: null,
  canary: null,
  outcome: null,
  createdAt: "2026-12-06T01:00:00.000Z",
  updatedAt: "2026-12-06T01:00:00.000Z",
  history: [],
  ...over,
});

describe("driftSeverity", () => {
  it("is 1 at the threshold, for p-values on a log scale and for distances linearly", () => {
    expect(driftSeverity(cell({ pValue: 0.05 }))).toBeCloseTo(1, 12);
    expect(driftSeverity(cell({ pValue: 1 }))).toBe(0);
    expect(driftSeverity(cell({ pValue: 0.0025 }))).toBeCloseTo(2, 12);
    expect(driftSeverity(cell({ pValue: 0 }))).toBe(3);
    expect(
      driftSeverity(cell({ test: "wasserstein", statistic: 0.05, threshold: 0.1, pValue: null })),
    ).toBeCloseTo(0.5, 12);
    expect(driftSeverity(cell({ test: "psi", statistic: 10, threshold: 0.1, pValue: null }))).toBe(3);
  });

  it("is null for cells that were not tested", () => {
    expect(
      driftSeverity(cell({ tested: false, test: null, statistic: null, pValue: null, threshold: null })),
    ).toBeNull();
    expect(driftSeverity(cell({ pValue: null }))).toBeNull();
  });
});

describe("cells", () => {
  it("tells schema drift, untested columns and untested windows apart", () => {
    const w = window();
    expect(cellKind(w, cell({}))).toBe("ok");
    expect(cellKind(w, cell({ drifted: true, pValue: 0.001 }))).toBe("drifted");
    expect(cellKind(w, cell({ schema: "missing", tested: false, drifted: true }))).toBe("schema");
    expect(cellKind(w, cell({ tested: false }))).toBe("untested");
    expect(cellKind(window({ tested: false }), undefined)).toBe("empty");
  });

  it("colours from pale green through amber at the threshold to red", () => {
    expect(severityColor(0)).toBe(SCALE.low);
    expect(severityColor(1)).toBe(SCALE.mid);
    expect(severityColor(2)).toBe(SCALE.high);
    expect(severityColor(3)).toBe(SCALE.high);
  });

  it("says the test, its figure against the threshold and the verdict", () => {
    const w = window();
    expect(describeCell("x", w, cell({ statistic: 0.42, pValue: 0.0003, drifted: true }))).toBe(
      "x, 2026-12-06 00:30–01:00 UTC: Kolmogorov-Smirnov, statistic 0.42, p-value 0.0003 < 0.05 → drifted.",
    );
    expect(
      describeCell("x", w, cell({ test: "jensenshannon", statistic: 0.04, pValue: null, threshold: 0.1 })),
    ).toBe("x, 2026-12-06 00:30–01:00 UTC: Jensen-Shannon distance 0.04 < threshold 0.1 → no drift.");
    expect(describeCell("y", w, cell({ schema: "missing", tested: false }))).toMatch(
      /schema drift — the column is missing/,
    );
    expect(describeCell("y", window({ tested: false, rows: 4 }), undefined)).toMatch(
      /has 4 rows, fewer than the minimum/,
    );
  });

  it("writes numbers short, tiny p-values in exponent form", () => {
    expect(num(0.123456)).toBe("0.123");
    expect(num(3.2e-9)).toBe("3.2e-9");
    expect(num(null)).toBe("–");
  });
});

describe("window labels", () => {
  it("gives seconds for windows under a minute, the day for windows of a day", () => {
    expect(timeLabel({ start: "2026-12-06T17:48:15.000Z", end: "2026-12-06T17:48:30.000Z" })).toBe(
      "17:48:15",
    );
    expect(timeLabel({ start: "2026-12-06T17:00:00.000Z", end: "2026-12-06T18:00:00.000Z" })).toBe("17:00");
    expect(timeLabel({ start: "2026-12-06T00:00:00.000Z", end: "2026-12-07T00:00:00.000Z" })).toBe("12-06");
    expect(windowLabel({ start: "2026-12-06T17:48:15.000Z", end: "2026-12-06T17:48:30.000Z" }, true)).toBe(
      "2026-12-06 17:48:15–17:48:30 UTC",
    );
  });
});

describe("pageOfWindows", () => {
  const ws = Array.from({ length: 50 }, (_, i) => i);
  it("shows the latest windows first and pages back", () => {
    expect(pageOfWindows(ws, 20, 0)).toMatchObject({ first: 30, last: 50 });
    expect(pageOfWindows(ws, 20, 20)).toMatchObject({ first: 10, last: 30 });
    // Never past the first window, never a short page when there are enough windows.
    expect(pageOfWindows(ws, 20, 45)).toMatchObject({ first: 0, last: 20 });
    expect(pageOfWindows([1, 2], 20, 0)).toEqual({ shown: [1, 2], first: 0, last: 2 });
  });
});

describe("report charts", () => {
  const report = (windows: MonitoringWindow[]): MonitoringReport => ({
    kind: "monitoring",
    model: "m",
    version: 1,
    task: "binary",
    window: 1_800_000,
    minRows: 30,
    since: null,
    rows: { reference: 100, current: 60 },
    columns: ["x"],
    windows,
    registered: { accuracy: 0.9 },
    tolerance: 0.05,
    labels: null,
  });

  it("stacks class shares, and a regression's bins as shares of its rows", () => {
    const classes = predictionRows(
      report([window({ prediction: { kind: "classes", rows: 10, shares: { a: 0.3, b: 0.7 } } })]),
    );
    expect(classes.keys).toEqual(["a", "b"]);
    expect(classes.rows[0]).toMatchObject({ a: 0.3, b: 0.7 });
    const hist = predictionRows(
      report([
        window({ prediction: { kind: "histogram", rows: 4, edges: [0, 0.5, 1], counts: [1, 3], mean: 0.6 } }),
      ]),
    );
    expect(hist.keys).toEqual(["0–0.5", "0.5–1"]);
    expect(hist.rows[0]).toMatchObject({ "0–0.5": 0.25, "0.5–1": 0.75 });
  });

  it("charts the monitor's metric when the windows have it, else a registered one", () => {
    const perf = { value: 0.8, registered: 0.9, delta: -0.1, breached: true };
    const r = report([window({ performance: { f1_macro: perf, accuracy: perf } })]);
    expect(chosenMetric(r, "f1_macro")).toBe("f1_macro");
    expect(chosenMetric(r, "rmse")).toBe("accuracy");
    expect(chosenMetric(report([window()]), null)).toBeNull();
  });
});

describe("loops", () => {
  it("lists alert → run → version → canary → end, reached as far as the loop went", () => {
    const steps = loopSteps(
      loop({
        stage: "canary",
        runId: "abcdef123456",
        challenger: 2,
        canary: {
          target: "local",
          version: 2,
          percent: 20,
          since: "2026-12-06T01:00:00.000Z",
          until: "2026-12-06T02:00:00.000Z",
          metric: "accuracy",
          primary: null,
          canary: null,
          held: null,
        },
      }),
    );
    expect(steps.map((s) => [s.kind, s.label, s.done])).toEqual([
      ["alert", "alert #3", true],
      ["run", "run abcdef123456", true],
      ["version", "v2", true],
      ["canary", "canary 20 % on local", true],
      ["end", "promoted / kept", false],
    ]);
    const lost = loopSteps(
      loop({
        stage: "kept",
        status: "closed",
        runId: "r1",
        challenger: 2,
        gate: {
          metric: "accuracy",
          higherIsBetter: true,
          champion: 0.9,
          challenger: 0.8,
          margin: 0,
          rows: 18,
          passed: false,
        },
      }),
    );
    expect(lost.map((s) => [s.label, s.done])).toEqual([
      ["alert #3", true],
      ["run r1", true],
      ["v2", true],
      ["lost the gate", true],
      ["champion kept", true],
    ]);
    const approval = loopSteps(loop({ stage: "awaiting-approval", runId: "r1", challenger: 2 }));
    expect(approval[3]).toMatchObject({ label: "approval", done: true, target: null });
    expect(
      loopSteps(loop({ action: "alert", stage: "acknowledged", status: "closed" })).map((s) => s.label),
    ).toEqual(["alert #3", "acknowledged"]);
  });

  it("offers what the stage allows", () => {
    expect(loopActions(loop({ stage: "alerted" }))).toEqual(["acknowledge"]);
    expect(loopActions(loop({ stage: "failed" }))).toEqual(["acknowledge"]);
    expect(loopActions(loop({ stage: "awaiting-approval" }))).toEqual(["approve", "reject"]);
    expect(loopActions(loop({ stage: "canary" }))).toEqual(["reject"]);
    expect(loopActions(loop({ stage: "retraining" }))).toEqual([]);
    expect(loopActions(loop({ stage: "promoted", status: "closed" }))).toEqual([]);
  });
});
