/**
 * A project's feature service for the feature server (`dagwood features
 * serve`, `dagwood serve --project DIR`): its definitions, read at start and
 * again when a file in features/ changed (looked at once a second at most;
 * `features apply` needs no restart), its online store (dagwood.json `online`), and materialisation
 * from its offline sources and offline pushes, each call opening the project's DuckDB session
 * of its own and closing it after.
 */
import { readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { readProjectSettings } from "../project/project";
import { RequestError } from "../serving/tensors";
import { MaterializeError, materialize, materializeIncremental, materializeTarget } from "./materialize";
import { appendOfflineRows, OfflinePushError } from "./offline-push";
import { FeatureSourceError } from "./offline-source";
import { openOnlineStore } from "./online/open";
import { OnlineStoreError } from "./online/values";
import { type FeatureProject, openFeatureProject } from "./project";
import { FEATURES_DIR, FeatureRepoError, loadFeatureRepo } from "./repo";
import type { FeatureService } from "./server";
import type { FeatureRepo } from "./types";

/** The features/ folder's state: names, sizes and modification times of its files. */
function stamp(dir: string): string {
  const folder = join(dir, FEATURES_DIR);
  try {
    return readdirSync(folder)
      .sort()
      .map((f) => {
        const s = statSync(join(folder, f));
        return `${f}:${s.size}:${s.mtimeMs}`;
      })
      .join("|");
  } catch {
    return "";
  }
}

/** Errors of a materialisation or an offline push the caller can fix (unknown view, a source or frame that does not fit): a 400 with their text; the online store away: a 503. */
function asRequestError(e: unknown): unknown {
  if (e instanceof MaterializeError || e instanceof FeatureSourceError || e instanceof OfflinePushError)
    return new RequestError(e.message);
  if (e instanceof OnlineStoreError) return new RequestError(e.message, 503);
  return e;
}

/**
 * Opens a project's feature service; bad definitions throw a FeatureRepoError
 * at start. Later edits that break them keep the last good definitions and
 * answer 503 naming the problems, until fixed.
 */
export function openProjectFeatureService(
  projectDir: string,
  options: { recheckMs?: number } = {},
): FeatureService & { close(): Promise<void> } {
  const dir = resolve(projectDir);
  const settings = readProjectSettings(dir);
  let repo = loadFeatureRepo(dir);
  let seen = stamp(dir);
  const store = openOnlineStore({ dir, settings });
  // Looking at features/ costs a readdir and a stat per file: at most once a second, not per lookup.
  const recheckMs = options.recheckMs ?? 1000;
  let checked = Date.now();

  let broken: RequestError | undefined;

  const currentRepo = (): FeatureRepo => {
    if (Date.now() - checked >= recheckMs) {
      checked = Date.now();
      const now = stamp(dir);
      if (now !== seen) {
        seen = now;
        try {
          repo = loadFeatureRepo(dir);
          broken = undefined;
        } catch (e) {
          if (!(e instanceof FeatureRepoError)) throw e;
          broken = new RequestError(`the feature definitions changed and do not load: ${e.message}`, 503);
        }
      }
    }
    if (broken) throw broken;
    return repo;
  };

  async function withProject<T>(go: (project: FeatureProject) => Promise<T>): Promise<T> {
    const project = await openFeatureProject(dir);
    try {
      return await go(project);
    } catch (e) {
      throw asRequestError(e);
    } finally {
      project.close();
    }
  }

  return {
    repo: currentRepo,
    store,
    materialize: (o) => withProject((p) => materialize(materializeTarget(p, currentRepo(), store), o)),
    materializeIncremental: (o) =>
      withProject((p) => materializeIncremental(materializeTarget(p, currentRepo(), store), o)),
    pushOffline: (repo, view, frame) =>
      withProject((p) =>
        appendOfflineRows({ projectDir: p.dir, allowedDirs: p.allowedDirs, sql: p.sql }, repo, view, frame),
      ),
    close: () => store.close(),
  };
}
