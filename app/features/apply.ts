/**
 * `dagwood features apply` (Feast's `feast apply`): the definitions are
 * checked (app/features/repo.ts), then every view against its source in
 * DuckDB (columns exist, types fit, timestamps are timestamps); only when all
 * of it holds is each view's version recorded, a new one when its definition
 * changed. Nothing is recorded when anything is wrong: every problem is
 * reported at once.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { ident } from "../data/sql";
import { stableStringify } from "../engine/execute";
import {
  duplicateRowsProblem,
  FeatureSourceError,
  offlineTableFile,
  sourceColumns,
  sourceProblems,
  viewSourceParts,
} from "./offline-source";
import type { FeatureProject } from "./project";
import { loadFeatureRepo, viewJoinKeys } from "./repo";
import type { FeatureRepo, FeatureViewDefinition } from "./types";

export interface AppliedView {
  name: string;
  version: number;
  /** A new version was recorded by this apply. */
  changed: boolean;
  file: string;
  /** The source's rows and newest event time (ISO), when it could be read. */
  rows: number | null;
  newestEvent: string | null;
  /** Why the source was not checked (a block's table not written yet), else null. */
  unchecked: string | null;
}

export interface ApplyReport {
  entities: number;
  services: number;
  views: AppliedView[];
}

/** A view does not fit its source: every view's problems, nothing recorded. */
export class FeatureApplyError extends Error {
  override name = "FeatureApplyError";
}

/** The digest of a view's definition, with its entities' join keys (a changed key is a changed view). */
export function viewDigest(repo: FeatureRepo, view: FeatureViewDefinition): string {
  return createHash("sha256")
    .update(stableStringify({ view, joinKeys: viewJoinKeys(repo, view) }))
    .digest("hex");
}

export async function applyFeatures(project: FeatureProject): Promise<ApplyReport> {
  const repo = loadFeatureRepo(project.dir);
  const problems: string[] = [];
  const checked = new Map<string, Omit<AppliedView, "version" | "changed" | "file">>();
  for (const view of repo.views.values()) {
    if ("block" in view.source && !existsSync(offlineTableFile(project.dir, view.name))) {
      checked.set(view.name, {
        name: view.name,
        rows: null,
        newestEvent: null,
        unchecked: "no offline table yet: run the pipeline with its features.view block",
      });
      continue;
    }
    try {
      const parts = viewSourceParts({ projectDir: project.dir, allowedDirs: project.allowedDirs }, view);
      const relation = parts.relation;
      // The source and the rows pushed offline each fit the view: pushed columns cannot hide one the source lost.
      const found: string[] = [];
      if (parts.source)
        found.push(...sourceProblems(repo, view, await sourceColumns(project.sql, parts.source, view.name)));
      if (parts.pushed)
        found.push(
          ...sourceProblems(repo, view, await sourceColumns(project.sql, parts.pushed, view.name)).map(
            (p) => `rows pushed offline: ${p}`,
          ),
        );
      if (!found.length && !view.source.createdTimestampColumn) {
        const duplicates = await duplicateRowsProblem(
          project.sql,
          relation,
          viewJoinKeys(repo, view),
          view.source.timestampField,
        );
        if (duplicates) found.push(`the source has ${duplicates}`);
      }
      if (found.length) {
        problems.push(
          `feature view "${view.name}" (${repo.files.get(`feature view:${view.name}`)}):\n    ${found.join("\n    ")}`,
        );
        continue;
      }
      const stats = await project.sql.one<{ n: number; newest: Date | null }>(
        `SELECT count(*) AS n, max(${ident(view.source.timestampField)}) AS newest FROM ${relation}`,
      );
      checked.set(view.name, {
        name: view.name,
        rows: stats.n,
        newestEvent: stats.newest ? new Date(stats.newest).toISOString() : null,
        unchecked: null,
      });
    } catch (e) {
      if (!(e instanceof FeatureSourceError)) throw e;
      problems.push(e.message);
    }
  }
  if (problems.length)
    throw new FeatureApplyError(
      `Nothing applied: ${problems.length} feature view${problems.length === 1 ? " does" : "s do"} not match ${problems.length === 1 ? "its source" : "their sources"}:\n  ${problems.join("\n  ")}`,
    );
  const views: AppliedView[] = [];
  for (const view of repo.views.values()) {
    const file = repo.files.get(`feature view:${view.name}`)!;
    const { version, changed } = project.metadata.recordFeatureViewVersion({
      view: view.name,
      digest: viewDigest(repo, view),
      definition: JSON.stringify(view),
      file,
    });
    views.push({ ...checked.get(view.name)!, version: version.version, changed, file });
  }
  return { entities: repo.entities.size, services: repo.services.size, views };
}
