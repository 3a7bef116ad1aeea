/**
 * Sets or moves an alias onto a version, after saying what will change. The
 * field starts empty (a pre-filled alias let one Enter move champion back to
 * an old version); Enter sets a new alias, but moving one that points at
 * another version ("champion now points at v3; move it to v1?") takes a
 * click on Move alias. `production` lists its requirements (a passed gate, a
 * deploy to staging); without them it moves only with a reason, which the
 * audit history keeps.
 */
import { useEffect, useState } from "react";
import type { RegisteredModel } from "../../../app/api/api";
import { PRODUCTION_ALIAS, type ProductionRecord } from "../../../app/values/registry";
import { api } from "../api/client";
import { reportError } from "../services/errors";
import { ConfirmDialog } from "../shell/ConfirmDialog";
import { toast } from "../store/toasts";
import { aliasChange } from "./audit";
import { requirements } from "./production";

const ALIAS = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const COMMON = ["champion", "challenger"];

export function AliasDialog({
  model,
  version,
  onDone,
  onCancel,
}: {
  model: RegisteredModel;
  version: number;
  onDone(): void;
  onCancel(): void;
}) {
  const existing = Object.keys(model.aliases);
  const [alias, setAlias] = useState("");
  const [busy, setBusy] = useState(false);
  /** Enter was pressed on a move: the question says to click Move alias. */
  const [held, setHeld] = useState(false);
  const valid = ALIAS.test(alias);
  const change = valid ? aliasChange(alias, version, model.aliases) : null;
  const production = alias === PRODUCTION_ALIAS && change !== null && change.kind !== "none";
  /** The production check of this version: undefined while asked, null when it could not be made. */
  const [check, setCheck] = useState<ProductionRecord | null | undefined>(undefined);
  const [reason, setReason] = useState("");
  useEffect(() => {
    if (!production) return;
    let live = true;
    setCheck(undefined);
    api
      .productionCheck({ name: model.name, version })
      .then((r) => live && setCheck(r))
      .catch((e) => {
        if (!live) return;
        setCheck(null);
        reportError(e, "Could not check the production requirements");
      });
    return () => {
      live = false;
    };
  }, [production, model.name, version]);
  const needsReason = production && (check === null || (check !== undefined && check.missing.length > 0));
  const ready = !production || (check !== undefined && (!needsReason || reason.trim() !== ""));
  const confirm = async () => {
    if (!change || change.kind === "none" || !ready) return;
    setBusy(true);
    try {
      await api.setAlias({
        name: model.name,
        alias,
        version,
        ...(needsReason ? { reason: reason.trim() } : {}),
      });
      toast(change.kind === "move" ? `${alias} moved to v${version}` : `${alias} set on v${version}`);
      onDone();
    } catch (e) {
      reportError(e, `Could not set ${alias}`);
      setBusy(false);
    }
  };
  return (
    <ConfirmDialog
      testId="alias-dialog"
      title={`Alias for ${model.name} v${version}`}
      question={
        change
          ? `${change.question}${needsReason ? " It does not meet the requirements: give a reason to override (the history keeps it)." : ""}${held && change.kind === "move" ? ` Click ${needsReason ? "Override and move" : "Move alias"} to move it.` : ""}`
          : alias
            ? "An alias starts with a letter, then letters, digits, _ or - (at most 64), e.g. champion."
            : `Type an alias to set on v${version}${existing.length ? ` (this model has ${existing.map((a) => `${a} → v${model.aliases[a]}`).join(", ")})` : ", e.g. champion"}.`
      }
      confirmLabel={
        needsReason
          ? change?.kind === "move"
            ? "Override and move"
            : "Override and set"
          : change?.kind === "move"
            ? "Move alias"
            : "Set alias"
      }
      busy={busy}
      disabled={!change || change.kind === "none" || !ready}
      onConfirm={() => void confirm()}
      onCancel={onCancel}
    >
      <label className="field">
        <span className="field-label">Alias</span>
        <input
          className={`field-input mono${valid ? "" : " invalid"}`}
          data-testid="alias-input"
          list="alias-suggestions"
          value={alias}
          // biome-ignore lint/a11y/noAutofocus: the dialog exists to be typed into
          autoFocus
          placeholder="e.g. champion"
          onChange={(e) => {
            setAlias(e.target.value.trim());
            setHeld(false);
          }}
          onKeyDown={(e) => {
            if (e.key !== "Enter") return;
            // A move takes an explicit click: Enter alone never moves an alias off another version.
            if (change?.kind === "move") setHeld(true);
            else void confirm();
          }}
        />
        <datalist id="alias-suggestions">
          {[...new Set([...existing, ...COMMON])].map((a) => (
            <option key={a} value={a} />
          ))}
        </datalist>
      </label>
      {production && (
        <div className="production-check" data-testid="production-check">
          {check === undefined ? (
            <p className="muted small">Checking the production requirements…</p>
          ) : check === null ? (
            <p className="small">The requirements could not be checked: moving production needs a reason.</p>
          ) : (
            <ul>
              {requirements(check).map((r) => (
                <li
                  key={r.label}
                  className={r.met ? "met" : "missing"}
                  data-testid="production-requirement"
                  data-met={r.met}
                >
                  <span aria-hidden>{r.met ? "✓" : "✗"}</span> {r.label}
                  {r.detail && <span className="muted small"> — {r.detail}</span>}
                </li>
              ))}
            </ul>
          )}
          {needsReason && (
            <label className="field">
              <span className="field-label">Reason to override (kept in the audit history)</span>
              <textarea
                className="field-input"
                data-testid="override-reason"
                rows={2}
                maxLength={2000}
                value={reason}
                placeholder="e.g. hotfix for incident 42, reviewed by the on-call lead"
                onChange={(e) => setReason(e.target.value)}
              />
            </label>
          )}
        </div>
      )}
    </ConfirmDialog>
  );
}
