/**
 * Column tags (issue 19): where they are set and how they follow the lineage.
 *
 * Set: a dataset entry's `columns.<col>.tags` in dagwood.json (for the file
 * ingest.file reads) and an ingest node's `columnTags` param (any ingest; the
 * way to tag a database table). Both become the ingest output's tags, each
 * with its origin and an empty `via`.
 *
 * Carried: after a block runs, the engine (app/engine/execute.ts) gives every
 * column of each table output the tags the block set itself (an ingest's; a
 * training set's feature columns, from the feature view's tags file) and
 * those of what it is derived from: the input columns its `columnLineage`
 * names (transform.sql), else the same-named column of each table input
 * (blocks that pass columns through: clean, split, features.view, …). A column whose name differs from
 * the input column it comes from adds a step `{ node, column }` to `via`; a
 * column that keeps its name (passed through, or transformed in place) adds
 * none, so the chain lists exactly the renames from the origin to the column:
 * "email_domain ← email (dataset customers)". Tags from several sources merge,
 * one per tag and origin (the shortest chain kept).
 *
 * Cached: the tags of a node's table inputs join its cache key (only when
 * there are any, so caches made before tags existed stay valid), and an
 * ingest's tag settings join the ingest's key, so a changed tag re-runs what
 * it reaches and never leaves a stale tag on a cached output. Where tags are
 * in play (tagged inputs, a columnTags param) the node's id joins the key as
 * well: tags name nodes, and a renamed node must not show its old id.
 */
import { existsSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { ColumnInfo, TableValue } from "../engine/ports";
import { writeFileAtomic } from "../store/atomic-write";
import {
  type ColumnTag,
  PERSONAL_TAGS,
  type PersonalDataUse,
  TAG_NAME,
  TagName,
  type TagOrigin,
} from "./types";

export { describeOrigin, describeTagOrigin, describeUseWithTags } from "../values/privacy-tags";

/** The `columnTags` param of the ingest blocks: `{ "email": ["pii"] }`. */
export const ColumnTagsParam = z
  .record(z.string().min(1).max(256), z.array(TagName).max(32))
  .optional()
  .describe(
    'Tags of the columns read, e.g. {"email": ["pii"]}: pii, sensitive or your own; they follow the column into everything derived from it, and training on a tagged column warns',
  )
  .meta({ order: 80, advanced: true });

/** Tags per output column, and the named columns the table does not have. */
export interface OriginTags {
  tags: Record<string, ColumnTag[]>;
  /** Warnings for the node: a tag naming a column the table lacks. */
  warnings: string[];
}

const lower = (s: string) => s.toLowerCase();

/**
 * The tags an ingest sets on the columns it read: those of its dataset entry
 * (dagwood.json `datasets.<name>.columns`) and of its `columnTags` param.
 * Column names match as DuckDB's do, regardless of case. A tag on a column
 * the table lacks is a warning, not a failure: the file may have dropped it.
 */
export function originTags(
  nodeId: string,
  columns: readonly Pick<ColumnInfo, "name">[],
  sources: {
    dataset?: { name: string; columns: Record<string, { tags: string[] }> };
    columnTags?: Record<string, string[]>;
  },
): OriginTags {
  const byName = new Map(columns.map((c) => [lower(c.name), c.name]));
  const tags: Record<string, ColumnTag[]> = {};
  const warnings: string[] = [];
  const add = (
    settings: Record<string, string[]>,
    origin: (column: string) => TagOrigin,
    where: string,
  ): void => {
    for (const [column, names] of Object.entries(settings)) {
      const actual = byName.get(lower(column));
      if (!actual) {
        if (names.length)
          warnings.push(
            `${where} tags the column "${column}" (${names.join(", ")}), which the table does not have: its columns are ${columns.map((c) => c.name).join(", ")}. Fix or remove the tag.`,
          );
        continue;
      }
      const found = names.map((tag): ColumnTag => ({ tag, origin: origin(actual), via: [] }));
      tags[actual] = mergeTags(tags[actual] ?? [], found);
    }
  };
  const { dataset, columnTags } = sources;
  if (dataset) {
    const settings = Object.fromEntries(Object.entries(dataset.columns).map(([c, s]) => [c, s.tags]));
    add(
      settings,
      (column) => ({ dataset: dataset.name, column }),
      `dataset "${dataset.name}" (dagwood.json)`,
    );
  }
  if (columnTags) add(columnTags, (column) => ({ node: nodeId, column }), `"columnTags"`);
  for (const [c, t] of Object.entries(tags)) if (!t.length) delete tags[c];
  return { tags, warnings };
}

const originKey = (t: ColumnTag) =>
  `${t.tag}\0${"dataset" in t.origin ? `d\0${t.origin.dataset}` : `n\0${t.origin.node}`}\0${t.origin.column}`;

/** Tags merged: one per tag and origin, the shorter chain kept; in first-seen order. */
export function mergeTags(...lists: readonly (readonly ColumnTag[])[]): ColumnTag[] {
  const out = new Map<string, ColumnTag>();
  for (const list of lists) {
    for (const t of list) {
      const key = originKey(t);
      const seen = out.get(key);
      if (!seen || t.via.length < seen.via.length) out.set(key, seen ? { ...t } : t);
    }
  }
  return [...out.values()];
}

/** Where an output column comes from: input port and column. */
export type ColumnSource = { port: string; column: string };

/**
 * The output's columns with their tags: those the block set itself (`own`:
 * an ingest's, a training set's feature columns), merged with those carried
 * from the inputs: from the input columns `lineage` names for the column,
 * else from the same-named column of each table input. A column whose name
 * differs from its source's adds `{ node, column }` to the chain.
 */
export function propagateTags(
  nodeId: string,
  columns: readonly ColumnInfo[],
  inputs: Record<string, TableValue | undefined>,
  how: { own?: Record<string, ColumnTag[]>; lineage?: Record<string, ColumnSource[]> },
): ColumnInfo[] {
  const inputTags = new Map<string, Map<string, ColumnTag[]>>();
  for (const [port, table] of Object.entries(inputs)) {
    const m = new Map<string, ColumnTag[]>();
    for (const c of table?.columns ?? []) if (c.tags?.length) m.set(lower(c.name), c.tags);
    if (m.size) inputTags.set(port, m);
  }
  return columns.map(({ tags: _old, ...column }) => {
    const sources: ColumnSource[] =
      how.lineage?.[column.name] ?? [...inputTags.keys()].map((port) => ({ port, column: column.name }));
    const tags = mergeTags(
      how.own?.[column.name] ?? [],
      ...sources.map((s) => {
        const found = inputTags.get(s.port)?.get(lower(s.column)) ?? [];
        if (lower(s.column) === lower(column.name)) return found;
        return found.map((t) => ({ ...t, via: [...t.via, { node: nodeId, column: column.name }] }));
      }),
    );
    return tags.length ? { ...column, tags } : column;
  });
}

/** The tags of the table inputs, for the cache key; undefined when no input column has any. */
export function inputTagsKey(
  inputs: Record<string, { type: string; columns?: readonly ColumnInfo[] } | undefined>,
): Record<string, Record<string, ColumnTag[]>> | undefined {
  const key: Record<string, Record<string, ColumnTag[]>> = {};
  for (const [port, v] of Object.entries(inputs)) {
    if (v?.type !== "table") continue;
    const tagged = (v.columns ?? []).filter((c) => c.tags?.length);
    if (tagged.length) key[port] = Object.fromEntries(tagged.map((c) => [c.name, c.tags!]));
  }
  return Object.keys(key).length ? key : undefined;
}

/**
 * Whether a tag makes a column personal data for training and governance.
 * Decision: every tag does, PERSONAL_TAGS (pii, sensitive) and the user's own
 * alike. A user tags a column because it needs care (a customer segment, a
 * salary band); a model trained on it says so rather than staying silent on
 * every tag but two (PersonalDataUse: "PERSONAL_TAGS and the user's own").
 */
export const isPersonalTag = (tag: string): boolean => PERSONAL_TAGS.includes(tag) || TAG_NAME.test(tag);

/**
 * The model inputs that carry tags, from the tagged columns of the table the
 * model was trained on: one use per input, in the model's input order.
 */
export function personalDataUses(
  inputs: readonly string[],
  columns: readonly ColumnInfo[],
): PersonalDataUse[] {
  // Every table input's column of a name counts (a same-named untagged one must not hide a tagged one).
  const byName = new Map<string, ColumnTag[]>();
  for (const c of columns)
    if (c.tags?.length) byName.set(lower(c.name), mergeTags(byName.get(lower(c.name)) ?? [], c.tags));
  const uses: PersonalDataUse[] = [];
  for (const input of inputs) {
    const tags = (byName.get(lower(input)) ?? []).filter((t) => isPersonalTag(t.tag));
    if (tags.length) uses.push({ input, tags });
  }
  return uses;
}

/** The raw input columns of a model port's value (dagwood.model/1's preprocess.features), or undefined. */
export function modelInputs(data: unknown): string[] | undefined {
  const features = (data as { preprocess?: { features?: unknown } } | null)?.preprocess?.features;
  if (!Array.isArray(features)) return undefined;
  return features
    .map((f) => (f as { name?: unknown })?.name)
    .filter((n): n is string => typeof n === "string");
}

/** The tags of a feature view's offline table: written by features.view beside it, read by training sets. */
export const VIEW_TAGS_FORMAT = "dagwood.feature-tags/1";

/** `<offline table folder>/tags.json`. */
export const viewTagsFile = (offlineDir: string): string => join(offlineDir, "tags.json");

/**
 * Writes the tagged columns of the table a feature view's offline table was written from (atomically,
 * beside it), or removes the file when no column has a tag: training sets read the tags from there.
 */
export async function writeViewTags(offlineDir: string, columns: readonly ColumnInfo[]): Promise<void> {
  const file = viewTagsFile(offlineDir);
  const tagged = columns.filter((c) => c.tags?.length);
  if (!tagged.length) {
    await rm(file, { force: true });
    return;
  }
  const text = `${JSON.stringify({ format: VIEW_TAGS_FORMAT, columns: Object.fromEntries(tagged.map((c) => [c.name, c.tags!])) }, null, 2)}\n`;
  await writeFileAtomic(file, text);
}

/**
 * The view's column tags (column → tags), {} when it has none. A file that is not such a file is an
 * error: its tags must not be silently lost on the way into a model.
 */
export function readViewTags(offlineDir: string): Record<string, ColumnTag[]> {
  const file = viewTagsFile(offlineDir);
  if (!existsSync(file)) return {};
  let parsed: { format?: unknown; columns?: unknown };
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(
      `${file} is not valid JSON (${(e as Error).message}): run the pipeline that writes the feature view again.`,
    );
  }
  if (parsed?.format !== VIEW_TAGS_FORMAT || !parsed.columns || typeof parsed.columns !== "object")
    throw new Error(
      `${file} is not a ${VIEW_TAGS_FORMAT} file: run the pipeline that writes the feature view again.`,
    );
  return parsed.columns as Record<string, ColumnTag[]>;
}
