/**
 * Every editor action, one per file, in the order the command palette lists
 * them. The same objects serve the toolbar, the shortcuts and the palette.
 */
import { flowRef } from "../graph/flowRef";
import { reportError } from "../services/errors";
import { useCatalog } from "../store/catalog";
import { useEditor } from "../store/editor";
import { useRun } from "../store/run";
import { autoLayout } from "./autoLayout";
import { commandPalette } from "./commandPalette";
import { copy } from "./copy";
import { deleteSelection } from "./delete";
import { duplicate } from "./duplicate";
import { exportJson } from "./exportJson";
import { fitView } from "./fitView";
import { newPipeline } from "./newPipeline";
import { openPipeline } from "./openPipeline";
import { maximizeDrawer, toggleDrawer, toggleInspector, togglePalette } from "./panels";
import { paste } from "./paste";
import { redo } from "./redo";
import { run } from "./run";
import { runToHere } from "./runToHere";
import { save } from "./save";
import { saveAs } from "./saveAs";
import { selectAll } from "./selectAll";
import { stop } from "./stop";
import { toggleChanges } from "./toggleChanges";
import type { ActionChange, ActionContext, EditorAction } from "./types";
import { undo } from "./undo";

// biome-ignore format: one line per action keeps additions to a one-line diff
export const actions: EditorAction[] = [
  run,
  runToHere,
  stop,
  save,
  saveAs,
  newPipeline,
  openPipeline,
  exportJson,
  undo,
  redo,
  deleteSelection,
  duplicate,
  copy,
  paste,
  selectAll,
  autoLayout,
  fitView,
  togglePalette,
  toggleInspector,
  toggleDrawer,
  maximizeDrawer,
  toggleChanges,
  commandPalette,
];

export const actionById = new Map(actions.map((a) => [a.id, a]));

export function actionContext(): ActionContext {
  const editor = useEditor.getState();
  const runState = useRun.getState();
  return {
    editor,
    document: editor.document,
    catalog: useCatalog.getState().byKind,
    runStatus: runState.status,
    runId: runState.runId,
    flow: flowRef.current,
  };
}

export function isEnabled(action: EditorAction, ctx: ActionContext = actionContext()): boolean {
  return action.enabled?.(ctx) ?? true;
}

function apply(change: ActionChange): void {
  if (!change) return;
  const editor = useEditor.getState();
  if ("document" in change) editor.commit(change.document, change);
  else editor.select(change.selection);
}

/** Runs an action if it is enabled now, and applies the change it returns. */
export async function performAction(action: EditorAction): Promise<void> {
  const ctx = actionContext();
  if (!isEnabled(action, ctx)) return;
  try {
    apply(await action.perform(ctx));
  } catch (e) {
    reportError(e, action.label);
  }
}
