/**
 * Port types: the one table that the engine's validation and the editor's
 * isValidConnection both consult. No imports, so the renderer may use it.
 */
export const PORT_TYPES = ["table", "model", "report", "modelVersion", "deployment"] as const;
export type PortType = (typeof PORT_TYPES)[number];

/** Whether an output of type `from` may feed an input of type `to`. */
export function portsCompatible(from: PortType, to: PortType): boolean {
  return from === to;
}
