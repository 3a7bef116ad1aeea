/** getProject, openProject, listBlocks and listDataFiles: which project is open, the block catalog, its data files. */
import { readdir } from "node:fs/promises";
import { basename, join, relative, sep } from "node:path";
import { Project } from "../../project/project";
import { ApiError, type BlockInfo, type ProjectInfo } from "../api";
import { describeBlock } from "../blocks";
import { listDataFiles } from "./data-files";
import type { CoreState, Handlers } from "./state";

export const PIPELINE_SUFFIX = ".dag.json";
/** Not searched for pipelines: Dagwood's own state, dependencies, and exported runs (which hold pipeline copies). */
const SKIP_DIRS = new Set([".dagwood", "node_modules", ".git", "exports"]);

export async function findPipelines(dir: string, root = dir, depth = 0): Promise<string[]> {
  if (depth > 4) return [];
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const found: string[] = [];
  for (const e of entries) {
    if (e.isDirectory() && !SKIP_DIRS.has(e.name))
      found.push(...(await findPipelines(join(dir, e.name), root, depth + 1)));
    else if (e.isFile() && e.name.endsWith(PIPELINE_SUFFIX))
      found.push(relative(root, join(dir, e.name)).split(sep).join("/"));
  }
  return found.sort();
}

const projectInfo = async (p: Project): Promise<ProjectInfo> => ({
  dir: p.dir,
  name: p.settings.name ?? basename(p.dir),
  pipelines: await findPipelines(p.dir),
});

export function projectHandlers(
  state: CoreState,
): Handlers<"getProject" | "openProject" | "listBlocks" | "listDataFiles"> {
  const blocks: BlockInfo[] = [...state.catalog.values()].map(describeBlock);
  /** Another project is not opened under a run or a deploy in progress. */
  const refuseWhenBusy = () => {
    if (state.active.size)
      throw new ApiError(409, "A run is in progress. Stop it before opening another project.");
    const open = state.project();
    if (open && state.deployOperations.count(open.dir))
      throw new ApiError(409, "A deploy is in progress. Wait for it to end before opening another project.");
  };
  return {
    async getProject() {
      const p = state.project();
      return p ? projectInfo(p) : null;
    },
    async openProject({ dir }) {
      refuseWhenBusy();
      let next: Project;
      try {
        next = await Project.open(dir);
      } catch (e) {
        throw new ApiError(400, `Cannot open project ${dir}: ${(e as Error).message}`);
      }
      // A cache collection (dagwood gc) under way in the open project ends before its workspace closes.
      while (state.collecting) await state.collecting.catch(() => {});
      try {
        refuseWhenBusy();
      } catch (e) {
        next.close();
        throw e;
      }
      const previous = state.replaceProject(next);
      previous?.close();
      // The previous project's built-in server stops with it (not a user's Stop: reopening it restores it).
      // The new project is open either way: a failure to close the old server does not undo that.
      if (previous && previous.dir !== next.dir)
        await state.localServers.stop(previous.dir, { byUser: false }).catch(() => undefined);
      return projectInfo(next);
    },
    async listBlocks() {
      return blocks;
    },
    async listDataFiles() {
      const p = state.requireProject();
      return listDataFiles(p.dir, p.settings.dataFolders);
    },
  };
}
