/**
 * The Lineage view (lineageGraph): datasets → runs → model versions →
 * deployments, left to right, with the retraining loop's alerts between the
 * version that was serving and the run that retrained it, fitted to the panel on open (Fit again, +/−,
 * the wheel to zoom about the pointer, a drag to pan); version nodes show
 * their aliases. A click on a node shows what is known of it in words, its
 * hashes short with a copy button, its neighbours one click away; a run or a
 * version opens in its own view from there.
 */
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import type { LineageGraph, LineageNodeKind } from "../../../app/api/api";
import { api } from "../api/client";
import { shortId } from "../experiments/format";
import { showRun } from "../experiments/showRun";
import { ArrowMarker, SvgEdge } from "../graph/SvgEdge";
import { useModels } from "../models/store";
import { showMonitoring } from "../monitoring/store";
import { useApi } from "../panels/useApi";
import { copyText } from "../services/copyText";
import { Loading } from "../shell/Loading";
import { useUi } from "../store/ui";
import { aliasesOf, type Fact, metricFacts, nodeFacts } from "./detail";
import {
  fitTransform,
  LINEAGE_NODE,
  type LineageLayout,
  layoutLineage,
  type ViewTransform,
  zoomAt,
} from "./layout";
import "./lineage.css";

const KIND_LABEL: Record<LineageNodeKind, string> = {
  dataset: "dataset",
  run: "run",
  modelVersion: "model version",
  deployment: "deployment",
  alert: "alert",
  featureService: "feature service",
};

type LineageNode = LineageGraph["nodes"][number];

function FactValue({ fact, onSelect }: { fact: Fact; onSelect(id: string): void }) {
  if (fact.kind === "hash")
    return (
      <span className="lineage-hash">
        <span className="mono" title={fact.full} data-testid="lineage-hash">
          {fact.text}
        </span>
        <button
          type="button"
          className="button small lineage-copy"
          aria-label={`Copy the whole ${fact.label.toLowerCase()}`}
          title="Copy the whole hash"
          data-testid="lineage-copy-hash"
          onClick={() => copyText(fact.full, fact.label)}
        >
          Copy
        </button>
      </span>
    );
  if (fact.kind === "run")
    return (
      <button type="button" className="link-button mono" onClick={() => showRun(fact.runId)}>
        {fact.text}
      </button>
    );
  if (fact.kind === "nodes")
    return (
      <span className="lineage-links">
        {fact.nodes.map((n) => (
          <button key={n.id} type="button" className="link-button" onClick={() => onSelect(n.id)}>
            {n.label}
          </button>
        ))}
      </span>
    );
  return <>{fact.text}</>;
}

function NodeDetail({
  node,
  graph,
  onSelect,
  onClose,
}: {
  node: LineageNode;
  graph: LineageGraph;
  onSelect(id: string): void;
  onClose(): void;
}) {
  const runId = typeof node.detail.runId === "string" ? node.detail.runId : null;
  const model = typeof node.detail.name === "string" ? node.detail.name : null;
  const str = (v: unknown) => (typeof v === "string" ? v : null);
  const watched =
    node.kind === "alert" && str(node.detail.target) && str(node.detail.model)
      ? { target: str(node.detail.target)!, model: str(node.detail.model)! }
      : null;
  const facts = nodeFacts(node, graph);
  const metrics = metricFacts(node);
  return (
    <aside className="run-detail lineage-detail" data-testid="lineage-detail">
      <header className="detail-head">
        <h3>
          <span className={`lineage-kind kind-${node.kind}`}>{KIND_LABEL[node.kind]}</span>{" "}
          {nodeText(node).label}
        </h3>
        <button type="button" className="icon-button" aria-label="Close" onClick={onClose}>
          ×
        </button>
      </header>
      <dl className="kv lineage-facts-list">
        {facts.map((f) => (
          <div key={f.label} data-testid="lineage-fact">
            <dt>{f.label}</dt>
            <dd>
              <FactValue fact={f} onSelect={onSelect} />
            </dd>
          </div>
        ))}
      </dl>
      {metrics.length > 0 && (
        <>
          <h4 className="lineage-subhead">Metrics at registration</h4>
          <dl className="kv">
            {metrics.map((m) => (
              <div key={m.key}>
                <dt className="mono">{m.key}</dt>
                <dd className="mono">{m.text}</dd>
              </div>
            ))}
          </dl>
        </>
      )}
      <div className="lineage-actions">
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
        {watched && (
          <button
            type="button"
            className="button small"
            data-testid="lineage-open-monitoring"
            onClick={() => showMonitoring(watched.target, watched.model)}
          >
            Open in Monitoring
          </button>
        )}
      </div>
    </aside>
  );
}

/**
 * A run reads as its pipeline, with its short id beside the kind; an alert as
 * its monitor and stage, with its loop's number; other nodes as the core
 * labels them.
 */
function nodeText(n: LineageNode): { kind: string; id?: string; label: string } {
  if (n.kind === "alert" && typeof n.detail.monitor === "string")
    return {
      kind: "alert",
      id: typeof n.detail.loop === "number" ? `#${n.detail.loop}` : undefined,
      label: `${n.detail.monitor} · ${typeof n.detail.stage === "string" ? n.detail.stage.replace(/-/g, " ") : "?"}`,
    };
  if (n.kind === "run" && typeof n.detail.runId === "string")
    return {
      kind: "run",
      id: shortId(n.detail.runId),
      label: typeof n.detail.pipeline === "string" ? n.detail.pipeline : n.label,
    };
  return { kind: KIND_LABEL[n.kind], label: n.label };
}

/** The panel's size, followed as it resizes. */
function useSize(ref: React.RefObject<HTMLElement | null>): { width: number; height: number } | null {
  const [size, setSize] = useState<{ width: number; height: number } | null>(null);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const read = () => setSize({ width: el.clientWidth, height: el.clientHeight });
    read();
    const observer = new ResizeObserver(read);
    observer.observe(el);
    return () => observer.disconnect();
  }, [ref]);
  return size;
}

/** Alias chips drawn on a version node, right-aligned on its kind line. */
function aliasText(n: LineageNode): string {
  const aliases = aliasesOf(n);
  if (!aliases.length) return "";
  const text = aliases.join(" · ");
  return text.length > 22 ? `${text.slice(0, 21)}…` : text;
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
  const box = useRef<HTMLDivElement>(null);
  const size = useSize(box);
  const [view, setView] = useState<ViewTransform | null>(null);
  const drag = useRef<{ x: number; y: number; view: ViewTransform } | null>(null);
  const fitToView = useCallback(() => {
    if (size) setView(fitTransform(layout, size));
  }, [layout, size]);
  // Fitted on open, for each new graph, and as the panel resizes until the user zooms or pans.
  const touched = useRef(false);
  const fittedLayout = useRef<LineageLayout | null>(null);
  useEffect(() => {
    if (!size) return;
    if (fittedLayout.current !== layout) touched.current = false;
    fittedLayout.current = layout;
    if (!touched.current) setView(fitTransform(layout, size));
  }, [layout, size]);
  const change = (next: ViewTransform) => {
    touched.current = true;
    setView(next);
  };
  const t = view ?? { x: 0, y: 0, k: 1 };
  const centre = () => ({ x: (size?.width ?? 0) / 2, y: (size?.height ?? 0) / 2 });
  // React's onWheel is passive: a native listener may prevent the page from scrolling while zooming.
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const onWheel = (e: WheelEvent) => {
      e.preventDefault();
      const r = el.getBoundingClientRect();
      touched.current = true;
      setView((v) =>
        zoomAt(v ?? { x: 0, y: 0, k: 1 }, Math.exp(-e.deltaY * 0.0015), {
          x: e.clientX - r.left,
          y: e.clientY - r.top,
        }),
      );
    };
    el.addEventListener("wheel", onWheel, { passive: false });
    return () => el.removeEventListener("wheel", onWheel);
  }, []);
  return (
    <div
      className="lineage-canvas lineage-zoom"
      ref={box}
      data-testid="lineage-canvas"
      data-zoom={t.k.toFixed(3)}
      onPointerDown={(e) => {
        if ((e.target as Element).closest(".lg-node, button") || e.button !== 0) return;
        drag.current = { x: e.clientX, y: e.clientY, view: t };
        (e.currentTarget as HTMLElement).setPointerCapture?.(e.pointerId);
      }}
      onPointerMove={(e) => {
        const d = drag.current;
        if (!d) return;
        change({ ...d.view, x: d.view.x + e.clientX - d.x, y: d.view.y + e.clientY - d.y });
      }}
      onPointerUp={() => {
        drag.current = null;
      }}
    >
      <div className="lineage-zoom-buttons">
        <button
          type="button"
          className="button small"
          data-testid="lineage-fit"
          title="Show the whole graph"
          onClick={() => {
            touched.current = false;
            fitToView();
          }}
        >
          Fit
        </button>
        <button
          type="button"
          className="button small"
          data-testid="lineage-zoom-in"
          aria-label="Zoom in"
          onClick={() => change(zoomAt(t, 1.25, centre()))}
        >
          +
        </button>
        <button
          type="button"
          className="button small"
          data-testid="lineage-zoom-out"
          aria-label="Zoom out"
          onClick={() => change(zoomAt(t, 0.8, centre()))}
        >
          −
        </button>
      </div>
      <svg width="100%" height="100%" role="img" aria-label="Lineage graph">
        <ArrowMarker id="lg-arrow" />
        <g transform={`translate(${t.x},${t.y}) scale(${t.k})`} data-testid="lineage-graph">
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
            const { kind, id, label } = nodeText(n);
            const aliases = n.kind === "modelVersion" ? aliasText(n) : "";
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
                data-aliases={aliasesOf(n).join(",")}
                onClick={() => onSelect(n.id)}
                onKeyDown={(e) => (e.key === "Enter" || e.key === " ") && onSelect(n.id)}
              >
                <title>{`${n.kind === "alert" ? n.label : `${KIND_LABEL[n.kind]}: ${n.label}`}${aliases ? ` (${aliasesOf(n).join(", ")})` : ""}`}</title>
                <rect width={LINEAGE_NODE.width} height={LINEAGE_NODE.height} rx={8} />
                <text x={10} y={18} className="lg-kind">
                  {kind}
                  {/* The run id as it is written elsewhere: not upper-cased with the kind. */}
                  {id && <tspan className="lg-id">{` ${id}`}</tspan>}
                </text>
                {aliases && (
                  <text x={LINEAGE_NODE.width - 8} y={18} textAnchor="end" className="lg-alias">
                    {aliases}
                  </text>
                )}
                <text x={10} y={36} className="lg-label">
                  {label.length > 26 ? `${label.slice(0, 25)}…` : label}
                </text>
              </g>
            );
          })}
        </g>
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
          <span className="muted small">
            dataset → run → model version → deployment · alert → retraining run · feature service → model
            version
          </span>
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
      {node && loaded.status === "ok" && (
        <NodeDetail
          node={node}
          graph={loaded.value}
          onSelect={setSelected}
          onClose={() => setSelected(null)}
        />
      )}
    </div>
  );
}
