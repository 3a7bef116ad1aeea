import { startRun } from "../services/runner";
import { isRunActive } from "../store/run";
import type { EditorAction } from "./types";

/** Runs the selected nodes and what they need, nothing downstream. */
export const runToHere: EditorAction = {
  id: "run-to-here",
  label: "Run to here",
  shortcuts: ["Mod+Shift+Enter"],
  global: true,
  enabled: ({ document, editor, runStatus }) =>
    !!document && editor.selection.nodes.size > 0 && !isRunActive(runStatus),
  async perform({ editor, document }) {
    const ids = [...editor.selection.nodes].filter((id) => document?.nodes.some((n) => n.id === id));
    if (ids.length) await startRun(ids);
    return undefined;
  },
};
