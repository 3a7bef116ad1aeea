import type { PipelineDocument } from "../store/types";

/** Same rule as NODE_ID in app/pipeline/schema.ts: edges name "id.port", so no dots. */
const NODE_ID = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** A readable base for a new node of a block kind: its last segment ("train.gbdt" → "gbdt"). */
export function baseIdFor(kind: string): string {
  const last = kind.split(".").pop() ?? "node";
  const clean = last.replace(/[^A-Za-z0-9_-]/g, "_");
  return /^[A-Za-z_]/.test(clean) ? clean : `n_${clean}`;
}

/** `base` if free, else `base_2`, `base_3`, … (also skipping ids in `taken`). */
export function uniqueId(
  doc: PipelineDocument,
  base: string,
  taken: ReadonlySet<string> = new Set(),
): string {
  const used = new Set(doc.nodes.map((n) => n.id));
  const free = (id: string) => !used.has(id) && !taken.has(id);
  const stem = base.replace(/_\d+$/, "") || base;
  if (free(base)) return base;
  for (let i = 2; ; i++) {
    const id = `${stem}_${i}`;
    if (free(id)) return id;
  }
}

/** Why a node id cannot be used, or null when it can. */
export function nodeIdProblem(doc: PipelineDocument, current: string, next: string): string | null {
  if (next === current) return null;
  if (!NODE_ID.test(next))
    return "An id starts with a letter or _ and holds only letters, digits, _ and - (no dots)";
  if (doc.nodes.some((n) => n.id === next)) return `There is already a node "${next}"`;
  return null;
}
