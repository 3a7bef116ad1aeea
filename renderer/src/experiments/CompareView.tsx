/**
 * Runs side by side (compareRuns): what differs in their params, the
 * pipeline with those nodes marked, metrics as grouped bars, training curves
 * overlaid, params against a metric in parallel coordinates, and each run's
 * ROC curve and confusion matrix. Every chart gives a run the same colour.
 * Loaded on demand, so recharts stays out of the first paint.
 */
import "../panels/evaluation/evaluation.css";
import "./experiments.css";
import { useMemo, useState } from "react";
import { CartesianGrid, Legend, Line, LineChart, Tooltip, XAxis, YAxis } from "recharts";
import type { ComparisonResult, RunRecord } from "../../../app/api/api";
import { isEvaluationReport } from "../../../app/values/guards";
import { api } from "../api/client";
import { ConfusionMatrix } from "../panels/evaluation/ConfusionMatrix";
import { RocChart } from "../panels/evaluation/charts";
import { useApi } from "../panels/useApi";
import { Loading } from "../shell/Loading";
import { CompareGraph } from "./CompareGraph";
import { ComplexityView } from "./ComplexityView";
import {
  evaluateNodes,
  numericParams,
  parallelCoordinates,
  polylinePath,
  runColor,
  scalarMetrics,
} from "./compare";
import { formatMetric, formatTime, formatValue, shortId } from "./format";
import { MetricCharts } from "./MetricCharts";
import { keyTitle, type NodeInfo, pipelineNodes } from "./nodeInfo";
import { type CompareTab, useExperiments } from "./store";

const TICK = { fontSize: 10 };

function RunLegend({ runs }: { runs: RunRecord[] }) {
  return (
    <ul className="compare-legend" data-testid="compare-legend">
      {runs.map((r, i) => (
        <li key={r.id} title={`${r.id} · ${r.pipeline} · ${formatTime(r.startedAt)}`}>
          <span className="swatch" style={{ background: runColor(i) }} />
          <button
            type="button"
            className="link-button mono"
            onClick={() => useExperiments.getState().openRun(r.id)}
          >
            {shortId(r.id)}
          </button>
          <span className="muted small">{formatTime(r.startedAt)}</span>
        </li>
      ))}
    </ul>
  );
}

function ParamsTable({ cmp, nodes }: { cmp: ComparisonResult; nodes: Map<string, NodeInfo> }) {
  const [showEqual, setShowEqual] = useState(false);
  const differing = cmp.params.filter((p) => p.differs);
  const equal = cmp.params.filter((p) => !p.differs);
  const row = (p: ComparisonResult["params"][number]) => (
    <tr
      key={p.key}
      data-testid={`param-diff-${p.key}`}
      data-differs={p.differs ? "true" : "false"}
      className={p.differs ? "differs" : undefined}
    >
      <th className="mono" title={keyTitle("param", p.key, nodes)}>
        {p.key}
      </th>
      {p.values.map((v, i) => (
        <td key={cmp.runs[i]?.id ?? i} className="mono">
          {formatValue(v)}
        </td>
      ))}
    </tr>
  );
  return (
    <table className="compare-table" data-testid="compare-params">
      <thead>
        <tr>
          <th>param</th>
          {cmp.runs.map((r, i) => (
            <th key={r.id} className="mono">
              <span className="swatch" style={{ background: runColor(i) }} />
              {shortId(r.id)}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {differing.length === 0 && (
          <tr>
            <td colSpan={cmp.runs.length + 1} className="muted">
              Every param is the same in these runs.
            </td>
          </tr>
        )}
        {differing.map(row)}
        {equal.length > 0 && (
          <tr className="fold-row">
            <td colSpan={cmp.runs.length + 1}>
              <button
                type="button"
                className="link-button"
                data-testid="toggle-equal-params"
                onClick={() => setShowEqual(!showEqual)}
              >
                {showEqual ? "▾" : "▸"} {equal.length} equal params
              </button>
            </td>
          </tr>
        )}
        {showEqual && equal.map(row)}
      </tbody>
    </table>
  );
}

function Curves({ cmp }: { cmp: ComparisonResult }) {
  if (!cmp.curves.length) return null;
  const colorOf = new Map(cmp.runs.map((r, i) => [r.id, runColor(i)]));
  return (
    <section className="compare-section" data-testid="compare-curves">
      <h4>Training curves</h4>
      <div className="compare-grid">
        {cmp.curves.map((c) => (
          <figure key={c.key} className="eval-chart" data-testid={`curve-${c.key}`}>
            <figcaption className="mono">{c.key}</figcaption>
            <LineChart width={360} height={220} margin={{ top: 6, right: 10, bottom: 14, left: 0 }}>
              <CartesianGrid strokeDasharray="2 3" stroke="#e6e9ee" />
              <XAxis
                type="number"
                dataKey="step"
                domain={["dataMin", "dataMax"]}
                tick={TICK}
                allowDuplicatedCategory={false}
                label={{ value: "step", position: "insideBottom", offset: -8, fontSize: 10 }}
              />
              <YAxis tick={TICK} tickFormatter={(v) => formatMetric(Number(v))} domain={["auto", "auto"]} />
              <Tooltip
                isAnimationActive={false}
                formatter={(v, name) => [formatMetric(Number(v)), shortId(String(name))]}
                labelFormatter={(s) => `step ${s}`}
              />
              <Legend wrapperStyle={{ fontSize: 11 }} formatter={(v) => shortId(String(v))} />
              {c.series.map((s) => (
                <Line
                  key={s.runId}
                  data={s.points.map(([step, value]) => ({ step, value }))}
                  dataKey="value"
                  name={s.runId}
                  stroke={colorOf.get(s.runId) ?? "#888"}
                  dot={false}
                  strokeWidth={2}
                  isAnimationActive={false}
                />
              ))}
            </LineChart>
          </figure>
        ))}
      </div>
    </section>
  );
}

const PC = { width: 560, height: 200, left: 70, right: 90, top: 28, bottom: 20 };

function ParallelCoordinates({ cmp }: { cmp: ComparisonResult }) {
  const params = numericParams(cmp);
  const metrics = scalarMetrics(cmp);
  const [metric, setMetric] = useState<string | null>(null);
  const chosen = metric && metrics.includes(metric) ? metric : (metrics[0] ?? null);
  const width = Math.max(PC.width, params.length * 110);
  const { axes, lines, x } = parallelCoordinates(cmp, params, chosen, width, PC.height);
  return (
    <section className="compare-section" data-testid="parallel-coordinates">
      <div className="compare-section-head">
        <h4>Params vs metric</h4>
        {metrics.length > 0 && (
          <select
            className="field-input small-input"
            data-testid="parallel-metric"
            value={chosen ?? ""}
            onChange={(e) => setMetric(e.target.value)}
            aria-label="Metric axis"
          >
            {metrics.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        )}
      </div>
      {params.length === 0 ? (
        <p className="muted small">
          No numeric param differs between these runs, so there is nothing to plot.
        </p>
      ) : (
        <div className="compare-scroll">
          <svg
            width={width + PC.left + PC.right}
            height={PC.height + PC.top + PC.bottom}
            role="img"
            aria-label="Parallel coordinates of numeric params and a metric"
          >
            <g transform={`translate(${PC.left},${PC.top})`}>
              {axes.map((a, i) => (
                <g key={a.key} transform={`translate(${x(i)},0)`} className={`pc-axis ${a.kind}`}>
                  <line y1={0} y2={PC.height} />
                  <text y={-10} textAnchor="middle" className="pc-label">
                    {a.key}
                  </text>
                  <text x={5} y={4} className="pc-tick">
                    {formatMetric(a.max)}
                  </text>
                  <text x={5} y={PC.height} className="pc-tick">
                    {formatMetric(a.min)}
                  </text>
                </g>
              ))}
              {lines.map((l, i) => (
                <path
                  key={l.runId}
                  d={polylinePath(l.points)}
                  fill="none"
                  stroke={runColor(i)}
                  strokeWidth={2}
                  strokeOpacity={0.85}
                >
                  <title>{l.runId}</title>
                </path>
              ))}
            </g>
          </svg>
        </div>
      )}
    </section>
  );
}

function RunEvaluation({ run, index, nodeId }: { run: RunRecord; index: number; nodeId: string }) {
  const loaded = useApi(
    () => api.getReport({ runId: run.id, nodeId, port: "report" }),
    `${run.id}:${nodeId}:report`,
  );
  let body: React.ReactNode;
  if (loaded.status === "loading") body = <Loading>Loading the report…</Loading>;
  else if (loaded.status === "error") body = <div className="panel-error">{loaded.message}</div>;
  else if (!isEvaluationReport(loaded.value.data))
    body = <p className="muted small">This output is not an evaluation report.</p>;
  else {
    const report = loaded.value.data;
    body = (
      <>
        {report.roc && <RocChart report={report} />}
        {report.confusion && (
          <figure className="eval-chart">
            <figcaption>Confusion matrix</figcaption>
            <ConfusionMatrix labels={report.confusion.labels} matrix={report.confusion.matrix} />
          </figure>
        )}
        {!report.roc && !report.confusion && (
          <p className="muted small">A {report.task} report: no ROC curve or confusion matrix.</p>
        )}
      </>
    );
  }
  return (
    <div className="compare-eval-run" data-testid={`compare-eval-${run.id}`}>
      <h5 className="mono">
        <span className="swatch" style={{ background: runColor(index) }} />
        {shortId(run.id)}
      </h5>
      {body}
    </div>
  );
}

function Evaluations({ cmp }: { cmp: ComparisonResult }) {
  const nodes = evaluateNodes(cmp.pipeline);
  const [nodeId, setNodeId] = useState<string | null>(null);
  const chosen = nodeId && nodes.includes(nodeId) ? nodeId : (nodes[0] ?? null);
  if (!chosen) return null;
  // Reports of many runs are many charts: the first 6 are drawn.
  const runs = cmp.runs.slice(0, 6);
  return (
    <section className="compare-section" data-testid="compare-evaluations">
      <div className="compare-section-head">
        <h4>Evaluation</h4>
        {nodes.length > 1 && (
          <select
            className="field-input small-input"
            data-testid="compare-eval-node"
            value={chosen}
            onChange={(e) => setNodeId(e.target.value)}
            aria-label="Evaluate node"
          >
            {nodes.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        )}
        {cmp.runs.length > runs.length && (
          <span className="muted small">
            the first {runs.length} of {cmp.runs.length} runs
          </span>
        )}
      </div>
      <div className="compare-evals">
        {runs.map((r, i) => (
          <RunEvaluation key={r.id} run={r} index={i} nodeId={chosen} />
        ))}
      </div>
    </section>
  );
}

function Comparison({ cmp, tab }: { cmp: ComparisonResult; tab: CompareTab }) {
  const nodes = useMemo(() => pipelineNodes(cmp.pipeline), [cmp.pipeline]);
  if (tab === "complexity")
    return (
      <>
        <RunLegend runs={cmp.runs} />
        <ComplexityView cmp={cmp} nodes={nodes} />
      </>
    );
  return (
    <>
      <RunLegend runs={cmp.runs} />
      <div className="compare-top">
        <section className="compare-section">
          <h4>Params</h4>
          <ParamsTable cmp={cmp} nodes={nodes} />
        </section>
        <section className="compare-section">
          <h4>
            Pipeline{" "}
            <span className="muted small">
              {cmp.differingNodes.length
                ? `${cmp.differingNodes.length} node${cmp.differingNodes.length > 1 ? "s" : ""} with differing params`
                : "same params in every node"}
            </span>
          </h4>
          <CompareGraph pipeline={cmp.pipeline} differingNodes={cmp.differingNodes} />
        </section>
      </div>
      <MetricCharts cmp={cmp} nodes={nodes} />
      <Curves cmp={cmp} />
      <ParallelCoordinates cmp={cmp} />
      <Evaluations cmp={cmp} />
    </>
  );
}

export default function CompareView({ runIds }: { runIds: string[] }) {
  const key = useMemo(() => runIds.join(","), [runIds]);
  const loaded = useApi(() => api.compareRuns({ runIds }), key);
  const tab = useExperiments((s) => s.compareTab);
  const setTab = useExperiments.getState().setCompareTab;
  return (
    <div className="compare-view" data-testid="compare-view">
      <header className="compare-head">
        <button
          type="button"
          className="button"
          data-testid="compare-back"
          onClick={() => useExperiments.getState().compare(null)}
        >
          ← Runs
        </button>
        <h3>Comparing {runIds.length} runs</h3>
        <div className="compare-tabs" role="tablist" aria-label="Compare views">
          {(
            [
              ["overview", "Metrics & params"],
              ["complexity", "Complexity vs accuracy"],
            ] as const
          ).map(([id, label]) => (
            <button
              key={id}
              type="button"
              role="tab"
              className="button small"
              data-testid={`compare-tab-${id}`}
              aria-selected={tab === id}
              onClick={() => setTab(id)}
            >
              {label}
            </button>
          ))}
        </div>
      </header>
      {loaded.status === "loading" && <Loading>Comparing…</Loading>}
      {loaded.status === "error" && <div className="panel-error">{loaded.message}</div>}
      {loaded.status === "ok" && <Comparison cmp={loaded.value} tab={tab} />}
    </div>
  );
}
