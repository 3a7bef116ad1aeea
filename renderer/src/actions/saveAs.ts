import { useUi } from "../store/ui";
import type { EditorAction } from "./types";

export const saveAs: EditorAction = {
  id: "save-as",
  label: "Save pipeline as…",
  shortcuts: ["Mod+Shift+S"],
  global: true,
  enabled: ({ document }) => !!document,
  perform() {
    useUi.getState().setPathDialog("saveAs");
    return undefined;
  },
};
