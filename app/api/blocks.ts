import { z } from "zod";
import type { AnyBlock } from "../engine/block";
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
    paramsSchema: z.toJSONSchema(b.params, { io: "input", unrepresentable: "any" }) as Record<
      string,
      unknown
    >,
  };
}
