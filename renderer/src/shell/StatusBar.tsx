import { useShallow } from "zustand/react/shallow";
import { useEditor } from "../store/editor";
import { isRunActive, useRun } from "../store/run";
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

/** Validation problem count (opens the Problems panel), run status, selection, file. */
export function StatusBar() {
  const problems = useValidation((s) => s.problems.length);
  const { status, nodes } = useRun(useShallow((s) => ({ status: s.status, nodes: s.nodes })));
  const { path, selected } = useEditor(
    useShallow((s) => ({ path: s.path, selected: s.selection.nodes.size })),
  );
  const states = Object.values(nodes);
  const finished = states.filter((n) => ["done", "cached", "failed", "skipped"].includes(n.state)).length;
  return (
    <footer className="status-bar" data-testid="status-bar">
      <button
        type="button"
        className={`status-item${problems ? " has-problems" : " ok"}`}
        data-testid="status-problems"
        onClick={() => useUi.getState().showTab("problems")}
      >
        {problems ? `⚠ ${problems} problem${problems > 1 ? "s" : ""}` : "✓ No problems"}
      </button>
      <span className={`status-item run-${status}`} data-testid="status-run" data-run-status={status}>
        {RUN_TEXT[status]}
        {isRunActive(status) && states.length > 0 && ` ${finished}/${states.length} nodes`}
      </span>
      <span className="spacer" />
      {selected > 0 && <span className="status-item muted">{selected} selected</span>}
      <span className="status-item muted mono">{path ?? "no pipeline"}</span>
    </footer>
  );
}
