import { stopRun } from "../services/runner";
import type { EditorAction } from "./types";

export const stop: EditorAction = {
  id: "stop",
  label: "Stop run",
  shortcuts: ["Mod+."],
  global: true,
  enabled: ({ runStatus, runId }) => runStatus === "running" && !!runId,
  async perform() {
    await stopRun();
    return undefined;
  },
};
