/**
 * The Deployments view (deploymentStatus): per target its health, kind, URL
 * and token source; per model what serves there, canary and shadow shares,
 * traffic and latency from the server's /metrics, the recent deployments,
 * and a one-click (confirmed) roll back to an earlier version. Refreshed
 * every 5 s while the page is visible. The built-in `local` target (the
 * app's own server) is always there unless dagwood.json names its own
 * `local`: Start / Stop, its URL and how to call it.
 */
import { lazy, Suspense, useCallback, useEffect, useRef, useState } from "react";
import type { AuditEntry, ServedModelStatus, TargetStatus } from "../../../app/api/api";
import { api } from "../api/client";
import { formatTime } from "../experiments/format";
import { describeAudit } from "../models/audit";
import { useModels } from "../models/store";
import { showMonitoring } from "../monitoring/store";
import { messageOf, reportError } from "../services/errors";
import { ConfirmDialog } from "../shell/ConfirmDialog";
import { Loading } from "../shell/Loading";
import { toast } from "../store/toasts";
import { useUi } from "../store/ui";
import { AddTargetHelp } from "./DeployDialog";
import {
  deploymentFacts,
  rollbackChoices,
  servingText,
  targetLabel,
  tokenSourceText,
  trafficRows,
} from "./format";
import { InferSnippet } from "./InferSnippet";
import "./deployments.css";
import "./log-policy.css";

const TrafficCharts = lazy(() => import("./TrafficCharts"));

const REFRESH_MS = 5000;

type Status = { targets: TargetStatus[]; at: Date } | null;

/** deploymentStatus, polled while the page is visible; a failure is toasted once, not every 5 s. */
function useDeploymentStatus() {
  const [status, setStatus] = useState<Status>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const inFlight = useRef(false);
  const lastError = useRef<string | null>(null);
  const refresh = useCallback(async () => {
    if (inFlight.current) return;
    inFlight.current = true;
    setLoading(true);
    try {
      const targets = await api.deploymentStatus({});
      setStatus({ targets, at: new Date() });
      setError(null);
      lastError.current = null;
    } catch (e) {
      const message = messageOf(e);
      setError(message);
      if (lastError.current !== message) reportError(e, "Could not read the deployments");
      lastError.current = message;
    } finally {
      inFlight.current = false;
      setLoading(false);
    }
  }, []);
  useEffect(() => {
    void refresh();
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") void refresh();
    }, REFRESH_MS);
    return () => clearInterval(timer);
  }, [refresh]);
  return { status, error, loading, refresh };
}

export function DeploymentsView() {
  const { status, error, loading, refresh } = useDeploymentStatus();
  const targets = status?.targets ?? [];
  const onlyBuiltin = targets.length > 0 && targets.every((t) => t.builtin);
  return (
    <div className="deployments-view" data-testid="deployments-view">
      <div className="runs-toolbar deployments-toolbar">
        <button
          type="button"
          className="button small"
          data-testid="deployments-refresh"
          disabled={loading}
          onClick={() => void refresh()}
        >
          Refresh
        </button>
        <span className="muted small">
          {loading ? <span className="spinner" /> : null}{" "}
          {status ? `updated ${status.at.toLocaleTimeString()} · every ${REFRESH_MS / 1000} s` : ""}
        </span>
      </div>
      <div className="deployments-main">
        {error && (
          <div className="panel-error" data-testid="deployments-error">
            {error}
          </div>
        )}
        {!status && !error && <Loading>Asking the targets…</Loading>}
        {status && !targets.length && (
          <div className="view-empty" data-testid="deployments-empty">
            <h3>No deploy target yet</h3>
            <AddTargetHelp />
            <p className="muted small">
              Then deploy a model version from the Models view (<strong>Deploy…</strong> on a version).
            </p>
          </div>
        )}
        {targets.map((t) =>
          t.builtin ? (
            <BuiltinTargetCard key={t.name} target={t} onChanged={() => void refresh()} />
          ) : (
            <TargetCard key={t.name} target={t} onChanged={() => void refresh()} />
          ),
        )}
        {onlyBuiltin && (
          <div className="deploy-elsewhere" data-testid="deployments-empty">
            <h3>Deploy to another server</h3>
            <AddTargetHelp />
          </div>
        )}
      </div>
    </div>
  );
}

function TargetCard({ target: t, onChanged }: { target: TargetStatus; onChanged(): void }) {
  const up = t.health.live && t.health.ready;
  return (
    <section className="target-card" data-testid={`target-${t.name}`} data-health={up ? "ready" : "down"}>
      <header className="target-head">
        <h3>{t.name}</h3>
        <span className="target-kind">{t.kind}</span>
        <span className="mono small">{t.url}</span>
        <HealthBadges health={t.health} />
        <span className={`small ${t.tokenSource ? "muted" : "warn-text"}`}>{tokenSourceText(t)}</span>
      </header>
      {t.health.error && (
        <div className="panel-error small">
          {t.health.error}
          {!t.health.live && (
            <div className="muted">
              Is the server running? Start one with{" "}
              <span className="mono">dagwood serve --port {portOf(t.url)} --token &lt;token&gt;</span>.
            </div>
          )}
        </div>
      )}
      <ServedModels target={t} reachable={t.health.live} onChanged={onChanged} />
    </section>
  );
}

/**
 * The built-in `local` target: the app's own `dagwood serve`. Stopped: what
 * it is and Start. Running: its URL, Stop, how to call it, and what it
 * serves, like any target.
 */
function BuiltinTargetCard({ target: t, onChanged }: { target: TargetStatus; onChanged(): void }) {
  const [busy, setBusy] = useState<"start" | "stop" | null>(null);
  const running = t.running === true;
  const up = running && t.health.live && t.health.ready;
  const toggle = async (action: "start" | "stop") => {
    setBusy(action);
    try {
      if (action === "start") await api.startLocalServer({});
      else await api.stopLocalServer({});
    } catch (e) {
      reportError(
        e,
        action === "start" ? "Could not start the local server" : "Could not stop the local server",
      );
    } finally {
      setBusy(null);
      onChanged();
    }
  };
  const example = t.models[0]?.name ?? "<model>";
  return (
    <section
      className="target-card builtin"
      data-testid={`target-${t.name}`}
      data-builtin="true"
      data-running={running ? "true" : "false"}
      data-health={up ? "ready" : "down"}
    >
      <header className="target-head">
        <h3>{targetLabel(t)}</h3>
        <span className="target-kind">{t.kind}</span>
        {running ? (
          <>
            <span className="mono small" data-testid="local-url">
              {t.url}
            </span>
            <HealthBadges health={t.health} />
          </>
        ) : (
          <span className="health bad">stopped</span>
        )}
        <span className="muted small">{tokenSourceText(t)}</span>
        <span className="target-actions">
          <button
            type="button"
            className={running ? "button small" : "button small primary"}
            data-testid={running ? "local-stop" : "local-start"}
            disabled={busy !== null}
            onClick={() => void toggle(running ? "stop" : "start")}
          >
            {busy === "stop"
              ? "Stopping…"
              : busy === "start"
                ? "Starting the local server…"
                : running
                  ? "Stop"
                  : "Start"}
          </button>
        </span>
      </header>
      {t.health.error && <div className="panel-error small">{t.health.error}</div>}
      {running ? (
        <div className="local-howto small" data-testid="local-howto">
          <p className="muted">
            Call it from this machine (it listens on 127.0.0.1 only). Infer needs no token; the token (kept in{" "}
            <span className="mono">.dagwood/serve-token</span>) is needed only for repository calls.{" "}
            <span className="mono">
              GET {t.url}/v2/models/{example}
            </span>{" "}
            lists a model's inputs; each model below shows a request that works as pasted.
          </p>
        </div>
      ) : (
        <p className="muted small">
          Dagwood's own server, run by the app for this project: deploying a version to it starts it (or
          Start). Its models are kept in <span className="mono">.dagwood/serving</span> and serve again when
          it starts; it stops when the app closes.
        </p>
      )}
      <ServedModels target={t} reachable={running && t.health.live} onChanged={onChanged} />
    </section>
  );
}

/**
 * What the inference log keeps of the serving version's personal (tagged) inputs, as the server
 * applies it: "personal inputs: email_domain hashed · kept 30 days". A policy of clear is said
 * plainly, in the warning style. When dagwood.json now says otherwise, that is shown too: it
 * applies at the next deploy.
 */
function LogPolicyLine({
  model,
  policy,
}: {
  model: string;
  policy: NonNullable<ServedModelStatus["logPolicy"]>;
}) {
  const clear = policy.tagged === "clear" && policy.inputs.length > 0;
  return (
    <div
      className={`log-policy small${clear ? " clear" : " muted"}`}
      data-testid={`log-policy-${model}`}
      data-tagged={policy.tagged}
      data-source={policy.source}
      title={
        policy.source === "server"
          ? "What the server does with the serving version's personal inputs (dagwood privacy policy changes it; a deploy sends it)"
          : "dagwood.json's policy for this version (the server does not say which it applies)"
      }
    >
      <span className="log-policy-label">Inference log:</span>
      {clear ? "⚠ " : ""}
      {policy.text}
      {clear ? " — personal data is stored as sent" : ""}
      {policy.pending && (
        <span className="log-policy-pending" data-testid={`log-policy-pending-${model}`}>
          {" "}
          · dagwood.json now: {policy.pending} (at the next deploy)
        </span>
      )}
    </div>
  );
}

function HealthBadges({ health }: { health: TargetStatus["health"] }) {
  return (
    <>
      <span className={`health ${health.live ? "ok" : "bad"}`}>{health.live ? "live" : "not live"}</span>
      <span className={`health ${health.ready ? "ok" : "bad"}`}>{health.ready ? "ready" : "not ready"}</span>
    </>
  );
}

/** What a target serves; `reachable`: it answers, so an empty list means nothing is deployed. */
function ServedModels({
  target: t,
  reachable,
  onChanged,
}: {
  target: TargetStatus;
  reachable: boolean;
  onChanged(): void;
}) {
  return (
    <>
      {reachable && !t.models.length && (
        <p className="muted small">
          Nothing is deployed here yet: use Deploy… on a version in the Models view.
        </p>
      )}
      {t.models.map((m) => (
        <ServedModel key={m.name} target={t} model={m} onChanged={onChanged} />
      ))}
    </>
  );
}

function portOf(url: string): string {
  try {
    return new URL(url).port || "8000";
  } catch {
    return "8000";
  }
}

function ServedModel({
  target,
  model: m,
  onChanged,
}: {
  target: TargetStatus;
  model: ServedModelStatus;
  onChanged(): void;
}) {
  const [rollback, setRollback] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const earlier = rollbackChoices(m);
  const rows = trafficRows(target.traffic, m.name);

  const rollBack = async (version: number) => {
    setBusy(true);
    try {
      await api.rollbackDeployment({ name: m.name, target: target.name, version });
      toast(`${m.name} v${version} serves again on ${target.name}`);
      setRollback(null);
    } catch (e) {
      reportError(e, `Could not roll ${m.name} back to v${version}`);
    } finally {
      setBusy(false);
      onChanged();
    }
  };

  return (
    <div className="served-model" data-testid={`serving-${m.name}`} data-version={m.serving ?? ""}>
      <div className="served-head">
        <button
          type="button"
          className="link-button served-name"
          title="Open in the Models view"
          onClick={() => {
            useModels.getState().choose(m.name);
            useUi.getState().setView("models");
          }}
        >
          {m.name}
        </button>
        <span>
          serving <strong data-testid={`serving-version-${m.name}`}>{servingText(m)}</strong>
        </span>
        {m.versions.length > 0 && (
          <span className="muted small">loaded: {m.versions.map((v) => `v${v}`).join(", ")}</span>
        )}
        {target.kind === "dagwood" && (
          <button
            type="button"
            className="link-button small"
            data-testid={`monitoring-link-${m.name}`}
            title="Drift, predictions and performance over time, alerts and the retraining loop"
            onClick={() => showMonitoring(target.name, m.name)}
          >
            Monitoring →
          </button>
        )}
      </div>
      {m.logPolicy && <LogPolicyLine model={m.name} policy={m.logPolicy} />}
      {m.serving !== null && (
        <InferSnippet
          url={target.url}
          model={m.name}
          version={m.serving}
          target={target.name}
          guarded={target.builtin !== true}
          open={target.builtin === true}
        />
      )}
      <div className="served-body">
        <div className="served-side">
          {earlier.length > 0 && (
            <div className="served-row">
              <span className="muted small">Roll back to</span>
              {earlier.map((v) => (
                <button
                  key={v}
                  type="button"
                  className="button small"
                  data-testid={`rollback-${m.name}-${v}`}
                  disabled={busy || m.serving === null}
                  onClick={() => setRollback(v)}
                >
                  v{v}
                </button>
              ))}
            </div>
          )}
          {target.kind === "dagwood" && m.serving !== null && (
            <TrafficSplit target={target.name} model={m} choices={earlier} onChanged={onChanged} />
          )}
          {target.kind === "triton" && (
            <p className="muted small">
              Canary and shadow shares are a Dagwood server extension; on Triton split traffic in front of it
              (e.g. KServe's canaryTrafficPercent).
            </p>
          )}
          <h4>Recent deployments</h4>
          <History entries={m.deployments} />
        </div>
        {target.kind === "dagwood" &&
          (rows.length ? (
            <Suspense fallback={<Loading>Loading the charts…</Loading>}>
              <TrafficCharts rows={rows} testId={`traffic-${m.name}`} />
            </Suspense>
          ) : (
            <p className="muted small traffic-empty">
              No request yet. Predictions sent to{" "}
              <span className="mono">
                {target.url}/v2/models/{m.name}/infer
              </span>{" "}
              are charted here per version.
            </p>
          ))}
      </div>
      {rollback !== null && (
        <ConfirmDialog
          title="Roll back"
          question={`Make ${m.name} v${rollback} serve on ${target.name} again, instead of ${servingText(m)}?`}
          confirmLabel={`Roll back to v${rollback}`}
          danger
          busy={busy}
          onCancel={() => setRollback(null)}
          onConfirm={() => void rollBack(rollback)}
        >
          <p className="muted small">
            Its predictions are checked against the registry's before it takes the traffic.
          </p>
        </ConfirmDialog>
      )}
    </div>
  );
}

/** A canary share (slider) to a chosen version, and an optional shadow; applied with setTraffic. */
function TrafficSplit({
  target,
  model: m,
  choices,
  onChanged,
}: {
  target: string;
  model: ServedModelStatus;
  choices: number[];
  onChanged(): void;
}) {
  const [percent, setPercent] = useState(m.policy?.canary?.percent ?? 0);
  const [chosenCanary, setCanary] = useState<number | null>(m.policy?.canary?.version ?? null);
  const [shadow, setShadow] = useState<number | null>(m.policy?.shadow?.version ?? null);
  const [busy, setBusy] = useState(false);
  // A refresh may have changed the choices since the version was chosen.
  const canary =
    chosenCanary !== null && choices.includes(chosenCanary) ? chosenCanary : (choices[0] ?? null);
  if (!choices.length) {
    return (
      <p className="muted small">
        Deploy another version to send it a canary share of the traffic or a shadow copy.
      </p>
    );
  }
  const apply = async () => {
    setBusy(true);
    try {
      const { policy } = await api.setTraffic({
        target,
        name: m.name,
        ...(canary !== null && percent > 0 ? { canary: { version: canary, percent } } : {}),
        ...(shadow !== null ? { shadow: { version: shadow } } : {}),
      });
      toast(
        policy.canary
          ? `${m.name}: ${policy.canary.percent} % of requests go to v${policy.canary.version}`
          : `${m.name}: all requests go to v${policy.primary ?? m.serving}`,
      );
    } catch (e) {
      reportError(e, `Could not change ${m.name}'s traffic`);
    } finally {
      setBusy(false);
      onChanged();
    }
  };
  return (
    <div className="traffic-split">
      <label className="served-row">
        <span className="muted small">Canary</span>
        <select
          className="field-input small"
          data-testid={`canary-version-${m.name}`}
          value={canary ?? ""}
          onChange={(e) => setCanary(Number(e.target.value))}
        >
          {choices.map((v) => (
            <option key={v} value={v}>
              v{v}
            </option>
          ))}
        </select>
        <input
          type="range"
          min={0}
          max={100}
          step={5}
          value={percent}
          data-testid={`canary-slider-${m.name}`}
          aria-label={`Canary share of ${m.name}`}
          onChange={(e) => setPercent(Number(e.target.value))}
        />
        <span className="mono small canary-percent">{percent} %</span>
      </label>
      <label className="served-row">
        <span className="muted small">Shadow</span>
        <select
          className="field-input small"
          data-testid={`shadow-version-${m.name}`}
          value={shadow ?? ""}
          onChange={(e) => setShadow(e.target.value === "" ? null : Number(e.target.value))}
        >
          <option value="">none</option>
          {choices.map((v) => (
            <option key={v} value={v}>
              v{v}
            </option>
          ))}
        </select>
        <button
          type="button"
          className="button small primary"
          data-testid={`traffic-apply-${m.name}`}
          disabled={busy}
          onClick={() => void apply()}
        >
          {busy ? "Applying…" : "Apply"}
        </button>
      </label>
    </div>
  );
}

function History({ entries }: { entries: AuditEntry[] }) {
  if (!entries.length) return <p className="muted small">No deployment recorded from this project.</p>;
  return (
    <ol className="audit-timeline deployment-history">
      {entries.map((e) => {
        const facts = deploymentFacts(e);
        return (
          <li
            key={e.id}
            className={`audit-entry audit-deployment ${e.action.replace(".", "-")}`}
            data-testid="deployment-entry"
            data-action={e.action}
            data-version={e.version ?? ""}
          >
            <span className="audit-dot" />
            <div>
              <div className="audit-what">{describeAudit(e)}</div>
              {facts.length > 0 && <div className="small">{facts.join(" · ")}</div>}
              <div className="muted small">
                {e.actor ?? "unknown"} · {formatTime(e.at)}
              </div>
            </div>
          </li>
        );
      })}
    </ol>
  );
}
