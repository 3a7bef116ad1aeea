import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { checkFileReference } from "../app/data/sql-files";
import { BlockError, defineBlock, type FingerprintContext, requireTable } from "../app/engine/block";
import { viewDigest } from "../app/features/apply";
import {
  buildTrainingSet,
  DEFAULT_ENTITY_TIMESTAMP,
  DUCKDB_TYPE,
  featureColumn,
} from "../app/features/offline";
import { offlineTableFile, pushedFiles } from "../app/features/offline-source";
import { loadFeatureRepo, resolveFeatureRefs, viewJoinKeys } from "../app/features/repo";
import { readViewTags, viewTagsFile } from "../app/privacy/tags";
import type { ColumnTag } from "../app/privacy/types";

const params = z
  .object({
    features: z
      .array(z.string())
      .default([])
      .describe("Features as view:feature (or view for all of its features); or name a service")
      .meta({ order: 1 }),
    service: z.string().default("").describe("A feature service (instead of features)").meta({ order: 2 }),
    timestampColumn: z
      .string()
      .min(1)
      .default(DEFAULT_ENTITY_TIMESTAMP)
      .describe("The entity table's event-time column")
      .meta({ order: 3 }),
    fullFeatureNames: z
      .boolean()
      .default(false)
      .describe("Name columns view__feature (Feast's full_feature_names)")
      .meta({ order: 4 }),
  })
  .refine((p) => p.features.length > 0 !== (p.service !== ""), {
    message: "Name either features (view:feature) or a feature service, not both",
  });

/** The request as the feature store takes it: features or a service. */
const requestOf = (p: z.output<typeof params>) =>
  p.service !== "" ? { service: p.service } : { features: p.features };

/**
 * The files a glob source matches, each with its content hash: the files
 * DuckDB's own glob() lists (app/data/sql-files.ts, as transform.sql finds
 * the files its query reads), so a file added, removed or changed changes
 * the key. Hashes are memoized by size and mtime, so an unchanged file is
 * not read again.
 */
async function globState(ctx: FingerprintContext, path: string): Promise<string> {
  const abs = ctx.resolvePath(path);
  let files: string[];
  try {
    files = await checkFileReference({ value: abs, via: "read_parquet" }, (f) => ctx.resolvePath(f));
  } catch (e) {
    throw new BlockError(`The source ${path}: ${(e as Error).message}`);
  }
  const hashes = await Promise.all(files.sort().map(async (f) => `${f}:${await ctx.hashFile(f)}`));
  return `glob ${hashes.join(",")}`;
}

/** Any feature-store error (definitions, request, source) is the user's to fix: shown as is. */
async function asBlockError<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof BlockError || !(e instanceof Error) || !/^(Feature|TrainingSet)/.test(e.name)) throw e;
    throw new BlockError(e.message);
  }
}

export default defineBlock({
  kind: "features.training-set",
  version: 1,
  title: "Training set",
  category: "Features",
  description:
    "Joins features onto entity rows point-in-time (Feast's historical retrieval): each row gets each view's latest features at or before its timestamp and within the view's TTL; later rows never leak in. The entity table holds the join keys, an event timestamp and any labels.",
  inputs: { entities: { type: "table" } },
  outputs: { out: { type: "table" } },
  params,
  // The entity columns, then each feature as its view declares it (the run casts to that type).
  outputSchema(ctx, inputs, p) {
    const param = p.service !== "" ? "service" : "features";
    let repo: ReturnType<typeof loadFeatureRepo>;
    let refs: ReturnType<typeof resolveFeatureRefs>;
    try {
      repo = loadFeatureRepo(ctx.projectDir);
      refs = resolveFeatureRefs(repo, requestOf(p));
    } catch (e) {
      ctx.problem([param], (e as Error).message);
      return { out: undefined };
    }
    ctx.checkColumns("entities", ["timestampColumn"], p.timestampColumn);
    const input = inputs.entities;
    if (!input || input.open) return { out: undefined };
    const have = new Set(input.columns.map((c) => c.name));
    for (const view of new Set(refs.map((r) => r.view))) {
      const missing = viewJoinKeys(repo, repo.views.get(view)!).filter((k) => !have.has(k));
      if (missing.length)
        ctx.problem(
          [param],
          `The entity table lacks the join key${missing.length > 1 ? "s" : ""} ${missing.map((k) => `"${k}"`).join(", ")} of feature view "${view}"`,
        );
    }
    const features = refs.map((r) => ({
      name: featureColumn(r, p.fullFeatureNames),
      type: DUCKDB_TYPE[r.type],
    }));
    return { out: { columns: [...input.columns, ...features] } };
  },
  // The views' definitions, their sources' bytes (every file a glob matches) and the rows pushed to them.
  async externalFingerprint(ctx, p) {
    return asBlockError(async () => {
      const repo = loadFeatureRepo(ctx.projectDir);
      const views = [...new Set(resolveFeatureRefs(repo, requestOf(p)).map((r) => r.view))];
      const parts: string[] = [];
      for (const name of views) {
        const view = repo.views.get(name)!;
        const source = view.source;
        let state: string;
        if ("block" in source) {
          const file = offlineTableFile(ctx.projectDir, name);
          state = existsSync(file) ? await ctx.hashFile(file) : "none";
          // The view's column tags (issue 19, app/privacy/tags.ts), when it has any.
          const tags = viewTagsFile(dirname(file));
          if (existsSync(tags)) state += `:tags ${await ctx.hashFile(tags)}`;
        } else if (/[*?[]/.test(source.path)) {
          state = await globState(ctx, source.path);
        } else {
          const abs = ctx.resolvePath(source.path);
          state = existsSync(abs) ? await ctx.hashFile(abs) : "none";
        }
        // A pushed file is never rewritten: its name (time and UUID) and size identify it.
        const pushed = pushedFiles(ctx.projectDir, name).map((f) => `${f.path}:${f.size}`);
        parts.push(`${name}:${viewDigest(repo, view)}:${state}:${pushed.join(",")}`);
      }
      return parts.join("\0");
    });
  },
  async run(ctx, inputs, p) {
    const entities = requireTable(inputs, "entities");
    const out = ctx.newTable("out");
    const { features } = await asBlockError(async () =>
      buildTrainingSet(
        ctx.sql,
        { projectDir: ctx.projectDir, resolvePath: (path) => ctx.resolvePath(path) },
        loadFeatureRepo(ctx.projectDir),
        {
          entitiesTable: entities.name,
          ...requestOf(p),
          timestampColumn: p.timestampColumn,
          fullFeatureNames: p.fullFeatureNames,
        },
        out,
      ),
    );
    ctx.log(`Joined ${features.length} features: ${features.map((f) => f.column).join(", ")}`);
    // Each feature column takes the tags of its view's column (issue 19); renamed view__feature, a step.
    const tags: Record<string, ColumnTag[]> = {};
    for (const f of features) {
      const found = readViewTags(dirname(offlineTableFile(ctx.projectDir, f.view)))[f.feature] ?? [];
      const hop = f.column === f.feature ? [] : [{ node: ctx.nodeId, column: f.column }];
      if (found.length) tags[f.column] = found.map((t) => ({ ...t, via: [...t.via, ...hop] }));
    }
    return { out: { type: "table", name: out, ...(Object.keys(tags).length ? { tags } : {}) } };
  },
});
