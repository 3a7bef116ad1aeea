import { existsSync, realpathSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { isInside } from "../data/workspace";
import { BlockError } from "./block";

/**
 * Resolves a user-given path against the project folder and refuses any that
 * leaves the project and the folders it added: "../../etc/passwd", and also a
 * link inside the project that points outside it.
 */
export function resolveProjectPath(projectDir: string, allowedDirs: readonly string[], path: string): string {
  if (!path || typeof path !== "string") throw new BlockError("A file path is required");
  const abs = isAbsolute(path) ? resolve(path) : resolve(projectDir, path);
  const outside = () =>
    new BlockError(
      `The path "${path}" is outside the project folder. Move the file into the project, or add its folder to "dataFolders" in dagwood.json.`,
    );
  if (!isInside(abs, allowedDirs)) throw outside();
  if (existsSync(abs)) {
    const real = realpathSync(abs);
    const realDirs = allowedDirs.filter(existsSync).map((d) => realpathSync(d));
    if (!isInside(real, realDirs)) {
      throw new BlockError(
        `The path "${path}" links to a file outside the project folder, which blocks may not read. Copy the file into the project, or add its folder to "dataFolders" in dagwood.json.`,
      );
    }
  }
  return abs;
}
