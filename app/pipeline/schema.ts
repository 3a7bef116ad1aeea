import { z } from "zod";
import { Deprecation, Governance, IsoDate } from "../values/governance";

export const PIPELINE_FORMAT = "dagwood.pipeline/1";

/**
 * Limits on a pipeline file, so a hostile or broken file is refused with a
 * message instead of exhausting the stack or filling the run store: its size,
 * how deep its arrays and objects nest, and how long a string (or key) is.
 */
export const PIPELINE_LIMITS = {
  /** Bytes of a pipeline file (a pipeline holds settings, not data). */
  fileBytes: 16 * 1024 * 1024,
  /** Levels of nested arrays and objects, the whole file counted from its top object. */
  depth: 64,
  /** Characters of any string or key (a transform.sql query is one). */
  string: 100_000,
  /** Characters of a name, owner or node label. */
  name: 200,
  /** Characters of a pipeline's or a node's description. */
  description: 10_000,
} as const;

const shortText = (what: string) =>
  z.string().max(PIPELINE_LIMITS.name, `${what} is at most ${PIPELINE_LIMITS.name} characters`);
/** 10000 → "10,000", without Intl: loading ICU's number formats at import costs every CLI command ~10 ms. */
const withCommas = (n: number) => String(n).replace(/\B(?=(\d{3})+$)/g, ",");
const longText = (what: string) =>
  z
    .string()
    .max(
      PIPELINE_LIMITS.description,
      `${what} is at most ${withCommas(PIPELINE_LIMITS.description)} characters`,
    );

/** Node ids name nodes in edges ("id.port"), so they hold no dots. */
export const NODE_ID = /^[A-Za-z_][A-Za-z0-9_-]*$/;
export const PORT_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ENDPOINT = /^[A-Za-z_][A-Za-z0-9_-]*\.[A-Za-z_][A-Za-z0-9_]*$/;

export const NodeSchema = z.strictObject({
  id: shortText("a node id").regex(
    NODE_ID,
    "a node id starts with a letter or _ and holds only letters, digits, _ and - (no dots)",
  ),
  block: shortText("a block kind").min(1, "a node needs a block kind"),
  params: z.record(z.string(), z.unknown()).default({}),
  label: shortText("a label").optional(),
  description: longText("a description").optional(),
});

export const EdgeSchema = z.strictObject({
  from: z.string().regex(ENDPOINT, 'an edge end is "nodeId.port"'),
  to: z.string().regex(ENDPOINT, 'an edge end is "nodeId.port"'),
});

/** Layout is kept apart from logic: a moved node is not a logic change. */
export const LayoutEntrySchema = z.looseObject({ x: z.number(), y: z.number() });

/**
 * A change `dagwood merge` could not decide (app/pipeline/merge.ts): both
 * sides changed one value differently, or one side changed a node the other
 * deleted. The file holds the `kept` side's value until someone picks;
 * `dagwood validate` and runs refuse a pipeline that still lists conflicts.
 * An absent `base`, `ours` or `theirs` means the value (or node) did not
 * exist on that side.
 */
export const ConflictSchema = z.strictObject({
  /** The node's id in the merged file; absent for a pipeline-level field. */
  node: shortText("a node id").optional(),
  /** Inside the node (`params.trees`, `block`, `""` for the node itself, `inputs.train` for an edge into a port) or the pipeline (`params.seed`). */
  path: z.string().max(PIPELINE_LIMITS.name * 5),
  base: z.unknown().optional(),
  ours: z.unknown().optional(),
  theirs: z.unknown().optional(),
  /** Which side's value the file holds now. */
  kept: z.enum(["ours", "theirs"]),
});

export const PipelineSchema = z.strictObject({
  format: z.literal(PIPELINE_FORMAT),
  name: shortText("a name").min(1, "a pipeline needs a name"),
  description: longText("a description").optional(),
  owner: shortText("an owner").optional(),
  /** What the pipeline is for (governance: app/values/governance.ts). */
  purpose: Governance.shape.purpose,
  /** The date by which its owner reviews it again (YYYY-MM-DD). */
  reviewBy: IsoDate.optional(),
  /** Deprecated: running it warns in the run, naming the replacement (a pipeline path). */
  deprecated: Deprecation.optional(),
  params: z
    .record(z.string().regex(PORT_NAME, "a parameter name is a plain identifier"), z.unknown())
    .default({}),
  nodes: z.array(NodeSchema),
  edges: z.array(EdgeSchema).default([]),
  layout: z.record(z.string(), LayoutEntrySchema).optional(),
  /** Unresolved merge conflicts (ConflictSchema); a file with any does not validate. */
  conflicts: z.array(ConflictSchema).optional(),
});

export type PipelineNode = z.output<typeof NodeSchema>;
export type PipelineEdge = z.output<typeof EdgeSchema>;
export type Pipeline = z.output<typeof PipelineSchema>;
export type PipelineConflict = z.output<typeof ConflictSchema>;

export function splitEndpoint(endpoint: string): { node: string; port: string } {
  const dot = endpoint.lastIndexOf(".");
  return { node: endpoint.slice(0, dot), port: endpoint.slice(dot + 1) };
}
