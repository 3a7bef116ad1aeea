/**
 * Random forest (and, with one tree, no bootstrap and all features, CART):
 * regression by variance reduction (MSE), classification by Gini decrease.
 *
 * Both criteria are the grower's gain with λ = 0 on per-row stats: regression
 * (w·(y − ȳ), w) — centring keeps the quantized sums precise, the gain is the
 * same; classification (w·[y = k] for each class k, w). Splits are searched
 * over the same ≤ 255 quantile bins as boosting (exact CART on features with
 * ≤ 255 distinct values) — on large data. On small data (`splits` "auto",
 * see `exactSplitsFor`) the trees are grown by exact.ts instead: every
 * threshold between consecutive distinct values, as scikit-learn's CART.
 * Bootstrap samples are drawn as per-row multiplicities; features are drawn
 * per split (maxFeatures), seeded; both growers share these draws' seeds.
 */
import { mulberry32 } from "./binning";
import { exactSplitsFor, growExactTree, prepareExact } from "./exact";
import { abortError, growTree } from "./grow";
import { allRows, checkTraining, layOut, quantumFor, resolvePool, toModelTree } from "./prepare";
import { KernelSession, sharedInt32 } from "./session";
import type { FitOptions, TrainingData, Tree, TreeEnsembleModel } from "./types";

export interface TreeParams {
  /** Depth limit (root = depth 0). */
  maxDepth?: number;
  /** Best-first growth with at most this many leaves. */
  maxLeaves?: number;
  /** Least training rows in a leaf (bootstrap duplicates count). */
  minSamplesLeaf?: number;
  /** Features drawn at each split: "sqrt", "all", or a fraction in (0, 1]. */
  maxFeatures?: "sqrt" | "all" | number;
  /** Histogram bins per numeric feature (the histogram grower only). */
  maxBins?: number;
  /**
   * "exact": every threshold between consecutive distinct values (CART, as
   * scikit-learn); "histogram": ≤ maxBins quantile bins per feature, in the
   * worker pool; "auto" (default): exact on small data (≤ 100,000 rows,
   * rows × features ≤ 2e7 and trees × rows × features ≤ 2e8), histogram beyond.
   */
  splits?: "auto" | "exact" | "histogram";
  seed?: number;
}

export interface ForestParams extends TreeParams {
  trees?: number;
  /** Draw each tree's rows with replacement (default true). */
  bootstrap?: boolean;
}

export function fitForest(
  train: TrainingData,
  params: ForestParams = {},
  options: FitOptions = {},
): Promise<TreeEnsembleModel> {
  return fitEnsemble("forest", train, { maxDepth: 16, maxFeatures: "sqrt", ...params }, options);
}

function featuresPerSplit(maxFeatures: TreeParams["maxFeatures"], F: number): number {
  if (maxFeatures === undefined || maxFeatures === "all") return F;
  if (maxFeatures === "sqrt") return Math.max(1, Math.floor(Math.sqrt(F)));
  if (!(maxFeatures > 0 && maxFeatures <= 1)) {
    throw new Error(`maxFeatures must be "sqrt", "all" or a fraction in (0, 1], got ${maxFeatures}`);
  }
  return Math.max(1, Math.round(maxFeatures * F));
}

/** A forest of `trees` trees; CART is one tree without bootstrap (cart.ts). */
export async function fitEnsemble(
  kind: "cart" | "forest",
  train: TrainingData,
  params: ForestParams,
  options: FitOptions,
): Promise<TreeEnsembleModel> {
  const trees = params.trees ?? 100;
  const minSamplesLeaf = params.minSamplesLeaf ?? 1;
  const seed = params.seed ?? 0;
  const maxLeaves = params.maxLeaves ?? Number.POSITIVE_INFINITY;
  const maxDepth = params.maxDepth ?? Number.POSITIVE_INFINITY;
  if (!(Number.isInteger(trees) && trees >= 1))
    throw new Error(`trees must be a positive integer, got ${trees}`);
  if (!(maxDepth >= 1)) throw new Error(`maxDepth must be ≥ 1, got ${maxDepth}`);
  if (!(minSamplesLeaf >= 1)) throw new Error(`minSamplesLeaf must be ≥ 1, got ${minSamplesLeaf}`);
  if (params.maxLeaves !== undefined && !(Number.isInteger(maxLeaves) && maxLeaves >= 2)) {
    throw new Error(`maxLeaves must be an integer ≥ 2, got ${maxLeaves}`);
  }
  const { signal } = options;
  if (signal?.aborted) throw abortError(signal);

  const checked = checkTraining(train);
  const { task } = train;
  const classification = task !== "regression";
  const K = classification ? checked.numClasses : 1;
  const splits = params.splits ?? "auto";
  if (!["auto", "exact", "histogram"].includes(splits)) {
    throw new Error(`splits must be "auto", "exact" or "histogram", got ${JSON.stringify(splits)}`);
  }
  const F0 = train.data.features.length;
  if (splits === "exact" || (splits === "auto" && exactSplitsFor(checked.rows, F0, trees))) {
    const out = await fitExact(train, checked.numClasses, {
      trees,
      maxDepth,
      maxLeaves,
      minSamplesLeaf,
      seed,
      perSplit: featuresPerSplit(params.maxFeatures, F0),
      bootstrap: params.bootstrap ?? kind === "forest",
      options,
    });
    return averagedModel(kind, train, checked.numClasses, K, out);
  }
  const laid = layOut(train, allRows(checked.rows), new Int32Array(0), params.maxBins ?? 255, seed);
  const { nTrain, mapper } = laid;
  const F = mapper.features.length;
  const perSplit = featuresPerSplit(params.maxFeatures, F);

  // Per-row stats [channels.., weight], quantized once.
  const m = classification ? K : 1;
  const stride = m + 1;
  const w = (i: number) => (laid.weights ? laid.weights[i]! : 1);
  let wsum = 0;
  let ywsum = 0;
  let maxW = 0;
  for (let i = 0; i < nTrain; i++) {
    wsum += w(i);
    ywsum += w(i) * laid.labels[i]!;
    maxW = Math.max(maxW, w(i));
  }
  if (!(wsum > 0)) throw new Error("All training rows have weight 0");
  const center = classification ? 0 : ywsum / wsum;
  let maxG = 0;
  if (!classification)
    for (let i = 0; i < nTrain; i++) maxG = Math.max(maxG, Math.abs(w(i) * (laid.labels[i]! - center)));
  const qg = classification ? quantumFor(maxW, nTrain) : quantumFor(maxG, nTrain);
  const qh = quantumFor(maxW, nTrain);
  const stats = sharedInt32(nTrain * stride);
  for (let i = 0; i < nTrain; i++) {
    const o = i * stride;
    if (classification) stats[o + laid.labels[i]!] = Math.floor(0.5 + w(i) / qg);
    else stats[o] = Math.floor(0.5 + (w(i) * (laid.labels[i]! - center)) / qg);
    stats[o + m] = Math.floor(0.5 + w(i) / qh);
  }
  const quantum = new Float64Array(stride).fill(qg);
  quantum[m] = qh;
  const bootstrap = params.bootstrap ?? kind === "forest";
  const mult = bootstrap ? sharedInt32(nTrain) : null;

  const pool = await resolvePool(options);
  const session = await KernelSession.open(pool, {
    numFeatures: F,
    nTrain,
    nValid: 0,
    outputs: 1,
    bins: laid.bins,
    rowBytes: laid.rowBytes,
    channels: m,
    labels: null,
    weights: null,
    scores: null,
    stats,
    mult,
    lossChunks: null,
    loss: null,
    binStats: m + 2,
  });
  const numBins = Int32Array.from(mapper.features, (f) => f.numBins);
  const out: Tree[] = [];
  try {
    for (let t = 0; t < trees; t++) {
      if (signal?.aborted) throw abortError(signal);
      if (mult) drawBootstrap(mult, seed, t);
      const grown = await growTree(session, {
        maxDepth,
        maxLeaves,
        minSamplesLeaf,
        minChildWeight: 0,
        lambda: 0,
        minGain: 0,
        channels: m,
        statsOffset: 0,
        quantum,
        subsample: 1,
        seed,
        round: t,
        features: null,
        featuresPerSplit: perSplit,
        numBins,
        rootBuilt: false,
        signal,
      });
      out.push(
        toModelTree(grown, mapper, classification ? -1 : 0, classification ? K : 1, (tot, o, leaf, at) => {
          const h = tot[o + m]!;
          if (classification)
            for (let k = 0; k < K; k++) leaf[at + k] = h > 0 ? Math.fround(tot[o + k]! / h) : 0;
          else leaf[at] = Math.fround(h > 0 ? tot[o]! / h + center : center);
        }),
      );
      options.onProgress?.((t + 1) / trees);
    }
  } finally {
    await session.close().catch(() => {});
  }
  if (signal?.aborted) throw abortError(signal);
  return averagedModel(kind, train, checked.numClasses, K, out);
}

/** A forest's or a CART's model: `trees` averaged, no base score, no post transform. */
function averagedModel(
  kind: TreeEnsembleModel["kind"],
  train: TrainingData,
  numClasses: number,
  K: number,
  trees: TreeEnsembleModel["trees"],
): TreeEnsembleModel {
  return {
    format: "dagwood.trees/1",
    kind,
    task: train.task,
    numClasses,
    numOutputs: K,
    featureNames: train.data.features.map((f) => f.name),
    featureKinds: train.data.features.map((f) => f.kind),
    baseScore: new Array<number>(K).fill(0),
    aggregate: "average",
    postTransform: "none",
    trees,
    iterations: trees.length,
  };
}

/** Tree t's bootstrap sample as per-row multiplicities (n draws with replacement), seeded. */
function drawBootstrap(mult: Int32Array, seed: number, t: number): void {
  const n = mult.length;
  mult.fill(0);
  const rand = mulberry32(Math.imul(seed ^ 0x2545f491, 0x9e3779b1) ^ Math.imul(t + 1, 0x85ebca6b));
  for (let i = 0; i < n; i++) {
    const r = Math.floor(rand() * n);
    mult[r] = mult[r]! + 1;
  }
}

/** The trees of an exact-split fit (exact.ts), in this thread. */
async function fitExact(
  train: TrainingData,
  numClasses: number,
  o: {
    trees: number;
    maxDepth: number;
    maxLeaves: number;
    minSamplesLeaf: number;
    seed: number;
    perSplit: number;
    bootstrap: boolean;
    options: FitOptions;
  },
): Promise<Tree[]> {
  const { signal } = o.options;
  const classification = train.task !== "regression";
  const d = prepareExact(train.data, train.y, train.weights, classification, numClasses);
  let wsum = 0;
  for (let i = 0; i < d.rows; i++) wsum += train.weights ? train.weights[i]! : 1;
  if (!(wsum > 0)) throw new Error("All training rows have weight 0");
  const mult = o.bootstrap ? new Int32Array(d.rows) : null;
  const out: Tree[] = [];
  for (let t = 0; t < o.trees; t++) {
    if (signal?.aborted) throw abortError(signal);
    if (mult) drawBootstrap(mult, o.seed, t);
    out.push(
      await growExactTree(d, mult, {
        maxDepth: o.maxDepth,
        maxLeaves: o.maxLeaves,
        minSamplesLeaf: o.minSamplesLeaf,
        featuresPerSplit: o.perSplit,
        seed: o.seed,
        round: t,
        signal,
      }),
    );
    o.options.onProgress?.((t + 1) / o.trees);
  }
  if (signal?.aborted) throw abortError(signal);
  return out;
}
