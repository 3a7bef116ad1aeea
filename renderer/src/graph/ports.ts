/**
 * How ports look and read in the editor. The rule of which port may feed
 * which is the engine's own (`app/api/port-types.ts`), checked as you drag.
 */
import type { PortType } from "../store/types";

export { portsCompatible } from "../../../app/api/port-types";

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
