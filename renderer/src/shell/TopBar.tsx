import { useShallow } from "zustand/react/shallow";
import { formatShortcut } from "../actions/shortcuts";
import { openPipeline } from "../services/pipelineFile";
import { useCatalog } from "../store/catalog";
import { selectDirty, useEditor } from "../store/editor";
import { useRun } from "../store/run";
import { useUi } from "../store/ui";
import { ActionButton } from "./ActionButton";
import { ViewTabs } from "./ViewTabs";

/** The views; in the editor, also the project, pipeline, file and run controls. */
export function TopBar() {
  const project = useCatalog((s) => s.project);
  const view = useUi((s) => s.view);
  return (
    <header className="top-bar">
      <div className="brand">
        <span className="logo" title="Dagwood">
          ◆
        </span>{" "}
        <span className="brand-name">Dagwood</span>
      </div>
      <ViewTabs />
      {view === "editor" ? (
        <EditorControls />
      ) : (
        <span className="project-name">{project?.name ?? "no project"}</span>
      )}
    </header>
  );
}

/** Project, pipeline, file and run controls. */
function EditorControls() {
  const project = useCatalog((s) => s.project);
  // What the buttons' enabled states depend on; the values themselves are read by the actions.
  const { path, dirty } = useEditor(
    useShallow((s) => ({
      path: s.path,
      dirty: selectDirty(s),
      past: s.history.past.length,
      future: s.history.future.length,
      selected: s.selection.nodes.size + s.selection.edges.size,
      hasDocument: !!s.document,
    })),
  );
  useRun(useShallow((s) => ({ status: s.status, runId: s.runId })));
  const pipelines = project?.pipelines ?? [];
  return (
    <>
      <span className="project-name" title={project?.dir}>
        {project?.name ?? "no project"}
      </span>
      <span className="sep">/</span>
      <select
        className="pipeline-select"
        data-testid="pipeline-select"
        aria-label="Pipeline"
        value={path ?? ""}
        onChange={(e) => void openPipeline(e.target.value)}
        disabled={!pipelines.length}
      >
        {!path && <option value="">— no pipeline —</option>}
        {path && !pipelines.includes(path) && <option value={path}>{path}</option>}
        {pipelines.map((p) => (
          <option key={p} value={p}>
            {p}
          </option>
        ))}
      </select>
      {dirty && (
        <span className="dirty-dot" data-testid="dirty-indicator" title="Unsaved changes">
          ●
        </span>
      )}
      <div className="toolbar">
        <ActionButton actionId="open" testId="open-button">
          Open…
        </ActionButton>
        <ActionButton actionId="save" testId="save-button">
          Save
        </ActionButton>
        <span className="toolbar-sep" />
        <ActionButton actionId="undo" testId="undo-button">
          ↶ Undo
        </ActionButton>
        <ActionButton actionId="redo" testId="redo-button">
          ↷ Redo
        </ActionButton>
        <ActionButton actionId="auto-layout" testId="layout-button">
          Layout
        </ActionButton>
        <span className="toolbar-sep" />
        <ActionButton actionId="run" testId="run-button" className="primary">
          ▶ Run
        </ActionButton>
        <ActionButton actionId="run-to-here" testId="run-to-here-button">
          Run to here
        </ActionButton>
        <ActionButton actionId="stop" testId="stop-button" className="danger">
          ■ Stop
        </ActionButton>
        <span className="toolbar-sep" />
        <button
          type="button"
          className="button"
          data-testid="commands-button"
          aria-label="Command palette"
          title={`Command palette (${formatShortcut("Mod+K")})`}
          onClick={() => useUi.getState().setCommandPalette(true)}
        >
          ⌘ <span className="button-label">Commands</span> <kbd>{formatShortcut("Mod+K")}</kbd>
        </button>
      </div>
    </>
  );
}
