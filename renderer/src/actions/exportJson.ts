import { exportJson as download } from "../services/pipelineFile";
import { toast } from "../store/toasts";
import type { EditorAction } from "./types";

export const exportJson: EditorAction = {
  id: "export-json",
  label: "Export pipeline JSON",
  enabled: ({ document }) => !!document,
  async perform() {
    const file = await download();
    // The desktop app asks where to save it; a browser saves it without a word, so say where it went.
    if (file && !window.dagwood)
      toast(
        `Exported ${file} to the browser's downloads (its Downloads folder unless it asks where to save).`,
      );
    return undefined;
  },
};
