/**
 * Feature views' versions in the `feature_view_versions` table: a new row
 * each time a view's definition (its digest) differs from the latest one
 * recorded, so a materialisation and a training set can name the version
 * they used.
 */

import type { Sql } from "./sql";
import { nowIso } from "./sqlite";
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

/**
 * Inserts a new version when the digest changed; the caller runs it in a write transaction. Takes the
 * view's lock first, so two processes recording the same view wait for each other instead of both
 * reading the same latest version.
 */
export function recordViewVersion(
  sql: Sql,
  input: Omit<FeatureViewVersion, "version" | "appliedAt"> & { at?: string },
): { version: FeatureViewVersion; changed: boolean } {
  sql.lock(`view:${input.view}`);
  const latest = sql.get<VersionRow>(
    "SELECT * FROM feature_view_versions WHERE view = ? ORDER BY version DESC LIMIT 1",
    input.view,
  );
  if (latest && latest.digest === input.digest) return { version: toVersion(latest), changed: false };
  const row: VersionRow = {
    view: input.view,
    version: (latest?.version ?? 0) + 1,
    digest: input.digest,
    definition: input.definition,
    file: input.file,
    applied_at: input.at ?? nowIso(),
  };
  sql.run(
    `INSERT INTO feature_view_versions (view, version, digest, definition, file, applied_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
    row.view,
    row.version,
    row.digest,
    row.definition,
    row.file,
    row.applied_at,
  );
  return { version: toVersion(row), changed: true };
}

export function listViewVersions(sql: Sql, view?: string): FeatureViewVersion[] {
  const rows =
    view === undefined
      ? sql.all<VersionRow>("SELECT * FROM feature_view_versions ORDER BY view, version DESC")
      : sql.all<VersionRow>("SELECT * FROM feature_view_versions WHERE view = ? ORDER BY version DESC", view);
  return rows.map(toVersion);
}
