/**
 * Nodes armed for a full refresh on the next run (RunOptions.fullRefresh): renderer state, not the
 * pipeline file, so arming one changes no param and leaves the node's cache key as it was. A node
 * is disarmed once a run has run it (runner.ts); a failed or canceled run leaves it armed.
 */
import { create } from "zustand";

interface FullRefreshState {
  armed: string[];
  arm(nodeId: string): void;
  disarm(nodeId: string): void;
}

export const useFullRefresh = create<FullRefreshState>()((set, get) => ({
  armed: [],
  arm(nodeId) {
    if (!get().armed.includes(nodeId)) set({ armed: [...get().armed, nodeId] });
  },
  disarm(nodeId) {
    if (get().armed.includes(nodeId)) set({ armed: get().armed.filter((id) => id !== nodeId) });
  },
}));
