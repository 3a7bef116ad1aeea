/**
 * A stand-in for a project that a pipeline test runs in: a temporary folder
 * whose entries link to the project's own (its pipelines, data, tests,
 * expectations, features), with a dagwood.json of its own and an empty
 * `.dagwood`. Paths in pipelines resolve as in the project, but the test's
 * runs, workspace tables and registered models land in the temporary state,
 * never in the project's: a test adds no run to the project's history and no
 * version to its registry, and runs while the app has the project open.
 */
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parse as parseJsonc } from "jsonc-parser";
import { PROJECT_FILE, readProjectSettings, STORE_DIR } from "../project/project";

/** Entries of the project not linked: Dagwood's state, the settings (written anew), git's folder. */
const NOT_LINKED = new Set([STORE_DIR, PROJECT_FILE, ".git"]);

export interface ShadowProject {
  dir: string;
  /** Removes the folder and all the test's state in it. */
  remove(): void;
}

/**
 * Makes the stand-in for `projectDir`. Throws ProjectSettingsError when the
 * project's dagwood.json is not valid (the caller reports it as `run` does).
 */
export function createShadowProject(projectDir: string): ShadowProject {
  const real = realpathSync(resolve(projectDir));
  const settings = readProjectSettings(real);
  const dir = mkdtempSync(join(tmpdir(), "dagwood-test-"));
  try {
    for (const name of readdirSync(real)) {
      if (NOT_LINKED.has(name.toLowerCase())) continue;
      const from = join(real, name);
      const isDir = statSync(from, { throwIfNoEntry: false })?.isDirectory() ?? false;
      try {
        // A junction needs no privilege on Windows; elsewhere the type is ignored.
        symlinkSync(from, join(dir, name), isDir ? "junction" : "file");
      } catch (e) {
        // Windows without the symbolic-link privilege: a file is copied (folders are junctions, which always work).
        if (isDir || (e as NodeJS.ErrnoException).code !== "EPERM") throw e;
        copyFileSync(from, join(dir, name));
      }
    }
    // The links lead into the project, so the project itself is a data folder here; its own data folders, made absolute, stay ones.
    const file = join(real, PROJECT_FILE);
    const raw = existsSync(file) ? (parseJsonc(readFileSync(file, "utf8")) as Record<string, unknown>) : {};
    const dataFolders = [...settings.dataFolders.map((d) => resolve(real, d)), real];
    writeFileSync(join(dir, PROJECT_FILE), JSON.stringify({ ...raw, dataFolders }, null, 2));
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
