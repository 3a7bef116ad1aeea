import { useEffect } from "react";
import { useUi } from "../store/ui";
import { actions, performAction } from "./index";
import { matchesShortcut } from "./shortcuts";

/** Whether keys belong to a text field (then only global actions take them). */
function typingIn(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el) return false;
  return el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName);
}

/** One keydown listener for every action's shortcuts. */
export function useShortcuts(): void {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented || e.isComposing) return;
      // Selected text (a log line, a cell) is copied as text, not as nodes.
      // Outside the editor (Experiments, Models, Lineage) there is no canvas for Delete or Undo to act on.
      const onCanvas =
        !typingIn(e.target) && !window.getSelection()?.toString() && useUi.getState().view === "editor";
      const action = actions.find(
        (a) => (a.global || onCanvas) && a.shortcuts?.some((s) => matchesShortcut(s, e)),
      );
      if (!action) return;
      e.preventDefault();
      void performAction(action);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
}
