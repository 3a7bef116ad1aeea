import { useUi } from "../store/ui";
import type { EditorAction } from "./types";

export const commandPalette: EditorAction = {
  id: "command-palette",
  label: "Command palette",
  shortcuts: ["Mod+K"],
  global: true,
  perform() {
    const ui = useUi.getState();
    ui.setCommandPalette(!ui.commandPaletteOpen);
    return undefined;
  },
};
