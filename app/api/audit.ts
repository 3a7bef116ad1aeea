/**
 * Registry changes in words, one way for the app and the CLI: an audit entry
 * as a short sentence ("alias champion moved v3 → v4", "v4 deployed to local").
 */
import type { AuditEntry } from "../store/types";

const v = (n: unknown) =>
  typeof n === "number" ? `v${n}` : typeof n === "string" && n ? `v${n}` : "a version";
const text = (s: unknown, fallback: string) => (typeof s === "string" && s ? s : fallback);

/**
 * One audit entry as a sentence. `runId` shortens a run id where space is
 * short (the app); the CLI prints it whole, to be pasted into `runs show`.
 * Entries with missing details still read, with "?" or "a version".
 */
export function describeAudit(e: AuditEntry, runId: (id: string) => string = (id) => id): string {
  const d = e.details ?? {};
  const alias = text(d.alias, "?");
  switch (e.action) {
    case "model.created":
      return `model ${e.model} created`;
    case "model.updated": {
      const fields = Object.keys(d).filter(
        (k) => !["from", "to", "deprecated", "deprecatedBefore"].includes(k),
      );
      const parts = fields.length ? [`model ${fields.join(", ")} updated`] : [];
      if (Object.hasOwn(d, "deprecated")) {
        const dep = d.deprecated as { replacement?: unknown } | null;
        parts.push(
          dep
            ? `model deprecated${typeof dep.replacement === "string" ? ` (use ${dep.replacement})` : ""}`
            : "deprecation lifted",
        );
      }
      return parts.length ? parts.join("; ") : "model updated";
    }
    case "version.created":
      return `${v(e.version)} created${d.runId ? ` from run ${runId(String(d.runId))}` : ""}`;
    case "version.archived": {
      const removed = Array.isArray(d.aliasesRemoved) ? d.aliasesRemoved.map(String) : [];
      return `${v(e.version)} archived${removed.length ? ` (alias ${removed.join(", ")} removed)` : ""}`;
    }
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
    case "monitor.alert": {
      const reasons = Array.isArray(d.reasons) ? d.reasons.map(String) : [];
      return `monitor ${text(d.monitor, "?")} alerted on ${v(e.version)}${typeof d.window === "string" ? ` for the window from ${d.window}` : ""}${reasons.length ? `: ${reasons.join("; ")}` : ""}`;
    }
    default:
      return String(e.action);
  }
}
