/** Which deployed model the Monitoring view shows: set by the view's picker, or by a link from the Deployments view. */
import { create } from "zustand";
import { useUi } from "../store/ui";

export interface MonitoringChoice {
  target: string;
  /** The deployed model's name on the target. */
  model: string;
}

interface MonitoringState {
  chosen: MonitoringChoice | null;
  choose(chosen: MonitoringChoice | null): void;
}

export const useMonitoring = create<MonitoringState>((set) => ({
  chosen: null,
  choose: (chosen) => set({ chosen }),
}));

/** From another view: open the Monitoring view on a deployed model. */
export function showMonitoring(target: string, model: string): void {
  useMonitoring.getState().choose({ target, model });
  useUi.getState().setView("monitoring");
}
