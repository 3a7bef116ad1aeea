import { z } from "zod";

export const PIPELINE_FORMAT = "dagwood.pipeline/1";

/** Node ids name nodes in edges ("id.port"), so they hold no dots. */
export const NODE_ID = /^[A-Za-z_][A-Za-z0-9_-]*$/;
export const PORT_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ENDPOINT = /^[A-Za-z_][A-Za-z0-9_-]*\.[A-Za-z_][A-Za-z0-9_]*$/;

export const NodeSchema = z.strictObject({
  id: z
    .string()
    .regex(NODE_ID, "a node id starts with a letter or _ and holds only letters, digits, _ and - (no dots)"),
  block: z.string().min(1, "a node needs a block kind"),
  params: z.record(z.string(), z.unknown()).default({}),
  label: z.string().optional(),
  description: z.string().optional(),
});

export const EdgeSchema = z.strictObject({
  from: z.string().regex(ENDPOINT, 'an edge end is "nodeId.port"'),
  to: z.string().regex(ENDPOINT, 'an edge end is "nodeId.port"'),
});

/** Layout is kept apart from logic: a moved node is not a logic change. */
export const LayoutEntrySchema = z.looseObject({ x: z.number(), y: z.number() });

export const PipelineSchema = z.strictObject({
  format: z.literal(PIPELINE_FORMAT),
  name: z.string().min(1, "a pipeline needs a name"),
  description: z.string().optional(),
  owner: z.string().optional(),
  params: z
    .record(z.string().regex(PORT_NAME, "a parameter name is a plain identifier"), z.unknown())
    .default({}),
  nodes: z.array(NodeSchema),
  edges: z.array(EdgeSchema).default([]),
  layout: z.record(z.string(), LayoutEntrySchema).optional(),
});

export type PipelineNode = z.output<typeof NodeSchema>;
export type PipelineEdge = z.output<typeof EdgeSchema>;
export type Pipeline = z.output<typeof PipelineSchema>;

export function splitEndpoint(endpoint: string): { node: string; port: string } {
  const dot = endpoint.lastIndexOf(".");
  return { node: endpoint.slice(0, dot), port: endpoint.slice(dot + 1) };
}
