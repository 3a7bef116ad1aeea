import type { ReactNode } from "react";
import { useShallow } from "zustand/react/shallow";
import { useCatalog } from "../store/catalog";
import { useEditor } from "../store/editor";
import { isRunActive, useRun, warningCount } from "../store/run";
import { useUi } from "../store/ui";
import { useValidation } from "../store/validation";

const RUN_TEXT = {
  idle: "Ready",
  starting: "Starting…",
  running: "Running…",
  succeeded: "Last run succeeded",
  failed: "Last run failed",
  canceled: "Last run stopped",
  interrupted: "Last run interrupted",
} as const;

/**
 * The run's status everywhere (a run goes on while another view is shown); in the editor, also the
 * pipeline's problem count (opens the Problems panel), the selection and the file; elsewhere the project.
 */
export function StatusBar() {
  const view = useUi((s) => s.view);
  const project = useCatalog((s) => s.project?.name);
  const { status, nodes, warnings } = useRun(
    useShallow((s) => ({ status: s.status, nodes: s.nodes, warnings: s.warnings })),
  );
  const states = Object.values(nodes);
  const finished = states.filter((n) => ["done", "cached", "failed", "skipped"].includes(n.state)).length;
  const runStatus = (
    <span
      className={`status-item run-${status}${warnings > 0 ? " has-warnings" : ""}`}
      data-testid="status-run"
      data-run-status={status}
    >
      {RUN_TEXT[status]}
      {isRunActive(status) && states.length > 0 && ` ${finished}/${states.length} nodes`}
      {warnings > 0 && status !== "idle" && ` with ${warningCount(warnings)}`}
    </span>
  );
  return (
    <footer className="status-bar" data-testid="status-bar" data-view={view}>
      {view === "editor" ? (
        <EditorStatus runStatus={runStatus} />
      ) : (
        <>
          {runStatus}
          <span className="spacer" />
          {project && (
            <span className="status-item muted" data-testid="status-context">
              project {project}
            </span>
          )}
        </>
      )}
    </footer>
  );
}

function EditorStatus({ runStatus }: { runStatus: ReactNode }) {
  const problems = useValidation((s) => s.problems.length);
  const { path, selected } = useEditor(
    useShallow((s) => ({ path: s.path, selected: s.selection.nodes.size })),
  );
  return (
    <>
      <button
        type="button"
        className={`status-item${problems ? " has-problems" : " ok"}`}
        data-testid="status-problems"
        onClick={() => useUi.getState().showTab("problems")}
      >
        {problems ? `⚠ ${problems} problem${problems > 1 ? "s" : ""}` : "✓ No problems"}
      </button>
      {runStatus}
      <span className="spacer" />
      {selected > 0 && (
        <span className="status-item muted" data-testid="status-selection">
          {selected} selected
        </span>
      )}
      <span className="status-item muted mono" data-testid="status-context">
        {path ?? "no pipeline"}
      </span>
    </>
  );
}
