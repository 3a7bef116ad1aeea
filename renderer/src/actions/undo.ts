import type { EditorAction } from "./types";

export const undo: EditorAction = {
  id: "undo",
  label: "Undo",
  shortcuts: ["Mod+Z"],
  enabled: ({ editor }) => editor.history.past.length > 0,
  perform({ editor }) {
    editor.undo();
    return undefined;
  },
};
