/**
 * The data files a pipeline may read: files with a format `ingest.file` reads,
 * under the project folder and its `dataFolders`, offered by the path field of
 * the inspector. Only what blocks may read is listed: a link is followed only
 * when its target lies inside the project or a data folder, folders reached
 * through links are not entered (no loops, no escapes), Dagwood's own state and
 * hidden folders are skipped, and the walk stops at a depth and a count.
 */
import type { Dirent } from "node:fs";
import { readdir, realpath, stat } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import type { DataFile, DataFileList } from "../api";

/** The extensions `ingest.file` reads (its `auto` format), each optionally gzipped. */
export const DATA_FILE_EXTENSIONS = ["csv", "tsv", "parquet", "json", "ndjson", "jsonl"] as const;
const DATA_FILE = new RegExp(`\\.(${DATA_FILE_EXTENSIONS.join("|")})(\\.gz)?$`, "i");
/** JSON files of the project that are not data (pipelines, pipeline tests, settings). */
const NOT_DATA = /(\.dag\.json|\.test\.json|^dagwood\.json|^package(-lock)?\.json|^tsconfig.*\.json)$/i;
/** Folders never searched: dependencies (data folders inside them are listed as their own roots), exports. */
const SKIP_DIRS = new Set(["node_modules", "exports", "__pycache__"]);

export const DATA_FILE_LIMITS = {
  /** Files answered at most (the answer then says it was cut). */
  files: 500,
  /** Folder levels below each root. */
  depth: 4,
  /** Directory entries looked at in all, so a huge folder cannot stall the Api. */
  entries: 20_000,
};

const isInside = (abs: string, dir: string) => {
  const rel = relative(dir, abs);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
};

/**
 * Lists the data files of a project. `dataFolders` are as written in
 * dagwood.json (relative to the project or absolute); a missing one is skipped.
 */
export async function listDataFiles(
  projectDir: string,
  dataFolders: readonly string[],
  limits = DATA_FILE_LIMITS,
): Promise<DataFileList> {
  const project = resolve(projectDir);
  const roots = [
    { folder: "", dir: project },
    ...dataFolders.map((folder) => ({ folder, dir: resolve(project, folder) })),
  ];
  // Where links may lead: the real folders of the project and of every data folder.
  const realRoots = (await Promise.all(roots.map((r) => realpath(r.dir).catch(() => null)))).filter(
    (d): d is string => d !== null,
  );
  const files: DataFile[] = [];
  const seen = new Set<string>();
  let entries = 0;
  let truncated = false;

  const stateDir = join(project, ".dagwood");
  const realState = await realpath(stateDir).catch(() => stateDir);
  const inState = (real: string) => isInside(real.toLowerCase(), realState.toLowerCase());
  const add = (abs: string, root: { folder: string; dir: string }, bytes: number) => {
    // Dagwood's own state is never offered, whatever folder reaches it.
    if (seen.has(abs) || isInside(abs.toLowerCase(), stateDir.toLowerCase())) return;
    seen.add(abs);
    if (files.length >= limits.files) {
      truncated = true;
      return;
    }
    const slashed = (from: string) => relative(from, abs).split(sep).join("/");
    files.push({ path: slashed(project), folder: root.folder, name: slashed(root.dir), bytes });
  };

  const walk = async (
    dir: string,
    root: { folder: string; dir: string },
    depth: number,
    nested: boolean,
  ): Promise<void> => {
    let list: Dirent[];
    try {
      list = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of list) {
      if (truncated) return;
      if (++entries > limits.entries) {
        truncated = true;
        return;
      }
      if (e.name.startsWith(".")) continue; // .dagwood (Dagwood's state), .git, editor folders
      const abs = join(dir, e.name);
      if (e.isDirectory()) {
        // A data folder inside the project is listed as its own root, under its own name.
        if (nested && roots.some((r) => r.folder && r.dir === abs)) continue;
        if (depth < limits.depth && !SKIP_DIRS.has(e.name)) await walk(abs, root, depth + 1, nested);
        continue;
      }
      if (!DATA_FILE.test(e.name) || NOT_DATA.test(e.name)) continue;
      if (!e.isSymbolicLink() && !e.isFile()) continue;
      // Where the file really is (a link, or a data folder that is one, leads elsewhere): as ingest.file checks it.
      const real = await realpath(abs).catch(() => null);
      if (!real || !realRoots.some((r) => isInside(real, r)) || inState(real)) continue;
      const info = await stat(real).catch(() => null);
      if (info?.isFile()) add(abs, root, info.size);
    }
  };

  for (const [i, root] of roots.entries()) {
    if (truncated) break;
    await walk(root.dir, root, 0, i === 0);
  }
  return { files, truncated };
}
