/**
 * A dataset's owner, purpose, review date and deprecation, each edited where
 * it shows: Enter (or leaving the field) saves through updateDataset, Escape
 * cancels; the core's refusal shows under the field; a saved change can be
 * undone from the note beside it.
 */
import { useEffect, useRef, useState } from "react";
import type { Governance } from "../../../app/values/governance";
import { messageOf } from "../services/errors";
import { toast } from "../store/toasts";
import type { GovernancePatch } from "./api";
import { reviewOverdue } from "./format";

/** Today in UTC, as `dagwood governance` dates its findings. */
const todayUtc = () => new Date().toISOString().slice(0, 10);

type Field = "owner" | "purpose" | "reviewBy";

const LABELS: Record<Field | "deprecated", string> = {
  owner: "Owner",
  purpose: "Purpose",
  reviewBy: "Review by",
  deprecated: "Deprecated",
};

const PLACEHOLDERS: Record<Field, string> = {
  owner: "who answers for it, e.g. data-team@example.com",
  purpose: "what it is for",
  reviewBy: "YYYY-MM-DD",
};

/** The core's message without the Api's "Invalid arguments for updateDataset: governance.owner:" prefix. */
function fieldMessage(e: unknown): string {
  return messageOf(e).replace(/^Invalid arguments for \w+: (governance\.\w+: )?/, "");
}

/** A saved change and how to take it back. */
interface Undo {
  field: Field | "deprecated";
  patch: GovernancePatch;
}

export function GovernanceEditor({
  governance,
  disabled,
  save,
  replacements,
}: {
  governance: Governance;
  /** Why the fields cannot be edited (a dataset with no dagwood.json entry), or null. */
  disabled: string | null;
  /** Sends a patch; throws the core's error. */
  save(patch: GovernancePatch): Promise<void>;
  /** Names a replacement may be picked from (the other datasets). */
  replacements: string[];
}) {
  const [undo, setUndo] = useState<Undo | null>(null);
  const commit = async (field: Field | "deprecated", patch: GovernancePatch, before: GovernancePatch) => {
    await save(patch);
    setUndo({ field, patch: before });
    toast(`${LABELS[field]} saved`);
  };
  const undoNote = (field: Field | "deprecated") =>
    undo?.field === field && (
      <span className="undo-note" data-testid={`undo-${field}`}>
        saved ·{" "}
        <button
          type="button"
          className="link-button"
          onClick={() => {
            const { patch } = undo;
            setUndo(null);
            save(patch).then(
              () => toast(`${LABELS[field]} restored`),
              (e) => toast(`Could not undo: ${messageOf(e)}`, "error"),
            );
          }}
        >
          Undo
        </button>
      </span>
    );
  return (
    <dl className="governance" data-testid="governance">
      {(["owner", "purpose", "reviewBy"] as const).map((field) => (
        <div key={field} className="governance-row">
          <dt>{LABELS[field]}</dt>
          <dd>
            <EditableText
              field={field}
              value={governance[field] ?? ""}
              disabled={disabled}
              onSave={(value) =>
                commit(field, { [field]: value || null }, { [field]: governance[field] ?? null })
              }
            />
            {field === "reviewBy" && reviewOverdue(governance.reviewBy, todayUtc()) && (
              <span
                className="review-overdue"
                data-testid="gov-review-overdue"
                title="Past its review date (dagwood governance lists it): review it, then set the next date"
              >
                past due
              </span>
            )}
            {undoNote(field)}
          </dd>
        </div>
      ))}
      <div className="governance-row">
        <dt>{LABELS.deprecated}</dt>
        <dd>
          <DeprecationField
            governance={governance}
            disabled={disabled}
            replacements={replacements}
            onSave={(deprecated) =>
              commit("deprecated", { deprecated }, { deprecated: governance.deprecated ?? null })
            }
          />
          {undoNote("deprecated")}
        </dd>
      </div>
    </dl>
  );
}

function EditableText({
  field,
  value,
  disabled,
  onSave,
}: {
  field: Field;
  value: string;
  disabled: string | null;
  onSave(value: string): Promise<void>;
}) {
  const [draft, setDraft] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  // Enter then the blur of the closing field, or Escape then its blur, must not save twice or at all.
  const settled = useRef(false);
  const editing = draft !== null;
  useEffect(() => {
    if (editing) input.current?.focus();
  }, [editing]);
  const close = () => {
    settled.current = true;
    setDraft(null);
    setError(null);
    // The focus goes back to the value it came from, so the keyboard carries on from there.
    requestAnimationFrame(() => button.current?.focus());
  };
  const submit = async () => {
    if (draft === null || settled.current) return;
    const next = draft.trim();
    if (next === value) return close();
    settled.current = true;
    setBusy(true);
    try {
      await onSave(next);
      close();
    } catch (e) {
      settled.current = false;
      setError(fieldMessage(e));
    } finally {
      setBusy(false);
    }
  };
  if (!editing)
    return (
      <button
        ref={button}
        type="button"
        className={`field-value ellipsis${value ? "" : " empty"}`}
        data-testid={`gov-${field}`}
        aria-label={`${LABELS[field]}: ${value || "not set"} (edit)`}
        title={disabled ?? (value ? `${value}\n(click to edit)` : "Click to set")}
        disabled={!!disabled}
        onClick={() => {
          settled.current = false;
          setDraft(value);
        }}
      >
        {value || (field === "owner" ? "no owner — set one" : "—")}
      </button>
    );
  return (
    <span className="field-edit">
      <input
        ref={input}
        className={`field-input${error ? " invalid" : ""}`}
        data-testid={`gov-${field}-input`}
        aria-label={LABELS[field]}
        aria-invalid={!!error}
        placeholder={PLACEHOLDERS[field]}
        value={draft}
        readOnly={busy}
        onChange={(e) => setDraft(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter") void submit();
          else if (e.key === "Escape") close();
          else return;
          e.preventDefault();
        }}
        onBlur={() => {
          // Leaving an unchanged field closes it; a change is saved (a refusal keeps it open, with the reason).
          if (!error) void submit();
        }}
      />
      {error && (
        <span className="field-error" role="alert" data-testid={`gov-${field}-error`}>
          {error}
        </span>
      )}
    </span>
  );
}

function DeprecationField({
  governance,
  disabled,
  replacements,
  onSave,
}: {
  governance: Governance;
  disabled: string | null;
  replacements: string[];
  onSave(deprecated: Governance["deprecated"] | null): Promise<void>;
}) {
  const current = governance.deprecated;
  const [form, setForm] = useState<{ reason: string; replacement: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async (value: Governance["deprecated"] | null) => {
    setBusy(true);
    try {
      await onSave(value);
      setForm(null);
      setError(null);
    } catch (e) {
      setError(fieldMessage(e));
    } finally {
      setBusy(false);
    }
  };
  if (!form)
    return (
      <span className="deprecation" data-testid="gov-deprecated">
        {current ? (
          <span className="deprecated-text ellipsis" title={current.reason}>
            yes: {current.reason}
            {current.replacement && <> · use {current.replacement}</>}
            {current.since && <span className="muted"> · since {current.since}</span>}
          </span>
        ) : (
          <span className="muted">no</span>
        )}
        <button
          type="button"
          className="button small"
          data-testid="gov-deprecate"
          disabled={!!disabled || busy}
          title={disabled ?? undefined}
          onClick={() => setForm({ reason: current?.reason ?? "", replacement: current?.replacement ?? "" })}
        >
          {current ? "Edit…" : "Deprecate…"}
        </button>
        {current && (
          <button
            type="button"
            className="button small"
            data-testid="gov-undeprecate"
            disabled={!!disabled || busy}
            onClick={() => void run(null)}
          >
            Not deprecated
          </button>
        )}
        {error && (
          <span className="field-error" role="alert">
            {error}
          </span>
        )}
      </span>
    );
  return (
    <form
      className="deprecation-form"
      data-testid="deprecation-form"
      onSubmit={(e) => {
        e.preventDefault();
        const reason = form.reason.trim();
        if (!reason) return setError("Say why it is deprecated (the reason shows wherever it is used).");
        const replacement = form.replacement.trim();
        void run({
          reason,
          ...(replacement ? { replacement } : {}),
          ...(current?.since ? { since: current.since } : { since: new Date().toISOString().slice(0, 10) }),
        });
      }}
      onKeyDown={(e) => {
        if (e.key === "Escape") {
          e.preventDefault();
          setForm(null);
          setError(null);
        }
      }}
    >
      <input
        // biome-ignore lint/a11y/noAutofocus: the form was opened to be typed into
        autoFocus
        className="field-input"
        data-testid="gov-deprecated-reason"
        aria-label="Why it is deprecated"
        placeholder="why, e.g. superseded by the cleaned file"
        value={form.reason}
        onChange={(e) => setForm({ ...form, reason: e.target.value })}
      />
      <input
        className="field-input"
        data-testid="gov-deprecated-replacement"
        aria-label="Replacement"
        placeholder="replacement (a dataset name)"
        list="dataset-replacements"
        value={form.replacement}
        onChange={(e) => setForm({ ...form, replacement: e.target.value })}
      />
      <datalist id="dataset-replacements">
        {replacements.map((r) => (
          <option key={r} value={r} />
        ))}
      </datalist>
      <button type="submit" className="button small primary" disabled={busy}>
        Save
      </button>
      <button
        type="button"
        className="button small"
        onClick={() => {
          setForm(null);
          setError(null);
        }}
      >
        Cancel
      </button>
      {error && (
        <span className="field-error" role="alert" data-testid="gov-deprecated-error">
          {error}
        </span>
      )}
    </form>
  );
}
