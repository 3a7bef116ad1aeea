/**
 * The monitoring report of a model (app/values/monitoring.ts): drift and the
 * prediction distribution per window (windows.ts) merged with performance per
 * window (performance.ts), on one time axis.
 */
import type { SqlSession } from "../data/sql";
import { MonitoringReport, type MonitoringWindow } from "../values/monitoring";
import { type LabelledRows, type MonitoredTask, performanceOverWindows } from "./performance";
import type { DriftTable } from "./types";
import { driftOverWindows, type WindowOptions } from "./windows";

export interface MonitoringReportInput extends WindowOptions {
  reference: DriftTable;
  /** The current data with its time column (an inference-log table). */
  current: DriftTable;
  /** Labelled rows (labels.ts joinLabels), with the counts of the join. */
  labelled?: LabelledRows & { rows: number; unlabelled: number; unmatched: number; badLabels: number };
  model?: string | null;
  version?: number | null;
  task?: MonitoredTask;
  registered?: Record<string, number>;
  tolerance?: number;
  classes?: string[];
}

export async function buildMonitoringReport(
  sql: SqlSession,
  input: MonitoringReportInput,
): Promise<MonitoringReport> {
  const { reference, current, labelled, model, version, registered, tolerance, classes, task, ...options } =
    input;
  const drift = await driftOverWindows(sql, reference, current, options);
  const perf = labelled
    ? await performanceOverWindows(sql, labelled, {
        window: drift.window,
        ...(task ? { task } : {}),
        ...(options.since !== undefined ? { since: options.since } : {}),
        ...(options.now !== undefined ? { now: options.now } : {}),
        ...(registered ? { registered } : {}),
        ...(tolerance !== undefined ? { tolerance } : {}),
        ...(classes ? { classes } : {}),
        // A window's metrics need as many labelled rows as its drift tests need rows.
        minRows: drift.minRows,
      })
    : null;
  const byStart = new Map((perf?.windows ?? []).map((w) => [w.startMs, w]));
  const windows: MonitoringWindow[] = drift.windows.map(({ startMs, endMs: _, ...w }) => {
    const p = byStart.get(startMs);
    byStart.delete(startMs);
    return {
      ...w,
      labelled: p?.labelled ?? 0,
      performance: p?.performance ?? null,
      breached: p?.breached ?? false,
    };
  });
  // Labelled rows outside the drift windows (the current data was cut by since, or the labels' rows are not in it).
  for (const p of byStart.values()) {
    windows.push({
      start: new Date(p.startMs).toISOString(),
      end: new Date(p.endMs).toISOString(),
      rows: 0,
      tested: false,
      drift: {},
      driftedColumns: 0,
      driftShare: 0,
      datasetDrift: false,
      prediction: null,
      labelled: p.labelled,
      performance: p.performance,
      breached: p.breached,
    });
  }
  windows.sort((a, b) => a.start.localeCompare(b.start));
  return MonitoringReport.parse({
    kind: "monitoring",
    model: model ?? null,
    version: version ?? null,
    task: perf?.task ?? task ?? null,
    window: drift.window,
    minRows: drift.minRows,
    since: drift.since === null ? null : new Date(drift.since).toISOString(),
    rows: drift.rows,
    columns: drift.columns,
    windows,
    registered: perf?.registered ?? registered ?? {},
    tolerance: perf?.tolerance ?? tolerance ?? 0.05,
    labels: labelled
      ? {
          labelled: labelled.rows,
          unlabelled: labelled.unlabelled,
          unmatched: labelled.unmatched,
          bad: labelled.badLabels,
        }
      : null,
  });
}
