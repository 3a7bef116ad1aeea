import { useUi } from "../store/ui";
import type { EditorAction } from "./types";

export const newPipeline: EditorAction = {
  id: "new",
  label: "New pipeline…",
  perform() {
    useUi.getState().setPathDialog("new");
    return undefined;
  },
};
