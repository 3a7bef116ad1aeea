/**
 * The report `analyze.profile` writes (kind "profile"), which the Api's
 * `profileTable` also returns. Statistics leave NaN and ±Infinity out, so a
 * statistic is null only where no finite value is left.
 */
import { z } from "zod";
import { PiiKind, type ScanReport } from "./privacy";

export const ColumnKind = z.enum(["numeric", "categorical", "temporal", "boolean"]);
export type ColumnKind = z.infer<typeof ColumnKind>;

export const ColumnProfile = z.strictObject({
  name: z.string(),
  /** The DuckDB type, e.g. DOUBLE, VARCHAR, DATE. */
  type: z.string(),
  kind: ColumnKind,
  /**
   * Unit of min, max, mean, std, quantiles and histogram edges: "epoch_ms"
   * for dates and timestamps, "ms" for times of day and intervals, null for
   * numbers in the column's own unit.
   */
  unit: z.enum(["epoch_ms", "ms"]).nullable(),
  nulls: z.number(),
  /** null: the table has no rows. */
  nullFraction: z.number().nullable(),
  distinct: z.number(),
  /** Above 100,000 rows the distinct count is a HyperLogLog estimate. */
  distinctApprox: z.boolean(),
  /** NaN and ±Infinity values (numeric columns); they are left out of every statistic below. */
  nonFinite: z.number(),
  min: z.number().nullable(),
  max: z.number().nullable(),
  /** For booleans: the share of true values. */
  mean: z.number().nullable(),
  std: z.number().nullable(),
  /** Quantile level (as written, e.g. "0.5") → value; null: no finite value, or a column of text. */
  quantiles: z.record(z.string(), z.number()).nullable(),
  histogram: z.strictObject({ edges: z.array(z.number()), counts: z.array(z.number()) }).nullable(),
  /** The most frequent values (text, booleans, numbers with few distinct values), most frequent first. */
  top: z
    .array(z.strictObject({ value: z.union([z.string(), z.number(), z.boolean()]), count: z.number() }))
    .nullable(),
});
export type ColumnProfile = z.infer<typeof ColumnProfile>;

/**
 * The profile's "Personal data" section: the privacy scan (app/privacy/scan.ts)
 * over a reservoir sample of the table, the ScanReport shape.
 */
export const ProfilePrivacy = z.strictObject({
  source: z.string(),
  rows: z.number(),
  sampled: z.number(),
  sampleSize: z.number(),
  seed: z.number(),
  columns: z.array(
    z.strictObject({
      column: z.string(),
      kinds: z.array(
        z.strictObject({
          kind: PiiKind,
          share: z.number(),
          examples: z.array(z.string()),
          by: z.enum(["values", "name"]).optional(),
        }),
      ),
    }),
  ),
});
export type ProfilePrivacy = z.infer<typeof ProfilePrivacy>;
// The section is a ScanReport, and a ScanReport is a section (checked when compiled).
const _sameShape: [ProfilePrivacy, ScanReport] = [{} as ScanReport, {} as ProfilePrivacy];
void _sameShape;

export const ProfileReport = z.strictObject({
  kind: z.literal("profile"),
  rows: z.number(),
  columns: z.array(ColumnProfile),
  /** Pairwise-complete Pearson correlation of the first numeric columns; null where undefined (a constant column). */
  correlation: z.strictObject({
    method: z.literal("pearson"),
    columns: z.array(z.string()),
    matrix: z.array(z.array(z.number().nullable())),
  }),
  /** Personal data found in a sample of the table; absent when the block's personalDataSample is 0 (and in reports from before). */
  privacy: ProfilePrivacy.optional(),
});
export type ProfileReport = z.infer<typeof ProfileReport>;
