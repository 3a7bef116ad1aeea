/**
 * Sets or moves an alias onto a version, after saying what will change. The
 * field starts empty (a pre-filled alias let one Enter move champion back to
 * an old version); Enter sets a new alias, but moving one that points at
 * another version ("champion now points at v3; move it to v1?") takes a
 * click on Move alias.
 */
import { useState } from "react";
import type { RegisteredModel } from "../../../app/api/api";
import { api } from "../api/client";
import { reportError } from "../services/errors";
import { ConfirmDialog } from "../shell/ConfirmDialog";
import { toast } from "../store/toasts";
import { aliasChange } from "./audit";

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
  const confirm = async () => {
    if (!change || change.kind === "none") return;
    setBusy(true);
    try {
      await api.setAlias({ name: model.name, alias, version });
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
          ? `${change.question}${held && change.kind === "move" ? " Click Move alias to move it." : ""}`
          : alias
            ? "An alias starts with a letter, then letters, digits, _ or - (at most 64), e.g. champion."
            : `Type an alias to set on v${version}${existing.length ? ` (this model has ${existing.map((a) => `${a} → v${model.aliases[a]}`).join(", ")})` : ", e.g. champion"}.`
      }
      confirmLabel={change?.kind === "move" ? "Move alias" : "Set alias"}
      busy={busy}
      disabled={!change || change.kind === "none"}
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
    </ConfirmDialog>
  );
}
