/**
 * The compared runs' metrics as small multiples: one bar chart per metric
 * name (`accuracy`), a group of bars per node that logged it (`eval_gbdt`),
 * one bar per run. The task's grading metrics show first; a chooser
 * (remembered) adds or removes the rest. Each chart is as wide as its bars
 * and scrolls inside itself when wider than the panel; node labels are cut
 * to their group with the full caption in a tooltip.
 */
import { useState } from "react";
import type { ComparisonResult } from "../../../app/api/api";
import { metricDirection } from "../../../app/values/metric-direction";
import { BARS, groupedBars, runColor, scalarMetrics } from "./compare";
import { fitLabel } from "./complexity";
import { formatMetric, shortId } from "./format";
import {
  chosenMetricNames,
  loadChosenMetrics,
  metricNames,
  orderedMetricNames,
  saveChosenMetrics,
} from "./metricChoice";
import { type NodeInfo, splitKey } from "./nodeInfo";

const MARGIN = { top: 8, right: 8, bottom: 22, left: 46 };
/** The widest a group grows for its label, in px. */
const LABEL_MAX = 96;

function directionText(name: string): string {
  const d = metricDirection(name);
  return d === "higher" ? "↑ higher is better" : d === "lower" ? "↓ lower is better" : "";
}

/** One metric name's bars: a group per node key. */
function MetricChart({
  cmp,
  name,
  keys,
  nodes,
}: {
  cmp: ComparisonResult;
  name: string;
  keys: string[];
  nodes: Map<string, NodeInfo>;
}) {
  // Room for the node ids under the groups, up to LABEL_MAX px; longer ones are cut with a tooltip.
  const longest = Math.max(0, ...keys.map((k) => splitKey(k).node.length));
  const chart = groupedBars(cmp, keys, Math.min(LABEL_MAX, longest * 6 + 10));
  const { left, top, right, bottom } = MARGIN;
  const caption = (key: string) => {
    const { node } = splitKey(key);
    return nodes.get(node)?.caption ?? node;
  };
  return (
    <figure className="eval-chart metric-figure" data-testid={`metric-chart-${name}`}>
      <figcaption>
        <span className="mono">{name}</span>
        <span className="muted direction">{directionText(name)}</span>
      </figcaption>
      <div className="metric-scroll">
        <svg
          width={chart.width + left + right}
          height={chart.height + top + bottom}
          className="metric-bars"
          role="img"
          aria-label={`${name} of ${keys.length} node${keys.length > 1 ? "s" : ""} in ${cmp.runs.length} runs`}
        >
          <g transform={`translate(${left},${top})`}>
            {chart.ticks.map((t) => (
              <g key={t.value} className="bar-tick">
                <line x1={0} x2={chart.width} y1={t.y} y2={t.y} stroke="#e6e9ee" strokeDasharray="2 3" />
                <text x={-6} y={t.y} dy="0.32em" textAnchor="end" fontSize={10} fill="#5b6472">
                  {formatMetric(t.value)}
                </text>
              </g>
            ))}
            {chart.bars.map((b) => (
              <rect
                key={`${b.run}:${b.metric}`}
                data-testid="metric-bar"
                x={b.x}
                y={b.y}
                width={b.width}
                height={Math.max(b.height, 0.5)}
                fill={runColor(b.run)}
              >
                <title>{`${shortId(b.runId)} · ${caption(b.metric)} · ${name}: ${formatMetric(b.value)}`}</title>
              </rect>
            ))}
            {chart.groups.map((g) => {
              const node = splitKey(g.key).node;
              // A group's label may use its whole group: its bars and the gaps beside them.
              const room = Math.max(g.width + BARS.groupGap, Math.min(LABEL_MAX, longest * 6 + 10)) - 4;
              return (
                <text
                  key={g.key}
                  data-testid="metric-group-label"
                  x={g.x + g.width / 2}
                  y={chart.height + 14}
                  textAnchor="middle"
                  fontSize={10}
                  fill="#3d4652"
                >
                  <title>{caption(g.key)}</title>
                  {fitLabel(node, room)}
                </text>
              );
            })}
          </g>
        </svg>
      </div>
    </figure>
  );
}

/** The chooser: every metric name, the task's first; the choice is remembered across comparisons. */
function MetricChooser({
  names,
  shown,
  onChange,
}: {
  names: string[];
  shown: string[];
  onChange(names: string[] | null): void;
}) {
  const [open, setOpen] = useState(false);
  const toggle = (name: string) =>
    onChange(shown.includes(name) ? shown.filter((n) => n !== name) : [...shown, name]);
  return (
    <div className="metric-chooser">
      <button
        type="button"
        className="button small"
        data-testid="metric-chooser-button"
        aria-expanded={open}
        onClick={() => setOpen(!open)}
      >
        Metrics: {shown.length} of {names.length} ▾
      </button>
      {open && (
        <div className="metric-chooser-popover" data-testid="metric-chooser">
          <div className="chooser-actions">
            <button
              type="button"
              className="link-button small"
              data-testid="metric-chooser-reset"
              onClick={() => onChange(null)}
            >
              Task's metrics
            </button>
            <button type="button" className="icon-button" aria-label="Close" onClick={() => setOpen(false)}>
              ×
            </button>
          </div>
          {names.map((n) => (
            <label key={n} className="mono">
              <input
                type="checkbox"
                data-testid={`metric-choice-${n}`}
                checked={shown.includes(n)}
                onChange={() => toggle(n)}
              />
              {n}
            </label>
          ))}
        </div>
      )}
    </div>
  );
}

export function MetricCharts({ cmp, nodes }: { cmp: ComparisonResult; nodes: Map<string, NodeInfo> }) {
  const keys = scalarMetrics(cmp);
  const available = metricNames(keys);
  const [remembered, setRemembered] = useState(loadChosenMetrics);
  const shown = chosenMetricNames(available, remembered);
  const choose = (names: string[] | null) => {
    // Unticking the last one goes back to the task's metrics rather than an empty section.
    const next = names?.length ? names : null;
    saveChosenMetrics(next);
    setRemembered(next);
  };
  return (
    <section className="compare-section" data-testid="compare-metrics">
      <div className="compare-section-head">
        <h4>Metrics</h4>
        {available.length > 0 && (
          <MetricChooser names={orderedMetricNames(available)} shown={shown} onChange={choose} />
        )}
        <span className="muted small">one chart per metric; hover a bar or a node name for details</span>
      </div>
      {shown.length ? (
        <div className="metric-multiples">
          {shown.map((name) => (
            <MetricChart
              key={name}
              cmp={cmp}
              name={name}
              keys={keys.filter((k) => splitKey(k).name === name)}
              nodes={nodes}
            />
          ))}
        </div>
      ) : (
        <p className="muted small">No metric was logged by these runs.</p>
      )}
    </section>
  );
}
