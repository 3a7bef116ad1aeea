/** The editor's state IS the pipeline document, plus its undo history and the selection. */
import { create } from "zustand";
import { edgeKey } from "../document/endpoints";
import { emptyHistory, record, redo, undo } from "./history";
import type { EditorState, PipelineDocument, Selection } from "./types";

export const emptySelection: Selection = { nodes: new Set(), edges: new Set() };

/** The part of a selection that still exists in a document (after undo or redo removed or renamed things). */
function prune(selection: Selection, document: PipelineDocument): Selection {
  const nodeIds = new Set(document.nodes.map((n) => n.id));
  const edgeKeys = new Set(document.edges.map(edgeKey));
  const nodes = new Set([...selection.nodes].filter((id) => nodeIds.has(id)));
  const edges = new Set([...selection.edges].filter((k) => edgeKeys.has(k)));
  return nodes.size === selection.nodes.size && edges.size === selection.edges.size
    ? selection
    : { nodes, edges };
}

/** No document open: where the editor starts, and what closing returns it to. */
const closed = () => ({
  path: null,
  document: null,
  savedDocument: null,
  unreadable: null,
  history: emptyHistory(),
  selection: emptySelection,
});

export const useEditor = create<EditorState>()((set, get) => {
  /** Undo or redo one step; the selection keeps only what the restored document still has. */
  const travel = (step: typeof undo | typeof redo) => {
    const { document, history } = get();
    if (!document) return;
    const moved = step(history, document);
    if (moved.document)
      set({
        document: moved.document,
        history: moved.history,
        selection: prune(get().selection, moved.document),
      });
  };

  return {
    ...closed(),

    open(path, document, text) {
      set({
        path,
        document,
        savedDocument: document,
        unreadable: document ? null : { text },
        history: emptyHistory(),
        selection: emptySelection,
      });
    },

    close() {
      set(closed());
    },

    markSaved(document, path) {
      set({ savedDocument: document, ...(path ? { path } : {}) });
    },

    commit(next, options = {}) {
      const { document, history } = get();
      if (!document || next === document) return;
      set({
        document: next,
        history: record(history, document, options.coalesce),
        ...(options.selection ? { selection: options.selection } : {}),
      });
    },

    undo() {
      travel(undo);
    },

    redo() {
      travel(redo);
    },

    select(selection) {
      set({ selection });
    },
  };
});

export const selectDirty = (s: EditorState): boolean => s.document !== s.savedDocument;
