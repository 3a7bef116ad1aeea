/**
 * Rows pushed to a feature view's offline store (Feast's `/push` with `to:
 * "offline"` or `"online_and_offline"`, https://docs.feast.dev/reference/feature-servers/python-feature-server):
 * each push becomes one Parquet file in the view's `pushed/` folder
 * (.dagwood/features/<view>/pushed/<time>-<uuid>.parquet), which every
 * offline reader takes together with the view's source (offline-source.ts
 * viewSourceParts), so training sets, `features apply` and materialisation
 * see the rows.
 *
 * The file is written under a name starting with "." and renamed when whole:
 * a push killed mid-way leaves no file the readers take (and the next push
 * removes what it left). A file is never rewritten: a `features.view` block
 * replaces only its own table (data.parquet), so pushed rows outlive every
 * run of its pipeline.
 *
 * The frame is checked first, every problem naming its column and row: it
 * holds the view's join keys, its event timestamp and every feature (null
 * where unknown), and may hold the created timestamp; values fit the view's
 * declared Feast types. The columns are written in those types (join keys as
 * BIGINT or VARCHAR, event times in the source's own timestamp type, so the
 * union reads as one table). A pushed row without a created time (no such
 * column, or null) gets the time of the push, so it wins a tie with a row
 * already there (a correction);
 * a view without a created-timestamp column refuses a row whose keys and
 * event time are already in its offline rows (a training set could not
 * choose between the two).
 *
 *   await appendOfflineRows({ projectDir, allowedDirs, sql }, repo, repo.views.get("driver_stats")!,
 *     { columns: new Map([["driver_id", [1001]], ["event_timestamp", ["2026-12-01T10:00:00Z"]], …]), rows: 1 });
 */
import { randomBytes, randomUUID } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { DuckDBAppender } from "@duckdb/node-api";
import { ident, literal, type SqlSession } from "../data/sql";
import {
  FeatureSourceError,
  pushedDir,
  type SourceScope,
  sourceColumns,
  viewSourceParts,
} from "./offline-source";
import { viewJoinKeys } from "./repo";
import type { EntityDefinition, FeatureRepo, FeatureType, FeatureViewDefinition } from "./types";

/** The pushed frame does not fit the view: the message names each column and row at fault. */
export class OfflinePushError extends Error {
  override name = "OfflinePushError";
}

/** At most this many problems are listed (the first ones, by column then row). */
const MAX_PROBLEMS = 10;

/** How a column is appended and then written. */
type Kind =
  | { kind: "int"; type: "BIGINT" | "INTEGER"; min: bigint; max: bigint; what: string }
  | { kind: "float"; type: "DOUBLE" | "FLOAT" }
  | { kind: "string" }
  | { kind: "bool" }
  | { kind: "bytes" }
  /** Micros since the epoch, written as TIMESTAMP (naive UTC) or TIMESTAMP WITH TIME ZONE. */
  | { kind: "time"; zoned: boolean };

interface Column {
  name: string;
  role: "join key" | "event timestamp" | "created timestamp" | "feature";
  kind: Kind;
  nullable: boolean;
  /** Converted values (null where null). */
  values: (bigint | number | string | boolean | Uint8Array | null)[];
}

const INT64 = { min: -(2n ** 63n), max: 2n ** 63n - 1n };
const INT32 = { min: -(2n ** 31n), max: 2n ** 31n - 1n };

function featureKind(type: FeatureType): Kind {
  switch (type) {
    case "Int32":
      return { kind: "int", type: "INTEGER", ...INT32, what: "a whole number (Int32)" };
    case "Int64":
      return { kind: "int", type: "BIGINT", ...INT64, what: "a whole number (Int64)" };
    case "Float32":
      return { kind: "float", type: "FLOAT" };
    case "Float64":
      return { kind: "float", type: "DOUBLE" };
    case "String":
      return { kind: "string" };
    case "Bool":
      return { kind: "bool" };
    case "UnixTimestamp":
      return { kind: "time", zoned: false };
    case "Bytes":
      return { kind: "bytes" };
  }
}

const INTEGER_TYPE = /^U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)$/;
const TEXT_TYPE = /^(VARCHAR|ENUM\(.*\))$/;

/**
 * A join key's column: the entity's declared value type, else the family of
 * the source's column (whole numbers or text), else what the pushed values
 * are (all whole numbers, or all text).
 */
function keyKind(
  name: string,
  declared: FeatureType | undefined,
  sourceType: string | undefined,
  values: unknown[],
): Kind {
  const asInt = featureKind("Int64");
  if (declared) {
    const k = featureKind(declared);
    return k.kind === "int" ? asInt : k;
  }
  if (sourceType && INTEGER_TYPE.test(sourceType)) return asInt;
  if (sourceType && TEXT_TYPE.test(sourceType)) return { kind: "string" };
  const present = values.filter((v) => v !== null && v !== undefined);
  if (present.length && present.every((v) => typeof v === "string")) return { kind: "string" };
  if (present.every((v) => typeof v === "number" || typeof v === "bigint")) return asInt;
  throw new OfflinePushError(
    `Join key "${name}" mixes text and numbers: give every row's key the same type (the entity declares none; set "valueType" on it to fix one)`,
  );
}

const shown = (v: unknown) => {
  const text = typeof v === "bigint" ? `${v}` : JSON.stringify(v);
  return text === undefined ? String(v) : text.length > 60 ? `${text.slice(0, 57)}…` : text;
};

/** An event time as the feature server takes one: ISO 8601 text (UTC when it names no zone) or ms since the epoch. */
export function pushedTimeMs(value: unknown): number {
  if (typeof value === "number") return Number.isFinite(value) ? value : Number.NaN;
  if (typeof value !== "string") return Number.NaN;
  const text = value.trim().replace(" ", "T");
  return Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(text) || !text.includes("T") ? text : `${text}Z`);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The value converted, or a problem saying what it should have been. */
function convert(kind: Kind, v: unknown): { ok: Column["values"][number] } | { want: string } {
  switch (kind.kind) {
    case "int": {
      let n: bigint | null = null;
      if (typeof v === "number" && Number.isSafeInteger(v)) n = BigInt(v);
      else if (typeof v === "bigint") n = v;
      else if (typeof v === "string" && /^-?\d{1,20}$/.test(v.trim())) n = BigInt(v.trim());
      if (n === null) return { want: kind.what };
      if (n < kind.min || n > kind.max) return { want: `${kind.what}, between ${kind.min} and ${kind.max}` };
      return { ok: kind.type === "INTEGER" ? Number(n) : n };
    }
    case "float":
      if (typeof v === "number" && Number.isFinite(v)) return { ok: v };
      return { want: `a number (${kind.type === "FLOAT" ? "Float32" : "Float64"})` };
    case "string":
      return typeof v === "string" ? { ok: v } : { want: "text (String)" };
    case "bool":
      return typeof v === "boolean" ? { ok: v } : { want: "true or false (Bool)" };
    case "bytes":
      return typeof v === "string" && BASE64.test(v)
        ? { ok: new Uint8Array(Buffer.from(v, "base64")) }
        : { want: "bytes as base64 text (Bytes)" };
    case "time": {
      const ms = pushedTimeMs(v);
      return Number.isFinite(ms)
        ? { ok: BigInt(Math.round(ms * 1000)) }
        : { want: "a time: ISO 8601 text (UTC when it names no zone) or ms since the epoch" };
    }
  }
}

/** The DuckDB type a column is appended as. */
function appendType(kind: Kind): string {
  switch (kind.kind) {
    case "int":
    case "float":
      return kind.type;
    case "string":
      return "VARCHAR";
    case "bool":
      return "BOOLEAN";
    case "bytes":
      return "BLOB";
    case "time":
      return "BIGINT";
  }
}

/** The column as written to the Parquet file. */
function writeExpr(c: Column): string {
  const col = ident(c.name);
  if (c.kind.kind !== "time") return col;
  const ts = `make_timestamp(${col})`;
  return `${c.kind.zoned ? `timezone('UTC', ${ts})` : ts} AS ${col}`;
}

function append(appender: DuckDBAppender, kind: Kind, v: Column["values"][number]): void {
  if (v === null) appender.appendNull();
  else if (kind.kind === "int" && kind.type === "INTEGER") appender.appendInteger(v as number);
  else if (kind.kind === "int" || kind.kind === "time") appender.appendBigInt(v as bigint);
  else if (kind.kind === "float" && kind.type === "FLOAT") appender.appendFloat(v as number);
  else if (kind.kind === "float") appender.appendDouble(v as number);
  else if (kind.kind === "string") appender.appendVarchar(v as string);
  else if (kind.kind === "bool") appender.appendBoolean(v as boolean);
  else appender.appendBlob(v as Uint8Array);
}

/** Removes what pushes killed mid-way left (".<name>.<pid>.tmp" of a process no longer running). */
function removeAbandoned(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^\..*\.(\d+)\.tmp$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ESRCH") rmSync(join(dir, name), { force: true });
    }
  }
}

/** Pushes through one DuckDB session, one at a time (a connection runs one statement, and an appender holds it). */
const queues = new WeakMap<SqlSession, Promise<unknown>>();

/**
 * Appends the frame's rows to the view's offline rows as one new Parquet
 * file, atomically; answers the rows appended (0 writes nothing). Throws an
 * OfflinePushError naming each column and row that does not fit the view.
 * Pushes sharing `scope.sql` run one after another.
 */
export function appendOfflineRows(
  scope: SourceScope & { sql: SqlSession },
  repo: FeatureRepo,
  view: FeatureViewDefinition,
  frame: { columns: Map<string, unknown[]>; rows: number },
): Promise<number> {
  const before = queues.get(scope.sql) ?? Promise.resolve();
  const next = before.then(
    () => appendRows(scope, repo, view, frame),
    () => appendRows(scope, repo, view, frame),
  );
  queues.set(
    scope.sql,
    next.catch(() => undefined),
  );
  return next;
}

async function appendRows(
  scope: SourceScope & { sql: SqlSession },
  repo: FeatureRepo,
  view: FeatureViewDefinition,
  frame: { columns: Map<string, unknown[]>; rows: number },
): Promise<number> {
  const { sql } = scope;
  const joinKeys = viewJoinKeys(repo, view);
  const tsField = view.source.timestampField;
  const created = view.source.createdTimestampColumn;
  const features = new Map(view.features.map((f) => [f.name, f.type]));

  // The frame's shape: the columns the view needs, none it does not know, one value per row in each.
  const lacking = [...joinKeys, tsField, ...features.keys()].filter((c) => !frame.columns.has(c));
  if (lacking.length)
    throw new OfflinePushError(
      `The rows pushed to "${view.name}" lack the column${lacking.length > 1 ? "s" : ""} ${lacking.map((c) => `"${c}"`).join(", ")}: a pushed row carries the view's join keys (${joinKeys.join(", ")}), its event timestamp "${tsField}" and every feature (null where unknown)`,
    );
  const known = new Set([...joinKeys, tsField, ...features.keys(), ...(created ? [created] : [])]);
  const unknown = [...frame.columns.keys()].filter((c) => !known.has(c));
  if (unknown.length)
    throw new OfflinePushError(
      `The rows pushed to "${view.name}" have the column${unknown.length > 1 ? "s" : ""} ${unknown.map((c) => `"${c}"`).join(", ")}, which the view does not have (it has: ${[...known].join(", ")})`,
    );
  if (!Number.isSafeInteger(frame.rows) || frame.rows < 0)
    throw new OfflinePushError(`The frame's row count ${frame.rows} is not a count of rows`);
  for (const [name, values] of frame.columns)
    if (!Array.isArray(values) || values.length !== frame.rows)
      throw new OfflinePushError(
        `Column "${name}" has ${Array.isArray(values) ? values.length : "no list of"} values for ${frame.rows} rows: give one value per row in each column`,
      );
  if (frame.rows === 0) return 0;

  // The source's own types where it can be read: its timestamps' zone, its join keys' family.
  let sourceTypes = new Map<string, string>();
  try {
    const { source } = viewSourceParts(scope, view);
    if (source) sourceTypes = await sourceColumns(sql, source, view.name);
  } catch (e) {
    if (!(e instanceof FeatureSourceError)) throw e;
  }
  const zoned = (c: string) => sourceTypes.get(c) === "TIMESTAMP WITH TIME ZONE";
  const keyTypes = new Map<string, FeatureType | undefined>();
  for (const e of view.entities)
    for (const k of (repo.entities.get(e) as EntityDefinition).joinKeys)
      keyTypes.set(k, (repo.entities.get(e) as EntityDefinition).valueType);

  const columns: Column[] = [
    ...joinKeys.map(
      (k): Column => ({
        name: k,
        role: "join key",
        kind: keyKind(k, keyTypes.get(k), sourceTypes.get(k), frame.columns.get(k)!),
        nullable: false,
        values: [],
      }),
    ),
    {
      name: tsField,
      role: "event timestamp",
      kind: { kind: "time", zoned: zoned(tsField) },
      nullable: false,
      values: [],
    },
    ...(created
      ? [
          {
            name: created,
            role: "created timestamp",
            kind: { kind: "time", zoned: zoned(created) },
            nullable: true,
            values: [],
          } satisfies Column,
        ]
      : []),
    ...[...features].map(
      ([name, type]): Column => ({
        name,
        role: "feature",
        kind: featureKind(type),
        nullable: true,
        values: [],
      }),
    ),
  ];

  // Every value checked and converted; the first problems listed, each with its column and row.
  const problems: string[] = [];
  let more = 0;
  const pushedAt = BigInt(Date.now()) * 1000n;
  for (const c of columns) {
    const given = frame.columns.get(c.name);
    for (let row = 0; row < frame.rows; row++) {
      const v = given ? given[row] : undefined;
      if (v === null || v === undefined) {
        if (c.name === created) c.values.push(pushedAt);
        else if (c.nullable) c.values.push(null);
        else if (problems.length < MAX_PROBLEMS)
          problems.push(`column "${c.name}", row ${row}: no value, but every row needs its ${c.role}`);
        else more++;
        continue;
      }
      const r = convert(c.kind, v);
      if ("ok" in r) c.values.push(r.ok);
      else if (problems.length < MAX_PROBLEMS)
        problems.push(`column "${c.name}", row ${row}: ${shown(v)} is not ${r.want}`);
      else more++;
    }
  }
  if (problems.length)
    throw new OfflinePushError(
      `The rows pushed to "${view.name}" do not fit the view (nothing was written):\n  ${problems.join("\n  ")}${more ? `\n  …and ${more} more` : ""}`,
    );

  const table = `__dagwood_push_${randomBytes(8).toString("hex")}`;
  const dir = pushedDir(scope.projectDir, view.name);
  mkdirSync(dir, { recursive: true });
  removeAbandoned(dir);
  const stamp = new Date().toISOString().replace(/[-:.]/g, "");
  const name = `${stamp}-${randomUUID()}.parquet`;
  const tmp = join(dir, `.${name}.${process.pid}.tmp`);
  try {
    await sql.run(
      `CREATE TEMP TABLE ${ident(table)} (__row BIGINT, ${columns.map((c) => `${ident(c.name)} ${appendType(c.kind)}`).join(", ")})`,
    );
    const appender: DuckDBAppender = await sql.connection.createAppender(table, "main", "temp");
    try {
      for (let row = 0; row < frame.rows; row++) {
        appender.appendBigInt(BigInt(row));
        for (const c of columns) append(appender, c.kind, c.values[row]!);
        appender.endRow();
      }
      appender.flushSync();
    } finally {
      appender.closeSync();
    }

    // Without a created time, two rows with the same keys and event time cannot be told apart.
    if (!created) await refuseDuplicates(scope, view, table, [...joinKeys, tsField], columns);

    await sql.run(
      `COPY (SELECT ${columns.map(writeExpr).join(", ")} FROM ${ident(table)} ORDER BY __row) TO ${literal(tmp)} (FORMAT PARQUET)`,
    );
    // On disk before it is visible: a push answered is a push kept.
    const fd = openSync(tmp, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(dir, name));
    try {
      const d = openSync(dir, "r");
      try {
        fsyncSync(d);
      } finally {
        closeSync(d);
      }
    } catch {
      // Folders cannot be synced on every platform; the rename itself is atomic.
    }
  } finally {
    rmSync(tmp, { force: true });
    await sql.run(`DROP TABLE IF EXISTS temp.main.${ident(table)}`);
  }
  return frame.rows;
}

/** Refuses rows whose keys and event time repeat within the push or match an offline row already there. */
async function refuseDuplicates(
  scope: SourceScope & { sql: SqlSession },
  view: FeatureViewDefinition,
  table: string,
  names: string[],
  columns: Column[],
): Promise<void> {
  const { sql } = scope;
  const cols = names.map(ident).join(", ");
  const show = (row: number) =>
    names
      .map((n) => {
        const c = columns.find((x) => x.name === n)!;
        const v = c.values[row];
        return `${n}=${c.kind.kind === "time" ? new Date(Number(v) / 1000).toISOString() : shown(v)}`;
      })
      .join(", ");
  const inPush = await sql.all<{ a: bigint | number; b: bigint | number }>(
    `SELECT min(__row) AS a, max(__row) AS b FROM ${ident(table)} GROUP BY ${cols} HAVING count(*) > 1 ORDER BY a LIMIT 1`,
  );
  if (inPush.length) {
    const [a, b] = [Number(inPush[0]!.a), Number(inPush[0]!.b)];
    throw new OfflinePushError(
      `Rows ${a} and ${b} pushed to "${view.name}" have the same keys and event time (${show(a)}), and the view has no created-timestamp column to choose between them (nothing was written): push one of them, or add "createdTimestampColumn" to its source`,
    );
  }
  let relation: string;
  try {
    relation = viewSourceParts(scope, view).relation;
  } catch (e) {
    if (e instanceof FeatureSourceError) return;
    throw e;
  }
  const ts = names.at(-1)!;
  const keys = names.slice(0, -1);
  // Compared as microseconds since the epoch: naive times read as UTC, zoned ones as the instants they are.
  const on = [
    ...keys.map((k) => `p.${ident(k)} = o.${ident(k)}`),
    `p.${ident(ts)} = epoch_us(o.${ident(ts)})`,
  ];
  let clash: { r: bigint | number }[];
  try {
    clash = await sql.all<{ r: bigint | number }>(
      `SELECT p.__row AS r FROM ${ident(table)} p SEMI JOIN (SELECT ${names.map(ident).join(", ")} FROM ${relation}) o ON ${on.join(" AND ")} ORDER BY r LIMIT 1`,
    );
  } catch {
    // A source DuckDB cannot read as the view says is reported by every reader of it; the push itself stands.
    return;
  }
  if (clash.length) {
    const r = Number(clash[0]!.r);
    throw new OfflinePushError(
      `Row ${r} pushed to "${view.name}" has the keys and event time of a row already in its offline rows (${show(r)}), and the view has no created-timestamp column to choose between them (nothing was written): push only new rows, or add "createdTimestampColumn" to its source`,
    );
  }
}
