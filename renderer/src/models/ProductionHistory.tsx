/** A version's production history: each change of `production` into or out of it, with what it recorded. */
import type { AuditEntry } from "../../../app/api/api";
import { formatTime } from "../experiments/format";
import { gateText, versionProductionHistory } from "./production";

export function ProductionHistory({ audit, version }: { audit: readonly AuditEntry[]; version: number }) {
  const changes = versionProductionHistory(audit, version);
  return (
    <div data-testid={`production-history-${version}`}>
      <h5>Production history</h5>
      {changes.length === 0 ? (
        <p className="muted small">This version has never been in production.</p>
      ) : (
        <ol className="production-history">
          {changes.map((c) => {
            const r = c.production;
            const into = c.to === version;
            const what = into
              ? c.from === null
                ? `production set on v${version}`
                : `production moved here from v${c.from}`
              : c.change === "archived"
                ? "production removed: the version was archived"
                : c.change === "removed"
                  ? "production removed"
                  : `production moved on to v${c.to}`;
            return (
              <li key={c.auditId} data-testid="production-change">
                <div>
                  <strong>{what}</strong>
                  <span className="muted small">
                    {" "}
                    · {c.actor ?? "unknown"} · {formatTime(c.at)}
                  </span>
                  {r && r.missing.length > 0 && (
                    <span className="override small" data-testid="production-override">
                      {" "}
                      · override: {r.reason ?? "no reason recorded"}
                    </span>
                  )}
                  {c.reason && (
                    <span className="override small" data-testid="production-reason">
                      {" "}
                      · reason: {c.reason}
                    </span>
                  )}
                </div>
                {r && into && (
                  <div className="small muted">
                    <div>
                      pipeline <span className="mono">{r.run.pipelinePath ?? r.run.pipeline}</span>
                      {r.run.gitCommit ? (
                        <>
                          {" "}
                          at git <span className="mono">{r.run.gitCommit.slice(0, 12)}</span>
                          {r.run.gitDirty ? " (uncommitted changes)" : ""}
                        </>
                      ) : (
                        " (no git commit recorded)"
                      )}
                    </div>
                    <div>
                      data{" "}
                      {r.datasets.length
                        ? r.datasets.map((d) => `${d.source} ${d.digest.slice(0, 12)}…`).join(", ")
                        : "none recorded"}
                    </div>
                    <div>gate {r.gates.length ? r.gates.map(gateText).join("; ") : "none"}</div>
                    <div>
                      staging{" "}
                      {r.staging
                        ? `deployed ${formatTime(r.staging.at)}${r.staging.actor ? ` by ${r.staging.actor}` : ""}`
                        : "never deployed there"}
                    </div>
                  </div>
                )}
              </li>
            );
          })}
        </ol>
      )}
    </div>
  );
}
