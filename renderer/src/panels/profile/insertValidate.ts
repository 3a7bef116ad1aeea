/**
 * From a profile to a check in the graph: which output the profiled table
 * came from, a suite name for it, and the validate.expectations node that
 * checks that output against a saved suite (one document, one undo step).
 */

import { splitEndpoint } from "../../document/endpoints";
import { setNodeParams } from "../../document/ops";
import { addConnectedNode } from "../../graph/connect";
import { DEFAULT_NODE_SIZE } from "../../graph/layout";
import type { Catalog, Endpoint, PipelineDocument } from "../../store/types";

export const VALIDATE_BLOCK = "validate.expectations";

/** The output feeding the profile node's input (its `in`, else its only connected input); null when none is connected. */
export function profiledSource(doc: PipelineDocument, profiledBy: string): Endpoint | null {
  const into = doc.edges.filter((e) => splitEndpoint(e.to).node === profiledBy);
  const edge =
    into.find((e) => splitEndpoint(e.to).port === "in") ?? (into.length === 1 ? into[0] : undefined);
  return edge ? splitEndpoint(edge.from) : null;
}

/** A suite name for a table: the file an ingest.file node reads ("penguins" for data/penguins.csv), else the node's id. */
export function suggestedSuiteName(doc: PipelineDocument, source: Endpoint | null): string {
  if (!source) return "suite";
  const node = doc.nodes.find((n) => n.id === source.node);
  const path = node?.block === "ingest.file" ? node.params.path : undefined;
  if (typeof path === "string" && !path.includes("${")) {
    const base = path.split(/[\\/]/).pop() ?? "";
    const stem = base.replace(/\.[^.]*$/, "").replace(/[^A-Za-z0-9_.-]+/g, "_");
    if (stem) return stem;
  }
  return source.node;
}

/** Room a node is given when looking for a free spot (nodes with many ports are taller than the default). */
const SLOT = { width: DEFAULT_NODE_SIZE.width + 40, height: 170 };

/**
 * The first place in the column right of `nodeId`, from its height down, that
 * no node's box covers: a new node beside its input, not over its neighbours.
 */
export function freeSpotRightOf(doc: PipelineDocument, nodeId: string): { x: number; y: number } {
  const at = doc.layout?.[nodeId] ?? { x: 0, y: 0 };
  const x = at.x + DEFAULT_NODE_SIZE.width + 80;
  const boxes = Object.entries(doc.layout ?? {})
    .filter(([id]) => doc.nodes.some((n) => n.id === id))
    .map(([, p]) => p);
  let y = at.y;
  for (let i = 0; i < 50; i++) {
    const taken = boxes.some((p) => Math.abs(p.x - x) < SLOT.width && Math.abs(p.y - y) < SLOT.height);
    if (!taken) break;
    y += SLOT.height;
  }
  return { x, y };
}

/**
 * A validate.expectations node reading `source`, with `suite: { path }`,
 * in the first free spot right of the source node. Null when the block is not in the catalog or the output
 * cannot feed it.
 */
export function insertValidateNode(
  doc: PipelineDocument,
  catalog: Catalog,
  source: Endpoint,
  suitePath: string,
): { document: PipelineDocument; id: string } | null {
  if (!catalog.has(VALIDATE_BLOCK)) return null;
  const place = freeSpotRightOf(doc, source.node);
  const added = addConnectedNode(doc, catalog, VALIDATE_BLOCK, place, {
    node: source.node,
    port: source.port,
    side: "source",
  });
  if (!added) return null;
  const node = added.document.nodes.find((n) => n.id === added.id);
  const params = { ...(node?.params ?? {}), suite: { path: suitePath } };
  return { document: setNodeParams(added.document, added.id, params), id: added.id };
}
