import { lstatSync, readlinkSync, realpathSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { isInside } from "../data/workspace";
import { BlockError } from "./block";

/** Dagwood's own state in a project: never read or written through a user-given path. */
export const STATE_DIR = ".dagwood";

/**
 * The path as the OS sees it: links resolved in the part that exists, the
 * rest (a file about to be created, its missing folders) appended as written.
 */
export function realPathOf(abs: string, links = 0): string {
  let probe = abs;
  const rest: string[] = [];
  // lstat, not exists: a link whose target is missing (dangling) still leads somewhere when written through.
  while (!lstatSync(probe, { throwIfNoEntry: false })) {
    const parent = dirname(probe);
    if (parent === probe) return abs;
    rest.unshift(basename(probe));
    probe = parent;
  }
  try {
    return join(realpathSync.native(probe), ...rest);
  } catch {
    // A dangling link (or a loop): follow it by hand, as far as the OS would.
    if (links > 40) return join(probe, ...rest);
    const target = resolve(dirname(probe), readlinkSync(probe));
    return join(realPathOf(target, links + 1), ...rest);
  }
}

/** True when `abs` is the project's `.dagwood` folder or lies in it (in any letter case: macOS and Windows fold it). */
function inStateDir(projectDir: string, abs: string): boolean {
  const rel = relative(projectDir, abs);
  if (rel === "" || rel.startsWith("..") || isAbsolute(rel)) return false;
  return rel.split(sep)[0]!.toLowerCase() === STATE_DIR;
}

/**
 * Resolves a user-given path against the project folder and refuses any that
 * leaves the project and the folders it added: "../../etc/passwd", a link
 * inside the project that points outside it (also when the file itself does
 * not exist yet but a folder on its way is such a link), and anything in
 * `.dagwood`, Dagwood's own state (tokens, the workspace, the registry).
 */
export function resolveProjectPath(projectDir: string, allowedDirs: readonly string[], path: string): string {
  if (!path || typeof path !== "string") throw new BlockError("A file path is required");
  const abs = isAbsolute(path) ? resolve(path) : resolve(projectDir, path);
  const outside = () =>
    new BlockError(
      `The path "${path}" is outside the project folder. Move the file into the project, or add its folder to "dataFolders" in dagwood.json.`,
    );
  const state = () =>
    new BlockError(
      `The path "${path}" is inside ${STATE_DIR}/, which holds Dagwood's own state (tokens, workspace, registry) and is never read or written by blocks or pipelines. Use a file elsewhere in the project.`,
    );
  if (!isInside(abs, allowedDirs)) throw outside();
  if (inStateDir(resolve(projectDir), abs)) throw state();
  const real = realPathOf(abs);
  const realProject = realPathOf(resolve(projectDir));
  if (inStateDir(realProject, real)) throw state();
  const realDirs = allowedDirs.map((d) => realPathOf(resolve(d)));
  if (!isInside(real, realDirs)) {
    throw new BlockError(
      `The path "${path}" links to a file outside the project folder, which blocks may not read. Copy the file into the project, or add its folder to "dataFolders" in dagwood.json.`,
    );
  }
  return abs;
}
