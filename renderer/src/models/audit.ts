/** How registry changes read: audit entries as sentences, and the question an alias change asks first. */
import type { AuditEntry } from "../../../app/api/api";
import { shortId } from "../experiments/format";

const v = (n: unknown) =>
  typeof n === "number" ? `v${n}` : typeof n === "string" && n ? `v${n}` : "a version";
const text = (s: unknown, fallback: string) => (typeof s === "string" && s ? s : fallback);

/** "alias champion moved v3 → v4", "v4 created", "v2 deployed to local"… */
export function describeAudit(e: AuditEntry): string {
  const d = e.details ?? {};
  const alias = text(d.alias, "?");
  switch (e.action) {
    case "model.created":
      return `model ${e.model} created`;
    case "model.updated": {
      const fields = Object.keys(d).filter((k) => k !== "from" && k !== "to");
      return fields.length ? `model ${fields.join(", ")} updated` : "model updated";
    }
    case "version.created":
      return `${v(e.version)} created${d.runId ? ` from run ${shortId(String(d.runId))}` : ""}`;
    case "version.archived":
      return `${v(e.version)} archived`;
    case "alias.set":
      return `alias ${alias} set on ${v(d.to ?? e.version)}`;
    case "alias.moved":
      return `alias ${alias} moved ${v(d.from)} → ${v(d.to ?? e.version)}`;
    case "alias.removed":
      return `alias ${alias} removed from ${v(d.from ?? e.version)}`;
    case "deployment.succeeded":
      return `${v(e.version)} deployed to ${text(d.target, "a target")}`;
    case "deployment.failed": {
      const why = d.reason ?? d.error;
      return `deploying ${v(e.version)} to ${text(d.target, "a target")} failed${why ? `: ${String(why)}` : ""}`;
    }
    case "deployment.rolledBack":
      return `${text(d.target, "a target")} rolled back to ${v(e.version)}`;
    default:
      return String(e.action);
  }
}

export type AliasChange =
  | { kind: "set"; question: string }
  | { kind: "move"; question: string; from: number }
  | { kind: "none"; question: string };

/** What setting `alias` on `version` does, as the confirmation asks it: "Move champion from v3 to v4?" */
export function aliasChange(alias: string, version: number, aliases: Record<string, number>): AliasChange {
  const current = aliases[alias];
  if (current === version) return { kind: "none", question: `${alias} is already on v${version}.` };
  if (current !== undefined)
    return { kind: "move", from: current, question: `Move ${alias} from v${current} to v${version}?` };
  return { kind: "set", question: `Set ${alias} on v${version}?` };
}
