/** Pure helpers of the compare view: run colours, the parallel-coordinates geometry, report nodes. */
import type { ComparisonResult } from "../../../app/api/api";
import { COLORS } from "../panels/evaluation/format";

/** A run's colour by its place in the comparison; every chart uses the same. */
export function runColor(index: number): string {
  if (index < COLORS.length) return COLORS[index]!;
  // Past the palette: golden-angle hues stay apart from each other.
  return `hsl(${Math.round((index * 137.508) % 360)}, 55%, 45%)`;
}

export interface Axis {
  key: string;
  /** "param" axes first, the metric last. */
  kind: "param" | "metric";
  min: number;
  max: number;
}

export interface ParallelLine {
  runId: string;
  /** One point per axis; null where the run has no value for it. */
  points: ({ x: number; y: number } | null)[];
}

const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/**
 * The numeric params worth an axis: every run that has the param has a
 * finite number there, and at least two runs differ (equal params draw flat
 * lines that say nothing).
 */
export function numericParams(cmp: Pick<ComparisonResult, "params">): string[] {
  return cmp.params
    .filter((p) => {
      const present = p.values.filter((v) => v !== null && v !== undefined);
      return present.length >= 2 && present.every(isNum) && new Set(present).size > 1;
    })
    .map((p) => p.key);
}

/** Axes and one polyline per run, in a `width` × `height` box (y grows downwards, high values on top). */
export function parallelCoordinates(
  cmp: Pick<ComparisonResult, "runs" | "params" | "metrics">,
  paramKeys: string[],
  metricKey: string | null,
  width: number,
  height: number,
): { axes: Axis[]; lines: ParallelLine[]; x: (i: number) => number } {
  const columns: { key: string; kind: Axis["kind"]; values: unknown[] }[] = [
    ...paramKeys.flatMap((key) => {
      const p = cmp.params.find((q) => q.key === key);
      return p ? [{ key, kind: "param" as const, values: p.values }] : [];
    }),
  ];
  const m = metricKey ? cmp.metrics.find((q) => q.key === metricKey) : undefined;
  if (m) columns.push({ key: m.key, kind: "metric", values: m.values });
  const axes: Axis[] = columns.map((c) => {
    const nums = c.values.filter(isNum);
    const min = nums.length ? Math.min(...nums) : 0;
    const max = nums.length ? Math.max(...nums) : 1;
    return { key: c.key, kind: c.kind, min, max };
  });
  const x = (i: number) => (axes.length <= 1 ? width / 2 : (i * width) / (axes.length - 1));
  const lines = cmp.runs.map((run, r) => ({
    runId: run.id,
    points: columns.map((c, i) => {
      const v = c.values[r];
      if (!isNum(v)) return null;
      const { min, max } = axes[i]!;
      // A constant axis puts every run in the middle.
      const t = max === min ? 0.5 : (v - min) / (max - min);
      return { x: x(i), y: height - t * height };
    }),
  }));
  return { axes, lines, x };
}

/** SVG path of a polyline, broken where a value is missing. */
export function polylinePath(points: ({ x: number; y: number } | null)[]): string {
  let d = "";
  let pen = false;
  for (const p of points) {
    if (!p) {
      pen = false;
      continue;
    }
    d += `${pen ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`;
    pen = true;
  }
  return d;
}

/** The ids of the pipeline's `evaluate` nodes, whose reports hold ROC curves and confusion matrices. */
export function evaluateNodes(pipeline: Record<string, unknown> | null): string[] {
  const nodes = pipeline?.nodes;
  if (!Array.isArray(nodes)) return [];
  return nodes
    .filter(
      (n): n is { id: string; block: string } => !!n && typeof n === "object" && typeof n.id === "string",
    )
    .filter((n) => n.block === "evaluate")
    .map((n) => n.id)
    .sort();
}

/** Metric keys that are single values (not training curves), for the grouped bars. */
export function scalarMetrics(cmp: Pick<ComparisonResult, "metrics" | "curves">): string[] {
  const curves = new Set(cmp.curves.map((c) => c.key));
  return cmp.metrics.filter((m) => !curves.has(m.key) && m.values.some((v) => isNum(v))).map((m) => m.key);
}

/** "Nice" axis ticks (steps of 1, 2 or 5 × 10^k) covering [min, max] and zero, about `count` of them. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  const lo = Math.min(0, min);
  const hi = Math.max(0, max);
  if (!(hi > lo)) return [0, 1];
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw)!;
  const first = Math.floor(lo / step);
  const last = Math.ceil(hi / step);
  // Whole multiples of the step, computed from integers so 0.1 + 0.2 drift does not creep in.
  return Array.from({ length: last - first + 1 }, (_, i) => Number(((first + i) * step).toPrecision(12)));
}

export interface MetricBar {
  runId: string;
  metric: string;
  value: number;
  /** Index of the run in the comparison (its colour). */
  run: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Sizes of the grouped bar chart, in pixels. */
export const BARS = { bar: 14, groupGap: 30, plotHeight: 198, minWidth: 190 };

/**
 * The grouped bar chart of some scalar metrics, one group per metric and one
 * bar per run in run order, drawn from the zero line: bars for a plain SVG,
 * since a charting library's per-bar components cost far more than the
 * rectangles with 50 runs × 20 metrics. x runs across the plot area,
 * y grows downwards with high values on top; a run without a finite value
 * has no bar.
 */
export function groupedBars(
  cmp: Pick<ComparisonResult, "runs" | "metrics">,
  keys: string[],
  /** Groups at least this wide, bars centred in them (room for a group's label). */
  minGroupWidth = 0,
): {
  bars: MetricBar[];
  groups: { key: string; x: number; width: number }[];
  ticks: { value: number; y: number }[];
  width: number;
  height: number;
} {
  const groupWidth = Math.max(cmp.runs.length * BARS.bar + BARS.groupGap, minGroupWidth);
  const inset = (groupWidth - cmp.runs.length * BARS.bar) / 2;
  const width = Math.max(BARS.minWidth, keys.length * groupWidth);
  const columns = keys.map((key) => ({ key, values: cmp.metrics.find((m) => m.key === key)?.values ?? [] }));
  const finite = columns.flatMap((c) => c.values.filter(isNum));
  const tickValues = niceTicks(Math.min(0, ...finite), Math.max(0, ...finite));
  const lo = tickValues[0]!;
  const hi = tickValues.at(-1)!;
  const y = (v: number) => ((hi - v) / (hi - lo)) * BARS.plotHeight;
  const zero = y(0);
  const bars: MetricBar[] = [];
  const groups = columns.map((c, g) => {
    const x0 = g * groupWidth + inset;
    c.values.forEach((v, run) => {
      if (!isNum(v) || run >= cmp.runs.length) return;
      const top = Math.min(y(v), zero);
      bars.push({
        runId: cmp.runs[run]!.id,
        metric: c.key,
        value: v,
        run,
        x: x0 + run * BARS.bar,
        y: top,
        width: BARS.bar - 1,
        height: Math.abs(y(v) - zero),
      });
    });
    return { key: c.key, x: x0, width: cmp.runs.length * BARS.bar };
  });
  return {
    bars,
    groups,
    ticks: tickValues.map((value) => ({ value, y: y(value) })),
    width,
    height: BARS.plotHeight,
  };
}
