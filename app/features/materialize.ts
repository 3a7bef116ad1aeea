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
import { checkViewSource, duplicateRowsProblem, type SourceScope, utcTimestamp } from "./offline-source";
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

/** A feature column as the online store keeps it (JSON-able; Int64 past 2^53 becomes text in featureJson). */
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

/** The `values` of a row that has its `valuesJson` (OnlineRow): never read. */
const NO_VALUES: OnlineRow["values"] = Object.freeze({});

/** Rows handed to the store at a time. */
const CHUNK_ROWS = 10_000;

/** A join-key value DuckDB's vector gives (a key latestRowsSql cannot write as text) for entityKey: a DECIMAL as its number. */
function plainKey(v: unknown): unknown {
  return typeof v === "object" && v !== null && "toDouble" in v && typeof v.toDouble === "function"
    ? (v.toDouble as () => number)()
    : v;
}

/** JavaScript's safe integers (Number.MAX_SAFE_INTEGER): beyond them an integer is kept as its decimal text. */
const SAFE = `-${Number.MAX_SAFE_INTEGER} AND ${Number.MAX_SAFE_INTEGER}`;

/**
 * A feature value (featureExpr's) as the value JSON.parse gives back what
 * JSON.stringify of the value in JavaScript gave before: an integer past 2^53
 * as text, NaN and ±Infinity as null (JSON has neither; DuckDB's to_json
 * writes them bare), -0 as 0 (JSON.stringify writes -0 as 0; DuckDB's arg_max of a
 * struct already gives 0, the + 0.0 makes sure).
 */
function featureJson(value: string, type: FeatureType): string {
  switch (type) {
    case "Int32":
    case "Int64":
    case "UnixTimestamp":
      return `CASE WHEN ${value} BETWEEN ${SAFE} THEN to_json(${value}) ELSE to_json(CAST(${value} AS VARCHAR)) END`;
    case "Float32":
    case "Float64":
      return `CASE WHEN isfinite(${value}) THEN ${value} + 0.0 END`;
    default:
      return value;
  }
}

/**
 * A join key's part of the entity key's text, byte for byte as entityKey
 * (online/values.ts) writes it, or null when only entityKey can: then the key
 * is built in JavaScript from the column. Integers are JSON numbers (text past
 * 2^53), booleans true/false, a UUID its text; a string (or ENUM) is to_json's text unless it holds a
 * control character (DuckDB writes \u001F where JSON.stringify writes
 * \u001f: such keys go to entityKey). Other types (floats, dates, …) always
 * go to entityKey.
 */
function keyJson(column: string, duckType: string): string | null {
  if (INTEGER_TYPE.test(duckType))
    return `CASE WHEN ${column} BETWEEN ${SAFE} THEN CAST(${column} AS VARCHAR) ELSE '"' || CAST(${column} AS VARCHAR) || '"' END`;
  if (duckType === "BOOLEAN") return `CAST(${column} AS VARCHAR)`;
  if (duckType === "UUID") return `to_json(CAST(${column} AS VARCHAR))::VARCHAR`;
  if (duckType === "VARCHAR" || duckType.startsWith("ENUM(")) {
    const text = `to_json(CAST(${column} AS VARCHAR))::VARCHAR`;
    return `CASE WHEN NOT contains(${text}, '\\u00') THEN ${text} END`;
  }
  return null;
}

const INTEGER_TYPE =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|HUGEINT|UHUGEINT)$/;

/**
 * The query of the latest row per entity key with its event time in [start,
 * end], as the store keeps it: `key_json` (the entity key's canonical text,
 * null when JavaScript must build it from `k0`, `k1`, …, which are null
 * otherwise), `event_ms` (DOUBLE) and `vals` (the features' JSON text).
 * DuckDB writes both texts, so no row becomes a JavaScript object on the way
 * to the store; in key order (DuckDB and SQLite both compare text byte by
 * byte), so the SQLite store appends to its staging table's index instead of
 * inserting all over it, and merges it without a sort.
 */
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
  const keyCols = keys.map((k, i) => `${ident(k)} AS k${i}`);
  // The latest event time wins, then the latest created time (a row without one loses the tie).
  const order = created
    ? `struct_pack(t := ${ts}, c := coalesce(${utcTimestamp(created, columns.get(created)!)}, '-infinity'::TIMESTAMP))`
    : ts;
  const fields = view.features.map((f, i) => `f${i} := ${featureExpr(f.name, f.type, columns.get(f.name)!)}`);
  const parts = keys.map((k, i) => keyJson(`k${i}`, columns.get(k)!));
  const key = parts.every((p) => p !== null) ? `'[' || ${parts.join(` || ',' || `)} || ']'` : "NULL::VARCHAR";
  const vals = `to_json(struct_pack(${view.features.map((f, i) => `${ident(f.name)} := ${featureJson(`r.f${i}`, f.type)}`).join(", ")}))::VARCHAR`;
  // arg_max per key is a hash aggregate: no sort of the whole source (DISTINCT ON … ORDER BY
  // sorts it, and QUALIFY row_number() = 1 trips an internal error in DuckDB's top-N window
  // optimizer on a TIMESTAMP WITH TIME ZONE event time).
  return `SELECT key_json, ${keys.map((_, i) => `CASE WHEN key_json IS NULL THEN k${i} END AS k${i}`).join(", ")}, event_ms, vals
FROM (
  SELECT ${key} AS key_json, ${keys.map((_, i) => `k${i}`).join(", ")}, CAST(epoch_ms(r.t) AS DOUBLE) AS event_ms, ${vals} AS vals
  FROM (
    SELECT ${keyCols.join(", ")}, arg_max(struct_pack(${[`t := ${ts}`, ...fields].join(", ")}), ${order}) AS r
    FROM ${relation}
    WHERE ${windowCondition(view, keys, columns, start, end)}
    GROUP BY ALL
  )
)
ORDER BY key_json`;
}

/** The rows of the window [start, end] (inclusive, as Feast's BETWEEN) with every join key given. */
function windowCondition(
  view: FeatureViewDefinition,
  keys: readonly string[],
  columns: ReadonlyMap<string, string>,
  start: Date,
  end: Date,
): string {
  const ts = utcTimestamp(view.source.timestampField, columns.get(view.source.timestampField)!);
  return `${ts} BETWEEN make_timestamp(${start.getTime() * 1000}::BIGINT) AND make_timestamp(${end.getTime() * 1000}::BIGINT)
    AND ${keys.map((k) => `${ident(k)} IS NOT NULL`).join(" AND ")}`;
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
  // Rows sharing keys and event time in the window, with no created time to choose: which is the
  // key's value? Refused before anything is written, as training sets and `features apply` refuse them.
  if (!view.source.createdTimestampColumn) {
    const duplicates = await duplicateRowsProblem(
      project.sql,
      `(SELECT * FROM ${relation} WHERE ${windowCondition(view, keys, columns, start, end)})`,
      keys,
      view.source.timestampField,
    );
    if (duplicates) throw new MaterializeError(`Feature view "${view.name}" has ${duplicates}`);
  }
  const sql = latestRowsSql(relation, view, keys, columns, start, end);
  async function* rows(): AsyncIterable<OnlineRow[]> {
    const result = await project.sql.connection.stream(sql);
    const n = keys.length;
    let chunk: OnlineRow[] = [];
    for (;;) {
      const data = await result.fetchChunk();
      if (!data || data.rowCount === 0) break;
      // Column by column from DuckDB's vectors: no row arrays, no value conversions, no objects.
      const keyText = data.getColumnVector(0);
      const keyParts = keys.map((_, i) => data.getColumnVector(1 + i));
      const eventMs = data.getColumnVector(1 + n);
      const vals = data.getColumnVector(2 + n);
      for (let j = 0; j < data.rowCount; j++)
        chunk.push({
          key:
            (keyText.getItem(j) as string | null) ?? entityKey(keyParts.map((v) => plainKey(v.getItem(j)))),
          eventTs: eventMs.getItem(j) as number,
          values: NO_VALUES,
          valuesJson: vals.getItem(j) as string,
        });
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
