/** Pure helpers of the inspector's column tags: an ingest node's `columnTags` param, a node's output rows. */
import type { ColumnTag } from "../../../app/values/privacy";
import { mergeTags } from "../data/tags";

export type ColumnTagsValue = Record<string, string[]>;

/** The param as the node holds it, ignoring what is not a column → tag list (the core reports that). */
export function readColumnTags(value: unknown): ColumnTagsValue {
  if (!value || typeof value !== "object" || Array.isArray(value)) return {};
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .filter(([, tags]) => Array.isArray(tags))
      .map(([c, tags]) => [c, (tags as unknown[]).filter((t): t is string => typeof t === "string")]),
  );
}

/** The param after adding (or removing) a tag; undefined when no column keeps a tag (the param goes). */
export function editColumnTags(
  current: ColumnTagsValue,
  column: string,
  tag: string,
  add: boolean,
): ColumnTagsValue | undefined {
  const tags = current[column] ?? [];
  const next = {
    ...current,
    [column]: add ? [...tags.filter((t) => t !== tag), tag] : tags.filter((t) => t !== tag),
  };
  if (!next[column]!.length) delete next[column];
  return Object.keys(next).length ? next : undefined;
}

export interface Row {
  name: string;
  type: string;
  tags: ColumnTag[];
}

/** The rows of one table output: the inferred columns in order, tags from the run (and inference) merged in. */
export function outputRows(
  inferred: readonly { name: string; type: string; tags?: ColumnTag[] }[] | undefined,
  runTags: Readonly<Record<string, ColumnTag[]>> | undefined,
): Row[] {
  const rows: Row[] = (inferred ?? []).map((c) => ({
    name: c.name,
    type: c.type,
    tags: mergeTags(c.tags, runTags?.[c.name]),
  }));
  const known = new Set(rows.map((r) => r.name));
  for (const [name, tags] of Object.entries(runTags ?? {}))
    if (!known.has(name)) rows.push({ name, type: "", tags: mergeTags(tags) });
  return rows;
}
