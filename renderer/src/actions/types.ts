import type { ReactFlowInstance } from "@xyflow/react";
import type { FlowNode } from "../graph/toFlow";
import type { RunStatus } from "../store/run";
import type { Catalog, EditorState, PipelineDocument, Selection } from "../store/types";

/** What an action sees: a snapshot of the editor, the catalog, the run and the view. */
export interface ActionContext {
  editor: EditorState;
  /** The open document (actions that need one are disabled without it). */
  document: PipelineDocument | null;
  catalog: Catalog;
  runStatus: RunStatus;
  runId: string | null;
  flow: ReactFlowInstance<FlowNode> | null;
}

/**
 * What an action returns. A new document is one undo step (merged with the
 * previous step when `coalesce` repeats); a selection alone is not recorded;
 * nothing means the action did its work through the Api or the view.
 */
export type ActionChange =
  | { document: PipelineDocument; selection?: Selection; coalesce?: string }
  | { selection: Selection }
  | undefined;

export interface EditorAction {
  id: string;
  label: string;
  /** Key combinations, e.g. "Mod+Shift+Z" (Mod is Cmd on macOS, Ctrl elsewhere). */
  shortcuts?: string[];
  /** Also fires while typing in a field (Save, Run, the command palette); others leave keys to the field. */
  global?: boolean;
  enabled?(ctx: ActionContext): boolean;
  perform(ctx: ActionContext): ActionChange | Promise<ActionChange>;
}
