/**
 * The document seen as React Flow nodes and edges. The builders remember
 * what they made last time and hand back the very same objects for nodes and
 * edges that did not change, so React Flow and the memoized node views skip
 * them: a drag re-renders the dragged node, not all 300.
 */
import type { Edge, Node } from "@xyflow/react";
import type { BlockInfo } from "../../../app/api/api";
import { edgeKey, splitEndpoint } from "../document/endpoints";
import type { Catalog, NodeDoc, PipelineDocument, Position, Selection } from "../store/types";
import { NODE_GEOMETRY, nodeHeight, nodePosition, portRows } from "./geometry";
import { portColor } from "./ports";

export interface FlowNodeData extends Record<string, unknown> {
  node: NodeDoc;
  /** Undefined for a block kind the catalog does not know: drawn greyed, kept as it is. */
  block: BlockInfo | undefined;
  /** Ports of an unknown block, as its edges name them, so those edges still draw. */
  guessedPorts?: { inputs: string[]; outputs: string[] };
}

/** A block node, or (the changes overlay, renderer/src/changes/) a removed node drawn where it was. */
export type FlowNode = Node<FlowNodeData, "block" | "ghost">;
export type Measured = ReadonlyMap<string, { width: number; height: number }>;

function guessPorts(doc: PipelineDocument, id: string): FlowNodeData["guessedPorts"] {
  const inputs = new Set<string>();
  const outputs = new Set<string>();
  for (const e of doc.edges) {
    const from = splitEndpoint(e.from);
    const to = splitEndpoint(e.to);
    if (from.node === id) outputs.add(from.port);
    if (to.node === id) inputs.add(to.port);
  }
  return { inputs: [...inputs].sort(), outputs: [...outputs].sort() };
}

export function createNodeBuilder() {
  let previous = new Map<string, FlowNode>();
  return function buildNodes(
    doc: PipelineDocument,
    catalog: Catalog,
    selection: Selection,
    fallback: Readonly<Record<string, Position>>,
    measured: Measured,
  ): FlowNode[] {
    const next = new Map<string, FlowNode>();
    const nodes = doc.nodes.map((n, i) => {
      const pos = nodePosition(doc, fallback, n.id, i);
      const block = catalog.get(n.block);
      const selected = selection.nodes.has(n.id);
      const size = measured.get(n.id);
      const old = previous.get(n.id);
      const sameData = old?.data.node === n && old.data.block === block && (block || !old.data.guessedPorts);
      let flow: FlowNode;
      if (
        old &&
        sameData &&
        old.position.x === pos.x &&
        old.position.y === pos.y &&
        !!old.selected === selected &&
        old.measured?.width === size?.width &&
        old.measured?.height === size?.height
      ) {
        flow = old;
      } else {
        flow = {
          id: n.id,
          type: "block",
          position: { x: pos.x, y: pos.y },
          data: sameData && old ? old.data : { node: n, block },
          selected,
          // The size it will have (geometry.ts) until React Flow measures it: the minimap and
          // the visible-element culling need one before the first measurement reaches this object.
          initialWidth: NODE_GEOMETRY.width,
          initialHeight: nodeHeight(Math.max(1, portRows(n, catalog, old?.data.guessedPorts))),
          ...(size ? { measured: size } : {}),
        };
      }
      if (!block) {
        // An unknown block's ports come from its edges, which may change without the node changing.
        const guessed = guessPorts(doc, n.id);
        if (JSON.stringify(guessed) !== JSON.stringify(flow.data.guessedPorts))
          flow = { ...flow, data: { node: n, block, guessedPorts: guessed } };
      }
      next.set(n.id, flow);
      return flow;
    });
    previous = next;
    return nodes;
  };
}

export function createEdgeBuilder() {
  let previous = new Map<string, Edge>();
  return function buildEdges(doc: PipelineDocument, catalog: Catalog, selection: Selection): Edge[] {
    const next = new Map<string, Edge>();
    const blockOf = new Map(doc.nodes.map((n) => [n.id, catalog.get(n.block)]));
    const edges: Edge[] = [];
    for (const e of doc.edges) {
      const from = splitEndpoint(e.from);
      const to = splitEndpoint(e.to);
      // An edge to a node that is not there has no place on the canvas; the Problems panel names it.
      if (!blockOf.has(from.node) || !blockOf.has(to.node)) continue;
      const id = edgeKey(e);
      const selected = selection.edges.has(id);
      const old = previous.get(id);
      const type = blockOf.get(from.node)?.outputs[from.port]?.type;
      const edge =
        old && !!old.selected === selected && old.data?.type === type
          ? old
          : {
              id,
              source: from.node,
              sourceHandle: from.port,
              target: to.node,
              targetHandle: to.port,
              selected,
              data: { type },
              style: { stroke: portColor(type) },
            };
      next.set(id, edge);
      edges.push(edge);
    }
    previous = next;
    return edges;
  };
}
