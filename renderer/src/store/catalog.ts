/** What the core offers: the open project and the block catalog (from getProject and listBlocks). */
import { create } from "zustand";
import type { BlockInfo, ProjectInfo } from "../../../app/api/api";
import type { Catalog } from "./types";

interface CatalogState {
  project: ProjectInfo | null;
  blocks: BlockInfo[];
  byKind: Catalog;
  loaded: boolean;
  setProject(project: ProjectInfo | null): void;
  setBlocks(blocks: BlockInfo[]): void;
}

export const useCatalog = create<CatalogState>()((set) => ({
  project: null,
  blocks: [],
  byKind: new Map(),
  loaded: false,
  setProject: (project) => set({ project }),
  setBlocks: (blocks) => set({ blocks, byKind: new Map(blocks.map((b) => [b.kind, b])), loaded: true }),
}));
