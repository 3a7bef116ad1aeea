import { type AnyBlock, makeCatalog } from "../app/engine/block";
import shuffle from "./shuffle";

/** Every block kind, one line each. Adding a block is a file, its test, and a line here. */
export const blocks: AnyBlock[] = [shuffle];

export const catalog = makeCatalog(blocks);
