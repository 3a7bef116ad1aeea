import { isAbsolute, resolve } from "node:path";
import { isInside } from "../data/workspace";
import { BlockError } from "./block";

/**
 * Resolves a user-given path against the project folder and refuses any that
 * leaves the project and the folders it added ("../../etc/passwd").
 */
export function resolveProjectPath(projectDir: string, allowedDirs: readonly string[], path: string): string {
  if (!path || typeof path !== "string") throw new BlockError("A file path is required");
  const abs = isAbsolute(path) ? resolve(path) : resolve(projectDir, path);
  if (!isInside(abs, allowedDirs)) {
    throw new BlockError(
      `The path "${path}" is outside the project folder. Move the file into the project, or add its folder to "dataFolders" in dagwood.json.`,
    );
  }
  return abs;
}
