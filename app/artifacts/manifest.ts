/**
 * The registry's synchronous check of a version's staged files against the manifest of what was
 * uploaded (app/artifacts/version-files.ts); kept apart so the registry imports nothing of the project.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { VersionArtifacts } from "../values/registry";

/**
 * Checks synchronously that the files about to be recorded are the files that were uploaded: each
 * named file's sha256 and size against the manifest. Answers the problems (empty when all match).
 */
export function manifestMismatches(dir: string, manifest: VersionArtifacts): string[] {
  const problems: string[] = [];
  for (const [name, stored] of Object.entries(manifest.files)) {
    const path = join(dir, name);
    if (!existsSync(path)) {
      problems.push(`${name} is missing`);
      continue;
    }
    const bytes = readFileSync(path);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    if (sha256 !== stored.sha256 || bytes.length !== stored.bytes)
      problems.push(
        `${name} hashes to ${sha256} (${bytes.length} bytes), not the uploaded ${stored.sha256} (${stored.bytes} bytes)`,
      );
  }
  return problems;
}
