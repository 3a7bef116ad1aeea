/**
 * A semantic diff of two pipelines, read as a code review reads a change:
 * nodes added, removed and renamed, a node's block, label and params changed
 * (nested values by path), edges added and removed, pipeline-level fields
 * changed; layout changes are counted, not listed (DESIGN.md: layout is kept
 * apart from logic). Also the text form of one pipeline that `git diff`
 * compares line by line (the textconv of `dagwood init --git`).
 */
import { createHash } from "node:crypto";
import type { Pipeline, PipelineEdge, PipelineNode } from "./schema";
import { splitEndpoint } from "./schema";

/** One value that differs: `old` or `new` is absent when the value did not exist on that side. */
export interface ValueChange {
  /** Relative path: `params.trees`, `params.columns[2]`, `deprecated.reason`, `label`, `block`. */
  path: string;
  old?: unknown;
  new?: unknown;
}

export interface NodeSummary {
  id: string;
  block: string;
  label?: string;
  params: Record<string, unknown>;
}

/**
 * A node whose id changed. Ids are the identity of a node, but the app lets
 * one be edited (which rewrites its edges and layout), so a removed and an
 * added node of the same block are taken as one node renamed when enough
 * else matches; `evidence` says what did.
 */
export interface NodeRename {
  from: string;
  to: string;
  block: string;
  /** What matched: "params" (identical params), "connections" (at least half of its edges, other ends mapped), "position", "label". */
  evidence: ("params" | "connections" | "position" | "label")[];
}

export interface NodeChange extends ValueChange {
  /** The node's id in the new file. */
  node: string;
}

export interface EdgeSummary {
  from: string;
  to: string;
}

/** The shape `dagwood diff --json` prints. */
export interface PipelineDiff {
  /** True when nothing differs, logic or layout (exit 0). */
  same: boolean;
  /** True when something other than layout differs. */
  logicChanged: boolean;
  name: { old: string; new: string };
  /** Pipeline-level fields: name, description, owner, purpose, reviewBy, deprecated, params (by leaf), conflicts. */
  pipeline: ValueChange[];
  nodes: {
    added: NodeSummary[];
    removed: NodeSummary[];
    renamed: NodeRename[];
    /** Block, label, description and params (by leaf) of nodes on both sides, by new id then path. */
    changed: NodeChange[];
  };
  /** In the new file's ids: an edge of a renamed node that still joins the same ports is not a change. */
  edges: { added: EdgeSummary[]; removed: EdgeSummary[] };
  /** Nodes on both sides whose position changed, or whose other layout (size, colour) changed. */
  layout: { moved: number; restyled: number };
  /** Nodes matched on both sides (by id or as renamed). */
  sharedNodes: number;
  /** Both files have nodes and none match: every node reads as removed and added. */
  unrelated: boolean;
}

/** Keys sorted recursively, so equal values print equally. */
export function stableJson(value: unknown): string {
  return JSON.stringify(sortDeep(value)) ?? "undefined";
}

function sortDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortDeep);
  if (isPlainObject(value))
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortDeep(value[k])]),
    );
  return value;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export const sameValue = (a: unknown, b: unknown) => stableJson(a) === stableJson(b);

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** `params.trees`, `params.columns[2]`, `params["odd key"]`. */
export function joinPath(base: string, key: string | number): string {
  if (typeof key === "number") return `${base}[${key}]`;
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return base ? `${base}.${key}` : key;
  return `${base}[${JSON.stringify(key)}]`;
}

/**
 * The leaves where `a` and `b` differ: objects by key, arrays of the same
 * length by index; anything else (an array that grew) as one value.
 */
export function diffValues(a: unknown, b: unknown, path: string, out: ValueChange[] = []): ValueChange[] {
  if (sameValue(a, b)) return out;
  if (isPlainObject(a) && isPlainObject(b)) {
    for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort(byString))
      diffValues(a[key], b[key], joinPath(path, key), out);
  } else if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    for (let i = 0; i < a.length; i++) diffValues(a[i], b[i], joinPath(path, i), out);
  } else {
    out.push({ path, ...(a !== undefined ? { old: a } : {}), ...(b !== undefined ? { new: b } : {}) });
  }
  return out;
}

/** Every leaf of a value with its path (for param similarity). */
function leaves(value: unknown, path: string, out: Map<string, string>): Map<string, string> {
  if (isPlainObject(value) && Object.keys(value).length)
    for (const k of Object.keys(value)) leaves(value[k], joinPath(path, k), out);
  else out.set(path, stableJson(value));
  return out;
}

function jaccard(a: Set<string>, b: Set<string>): number | undefined {
  if (!a.size && !b.size) return undefined;
  let both = 0;
  for (const x of a) if (b.has(x)) both++;
  return both / (a.size + b.size - both);
}

/** Each node's edges, as (this port, direction, other node, other port). */
type Incident = { port: string; dir: "in" | "out"; other: string; otherPort: string }[];

function incidentEdges(edges: readonly PipelineEdge[]): Map<string, Incident> {
  const out = new Map<string, Incident>();
  const push = (id: string, e: Incident[number]) => {
    const list = out.get(id);
    if (list) list.push(e);
    else out.set(id, [e]);
  };
  for (const e of edges) {
    const from = splitEndpoint(e.from);
    const to = splitEndpoint(e.to);
    push(to.node, { port: to.port, dir: "in", other: from.node, otherPort: from.port });
    push(from.node, { port: from.port, dir: "out", other: to.node, otherPort: to.port });
  }
  return out;
}

/** A node's edges as "in:port<-node.port" / "out:port->node.port", the other end's id passed through `mapId`. */
function connections(incident: Incident | undefined, mapId: (id: string) => string | undefined) {
  const out = new Set<string>();
  for (const e of incident ?? []) {
    const other = mapId(e.other);
    if (other === undefined) continue;
    out.add(
      e.dir === "in" ? `in:${e.port}<-${other}.${e.otherPort}` : `out:${e.port}->${other}.${e.otherPort}`,
    );
  }
  return out;
}

const layoutOf = (p: Pipeline, id: string) => p.layout?.[id];

/** Param leaves as "path=json", for how alike two nodes' params are. */
const paramLeaves = (params: Record<string, unknown>) =>
  new Set([...leaves(params, "", new Map())].map(([k, v]) => `${k}=${v}`));

/**
 * Pairs nodes removed from `a` with nodes added in `b` that are the same
 * node under a new id: the same block, and identical non-empty params with
 * connections that do not contradict it, or at least half of its connections
 * (the other ends mapped through the pairs already made), or identical params
 * at the same position or with the same label. Best score first, ties by
 * ids; repeated while new pairs let more connections match.
 */
function matchRenames(a: Pipeline, b: Pipeline): Map<string, NodeRename> {
  const aIds = new Set(a.nodes.map((n) => n.id));
  const bIds = new Set(b.nodes.map((n) => n.id));
  const removed = a.nodes.filter((n) => !bIds.has(n.id));
  const added = b.nodes.filter((n) => !aIds.has(n.id));
  const pairs = new Map<string, NodeRename>(); // old id → rename
  const taken = new Set<string>(); // new ids paired
  if (!removed.length || !added.length) return pairs;
  const aEdges = incidentEdges(a.edges);
  const bEdges = incidentEdges(b.edges);
  const mapOld = (id: string) => (bIds.has(id) ? id : pairs.get(id)?.to);
  const mapNew = (id: string) => (aIds.has(id) || taken.has(id) ? id : undefined);
  const leavesOf = new Map([...removed, ...added].map((n) => [n, paramLeaves(n.params)]));
  for (;;) {
    const candidates: {
      o: PipelineNode;
      n: PipelineNode;
      score: number;
      evidence: NodeRename["evidence"];
    }[] = [];
    for (const o of removed) {
      if (pairs.has(o.id)) continue;
      const oConnections = connections(aEdges.get(o.id), mapOld);
      for (const n of added) {
        if (taken.has(n.id) || o.block !== n.block) continue;
        const sameParams = sameValue(o.params, n.params);
        const paramSim = sameParams ? 1 : (jaccard(leavesOf.get(o)!, leavesOf.get(n)!) ?? 0);
        const edgeSim = jaccard(oConnections, connections(bEdges.get(n.id), mapNew));
        const oPos = layoutOf(a, o.id);
        const nPos = layoutOf(b, n.id);
        const samePos = oPos !== undefined && nPos !== undefined && oPos.x === nPos.x && oPos.y === nPos.y;
        const sameLabel = o.label !== undefined && o.label === n.label;
        const nonEmpty = Object.keys(o.params).length > 0;
        const ok =
          (edgeSim ?? 0) >= 0.5 ||
          (sameParams && nonEmpty && edgeSim !== 0) ||
          (sameParams && (samePos || sameLabel));
        if (!ok) continue;
        const evidence: NodeRename["evidence"] = [];
        if (sameParams) evidence.push("params");
        if ((edgeSim ?? 0) >= 0.5) evidence.push("connections");
        if (samePos) evidence.push("position");
        if (sameLabel) evidence.push("label");
        const score = paramSim + (edgeSim ?? 0) + (samePos ? 0.5 : 0) + (sameLabel ? 0.5 : 0);
        candidates.push({ o, n, score, evidence });
      }
    }
    candidates.sort((x, y) => y.score - x.score || byString(x.o.id, y.o.id) || byString(x.n.id, y.n.id));
    let paired = 0;
    for (const c of candidates) {
      if (pairs.has(c.o.id) || taken.has(c.n.id)) continue;
      pairs.set(c.o.id, { from: c.o.id, to: c.n.id, block: c.o.block, evidence: c.evidence });
      taken.add(c.n.id);
      paired++;
    }
    // New pairs may make other nodes' connections match: score the rest again.
    if (!paired) break;
  }
  return pairs;
}

const summary = (n: PipelineNode): NodeSummary => ({
  id: n.id,
  block: n.block,
  ...(n.label !== undefined ? { label: n.label } : {}),
  params: n.params,
});

const edgeKey = (e: EdgeSummary) => `${e.from}\u0000${e.to}`;
const byEdge = (x: EdgeSummary, y: EdgeSummary) => byString(x.from, y.from) || byString(x.to, y.to);

/** The pipeline-level fields a diff compares (everything but format, nodes, edges and layout). */
const PIPELINE_FIELDS = [
  "name",
  "description",
  "owner",
  "purpose",
  "reviewBy",
  "deprecated",
  "params",
  "conflicts",
] as const;

export function diffPipelines(a: Pipeline, b: Pipeline): PipelineDiff {
  const renames = matchRenames(a, b);
  const newIdOf = (oldId: string) => renames.get(oldId)?.to ?? oldId;
  const bById = new Map(b.nodes.map((n) => [n.id, n]));
  const renamedTo = new Set([...renames.values()].map((r) => r.to));

  const pipeline: ValueChange[] = [];
  // An empty conflicts list is no conflicts (canonical.ts does not write it).
  const field = (p: Pipeline, f: (typeof PIPELINE_FIELDS)[number]) =>
    f === "conflicts" && !p.conflicts?.length ? undefined : p[f];
  for (const f of PIPELINE_FIELDS) diffValues(field(a, f), field(b, f), f, pipeline);

  const removed: NodeSummary[] = [];
  const changed: NodeChange[] = [];
  let moved = 0;
  let restyled = 0;
  for (const o of a.nodes) {
    const n = bById.get(newIdOf(o.id));
    if (!n) {
      removed.push(summary(o));
      continue;
    }
    const fields = (x: PipelineNode) => ({
      block: x.block,
      label: x.label,
      description: x.description,
      params: x.params,
    });
    for (const c of diffValues(fields(o), fields(n), "")) changed.push({ node: n.id, ...c });
    const oPos = layoutOf(a, o.id);
    const nPos = layoutOf(b, n.id);
    if (oPos?.x !== nPos?.x || oPos?.y !== nPos?.y) moved++;
    const rest = (p: typeof oPos) => {
      if (!p) return undefined;
      const { x: _x, y: _y, ...others } = p;
      return others;
    };
    if (!sameValue(rest(oPos) ?? {}, rest(nPos) ?? {})) restyled++;
  }
  const aIds = new Set(a.nodes.map((n) => n.id));
  const added = b.nodes.filter((n) => !aIds.has(n.id) && !renamedTo.has(n.id)).map(summary);

  const mapEndpoint = (endpoint: string) => {
    const { node, port } = splitEndpoint(endpoint);
    return `${newIdOf(node)}.${port}`;
  };
  const oldEdges = new Map(
    a.edges.map((e) => {
      const mapped = { from: mapEndpoint(e.from), to: mapEndpoint(e.to) };
      return [edgeKey(mapped), mapped];
    }),
  );
  const newEdges = new Map(b.edges.map((e) => [edgeKey(e), { from: e.from, to: e.to }]));
  const edgesAdded = [...newEdges].filter(([k]) => !oldEdges.has(k)).map(([, e]) => e);
  const edgesRemoved = [...oldEdges].filter(([k]) => !newEdges.has(k)).map(([, e]) => e);

  const sharedNodes = a.nodes.length - removed.length;
  const renamed = [...renames.values()].sort((x, y) => byString(x.to, y.to));
  const logicChanged =
    pipeline.length + changed.length + removed.length + added.length + renamed.length > 0 ||
    edgesAdded.length + edgesRemoved.length > 0;
  return {
    same: !logicChanged && moved === 0 && restyled === 0,
    logicChanged,
    name: { old: a.name, new: b.name },
    pipeline,
    nodes: {
      added: added.sort((x, y) => byString(x.id, y.id)),
      removed: removed.sort((x, y) => byString(x.id, y.id)),
      renamed,
      changed: changed.sort((x, y) => byString(x.node, y.node) || byString(x.path, y.path)),
    },
    edges: { added: edgesAdded.sort(byEdge), removed: edgesRemoved.sort(byEdge) },
    layout: { moved, restyled },
    sharedNodes,
    unrelated: a.nodes.length > 0 && b.nodes.length > 0 && sharedNodes === 0,
  };
}

/** How many changes a diff lists (layout not counted). */
export function changeCount(d: PipelineDiff): number {
  return (
    d.pipeline.length +
    d.nodes.added.length +
    d.nodes.removed.length +
    d.nodes.renamed.length +
    d.nodes.changed.length +
    d.edges.added.length +
    d.edges.removed.length
  );
}

/** A value on one line: JSON, a long string shortened around where it differs from `other`. */
function showValue(value: unknown, other?: unknown): string {
  if (value === undefined) return "(none)";
  if (typeof value === "string" && typeof other === "string" && value.length > 60) {
    let start = 0;
    while (start < value.length && start < other.length && value[start] === other[start]) start++;
    let end = 0;
    while (
      end < value.length - start &&
      end < other.length - start &&
      value[value.length - 1 - end] === other[other.length - 1 - end]
    )
      end++;
    const from = Math.max(0, start - 20);
    const to = Math.min(value.length, value.length - end + 20);
    const middle = value.slice(from, Math.min(to, from + 120));
    return `${from > 0 ? "…" : ""}${JSON.stringify(middle)}${from + middle.length < value.length ? "…" : ""}`;
  }
  const text = JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 119)}…` : text;
}

const paint = (color: boolean, code: string, text: string) =>
  color ? `\u001b[${code}m${text}\u001b[0m` : text;

/**
 * The diff as a reviewer reads it, one line per change in a fixed order:
 * pipeline fields, renamed, removed and added nodes, changed nodes (by id,
 * then path), removed and added edges, then the layout counted.
 */
export function renderDiffText(
  d: PipelineDiff,
  labels: { old: string; new: string },
  options: { color?: boolean } = {},
): string {
  const color = Boolean(options.color);
  const lines: string[] = [];
  const name = d.name.old === d.name.new ? `"${d.name.new}"` : `"${d.name.old}" → "${d.name.new}"`;
  lines.push(paint(color, "1", `pipeline ${name}: ${labels.old} → ${labels.new}`));
  const add = (text: string) => lines.push(`  ${paint(color, "32", "+")} ${text}`);
  const del = (text: string) => lines.push(`  ${paint(color, "31", "-")} ${text}`);
  const mod = (text: string) => lines.push(`  ${paint(color, "33", "~")} ${text}`);
  // "+" and "-" mark whole nodes and edges; a value is changed ("~"), also when it appears or goes.
  const change = (prefix: string, c: ValueChange) =>
    mod(
      c.old === undefined
        ? `${prefix}${c.path}: ${showValue(c.new)} (added)`
        : c.new === undefined
          ? `${prefix}${c.path}: ${showValue(c.old)} (removed)`
          : `${prefix}${c.path}: ${showValue(c.old, c.new)} → ${showValue(c.new, c.old)}`,
    );
  for (const c of d.pipeline) change("", c);
  for (const r of d.nodes.renamed) {
    const how = r.evidence.length
      ? `same block, ${r.evidence.join(", ").replace(/, ([^,]*)$/, " and $1")}`
      : "same block";
    mod(`node ${r.from} renamed to ${r.to} (${how})`);
  }
  const label = (n: NodeSummary) => (n.label !== undefined ? ` "${n.label}"` : "");
  for (const n of d.nodes.removed) del(`node ${n.id} (${n.block})${label(n)}`);
  for (const n of d.nodes.added) {
    const params = Object.keys(n.params).length ? ` ${showValue(n.params)}` : "";
    add(`node ${n.id} (${n.block})${label(n)}${params}`);
  }
  for (const c of d.nodes.changed) change(`node ${c.node} `, c);
  for (const e of d.edges.removed) del(`edge ${e.from} → ${e.to}`);
  for (const e of d.edges.added) add(`edge ${e.from} → ${e.to}`);
  const layout: string[] = [];
  if (d.layout.moved) layout.push(`${d.layout.moved} node${d.layout.moved === 1 ? "" : "s"} moved`);
  if (d.layout.restyled)
    layout.push(`${d.layout.restyled} node${d.layout.restyled === 1 ? "" : "s"} resized or restyled`);
  if (layout.length) lines.push(paint(color, "2", `  layout: ${layout.join(", ")} (not listed)`));
  if (d.unrelated)
    lines.push(
      `  note: the two pipelines share no nodes (no id, and no renamed node, in common): every node reads as removed and added.`,
    );
  const count = changeCount(d);
  lines.push(
    d.same
      ? "no differences"
      : count === 0
        ? "layout only: no logic changes"
        : `${count} change${count === 1 ? "" : "s"}${layout.length ? ", and layout" : ""}`,
  );
  return `${lines.join("\n")}\n`;
}

/** A multi-line string as an indented block, so `git diff` compares it line by line. */
function textLines(prefix: string, value: unknown, out: string[]) {
  if (typeof value === "string" && value.includes("\n")) {
    out.push(`${prefix}: |`);
    for (const line of value.replace(/\n$/, "").split("\n")) out.push(`      ${line}`);
  } else {
    out.push(`${prefix}: ${JSON.stringify(value)}`);
  }
}

/** Each leaf of `value` on its own line as `path: json`. */
function leafLines(indent: string, path: string, value: unknown, out: string[]) {
  if (isPlainObject(value) && Object.keys(value).length) {
    for (const k of Object.keys(value).sort(byString)) leafLines(indent, joinPath(path, k), value[k], out);
  } else if (Array.isArray(value) && value.some((v) => isPlainObject(v) || Array.isArray(v))) {
    for (let i = 0; i < value.length; i++) leafLines(indent, joinPath(path, i), value[i], out);
  } else {
    textLines(`${indent}${path}`, value, out);
  }
}

/**
 * One pipeline as text for `git diff` to compare line by line (the diff
 * driver's textconv): the pipeline's fields, then each node by id with its
 * block, label, one line per param leaf and one per connected input, then
 * unresolved conflicts; layout only as a count and a fingerprint, so a move
 * is one changed line.
 */
export function renderPipelineText(p: Pipeline): string {
  const out: string[] = [`pipeline ${JSON.stringify(p.name)}`];
  for (const field of ["description", "owner", "purpose", "reviewBy"] as const)
    if (p[field] !== undefined) textLines(`  ${field}`, p[field], out);
  if (p.deprecated) leafLines("  ", "deprecated", p.deprecated, out);
  leafLines("  ", "params", p.params, out);
  const inputs = new Map<string, string[]>();
  for (const e of [...p.edges].sort((x, y) => byString(x.to, y.to) || byString(x.from, y.from))) {
    const to = splitEndpoint(e.to);
    inputs.set(to.node, [...(inputs.get(to.node) ?? []), `  ${joinPath("inputs", to.port)} ← ${e.from}`]);
  }
  for (const node of [...p.nodes].sort((x, y) => byString(x.id, y.id))) {
    out.push("", `node ${node.id} (${node.block})`);
    if (node.label !== undefined) textLines("  label", node.label, out);
    if (node.description !== undefined) textLines("  description", node.description, out);
    leafLines("  ", "params", node.params, out);
    out.push(...(inputs.get(node.id) ?? []));
  }
  if (p.conflicts?.length) {
    out.push("");
    for (const c of p.conflicts)
      out.push(
        `conflict ${c.node !== undefined ? `${c.node} ` : ""}${c.path || "(node)"}: base ${showValue(c.base)}, ours ${showValue(c.ours)}, theirs ${showValue(c.theirs)}; kept ${c.kept}`,
      );
  }
  const layout = p.layout ?? {};
  const placed = Object.keys(layout).length;
  if (placed) {
    const fingerprint = createHash("sha256").update(stableJson(layout)).digest("hex").slice(0, 12);
    out.push("", `layout: ${placed} node${placed === 1 ? "" : "s"} placed (fingerprint ${fingerprint})`);
  }
  return `${out.join("\n")}\n`;
}
