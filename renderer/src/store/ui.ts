/** Panels, dialogs and what the data drawer shows: view state, never part of the document. */
import { create } from "zustand";
import type { Position } from "./types";

export type BottomTab = "problems" | "log" | "data";
/** The app's main views, switched in the top bar. */
export type View =
  | "editor"
  | "data"
  | "features"
  | "experiments"
  | "models"
  | "lineage"
  | "deployments"
  | "monitoring";
export const VIEWS: readonly View[] = [
  "editor",
  "data",
  "features",
  "experiments",
  "models",
  "lineage",
  "deployments",
  "monitoring",
];

/** `?view=models` in the URL opens that view first (links, tests, screenshots). */
function initialView(): View {
  const asked =
    typeof window === "undefined" ? null : new URLSearchParams(window.location.search).get("view");
  return VIEWS.find((v) => v === asked) ?? "editor";
}

/** The editor's panel sizes and which are open: kept in localStorage, so the next start looks the same. */
export interface PanelLayout {
  paletteOpen: boolean;
  paletteWidth: number;
  inspectorOpen: boolean;
  inspectorWidth: number;
  bottomOpen: boolean;
  /** Height of the open bottom panel, in pixels (dragged by its top edge). */
  bottomHeight: number;
  /** The bottom panel fills the editor's centre, the canvas hidden behind it. */
  bottomMaximized: boolean;
}

/** What a dragged size may be, in pixels. */
export const PANEL_LIMITS = {
  paletteWidth: { min: 160, max: 420 },
  inspectorWidth: { min: 260, max: 640 },
  bottomHeight: { min: 120, max: 2000 },
} as const;

export const DEFAULT_LAYOUT: PanelLayout = {
  paletteOpen: true,
  paletteWidth: 220,
  inspectorOpen: true,
  inspectorWidth: 320,
  bottomOpen: true,
  bottomHeight: 260,
  bottomMaximized: false,
};

export const LAYOUT_STORAGE_KEY = "dagwood.layout";

const clamp = (value: number, { min, max }: { min: number; max: number }) =>
  Math.round(Math.max(min, Math.min(max, value)));

/** The stored layout, each value checked: anything missing or malformed falls back to the default. */
export function readLayout(storage: Pick<Storage, "getItem"> | undefined): PanelLayout {
  let stored: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(storage?.getItem(LAYOUT_STORAGE_KEY) ?? "{}");
    if (parsed && typeof parsed === "object") stored = parsed as Record<string, unknown>;
  } catch {
    // A corrupt entry (edited by hand, another version) is ignored.
  }
  const layout = { ...DEFAULT_LAYOUT };
  for (const key of ["paletteOpen", "inspectorOpen", "bottomOpen", "bottomMaximized"] as const)
    if (typeof stored[key] === "boolean") layout[key] = stored[key];
  for (const key of ["paletteWidth", "inspectorWidth", "bottomHeight"] as const) {
    const value = stored[key];
    if (typeof value === "number" && Number.isFinite(value)) layout[key] = clamp(value, PANEL_LIMITS[key]);
  }
  return layout;
}

function browserStorage(): Storage | undefined {
  try {
    return typeof window === "undefined" ? undefined : window.localStorage;
  } catch {
    return undefined;
  }
}

function saveLayout(state: PanelLayout): void {
  const layout = Object.fromEntries(
    Object.keys(DEFAULT_LAYOUT).map((k) => [k, state[k as keyof PanelLayout]]),
  );
  try {
    browserStorage()?.setItem(LAYOUT_STORAGE_KEY, JSON.stringify(layout));
  } catch {
    // Storage full or refused: the layout is still right for this session.
  }
}

interface UiState extends PanelLayout {
  view: View;
  bottomTab: BottomTab;
  commandPaletteOpen: boolean;
  openDialogOpen: boolean;
  /** The dialog asking for a pipeline path: to save the document under, or to create. */
  pathDialog: "saveAs" | "new" | null;
  /**
   * The quick-add search opened by a double-click on the canvas, or by a connection dragged from a port
   * onto the empty canvas (`from`: the new block joins that port): where, on screen and in the flow.
   */
  quickAdd: {
    screen: Position;
    flow: Position;
    from?: { node: string; port: string; side: "source" | "target" };
  } | null;
  /** The output port the data drawer shows, for the selected node. */
  dataPort: string | null;
  setView(view: View): void;
  showTab(tab: BottomTab): void;
  toggleBottom(): void;
  /** Maximises the open bottom panel, or brings it back to its height (opening it if closed). */
  toggleBottomMaximized(): void;
  setBottomHeight(height: number): void;
  togglePalette(): void;
  setPaletteWidth(width: number): void;
  toggleInspector(): void;
  setInspectorWidth(width: number): void;
  setCommandPalette(open: boolean): void;
  setOpenDialog(open: boolean): void;
  setPathDialog(mode: UiState["pathDialog"]): void;
  setQuickAdd(at: UiState["quickAdd"]): void;
  showData(port: string | null): void;
}

export const useUi = create<UiState>()((set) => ({
  view: initialView(),
  bottomTab: "problems",
  ...readLayout(browserStorage()),
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
  toggleBottom: () => set((s) => ({ bottomOpen: !s.bottomOpen, bottomMaximized: false })),
  toggleBottomMaximized: () =>
    set((s) => ({ bottomOpen: true, bottomMaximized: !(s.bottomOpen && s.bottomMaximized) })),
  setBottomHeight: (height) =>
    set({ bottomHeight: clamp(height, PANEL_LIMITS.bottomHeight), bottomMaximized: false }),
  togglePalette: () => set((s) => ({ paletteOpen: !s.paletteOpen })),
  setPaletteWidth: (width) => set({ paletteWidth: clamp(width, PANEL_LIMITS.paletteWidth) }),
  toggleInspector: () => set((s) => ({ inspectorOpen: !s.inspectorOpen })),
  setInspectorWidth: (width) => set({ inspectorWidth: clamp(width, PANEL_LIMITS.inspectorWidth) }),
  setCommandPalette: (commandPaletteOpen) => set({ commandPaletteOpen }),
  setOpenDialog: (openDialogOpen) => set({ openDialogOpen }),
  setPathDialog: (pathDialog) => set({ pathDialog }),
  setQuickAdd: (quickAdd) => set({ quickAdd }),
  showData: (dataPort) => set({ dataPort, bottomTab: "data", bottomOpen: true }),
}));

// Every change of a panel's size or state is kept for the next start.
useUi.subscribe((state, previous) => {
  if ((Object.keys(DEFAULT_LAYOUT) as (keyof PanelLayout)[]).some((k) => state[k] !== previous[k]))
    saveLayout(state);
});
