/**
 * Growing one tree on binned rows: the kernel shards partition rows and build
 * the smaller child's histogram, this thread sums the shards' histograms,
 * derives the sibling by subtraction and finds the best split.
 *
 * Every criterion is one form: a node's stats are gradient channels G_1..G_m,
 * a hessian H and a count, and a split's gain is
 *   Σ_k G_Lk²/(H_L+λ) + Σ_k G_Rk²/(H_R+λ) − Σ_k G_k²/(H+λ).
 * Boosting uses (gradient, hessian); CART regression uses (w·y, w) with λ = 0,
 * which is the variance reduction; CART classification uses one channel per
 * class (w·[y = k], w) with λ = 0, which is the Gini decrease.
 *
 * Without maxLeaves, all splittable nodes of a level are split in one round
 * (depth-wise); with maxLeaves, the node with the best gain goes first
 * (leaf-wise / best-first), one per round.
 */
import { mulberry32 } from "./binning";
import { BINS_PER_FEATURE, MISSING_BIN } from "./kernel";
import type { KernelSession } from "./session";

export interface GrowParams {
  maxDepth: number;
  maxLeaves: number;
  minSamplesLeaf: number;
  minChildWeight: number;
  lambda: number;
  minGain: number;
  /** Gradient channels m (the row stride of the stats is m + 1). */
  channels: number;
  statsOffset: number;
  /** Per channel (m + 1): the quantum the integer stats are in units of. */
  quantum: Float64Array;
  subsample: number;
  seed: number;
  round: number;
  /** Features this tree may use, ascending (null: all). */
  features: Int32Array | null;
  /** Features drawn at each split (forests), or 0 for all of `features`. */
  featuresPerSplit: number;
  numBins: Int32Array;
  /** The root's records and histogram (slot 0) were laid out by the previous tree's `apply` (nextRoot). */
  rootBuilt: boolean;
  /** Aborts between rounds. */
  signal: AbortSignal | undefined;
}

/** A tree in bin space, with each node's (dequantized) totals. */
export interface GrownTree {
  feature: Int32Array;
  bin: Int32Array;
  missingLeft: Uint8Array;
  left: Int32Array;
  right: Int32Array;
  gain: Float64Array;
  /** Per node: dequantized [G_1..G_m, H, count]. */
  totals: Float64Array;
  nodes: number;
  /**
   * Splits whose children are final leaves, not sent to the kernel (its rows
   * need not move): `apply` takes them (KernelSplit task layout).
   */
  deferred: Int32Array;
}

interface Split {
  feature: number;
  bin: number;
  missingLeft: boolean;
  gain: number;
  /** Left child's integer stats (S values). */
  left: Float64Array;
}

interface OpenNode {
  id: number;
  depth: number;
  /** Integer stats [G.., H, count]. */
  totals: Float64Array;
  hist: Float64Array | null;
  split: Split | null;
}

/** Node histograms kept for the subtraction trick, at most this many bytes. */
const KEPT_HIST_BYTES = 256 * 1024 * 1024;

export function abortError(signal?: AbortSignal): Error {
  const err = new Error("Training was cancelled", { cause: signal?.reason });
  err.name = "AbortError";
  return err;
}

export async function growTree(session: KernelSession, p: GrowParams): Promise<GrownTree> {
  const S = p.channels + 2;
  const F = session.arrays.numFeatures;
  const histSize = session.histSize;
  const stride = BINS_PER_FEATURE * S;
  const allFeatures = p.features ?? Int32Array.from({ length: F }, (_, i) => i);
  const q = p.quantum;
  const qh = q[p.channels]!;
  const lambda = p.lambda;

  // Node arrays, grown as nodes are created.
  const feature: number[] = [-1];
  const bin: number[] = [0];
  const missingLeft: number[] = [0];
  const left: number[] = [-1];
  const right: number[] = [-1];
  const gains: number[] = [0];
  const totals: Float64Array[] = [];

  const free = session.freeHists;
  const deferred: number[] = [];
  let keptBytes = 0;
  const takeHist = () => free.pop() ?? new Float64Array(histSize);
  const dropHist = (n: OpenNode) => {
    if (!n.hist) return;
    free.push(n.hist);
    keptBytes -= histSize * 8;
    n.hist = null;
  };

  const score = (st: Float64Array | number[], o: number, h: number) => {
    let s = 0;
    const d = h * qh + lambda;
    if (d <= 0) return 0;
    for (let k = 0; k < p.channels; k++) {
      const g = st[o + k]! * q[k]!;
      s += g * g;
    }
    return s / d;
  };

  const splitFeatures = (node: number): Int32Array => {
    const k = p.featuresPerSplit;
    if (k <= 0 || k >= allFeatures.length) return allFeatures;
    const ids = Int32Array.from(allFeatures);
    const rand = mulberry32((p.seed * 0x9e3779b1) ^ (p.round * 0x85ebca6b) ^ (node * 0xc2b2ae35));
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(rand() * (ids.length - i));
      const t = ids[i]!;
      ids[i] = ids[j]!;
      ids[j] = t;
    }
    return ids.subarray(0, k).sort();
  };

  const canSplit = (n: OpenNode) =>
    n.depth < p.maxDepth &&
    n.totals[S - 1]! >= 2 * p.minSamplesLeaf &&
    n.totals[S - 2]! * qh >= 2 * p.minChildWeight;

  const L = new Float64Array(S);
  const best = new Float64Array(S);
  function findSplit(n: OpenNode): Split | null {
    const hist = n.hist!;
    const T = n.totals;
    const parent = score(T, 0, T[S - 2]!);
    let found: Split | null = null;
    let bestGain = p.minGain;
    const tryCandidate = (f: number, t: number, missLeft: boolean, M: number) => {
      // Left = L (+ missing when missLeft), right = T − left.
      const cl = L[S - 1]! + (missLeft ? hist[M + S - 1]! : 0);
      const cr = T[S - 1]! - cl;
      if (cl < p.minSamplesLeaf || cr < p.minSamplesLeaf || cl === 0 || cr === 0) return;
      const hl = L[S - 2]! + (missLeft ? hist[M + S - 2]! : 0);
      const hr = T[S - 2]! - hl;
      if (hl * qh < p.minChildWeight || hr * qh < p.minChildWeight) return;
      let sl = 0;
      let sr = 0;
      const dl = hl * qh + lambda;
      const dr = hr * qh + lambda;
      for (let k = 0; k < p.channels; k++) {
        const gl = (L[k]! + (missLeft ? hist[M + k]! : 0)) * q[k]!;
        const gr = T[k]! * q[k]! - gl;
        sl += gl * gl;
        sr += gr * gr;
      }
      const childScore = sl / dl + sr / dr;
      const gain = childScore - parent;
      // Gains within rounding noise of zero (a pure node) are not splits.
      if (gain > bestGain && gain > 1e-10 * childScore) {
        bestGain = gain;
        for (let s = 0; s < S; s++) best[s] = L[s]! + (missLeft ? hist[M + s]! : 0);
        found = { feature: f, bin: t, missingLeft: missLeft, gain, left: best };
      }
    };
    for (const f of splitFeatures(n.id)) {
      const nb = p.numBins[f]!;
      const base = f * stride;
      const M = base + MISSING_BIN * S;
      const hasMissing = hist[M + S - 1]! > 0;
      L.fill(0);
      for (let t = 0; t < nb; t++) {
        const o = base + t * S;
        for (let s = 0; s < S; s++) L[s] = L[s]! + hist[o + s]!;
        if (t === nb - 1) {
          // All values left, missing right.
          if (hasMissing) tryCandidate(f, t, false, M);
          break;
        }
        if (hasMissing) {
          tryCandidate(f, t, false, M);
          tryCandidate(f, t, true, M);
        } else {
          // No missing values here: at prediction, they follow the larger child.
          tryCandidate(f, t, L[S - 1]! >= T[S - 1]! - L[S - 1]!, M);
        }
      }
    }
    const s = found as Split | null;
    if (s) s.left = Float64Array.from(s.left);
    return s;
  }

  /**
   * `findSplit` for one gradient channel (boosting, CART regression): the
   * same candidates in the same order with the same arithmetic, on locals.
   */
  function findSplit1(n: OpenNode): Split | null {
    const hist = n.hist!;
    const T = n.totals;
    const T0 = T[0]!;
    const T1 = T[1]!;
    const T2 = T[2]!;
    const q0 = q[0]!;
    const tg = T0 * q0;
    const parent = score(T, 0, T1);
    const minLeaf = p.minSamplesLeaf;
    const minWeight = p.minChildWeight;
    /** Gain of a left child with count c, hessian h and gradient g (integer stats), or -Infinity. */
    const gainOf = (c: number, h: number, g: number): number => {
      const cr = T2 - c;
      if (c < minLeaf || cr < minLeaf || c === 0 || cr === 0) return Number.NEGATIVE_INFINITY;
      const hr = T1 - h;
      if (h * qh < minWeight || hr * qh < minWeight) return Number.NEGATIVE_INFINITY;
      const gl = g * q0;
      const gr = tg - gl;
      const childScore = (gl * gl) / (h * qh + lambda) + (gr * gr) / (hr * qh + lambda);
      const gain = childScore - parent;
      // Gains within rounding noise of zero (a pure node) are not splits.
      return gain > 1e-10 * childScore ? gain : Number.NEGATIVE_INFINITY;
    };
    let bestGain = p.minGain;
    let bf = -1;
    let bt = 0;
    let bml = false;
    let b0 = 0;
    let b1 = 0;
    let b2 = 0;
    for (const f of splitFeatures(n.id)) {
      const nb = p.numBins[f]!;
      const base = f * stride;
      const M = base + MISSING_BIN * 3;
      const m0 = hist[M]!;
      const m1 = hist[M + 1]!;
      const m2 = hist[M + 2]!;
      const hasMissing = m2 > 0;
      let l0 = 0;
      let l1 = 0;
      let l2 = 0;
      for (let t = 0, o = base; t < nb; t++, o += 3) {
        l0 = l0 + hist[o]!;
        l1 = l1 + hist[o + 1]!;
        l2 = l2 + hist[o + 2]!;
        if (hasMissing) {
          // Missing right (and, but for the last bin, missing left).
          const gr = gainOf(l2, l1, l0);
          if (gr > bestGain) {
            bestGain = gr;
            bf = f;
            bt = t;
            bml = false;
            b0 = l0;
            b1 = l1;
            b2 = l2;
          }
          if (t === nb - 1) break;
          const gl = gainOf(l2 + m2, l1 + m1, l0 + m0);
          if (gl > bestGain) {
            bestGain = gl;
            bf = f;
            bt = t;
            bml = true;
            b0 = l0 + m0;
            b1 = l1 + m1;
            b2 = l2 + m2;
          }
        } else {
          if (t === nb - 1) break;
          // No missing values here: at prediction, they follow the larger child.
          const g = gainOf(l2, l1, l0);
          if (g > bestGain) {
            bestGain = g;
            bf = f;
            bt = t;
            bml = l2 >= T2 - l2;
            b0 = l0;
            b1 = l1;
            b2 = l2;
          }
        }
      }
    }
    if (bf < 0) return null;
    return { feature: bf, bin: bt, missingLeft: bml, gain: bestGain, left: Float64Array.of(b0, b1, b2) };
  }

  // The root.
  if (!p.rootBuilt) {
    await session.run(() => ({
      op: "root",
      session: session.id,
      statsOffset: p.statsOffset,
      subsample: p.subsample,
      seed: p.seed,
      round: p.round,
      features: p.features,
      slot: 0,
    }));
  }
  const rootHist = session.reduceSlot(0, takeHist());
  keptBytes += histSize * 8;
  const rootTotals = new Float64Array(S);
  // Totals from any one used feature's bins (each row is in exactly one bin of it).
  {
    const base = allFeatures[0]! * stride;
    for (let b = 0; b < BINS_PER_FEATURE; b++)
      for (let s = 0; s < S; s++) rootTotals[s] = rootTotals[s]! + rootHist[base + b * S + s]!;
  }
  totals[0] = rootTotals;
  const root: OpenNode = { id: 0, depth: 0, totals: rootTotals, hist: rootHist, split: null };
  let open: OpenNode[] = [];
  const bestSplit = p.channels === 1 ? findSplit1 : findSplit;
  if (canSplit(root)) root.split = bestSplit(root);
  if (root.split) open.push(root);
  dropIfLeaf(root);
  let leaves = 1;

  function dropIfLeaf(n: OpenNode) {
    if (!n.split) dropHist(n);
  }

  while (open.length > 0 && leaves < p.maxLeaves) {
    if (p.signal?.aborted) throw abortError(p.signal);
    let batch: OpenNode[];
    if (Number.isFinite(p.maxLeaves)) {
      // Best first: the open node with the largest gain (first created on ties).
      let bi = 0;
      for (let i = 1; i < open.length; i++) if (open[i]!.split!.gain > open[bi]!.split!.gain) bi = i;
      batch = [open[bi]!];
      open.splice(bi, 1);
    } else {
      batch = open;
      open = [];
    }
    // Split the batch in groups that fit the histogram slots.
    for (let g0 = 0; g0 < batch.length; ) {
      const tasks: number[] = [];
      const done: { parent: OpenNode; l: OpenNode; r: OpenNode; built: OpenNode[]; slots: number[] }[] = [];
      let slot = 0;
      let g1 = g0;
      for (; g1 < batch.length && slot + 2 <= session.slots; g1++) {
        const n = batch[g1]!;
        const sp = n.split!;
        const lt = sp.left;
        const rt = new Float64Array(S);
        for (let s = 0; s < S; s++) rt[s] = n.totals[s]! - lt[s]!;
        const lId = feature.length;
        const rId = lId + 1;
        for (const id of [lId, rId]) {
          feature[id] = -1;
          bin[id] = 0;
          missingLeft[id] = 0;
          left[id] = -1;
          right[id] = -1;
          gains[id] = 0;
        }
        feature[n.id] = sp.feature;
        bin[n.id] = sp.bin;
        missingLeft[n.id] = sp.missingLeft ? 1 : 0;
        left[n.id] = lId;
        right[n.id] = rId;
        gains[n.id] = sp.gain;
        totals[lId] = lt;
        totals[rId] = rt;
        leaves++;
        const l: OpenNode = { id: lId, depth: n.depth + 1, totals: lt, hist: null, split: null };
        const r: OpenNode = { id: rId, depth: n.depth + 1, totals: rt, hist: null, split: null };
        const needL = canSplit(l);
        const needR = canSplit(r);
        const built: OpenNode[] = [];
        // Both children final leaves: the kernel need not move their rows.
        let build = needL || needR ? 0 : 4;
        if (needL || needR) {
          if (n.hist) {
            const smallerIsLeft = lt[S - 1]! <= rt[S - 1]!;
            build = smallerIsLeft ? 1 : 2;
            built.push(smallerIsLeft ? l : r);
          } else {
            if (needL) built.push(l);
            if (needR) built.push(r);
            build = (needL ? 1 : 0) | (needR ? 2 : 0);
          }
        }
        const slots = built.map(() => slot++);
        tasks.push(
          n.id,
          sp.feature,
          sp.bin,
          sp.missingLeft ? 1 : 0,
          lId,
          rId,
          build,
          build & 1 ? slots[0]! : 0,
          build & 2 ? slots[slots.length - 1]! : 0,
        );
        done.push({ parent: n, l, r, built, slots });
        if (Number.isFinite(p.maxLeaves) && leaves >= p.maxLeaves) {
          g1++;
          break;
        }
      }
      if (tasks.every((v, i) => i % 9 !== 6 || v === 4)) deferred.push(...tasks);
      else await session.run(() => ({ op: "split", session: session.id, tasks: Int32Array.from(tasks) }));
      for (const { parent, l, r, built, slots } of done) {
        built.forEach((child, i) => {
          child.hist = session.reduceSlot(slots[i]!, takeHist());
          keptBytes += histSize * 8;
        });
        if (parent.hist && built.length === 1) {
          // The sibling by subtraction, in the parent's buffer.
          const other = built[0] === l ? r : l;
          if (canSplit(other)) {
            const ph = parent.hist;
            const ch = built[0]!.hist!;
            for (let i = 0; i < histSize; i++) ph[i] = ph[i]! - ch[i]!;
            other.hist = ph;
            parent.hist = null;
          }
        }
        dropHist(parent);
        for (const child of [l, r]) {
          if (child.hist && canSplit(child)) child.split = bestSplit(child);
          if (child.split) {
            open.push(child);
            // Over budget: forget the histogram; its children are then built directly.
            if (keptBytes > KEPT_HIST_BYTES) dropHist(child);
          } else dropHist(child);
        }
      }
      g0 = g1;
      if (Number.isFinite(p.maxLeaves) && leaves >= p.maxLeaves) break;
    }
  }

  for (const n of open) dropHist(n);
  const nodes = feature.length;
  const flat = new Float64Array(nodes * S);
  for (let i = 0; i < nodes; i++) {
    const t = totals[i]!;
    for (let s = 0; s < S; s++) flat[i * S + s] = s < S - 1 ? t[s]! * q[s]! : t[s]!;
  }
  return {
    feature: Int32Array.from(feature),
    bin: Int32Array.from(bin),
    missingLeft: Uint8Array.from(missingLeft),
    left: Int32Array.from(left),
    right: Int32Array.from(right),
    gain: Float64Array.from(gains),
    totals: flat,
    nodes,
    deferred: Int32Array.from(deferred),
  };
}
