import { useState } from "react";
import { openPipeline, refreshProject } from "../services/pipelineFile";
import { useCatalog } from "../store/catalog";
import { useUi } from "../store/ui";
import { PathForm } from "./PathForm";
import { useFocusTrap } from "./useFocusTrap";

/** Opens a pipeline of the project: pick one found in the folder, or type a path. */
export function OpenDialog() {
  const open = useUi((s) => s.openDialogOpen);
  if (!open) return null;
  return <OpenDialogBody />;
}

function OpenDialogBody() {
  const project = useCatalog((s) => s.project);
  const [path, setPath] = useState("");
  const trap = useFocusTrap<HTMLDivElement>();
  const close = () => useUi.getState().setOpenDialog(false);
  const choose = async (p: string) => {
    if (!p.trim()) return;
    if (await openPipeline(p.trim())) close();
  };
  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: a click on the backdrop closes the dialog
    <div className="overlay" onMouseDown={(e) => e.target === e.currentTarget && close()} role="presentation">
      <div
        ref={trap}
        className="dialog"
        data-testid="open-dialog"
        role="dialog"
        aria-modal
        aria-label="Open pipeline"
      >
        <h2>Open pipeline</h2>
        <p className="muted small">
          Pipelines in <span className="mono">{project?.dir}</span>{" "}
          <button type="button" className="link-button" onClick={() => void refreshProject()}>
            refresh
          </button>
        </p>
        <div className="open-list">
          {(project?.pipelines ?? []).map((p) => (
            <button
              type="button"
              key={p}
              className="command-item"
              data-testid={`open-${p}`}
              onClick={() => void choose(p)}
            >
              <span className="mono">{p}</span>
            </button>
          ))}
        </div>
        <PathForm
          path={path}
          onPath={setPath}
          onSubmit={() => void choose(path)}
          onCancel={close}
          placeholder="path/to/pipeline.dag.json (relative to the project)"
          submitLabel="Open"
          inputTestId="open-path"
        />
      </div>
    </div>
  );
}
