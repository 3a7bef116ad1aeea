/** Which dataset the Data view shows (null: the list); other views can point it at one. */
import { create } from "zustand";

interface DataState {
  chosen: string | null;
  choose(name: string | null): void;
}

export const useData = create<DataState>()((set) => ({
  chosen: null,
  choose: (chosen) => set({ chosen }),
}));
