/**
 * Complexity against accuracy, for the runs being compared: each trained
 * model (a train node in a run) is a point whose y is a metric its evaluate
 * node logged and whose x is a cost the train node logged — the ONNX file's
 * bytes, what it learned (leaves of its trees, or weights), or the median
 * latency of scoring one row through onnxruntime. The Pareto front is the
 * set of models no other model beats on both: as cheap or cheaper and as
 * good or better, strictly on one.
 */
import type { ComparisonResult } from "../../../app/api/api";
import type { NodeInfo } from "./nodeInfo";

/** The train-node metrics each cost axis reads (logged by app/ml/training/complexity.ts). */
export const COST_AXES = {
  bytes: { label: "ONNX file size", unit: "bytes", metrics: ["onnx_bytes"] },
  learned: {
    label: "learned values",
    unit: "leaves (trees) or weights (linear, MLP)",
    metrics: ["model_leaves", "model_parameters"],
  },
  latency: {
    label: "single-row latency",
    unit: "µs, median through onnxruntime",
    metrics: ["onnx_latency_p50_us"],
  },
} as const;

export type CostAxis = keyof typeof COST_AXES;

export interface ModelPoint {
  runId: string;
  /** The run's index in the comparison (its colour). */
  run: number;
  /** The train node. */
  model: string;
  /** The evaluate node whose metric is y. */
  evaluate: string;
  metric: number;
  /** Per cost axis, the model's value there (absent when the run did not log it). */
  cost: Partial<Record<CostAxis, number>>;
  /** Which learned-values metric the model has: leaves or weights. */
  learnedUnit?: "leaves" | "weights";
}

const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/**
 * One point per run and evaluate node fed by a model: y is `<evaluate>.<metric>`,
 * costs are the model node's size and latency metrics. A run without the
 * metric has no point for that model.
 */
export function modelPoints(
  cmp: Pick<ComparisonResult, "runs" | "metrics">,
  nodes: Map<string, NodeInfo>,
  metric: string,
): ModelPoint[] {
  const byKey = new Map(cmp.metrics.map((m) => [m.key, m.values]));
  const value = (key: string, run: number) => {
    const v = byKey.get(key)?.[run];
    return isNum(v) ? v : undefined;
  };
  const evaluated = [...nodes.values()]
    .filter((n): n is NodeInfo & { model: string } => !!n.model)
    .sort((a, b) => a.id.localeCompare(b.id));
  const points: ModelPoint[] = [];
  cmp.runs.forEach((r, run) => {
    for (const e of evaluated) {
      const y = value(`${e.id}.${metric}`, run);
      if (y === undefined) continue;
      const cost: ModelPoint["cost"] = {};
      let learnedUnit: ModelPoint["learnedUnit"];
      const bytes = value(`${e.model}.onnx_bytes`, run);
      if (bytes !== undefined) cost.bytes = bytes;
      const latency = value(`${e.model}.onnx_latency_p50_us`, run);
      if (latency !== undefined) cost.latency = latency;
      const leaves = value(`${e.model}.model_leaves`, run);
      const weights = value(`${e.model}.model_parameters`, run);
      if (leaves !== undefined) [cost.learned, learnedUnit] = [leaves, "leaves"];
      else if (weights !== undefined) [cost.learned, learnedUnit] = [weights, "weights"];
      points.push({
        runId: r.id,
        run,
        model: e.model,
        evaluate: e.id,
        metric: y,
        cost,
        ...(learnedUnit ? { learnedUnit } : {}),
      });
    }
  });
  return points;
}

/**
 * The metric names a model-fed evaluate node logged in some run, sorted:
 * the ones that grade the model, so not the ONNX bookkeeping (`onnx_*`).
 */
export function plottableMetrics(
  cmp: Pick<ComparisonResult, "metrics">,
  nodes: Map<string, NodeInfo>,
): string[] {
  const evaluated = new Set([...nodes.values()].filter((n) => n.model).map((n) => n.id));
  const names = new Set<string>();
  for (const m of cmp.metrics) {
    const dot = m.key.indexOf(".");
    const name = m.key.slice(dot + 1);
    if (dot > 0 && evaluated.has(m.key.slice(0, dot)) && !name.startsWith("onnx_") && m.values.some(isNum))
      names.add(name);
  }
  return [...names].sort();
}

/**
 * The Pareto front of points with a cost `x` (lower is better) and a score
 * `y` (`better` says which way): the indices of the points no other point
 * dominates (x ≤ and y at least as good, one of them strictly), by x
 * ascending. Equal points are all on the front.
 */
export function paretoFront(points: { x: number; y: number }[], better: "higher" | "lower"): number[] {
  const sign = better === "higher" ? 1 : -1;
  const order = points.map((_, i) => i).sort((a, b) => points[a]!.x - points[b]!.x);
  const front: number[] = [];
  let bestSoFar = Number.NEGATIVE_INFINITY;
  for (let start = 0; start < order.length; ) {
    // The points of one x: only the best of them can be on the front, and only beating every cheaper one.
    let end = start;
    while (end < order.length && points[order[end]!]!.x === points[order[start]!]!.x) end++;
    const same = order.slice(start, end);
    const best = Math.max(...same.map((i) => sign * points[i]!.y));
    if (best > bestSoFar)
      front.push(...same.filter((i) => sign * points[i]!.y === best).sort((a, b) => a - b));
    bestSoFar = Math.max(bestSoFar, best);
    start = end;
  }
  return front;
}

/** One model on the front as it is read: the runs that gave it, its cost and metric. */
export interface FrontEntry {
  model: string;
  runIds: string[];
  cost: number;
  metric: number;
}

/**
 * The front in words, in its order: a model that two runs share unchanged (cached in the second,
 * so the same size, latency and metric; its points lie on each other) is named once with both runs,
 * not twice in a row.
 */
export function frontEntries(
  points: readonly { model: string; runId: string; cost: number; metric: number }[],
): FrontEntry[] {
  const entries: FrontEntry[] = [];
  for (const p of points) {
    const same = entries.find((e) => e.model === p.model && e.cost === p.cost && e.metric === p.metric);
    if (same) {
      if (!same.runIds.includes(p.runId)) same.runIds.push(p.runId);
    } else entries.push({ model: p.model, runIds: [p.runId], cost: p.cost, metric: p.metric });
  }
  return entries;
}

export interface Scale {
  kind: "linear" | "log";
  /** The domain drawn, [low, high]. */
  domain: [number, number];
  /** Value → pixel in [0, pixels] (low → 0). */
  at(value: number): number;
  ticks: number[];
}

/** Values spanning at least this ratio (max / min, all positive) get a log axis. */
export const LOG_RATIO = 20;

/**
 * An axis for `values` over `pixels`: logarithmic when the values are
 * positive and span `LOG_RATIO` or more (sizes across model kinds span
 * orders of magnitude: a stump's few hundred bytes, a forest's megabytes),
 * else linear with 1-2-5 ticks. The domain pads the values so no point sits
 * on the frame.
 */
export function axisScale(values: number[], pixels: number, log: "auto" | "never" = "auto"): Scale {
  const finite = values.filter(isNum);
  let lo = finite.length ? Math.min(...finite) : 0;
  let hi = finite.length ? Math.max(...finite) : 1;
  if (log === "auto" && lo > 0 && hi / lo >= LOG_RATIO) {
    const a = Math.log10(lo) - 0.08;
    const b = Math.log10(hi) + 0.08;
    const ticks: number[] = [];
    const decades = b - a;
    const steps = decades > 4 ? [1] : decades > 2 ? [1, 3] : [1, 2, 5];
    for (let p = Math.floor(a); p <= Math.ceil(b); p++)
      for (const m of steps) {
        const t = Number((m * 10 ** p).toPrecision(12));
        const lt = Math.log10(t);
        if (lt >= a && lt <= b) ticks.push(t);
      }
    return {
      kind: "log",
      domain: [10 ** a, 10 ** b],
      at: (v) => ((Math.log10(v) - a) / (b - a)) * pixels,
      ticks,
    };
  }
  if (hi === lo) {
    const pad = Math.abs(lo) * 0.05 || 1;
    lo -= pad;
    hi += pad;
  } else {
    const pad = (hi - lo) * 0.06;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let i = Math.ceil(lo / step); i * step <= hi; i++) ticks.push(Number((i * step).toPrecision(12)));
  return { kind: "linear", domain: [lo, hi], at: (v) => ((v - lo) / (hi - lo)) * pixels, ticks };
}

/** "812 B", "12.4 kB", "3.1 MB" (powers of 1000, as file managers show sizes). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return "—";
  if (Math.abs(n) < 1000) return `${Math.round(n)} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n;
  let u = -1;
  while (Math.abs(v) >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

/** "850", "12k", "3.4M": counts on an axis. */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return "—";
  const abs = Math.abs(n);
  if (abs < 1000) return String(Number(n.toPrecision(3)));
  if (abs < 1e6) return `${Number((n / 1e3).toPrecision(3))}k`;
  if (abs < 1e9) return `${Number((n / 1e6).toPrecision(3))}M`;
  return `${Number((n / 1e9).toPrecision(3))}G`;
}

/** "35 µs", "1.2 ms". */
export function formatMicros(us: number): string {
  if (!Number.isFinite(us)) return "—";
  if (us < 1000) return `${Number(us.toPrecision(3))} µs`;
  return `${Number((us / 1000).toPrecision(3))} ms`;
}

/** A cost axis value as its unit reads. */
export function formatCost(axis: CostAxis, v: number): string {
  return axis === "bytes" ? formatBytes(v) : axis === "latency" ? formatMicros(v) : formatCount(v);
}

/**
 * `text` cut to fit about `pixels` of a `fontSize` px sans-serif label, with
 * an ellipsis (the full text goes in a tooltip). An average glyph is taken as
 * 0.6 em, wide enough for ids of lower-case letters, digits and underscores.
 */
export function fitLabel(text: string, pixels: number, fontSize = 10): string {
  const max = Math.max(1, Math.floor(pixels / (fontSize * 0.6)));
  if (text.length <= max) return text;
  return max <= 1 ? "…" : `${text.slice(0, max - 1)}…`;
}

export interface LabelBox {
  x: number;
  y: number;
  anchor: "start" | "end" | "middle";
}

/** A rectangle in plot pixels. */
export interface Box {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

const overlaps = (a: Box, b: Box) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;

/**
 * Where each point's label goes: right of the point, else left, above or
 * below, whichever first stays inside `frame` and overlaps no label placed
 * before it and no point; failing that, the first that only overlaps a
 * point; else null (the tooltip still names it). A label equal to one
 * already drawn within a few pixels (two runs of one model at one spot) is
 * not repeated. A label's width is estimated as fitLabel does.
 */
export function placeLabels(
  points: { x: number; y: number; label: string }[],
  frame: Box,
  fontSize = 10,
): (LabelBox | null)[] {
  const glyph = fontSize * 0.6;
  const placed: (Box & { label: string; px: number; py: number })[] = [];
  const r = 6;
  const hitsPoint = (b: Box) =>
    points.some((p) => overlaps(b, { x0: p.x - r, x1: p.x + r, y0: p.y - r, y1: p.y + r }));
  return points.map((p) => {
    if (placed.some((q) => q.label === p.label && Math.hypot(q.px - p.x, q.py - p.y) < 6)) return null;
    const w = p.label.length * glyph;
    const h = fontSize + 2;
    const at = (x: number, y: number, anchor: LabelBox["anchor"]) => {
      const x0 = anchor === "start" ? x : anchor === "end" ? x - w : x - w / 2;
      return { label: { x, y, anchor }, box: { x0, x1: x0 + w, y0: y - h / 2, y1: y + h / 2 } };
    };
    const candidates = [
      at(p.x + 10, p.y, "start"),
      at(p.x - 10, p.y, "end"),
      at(p.x, p.y - 13, "middle"),
      at(p.x, p.y + 14, "middle"),
    ].filter(
      ({ box: b }) =>
        b.x0 >= frame.x0 &&
        b.x1 <= frame.x1 &&
        b.y0 >= frame.y0 &&
        b.y1 <= frame.y1 &&
        !placed.some((q) => overlaps(q, b)),
    );
    // The label's own point is not in any candidate's box (each starts clear of it); another point may be.
    const chosen = candidates.find((c) => !hitsPoint(c.box)) ?? candidates[0];
    if (!chosen) return null;
    placed.push({ ...chosen.box, label: p.label, px: p.x, py: p.y });
    return chosen.label;
  });
}
