import { randomUUID } from "node:crypto";
import { z } from "zod";
import { ident, literal } from "../app/data/sql";
import { BlockError, defineBlock } from "../app/engine/block";
import { MaterializeError, materialize, materializeIncremental } from "../app/features/materialize";
import { FeatureSourceError } from "../app/features/offline-source";
import { openOnlineStore } from "../app/features/online/open";
import { OnlineStoreError } from "../app/features/online/values";
import { FeatureRepoError, loadFeatureRepo } from "../app/features/repo";
import { FEATURE_NAME } from "../app/features/types";
import { readProjectSettings } from "../app/project/project";

const isoTime = z
  .string()
  .refine(
    (t) => t === "" || (/^\d{4}-\d\d-\d\d/.test(t) && !Number.isNaN(Date.parse(t))),
    "an ISO 8601 time, e.g. 2026-01-31T00:00:00Z",
  );

const params = z.object({
  mode: z
    .enum(["incremental", "window"])
    .default("incremental")
    .describe(
      "incremental: from each view's last materialised end (else end − TTL); window: from start to end",
    )
    .meta({ order: 1 }),
  start: isoTime.default("").describe("Window start (ISO 8601; window mode only)").meta({ order: 2 }),
  end: isoTime.default("").describe("Window end (ISO 8601); empty: when the node runs").meta({ order: 3 }),
  views: z
    .array(z.string().regex(FEATURE_NAME, "a feature view name"))
    .default([])
    .describe("The feature views to materialise; empty: every online view")
    .meta({ order: 4 }),
});

/** A time as the block reads it: UTC when it names no zone (as Feast does). */
const time = (t: string): Date =>
  new Date(/(Z|[+-]\d\d:?\d\d)$/i.test(t) || /^\d{4}-\d\d-\d\d$/.test(t) ? t : `${t}Z`);

export default defineBlock({
  kind: "features.materialize",
  version: 1,
  title: "Materialise features",
  category: "Features",
  description:
    "Writes the latest row per entity key of each feature view (features/*.json) within an event-time window into the project's online store (dagwood.json \"online\": SQLite, or Redis), atomically per view: lookups see the old values until the new ones are all in. Connect a features.view block's table to materialise after it. Outputs one row per view materialised.",
  inputs: {
    after: {
      type: "table",
      optional: true,
      description:
        "Optional: a table to wait for (e.g. the features.view block that writes the view's source)",
    },
  },
  outputs: {
    report: { type: "table", description: "view, version, start, end, rows, ms per view materialised" },
  },
  params,
  // The online store lies outside the workspace and its sources may change at any time: the node runs every time.
  async externalFingerprint() {
    return randomUUID();
  },
  async run(ctx, _inputs, p) {
    if (p.mode === "window" && !p.start) throw new BlockError('Window mode needs "start": an ISO 8601 time.');
    if (p.mode === "incremental" && p.start)
      throw new BlockError(
        '"start" is for window mode; incremental mode starts where the last materialisation ended.',
      );
    const end = p.end ? time(p.end) : new Date();
    const settings = readProjectSettings(ctx.projectDir);
    // Each view's version as `dagwood features apply` recorded it (newest first per view), from the run's metadata store.
    const versions = new Map<string, number>();
    for (const v of ctx.featureViewVersions?.() ?? [])
      if (!versions.has(v.view)) versions.set(v.view, v.version);
    let records: Awaited<ReturnType<typeof materialize>>;
    try {
      const repo = loadFeatureRepo(ctx.projectDir);
      const store = openOnlineStore({ dir: ctx.projectDir, settings });
      try {
        const target = {
          projectDir: ctx.projectDir,
          resolvePath: (path: string) => ctx.resolvePath(path),
          repo,
          store,
          sql: ctx.sql,
          viewVersion: (view: string) => versions.get(view) ?? 0,
        };
        const views = p.views.length ? p.views : undefined;
        const onView = (r: { view: string; rows: number }) =>
          ctx.log(`Materialised ${r.rows.toLocaleString("en-US")} rows of ${r.view}`);
        records =
          p.mode === "window"
            ? await materialize(target, { start: time(p.start), end, views, onView })
            : await materializeIncremental(target, { end, views, onView });
      } finally {
        await store.close();
      }
    } catch (e) {
      if (
        e instanceof MaterializeError ||
        e instanceof FeatureRepoError ||
        e instanceof FeatureSourceError ||
        e instanceof OnlineStoreError
      )
        throw new BlockError(e.message);
      throw e;
    }
    const out = ctx.newTable("report");
    const rows = records.map(
      (r) =>
        `(${literal(r.view)}, ${r.version}, ${literal(r.start)}::TIMESTAMPTZ, ${literal(r.end)}::TIMESTAMPTZ, ${r.rows}, ${r.ms})`,
    );
    await ctx.sql.run(
      `CREATE OR REPLACE TABLE ${ident(out)} (view VARCHAR, version INTEGER, start TIMESTAMPTZ, "end" TIMESTAMPTZ, rows BIGINT, ms DOUBLE)`,
    );
    if (rows.length) await ctx.sql.run(`INSERT INTO ${ident(out)} VALUES ${rows.join(", ")}`);
    return { report: { type: "table", name: out } };
  },
});
