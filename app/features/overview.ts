/**
 * The feature store at a glance (the Api's `listFeatures`, the app's Features
 * view): the definitions as they stand in features/*.json with every problem
 * in them, each view's applied version and whether its file changed since,
 * its freshness (last materialisation, newest event time and rows of its
 * source), the services with the registered model versions that use them,
 * and the online store with its materialisation history.
 *
 * Never fails for what the user can fix: bad definitions are listed as
 * problems (the rest is shown as far as it could be read), a source that
 * cannot be read is the view's `sourceError`, an online store that cannot be
 * reached is `online.error`.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { SqlSession } from "../data/sql";
import { Workspace } from "../data/workspace";
import { type ProjectSettings, readProjectSettings, STORE_DIR } from "../project/project";
import { openProjectStore } from "../store/open";
import type { MetadataStore, Registry } from "../store/types";
import type {
  FeatureEntitySummary,
  FeatureServiceSummary,
  FeaturesOverview,
  FeatureValueType,
  FeatureViewSummary,
} from "../values/features";
import { viewDigest } from "./apply";
import {
  FeatureSourceError,
  sourceColumns,
  sourceProblems,
  TIMESTAMP_TYPE,
  utcTimestamp,
  viewSourceParts,
} from "./offline-source";
import { ONLINE_SQLITE, openOnlineStore } from "./online/open";
import { checkFeatureRepo } from "./repo";
import type {
  FeatureRepo,
  FeatureType,
  FeatureViewDefinition,
  MaterializationRecord,
  OnlineStore,
} from "./types";

/** The materialisations the overview lists at most. */
export const OVERVIEW_MATERIALIZATIONS = 100;

const VALUE_TYPE: Record<FeatureType, FeatureValueType> = {
  Int32: "int32",
  Int64: "int64",
  Float32: "float32",
  Float64: "float64",
  String: "string",
  Bool: "bool",
  Bytes: "bytes",
  UnixTimestamp: "unix_timestamp",
};

/** What the overview reads. */
export interface OverviewContext {
  dir: string;
  allowedDirs: readonly string[];
  settings: ProjectSettings;
  metadata: {
    featureViewVersions: MetadataStore["featureViewVersions"];
    registry: Pick<Registry, "listModels" | "listVersions">;
  };
  /** A DuckDB session that may read the project's files (the views' sources). */
  sql: SqlSession;
  /** The project's online store; may throw (it cannot be opened), which the overview reports. */
  store: () => Promise<OnlineStore>;
}

/** Where the online store dagwood.json names is, without a password in a Redis URL. */
export function onlineLocation(settings: ProjectSettings): FeaturesOverview["online"]["location"] {
  const online = settings.online;
  if (online.kind === "sqlite") return `.dagwood/${ONLINE_SQLITE}`;
  try {
    const url = new URL(online.url);
    url.username = "";
    url.password = "";
    return url.toString();
  } catch {
    return "(an unparsable URL)";
  }
}

export async function featuresOverview(ctx: OverviewContext): Promise<FeaturesOverview> {
  const { repo, problems } = checkFeatureRepo(ctx.dir);

  const online: FeaturesOverview["online"] = {
    kind: ctx.settings.online.kind,
    location: onlineLocation(ctx.settings),
    error: null,
  };
  let history: MaterializationRecord[] = [];
  try {
    history = await (await ctx.store()).materializations();
  } catch (e) {
    online.error = (e as Error).message;
  }
  // The store lists each view's records newest first: the first one seen is the view's latest.
  const lastOf = new Map<string, MaterializationRecord>();
  for (const r of history) if (!lastOf.has(r.view)) lastOf.set(r.view, r);

  const applied = new Map<string, { version: number; digest: string }>();
  for (const v of ctx.metadata.featureViewVersions()) {
    const seen = applied.get(v.view);
    if (!seen || v.version > seen.version) applied.set(v.view, v);
  }

  const views: FeatureViewSummary[] = [];
  for (const view of repo.views.values()) {
    views.push(await viewSummary(ctx, repo, view, applied.get(view.name), lastOf.get(view.name) ?? null));
  }

  return {
    problems: problems.map((p) => ({ file: p.file, path: p.path, message: p.message })),
    online,
    entities: [...repo.entities.values()].map(
      (e): FeatureEntitySummary => ({
        name: e.name,
        joinKeys: e.joinKeys,
        valueType: e.valueType ? VALUE_TYPE[e.valueType] : null,
        description: e.description,
        owner: e.owner ?? null,
        tags: e.tags,
        file: repo.files.get(`entity:${e.name}`) ?? "",
      }),
    ),
    views,
    services: serviceSummaries(ctx, repo),
    materializations: history
      .map((r, i) => ({ r, i }))
      // Newest first across views; records of one instant keep the store's order (newest first per view).
      .sort((a, b) => (a.r.at < b.r.at ? 1 : a.r.at > b.r.at ? -1 : a.i - b.i))
      .slice(0, OVERVIEW_MATERIALIZATIONS)
      .map(({ r }) => ({ ...r })),
  };
}

/** A view's entities all defined (a view naming an unknown one is a listed problem; its keys cannot be known). */
function entitiesKnown(repo: FeatureRepo, view: FeatureViewDefinition): boolean {
  return view.entities.every((e) => repo.entities.has(e));
}

async function viewSummary(
  ctx: OverviewContext,
  repo: FeatureRepo,
  view: FeatureViewDefinition,
  applied: { version: number; digest: string } | undefined,
  lastMaterialized: MaterializationRecord | null,
): Promise<FeatureViewSummary> {
  const known = entitiesKnown(repo, view);
  const source = view.source;
  return {
    name: view.name,
    file: repo.files.get(`feature view:${view.name}`) ?? "",
    entities: view.entities,
    joinKeys: view.entities.flatMap((e) => repo.entities.get(e)?.joinKeys ?? []),
    features: view.features.map((f) => ({ name: f.name, type: VALUE_TYPE[f.type] })),
    ttl: view.ttl,
    online: view.online,
    owner: view.owner ?? null,
    description: view.description,
    tags: view.tags,
    source:
      "block" in source
        ? {
            kind: "block",
            timestampField: source.timestampField,
            createdTimestampColumn: source.createdTimestampColumn ?? null,
          }
        : {
            kind: "file",
            path: source.path,
            timestampField: source.timestampField,
            createdTimestampColumn: source.createdTimestampColumn ?? null,
          },
    version: applied?.version ?? null,
    // An unknown entity cannot have been applied: the definition differs from whatever was.
    changedSinceApply: applied !== undefined && (!known || viewDigest(repo, view) !== applied.digest),
    freshness: {
      lastMaterialized: lastMaterialized ? { ...lastMaterialized } : null,
      ...(await sourceStats(ctx, repo, view)),
    },
  };
}

/** Rows and newest event time of the view's source; what keeps it from being read, or from fitting the view. */
async function sourceStats(
  ctx: OverviewContext,
  repo: FeatureRepo,
  view: FeatureViewDefinition,
): Promise<{ newestEvent: string | null; rows: number | null; sourceError: string | null }> {
  try {
    const parts = viewSourceParts({ projectDir: ctx.dir, allowedDirs: ctx.allowedDirs }, view);
    const relation = parts.relation;
    const columns = await sourceColumns(ctx.sql, relation, view.name);
    const ts = view.source.timestampField;
    const tsType = columns.get(ts);
    const newest =
      tsType !== undefined && TIMESTAMP_TYPE.test(tsType)
        ? `epoch_ms(max(${utcTimestamp(ts, tsType)}))`
        : "NULL::BIGINT";
    const stats = await ctx.sql.one<{ n: number | bigint; newest: number | bigint | null }>(
      `SELECT count(*) AS n, ${newest} AS newest FROM ${relation}`,
    );
    // The source and the rows pushed offline each checked on their own, as apply checks them: a column
    // the source lost is not hidden by pushed rows that have it.
    const drift = entitiesKnown(repo, view)
      ? [
          ...(parts.source
            ? sourceProblems(repo, view, await sourceColumns(ctx.sql, parts.source, view.name))
            : []),
          ...(parts.pushed
            ? sourceProblems(repo, view, await sourceColumns(ctx.sql, parts.pushed, view.name)).map(
                (p) => `rows pushed offline: ${p}`,
              )
            : []),
        ]
      : tsType === undefined
        ? [`timestamp field "${ts}" is not a column of the source`]
        : [];
    return {
      rows: Number(stats.n),
      newestEvent: stats.newest === null ? null : new Date(Number(stats.newest)).toISOString(),
      sourceError: drift.length
        ? `The source does not match the view: ${drift.join("; ")}. Fix the source or the definition, then run apply.`
        : null,
    };
  } catch (e) {
    if (e instanceof FeatureSourceError) return { newestEvent: null, rows: null, sourceError: e.message };
    // DuckDB failing on the source (a damaged file, a CSV it cannot parse): the source's fault, not the call's.
    return {
      newestEvent: null,
      rows: null,
      sourceError: `Feature view "${view.name}": DuckDB cannot read its source: ${(e as Error).message}`,
    };
  }
}

function serviceSummaries(ctx: OverviewContext, repo: FeatureRepo): FeatureServiceSummary[] {
  const models = modelsByService(ctx.metadata);
  return [...repo.services.values()].map((s) => {
    const byView = new Map<string, string[]>();
    for (const ref of s.features) {
      const [viewName, feature] = ref.split(":") as [string, string | undefined];
      const list = byView.get(viewName) ?? [];
      byView.set(viewName, list);
      // A whole view: all of its features (none when the view is unknown: a listed problem).
      const names =
        feature !== undefined ? [feature] : (repo.views.get(viewName)?.features.map((f) => f.name) ?? []);
      for (const n of names) if (!list.includes(n)) list.push(n);
    }
    return {
      name: s.name,
      file: repo.files.get(`feature service:${s.name}`) ?? "",
      description: s.description,
      owner: s.owner ?? null,
      tags: s.tags,
      features: [...byView].map(([view, features]) => ({ view, features })),
      models: models.get(s.name) ?? [],
    };
  });
}

/** The registered (not archived) model versions of each feature service, newest first. */
function modelsByService(
  metadata: OverviewContext["metadata"],
): Map<string, FeatureServiceSummary["models"]> {
  const found: { service: string; name: string; version: number; aliases: string[]; createdAt: string }[] =
    [];
  for (const model of metadata.registry.listModels()) {
    for (const v of metadata.registry.listVersions(model.name)) {
      if (v.status === "archived" || !v.featureService) continue;
      found.push({
        service: v.featureService,
        name: v.name,
        version: v.version,
        aliases: v.aliases,
        createdAt: v.createdAt,
      });
    }
  }
  found.sort((a, b) =>
    a.createdAt !== b.createdAt
      ? a.createdAt < b.createdAt
        ? 1
        : -1
      : a.name !== b.name
        ? a.name.localeCompare(b.name)
        : b.version - a.version,
  );
  const out = new Map<string, FeatureServiceSummary["models"]>();
  for (const f of found) {
    const list = out.get(f.service) ?? [];
    out.set(f.service, list);
    list.push({ name: f.name, version: f.version, aliases: f.aliases });
  }
  return out;
}

/**
 * The overview of a project read from its folder alone, for the CLI
 * (`dagwood features list --json`): a DuckDB session of its own, closed
 * after; nothing is created (no metadata store, no online store file) when
 * the project has none yet.
 */
export async function readFeaturesOverview(projectDir: string): Promise<FeaturesOverview> {
  const dir = resolve(projectDir);
  const settings = readProjectSettings(dir);
  const allowedDirs = [dir, ...settings.dataFolders.map((d) => resolve(dir, d))];
  const metadata = openProjectStore(dir, settings, { existingOnly: true }) ?? null;
  let store: OnlineStore | null = null;
  try {
    const workspace = await Workspace.open({ path: ":memory:", allowedDirs });
    try {
      const sql = await workspace.session();
      try {
        return await featuresOverview({
          dir,
          allowedDirs,
          settings,
          metadata: metadata ?? {
            featureViewVersions: () => [],
            registry: { listModels: () => [], listVersions: () => [] },
          },
          sql,
          store: async () => {
            // A SQLite store not made yet has no history: it is not created to say so.
            if (settings.online.kind === "sqlite" && !existsSync(join(dir, STORE_DIR, ONLINE_SQLITE)))
              return { materializations: async () => [] } as unknown as OnlineStore;
            store = openOnlineStore({ dir, settings });
            return store;
          },
        });
      } finally {
        sql.close();
      }
    } finally {
      workspace.close();
    }
  } finally {
    await (store as OnlineStore | null)?.close();
    metadata?.close();
  }
}
