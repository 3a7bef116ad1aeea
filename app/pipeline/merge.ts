/**
 * A three-way merge of pipelines (the git merge driver `dagwood merge BASE
 * OURS THEIRS`): nodes matched across the three by id, or as renamed
 * (app/pipeline/diff.ts); each node's id, block, label, description and
 * params merged value by value; each input port's edge merged as one value
 * (an input takes one edge); pipeline-level fields likewise. A change on one
 * side is taken; the same change on both is taken once; different changes to
 * one value, or a node changed on one side and deleted on the other, are
 * conflicts, recorded in the file's `conflicts` (schema.ts) with ours kept
 * (the changed node kept, for a deletion). Layout never conflicts: a moved
 * node takes the side that moved it, ours when both did.
 */
import { diffPipelines, isPlainObject, joinPath, sameValue } from "./diff";
import type { Pipeline, PipelineConflict, PipelineNode } from "./schema";
import { PIPELINE_FORMAT, splitEndpoint } from "./schema";

export interface MergeResult {
  pipeline: Pipeline;
  /** The conflicts this merge found (also in `pipeline.conflicts`, after any the sides already had). */
  conflicts: PipelineConflict[];
}

/** An empty pipeline: the base of a file both sides added. */
export function emptyPipeline(name: string): Pipeline {
  return { format: PIPELINE_FORMAT, name, params: {}, nodes: [], edges: [] };
}

/** The three-way merge of one value; a conflict keeps ours and is recorded. */
function merge3(
  base: unknown,
  ours: unknown,
  theirs: unknown,
  at: { node?: string; path: string },
  conflicts: PipelineConflict[],
): unknown {
  if (sameValue(ours, theirs)) return ours;
  if (sameValue(base, ours)) return theirs;
  if (sameValue(base, theirs)) return ours;
  if (isPlainObject(ours) && isPlainObject(theirs) && (base === undefined || isPlainObject(base))) {
    const b = (base ?? {}) as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const key of [...new Set([...Object.keys(ours), ...Object.keys(theirs)])].sort()) {
      const v = merge3(b[key], ours[key], theirs[key], { ...at, path: joinPath(at.path, key) }, conflicts);
      if (v !== undefined) out[key] = v;
    }
    return out;
  }
  conflicts.push({
    ...(at.node !== undefined ? { node: at.node } : {}),
    path: at.path,
    ...(base !== undefined ? { base } : {}),
    ...(ours !== undefined ? { ours } : {}),
    ...(theirs !== undefined ? { theirs } : {}),
    kept: "ours",
  });
  return ours;
}

/** The side whose value differs from base, ours when both (no conflict: for layout). */
const pickChanged = (base: unknown, ours: unknown, theirs: unknown) =>
  sameValue(base, ours) ? theirs : ours;

/**
 * One side seen through the base: each node under a key shared across the
 * sides (`b:<base id>` for a base node, also when renamed; `n:<id>` for a
 * node the side added) and each input port's edge as slot → source.
 */
interface SideView {
  pipeline: Pipeline;
  nodes: Map<string, PipelineNode>;
  /** "toKey\0port" → "fromKey\0port". */
  inputs: Map<string, string>;
  /** Node keys whose outgoing edges differ from base's. */
  outputsChanged: Set<string>;
}

function view(base: Pipeline, side: Pipeline, isBase: boolean): SideView {
  const baseIds = new Set(base.nodes.map((n) => n.id));
  const renamedFrom = new Map<string, string>(); // side id → base id
  if (!isBase) for (const r of diffPipelines(base, side).nodes.renamed) renamedFrom.set(r.to, r.from);
  const keyOf = (id: string) =>
    baseIds.has(id) ? `b:${id}` : renamedFrom.has(id) ? `b:${renamedFrom.get(id)}` : `n:${id}`;
  const nodes = new Map(side.nodes.map((n) => [keyOf(n.id), n]));
  const inputs = new Map<string, string>();
  for (const e of side.edges) {
    const from = splitEndpoint(e.from);
    const to = splitEndpoint(e.to);
    inputs.set(`${keyOf(to.node)}\u0000${to.port}`, `${keyOf(from.node)}\u0000${from.port}`);
  }
  return { pipeline: side, nodes, inputs, outputsChanged: new Set() };
}

/** Marks the nodes of `side` whose outgoing edges differ from base's. */
function markOutputs(base: SideView, side: SideView) {
  const outgoing = (v: SideView) => {
    const out = new Map<string, Set<string>>();
    for (const [slot, source] of v.inputs) {
      const fromKey = source.split("\u0000")[0]!;
      out.set(fromKey, (out.get(fromKey) ?? new Set()).add(`${source}>${slot}`));
    }
    return out;
  };
  const b = outgoing(base);
  const s = outgoing(side);
  for (const key of new Set([...b.keys(), ...s.keys()]))
    if (!sameValue([...(b.get(key) ?? [])].sort(), [...(s.get(key) ?? [])].sort()))
      side.outputsChanged.add(key);
}

/** A node's logic and its inputs, to tell whether a side changed it. */
function content(v: SideView, key: string) {
  const n = v.nodes.get(key);
  if (!n) return undefined;
  const inputs = [...v.inputs].filter(([slot]) => slot.startsWith(`${key}\u0000`)).sort();
  return { id: n.id, block: n.block, label: n.label, description: n.description, params: n.params, inputs };
}

const nodeValue = (n: PipelineNode) => ({
  id: n.id,
  block: n.block,
  ...(n.label !== undefined ? { label: n.label } : {}),
  ...(n.description !== undefined ? { description: n.description } : {}),
  params: n.params,
});

export function mergePipelines(
  basePipeline: Pipeline,
  oursPipeline: Pipeline,
  theirsPipeline: Pipeline,
): MergeResult {
  const base = view(basePipeline, basePipeline, true);
  const ours = view(basePipeline, oursPipeline, false);
  const theirs = view(basePipeline, theirsPipeline, false);
  markOutputs(base, ours);
  markOutputs(base, theirs);
  const conflicts: PipelineConflict[] = [];

  // Which nodes stay, and under which id.
  const keys = [...new Set([...base.nodes.keys(), ...ours.nodes.keys(), ...theirs.nodes.keys()])].sort();
  const kept = new Map<string, PipelineNode>(); // key → merged node
  const deletedConflict = new Map<string, { base: PipelineNode; side: "ours" | "theirs" }>();
  const finalId = new Map<string, string>();
  for (const key of keys) {
    const b = base.nodes.get(key);
    const o = ours.nodes.get(key);
    const t = theirs.nodes.get(key);
    if (!o && !t) continue;
    if (b && (!o || !t)) {
      // Deleted on one side: stays deleted unless the other side changed it.
      const survivor = (o ? ours : theirs) as SideView;
      const changed =
        !sameValue(content(base, key), content(survivor, key)) || survivor.outputsChanged.has(key);
      if (!changed) continue;
      deletedConflict.set(key, { base: b, side: o ? "ours" : "theirs" });
    }
    const id = (
      o && t ? merge3(b?.id, o.id, t.id, { node: o.id, path: "id" }, conflicts) : (o ?? t)!.id
    ) as string;
    finalId.set(key, id);
  }
  // Two nodes under one id (one side renamed a node to an id the other side gave a new node): the one ours
  // has under that id keeps it, the other gets a free one, and the clash is a conflict to settle.
  const claims = new Map<string, string[]>();
  for (const [key, id] of finalId) claims.set(id, [...(claims.get(id) ?? []), key]);
  const taken = new Set(finalId.values());
  for (const [id, claimants] of claims) {
    if (claimants.length < 2) continue;
    const keeper = claimants.find((k) => ours.nodes.get(k)?.id === id) ?? claimants[0]!;
    for (const key of claimants) {
      if (key === keeper) continue;
      let n = 2;
      while (taken.has(`${id}_${n}`)) n++;
      const free = `${id}_${n}`;
      taken.add(free);
      finalId.set(key, free);
      const oursId = ours.nodes.get(key)?.id;
      const theirsId = theirs.nodes.get(key)?.id;
      conflicts.push({
        node: free,
        path: "id",
        ...(oursId !== undefined ? { ours: oursId } : {}),
        ...(theirsId !== undefined ? { theirs: theirsId } : {}),
        kept: "ours",
      });
    }
  }
  for (const key of finalId.keys()) {
    const id = finalId.get(key)!;
    const b = base.nodes.get(key);
    const o = ours.nodes.get(key);
    const t = theirs.nodes.get(key);
    const lost = deletedConflict.get(key);
    if (lost) {
      const survivor = (o ?? t)!;
      conflicts.push({
        node: id,
        path: "",
        base: nodeValue(lost.base),
        ...(o ? { ours: nodeValue(o) } : {}),
        ...(t ? { theirs: nodeValue(t) } : {}),
        kept: lost.side,
      });
      kept.set(key, { ...survivor, id });
      continue;
    }
    if (!o || !t) {
      kept.set(key, { ...(o ?? t)!, id });
      continue;
    }
    const at = (path: string) => ({ node: id, path });
    const node: PipelineNode = {
      id,
      block: merge3(b?.block, o.block, t.block, at("block"), conflicts) as string,
      params: merge3(b?.params, o.params, t.params, at("params"), conflicts) as Record<string, unknown>,
    };
    const label = merge3(b?.label, o.label, t.label, at("label"), conflicts);
    if (label !== undefined) node.label = label as string;
    const description = merge3(b?.description, o.description, t.description, at("description"), conflicts);
    if (description !== undefined) node.description = description as string;
    kept.set(key, node);
  }

  // Edges: one value per input port.
  const idOfKey = (key: string) => finalId.get(key) ?? key.slice(2);
  const endpoint = (source: string | undefined) => {
    if (source === undefined) return undefined;
    const [key, port] = source.split("\u0000") as [string, string];
    return `${idOfKey(key)}.${port}`;
  };
  const edges: { from: string; to: string }[] = [];
  const slots = [...new Set([...base.inputs.keys(), ...ours.inputs.keys(), ...theirs.inputs.keys()])].sort();
  for (const slot of slots) {
    const [toKey, port] = slot.split("\u0000") as [string, string];
    if (!kept.has(toKey)) continue;
    const b = base.inputs.get(slot);
    const o = ours.inputs.get(slot);
    const t = theirs.inputs.get(slot);
    let source: string | undefined;
    const lost = deletedConflict.get(toKey);
    if (lost) source = lost.side === "ours" ? o : t;
    else if (sameValue(o, t)) source = o;
    else if (sameValue(b, o)) source = t;
    else if (sameValue(b, t)) source = o;
    else {
      conflicts.push({
        node: idOfKey(toKey),
        path: `inputs.${port}`,
        ...(b !== undefined ? { base: endpoint(b) } : {}),
        ...(o !== undefined ? { ours: endpoint(o) } : {}),
        ...(t !== undefined ? { theirs: endpoint(t) } : {}),
        kept: "ours",
      });
      source = o;
    }
    // An edge out of a node kept in a delete/change conflict stays as the side that kept it has it,
    // unless the deleting side connected that input to something else.
    const keptFrom = [b, o, t]
      .map((src) => src && deletedConflict.get(src.split("\u0000")[0]!))
      .find(Boolean);
    if (source === undefined && keptFrom) source = keptFrom.side === "ours" ? o : t;
    if (source === undefined || !kept.has(source.split("\u0000")[0]!)) continue;
    edges.push({ from: endpoint(source)!, to: `${idOfKey(toKey)}.${port}` });
  }

  // Layout: the side that moved a node; never a conflict.
  const layoutOf = (v: SideView, key: string) => {
    const n = v.nodes.get(key);
    return n ? v.pipeline.layout?.[n.id] : undefined;
  };
  const layout: NonNullable<Pipeline["layout"]> = {};
  for (const key of kept.keys()) {
    const picked =
      pickChanged(layoutOf(base, key), layoutOf(ours, key), layoutOf(theirs, key)) ??
      layoutOf(ours, key) ??
      layoutOf(theirs, key);
    if (picked) layout[idOfKey(key)] = picked as NonNullable<Pipeline["layout"]>[string];
  }

  // Pipeline-level fields.
  const merged: Pipeline = {
    format: oursPipeline.format,
    name: merge3(
      basePipeline.name,
      oursPipeline.name,
      theirsPipeline.name,
      { path: "name" },
      conflicts,
    ) as string,
    params: merge3(
      basePipeline.params,
      oursPipeline.params,
      theirsPipeline.params,
      { path: "params" },
      conflicts,
    ) as Record<string, unknown>,
    nodes: [...kept.values()],
    edges,
  };
  for (const field of ["description", "owner", "purpose", "reviewBy", "deprecated"] as const) {
    const v = merge3(
      basePipeline[field],
      oursPipeline[field],
      theirsPipeline[field],
      { path: field },
      conflicts,
    );
    if (v !== undefined) (merged as Record<string, unknown>)[field] = v;
  }
  const earlier = pickChanged(basePipeline.conflicts, oursPipeline.conflicts, theirsPipeline.conflicts) as
    | PipelineConflict[]
    | undefined;
  if (earlier?.length || conflicts.length) merged.conflicts = [...(earlier ?? []), ...conflicts];
  if (Object.keys(layout).length || oursPipeline.layout || theirsPipeline.layout) merged.layout = layout;
  return { pipeline: merged, conflicts };
}
