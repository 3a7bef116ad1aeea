/**
 * The privacy methods (issue 19). scanPrivacy: what personal data a workspace
 * table or a data file of the project holds (app/privacy/scan.ts), resolved as
 * `dagwood expect run --data` resolves its data: a node output table (t_…)
 * from the open project's workspace, else a file inside the project or its
 * data folders, read with ingest.file's own reading in a private DuckDB that
 * may read only that file's folder.
 */
import { existsSync, realpathSync, statSync } from "node:fs";
import { basename, dirname } from "node:path";
import ingestFile from "../../../nodes/ingest-file";
import { Workspace } from "../../data/workspace";
import { BlockError } from "../../engine/block";
import { resolveProjectPath } from "../../engine/paths";
import { standaloneContext } from "../../engine/standalone-context";
import { DEFAULT_SCAN_SEED, ScanError, scanTable } from "../../privacy/scan";
import type { ScanReport } from "../../privacy/types";
import type { Project } from "../../project/project";
import { ApiError } from "../api";
import type { CoreState, Handlers } from "./state";

/** A workspace table's name, as nodes' outputs are named. */
const TABLE_NAME = /^t_[0-9a-f]+_[A-Za-z0-9_]+$/;

interface ScanArgs {
  source: string;
  sample?: number;
  seed?: number;
}

async function scanWorkspaceTable(p: Project, table: string, opts: Parameters<typeof scanTable>[2]) {
  const sql = await p.workspace.session();
  try {
    return await scanTable(sql, await p.workspace.describeTable(table, sql), opts);
  } finally {
    sql.close();
  }
}

async function scanProjectFile(p: Project, path: string, opts: Parameters<typeof scanTable>[2]) {
  let abs: string;
  try {
    abs = resolveProjectPath(p.dir, p.allowedDirs, path);
  } catch (e) {
    throw new ApiError(403, (e as Error).message);
  }
  if (!existsSync(abs))
    throw new ApiError(
      404,
      `No file ${path} in the project${TABLE_NAME.test(path) ? ", and no table of that name in its workspace" : ""}: give a data file of the project (data/customers.csv) or a node output table (t_…).`,
    );
  if (statSync(abs).isDirectory()) throw new ApiError(400, `${path} is a folder; give a data file`);
  const real = realpathSync(abs);
  const dir = dirname(real);
  const workspace = await Workspace.open({ path: ":memory:", allowedDirs: [dir] });
  const sql = await workspace.session();
  try {
    let name: string;
    try {
      const ctx = standaloneContext(sql, dir, { prefix: "scan" });
      const out = await ingestFile.run(ctx, {}, ingestFile.params.parse({ path: basename(real) }));
      name = (out.out as { name: string }).name;
    } catch (e) {
      if (e instanceof BlockError) throw new ApiError(400, e.message.split(basename(real)).join(path));
      throw e;
    }
    return await scanTable(sql, await workspace.describeTable(name, sql), opts);
  } finally {
    sql.close();
    workspace.close();
  }
}

export function privacyHandlers(state: CoreState): Handlers<"scanPrivacy"> {
  return {
    async scanPrivacy({ source, sample, seed }: ScanArgs): Promise<ScanReport> {
      const p = state.requireProject();
      const opts = {
        sampleSize: sample ?? p.settings.privacy.scanSample,
        seed: seed ?? DEFAULT_SCAN_SEED,
        source,
      };
      try {
        if (TABLE_NAME.test(source) && (await p.workspace.tableExists(source)))
          return await scanWorkspaceTable(p, source, opts);
        return await scanProjectFile(p, source, opts);
      } catch (e) {
        if (e instanceof ScanError) throw new ApiError(400, e.message);
        throw e;
      }
    },
  };
}
