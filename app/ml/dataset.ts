/**
 * Reads workspace tables into column arrays for the estimators: one streamed
 * DuckDB query, read chunk by chunk into typed arrays, never row objects.
 *
 * - numeric columns (integers, floats, decimals, BOOLEAN as 0/1, DATE and
 *   TIMESTAMP as epoch milliseconds, TIME as milliseconds since midnight)
 *   become a Float64Array; NULL becomes NaN. NaN and ±Infinity stored in the
 *   table are kept as they are: the preprocessing treats them as missing.
 * - categorical columns (VARCHAR, ENUM, UUID) become dictionary codes: the
 *   distinct strings in first-seen order and an Int32Array of indexes into it,
 *   -1 for NULL. The preprocessing turns them into model codes.
 */
import type { DuckDBDataChunk, DuckDBResult } from "@duckdb/node-api";
import { ident, isNumericType, isTemporalType, type SqlSession } from "../data/sql";
import type { ColumnInfo } from "../engine/ports";

export type ColumnKind = "numeric" | "categorical";

export interface NumericColumn {
  name: string;
  kind: "numeric";
  /** The DuckDB type it was read from. */
  type: string;
  values: Float64Array;
}

export interface CategoricalColumn {
  name: string;
  kind: "categorical";
  type: string;
  /** Index into `dictionary` per row; -1 for NULL. */
  codes: Int32Array;
  /** The distinct non-NULL strings, in first-seen order. */
  dictionary: string[];
}

export type RawColumn = NumericColumn | CategoricalColumn;

export interface ColumnTable {
  rows: number;
  columns: RawColumn[];
}

/** How a column of this DuckDB type is read, or undefined when it cannot be a feature (LIST, STRUCT, BLOB…). */
export function columnKind(type: string): ColumnKind | undefined {
  if (isNumericType(type) || type === "BOOLEAN" || isTemporalType(type)) {
    return type === "INTERVAL" ? undefined : "numeric";
  }
  if (type === "VARCHAR" || type === "UUID" || type.startsWith("ENUM(")) return "categorical";
  return undefined;
}

/** The SQL that reads one column as DOUBLE (numeric) or VARCHAR (categorical). */
function readExpression(column: ColumnInfo, kind: ColumnKind): string {
  const c = ident(column.name);
  if (kind === "categorical") return `CAST(${c} AS VARCHAR)`;
  if (column.type === "DATE" || column.type.startsWith("TIMESTAMP")) return `epoch_ms(${c})::DOUBLE`;
  if (column.type === "TIME") return `(epoch(${c}) * 1000)::DOUBLE`;
  if (isNumericType(column.type) || column.type === "BOOLEAN") return `CAST(${c} AS DOUBLE)`;
  // A column that was numeric in training but is not here (e.g. VARCHAR): unparsable → missing.
  return `TRY_CAST(${c} AS DOUBLE)`;
}

export interface ColumnRequest {
  /** The column as the table describes it. */
  column: ColumnInfo;
  /** Force a kind (e.g. the one the model was trained with); default: from the type. */
  kind?: ColumnKind;
}

export interface ReadOptions {
  /** Checked between chunks; an aborted read rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Allocate the columns in SharedArrayBuffers, for a caller
   * that hands them to worker threads (app/ml/work/shared.ts): read into
   * shared memory at once rather than read, then copied.
   */
  shared?: boolean;
}

/**
 * Reads the requested columns of `table`, in the table's row order (DuckDB
 * keeps insertion order), as typed arrays. Also returns each row's `rowid`,
 * so results can be joined back to the table.
 */
export async function readColumns(
  sql: SqlSession,
  table: string,
  requests: readonly ColumnRequest[],
  options: ReadOptions = {},
): Promise<ColumnTable & { rowid: Float64Array }> {
  const kinds = requests.map((r) => {
    const kind = r.kind ?? columnKind(r.column.type);
    if (!kind) throw new Error(`Column "${r.column.name}" has type ${r.column.type}, which cannot be read`);
    return kind;
  });
  const t = ident(table);
  const { n } = await sql.one<{ n: number }>(`SELECT count(*) AS n FROM ${t}`);
  const select = [`rowid::DOUBLE`, ...requests.map((r, i) => readExpression(r.column, kinds[i]!))];
  const result = await sql.connection.stream(`SELECT ${select.join(", ")} FROM ${t}`);
  const numbers = (length: number) =>
    options.shared ? new Float64Array(new SharedArrayBuffer(length * 8)) : new Float64Array(length);
  const rowid = new Float64Array(n);
  const columns: RawColumn[] = requests.map((r, i) =>
    kinds[i] === "numeric"
      ? { name: r.column.name, kind: "numeric", type: r.column.type, values: numbers(n) }
      : {
          name: r.column.name,
          kind: "categorical",
          type: r.column.type,
          codes: options.shared ? new Int32Array(new SharedArrayBuffer(n * 4)) : new Int32Array(n),
          dictionary: [],
        },
  );
  const lookups = columns.map(() => new Map<string, number>());
  let row = 0;
  for (;;) {
    options.signal?.throwIfAborted();
    const chunk = await fetchChunk(result);
    if (!chunk) break;
    const m = chunk.rowCount;
    if (row + m > n) throw new Error(`Table "${table}" changed while it was read`);
    readNumbers(chunk, 0, rowid, row);
    columns.forEach((col, k) => {
      if (col.kind === "numeric") readNumbers(chunk, k + 1, col.values, row);
      else readStrings(chunk, k + 1, col, lookups[k]!, row);
    });
    row += m;
  }
  if (row !== n) throw new Error(`Table "${table}" changed while it was read`);
  return { rows: n, columns, rowid };
}

async function fetchChunk(result: DuckDBResult): Promise<DuckDBDataChunk | null> {
  const chunk = await result.fetchChunk();
  return chunk && chunk.rowCount > 0 ? chunk : null;
}

function readNumbers(chunk: DuckDBDataChunk, index: number, out: Float64Array, offset: number): void {
  const vector = chunk.getColumnVector(index);
  for (let j = 0; j < chunk.rowCount; j++) {
    const x = vector.getItem(j) as number | null;
    out[offset + j] = x === null ? Number.NaN : x;
  }
}

function readStrings(
  chunk: DuckDBDataChunk,
  index: number,
  col: CategoricalColumn,
  lookup: Map<string, number>,
  offset: number,
): void {
  const vector = chunk.getColumnVector(index);
  for (let j = 0; j < chunk.rowCount; j++) {
    const s = vector.getItem(j) as string | null;
    if (s === null) {
      col.codes[offset + j] = -1;
      continue;
    }
    let code = lookup.get(s);
    if (code === undefined) {
      code = col.dictionary.length;
      col.dictionary.push(s);
      lookup.set(s, code);
    }
    col.codes[offset + j] = code;
  }
}

/** The string at a row of a categorical column, or null. */
export function categoryAt(col: CategoricalColumn, row: number): string | null {
  const code = col.codes[row]!;
  return code < 0 ? null : col.dictionary[code]!;
}

/** The given rows of every column, in the given order. */
export function selectRows(table: ColumnTable, rows: Int32Array): ColumnTable {
  if (rows.length === table.rows) return table;
  const columns = table.columns.map((col): RawColumn => {
    if (col.kind === "numeric") return { ...col, values: Float64Array.from(rows, (i) => col.values[i]!) };
    return { ...col, codes: Int32Array.from(rows, (i) => col.codes[i]!) };
  });
  return { rows: rows.length, columns };
}
