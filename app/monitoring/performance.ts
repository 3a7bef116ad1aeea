/**
 * Performance over time: the labelled rows of a model's log (labels.ts
 * joinLabels: the prediction, the ground truth `target` and the prediction's
 * time) cut into the same windows as drift, the task's metrics computed per
 * window with the evaluation code (app/ml/metrics.ts, as `evaluate` computes
 * them) and each compared with the figure registered with the version:
 * classification accuracy, F1 macro and (when the log has the class
 * probabilities) log loss; regression RMSE, MAE and R².
 */

import { ident, isNumericType, type SqlSession } from "../data/sql";
import { accuracy, classificationScores, confusionMatrix, logLoss, regressionScores } from "../ml/metrics";
import { metricDirection } from "../values/metric-direction";
import type { WindowMetric } from "../values/monitoring";
import { parseSince } from "./inference-log";
import { parseWindow, WindowInputError } from "./windows";

export type MonitoredTask = "binary" | "multiclass" | "regression";

/** The metrics computed per window, by task. */
export const WINDOW_METRICS: Record<"classification" | "regression", string[]> = {
  classification: ["accuracy", "f1_macro", "log_loss"],
  regression: ["rmse", "mae", "r2"],
};

/** What performance is computed from: a table of labelled rows. */
export interface LabelledRows {
  name: string;
  columns: { name: string; type: string }[];
  /** The model's answer. */
  prediction?: string;
  /** The ground truth. */
  target: string;
  /** The prediction's time. */
  time: string;
}

export interface PerformanceOptions {
  window: string | number;
  /** Default: regression when the prediction and target are floating-point, else binary or multiclass by the labels seen. */
  task?: MonitoredTask;
  /** Only rows at or after this (Date, epoch ms, ISO time, or a duration back from `now`). */
  since?: Date | number | string;
  now?: number;
  /** The version's registered metrics (the evaluation report's figures). */
  registered?: Record<string, number>;
  /** A metric breaches when worse than its registered figure by more than this (absolute; default 0.05). */
  tolerance?: number;
  /** Fewest labelled rows a window needs for its metrics (default 1): below, performance is null. */
  minRows?: number;
  /**
   * The model's classes in its probability order, for a log whose probabilities are `probabilities_<k>`;
   * a log with `probability_<class>` columns names them itself.
   */
  classes?: string[];
}

export interface PerformanceWindow {
  startMs: number;
  endMs: number;
  labelled: number;
  performance: Record<string, WindowMetric> | null;
  breached: boolean;
}

export interface PerformanceResult {
  task: MonitoredTask;
  window: number;
  tolerance: number;
  /** The registered figures of the metrics computed. */
  registered: Record<string, number>;
  /** Only windows with labelled rows, oldest first. */
  windows: PerformanceWindow[];
}

/** One metric against its registered figure: worse by more than `tolerance` in the metric's direction breaches. */
export function compareMetric(
  metric: string,
  value: number,
  registered: number | undefined,
  tolerance: number,
): WindowMetric {
  const v = Number.isFinite(value) ? value : null;
  if (registered === undefined || !Number.isFinite(registered))
    return { value: v, registered: null, delta: null, breached: false };
  if (v === null) return { value: null, registered, delta: null, breached: false };
  const delta = v - registered;
  const direction = metricDirection(metric);
  const breached =
    direction === "higher" ? delta < -tolerance : direction === "lower" ? delta > tolerance : false;
  return { value: v, registered, delta, breached };
}

const floating = (type: string | undefined) => !!type && /^(DOUBLE|FLOAT|REAL|DECIMAL)/.test(type);

/**
 * The model's probability columns and the class each belongs to, in the
 * model's order: `probability_<class>` columns, or `probabilities_<k>` with
 * `classes` given; none when neither is in the table.
 */
function probabilityColumns(
  rows: LabelledRows,
  classes: string[] | undefined,
): { column: string; label: string }[] {
  const named = rows.columns
    .filter((c) => c.name.startsWith("probability_") && isNumericType(c.type))
    .map((c) => ({ column: c.name, label: c.name.slice("probability_".length) }));
  if (named.length) return named;
  const indexed = rows.columns
    .map((c) => ({ c, m: /^probabilities_(\d+)$/.exec(c.name) }))
    .filter((x) => x.m && isNumericType(x.c.type))
    .sort((a, b) => Number(a.m![1]) - Number(b.m![1]));
  if (!indexed.length || !classes || classes.length !== indexed.length) return [];
  return indexed.map((x, k) => ({ column: x.c.name, label: classes[k]! }));
}

/**
 * The task's metrics per window over the labelled rows, compared with the
 * registered ones. Windows are aligned as driftOverWindows aligns them
 * (multiples of the width since the Unix epoch), so the two line up.
 */
export async function performanceOverWindows(
  sql: SqlSession,
  rows: LabelledRows,
  options: PerformanceOptions,
): Promise<PerformanceResult> {
  const width = parseWindow(options.window);
  const tolerance = options.tolerance ?? 0.05;
  if (!Number.isFinite(tolerance) || tolerance < 0)
    throw new WindowInputError(`the tolerance must be a number ≥ 0, got ${tolerance}`);
  const minRows = options.minRows ?? 1;
  if (!rows.prediction)
    throw new WindowInputError(
      "the labelled rows have no prediction column: the log holds no `label` or `prediction` output to grade",
    );
  const type = (name: string) => rows.columns.find((c) => c.name === name)?.type;
  for (const c of [rows.prediction, rows.target, rows.time]) {
    if (!type(c))
      throw new WindowInputError(
        `the labelled rows have no column "${c}" (their columns: ${rows.columns.map((x) => x.name).join(", ")})`,
      );
  }
  const regression =
    options.task === "regression" ||
    (options.task === undefined && floating(type(rows.prediction)) && isNumericType(type(rows.target)!));
  if (regression && !isNumericType(type(rows.target)!))
    throw new WindowInputError(
      `the task is regression but the ground truth "${rows.target}" is ${type(rows.target)}; labels must be numbers`,
    );
  const probabilities = regression ? [] : probabilityColumns(rows, options.classes);

  const t = `CAST(${ident(rows.time)} AS TIMESTAMPTZ)`;
  const where = [`${ident(rows.time)} IS NOT NULL`];
  if (options.since !== undefined) {
    let since: number;
    try {
      since = parseSince(options.since, options.now);
    } catch (e) {
      throw new WindowInputError((e as Error).message);
    }
    where.push(`epoch_ms(${t}) >= ${since}`);
  }
  const cast = (c: string) => (regression ? `CAST(${ident(c)} AS DOUBLE)` : `CAST(${ident(c)} AS VARCHAR)`);
  const data = await sql.all<Record<string, unknown> & { w: number; y: unknown; p: unknown }>(
    `SELECT epoch_ms(time_bucket(to_milliseconds(${width}), ${t}, TIMESTAMPTZ '1970-01-01 00:00:00+00'))::DOUBLE AS w,
            ${cast(rows.target)} AS y, ${cast(rows.prediction)} AS p
            ${probabilities.map((x, k) => `, CAST(${ident(x.column)} AS DOUBLE) AS q${k}`).join("")}
     FROM ${ident(rows.name)} WHERE ${where.join(" AND ")} AND ${ident(rows.target)} IS NOT NULL AND ${ident(rows.prediction)} IS NOT NULL
     ORDER BY w`,
  );

  // Class indexes: the model's classes (probability order) first, then any other label seen, sorted.
  const labels: string[] = probabilities.map((x) => x.label);
  if (!regression) {
    const others = new Set<string>();
    for (const r of data)
      for (const v of [r.y, r.p]) if (!labels.includes(v as string)) others.add(v as string);
    labels.push(...[...others].sort());
  }
  const task: MonitoredTask = regression
    ? "regression"
    : (options.task ?? (labels.length > 2 ? "multiclass" : "binary"));
  const metricNames = regression
    ? WINDOW_METRICS.regression
    : WINDOW_METRICS.classification.filter((m) => m !== "log_loss" || probabilities.length > 0);
  const registered: Record<string, number> = {};
  for (const m of metricNames) {
    const r = options.registered?.[m];
    if (r !== undefined && Number.isFinite(r)) registered[m] = r;
  }

  const groups = new Map<number, typeof data>();
  for (const r of data) {
    const g = groups.get(r.w) ?? [];
    g.push(r);
    groups.set(r.w, g);
  }
  const index = new Map(labels.map((l, k) => [l, k]));
  const k = probabilities.length;
  const windows: PerformanceWindow[] = [];
  for (const [start, group] of [...groups.entries()].sort((a, b) => a[0] - b[0])) {
    const n = group.length;
    let values: Record<string, number> | null = null;
    if (n >= minRows) {
      if (regression) {
        const s = regressionScores(
          Float64Array.from(group, (r) => r.y as number),
          Float64Array.from(group, (r) => r.p as number),
        );
        values = { rmse: s.rmse, mae: s.mae, r2: s.r2 };
      } else {
        const y = Int32Array.from(group, (r) => index.get(r.y as string)!);
        const p = Int32Array.from(group, (r) => index.get(r.p as string)!);
        values = {
          accuracy: accuracy(y, p),
          f1_macro: classificationScores(confusionMatrix(y, p, labels.length)).macro.f1,
        };
        if (k) {
          const probs = new Float64Array(n * k);
          group.forEach((r, i) => {
            for (let j = 0; j < k; j++) probs[i * k + j] = Number(r[`q${j}`] ?? 0);
          });
          values.log_loss = logLoss(probs, k, y);
        }
      }
    }
    const performance = values
      ? Object.fromEntries(
          metricNames.map((m) => [m, compareMetric(m, values![m]!, registered[m], tolerance)]),
        )
      : null;
    windows.push({
      startMs: start,
      endMs: start + width,
      labelled: n,
      performance,
      breached: performance ? Object.values(performance).some((m) => m.breached) : false,
    });
  }
  return { task, window: width, tolerance, registered, windows };
}
