import { useUi } from "../store/ui";
import { useExperiments } from "./store";

/** Opens a run's detail in the Experiments view, from any other view. */
export function showRun(runId: string): void {
  useExperiments.getState().compare(null);
  useExperiments.getState().openRun(runId);
  useUi.getState().setView("experiments");
}
