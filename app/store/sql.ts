import type Database from "better-sqlite3";

/** A SQL parameter: what both drivers accept. Buffers are byte strings (BLOB / BYTEA). */
export type SqlParam = string | number | bigint | boolean | null | Buffer;

/**
 * What the metadata store and the registry need of a database, synchronously. Every
 * statement of the store goes through this port, never better-sqlite3 or libpq directly, so
 * the same store code runs on the embedded SQLite file and on a team's PostgreSQL.
 *
 * SQL text uses `?` placeholders only (no `@name`, no `$1`), and the portable subset both
 * dialects accept: `INSERT … ON CONFLICT … DO NOTHING / DO UPDATE SET c = excluded.c`,
 * `RETURNING`, `IS NOT DISTINCT FROM`, explicit GROUP BY columns, no negative LIMIT, no
 * `rowid`, no `julianday`/`strftime`. Where the dialects differ, the helpers below write the
 * text (`inJson`, `contains`, `jsonText`, `nullParam`).
 *
 * Integers come back as JS numbers in both drivers (PostgreSQL's BIGINT too).
 */
export interface Sql {
  readonly dialect: "sqlite" | "postgres";
  /** Every row, as objects keyed by column name. */
  all<T>(sql: string, ...params: SqlParam[]): T[];
  /** The first row, or undefined. */
  get<T>(sql: string, ...params: SqlParam[]): T | undefined;
  /** The first column of the first row, or undefined when there is no row (was `.pluck().get()`). */
  value<T>(sql: string, ...params: SqlParam[]): T | undefined;
  /** The first column of every row (was `.pluck().all()`). */
  column<T>(sql: string, ...params: SqlParam[]): T[];
  /** Every row as an array of values in column order (was `.raw().all()`). */
  rows(sql: string, ...params: SqlParam[]): unknown[][];
  /** A statement without a result set; `changes` is the number of rows it wrote. */
  run(sql: string, ...params: SqlParam[]): { changes: number };
  /** Several statements without parameters (DDL). */
  exec(script: string): void;
  /**
   * Runs `fn` as one write transaction. SQLite: BEGIN IMMEDIATE (the database's write lock
   * up front). PostgreSQL: BEGIN … COMMIT, the whole of `fn` retried on a serialization
   * failure or deadlock. Nested calls join the outer transaction.
   */
  write<T>(fn: () => T): T;
  /**
   * Inside `write`: serialises the writers of one key (a model's versions and aliases) until
   * the transaction ends. SQLite: nothing to do (IMMEDIATE holds the one database lock).
   * PostgreSQL: a transaction-scoped advisory lock on the key.
   */
  lock(key: string): void;
  /** `x IN <inJson()>` with one parameter, a JSON array text of the values. */
  inJson(): string;
  /** Case-insensitive substring test of a column against one text parameter. */
  contains(column: string): string;
  /** The text value of a top-level key of a JSON-text column. */
  jsonText(column: string, key: string): string;
  /**
   * The insertion order of the rows of `metrics` or `logs` (`ORDER BY ${insertionOrder()}`):
   * SQLite's rowid; on PostgreSQL those tables carry an identity column `seq`.
   */
  insertionOrder(alias?: string): string;
  /** A parameter compared with NULL (`${nullParam()} IS NULL`): PostgreSQL needs its type. */
  nullParam(): string;
  close(): void;
}

/** The SQLite driver: better-sqlite3, each SQL text prepared once per connection. */
export class SqliteSql implements Sql {
  readonly dialect = "sqlite" as const;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(
    /** The connection; for SQLite-only code (migrations written as functions, tests about the file). */
    readonly db: Database.Database,
  ) {}

  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    } else if (s.reader) {
      s.raw(false);
      s.pluck(false);
    }
    return s;
  }

  all<T>(sql: string, ...params: SqlParam[]): T[] {
    return this.stmt(sql).all(...params) as T[];
  }

  get<T>(sql: string, ...params: SqlParam[]): T | undefined {
    return this.stmt(sql).get(...params) as T | undefined;
  }

  value<T>(sql: string, ...params: SqlParam[]): T | undefined {
    return this.stmt(sql)
      .pluck()
      .get(...params) as T | undefined;
  }

  column<T>(sql: string, ...params: SqlParam[]): T[] {
    return this.stmt(sql)
      .pluck()
      .all(...params) as T[];
  }

  rows(sql: string, ...params: SqlParam[]): unknown[][] {
    return this.stmt(sql)
      .raw()
      .all(...params) as unknown[][];
  }

  run(sql: string, ...params: SqlParam[]): { changes: number } {
    const s = this.stmt(sql);
    // A statement with RETURNING is a reader to better-sqlite3; run() still executes it.
    return { changes: s.run(...params).changes };
  }

  exec(script: string): void {
    this.db.exec(script);
  }

  write<T>(fn: () => T): T {
    if (this.db.inTransaction) return fn();
    return this.db.transaction(fn).immediate();
  }

  lock(_key: string): void {
    if (!this.db.inTransaction) throw new Error("Sql.lock is for use inside write()");
  }

  inJson(): string {
    return "(SELECT value FROM json_each(?))";
  }

  contains(column: string): string {
    return `instr(lower(${column}), lower(?)) > 0`;
  }

  jsonText(column: string, key: string): string {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`jsonText: "${key}" is not a plain key`);
    return `json_extract(${column}, '$.${key}')`;
  }

  insertionOrder(alias?: string): string {
    return alias ? `${alias}.rowid` : "rowid";
  }

  nullParam(): string {
    return "?";
  }

  close(): void {
    this.statements.clear();
    if (this.db.open) this.db.close();
  }
}
