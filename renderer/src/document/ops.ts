/**
 * Pure edits of the pipeline document. Each returns a new document and leaves
 * the old one untouched (the history keeps snapshots); nodes and edges that an
 * edit does not touch keep their identity, so memoized views skip them.
 */
import type { EdgeDoc, NodeDoc, PipelineDocument, Position } from "../store/types";
import { edgeKey, joinEndpoint, splitEndpoint } from "./endpoints";
import { baseIdFor, uniqueId } from "./ids";

export function addNode(doc: PipelineDocument, node: NodeDoc, at: Position): PipelineDocument {
  return {
    ...doc,
    nodes: [...doc.nodes, node],
    layout: { ...doc.layout, [node.id]: { x: Math.round(at.x), y: Math.round(at.y) } },
  };
}

/** A new node of `kind` with a readable id that is free in `doc`. */
export function newNode(doc: PipelineDocument, kind: string): NodeDoc {
  return { id: uniqueId(doc, baseIdFor(kind)), block: kind, params: {} };
}

/** Removes nodes (with their edges and layout) and edges by key. */
export function removeElements(
  doc: PipelineDocument,
  nodeIds: ReadonlySet<string>,
  edgeKeys: ReadonlySet<string> = new Set(),
): PipelineDocument {
  if (!nodeIds.size && !edgeKeys.size) return doc;
  const touches = (e: EdgeDoc) =>
    nodeIds.has(splitEndpoint(e.from).node) || nodeIds.has(splitEndpoint(e.to).node);
  const layout = doc.layout ? { ...doc.layout } : undefined;
  if (layout) for (const id of nodeIds) delete layout[id];
  return {
    ...doc,
    nodes: doc.nodes.filter((n) => !nodeIds.has(n.id)),
    edges: doc.edges.filter((e) => !touches(e) && !edgeKeys.has(edgeKey(e))),
    ...(layout ? { layout } : {}),
  };
}

export function addEdge(doc: PipelineDocument, edge: EdgeDoc): PipelineDocument {
  if (doc.edges.some((e) => e.from === edge.from && e.to === edge.to)) return doc;
  return { ...doc, edges: [...doc.edges, edge] };
}

/** Moving a node changes only `layout`, so a move never reads as a logic change. */
export function moveNodes(
  doc: PipelineDocument,
  positions: Readonly<Record<string, Position>>,
): PipelineDocument {
  const layout = { ...doc.layout };
  for (const [id, p] of Object.entries(positions)) {
    layout[id] = { ...layout[id], x: Math.round(p.x), y: Math.round(p.y) };
  }
  return { ...doc, layout };
}

export function setNodeParams(
  doc: PipelineDocument,
  id: string,
  params: Record<string, unknown>,
): PipelineDocument {
  return { ...doc, nodes: doc.nodes.map((n) => (n.id === id ? { ...n, params } : n)) };
}

export function setPipelineParams(doc: PipelineDocument, params: Record<string, unknown>): PipelineDocument {
  return { ...doc, params };
}

/** Renames a node and every edge end and layout entry that names it. */
export function renameNode(doc: PipelineDocument, from: string, to: string): PipelineDocument {
  if (from === to) return doc;
  const rename = (endpoint: string) => {
    const { node, port } = splitEndpoint(endpoint);
    return node === from ? joinEndpoint(to, port) : endpoint;
  };
  const layout = doc.layout ? { ...doc.layout } : undefined;
  if (layout?.[from]) {
    layout[to] = layout[from];
    delete layout[from];
  }
  return {
    ...doc,
    nodes: doc.nodes.map((n) => (n.id === from ? { ...n, id: to } : n)),
    edges: doc.edges.map((e) =>
      splitEndpoint(e.from).node === from || splitEndpoint(e.to).node === from
        ? { from: rename(e.from), to: rename(e.to) }
        : e,
    ),
    ...(layout ? { layout } : {}),
  };
}

/** What copy keeps: the nodes, the edges among them, and their positions. */
export interface Fragment {
  nodes: NodeDoc[];
  edges: EdgeDoc[];
  layout: Record<string, Position>;
}

export function extractFragment(doc: PipelineDocument, ids: ReadonlySet<string>): Fragment {
  const nodes = doc.nodes.filter((n) => ids.has(n.id));
  const edges = doc.edges.filter(
    (e) => ids.has(splitEndpoint(e.from).node) && ids.has(splitEndpoint(e.to).node),
  );
  const layout: Record<string, Position> = {};
  for (const n of nodes) {
    const p = doc.layout?.[n.id];
    if (p) layout[n.id] = { x: p.x, y: p.y };
  }
  return { nodes, edges, layout };
}

/**
 * Inserts a copy of a fragment with fresh ids (split → split_2), shifted by
 * `offset`; edges among the copied nodes follow them. Returns the new ids.
 */
export function insertFragment(
  doc: PipelineDocument,
  fragment: Fragment,
  offset: Position,
): { document: PipelineDocument; ids: string[] } {
  const renamed = new Map<string, string>();
  for (const n of fragment.nodes) renamed.set(n.id, uniqueId(doc, n.id, new Set(renamed.values())));
  const rename = (endpoint: string) => {
    const { node, port } = splitEndpoint(endpoint);
    return joinEndpoint(renamed.get(node) ?? node, port);
  };
  const nodes = fragment.nodes.map((n) => ({ ...structuredClone(n), id: renamed.get(n.id)! }));
  const layout = { ...doc.layout };
  fragment.nodes.forEach((n, i) => {
    const p = fragment.layout[n.id] ?? { x: i * 40, y: i * 40 };
    layout[renamed.get(n.id)!] = { x: Math.round(p.x + offset.x), y: Math.round(p.y + offset.y) };
  });
  return {
    document: {
      ...doc,
      nodes: [...doc.nodes, ...nodes],
      edges: [...doc.edges, ...fragment.edges.map((e) => ({ from: rename(e.from), to: rename(e.to) }))],
      layout,
    },
    ids: nodes.map((n) => n.id),
  };
}
