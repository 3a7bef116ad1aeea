/**
 * An `explain` report (kind "explanation", see nodes/explain.ts): permutation
 * importance with its spread over the repeats, the model's own importance
 * (split gain or standardized coefficients) and partial dependence on the most
 * important columns. Loaded on demand like the evaluation view, so recharts
 * stays out of the first paint.
 */
import "./evaluation.css";
import "./explanation.css";
import { useState } from "react";
import type { ExplanationReport } from "../../../../app/values/explanation";
import {
  finiteValues,
  ModelImportanceChart,
  PdChart,
  PermutationChart,
  pdSeries,
  permutationRows,
} from "./explainCharts";
import { COLORS, metricName, num } from "./format";

/** Bars shown before "show all". */
const TOP = 15;

const MODEL_IMPORTANCE = {
  splitGain: {
    title: "split gain",
    help: "The model's own view: each column's share of the gain of all the trees' splits on it.",
    axis: "share of total split gain",
  },
  coefficients: {
    title: "coefficients",
    help: "The model's own view: |coefficient| on standardized features, one-hot columns summed, multiclass averaged over the classes.",
    axis: "|coefficient| (standardized)",
  },
} as const;

export default function ExplanationView({ report }: { report: ExplanationReport }) {
  const [all, setAll] = useState(false);
  const { metric } = report;
  const rows = permutationRows(report.permutation);
  const unscored = report.permutation.filter((f) => f.mean === null || !Number.isFinite(f.mean));
  const shown = all ? rows : rows.slice(0, TOP);
  const repeats = Math.max(0, ...report.permutation.map((f) => f.repeats.length));
  const importanceAxis =
    metric.importance === "increase"
      ? `increase of ${metricName(metric.name).toLowerCase()} when shuffled`
      : `drop of ${metricName(metric.name)} when shuffled`;

  const kind = report.modelImportance;
  const modelValues =
    kind === "coefficients" ? report.coefficients : kind === "splitGain" ? report.splitGain : undefined;
  // "none" (a network) has no chart; a kind this view does not know yet is charted under its own name.
  const modelInfo =
    kind === "none"
      ? null
      : (MODEL_IMPORTANCE[kind] ?? { title: String(kind), help: "", axis: "importance" });

  const classification = report.task !== "regression";
  const classes = report.classes?.map(String);
  const pds = report.partialDependence.map((pd) => ({ pd, series: pdSeries(pd, classes) }));
  const scale = classification ? undefined : pds.flatMap(({ series }) => finiteValues(series));
  const legend = classification ? (pds[0]?.series.map((s) => s.name) ?? classes ?? []) : [];

  return (
    <div className="evaluation-view explanation-view" data-testid="explanation-view">
      <div className="eval-summary">
        <span className="eval-chip task">{report.task}</span>
        <b>{report.model.estimator}</b> predicting <b className="mono">{report.target}</b>, explained on{" "}
        <b>{report.rows.toLocaleString()}</b> rows
        {report.availableRows > report.rows && (
          <span className="muted"> (a seeded sample of {report.availableRows.toLocaleString()})</span>
        )}
        <span className="muted">
          {" "}
          · baseline {metricName(metric.name)} <b>{num(metric.baseline, 4)}</b>
        </span>
      </div>

      <div className="eval-row">
        <figure className="eval-chart" data-testid="importance-chart">
          <figcaption>
            Permutation importance{" "}
            <span className="explain-help">
              mean ± std over {repeats} shuffle{repeats === 1 ? "" : "s"}
            </span>
          </figcaption>
          {rows.length > 0 ? (
            <PermutationChart rows={shown} axisLabel={importanceAxis} />
          ) : (
            <p className="muted small">No column could be scored.</p>
          )}
          {rows.length > TOP && (
            <button type="button" className="eval-raw-toggle" onClick={() => setAll(!all)}>
              {all ? `Show the top ${TOP}` : `Show all ${rows.length} columns`}
            </button>
          )}
          {unscored.length > 0 && (
            <p className="muted small explain-note">
              Not scored (undefined {metricName(metric.name)}): {unscored.map((f) => f.feature).join(", ")}
            </p>
          )}
        </figure>
        {modelInfo && modelValues && modelValues.length > 0 && (
          <figure className="eval-chart" data-testid="model-importance-chart" data-kind={kind}>
            <figcaption>Model importance: {modelInfo.title}</figcaption>
            <ModelImportanceChart
              values={modelValues}
              order={shown.map((r) => r.feature)}
              share={kind === "splitGain"}
              axisLabel={modelInfo.axis}
            />
            {modelInfo.help && <p className="muted small explain-note">{modelInfo.help}</p>}
          </figure>
        )}
      </div>

      <section className="eval-section">
        <h4>
          Partial dependence{" "}
          <span className="explain-help">
            {classification
              ? "mean predicted probability of each class with the column set to each value, all else as in the data"
              : `mean predicted ${report.target} with the column set to each value, all else as in the data (one y range for all)`}
          </span>
        </h4>
        {legend.length > 0 && (
          <ul className="eval-legend explain-legend">
            {legend.map((name, i) => (
              <li key={name}>
                <span className="swatch" style={{ background: COLORS[i % COLORS.length] }} />
                {name}
              </li>
            ))}
          </ul>
        )}
        {pds.length > 0 ? (
          <div className="eval-row">
            {pds.map(({ pd, series }) => (
              <PdChart
                key={pd.feature}
                pd={pd}
                series={series}
                probability={classification}
                scale={scale}
                yLabel={classification ? "mean probability" : "mean prediction"}
              />
            ))}
          </div>
        ) : (
          <p className="muted small">None computed (topK is 0).</p>
        )}
      </section>
    </div>
  );
}
