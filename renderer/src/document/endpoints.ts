import type { EdgeDoc, Endpoint } from "../store/types";

/** "nodeId.port" → its parts; node ids hold no dots, so the last dot separates them. */
export function splitEndpoint(endpoint: string): Endpoint {
  const dot = endpoint.lastIndexOf(".");
  return { node: endpoint.slice(0, dot), port: endpoint.slice(dot + 1) };
}

export function joinEndpoint(node: string, port: string): string {
  return `${node}.${port}`;
}

/** A stable id for an edge (React Flow needs one; the file has none). */
export function edgeKey(edge: EdgeDoc): string {
  return `${edge.from}->${edge.to}`;
}
