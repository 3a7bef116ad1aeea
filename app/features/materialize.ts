/**
 * Materialisation: the latest row per entity key of each feature view within
 * an event-time window, computed in DuckDB from the view's offline source and
 * streamed into the online store, atomically per view (the store's
 * contract). As Feast's `materialize` (feast/infra/offline_stores: the
 * window is `timestamp BETWEEN start AND end`, inclusive; among rows with the
 * same event time the latest created time wins) and `materialize-incremental`
 * (from each view's last materialised end, else end − TTL; from the epoch
 * when the view has no TTL).
 *
 *   await materialize(project, { start, end });            // every online view
 *   await materializeIncremental(project, { end, views: ["driver_stats"] });
 */
import { ident, type SqlSession } from "../data/sql";
import type { MetadataStore } from "../store/types";
import { checkViewSource, type SourceScope, utcTimestamp } from "./offline-source";
import { entityKey } from "./online/values";
import { ttlMs, viewJoinKeys } from "./repo";
import type {
  FeatureRepo,
  FeatureType,
  FeatureViewDefinition,
  MaterializationRecord,
  OnlineRow,
  OnlineStore,
} from "./types";

/** What a materialisation reads and writes. */
export interface MaterializeTarget extends SourceScope {
  repo: FeatureRepo;
  store: OnlineStore;
  /** A DuckDB session that may read the project's files. */
  sql: SqlSession;
  /** The view's definition version recorded by `dagwood features apply` (0 when none is recorded). */
  viewVersion?: (view: string) => number;
}

/** The target of a project opened for the feature commands (app/features/project.ts), with its versions from `features apply`. */
export function materializeTarget(
  project: {
    dir: string;
    allowedDirs: readonly string[];
    sql: SqlSession;
    metadata: Pick<MetadataStore, "featureViewVersions">;
  },
  repo: FeatureRepo,
  store: OnlineStore,
): MaterializeTarget {
  return {
    projectDir: project.dir,
    allowedDirs: project.allowedDirs,
    repo,
    store,
    sql: project.sql,
    viewVersion: (view) => project.metadata.featureViewVersions(view)[0]?.version ?? 0,
  };
}

export interface MaterializeOptions {
  start: Date;
  end: Date;
  /** Default: every view with `online` true. */
  views?: readonly string[];
  /** Called as each view is done. */
  onView?: (record: MaterializationRecord) => void;
}

/** A materialisation asked for what cannot be done (unknown view, bad window): the message says what to fix. */
export class MaterializeError extends Error {
  override name = "MaterializeError";
}

/** Rows handed to the store at a time. */
const CHUNK_ROWS = 10_000;

/** Materialises each view's window [start, end]; returns what each wrote. */
export async function materialize(
  project: MaterializeTarget,
  opts: MaterializeOptions,
): Promise<MaterializationRecord[]> {
  checkTime("start", opts.start);
  checkTime("end", opts.end);
  if (opts.start.getTime() > opts.end.getTime())
    throw new MaterializeError(
      `The window starts (${opts.start.toISOString()}) after it ends (${opts.end.toISOString()}): give a start before the end.`,
    );
  const out: MaterializationRecord[] = [];
  for (const view of onlineViews(project.repo, opts.views)) {
    const done = await materializeView(project, view, opts.start, opts.end);
    opts.onView?.(done);
    out.push(done);
  }
  return out;
}

export interface IncrementalOptions {
  end: Date;
  views?: readonly string[];
  onView?: (record: MaterializationRecord) => void;
}

/**
 * Materialises each view from its last materialised end (else end − TTL, or
 * the epoch for a view without TTL) to `end`; a view already materialised up
 * to `end` is left alone.
 */
export async function materializeIncremental(
  project: MaterializeTarget,
  opts: IncrementalOptions,
): Promise<MaterializationRecord[]> {
  checkTime("end", opts.end);
  const out: MaterializationRecord[] = [];
  for (const view of onlineViews(project.repo, opts.views)) {
    const last = (await project.store.materializations(view.name))[0];
    const ttl = ttlMs(view.ttl);
    const start = last ? new Date(last.end) : new Date(ttl === 0 ? 0 : opts.end.getTime() - ttl);
    if (start.getTime() >= opts.end.getTime()) continue;
    const done = await materializeView(project, view, start, opts.end);
    opts.onView?.(done);
    out.push(done);
  }
  return out;
}

function checkTime(name: string, t: Date): void {
  if (!(t instanceof Date) || Number.isNaN(t.getTime()))
    throw new MaterializeError(
      `The ${name} of the window is not a time: give an ISO 8601 time, e.g. 2026-01-01T00:00:00Z.`,
    );
}

/** The views to materialise, in the order asked (else every online view, by name). */
function onlineViews(repo: FeatureRepo, names: readonly string[] | undefined): FeatureViewDefinition[] {
  if (names === undefined)
    return [...repo.views.values()].filter((v) => v.online).sort((a, b) => a.name.localeCompare(b.name));
  const unknown = names.filter((n) => !repo.views.has(n));
  if (unknown.length)
    throw new MaterializeError(
      `Unknown feature view${unknown.length > 1 ? "s" : ""} ${unknown.map((n) => `"${n}"`).join(", ")} (known: ${[...repo.views.keys()].join(", ") || "none"}).`,
    );
  const offline = names.filter((n) => !repo.views.get(n)!.online);
  if (offline.length)
    throw new MaterializeError(
      `Feature view${offline.length > 1 ? "s" : ""} ${offline.map((n) => `"${n}"`).join(", ")} ${offline.length > 1 ? "are" : "is"} offline only ("online": false), so never materialised; set "online": true to serve it.`,
    );
  return [...new Set(names)].map((n) => repo.views.get(n)!);
}

/** A feature column as the online store keeps it (JSON-able; Int64 past 2^53 becomes text in entityKey/plainValue). */
function featureExpr(column: string, type: FeatureType, duckType: string): string {
  const c = ident(column);
  switch (type) {
    case "Int32":
    case "Int64":
      return `CAST(${c} AS BIGINT)`;
    case "Float32":
    case "Float64":
      return `CAST(${c} AS DOUBLE)`;
    case "String":
      return `CAST(${c} AS VARCHAR)`;
    case "Bool":
      return `CAST(${c} AS BOOLEAN)`;
    case "UnixTimestamp":
      // Milliseconds since the epoch (UTC), as the store keeps every time.
      return `epoch_ms(${utcTimestamp(column, duckType)})`;
    case "Bytes":
      return `to_base64(CAST(${c} AS BLOB))`;
  }
}

function plainValue(v: unknown): OnlineRow["values"][string] {
  if (typeof v === "bigint")
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)
      ? Number(v)
      : v.toString();
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "string" || typeof v === "boolean") return v;
  return null;
}

/** The query of the latest row per entity key with its event time in [start, end]. */
export function latestRowsSql(
  relation: string,
  view: FeatureViewDefinition,
  keys: readonly string[],
  columns: ReadonlyMap<string, string>,
  start: Date,
  end: Date,
): string {
  const ts = utcTimestamp(view.source.timestampField, columns.get(view.source.timestampField)!);
  const created = view.source.createdTimestampColumn;
  // The latest event time wins, then the latest created time (a row without one loses the tie).
  const order = created
    ? `struct_pack(t := ${ts}, c := coalesce(${utcTimestamp(created, columns.get(created)!)}, '-infinity'::TIMESTAMP))`
    : ts;
  const keyCols = keys.map((k, i) => `${ident(k)} AS k${i}`);
  const fields = view.features.map((f, i) => `f${i} := ${featureExpr(f.name, f.type, columns.get(f.name)!)}`);
  // arg_max per key is a hash aggregate: no sort of the whole source (DISTINCT ON … ORDER BY
  // sorts it, and QUALIFY row_number() = 1 trips an internal error in DuckDB's top-N window
  // optimizer on a TIMESTAMP WITH TIME ZONE event time).
  return `SELECT ${[...keys.map((_, i) => `k${i}`), "epoch_ms(r.t) AS event_ms", ...view.features.map((_, i) => `r.f${i}`)].join(", ")}
FROM (
  SELECT ${keyCols.join(", ")}, arg_max(struct_pack(${[`t := ${ts}`, ...fields].join(", ")}), ${order}) AS r
  FROM ${relation}
  WHERE ${ts} BETWEEN make_timestamp(${start.getTime() * 1000}::BIGINT) AND make_timestamp(${end.getTime() * 1000}::BIGINT)
    AND ${keys.map((k) => `${ident(k)} IS NOT NULL`).join(" AND ")}
  GROUP BY ALL
)`;
}

async function materializeView(
  project: MaterializeTarget,
  view: FeatureViewDefinition,
  start: Date,
  end: Date,
): Promise<MaterializationRecord> {
  // Checks the source against the view first: a drifted schema is refused before anything is written.
  const { relation, columns } = await checkViewSource(project.sql, project, project.repo, view);
  const keys = viewJoinKeys(project.repo, view);
  const sql = latestRowsSql(relation, view, keys, columns, start, end);
  const features = view.features.map((f) => f.name);
  async function* rows(): AsyncIterable<OnlineRow[]> {
    const result = await project.sql.connection.stream(sql);
    let chunk: OnlineRow[] = [];
    for await (const part of result.yieldRowsJs()) {
      for (const r of part) {
        const values: OnlineRow["values"] = {};
        for (let i = 0; i < features.length; i++) values[features[i]!] = plainValue(r[keys.length + 1 + i]);
        chunk.push({ key: entityKey(r.slice(0, keys.length)), eventTs: Number(r[keys.length]), values });
      }
      if (chunk.length >= CHUNK_ROWS) {
        yield chunk;
        chunk = [];
      }
    }
    if (chunk.length) yield chunk;
  }
  return await project.store.materialize(view.name, rows(), {
    view: view.name,
    version: project.viewVersion?.(view.name) ?? 0,
    start: start.toISOString(),
    end: end.toISOString(),
  });
}
