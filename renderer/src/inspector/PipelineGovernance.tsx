/**
 * The pipeline's governance fields beside its name and owner: what it is
 * for, when it is next reviewed, and whether it is deprecated (why, what
 * replaces it, since when). They are written into the pipeline file (purpose,
 * reviewBy, deprecated; app/pipeline/schema.ts), each edit one undo step;
 * running a deprecated pipeline warns, naming the replacement.
 */
import { useShallow } from "zustand/react/shallow";
import { useEditor } from "../store/editor";
import type { PipelineDocument } from "../store/types";
import { useValidation } from "../store/validation";

interface DeprecationDoc {
  reason: string;
  replacement?: string;
  since?: string;
}

/** Applies an edit; edits of the same field coalesce into one undo step. */
function change(edit: (doc: PipelineDocument) => PipelineDocument, key: string) {
  const editor = useEditor.getState();
  if (editor.document) editor.commit(edit(editor.document), { coalesce: key });
}

/** Sets a top-level field, removing it when empty (an unset field is left out of the file). */
export function withField(doc: PipelineDocument, field: string, value: unknown): PipelineDocument {
  const next = { ...doc, [field]: value };
  if (value === undefined || value === "") delete next[field];
  return next;
}

/** Sets one field of `deprecated`, keeping the others; empty optional fields are left out. */
export function withDeprecation(
  doc: PipelineDocument,
  field: keyof DeprecationDoc,
  value: string,
): PipelineDocument {
  const current = readDeprecation(doc) ?? { reason: "" };
  const next: DeprecationDoc = { ...current, [field]: value };
  if (field !== "reason" && !value) delete next[field];
  return { ...doc, deprecated: next };
}

function readDeprecation(doc: PipelineDocument | null): DeprecationDoc | null {
  const d = doc?.deprecated;
  return d && typeof d === "object" && !Array.isArray(d) ? (d as DeprecationDoc) : null;
}

const today = () => new Date().toISOString().slice(0, 10);
const text = (v: unknown) => (typeof v === "string" ? v : "");

export function PipelineGovernance() {
  const { purpose, reviewBy, deprecated } = useEditor(
    useShallow((s) => ({
      purpose: text(s.document?.purpose),
      reviewBy: text(s.document?.reviewBy),
      deprecated: readDeprecation(s.document),
    })),
  );
  const problems = useValidation(
    useShallow((s) =>
      s.problems.filter((p) => !p.nodeId && /^\$\.(purpose|reviewBy|deprecated)\b/.test(p.path)),
    ),
  );
  const pastReview = reviewBy && reviewBy < today();
  return (
    <div className="pipeline-governance" data-testid="pipeline-governance">
      <div className="field">
        <div className="field-label">
          <label htmlFor="pipeline-purpose">purpose</label>
        </div>
        <textarea
          id="pipeline-purpose"
          data-testid="pipeline-purpose"
          className="field-input"
          rows={2}
          placeholder="What the pipeline is for, and who uses what it makes"
          value={purpose}
          onChange={(e) => change((doc) => withField(doc, "purpose", e.target.value), "pipeline-purpose")}
        />
      </div>
      <div className="field">
        <div className="field-label">
          <label htmlFor="pipeline-reviewBy">review by</label>
        </div>
        <input
          id="pipeline-reviewBy"
          data-testid="pipeline-reviewBy"
          type="date"
          className="field-input"
          value={reviewBy}
          onChange={(e) => change((doc) => withField(doc, "reviewBy", e.target.value), "pipeline-reviewBy")}
        />
        {pastReview && (
          <div className="field-help governance-late">
            Past its review date: its owner should review it and set the next date.
          </div>
        )}
      </div>
      <label className="field governance-toggle">
        <input
          type="checkbox"
          data-testid="pipeline-deprecated"
          checked={deprecated !== null}
          onChange={(e) =>
            change(
              (doc) =>
                withField(doc, "deprecated", e.target.checked ? { reason: "", since: today() } : undefined),
              "pipeline-deprecated",
            )
          }
        />
        <span>Deprecated</span>
      </label>
      {deprecated && (
        <div className="field-group governance-deprecated">
          <div className="field">
            <div className="field-label">
              <label htmlFor="pipeline-deprecated-reason">
                reason
                <span className="required" title="required">
                  *
                </span>
              </label>
            </div>
            <input
              id="pipeline-deprecated-reason"
              data-testid="pipeline-deprecated-reason"
              className={`field-input${deprecated.reason ? "" : " invalid"}`}
              placeholder="Why it should no longer be used"
              value={deprecated.reason}
              onChange={(e) =>
                change((doc) => withDeprecation(doc, "reason", e.target.value), "pipeline-deprecated-reason")
              }
            />
          </div>
          <div className="field">
            <div className="field-label">
              <label htmlFor="pipeline-deprecated-replacement">replacement</label>
            </div>
            <input
              id="pipeline-deprecated-replacement"
              data-testid="pipeline-deprecated-replacement"
              className="field-input mono"
              placeholder="pipelines/churn-v2.dag.json"
              value={deprecated.replacement ?? ""}
              onChange={(e) =>
                change(
                  (doc) => withDeprecation(doc, "replacement", e.target.value),
                  "pipeline-deprecated-replacement",
                )
              }
            />
          </div>
          <div className="field">
            <div className="field-label">
              <label htmlFor="pipeline-deprecated-since">since</label>
            </div>
            <input
              id="pipeline-deprecated-since"
              type="date"
              className="field-input"
              value={deprecated.since ?? ""}
              onChange={(e) =>
                change((doc) => withDeprecation(doc, "since", e.target.value), "pipeline-deprecated-since")
              }
            />
          </div>
          <div className="field-help">Running it warns, naming the replacement.</div>
        </div>
      )}
      {problems.map((p) => (
        <div className="field-message" key={`${p.path}:${p.message}`}>
          {p.message}
        </div>
      ))}
    </div>
  );
}
