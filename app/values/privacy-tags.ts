/**
 * Column tags in words (issue 19), shared by the core and the renderer: where
 * a tag on a column came from, as the inspector, the train node's warning,
 * the model version page and `dagwood governance` say it.
 */
import type { ColumnTag, PersonalDataUse, TagOrigin } from "./privacy";

/** "dataset customers" or "node read_db": where a tag was set. */
export function describeOrigin(origin: TagOrigin): string {
  return "dataset" in origin ? `dataset ${origin.dataset}` : `node ${origin.node}`;
}

/**
 * A tag on `column` with its chain: "email_domain ← email (dataset customers)"
 * for a derived column, "email (dataset customers)" at its origin, and every
 * renamed step between ("c ← b ← a (node read)").
 */
export function describeTagOrigin(tag: ColumnTag, column: string): string {
  const chain = [...tag.via.map((v) => v.column).reverse(), tag.origin.column];
  const names = [column, ...chain].filter((c, i, all) => i === 0 || c !== all[i - 1]);
  return `${names.join(" ← ")} (${describeOrigin(tag.origin)})`;
}

/**
 * "email_domain ← email (pii)": a model input with personal tags, its source
 * columns and the tags, as the train node warns and the version page says.
 */
export function describeUseWithTags(use: PersonalDataUse): string {
  const sources = [...new Set(use.tags.map((t) => t.origin.column))].filter((c) => c !== use.input);
  const tags = [...new Set(use.tags.map((t) => t.tag))].join(", ");
  return `${sources.length ? `${use.input} ← ${sources.join(", ")}` : use.input} (${tags})`;
}
