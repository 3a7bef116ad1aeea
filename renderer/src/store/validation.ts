/** What the core says about the document being edited: its problems and each node's cache state. */
import { create } from "zustand";
import type { NodeCacheState, Problem } from "../../../app/api/api";

/** A problem, with the node (and the param path inside it) its JSON path points into. */
export interface LocatedProblem extends Problem {
  nodeId?: string;
  /** Path inside the node's params, e.g. ["missing", "strategy"]. */
  param?: string[];
}

interface ValidationState {
  problems: LocatedProblem[];
  cache: Record<string, NodeCacheState>;
  setProblems(problems: LocatedProblem[]): void;
  setCache(cache: Record<string, NodeCacheState>): void;
}

export const useValidation = create<ValidationState>()((set) => ({
  problems: [],
  cache: {},
  setProblems: (problems) => set({ problems }),
  setCache: (cache) => set({ cache }),
}));
