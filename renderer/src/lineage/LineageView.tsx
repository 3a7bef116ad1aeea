/**
 * The Lineage view (lineageGraph): datasets → runs → model versions →
 * deployments, left to right. A click on a node shows what is known of it;
 * a run or a version opens in its own view from there.
 */
import { useMemo, useState } from "react";
import type { LineageGraph, LineageNodeKind } from "../../../app/api/api";
import { api } from "../api/client";
import { formatValue, shortId } from "../experiments/format";
import { showRun } from "../experiments/showRun";
import { ArrowMarker, SvgEdge } from "../graph/SvgEdge";
import { useModels } from "../models/store";
import { useApi } from "../panels/useApi";
import { Loading } from "../shell/Loading";
import { useUi } from "../store/ui";
import { LINEAGE_NODE, layoutLineage } from "./layout";

const KIND_LABEL: Record<LineageNodeKind, string> = {
  dataset: "dataset",
  run: "run",
  modelVersion: "model version",
  deployment: "deployment",
};

type LineageNode = LineageGraph["nodes"][number];

function NodeDetail({ node, onClose }: { node: LineageNode; onClose(): void }) {
  const runId = typeof node.detail.runId === "string" ? node.detail.runId : null;
  const model = typeof node.detail.name === "string" ? node.detail.name : null;
  return (
    <aside className="run-detail lineage-detail" data-testid="lineage-detail">
      <header className="detail-head">
        <h3>
          <span className={`lineage-kind kind-${node.kind}`}>{KIND_LABEL[node.kind]}</span> {node.label}
        </h3>
        <button type="button" className="icon-button" aria-label="Close" onClick={onClose}>
          ×
        </button>
      </header>
      <dl className="kv">
        {Object.entries(node.detail).map(([k, v]) => (
          <div key={k}>
            <dt className="mono">{k}</dt>
            <dd className="mono">{formatValue(v)}</dd>
          </div>
        ))}
      </dl>
      {runId && (
        <button
          type="button"
          className="button small"
          data-testid="lineage-open-run"
          onClick={() => showRun(runId)}
        >
          Open the run
        </button>
      )}
      {node.kind === "modelVersion" && model && (
        <button
          type="button"
          className="button small"
          data-testid="lineage-open-model"
          onClick={() => {
            useModels.getState().choose(model);
            useUi.getState().setView("models");
          }}
        >
          Open in Models
        </button>
      )}
    </aside>
  );
}

/** A run reads as its pipeline, with its short id beside the kind; other nodes as the core labels them. */
function nodeText(n: LineageNode): { kind: string; label: string } {
  if (n.kind === "run" && typeof n.detail.runId === "string")
    return {
      kind: `run ${shortId(n.detail.runId)}`,
      label: typeof n.detail.pipeline === "string" ? n.detail.pipeline : n.label,
    };
  return { kind: KIND_LABEL[n.kind], label: n.label };
}

function Graph({
  graph,
  selected,
  onSelect,
}: {
  graph: LineageGraph;
  selected: string | null;
  onSelect(id: string): void;
}) {
  const layout = useMemo(() => layoutLineage(graph), [graph]);
  return (
    <div className="lineage-canvas">
      <svg width={layout.width} height={layout.height} role="img" aria-label="Lineage graph">
        <ArrowMarker id="lg-arrow" />
        {layout.edges.map((e) => (
          <SvgEdge
            key={`${e.from}->${e.to}`}
            d={e.path}
            markerId="lg-arrow"
            stroke={selected && (e.from === selected || e.to === selected) ? "#2f6fd1" : undefined}
          />
        ))}
        {graph.nodes.map((n) => {
          const p = layout.nodes.get(n.id)!;
          const { kind, label } = nodeText(n);
          return (
            // biome-ignore lint/a11y/useSemanticElements: an SVG group cannot be a <button>
            <g
              key={n.id}
              role="button"
              tabIndex={0}
              transform={`translate(${p.x},${p.y})`}
              className={`lg-node kind-${n.kind}${selected === n.id ? " selected" : ""}`}
              data-testid={`lineage-node-${n.id}`}
              data-kind={n.kind}
              onClick={() => onSelect(n.id)}
              onKeyDown={(e) => (e.key === "Enter" || e.key === " ") && onSelect(n.id)}
            >
              <title>{`${KIND_LABEL[n.kind]}: ${n.label}`}</title>
              <rect width={LINEAGE_NODE.width} height={LINEAGE_NODE.height} rx={8} />
              <text x={10} y={18} className="lg-kind">
                {kind}
              </text>
              <text x={10} y={36} className="lg-label">
                {label.length > 26 ? `${label.slice(0, 25)}…` : label}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}

export function LineageView() {
  const [model, setModel] = useState("");
  const [selected, setSelected] = useState<string | null>(null);
  const models = useApi(() => api.listModels({}), "lineage-models");
  const loaded = useApi(() => api.lineageGraph(model ? { model } : {}), `lineage:${model}`);
  const node = loaded.status === "ok" ? loaded.value.nodes.find((n) => n.id === selected) : undefined;
  return (
    <div className="lineage-view" data-testid="lineage-view">
      <div className="lineage-main">
        <div className="runs-toolbar">
          <select
            className="field-input small-input"
            data-testid="lineage-model"
            value={model}
            onChange={(e) => {
              setModel(e.target.value);
              setSelected(null);
            }}
            aria-label="Model"
          >
            <option value="">All models</option>
            {models.status === "ok" &&
              models.value.map((m) => (
                <option key={m.name} value={m.name}>
                  {m.name}
                </option>
              ))}
          </select>
          <span className="muted small">dataset → run → model version → deployment</span>
        </div>
        {loaded.status === "loading" && <Loading>Tracing lineage…</Loading>}
        {loaded.status === "error" && <div className="panel-error">{loaded.message}</div>}
        {loaded.status === "ok" &&
          (loaded.value.nodes.length ? (
            <Graph graph={loaded.value} selected={selected} onSelect={setSelected} />
          ) : (
            <div className="view-empty" data-testid="lineage-empty">
              <h3>No lineage yet</h3>
              <p className="muted">
                Lineage starts when a model is registered: run a pipeline with a{" "}
                <span className="mono">register</span> block, and its datasets, run and version show here.
              </p>
            </div>
          ))}
      </div>
      {node && <NodeDetail node={node} onClose={() => setSelected(null)} />}
    </div>
  );
}
