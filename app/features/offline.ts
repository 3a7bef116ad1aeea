/**
 * Point-in-time-correct training sets (Feast's `get_historical_features`):
 * for each entity row, each feature view contributes its latest row with the
 * same join keys whose event time is at or before the entity row's, and no
 * older than the view's TTL (else the features are null); among rows with
 * the same keys and event time the latest created time wins. All of it is
 * one DuckDB query, an `ASOF LEFT JOIN` per view
 * (https://duckdb.org/docs/stable/guides/sql_features/asof_join).
 *
 * Columns are named as Feast names them: the feature's name, or
 * `view__feature` with full feature names (Feast's `full_feature_names`);
 * names that collide without full names are refused, as Feast refuses them
 * (FeatureNameCollisionError).
 */
import { ident, type SqlSession } from "../data/sql";
import {
  checkViewSource,
  duplicateRowsProblem,
  type SourceScope,
  TIMESTAMP_TYPE,
  utcTimestamp,
} from "./offline-source";
import { type FeatureRef, resolveFeatureRefs, ttlMs, viewJoinKeys } from "./repo";
import type { FeatureRepo, FeatureType } from "./types";

/** The entity table's event-time column when none is named (Feast's entity_df convention). */
export const DEFAULT_ENTITY_TIMESTAMP = "event_timestamp";

export interface TrainingSetRequest {
  /** A DuckDB table with the join keys, an event timestamp and any labels. */
  entitiesTable: string;
  /** `view:feature` or `view` references; or `service`. */
  features?: readonly string[];
  service?: string;
  /** `view__feature` column names (Feast's full_feature_names). */
  fullFeatureNames?: boolean;
  /** The entity table's event-time column (default "event_timestamp"). */
  timestampColumn?: string;
}

/** The training set cannot be built from this request: the message says what to change. */
export class TrainingSetError extends Error {
  override name = "TrainingSetError";
}

/** One view's part of the join, as trainingSetSql needs it. */
export interface ViewJoin {
  view: string;
  /** A DuckDB table expression for the view's source. */
  relation: string;
  joinKeys: string[];
  /** The source's event-time column and its DuckDB type. */
  timestamp: { column: string; type: string };
  created?: { column: string; type: string };
  /** 0: no limit. */
  ttlMs: number;
  /** Source feature column (its DuckDB type and the declared Feast type) → output column. */
  features: { feature: string; column: string; sourceType: string; type: FeatureType }[];
}

/** The DuckDB type a training set gives each Feast type (the column has the view's declared type). */
export const DUCKDB_TYPE: Record<FeatureType, string> = {
  Int32: "INTEGER",
  Int64: "BIGINT",
  Float32: "FLOAT",
  Float64: "DOUBLE",
  String: "VARCHAR",
  Bool: "BOOLEAN",
  UnixTimestamp: "TIMESTAMP",
  Bytes: "BLOB",
};

/** A source column as its declared Feast type (the check before made sure it fits). */
function featureValue(column: string, sourceType: string, type: FeatureType): string {
  const target = DUCKDB_TYPE[type];
  if (sourceType === target) return ident(column);
  if (type === "UnixTimestamp") return utcTimestamp(column, sourceType);
  return `CAST(${ident(column)} AS ${target})`;
}

/** The output column of a feature, as Feast names it. */
export function featureColumn(ref: { view: string; feature: string }, fullFeatureNames: boolean): string {
  return fullFeatureNames ? `${ref.view}__${ref.feature}` : ref.feature;
}

/** The column that carries each entity row's place through the join (dropped at the end). */
export const ENTITY_ROW = "__dagwood_row";

/**
 * The point-in-time join as one SELECT: every entity column, then the
 * features in the order `joins` lists them, then ENTITY_ROW, the entity
 * row's place (`entities.row`, e.g. `rowid`), to order the rows by. Pure SQL
 * building (no checks): buildTrainingSet checks the request and the sources
 * first.
 *
 * Among a view's rows sharing keys and event time the latest created wins
 * (Feast's created_timestamp_column, a missing created time losing): the
 * ASOF JOIN's inequality is on (event time, created time) against (entity
 * time, +infinity), so it takes the latest event time at or before the
 * entity's and, among rows at that time, the latest created, with no pass
 * to de-duplicate the source first.
 */
export function trainingSetSql(
  entities: { table: string; timestamp: { column: string; type: string }; row: string },
  joins: readonly ViewJoin[],
): string {
  const ctes: string[] = [];
  const entityTs = utcTimestamp(entities.timestamp.column, entities.timestamp.type);
  const plainEntityTs = entityTs === ident(entities.timestamp.column);
  const eTs = plainEntityTs ? `__e.${ident(entities.timestamp.column)}` : "__e.__dagwood_ets";
  const extra = [`${entities.row} AS ${ENTITY_ROW}`];
  if (!plainEntityTs) extra.push(`${entityTs} AS __dagwood_ets`);
  if (joins.some((j) => j.created))
    extra.push(`struct_pack(t := ${entityTs}, c := 'infinity'::TIMESTAMP) AS __dagwood_ek`);
  const added = extra.map((e) => e.slice(e.lastIndexOf(" AS ") + 4));
  ctes.push(`__e AS (SELECT *, ${extra.join(", ")} FROM ${ident(entities.table)})`);
  const selects: string[] = [`__e.* EXCLUDE (${added.join(", ")})`];
  const from: string[] = ["__e"];
  joins.forEach((j, i) => {
    const alias = `__v${i}`;
    const keys = j.joinKeys.map(ident);
    const ts = utcTimestamp(j.timestamp.column, j.timestamp.type);
    const cols = [
      ...keys,
      `${ts} AS __ts`,
      ...(j.created
        ? [
            `struct_pack(t := ${ts}, c := coalesce(${utcTimestamp(j.created.column, j.created.type)}, '-infinity'::TIMESTAMP)) AS __k`,
          ]
        : []),
      ...j.features.map(
        (f) => `${featureValue(f.feature, f.sourceType, f.type)} AS ${ident(`__f_${f.column}`)}`,
      ),
    ];
    ctes.push(`${alias} AS (SELECT ${cols.join(", ")} FROM ${j.relation})`);
    const on = [
      ...j.joinKeys.map((k) => `__e.${ident(k)} = ${alias}.${ident(k)}`),
      j.created ? `__e.__dagwood_ek >= ${alias}.__k` : `${eTs} >= ${alias}.__ts`,
    ];
    from.push(`ASOF LEFT JOIN ${alias} ON ${on.join(" AND ")}`);
    for (const f of j.features) {
      const value = `${alias}.${ident(`__f_${f.column}`)}`;
      selects.push(
        j.ttlMs > 0
          ? `CASE WHEN ${alias}.__ts >= ${eTs} - INTERVAL (${j.ttlMs}) MILLISECOND THEN ${value} END AS ${ident(f.column)}`
          : `${value} AS ${ident(f.column)}`,
      );
    }
  });
  selects.push(`__e.${ENTITY_ROW}`);
  return `WITH ${ctes.join(",\n")}\nSELECT ${selects.join(", ")}\nFROM ${from.join("\n")}`;
}

async function tableColumns(sql: SqlSession, table: string): Promise<Map<string, string>> {
  try {
    return new Map((await sql.columns(table)).map((c) => [c.name, c.type]));
  } catch (e) {
    throw new TrainingSetError(`Cannot read the entity table: ${(e as Error).message}`);
  }
}

/**
 * Builds the training set into the new table `out`: checks the request, the
 * entity table (join keys present, every row with an event time) and each
 * view's source (its schema matches the view; no two rows share keys and
 * event time unless a created-timestamp column tells them apart), then runs
 * the join. Answers the features joined, in their column order.
 */
export async function buildTrainingSet(
  sql: SqlSession,
  scope: SourceScope,
  repo: FeatureRepo,
  request: TrainingSetRequest,
  out: string,
): Promise<{ features: (FeatureRef & { column: string })[] }> {
  const refs = resolveFeatureRefs(repo, request);
  const full = request.fullFeatureNames ?? false;
  const entityCols = await tableColumns(sql, request.entitiesTable);
  const tsColumn = request.timestampColumn ?? DEFAULT_ENTITY_TIMESTAMP;
  const tsType = entityCols.get(tsColumn);
  if (tsType === undefined)
    throw new TrainingSetError(
      `The entity table has no "${tsColumn}" column (it has: ${[...entityCols.keys()].join(", ")}); add each row's event time there, or name the column that holds it (--timestamp-column of \`dagwood features training-set\`, timestampColumn of the features.training-set block)`,
    );
  if (!TIMESTAMP_TYPE.test(tsType))
    throw new TrainingSetError(
      `The entity table's "${tsColumn}" is ${tsType}, not a timestamp: convert it to TIMESTAMP first (e.g. CAST or strptime)`,
    );

  // Output names: Feast's, each once, none hiding an entity column.
  const outputs = refs.map((r) => ({ ...r, column: featureColumn(r, full) }));
  const byColumn = new Map<string, FeatureRef>();
  for (const o of outputs) {
    const other = byColumn.get(o.column);
    if (other)
      throw new TrainingSetError(
        `Features ${other.view}:${other.feature} and ${o.view}:${o.feature} would both be the column "${o.column}": ask for full feature names (view__feature)`,
      );
    if (entityCols.has(o.column))
      throw new TrainingSetError(
        `Feature ${o.view}:${o.feature} would be the column "${o.column}", which the entity table already has: rename that column or ask for full feature names`,
      );
    byColumn.set(o.column, o);
  }

  const joins: ViewJoin[] = [];
  for (const viewName of [...new Set(refs.map((r) => r.view))]) {
    const view = repo.views.get(viewName)!;
    const joinKeys = viewJoinKeys(repo, view);
    const missing = joinKeys.filter((k) => !entityCols.has(k));
    if (missing.length)
      throw new TrainingSetError(
        `The entity table lacks the join key${missing.length > 1 ? "s" : ""} ${missing.map((k) => `"${k}"`).join(", ")} of feature view "${viewName}" (it has: ${[...entityCols.keys()].join(", ")})`,
      );
    const { relation, columns } = await checkViewSource(sql, scope, repo, view);
    for (const k of joinKeys) {
      const [mine, theirs] = [entityCols.get(k)!, columns.get(k)!];
      if (keyFamily(mine) !== keyFamily(theirs))
        throw new TrainingSetError(
          `Join key "${k}" is ${mine} in the entity table but ${theirs} in feature view "${viewName}"'s source: cast one to the other's type first`,
        );
    }
    const created = view.source.createdTimestampColumn;
    const duplicates = created
      ? null
      : await duplicateRowsProblem(sql, relation, joinKeys, view.source.timestampField);
    if (duplicates) throw new TrainingSetError(`Feature view "${viewName}" has ${duplicates}`);
    joins.push({
      view: viewName,
      relation,
      joinKeys,
      timestamp: { column: view.source.timestampField, type: columns.get(view.source.timestampField)! },
      created: created ? { column: created, type: columns.get(created)! } : undefined,
      ttlMs: ttlMs(view.ttl),
      features: outputs
        .filter((o) => o.view === viewName)
        .map((o) => ({
          feature: o.feature,
          column: o.column,
          sourceType: columns.get(o.feature)!,
          type: o.type,
        })),
    });
  }

  const nulls = await sql.one<{ n: number }>(
    `SELECT count(*) AS n FROM ${ident(request.entitiesTable)} WHERE ${ident(tsColumn)} IS NULL`,
  );
  if (nulls.n > 0)
    throw new TrainingSetError(
      `${nulls.n} entity row${nulls.n === 1 ? " has" : "s have"} no "${tsColumn}": every entity row needs the time its features are wanted at; fill or drop those rows`,
    );

  // Rows come out in the entity table's order: a table's rowid (else the order it is scanned in) is
  // carried through the joins and sorted on at the end.
  const hasRowid = await sql
    .run(`SELECT rowid FROM ${ident(request.entitiesTable)} LIMIT 0`)
    .then(() => true)
    .catch(() => false);
  const select = trainingSetSql(
    {
      table: request.entitiesTable,
      timestamp: { column: tsColumn, type: tsType },
      row: hasRowid ? "rowid" : "row_number() OVER ()",
    },
    joins,
  );
  // Features appear in the order asked for, views grouped: reorder to the request's order.
  const entityList = [...entityCols.keys()].map(ident);
  const ordered = `SELECT ${[...entityList, ...outputs.map((o) => ident(o.column))].join(", ")} FROM (${select}) ORDER BY ${ENTITY_ROW}`;
  await sql.run(`CREATE OR REPLACE TABLE ${ident(out)} AS ${ordered}`);
  return { features: outputs };
}

/** Join keys compare when both are whole numbers, both text, or the same type. */
function keyFamily(type: string): string {
  if (/^U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)$/.test(type)) return "integer";
  if (type === "VARCHAR" || type.startsWith("ENUM(")) return "text";
  return type;
}
