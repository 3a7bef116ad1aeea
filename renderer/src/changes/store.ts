/**
 * The Changes overlay's state: on or off, the git revision compared with
 * (HEAD by default), the last answer of pipelineChanges for the open document
 * (unsaved edits included) and what it draws (overlay.ts), and the branches and
 * commits to pick a base from.
 */
import { create } from "zustand";
import type { GitRevisions, PipelineChanges } from "../../../app/api/api";
import { api } from "../api/client";
import type { FlowNode } from "../graph/toFlow";
import { useEditor } from "../store/editor";
import { buildOverlay, GHOST_PREFIX, type Ghost, type Overlay } from "./overlay";

export interface ChangesState {
  open: boolean;
  base: string;
  loading: boolean;
  result: PipelineChanges | null;
  overlay: Overlay | null;
  /** The removed nodes as React Flow nodes (type "ghost"), drawn while the overlay is on. */
  ghostNodes: FlowNode[];
  /** Why there is nothing to show that is not git's answer (no file saved yet, the core failed). */
  message: string | null;
  revisions: GitRevisions | null;
  setOpen(open: boolean): void;
  setBase(base: string): void;
  refresh(): Promise<void>;
  /** Branches and the commits touching `path` (default: the open pipeline). */
  loadRevisions(path?: string | null): Promise<void>;
}

const NO_GHOSTS: FlowNode[] = [];

function ghostNode(g: Ghost): FlowNode {
  return {
    id: `${GHOST_PREFIX}${g.id}`,
    type: "ghost",
    position: g.position,
    // What NodeView needs is not used by the ghost view; the removed node's summary is.
    data: {
      node: { id: g.id, block: g.block, params: {}, ...(g.label ? { label: g.label } : {}) },
      block: undefined,
    },
    draggable: false,
    selectable: false,
    connectable: false,
    deletable: false,
    focusable: false,
  };
}

/** Answers that arrive after a newer request was sent are dropped. */
let requestSeq = 0;

export const useChanges = create<ChangesState>()((set, get) => ({
  open: false,
  base: "HEAD",
  loading: false,
  result: null,
  overlay: null,
  ghostNodes: NO_GHOSTS,
  message: null,
  revisions: null,

  setOpen(open) {
    // The panel, once drawn, compares the open document and lists the bases (ChangesLayer.tsx).
    set({ open });
  },

  setBase(base) {
    set({ base });
    void get().refresh();
  },

  async refresh() {
    const { path, document } = useEditor.getState();
    const seq = ++requestSeq;
    if (!path || !document) {
      set({
        loading: false,
        result: null,
        overlay: null,
        ghostNodes: NO_GHOSTS,
        message: document
          ? "Save the pipeline to compare it with git."
          : "Open a pipeline to see its changes.",
      });
      return;
    }
    set({ loading: true });
    try {
      const result = await api.pipelineChanges({ path, base: get().base, document });
      if (seq !== requestSeq) return;
      const overlay = buildOverlay(result);
      set({
        loading: false,
        result,
        overlay,
        ghostNodes: overlay?.ghosts.length ? overlay.ghosts.map(ghostNode) : NO_GHOSTS,
        message: null,
      });
    } catch (e) {
      if (seq !== requestSeq) return;
      set({
        loading: false,
        result: null,
        overlay: null,
        ghostNodes: NO_GHOSTS,
        message: (e as Error).message,
      });
    }
  },

  async loadRevisions(forPath) {
    const path = (forPath === undefined ? useEditor.getState().path : forPath) ?? undefined;
    try {
      set({ revisions: await api.gitRevisions(path ? { path } : {}) });
    } catch {
      // The base list is a convenience: the panel still compares with HEAD and says why if it cannot.
      set({ revisions: null });
    }
  },
}));
