import type { EditorAction } from "./types";

export const redo: EditorAction = {
  id: "redo",
  label: "Redo",
  shortcuts: ["Mod+Shift+Z", "Ctrl+Y"],
  enabled: ({ editor }) => editor.history.future.length > 0,
  perform({ editor }) {
    editor.redo();
    return undefined;
  },
};
