/** With nothing selected: the pipeline's own fields and its parameters (what `${name}` refers to). */
import { useState } from "react";
import { useShallow } from "zustand/react/shallow";
import { setPipelineParams } from "../document/ops";
import { useEditor } from "../store/editor";
import type { PipelineDocument } from "../store/types";
import { useValidation } from "../store/validation";
import { parseScalar } from "./fields/NumberField";
import { useDraft } from "./fields/useDraft";
import { PipelineGovernance } from "./PipelineGovernance";

/** Same rule as the pipeline schema: a parameter name is a plain identifier. */
const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Applies an edit to the current document; edits of the same field coalesce into one undo step. */
function change(edit: (doc: PipelineDocument) => PipelineDocument, key: string) {
  const editor = useEditor.getState();
  if (editor.document) editor.commit(edit(editor.document), { coalesce: key });
}

/** A parameter's value as typed: numbers, true/false and JSON are read as such, the rest is text. */
function readValue(text: string): unknown {
  const t = text.trim();
  if (t === "true" || t === "false") return t === "true";
  if (/^[[{"]/.test(t)) {
    try {
      return JSON.parse(t);
    } catch {
      return text;
    }
  }
  return parseScalar(text).value ?? "";
}

const showValue = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));
const paramsOf = (doc: PipelineDocument) => doc.params ?? {};

function ParamRow({ name, value }: { name: string; value: unknown }) {
  const [text, update] = useDraft(value, showValue, (t) => ({ value: readValue(t) }));
  const remove = () =>
    change((doc) => {
      const { [name]: _, ...rest } = paramsOf(doc);
      return setPipelineParams(doc, rest);
    }, "pipeline-params-remove");
  return (
    <div className="param-row">
      <span className="mono param-name">{name}</span>
      <input
        className="field-input"
        data-testid={`pipeline-param-${name}`}
        aria-label={`Pipeline parameter ${name}`}
        value={text}
        onChange={(e) => {
          update(e.target.value);
          const value = readValue(e.target.value);
          change(
            (doc) => setPipelineParams(doc, { ...paramsOf(doc), [name]: value }),
            `pipeline-param:${name}`,
          );
        }}
      />
      <button type="button" className="icon-button" title={`Remove ${name}`} onClick={remove}>
        ×
      </button>
    </div>
  );
}

function TextProp({ field }: { field: "name" | "description" | "owner" }) {
  const value = useEditor((s) => {
    const v = s.document?.[field];
    return typeof v === "string" ? v : "";
  });
  return (
    <div className="field">
      <div className="field-label">
        <label htmlFor={`pipeline-${field}`}>{field}</label>
      </div>
      <input
        id={`pipeline-${field}`}
        data-testid={`pipeline-${field}`}
        className="field-input"
        value={value}
        onChange={(e) => {
          const text = e.target.value;
          change((doc) => {
            const next = { ...doc, [field]: text };
            if (!text && field !== "name") delete next[field];
            return next;
          }, `pipeline-${field}`);
        }}
      />
    </div>
  );
}

export function PipelineInspector() {
  const [newName, setNewName] = useState("");
  const params = useEditor((s) => s.document?.params) ?? {};
  const problems = useValidation(
    useShallow((s) => s.problems.filter((p) => !p.nodeId && p.path.startsWith("$.params"))),
  );
  const nameProblem = !newName
    ? null
    : !PARAM_NAME.test(newName)
      ? "A parameter name is a plain identifier: letters, digits and _"
      : Object.hasOwn(params, newName)
        ? `There is already a parameter "${newName}"`
        : null;
  const add = () => {
    if (!newName || nameProblem) return;
    change((doc) => setPipelineParams(doc, { ...paramsOf(doc), [newName]: "" }), "pipeline-params-add");
    setNewName("");
  };
  return (
    <>
      <div className="inspector-head">
        <div className="inspector-title">Pipeline</div>
        <div className="muted">Select a node to edit it.</div>
      </div>
      <TextProp field="name" />
      <TextProp field="description" />
      <TextProp field="owner" />
      <PipelineGovernance />
      <h3 className="inspector-section">Parameters</h3>
      <p className="muted small">
        Nodes refer to these as <span className="mono">{"${name}"}</span>; the CLI overrides them with{" "}
        <span className="mono">--param name=value</span>.
      </p>
      {Object.entries(params).map(([name, value]) => (
        <ParamRow key={name} name={name} value={value} />
      ))}
      <div className="param-row">
        <input
          className="field-input mono"
          data-testid="pipeline-param-new"
          placeholder="new parameter"
          aria-label="New pipeline parameter name"
          value={newName}
          onChange={(e) => setNewName(e.target.value.trim())}
          onKeyDown={(e) => e.key === "Enter" && add()}
        />
        <button type="button" className="button" disabled={!newName || !!nameProblem} onClick={add}>
          Add
        </button>
      </div>
      {nameProblem && <div className="field-message">{nameProblem}</div>}
      {problems.map((p) => (
        <div className="field-message" key={p.message}>
          {p.message}
        </div>
      ))}
    </>
  );
}
