/**
 * The report `monitor.drift` and `dagwood monitor drift` write (kind
 * "drift"): per column, the test Evidently would pick by default (or the one
 * chosen), its statistic and verdict; and whether the dataset drifted.
 * Test names and thresholds are Evidently's (evidently/legacy/calculations/
 * stattests), so a configuration and its numbers carry over.
 */
import { z } from "zod";

/** Evidently's stat test names. */
export const DriftTestName = z.enum(["ks", "chisquare", "z", "wasserstein", "jensenshannon", "psi"]);
export type DriftTestName = z.infer<typeof DriftTestName>;

/** p-value tests drift when p is below the threshold (ks: at or below); distances when at or above it. */
export const P_VALUE_TESTS: readonly DriftTestName[] = ["ks", "chisquare", "z"];

export const DriftColumnType = z.enum(["numeric", "categorical"]);
export type DriftColumnType = z.infer<typeof DriftColumnType>;

export const DriftColumn = z.strictObject({
  column: z.string(),
  /** prediction and target are tested like any column; the role only labels them. */
  role: z.enum(["feature", "target", "prediction"]),
  /** As Evidently types a column: integers with at most 5 distinct values, booleans and text are categorical. Null: not typed (schema drift, a date column). */
  type: DriftColumnType.nullable(),
  /** The DuckDB types on each side (null: the column is absent there). */
  sqlType: z.strictObject({ reference: z.string().nullable(), current: z.string().nullable() }),
  test: DriftTestName.nullable(),
  /** False when no test ran (schema drift, too few rows, a date column): `reason` says why. */
  tested: z.boolean(),
  /** Null for an infinite chi-squared statistic (a category the reference never had) or no test. */
  statistic: z.number().nullable(),
  /** Null for distances (wasserstein, jensenshannon, psi) and untested columns. */
  pValue: z.number().nullable(),
  threshold: z.number().nullable(),
  drifted: z.boolean(),
  /** PSI only: below 0.1 none, 0.1 to 0.2 moderate, above 0.2 major. */
  level: z.enum(["none", "moderate", "major"]).nullable(),
  /** Missing values (NULL; for numbers also NaN and ±Infinity, as Evidently drops them), left out of the test. */
  missing: z.strictObject({ reference: z.number(), current: z.number() }),
  /** Rows tested on each side, missing values dropped. */
  rows: z.strictObject({ reference: z.number(), current: z.number() }),
  /**
   * Distinct non-missing values over both sides together (what picks the default test); null when
   * either side has more than 1,000 (not counted exactly, as no test choice depends on it).
   */
  distinct: z.number().nullable(),
  /** "missing": absent from the current data; "retyped": numeric on one side, not on the other. Counted as drifted. */
  schema: z.enum(["missing", "retyped"]).nullable(),
  reason: z.string().nullable(),
});
export type DriftColumn = z.infer<typeof DriftColumn>;

export const DriftReport = z.strictObject({
  kind: z.literal("drift"),
  rows: z.strictObject({ reference: z.number(), current: z.number() }),
  columns: z.array(DriftColumn),
  /** Columns that drifted, schema drift included. */
  driftedColumns: z.number(),
  /** Columns considered: tested ones plus schema drift; untested columns (too few rows, dates) are left out. */
  consideredColumns: z.number(),
  /** driftedColumns / consideredColumns (0 when none). */
  share: z.number(),
  shareThreshold: z.number(),
  /** share ≥ shareThreshold, as Evidently's DatasetDriftMetric. */
  datasetDrift: z.boolean(),
  /** Columns only in the current data (not tested). */
  addedColumns: z.array(z.string()),
});
export type DriftReport = z.infer<typeof DriftReport>;
