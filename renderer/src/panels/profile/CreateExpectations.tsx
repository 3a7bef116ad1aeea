/**
 * "Create expectations" on a profile: a suite drafted from what the profile
 * observed (column set, types, null shares, ranges, category sets; the Api's
 * suggestSuite), loosened by a margin, reviewed expectation by expectation,
 * saved to expectations/<name>.json, then, for an analyze.profile report, a
 * validate.expectations node after the node that made the profiled table.
 */
import { useEffect, useMemo, useState } from "react";
import type { ExpectationSuite } from "../../../../app/values/expectations";
import type { ProfileReport } from "../../../../app/values/profile";
import { ApiCallError } from "../../api/client";
import { focusNode } from "../../graph/focus";
import { messageOf, reportError } from "../../services/errors";
import { useFocusTrap } from "../../shell/useFocusTrap";
import { useCatalog } from "../../store/catalog";
import { useEditor } from "../../store/editor";
import { toast } from "../../store/toasts";
import { compactKwargs, expectationColumns, readableType } from "../validation/format";
import { suiteApi } from "../validation/suiteApi";
import { suitePath } from "../validation/suiteCheck";
import { insertValidateNode, profiledSource, suggestedSuiteName, VALIDATE_BLOCK } from "./insertValidate";

type Step = { kind: "review" } | { kind: "overwrite"; path: string } | { kind: "saved"; path: string };

export function CreateExpectationsDialog({
  report,
  profiledBy,
  onClose,
}: {
  report: ProfileReport;
  profiledBy?: string;
  onClose(): void;
}) {
  const trap = useFocusTrap<HTMLDivElement>();
  const doc = useEditor((s) => s.document);
  const source = useMemo(
    () => (doc && profiledBy ? profiledSource(doc, profiledBy) : null),
    [doc, profiledBy],
  );
  const hasBlock = useCatalog((s) => s.byKind.has(VALIDATE_BLOCK));
  const [name, setName] = useState(() => (doc ? suggestedSuiteName(doc, source) : "suite"));
  const [margin, setMargin] = useState(10);
  const [suite, setSuite] = useState<ExpectationSuite | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [dropped, setDropped] = useState<ReadonlySet<number>>(new Set());
  const [busy, setBusy] = useState(false);
  const [step, setStep] = useState<Step>({ kind: "review" });
  const path = suitePath(name);

  // The draft follows the name and margin (a short pause while the slider moves).
  useEffect(() => {
    let live = true;
    const timer = setTimeout(() => {
      suiteApi
        .suggestSuite({ profile: report, name: name.trim() || "suite", margin: margin / 100 })
        .then((s) => {
          if (!live) return;
          setSuite(s);
          setError(null);
        })
        .catch((e: unknown) => live && setError(messageOf(e)));
    }, 200);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [report, name, margin]);

  // A new draft keeps the choices made by position only when it has the same expectations.
  const types = suite?.expectations.map((e) => e.expectation_type).join() ?? "";
  // biome-ignore lint/correctness/useExhaustiveDependencies: reset when the list of expectations changes, not on every draft
  useEffect(() => setDropped(new Set()), [types]);

  const kept = useMemo(
    () => (suite ? { ...suite, expectations: suite.expectations.filter((_, i) => !dropped.has(i)) } : null),
    [suite, dropped],
  );

  const save = async (create: boolean) => {
    if (!kept) return;
    setBusy(true);
    try {
      // The name as typed now, even if the draft for it has not come back yet.
      const suite = { ...kept, expectation_suite_name: name.trim() };
      const saved = await suiteApi.saveSuite({ path, suite, create });
      setStep({ kind: "saved", path: saved.path });
      toast(`Saved ${saved.path}`);
    } catch (e) {
      if (e instanceof ApiCallError && e.status === 409) setStep({ kind: "overwrite", path });
      else reportError(e, `Could not save ${path}`);
    } finally {
      setBusy(false);
    }
  };

  const insert = (savedPath: string) => {
    const editor = useEditor.getState();
    if (!editor.document || !source) return;
    const added = insertValidateNode(editor.document, useCatalog.getState().byKind, source, savedPath);
    if (!added) {
      toast(`A ${VALIDATE_BLOCK} node cannot be joined to ${source.node}.${source.port}`, "error");
      return;
    }
    // The new node is selected, so the panel shows it and this profile (and dialog) closes.
    toast(
      `Added ${added.id} after ${source.node}, checking ${savedPath}: run to check the table (undo removes it)`,
    );
    onClose();
    editor.commit(added.document, { selection: { nodes: new Set([added.id]), edges: new Set() } });
    // Once the canvas has drawn it, bring it into view (it may be below what is shown).
    setTimeout(() => focusNode(added.id), 50);
  };

  const toggle = (i: number) => {
    const next = new Set(dropped);
    if (next.has(i)) next.delete(i);
    else next.add(i);
    setDropped(next);
  };

  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: a click on the backdrop closes
    <div
      className="overlay"
      role="presentation"
      onMouseDown={(e) => e.target === e.currentTarget && onClose()}
      onKeyDown={(e) => e.key === "Escape" && onClose()}
    >
      <div
        ref={trap}
        className="dialog create-expectations"
        data-testid="create-expectations"
        role="dialog"
        aria-modal
        aria-label="Create expectations"
      >
        <h2>Create expectations</h2>
        {step.kind === "saved" ? (
          <>
            <p data-testid="suite-saved">
              Saved <span className="mono">{step.path}</span> with {kept?.expectations.length ?? 0}{" "}
              expectations.
            </p>
            {source && hasBlock ? (
              <p className="muted">
                The suite checks nothing until a node uses it: add one that reads{" "}
                <span className="mono">
                  {source.node}.{source.port}
                </span>
                , or attach the suite to a dataset in dagwood.json.
              </p>
            ) : (
              <p className="muted">
                Use it in a validate.expectations node (its suite: {`{ "path": "${step.path}" }`}), or attach
                it to a dataset in dagwood.json.
              </p>
            )}
            <div className="dialog-buttons">
              <button type="button" className="button" data-testid="close-create" onClick={onClose}>
                Close
              </button>
              {source && hasBlock && (
                <button
                  type="button"
                  className="button primary"
                  data-testid="insert-validate"
                  onClick={() => insert(step.path)}
                >
                  Add a validate.expectations node after {source.node}
                </button>
              )}
            </div>
          </>
        ) : (
          <>
            <div className="ce-fields">
              <label className="field">
                <span className="field-label">Suite name</span>
                <input
                  className="field-input mono"
                  data-testid="suite-name"
                  value={name}
                  // biome-ignore lint/a11y/noAutofocus: the dialog starts with its first field
                  autoFocus
                  onChange={(e) => {
                    setName(e.target.value);
                    setStep({ kind: "review" });
                  }}
                />
                <span className="field-help mono">{path}</span>
              </label>
              <label className="field ce-margin">
                <span className="field-label">Margin: {margin} %</span>
                <span className="ce-margin-row">
                  <input
                    type="range"
                    min={0}
                    max={50}
                    step={1}
                    value={margin}
                    aria-label="Margin (per cent)"
                    onChange={(e) => setMargin(Number(e.target.value))}
                  />
                  <input
                    type="number"
                    className="field-input"
                    data-testid="suite-margin"
                    min={0}
                    max={100}
                    value={margin}
                    onChange={(e) => {
                      const v = Number(e.target.value);
                      if (Number.isFinite(v) && v >= 0 && v <= 100) setMargin(v);
                    }}
                  />
                </span>
                <span className="field-help">
                  Ranges and row counts widen by this share of what was observed.
                </span>
              </label>
            </div>
            <div className="ce-list" data-testid="suggested-expectations">
              {error ? (
                <div className="panel-error">{error}</div>
              ) : !suite ? (
                <p className="muted">Drafting the suite…</p>
              ) : suite.expectations.length === 0 ? (
                <p className="muted">The profile suggests no expectations.</p>
              ) : (
                suite.expectations.map((e, i) => {
                  const cols = expectationColumns(e.kwargs);
                  const args = compactKwargs(e.kwargs);
                  return (
                    <label
                      key={`${e.expectation_type}:${JSON.stringify(e.kwargs)}`}
                      className={`ce-item${dropped.has(i) ? " dropped" : ""}`}
                      title={e.expectation_type}
                    >
                      <input
                        type="checkbox"
                        data-testid={`suggested-${i}`}
                        checked={!dropped.has(i)}
                        onChange={() => toggle(i)}
                      />
                      <span className="ce-type">{readableType(e.expectation_type)}</span>
                      {cols && <span className="mono ce-cols">{cols}</span>}
                      {args && <span className="mono muted ce-args">{args}</span>}
                    </label>
                  );
                })
              )}
            </div>
            {step.kind === "overwrite" && (
              <p className="confirm-question" data-testid="overwrite-question">
                {step.path} exists. Replace it with this suite?
              </p>
            )}
            <div className="dialog-buttons">
              <span className="muted small ce-count">
                {kept ? `${kept.expectations.length} of ${suite?.expectations.length ?? 0} kept` : ""}
              </span>
              <button type="button" className="button" data-testid="cancel-create" onClick={onClose}>
                Cancel
              </button>
              {step.kind === "overwrite" ? (
                <button
                  type="button"
                  className="button danger"
                  data-testid="overwrite-suite"
                  disabled={busy}
                  onClick={() => void save(false)}
                >
                  {busy ? "Saving…" : "Replace"}
                </button>
              ) : (
                <button
                  type="button"
                  className="button primary"
                  data-testid="save-suite"
                  disabled={busy || !kept || kept.expectations.length === 0 || !name.trim()}
                  onClick={() => void save(true)}
                >
                  {busy ? "Saving…" : "Save"}
                </button>
              )}
            </div>
          </>
        )}
      </div>
    </div>
  );
}
