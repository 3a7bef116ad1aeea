import { useEditor } from "../store/editor";
import { useValidation } from "../store/validation";

/** A file the canvas cannot draw (not JSON, not a pipeline's shape): shown as it is, never overwritten. */
export function UnreadableFile() {
  const text = useEditor((s) => s.unreadable?.text ?? "");
  const path = useEditor((s) => s.path);
  const problems = useValidation((s) => s.problems);
  return (
    <div className="unreadable" data-testid="unreadable-file">
      <h2>{path} cannot be shown as a graph</h2>
      <p className="muted">
        The file is left exactly as it is; nothing will be saved over it. Fix it in a text editor, or open
        another pipeline.
      </p>
      {problems.map((p) => (
        <div className="field-message" key={`${p.path}:${p.message}`}>
          <span className="mono">{p.path}</span> {p.message}
        </div>
      ))}
      <pre className="json-view">{text}</pre>
    </div>
  );
}
