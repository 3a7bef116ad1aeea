import { describe, expect, it } from "vitest";
import type { RunRecord } from "../../../app/api/api";
import {
  BARS,
  evaluateNodes,
  groupedBars,
  niceTicks,
  numericParams,
  parallelCoordinates,
  polylinePath,
  runColor,
  scalarMetrics,
} from "./compare";
import {
  defaultMetricColumns,
  formatDuration,
  formatMetric,
  formatValue,
  latestMetrics,
  shortId,
} from "./format";

const run = (id: string) => ({ id }) as RunRecord;

const cmp = {
  runs: [run("a"), run("b"), run("c")],
  params: [
    { key: "tree.maxDepth", values: [3, 6, null], differs: true },
    { key: "split.strategy", values: ["random", "stratified", "random"], differs: true },
    { key: "tree.seed", values: [7, 7, 7], differs: false },
    { key: "gbdt.trees", values: [100, 200, 300], differs: true },
  ],
  metrics: [
    { key: "eval.accuracy", values: [0.9, 1, 0.95] },
    { key: "gbdt.train_loss", values: [0.1, 0.2, null] },
    { key: "eval.nothing", values: [null, null, null] },
  ],
  curves: [{ key: "gbdt.train_loss", series: [] }],
};

describe("numericParams", () => {
  it("keeps params that are numbers and differ, and drops text and constant ones", () => {
    expect(numericParams(cmp)).toEqual(["tree.maxDepth", "gbdt.trees"]);
  });
});

describe("parallelCoordinates", () => {
  it("puts high values on top, the metric axis last, and gaps where a run lacks a value", () => {
    const { axes, lines } = parallelCoordinates(
      cmp,
      ["tree.maxDepth", "gbdt.trees"],
      "eval.accuracy",
      200,
      100,
    );
    expect(axes.map((a) => [a.key, a.kind, a.min, a.max])).toEqual([
      ["tree.maxDepth", "param", 3, 6],
      ["gbdt.trees", "param", 100, 300],
      ["eval.accuracy", "metric", 0.9, 1],
    ]);
    expect(lines[0]!.points).toEqual([
      { x: 0, y: 100 },
      { x: 100, y: 100 },
      { x: 200, y: 100 },
    ]);
    expect(lines[1]!.points[0]).toEqual({ x: 0, y: 0 });
    expect(lines[2]!.points[0]).toBeNull();
    expect(lines[2]!.points[2]!.y).toBeCloseTo(50);
  });

  it("centres every run on an axis whose values are all equal", () => {
    const { lines } = parallelCoordinates(cmp, ["tree.seed"], null, 100, 80);
    expect(lines.map((l) => l.points[0]!.y)).toEqual([40, 40, 40]);
  });

  it("skips keys the comparison does not have", () => {
    const { axes } = parallelCoordinates(cmp, ["nope"], "nope.metric", 100, 80);
    expect(axes).toEqual([]);
  });
});

describe("polylinePath", () => {
  it("lifts the pen over a missing value", () => {
    expect(polylinePath([{ x: 0, y: 1 }, { x: 2, y: 3 }, null, { x: 4, y: 5 }])).toBe(
      "M0.0,1.0L2.0,3.0M4.0,5.0",
    );
    expect(polylinePath([null])).toBe("");
  });
});

describe("evaluateNodes and scalarMetrics", () => {
  it("finds the evaluate nodes of a pipeline document, sorted", () => {
    const doc = {
      nodes: [
        { id: "eval_b", block: "evaluate" },
        { id: "gbdt", block: "train.gbdt" },
        { id: "eval_a", block: "evaluate" },
        "junk",
      ],
    };
    expect(evaluateNodes(doc)).toEqual(["eval_a", "eval_b"]);
    expect(evaluateNodes(null)).toEqual([]);
    expect(evaluateNodes({ nodes: "x" })).toEqual([]);
  });

  it("leaves training curves and metrics without values out of the bars", () => {
    expect(scalarMetrics(cmp)).toEqual(["eval.accuracy"]);
  });
});

describe("runColor", () => {
  it("is the palette first, then distinct hues", () => {
    expect(runColor(0)).toBe("#2f7dd1");
    expect(runColor(8)).not.toBe(runColor(9));
    expect(runColor(8)).toMatch(/^hsl\(/);
  });
});

describe("formatting", () => {
  it("reads values, metrics and durations", () => {
    expect(formatValue(null)).toBe("—");
    expect(formatValue([32, 16])).toBe("[32,16]");
    expect(formatValue(Number.NaN)).toBe("NaN");
    expect(formatMetric(Number.NaN)).toBe("NaN");
    expect(formatMetric(Number.NEGATIVE_INFINITY)).toBe("−∞");
    expect(formatMetric(0.91234)).toBe("0.9123");
    expect(formatDuration(850)).toBe("850 ms");
    expect(formatDuration(12_340)).toBe("12.3 s");
    expect(formatDuration(245_000)).toBe("4 min 05 s");
    expect(formatDuration(null)).toBe("—");
  });

  it("shows well-known metrics first by default", () => {
    const keys = ["eval.brier", "eval.ece", "eval.roc_auc", "eval.accuracy", "split.rows", "eval.f1_macro"];
    expect(defaultMetricColumns(keys, 4)).toEqual([
      "eval.accuracy",
      "eval.f1_macro",
      "eval.roc_auc",
      "eval.brier",
    ]);
  });

  it("shortens run ids to what tells them apart", () => {
    expect(shortId("20261126T170221-a1b2c3")).toBe("170221-a1b2c3");
    expect(shortId("trial-0123456789abcdef")).toBe("…6789abcdef");
    expect(shortId("r1")).toBe("r1");
  });

  it("takes the highest step's value as a metric's latest", () => {
    const m = (name: string, value: number, step: number | null) => ({
      runId: "r",
      nodeId: "n",
      name,
      value,
      step,
    });
    expect(latestMetrics([m("loss", 3, 0), m("loss", 1, 2), m("loss", 2, 1), m("acc", 0.9, null)])).toEqual([
      { key: "n.acc", value: 0.9, steps: 1 },
      { key: "n.loss", value: 1, steps: 3 },
    ]);
  });
});

describe("niceTicks", () => {
  it("steps by 1, 2 or 5 × 10^k and covers the values and zero", () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0.12, 0.93)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(-3, 7)).toEqual([-4, -2, 0, 2, 4, 6, 8]);
    expect(niceTicks(0, 4200)).toEqual([0, 1000, 2000, 3000, 4000, 5000]);
    expect(niceTicks(0.3, 0.3)).toEqual([0, 0.1, 0.2, 0.3]);
  });
  it("falls back to [0, 1] when every value is zero", () => {
    expect(niceTicks(0, 0)).toEqual([0, 1]);
  });
});

describe("groupedBars", () => {
  const two = {
    runs: [run("a"), run("b")],
    metrics: [
      { key: "eval.accuracy", values: [0.5, 1] },
      { key: "eval.loss", values: [-0.25, null] },
    ],
  };
  it("puts one bar per run in each metric's group, from the zero line", () => {
    const chart = groupedBars(two, ["eval.accuracy", "eval.loss"]);
    // Values -0.25 … 1 span 1.25: a fifth is 0.25, so the step is 0.5 and the axis -0.5 … 1
    // (a range of 1.5); the plot is BARS.plotHeight px tall.
    expect(chart.ticks.map((t) => t.value)).toEqual([-0.5, 0, 0.5, 1]);
    const px = (v: number) => ((1 - v) / 1.5) * BARS.plotHeight;
    const group = 2 * BARS.bar + BARS.groupGap;
    expect(chart.width).toBe(Math.max(BARS.minWidth, 2 * group));
    expect(chart.groups).toEqual([
      { key: "eval.accuracy", x: BARS.groupGap / 2, width: 2 * BARS.bar },
      { key: "eval.loss", x: group + BARS.groupGap / 2, width: 2 * BARS.bar },
    ]);
    const [a, b, loss] = chart.bars;
    expect(chart.bars).toHaveLength(3); // run b has no loss: no bar
    expect(a).toMatchObject({ runId: "a", run: 0, metric: "eval.accuracy", x: BARS.groupGap / 2 });
    expect(a!.y).toBeCloseTo(px(0.5), 9);
    expect(a!.height).toBeCloseTo(px(0) - px(0.5), 9);
    expect(b).toMatchObject({ runId: "b", run: 1, x: BARS.groupGap / 2 + BARS.bar, y: 0 });
    expect(b!.height).toBeCloseTo(px(0), 9);
    // A negative value hangs below the zero line.
    expect(loss).toMatchObject({ runId: "a", metric: "eval.loss", x: group + BARS.groupGap / 2 });
    expect(loss!.y).toBeCloseTo(px(0), 9);
    expect(loss!.height).toBeCloseTo(px(-0.25) - px(0), 9);
  });
  it("skips NaN and infinite values, and a metric missing from the comparison draws an empty group", () => {
    const chart = groupedBars(
      { runs: [run("a"), run("b")], metrics: [{ key: "m", values: [Number.NaN, Number.POSITIVE_INFINITY] }] },
      ["m", "absent"],
    );
    expect(chart.bars).toEqual([]);
    expect(chart.groups.map((g) => g.key)).toEqual(["m", "absent"]);
    expect(chart.ticks.map((t) => t.value)).toEqual([0, 1]);
  });
});

describe("groupedBars with a minimum group width", () => {
  it("widens the groups and centres each group's bars in it", () => {
    const two = {
      runs: [run("a"), run("b")],
      metrics: [
        { key: "m", values: [1, 2] },
        { key: "n", values: [3, 4] },
      ],
    };
    const chart = groupedBars(two, ["m", "n"], 100);
    expect(chart.groups).toEqual([
      { key: "m", x: (100 - 2 * BARS.bar) / 2, width: 2 * BARS.bar },
      { key: "n", x: 100 + (100 - 2 * BARS.bar) / 2, width: 2 * BARS.bar },
    ]);
    expect(chart.width).toBe(Math.max(BARS.minWidth, 200));
    // A minimum below the natural width changes nothing.
    expect(groupedBars(two, ["m", "n"], 10).groups).toEqual(groupedBars(two, ["m", "n"]).groups);
  });
});
