/**
 * Drift over time: the current data (an inference log, or any table with a
 * time column) cut into fixed windows with DuckDB's time_bucket, each window
 * tested against the same reference with computeDrift (Evidently's tests,
 * app/monitoring/drift.ts), and the model's answers summarised per window —
 * the heatmap (windows × columns) and the prediction distribution over time
 * of the Monitoring view.
 *
 *   const w = await driftOverWindows(sql, reference, log, { window: "1h", time: log.meta.time, prediction: log.prediction });
 */
import { ident, isNumericType, type SqlSession } from "../data/sql";
import type { MonitoringWindow, PredictionSummary, WindowColumnDrift } from "../values/monitoring";
import { computeDrift } from "./drift";
import { parseSince } from "./inference-log";
import { type DriftOptions, type DriftTable, newReferenceCache } from "./types";

/** A window or option that cannot be used: say it and stop. */
export class WindowInputError extends Error {}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 };

/** More windows than this is a mistake (a window of "1s" over a week): refused with what to do. */
export const MAX_WINDOWS = 2000;
/** Bins of a regression's prediction histogram. */
export const PREDICTION_BINS = 10;

/** A window width in ms from a duration ("15m", "1h", "1d") or a number of ms. */
export function parseWindow(window: string | number): number {
  const ms =
    typeof window === "number"
      ? window
      : (() => {
          const m = DURATION.exec(window.trim());
          if (!m) {
            if (/^\d+$/.test(window.trim())) return Number(window.trim());
            throw new WindowInputError(
              `window ${JSON.stringify(window)} is not a duration: use a number and a unit (30m, 1h, 1d, 1w) or milliseconds`,
            );
          }
          return Number(m[1]) * UNIT_MS[m[2]!]!;
        })();
  if (!Number.isFinite(ms) || ms < 1 || !Number.isInteger(ms))
    throw new WindowInputError(`the window must be a whole number of milliseconds ≥ 1, got ${window}`);
  return ms;
}

export interface WindowOptions extends DriftOptions {
  /** Window width: a duration ("1h") or ms. */
  window: string | number;
  /** The current data's time column (default "time"; TIMESTAMP or TIMESTAMPTZ). */
  time?: string;
  /** Only rows at or after this (a Date, epoch ms, ISO time or a duration back from `now`). */
  since?: Date | number | string;
  now?: number;
  /** Fewest rows a window needs to be tested (default 30); also the fewest non-missing values a column needs. */
  minRows?: number;
}

/** The drift part of a window, and the window's bounds in epoch ms. */
export interface DriftWindow
  extends Pick<
    MonitoringWindow,
    | "start"
    | "end"
    | "rows"
    | "tested"
    | "drift"
    | "driftedColumns"
    | "driftShare"
    | "datasetDrift"
    | "prediction"
  > {
  startMs: number;
  endMs: number;
}

export interface WindowsResult {
  window: number;
  minRows: number;
  /** Epoch ms of `since`, when given. */
  since: number | null;
  rows: { reference: number; current: number };
  /** The columns tested (the reference's, or `columns`). */
  columns: string[];
  windows: DriftWindow[];
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The windows of `current`, oldest first: every window from the first row's
 * to the last row's (empty windows included, so a chart's time axis has no
 * gaps), aligned on multiples of the width since the Unix epoch (UTC).
 * Windows with fewer than `minRows` rows are listed with their count and
 * `tested: false`.
 */
export async function driftOverWindows(
  sql: SqlSession,
  reference: DriftTable,
  current: DriftTable,
  options: WindowOptions,
): Promise<WindowsResult> {
  const width = parseWindow(options.window);
  const minRows = options.minRows ?? 30;
  if (!Number.isInteger(minRows) || minRows < 1)
    throw new WindowInputError(`minRows must be a whole number ≥ 1, got ${minRows}`);
  const timeColumn = options.time ?? "time";
  const timeType = current.columns.find((c) => c.name === timeColumn)?.type;
  if (!timeType)
    throw new WindowInputError(
      `the current data has no time column "${timeColumn}" (its columns: ${current.columns.map((c) => c.name).join(", ")}); name it with time`,
    );
  if (!/^TIMESTAMP/.test(timeType) && timeType !== "DATE")
    throw new WindowInputError(
      `the time column "${timeColumn}" is ${timeType}; it must be a TIMESTAMP, TIMESTAMPTZ or DATE`,
    );
  let since: number | null = null;
  try {
    since = options.since === undefined ? null : parseSince(options.since, options.now);
  } catch (e) {
    throw new WindowInputError((e as Error).message);
  }

  // Epoch ms of each row and its window's start: time_bucket with the Unix epoch as origin, in UTC.
  const t = `CAST(${ident(timeColumn)} AS TIMESTAMPTZ)`;
  const bucket = `epoch_ms(time_bucket(to_milliseconds(${width}), ${t}, TIMESTAMPTZ '1970-01-01 00:00:00+00'))`;
  const where = [`${ident(timeColumn)} IS NOT NULL`];
  if (since !== null) where.push(`epoch_ms(${t}) >= ${since}`);
  const view = `${current.name}__windowed`;
  await sql.run(
    `CREATE OR REPLACE TEMP TABLE ${ident(view)} AS SELECT *, ${bucket} AS __window FROM ${ident(current.name)} WHERE ${where.join(" AND ")}`,
  );
  const windowTable = `${current.name}__window`;
  try {
    const counts = await sql.all<{ w: number; n: number }>(
      `SELECT __window::DOUBLE AS w, count(*)::DOUBLE AS n FROM ${ident(view)} GROUP BY 1 ORDER BY 1`,
    );
    const { n: refRows } = await sql.one<{ n: number }>(
      `SELECT count(*)::DOUBLE AS n FROM ${ident(reference.name)}`,
    );
    const byStart = new Map(counts.map((c) => [c.w, c.n]));
    const first = counts[0]?.w;
    const last = counts.at(-1)?.w;
    const starts: number[] = [];
    if (first !== undefined && last !== undefined) {
      const n = Math.round((last - first) / width) + 1;
      if (n > MAX_WINDOWS)
        throw new WindowInputError(
          `the data spans ${n} windows of ${width} ms (from ${iso(first)} to ${iso(last + width)}); at most ${MAX_WINDOWS}: widen the window or give since`,
        );
      for (let k = 0; k < n; k++) starts.push(first + k * width);
    }

    // The prediction (and target) are tested for drift only when the reference has them (a reference of
    // training data has no prediction): the prediction is summarised per window all the same.
    const inReference = (c: string | undefined) => !!c && reference.columns.some((x) => x.name === c);
    const driftOptions: DriftOptions = {
      ...options,
      minRows,
      // Every window against the same reference: its counts and sorted samples are read once.
      referenceCache: options.referenceCache ?? newReferenceCache(),
      prediction: inReference(options.prediction) ? options.prediction : undefined,
      target: inReference(options.target) ? options.target : undefined,
    };
    const columns = options.columns?.length
      ? [
          ...options.columns,
          ...[driftOptions.target, driftOptions.prediction].filter(
            (c): c is string => !!c && !options.columns!.includes(c),
          ),
        ]
      : reference.columns.map((c) => c.name);
    const prediction = options.prediction
      ? await predictionPlan(sql, view, current, options.prediction)
      : null;

    const windows: DriftWindow[] = [];
    for (const start of starts) {
      const rows = byStart.get(start) ?? 0;
      const base: DriftWindow = {
        start: iso(start),
        end: iso(start + width),
        startMs: start,
        endMs: start + width,
        rows,
        tested: false,
        drift: {},
        driftedColumns: 0,
        driftShare: 0,
        datasetDrift: false,
        prediction: null,
      };
      if (rows === 0) {
        windows.push(base);
        continue;
      }
      await sql.run(
        `CREATE OR REPLACE TEMP TABLE ${ident(windowTable)} AS SELECT * EXCLUDE (__window) FROM ${ident(view)} WHERE __window = ${start}`,
      );
      if (prediction) base.prediction = await summarise(sql, windowTable, prediction);
      if (rows < minRows) {
        windows.push(base);
        continue;
      }
      const report = await computeDrift(
        sql,
        reference,
        { name: windowTable, columns: current.columns },
        driftOptions,
      );
      const drift: Record<string, WindowColumnDrift> = {};
      for (const c of report.columns) {
        drift[c.column] = {
          test: c.test,
          tested: c.tested,
          statistic: c.statistic,
          pValue: c.pValue,
          threshold: c.threshold,
          drifted: c.drifted,
          schema: c.schema,
        };
      }
      windows.push({
        ...base,
        tested: true,
        drift,
        driftedColumns: report.driftedColumns,
        driftShare: report.share,
        datasetDrift: report.datasetDrift,
      });
    }
    return {
      window: width,
      minRows,
      since,
      rows: { reference: refRows, current: counts.reduce((s, c) => s + c.n, 0) },
      columns,
      windows,
    };
  } finally {
    await sql.run(`DROP TABLE IF EXISTS ${ident(windowTable)}`);
    await sql.run(`DROP TABLE IF EXISTS ${ident(view)}`);
  }
}

type PredictionPlan =
  | { kind: "classes"; column: string; classes: string[] }
  | { kind: "histogram"; column: string; edges: number[] };

/**
 * How the model's answers are summarised: floating-point answers (a
 * regression) as a histogram over PREDICTION_BINS equal bins between the
 * smallest and largest answer of every window, so each window has the same
 * bars; any other type (labels, class indexes, booleans) as class shares.
 */
async function predictionPlan(
  sql: SqlSession,
  view: string,
  current: DriftTable,
  column: string,
): Promise<PredictionPlan> {
  const type = current.columns.find((c) => c.name === column)?.type;
  if (!type)
    throw new WindowInputError(
      `the current data has no prediction column "${column}" (its columns: ${current.columns.map((c) => c.name).join(", ")})`,
    );
  const c = ident(column);
  if (isNumericType(type) && /^(DOUBLE|FLOAT|REAL|DECIMAL)/.test(type)) {
    const { lo, hi } = await sql.one<{ lo: number | null; hi: number | null }>(
      `SELECT min(CAST(${c} AS DOUBLE)) AS lo, max(CAST(${c} AS DOUBLE)) AS hi FROM ${ident(view)} WHERE isfinite(CAST(${c} AS DOUBLE))`,
    );
    // numpy.histogram's range for a constant x: (x − 0.5, x + 0.5).
    const constant = lo === null || hi === null || hi === lo;
    const low = constant ? (lo ?? 0) - 0.5 : lo;
    const high = constant ? (lo ?? 0) + 0.5 : hi;
    // numpy.linspace's edges: start + k · step, the last one the stop itself.
    const step = (high - low) / PREDICTION_BINS;
    const edges = Array.from({ length: PREDICTION_BINS + 1 }, (_, k) => low + k * step);
    edges[PREDICTION_BINS] = high;
    return { kind: "histogram", column, edges };
  }
  const rows = await sql.all<{ v: string }>(
    `SELECT DISTINCT CAST(${c} AS VARCHAR) AS v FROM ${ident(view)} WHERE ${c} IS NOT NULL ORDER BY 1`,
  );
  return { kind: "classes", column, classes: rows.map((r) => r.v) };
}

async function summarise(sql: SqlSession, table: string, plan: PredictionPlan): Promise<PredictionSummary> {
  const c = ident(plan.column);
  if (plan.kind === "classes") {
    const rows = await sql.all<{ v: string; n: number }>(
      `SELECT CAST(${c} AS VARCHAR) AS v, count(*)::DOUBLE AS n FROM ${ident(table)} WHERE ${c} IS NOT NULL GROUP BY 1`,
    );
    const total = rows.reduce((s, r) => s + r.n, 0);
    const shares: Record<string, number> = Object.fromEntries(plan.classes.map((k) => [k, 0]));
    for (const r of rows) shares[r.v] = total ? r.n / total : 0;
    return { kind: "classes", rows: total, shares };
  }
  const { edges } = plan;
  const bins = edges.length - 1;
  const lo = edges[0]!;
  const w = (edges[bins]! - lo) / bins;
  const x = `CAST(${c} AS DOUBLE)`;
  const list = `[${edges.map((e) => `CAST(${e} AS DOUBLE)`).join(", ")}]`;
  // A first guess from the bin width, corrected by one against the exact edges as numpy.histogram does
  // (a value on an edge goes to the bin on its right; the last bin holds its right edge).
  const guess = `least(greatest(CAST(floor((x - CAST(${lo} AS DOUBLE)) / CAST(${w} AS DOUBLE)) AS INTEGER), 0), ${bins - 1})`;
  const rows = await sql.all<{ b: number; n: number; s: number }>(
    `WITH e AS (SELECT ${list} AS edges),
     g AS (SELECT ${x} AS x, ${guess} AS b0 FROM ${ident(table)} WHERE isfinite(${x}))
     SELECT CASE WHEN b0 > 0 AND x < edges[b0 + 1] THEN b0 - 1
                 WHEN b0 < ${bins - 1} AND x >= edges[b0 + 2] THEN b0 + 1 ELSE b0 END AS b,
            count(*)::DOUBLE AS n, sum(x) AS s
     FROM g, e GROUP BY 1`,
  );
  const counts = new Array<number>(bins).fill(0);
  let total = 0;
  let sum = 0;
  for (const r of rows) {
    counts[r.b] = r.n;
    total += r.n;
    sum += r.s;
  }
  return { kind: "histogram", rows: total, edges, counts, mean: total ? sum / total : null };
}
