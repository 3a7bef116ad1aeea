/** Which new edges the editor accepts, with the reason when it refuses one. */
import { splitEndpoint } from "../document/endpoints";
import { connectedId } from "../document/ids";
import { addEdge, addNode, newNode, renameNode } from "../document/ops";
import type { Catalog, PipelineDocument, PortType, Position } from "../store/types";
import { mismatchMessage, portsCompatible } from "./ports";

export interface ProposedConnection {
  source: string | null;
  sourceHandle?: string | null;
  target: string | null;
  targetHandle?: string | null;
}

/** Whether `to` is reachable from `from` along the edges (then from → … → to exists). */
function reaches(doc: PipelineDocument, from: string, to: string): boolean {
  const downstream = new Map<string, string[]>();
  for (const e of doc.edges) {
    const a = splitEndpoint(e.from).node;
    downstream.set(a, [...(downstream.get(a) ?? []), splitEndpoint(e.to).node]);
  }
  const seen = new Set<string>();
  const stack = [from];
  while (stack.length) {
    const id = stack.pop()!;
    if (id === to) return true;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...(downstream.get(id) ?? []));
  }
  return false;
}

/** Null when the connection may be made; otherwise why not, in words for the user. */
export function connectionProblem(
  doc: PipelineDocument,
  catalog: Catalog,
  c: ProposedConnection,
): string | null {
  if (!c.source || !c.target || !c.sourceHandle || !c.targetHandle) return "Connect an output to an input";
  if (c.source === c.target) return "A node cannot feed itself";
  const byId = new Map(doc.nodes.map((n) => [n.id, n]));
  const src = catalog.get(byId.get(c.source)?.block ?? "");
  const dst = catalog.get(byId.get(c.target)?.block ?? "");
  const out = src?.outputs[c.sourceHandle];
  const inp = dst?.inputs[c.targetHandle];
  if (!out || !inp) return "One of these blocks is unknown, so its ports cannot be checked";
  if (!portsCompatible(out.type, inp.type)) return mismatchMessage(out.type, inp.type);
  if (doc.edges.some((e) => e.to === `${c.target}.${c.targetHandle}`))
    return `Input "${c.targetHandle}" of ${c.target} is already connected; an input takes one edge`;
  if (reaches(doc, c.target, c.source)) return `This edge would make a cycle through ${c.source}`;
  return null;
}

interface HandleRef {
  id?: string | null;
  nodeId: string;
  type: "source" | "target";
}

/** The connection a drag from one handle to another proposes, whichever end it started from. */
export function proposedFromHandles(from: HandleRef, to: HandleRef | null): ProposedConnection | null {
  if (!to) return null;
  if (from.type === to.type) return { source: null, target: null };
  const [src, dst] = from.type === "source" ? [from, to] : [to, from];
  return { source: src.nodeId, sourceHandle: src.id, target: dst.nodeId, targetHandle: dst.id };
}

/**
 * Adds the edge of an accepted connection. A node still carrying the id the
 * editor gave it is named after the model, report or version that now feeds
 * it (see `connectedId`): `evaluate_2` fed by `logistic` becomes `eval_logistic`.
 * Returns the new document and the rename, if any, so the caller can carry the
 * selection and outputs over.
 */
export function connectNodes(
  doc: PipelineDocument,
  catalog: Catalog,
  c: { source: string; sourceHandle: string; target: string; targetHandle: string },
): { document: PipelineDocument; renamed: { from: string; to: string } | null } {
  const withEdge = addEdge(doc, {
    from: `${c.source}.${c.sourceHandle}`,
    to: `${c.target}.${c.targetHandle}`,
  });
  const target = doc.nodes.find((n) => n.id === c.target);
  const source = doc.nodes.find((n) => n.id === c.source);
  const inputType = target ? catalog.get(target.block)?.inputs[c.targetHandle]?.type : undefined;
  const next = target && source && inputType ? connectedId(withEdge, target, inputType, source) : null;
  if (!next) return { document: withEdge, renamed: null };
  return { document: renameNode(withEdge, c.target, next), renamed: { from: c.target, to: next } };
}

/** The port a connection drag started from: an output (`source`) or an input (`target`). */
export interface DragStart {
  node: string;
  port: string;
  side: "source" | "target";
}

/** The type of the port a drag started from, when its block is known. */
export function dragStartType(doc: PipelineDocument, catalog: Catalog, from: DragStart): PortType | null {
  const block = catalog.get(doc.nodes.find((n) => n.id === from.node)?.block ?? "");
  const spec = from.side === "source" ? block?.outputs[from.port] : block?.inputs[from.port];
  return spec?.type ?? null;
}

/**
 * The port of block `kind` a drag from a port of type `type` would join: its
 * first input that output can feed, or (dragged from an input) its first output
 * that can feed it. Null when the block has none.
 */
export function matchingPort(
  catalog: Catalog,
  kind: string,
  type: PortType,
  side: DragStart["side"],
): string | null {
  const block = catalog.get(kind);
  if (!block) return null;
  const ports = Object.entries(side === "source" ? block.inputs : block.outputs);
  const match = ports.find(([, spec]) =>
    side === "source" ? portsCompatible(type, spec.type) : portsCompatible(spec.type, type),
  );
  return match?.[0] ?? null;
}

/**
 * A new node of `kind` at `at`, joined to the port a drag started from, as one
 * document (one undo step), named by what feeds it (a drag from `gbdt.model`
 * to a new evaluate makes `eval_gbdt`). Null when the block cannot join that port.
 */
export function addConnectedNode(
  doc: PipelineDocument,
  catalog: Catalog,
  kind: string,
  at: Position,
  from: DragStart,
): { document: PipelineDocument; id: string } | null {
  const type = dragStartType(doc, catalog, from);
  const port = type ? matchingPort(catalog, kind, type, from.side) : null;
  if (!port) return null;
  const node = newNode(doc, kind);
  const withNode = addNode(doc, node, at);
  const c =
    from.side === "source"
      ? { source: from.node, sourceHandle: from.port, target: node.id, targetHandle: port }
      : { source: node.id, sourceHandle: port, target: from.node, targetHandle: from.port };
  if (connectionProblem(withNode, catalog, c) !== null) return null;
  const { document, renamed } = connectNodes(withNode, catalog, c);
  return { document, id: renamed?.from === node.id ? renamed.to : node.id };
}
