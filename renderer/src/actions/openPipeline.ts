import { useUi } from "../store/ui";
import type { EditorAction } from "./types";

export const openPipeline: EditorAction = {
  id: "open",
  label: "Open pipeline…",
  shortcuts: ["Mod+O"],
  global: true,
  perform() {
    useUi.getState().setOpenDialog(true);
    return undefined;
  },
};
