import { exportJson as download } from "../services/pipelineFile";
import type { EditorAction } from "./types";

export const exportJson: EditorAction = {
  id: "export-json",
  label: "Export pipeline JSON",
  enabled: ({ document }) => !!document,
  async perform() {
    await download();
    return undefined;
  },
};
