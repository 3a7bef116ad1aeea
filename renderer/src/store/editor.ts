/** The editor's state IS the pipeline document, plus its undo history and the selection. */
import { create } from "zustand";
import { emptyHistory, record, redo, undo } from "./history";
import type { EditorState, Selection } from "./types";

export const emptySelection: Selection = { nodes: new Set(), edges: new Set() };

export const useEditor = create<EditorState>()((set, get) => ({
  path: null,
  document: null,
  savedDocument: null,
  unreadable: null,
  history: emptyHistory(),
  selection: emptySelection,

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
    const { document, history } = get();
    if (!document) return;
    const step = undo(history, document);
    if (step.document) set({ document: step.document, history: step.history });
  },

  redo() {
    const { document, history } = get();
    if (!document) return;
    const step = redo(history, document);
    if (step.document) set({ document: step.document, history: step.history });
  },

  select(selection) {
    set({ selection });
  },
}));

export const selectDirty = (s: EditorState): boolean => s.document !== s.savedDocument;
