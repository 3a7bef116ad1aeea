/**
 * Fairness across groups of the evaluated rows: which rows form which group,
 * the gaps between groups (demographic parity, equal opportunity, the false
 * positive rate, equalized odds…), and a bootstrap interval on each gap.
 *
 * The gaps follow Fairlearn's definitions
 * (https://fairlearn.org/main/user_guide/assessment/common_fairness_metrics.html,
 * fairlearn/metrics/_fairness_metrics.py): a difference is the largest minus
 * the smallest per-group value, a ratio the smallest over the largest;
 * equalized odds takes the larger of the TPR and FPR differences and the
 * smaller of their ratios. Two conventions decide the edge cases:
 *
 * - "fairlearn" (the default, so numbers carry over): rows whose group value
 *   is missing are dropped (MetricFrame groups with pandas' `groupby`, which
 *   drops NaN keys), and a rate with nothing to divide by (no actual positives
 *   for the TPR, no actual negatives for the FPR) is 0, as
 *   `fairlearn.metrics.true_positive_rate` reads it from scikit-learn's
 *   `confusion_matrix(normalize="true")`, which turns 0/0 into 0.
 * - "dagwood": a missing value is a group of its own, and an undefined rate is
 *   undefined (null), left out of the gaps.
 */
import type { Task } from "../values/common";
import type { FairnessConventions } from "../values/evaluation";
import { classificationScores } from "./metrics";
import { mulberry32 } from "./trees/binning";

export type { FairnessConventions };

export interface FairnessOptions {
  conventions: FairnessConventions;
  /** Groups with fewer rows are marked small. */
  minGroupSize: number;
  /** "exclude": small groups are left out of the gaps (still reported); "include": they count. */
  smallGroups: "exclude" | "include";
  /** Bootstrap resamples of the scored rows for the gaps' intervals; 0: none. */
  resamples: number;
  seed: number;
}

/** The level of the bootstrap's percentile interval. */
export const INTERVAL_LEVEL = 0.95;

/** One grouping column, read as categories: each scored row's code into `dictionary`, -1 for NULL. */
export interface GroupColumn {
  name: string;
  codes: Int32Array;
  dictionary: string[];
}

export interface Group {
  /** One value per grouping column; null: the row's value is missing (only under "dagwood"). */
  values: (string | null)[];
  /** The values as one label: the value itself for one column, "a × b" for several; null: missing. */
  label: string | null;
  /** Indexes of its scored rows. */
  rows: number[];
}

export interface Grouping {
  groups: Group[];
  /** Per scored row, its group's index; -1: dropped (a missing value under "fairlearn"). */
  of: Int32Array;
  droppedRows: number;
}

const MISSING = "(missing)";

/** The groups of the scored rows: one per distinct tuple of the columns' values, sorted, missing last. */
export function groupRows(columns: GroupColumn[], rows: number, conventions: FairnessConventions): Grouping {
  const keys = new Map<string, number>();
  const groups: Group[] = [];
  const of = new Int32Array(rows).fill(-1);
  let droppedRows = 0;
  for (let r = 0; r < rows; r++) {
    const codes = columns.map((c) => c.codes[r]!);
    if (conventions === "fairlearn" && codes.some((c) => c < 0)) {
      droppedRows++;
      continue;
    }
    const key = codes.join(",");
    let g = keys.get(key);
    if (g === undefined) {
      g = groups.length;
      keys.set(key, g);
      const values = codes.map((c, i) => (c < 0 ? null : columns[i]!.dictionary[c]!));
      const label =
        values.length === 1 ? values[0]! : values.map((v) => (v === null ? MISSING : v)).join(" × ");
      groups.push({ values, label, rows: [] });
    }
    groups[g]!.rows.push(r);
    of[r] = g;
  }
  const byValue = (a: string | null, b: string | null) =>
    a === b ? 0 : a === null ? 1 : b === null ? -1 : a < b ? -1 : 1;
  const order = groups
    .map((g, i) => ({ g, i }))
    .sort((a, b) => {
      for (let c = 0; c < columns.length; c++) {
        const d = byValue(a.g.values[c]!, b.g.values[c]!);
        if (d !== 0) return d;
      }
      return 0;
    });
  const renumber = new Int32Array(groups.length);
  order.forEach(({ i }, to) => {
    renumber[i] = to;
  });
  for (let r = 0; r < rows; r++) if (of[r]! >= 0) of[r] = renumber[of[r]!]!;
  return { groups: order.map(({ g }) => g), of, droppedRows };
}

/** The evaluated rows as the gaps need them. */
export type GapInput =
  | {
      task: "binary" | "multiclass";
      /** Truth and predicted class indexes, < labels. */
      y: Int32Array;
      pred: Int32Array;
      labels: number;
      positive: number;
    }
  | { task: "regression"; y: Float64Array; pred: Float64Array };

/** The per-group metric each difference (max − min) compares. */
export const GAP_METRICS: Record<Task, Record<string, string>> = {
  binary: {
    demographic_parity_difference: "positive_rate",
    equal_opportunity_difference: "true_positive_rate",
    false_positive_rate_difference: "false_positive_rate",
    accuracy_difference: "accuracy",
  },
  multiclass: { accuracy_difference: "accuracy", f1_macro_difference: "f1_macro" },
  regression: { rmse_difference: "rmse", mae_difference: "mae" },
};

/** Per group, sums from which its gap metrics follow: a confusion matrix (classification) or n, Σe², Σ|e|. */
function tallyWidth(input: GapInput): number {
  return input.task === "regression" ? 3 : input.labels * input.labels;
}

/**
 * Where each row adds to the tallies: classification, one count at `cell[r]`
 * (its group's confusion matrix entry); regression, 1, e² and |e| from
 * `cell[r]` on. -1: the row is in no group. Computed once, so a resample only
 * adds at the drawn rows' places (the bootstrap's inner loop).
 */
function tallyPlaces(
  input: GapInput,
  of: Int32Array,
  width: number,
): { cell: Int32Array; se?: Float64Array } {
  const n = of.length;
  const cell = new Int32Array(n);
  if (input.task === "regression") {
    const se = new Float64Array(n);
    for (let r = 0; r < n; r++) {
      cell[r] = of[r]! < 0 ? -1 : of[r]! * width;
      se[r] = input.y[r]! - input.pred[r]!;
    }
    return { cell, se };
  }
  for (let r = 0; r < n; r++) {
    cell[r] = of[r]! < 0 ? -1 : of[r]! * width + input.y[r]! * input.labels + input.pred[r]!;
  }
  return { cell };
}

/** Adds the rows `rows` (every row when undefined) to the tallies. */
function addRows(
  places: { cell: Int32Array; se?: Float64Array },
  tally: Float64Array,
  rows: Int32Array | undefined,
): void {
  const { cell, se } = places;
  const n = rows ? rows.length : cell.length;
  if (se) {
    for (let i = 0; i < n; i++) {
      const r = rows ? rows[i]! : i;
      const at = cell[r]!;
      if (at < 0) continue;
      const e = se[r]!;
      tally[at]!++;
      tally[at + 1]! += e * e;
      tally[at + 2]! += Math.abs(e);
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const at = cell[rows ? rows[i]! : i]!;
    if (at >= 0) tally[at]!++;
  }
}

/** A group's gap metrics from its tally; undefined: the group has no rows (absent from a resample). */
function groupMetrics(
  input: GapInput,
  t: Float64Array,
  undefinedRate: number,
): Record<string, number> | undefined {
  if (input.task === "regression") {
    const n = t[0]!;
    return n === 0 ? undefined : { rmse: Math.sqrt(t[1]! / n), mae: t[2]! / n };
  }
  const L = input.labels;
  let n = 0;
  let correct = 0;
  for (let i = 0; i < L; i++) {
    correct += t[i * L + i]!;
    for (let j = 0; j < L; j++) n += t[i * L + j]!;
  }
  if (n === 0) return undefined;
  if (input.task === "multiclass") {
    const matrix = Array.from({ length: L }, (_, i) => Array.from(t.subarray(i * L, (i + 1) * L)));
    return { accuracy: correct / n, f1_macro: classificationScores(matrix).macro.f1 };
  }
  const p = input.positive;
  let actual = 0;
  let predicted = 0;
  for (let j = 0; j < L; j++) {
    actual += t[p * L + j]!;
    predicted += t[j * L + p]!;
  }
  const tp = t[p * L + p]!;
  const negatives = n - actual;
  return {
    positive_rate: predicted / n,
    true_positive_rate: actual > 0 ? tp / actual : undefinedRate,
    false_positive_rate: negatives > 0 ? (predicted - tp) / negatives : undefinedRate,
    accuracy: correct / n,
  };
}

/** max − min and min / max over the defined values; NaN when none is (a ratio also when max is 0). */
function spread(values: number[]): { difference: number; ratio: number } {
  const defined = values.filter((v) => Number.isFinite(v));
  if (defined.length === 0) return { difference: Number.NaN, ratio: Number.NaN };
  const max = Math.max(...defined);
  const min = Math.min(...defined);
  return { difference: max - min, ratio: max > 0 ? min / max : Number.NaN };
}

/**
 * The larger (`max`) / smaller (`min`) of the TPR and FPR figures. Fairlearn
 * takes Python's built-in max / min over [TPR, FPR], which answers NaN when
 * the TPR figure is NaN and the TPR figure when only the FPR one is; Dagwood's
 * conventions ignore an undefined figure and answer NaN only when both are.
 */
function combine(conventions: FairnessConventions, pick: "max" | "min", tpr: number, fpr: number): number {
  if (conventions === "fairlearn") {
    if (Number.isNaN(tpr)) return Number.NaN;
    return (pick === "max" ? fpr > tpr : fpr < tpr) ? fpr : tpr;
  }
  if (Number.isNaN(tpr)) return fpr;
  if (Number.isNaN(fpr)) return tpr;
  return pick === "max" ? Math.max(tpr, fpr) : Math.min(tpr, fpr);
}

/** The gaps over the groups given (those with rows), from their gap metrics; undefined below two groups. */
export function gapsOf(
  task: Task,
  groups: Record<string, number>[],
  conventions: FairnessConventions,
): Record<string, number> {
  const gaps: Record<string, number> = {};
  // One group is compared with nothing: its gaps are undefined rather than a reassuring 0.
  const compared = groups.length >= 2 ? groups : [];
  for (const [gap, metric] of Object.entries(GAP_METRICS[task])) {
    const s = spread(compared.map((m) => m[metric]!));
    gaps[gap] = s.difference;
    if (metric === "positive_rate") gaps.demographic_parity_ratio = s.ratio;
  }
  if (task === "binary") {
    // Fairlearn's equalized odds: the larger of the TPR and FPR differences, the smaller of their ratios.
    const tpr = spread(compared.map((m) => m.true_positive_rate!));
    const fpr = spread(compared.map((m) => m.false_positive_rate!));
    gaps.equalized_odds_difference = combine(conventions, "max", tpr.difference, fpr.difference);
    gaps.equalized_odds_ratio = combine(conventions, "min", tpr.ratio, fpr.ratio);
  }
  return gaps;
}

/** numpy.percentile's default ("linear"): q in [0, 1] of sorted values. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  const m = sorted.length;
  if (m === 0) return Number.NaN;
  const at = q * (m - 1);
  const lo = Math.floor(at);
  const hi = Math.min(lo + 1, m - 1);
  return sorted[lo]! + (at - lo) * (sorted[hi]! - sorted[lo]!);
}

/**
 * The row indexes of each bootstrap resample, one resample at a time: `rows`
 * draws with replacement, seeded. (One buffer, refilled: a million rows and
 * a thousand resamples would not fit in memory at once.)
 */
export function* bootstrapIndices(rows: number, resamples: number, seed: number): Generator<Int32Array> {
  const rand = mulberry32(seed ^ 0x1b873593);
  const draw = new Int32Array(rows);
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < rows; i++) draw[i] = Math.floor(rand() * rows);
    yield draw;
  }
}

export interface GapInterval {
  lower: number;
  upper: number;
}

export interface FairnessGaps {
  /** Per group (in `grouping.groups` order): its gap metrics. */
  perGroup: Record<string, number>[];
  /** The gaps over the groups counted. */
  gaps: Record<string, number>;
  /** Per gap, the bootstrap percentile interval (NaN bounds: no resample defined it). */
  intervals?: Record<string, GapInterval>;
}

/**
 * The gaps over the `counted` groups, and with `resamples` > 0 each gap's
 * bootstrap interval: the scored rows are drawn again with replacement, the
 * gaps recomputed over the same counted groups (a group a resample misses is
 * left out of it), and the 2.5th and 97.5th percentiles taken over the
 * resamples that define the gap (the draws are `bootstrapIndices`).
 */
export function fairnessGaps(
  input: GapInput,
  grouping: Grouping,
  counted: boolean[],
  options: Pick<FairnessOptions, "conventions" | "resamples" | "seed">,
): FairnessGaps {
  const G = grouping.groups.length;
  const width = tallyWidth(input);
  const undefinedRate = options.conventions === "fairlearn" ? 0 : Number.NaN;
  const tally = new Float64Array(G * width);
  const n = grouping.of.length;
  const evaluate = () => {
    const perGroup: (Record<string, number> | undefined)[] = [];
    for (let g = 0; g < G; g++) {
      perGroup.push(groupMetrics(input, tally.subarray(g * width, (g + 1) * width), undefinedRate));
    }
    const used = perGroup.filter((m, g): m is Record<string, number> => counted[g]! && m !== undefined);
    return { perGroup, gaps: gapsOf(input.task, used, options.conventions) };
  };
  const places = tallyPlaces(input, grouping.of, width);
  addRows(places, tally, undefined);
  const point = evaluate();
  const result: FairnessGaps = {
    perGroup: point.perGroup.map((m) => m ?? {}),
    gaps: point.gaps,
  };
  if (options.resamples <= 0) return result;
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(point.gaps).map((k) => [k, []]));
  for (const draw of bootstrapIndices(n, options.resamples, options.seed)) {
    tally.fill(0);
    addRows(places, tally, draw);
    const { gaps } = evaluate();
    for (const [k, v] of Object.entries(gaps)) if (Number.isFinite(v)) samples[k]!.push(v);
  }
  const tail = (1 - INTERVAL_LEVEL) / 2;
  result.intervals = Object.fromEntries(
    Object.entries(samples).map(([k, values]) => {
      const sorted = Float64Array.from(values).sort();
      return [k, { lower: percentile(sorted, tail), upper: percentile(sorted, 1 - tail) }];
    }),
  );
  return result;
}
