import type { ReactNode } from "react";
import { actionById, actionContext, isEnabled, performAction } from "../actions";
import { formatShortcut } from "../actions/shortcuts";

interface ActionButtonProps {
  actionId: string;
  testId: string;
  children: ReactNode;
  className?: string;
}

/**
 * A toolbar button for an action. The parent re-renders when the state the
 * actions depend on changes, so `enabled` is read fresh here.
 */
export function ActionButton({ actionId, testId, children, className }: ActionButtonProps) {
  const action = actionById.get(actionId)!;
  const enabled = isEnabled(action, actionContext());
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
