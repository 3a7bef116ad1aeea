/**
 * A registered version's files and the shared artifact location.
 *
 * Registering (with a location configured) is two steps, because uploading is async and the registry
 * is synchronous: `stageVersionFiles` uploads every file under its content key and verifies it, and
 * only then `Registry.registerVersion` (given the manifest as `artifacts`) allocates the number and
 * writes the row, recording each file's key and sha256. An upload that fails or is cut off throws
 * before any row exists; what it left is at most an unreferenced object.
 *
 * Reading on another machine: the row names the version folder (relative to the project, the same
 * on every checkout) and the manifest; `ensureVersionFiles` fetches whatever that folder lacks (or
 * holds with other bytes) from the location, verified, before a reader opens the files.
 */
import { existsSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { readProjectSettings } from "../project/project";
import type { ModelVersion, VersionArtifacts } from "../values/registry";
import {
  ArtifactError,
  type ArtifactLocation,
  hashFile,
  type LocationOptions,
  openArtifactLocation,
} from "./location";

/** The name each registered file has in a version folder (as registerVersion copies them). */
export const VERSION_FILE_NAMES = {
  native: "model.json",
  onnx: "model.onnx",
  heldout: "heldout.json",
  profile: "reference-profile.json",
} as const;

/** Uploads a version's files (absolute paths, as RegisterVersionInput.files) and answers their manifest. */
export async function stageVersionFiles(
  location: ArtifactLocation,
  files: { native: string; onnx: string; heldout?: string; profile?: string },
): Promise<VersionArtifacts> {
  const out: VersionArtifacts["files"] = {};
  for (const [what, name] of Object.entries(VERSION_FILE_NAMES) as [keyof typeof files, string][]) {
    const path = files[what];
    if (path === undefined) continue;
    if (!existsSync(path))
      throw new ArtifactError(`Cannot upload the model's ${what} file ${path}: it is missing.`);
    out[name] = await location.putFile(path);
  }
  return { location: location.description, files: out };
}

const FILE_NAMES = new Set<string>(Object.values(VERSION_FILE_NAMES));

/**
 * The version's folder on this machine, which must lie in the project's registry folder: the row comes
 * from a shared database, and a path it names is never followed out of `.dagwood/registry`.
 */
function versionFolder(
  projectDir: string,
  version: Pick<ModelVersion, "name" | "version" | "nativePath">,
): string {
  const registry = resolve(projectDir, ".dagwood", "registry");
  const dir = resolve(projectDir, dirname(version.nativePath));
  const rel = relative(registry, dir);
  if (
    isAbsolute(version.nativePath) ||
    rel === "" ||
    rel === ".." ||
    rel.startsWith(`..${sep}`) ||
    isAbsolute(rel)
  )
    throw new ArtifactError(
      `${version.name} v${version.version}'s record places its files at ${JSON.stringify(version.nativePath)}, outside the project's .dagwood/registry folder: the store's row was not written by Dagwood. Nothing was fetched; ask whoever administers the team store to check the version.`,
    );
  return dir;
}

/**
 * Makes the version's folder on this machine hold its files as registered: a file missing, or with
 * other bytes than the manifest's sha256, is fetched from the location (verified, renamed into place).
 * A version registered without a shared location has no manifest: nothing to do. Answers the names
 * of the files fetched.
 */
export async function ensureVersionFiles(
  projectDir: string,
  version: Pick<ModelVersion, "name" | "version" | "nativePath" | "artifacts">,
  location: ArtifactLocation | null,
): Promise<string[]> {
  const manifest = version.artifacts;
  if (!manifest) return [];
  const dir = versionFolder(projectDir, version);
  const wanted: [string, { key: string; sha256: string }][] = [];
  for (const [name, stored] of Object.entries(manifest.files)) {
    if (!FILE_NAMES.has(name))
      throw new ArtifactError(
        `${version.name} v${version.version}'s record names a file ${JSON.stringify(name)}, which is not one a registered version has (${[...FILE_NAMES].join(", ")}): the store's row was not written by Dagwood. Nothing was fetched; ask whoever administers the team store to check the version.`,
      );
    const path = join(dir, name);
    if (existsSync(path) && (await hashFile(path)).sha256 === stored.sha256) continue;
    wanted.push([name, stored]);
  }
  if (wanted.length === 0) return [];
  if (location === null)
    throw new ArtifactError(
      `${version.name} v${version.version} was registered with its files in ${manifest.location}, and this machine lacks ${wanted.map(([n]) => n).join(", ")}; this project has no "artifacts" location in dagwood.json. Set "artifacts" to that location (the same folder or bucket) and try again.`,
    );
  for (const [name, stored] of wanted) {
    try {
      await location.getFile(stored.key, join(dir, name));
    } catch (e) {
      throw new ArtifactError(
        `Cannot fetch ${name} of ${version.name} v${version.version} (registered in ${manifest.location}): ${(e as Error).message}`,
      );
    }
  }
  return wanted.map(([n]) => n);
}

/** The project's artifact location from its dagwood.json, or null when it has none. */
export function projectArtifactLocation(projectDir: string, opts?: LocationOptions): ArtifactLocation | null {
  const settings = readProjectSettings(projectDir).artifacts;
  return settings ? openArtifactLocation(settings, projectDir, opts) : null;
}

/** `ensureVersionFiles` with the project's own location: what readers call before opening a version's files. */
export function ensureProjectVersionFiles(
  projectDir: string,
  version: Pick<ModelVersion, "name" | "version" | "nativePath" | "artifacts">,
): Promise<string[]> {
  if (!version.artifacts) return Promise.resolve([]);
  return ensureVersionFiles(projectDir, version, projectArtifactLocation(projectDir));
}
