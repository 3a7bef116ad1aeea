/**
 * An `evaluate` report (kind "evaluation", see nodes/evaluate.ts) as a
 * dashboard: key metrics, confusion matrix, ROC / PR / calibration curves or
 * residuals, per-class scores and, with groupBy, the per-group comparison
 * (FairnessView.tsx).
 * Loaded on demand like the profile view, so recharts stays out of the first paint.
 */
import "./evaluation.css";
import type { Task } from "../../../../app/values/common";
import type { EvaluationReport } from "../../../../app/values/evaluation";
import { ConfusionMatrix } from "./ConfusionMatrix";
import { CalibrationChart, PrChart, ResidualsChart, RocChart } from "./charts";
import { FairnessView } from "./FairnessView";
import { metricName, num, parityText, pct } from "./format";

const KEY_METRICS: Record<Task, string[]> = {
  binary: ["accuracy", "f1", "roc_auc", "average_precision", "log_loss", "brier", "ece"],
  multiclass: ["accuracy", "f1_macro", "roc_auc", "log_loss", "brier", "ece"],
  regression: ["rmse", "mae", "r2", "bias"],
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
