import type { BlockInfo } from "../../../app/api/api";

/** Blocks whose kind, title, category or description holds every word of the query. */
export function searchBlocks(blocks: readonly BlockInfo[], query: string): BlockInfo[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return [...blocks];
  return blocks.filter((b) => {
    const text = `${b.kind} ${b.title} ${b.category} ${b.description}`.toLowerCase();
    return words.every((w) => text.includes(w));
  });
}

/** Category → blocks, categories in the order the catalog first names them. */
export function groupByCategory(blocks: readonly BlockInfo[]): [string, BlockInfo[]][] {
  const groups = new Map<string, BlockInfo[]>();
  for (const b of blocks) groups.set(b.category, [...(groups.get(b.category) ?? []), b]);
  return [...groups];
}
