/**
 * Column tags as the app shows them (privacy, issue 19): where a tag came
 * from ("email_domain ← email (dataset customers)"), the tags of a node's
 * outputs merged, which of them are personal, the dagwood.json patches that
 * add or remove a tag on a dataset's column (and the patch that undoes
 * each), and the scan's figures. Pure: the components and tests share them.
 */

import {
  type ColumnScan,
  type ColumnTag,
  PERSONAL_TAGS,
  TAG_NAME,
  type TagOrigin,
} from "../../../app/values/privacy";
import { describeOrigin, describeTagOrigin } from "../../../app/values/privacy-tags";
import type { OutputSummary } from "../store/run";

/** The tags a user is offered first; any other name matching TAG_NAME is theirs. */
export const SUGGESTED_TAGS = ["pii", "sensitive"] as const;

/** Where a tag was set: "dataset customers" or "node read_db" (as the core says it). */
export const originSource = (origin: TagOrigin): string => describeOrigin(origin);

/**
 * The chain a chip's tooltip starts with, in the core's words (app/values/privacy-tags.ts, as the
 * train warning and `dagwood governance` say it): "email_domain ← email (dataset customers)"; each
 * renaming step in between; a column tagged where it was set reads "email (dataset customers)".
 */
export const originChain = (column: string, tag: ColumnTag): string => describeTagOrigin(tag, column);

/**
 * Every step from the origin to the column, oldest first: "email (dataset customers)", then
 * "email_domain (node domain)" per derivation. A chain passing a column through under its own name
 * shows that node too (the engine records the hops it made).
 */
export function originSteps(tag: ColumnTag): string[] {
  return [
    `${tag.origin.column} (${originSource(tag.origin)})`,
    ...tag.via.map((v) => `${v.column} (node ${v.node})`),
  ];
}

/** The tooltip of a chip: the chain, then each step on its own line when there are derivations. */
export function tagTitle(column: string, tag: ColumnTag): string {
  const head = `${tag.tag}: ${originChain(column, tag)}`;
  return tag.via.length ? `${head}\n${originSteps(tag).join("\n→ ")}` : head;
}

const originKey = (t: ColumnTag) =>
  "dataset" in t.origin
    ? `d:${t.origin.dataset}:${t.origin.column}`
    : `n:${t.origin.node}:${t.origin.column}`;

/**
 * The tags of one column from several sources (two inputs joined, two output ports), deduplicated by
 * tag and origin: of two routes from the same origin the shorter `via` is kept. Ordered by tag, then
 * origin, so the chips do not move between runs.
 */
export function mergeTags(...lists: (readonly ColumnTag[] | undefined)[]): ColumnTag[] {
  const byKey = new Map<string, ColumnTag>();
  for (const list of lists)
    for (const t of list ?? []) {
      const key = `${t.tag}|${originKey(t)}`;
      const seen = byKey.get(key);
      if (!seen || t.via.length < seen.via.length) byKey.set(key, t);
    }
  return [...byKey.values()].sort((a, b) =>
    a.tag === b.tag ? originKey(a).localeCompare(originKey(b)) : a.tag.localeCompare(b.tag),
  );
}

/** A column's tags grouped by name, for one chip per name (its origins in the tooltip). */
export function groupByTag(tags: readonly ColumnTag[]): { tag: string; origins: ColumnTag[] }[] {
  const groups = new Map<string, ColumnTag[]>();
  for (const t of mergeTags(tags)) groups.set(t.tag, [...(groups.get(t.tag) ?? []), t]);
  return [...groups].map(([tag, origins]) => ({ tag, origins }));
}

export const isPersonal = (tag: string) => PERSONAL_TAGS.includes(tag);

/** Column → tags over every table output of a node (ports merged by column name). */
export function outputTags(outputs: Record<string, OutputSummary> | undefined): Map<string, ColumnTag[]> {
  const merged = new Map<string, ColumnTag[]>();
  for (const out of Object.values(outputs ?? {}))
    for (const [column, tags] of Object.entries(out.tags ?? {}))
      merged.set(column, mergeTags(merged.get(column), tags));
  return merged;
}

/** The output columns that carry a personal tag (pii, sensitive), in output order: the node's mark. */
export function personalColumns(outputs: Record<string, OutputSummary> | undefined): string[] {
  return [...outputTags(outputs)].filter(([, tags]) => tags.some((t) => isPersonal(t.tag))).map(([c]) => c);
}

/** The node mark's tooltip: "Personal data in its output: email_domain (pii ← email), …". */
export function personalTitle(outputs: Record<string, OutputSummary> | undefined): string {
  const tags = outputTags(outputs);
  const columns = personalColumns(outputs);
  // A wide table may have hundreds: the first TITLE_COLUMNS, then how many more.
  const parts = columns.slice(0, TITLE_COLUMNS).map((column) => {
    const personal = (tags.get(column) ?? []).filter((t) => isPersonal(t.tag));
    const names = [...new Set(personal.map((t) => t.tag))].join(", ");
    const from = [...new Set(personal.map((t) => t.origin.column))].filter((c) => c !== column);
    return `${column} (${names}${from.length ? ` ← ${from.join(", ")}` : ""})`;
  });
  const more = columns.length - parts.length;
  return `Personal data in its output: ${parts.join(", ")}${more > 0 ? ` and ${more} more column${more === 1 ? "" : "s"}` : ""}`;
}

const TITLE_COLUMNS = 10;

/** Why a tag name is refused, in the words the user needs, or null when it is fine. */
export function tagProblem(name: string, existing: readonly string[]): string | null {
  if (!name) return "Type a tag, e.g. pii.";
  if (!TAG_NAME.test(name))
    return `"${name}" is not a tag: lower-case letters, digits, _ or -, starting with a letter (at most 32), e.g. pii.`;
  if (existing.includes(name)) return `The column is already tagged ${name}.`;
  return null;
}

/** A dagwood.json patch of dataset columns: per column, its new full tag list (null removes its entry). */
export type ColumnsPatch = Record<string, { tags: string[] } | null>;

const entryOf = (tags: readonly string[]) => (tags.length ? { tags: [...tags] } : null);

/**
 * The patch that sets `next` tags on `columns` (from `current`, the dataset's columnTags), and the
 * patch that puts them back as they were: the undo of one edit, or of "Accept all" in one step.
 */
export function columnsPatch(
  current: Readonly<Record<string, readonly string[]>>,
  next: Readonly<Record<string, readonly string[]>>,
): { patch: ColumnsPatch; undo: ColumnsPatch } {
  const patch: ColumnsPatch = {};
  const undo: ColumnsPatch = {};
  for (const [column, tags] of Object.entries(next)) {
    const before = current[column] ?? [];
    if (before.length === tags.length && before.every((t, i) => t === tags[i])) continue;
    patch[column] = entryOf(tags);
    undo[column] = entryOf(before);
  }
  return { patch, undo };
}

/** `tag` added to each of `columns` that lacks it (Tag as pii, Accept all). */
export function withTag(
  current: Readonly<Record<string, readonly string[]>>,
  columns: readonly string[],
  tag: string,
): Record<string, string[]> {
  return Object.fromEntries(
    columns.map((c) => {
      const tags = current[c] ?? [];
      return [c, tags.includes(tag) ? [...tags] : [...tags, tag]];
    }),
  );
}

/** `tag` taken off `column`. */
export function withoutTag(
  current: Readonly<Record<string, readonly string[]>>,
  column: string,
  tag: string,
): Record<string, string[]> {
  return { [column]: (current[column] ?? []).filter((t) => t !== tag) };
}

/** The columns a scan found something in that are not tagged pii yet: what "Accept all" tags. */
export function untaggedFindings(
  scan: readonly ColumnScan[],
  current: Readonly<Record<string, readonly string[]>>,
): string[] {
  return scan
    .filter((c) => c.kinds.length && !(current[c.column] ?? []).includes("pii"))
    .map((c) => c.column);
}

/** A share as the scan table shows it: "100%", "87%", "0.4%", "<0.1%". */
export function formatShare(share: number): string {
  if (share >= 0.995) return share >= 1 ? "100%" : "99%";
  if (share >= 0.01) return `${Math.round(share * 100)}%`;
  if (share >= 0.001) return `${(share * 100).toFixed(1)}%`;
  return share > 0 ? "<0.1%" : "0%";
}

const KIND_LABELS: Record<string, string> = {
  email: "e-mail",
  phone: "phone",
  card: "card number",
  iban: "IBAN",
  ipv4: "IPv4",
  ipv6: "IPv6",
  birthdate: "date of birth",
  personal_name: "personal (by name)",
};

/** A kind as a person reads it: "e-mail", "card number", "personal (by name)". */
export const kindLabel = (kind: string) => KIND_LABELS[kind] ?? kind;

/** "scanned 10,000 of 3,000,000 rows (sample, seed 42)" or "scanned all 344 rows". */
export function sampleLine(r: { rows: number; sampled: number; seed: number }): string {
  const n = (x: number) => x.toLocaleString("en-US");
  return r.sampled >= r.rows
    ? `scanned all ${n(r.rows)} row${r.rows === 1 ? "" : "s"}`
    : `scanned ${n(r.sampled)} of ${n(r.rows)} rows (reservoir sample, seed ${r.seed})`;
}
