/**
 * The port-type rule the editor checks as you drag. It is a copy of
 * `portsCompatible` in app/engine/ports.ts — the source of truth, which the
 * engine's validation uses — because the renderer may import only types from
 * the core. Keep the two identical; validation reports any disagreement.
 */
import type { PortType } from "../store/types";

/** Whether an output of type `from` may feed an input of type `to`. */
export function portsCompatible(from: PortType, to: PortType): boolean {
  return from === to;
}

/** A colour per port type, shared by handles, legends and edges (also in styles as --port-<type>). */
const PORT_COLORS: Record<PortType, string> = {
  table: "#2f7dd1",
  model: "#8a4fd0",
  report: "#d07a1f",
  modelVersion: "#1f9d8f",
  deployment: "#c2417a",
};

export const portColor = (type: string | undefined): string =>
  (type && PORT_COLORS[type as PortType]) || "#8a94a3";

const article = (word: string) => (/^[aeiou]/i.test(word) ? "an" : "a");

/** "A report output cannot feed a table input". */
export function mismatchMessage(from: PortType, to: PortType): string {
  const first = `${article(from)} ${from}`;
  return `${first[0]!.toUpperCase()}${first.slice(1)} output cannot feed ${article(to)} ${to} input`;
}
