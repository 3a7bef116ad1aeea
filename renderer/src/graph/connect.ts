/** Which new edges the editor accepts, with the reason when it refuses one. */
import { splitEndpoint } from "../document/endpoints";
import type { Catalog, PipelineDocument } from "../store/types";
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
