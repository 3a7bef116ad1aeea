/** The compared pipeline, read-only, laid out as the editor's auto-layout does; nodes whose params differ are marked. */
import { useMemo } from "react";
import { splitEndpoint } from "../document/endpoints";
import { asEditableDocument } from "../document/shape";
import { edgePath, layoutPositions } from "../graph/layout";
import { ArrowMarker, SvgEdge } from "../graph/SvgEdge";

const NODE = { width: 150, height: 42 };

export function CompareGraph({
  pipeline,
  differingNodes,
}: {
  pipeline: Record<string, unknown> | null;
  differingNodes: string[];
}) {
  const doc = useMemo(() => asEditableDocument(pipeline), [pipeline]);
  const positions = useMemo(() => (doc ? layoutPositions(doc, () => NODE) : {}), [doc]);
  if (!doc) return <p className="muted small">The pipeline file of these runs was not recorded.</p>;
  const differs = new Set(differingNodes);
  const xs = Object.values(positions);
  const width = Math.max(...xs.map((p) => p.x + NODE.width), NODE.width) + 20;
  const height = Math.max(...xs.map((p) => p.y + NODE.height), NODE.height) + 20;
  return (
    <div className="compare-graph" data-testid="compare-graph">
      {/* Scaled to the panel's width, never above its natural size. */}
      <svg
        viewBox={`0 0 ${width} ${height}`}
        width="100%"
        style={{ maxWidth: width, maxHeight: 320 }}
        role="img"
        aria-label="The compared pipeline"
      >
        <ArrowMarker id="cg-arrow" />
        {doc.edges.map((e) => {
          const a = positions[splitEndpoint(e.from).node];
          const b = positions[splitEndpoint(e.to).node];
          if (!a || !b) return null;
          return <SvgEdge key={`${e.from}->${e.to}`} d={edgePath(a, b, NODE)} markerId="cg-arrow" />;
        })}
        {doc.nodes.map((n) => {
          const p = positions[n.id];
          if (!p) return null;
          const d = differs.has(n.id);
          return (
            <g
              key={n.id}
              transform={`translate(${p.x},${p.y})`}
              data-testid={`compare-graph-node-${n.id}`}
              data-differs={d ? "true" : "false"}
              className={d ? "cg-node differs" : "cg-node"}
            >
              <title>
                {d ? `${n.id}: its params differ between the runs` : `${n.id}: same params in every run`}
              </title>
              <rect width={NODE.width} height={NODE.height} rx={7} />
              <text x={10} y={17} className="cg-id">
                {n.id}
              </text>
              <text x={10} y={32} className="cg-block">
                {n.block}
                {d ? " · params differ" : ""}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
