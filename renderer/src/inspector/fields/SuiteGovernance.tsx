/**
 * A suite file's owner, purpose, review date and deprecation (`meta.dagwood`
 * in expectations/<name>.json), shown under the suite field and edited in a
 * small form that saves through the Api: loadSuite, then saveSuite with only
 * `meta.dagwood` changed (the expectations and Great Expectations' own meta
 * keys are written back as read). The core's refusal shows beside the form.
 */
import { useState } from "react";
import type { ExpectationSuite } from "../../../../app/values/expectations";
import type { Governance } from "../../../../app/values/governance";
import { suiteApi } from "../../panels/validation/suiteApi";
import { messageOf } from "../../services/errors";
import { toast } from "../../store/toasts";

const todayUtc = () => new Date().toISOString().slice(0, 10);

interface Form {
  owner: string;
  purpose: string;
  reviewBy: string;
  deprecated: boolean;
  reason: string;
  replacement: string;
}

const formOf = (g: Governance | undefined): Form => ({
  owner: g?.owner ?? "",
  purpose: g?.purpose ?? "",
  reviewBy: g?.reviewBy ?? "",
  deprecated: !!g?.deprecated,
  reason: g?.deprecated?.reason ?? "",
  replacement: g?.deprecated?.replacement ?? "",
});

/** The governance the form describes; empty fields are left out. */
function governanceOf(form: Form, before: Governance | undefined): Governance {
  const g: Governance = {};
  if (form.owner.trim()) g.owner = form.owner.trim();
  if (form.purpose.trim()) g.purpose = form.purpose.trim();
  if (form.reviewBy.trim()) g.reviewBy = form.reviewBy.trim();
  if (form.deprecated) {
    const replacement = form.replacement.trim();
    g.deprecated = {
      reason: form.reason.trim(),
      ...(replacement ? { replacement } : {}),
      since: before?.deprecated?.since ?? todayUtc(),
    };
  }
  return g;
}

/** The suite with `meta.dagwood` replaced by `g` (removed when empty); every other key as it was. */
export function withGovernance(suite: ExpectationSuite, g: Governance): ExpectationSuite {
  const meta: Record<string, unknown> = { ...(suite.meta ?? {}) };
  if (Object.keys(g).length) meta.dagwood = g;
  else delete meta.dagwood;
  const out: ExpectationSuite = { ...suite, meta };
  if (!suite.meta && Object.keys(meta).length === 0) delete out.meta;
  return out;
}

/** The Api's "Invalid arguments for saveSuite: suite.meta.dagwood.reviewBy: …" as "reviewBy: …". */
const saveMessage = (e: unknown) =>
  messageOf(e).replace(/^Invalid arguments for saveSuite: (suite\.meta\.dagwood\.)?/, "");

export function SuiteGovernance({
  path,
  governance,
  suitePaths,
  onSaved,
}: {
  path: string;
  governance: Governance | undefined;
  /** The project's other suite files, offered as replacements. */
  suitePaths: string[];
  onSaved(): void;
}) {
  const [form, setForm] = useState<Form | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const g = governance;
  const late = g?.reviewBy !== undefined && g.reviewBy < todayUtc();
  const close = () => {
    setForm(null);
    setError(null);
  };
  const save = async (f: Form) => {
    if (f.deprecated && !f.reason.trim())
      return setError("Say why it is deprecated (the reason shows wherever the suite is used).");
    setBusy(true);
    try {
      // Read the file again: only meta.dagwood changes, whatever else it holds now.
      const loaded = await suiteApi.loadSuite({ path });
      if (!loaded.suite)
        throw new Error(
          `${path} cannot be read as a suite (${loaded.problems[0]?.message ?? "no suite"}): fix the file first`,
        );
      await suiteApi.saveSuite({ path, suite: withGovernance(loaded.suite, governanceOf(f, g)) });
      toast(`${path}: governance saved`);
      close();
      onSaved();
    } catch (e) {
      setError(saveMessage(e));
    } finally {
      setBusy(false);
    }
  };

  if (!form)
    return (
      <div className="suite-governance" data-testid="suite-governance">
        <div className="suite-gov-line">
          <span className="suite-gov-text">
            <span className={g?.owner ? "" : "muted"} data-testid="suite-gov-owner">
              {g?.owner ? `Owner: ${g.owner}` : "No owner"}
            </span>{" "}
            <span className={late ? "suite-gov-late" : "muted"} data-testid="suite-gov-reviewBy">
              {g?.reviewBy ? `· review by ${g.reviewBy}${late ? " (past)" : ""}` : "· no review date"}
            </span>
          </span>
          <button
            type="button"
            className="button small"
            data-testid="suite-gov-edit"
            onClick={() => setForm(formOf(g))}
          >
            Edit…
          </button>
        </div>
        {g?.purpose && (
          <div className="ellipsis" title={g.purpose} data-testid="suite-gov-purpose">
            {g.purpose}
          </div>
        )}
        {g?.deprecated && (
          <div className="suite-gov-line suite-deprecated" data-testid="suite-gov-deprecated">
            Deprecated{g.deprecated.since ? ` since ${g.deprecated.since}` : ""}: {g.deprecated.reason}
            {g.deprecated.replacement ? ` · use ${g.deprecated.replacement}` : ""}
          </div>
        )}
      </div>
    );

  const set = (patch: Partial<Form>) => setForm({ ...form, ...patch });
  return (
    <form
      className="suite-governance suite-gov-form"
      data-testid="suite-gov-form"
      onSubmit={(e) => {
        e.preventDefault();
        void save(form);
      }}
      onKeyDown={(e) => {
        if (e.key === "Escape") {
          e.preventDefault();
          close();
        }
      }}
    >
      <label>
        <span>Owner</span>
        <input
          // biome-ignore lint/a11y/noAutofocus: the form was opened to be typed into
          autoFocus
          className="field-input"
          data-testid="suite-gov-owner-input"
          placeholder="who answers for it, e.g. data-team@example.com"
          value={form.owner}
          onChange={(e) => set({ owner: e.target.value })}
        />
      </label>
      <label>
        <span>Purpose</span>
        <input
          className="field-input"
          data-testid="suite-gov-purpose-input"
          placeholder="what the suite guards"
          value={form.purpose}
          onChange={(e) => set({ purpose: e.target.value })}
        />
      </label>
      <label>
        <span>Review by</span>
        <input
          className="field-input"
          data-testid="suite-gov-reviewBy-input"
          placeholder="YYYY-MM-DD"
          value={form.reviewBy}
          onChange={(e) => set({ reviewBy: e.target.value })}
        />
      </label>
      <label className="suite-gov-check">
        <input
          type="checkbox"
          data-testid="suite-gov-deprecated-input"
          checked={form.deprecated}
          onChange={(e) => set({ deprecated: e.target.checked })}
        />
        <span>Deprecated</span>
      </label>
      {form.deprecated && (
        <>
          <label>
            <span>Reason</span>
            <input
              className={`field-input${form.reason.trim() ? "" : " invalid"}`}
              data-testid="suite-gov-reason-input"
              placeholder="why it should no longer be used"
              value={form.reason}
              onChange={(e) => set({ reason: e.target.value })}
            />
          </label>
          <label>
            <span>Replacement</span>
            <input
              className="field-input mono"
              data-testid="suite-gov-replacement-input"
              placeholder="a suite path, e.g. expectations/orders-v2.json"
              list="suite-gov-replacements"
              value={form.replacement}
              onChange={(e) => set({ replacement: e.target.value })}
            />
          </label>
          <datalist id="suite-gov-replacements">
            {suitePaths
              .filter((p) => p !== path)
              .map((p) => (
                <option key={p} value={p} />
              ))}
          </datalist>
        </>
      )}
      {error && (
        <div className="field-message" role="alert" data-testid="suite-gov-error">
          {error}
        </div>
      )}
      <div className="suite-gov-buttons">
        <button type="submit" className="button small primary" data-testid="suite-gov-save" disabled={busy}>
          Save to {path.split("/").pop()}
        </button>
        <button type="button" className="button small" onClick={close} disabled={busy}>
          Cancel
        </button>
      </div>
    </form>
  );
}
