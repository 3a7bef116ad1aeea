import { startRun } from "../services/runner";
import { isRunActive } from "../store/run";
import { toast } from "../store/toasts";
import type { EditorAction } from "./types";

/**
 * Runs the selected nodes and what they need, nothing downstream. Its toolbar
 * button follows the selection itself (shell/ActionButton.tsx): it once stayed
 * disabled after one click swapped a selected edge for a node, so the next
 * click did nothing.
 */
export const runToHere: EditorAction = {
  id: "run-to-here",
  label: "Run to here",
  shortcuts: ["Mod+Shift+Enter"],
  global: true,
  enabled: ({ document, editor, runStatus }) =>
    !!document && editor.selection.nodes.size > 0 && !isRunActive(runStatus),
  async perform({ editor, document }) {
    const ids = [...editor.selection.nodes].filter((id) => document?.nodes.some((n) => n.id === id));
    if (!ids.length) {
      toast("Select the node to run to: it runs with what it needs, nothing after it.", "error");
      return undefined;
    }
    await startRun(ids);
    return undefined;
  },
};
