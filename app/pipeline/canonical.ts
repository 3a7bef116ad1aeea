import type { Pipeline } from "./schema";

/** Sorts object keys recursively so equal content prints equally. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The canonical text of a pipeline: fixed top-level key order (format, name,
 * description, owner, purpose, reviewBy, deprecated {reason, replacement,
 * since}, params, nodes, edges, conflicts, layout) and node key order,
 * nodes sorted by id, edges by (from, to), params and layout keys sorted, two
 * spaces, a trailing newline. Saving what was loaded from a canonical file
 * gives the same bytes, so a review diff shows only real changes.
 */
export function serializePipeline(p: Pipeline): string {
  const out: Record<string, unknown> = { format: p.format, name: p.name };
  if (p.description !== undefined) out.description = p.description;
  if (p.owner !== undefined) out.owner = p.owner;
  if (p.purpose !== undefined) out.purpose = p.purpose;
  if (p.reviewBy !== undefined) out.reviewBy = p.reviewBy;
  if (p.deprecated !== undefined) {
    const { reason, replacement, since } = p.deprecated;
    out.deprecated = {
      reason,
      ...(replacement !== undefined ? { replacement } : {}),
      ...(since !== undefined ? { since } : {}),
    };
  }
  out.params = sortKeys(p.params);
  out.nodes = [...p.nodes]
    .sort((a, b) => byString(a.id, b.id))
    .map((n) => {
      const node: Record<string, unknown> = { id: n.id, block: n.block };
      if (n.label !== undefined) node.label = n.label;
      if (n.description !== undefined) node.description = n.description;
      node.params = sortKeys(n.params);
      return node;
    });
  out.edges = [...p.edges]
    .sort((a, b) => byString(a.from, b.from) || byString(a.to, b.to))
    .map((e) => ({ from: e.from, to: e.to }));
  // Once the last conflict is resolved the field goes: a resolved file reads as one that never conflicted.
  if (p.conflicts?.length) {
    out.conflicts = p.conflicts.map((c) => {
      const conflict: Record<string, unknown> = {};
      if (c.node !== undefined) conflict.node = c.node;
      conflict.path = c.path;
      for (const side of ["base", "ours", "theirs"] as const)
        if (c[side] !== undefined) conflict[side] = sortKeys(c[side]);
      conflict.kept = c.kept;
      return conflict;
    });
  }
  if (p.layout !== undefined) {
    out.layout = Object.fromEntries(
      Object.keys(p.layout)
        .sort(byString)
        .map((id) => {
          const { x, y, ...rest } = p.layout![id]!;
          return [id, { x, y, ...(sortKeys(rest) as object) }];
        }),
    );
  }
  return `${JSON.stringify(out, null, 2)}\n`;
}
