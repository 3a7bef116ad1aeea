import { savePipeline } from "../services/pipelineFile";
import type { EditorAction } from "./types";

export const save: EditorAction = {
  id: "save",
  label: "Save pipeline",
  shortcuts: ["Mod+S"],
  global: true,
  enabled: ({ document, editor }) => !!document && !!editor.path,
  async perform() {
    await savePipeline();
    return undefined;
  },
};
