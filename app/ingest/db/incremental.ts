/**
 * The state of incremental database reads (`ingest.database` with `mode: "incremental"`), kept in the
 * project's workspace: per accumulation (pipeline + node + connection + source + cursor column) the
 * table the rows accumulate in and the last committed cursor value. The table and the cursor move
 * together in one DuckDB transaction (`commitIncrement`), so a read that fails or is cut off
 * mid-stream leaves both as they were and the next run resumes from the committed cursor — the
 * cursor-based incremental sync of Airbyte ("Incremental Sync - Append", docs.airbyte.com) and
 * Fivetran.
 */
import { createHash } from "node:crypto";
import { ident, type SqlSession } from "../../data/sql";
import type { CursorValue, SourceColumn } from "./types";

/** The state table (not `t_…`: the workspace's garbage collection drops only unreferenced `t_` tables). */
export const CURSOR_TABLE = "dagwood_db_cursors";

export interface AccumulationKey {
  pipeline: string;
  node: string;
  connection: string;
  /** The source as stable JSON (table, schema, columns, where; or the query). */
  source: string;
  cursorColumn: string;
}

export interface CursorState {
  key: string;
  /** The accumulated table's name. */
  table: string;
  cursorColumn: string;
  /** The last committed cursor value; null when nothing was read yet. */
  cursor: CursorValue | null;
  /** Rows in the accumulated table. */
  rows: number;
  /** The accumulated table's columns (name and DuckDB type) as JSON, to refuse a changed source. */
  columns: string;
  updatedAt: string;
}

export function accumulationKey(k: AccumulationKey): string {
  return createHash("sha256")
    .update(JSON.stringify([k.pipeline, k.node, k.connection, k.source, k.cursorColumn]))
    .digest("hex");
}

/** The accumulated table of a key: a workspace table kept across runs. */
export function accumulationTable(key: string): string {
  return `dbacc_${key.slice(0, 32)}`;
}

async function ensureStateTable(sql: SqlSession): Promise<void> {
  await sql.run(
    `CREATE TABLE IF NOT EXISTS ${CURSOR_TABLE} (
       key VARCHAR PRIMARY KEY, acc_table VARCHAR NOT NULL, cursor_column VARCHAR NOT NULL,
       cursor VARCHAR, rows BIGINT NOT NULL, columns VARCHAR NOT NULL, updated_at VARCHAR NOT NULL)`,
  );
}

/** The committed state of an accumulation, or undefined when it has none (or its table is gone). */
export async function readCursorState(sql: SqlSession, key: string): Promise<CursorState | undefined> {
  await ensureStateTable(sql);
  const rows = await sql.all<{
    acc_table: string;
    cursor_column: string;
    cursor: string | null;
    rows: number;
    columns: string;
    updated_at: string;
  }>(`SELECT * FROM ${CURSOR_TABLE} WHERE key = ?`, [key]);
  const r = rows[0];
  if (!r) return undefined;
  const exists = await sql.all(
    "SELECT 1 FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main' AND NOT temporary",
    [r.acc_table],
  );
  if (exists.length === 0) return undefined;
  return {
    key,
    table: r.acc_table,
    cursorColumn: r.cursor_column,
    cursor: r.cursor,
    rows: Number(r.rows),
    columns: r.columns,
    updatedAt: r.updated_at,
  };
}

/** The columns as kept in the state (names and DuckDB types). */
export function columnsKey(columns: readonly SourceColumn[]): string {
  return JSON.stringify(columns.map((c) => [c.name, c.duckdbType]));
}

/**
 * Appends the rows `select` gives to the accumulation's table (creating it, or replacing it when
 * `replace`: a full refresh) and records the new cursor, in one transaction: both or neither.
 */
export async function commitIncrement(
  sql: SqlSession,
  opts: {
    key: string;
    table: string;
    cursorColumn: string;
    select: string;
    replace: boolean;
    cursor: CursorValue | null;
    columns: readonly SourceColumn[];
  },
): Promise<{ rows: number }> {
  await ensureStateTable(sql);
  const table = ident(opts.table);
  await sql.run("BEGIN TRANSACTION");
  try {
    if (opts.replace) await sql.run(`CREATE OR REPLACE TABLE ${table} AS ${opts.select}`);
    else await sql.run(`INSERT INTO ${table} ${opts.select}`);
    const { n } = await sql.one<{ n: number }>(`SELECT count(*) AS n FROM ${table}`);
    await sql.run(`INSERT OR REPLACE INTO ${CURSOR_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?)`, [
      opts.key,
      opts.table,
      opts.cursorColumn,
      opts.cursor,
      n,
      columnsKey(opts.columns),
      new Date().toISOString(),
    ]);
    await sql.run("COMMIT");
    return { rows: Number(n) };
  } catch (e) {
    await sql.run("ROLLBACK").catch(() => undefined);
    throw e;
  }
}

/** Drops an accumulation: its table and its cursor (a full refresh starts from nothing). */
export async function dropAccumulation(sql: SqlSession, key: string): Promise<void> {
  await ensureStateTable(sql);
  const state = await sql.all<{ acc_table: string }>(`SELECT acc_table FROM ${CURSOR_TABLE} WHERE key = ?`, [
    key,
  ]);
  await sql.run("BEGIN TRANSACTION");
  try {
    for (const s of state) await sql.run(`DROP TABLE IF EXISTS ${ident(s.acc_table)}`);
    await sql.run(`DELETE FROM ${CURSOR_TABLE} WHERE key = ?`, [key]);
    await sql.run("COMMIT");
  } catch (e) {
    await sql.run("ROLLBACK").catch(() => undefined);
    throw e;
  }
}
