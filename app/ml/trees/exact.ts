/**
 * Exact CART growth for small data: every threshold between two consecutive
 * distinct training values of the node is a candidate, as in scikit-learn's
 * DecisionTree (BestSplitter). The histogram grower (grow.ts) is for large
 * data; `exactSplitsFor` chooses.
 *
 * - Criterion: Gini (classification) / squared error (regression), through
 *   the same gain form as the histogram grower with λ = 0:
 *   Σ_k G_Lk²/W_L + Σ_k G_Rk²/W_R − Σ_k G_k²/W, with G_k the weighted class
 *   counts (classification) or the weighted sum of y − ȳ (regression), W the
 *   weight. Maximizing it is maximizing the impurity decrease.
 * - Thresholds: the midpoint a/2 + b/2 of the two neighbouring values a < b
 *   (a when the midpoint rounds to b), as scikit-learn's splitter writes it
 *   (sklearn/tree/_splitter.pyx, `current.threshold = feature_values[p - 1] /
 *   2.0 + feature_values[p] / 2.0`). Plain doubles: the export takes double
 *   inputs and thresholds.
 * - Stopping as scikit-learn: a node is split unless it is pure, at maxDepth,
 *   has fewer than 2·minSamplesLeaf rows, or has no valid split; the best
 *   split is taken even when its gain is 0 (an impure node whose every split
 *   gains nothing, e.g. XOR).
 * - Features per split (forests): drawn without replacement in a seeded order;
 *   at least `featuresPerSplit` are looked at, and more while every one looked
 *   at was constant in the node (scikit-learn's rule, so a forest on data
 *   with many constant columns, e.g. digits' blank pixels, still splits on
 *   `featuresPerSplit` useful features most of the time).
 * - Missing values (NaN) as the histogram grower: both directions are tried
 *   when the node has missing values of the feature (plus "all values left,
 *   missing right" with threshold FLOAT32_MAX); else they follow the child
 *   with more rows. Categorical codes are ordinal: the midpoint of codes c
 *   and c + 1 is c + 0.5.
 * - Rows are kept in per-feature presorted lists (sorted once per fit), and
 *   each split stably partitions every list's segment of the node: O(rows ×
 *   features) per tree level, no sorting per node.
 * - Ties: the first feature in the visiting order, then the lowest threshold.
 *   Deterministic for a seed. The signal is checked between nodes (the grower
 *   yields to the event loop every ~20 ms so an abort is seen).
 */
import { mulberry32 } from "./binning";
import { abortError } from "./grow";
import { type Dataset, FLOAT32_MAX, type Tree } from "./types";

/** Exact splits when the training rows are at most this many… */
export const EXACT_MAX_ROWS = 100_000;
/** …and rows × features at most this (the presorted lists take 8 bytes per cell: ≤ 160 MB)… */
export const EXACT_MAX_CELLS = 20_000_000;
/** …and trees × rows × features at most this (a forest on more data takes the histogram path). */
export const EXACT_MAX_WORK = 2e8;

/** Whether a fit of `trees` trees on `rows` × `features` uses exact splits ("auto"). */
export function exactSplitsFor(rows: number, features: number, trees: number): boolean {
  return (
    rows <= EXACT_MAX_ROWS && rows * features <= EXACT_MAX_CELLS && trees * rows * features <= EXACT_MAX_WORK
  );
}

/** What every tree of a fit shares: the columns, labels and presorted row orders. */
export interface ExactData {
  rows: number;
  features: Float64Array[];
  /** Per feature: row ids, non-missing ascending by value, then the missing (NaN) rows. */
  sorted: Int32Array[];
  /** Classification: the class index per row; regression: null. */
  classOf: Int32Array | null;
  numClasses: number;
  /** Regression: y − center per row. */
  y: Float64Array | null;
  center: number;
  weights: Float64Array | null;
}

export function prepareExact(
  data: Dataset,
  y: Float64Array,
  weights: Float64Array | undefined,
  classification: boolean,
  numClasses: number,
): ExactData {
  const n = data.rows;
  const features = data.features.map((f) => f.values);
  const sorted = features.map((values) => {
    // A native numeric sort of the values, then each row's place by binary search
    // (equal values in row order; NaN last, in row order).
    const v = Float64Array.from(values).sort();
    let finite = n;
    while (finite > 0 && Number.isNaN(v[finite - 1]!)) finite--;
    const next = new Int32Array(n);
    const ids = new Int32Array(n);
    let nan = finite;
    for (let i = 0; i < n; i++) {
      const x = values[i]!;
      if (Number.isNaN(x)) {
        ids[nan++] = i;
        continue;
      }
      let lo = 0;
      let hi = finite;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (v[mid]! < x) lo = mid + 1;
        else hi = mid;
      }
      ids[lo + next[lo]!++] = i;
    }
    return ids;
  });
  let center = 0;
  let yc: Float64Array | null = null;
  let classOf: Int32Array | null = null;
  if (classification) classOf = Int32Array.from(y);
  else {
    let sw = 0;
    let swy = 0;
    for (let i = 0; i < n; i++) {
      const w = weights ? weights[i]! : 1;
      sw += w;
      swy += w * y[i]!;
    }
    center = sw > 0 ? swy / sw : 0;
    yc = Float64Array.from(y, (v) => v - center);
  }
  return {
    rows: n,
    features,
    sorted,
    classOf,
    numClasses: classification ? numClasses : 1,
    y: yc,
    center,
    weights: weights ?? null,
  };
}

export interface ExactParams {
  maxDepth: number;
  maxLeaves: number;
  minSamplesLeaf: number;
  /** Features looked at per split; ≥ the feature count means all. */
  featuresPerSplit: number;
  seed: number;
  /** The tree's index in the ensemble (seeds its feature draws). */
  round: number;
  signal: AbortSignal | undefined;
}

interface Node {
  id: number;
  depth: number;
  start: number;
  end: number;
  /** [G_1..G_m, W, count]. */
  totals: Float64Array;
  split: Split | null;
}

interface Split {
  feature: number;
  threshold: number;
  missingLeft: boolean;
  gain: number;
  /** Left child's totals. */
  left: Float64Array;
}

const YIELD_MS = 20;

/**
 * The threshold between neighbouring values a < b: scikit-learn's a/2 + b/2,
 * or a when that rounds to b or overflows; finite, so the model's JSON keeps
 * it (-Number.MAX_VALUE between -Infinity and a finite b).
 */
export function midpoint(a: number, b: number): number {
  const t = a / 2 + b / 2;
  if (t !== b && Number.isFinite(t)) return t;
  return Number.isFinite(a) ? a : -Number.MAX_VALUE;
}

/**
 * Grows one tree on the rows with a non-zero multiplicity (`mult`, null: every
 * row once), each row weighing weight × multiplicity and counting its
 * multiplicity towards minSamplesLeaf and cover.
 */
export async function growExactTree(d: ExactData, mult: Int32Array | null, p: ExactParams): Promise<Tree> {
  const F = d.features.length;
  const classification = d.classOf !== null;
  const m = classification ? d.numClasses : 1;
  const S = m + 2;
  const n = d.rows;
  // Rows of this tree, their weight and count.
  const rowW = new Float64Array(n);
  const rowC = new Float64Array(n);
  let inTree = 0;
  for (let i = 0; i < n; i++) {
    const c = mult ? mult[i]! : 1;
    rowC[i] = c;
    rowW[i] = c * (d.weights ? d.weights[i]! : 1);
    if (c > 0) inTree++;
  }
  // Per feature, the tree's rows in presorted order: lists[f * inTree + k].
  const lists = new Int32Array(F * inTree);
  for (let f = 0; f < F; f++) {
    const src = d.sorted[f]!;
    let o = f * inTree;
    for (let k = 0; k < n; k++) {
      const r = src[k]!;
      if (rowC[r]! > 0) lists[o++] = r;
    }
  }
  const goLeft = new Uint8Array(n);
  const scratch = new Int32Array(inTree);

  const feature: number[] = [];
  const threshold: number[] = [];
  const left: number[] = [];
  const right: number[] = [];
  const missingLeft: number[] = [];
  const gain: number[] = [];
  const cover: number[] = [];
  const leafValue: number[] = [];
  const addNode = (totals: Float64Array) => {
    const id = feature.length;
    feature.push(-1);
    threshold.push(0);
    left.push(-1);
    right.push(-1);
    missingLeft.push(0);
    gain.push(0);
    cover.push(totals[S - 1]!);
    const w = totals[m]!;
    if (classification) for (let k = 0; k < m; k++) leafValue.push(w > 0 ? Math.fround(totals[k]! / w) : 0);
    else leafValue.push(Math.fround(w > 0 ? totals[0]! / w + d.center : d.center));
    return id;
  };

  const score = (t: Float64Array) => {
    const w = t[m]!;
    if (!(w > 0)) return 0;
    let s = 0;
    for (let k = 0; k < m; k++) s += t[k]! * t[k]!;
    return s / w;
  };

  const pureTotals = (t: Float64Array) => {
    let present = 0;
    for (let k = 0; k < m; k++) if (t[k]! > 0) present++;
    return present <= 1;
  };

  /** Pure: one class holds all the weight, or every y is the same. */
  const isPure = (node: Node): boolean => {
    if (classification) return pureTotals(node.totals);
    const ys = d.y!;
    let first = Number.NaN;
    for (let k = node.start; k < node.end; k++) {
      const r = lists[k]!;
      if (!(rowW[r]! > 0)) continue;
      if (Number.isNaN(first)) first = ys[r]!;
      else if (ys[r] !== first) return false;
    }
    return true;
  };

  const canSplit = (node: Node) =>
    node.depth < p.maxDepth && node.totals[S - 1]! >= 2 * p.minSamplesLeaf && !isPure(node);

  const order = Int32Array.from({ length: F }, (_, i) => i);
  const L = new Float64Array(S);
  const M = new Float64Array(S);
  const cand = new Float64Array(S);
  const best = new Float64Array(S);

  function findSplit(node: Node): Split | null {
    const T = node.totals;
    const parent = score(T);
    let sqT = 0;
    for (let k = 0; k < m; k++) sqT += T[k]! * T[k]!;
    let found = false;
    let bestGain = Number.NEGATIVE_INFINITY;
    let bestFeature = -1;
    let bestThreshold = 0;
    let bestMissingLeft = false;
    // The visiting order: a seeded shuffle, drawn lazily.
    const all = p.featuresPerSplit >= F;
    const rand = all
      ? null
      : mulberry32((p.seed * 0x9e3779b1) ^ (p.round * 0x85ebca6b) ^ (node.id * 0xc2b2ae35));
    for (let i = 0; i < F; i++) order[i] = i;
    let visited = 0;
    let evaluated = 0;
    const ys = d.y;
    const cls = d.classOf;

    const tryCandidate = (f: number, t: number, withMissing: boolean, hasMissing: boolean) => {
      for (let s = 0; s < S; s++) cand[s] = L[s]! + (withMissing ? M[s]! : 0);
      const cl = cand[S - 1]!;
      const cr = T[S - 1]! - cl;
      if (cl < p.minSamplesLeaf || cr < p.minSamplesLeaf || cl === 0 || cr === 0) return;
      const wl = cand[m]!;
      const wr = T[m]! - wl;
      let sl = 0;
      let sr = 0;
      for (let k = 0; k < m; k++) {
        const gl = cand[k]!;
        const gr = T[k]! - gl;
        sl += gl * gl;
        sr += gr * gr;
      }
      const g = (wl > 0 ? sl / wl : 0) + (wr > 0 ? sr / wr : 0) - parent;
      if (g > bestGain) {
        bestGain = g;
        bestFeature = f;
        bestThreshold = t;
        bestMissingLeft = hasMissing ? withMissing : cl >= cr;
        best.set(cand);
        found = true;
      }
    };

    for (let drawn = 0; drawn < F; drawn++) {
      if (!all && visited >= p.featuresPerSplit && evaluated > 0) break;
      let f: number;
      if (rand) {
        const j = drawn + Math.floor(rand() * (F - drawn));
        f = order[j]!;
        order[j] = order[drawn]!;
        order[drawn] = f;
      } else f = drawn;
      visited++;
      const values = d.features[f]!;
      const base = f * inTree;
      const s0 = base + node.start;
      const s1 = base + node.end;
      // Non-missing rows first: find where the NaN tail starts.
      let lo = s0;
      let hi = s1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (Number.isNaN(values[lists[mid]!]!)) hi = mid;
        else lo = mid + 1;
      }
      const nmEnd = lo;
      const hasMissing = nmEnd < s1;
      if (nmEnd === s0) continue; // all missing: constant
      const vmin = values[lists[s0]!]!;
      const vmax = values[lists[nmEnd - 1]!]!;
      if (vmin === vmax && !hasMissing) continue; // constant
      evaluated++;
      M.fill(0);
      if (hasMissing) {
        for (let k = nmEnd; k < s1; k++) {
          const r = lists[k]!;
          const w = rowW[r]!;
          if (cls) M[cls[r]!] = M[cls[r]!]! + w;
          else M[0] = M[0]! + w * ys![r]!;
          M[m] = M[m]! + w;
          M[S - 1] = M[S - 1]! + rowC[r]!;
        }
      }
      L.fill(0);
      if (!hasMissing) {
        // The common case, O(1) per row: running Σ L_k² and Σ T_k·L_k give both children's scores.
        let sqL = 0;
        let dotL = 0;
        const cT = T[S - 1]!;
        const wT = T[m]!;
        for (let k = s0; k < nmEnd - 1; k++) {
          const r = lists[k]!;
          const w = rowW[r]!;
          if (cls) {
            const c = cls[r]!;
            const lc = L[c]!;
            sqL += w * (2 * lc + w);
            dotL += T[c]! * w;
            L[c] = lc + w;
          } else {
            const l0 = L[0]! + w * ys![r]!;
            L[0] = l0;
            sqL = l0 * l0;
            dotL = T[0]! * l0;
          }
          L[m] = L[m]! + w;
          L[S - 1] = L[S - 1]! + rowC[r]!;
          const a = values[r]!;
          const b = values[lists[k + 1]!]!;
          if (b === a) continue;
          const cl = L[S - 1]!;
          const cr = cT - cl;
          if (cl < p.minSamplesLeaf || cr < p.minSamplesLeaf) continue;
          const wl = L[m]!;
          const wr = wT - wl;
          const sr = sqT - 2 * dotL + sqL;
          const g = (wl > 0 ? sqL / wl : 0) + (wr > 0 ? sr / wr : 0) - parent;
          if (g > bestGain) {
            const t = midpoint(a, b);
            bestGain = g;
            bestFeature = f;
            bestThreshold = t;
            bestMissingLeft = cl >= cr;
            best.set(L);
            found = true;
          }
        }
        continue;
      }
      for (let k = s0; k < nmEnd; k++) {
        const r = lists[k]!;
        const w = rowW[r]!;
        if (cls) L[cls[r]!] = L[cls[r]!]! + w;
        else L[0] = L[0]! + w * ys![r]!;
        L[m] = L[m]! + w;
        L[S - 1] = L[S - 1]! + rowC[r]!;
        const a = values[r]!;
        if (k + 1 < nmEnd) {
          const b = values[lists[k + 1]!]!;
          if (b === a) continue;
          const t = midpoint(a, b);
          tryCandidate(f, t, false, true);
          tryCandidate(f, t, true, true);
        } else {
          // All values left, missing right.
          tryCandidate(f, FLOAT32_MAX, false, true);
        }
      }
    }
    if (!found) return null;
    return {
      feature: bestFeature,
      threshold: bestThreshold,
      missingLeft: bestMissingLeft,
      gain: Math.max(0, bestGain),
      left: Float64Array.from(best),
    };
  }

  /** Stably partitions every feature's segment of `node` into left rows, then right rows. */
  function partition(node: Node, sp: Split): number {
    const values = d.features[sp.feature]!;
    const { start, end } = node;
    let nLeft = 0;
    const base = sp.feature * inTree;
    for (let k = base + start; k < base + end; k++) {
      const r = lists[k]!;
      const v = values[r]!;
      const l = Number.isNaN(v) ? sp.missingLeft : v <= sp.threshold;
      goLeft[r] = l ? 1 : 0;
      if (l) nLeft++;
    }
    for (let f = 0; f < F; f++) {
      const b = f * inTree;
      let li = b + start;
      let ri = 0;
      for (let k = b + start; k < b + end; k++) {
        const r = lists[k]!;
        if (goLeft[r]) lists[li++] = r;
        else scratch[ri++] = r;
      }
      lists.set(scratch.subarray(0, ri), li);
    }
    return start + nLeft;
  }

  // Root totals.
  const rootTotals = new Float64Array(S);
  for (let i = 0; i < n; i++) {
    if (!(rowC[i]! > 0)) continue;
    const w = rowW[i]!;
    if (d.classOf) rootTotals[d.classOf[i]!] = rootTotals[d.classOf[i]!]! + w;
    else rootTotals[0] = rootTotals[0]! + w * d.y![i]!;
    rootTotals[m] = rootTotals[m]! + w;
    rootTotals[S - 1] = rootTotals[S - 1]! + rowC[i]!;
  }
  const root: Node = {
    id: addNode(rootTotals),
    depth: 0,
    start: 0,
    end: inTree,
    totals: rootTotals,
    split: null,
  };
  const open: Node[] = [];
  if (canSplit(root)) root.split = findSplit(root);
  if (root.split) open.push(root);
  let leaves = 1;
  const bestFirst = Number.isFinite(p.maxLeaves);
  let lastYield = performance.now();

  while (open.length > 0 && leaves < p.maxLeaves) {
    if (performance.now() - lastYield > YIELD_MS) {
      await new Promise((r) => setImmediate(r));
      lastYield = performance.now();
    }
    if (p.signal?.aborted) throw abortError(p.signal);
    let node: Node;
    if (bestFirst) {
      let bi = 0;
      for (let i = 1; i < open.length; i++) if (open[i]!.split!.gain > open[bi]!.split!.gain) bi = i;
      node = open[bi]!;
      open.splice(bi, 1);
    } else node = open.pop()!;
    const sp = node.split!;
    const lt = sp.left;
    const rt = new Float64Array(S);
    for (let s = 0; s < S; s++) rt[s] = node.totals[s]! - lt[s]!;
    const lId = addNode(lt);
    const rId = addNode(rt);
    feature[node.id] = sp.feature;
    threshold[node.id] = sp.threshold;
    missingLeft[node.id] = sp.missingLeft ? 1 : 0;
    left[node.id] = lId;
    right[node.id] = rId;
    gain[node.id] = sp.gain;
    leaves++;
    // Children that are leaves whatever their rows need no partition.
    const mayGrow = (t: Float64Array) =>
      node.depth + 1 < p.maxDepth && t[S - 1]! >= 2 * p.minSamplesLeaf && !(classification && pureTotals(t));
    if (!mayGrow(lt) && !mayGrow(rt)) continue;
    const mid = partition(node, sp);
    const children: Node[] = [
      { id: lId, depth: node.depth + 1, start: node.start, end: mid, totals: lt, split: null },
      { id: rId, depth: node.depth + 1, start: mid, end: node.end, totals: rt, split: null },
    ];
    // Depth-first: the right child is pushed first so the left one is grown next.
    for (const child of bestFirst ? children : children.reverse()) {
      if (canSplit(child)) child.split = findSplit(child);
      if (child.split) open.push(child);
    }
  }

  const nodes = feature.length;
  const width = m;
  // Leaves keep their values; internal nodes hold 0.
  const lv = Float64Array.from(leafValue);
  for (let i = 0; i < nodes; i++) if (feature[i]! >= 0) lv.fill(0, i * width, (i + 1) * width);
  return {
    output: classification ? -1 : 0,
    feature: Int32Array.from(feature),
    threshold: Float64Array.from(threshold),
    left: Int32Array.from(left),
    right: Int32Array.from(right),
    missingGoesLeft: Uint8Array.from(missingLeft),
    leafValue: lv,
    gain: Float64Array.from(gain),
    cover: Float64Array.from(cover),
  };
}
