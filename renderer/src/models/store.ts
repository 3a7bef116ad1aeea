/** Which registered model the Models view shows; other views (lineage) can point it at one. */
import { create } from "zustand";

interface ModelsState {
  chosen: string | null;
  choose(name: string | null): void;
}

export const useModels = create<ModelsState>()((set) => ({
  chosen: null,
  choose: (chosen) => set({ chosen }),
}));
