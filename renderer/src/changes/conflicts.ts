/**
 * Merge conflicts `dagwood merge` wrote into a pipeline file (its
 * `conflicts` list, app/pipeline/schema.ts ConflictSchema): read from the
 * document, described, and resolved by picking a side. Picking writes that
 * side's value where the conflict is (a node's param, block, label, id, an
 * input's edge, or a pipeline field; "" keeps or deletes the node) and drops
 * the entry; each pick is one document change, so undo takes it back.
 */
import { joinEndpoint } from "../document/endpoints";
import { removeElements, renameNode } from "../document/ops";
import type { NodeDoc, PipelineDocument } from "../store/types";
import { showValue } from "./overlay";

export type Side = "ours" | "theirs" | "base";

export interface Conflict {
  node?: string;
  path: string;
  base?: unknown;
  ours?: unknown;
  theirs?: unknown;
  kept: "ours" | "theirs";
}

/** The document's conflicts (entries not shaped as one are left out: validation names them). */
export function conflictsOf(doc: PipelineDocument | null): Conflict[] {
  const list = doc?.conflicts;
  if (!Array.isArray(list)) return [];
  return list.filter(
    (c): c is Conflict => typeof c === "object" && c !== null && typeof (c as Conflict).path === "string",
  );
}

/** Where a conflict is, as the CLI prints it: `gbdt.params.trees`, `node gbdt`, `params.seed`. */
export function conflictWhere(c: Conflict): string {
  if (c.node === undefined) return c.path;
  return c.path === "" ? `node ${c.node}` : `${c.node}.${c.path}`;
}

/** The sides one can pick, with what each means. A node deleted on one side: keep it, or delete it. */
export function conflictChoices(c: Conflict): { side: Side; text: string }[] {
  if (c.path === "" && c.node !== undefined)
    return (["ours", "theirs"] as const).map((side) => ({
      side,
      text: c[side] === undefined ? "delete the node" : "keep the node",
    }));
  const sides: Side[] = ["ours", "theirs", "base"];
  return sides.map((side) => ({ side, text: showValue(c[side]) }));
}

type Segment = string | number;

/** `params.trees`, `params.columns[2]`, `params["odd key"]` (app/pipeline/diff.ts joinPath) as keys. */
export function parsePath(path: string): Segment[] {
  const out: Segment[] = [];
  const token = /^(?:\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\])/;
  let rest = path;
  while (rest) {
    const m = token.exec(rest);
    if (!m) throw new Error(`Cannot read the conflict's path "${path}"; edit the file by hand.`);
    out.push(m[1] ?? (m[2] !== undefined ? Number(m[2]) : (JSON.parse(m[3]!) as string)));
    rest = rest.slice(m[0].length);
  }
  return out;
}

/** `target` with the value at `path` set (undefined: removed), copying only along the path. */
function setIn(target: unknown, path: Segment[], value: unknown): unknown {
  if (!path.length) return value;
  const [head, ...rest] = path as [Segment, ...Segment[]];
  if (Array.isArray(target) && typeof head === "number") {
    const copy = [...target];
    copy[head] = setIn(target[head], rest, value);
    return copy;
  }
  const obj = (typeof target === "object" && target !== null ? target : {}) as Record<string, unknown>;
  const next = setIn(obj[head], rest, value);
  const copy = { ...obj };
  if (next === undefined) delete copy[String(head)];
  else copy[String(head)] = next;
  return copy;
}

function withoutEntry(doc: PipelineDocument, index: number, rename?: { from: string; to: string }) {
  const rest = conflictsOf(doc)
    .filter((_, i) => i !== index)
    .map((c) => (rename && c.node === rename.from ? { ...c, node: rename.to } : c));
  const next = { ...doc };
  if (rest.length) next.conflicts = rest;
  else delete next.conflicts;
  return next;
}

/** The document with conflict `index` resolved to `side`'s value and its entry gone. Throws, saying why, when it cannot be. */
export function resolveConflict(doc: PipelineDocument, index: number, side: Side): PipelineDocument {
  const c = conflictsOf(doc)[index];
  if (!c) throw new Error("That conflict is no longer in the pipeline.");
  const value = c[side];
  if (c.node === undefined) {
    // A pipeline field: name, params (or one of them), description, …
    return withoutEntry(setIn(doc, parsePath(c.path), value) as PipelineDocument, index);
  }
  const id = c.node;
  const node = doc.nodes.find((n) => n.id === id);
  if (c.path === "") {
    if (value === undefined) return withoutEntry(removeElements(doc, new Set([id])), index);
    if (!node) throw new Error(`Node ${id} is not in the pipeline any more; delete the conflict entry.`);
    return withoutEntry(doc, index);
  }
  if (!node) throw new Error(`Node ${id} is not in the pipeline any more; delete the conflict entry.`);
  if (c.path === "id") {
    if (typeof value !== "string" || !value)
      throw new Error(`${side} has no id for this node; pick another side.`);
    if (value === id) return withoutEntry(doc, index);
    if (doc.nodes.some((n) => n.id === value))
      throw new Error(
        `Another node is already called ${value}; rename that one first (in the inspector), or pick another side.`,
      );
    return withoutEntry(renameNode(doc, id, value), index, { from: id, to: value });
  }
  if (c.path.startsWith("inputs.")) {
    const to = joinEndpoint(id, c.path.slice("inputs.".length));
    const edges = doc.edges.filter((e) => e.to !== to);
    if (typeof value === "string") edges.push({ from: value, to });
    return withoutEntry({ ...doc, edges }, index);
  }
  const changed = setIn(node, parsePath(c.path), value) as NodeDoc;
  return withoutEntry({ ...doc, nodes: doc.nodes.map((n) => (n === node ? changed : n)) }, index);
}
