/**
 * Source type → DuckDB type, per dialect, without loss; null where there is no lossless mapping (the
 * reader then fails with an "unmapped-type" error naming the column, or reads it as text when the
 * user chose `unmappedAsText`). DuckDB keeps DECIMAL up to 38 digits
 * (https://duckdb.org/docs/sql/data_types/numeric#fixed-point-decimals).
 */

export const DUCKDB_MAX_DECIMAL = 38;

// ---------------------------------------------------------------------------------------------
// PostgreSQL: by type OID (src/include/catalog/pg_type.dat) and the column's typmod.

/** Scalar OIDs the binary reader decodes, with their DuckDB type (numeric: see numericType). */
export const PG_SCALARS: Record<number, { name: string; duckdb: string }> = {
  16: { name: "boolean", duckdb: "BOOLEAN" },
  21: { name: "smallint", duckdb: "SMALLINT" },
  23: { name: "integer", duckdb: "INTEGER" },
  20: { name: "bigint", duckdb: "BIGINT" },
  700: { name: "real", duckdb: "FLOAT" },
  701: { name: "double precision", duckdb: "DOUBLE" },
  1700: { name: "numeric", duckdb: "DECIMAL" },
  25: { name: "text", duckdb: "VARCHAR" },
  1043: { name: "character varying", duckdb: "VARCHAR" },
  1042: { name: "character", duckdb: "VARCHAR" },
  19: { name: "name", duckdb: "VARCHAR" },
  1082: { name: "date", duckdb: "DATE" },
  1083: { name: "time without time zone", duckdb: "TIME" },
  1114: { name: "timestamp without time zone", duckdb: "TIMESTAMP" },
  1184: { name: "timestamp with time zone", duckdb: "TIMESTAMPTZ" },
  2950: { name: "uuid", duckdb: "UUID" },
  114: { name: "json", duckdb: "JSON" },
  3802: { name: "jsonb", duckdb: "JSON" },
  17: { name: "bytea", duckdb: "BLOB" },
};

/** One-dimensional arrays of the scalars: array OID → element OID. */
export const PG_ARRAYS: Record<number, number> = {
  1000: 16,
  1005: 21,
  1007: 23,
  1016: 20,
  1021: 700,
  1022: 701,
  1231: 1700,
  1009: 25,
  1015: 1043,
  1014: 1042,
  1003: 19,
  1182: 1082,
  1183: 1083,
  1115: 1114,
  1185: 1184,
  2951: 2950,
  199: 114,
  3807: 3802,
  1001: 17,
};

/** numeric's typmod → (precision, scale); -1 (unconstrained) → null. */
export function pgNumericTypmod(typmod: number): { precision: number; scale: number } | null {
  if (typmod < 4) return null;
  const t = typmod - 4;
  return { precision: (t >> 16) & 0xffff, scale: t & 0xffff };
}

/**
 * numeric(p,s) → DECIMAL(p,s) for p ≤ 38. Unconstrained numeric (any precision, e.g. `sum(x)`) and
 * p > 38 have no lossless DuckDB type: null (an error, or text when chosen) — never DOUBLE, which rounds.
 */
export function pgNumericType(typmod: number): string | null {
  const ps = pgNumericTypmod(typmod);
  if (!ps || ps.precision > DUCKDB_MAX_DECIMAL || ps.scale > ps.precision) return null;
  return `DECIMAL(${ps.precision},${ps.scale})`;
}

/** A PostgreSQL column's DuckDB type by OID and typmod; null: no lossless mapping. Enums are mapped by the reader (VARCHAR). */
export function pgDuckdbType(oid: number, typmod: number): string | null {
  if (oid === 1700) return pgNumericType(typmod);
  const s = PG_SCALARS[oid];
  if (s) return s.duckdb;
  const el = PG_ARRAYS[oid];
  if (el !== undefined) {
    // An array's typmod is its element's (numeric(10,2)[] keeps (10,2)).
    const inner = pgDuckdbType(el, typmod);
    return inner === null ? null : `${inner}[]`;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// MySQL / MariaDB: by the protocol's column type (include/field_types.h / mysql2's Types) and flags.

export const MYSQL_TYPES = {
  DECIMAL: 0,
  TINY: 1,
  SHORT: 2,
  LONG: 3,
  FLOAT: 4,
  DOUBLE: 5,
  NULL: 6,
  TIMESTAMP: 7,
  LONGLONG: 8,
  INT24: 9,
  DATE: 10,
  TIME: 11,
  DATETIME: 12,
  YEAR: 13,
  NEWDATE: 14,
  VARCHAR: 15,
  BIT: 16,
  JSON: 245,
  NEWDECIMAL: 246,
  ENUM: 247,
  SET: 248,
  TINY_BLOB: 249,
  MEDIUM_BLOB: 250,
  LONG_BLOB: 251,
  BLOB: 252,
  VAR_STRING: 253,
  STRING: 254,
  GEOMETRY: 255,
} as const;

const UNSIGNED_FLAG = 32;
const BINARY_CHARSET = 63;

export interface MysqlField {
  columnType: number;
  flags: number;
  decimals: number;
  columnLength: number;
  characterSet: number;
  /** MariaDB's extended metadata: "json" for its JSON columns (LONGTEXT with a check). */
  extendedFormat?: string;
}

/** A MySQL column's source type name (for the inspector and errors). */
export function mysqlTypeName(f: MysqlField): string {
  const entry = Object.entries(MYSQL_TYPES).find(([, v]) => v === f.columnType);
  if (f.extendedFormat === "json") return "json";
  const base = (entry?.[0] ?? `type ${f.columnType}`).toLowerCase();
  const unsigned = f.flags & UNSIGNED_FLAG ? " unsigned" : "";
  if (f.columnType === MYSQL_TYPES.NEWDECIMAL || f.columnType === MYSQL_TYPES.DECIMAL) {
    const p = mysqlDecimalPrecision(f);
    return `decimal(${p},${f.decimals})${unsigned}`;
  }
  return base + unsigned;
}

/** DECIMAL's precision from the protocol's display length (which counts the sign and the point). */
export function mysqlDecimalPrecision(f: MysqlField): number {
  const unsigned = (f.flags & UNSIGNED_FLAG) !== 0;
  return f.columnLength - (f.decimals > 0 ? 1 : 0) - (unsigned ? 0 : 1);
}

/**
 * A MySQL column's DuckDB type; null: no lossless mapping (TIME, whose range is ±838 hours; BIT(n>1);
 * GEOMETRY; DECIMAL wider than 38). TINYINT(1) stays TINYINT (it can hold 2..127); BIT(1) is BOOLEAN.
 * TIMESTAMP is read in UTC (the session's time_zone is +00:00) → TIMESTAMPTZ; DATETIME → TIMESTAMP.
 */
export function mysqlDuckdbType(f: MysqlField): string | null {
  const u = (f.flags & UNSIGNED_FLAG) !== 0;
  const T = MYSQL_TYPES;
  if (f.extendedFormat === "json") return "JSON";
  switch (f.columnType) {
    case T.TINY:
      return u ? "UTINYINT" : "TINYINT";
    case T.SHORT:
      return u ? "USMALLINT" : "SMALLINT";
    case T.INT24:
      return "INTEGER";
    case T.LONG:
      return u ? "UINTEGER" : "INTEGER";
    case T.LONGLONG:
      return u ? "UBIGINT" : "BIGINT";
    case T.YEAR:
      return "SMALLINT";
    case T.FLOAT:
      return "FLOAT";
    case T.DOUBLE:
      return "DOUBLE";
    case T.DECIMAL:
    case T.NEWDECIMAL: {
      const p = mysqlDecimalPrecision(f);
      return p >= 1 && p <= DUCKDB_MAX_DECIMAL ? `DECIMAL(${p},${f.decimals})` : null;
    }
    case T.DATE:
    case T.NEWDATE:
      return "DATE";
    case T.DATETIME:
      return "TIMESTAMP";
    case T.TIMESTAMP:
      return "TIMESTAMPTZ";
    case T.BIT:
      return f.columnLength === 1 ? "BOOLEAN" : null;
    case T.JSON:
      return "JSON";
    case T.NULL:
      return "VARCHAR";
    case T.VARCHAR:
    case T.VAR_STRING:
    case T.STRING:
    case T.ENUM:
    case T.SET:
    case T.TINY_BLOB:
    case T.MEDIUM_BLOB:
    case T.LONG_BLOB:
    case T.BLOB:
      return f.characterSet === BINARY_CHARSET ? "BLOB" : "VARCHAR";
    default:
      return null;
  }
}

// ---------------------------------------------------------------------------------------------
// SQLite: a column's declared type (affinity rules, https://www.sqlite.org/datatype3.html §3.1) and,
// where there is none (an expression) or it does not hold, the storage classes its values have.

/** The DuckDB type a declared SQLite type promises; null: no declared type (decide from the values). */
export function sqliteDeclaredType(declared: string | null): string | null {
  if (!declared || declared.trim() === "") return null;
  const d = declared.toUpperCase().trim();
  const dec = /^(?:DECIMAL|NUMERIC)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)$/.exec(d);
  if (dec) {
    const p = Number(dec[1]);
    const s = Number(dec[2] ?? 0);
    if (p >= 1 && p <= DUCKDB_MAX_DECIMAL && s <= p) return `DECIMAL(${p},${s})`;
  }
  if (/^(BOOL|BOOLEAN)$/.test(d)) return "BOOLEAN";
  if (d === "DATE") return "DATE";
  if (/^(DATETIME|TIMESTAMP)$/.test(d)) return "TIMESTAMP";
  if (d === "JSON") return "JSON";
  // The affinity rules, in SQLite's order.
  if (d.includes("INT")) return "BIGINT";
  if (d.includes("CHAR") || d.includes("CLOB") || d.includes("TEXT")) return "VARCHAR";
  if (d.includes("BLOB")) return "BLOB";
  if (d.includes("REAL") || d.includes("FLOA") || d.includes("DOUB")) return "DOUBLE";
  return null; // NUMERIC affinity without a precision: decided from the values.
}

/** Storage classes seen in a column: integer, real, text, blob. */
export interface SqliteClasses {
  integer: boolean;
  real: boolean;
  text: boolean;
  blob: boolean;
}

/**
 * The DuckDB type for a SQLite column: its declared type when every value's storage class fits it,
 * else from the values (integers → BIGINT, numbers → DOUBLE, text → VARCHAR, blobs → BLOB); null when
 * the values mix kinds that no one type holds without loss (text and numbers, blobs and anything).
 */
export function sqliteDuckdbType(declared: string | null, seen: SqliteClasses): string | null {
  const decl = sqliteDeclaredType(declared);
  const fits = (allowed: (keyof SqliteClasses)[]) =>
    (Object.keys(seen) as (keyof SqliteClasses)[]).every((k) => !seen[k] || allowed.includes(k));
  if (decl) {
    const ok =
      decl === "BIGINT" || decl === "BOOLEAN"
        ? fits(["integer"])
        : decl === "DOUBLE"
          ? fits(["integer", "real"])
          : decl.startsWith("DECIMAL")
            ? fits(["integer", "real", "text"])
            : decl === "BLOB"
              ? fits(["blob"])
              : fits(["text"]); // VARCHAR, JSON, DATE, TIMESTAMP
    if (ok) return decl;
  }
  if (seen.blob) return seen.integer || seen.real || seen.text ? null : "BLOB";
  if (seen.text) return seen.integer || seen.real ? null : "VARCHAR";
  if (seen.real) return "DOUBLE";
  if (seen.integer) return "BIGINT";
  return decl ?? "VARCHAR"; // no values at all
}
