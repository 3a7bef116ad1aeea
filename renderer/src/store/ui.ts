/** Panels, dialogs and what the data drawer shows: view state, never part of the document. */
import { create } from "zustand";
import type { Position } from "./types";

export type BottomTab = "problems" | "log" | "data";

interface UiState {
  bottomTab: BottomTab;
  bottomOpen: boolean;
  /** Height of the open bottom panel, in pixels (dragged by its top edge). */
  bottomHeight: number;
  commandPaletteOpen: boolean;
  openDialogOpen: boolean;
  /** The dialog asking for a pipeline path: to save the document under, or to create. */
  pathDialog: "saveAs" | "new" | null;
  /** The quick-add search opened by a double-click on the canvas: where, on screen and in the flow. */
  quickAdd: { screen: Position; flow: Position } | null;
  /** The output port the data drawer shows, for the selected node. */
  dataPort: string | null;
  showTab(tab: BottomTab): void;
  toggleBottom(): void;
  setBottomHeight(height: number): void;
  setCommandPalette(open: boolean): void;
  setOpenDialog(open: boolean): void;
  setPathDialog(mode: UiState["pathDialog"]): void;
  setQuickAdd(at: UiState["quickAdd"]): void;
  showData(port: string | null): void;
}

export const useUi = create<UiState>()((set) => ({
  bottomTab: "problems",
  bottomOpen: true,
  bottomHeight: 300,
  commandPaletteOpen: false,
  openDialogOpen: false,
  pathDialog: null,
  quickAdd: null,
  dataPort: null,
  showTab: (bottomTab) => set({ bottomTab, bottomOpen: true }),
  toggleBottom: () => set((s) => ({ bottomOpen: !s.bottomOpen })),
  setBottomHeight: (bottomHeight) => set({ bottomHeight }),
  setCommandPalette: (commandPaletteOpen) => set({ commandPaletteOpen }),
  setOpenDialog: (openDialogOpen) => set({ openDialogOpen }),
  setPathDialog: (pathDialog) => set({ pathDialog }),
  setQuickAdd: (quickAdd) => set({ quickAdd }),
  showData: (dataPort) => set({ dataPort, bottomTab: "data", bottomOpen: true }),
}));
