/**
 * A feature view's offline source as a DuckDB relation: the Parquet, CSV or
 * JSON file (or glob) its definition names, or the offline table a pipeline's
 * `features.view` block wrote (`.dagwood/features/<view>/data.parquet`). And
 * the check of that source against the view (columns exist, types fit the
 * declared Feast types, timestamps are timestamps), shared by
 * `dagwood features apply` and every training set, so a source whose schema
 * drifted is caught before any join.
 *
 * Rows pushed offline (Feast's `/push` with `to: "offline"`,
 * app/features/offline-push.ts) are Parquet files in the view's
 * `pushed/` folder, kept apart from the source: every reader takes the
 * source UNION ALL BY NAME those files, so a `features.view` block that
 * rewrites its table never loses them.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { ident, literal, type SqlSession } from "../data/sql";
import { resolveProjectPath, STATE_DIR } from "../engine/paths";
import { viewJoinKeys } from "./repo";
import type { EntityDefinition, FeatureRepo, FeatureType, FeatureViewDefinition } from "./types";

/** The folder where a view's `features.view` block keeps its offline table. */
export function offlineTableDir(projectDir: string, view: string): string {
  return join(projectDir, STATE_DIR, "features", view);
}

/** The offline table file a `features.view` block writes (replaced whole, atomically, at each run). */
export function offlineTableFile(projectDir: string, view: string): string {
  return join(offlineTableDir(projectDir, view), "data.parquet");
}

/** The folder of a view's rows pushed offline: one Parquet file per push, never rewritten. */
export function pushedDir(projectDir: string, view: string): string {
  return join(offlineTableDir(projectDir, view), "pushed");
}

/** A finished push's file name; a push being written has a name starting with "." (see offline-push.ts). */
export const PUSHED_FILE = /^[^.].*\.parquet$/;

/** The view's pushed files (absolute paths) in the order they were pushed, each with its size. */
export function pushedFiles(projectDir: string, view: string): { path: string; size: number }[] {
  const dir = pushedDir(projectDir, view);
  if (!existsSync(dir)) return [];
  const out: { path: string; size: number }[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (!PUSHED_FILE.test(name)) continue;
    const path = join(dir, name);
    try {
      out.push({ path, size: statSync(path).size });
    } catch {
      // Gone between the listing and the stat: not part of the source.
    }
  }
  return out;
}

/**
 * Every offline file Dagwood keeps for the project's views (erasure rewrites them): each view's
 * offline table and its pushed files, by view. A view's source named in its definition (the
 * user's own file) is not among them.
 */
export function offlineDataFiles(projectDir: string): { view: string; path: string }[] {
  const root = join(projectDir, STATE_DIR, "features");
  if (!existsSync(root)) return [];
  const out: { view: string; path: string }[] = [];
  for (const view of readdirSync(root).sort()) {
    if (view.startsWith(".") || !statSync(join(root, view)).isDirectory()) continue;
    const table = offlineTableFile(projectDir, view);
    if (existsSync(table)) out.push({ view, path: table });
    for (const f of pushedFiles(projectDir, view)) out.push({ view, path: f.path });
  }
  return out;
}

/** The view's source cannot be read or does not fit the view: the message says what to do. */
export class FeatureSourceError extends Error {
  override name = "FeatureSourceError";
}

/**
 * The project a view's source is read in: its folder and the folders it may
 * read (dagwood.json's data folders); a path in a definition resolves inside
 * them, never in .dagwood (app/engine/paths.ts resolveProjectPath). A block
 * passes its ctx.resolvePath instead, which applies the same rule.
 */
export interface SourceScope {
  projectDir: string;
  /** Default: the project folder only. */
  allowedDirs?: readonly string[];
  resolvePath?(path: string): string;
}

function resolveSourcePath(scope: SourceScope, path: string): string {
  return scope.resolvePath
    ? scope.resolvePath(path)
    : resolveProjectPath(scope.projectDir, scope.allowedDirs ?? [scope.projectDir], path);
}

/**
 * The parts a view's offline rows come from: its source (null for a block's
 * view whose pipeline has not run yet, when rows were pushed), and the rows
 * pushed offline (null when none were).
 */
export interface ViewSourceParts {
  source: string | null;
  pushed: string | null;
  /** Both together (UNION ALL BY NAME): what every reader reads. */
  relation: string;
}

/** The view's source and its pushed rows as DuckDB table expressions (`read_parquet('…')`). */
export function viewSourceParts(scope: SourceScope, view: FeatureViewDefinition): ViewSourceParts {
  const files = pushedFiles(scope.projectDir, view.name);
  const pushed = files.length
    ? `read_parquet([${files.map((f) => literal(f.path)).join(", ")}], union_by_name = true)`
    : null;
  const source = baseSourceRelation(scope, view, pushed !== null);
  const relation =
    source && pushed
      ? `(SELECT * FROM ${source} UNION ALL BY NAME SELECT * FROM ${pushed})`
      : ((source ?? pushed) as string);
  return { source, pushed, relation };
}

/** A DuckDB table expression reading the view's offline rows: its source and the rows pushed offline. */
export function viewSourceRelation(scope: SourceScope, view: FeatureViewDefinition): string {
  return viewSourceParts(scope, view).relation;
}

function baseSourceRelation(
  scope: SourceScope,
  view: FeatureViewDefinition,
  havePushed: boolean,
): string | null {
  const source = view.source;
  if ("block" in source) {
    const file = offlineTableFile(scope.projectDir, view.name);
    if (!existsSync(file)) {
      if (havePushed) return null;
      throw new FeatureSourceError(
        `Feature view "${view.name}" has no offline table yet: its source is a pipeline's features.view block, so run that pipeline first`,
      );
    }
    return `read_parquet(${literal(file)})`;
  }
  let abs: string;
  try {
    abs = resolveSourcePath(scope, source.path);
  } catch (e) {
    throw new FeatureSourceError(`Feature view "${view.name}": ${(e as Error).message}`);
  }
  const glob = /[*?[]/.test(source.path);
  if (!glob && !existsSync(abs))
    throw new FeatureSourceError(
      `Feature view "${view.name}": its source ${source.path} does not exist (looked at ${abs}); create it or fix "source.path"`,
    );
  const lower = source.path.toLowerCase();
  if (lower.endsWith(".parquet")) return `read_parquet(${literal(abs)})`;
  if (/\.(csv|tsv|txt)(\.gz)?$/.test(lower)) return `read_csv_auto(${literal(abs)})`;
  if (/\.(json|ndjson|jsonl)$/.test(lower)) return `read_json_auto(${literal(abs)})`;
  throw new FeatureSourceError(
    `Feature view "${view.name}": cannot tell the format of ${source.path}; name a .parquet, .csv, .tsv or .json file`,
  );
}

const INTEGER = /^(TINYINT|SMALLINT|INTEGER|BIGINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|HUGEINT)$/;
const FLOAT = /^(FLOAT|DOUBLE|DECIMAL(\(.*\))?)$/;
/** Column types that hold an event time. */
export const TIMESTAMP_TYPE =
  /^(TIMESTAMP|TIMESTAMP WITH TIME ZONE|TIMESTAMP_S|TIMESTAMP_MS|TIMESTAMP_NS|DATE)$/;

/**
 * Whether a DuckDB column type holds values of a Feast type. Integer columns
 * fit Int32 as well as Int64 (CSV readers give BIGINT for any whole number),
 * and floats accept integers (a widening, as Feast's type mapping does for
 * Parquet sources).
 */
export function typeFits(feast: FeatureType, duck: string): boolean {
  switch (feast) {
    case "Int32":
    case "Int64":
      return INTEGER.test(duck);
    case "Float32":
    case "Float64":
      return FLOAT.test(duck) || INTEGER.test(duck);
    case "String":
      return duck === "VARCHAR" || duck.startsWith("ENUM(");
    case "Bool":
      return duck === "BOOLEAN";
    case "UnixTimestamp":
      return TIMESTAMP_TYPE.test(duck);
    case "Bytes":
      return duck === "BLOB";
  }
}

/** The source's columns (name → DuckDB type), as DuckDB reads them. */
export async function sourceColumns(
  sql: SqlSession,
  relation: string,
  view: string,
): Promise<Map<string, string>> {
  try {
    const rows = await sql.all<{ column_name: string; column_type: string }>(
      `DESCRIBE SELECT * FROM ${relation}`,
    );
    return new Map(rows.map((r) => [r.column_name, r.column_type]));
  } catch (e) {
    throw new FeatureSourceError(
      `Feature view "${view}": DuckDB cannot read its source: ${(e as Error).message}`,
    );
  }
}

/** Everything about the source that does not fit the view (empty: it fits). */
export function sourceProblems(
  repo: FeatureRepo,
  view: FeatureViewDefinition,
  columns: ReadonlyMap<string, string>,
): string[] {
  const problems: string[] = [];
  const have = () => [...columns.entries()].map(([n, t]) => `${n} ${t}`).join(", ");
  const missing = (what: string, name: string) =>
    `${what} "${name}" is not a column of the source (it has: ${have()})`;
  const keyTypes = new Map<string, FeatureType | undefined>();
  for (const e of view.entities) {
    const entity = repo.entities.get(e) as EntityDefinition;
    for (const k of entity.joinKeys) keyTypes.set(k, entity.valueType);
  }
  for (const k of viewJoinKeys(repo, view)) {
    const type = columns.get(k);
    const want = keyTypes.get(k);
    if (type === undefined) problems.push(missing("join key", k));
    else if (want && !typeFits(want, type))
      problems.push(`join key "${k}" is ${type} in the source, which does not hold the entity's ${want}`);
  }
  for (const [what, name] of [
    ["timestamp field", view.source.timestampField],
    ["created-timestamp column", view.source.createdTimestampColumn],
  ] as const) {
    if (name === undefined) continue;
    const type = columns.get(name);
    if (type === undefined) problems.push(missing(what, name));
    else if (!TIMESTAMP_TYPE.test(type))
      problems.push(
        `${what} "${name}" is ${type}, not a timestamp: store it as a TIMESTAMP (or DATE) column, e.g. with strptime in a transform`,
      );
  }
  for (const f of view.features) {
    const type = columns.get(f.name);
    if (type === undefined) problems.push(missing("feature", f.name));
    else if (!typeFits(f.type, type))
      problems.push(`feature "${f.name}" is declared ${f.type} but the source's column is ${type}`);
  }
  return problems;
}

/**
 * Reads the schema of the view's source and of its pushed rows, each checked
 * on its own (pushed rows cannot hide a column the source lost), and throws a
 * FeatureSourceError listing every mismatch with the view. Answers the
 * relation to read (both together) and its columns.
 */
export async function checkViewSource(
  sql: SqlSession,
  scope: SourceScope,
  repo: FeatureRepo,
  view: FeatureViewDefinition,
): Promise<{ relation: string; columns: Map<string, string> }> {
  const parts = viewSourceParts(scope, view);
  const where = "block" in view.source ? "its features.view block's table" : view.source.path;
  let columns: Map<string, string> | null = null;
  if (parts.source) {
    columns = await sourceColumns(sql, parts.source, view.name);
    const problems = sourceProblems(repo, view, columns);
    if (problems.length)
      throw new FeatureSourceError(
        `Feature view "${view.name}" does not match its source (${where}):\n  ${problems.join("\n  ")}`,
      );
  }
  if (parts.pushed) {
    const problems = sourceProblems(repo, view, await sourceColumns(sql, parts.pushed, view.name));
    if (problems.length)
      throw new FeatureSourceError(
        `Feature view "${view.name}" does not match the rows pushed to it offline (${pushedDir(scope.projectDir, view.name)}), pushed before the view changed:\n  ${problems.join("\n  ")}\n  Move those files away (or push them again in the view's new shape).`,
      );
  }
  if (!parts.pushed) return { relation: parts.relation, columns: columns! };
  // Together: the types DuckDB gives the union (pushed files hold the declared types, their times in the source's zone).
  columns = await sourceColumns(sql, parts.relation, view.name);
  const problems = sourceProblems(repo, view, columns);
  if (problems.length)
    throw new FeatureSourceError(
      `Feature view "${view.name}": its source and the rows pushed to it offline do not read as one table:\n  ${problems.join("\n  ")}`,
    );
  return { relation: parts.relation, columns };
}

/**
 * An expression giving a timestamp column as a plain UTC TIMESTAMP, so
 * sources and entity tables of different timestamp types compare as the same
 * instants (a naive TIMESTAMP is read as UTC, as Feast reads one).
 */
export function utcTimestamp(column: string, type: string): string {
  const c = ident(column);
  if (type === "TIMESTAMP") return c;
  if (type === "TIMESTAMP WITH TIME ZONE") return `timezone('UTC', ${c})`;
  return `CAST(${c} AS TIMESTAMP)`;
}

/**
 * Without a created-timestamp column, rows sharing keys and event time cannot
 * be ordered (which one is the feature value then?): the first such group,
 * described, or null when there is none.
 */
export async function duplicateRowsProblem(
  sql: SqlSession,
  relation: string,
  joinKeys: readonly string[],
  timestampField: string,
): Promise<string | null> {
  const names = [...joinKeys, timestampField];
  const cols = names.map(ident).join(", ");
  const dup = await sql.all<Record<string, unknown>>(
    `SELECT ${cols}, count(*) AS __n FROM ${relation} GROUP BY ${cols} HAVING count(*) > 1 LIMIT 1`,
  );
  if (!dup.length) return null;
  const row = dup[0]!;
  const at = names
    .map((k) => `${k}=${row[k] instanceof Date ? (row[k] as Date).toISOString() : JSON.stringify(row[k])}`)
    .join(", ");
  return `${row.__n} rows with the same keys and event time (${at}), and no created-timestamp column to choose among them: add "createdTimestampColumn" to its source, or remove the duplicates`;
}
