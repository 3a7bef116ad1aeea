/**
 * Type names a suite may carry in `expect_column_values_to_be_of_type` and
 * `_in_type_list`, mapped to the DuckDB types they accept.
 *
 * Great Expectations compares the expected name with the backend's own type
 * (great_expectations/expectations/core/expect_column_values_to_be_of_type.py,
 * 0.18: `_validate_pandas` compares numpy dtypes, `_validate_sqlalchemy` checks
 * `issubclass(actual_type, getattr(dialect_types, expected))`, so a generic
 * SQLAlchemy name such as "Integer" accepts every integer type). A suite
 * written against pandas or a SQL database therefore carries pandas/numpy or
 * SQLAlchemy names; each maps here to the DuckDB types holding such values.
 * Names are matched case-insensitively. A DuckDB type name (with its aliases)
 * matches that exact type; DECIMAL matches any DECIMAL(p,s).
 */

const SIGNED = ["TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"];
const UNSIGNED = ["UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"];
const INTEGERS = [...SIGNED, ...UNSIGNED];
const FLOATS = ["FLOAT", "DOUBLE"];
const TEXT = ["VARCHAR"];
const TIMESTAMPS = ["TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "TIMESTAMP WITH TIME ZONE"];

/** Expected type name (lower case) → the DuckDB base types it accepts ("DECIMAL" stands for every DECIMAL(p,s)). */
export const TYPE_NAMES: Readonly<Record<string, readonly string[]>> = {
  // DuckDB names and aliases (https://duckdb.org/docs/sql/data_types/overview)
  tinyint: ["TINYINT"],
  int1: ["TINYINT"],
  smallint: ["SMALLINT"],
  int2: ["SMALLINT"],
  short: ["SMALLINT"],
  integer: INTEGERS, // SQLAlchemy Integer is the base of SmallInteger and BigInteger (issubclass)
  int4: ["INTEGER"],
  signed: ["INTEGER"],
  bigint: ["BIGINT"],
  int8: ["BIGINT", "TINYINT"], // DuckDB's INT8 is BIGINT; numpy's int8 is TINYINT: both are accepted
  long: ["BIGINT"],
  hugeint: ["HUGEINT"],
  int128: ["HUGEINT"],
  utinyint: ["UTINYINT"],
  usmallint: ["USMALLINT"],
  uinteger: ["UINTEGER"],
  ubigint: ["UBIGINT"],
  uhugeint: ["UHUGEINT"],
  float: ["FLOAT", "DOUBLE"], // SQLAlchemy Float and Python float: any floating point type
  float4: ["FLOAT"],
  real: ["FLOAT"],
  double: ["DOUBLE"],
  float8: ["DOUBLE"],
  "double precision": ["DOUBLE"],
  double_precision: ["DOUBLE"], // SQLAlchemy's PostgreSQL DOUBLE_PRECISION
  decimal: ["DECIMAL"],
  numeric: ["DECIMAL", ...FLOATS], // SQLAlchemy Numeric is the base of Float and DECIMAL
  varchar: TEXT,
  text: TEXT,
  string: TEXT,
  char: TEXT,
  bpchar: TEXT,
  unicode: TEXT,
  unicodetext: TEXT,
  boolean: ["BOOLEAN"],
  bool: ["BOOLEAN"],
  logical: ["BOOLEAN"],
  date: ["DATE"],
  time: ["TIME"],
  timetz: ["TIME WITH TIME ZONE"],
  "time with time zone": ["TIME WITH TIME ZONE"],
  bit: ["BIT"],
  bitstring: ["BIT"],
  timestamp: ["TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"],
  datetime: TIMESTAMPS,
  timestamptz: ["TIMESTAMP WITH TIME ZONE"],
  "timestamp with time zone": ["TIMESTAMP WITH TIME ZONE"],
  timestamp_s: ["TIMESTAMP_S"],
  timestamp_ms: ["TIMESTAMP_MS"],
  timestamp_ns: ["TIMESTAMP_NS"],
  interval: ["INTERVAL"],
  blob: ["BLOB"],
  bytea: ["BLOB"],
  binary: ["BLOB"],
  largebinary: ["BLOB"],
  uuid: ["UUID"],
  json: ["JSON"],
  // pandas / numpy dtype names and Python type names
  int16: ["SMALLINT"],
  int32: ["INTEGER"],
  int64: ["BIGINT"],
  uint8: ["UTINYINT"],
  uint16: ["USMALLINT"],
  uint32: ["UINTEGER"],
  uint64: ["UBIGINT"],
  int: INTEGERS, // Python int; SQLAlchemy Integer accepts every integer subclass
  float16: ["FLOAT"],
  float32: ["FLOAT"],
  float64: ["DOUBLE"],
  object: TEXT,
  str: TEXT,
  bool_: ["BOOLEAN"],
  datetime64: TIMESTAMPS,
  "datetime64[ns]": ["TIMESTAMP", "TIMESTAMP_NS"],
  "datetime64[us]": ["TIMESTAMP"],
  "datetime64[ms]": ["TIMESTAMP_MS"],
  "datetime64[s]": ["TIMESTAMP_S"],
  "datetime64[ns, utc]": ["TIMESTAMP WITH TIME ZONE"],
  timedelta64: ["INTERVAL"],
  "timedelta64[ns]": ["INTERVAL"],
  category: ["VARCHAR", "ENUM"],
  // SQLAlchemy generic type class names (lower-cased)
  smallinteger: ["SMALLINT"],
  biginteger: ["BIGINT"],
  // "integer", "float", "numeric", "string", "text", "boolean", "date", "datetime", "time", "interval" above
};

/** The base of a DuckDB type name: DECIMAL(18,3) → DECIMAL, ENUM('a','b') → ENUM, VARCHAR → VARCHAR. */
export function baseType(duckdbType: string): string {
  const t = duckdbType.toUpperCase();
  if (t.startsWith("DECIMAL")) return "DECIMAL";
  if (t.startsWith("ENUM")) return "ENUM";
  return t;
}

/** Whether the column's DuckDB type is the expected type; undefined for a name this table does not know. */
export function typeMatches(expected: string, duckdbType: string): boolean | undefined {
  const accepted = TYPE_NAMES[expected.trim().toLowerCase()];
  if (accepted) return accepted.includes(baseType(duckdbType));
  // The column's own type as DuckDB names it (what a suite drafted from a profile carries) always matches.
  if (expected.trim().toUpperCase() === duckdbType.toUpperCase()) return true;
  // A full DuckDB type name, e.g. "DECIMAL(18,3)" or "VARCHAR[]", compares as written.
  if (/[()[\]]/.test(expected)) return expected.trim().toUpperCase() === duckdbType.toUpperCase();
  return undefined;
}
