import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { ident, literal } from "../app/data/sql";
import { BlockError, defineBlock, requireTable } from "../app/engine/block";
import { viewDigest } from "../app/features/apply";
import {
  duplicateRowsProblem,
  offlineTableFile,
  pushedDir,
  pushedFiles,
  sourceProblems,
} from "../app/features/offline-source";
import { loadFeatureRepo, viewJoinKeys } from "../app/features/repo";
import type { FeatureRepo, FeatureViewDefinition } from "../app/features/types";
import { viewTagsFile, writeViewTags } from "../app/privacy/tags";

/** The view `name` of the project, which must take its source from this block. */
function blockView(repo: FeatureRepo, name: string): FeatureViewDefinition {
  const view = repo.views.get(name);
  if (!view) {
    const known = [...repo.views.keys()];
    throw new BlockError(
      `No feature view "${name}" in features/*.json (known: ${known.length ? known.join(", ") : "none"})`,
    );
  }
  if (!("block" in view.source))
    throw new BlockError(
      `Feature view "${name}" reads ${view.source.path}, not a block's table: set its source to { "block": true, "timestampField": … } to produce it here`,
    );
  return view;
}

function repoOf(projectDir: string): FeatureRepo {
  try {
    return loadFeatureRepo(projectDir);
  } catch (e) {
    throw new BlockError((e as Error).message);
  }
}

export default defineBlock({
  kind: "features.view",
  version: 1,
  title: "Feature view",
  category: "Features",
  description:
    "Writes its input as the offline table of a feature view (features/*.json, source { block: true }): training sets and materialisation read it from there. The input must have the view's join keys, timestamps and features with fitting types.",
  inputs: { in: { type: "table" } },
  outputs: { out: { type: "table" } },
  params: z.object({
    view: z
      .string()
      .min(1, "Name the feature view this table is the source of")
      .describe("The feature view (in features/*.json) whose source this table is")
      .meta({ order: 1 }),
  }),
  outputSchema: (_ctx, inputs) => ({ out: inputs.in }),
  // The offline table is state this block leaves behind: the view's definition and the file as written.
  async externalFingerprint(ctx, params) {
    const repo = repoOf(ctx.projectDir);
    const view = blockView(repo, params.view);
    const file = offlineTableFile(ctx.projectDir, view.name);
    const state = `${viewDigest(repo, view)}\0${existsSync(file) ? await ctx.hashFile(file) : "none"}`;
    // The column tags written beside it (app/privacy/tags.ts), when there are any.
    const tags = viewTagsFile(dirname(file));
    return existsSync(tags) ? `${state}\0tags:${await ctx.hashFile(tags)}` : state;
  },
  async run(ctx, inputs, params) {
    const input = requireTable(inputs, "in");
    const repo = repoOf(ctx.projectDir);
    const view = blockView(repo, params.view);
    const columns = new Map((await ctx.sql.columns(input.name)).map((c) => [c.name, c.type]));
    const problems = sourceProblems(repo, view, columns);
    if (problems.length)
      throw new BlockError(`The table does not fit feature view "${view.name}":\n  ${problems.join("\n  ")}`);
    // Without a created time, rows sharing keys and event time leave no one value: refused here, where
    // the table is made, rather than by every training set that reads it.
    if (!view.source.createdTimestampColumn) {
      const keys = viewJoinKeys(repo, view);
      const tsField = view.source.timestampField;
      const duplicates = await duplicateRowsProblem(ctx.sql, ident(input.name), keys, tsField);
      if (duplicates) throw new BlockError(`The table for feature view "${view.name}" has ${duplicates}`);
      const pushed = pushedFiles(ctx.projectDir, view.name);
      if (pushed.length) {
        const cols = [...keys, tsField].map(ident).join(", ");
        const both = `(SELECT ${cols} FROM ${ident(input.name)} UNION ALL BY NAME SELECT ${cols} FROM read_parquet([${pushed.map((f) => literal(f.path)).join(", ")}], union_by_name = true))`;
        const clash = await duplicateRowsProblem(ctx.sql, both, keys, tsField);
        if (clash)
          throw new BlockError(
            `The table and the rows pushed offline to feature view "${view.name}" (${pushedDir(ctx.projectDir, view.name)}) together have ${clash}. Pushed rows stay beside the pipeline's table: leave such rows out of the table, or move the pushed files away.`,
          );
      }
    }
    const file = offlineTableFile(ctx.projectDir, view.name);
    mkdirSync(dirname(file), { recursive: true });
    // Written beside, then renamed over the old table: readers see the old one or the new one, whole.
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
    try {
      await ctx.sql.run(`COPY (SELECT * FROM ${ident(input.name)}) TO ${literal(tmp)} (FORMAT PARQUET)`);
      renameSync(tmp, file);
    } finally {
      rmSync(tmp, { force: true });
    }
    // The input's column tags go beside the table, for the training sets that read it (issue 19).
    await writeViewTags(dirname(file), input.columns);
    const { n } = await ctx.sql.one<{ n: number }>(`SELECT count(*) AS n FROM ${ident(input.name)}`);
    ctx.log(`Wrote ${n} rows as the offline table of feature view "${view.name}"`);
    return { out: input };
  },
});
