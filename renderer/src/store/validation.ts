/**
 * What the core says about the document being edited: its problems, each
 * node's cache state, and each node output's schema as inferred before any
 * run (app/engine/schema.ts).
 */
import { create } from "zustand";
import type { NodeCacheState, PipelineSchemas, Problem } from "../../../app/api/api";

/** A problem, with the node (and the param path inside it) its JSON path points into. */
export interface LocatedProblem extends Problem {
  nodeId?: string;
  /** Path inside the node's params, e.g. ["missing", "strategy"]. */
  param?: string[];
}

interface ValidationState {
  problems: LocatedProblem[];
  cache: Record<string, NodeCacheState>;
  /** Per node, per output port: its columns before any run, or null when only a run can tell. */
  schemas: PipelineSchemas;
  setProblems(problems: LocatedProblem[]): void;
  setCache(cache: Record<string, NodeCacheState>): void;
  setSchemas(schemas: PipelineSchemas): void;
}

export const useValidation = create<ValidationState>()((set) => ({
  problems: [],
  cache: {},
  schemas: {},
  setProblems: (problems) => set({ problems }),
  setCache: (cache) => set({ cache }),
  setSchemas: (schemas) => set({ schemas }),
}));
