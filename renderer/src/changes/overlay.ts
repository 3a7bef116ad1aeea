/**
 * A pipeline's changes since a git revision (the pipelineChanges answer)
 * mapped onto the canvas: a mark per node of the current document (added,
 * changed params, renamed), ghosts for the removed nodes at their old
 * positions, and the diff as lines for the Changes panel, each naming the
 * node it is about so a click can select and centre it.
 */
import type { PipelineChanges, PipelineDiff } from "../../../app/api/api";
import type { Position } from "../store/types";

export type NodeMarkKind = "added" | "changed" | "renamed";

export interface NodeMark {
  kind: NodeMarkKind;
  /** Its own values that changed (params by leaf, block, label), old → new. */
  changes: { path: string; old?: unknown; new?: unknown }[];
  /** Its id at the base, when it was renamed. */
  renamedFrom?: string;
}

/** A removed node, drawn where it was at the base; never editable. */
export interface Ghost {
  id: string;
  block: string;
  label?: string;
  position: Position;
}

export interface ChangeLine {
  key: string;
  sign: "+" | "-" | "~";
  text: string;
  /** The node of the current document it is about (selected and centred on click), or null. */
  node: string | null;
  /** A removed node's id: the click centres its ghost. */
  ghost?: string;
}

export interface Overlay {
  marks: ReadonlyMap<string, NodeMark>;
  ghosts: Ghost[];
  lines: ChangeLine[];
  /** "3 changes, and layout (2 nodes moved)", "No changes". */
  summary: string;
}

export const GHOST_PREFIX = "ghost:";

/** A value as one short line (JSON; long ones cut). */
export function showValue(v: unknown): string {
  if (v === undefined) return "(absent)";
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function summaryOf(diff: PipelineDiff, lines: number): string {
  if (diff.same) return "No changes";
  const { moved, restyled } = diff.layout;
  const layout = moved + restyled;
  const parts = [
    moved ? plural(moved, "node moved", "nodes moved") : "",
    restyled ? plural(restyled, "node restyled", "nodes restyled") : "",
  ].filter(Boolean);
  const head = lines ? plural(lines, "change") : "No logic changes";
  return layout ? `${head}, and layout (${parts.join(", ")})` : head;
}

/** Where a removed node is drawn: its place at the base, or (a file with no layout) in a column left of the graph. */
function ghostPosition(base: Record<string, unknown> | null, id: string, index: number): Position {
  const layout = (base?.layout ?? {}) as Record<string, { x?: unknown; y?: unknown } | undefined>;
  const at = layout[id];
  if (at && typeof at.x === "number" && typeof at.y === "number") return { x: at.x, y: at.y };
  return { x: -320, y: index * 140 };
}

export function buildOverlay(changes: Pick<PipelineChanges, "diff" | "basePipeline">): Overlay | null {
  const { diff, basePipeline } = changes;
  if (!diff) return null;
  const marks = new Map<string, NodeMark>();
  const lines: ChangeLine[] = [];
  for (const r of diff.nodes.renamed) {
    marks.set(r.to, { kind: "renamed", changes: [], renamedFrom: r.from });
    lines.push({
      key: `rename:${r.from}`,
      sign: "~",
      text: `node ${r.from} renamed to ${r.to}`,
      node: r.to,
    });
  }
  const ghosts = diff.nodes.removed.map((n, i) => ({
    id: n.id,
    block: n.block,
    ...(n.label !== undefined ? { label: n.label } : {}),
    position: ghostPosition(basePipeline, n.id, i),
  }));
  for (const n of diff.nodes.removed)
    lines.push({
      key: `removed:${n.id}`,
      sign: "-",
      text: `node ${n.id} (${n.block})`,
      node: null,
      ghost: n.id,
    });
  for (const n of diff.nodes.added) {
    marks.set(n.id, { kind: "added", changes: [] });
    lines.push({ key: `added:${n.id}`, sign: "+", text: `node ${n.id} (${n.block})`, node: n.id });
  }
  for (const c of diff.nodes.changed) {
    const mark = marks.get(c.node) ?? { kind: "changed" as const, changes: [] };
    mark.changes.push({
      path: c.path,
      ...("old" in c ? { old: c.old } : {}),
      ...("new" in c ? { new: c.new } : {}),
    });
    marks.set(c.node, mark);
    lines.push({
      key: `changed:${c.node}:${c.path}`,
      sign: "~",
      text: `node ${c.node} ${c.path}: ${showValue(c.old)} → ${showValue(c.new)}`,
      node: c.node,
    });
  }
  const endOf = (endpoint: string) => endpoint.slice(0, endpoint.lastIndexOf("."));
  for (const [sign, list] of [
    ["-", diff.edges.removed],
    ["+", diff.edges.added],
  ] as const)
    for (const e of list) {
      const target = endOf(e.to);
      const removedTarget = diff.nodes.removed.some((n) => n.id === target);
      lines.push({
        key: `edge${sign}${e.from}>${e.to}`,
        sign,
        text: `edge ${e.from} → ${e.to}`,
        node: removedTarget ? null : target,
        ...(removedTarget ? { ghost: target } : {}),
      });
    }
  for (const c of diff.pipeline)
    lines.push({
      key: `pipeline:${c.path}`,
      sign: "~",
      text: `pipeline ${c.path}: ${showValue(c.old)} → ${showValue(c.new)}`,
      node: null,
    });
  return { marks, ghosts, lines, summary: summaryOf(diff, lines.length) };
}
