/**
 * Complexity against accuracy for the compared runs: a chosen metric of each
 * trained model against its size (ONNX bytes, or leaves and weights) and
 * against its single-row latency, with the Pareto front marked. Plain SVG,
 * like the compare bars; a click on a point opens its run.
 */
import type { ComparisonResult } from "../../../app/api/api";
import { metricDirection } from "../../../app/values/metric-direction";
import { runColor } from "./compare";
import {
  axisScale,
  COST_AXES,
  type CostAxis,
  fitLabel,
  formatCost,
  frontEntries,
  type ModelPoint,
  modelPoints,
  paretoFront,
  placeLabels,
  plottableMetrics,
} from "./complexity";
import { formatMetric, shortId } from "./format";
import type { NodeInfo } from "./nodeInfo";
import { type ComplexitySize, useExperiments } from "./store";

const VIEW = { width: 560, height: 340 };
const M = { top: 14, right: 20, bottom: 48, left: 62 };
const W = VIEW.width - M.left - M.right;
const H = VIEW.height - M.top - M.bottom;

/** The metric a task is judged by first: accuracy, else RMSE, else any metric with a direction. */
export function mainMetric(names: string[]): string | null {
  for (const m of ["accuracy", "rmse", "r2", "roc_auc", "f1_macro"]) if (names.includes(m)) return m;
  return names.find((n) => metricDirection(n) !== undefined) ?? names[0] ?? null;
}

function pointTitle(p: ModelPoint, metric: string, nodes: Map<string, NodeInfo>): string {
  const cost = (Object.keys(COST_AXES) as CostAxis[])
    .filter((a) => p.cost[a] !== undefined)
    .map((a) => {
      const what = a === "learned" ? (p.learnedUnit ?? "learned values") : COST_AXES[a].label;
      return `${what} ${formatCost(a, p.cost[a]!)}`;
    })
    .join(", ");
  const model = nodes.get(p.model)?.block ?? "";
  return `${p.model}${model ? ` (${model})` : ""} in run ${shortId(p.runId)}\n${metric} ${formatMetric(p.metric)} on ${p.evaluate}\n${cost}\nClick to open the run`;
}

function ComplexityPlot({
  points,
  axis,
  metric,
  better,
  nodes,
}: {
  points: ModelPoint[];
  axis: CostAxis;
  metric: string;
  better: "higher" | "lower";
  nodes: Map<string, NodeInfo>;
}) {
  const shown = points.filter((p) => p.cost[axis] !== undefined);
  const { label, unit } = COST_AXES[axis];
  if (!shown.length)
    return (
      <figure className="eval-chart complexity-plot" data-testid={`complexity-plot-${axis}`}>
        <figcaption>
          {metric} vs {label}
        </figcaption>
        <p className="muted small" data-testid="complexity-missing">
          These runs did not record the models' {label}. Run the pipeline again: training now records it.
        </p>
      </figure>
    );
  const x = axisScale(
    shown.map((p) => p.cost[axis]!),
    W,
  );
  const y = axisScale(
    shown.map((p) => p.metric),
    H,
    "never",
  );
  const px = (p: ModelPoint) => x.at(p.cost[axis]!);
  const py = (p: ModelPoint) => H - y.at(p.metric);
  const front = paretoFront(
    shown.map((p) => ({ x: p.cost[axis]!, y: p.metric })),
    better,
  );
  const onFront = new Set(front);
  // The front as a staircase: from each model, as good as it is, until the next is reached.
  let frontPath = "";
  front.forEach((i, k) => {
    const p = shown[i]!;
    frontPath +=
      k === 0 ? `M${px(p).toFixed(1)},${py(p).toFixed(1)}` : `H${px(p).toFixed(1)}V${py(p).toFixed(1)}`;
  });
  const labels = placeLabels(
    shown.map((p) => ({ x: px(p), y: py(p), label: fitLabel(p.model, 80) })),
    // Labels may reach into the margins, short of the axis' tick labels.
    { x0: -6, x1: W + M.right - 2, y0: -M.top + 2, y1: H - 2 },
  );
  const missing = points.length - shown.length;
  return (
    <figure className="eval-chart complexity-plot" data-testid={`complexity-plot-${axis}`}>
      <figcaption>
        {metric} vs {label}
        {missing > 0 && (
          <span className="muted">
            {" "}
            · {missing} model{missing > 1 ? "s" : ""} without it (trained before Dagwood recorded it)
          </span>
        )}
      </figcaption>
      <svg
        viewBox={`0 0 ${VIEW.width} ${VIEW.height}`}
        role="img"
        aria-label={`${metric} against ${label} of ${shown.length} models, Pareto front marked`}
      >
        <g transform={`translate(${M.left},${M.top})`}>
          <rect x={0} y={0} width={W} height={H} fill="none" stroke="#dfe3e9" />
          {x.ticks.map((t) => (
            <g key={`x${t}`}>
              <line x1={x.at(t)} x2={x.at(t)} y1={0} y2={H} stroke="#eef1f5" />
              <text className="complexity-tick" x={x.at(t)} y={H + 14} textAnchor="middle">
                {formatCost(axis, t)}
              </text>
            </g>
          ))}
          {y.ticks.map((t) => (
            <g key={`y${t}`}>
              <line x1={0} x2={W} y1={H - y.at(t)} y2={H - y.at(t)} stroke="#eef1f5" />
              <text className="complexity-tick" x={-6} y={H - y.at(t)} dy="0.32em" textAnchor="end">
                {formatMetric(t)}
              </text>
            </g>
          ))}
          <text className="complexity-axis-label" x={W / 2} y={H + 34} textAnchor="middle">
            {label} ({unit}
            {x.kind === "log" ? ", log scale" : ""}) — smaller is cheaper
          </text>
          <text
            className="complexity-axis-label"
            transform={`translate(${-48},${H / 2}) rotate(-90)`}
            textAnchor="middle"
          >
            {metric} ({better === "higher" ? "higher" : "lower"} is better)
          </text>
          {front.length > 0 && <path className="complexity-front" data-testid="pareto-front" d={frontPath} />}
          {shown.map((p, i) => {
            const cx = px(p);
            const cy = py(p);
            const front = onFront.has(i);
            const open = () => useExperiments.getState().openRun(p.runId);
            const label = labels[i];
            return (
              // biome-ignore lint/a11y/useSemanticElements: an SVG group cannot be a <button>; it takes role, focus and keys
              <g
                key={`${p.runId}:${p.evaluate}`}
                className="complexity-point"
                data-testid="complexity-point"
                data-front={front ? "true" : "false"}
                data-run={p.runId}
                data-model={p.model}
                data-cost={p.cost[axis]}
                data-metric={p.metric}
                role="button"
                tabIndex={0}
                aria-label={`${p.model} in run ${shortId(p.runId)}: ${metric} ${formatMetric(p.metric)}, ${formatCost(axis, p.cost[axis]!)}. Open the run`}
                onClick={open}
                onKeyDown={(e) => {
                  if (e.key === "Enter" || e.key === " ") {
                    e.preventDefault();
                    open();
                  }
                }}
              >
                <title>{pointTitle(p, metric, nodes)}</title>
                <circle
                  cx={cx}
                  cy={cy}
                  r={front ? 7 : 5.5}
                  fill={runColor(p.run)}
                  stroke={front ? "#1f2933" : "#ffffff"}
                  strokeWidth={front ? 2 : 1.5}
                />
                {label && (
                  <text
                    x={label.x}
                    y={label.y}
                    dy="0.32em"
                    textAnchor={label.anchor}
                    fontSize={10}
                    fill="#3d4652"
                  >
                    {fitLabel(p.model, 80)}
                  </text>
                )}
              </g>
            );
          })}
        </g>
      </svg>
      <p className="muted small" data-testid="pareto-list">
        Pareto front:{" "}
        {frontEntries(front.map((i) => shown[i]!).map((p) => ({ ...p, cost: p.cost[axis]! })))
          .map(
            (e) =>
              `${e.model} (${e.runIds.map(shortId).join(" and ")}, ${formatCost(axis, e.cost)}, ${formatMetric(e.metric)})`,
          )
          .join(" → ")}
      </p>
    </figure>
  );
}

export function ComplexityView({ cmp, nodes }: { cmp: ComparisonResult; nodes: Map<string, NodeInfo> }) {
  const metrics = plottableMetrics(cmp, nodes).filter((m) => metricDirection(m) !== undefined);
  const metric = useExperiments((s) => s.complexityMetric);
  const size = useExperiments((s) => s.complexitySize);
  const setMetric = (m: string) => useExperiments.getState().setComplexity({ metric: m });
  const setSize = (s: ComplexitySize) => useExperiments.getState().setComplexity({ size: s });
  const chosen = metric && metrics.includes(metric) ? metric : mainMetric(metrics);
  if (!chosen)
    return (
      <section className="compare-section" data-testid="complexity-view">
        <h4>Complexity vs accuracy</h4>
        <p className="muted small">
          No evaluate node fed by a trained model logged a metric in these runs. Connect a train block's model
          to an evaluate block and run the pipeline to compare models here.
        </p>
      </section>
    );
  const better = metricDirection(chosen) === "lower" ? "lower" : "higher";
  const points = modelPoints(cmp, nodes, chosen);
  return (
    <section className="compare-section" data-testid="complexity-view">
      <div className="compare-section-head">
        <h4>Complexity vs accuracy</h4>
        <select
          className="field-input small-input"
          data-testid="complexity-metric"
          value={chosen}
          onChange={(e) => setMetric(e.target.value)}
          aria-label="Metric"
        >
          {metrics.map((m) => (
            <option key={m} value={m}>
              {m}
            </option>
          ))}
        </select>
        <select
          className="field-input small-input"
          data-testid="complexity-size"
          value={size}
          onChange={(e) => setSize(e.target.value as typeof size)}
          aria-label="Model size as"
        >
          <option value="bytes">size as ONNX bytes</option>
          <option value="learned">size as leaves or weights</option>
        </select>
      </div>
      <p className="muted small complexity-hint">
        {points.length} model{points.length === 1 ? "" : "s"} (one point per run and model) · outlined and
        joined by the dashed line: the Pareto front, models no other model beats on both cost and {chosen} ·
        click a point to open its run
      </p>
      <div className="complexity-plots">
        <ComplexityPlot points={points} axis={size} metric={chosen} better={better} nodes={nodes} />
        <ComplexityPlot points={points} axis="latency" metric={chosen} better={better} nodes={nodes} />
      </div>
    </section>
  );
}
