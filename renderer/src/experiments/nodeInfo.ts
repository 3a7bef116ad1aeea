/**
 * What a node id in a run's metric keys stands for: its block, and for an
 * evaluate (or any block fed a model) the node that trained the model, so
 * `eval_2.accuracy` can read "eval_2 — evaluate of gbdt".
 */

export interface NodeInfo {
  id: string;
  block: string;
  /** The node whose `model` output feeds this node, if any. */
  model?: string;
  /** "eval_2 — evaluate of gbdt", "gbdt — train.gbdt". */
  caption: string;
}

interface DocNode {
  id: string;
  block: string;
}

interface DocEdge {
  from: string;
  to: string;
}

const isNode = (n: unknown): n is DocNode =>
  !!n &&
  typeof n === "object" &&
  typeof (n as DocNode).id === "string" &&
  typeof (n as DocNode).block === "string";

const isEdge = (e: unknown): e is DocEdge =>
  !!e &&
  typeof e === "object" &&
  typeof (e as DocEdge).from === "string" &&
  typeof (e as DocEdge).to === "string";

/** `node.port` → [node, port]; the node id is everything before the last dot. */
function endpoint(ref: string): [string, string] {
  const dot = ref.lastIndexOf(".");
  return dot < 0 ? [ref, ""] : [ref.slice(0, dot), ref.slice(dot + 1)];
}

/** Every node of a pipeline document (as a run recorded it), by id; empty for a missing or malformed one. */
export function pipelineNodes(pipeline: Record<string, unknown> | null | undefined): Map<string, NodeInfo> {
  const nodes = Array.isArray(pipeline?.nodes) ? pipeline.nodes.filter(isNode) : [];
  const edges = Array.isArray(pipeline?.edges) ? pipeline.edges.filter(isEdge) : [];
  const modelOf = new Map<string, string>();
  for (const e of edges) {
    const [from, fromPort] = endpoint(e.from);
    const [to] = endpoint(e.to);
    if (fromPort === "model" && !modelOf.has(to)) modelOf.set(to, from);
  }
  const out = new Map<string, NodeInfo>();
  for (const n of nodes) {
    const model = modelOf.get(n.id);
    const caption = model ? `${n.id} — ${n.block} of ${model}` : `${n.id} — ${n.block}`;
    out.set(n.id, { id: n.id, block: n.block, ...(model ? { model } : {}), caption });
  }
  return out;
}

/** The node id and metric (or param) name of a `node.name` key; a key without a node reads as the name alone. */
export function splitKey(key: string): { node: string; name: string } {
  const dot = key.indexOf(".");
  return dot < 0 ? { node: "", name: key } : { node: key.slice(0, dot), name: key.slice(dot + 1) };
}

/** A column's tooltip: "metric accuracy of eval_2 — evaluate of gbdt"; the key itself when the node is unknown. */
export function keyTitle(kind: "metric" | "param", key: string, nodes: Map<string, NodeInfo>): string {
  const { node, name } = splitKey(key);
  const info = nodes.get(node);
  return info ? `${kind} ${name} of ${info.caption}` : `${kind} ${key}`;
}

/** Pipeline versions read per page: the newest first; their nodes cover nearly every column. */
const MAX_PIPELINES = 4;

/** Each pipeline version on the page (its hash, else its name) with a run that used it, in page order. */
export function runsPerPipeline(
  runs: { id: string; pipeline: string; pipelineHash: string | null }[],
): { version: string; runId: string }[] {
  const seen = new Set<string>();
  const out: { version: string; runId: string }[] = [];
  for (const r of runs) {
    const version = r.pipelineHash ?? r.pipeline;
    if (seen.has(version)) continue;
    seen.add(version);
    out.push({ version, runId: r.id });
    if (out.length === MAX_PIPELINES) break;
  }
  return out;
}
