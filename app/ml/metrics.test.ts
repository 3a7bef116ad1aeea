import { describe, expect, it } from "vitest";
import {
  accuracy,
  brierScore,
  calibrationCurve,
  classificationScores,
  confusionMatrix,
  downsampleCurve,
  downsampleIndices,
  LOG_LOSS_EPS,
  logLoss,
  multiclassBrier,
  ovrRocAuc,
  prCurve,
  regressionScores,
  residualSample,
  rocCurve,
} from "./metrics";

/** A seeded LCG in [0, 1), so "random" cases are the same every run. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** AUC as the Mann–Whitney statistic: P(score⁺ > score⁻) + ½ P(tie), over every pair. */
function pairwiseAuc(scores: number[], positive: number[]): number {
  let wins = 0;
  let pairs = 0;
  for (let i = 0; i < scores.length; i++) {
    if (!positive[i]) continue;
    for (let j = 0; j < scores.length; j++) {
      if (positive[j]) continue;
      pairs++;
      wins += scores[i]! > scores[j]! ? 1 : scores[i] === scores[j] ? 0.5 : 0;
    }
  }
  return wins / pairs;
}

describe("classification scores", () => {
  // true:      0 0 1 1 1 2 2
  // predicted: 0 1 1 1 1 2 0
  const yTrue = Int32Array.from([0, 0, 1, 1, 1, 2, 2]);
  const yPred = Int32Array.from([0, 1, 1, 1, 1, 2, 0]);

  it("counts the confusion matrix (rows true, columns predicted) and accuracy", () => {
    expect(confusionMatrix(yTrue, yPred, 3)).toEqual([
      [1, 1, 0],
      [0, 3, 0],
      [1, 0, 1],
    ]);
    expect(accuracy(yTrue, yPred)).toBeCloseTo(5 / 7, 15);
  });

  it("gives precision, recall and F1 per class, macro and weighted", () => {
    const s = classificationScores(confusionMatrix(yTrue, yPred, 3));
    // class 0: 1 of 2 predicted right, 1 of 2 found; class 1: 3 of 4, 3 of 3; class 2: 1 of 1, 1 of 2.
    const expected = [
      { precision: 1 / 2, recall: 1 / 2, f1: 1 / 2, support: 2 },
      { precision: 3 / 4, recall: 1, f1: 6 / 7, support: 3 },
      { precision: 1, recall: 1 / 2, f1: 2 / 3, support: 2 },
    ];
    s.perClass.forEach((c, i) => {
      for (const key of ["precision", "recall", "f1", "support"] as const) {
        expect(c[key]).toBeCloseTo(expected[i]![key], 12);
      }
    });
    expect(s.macro.precision).toBeCloseTo((1 / 2 + 3 / 4 + 1) / 3, 12);
    expect(s.macro.recall).toBeCloseTo((1 / 2 + 1 + 1 / 2) / 3, 12);
    expect(s.macro.f1).toBeCloseTo((1 / 2 + 6 / 7 + 2 / 3) / 3, 12);
    expect(s.weighted.f1).toBeCloseTo((2 * (1 / 2) + 3 * (6 / 7) + 2 * (2 / 3)) / 7, 12);
    expect(s.weighted.recall).toBeCloseTo(5 / 7, 12); // weighted recall is accuracy
  });

  it("scores a class never predicted as 0, and leaves classes absent from both sides out of the macro mean", () => {
    const s = classificationScores(confusionMatrix([0, 0, 1, 1], [0, 0, 0, 0], 3));
    expect(s.perClass[1]).toEqual({ precision: 0, recall: 0, f1: 0, support: 2 });
    expect(s.perClass[2]).toEqual({ precision: 0, recall: 0, f1: 0, support: 0 });
    expect(s.macro.recall).toBeCloseTo(1 / 2, 12); // (1 + 0) / 2, class 2 left out
  });
});

describe("ROC and PR", () => {
  // scikit-learn's roc_curve example.
  const scores = [0.1, 0.4, 0.35, 0.8];
  const positive = [0, 0, 1, 1];

  it("gives the exact ROC curve, one point per distinct score, and its AUC", () => {
    const roc = rocCurve(scores, positive);
    expect(roc.fpr).toEqual([0, 0, 0.5, 0.5, 1]);
    expect(roc.tpr).toEqual([0, 0.5, 0.5, 1, 1]);
    expect(roc.thresholds).toEqual([Number.POSITIVE_INFINITY, 0.8, 0.4, 0.35, 0.1]);
    expect(roc.auc).toBeCloseTo(0.75, 15);
  });

  it("counts a tied positive/negative pair as one half", () => {
    // pairs (positive vs negative): .5>.2, .5=.5 (½), .9>.2, .9>.5 → 3.5 / 4
    const roc = rocCurve([0.2, 0.5, 0.5, 0.9], [0, 0, 1, 1]);
    expect(roc.auc).toBeCloseTo(0.875, 15);
    expect(roc.fpr).toEqual([0, 0, 0.5, 1]); // the tie is one diagonal step, not two
    expect(roc.tpr).toEqual([0, 0.5, 1, 1]);
    expect(rocCurve([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]).auc).toBeCloseTo(0.5, 15);
  });

  it("equals the pairwise (Mann–Whitney) AUC on data with many ties", () => {
    const next = random(3);
    const s = Array.from({ length: 400 }, () => Math.floor(next() * 8) / 8);
    const y = s.map((x) => (next() < 0.2 + 0.6 * x ? 1 : 0));
    expect(rocCurve(s, y).auc).toBeCloseTo(pairwiseAuc(s, y), 12);
  });

  it("gives 1 for a perfect classifier, 0 for an inverted one, about ½ for a random one", () => {
    expect(rocCurve([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]).auc).toBe(1);
    expect(rocCurve([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]).auc).toBe(0);
    const next = random(11);
    const n = 20000;
    const s = Array.from({ length: n }, next);
    const y = Array.from({ length: n }, () => (next() < 0.5 ? 1 : 0));
    expect(Math.abs(rocCurve(s, y).auc - 0.5)).toBeLessThan(0.02);
    expect(Math.abs(prCurve(s, y).averagePrecision - 0.5)).toBeLessThan(0.02);
  });

  it("is undefined (NaN) when the data holds one class only", () => {
    expect(rocCurve([0.1, 0.9], [1, 1]).auc).toBeNaN();
    expect(prCurve([0.1, 0.9], [0, 0]).averagePrecision).toBeNaN();
  });

  it("gives the precision–recall curve and average precision Σ (Rₙ − Rₙ₋₁) Pₙ", () => {
    const pr = prCurve(scores, positive);
    expect(pr.recall).toEqual([0, 0.5, 0.5, 1, 1]);
    expect(pr.precision.map((p) => Number(p.toFixed(12)))).toEqual([
      1,
      1,
      0.5,
      Number((2 / 3).toFixed(12)),
      0.5,
    ]);
    expect(pr.averagePrecision).toBeCloseTo(0.5 * 1 + 0.5 * (2 / 3), 15); // 0.8333…
    expect(prCurve([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]).averagePrecision).toBe(1);
  });

  it("averages one-vs-rest AUCs over the classes where it is defined", () => {
    // 3 classes, rows × classes; class 2 never occurs in the truth.
    const probs = Float64Array.from([0.8, 0.1, 0.1, 0.6, 0.3, 0.1, 0.2, 0.7, 0.1, 0.5, 0.4, 0.1]);
    const y = Int32Array.from([0, 1, 1, 0]);
    const { perClass, macro } = ovrRocAuc(probs, 3, y);
    // class 0 scores .8 .6 .2 .5, positives rows 0 and 3: (.8>.6, .8>.2, .5<.6, .5>.2) → 3/4
    // class 1 scores .1 .3 .7 .4, positives rows 1 and 2: (.3>.1, .3<.4, .7>.1, .7>.4) → 3/4
    expect(perClass[0]).toBeCloseTo(0.75, 15);
    expect(perClass[1]).toBeCloseTo(0.75, 15);
    expect(perClass[2]).toBeNaN();
    expect(macro).toBeCloseTo(0.75, 15);
  });

  it("downsamples a long curve to at most the cap, keeping its ends and order", () => {
    const next = random(5);
    const s = Array.from({ length: 50000 }, next);
    const y = s.map((x) => (next() < x ? 1 : 0));
    const roc = rocCurve(s, y);
    const small = downsampleCurve(
      { fpr: roc.fpr, tpr: roc.tpr, thresholds: roc.thresholds },
      "fpr",
      "tpr",
      200,
    );
    expect(small.fpr.length).toBeLessThanOrEqual(200);
    expect(small.fpr.length).toBeGreaterThan(150);
    expect([small.fpr[0], small.tpr[0], small.fpr.at(-1), small.tpr.at(-1)]).toEqual([0, 0, 1, 1]);
    for (let i = 1; i < small.fpr.length; i++) {
      expect(small.fpr[i]!).toBeGreaterThanOrEqual(small.fpr[i - 1]!);
      expect(small.thresholds[i]!).toBeLessThan(small.thresholds[i - 1]!);
    }
    expect(downsampleIndices([0, 1, 2], [0, 1, 2], 200)).toEqual([0, 1, 2]);
  });
});

describe("probabilities", () => {
  it("gives the log loss, clipping probability 0 to eps", () => {
    // scikit-learn's log_loss example: classes ham (0), spam (1).
    const probs = Float64Array.from([0.1, 0.9, 0.9, 0.1, 0.8, 0.2, 0.35, 0.65]);
    expect(logLoss(probs, 2, [1, 0, 0, 1])).toBeCloseTo(
      -(Math.log(0.9) + Math.log(0.9) + Math.log(0.8) + Math.log(0.65)) / 4,
      12,
    );
    expect(logLoss([1, 0], 2, [1])).toBeCloseTo(-Math.log(LOG_LOSS_EPS), 9);
    expect(logLoss([1, 0], 2, [5])).toBeCloseTo(-Math.log(LOG_LOSS_EPS), 9); // a label the model does not know
  });

  it("gives the Brier score, binary and multiclass", () => {
    expect(brierScore([0.1, 0.9, 0.8, 0.3], [0, 1, 1, 0])).toBeCloseTo(0.0375, 15);
    // row 0 exact; row 1: (.5 − 0)² + (.5 − 1)²
    expect(multiclassBrier([1, 0, 0.5, 0.5], 2, [0, 1])).toBeCloseTo(0.25, 15);
  });

  it("bins the calibration curve with counts, and its expected calibration error", () => {
    const p = [0.05, 0.15, 0.12, 0.95, 1.0, 0.55];
    const outcome = [0, 0, 1, 1, 1, 0];
    const { bins, ece } = calibrationCurve(p, outcome, 10);
    expect(bins.map((b) => [b.lower, b.count])).toEqual([
      [0, 1],
      [0.1, 2],
      [0.5, 1],
      [0.9, 2],
    ]);
    expect(bins.map((b) => b.meanPredicted)).toEqual([0.05, expect.closeTo(0.135, 12), 0.55, 0.975]);
    expect(bins.map((b) => b.observed)).toEqual([0, 0.5, 0, 1]);
    expect(ece).toBeCloseTo((1 * 0.05 + 2 * 0.365 + 1 * 0.55 + 2 * 0.025) / 6, 12);
  });
});

describe("regression", () => {
  it("gives RMSE, MAE, R² and bias", () => {
    // errors (observed − predicted): −.5, 0, .5, −1; SS_res 1.5, SS_tot 5
    const s = regressionScores([1, 2, 3, 4], [1.5, 2, 2.5, 5]);
    expect(s.rmse).toBeCloseTo(Math.sqrt(1.5 / 4), 15);
    expect(s.mae).toBeCloseTo(0.5, 15);
    expect(s.r2).toBeCloseTo(0.7, 15);
    expect(s.bias).toBeCloseTo(-0.25, 15);
  });

  it("gives R² 1 and RMSE 0 for a perfect fit, R² undefined for a constant target", () => {
    expect(regressionScores([3, 1, 4, 1, 5], [3, 1, 4, 1, 5])).toEqual({ rmse: 0, mae: 0, r2: 1, bias: 0 });
    expect(regressionScores([2, 2, 2], [1, 2, 3]).r2).toBeNaN();
  });

  it("samples the residual scatter to at most 2,000 points, deterministically, keeping the worst rows", () => {
    const next = random(9);
    const n = 100_000;
    const y = Float64Array.from({ length: n }, next);
    const pred = Float64Array.from(y, (v) => v + (next() - 0.5) * 0.1);
    pred[77_777] = 50; // the worst residual
    const a = residualSample(y, pred);
    expect(a.rows.length).toBeLessThanOrEqual(2000);
    expect(a.rows.length).toBeGreaterThan(1900);
    expect(a.rows).toContain(77_777);
    expect(a.rows).toEqual([...a.rows].sort((x, z) => x - z));
    expect(residualSample(y, pred)).toEqual(a);
    const i = a.rows.indexOf(77_777);
    expect(a.predicted[i]).toBe(50);
    expect(a.residual[i]).toBeCloseTo(y[77_777]! - 50, 15);
    expect(residualSample([1, 2], [1.5, 2]).residual).toEqual([-0.5, 0]);
  });
});
