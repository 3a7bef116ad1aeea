/** Sets or moves an alias onto a version, after saying what will change: "Move champion from v3 to v4?" */
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
  const [alias, setAlias] = useState(existing.find((a) => model.aliases[a] !== version) ?? "champion");
  const [busy, setBusy] = useState(false);
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
          ? change.question
          : "An alias starts with a letter, then letters, digits, _ or - (at most 64), e.g. champion."
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
          onChange={(e) => setAlias(e.target.value.trim())}
          onKeyDown={(e) => e.key === "Enter" && void confirm()}
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
