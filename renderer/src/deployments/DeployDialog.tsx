/**
 * Deploys a model version from the Models view: choose a target, confirm,
 * wait while the core uploads it, waits until it is ready and checks parity,
 * then read the outcome — parity passed, or failed and rolled back (the
 * core's 409 says which version serves again). The built-in `local` target
 * (the app's own server) is there without any setup: deploying to it starts
 * it first ("Starting the local server…").
 */
import { type ReactNode, useState } from "react";
import type { AuditEntry } from "../../../app/api/api";
import { ApiCallError, api } from "../api/client";
import { useApi } from "../panels/useApi";
import { messageOf, reportError } from "../services/errors";
import { Loading } from "../shell/Loading";
import { useFocusTrap } from "../shell/useFocusTrap";
import { useUi } from "../store/ui";
import { parityOf, parityText, targetLabel, tokenSourceText } from "./format";
import "./deployments.css";

type Outcome = { ok: true; entry: AuditEntry } | { ok: false; parity: boolean; message: string };

/** What a project's dagwood.json needs for a target of its own, and how its token is given. */
export function AddTargetHelp() {
  return (
    <div className="deploy-help small">
      <p>
        Add a target to the project's <span className="mono">dagwood.json</span>:
      </p>
      <pre className="mono">{`"targets": { "staging": { "url": "http://127.0.0.1:8000", "kind": "dagwood" } }`}</pre>
      <p>
        Start a server with <span className="mono">dagwood serve --token &lt;token&gt;</span>, and give
        Dagwood the token in the environment (<span className="mono">DAGWOOD_TOKEN_STAGING</span>) or the OS
        keychain (service <span className="mono">dagwood</span>, target <span className="mono">staging</span>
        ). The kind is <span className="mono">dagwood</span> or <span className="mono">triton</span>. A target
        named <span className="mono">local</span> (token <span className="mono">DAGWOOD_TOKEN_LOCAL</span>)
        replaces the built-in one — that is also how the CLI deploys to a local server.
      </p>
    </div>
  );
}

export function DeployDialog({
  model,
  version,
  onClose,
  onDeployed,
}: {
  model: string;
  version: number;
  onClose(): void;
  /** After any attempt: the registry's history has a new entry either way. */
  onDeployed(): void;
}) {
  const targets = useApi(() => api.listTargets({}), "targets");
  const [chosen, setChosen] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  /** While busy: starting the built-in server first, then deploying. */
  const [phase, setPhase] = useState<"starting" | "deploying">("deploying");
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const trap = useFocusTrap<HTMLDivElement>();
  const list = targets.status === "ok" ? targets.value : [];
  const target = chosen ?? list[0]?.name ?? null;
  const chosenInfo = list.find((t) => t.name === target);
  const shownTarget = chosenInfo ? targetLabel(chosenInfo) : (target ?? "");

  const deploy = async () => {
    if (!target) return;
    setBusy(true);
    try {
      if (chosenInfo?.builtin && !chosenInfo.running) {
        setPhase("starting");
        await api.startLocalServer({});
      }
      setPhase("deploying");
      const entry = await api.deployVersion({ name: model, ref: version, target });
      setOutcome({ ok: true, entry });
    } catch (e) {
      // A parity failure (409) was rolled back and recorded: it is the answer, not a fault to toast.
      const parity = e instanceof ApiCallError && e.status === 409;
      if (!parity) reportError(e, `Could not deploy v${version}`);
      setOutcome({ ok: false, parity, message: messageOf(e) });
    } finally {
      setBusy(false);
      onDeployed();
    }
  };
  const close = () => !busy && onClose();

  let body: ReactNode;
  if (targets.status === "loading") body = <Loading>Reading the project's targets…</Loading>;
  else if (targets.status === "error") body = <div className="panel-error">{targets.message}</div>;
  else if (!list.length) {
    body = (
      <>
        <p className="muted">This project has no deploy target yet.</p>
        <AddTargetHelp />
      </>
    );
  } else if (busy) {
    body =
      phase === "starting" ? (
        <Loading testId="deploy-progress">Starting the local server…</Loading>
      ) : (
        <Loading testId="deploy-progress">
          Deploying {model} v{version} to {shownTarget}: uploading, waiting until it is ready, comparing its
          answers with the registry's…
        </Loading>
      );
  } else if (outcome) {
    body = <DeployOutcome outcome={outcome} model={model} version={version} target={shownTarget} />;
  } else {
    body = (
      <fieldset className="deploy-targets">
        <legend className="muted small">Target</legend>
        {list.map((t) => (
          <label key={t.name} className={`deploy-target${t.name === target ? " active" : ""}`}>
            <input
              type="radio"
              name="deploy-target"
              data-testid={`deploy-target-${t.name}`}
              checked={t.name === target}
              onChange={() => setChosen(t.name)}
            />
            {t.builtin ? (
              <span>
                <strong>{targetLabel(t)}</strong> <span className="muted small">{t.kind}</span>
                <br />
                <span className="small muted">
                  The app's own server on this machine: no setup, no token to give.{" "}
                  {t.running ? (
                    <>
                      Running at <span className="mono">{t.url}</span>.
                    </>
                  ) : (
                    "Deploying starts it."
                  )}
                </span>
              </span>
            ) : (
              <span>
                <strong>{t.name}</strong> <span className="muted small">{t.kind}</span>
                <br />
                <span className="mono small">{t.url}</span>
                <br />
                <span className={`small ${t.tokenSource ? "muted" : "warn-text"}`}>{tokenSourceText(t)}</span>
              </span>
            )}
          </label>
        ))}
      </fieldset>
    );
  }

  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: a click on the backdrop closes
    <div
      className="overlay"
      role="presentation"
      onMouseDown={(e) => e.target === e.currentTarget && close()}
      onKeyDown={(e) => e.key === "Escape" && close()}
    >
      <div
        ref={trap}
        className="dialog deploy-dialog"
        data-testid="deploy-dialog"
        role="dialog"
        aria-modal
        aria-label={`Deploy ${model} v${version}`}
      >
        <h2>
          Deploy {model} v{version}
        </h2>
        {body}
        <div className="dialog-buttons">
          {outcome ? (
            <>
              <button
                type="button"
                className="button"
                onClick={() => {
                  onClose();
                  useUi.getState().setView("deployments");
                }}
              >
                Open Deployments
              </button>
              <button type="button" className="button primary" data-testid="deploy-close" onClick={onClose}>
                Close
              </button>
            </>
          ) : (
            <>
              <button type="button" className="button" data-testid="cancel" disabled={busy} onClick={onClose}>
                Cancel
              </button>
              <button
                type="button"
                className="button primary"
                data-testid="confirm"
                disabled={busy || !target}
                onClick={() => void deploy()}
              >
                {busy
                  ? phase === "starting"
                    ? "Starting…"
                    : "Deploying…"
                  : target
                    ? `Deploy to ${shownTarget}`
                    : "Deploy"}
              </button>
            </>
          )}
        </div>
      </div>
    </div>
  );
}

function DeployOutcome({
  outcome,
  model,
  version,
  target,
}: {
  outcome: Outcome;
  model: string;
  version: number;
  target: string;
}) {
  if (outcome.ok) {
    const parity = parityOf(outcome.entry.details);
    const ms = outcome.entry.details.ms;
    const url = outcome.entry.details.url;
    return (
      <div className="deploy-result ok" data-testid="deploy-result" data-status="succeeded">
        <strong>
          ✓ {model} v{version} serves on {target}.
        </strong>
        <p>
          {parity ? parityText(parity) : "No parity check ran."}
          {parity?.tolerance ? ` (tolerance ${parity.tolerance})` : ""}
          {typeof ms === "number" ? ` · ${(ms / 1000).toFixed(1)} s` : ""}
        </p>
        {typeof url === "string" && url && (
          <p className="small">
            Predictions: <span className="mono">POST </span>
            <span className="mono" data-testid="deploy-infer-url">
              {url}/v2/models/{model}/infer
            </span>
          </p>
        )}
      </div>
    );
  }
  return (
    <div className="deploy-result failed" data-testid="deploy-result" data-status="failed">
      <strong>
        ✗{" "}
        {outcome.parity
          ? `Parity failed: v${version} was rolled back on ${target}.`
          : `Deploying v${version} to ${target} failed.`}
      </strong>
      <p className="mono small">{outcome.message}</p>
    </div>
  );
}
