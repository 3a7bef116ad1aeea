/** What the Features view shows: a view, a service or an entity (null: the first view); other views can point it at one. */
import { create } from "zustand";
import { useUi } from "../store/ui";

export type FeatureChoice = { kind: "view" | "service" | "entity" | "history"; name: string };

interface FeaturesState {
  chosen: FeatureChoice | null;
  choose(chosen: FeatureChoice | null): void;
}

export const useFeatures = create<FeaturesState>()((set) => ({
  chosen: null,
  choose: (chosen) => set({ chosen }),
}));

/** From another view: open the Features view on a feature service (a model's, say). */
export function showFeatureService(name: string): void {
  useFeatures.getState().choose({ kind: "service", name });
  useUi.getState().setView("features");
}
