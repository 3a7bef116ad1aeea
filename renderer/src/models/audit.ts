/** How registry changes read: audit entries as sentences, and the question an alias change asks first. */

import type { AuditEntry } from "../../../app/api/api";
import { describeAudit as describeEntry } from "../../../app/api/audit";
import { shortId } from "../experiments/format";

/** "alias champion moved v3 → v4", "v4 created from run 170221-a1b2c3"…: the CLI's sentences, with short run ids. */
export function describeAudit(e: AuditEntry): string {
  return describeEntry(e, shortId);
}

export type AliasChange =
  | { kind: "set"; question: string }
  | { kind: "move"; question: string; from: number }
  | { kind: "none"; question: string };

/** What setting `alias` on `version` does, as the confirmation asks it: "champion now points at v3; move it to v4?" */
export function aliasChange(alias: string, version: number, aliases: Record<string, number>): AliasChange {
  const current = aliases[alias];
  if (current === version) return { kind: "none", question: `${alias} is already on v${version}.` };
  if (current !== undefined)
    return {
      kind: "move",
      from: current,
      question: `${alias} now points at v${current}; move it to v${version}?`,
    };
  return { kind: "set", question: `Set ${alias} on v${version}?` };
}
