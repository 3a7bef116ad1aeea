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

/** A view of the graph: screen = graph × k + (x, y). */
export interface ViewTransform {
  x: number;
  y: number;
  k: number;
}

export const MIN_ZOOM = 0.2;
export const MAX_ZOOM = 2.5;

const clampZoom = (k: number) => Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, k));

/**
 * The transform that shows the whole graph centred in a viewport, never
 * enlarged past 1 (a small graph keeps its size) nor shrunk below MIN_ZOOM.
 */
export function fitTransform(
  size: { width: number; height: number },
  viewport: { width: number; height: number },
  padding = 12,
): ViewTransform {
  const w = Math.max(viewport.width - 2 * padding, 1);
  const h = Math.max(viewport.height - 2 * padding, 1);
  const k = clampZoom(Math.min(1, w / Math.max(size.width, 1), h / Math.max(size.height, 1)));
  return { k, x: (viewport.width - size.width * k) / 2, y: (viewport.height - size.height * k) / 2 };
}

/** Zooms by `factor` keeping the graph point under `at` (screen coordinates) where it is. */
export function zoomAt(t: ViewTransform, factor: number, at: { x: number; y: number }): ViewTransform {
  const k = clampZoom(t.k * factor);
  const gx = (at.x - t.x) / t.k;
  const gy = (at.y - t.y) / t.k;
  return { k, x: at.x - gx * k, y: at.y - gy * k };
}
