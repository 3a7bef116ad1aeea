import type { AnyBlock } from "../engine/block";
import { paramsJsonSchema } from "../pipeline/param-ui";
import type { BlockInfo } from "./api";

/** A block as the UI and `dagwood blocks --json` see it: its ports, and its params as JSON Schema. */
export function describeBlock(b: AnyBlock): BlockInfo {
  return {
    kind: b.kind,
    version: b.version,
    title: b.title,
    category: b.category,
    description: b.description,
    inputs: b.inputs,
    outputs: b.outputs,
    // With each param's form declarations (order, advanced, showWhen: app/pipeline/param-ui.ts).
    paramsSchema: paramsJsonSchema(b.params),
  };
}
