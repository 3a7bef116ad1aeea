/**
 * The Api's feature-store methods: the overview the app's Features view
 * shows (app/features/overview.ts), `features apply`, materialisation, and
 * Feast's online lookup. Like the dataset methods they need only the project
 * folder and its metadata store, never the workspace: a call that reads
 * sources opens a DuckDB session of its own (in memory, reading only the
 * project's folders) and closes it after. The online store stays open per
 * project, so lookups from the app are quick, and is closed when another
 * project is opened, or the last one closed.
 *
 * A fresh DuckDB per call (about 20 ms) rather than one kept per project:
 * DuckDB's file cache (enable_external_file_cache, on by default) would be
 * locked on with the rest of the session's configuration, and a source
 * rewritten between calls must be read anew.
 */

import { statSync } from "node:fs";
import { join, resolve } from "node:path";
import { Workspace } from "../../data/workspace";
import { applyFeatures, FeatureApplyError } from "../../features/apply";
import {
  MaterializeError,
  materialize,
  materializeIncremental,
  materializeTarget,
} from "../../features/materialize";
import { FeatureSourceError } from "../../features/offline-source";
import { openOnlineStore } from "../../features/online/open";
import { OnlineStoreError } from "../../features/online/values";
import { featuresOverview } from "../../features/overview";
import type { FeatureProject } from "../../features/project";
import { FeatureRepoError, featureFiles, loadFeatureRepo } from "../../features/repo";
import { getOnlineFeatures } from "../../features/server";
import type { FeatureRepo, MaterializationRecord, OnlineStore } from "../../features/types";
import { type ProjectSettings, ProjectSettingsError, readProjectSettings } from "../../project/project";
import { RequestError } from "../../serving/tensors";
import type { TrackingContext } from "../../tracking/export";
import { ApiError, type ApiResults, type parseApiArgs } from "../api";
import type { FeatureMethod } from "../api-methods";

export type FeatureHandlers = {
  [M in FeatureMethod]: (args: ReturnType<typeof parseApiArgs<M>>) => Promise<ApiResults[M]>;
};

/** A feature-store error as the Api's: the user's to fix → 400; the online store away → 503. */
function asApiError(e: unknown): unknown {
  if (e instanceof ApiError) return e;
  if (e instanceof FeatureRepoError)
    return new ApiError(400, `${e.message}\nFix features/*.json and try again.`);
  if (e instanceof FeatureApplyError || e instanceof MaterializeError || e instanceof FeatureSourceError)
    return new ApiError(400, e.message);
  if (e instanceof OnlineStoreError) return new ApiError(503, e.message);
  if (e instanceof RequestError)
    return new ApiError(e.status === 503 ? 503 : e.status === 413 ? 413 : 400, e.message);
  if (e instanceof ProjectSettingsError) return new ApiError(409, e.message);
  return e;
}

/**
 * The project's online store, kept open while it is the open project and
 * dagwood.json names the same store; one replaced or retired is closed once
 * the calls using it are done.
 */
function sharedOnlineStore() {
  interface Entry {
    key: string;
    store: OnlineStore;
    users: number;
    retired: boolean;
  }
  let current: Entry | null = null;
  const closeWhenIdle = (e: Entry) => {
    if (e.retired && e.users === 0) e.store.close().catch(() => {});
  };
  const retire = () => {
    if (!current) return;
    current.retired = true;
    closeWhenIdle(current);
    current = null;
  };
  return {
    async use<T>(dir: string, settings: ProjectSettings, go: (store: OnlineStore) => Promise<T>): Promise<T> {
      const key = JSON.stringify([dir, settings.online, settings.name ?? null]);
      if (current && current.key !== key) retire();
      // Opening may throw (a damaged SQLite file): nothing is kept, the next call tries again.
      current ??= { key, store: openOnlineStore({ dir, settings }), users: 0, retired: false };
      const entry = current;
      entry.users++;
      try {
        return await go(entry.store);
      } finally {
        entry.users--;
        closeWhenIdle(entry);
      }
    },
    retire,
  };
}

/** The definitions, read again only when a file in features/ changed (lookups from the app come often). */
function cachedRepo() {
  let seen: { dir: string; stamp: string; repo: FeatureRepo } | null = null;
  const stamp = (dir: string) =>
    featureFiles(dir)
      .map((f) => {
        try {
          const s = statSync(join(dir, f));
          return `${f}:${s.size}:${s.mtimeMs}`;
        } catch {
          return `${f}:gone`;
        }
      })
      .join("|");
  return (dir: string): FeatureRepo => {
    const now = stamp(dir);
    if (seen?.dir === dir && seen.stamp === now) return seen.repo;
    const repo = loadFeatureRepo(dir);
    seen = { dir, stamp: now, repo };
    return repo;
  };
}

/**
 * The handlers over whatever project `context()` returns at each call (it
 * throws when none is open); `onProjectChange` tells when to close the
 * online store kept for the previous project.
 */
export function createFeatureHandlers(
  context: () => TrackingContext,
  onProjectChange?: (listener: (dir: string | null, previous: string | null) => void) => unknown,
): FeatureHandlers {
  const online = sharedOnlineStore();
  const repoOf = cachedRepo();
  onProjectChange?.(() => online.retire());

  /** dagwood.json is read at each call: the user may change the online store or the data folders while the project is open. */
  const project = () => {
    const { dir, metadata } = context();
    const root = resolve(dir);
    let settings: ProjectSettings;
    try {
      settings = readProjectSettings(root);
    } catch (e) {
      throw asApiError(e);
    }
    const allowedDirs = [root, ...settings.dataFolders.map((d) => resolve(root, d))];
    return { dir: root, metadata, settings, allowedDirs };
  };

  /** Runs `go` with a DuckDB session of its own that may read the project's folders; always closed after. */
  async function withSql<T>(
    p: ReturnType<typeof project>,
    go: (fp: FeatureProject) => Promise<T>,
  ): Promise<T> {
    const workspace = await Workspace.open({ path: ":memory:", allowedDirs: p.allowedDirs });
    try {
      const sql = await workspace.session();
      try {
        return await go({ dir: p.dir, allowedDirs: p.allowedDirs, metadata: p.metadata, sql });
      } finally {
        sql.close();
      }
    } finally {
      workspace.close();
    }
  }

  const guarded =
    <A, R>(go: (args: A) => Promise<R>) =>
    async (args: A): Promise<R> => {
      try {
        return await go(args);
      } catch (e) {
        throw asApiError(e);
      }
    };

  return {
    listFeatures: guarded(async () => {
      const p = project();
      return withSql(p, async (fp) => {
        const overview = (store: () => Promise<OnlineStore>) =>
          featuresOverview({ ...p, sql: fp.sql, store });
        try {
          return await online.use(p.dir, p.settings, (store) => overview(async () => store));
        } catch (e) {
          // A store that cannot even be opened (a damaged file) is reported in the overview, as one away is.
          if (!(e instanceof OnlineStoreError)) throw e;
          return overview(async () => {
            throw e;
          });
        }
      });
    }),

    applyFeatures: guarded(async () => {
      const p = project();
      const report = await withSql(p, (fp) => applyFeatures(fp));
      return {
        entities: report.entities,
        services: report.services,
        views: report.views.map((v) => ({
          name: v.name,
          version: v.version,
          changed: v.changed,
          file: v.file,
          rows: v.rows,
          newestEvent: v.newestEvent,
          unchecked: v.unchecked,
        })),
      };
    }),

    materializeFeatures: guarded(async ({ incremental, start, end, views }) => {
      if (incremental && start !== undefined)
        throw new ApiError(
          400,
          "An incremental materialisation starts where each view's last one ended (else end − TTL): leave out start, or set incremental to false.",
        );
      const p = project();
      const repo = loadFeatureRepo(p.dir);
      const done: MaterializationRecord[] = [];
      const options = { end: new Date(end), onView: (r: MaterializationRecord) => done.push(r) };
      try {
        const records = await withSql(p, (fp) =>
          online.use(p.dir, p.settings, (store) => {
            const target = materializeTarget(fp, repo, store);
            const scoped = views ? { ...options, views } : options;
            return incremental
              ? materializeIncremental(target, scoped)
              : materialize(target, { ...scoped, start: new Date(start!) });
          }),
        );
        return { records: records.map((r) => ({ ...r })) };
      } catch (e) {
        const error = asApiError(e);
        // Each view is materialised atomically on its own: say which ones were, before the failure.
        if (!(error instanceof ApiError) || !done.length) throw error;
        throw new ApiError(
          error.status,
          `${error.message}\nMaterialised before that: ${done.map((r) => r.view).join(", ")} (each view is atomic on its own; the others are as they were).`,
        );
      }
    }),

    getOnlineFeatures: guarded(async ({ features, service, entities, fullFeatureNames }) => {
      const p = project();
      const repo = repoOf(p.dir);
      return online.use(p.dir, p.settings, (store) =>
        getOnlineFeatures(
          { repo, store },
          {
            ...(service !== undefined ? { feature_service: service } : { features }),
            entities,
            full_feature_names: fullFeatureNames,
          },
        ),
      );
    }),
  };
}
