/**
 * Feature binning: numeric features into at most 255 quantile bins, categorical
 * codes used as bins directly; bin code 255 is "missing" for both.
 *
 * A split "bin <= t" is the real-valued rule "x <= edges[t]", and every edge is
 * chosen float32-representable and strictly between two float32-distinct
 * neighbouring values (see `float32Threshold`): casting the thresholds and
 * the inputs to float32, as the ONNX model does, routes every training value
 * the same way as float64.
 */
import { type Dataset, type FeatureColumn, FLOAT32_MAX } from "./types";

export const MAX_BINS = 255;
export const MISSING_BIN = 255;
/** Rows sampled to place the quantile edges (as scikit-learn's HistGradientBoosting). */
export const DEFAULT_BIN_SAMPLE = 200_000;

export interface FeatureBins {
  name: string;
  kind: FeatureColumn["kind"];
  /** Value bins 0..numBins-1 (missing is MISSING_BIN). */
  numBins: number;
  /** `numBins - 1` increasing edges: bin(x) <= t exactly when x <= edges[t]. */
  edges: Float64Array;
}

export interface BinMapper {
  features: FeatureBins[];
}

export interface BinOptions {
  /** At most this many value bins per numeric feature (2..255). */
  maxBins?: number;
  /** Rows sampled for the quantiles. */
  sampleRows?: number;
  seed?: number;
  /** Fit on these rows only (default: all). */
  rows?: Int32Array;
}

const f32 = Math.fround;
const f32Buf = new Float32Array(1);
const i32Buf = new Int32Array(f32Buf.buffer);

/** The next float32 above (dir 1) or below (dir -1) the float32 x. */
function nextFloat32(x: number, dir: 1 | -1): number {
  if (x === 0) return dir * 1.401298464324817e-45;
  f32Buf[0] = x;
  i32Buf[0]! += x > 0 === dir > 0 ? 1 : -1;
  return f32Buf[0]!;
}

/**
 * A threshold t with a <= t < b that is a float32 and also separates a and b
 * after they are rounded to float32 (f32(a) <= t < f32(b)), preferring the
 * rounded midpoint. When a and b round to the same float32 no such t exists:
 * the float64 midpoint is returned, and an exported float32 model cannot tell
 * them apart (binning avoids that case by merging them, see `fitNumeric`).
 */
export function float32Threshold(a: number, b: number): number {
  const ok = (t: number) => a <= t && t < b && f32(b) > t && f32(t) === t;
  const mid = a + (b - a) / 2;
  const fa = f32(a);
  const fb = f32(b);
  for (const t of [f32(mid), fa, nextFloat32(fa, 1), nextFloat32(fb, -1), FLOAT32_MAX, -FLOAT32_MAX]) {
    if (ok(t)) return t;
  }
  return mid;
}

function sampleRowIds(rows: Int32Array | undefined, total: number, size: number, seed: number): Int32Array {
  const all = rows ?? Int32Array.from({ length: total }, (_, i) => i);
  if (all.length <= size) return all;
  // Partial Fisher–Yates on a copy, seeded.
  const ids = Int32Array.from(all);
  const rand = mulberry32(seed ^ 0x5bd1e995);
  for (let i = 0; i < size; i++) {
    const j = i + Math.floor(rand() * (ids.length - i));
    const t = ids[i]!;
    ids[i] = ids[j]!;
    ids[j] = t;
  }
  // Ascending, so each column is read front to back (the sample is a set: its order is not used).
  return ids.subarray(0, size).sort();
}

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function fitNumeric(column: FeatureColumn, sample: Int32Array, maxBins: number): FeatureBins {
  const vals = new Float64Array(sample.length);
  let n = 0;
  for (const r of sample) {
    const v = column.values[r]!;
    if (!Number.isNaN(v)) vals[n++] = v;
  }
  const sorted = vals.subarray(0, n).sort();
  // Distinct values and their counts; values equal after float32 rounding are one value.
  const distinct: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = sorted[i]!;
    if (distinct.length && f32(v) === f32(distinct[distinct.length - 1]!)) counts[counts.length - 1]!++;
    else {
      distinct.push(v);
      counts.push(1);
    }
  }
  // The last value of each float32 group is the group's upper end.
  const upper: number[] = [];
  for (let i = 0, j = 0; i < distinct.length; i++) {
    j += counts[i]!;
    upper.push(sorted[j - 1]!);
  }
  const edges: number[] = [];
  if (distinct.length <= maxBins) {
    for (let i = 0; i + 1 < distinct.length; i++) edges.push(float32Threshold(upper[i]!, distinct[i + 1]!));
  } else {
    // Equal-frequency cuts, only between distinct values.
    let cum = 0;
    let next = 1;
    for (let i = 0; i + 1 < distinct.length && edges.length < maxBins - 1; i++) {
      cum += counts[i]!;
      if (cum * maxBins >= next * n) {
        edges.push(float32Threshold(upper[i]!, distinct[i + 1]!));
        next = Math.floor((cum * maxBins) / n) + 1;
      }
    }
  }
  return { name: column.name, kind: "numeric", numBins: edges.length + 1, edges: Float64Array.from(edges) };
}

function fitCategorical(column: FeatureColumn, rows: Int32Array | undefined, total: number): FeatureBins {
  let max = -1;
  const check = (v: number) => {
    if (Number.isNaN(v)) return;
    if (!Number.isInteger(v) || v < 0) {
      throw new Error(
        `Categorical feature "${column.name}" has the value ${v}; categorical values must be integer codes 0..k-1 (NaN for missing)`,
      );
    }
    if (v > max) max = v;
  };
  if (rows) for (const r of rows) check(column.values[r]!);
  else for (let r = 0; r < total; r++) check(column.values[r]!);
  const k = max + 1;
  if (k > MAX_BINS) {
    throw new Error(
      `Categorical feature "${column.name}" has ${k} categories; the tree estimators take at most ${MAX_BINS}. ` +
        `Keep the ${MAX_BINS - 1} most frequent and map the rest to one "other" code, or encode it as numbers.`,
    );
  }
  const edges = Float64Array.from({ length: Math.max(0, k - 1) }, (_, i) => i + 0.5);
  return { name: column.name, kind: "categorical", numBins: Math.max(1, k), edges };
}

/** Learns the bins of every feature from the (sampled) training rows. */
export function fitBins(data: Dataset, options: BinOptions = {}): BinMapper {
  const maxBins = options.maxBins ?? MAX_BINS;
  if (!Number.isInteger(maxBins) || maxBins < 2 || maxBins > MAX_BINS) {
    throw new Error(`maxBins must be an integer in 2..${MAX_BINS}, got ${maxBins}`);
  }
  const sample = sampleRowIds(
    options.rows,
    data.rows,
    options.sampleRows ?? DEFAULT_BIN_SAMPLE,
    options.seed ?? 0,
  );
  return {
    features: data.features.map((column) => {
      if (column.values.length !== data.rows) {
        throw new Error(`Feature "${column.name}" has ${column.values.length} values for ${data.rows} rows`);
      }
      return column.kind === "categorical"
        ? fitCategorical(column, options.rows, data.rows)
        : fitNumeric(column, sample, maxBins);
    }),
  };
}

/** The bin of one value: the first edge it is <= to, MISSING_BIN for NaN. */
export function binOf(bins: FeatureBins, x: number): number {
  if (Number.isNaN(x)) return MISSING_BIN;
  const { edges } = bins;
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (x <= edges[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * Bins the given rows (default: all) into a row-major matrix of codes, one
 * row every `rowBytes` bytes (default: one byte per feature), written into
 * `out` when given.
 */
export function binRows(
  mapper: BinMapper,
  data: Dataset,
  rows?: Int32Array,
  out?: Uint8Array,
  rowBytes = mapper.features.length,
): Uint8Array {
  const F = rowBytes;
  const n = rows ? rows.length : data.rows;
  const codes = out ?? new Uint8Array(n * F);
  for (let f = 0; f < mapper.features.length; f++) {
    const bins = mapper.features[f]!;
    const values = data.features[f]!.values;
    if (bins.kind === "categorical") {
      const k = bins.numBins;
      for (let i = 0; i < n; i++) {
        const v = values[rows ? rows[i]! : i]!;
        // Codes past the training categories are unseen: missing.
        codes[i * F + f] = v >= 0 && v < k && Number.isInteger(v) ? v : MISSING_BIN;
      }
    } else {
      // Branch-free binary search over the edges padded to 256 with +Infinity:
      // the bin is the number of edges below x (capped to the last bin).
      const padded = new Float64Array(256).fill(Number.POSITIVE_INFINITY);
      padded.set(bins.edges);
      const last = bins.numBins - 1;
      for (let i = 0, o = f; i < n; i++, o += F) {
        const x = values[rows ? rows[i]! : i]!;
        let lo = 0;
        lo += x > padded[127]! ? 128 : 0;
        lo += x > padded[lo + 63]! ? 64 : 0;
        lo += x > padded[lo + 31]! ? 32 : 0;
        lo += x > padded[lo + 15]! ? 16 : 0;
        lo += x > padded[lo + 7]! ? 8 : 0;
        lo += x > padded[lo + 3]! ? 4 : 0;
        lo += x > padded[lo + 1]! ? 2 : 0;
        lo += x > padded[lo]! ? 1 : 0;
        // NaN compares false everywhere: it would land in bin 0.
        codes[o] = Number.isNaN(x) ? MISSING_BIN : Math.min(lo, last);
      }
    }
  }
  return codes;
}

/** The real-valued threshold of the split "bin <= t" (FLOAT32_MAX when only missing values go right). */
export function thresholdOf(bins: FeatureBins, t: number): number {
  return t < bins.edges.length ? bins.edges[t]! : FLOAT32_MAX;
}
