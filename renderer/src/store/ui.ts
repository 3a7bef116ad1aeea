/** Panels, dialogs and what the data drawer shows: view state, never part of the document. */
import { create } from "zustand";
import type { Position } from "./types";

export type BottomTab = "problems" | "log" | "data";
/** The app's main views, switched in the top bar. */
export type View = "editor" | "experiments" | "models" | "lineage" | "deployments";
export const VIEWS: readonly View[] = ["editor", "experiments", "models", "lineage", "deployments"];

/** `?view=models` in the URL opens that view first (links, tests, screenshots). */
function initialView(): View {
  const asked =
    typeof window === "undefined" ? null : new URLSearchParams(window.location.search).get("view");
  return VIEWS.find((v) => v === asked) ?? "editor";
}

interface UiState {
  view: View;
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
  setView(view: View): void;
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
  view: initialView(),
  bottomTab: "problems",
  bottomOpen: true,
  bottomHeight: 300,
  commandPaletteOpen: false,
  openDialogOpen: false,
  pathDialog: null,
  quickAdd: null,
  dataPort: null,
  setView(view) {
    set({ view });
    // Kept in the URL, so a reload comes back to the same view.
    const url = new URL(window.location.href);
    if (view === "editor") url.searchParams.delete("view");
    else url.searchParams.set("view", view);
    window.history.replaceState(window.history.state, "", url);
  },
  showTab: (bottomTab) => set({ bottomTab, bottomOpen: true }),
  toggleBottom: () => set((s) => ({ bottomOpen: !s.bottomOpen })),
  setBottomHeight: (bottomHeight) => set({ bottomHeight }),
  setCommandPalette: (commandPaletteOpen) => set({ commandPaletteOpen }),
  setOpenDialog: (openDialogOpen) => set({ openDialogOpen }),
  setPathDialog: (pathDialog) => set({ pathDialog }),
  setQuickAdd: (quickAdd) => set({ quickAdd }),
  showData: (dataPort) => set({ dataPort, bottomTab: "data", bottomOpen: true }),
}));
