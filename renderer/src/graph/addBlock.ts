import { addNode, newNode } from "../document/ops";
import { useEditor } from "../store/editor";
import type { Position } from "../store/types";

/** The drag-and-drop type a palette item carries: the block kind. */
export const BLOCK_DRAG_TYPE = "application/x-dagwood-block";

/** Adds a block at a flow position, selected, as one undo step. */
export function addBlockAt(kind: string, at: Position): void {
  const editor = useEditor.getState();
  if (!editor.document) return;
  const node = newNode(editor.document, kind);
  editor.commit(addNode(editor.document, node, at), {
    selection: { nodes: new Set([node.id]), edges: new Set() },
  });
}
