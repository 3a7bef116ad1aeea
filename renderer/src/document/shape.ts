import type { PipelineDocument } from "../store/types";

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Whether the editor can draw a loaded JSON object as a graph: nodes with a
 * string id and block, edges with string ends. Anything else (a wrong format
 * version, bad params, unknown blocks) is drawn and reported; only a shape
 * the canvas cannot hold is shown as text instead.
 */
export function asEditableDocument(json: Record<string, unknown> | null): PipelineDocument | null {
  if (!json || !Array.isArray(json.nodes)) return null;
  const nodesOk = json.nodes.every(
    (n) =>
      isObject(n) &&
      typeof n.id === "string" &&
      typeof n.block === "string" &&
      (n.params === undefined || isObject(n.params)),
  );
  const edges = json.edges ?? [];
  const edgesOk =
    Array.isArray(edges) &&
    edges.every((e) => isObject(e) && typeof e.from === "string" && typeof e.to === "string");
  const layoutOk = json.layout === undefined || isObject(json.layout);
  const paramsOk = json.params === undefined || isObject(json.params);
  if (!nodesOk || !edgesOk || !layoutOk || !paramsOk) return null;
  return {
    ...json,
    nodes: (json.nodes as Record<string, unknown>[]).map((n) => ({
      ...n,
      params: (n.params as Record<string, unknown>) ?? {},
    })) as PipelineDocument["nodes"],
    edges: edges as PipelineDocument["edges"],
  } as PipelineDocument;
}

export function pipelineName(doc: PipelineDocument | null, path: string | null): string {
  if (doc && typeof doc.name === "string" && doc.name) return doc.name;
  return (
    path
      ?.replace(/\.dag\.json$/, "")
      .split("/")
      .pop() ?? "untitled"
  );
}
