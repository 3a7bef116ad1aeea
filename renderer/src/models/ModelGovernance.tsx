/**
 * A registered model's governance: what it is for, when it is next reviewed,
 * and whether it is deprecated (why, and which model replaces it). Shown on
 * the model's page and edited in a dialog that saves through updateModel
 * (null clears a field); registering to a deprecated model warns in the run.
 */
import { useState } from "react";
import type { RegisteredModel } from "../../../app/api/api";
import { api } from "../api/client";
import { reportError } from "../services/errors";
import { ConfirmDialog } from "../shell/ConfirmDialog";
import { toast } from "../store/toasts";
import { deprecatedBadge, governanceProblem, governanceUpdate } from "./governance";

function GovernanceDialog({
  model,
  onDone,
  onCancel,
}: {
  model: RegisteredModel;
  onDone(): void;
  onCancel(): void;
}) {
  const g = model;
  const [form, setForm] = useState({
    purpose: g.purpose ?? "",
    reviewBy: g.reviewBy ?? "",
    deprecated: !!g.deprecated,
    reason: g.deprecated?.reason ?? "",
    replacement: g.deprecated?.replacement ?? "",
    since: g.deprecated?.since ?? (g.deprecated ? "" : new Date().toISOString().slice(0, 10)),
  });
  const [busy, setBusy] = useState(false);
  const problem = governanceProblem(form);
  const set = (patch: Partial<typeof form>) => setForm({ ...form, ...patch });
  const save = async () => {
    setBusy(true);
    try {
      await api.updateModel(governanceUpdate(model.name, form));
      toast(`${model.name} updated`);
      onDone();
    } catch (e) {
      reportError(e, `Could not update ${model.name}`);
      setBusy(false);
    }
  };
  return (
    <ConfirmDialog
      testId="model-governance-dialog"
      title={`Governance of ${model.name}`}
      question={problem ?? "Save these fields to the registry?"}
      confirmLabel="Save"
      busy={busy}
      disabled={!!problem}
      onConfirm={() => void save()}
      onCancel={onCancel}
    >
      <div className="governance-form">
        <label className="field">
          <span className="field-label">Purpose</span>
          <textarea
            className="field-input"
            data-testid="model-purpose"
            rows={2}
            value={form.purpose}
            placeholder="What the model is for, and who relies on its predictions"
            onChange={(e) => set({ purpose: e.target.value })}
          />
        </label>
        <label className="field">
          <span className="field-label">Review by</span>
          <input
            type="date"
            className="field-input"
            data-testid="model-reviewBy"
            value={form.reviewBy}
            onChange={(e) => set({ reviewBy: e.target.value })}
          />
        </label>
        <label className="field governance-check">
          <input
            type="checkbox"
            data-testid="model-deprecated"
            checked={form.deprecated}
            onChange={(e) => set({ deprecated: e.target.checked })}
          />
          <span>Deprecated</span>
        </label>
        {form.deprecated && (
          <div className="governance-deprecation">
            <label className="field">
              <span className="field-label">Reason</span>
              <input
                className={`field-input${form.reason.trim() ? "" : " invalid"}`}
                data-testid="model-deprecated-reason"
                value={form.reason}
                placeholder="Why it should no longer be used"
                onChange={(e) => set({ reason: e.target.value })}
              />
            </label>
            <label className="field">
              <span className="field-label">Replacement model</span>
              <input
                className="field-input mono"
                data-testid="model-deprecated-replacement"
                value={form.replacement}
                placeholder="e.g. churn-v2"
                onChange={(e) => set({ replacement: e.target.value })}
              />
            </label>
            <label className="field">
              <span className="field-label">Since</span>
              <input
                type="date"
                className="field-input"
                value={form.since}
                onChange={(e) => set({ since: e.target.value })}
              />
            </label>
          </div>
        )}
      </div>
    </ConfirmDialog>
  );
}

/** The model page's governance line: purpose, review date (late in orange), the deprecation, and Edit…. */
export function ModelGovernance({ model, onChanged }: { model: RegisteredModel; onChanged(): void }) {
  const [editing, setEditing] = useState(false);
  const g = model;
  const late = g.reviewBy && g.reviewBy < new Date().toISOString().slice(0, 10);
  const badge = deprecatedBadge(g.deprecated);
  return (
    <div className="model-governance" data-testid="model-governance">
      {badge && (
        <span className="deprecated-chip" data-testid="model-deprecated-badge" title={g.deprecated?.reason}>
          {badge}
        </span>
      )}
      <span className={g.purpose ? "" : "muted"} data-testid="model-purpose-text">
        {g.purpose || "No purpose recorded."}
      </span>
      <span className={late ? "governance-late" : "muted"}>
        {g.reviewBy ? `· review by ${g.reviewBy}${late ? " (past)" : ""}` : "· no review date"}
      </span>
      {g.deprecated?.reason && <span className="muted">· {g.deprecated.reason}</span>}
      <button
        type="button"
        className="button small"
        data-testid="edit-model-governance"
        onClick={() => setEditing(true)}
      >
        Edit…
      </button>
      {editing && (
        <GovernanceDialog
          model={model}
          onCancel={() => setEditing(false)}
          onDone={() => {
            setEditing(false);
            onChanged();
          }}
        />
      )}
    </div>
  );
}
