/**
 * The hot loops of tree training: gradients and losses, row partitions and
 * histograms, score updates. They run over one shard of the rows, in a worker
 * thread or in this thread.
 *
 * A shard keeps its in-sample rows as records of int32 words — the row's bins
 * packed four to a word, its quantized stats, its bootstrap multiplicity
 * (forests), its row id — and partitions the records themselves, not row
 * indices, so every node's rows are contiguous and both the partition and the
 * histogram stream through memory instead of gathering. The loops over
 * features are generated per record shape (`new Function`) so they unroll.
 *
 * `createTreeKernel` must stay self-contained — no imports, no references to
 * anything outside its body — because the pool starts workers from its source
 * text (`createTreeKernel.toString()`), which works the same under tsx, vitest
 * and the esbuild bundle without a worker file or a loader (see pool.ts).
 *
 * Histogram sums are exact: stats are integer multiples of a power-of-two
 * quantum chosen so that each fits an int32 and every sum of them stays below
 * 2^53. Float64 addition of such integers is exact and so independent of
 * order: the histograms, and therefore the trees, are the same for any number
 * of workers, and the subtraction trick (sibling = parent − child) is exact too.
 */

/** Rows are processed in chunks of this many; shard bounds and per-chunk RNG/loss sums follow it. */
export const CHUNK_ROWS = 8192;
/** Bin code of a missing value; value bins are 0..254. */
export const MISSING_BIN = 255;
export const BINS_PER_FEATURE = 256;

export type LossKind = "squared" | "logloss" | "softmax";

export interface KernelInit {
  op: "init";
  session: number;
  numFeatures: number;
  nTrain: number;
  nValid: number;
  /** Raw-score width (K for softmax, else 1). */
  outputs: number;
  /**
   * Row-major bin codes, `(nTrain + nValid)` rows of `rowBytes` bytes (the
   * features, zero-padded to a multiple of 4); training rows first.
   */
  bins: Uint8Array;
  rowBytes: number;
  /** Gradient channels m of every tree of this session (stats rows have m + 1 values). */
  channels: number;
  labels: Float64Array | null;
  weights: Float64Array | null;
  /** `(nTrain + nValid) × outputs` raw scores (GBDT). */
  scores: Float64Array | null;
  /**
   * Per-row quantized stats: GBDT `outputs × nTrain × 2` (gradient, hessian),
   * written by `grad`; forests `nTrain × (m + 1)`, written by the caller.
   */
  stats: Int32Array;
  /** Bootstrap multiplicities of the training rows (forests), or null for 1 each. */
  mult: Int32Array | null;
  /** Shared histogram slots: `workers × slots × histSize`. */
  hist: Float64Array;
  histSize: number;
  /** This worker's first slot index in `hist`. */
  slotBase: number;
  /** Per-chunk loss sums: training chunks then validation chunks. */
  lossChunks: Float64Array | null;
  loss: LossKind | null;
  /** This shard: training rows [trainStart, trainEnd), validation rows [validStart, validEnd) (absolute). */
  trainStart: number;
  trainEnd: number;
  validStart: number;
  validEnd: number;
}

export interface KernelGrad {
  op: "grad";
  session: number;
  /** false: only the losses of the current scores. */
  gradients: boolean;
  /** Also sum the training loss per chunk (validation loss is always summed). */
  trainLoss: boolean;
  /** Per output: the quanta of its gradient and hessian. */
  quantum: number[];
}

export interface KernelRoot {
  op: "root";
  session: number;
  /** Where this tree's stats start in `stats` (row stride m + 1). */
  statsOffset: number;
  /** Bernoulli row sampling for this tree (1: all rows), seeded by (seed, round, chunk). */
  subsample: number;
  seed: number;
  round: number;
  /** Features to build histograms for (null: all). */
  features: Int32Array | null;
  slot: number;
}

export interface KernelSplit {
  op: "split";
  session: number;
  /**
   * Per split, 9 ints: node, feature, bin threshold (left when bin <= it),
   * missing-goes-left, left id, right id, which children to histogram
   * (0 none, 1 left, 2 right, 3 both; 4: both children are final leaves, so
   * the rows are not moved), left slot, right slot.
   */
  tasks: Int32Array;
}

export interface KernelApply {
  op: "apply";
  session: number;
  /** Which raw score this tree adds to. */
  output: number;
  /** The tree in bin space: node arrays (leaf: feature -1). */
  feature: Int32Array;
  bin: Int32Array;
  missingLeft: Uint8Array;
  /** Left child; the right child is left + 1. */
  left: Int32Array;
  value: Float64Array;
  /**
   * After the round's last tree: what `grad` would do next, fused into this
   * pass (losses of the new scores, and the next round's gradients).
   */
  next: Omit<KernelGrad, "op" | "session"> | null;
  /**
   * With `next` computing gradients: also lay out the next tree's records and
   * its root histogram (into slot 0) in the same pass, as `root` would with
   * all rows, stats offset 0 and these features, so no `root` message follows.
   */
  nextRoot: { features: Int32Array | null } | null;
  /** Splits not sent with `split` (final leaves only), in its task layout. */
  deferred: Int32Array;
}

export interface KernelClose {
  op: "close";
  session: number;
}

export type KernelMessage = KernelInit | KernelGrad | KernelRoot | KernelSplit | KernelApply | KernelClose;

export interface KernelReply {
  /** root: in-sample rows. */
  rows?: number;
  /** apply with squared loss: max |score − label| over the shard's training rows. */
  maxResidual?: number;
}

export function createTreeKernel(): (msg: KernelMessage) => KernelReply {
  const CHUNK = 8192;
  const MISSING = 255;
  const NB = 256;
  /** Past this many features the histogram loop is not unrolled. */
  const UNROLL = 64;

  type HistFn = (rec: Int32Array, start: number, end: number, H: Float64Array, base: number) => void;
  type PartFn = (
    rec: Int32Array,
    start: number,
    end: number,
    word: number,
    shift: number,
    thr: number,
    missLeft: boolean,
    offL: Int32Array,
    offR: Int32Array,
  ) => number;
  type FillFn = (
    words: Int32Array,
    stats: Int32Array,
    mult: Int32Array | null,
    rec: Int32Array,
    H: Float64Array,
    base: number,
    n: number,
    from: number,
    to: number,
    off: number,
    keep: (() => boolean) | null,
  ) => number;
  type RowsFn = (
    init: KernelInit,
    from: number,
    to: number,
    write: boolean,
    withLoss: boolean,
    quantum: number[],
  ) => number;

  interface Session {
    init: KernelInit;
    F: number;
    /** Words of packed bins per row (4 bins a word). */
    W: number;
    /** Stats values per row (m + 1). */
    stride: number;
    /** Record width in words: bins, stats, [multiplicity], row id. */
    R: number;
    words: Int32Array;
    rec: Int32Array;
    /** Leaf of each training row of the shard in the current tree (-1: not in the sample). */
    pos: Int32Array;
    partial: boolean;
    segStart: Int32Array;
    segCount: Int32Array;
    /** Splits left unpartitioned (build 4), 9 ints each as in KernelSplit. */
    lazy: number[];
    histFns: Map<string, { hist: HistFn; fill: FillFn }>;
    hist: HistFn | null;
    part: PartFn;
    offL: Int32Array;
    offR: Int32Array;
  }
  const sessions = new Map<number, Session>();

  function hash32(a: number, b: number, c: number): number {
    let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35);
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) ^ Math.imul(c + 0x68e31da4, 0x297a2d39);
    h ^= h >>> 12;
    h = Math.imul(h, 0x165667b1);
    return (h ^ (h >>> 16)) >>> 0;
  }

  function mulberry32(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  /**
   * Lines adding one record to the histogram `H` (from `base`, laid out
   * [feature][bin][stat], as the shared slots are), given `w<k>` (its bin
   * words), `s<t>` (its stats) and `c` (its multiplicity) in scope. The stats
   * of one bin are adjacent: one cache line per feature and record.
   */
  function histLines(stride: number, withMult: boolean, features: number[]): string[] {
    const S = stride + 1;
    const add: string[] = [];
    for (let t = 0; t < stride; t++)
      add.push(withMult ? `H[p + ${t}] += s${t} * c;` : `H[p + ${t}] += s${t};`);
    add.push(withMult ? `H[p + ${stride}] += c;` : `H[p + ${stride}]++;`);
    if (features.length > UNROLL) {
      return [
        "for (let j = 0; j < feats.length; j++) {",
        "const f = feats[j];",
        `const p = base + ((f << 8) + ((wordsOf[f >> 2] >>> ((f & 3) << 3)) & 255)) * ${S};`,
        ...add,
        "}",
      ];
    }
    const lines = ["let p = 0;"];
    for (const f of features) {
      const byte = f & 3 ? `((w${f >> 2} >>> ${8 * (f & 3)}) & 255)` : `(w${f >> 2} & 255)`;
      lines.push(`p = base + ${f * NB * S} + ${byte} * ${S};`, ...add);
    }
    return lines;
  }

  /** Prologue of a histogram loop: the feature list when not unrolled. */
  function histPrologue(W: number, features: number[]): string[] {
    const lines: string[] = [];
    if (features.length > UNROLL) {
      lines.push(
        `const feats = new Int32Array([${features.join(",")}]);`,
        `const wordsOf = new Int32Array(${W});`,
      );
    }
    return lines;
  }

  /** Loads a record's bin words into `w<k>` (and `wordsOf` when not unrolled). */
  function wordLines(W: number, features: number[], load: (k: number) => string): string[] {
    const lines: string[] = [];
    const all = features.length > UNROLL;
    const used = all ? Array.from({ length: W }, (_, k) => k) : [...new Set(features.map((f) => f >> 2))];
    for (const k of used) {
      lines.push(`const w${k} = ${load(k)};`);
      if (all) lines.push(`wordsOf[${k}] = w${k};`);
    }
    return lines;
  }

  /**
   * Histogram of the records [start, end): per feature and bin, the sums of
   * the stats (times the multiplicity) and the count, into one plane per stat.
   * Generated per record shape so the feature loop is unrolled.
   */
  function makeHist(W: number, stride: number, withMult: boolean, features: number[]): HistFn {
    const R = W + stride + (withMult ? 1 : 0) + 1;
    const lines = histPrologue(W, features);
    lines.push("for (let i = start; i < end; i++) {", `const o = i * ${R};`);
    lines.push(...wordLines(W, features, (k) => `rec[o + ${k}]`));
    for (let t = 0; t < stride; t++) lines.push(`const s${t} = rec[o + ${W + t}];`);
    if (withMult) lines.push(`const c = rec[o + ${W + stride}];`);
    lines.push(...histLines(stride, withMult, features), "}", "//# sourceURL=dagwood-trees-hist.js");
    return new Function("rec", "start", "end", "H", "base", lines.join("\n")) as HistFn;
  }

  /** Block size of the partition: misplaced records are found this many at a time. */
  const BLOCK = 128;

  /**
   * In-place partition of records [start, end): misplaced pairs are swapped
   * (Hoare), found a block at a time without branching on the data
   * (BlockQuicksort, Edelkamp & Weiß 2016) — a split decision is a coin flip
   * the branch predictor cannot learn. Not stable, and needs not be: histogram
   * sums are exact in any order. Returns the split point: left is [start, point).
   */
  function makePart(R: number): PartFn {
    const swap: string[] = [];
    for (let k = 0; k < R; k++)
      swap.push(`t = rec[a + ${k}]; rec[a + ${k}] = rec[b + ${k}]; rec[b + ${k}] = t;`);
    // 1 when the record at `at` goes right: bin > thr, flipped for a missing bin (255) that goes left.
    const right = (at: string) =>
      `(((thr - (v = (rec[(${at}) * ${R} + word] >>> shift) & 255)) >>> 31) ^ (ml & ((v + 1) >> 8)))`;
    const body = `
      const ml = missLeft ? 1 : 0;
      let l = start;
      let r = end;
      let nl = 0;
      let sl = 0;
      let nr = 0;
      let sr = 0;
      let t = 0;
      let v = 0;
      // [start, l) goes left and [r, end) right; blocks at both ends of [l, r) are scanned.
      while (r - l > ${2 * BLOCK}) {
        if (nl === 0) {
          sl = 0;
          for (let k = 0; k < ${BLOCK}; k++) {
            offL[nl] = k;
            nl += ${right("l + k")};
          }
        }
        if (nr === 0) {
          sr = 0;
          for (let k = 0; k < ${BLOCK}; k++) {
            offR[nr] = k;
            nr += 1 - ${right("r - 1 - k")};
          }
        }
        const m = nl < nr ? nl : nr;
        for (let k = 0; k < m; k++) {
          const a = (l + offL[sl + k]) * ${R};
          const b = (r - 1 - offR[sr + k]) * ${R};
          ${swap.join(" ")}
        }
        nl -= m;
        nr -= m;
        sl += m;
        sr += m;
        if (nl === 0) l += ${BLOCK};
        if (nr === 0) r -= ${BLOCK};
      }
      // The rest (and what is left of a half-done block): plain Hoare.
      let i = l;
      let j = r - 1;
      for (;;) {
        while (i <= j && ${right("i")} === 0) i++;
        while (i < j && ${right("j")} === 1) j--;
        if (i >= j) return i;
        const a = i * ${R};
        const b = j * ${R};
        ${swap.join(" ")}
        i++;
        j--;
      }
      //# sourceURL=dagwood-trees-partition.js`;
    return new Function(
      "rec",
      "start",
      "end",
      "word",
      "shift",
      "thr",
      "missLeft",
      "offL",
      "offR",
      body,
    ) as PartFn;
  }

  /**
   * Writes the records of rows [from, to) (those kept: in the sample, with a
   * multiplicity) from record n on and adds them to the histogram from `base` (the
   * root's histogram, in the same pass); returns the new record count.
   */
  function makeFill(W: number, stride: number, withMult: boolean, features: number[]): FillFn {
    const R = W + stride + (withMult ? 1 : 0) + 1;
    const lines = histPrologue(W, features);
    lines.push("for (let r = from; r < to; r++) {");
    if (withMult) lines.push("const c = mult[r];", "if (c === 0) continue;");
    lines.push("if (keep !== null && !keep()) continue;", `const o = n * ${R};`, `const wr = r * ${W};`);
    for (let k = 0; k < W; k++) lines.push(`rec[o + ${k}] = words[wr + ${k}];`);
    lines.push(...wordLines(W, features, (k) => `rec[o + ${k}]`));
    lines.push(`const so = off + r * ${stride};`);
    for (let t = 0; t < stride; t++)
      lines.push(`const s${t} = stats[so + ${t}];`, `rec[o + ${W + t}] = s${t};`);
    if (withMult) lines.push(`rec[o + ${W + stride}] = c;`);
    lines.push(`rec[o + ${R - 1}] = r;`, "n++;", ...histLines(stride, withMult, features));
    lines.push("}", "return n;", "//# sourceURL=dagwood-trees-records.js");
    return new Function(
      "words",
      "stats",
      "mult",
      "rec",
      "H",
      "base",
      "n",
      "from",
      "to",
      "off",
      "keep",
      lines.join("\n"),
    ) as FillFn;
  }

  /**
   * Rows [from, to) of squared error: writes the quantized gradient/hessian
   * (when `write`); returns the loss sum (when `withLoss`). Rounding is
   * Math.floor(0.5 + x): Math.round is several times slower in V8 here.
   */
  const squaredRows: RowsFn = (init, from, to, write, withLoss, quantum) => {
    const labels = init.labels!;
    const scores = init.scores!;
    const weights = init.weights;
    const stats = init.stats;
    const ig = 1 / quantum[0]!;
    const ih = 1 / quantum[1]!;
    let sum = 0;
    for (let r = from; r < to; r++) {
      const w = weights === null ? 1 : weights[r]!;
      const d = scores[r]! - labels[r]!;
      if (withLoss) sum += w * d * d;
      if (write) {
        stats[2 * r] = Math.floor(0.5 + w * d * ig);
        stats[2 * r + 1] = Math.floor(0.5 + w * ih);
      }
    }
    return sum;
  };

  const loglossRows: RowsFn = (init, from, to, write, withLoss, quantum) => {
    const labels = init.labels!;
    const scores = init.scores!;
    const weights = init.weights;
    const stats = init.stats;
    const ig = 1 / quantum[0]!;
    const ih = 1 / quantum[1]!;
    let sum = 0;
    for (let r = from; r < to; r++) {
      const w = weights === null ? 1 : weights[r]!;
      const x = scores[r]!;
      const y = labels[r]!;
      const e = Math.exp(x >= 0 ? -x : x);
      // The loss costs a log per row: only when someone reads it.
      if (withLoss) sum += w * (Math.log1p(e) + Math.max(x, 0) - x * y);
      if (write) {
        const p = x >= 0 ? 1 / (1 + e) : e / (1 + e);
        stats[2 * r] = Math.floor(0.5 + w * (p - y) * ig);
        stats[2 * r + 1] = Math.floor(0.5 + w * p * (1 - p) * ih);
      }
    }
    return sum;
  };

  const softmaxRows: RowsFn = (init, from, to, write, withLoss, quantum) => {
    const labels = init.labels!;
    const scores = init.scores!;
    const weights = init.weights;
    const stats = init.stats;
    const K = init.outputs;
    const nTrain = init.nTrain;
    const probs = new Float64Array(K);
    let sum = 0;
    for (let r = from; r < to; r++) {
      const w = weights === null ? 1 : weights[r]!;
      const y = labels[r]!;
      const o = r * K;
      let m = scores[o]!;
      for (let k = 1; k < K; k++) if (scores[o + k]! > m) m = scores[o + k]!;
      let z = 0;
      for (let k = 0; k < K; k++) {
        const e = Math.exp(scores[o + k]! - m);
        probs[k] = e;
        z += e;
      }
      if (withLoss) sum += w * (Math.log(z) + m - scores[o + y]!);
      if (write) {
        for (let k = 0; k < K; k++) {
          const p = probs[k]! / z;
          const so = k * nTrain * 2 + 2 * r;
          stats[so] = Math.floor(0.5 + (w * (p - (k === y ? 1 : 0))) / quantum[2 * k]!);
          stats[so + 1] = Math.floor(0.5 + (w * p * (1 - p)) / quantum[2 * k + 1]!);
        }
      }
    }
    return sum;
  };

  function lossRows(init: KernelInit): RowsFn {
    return init.loss === "squared" ? squaredRows : init.loss === "logloss" ? loglossRows : softmaxRows;
  }

  /** Loss of the current raw scores per chunk, and (optionally) each row's quantized gradients/hessians. */
  function grad(s: Session, msg: KernelGrad): KernelReply {
    const { init } = s;
    const { lossChunks, loss, nTrain } = init;
    if (!init.labels || !init.scores || !loss)
      throw new Error("tree kernel: grad needs labels, scores and a loss");
    const rows = lossRows(init);
    const nTrainChunks = Math.ceil(nTrain / CHUNK);
    for (let c0 = init.trainStart; c0 < init.trainEnd; c0 += CHUNK) {
      const c1 = Math.min(init.trainEnd, c0 + CHUNK);
      const sum = rows(init, c0, c1, msg.gradients, msg.trainLoss, msg.quantum);
      if (lossChunks) lossChunks[c0 / CHUNK] = sum;
    }
    for (let c0 = init.validStart; c0 < init.validEnd; c0 += CHUNK) {
      const sum = rows(init, c0, Math.min(init.validEnd, c0 + CHUNK), false, true, msg.quantum);
      if (lossChunks) lossChunks[nTrainChunks + (c0 - nTrain) / CHUNK] = sum;
    }
    return {};
  }

  function ensureNodes(s: Session, node: number): void {
    if (node < s.segStart.length) return;
    const size = Math.max(node + 1, s.segStart.length * 2);
    const start = new Int32Array(size);
    start.set(s.segStart);
    const count = new Int32Array(size);
    count.set(s.segCount);
    s.segStart = start;
    s.segCount = count;
  }

  /** Builds a node's histogram into this shard's `slot`, interleaved [feature][bin][stat]. */
  function buildHist(s: Session, node: number, slot: number): void {
    const start = s.segStart[node]!;
    s.hist!(s.rec, start, start + s.segCount[node]!, s.init.hist, clearSlot(s, slot));
  }

  /** Zeroes this shard's histogram slot and returns where it starts in the shared histograms. */
  function clearSlot(s: Session, slot: number): number {
    const { hist, histSize, slotBase } = s.init;
    const base = (slotBase + slot) * histSize;
    hist.fill(0, base, base + histSize);
    return base;
  }

  /** The generated loops for a feature subset (null: all), made once per session. */
  function loops(s: Session, features: Int32Array | null) {
    const key = features ? features.join(",") : "all";
    let fns = s.histFns.get(key);
    if (!fns) {
      const feats = features ? Array.from(features) : Array.from({ length: s.F }, (_, i) => i);
      const withMult = s.init.mult !== null;
      fns = {
        hist: makeHist(s.W, s.stride, withMult, feats),
        fill: makeFill(s.W, s.stride, withMult, feats),
      };
      s.histFns.set(key, fns);
    }
    return fns;
  }

  function root(s: Session, msg: KernelRoot): KernelReply {
    const { init, words, rec } = s;
    const { stats, mult } = init;
    const fns = loops(s, msg.features);
    s.hist = fns.hist;
    const base = clearSlot(s, msg.slot);
    s.lazy = [];
    s.partial = msg.subsample < 1 || mult !== null;
    let n = 0;
    for (let c0 = init.trainStart; c0 < init.trainEnd; c0 += CHUNK) {
      let keep: (() => boolean) | null = null;
      if (msg.subsample < 1) {
        // Seeded per chunk: the same rows for any number of shards.
        const rand = mulberry32(hash32(msg.seed, msg.round, c0 / CHUNK));
        keep = () => rand() < msg.subsample;
      }
      n = fns.fill(
        words,
        stats,
        mult,
        rec,
        init.hist,
        base,
        n,
        c0,
        Math.min(init.trainEnd, c0 + CHUNK),
        msg.statsOffset,
        keep,
      );
    }
    ensureNodes(s, 0);
    s.segStart[0] = 0;
    s.segCount[0] = n;
    return { rows: n };
  }

  function split(s: Session, tasks: Int32Array): KernelReply {
    for (let t = 0; t < tasks.length; t += 9) {
      const node = tasks[t]!;
      const f = tasks[t + 1]!;
      const leftId = tasks[t + 4]!;
      const rightId = tasks[t + 5]!;
      const build = tasks[t + 6]!;
      ensureNodes(s, Math.max(leftId, rightId));
      if (build === 4) {
        for (let k = 0; k < 9; k++) s.lazy.push(tasks[t + k]!);
        s.segStart[leftId] = -1;
        s.segStart[rightId] = -1;
        continue;
      }
      const start = s.segStart[node]!;
      const end = start + s.segCount[node]!;
      const l = s.part(
        s.rec,
        start,
        end,
        f >> 2,
        (f & 3) * 8,
        tasks[t + 2]!,
        tasks[t + 3] === 1,
        s.offL,
        s.offR,
      );
      s.segStart[leftId] = start;
      s.segCount[leftId] = l - start;
      s.segStart[rightId] = l;
      s.segCount[rightId] = end - l;
      if (build & 1) buildHist(s, leftId, tasks[t + 7]!);
      if (build & 2) buildHist(s, rightId, tasks[t + 8]!);
    }
    return {};
  }

  /**
   * Adds the tree's leaf values to the scores of this shard's rows. In-sample
   * training rows take their leaf from the partitioned records; the others
   * (out of the sample, validation) walk down the tree. Children are
   * consecutive (right = left + 1), so a step is branch-free.
   */
  function apply(s: Session, msg: KernelApply): KernelReply {
    for (let t = 0; t < msg.deferred.length; t += 9) {
      for (let k = 0; k < 9; k++) s.lazy.push(msg.deferred[t + k]!);
      ensureNodes(s, msg.deferred[t + 5]!);
      s.segStart[msg.deferred[t + 4]!] = -1;
      s.segStart[msg.deferred[t + 5]!] = -1;
    }
    const { next } = msg;
    const { init, rec, R, pos } = s;
    const { scores, labels, trainStart } = init;
    if (!scores) throw new Error("tree kernel: apply needs scores");
    const K = init.outputs;
    const k = msg.output;
    const { feature, value } = msg;
    if (s.partial) pos.fill(-1);
    for (let node = 0; node < feature.length; node++) {
      if (feature[node] !== -1 || s.segStart[node] === -1) continue;
      const start = s.segStart[node]!;
      const end = start + s.segCount[node]!;
      for (let i = start; i < end; i++) pos[rec[i * R + R - 1]! - trainStart] = node;
    }
    const { lazy } = s;
    for (let t = 0; t < lazy.length; t += 9) {
      const node = lazy[t]!;
      const word = lazy[t + 1]! >> 2;
      const shift = (lazy[t + 1]! & 3) * 8;
      const thr = lazy[t + 2]!;
      const missLeft = lazy[t + 3] === 1;
      const lId = lazy[t + 4]!;
      const start = s.segStart[node]!;
      const end = start + s.segCount[node]!;
      for (let i = start; i < end; i++) {
        const o = i * R;
        const b = (rec[o + word]! >>> shift) & 255;
        pos[rec[o + R - 1]! - trainStart] = (b === MISSING ? missLeft : b <= thr) ? lId : lId + 1;
      }
    }
    const walk = walker(init, msg);
    const rows = next ? lossRows(init) : null;
    const nTrainChunks = Math.ceil(init.nTrain / CHUNK);
    let maxResidual = 0;
    const residual = K === 1 && labels !== null && init.loss === "squared";
    // The next tree's records and root histogram, filled right after each chunk's gradients.
    const nextLoops =
      msg.nextRoot && next?.gradients && init.mult === null ? loops(s, msg.nextRoot.features) : null;
    const nextBase = nextLoops ? clearSlot(s, 0) : 0;
    let filled = 0;
    // Chunk by chunk, so the next round's gradients are computed while the scores are in cache.
    for (let c0 = trainStart; c0 < init.trainEnd; c0 += CHUNK) {
      const c1 = Math.min(init.trainEnd, c0 + CHUNK);
      for (let r = c0; r < c1; r++) {
        let n = pos[r - trainStart]!;
        if (n < 0) n = walk(r);
        const v = scores[r * K + k]! + value[n]!;
        scores[r * K + k] = v;
        if (residual) {
          const d = v - labels![r]!;
          if (d > maxResidual) maxResidual = d;
          else if (-d > maxResidual) maxResidual = -d;
        }
      }
      if (rows && next) {
        const sum = rows(init, c0, c1, next.gradients, next.trainLoss, next.quantum);
        if (init.lossChunks) init.lossChunks[c0 / CHUNK] = sum;
      }
      if (nextLoops)
        filled = nextLoops.fill(s.words, init.stats, null, rec, init.hist, nextBase, filled, c0, c1, 0, null);
    }
    if (nextLoops) {
      // What `root` does for all rows: the records [0, filled) are the next tree's root node.
      s.hist = nextLoops.hist;
      s.lazy = [];
      s.partial = false;
      s.segStart[0] = 0;
      s.segCount[0] = filled;
    }
    for (let c0 = init.validStart; c0 < init.validEnd; c0 += CHUNK) {
      const c1 = Math.min(init.validEnd, c0 + CHUNK);
      for (let r = c0; r < c1; r++) scores[r * K + k] = scores[r * K + k]! + value[walk(r)]!;
      if (rows && next) {
        const sum = rows(init, c0, c1, false, true, next.quantum);
        if (init.lossChunks) init.lossChunks[nTrainChunks + (c0 - init.nTrain) / CHUNK] = sum;
      }
    }
    return { maxResidual };
  }

  /** Walks a row down the tree in bin space; children are consecutive (right = left + 1), branch-free. */
  function walker(init: KernelInit, msg: KernelApply): (r: number) => number {
    const { bins, rowBytes } = init;
    const { feature, bin, missingLeft, left } = msg;
    return (r: number): number => {
      const o = r * rowBytes;
      let n = 0;
      let f = feature[0]!;
      while (f >= 0) {
        const b = bins[o + f]!;
        // Right when b > threshold, flipped for a missing value (b = 255) that goes left.
        n = left[n]! + (((bin[n]! - b) >>> 31) ^ (missingLeft[n]! & ((b + 1) >> 8)));
        f = feature[n]!;
      }
      return n;
    };
  }

  function open(msg: KernelInit): Session {
    const F = msg.numFeatures;
    const W = msg.rowBytes / 4;
    const stride = msg.channels + 1;
    const R = W + stride + (msg.mult ? 1 : 0) + 1;
    const shard = msg.trainEnd - msg.trainStart;
    return {
      init: msg,
      F,
      W,
      stride,
      R,
      words: new Int32Array(msg.bins.buffer, msg.bins.byteOffset, msg.bins.byteLength / 4),
      rec: new Int32Array(Math.max(1, shard * R)),
      pos: new Int32Array(Math.max(1, shard)),
      partial: false,
      segStart: new Int32Array(64),
      segCount: new Int32Array(64),
      lazy: [],
      histFns: new Map(),
      hist: null,
      part: makePart(R),
      offL: new Int32Array(BLOCK),
      offR: new Int32Array(BLOCK),
    };
  }

  return (msg: KernelMessage): KernelReply => {
    switch (msg.op) {
      case "init":
        sessions.set(msg.session, open(msg));
        return {};
      case "close":
        sessions.delete(msg.session);
        return {};
      case "grad":
        return grad(session(msg.session), msg);
      case "root":
        return root(session(msg.session), msg);
      case "split":
        return split(session(msg.session), msg.tasks);
      case "apply":
        return apply(session(msg.session), msg);
    }
  };

  function session(id: number): Session {
    const s = sessions.get(id);
    if (!s) throw new Error(`tree kernel: no session ${id}`);
    return s;
  }
}
