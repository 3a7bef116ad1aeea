import { newPipelineWithBlock } from "../actions/newPipeline";
import { addNode, newNode } from "../document/ops";
import { useCatalog } from "../store/catalog";
import { useEditor } from "../store/editor";
import { toast } from "../store/toasts";
import type { Position } from "../store/types";
import { addConnectedNode, type DragStart, dragStartType, matchingPort } from "./connect";
import { DEFAULT_NODE_SIZE } from "./layout";

/** The drag-and-drop type a palette item carries: the block kind. */
export const BLOCK_DRAG_TYPE = "application/x-dagwood-block";

/** Whether a block of `kind` can join the port a connection drag started from. */
export function blockJoins(kind: string, from: DragStart): boolean {
  const { document } = useEditor.getState();
  const catalog = useCatalog.getState().byKind;
  const type = document ? dragStartType(document, catalog, from) : null;
  return !!type && matchingPort(catalog, kind, type, from.side) !== null;
}

/**
 * Adds a block at a flow position, selected, as one undo step. With `from`
 * (a connection dragged from a port and let go on the empty canvas) it is
 * joined to that port and named by what feeds it. With no pipeline open (an
 * empty project), a new pipeline is made to hold it.
 */
export function addBlockAt(kind: string, at: Position, from?: DragStart): void {
  const editor = useEditor.getState();
  if (!editor.document) {
    // A file shown as text (unreadable) is left alone: the block would have nowhere to go.
    if (!editor.unreadable) void newPipelineWithBlock(kind, at);
    return;
  }
  if (from) {
    // Its joined port at the pointer: the input on the left, the output on the right.
    const place = {
      x: from.side === "source" ? at.x : at.x - DEFAULT_NODE_SIZE.width,
      y: at.y - DEFAULT_NODE_SIZE.height / 3,
    };
    const added = addConnectedNode(editor.document, useCatalog.getState().byKind, kind, place, from);
    if (!added) {
      toast(`A ${kind} block cannot join ${from.node}.${from.port}`, "error");
      return;
    }
    editor.commit(added.document, { selection: { nodes: new Set([added.id]), edges: new Set() } });
    return;
  }
  const node = newNode(editor.document, kind);
  editor.commit(addNode(editor.document, node, at), {
    selection: { nodes: new Set([node.id]), edges: new Set() },
  });
}
