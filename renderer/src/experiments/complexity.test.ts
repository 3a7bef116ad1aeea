import { describe, expect, it } from "vitest";
import type { RunRecord } from "../../../app/api/api";
import {
  axisScale,
  fitLabel,
  formatBytes,
  formatCount,
  formatMicros,
  frontEntries,
  LOG_RATIO,
  modelPoints,
  paretoFront,
  placeLabels,
  plottableMetrics,
} from "./complexity";
import {
  chosenMetricNames,
  defaultMetricNames,
  metricNames,
  orderedMetricNames,
  tasksOf,
} from "./metricChoice";
import { keyTitle, pipelineNodes, runsPerPipeline, splitKey } from "./nodeInfo";

/** The front by definition: every point that no other point dominates, in O(n²). */
function bruteForceFront(points: { x: number; y: number }[], better: "higher" | "lower"): number[] {
  const good = (a: number, b: number) => (better === "higher" ? a >= b : a <= b);
  const strictlyGood = (a: number, b: number) => (better === "higher" ? a > b : a < b);
  return points
    .map((p, i) => ({ p, i }))
    .filter(
      ({ p, i }) =>
        !points.some(
          (q, j) => j !== i && q.x <= p.x && good(q.y, p.y) && (q.x < p.x || strictlyGood(q.y, p.y)),
        ),
    )
    .map(({ i }) => i);
}

/** A deterministic uniform [0, 1) stream (LCG). */
function uniform(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("paretoFront", () => {
  it("keeps the models nothing beats on both size and score, by size", () => {
    const points = [
      { x: 100, y: 0.9 }, // 0: the smallest
      { x: 500, y: 0.95 }, // 1: bigger and better
      { x: 400, y: 0.9 }, // 2: bigger than 0, no better: dominated
      { x: 900, y: 0.97 }, // 3: biggest, best
      { x: 800, y: 0.96 }, // 4: bigger than 1 and better, smaller than 3: on the front
    ];
    expect(paretoFront(points, "higher")).toEqual([0, 1, 4, 3]);
    // For an error (lower is better) the same points read the other way: only the smallest survives
    // every comparison with a bigger, worse model.
    expect(paretoFront(points, "lower")).toEqual([0]);
  });

  it("agrees with the brute-force definition on random points with ties, for both directions", () => {
    const u = uniform(42);
    for (let trial = 0; trial < 300; trial++) {
      const n = 1 + Math.floor(u() * 25);
      // Few distinct values, so equal sizes, equal scores and equal points are common.
      const points = Array.from({ length: n }, () => ({
        x: Math.floor(u() * 8),
        y: Math.floor(u() * 6) / 5,
      }));
      for (const better of ["higher", "lower"] as const) {
        const fast = paretoFront(points, better);
        expect([...fast].sort((a, b) => a - b)).toEqual(bruteForceFront(points, better));
        // By size ascending.
        for (let k = 1; k < fast.length; k++)
          expect(points[fast[k]!]!.x).toBeGreaterThanOrEqual(points[fast[k - 1]!]!.x);
      }
    }
  });

  it("puts equal points on the front together, and is empty for no points", () => {
    expect(
      paretoFront(
        [
          { x: 1, y: 1 },
          { x: 1, y: 1 },
        ],
        "higher",
      ),
    ).toEqual([0, 1]);
    expect(paretoFront([], "higher")).toEqual([]);
  });
});

describe("axisScale", () => {
  it("goes logarithmic when positive values span orders of magnitude", () => {
    const s = axisScale([300, 4_000, 2_000_000], 400);
    expect(s.kind).toBe("log");
    // Equal ratios take equal pixels: 300 → 3,000 as far as 3,000 → 30,000.
    expect(s.at(3_000) - s.at(300)).toBeCloseTo(s.at(30_000) - s.at(3_000), 9);
    expect(s.at(300)).toBeGreaterThan(0);
    expect(s.at(2_000_000)).toBeLessThan(400);
    expect(s.ticks).toContain(1_000);
    expect(s.ticks).toContain(1_000_000);
    for (const t of s.ticks) {
      expect(t).toBeGreaterThanOrEqual(s.domain[0]);
      expect(t).toBeLessThanOrEqual(s.domain[1]);
    }
  });

  it("stays linear for a narrow span, a zero or negative value, or when told to", () => {
    expect(axisScale([10, 10 * LOG_RATIO - 1], 100).kind).toBe("linear");
    expect(axisScale([10, 10 * LOG_RATIO], 100).kind).toBe("log");
    expect(axisScale([0, 1_000_000], 100).kind).toBe("linear");
    expect(axisScale([-1, 1_000], 100).kind).toBe("linear");
    expect(axisScale([1, 1_000_000], 100, "never").kind).toBe("linear");
  });

  it("pads a linear domain around the values, with 1-2-5 ticks inside it", () => {
    const s = axisScale([0.9, 0.96], 300);
    expect(s.domain[0]).toBeLessThan(0.9);
    expect(s.domain[1]).toBeGreaterThan(0.96);
    expect(s.at(s.domain[0])).toBe(0);
    expect(s.at(s.domain[1])).toBeCloseTo(300, 9);
    expect(s.at(0.93)).toBeCloseTo(((0.93 - s.domain[0]) / (s.domain[1] - s.domain[0])) * 300, 9);
    expect(s.ticks).toEqual([0.9, 0.92, 0.94, 0.96]);
  });

  it("gives one value, or none, a domain around it", () => {
    const one = axisScale([0.5, 0.5], 100);
    expect(one.domain[0]).toBeLessThan(0.5);
    expect(one.domain[1]).toBeGreaterThan(0.5);
    expect(one.at(0.5)).toBeCloseTo(50, 9);
    const none = axisScale([], 100);
    expect(none.kind).toBe("linear");
    expect(Number.isFinite(none.at(0.5))).toBe(true);
  });
});

describe("labels and units", () => {
  it("cuts a label to its width with an ellipsis", () => {
    expect(fitLabel("eval_gbdt", 60)).toBe("eval_gbdt");
    expect(fitLabel("eval_logistic_regression", 60)).toBe("eval_logi…");
    expect(fitLabel("abc", 1)).toBe("…");
  });

  it("reads bytes, counts and microseconds", () => {
    expect(formatBytes(812)).toBe("812 B");
    expect(formatBytes(12_400)).toBe("12 kB");
    expect(formatBytes(3_100_000)).toBe("3.1 MB");
    expect(formatCount(850)).toBe("850");
    expect(formatCount(12_345)).toBe("12.3k");
    expect(formatMicros(35.4)).toBe("35.4 µs");
    expect(formatMicros(1_234)).toBe("1.23 ms");
  });
});

const run = (id: string) => ({ id }) as RunRecord;

const pipeline = {
  nodes: [
    { id: "penguins", block: "ingest.file" },
    { id: "gbdt", block: "train.gbdt" },
    { id: "logistic", block: "train.logistic" },
    { id: "eval_2", block: "evaluate" },
    { id: "eval_3", block: "evaluate" },
    { id: "gate", block: "gate" },
  ],
  edges: [
    { from: "gbdt.model", to: "eval_2.model" },
    { from: "penguins.out", to: "eval_2.data" },
    { from: "logistic.model", to: "eval_3.model" },
    { from: "eval_2.report", to: "gate.report" },
  ],
};

describe("node captions", () => {
  it("names an evaluate node's block and the model that feeds it", () => {
    const nodes = pipelineNodes(pipeline);
    expect(nodes.get("eval_2")).toEqual({
      id: "eval_2",
      block: "evaluate",
      model: "gbdt",
      caption: "eval_2 — evaluate of gbdt",
    });
    expect(nodes.get("gate")?.caption).toBe("gate — gate");
    expect(keyTitle("metric", "eval_3.accuracy", nodes)).toBe(
      "metric accuracy of eval_3 — evaluate of logistic",
    );
    expect(keyTitle("metric", "gone.accuracy", nodes)).toBe("metric gone.accuracy");
    expect(splitKey("eval_2.cv_accuracy")).toEqual({ node: "eval_2", name: "cv_accuracy" });
  });

  it("reads nothing from a missing or malformed document", () => {
    expect(pipelineNodes(null).size).toBe(0);
    expect(pipelineNodes({ nodes: "x", edges: [1] }).size).toBe(0);
    expect(pipelineNodes({ nodes: [{ id: "a" }, { id: "b", block: "split" }] }).size).toBe(1);
  });
});

describe("modelPoints", () => {
  const cmp = {
    runs: [run("r1"), run("r2")],
    metrics: [
      { key: "eval_2.accuracy", values: [0.95, 0.97] },
      { key: "eval_3.accuracy", values: [0.9, null] },
      { key: "eval_2.log_loss", values: [0.2, 0.1] },
      { key: "eval_2.onnx_max_abs_diff", values: [0, 0] },
      { key: "gbdt.onnx_bytes", values: [120_000, 240_000] },
      { key: "gbdt.onnx_latency_p50_us", values: [80, null] },
      { key: "gbdt.model_leaves", values: [800, 1600] },
      { key: "logistic.onnx_bytes", values: [2_000, 2_000] },
      { key: "logistic.model_parameters", values: [27, 27] },
    ],
  };
  const nodes = pipelineNodes(pipeline);

  it("makes a point per run and model, with the costs that run logged", () => {
    expect(modelPoints(cmp, nodes, "accuracy")).toEqual([
      {
        runId: "r1",
        run: 0,
        model: "gbdt",
        evaluate: "eval_2",
        metric: 0.95,
        cost: { bytes: 120_000, latency: 80, learned: 800 },
        learnedUnit: "leaves",
      },
      {
        runId: "r1",
        run: 0,
        model: "logistic",
        evaluate: "eval_3",
        metric: 0.9,
        cost: { bytes: 2_000, learned: 27 },
        learnedUnit: "weights",
      },
      {
        runId: "r2",
        run: 1,
        model: "gbdt",
        evaluate: "eval_2",
        metric: 0.97,
        cost: { bytes: 240_000, learned: 1600 },
        learnedUnit: "leaves",
      },
    ]);
  });

  it("offers the grading metrics of model-fed evaluate nodes only", () => {
    expect(plottableMetrics(cmp, nodes)).toEqual(["accuracy", "log_loss"]);
  });
});

describe("metric choice", () => {
  const classification = [
    "eval.onnx_max_abs_diff",
    "eval.log_loss",
    "eval.brier",
    "eval.accuracy",
    "eval.roc_auc",
    "eval.f1_macro",
    "gbdt.onnx_bytes",
  ];

  it("defaults to the task's grading metrics, in the task's order", () => {
    const names = metricNames(classification);
    expect(tasksOf(names)).toEqual(["classification"]);
    expect(defaultMetricNames(names)).toEqual(["accuracy", "f1_macro", "roc_auc", "log_loss"]);
    expect(defaultMetricNames(["rmse", "r2", "bias", "mae", "onnx_bytes"])).toEqual(["rmse", "mae", "r2"]);
    // No evaluate node: the first few names.
    expect(defaultMetricNames(["a", "b", "c", "d", "e"])).toEqual(["a", "b", "c", "d"]);
  });

  it("keeps a remembered choice to what these runs have, else the default", () => {
    const names = metricNames(classification);
    expect(chosenMetricNames(names, ["brier", "rmse"])).toEqual(["brier"]);
    expect(chosenMetricNames(names, ["rmse"])).toEqual(["accuracy", "f1_macro", "roc_auc", "log_loss"]);
    expect(chosenMetricNames(names, null)).toEqual(["accuracy", "f1_macro", "roc_auc", "log_loss"]);
  });

  it("offers the task's metrics first, then the rest alphabetically", () => {
    expect(orderedMetricNames(metricNames(classification))).toEqual([
      "accuracy",
      "f1_macro",
      "roc_auc",
      "log_loss",
      "brier",
      "onnx_bytes",
      "onnx_max_abs_diff",
    ]);
  });
});

describe("runsPerPipeline", () => {
  it("reads one run per pipeline version, at most four", () => {
    const r = (id: string, pipeline: string, pipelineHash: string | null) => ({ id, pipeline, pipelineHash });
    expect(
      runsPerPipeline([
        r("a", "p", "h1"),
        r("b", "p", "h1"),
        r("c", "p", "h2"),
        r("d", "q", null),
        r("e", "q", null),
      ]),
    ).toEqual([
      { version: "h1", runId: "a" },
      { version: "h2", runId: "c" },
      { version: "q", runId: "d" },
    ]);
    expect(runsPerPipeline(["1", "2", "3", "4", "5"].map((h) => r(h, "p", h))).map((w) => w.runId)).toEqual([
      "1",
      "2",
      "3",
      "4",
    ]);
  });
});

describe("placeLabels", () => {
  it("puts a label right of its point, else where it overlaps nothing, and drops a repeat at the same spot", () => {
    const placed = placeLabels(
      [
        { x: 10, y: 50, label: "tree" }, // right: x 20…44
        { x: 10, y: 50, label: "tree" }, // the other run's tree on top: no second label
        { x: 195, y: 50, label: "forest" }, // no room on the right: left
        { x: 100, y: 50, label: "ab" }, // points close on both sides: above
        { x: 114, y: 50, label: "r" },
        { x: 86, y: 50, label: "l" },
      ],
      { x0: 0, x1: 200, y0: 0, y1: 100 },
    );
    expect(placed[0]).toEqual({ x: 20, y: 50, anchor: "start" });
    expect(placed[1]).toBeNull();
    expect(placed[2]).toEqual({ x: 185, y: 50, anchor: "end" });
    expect(placed[3]).toEqual({ x: 100, y: 37, anchor: "middle" });
  });

  it("settles for a side over a point when every side has one, and gives up outside the frame", () => {
    const crowd = [
      { x: 50, y: 50, label: "a" },
      { x: 64, y: 50, label: "b" },
      { x: 36, y: 50, label: "c" },
      { x: 50, y: 36, label: "d" },
      { x: 50, y: 64, label: "e" },
    ];
    // Every side of "a" is another point: it takes the right side anyway, over "b".
    expect(placeLabels(crowd, { x0: 0, x1: 100, y0: 0, y1: 100 })[0]).toEqual({
      x: 60,
      y: 50,
      anchor: "start",
    });
    // Nowhere inside the frame: no label.
    expect(placeLabels([{ x: 5, y: 5, label: "a long label" }], { x0: 0, x1: 20, y0: 0, y1: 20 })).toEqual([
      null,
    ]);
  });
});

describe("frontEntries", () => {
  it("names a model two runs share unchanged once, with both runs, in the front's order", () => {
    // The walk's front: logistic of the second run, then gbdt cached in it from the first (same bytes, same accuracy).
    const front = [
      { model: "logistic", runId: "r2", cost: 9_200, metric: 0.7842 },
      { model: "gbdt", runId: "r2", cost: 679_000, metric: 0.8253 },
      { model: "gbdt", runId: "r1", cost: 679_000, metric: 0.8253 },
    ];
    expect(frontEntries(front)).toEqual([
      { model: "logistic", runIds: ["r2"], cost: 9_200, metric: 0.7842 },
      { model: "gbdt", runIds: ["r2", "r1"], cost: 679_000, metric: 0.8253 },
    ]);
  });

  it("keeps a model apart where its runs differ in cost or metric (it was retrained)", () => {
    const front = [
      { model: "tree", runId: "r2", cost: 3_000, metric: 0.9 },
      { model: "tree", runId: "r1", cost: 5_000, metric: 0.9 },
      { model: "tree", runId: "r3", cost: 5_000, metric: 0.95 },
    ];
    expect(frontEntries(front).map((e) => e.runIds)).toEqual([["r2"], ["r1"], ["r3"]]);
    expect(frontEntries([])).toEqual([]);
  });
});
