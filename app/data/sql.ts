import type { DuckDBConnection, DuckDBValue } from "@duckdb/node-api";
import type { ColumnInfo } from "../engine/ports";

export type Row = Record<string, unknown>;
export type SqlValues = DuckDBValue[] | Record<string, DuckDBValue>;

/** Quotes an identifier for DuckDB SQL. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quotes a string literal for DuckDB SQL. */
export function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** Converts DuckDB's JS values into plain JSON-friendly ones (bigint → number when safe). */
export function plain(v: unknown): unknown {
  if (typeof v === "bigint") {
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)
      ? Number(v)
      : v.toString();
  }
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object" && !(v instanceof Date)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

/**
 * One DuckDB connection with the few calls blocks need. Each node run gets
 * its own session, so TEMP tables are private to it and independent branches
 * run concurrently.
 */
export class SqlSession {
  /**
   * Set by interrupt(): DuckDB's interrupt reaches only the statement running
   * at that moment, so a cancel that lands between statements (a block still
   * preparing its first query) would otherwise be lost and the next statement
   * run to its end.
   */
  private interrupted = false;

  constructor(readonly connection: DuckDBConnection) {}

  private checkInterrupted(): void {
    if (this.interrupted) throw new Error("INTERRUPT: the run was canceled");
  }

  async run(sql: string, values?: SqlValues): Promise<void> {
    this.checkInterrupted();
    await this.connection.run(sql, values);
  }

  async all<T extends Row = Row>(sql: string, values?: SqlValues): Promise<T[]> {
    this.checkInterrupted();
    const reader = await this.connection.runAndReadAll(sql, values);
    return reader.getRowObjectsJS().map((r) => plain(r) as T);
  }

  async one<T extends Row = Row>(sql: string, values?: SqlValues): Promise<T> {
    const rows = await this.all<T>(sql, values);
    if (rows.length === 0) throw new Error(`Query returned no rows: ${sql.slice(0, 80)}`);
    return rows[0]!;
  }

  async columns(table: string): Promise<ColumnInfo[]> {
    const rows = await this.all<{ column_name: string; column_type: string }>(
      `DESCRIBE SELECT * FROM ${ident(table)}`,
    );
    return rows.map((r) => ({ name: r.column_name, type: r.column_type }));
  }

  /** Stops the statement running on this connection and refuses any later one (used for cancel). */
  interrupt(): void {
    this.interrupted = true;
    this.connection.interrupt();
  }

  close(): void {
    this.connection.closeSync();
  }
}

const NUMERIC =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|REAL|DECIMAL.*)$/;
const TEMPORAL = /^(DATE|TIME|TIMESTAMP.*|INTERVAL)$/;

export function isNumericType(type: string): boolean {
  return NUMERIC.test(type);
}

export function isTemporalType(type: string): boolean {
  return TEMPORAL.test(type);
}
