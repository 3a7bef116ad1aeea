/**
 * Histogram gradient boosting: squared error (regression), log loss (binary,
 * one raw score: the logit of class 1) and softmax cross-entropy (multiclass,
 * one tree per class per round). Newton leaves −G/(H+λ) shrunk by the
 * learning rate; depth-wise (maxDepth) or leaf-wise (maxLeaves) growth; row
 * and column subsampling; early stopping on a seeded, stratified validation
 * fraction with patience, keeping the best round.
 */

import { mulberry32 } from "./binning";
import { abortError, growTree } from "./grow";
import { CHUNK_ROWS, type LossKind } from "./kernel";
import {
  allRows,
  checkTraining,
  layOut,
  quantumFor,
  resolvePool,
  toModelTree,
  validationSplit,
} from "./prepare";
import { KernelSession, sharedFloat64, sharedInt32 } from "./session";
import type { FitOptions, TrainingData, Tree, TreeEnsembleModel } from "./types";

export interface GbdtParams {
  /** Boosting rounds (each adds one tree per output). */
  trees?: number;
  learningRate?: number;
  /** Depth limit; default 6 without maxLeaves, unlimited with it. */
  maxDepth?: number;
  /** Leaf-wise growth with at most this many leaves per tree. */
  maxLeaves?: number;
  /** L2 regularization λ on the leaf values. */
  l2?: number;
  /** Least hessian sum in a child. */
  minChildWeight?: number;
  /** Least training rows in a leaf. */
  minSamplesLeaf?: number;
  /** Least gain to split (XGBoost's gamma, on the same scale: G²/(H+λ) sums). */
  minGain?: number;
  /** Fraction of training rows drawn (Bernoulli, seeded) for each round. */
  subsample?: number;
  /** Fraction of features drawn for each tree. */
  colsample?: number;
  maxBins?: number;
  earlyStopping?: boolean | { validationFraction?: number; patience?: number; minDelta?: number };
  seed?: number;
}

const DEFAULTS = {
  trees: 100,
  learningRate: 0.1,
  l2: 1,
  minChildWeight: 1e-3,
  minSamplesLeaf: 20,
  minGain: 0,
  subsample: 1,
  colsample: 1,
  maxBins: 255,
  seed: 0,
};

function check(name: string, value: number, ok: boolean): number {
  if (!ok) throw new Error(`GBDT parameter ${name} is out of range: ${value}`);
  return value;
}

export async function fitGbdt(
  train: TrainingData,
  params: GbdtParams = {},
  options: FitOptions = {},
): Promise<TreeEnsembleModel> {
  const p = { ...DEFAULTS, ...params };
  check("trees", p.trees, Number.isInteger(p.trees) && p.trees >= 1);
  check("learningRate", p.learningRate, p.learningRate > 0);
  check("l2", p.l2, p.l2 >= 0);
  check("subsample", p.subsample, p.subsample > 0 && p.subsample <= 1);
  check("colsample", p.colsample, p.colsample > 0 && p.colsample <= 1);
  const maxLeaves = p.maxLeaves ?? Number.POSITIVE_INFINITY;
  if (params.maxLeaves !== undefined)
    check("maxLeaves", maxLeaves, Number.isInteger(maxLeaves) && maxLeaves >= 2);
  const maxDepth = p.maxDepth ?? (params.maxLeaves ? Number.POSITIVE_INFINITY : 6);
  check("maxDepth", maxDepth, maxDepth >= 1);
  const { signal } = options;
  if (signal?.aborted) throw abortError(signal);

  const checked = checkTraining(train);
  const { task } = train;
  const K = task === "multiclass" ? checked.numClasses : 1;
  const es = p.earlyStopping ? (p.earlyStopping === true ? {} : p.earlyStopping) : null;
  const patience = es?.patience ?? 10;
  const minDelta = es?.minDelta ?? 1e-7;
  const { trainRows, validRows } = es
    ? validationSplit(train, es.validationFraction ?? 0.1, p.seed)
    : { trainRows: allRows(checked.rows), validRows: new Int32Array(0) };
  const laid = layOut(train, trainRows, validRows, p.maxBins, p.seed);
  const { nTrain, nValid, mapper } = laid;
  const F = mapper.features.length;
  const nAll = nTrain + nValid;

  // Start scores: the constant that minimizes the loss on the training rows.
  let wsum = 0;
  let wsumValid = 0;
  const counts = new Float64Array(K);
  let ysum = 0;
  for (let i = 0; i < nAll; i++) {
    const w = laid.weights ? laid.weights[i]! : 1;
    if (i >= nTrain) {
      wsumValid += w;
      continue;
    }
    wsum += w;
    if (task === "multiclass") counts[laid.labels[i]!] = counts[laid.labels[i]!]! + w;
    else ysum += w * laid.labels[i]!;
  }
  if (!(wsum > 0)) throw new Error("All training rows have weight 0");
  let baseScore: number[];
  if (task === "regression") baseScore = [ysum / wsum];
  else if (task === "binary") {
    const pr = Math.min(Math.max(ysum / wsum, 1e-12), 1 - 1e-12);
    baseScore = [Math.log(pr / (1 - pr))];
  } else baseScore = Array.from(counts, (c) => Math.log(Math.max(c / wsum, 1e-12)));
  baseScore = baseScore.map(Math.fround);

  const scores = sharedFloat64(nAll * K);
  for (let i = 0; i < nAll; i++) for (let k = 0; k < K; k++) scores[i * K + k] = baseScore[k]!;
  // Bounds of |gradient| and hessian, for the quanta: log loss and softmax |g| ≤ w, h ≤ w/4;
  // squared error |g| ≤ w·max|score − y| (bounded before each tree is applied), h = w.
  let maxWeight = 1;
  if (laid.weights) maxWeight = laid.weights.reduce((m, w) => Math.max(m, w), 0);
  let maxResidual = 0;
  if (task === "regression") {
    for (let i = 0; i < nTrain; i++)
      maxResidual = Math.max(maxResidual, Math.abs(baseScore[0]! - laid.labels[i]!));
  }
  const quanta = (residualBound: number): number[] => {
    const q: number[] = [];
    for (let k = 0; k < K; k++) {
      if (task === "regression")
        q.push(quantumFor(maxWeight * residualBound, nTrain), quantumFor(maxWeight, nTrain));
      else q.push(quantumFor(maxWeight, nTrain), quantumFor(maxWeight / 4, nTrain));
    }
    return q;
  };
  const loss: LossKind = task === "regression" ? "squared" : task === "binary" ? "logloss" : "softmax";
  const trainChunks = Math.ceil(nTrain / CHUNK_ROWS);
  const lossChunks = sharedFloat64(trainChunks + Math.ceil(nValid / CHUNK_ROWS));
  const pool = await resolvePool(options);
  const session = await KernelSession.open(pool, {
    numFeatures: F,
    nTrain,
    nValid,
    outputs: K,
    bins: laid.bins,
    rowBytes: laid.rowBytes,
    channels: 1,
    labels: laid.labels,
    weights: laid.weights,
    scores,
    stats: sharedInt32(K * nTrain * 2),
    mult: null,
    lossChunks,
    loss,
    binStats: 3,
  });

  const numBins = Int32Array.from(mapper.features, (f) => f.numBins);
  const trees: Tree[] = [];
  let bestLoss = Number.POSITIVE_INFINITY;
  let bestRounds = 0;
  let rounds = 0;

  // The training loss costs a log per row and round: computed only for a listener.
  const trainLoss = options.onIteration !== undefined;
  const losses = () => {
    let tr = 0;
    for (let c = 0; c < trainChunks; c++) tr += lossChunks[c]!;
    let va = 0;
    for (let c = trainChunks; c < lossChunks.length; c++) va += lossChunks[c]!;
    return {
      trainLoss: trainLoss ? tr / wsum : Number.NaN,
      ...(nValid > 0 ? { validLoss: va / wsumValid } : {}),
    };
  };
  /** Reports round `done - 1` and says whether to stop early. */
  const report = (done: number): boolean => {
    const l = losses();
    options.onIteration?.(done - 1, l);
    options.onProgress?.(done / p.trees);
    if (l.validLoss === undefined) return false;
    if (l.validLoss < bestLoss - minDelta) {
      bestLoss = l.validLoss;
      bestRounds = done;
      return false;
    }
    return done - bestRounds >= patience;
  };

  try {
    let quantum = quanta(maxResidual);
    await session.run(() => ({
      op: "grad",
      session: session.id,
      gradients: true,
      trainLoss: false,
      quantum,
    }));
    // Whether the previous apply laid out this round's first root (nextRoot).
    let rootBuilt = false;
    for (let round = 0; round < p.trees; round++) {
      if (signal?.aborted) throw abortError(signal);
      let next = quantum;
      for (let k = 0; k < K; k++) {
        const features = sampleFeatures(F, p.colsample, p.seed, round * K + k);
        const grown = await growTree(session, {
          maxDepth,
          maxLeaves,
          minSamplesLeaf: p.minSamplesLeaf,
          minChildWeight: p.minChildWeight,
          lambda: p.l2,
          minGain: p.minGain,
          channels: 1,
          statsOffset: k * nTrain * 2,
          quantum: Float64Array.of(quantum[2 * k]!, quantum[2 * k + 1]!),
          subsample: p.subsample,
          seed: p.seed,
          round,
          features,
          featuresPerSplit: 0,
          numBins,
          rootBuilt: k === 0 && rootBuilt,
          signal,
        });
        const tree = toModelTree(grown, mapper, k, 1, (t, o, out, at) => {
          const d = t[o + 1]! + p.l2;
          out[at] = d > 0 ? Math.fround((-t[o]! / d) * p.learningRate) : 0;
        });
        trees.push(tree);
        const last = k === K - 1;
        // Squared error: no residual grows by more than the largest leaf.
        if (last) next = quanta(maxResidual + tree.leafValue.reduce((m, v) => Math.max(m, Math.abs(v)), 0));
        // Without row subsampling the next round's first root takes every row: laid out in this pass.
        const nextRoot =
          last && round + 1 < p.trees && p.subsample >= 1
            ? { features: sampleFeatures(F, p.colsample, p.seed, (round + 1) * K) }
            : null;
        const applied = await session.run(() => ({
          op: "apply",
          session: session.id,
          output: k,
          feature: grown.feature,
          bin: grown.bin,
          missingLeft: grown.missingLeft,
          left: grown.left,
          value: tree.leafValue,
          deferred: grown.deferred,
          // The losses of this round, and the gradients of the next, in the same pass.
          next: last ? { gradients: round + 1 < p.trees, trainLoss, quantum: next } : null,
          nextRoot,
        }));
        if (last) rootBuilt = nextRoot !== null;
        maxResidual = Math.max(0, ...applied.map((r) => r.maxResidual ?? 0));
      }
      quantum = next;
      rounds = round + 1;
      if (report(rounds)) break;
    }
  } finally {
    await session.close().catch(() => {});
  }
  if (signal?.aborted) throw abortError(signal);

  const kept = es && bestRounds > 0 ? bestRounds : rounds;
  return {
    format: "dagwood.trees/1",
    kind: "gbdt",
    task,
    numClasses: checked.numClasses,
    numOutputs: K,
    featureNames: train.data.features.map((f) => f.name),
    featureKinds: train.data.features.map((f) => f.kind),
    baseScore,
    aggregate: "sum",
    postTransform: task === "regression" ? "none" : task === "binary" ? "logistic" : "softmax",
    trees: trees.slice(0, kept * K),
    iterations: kept,
  };
}

/** The features one tree may use: all, or a seeded sorted sample of ⌈fraction·F⌉. */
function sampleFeatures(F: number, fraction: number, seed: number, tree: number): Int32Array | null {
  if (fraction >= 1) return null;
  const k = Math.max(1, Math.round(fraction * F));
  const ids = Int32Array.from({ length: F }, (_, i) => i);
  const rand = mulberry32((seed * 0x27d4eb2f) ^ (tree * 0x165667b1) ^ 0x3c6ef372);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rand() * (F - i));
    const t = ids[i]!;
    ids[i] = ids[j]!;
    ids[j] = t;
  }
  return ids.subarray(0, k).sort();
}
