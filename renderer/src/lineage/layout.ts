/** Lays a lineage graph out left to right with dagre, as the editor's auto-layout does. */
import { Graph, layout } from "@dagrejs/dagre";
import type { LineageGraph } from "../../../app/api/api";
import { edgePath } from "../graph/layout";

export const LINEAGE_NODE = { width: 190, height: 50 };

export interface PlacedNode {
  id: string;
  x: number;
  y: number;
}

export interface LineageLayout {
  nodes: Map<string, PlacedNode>;
  /** Edges whose two ends exist, as cubic paths from the right of one node to the left of the other. */
  edges: { from: string; to: string; path: string }[];
  width: number;
  height: number;
}

export function layoutLineage(graph: LineageGraph): LineageLayout {
  const g = new Graph({ multigraph: true });
  g.setGraph({ rankdir: "LR", nodesep: 18, ranksep: 80, marginx: 16, marginy: 16 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of graph.nodes) g.setNode(n.id, { ...LINEAGE_NODE });
  const ids = new Set(graph.nodes.map((n) => n.id));
  const kept = graph.edges.filter((e) => ids.has(e.from) && ids.has(e.to) && e.from !== e.to);
  kept.forEach((e, i) => {
    g.setEdge(e.from, e.to, {}, String(i));
  });
  layout(g);
  const nodes = new Map<string, PlacedNode>();
  let width = 0;
  let height = 0;
  for (const n of graph.nodes) {
    const p = g.node(n.id) as { x: number; y: number };
    const placed = { id: n.id, x: p.x - LINEAGE_NODE.width / 2, y: p.y - LINEAGE_NODE.height / 2 };
    nodes.set(n.id, placed);
    width = Math.max(width, placed.x + LINEAGE_NODE.width + 16);
    height = Math.max(height, placed.y + LINEAGE_NODE.height + 16);
  }
  const edges = kept.map((e) => ({
    ...e,
    path: edgePath(nodes.get(e.from)!, nodes.get(e.to)!, LINEAGE_NODE),
  }));
  return { nodes, edges, width, height };
}
