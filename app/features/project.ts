/**
 * What the feature store's commands work in: the project's folder and the
 * folders it may read, its metadata store (feature view versions), and a
 * DuckDB session of its own (in memory, reading only those folders) for the
 * offline sources and training sets, so the commands never need the
 * project's workspace (which the app may hold open).
 */
import { resolve } from "node:path";
import type { SqlSession } from "../data/sql";
import { Workspace } from "../data/workspace";
import { ensureStoreDir, readProjectSettings } from "../project/project";
import { openProjectStore } from "../store/open";
import type { MetadataStore } from "../store/types";

export interface FeatureProject {
  dir: string;
  allowedDirs: readonly string[];
  metadata: MetadataStore;
  sql: SqlSession;
}

/**
 * Opens the project for the feature commands; close() releases DuckDB and the
 * metadata store. `readDirs`: more folders DuckDB may read and write (the
 * files a command's user named), never sources of feature views.
 */
export async function openFeatureProject(
  dir: string,
  readDirs: readonly string[] = [],
): Promise<FeatureProject & { close(): void }> {
  const root = resolve(dir);
  const settings = readProjectSettings(root);
  const allowedDirs = [root, ...settings.dataFolders.map((d) => resolve(root, d))];
  ensureStoreDir(root);
  const metadata = openProjectStore(root, settings);
  let workspace: Workspace;
  try {
    workspace = await Workspace.open({ path: ":memory:", allowedDirs: [...allowedDirs, ...readDirs] });
  } catch (e) {
    metadata.close();
    throw e;
  }
  const sql = await workspace.session();
  return {
    dir: root,
    allowedDirs,
    metadata,
    sql,
    close() {
      sql.close();
      workspace.close();
      metadata.close();
    },
  };
}
