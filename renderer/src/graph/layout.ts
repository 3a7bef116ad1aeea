/** Auto-layout: dagre, left to right, in the order data flows. */
import { Graph, layout } from "@dagrejs/dagre";
import { splitEndpoint } from "../document/endpoints";
import type { PipelineDocument, Position } from "../store/types";

export interface Size {
  width: number;
  height: number;
}

export const DEFAULT_NODE_SIZE: Size = { width: 220, height: 110 };

/** Top-left positions for every node, laid out left → right. */
export function layoutPositions(
  doc: PipelineDocument,
  sizeOf: (id: string) => Size = () => DEFAULT_NODE_SIZE,
): Record<string, Position> {
  const g = new Graph({ multigraph: true });
  g.setGraph({ rankdir: "LR", nodesep: 40, ranksep: 90, marginx: 20, marginy: 20 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of doc.nodes) g.setNode(n.id, { ...sizeOf(n.id) });
  const ids = new Set(doc.nodes.map((n) => n.id));
  doc.edges.forEach((e, i) => {
    const from = splitEndpoint(e.from).node;
    const to = splitEndpoint(e.to).node;
    if (ids.has(from) && ids.has(to)) g.setEdge(from, to, {}, String(i));
  });
  layout(g);
  const out: Record<string, Position> = {};
  for (const n of doc.nodes) {
    const { x, y, width, height } = g.node(n.id) as { x: number; y: number; width: number; height: number };
    out[n.id] = { x: x - width / 2, y: y - height / 2 };
  }
  return out;
}

/** A cubic edge from the middle of one box's right side to the middle of the other's left (boxes placed by their top-left). */
export function edgePath(from: Position, to: Position, size: Size): string {
  const x1 = from.x + size.width;
  const y1 = from.y + size.height / 2;
  const x2 = to.x;
  const y2 = to.y + size.height / 2;
  const mid = (x1 + x2) / 2;
  return `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`;
}
