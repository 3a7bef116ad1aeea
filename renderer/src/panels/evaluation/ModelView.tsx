/**
 * A `model` port value (`dagwood.model/1`, see app/ml/model.ts) as a readable
 * summary: what it predicts, its signature, the fitted preprocessing, the
 * ONNX export and its parity, the params, and the training curve of the run.
 */
import "./evaluation.css";
import { useState } from "react";
import type {
  CategoricalFeatureSpec,
  DatePartSpec,
  ModelSummary,
  NumericFeatureSpec,
} from "../../../../app/values/model";
import { useApi } from "../useApi";
import { LossChart } from "./charts";
import { bytes, num } from "./format";
import { loadLossCurve } from "./loss";
import { modelParityText, trainedRowsText } from "./modelText";

function shape(s: number[]): string {
  return `[${s.map((d) => (d === -1 ? "n" : d)).join(", ")}]`;
}

function paramValue(v: unknown): string {
  if (Array.isArray(v)) return v.map(String).join(", ");
  if (v !== null && typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** "median → 2012" per part, or one text when every part is alike. */
function partsText(parts: DatePartSpec[], of: (p: DatePartSpec) => string): string {
  const texts = parts.map(of);
  return texts.every((t) => t === texts[0])
    ? texts[0]!
    : parts.map((p, i) => `${p.part}: ${texts[i]}`).join("; ");
}

function FeatureRow({ f }: { f: NumericFeatureSpec | CategoricalFeatureSpec }) {
  if (f.kind === "numeric" && f.dateParts) {
    const parts = f.dateParts;
    return (
      <tr data-testid={`model-feature-${f.name}`}>
        <td className="mono">{f.name}</td>
        <td>
          <span className="kind-chip kind-temporal">date parts</span>{" "}
          <span className="muted mono small">{f.sourceType}</span>
        </td>
        <td>
          {partsText(parts, (p) =>
            p.impute ? `${p.impute.strategy} → ${Number(p.impute.value.toPrecision(6))}` : "left missing",
          )}
        </td>
        <td>
          {parts.map((p) => p.part).join(", ")}
          <div className="muted small">UTC; weekday 1 = Monday … 7 = Sunday</div>
        </td>
        <td>{partsText(parts, (p) => (p.scale ? p.scale.kind : "none"))}</td>
      </tr>
    );
  }
  if (f.kind === "numeric") {
    return (
      <tr>
        <td className="mono">{f.name}</td>
        <td>
          <span className="kind-chip kind-numeric">numeric</span>{" "}
          <span className="muted mono small">{f.sourceType}</span>
        </td>
        <td>
          {f.impute ? (
            `${f.impute.strategy} → ${num(f.impute.value, 4)}`
          ) : (
            <span className="muted">left missing</span>
          )}
        </td>
        <td className="muted">—</td>
        <td>
          {f.scale ? (
            `${f.scale.kind}: (x − ${num(f.scale.offset, 4)}) × ${num(f.scale.scale, 4)}`
          ) : (
            <span className="muted">none</span>
          )}
        </td>
      </tr>
    );
  }
  const shown = f.categories.slice(0, 6).join(", ");
  const more = f.categories.length > 6 ? ` … +${f.categories.length - 6}` : "";
  return (
    <tr>
      <td className="mono">{f.name}</td>
      <td>
        <span className="kind-chip kind-categorical">categorical</span>{" "}
        <span className="muted mono small">{f.sourceType}</span>
      </td>
      <td className="muted">NULL → missing</td>
      <td title={f.categories.join(", ")}>
        {f.encoding}, {f.categories.length} categories{f.otherCode !== null ? " + other" : ""}
        <div className="muted small">
          {shown}
          {more}
        </div>
      </td>
      <td className="muted">—</td>
    </tr>
  );
}

function LossCurve({ runId, nodeId }: { runId: string; nodeId: string }) {
  const loaded = useApi(() => loadLossCurve(runId, nodeId), `${runId}:${nodeId}:loss`);
  if (loaded.status === "loading") return <p className="muted small">Loading the training curve…</p>;
  if (loaded.status === "error") return null;
  if (!loaded.value) return <p className="muted small">No training curve recorded for this model.</p>;
  const { points, runId: from } = loaded.value;
  const last = points[points.length - 1];
  return (
    <section className="eval-section" data-testid="loss-chart">
      <h4>
        Training loss{" "}
        <span className="muted small">
          {points.length} steps · final train {num(last?.train_loss, 4)}
          {last?.valid_loss !== undefined ? `, validation ${num(last.valid_loss, 4)}` : ""}
          {from !== runId ? ` · from run ${from}, where it was trained` : ""}
        </span>
      </h4>
      <LossChart points={points} />
    </section>
  );
}

export default function ModelView({
  model,
  runId,
  nodeId,
}: {
  model: ModelSummary;
  runId: string;
  nodeId: string;
}) {
  const [raw, setRaw] = useState(false);
  const features = model.preprocess.features;
  const dropped = model.preprocess.dropped;
  const params = Object.entries(model.params);
  return (
    <div className="evaluation-view model-view" data-testid="model-view">
      <div className="eval-summary">
        <span className="eval-chip task">{model.task}</span>
        <b>{model.estimator}</b> predicting <b className="mono">{model.target}</b>
        {model.targetType && <span className="muted mono small"> {model.targetType}</span>}
        {model.trainedRows !== undefined && (
          <span className="muted" data-testid="model-trained-rows">
            {" "}
            · {trainedRowsText(model)}
          </span>
        )}
        <button
          type="button"
          className="eval-raw-toggle"
          data-testid="model-raw-toggle"
          onClick={() => setRaw(!raw)}
        >
          {raw ? "Summary" : "Raw JSON"}
        </button>
      </div>
      {raw ? (
        <pre className="json-view" data-testid="model-json">
          {JSON.stringify(model, null, 2)}
        </pre>
      ) : (
        <>
          {model.classes && (
            <div className="model-classes">
              <span className="muted">classes</span>
              {model.classes.map((c, i) => (
                <span key={String(c)} className="eval-chip">
                  {String(c)}
                  {model.task === "binary" && i === 1 ? " (positive)" : ""}
                </span>
              ))}
            </div>
          )}
          {model.onnx && (
            <div className="model-onnx" data-testid="model-onnx">
              <b>ONNX</b> <span className="mono">{model.onnx.file}</span>{" "}
              <span className="muted">
                {bytes(model.onnx.bytes)}
                {model.onnx.opsets &&
                  ` · opsets ${Object.entries(model.onnx.opsets)
                    .map(([d, v]) => `${d || "ai.onnx"} ${v}`)
                    .join(", ")}`}
              </span>
              {model.onnx.parity && (
                <div className="eval-parity" data-testid="model-parity">
                  {modelParityText(model.onnx.parity, model.trainedRows)}
                </div>
              )}
            </div>
          )}
          <div className="eval-row">
            {model.signature && (
              <section className="eval-section">
                <h4>Signature</h4>
                <table className="eval-table" data-testid="model-signature">
                  <thead>
                    <tr>
                      <th />
                      <th>tensor</th>
                      <th>dtype</th>
                      <th>shape</th>
                      <th>column</th>
                      <th>used as</th>
                    </tr>
                  </thead>
                  <tbody>
                    {model.signature.inputs.map((t, i) => (
                      <tr key={`in-${t.name}`}>
                        <td className="muted">{i === 0 ? "inputs" : ""}</td>
                        <td className="mono">{t.name}</td>
                        <td className="mono">{t.dtype}</td>
                        <td className="mono">{shape(t.shape)}</td>
                        <td className="muted">{[t.sourceType, t.unit].filter(Boolean).join(", ")}</td>
                        <td className="muted" data-testid={`model-input-use-${t.name}`}>
                          {t.use ?? ""}
                        </td>
                      </tr>
                    ))}
                    {model.signature.outputs.map((t, i) => (
                      <tr key={`out-${t.name}`} className={i === 0 ? "first-output" : undefined}>
                        <td className="muted">{i === 0 ? "outputs" : ""}</td>
                        <td className="mono">{t.name}</td>
                        <td className="mono">{t.dtype}</td>
                        <td className="mono">{shape(t.shape)}</td>
                        <td />
                        <td />
                      </tr>
                    ))}
                  </tbody>
                </table>
              </section>
            )}
            <LossCurve runId={runId} nodeId={nodeId} />
          </div>
          {features.length > 0 && (
            <section className="eval-section">
              <h4>Preprocessing (fitted on the training rows)</h4>
              <table className="eval-table" data-testid="model-preprocess">
                <thead>
                  <tr>
                    <th>feature</th>
                    <th>kind</th>
                    <th>impute</th>
                    <th>encode</th>
                    <th>scale</th>
                  </tr>
                </thead>
                <tbody>
                  {features.map((f) => (
                    <FeatureRow key={f.name} f={f} />
                  ))}
                </tbody>
              </table>
              {dropped.length > 0 && (
                <ul className="model-dropped small">
                  {dropped.map((d) => (
                    <li key={d.name}>
                      <span className="mono">{d.name}</span> dropped: {d.reason}
                    </li>
                  ))}
                </ul>
              )}
            </section>
          )}
          {params.length > 0 && (
            <section className="eval-section">
              <h4>Params</h4>
              <dl className="eval-gaps model-params" data-testid="model-params">
                {params.map(([k, v]) => (
                  <div key={k}>
                    <dt>{k}</dt>
                    <dd title={paramValue(v)}>{paramValue(v)}</dd>
                  </div>
                ))}
              </dl>
            </section>
          )}
        </>
      )}
    </div>
  );
}
