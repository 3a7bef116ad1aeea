/**
 * An `evaluate` report (kind "evaluation", see nodes/evaluate.ts) as a
 * dashboard: key metrics, confusion matrix, ROC / PR / calibration curves or
 * residuals, per-class scores and, with groupBy, the per-group comparison.
 * Loaded on demand like the profile view, so recharts stays out of the first paint.
 */
import "./evaluation.css";
import type { Task } from "../../../../app/values/common";
import type { EvaluationReport } from "../../../../app/values/evaluation";
import { ConfusionMatrix } from "./ConfusionMatrix";
import { CalibrationChart, GroupBars, PrChart, ResidualsChart, RocChart } from "./charts";
import { metricName, num, parityText, pct } from "./format";

const KEY_METRICS: Record<Task, string[]> = {
  binary: ["accuracy", "f1", "roc_auc", "average_precision", "log_loss", "brier", "ece"],
  multiclass: ["accuracy", "f1_macro", "roc_auc", "log_loss", "brier", "ece"],
  regression: ["rmse", "mae", "r2", "bias"],
};

/** The per-group metrics charted: the ones the gaps compare. */
const GROUP_METRICS: Record<Task, string[]> = {
  binary: ["accuracy", "positive_rate", "true_positive_rate"],
  multiclass: ["accuracy", "f1_macro"],
  regression: ["rmse", "mae"],
};

const GAP_HELP: Record<string, string> = {
  demographic_parity_difference: "max − min of the positive-prediction rate across groups",
  demographic_parity_ratio:
    "min / max of the positive-prediction rate (below 0.8 fails the four-fifths rule)",
  equal_opportunity_difference: "max − min of the true positive rate across groups",
  accuracy_difference: "max − min of accuracy across groups",
  f1_macro_difference: "max − min of macro F1 across groups",
  rmse_difference: "max − min of RMSE across groups",
  mae_difference: "max − min of MAE across groups",
};

const SHARES = new Set(["accuracy", "positive_rate", "true_positive_rate", "false_positive_rate"]);

function MetricsStrip({ report }: { report: EvaluationReport }) {
  const keys = KEY_METRICS[report.task].filter((k) => k in report.metrics);
  return (
    <div className="eval-metrics" data-testid="evaluation-metrics">
      {keys.map((k) => {
        const v = report.metrics[k];
        return (
          <div key={k} className="eval-metric" data-testid={`metric-${k}`}>
            <div className="eval-metric-value">{SHARES.has(k) ? pct(v) : num(v)}</div>
            <div className="eval-metric-name">{metricName(k)}</div>
          </div>
        );
      })}
    </div>
  );
}

function PerClassTable({ report }: { report: EvaluationReport }) {
  const rows = report.perClass;
  if (!rows?.length) return null;
  const auc = rows.some((r) => r.rocAuc !== undefined);
  return (
    <table className="eval-table" data-testid="per-class-table">
      <thead>
        <tr>
          <th>class</th>
          <th>precision</th>
          <th>recall</th>
          <th>F1</th>
          {auc && <th>ROC AUC</th>}
          <th>support</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={String(r.label)}>
            <td>
              {String(r.label)}
              {report.positiveClass === r.label && <span className="eval-chip">positive</span>}
            </td>
            <td>{num(r.precision)}</td>
            <td>{num(r.recall)}</td>
            <td>{num(r.f1)}</td>
            {auc && <td>{num(r.rocAuc)}</td>}
            <td>{r.support.toLocaleString()}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function FairnessView({ report }: { report: EvaluationReport }) {
  const groups = report.groups;
  if (!groups) return null;
  const metrics = GROUP_METRICS[report.task];
  const shown = [...new Set([...KEY_METRICS[report.task], ...metrics])].filter((m) =>
    groups.rows.some((r) => m in r.metrics),
  );
  return (
    <section className="eval-section" data-testid="fairness-view">
      <h4>By {groups.column}</h4>
      <div className="eval-row">
        <GroupBars rows={groups.rows} metrics={metrics} />
        <div>
          <dl className="eval-gaps">
            {Object.entries(groups.gaps).map(([k, v]) => {
              const flagged = k === "demographic_parity_ratio" && v !== null && v < 0.8;
              return (
                <div key={k} title={GAP_HELP[k]} className={flagged ? "flagged" : undefined}>
                  <dt>{k.replaceAll("_", " ")}</dt>
                  <dd>
                    {num(v)}
                    {flagged ? " ⚠ below 0.8" : ""}
                  </dd>
                </div>
              );
            })}
          </dl>
          <table className="eval-table">
            <thead>
              <tr>
                <th>{groups.column}</th>
                <th>rows</th>
                {shown.map((m) => (
                  <th key={m}>{metricName(m)}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {groups.rows.map((r) => (
                <tr key={r.group ?? "\0null"}>
                  <td>{r.group ?? <i className="muted">(missing)</i>}</td>
                  <td>{r.n.toLocaleString()}</td>
                  {shown.map((m) => (
                    <td key={m}>{SHARES.has(m) ? pct(r.metrics[m]) : num(r.metrics[m])}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
    </section>
  );
}

export default function EvaluationView({ report }: { report: EvaluationReport }) {
  const parity = report.model.onnxParity;
  const classification = report.task !== "regression";
  return (
    <div className="evaluation-view" data-testid="evaluation-view">
      <div className="eval-summary">
        <span className="eval-chip task">{report.task}</span>
        <b>{report.model.estimator}</b> predicting <b className="mono">{report.target}</b> on{" "}
        <b>{report.rows.toLocaleString()}</b> rows
        {report.skippedRows > 0 && (
          <span className="muted"> ({report.skippedRows} without a target left out)</span>
        )}
        {report.task === "binary" && (
          <span className="muted">
            {" "}
            · positive class <b>{String(report.positiveClass)}</b> at threshold {num(report.threshold)}
          </span>
        )}
        {parity && (
          <span className="eval-parity" data-testid="onnx-parity">
            {parityText(parity)}
            {parity.on === "evaluation" ? " on these rows" : ""}
          </span>
        )}
      </div>
      <MetricsStrip report={report} />
      <div className="eval-row">
        {classification && report.confusion && (
          <figure className="eval-chart">
            <figcaption>Confusion matrix (shaded by row share)</figcaption>
            <ConfusionMatrix labels={report.confusion.labels} matrix={report.confusion.matrix} />
          </figure>
        )}
        {report.roc && <RocChart report={report} />}
        {report.pr && <PrChart report={report} />}
        {report.calibration && <CalibrationChart calibration={report.calibration} />}
        {report.residuals && <ResidualsChart residuals={report.residuals} />}
      </div>
      {classification && (
        <section className="eval-section">
          <h4>Per class</h4>
          <PerClassTable report={report} />
        </section>
      )}
      <FairnessView report={report} />
      <details className="eval-all-metrics">
        <summary>All metrics</summary>
        <dl className="eval-gaps">
          {Object.entries(report.metrics).map(([k, v]) => (
            <div key={k}>
              <dt>{k}</dt>
              <dd>{num(v, 4)}</dd>
            </div>
          ))}
        </dl>
      </details>
    </div>
  );
}
