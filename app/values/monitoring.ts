/**
 * The report `dagwood monitor report` and the Api's `monitoringReport` give
 * (kind "monitoring"): a model's current data cut into time windows, and per
 * window the drift of each column against the reference, the distribution of
 * the model's answers and, where labels arrived, the task's metrics against
 * the figures registered with the version. It is what the Monitoring view
 * charts: a heatmap of windows × columns, the prediction distribution over
 * time and performance over time against the registered line.
 */
import { z } from "zod";
import { DriftTestName } from "./drift";

/** One column's drift in one window (the full per-column report is `dagwood monitor drift`'s). */
export const WindowColumnDrift = z.strictObject({
  test: DriftTestName.nullable(),
  /** False when the column was not tested in this window (too few values, schema drift, a date column). */
  tested: z.boolean(),
  /** The test's statistic (a distance, or KS's D, chi-squared's χ², the z-test's z). */
  statistic: z.number().nullable(),
  /** Null for distances and untested columns. */
  pValue: z.number().nullable(),
  threshold: z.number().nullable(),
  drifted: z.boolean(),
  /** "missing" or "retyped" against the reference: counted as drifted. */
  schema: z.enum(["missing", "retyped"]).nullable(),
});
export type WindowColumnDrift = z.infer<typeof WindowColumnDrift>;

/**
 * The model's answers in a window: the share of each class (a classifier),
 * or a histogram over edges shared by every window of the report (a
 * regression), so the windows can be compared bar by bar.
 */
export const PredictionSummary = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("classes"),
    /** Rows with a prediction. */
    rows: z.number(),
    /** Class → share of the window's predictions; every class seen in any window is listed (0 when absent). */
    shares: z.record(z.string(), z.number()),
  }),
  z.strictObject({
    kind: z.literal("histogram"),
    rows: z.number(),
    /** Bin edges, the same for every window (bins.length + 1 of them); the last bin holds its right edge. */
    edges: z.array(z.number()),
    /** Rows per bin. */
    counts: z.array(z.number()),
    mean: z.number().nullable(),
  }),
]);
export type PredictionSummary = z.infer<typeof PredictionSummary>;

/** A metric of a window against the version's registered figure. */
export const WindowMetric = z.strictObject({
  /** Null when undefined on the window's rows (R² of a constant target). */
  value: z.number().nullable(),
  /** The registered figure, null when the version has none for this metric. */
  registered: z.number().nullable(),
  /** value − registered. */
  delta: z.number().nullable(),
  /** Worse than the registered figure by more than the tolerance (in the metric's direction). */
  breached: z.boolean(),
});
export type WindowMetric = z.infer<typeof WindowMetric>;

export const MonitoringWindow = z.strictObject({
  /** ISO times; a window holds the rows with start ≤ time < end. */
  start: z.string(),
  end: z.string(),
  /** Rows of the current data in the window. */
  rows: z.number(),
  /** False when the window had fewer than minRows rows: no drift test ran (drift is {}). */
  tested: z.boolean(),
  drift: z.record(z.string(), WindowColumnDrift),
  driftedColumns: z.number(),
  /** Drifted columns / columns considered (tested or schema drift); 0 when untested. */
  driftShare: z.number(),
  datasetDrift: z.boolean(),
  prediction: PredictionSummary.nullable(),
  /** Labelled rows of the window (their prediction's time falls in it). */
  labelled: z.number(),
  /** Null when the window has no labelled rows, or fewer than minRows of them. */
  performance: z.record(z.string(), WindowMetric).nullable(),
  /** Any metric of the window breached. */
  breached: z.boolean(),
});
export type MonitoringWindow = z.infer<typeof MonitoringWindow>;

export const MonitoringReport = z.strictObject({
  kind: z.literal("monitoring"),
  model: z.string().nullable(),
  version: z.number().nullable(),
  task: z.enum(["binary", "multiclass", "regression"]).nullable(),
  /** Window width in ms, and the minimum rows a window needs to be tested. */
  window: z.number(),
  minRows: z.number(),
  since: z.string().nullable(),
  /** Reference rows, current rows over every window. */
  rows: z.strictObject({ reference: z.number(), current: z.number() }),
  columns: z.array(z.string()),
  windows: z.array(MonitoringWindow),
  /** The version's registered metrics (those the report compares against). */
  registered: z.record(z.string(), z.number()),
  /** Absolute tolerance per compared metric. */
  tolerance: z.number(),
  /** Labels: rows with one, logged rows without one, labels whose id matched no logged row. */
  labels: z
    .strictObject({ labelled: z.number(), unlabelled: z.number(), unmatched: z.number(), bad: z.number() })
    .nullable(),
});
export type MonitoringReport = z.infer<typeof MonitoringReport>;
