import { focusNode } from "../graph/focus";
import { useEditor } from "../store/editor";
import { useValidation } from "../store/validation";

/** Every problem the core reports, with its JSON path; a click selects the node it concerns. */
export function Problems() {
  const problems = useValidation((s) => s.problems);
  // A file is open, drawn or shown as text (whose problems say why it cannot be drawn).
  const open = useEditor((s) => s.path !== null);
  return (
    <div className="problems" data-testid="problems-panel">
      {!open ? (
        <p className="muted panel-empty">No pipeline is open: there is nothing to check.</p>
      ) : problems.length === 0 ? (
        <p className="muted panel-empty">No problems: the pipeline is valid.</p>
      ) : (
        problems.map((p, i) => (
          <button
            type="button"
            key={`${p.path}:${p.message}`}
            className={`problem-row${p.nodeId ? " clickable" : ""}`}
            data-testid={`problem-${i}`}
            onClick={() => p.nodeId && focusNode(p.nodeId)}
          >
            <span className="problem-icon">!</span>
            <span className="problem-node mono">{p.nodeId ?? "pipeline"}</span>
            <span className="problem-message">{p.message}</span>
            <span className="problem-path mono muted">{p.path}</span>
          </button>
        ))
      )}
    </div>
  );
}
