/**
 * Feature views' versions in the `feature_view_versions` table: a new row
 * each time a view's definition (its digest) differs from the latest one
 * recorded, so a materialisation and a training set can name the version
 * they used.
 */
import type Database from "better-sqlite3";
import { nowIso } from "./sqlite";
import { prepare } from "./statements";
import type { FeatureViewVersion } from "./types";

interface VersionRow {
  view: string;
  version: number;
  digest: string;
  definition: string;
  file: string;
  applied_at: string;
}

const toVersion = (r: VersionRow): FeatureViewVersion => ({
  view: r.view,
  version: r.version,
  digest: r.digest,
  definition: r.definition,
  file: r.file,
  appliedAt: r.applied_at,
});

/** Inserts a new version when the digest changed; the caller runs it in a write transaction. */
export function recordViewVersion(
  db: Database.Database,
  input: Omit<FeatureViewVersion, "version" | "appliedAt"> & { at?: string },
): { version: FeatureViewVersion; changed: boolean } {
  const latest = prepare(
    db,
    "SELECT * FROM feature_view_versions WHERE view = ? ORDER BY version DESC LIMIT 1",
  ).get(input.view) as VersionRow | undefined;
  if (latest && latest.digest === input.digest) return { version: toVersion(latest), changed: false };
  const row: VersionRow = {
    view: input.view,
    version: (latest?.version ?? 0) + 1,
    digest: input.digest,
    definition: input.definition,
    file: input.file,
    applied_at: input.at ?? nowIso(),
  };
  prepare(
    db,
    `INSERT INTO feature_view_versions (view, version, digest, definition, file, applied_at)
       VALUES (@view, @version, @digest, @definition, @file, @applied_at)`,
  ).run(row);
  return { version: toVersion(row), changed: true };
}

export function listViewVersions(db: Database.Database, view?: string): FeatureViewVersion[] {
  const rows = (
    view === undefined
      ? prepare(db, "SELECT * FROM feature_view_versions ORDER BY view, version DESC").all()
      : prepare(db, "SELECT * FROM feature_view_versions WHERE view = ? ORDER BY version DESC").all(view)
  ) as VersionRow[];
  return rows.map(toVersion);
}
