/** Folding and maximising the editor's panels: the same actions serve the shortcuts, the buttons' titles and the command palette. */
import { useUi } from "../store/ui";
import type { EditorAction } from "./types";

export const togglePalette: EditorAction = {
  id: "toggle-palette",
  label: "Show or hide the blocks",
  shortcuts: ["Mod+B"],
  perform() {
    useUi.getState().togglePalette();
    return undefined;
  },
};

export const toggleInspector: EditorAction = {
  id: "toggle-inspector",
  label: "Show or hide the inspector",
  shortcuts: ["Mod+Shift+B"],
  perform() {
    useUi.getState().toggleInspector();
    return undefined;
  },
};

export const toggleDrawer: EditorAction = {
  id: "toggle-drawer",
  label: "Fold or unfold the bottom panel",
  shortcuts: ["Mod+J"],
  perform() {
    useUi.getState().toggleBottom();
    return undefined;
  },
};

export const maximizeDrawer: EditorAction = {
  id: "maximize-drawer",
  label: "Maximise or restore the bottom panel",
  shortcuts: ["Shift+M"],
  perform() {
    useUi.getState().toggleBottomMaximized();
    return undefined;
  },
};
