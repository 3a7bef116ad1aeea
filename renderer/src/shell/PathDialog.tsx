import { useState } from "react";
import { newPipeline, saveAs } from "../services/pipelineFile";
import { useCatalog } from "../store/catalog";
import { useEditor } from "../store/editor";
import { useUi } from "../store/ui";

/** Asks for a pipeline path in the project: to save the document under (Save As), or to create (New). */
export function PathDialog() {
  const mode = useUi((s) => s.pathDialog);
  if (!mode) return null;
  return <PathDialogBody mode={mode} />;
}

function PathDialogBody({ mode }: { mode: "saveAs" | "new" }) {
  const project = useCatalog((s) => s.project);
  const current = useEditor((s) => s.path);
  const [path, setPath] = useState(
    mode === "saveAs" && current ? current.replace(/\.dag\.json$/, "-copy.dag.json") : "",
  );
  const close = () => useUi.getState().setPathDialog(null);
  const submit = async () => {
    if (!path.trim()) return;
    const done = mode === "saveAs" ? await saveAs(path) : await newPipeline(path);
    if (done) close();
  };
  const title = mode === "saveAs" ? "Save pipeline as" : "New pipeline";
  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: a click on the backdrop closes the dialog
    <div className="overlay" onMouseDown={(e) => e.target === e.currentTarget && close()} role="presentation">
      <div className="dialog" data-testid="path-dialog" role="dialog" aria-label={title}>
        <h2>{title}</h2>
        <p className="muted small">
          A path in <span className="mono">{project?.dir}</span>; the name ends with{" "}
          <span className="mono">.dag.json</span>.
        </p>
        <form
          className="open-path"
          onSubmit={(e) => {
            e.preventDefault();
            void submit();
          }}
        >
          <input
            // biome-ignore lint/a11y/noAutofocus: the dialog exists to be typed into
            autoFocus
            className="field-input mono"
            data-testid="path-input"
            placeholder="pipelines/new.dag.json"
            value={path}
            onChange={(e) => setPath(e.target.value)}
            onKeyDown={(e) => e.key === "Escape" && close()}
          />
          <button type="submit" className="button primary" data-testid="path-submit" disabled={!path.trim()}>
            {mode === "saveAs" ? "Save" : "Create"}
          </button>
          <button type="button" className="button" onClick={close}>
            Cancel
          </button>
        </form>
      </div>
    </div>
  );
}
