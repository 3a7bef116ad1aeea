/** The open alerts of a model (its loops), with what a person may do at each stage, and the loops' history. */
import { useState } from "react";
import type { MonitorLoop } from "../../../app/values/loop";
import { showRun } from "../experiments/showRun";
import { useModels } from "../models/store";
import { reportError } from "../services/errors";
import { ConfirmDialog } from "../shell/ConfirmDialog";
import { toast } from "../store/toasts";
import { useUi } from "../store/ui";
import { loopApi } from "./api";
import { loopActions, loopSteps, num, stageWords, windowLabel } from "./format";

type Action = "acknowledge" | "approve" | "reject";

const openModel = (name: string) => {
  useModels.getState().choose(name);
  useUi.getState().setView("models");
};

export function AlertList({ loops, onChanged }: { loops: MonitorLoop[]; onChanged(): void }) {
  const [asking, setAsking] = useState<{ loop: MonitorLoop; action: Action } | null>(null);
  const [busy, setBusy] = useState<number | null>(null);
  const open = loops.filter((l) => l.status === "open");

  const act = async (loop: MonitorLoop, action: Action) => {
    setBusy(loop.id);
    try {
      const done =
        action === "acknowledge"
          ? await loopApi.acknowledgeAlert({ loopId: loop.id })
          : action === "approve"
            ? await loopApi.approveChallenger({ loopId: loop.id })
            : await loopApi.rejectChallenger({ loopId: loop.id, reason: "rejected in the app" });
      toast(`Alert #${loop.id}: ${stageWords(done.stage)}${done.outcome ? ` — ${done.outcome}` : ""}`);
      setAsking(null);
    } catch (e) {
      reportError(e, `Could not ${action} alert #${loop.id}`);
    } finally {
      setBusy(null);
      onChanged();
    }
  };

  if (!open.length)
    return (
      <p className="muted small" data-testid="alerts-none">
        No open alert.
      </p>
    );
  return (
    <div className="alert-list" data-testid="alerts">
      {open.map((l) => (
        <div
          key={l.id}
          className={`alert-card stage-${l.stage}`}
          data-testid={`alert-${l.id}`}
          data-stage={l.stage}
        >
          <div className="alert-head">
            <strong>Alert #{l.id}</strong>
            <span className={`stage-badge stage-${l.stage}`}>{stageWords(l.stage)}</span>
            <span className="muted small">
              {l.monitor} · window {windowLabel(l.window, true)} · champion{" "}
              {l.champion !== null ? `v${l.champion}` : "–"}
            </span>
          </div>
          <ul className="alert-reasons">
            {l.reasons.map((r) => (
              <li key={r}>{r}</li>
            ))}
          </ul>
          {l.gate && (
            <p className="small">
              Gate on {l.gate.rows} fresh labelled rows: {l.gate.metric} challenger {num(l.gate.challenger)}{" "}
              vs champion {num(l.gate.champion)} (margin {num(l.gate.margin)}) —{" "}
              {l.gate.passed ? "passed" : "failed"}.
            </p>
          )}
          {l.stage === "failed" && l.outcome && <p className="panel-error small">{l.outcome}</p>}
          <div className="alert-actions">
            {loopActions(l).map((a) => (
              <button
                key={a}
                type="button"
                className={`button small${a === "approve" ? " primary" : ""}`}
                data-testid={`alert-${a}-${l.id}`}
                disabled={busy !== null}
                onClick={() => (a === "acknowledge" ? void act(l, a) : setAsking({ loop: l, action: a }))}
              >
                {busy === l.id ? <span className="spinner" /> : null}
                {a === "acknowledge"
                  ? "Acknowledge"
                  : a === "approve"
                    ? `Approve v${l.challenger}`
                    : "Reject"}
              </button>
            ))}
            {!loopActions(l).length && (
              <span className="muted small">In progress: the loop moves on by itself.</span>
            )}
          </div>
        </div>
      ))}
      {asking && (
        <ConfirmDialog
          title={asking.action === "approve" ? "Approve the challenger" : "Reject the challenger"}
          question={
            asking.action === "approve"
              ? `Deploy ${asking.loop.model} v${asking.loop.challenger} on ${asking.loop.target}, replacing v${asking.loop.champion}, and make it the champion?`
              : asking.loop.stage === "canary"
                ? `Remove the canary of ${asking.loop.model} v${asking.loop.challenger} on ${asking.loop.target}? v${asking.loop.champion} keeps serving all traffic.`
                : `Keep ${asking.loop.model} v${asking.loop.champion} serving and close alert #${asking.loop.id}?`
          }
          confirmLabel={asking.action === "approve" ? "Approve and deploy" : "Reject"}
          danger={asking.action === "reject"}
          busy={busy !== null}
          onCancel={() => setAsking(null)}
          onConfirm={() => void act(asking.loop, asking.action)}
        >
          {asking.action === "approve" && (
            <p className="muted small">
              Its predictions are checked against the registry's before it takes the traffic.
            </p>
          )}
        </ConfirmDialog>
      )}
    </div>
  );
}

/** Each loop as alert → run → version → canary → outcome; the run opens in Experiments, the version in Models, the canary in Deployments. */
export function LoopHistory({ loops }: { loops: MonitorLoop[] }) {
  if (!loops.length)
    return (
      <p className="muted small" data-testid="loops-none">
        No alert yet. A monitor that finds drift or a metric below its registered figure raises one here.
      </p>
    );
  return (
    <ol className="loop-history" data-testid="loop-history">
      {loops.map((l) => (
        <li key={l.id} className="loop-row" data-testid={`loop-${l.id}`}>
          <span className="muted small loop-when">{new Date(l.createdAt).toLocaleString()}</span>
          <span className="loop-steps">
            {loopSteps(l).map((s, i) => (
              <span key={s.kind} className={`loop-step${s.done ? " done" : ""}`}>
                {i > 0 && <span className="loop-arrow">→</span>}
                {s.kind === "run" && s.runId ? (
                  <button
                    type="button"
                    className="link-button"
                    title="Open the run in Experiments"
                    onClick={() => showRun(s.runId!)}
                  >
                    {s.label}
                  </button>
                ) : s.kind === "version" && s.version !== null ? (
                  <button
                    type="button"
                    className="link-button"
                    title={`Open ${l.model} in Models`}
                    onClick={() => openModel(l.model)}
                  >
                    {s.label}
                  </button>
                ) : s.kind === "canary" && s.target ? (
                  <button
                    type="button"
                    className="link-button"
                    title="Open the target in Deployments"
                    onClick={() => useUi.getState().setView("deployments")}
                  >
                    {s.label}
                  </button>
                ) : (
                  <span className={s.kind === "end" ? `stage-badge stage-${l.stage}` : undefined}>
                    {s.label}
                  </span>
                )}
              </span>
            ))}
          </span>
          <details className="loop-details small">
            <summary>{l.outcome ?? l.reasons.join("; ")}</summary>
            <ul>
              {l.history.map((h) => (
                <li key={`${h.at}-${h.stage}`}>
                  <span className="muted">{new Date(h.at).toLocaleTimeString()}</span> {stageWords(h.stage)}:{" "}
                  {h.message}
                </li>
              ))}
            </ul>
          </details>
        </li>
      ))}
    </ol>
  );
}
