import { removeElements } from "../document/ops";
import { emptySelection } from "../store/editor";
import type { EditorAction } from "./types";

export const deleteSelection: EditorAction = {
  id: "delete",
  label: "Delete selection",
  shortcuts: ["Delete", "Backspace"],
  enabled: ({ document, editor }) =>
    !!document && (editor.selection.nodes.size > 0 || editor.selection.edges.size > 0),
  perform: ({ document, editor }) =>
    document
      ? {
          document: removeElements(document, editor.selection.nodes, editor.selection.edges),
          selection: emptySelection,
        }
      : undefined,
};
