import type { ReactNode } from "react";
import { actionById, actionContext, isEnabled, performAction } from "../actions";
import { formatShortcut } from "../actions/shortcuts";
import { useEditor } from "../store/editor";
import { useRun } from "../store/run";

interface ActionButtonProps {
  actionId: string;
  testId: string;
  children: ReactNode;
  className?: string;
}

/** A toolbar button for an action, enabled as the action says, re-drawn whenever that changes. */
export function ActionButton({ actionId, testId, children, className }: ActionButtonProps) {
  const action = actionById.get(actionId)!;
  // Re-drawn when the editor or the run changes what `enabled` reads, not left to the parent: a change
  // that kept the parent's slice equal (one edge selected → one node selected, in one update) left Run
  // to here disabled with a node selected.
  useRun(() => isEnabled(action, actionContext()));
  const enabled = useEditor(() => isEnabled(action, actionContext()));
  const shortcut = action.shortcuts?.[0];
  return (
    <button
      type="button"
      className={`button ${className ?? ""}`}
      data-testid={testId}
      disabled={!enabled}
      title={shortcut ? `${action.label} (${formatShortcut(shortcut)})` : action.label}
      onClick={() => void performAction(action)}
    >
      {children}
    </button>
  );
}
