import { startRun } from "../services/runner";
import { isRunActive } from "../store/run";
import type { EditorAction } from "./types";

export const run: EditorAction = {
  id: "run",
  label: "Run pipeline",
  shortcuts: ["Mod+Enter"],
  global: true,
  enabled: ({ document, runStatus }) => !!document && !isRunActive(runStatus),
  async perform() {
    await startRun();
    return undefined;
  },
};
