import type { PipelineDocument } from "../store/types";

/** Same rule as NODE_ID in app/pipeline/schema.ts: edges name "id.port", so no dots. */
const NODE_ID = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** A readable base for a new node of a block kind: its last segment ("train.gbdt" → "gbdt"). */
export function baseIdFor(kind: string): string {
  const last = kind.split(".").pop() ?? "node";
  const clean = last.replace(/[^A-Za-z0-9_-]/g, "_");
  return /^[A-Za-z_]/.test(clean) ? clean : `n_${clean}`;
}

/** Shorter prefixes for node ids named after their upstream ("evaluate" fed by gbdt → "eval_gbdt"). */
const SHORT_KIND: Readonly<Record<string, string>> = { evaluate: "eval" };

/** The prefix of ids named after an upstream node: the kind's last segment, shortened where it is long. */
export function shortKind(kind: string): string {
  const base = baseIdFor(kind);
  return SHORT_KIND[base] ?? base;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Whether an id is the one a new node of `kind` gets ("evaluate", "evaluate_2"): the user has not named it. */
export function isAutoId(id: string, kind: string): boolean {
  return new RegExp(`^${escapeRegExp(baseIdFor(kind))}(_\\d+)?$`).test(id);
}

/**
 * The id a node gets when an upstream node first feeds it a model, report,
 * version or deployment: `<short kind>_<upstream>` (an evaluate fed by
 * `logistic` → `eval_logistic`; a register fed by `eval_gbdt` → `register_gbdt`,
 * the upstream's own prefix dropped). Null when the id stays: the user named
 * the node, or the input is a table (a train block fed by `split` stays `gbdt`).
 */
export function connectedId(
  doc: PipelineDocument,
  node: { id: string; block: string },
  inputType: string,
  upstream: { id: string; block: string },
): string | null {
  if (inputType === "table" || !isAutoId(node.id, node.block)) return null;
  const upstreamPrefix = `${shortKind(upstream.block)}_`;
  const rest = upstream.id.startsWith(upstreamPrefix) ? upstream.id.slice(upstreamPrefix.length) : "";
  // "eval_gbdt" → "gbdt", but "gbdt_2" stays whole (its "_2" is a number, not a name).
  const stem = rest && !/^\d+$/.test(rest) ? rest : upstream.id;
  const wanted = `${shortKind(node.block)}_${stem}`;
  if (wanted === node.id) return null;
  const others: PipelineDocument = { ...doc, nodes: doc.nodes.filter((n) => n.id !== node.id) };
  return uniqueId(others, wanted);
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
