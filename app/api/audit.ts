/**
 * Registry changes in words, one way for the app and the CLI: an audit entry
 * as a short sentence ("alias champion moved v3 → v4", "v4 deployed to local").
 */
import type { AuditEntry } from "../store/types";

const v = (n: unknown) =>
  typeof n === "number" ? `v${n}` : typeof n === "string" && n ? `v${n}` : "a version";
const text = (s: unknown, fallback: string) => (typeof s === "string" && s ? s : fallback);

/** A production move that skipped its requirements says so, with the reason given (app/store/promotion.ts). */
function overridden(d: Record<string, unknown>): string {
  const record = d.production as { missing?: unknown; reason?: unknown } | undefined;
  if (!record || !Array.isArray(record.missing) || record.missing.length === 0) return "";
  return ` (override: ${typeof record.reason === "string" ? JSON.stringify(record.reason) : "no reason recorded"})`;
}

/** The reason a removal or an archive was given (needed when it took `production` away), or "". */
function given(d: Record<string, unknown>): string {
  return typeof d.reason === "string" ? ` (reason: ${JSON.stringify(d.reason)})` : "";
}

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
      return `${v(e.version)} archived${removed.length ? ` (alias ${removed.join(", ")} removed)` : ""}${given(d)}`;
    }
    case "alias.set":
      return `alias ${alias} set on ${v(d.to ?? e.version)}${overridden(d)}`;
    case "alias.moved":
      return `alias ${alias} moved ${v(d.from)} → ${v(d.to ?? e.version)}${overridden(d)}`;
    case "alias.removed":
      return `alias ${alias} removed from ${v(d.from ?? e.version)}${given(d)}`;
    case "deployment.succeeded":
      return `${v(e.version)} deployed to ${text(d.target, "a target")}`;
    case "deployment.failed": {
      // details.operation: which step failed (app/values/deployment.ts DeployOperation; absent: a deploy).
      const why = d.reason ?? d.error;
      const target = text(d.target, "a target");
      const step =
        d.operation === "rollback"
          ? `rolling ${target} back to ${v(e.version)}`
          : d.operation === "canary"
            ? `deploying ${v(e.version)} to ${target} as a canary`
            : d.operation === "promote"
              ? `promoting the canary ${v(e.version)} on ${target}`
              : d.operation === "removeCanary"
                ? `removing the canary ${v(e.version)} from ${target}`
                : `deploying ${v(e.version)} to ${target}`;
      return `${step} failed${why ? `: ${String(why)}` : ""}`;
    }
    case "deployment.rolledBack":
      return `${text(d.target, "a target")} rolled back to ${v(e.version)}`;
    case "deployment.canary":
      return `${v(e.version)} deployed to ${text(d.target, "a target")} as a canary${typeof d.percent === "number" ? ` taking ${d.percent} % of the traffic` : ""}${typeof d.previous === "number" ? ` beside ${v(d.previous)}` : ""}`;
    case "deployment.canaryEnded":
      return d.outcome === "promoted"
        ? `canary ${v(e.version)} promoted on ${text(d.target, "a target")}: it serves all the traffic`
        : `canary ${v(e.version)} removed from ${text(d.target, "a target")}${typeof d.reason === "string" && d.reason ? `: ${d.reason}` : ""}`;
    case "monitor.alert": {
      const reasons = Array.isArray(d.reasons) ? d.reasons.map(String) : [];
      return `monitor ${text(d.monitor, "?")} alerted on ${v(e.version)}${typeof d.window === "string" ? ` for the window from ${d.window}` : ""}${reasons.length ? `: ${reasons.join("; ")}` : ""}`;
    }
    // The retraining loop's steps (app/monitoring/loop.ts): details.loop is the loop's id.
    case "monitor.retrain":
      return `loop ${text(String(d.loop ?? ""), "?")} of monitor ${text(d.monitor, "?")}: retraining run ${d.runId ? runId(String(d.runId)) : "?"} ${d.existing === true ? "answered the existing" : "registered"} ${v(e.version)}`;
    case "monitor.gate": {
      const fig = (x: unknown) => (typeof x === "number" ? String(Math.round(x * 1e4) / 1e4) : "—");
      return `loop ${text(String(d.loop ?? ""), "?")}: ${v(e.version)} ${d.passed ? "passed" : "failed"} the gate: ${text(d.metric, "metric")} ${fig(d.challenger)} vs champion ${fig(d.champion)}${typeof d.rows === "number" ? ` on ${d.rows} rows` : ""}`;
    }
    case "monitor.canary":
      return typeof d.held === "boolean"
        ? `loop ${text(String(d.loop ?? ""), "?")}: canary ${v(e.version)} ${d.held ? "held" : "fell behind"} on ${text(d.target, "a target")}`
        : `loop ${text(String(d.loop ?? ""), "?")}: ${v(e.version)} serves ${typeof d.percent === "number" ? `${d.percent} % ` : ""}of ${text(d.target, "a target")} as a canary`;
    case "monitor.promoted":
      return `loop ${text(String(d.loop ?? ""), "?")}: ${v(e.version)} promoted${typeof d.reason === "string" ? ` (${d.reason})` : ""}`;
    case "monitor.kept":
      return `loop ${text(String(d.loop ?? ""), "?")}: ${text(d.reason, "champion kept")}`;
    case "monitor.failed":
      return `loop ${text(String(d.loop ?? ""), "?")} of monitor ${text(d.monitor, "?")} failed: ${text(d.reason, "?")}`;
    case "monitor.approved":
      return `loop ${text(String(d.loop ?? ""), "?")}: ${v(e.version)} approved${e.actor ? ` by ${e.actor}` : ""}`;
    case "monitor.acknowledged":
      return `loop ${text(String(d.loop ?? ""), "?")} of monitor ${text(d.monitor, "?")}: alert acknowledged${e.actor ? ` by ${e.actor}` : ""}`;
    case "privacy.unmasked": {
      const columns = Array.isArray(d.columns) ? d.columns.map(String) : [];
      return `personal data shown in clear: ${columns.join(", ") || "?"} (${text(d.what, "?")}, ${text(d.where, "?")})${e.actor ? ` by ${e.actor}` : ""}`;
    }
    default:
      return String(e.action);
  }
}
