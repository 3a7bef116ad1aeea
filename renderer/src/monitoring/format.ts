/** Pure helpers of the Monitoring view: colours and words for drift cells, the windows shown, the loop's steps. */
import type { MonitorLoop } from "../../../app/values/loop";
import type { MonitoringReport, MonitoringWindow, WindowColumnDrift } from "../../../app/values/monitoring";

/** The tests' names in words (app/monitoring/drift.ts picks them as Evidently does). */
export const TEST_NAMES: Record<string, string> = {
  ks: "Kolmogorov-Smirnov",
  chisquare: "chi-squared",
  z: "two-proportion z-test",
  wasserstein: "Wasserstein distance (in reference std)",
  jensenshannon: "Jensen-Shannon distance",
  psi: "PSI",
};

const P_VALUE_TESTS = new Set(["ks", "chisquare", "z"]);

/**
 * How far a tested cell is towards (1) and past (> 1) its threshold: a
 * distance over its threshold; for a p-value test log(p) / log(threshold),
 * so p = threshold gives 1, p = 1 gives 0 and p = threshold² gives 2.
 * Null for a cell that was not tested; capped at 3.
 */
export function driftSeverity(cell: WindowColumnDrift): number | null {
  if (!cell.tested || cell.threshold === null) return null;
  let s: number | null = null;
  if (cell.test && P_VALUE_TESTS.has(cell.test)) {
    if (cell.pValue === null) return null;
    if (cell.threshold <= 0 || cell.threshold >= 1) return cell.drifted ? 1 : 0;
    s = cell.pValue <= 0 ? 3 : Math.log(Math.min(cell.pValue, 1)) / Math.log(cell.threshold);
  } else {
    if (cell.statistic === null) return null;
    s = cell.threshold > 0 ? cell.statistic / cell.threshold : cell.drifted ? 1 : 0;
  }
  return Math.max(0, Math.min(3, s));
}

/** The kind of a heatmap cell: what its colour and mark say. */
export type CellKind = "ok" | "drifted" | "schema" | "untested" | "empty";

export function cellKind(window: MonitoringWindow, cell: WindowColumnDrift | undefined): CellKind {
  if (!window.tested || !cell) return "empty";
  if (cell.schema) return "schema";
  if (!cell.tested) return "untested";
  return cell.drifted ? "drifted" : "ok";
}

/** Mixes two #rrggbb colours. */
function mix(a: string, b: string, t: number): string {
  const pa = [1, 3, 5].map((i) => Number.parseInt(a.slice(i, i + 2), 16));
  const pb = [1, 3, 5].map((i) => Number.parseInt(b.slice(i, i + 2), 16));
  return `#${pa
    .map((x, i) =>
      Math.round(x + (pb[i]! - x) * t)
        .toString(16)
        .padStart(2, "0"),
    )
    .join("")}`;
}

/** Severity 0 → pale green, 1 (the threshold) → amber, 2 and over → deep red. */
export const SCALE = { low: "#e4f2e7", mid: "#f2c14e", high: "#b3261e" } as const;

export function severityColor(severity: number): string {
  if (severity <= 1) return mix(SCALE.low, SCALE.mid, severity);
  return mix(SCALE.mid, SCALE.high, Math.min(severity - 1, 1));
}

/** A number in a few significant digits (p-values small as 1e-12 stay readable). */
export function num(x: number | null | undefined, digits = 3): string {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a < 1e-4 || a >= 1e6) return x.toExponential(1);
  return String(Number(x.toPrecision(digits)));
}

/** "00:30–01:00" in UTC for a window of a day; with the date when it spans days or is a day or longer. */
export function windowLabel(w: { start: string; end: string }, long = false): string {
  const s = new Date(w.start);
  const e = new Date(w.end);
  // Windows under a minute (or not on a minute) need the seconds.
  const seconds = e.getTime() - s.getTime() < 60_000 || s.getUTCSeconds() !== 0;
  const hm = (d: Date) => d.toISOString().slice(11, seconds ? 19 : 16);
  const day = (d: Date) => d.toISOString().slice(5, 10);
  if (e.getTime() - s.getTime() >= 86_400_000) return `${s.toISOString().slice(0, 10)}`;
  return long ? `${s.toISOString().slice(0, 10)} ${hm(s)}–${hm(e)} UTC` : `${day(s)} ${hm(s)}`;
}

/** A window's start as a heatmap column or chart axis shows it: the time of day (UTC), or the day for a window of a day or more. */
export function timeLabel(w: { start: string; end: string }): string {
  const long = windowLabel(w, true);
  const s = new Date(w.start);
  if (new Date(w.end).getTime() - s.getTime() >= 86_400_000) return long.slice(5);
  return long.slice(11).split("–")[0]!;
}

/** What a cell means, in words: the test, its figure against the threshold, the verdict. */
export function describeCell(
  column: string,
  window: MonitoringWindow,
  cell: WindowColumnDrift | undefined,
): string {
  const when = windowLabel(window, true);
  if (!window.tested)
    return `${column}, ${when}: not tested — the window has ${window.rows} rows, fewer than the minimum to test.`;
  if (!cell) return `${column}, ${when}: not in this window's report.`;
  if (cell.schema === "missing")
    return `${column}, ${when}: schema drift — the column is missing from the logged requests.`;
  if (cell.schema === "retyped")
    return `${column}, ${when}: schema drift — the column's type differs from the reference.`;
  if (!cell.tested || !cell.test)
    return `${column}, ${when}: not tested (too few values, or a column of a type the tests do not take).`;
  const name = TEST_NAMES[cell.test] ?? cell.test;
  const verdict = cell.drifted ? "drifted" : "no drift";
  if (P_VALUE_TESTS.has(cell.test))
    return `${column}, ${when}: ${name}, statistic ${num(cell.statistic)}, p-value ${num(cell.pValue)} ${
      cell.drifted ? "<" : "≥"
    } ${num(cell.threshold)} → ${verdict}.`;
  return `${column}, ${when}: ${name} ${num(cell.statistic)} ${cell.drifted ? "≥" : "<"} threshold ${num(
    cell.threshold,
  )} → ${verdict}.`;
}

/** The windows a page of the heatmap shows: `size` of them ending `offset` windows before the latest. */
export function pageOfWindows<W>(
  windows: W[],
  size: number,
  offset: number,
): { shown: W[]; first: number; last: number } {
  const end = Math.max(Math.min(windows.length - offset, windows.length), Math.min(size, windows.length));
  const start = Math.max(0, end - size);
  return { shown: windows.slice(start, end), first: start, last: end };
}

/** Per window, each class's share (classes) or each bin's share (a regression's histogram), for a stacked bar. */
export function predictionRows(report: MonitoringReport): {
  rows: Record<string, number | string>[];
  keys: string[];
} {
  const keys: string[] = [];
  const rows = report.windows.map((w) => {
    const row: Record<string, number | string> = { window: timeLabel(w) };
    const p = w.prediction;
    if (p?.kind === "classes") {
      for (const [k, v] of Object.entries(p.shares)) {
        if (!keys.includes(k)) keys.push(k);
        row[k] = v;
      }
    } else if (p?.kind === "histogram") {
      p.counts.forEach((n, i) => {
        const k = `${num(p.edges[i])}–${num(p.edges[i + 1])}`;
        if (!keys.includes(k)) keys.push(k);
        row[k] = p.rows ? n / p.rows : 0;
      });
    }
    return row;
  });
  return { rows, keys };
}

/** The metric the performance chart shows first: the monitor's, else the first with a registered figure and a value. */
export function chosenMetric(report: MonitoringReport, preferred?: string | null): string | null {
  const seen = new Set<string>();
  for (const w of report.windows) for (const k of Object.keys(w.performance ?? {})) seen.add(k);
  if (preferred && seen.has(preferred)) return preferred;
  return [...seen].find((k) => k in report.registered) ?? [...seen][0] ?? null;
}

export function performanceRows(report: MonitoringReport, metric: string) {
  return report.windows.map((w) => ({
    window: timeLabel(w),
    value: w.performance?.[metric]?.value ?? null,
    breached: w.performance?.[metric]?.breached ?? false,
    labelled: w.labelled,
  }));
}

/** The steps of a loop, in order: each reached or not yet, with what it links to. */
export type LoopStep =
  | { kind: "alert"; label: string; done: true }
  | { kind: "run"; label: string; done: boolean; runId: string | null }
  | { kind: "version"; label: string; done: boolean; version: number | null }
  | { kind: "canary"; label: string; done: boolean; target: string | null }
  | { kind: "end"; label: string; done: boolean };

const STAGE_WORDS: Record<string, string> = {
  alerted: "alert open",
  retraining: "retraining",
  gating: "gating the challenger",
  "awaiting-approval": "awaiting approval",
  canary: "canary",
  promoted: "promoted",
  kept: "champion kept",
  failed: "failed",
  acknowledged: "acknowledged",
};

export const stageWords = (stage: string) => STAGE_WORDS[stage] ?? stage;

export function loopSteps(loop: MonitorLoop): LoopStep[] {
  const steps: LoopStep[] = [{ kind: "alert", label: `alert #${loop.id}`, done: true }];
  if (loop.action === "retrain") {
    steps.push({
      kind: "run",
      label: loop.runId
        ? `run ${loop.runId.length > 24 ? `${loop.runId.slice(0, 24)}…` : loop.runId}`
        : "retraining run",
      done: !!loop.runId,
      runId: loop.runId,
    });
    steps.push({
      kind: "version",
      label: loop.challenger !== null ? `v${loop.challenger}` : "challenger",
      done: loop.challenger !== null,
      version: loop.challenger,
    });
    const reached = (stage: string) => loop.stage === stage || loop.history.some((h) => h.stage === stage);
    const canaryReached = !!loop.canary || reached("canary");
    const lostGate = !!loop.gate && !loop.gate.passed;
    steps.push({
      kind: "canary",
      label: canaryReached
        ? `canary ${loop.canary?.percent ?? ""} % on ${loop.canary?.target ?? loop.target}`.replace("  ", " ")
        : reached("awaiting-approval")
          ? "approval"
          : lostGate
            ? "lost the gate"
            : "gate → canary or approval",
      done: canaryReached || reached("awaiting-approval") || lostGate,
      target: canaryReached ? (loop.canary?.target ?? loop.target) : null,
    });
  }
  const ended = ["promoted", "kept", "acknowledged", "failed"].includes(loop.stage);
  steps.push({ kind: "end", label: ended ? stageWords(loop.stage) : "promoted / kept", done: ended });
  return steps;
}

/** The actions a person may take on an open loop at its stage. */
export function loopActions(loop: MonitorLoop): ("acknowledge" | "approve" | "reject")[] {
  if (loop.status !== "open") return [];
  if (loop.stage === "alerted" || loop.stage === "failed") return ["acknowledge"];
  if (loop.stage === "awaiting-approval") return ["approve", "reject"];
  if (loop.stage === "canary") return ["reject"];
  return [];
}

/** A dagwood.json monitor to copy, for the empty state. */
export function monitorExample(model: string, target: string): string {
  return JSON.stringify(
    {
      monitors: {
        [`${model}-drift`]: {
          model: `${model}@champion`,
          target,
          window: "1h",
          minRows: 30,
          performance: { metric: "accuracy", tolerance: 0.05 },
          schedule: "*/15 * * * *",
          action: "alert",
        },
      },
    },
    null,
    2,
  );
}
