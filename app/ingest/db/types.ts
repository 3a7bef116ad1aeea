/**
 * The contract between a database's reader (app/ingest/db/<kind>.ts: PostgreSQL through `pg` and
 * `pg-copy-streams`, MySQL/MariaDB through `mysql2`, SQLite through better-sqlite3) and the
 * `ingest.database` block (nodes/ingest-database.ts), the Api and `dagwood connections`.
 */
import type { ConnectionSettings } from "./settings";

/** What to read: a table (optionally some columns and a filter) or one read-only query. */
export type ReadSource =
  | { table: string; schema?: string; columns?: string[]; where?: string }
  | { query: string };

export interface ReadSpec {
  source: ReadSource;
  /** Incremental reads: only rows whose cursor column is past `after` (null: from the start), ordered by it. */
  cursor?: { column: string; after: CursorValue | null };
  /** Preview: at most this many rows. */
  limit?: number;
  /** Columns whose source type has no lossless DuckDB mapping are read as text instead of failing. */
  unmappedAsText?: boolean;
}

/** A cursor value as kept with a run: numbers and ids as decimal text, timestamps as ISO text. */
export type CursorValue = string;

/** A column as the source describes it and as it lands in DuckDB. */
export interface SourceColumn {
  name: string;
  /** The database's own type name, e.g. `numeric(12,2)`, `timestamp with time zone`, `int[]`. */
  sourceType: string;
  /** The DuckDB type it maps to without loss, e.g. `DECIMAL(12,2)`, `TIMESTAMPTZ`, `INTEGER[]`. */
  duckdbType: string;
  nullable: boolean;
}

/**
 * A batch of rows, column-major: `columns[i][r]` is row r's value of column i, normalised for DuckDB's
 * appender: BOOLEAN → boolean; TINYINT…INTEGER, DOUBLE, FLOAT → number; BIGINT, HUGEINT → bigint;
 * DECIMAL → its exact decimal text; VARCHAR, JSON, UUID → string; DATE → "YYYY-MM-DD";
 * TIME → "HH:MM:SS[.ffffff]"; TIMESTAMP → "YYYY-MM-DD HH:MM:SS[.ffffff]"; TIMESTAMPTZ → the same in
 * UTC with "+00"; BLOB → Buffer (Uint8Array); LIST → an array of normalised elements; NULL → null.
 */
export interface RowBatch {
  rows: number;
  columns: unknown[][];
}

export interface ReadProgress {
  rows: number;
  bytes?: number;
  elapsedMs: number;
}

export interface ReadResult {
  columns: SourceColumn[];
  rows: number;
  /** Incremental: the largest cursor value read (null: no rows). */
  cursorMax: CursorValue | null;
}

/** A catalog entry for the inspector. */
export interface CatalogTable {
  schema: string | null;
  name: string;
  kind: "table" | "view";
  /** An estimate where the database keeps one (pg_class.reltuples, information_schema.TABLES.TABLE_ROWS). */
  rowsEstimate: number | null;
}

/** An open connection to one database. Every method may throw a `DbError`. */
export interface DbConnection {
  readonly kind: ConnectionSettings["kind"];
  serverVersion(): Promise<string>;
  listSchemas(): Promise<string[]>;
  listTables(schema?: string): Promise<CatalogTable[]>;
  /** The columns (and their mapping) a read would produce, without reading rows. */
  describe(spec: ReadSpec): Promise<SourceColumn[]>;
  /**
   * Streams the rows in batches (memory stays flat): `onBatch` is awaited before the next batch is
   * fetched. `signal` cancels the query on the server. The columns are announced before the first batch.
   */
  read(
    spec: ReadSpec,
    opts: {
      batchRows?: number;
      signal?: AbortSignal;
      onColumns: (columns: SourceColumn[]) => Promise<void> | void;
      onBatch: (batch: RowBatch) => Promise<void>;
      onProgress?: (p: ReadProgress) => void;
    },
  ): Promise<ReadResult>;
  /**
   * What changed, for the block's cache key, asked of the database without reading the rows
   * (PostgreSQL: row count + the cursor's max, or a sum of the row versions' hashes, postgres.ts
   * changeToken; SQLite:
   * data_version + the file's bytes' hash; MySQL: CHECKSUM TABLE or the cursor's max). Null when the
   * database cannot say (a query source): then the block always reads.
   */
  changeToken(spec: ReadSpec): Promise<string | null>;
  close(): Promise<void>;
}

export type DbErrorKind =
  | "auth"
  | "unreachable"
  | "timeout"
  | "not-found"
  | "not-read-only"
  | "unmapped-type"
  | "cursor"
  | "dropped"
  | "cancelled"
  | "other";

/** A database error the user can act on; its message names the connection and never the secret. */
export class DbError extends Error {
  constructor(
    readonly kind: DbErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "DbError";
  }
}
