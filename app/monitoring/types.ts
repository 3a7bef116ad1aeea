/**
 * What the drift engine reads from each side. A side is a DuckDB table today;
 * a version's stored reference profile (a later step of the monitoring work)
 * will be a second kind of side. The profile below is the shape it must keep
 * so that each test gives the same number it gives on the raw table.
 */
import type { DriftTestName } from "../values/drift";

/** A table in the DuckDB session the drift is computed in. */
export interface DriftTable {
  name: string;
  columns: { name: string; type: string }[];
}

export interface DriftOptions {
  /** Columns to test (default: every reference column; target and prediction are included when named). */
  columns?: string[];
  /** Per-column test, overriding Evidently's default choice. */
  tests?: Record<string, DriftTestName>;
  /** Per-column threshold, overriding the test's default (0.05 for p-values, 0.1 for distances). */
  thresholds?: Record<string, number>;
  /** The dataset drifts when at least this share of columns drift (Evidently's drift_share, 0.5). */
  shareThreshold?: number;
  target?: string;
  prediction?: string;
  /** Fewest non-missing values each side needs for a column to be tested (default 1). */
  minRows?: number;
  /**
   * What computeDrift read from the reference (its per-column counts and sorted samples), kept across
   * calls against the same reference table, unchanged: driftOverWindows tests every window against one
   * reference and reads it once (see newReferenceCache).
   */
  referenceCache?: ReferenceCache;
  /**
   * Inputs the inference log keeps hashed or dropped by the model's privacy policy (inference-log.ts
   * InferenceLogTable.privacy), and the project's key (app/privacy/secret.ts): a dropped column is absent
   * by design (not schema drift); a hashed category is compared with the reference's categories hashed
   * with the key; a hashed number is not tested (its hash is not a number).
   */
  privacy?: { hashed?: string[]; dropped?: string[]; key?: Buffer };
}

/** Keyed by the query text that read each entry, so a call that reads other columns misses. */
export interface ReferenceCache {
  stats: Map<string, Record<string, unknown>>;
  samples: Map<string, Float64Array>;
}

export const newReferenceCache = (): ReferenceCache => ({ stats: new Map(), samples: new Map() });

/**
 * A column of a stored reference profile: enough for every test to give the
 * number it gives on the raw reference.
 *
 * - `values`: every non-missing value, ascending, when there are at most
 *   PROFILE_EXACT_VALUES of them. Kolmogorov-Smirnov needs the raw sample
 *   (its statistic is a supremum over both empirical CDFs); Evidently picks it
 *   only for references of at most 1,000 rows, so those references are kept
 *   whole and KS stays exact.
 * - `frequencies`: the count of each value when the column has at most
 *   PROFILE_MAX_CATEGORIES distinct values: chi-squared, the z-test and the
 *   value-count branch of Jensen-Shannon and PSI (reference with at most 20
 *   distinct values) need nothing else and stay exact.
 * - `quantiles`: for larger numeric references, the values at the
 *   PROFILE_QUANTILES + 1 levels 0, 1/Q, …, 1 (DuckDB quantile_disc). The
 *   Wasserstein distance is ∫|F⁻¹(u) - G⁻¹(u)| du, so from the quantile
 *   function it is computed to within (max - min) / Q of the raw figure per
 *   unit of reference std; and the Sturges histogram of Jensen-Shannon and
 *   PSI (edges over reference and current together, so unknown until the
 *   current data arrives) is read off the same quantile function, each bin's
 *   share within 1/Q. With Q = 1,000 both stay far inside the 0.1 thresholds'
 *   resolution; a profile that must reproduce Evidently exactly on a large
 *   reference keeps `values` (8 bytes a value) instead.
 * - `std`: population standard deviation (numpy's default ddof 0, which
 *   Evidently's wasserstein_distance_norm divides by).
 */
export interface ReferenceColumnProfile {
  name: string;
  sqlType: string;
  /**
   * The column's SQL type in the profiled table before it took the form
   * profiled as `sqlType`: a model's date, timestamp, time and boolean inputs
   * are profiled as the served model receives them (DOUBLE milliseconds or
   * 0/1, reference.ts servedForm), so their `sourceType` is DATE, TIMESTAMP,
   * TIME or BOOLEAN. Equal to `sqlType` otherwise; absent from profiles
   * written before it was kept.
   */
  sourceType?: string;
  type: "numeric" | "categorical";
  rows: number;
  missing: number;
  distinct: number;
  min: number | null;
  max: number | null;
  std: number | null;
  values: number[] | null;
  frequencies: { value: string | number; count: number }[] | null;
  quantiles: number[] | null;
}

export const PROFILE_EXACT_VALUES = 1000;
export const PROFILE_MAX_CATEGORIES = 1000;
export const PROFILE_QUANTILES = 1000;
