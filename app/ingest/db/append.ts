/**
 * Batches of rows read from a database (RowBatch, app/ingest/db/types.ts) → a DuckDB table, through
 * the appender (@duckdb/node-api `connection.createAppender`, one data chunk of ≤ 2048 rows at a
 * time). Values arrive normalised: DECIMAL, DATE, TIME, TIMESTAMP(TZ), JSON and UUID as text. Each
 * batch is appended into a buffer whose columns carry the values as they came (VARCHAR for those;
 * the type itself for booleans, numbers, BLOB; lists of those), then cast into the staging table
 * with `INSERT … SELECT CAST(… AS <type>)`: DuckDB parses the decimal and timestamp texts exactly,
 * so nothing passes through a JS number or Date on the way.
 */
import {
  blobValue,
  type DuckDBAppender,
  DuckDBDataChunk,
  type DuckDBType,
  type DuckDBValue,
  listValue,
} from "@duckdb/node-api";
import { ident, type SqlSession } from "../../data/sql";
import { DbError, type RowBatch, type SourceColumn } from "./types";

/**
 * Rows the carrier buffer gathers before they are cast into the staging table: few enough that the
 * buffer stays small, many enough that the per-statement cost does not show (a cast per 10,000-row
 * batch took three times as long over 1M rows from PostgreSQL).
 */
const FLUSH_ROWS = 200_000;

/** DuckDB's data chunk holds at most this many rows (STANDARD_VECTOR_SIZE). */
const CHUNK_ROWS = 2048;

/** A DuckDB type name as the readers produce it: one or two words, an optional "(p, s)", "[]" suffixes. */
const TYPE_NAME = /^[A-Za-z][A-Za-z0-9_]*( [A-Za-z]+){0,3}(\(\d+(, ?\d+)?\))?(\[\])*$/;

/** The value carriers: types whose JS value the appender takes as the reader gives it. */
type Carrier = "BOOLEAN" | "INTEGER" | "BIGINT" | "HUGEINT" | "DOUBLE" | "FLOAT" | "VARCHAR" | "BLOB";

const CARRIED: Record<string, Carrier> = {
  BOOLEAN: "BOOLEAN",
  BOOL: "BOOLEAN",
  TINYINT: "INTEGER",
  SMALLINT: "INTEGER",
  INTEGER: "INTEGER",
  INT: "INTEGER",
  UTINYINT: "INTEGER",
  USMALLINT: "INTEGER",
  BIGINT: "BIGINT",
  UINTEGER: "BIGINT",
  HUGEINT: "HUGEINT",
  UBIGINT: "HUGEINT",
  DOUBLE: "DOUBLE",
  FLOAT: "FLOAT",
  REAL: "FLOAT",
  BLOB: "BLOB",
};

/** The JS type of a carrier's values as the readers give them (RowBatch): taken without conversion. */
const JS_TYPE: Record<string, string | undefined> = {
  BOOLEAN: "boolean",
  INTEGER: "number",
  DOUBLE: "number",
  FLOAT: "number",
  BIGINT: "bigint",
  HUGEINT: "bigint",
  VARCHAR: "string",
};

/** The staging type of a column of DuckDB type `type`: its carrier, list depth kept. */
export function carrierType(type: string): string {
  if (!TYPE_NAME.test(type)) {
    throw new DbError("unmapped-type", `"${type}" is not a DuckDB type name the reader may give.`);
  }
  const list = /^(.*)\[\]$/.exec(type);
  if (list) return `${carrierType(list[1]!)}[]`;
  const base = type.replace(/\(.*$/, "").toUpperCase();
  return CARRIED[base] ?? "VARCHAR";
}

function toBigInt(v: unknown, column: string): bigint {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  if (typeof v === "string" && /^-?\d+$/.test(v)) return BigInt(v);
  throw new DbError("other", `Column "${column}": the reader gave ${typeof v} ${String(v)} for an integer.`);
}

/** One normalised value → what the appender takes for the carrier type. */
function carry(v: unknown, carrier: string, column: string): DuckDBValue {
  if (v === null || v === undefined) return null;
  if (carrier.endsWith("[]")) {
    if (!Array.isArray(v))
      throw new DbError("other", `Column "${column}": the reader gave no array for a list.`);
    const inner = carrier.slice(0, -2);
    return listValue(v.map((x) => carry(x, inner, column)));
  }
  switch (carrier) {
    case "BOOLEAN":
      return typeof v === "boolean" ? v : Boolean(v);
    case "INTEGER":
    case "DOUBLE":
    case "FLOAT":
      return typeof v === "number" ? v : Number(v);
    case "BIGINT":
    case "HUGEINT":
      return toBigInt(v, column);
    case "BLOB":
      if (v instanceof Uint8Array) return blobValue(v);
      throw new DbError("other", `Column "${column}": the reader gave ${typeof v} for bytes.`);
    default:
      if (typeof v === "string") return v;
      if (typeof v === "object" && !(v instanceof Uint8Array)) return JSON.stringify(v);
      return String(v);
  }
}

/** A staging table being filled: the read's rows with their final names and types. */
export interface Stage {
  readonly table: string;
  readonly columns: readonly SourceColumn[];
  /** Rows appended so far. */
  readonly rows: number;
  /** Appends a batch through the appender into the carrier buffer, cast into the table every FLUSH_ROWS rows. */
  append(batch: RowBatch): Promise<void>;
  /** Casts what the buffer holds into the table and drops the buffer (idempotent). */
  close(): Promise<void>;
  /** The SELECT that reads the staged rows. */
  select(): string;
}

/** Refuses column names a table cannot hold: empty or twice (case-insensitive, as DuckDB's names are). */
function checkNames(columns: readonly SourceColumn[]): void {
  const seen = new Set<string>();
  for (const c of columns) {
    if (!c.name) throw new DbError("other", "The read gives a column with no name: alias it (… AS name).");
    const key = c.name.toLowerCase();
    if (seen.has(key))
      throw new DbError(
        "other",
        `The read gives two columns named "${c.name}": alias one of them (… AS other_name).`,
      );
    seen.add(key);
  }
}

/**
 * Creates the staging table `table` (replacing one by that name) with the columns' own names and
 * types, and a carrier buffer beside it (`<table>_buf`) that each batch passes through: the batch
 * is appended there (the appender takes the readers' values as they are); every FLUSH_ROWS rows the
 * buffer is cast into the table in one INSERT … SELECT and emptied, so it never holds more.
 */
export async function createStage(
  sql: SqlSession,
  table: string,
  columns: readonly SourceColumn[],
): Promise<Stage> {
  checkNames(columns);
  const carriers = columns.map((c) => carrierType(c.duckdbType));
  const buffer = `${table}_buf`;
  await sql.run(
    `CREATE OR REPLACE TABLE ${ident(table)} (${columns.map((c) => `${ident(c.name)} ${c.duckdbType}`).join(", ")})`,
  );
  await sql.run(
    `CREATE OR REPLACE TABLE ${ident(buffer)} (${carriers.map((t, i) => `c${i} ${t}`).join(", ")})`,
  );
  const casts = columns
    .map((c, i) => (carriers[i] === c.duckdbType.toUpperCase() ? `c${i}` : `CAST(c${i} AS ${c.duckdbType})`))
    .join(", ");
  let types: DuckDBType[] | undefined;
  let rows = 0;
  let closed = false;

  /** A cast that fails (a value the type cannot hold) told with the column's own name. */
  const explain = (error: unknown): Error => {
    const message = (error as Error).message ?? String(error);
    const m = /Could not convert string "(.*?)" to '?([^'"]+?)'? when casting from source column c(\d+)/.exec(
      message,
    );
    const column = m && columns[Number(m[3])];
    if (!column) return error as Error;
    return new DbError(
      "unmapped-type",
      `Column "${column.name}" (${column.sourceType}) holds "${m[1]}", which is not a ${column.duckdbType}: fix the value in the database, or read the column as text with a query (CAST(… AS text)).`,
      { cause: error },
    );
  };

  let buffered = 0;
  /** Casts the buffered rows into the table and empties the buffer. */
  const flush = async () => {
    if (buffered === 0) return;
    try {
      await sql.run(`INSERT INTO ${ident(table)} SELECT ${casts} FROM ${ident(buffer)}`);
    } catch (e) {
      throw explain(e);
    }
    await sql.run(`DELETE FROM ${ident(buffer)}`);
    buffered = 0;
  };

  return {
    table,
    columns,
    get rows() {
      return rows;
    },
    async append(batch) {
      if (closed) throw new Error("the stage is closed");
      if (batch.columns.length !== columns.length) {
        throw new DbError(
          "other",
          `A batch has ${batch.columns.length} columns where the read announced ${columns.length}.`,
        );
      }
      if (batch.rows === 0) return;
      const appender: DuckDBAppender = await sql.connection.createAppender(buffer);
      try {
        types ??= carriers.map((_, i) => appender.columnType(i));
        for (let from = 0; from < batch.rows; from += CHUNK_ROWS) {
          const n = Math.min(CHUNK_ROWS, batch.rows - from);
          const chunk = DuckDBDataChunk.create(types, n);
          for (let i = 0; i < columns.length; i++) {
            const carrier = carriers[i]!;
            const name = columns[i]!.name;
            const slice = batch.columns[i]!.slice(from, from + n);
            const js = JS_TYPE[carrier];
            // The readers give these carriers' values as the appender takes them: passed as they are.
            if (js && slice.every((v) => v === null || typeof v === js)) {
              chunk.setColumnValues(i, slice as DuckDBValue[]);
            } else {
              chunk.setColumnValues(
                i,
                slice.map((v) => carry(v, carrier, name)),
              );
            }
          }
          appender.appendDataChunk(chunk);
        }
        appender.flushSync();
      } finally {
        appender.closeSync();
      }
      rows += batch.rows;
      buffered += batch.rows;
      if (buffered >= FLUSH_ROWS) await flush();
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await flush();
      } finally {
        await sql.run(`DROP TABLE IF EXISTS ${ident(buffer)}`);
      }
    },
    select() {
      return `SELECT * FROM ${ident(table)}`;
    },
  };
}

/**
 * The longest CSV row read_csv takes, in bytes: its buffers are twice that, and it parses a buffer
 * once it is full (or the pipe ended), so a small one keeps memory low and lets DuckDB parse while
 * PostgreSQL still writes. A longer row (a large text or bytea) fails with CsvLineTooLong.
 */
export const CSV_MAX_LINE = 4 * 1024 * 1024;

/** A row longer than CSV_MAX_LINE: the caller reads another way. */
export class CsvLineTooLong extends Error {
  constructor(options?: { cause?: unknown }) {
    super(`A row is longer than ${CSV_MAX_LINE} bytes, the longest the CSV path reads.`, options);
    this.name = "CsvLineTooLong";
  }
}

/** A column of a CSV as read_csv takes it: the type it parses the field as, and the SQL over the field giving the value. */
export interface CsvField {
  type: string;
  expr: (field: string) => string;
}

/**
 * Creates the table `table` (replacing one by that name) with the columns' own names and types,
 * empty, for `loadCsv`.
 */
export async function createCsvTable(
  sql: SqlSession,
  table: string,
  columns: readonly SourceColumn[],
): Promise<void> {
  checkNames(columns);
  for (const c of columns) carrierType(c.duckdbType); // refuses anything but a DuckDB type name
  await sql.run(
    `CREATE OR REPLACE TABLE ${ident(table)} (${columns.map((c) => `${ident(c.name)} ${c.duckdbType}`).join(", ")})`,
  );
}

/**
 * Appends the rows of the headerless CSV at `path` (RFC 4180 quoting, NULL written as an unquoted
 * \N, "\N" quoted is text) to `table`, in one `INSERT … SELECT … FROM read_csv(…)`: DuckDB parses
 * the text itself, reading the file once from front to back (a named pipe works: read_csv reads a
 * pipe without seeking, its buffers parsed by its threads as they fill; DuckDB 1.2+,
 * https://github.com/duckdb/duckdb/pull/15461). The parallel reader: with parallel = false, on a
 * pipe that PostgreSQL keeps full, both of DuckDB's threads stayed busy, 1.6–2× the CPU time the
 * parallel reader takes, the node's read took 1.2–2× as long and peaked ~70 MiB higher
 * (interleaved runs of bench:ingest-db's table on 2 cores); rows split by quoted newlines across
 * buffers land whole and in order (nodes/ingest-database-pg-csv.test.ts). Returns the rows
 * inserted. A value the column's type cannot hold fails naming the column.
 */
export async function loadCsv(
  sql: SqlSession,
  table: string,
  columns: readonly SourceColumn[],
  fields: readonly CsvField[],
  path: string,
): Promise<number> {
  const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
  const types = fields.map((f, i) => `'c${i}': ${quote(f.type)}`).join(", ");
  const exprs = fields.map((f, i) => f.expr(`c${i}`)).join(", ");
  const read = `read_csv(${quote(path)}, columns = {${types}}, header = false, delim = ',', quote = '"', escape = '"', nullstr = '\\N', allow_quoted_nulls = false, auto_detect = false, parallel = true, max_line_size = ${CSV_MAX_LINE}, buffer_size = ${2 * CSV_MAX_LINE})`;
  try {
    const result = await sql.connection.run(`INSERT INTO ${ident(table)} SELECT ${exprs} FROM ${read}`);
    return Number(result.rowsChanged);
  } catch (e) {
    const message = (e as Error).message ?? String(e);
    if (/maximum line size/i.test(message)) throw new CsvLineTooLong({ cause: e });
    const first = message.split("\n")[0]!;
    const m = /column "c(\d+)"\. Could not convert string "(.*?)" to/.exec(message);
    const column = m && columns[Number(m[1])];
    if (column) {
      const line = /CSV Error on Line: (\d+)/.exec(message)?.[1];
      throw new DbError(
        "unmapped-type",
        `Column "${column.name}" (${column.sourceType}) holds "${m[2]}"${line ? ` in row ${line}` : ""}, which is not a ${column.duckdbType}: fix the value in the database, or read the column as text with a query (CAST(… AS text)).`,
        { cause: e },
      );
    }
    const own = /^Invalid Input Error: (Column ".*)$/.exec(first);
    if (own) throw new DbError("unmapped-type", own[1]!, { cause: e });
    throw e;
  }
}
