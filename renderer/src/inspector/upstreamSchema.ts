/** Which upstream outputs feed a node's tables, and what is inferred of their columns before any run. */
import type { PipelineSchemas } from "../../../app/api/api";
import { splitEndpoint } from "../document/endpoints";
import type { EdgeDoc } from "../store/types";

/** The upstream outputs feeding a node's table inputs, in edge order. */
export function tableSources(
  edges: EdgeDoc[],
  nodeId: string,
  isTablePort: (port: string) => boolean,
): { node: string; port: string }[] {
  return edges
    .filter((e) => {
      const to = splitEndpoint(e.to);
      return to.node === nodeId && isTablePort(to.port);
    })
    .map((e) => splitEndpoint(e.from));
}

/** The columns inferred for the first source whose schema is known; `open` when more may follow. */
export function inferredColumns(
  sources: { node: string; port: string }[],
  schemas: PipelineSchemas,
): { names: string[]; open: boolean } | undefined {
  for (const s of sources) {
    const schema = schemas[s.node]?.[s.port];
    if (schema) return { names: schema.columns.map((c) => c.name), open: schema.open !== undefined };
  }
  return undefined;
}
