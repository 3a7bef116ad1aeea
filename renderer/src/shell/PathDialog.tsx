import { useState } from "react";
import { newPipeline, saveAs } from "../services/pipelineFile";
import { useCatalog } from "../store/catalog";
import { useEditor } from "../store/editor";
import { useUi } from "../store/ui";
import { PathForm } from "./PathForm";
import { useFocusTrap } from "./useFocusTrap";

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
  const trap = useFocusTrap<HTMLDivElement>();
  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: a click on the backdrop closes the dialog
    <div className="overlay" onMouseDown={(e) => e.target === e.currentTarget && close()} role="presentation">
      <div
        ref={trap}
        className="dialog"
        data-testid="path-dialog"
        role="dialog"
        aria-modal
        aria-label={title}
      >
        <h2>{title}</h2>
        <p className="muted small">
          A path in <span className="mono">{project?.dir}</span>; the name ends with{" "}
          <span className="mono">.dag.json</span>.
        </p>
        <PathForm
          path={path}
          onPath={setPath}
          onSubmit={() => void submit()}
          onCancel={close}
          placeholder="pipelines/new.dag.json"
          submitLabel={mode === "saveAs" ? "Save" : "Create"}
          inputTestId="path-input"
          submitTestId="path-submit"
        />
      </div>
    </div>
  );
}
