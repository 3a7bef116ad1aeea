import { useEffect, useState } from "react";
import { nodeIdProblem } from "../document/ids";
import { renameNode } from "../document/ops";
import { useEditor } from "../store/editor";
import { useRun } from "../store/run";

/** Renames a node on Enter or blur; edges and layout follow it, and so does the selection. */
export function NodeIdField({ id }: { id: string }) {
  const [draft, setDraft] = useState(id);
  useEffect(() => setDraft(id), [id]);
  const doc = useEditor((s) => s.document);
  const problem = doc ? nodeIdProblem(doc, id, draft.trim()) : null;
  const commit = () => {
    const next = draft.trim();
    const editor = useEditor.getState();
    if (!editor.document || next === id) return;
    if (problem) {
      setDraft(id);
      return;
    }
    editor.commit(renameNode(editor.document, id, next), {
      selection: { nodes: new Set([next]), edges: new Set() },
    });
    // What the node produced stays its own under the new name.
    useRun.setState((s) => {
      const { [id]: outputs, ...rest } = s.outputs;
      return outputs ? { outputs: { ...rest, [next]: outputs } } : {};
    });
  };
  return (
    <div className={`field${problem ? " has-error" : ""}`}>
      <div className="field-label">
        <label htmlFor="node-id-input">id</label>
      </div>
      <input
        id="node-id-input"
        data-testid="node-id-input"
        className={`field-input mono${problem ? " invalid" : ""}`}
        value={draft}
        spellCheck={false}
        onChange={(e) => setDraft(e.target.value)}
        onBlur={commit}
        onKeyDown={(e) => {
          if (e.key === "Enter") commit();
          if (e.key === "Escape") setDraft(id);
        }}
      />
      {problem && <div className="field-message">{problem}</div>}
    </div>
  );
}
