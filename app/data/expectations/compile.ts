/**
 * Compiles each expectation of a suite into SQL pieces over one table, for
 * the runner to batch into few queries:
 *
 * - `row`: a per-row predicate (counted with COUNT(*) FILTER in the
 *   aggregate pass, its first 20 unexpected values fetched afterwards);
 * - `dups`: a uniqueness test (one GROUP BY GROUPING SETS pass for all of them);
 * - `agg`: aggregate expressions (in the aggregate pass) and a JS evaluation;
 * - `table`: answered from the column list and the row count;
 * - `fail`: a problem with the expectation itself (exception_info).
 *
 * Semantics follow Great Expectations 0.18 (great_expectations/expectations/
 * core/*.py and the metric providers under great_expectations/expectations/
 * metrics/): nulls are not unexpected except for the null expectations;
 * NaN in a FLOAT/DOUBLE column counts as missing, as pandas' isnull makes it
 * for Great Expectations' pandas engine (the engine suites are most often
 * written against), in row-level and aggregate expectations alike.
 */

import type { ColumnInfo } from "../../engine/ports";
import type { ExpectationConfig } from "../../values/expectations";
import { ident, isNumericType, isTemporalType, literal } from "../sql";
import { canonicalType, closest, configProblems } from "./catalog";
import { nameOf } from "./suite";
import { typeMatches } from "./types";

export interface Outcome {
  success: boolean;
  result: Record<string, unknown>;
}

export type Compiled =
  | { kind: "fail"; message: string }
  | { kind: "table"; needsRows: boolean; evaluate: (rows: number) => Outcome }
  | {
      kind: "row";
      /** SQL: rows this expectation looks at (nonnull rows; TRUE for the null expectations). */
      considered: string;
      /** SQL: a considered row is unexpected (never NULL). */
      unexpected: string;
      /** SQL: the value listed in partial_unexpected_list. */
      value: string;
      /** not_be_null / be_null: counts over all rows, no missing_count (Great Expectations' shape). */
      overAll: boolean;
      mostly: number;
      /** SQL: a sentence saying why a row fails (quarantine). */
      reason: string;
    }
  | {
      kind: "dups";
      columns: string[];
      /** SQL over the group keys: the group's rows are considered. */
      keep: string;
      /** One column: partial list of values; several: of { column: value } objects. */
      single: boolean;
      /** Each column's DuckDB type (for how its values go into the partial list). */
      types: string[];
      mostly: number;
      reason: string;
    }
  | { kind: "agg"; exprs: string[]; evaluate: (values: unknown[]) => Outcome };

/** A bound or set value that must be cast to a column's type, checked before the scan (a bad one fails only its expectation). */
export interface CastCheck {
  sql: string;
  message: string;
}

const FLOAT = /^(FLOAT|DOUBLE|REAL|FLOAT4|FLOAT8)$/i;
/** DuckDB type names safe to put in a CAST as DESCRIBE prints them. */
const CASTABLE = /^[A-Z][A-Z0-9_ ]*(\(\d+(,\s*\d+)?\))?$/;

/** How a bound of these column types is written, for messages. */
const CAST_EXAMPLES: Record<string, string> = {
  DATE: "2024-01-31",
  TIME: "13:45:00",
  TIMESTAMP: "2024-01-31 13:45:00",
  TIMESTAMP_S: "2024-01-31 13:45:00",
  TIMESTAMP_MS: "2024-01-31 13:45:00.123",
  TIMESTAMP_NS: "2024-01-31 13:45:00.123456789",
  "TIMESTAMP WITH TIME ZONE": "2024-01-31 13:45:00+00",
};

const TIMESTAMP = /^TIMESTAMP(_S|_MS|_NS| WITH TIME ZONE)?$/i;

/**
 * A value as it goes into a result: timestamps as ISO 8601 text with a "T"
 * (Python's isoformat, as Great Expectations serializes a datetime), the rest
 * as DuckDB's to_json gives them.
 */
export function jsonReady(expr: string, type: string): string {
  return TIMESTAMP.test(type) ? `replace(CAST(${expr} AS VARCHAR), ' ', 'T')` : expr;
}

export function missingSql(col: string, type: string): string {
  return FLOAT.test(type) ? `(${ident(col)} IS NULL OR isnan(${ident(col)}))` : `(${ident(col)} IS NULL)`;
}

/**
 * A text value as a SQL expression. DuckDB's parser ends a string literal at a
 * NUL character, so each NUL goes in as chr(0); the rest is a plain literal.
 */
export function textSql(v: string): string {
  return v.includes("\u0000") ? `(${v.split("\u0000").map(literal).join(" || chr(0) || ")})` : literal(v);
}

/** DuckDB's to_json writes NaN and ±Infinity as bare words, which are not JSON: made text here. */
const NON_FINITE = /"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)/g;

function numberSql(v: number): string {
  return Number.isInteger(v) && Math.abs(v) < 2 ** 53 ? String(v) : `${v}::DOUBLE`;
}

function jsonValue(v: unknown): unknown {
  if (typeof v === "bigint") return Number(v);
  return v;
}

/**
 * Parses DuckDB's to_json text. NaN and ±Infinity are not JSON: they come back
 * as the text "NaN", "Infinity", "-Infinity", also inside lists and objects.
 */
export function fromJson(text: unknown): unknown {
  if (text === null || text === undefined) return null;
  if (typeof text !== "string") return jsonValue(text);
  try {
    return JSON.parse(text.replace(NON_FINITE, (m, word: string | undefined) => (word ? `"${word}"` : m)));
  } catch {
    return text.replace(/^"|"$/g, "");
  }
}

class CompileError extends Error {}

export class Compiler {
  readonly casts: CastCheck[] = [];
  private readonly types: Map<string, string>;
  /** The expectation being compiled has parse_strings_as_datetimes (deprecated in Great Expectations 0.18). */
  private parseDates = false;

  constructor(readonly columns: ColumnInfo[]) {
    this.types = new Map(columns.map((c) => [c.name, c.type]));
  }

  private col(name: unknown): string {
    const n = String(name);
    if (!this.types.has(n)) {
      const near = closest(n, this.types.keys());
      throw new CompileError(
        `The column "${n}" does not exist in the table${near ? ` (did you mean "${near}"?)` : ""}; its columns are ${this.columns.map((c) => c.name).join(", ")}.`,
      );
    }
    return n;
  }

  private type(name: string): string {
    return this.types.get(name)!;
  }

  /** A bound or value as SQL of the column's type; throws CompileError when it cannot be. */
  private typed(v: unknown, col: string, what: string): string {
    const type = this.type(col);
    if (isNumericType(type)) {
      if (typeof v === "number" && Number.isFinite(v)) return numberSql(v);
      throw new CompileError(
        `${what} must be a number for the numeric column "${col}" (${type}), got ${JSON.stringify(v)}.`,
      );
    }
    if (type === "VARCHAR") {
      if (typeof v === "string") return textSql(v);
      throw new CompileError(`${what} must be text for the text column "${col}", got ${JSON.stringify(v)}.`);
    }
    if (type === "BOOLEAN") {
      if (typeof v === "boolean") return String(v);
      throw new CompileError(
        `${what} must be true or false for the BOOLEAN column "${col}", got ${JSON.stringify(v)}.`,
      );
    }
    if (typeof v === "string" && CASTABLE.test(type)) {
      // parse_strings_as_datetimes: Great Expectations parses bounds with dateutil ("Jan 01 1970 12:00:00").
      if (
        this.parseDates &&
        isTemporalType(type) &&
        !/^\d{4}-\d\d-\d\d/.test(v) &&
        !Number.isNaN(Date.parse(`${v} UTC`))
      )
        v = new Date(Date.parse(`${v} UTC`)).toISOString().replace("T", " ").replace("Z", "");
      const sql = `CAST(${textSql(v as string)} AS ${type})`;
      this.casts.push({
        sql: `TRY_CAST(${textSql(v as string)} AS ${type}) IS NOT NULL`,
        message: `${what} ${JSON.stringify(v)} is not a ${type} value (the type of column "${col}"): write it as ${CAST_EXAMPLES[type] ?? `DuckDB's CAST('…' AS ${type}) reads it`}.`,
      });
      return sql;
    }
    throw new CompileError(
      `${what} ${JSON.stringify(v)} cannot be compared with column "${col}" of type ${type}.`,
    );
  }

  /** `col IN (…)` over the values of a set that can equal the column's values (others cannot match: dropped). */
  private inSet(col: string, values: unknown[]): string {
    const type = this.type(col);
    const items: string[] = [];
    for (const v of values) {
      if (v === null) continue;
      if (isNumericType(type)) {
        if (typeof v === "number" && Number.isFinite(v)) items.push(numberSql(v));
      } else if (type === "VARCHAR") {
        if (typeof v === "string") items.push(textSql(v));
      } else if (type === "BOOLEAN") {
        if (typeof v === "boolean") items.push(String(v));
      } else if (typeof v === "string" && CASTABLE.test(type)) {
        items.push(`TRY_CAST(${textSql(v)} AS ${type})`);
      } else if (typeof v === "string") {
        items.push(textSql(v));
      }
    }
    if (items.length === 0) return "FALSE";
    const c = CASTABLE.test(type) ? ident(col) : `CAST(${ident(col)} AS VARCHAR)`;
    return `coalesce(${c} IN (${items.join(", ")}), FALSE)`;
  }

  private between(
    expr: string,
    kwargs: Record<string, unknown>,
    col: string,
    numericBounds: boolean,
  ): string {
    const parts: string[] = [];
    const bound = (v: unknown, what: string) =>
      numericBounds
        ? typeof v === "number"
          ? numberSql(v)
          : (() => {
              throw new CompileError(`${what} must be a number, got ${JSON.stringify(v)}.`);
            })()
        : this.typed(v, col, what);
    if (kwargs.min_value !== undefined && kwargs.min_value !== null)
      parts.push(`${expr} ${kwargs.strict_min ? ">" : ">="} ${bound(kwargs.min_value, "min_value")}`);
    if (kwargs.max_value !== undefined && kwargs.max_value !== null)
      parts.push(`${expr} ${kwargs.strict_max ? "<" : "<="} ${bound(kwargs.max_value, "max_value")}`);
    return parts.length ? parts.join(" AND ") : "TRUE";
  }

  private needText(col: string): void {
    if (this.type(col) !== "VARCHAR")
      throw new CompileError(
        `needs a text column; "${col}" is ${this.type(col)}: choose a text column, or cast this one before the check (in SQL: CAST(${ident(col)} AS VARCHAR)).`,
      );
  }

  private needNumeric(col: string): void {
    if (!isNumericType(this.type(col)))
      throw new CompileError(
        `needs a numeric column; "${col}" is ${this.type(col)}: choose a numeric column, or cast this one before the check (in SQL: TRY_CAST(${ident(col)} AS DOUBLE)).`,
      );
  }

  compile(
    config: ExpectationConfig,
    index: number,
    regexOk: (regex: string) => string | undefined,
  ): Compiled {
    const problems = configProblems(config);
    if (problems.length)
      return {
        kind: "fail",
        message: `${nameOf(index, config)}: ${sentence(problems.map((p) => p.message).join("; "))}`,
      };
    try {
      this.parseDates = config.kwargs.parse_strings_as_datetimes === true;
      return this.compileChecked(config, regexOk);
    } catch (e) {
      if (e instanceof CompileError)
        return { kind: "fail", message: `${nameOf(index, config)}: ${e.message}` };
      throw e;
    }
  }

  private compileChecked(
    config: ExpectationConfig,
    regexOk: (regex: string) => string | undefined,
  ): Compiled {
    const k = config.kwargs;
    const type = canonicalType(config.expectation_type);
    const mostly = typeof k.mostly === "number" ? k.mostly : 1;
    const names = this.columns.map((c) => c.name);
    const bounds = () => `[${k.min_value ?? "-∞"}, ${k.max_value ?? "∞"}]`;
    const reasonWith = (col: string, text: string) =>
      `${textSql(`${col} = `)} || coalesce(CAST(${ident(col)} AS VARCHAR), 'null') || ${textSql(` ${text}`)}`;

    switch (type) {
      case "expect_table_row_count_to_be_between":
        return {
          kind: "table",
          needsRows: true,
          evaluate: (rows) => ({ success: inRange(rows, k), result: { observed_value: rows } }),
        };
      case "expect_table_columns_to_match_set":
        return { kind: "table", needsRows: false, evaluate: () => matchSet(names, k) };
      case "expect_table_columns_to_match_ordered_list":
        return {
          kind: "table",
          needsRows: false,
          evaluate: () =>
            k.column_list === null
              ? { success: true, result: { observed_value: names } }
              : matchList(names, k.column_list as string[]),
        };
      case "expect_column_to_exist": {
        const want = String(k.column);
        const idx = typeof k.column_index === "number" ? k.column_index : null;
        return {
          kind: "table",
          needsRows: false,
          evaluate: () => ({
            success: idx === null ? names.includes(want) : names[idx] === want,
            result: {},
          }),
        };
      }
      case "expect_column_values_to_be_of_type":
      case "expect_column_values_to_be_in_type_list": {
        const col = this.col(k.column);
        const actual = this.type(col);
        const wanted = type.endsWith("_of_type")
          ? [String(k.type_)]
          : ((k.type_list as string[] | null) ?? []);
        const unknown = wanted.filter((w) => typeMatches(w, actual) === undefined);
        if (unknown.length)
          throw new CompileError(
            `unknown type name ${unknown.map((u) => `"${u}"`).join(", ")}: use a DuckDB type (BIGINT, DOUBLE, VARCHAR, DATE, TIMESTAMP…), a pandas/numpy dtype (int64, float64, object, bool, datetime64[ns]) or an SQLAlchemy type (Integer, Float, String, DateTime).`,
          );
        return {
          kind: "table",
          needsRows: false,
          evaluate: () => ({
            success: k.type_list === null ? true : wanted.some((w) => typeMatches(w, actual) === true),
            result: { observed_value: actual },
          }),
        };
      }
      case "expect_column_values_to_not_be_null":
      case "expect_column_values_to_be_null": {
        const col = this.col(k.column);
        const missing = missingSql(col, this.type(col));
        const notNull = type.includes("not_be_null");
        return {
          kind: "row",
          considered: "TRUE",
          unexpected: notNull ? missing : `NOT ${missing}`,
          value: notNull ? "NULL" : `to_json(${jsonReady(ident(col), this.type(col))})`,
          overAll: true,
          mostly,
          reason: notNull ? literal(`${col} is null`) : reasonWith(col, "is not null"),
        };
      }
      case "expect_column_values_to_be_between": {
        const col = this.col(k.column);
        const inside = this.between(ident(col), k, col, false);
        return this.row(col, `NOT (${inside})`, mostly, reasonWith(col, `is not between ${bounds()}`));
      }
      case "expect_column_values_to_be_in_set":
      case "expect_column_values_to_not_be_in_set": {
        const col = this.col(k.column);
        if (k.value_set === null && type.includes("not_be_in_set"))
          throw new CompileError("value_set is null: give the forbidden values.");
        // A null value_set allows every value (Great Expectations: vacuously true).
        const isIn = k.value_set === null ? "TRUE" : this.inSet(col, k.value_set as unknown[]);
        const not = type.includes("not_be_in_set");
        return this.row(
          col,
          not ? isIn : `NOT ${isIn}`,
          mostly,
          reasonWith(col, not ? "is in the forbidden value_set" : "is not in value_set"),
        );
      }
      case "expect_column_values_to_match_regex":
      case "expect_column_values_to_not_match_regex": {
        const col = this.col(k.column);
        this.needText(col);
        const regex = String(k.regex);
        const bad = regexOk(regex);
        if (bad) throw new CompileError(bad);
        const m = `regexp_matches(${ident(col)}, ${textSql(regex)})`;
        const not = type.includes("not_match");
        return this.row(
          col,
          not ? m : `NOT ${m}`,
          mostly,
          reasonWith(col, not ? `matches ${regex}` : `does not match ${regex}`),
        );
      }
      case "expect_column_value_lengths_to_be_between": {
        const col = this.col(k.column);
        this.needText(col);
        const inside = this.between(`length(${ident(col)})`, k, col, true);
        return this.row(col, `NOT (${inside})`, mostly, reasonWith(col, `has a length outside ${bounds()}`));
      }
      case "expect_column_pair_values_a_to_be_greater_than_b": {
        const a = this.col(k.column_A);
        const b = this.col(k.column_B);
        const ta = this.type(a);
        const tb = this.type(b);
        const comparable =
          (isNumericType(ta) && isNumericType(tb)) || (isTemporalType(ta) && isTemporalType(tb)) || ta === tb;
        if (!comparable)
          throw new CompileError(`cannot compare column_A "${a}" (${ta}) with column_B "${b}" (${tb}).`);
        const ma = missingSql(a, ta);
        const mb = missingSql(b, tb);
        const ignore = (k.ignore_row_if as string | undefined) ?? "both_values_are_missing";
        const considered =
          ignore === "both_values_are_missing"
            ? `NOT (${ma} AND ${mb})`
            : ignore === "either_value_is_missing"
              ? `NOT (${ma} OR ${mb})`
              : "TRUE";
        const op = k.or_equal ? ">=" : ">";
        return {
          kind: "row",
          considered,
          // A missing value (null or NaN) in a row that is not ignored is unexpected, as in Great
          // Expectations' pandas engine (NaN > x is False there; DuckDB orders NaN above every number).
          unexpected: `(${ma} OR ${mb} OR NOT coalesce(${ident(a)} ${op} ${ident(b)}, FALSE))`,
          value: `json_array(${jsonReady(ident(a), ta)}, ${jsonReady(ident(b), tb)})`,
          overAll: false,
          mostly,
          reason: `${literal(`${a} = `)} || coalesce(CAST(${ident(a)} AS VARCHAR), 'null') || ${literal(` is not ${op} ${b} = `)} || coalesce(CAST(${ident(b)} AS VARCHAR), 'null')`,
        };
      }
      case "expect_column_values_to_be_unique": {
        const col = this.col(k.column);
        return {
          kind: "dups",
          columns: [col],
          keep: `NOT ${missingSql(col, this.type(col))}`,
          single: true,
          types: [this.type(col)],
          mostly,
          reason: reasonWith(col, "occurs more than once"),
        };
      }
      case "expect_compound_columns_to_be_unique": {
        // A column named twice is one key column, as pandas' duplicated() reads df[["a", "a"]].
        const cols = [...new Set((k.column_list as string[]).map((c) => this.col(c)))];
        const ms = cols.map((c) => missingSql(c, this.type(c)));
        const ignore = (k.ignore_row_if as string | undefined) ?? "all_values_are_missing";
        const keep =
          ignore === "all_values_are_missing"
            ? `NOT (${ms.join(" AND ")})`
            : ignore === "any_value_is_missing"
              ? `NOT (${ms.join(" OR ")})`
              : "TRUE";
        return {
          kind: "dups",
          columns: cols,
          keep,
          single: false,
          types: cols.map((c) => this.type(c)),
          mostly,
          reason: literal(`the combination of ${cols.join(", ")} occurs more than once`),
        };
      }
      case "expect_column_mean_to_be_between":
      case "expect_column_median_to_be_between":
      case "expect_column_stdev_to_be_between":
      case "expect_column_sum_to_be_between": {
        const col = this.col(k.column);
        this.needNumeric(col);
        const f = this.filter(col);
        if (type === "expect_column_stdev_to_be_between" && FLOAT.test(this.type(col))) {
          // DuckDB's stddev_samp refuses ±Infinity ("out of range"); pandas' std gives NaN, a null
          // metric, which fails. So: the stdev of the finite values, null when there is an infinity.
          const x = ident(col);
          return {
            kind: "agg",
            exprs: [
              `(stddev_samp(${x}) FILTER (WHERE NOT isnan(${x}) AND NOT isinf(${x})))::DOUBLE`,
              `count(*) FILTER (WHERE isinf(${x}))`,
            ],
            evaluate: ([v, inf]) =>
              metricBetween(Number(inf) > 0 || v === null || v === undefined ? null : Number(v), k),
          };
        }
        const expr = {
          expect_column_mean_to_be_between: `avg(${ident(col)})${f}`,
          // quantile_cont(…, 0.5) is the mean of the two middle values for an even count, as Great Expectations' median.
          expect_column_median_to_be_between: `quantile_cont(${ident(col)}, 0.5)${f}`,
          expect_column_stdev_to_be_between: `stddev_samp(${ident(col)})${f}`,
          expect_column_sum_to_be_between: `sum(${ident(col)})${f}`,
        }[type];
        return {
          kind: "agg",
          exprs: [`(${expr})::DOUBLE`],
          evaluate: ([v]) => metricBetween(v === null || v === undefined ? null : Number(v), k),
        };
      }
      case "expect_column_min_to_be_between":
      case "expect_column_max_to_be_between": {
        const col = this.col(k.column);
        const f = this.filter(col);
        const agg = `${type.includes("_min_") ? "min" : "max"}(${ident(col)})${f}`;
        if (isNumericType(this.type(col)))
          return {
            kind: "agg",
            exprs: [`(${agg})::DOUBLE`],
            evaluate: ([v]) => metricBetween(v === null || v === undefined ? null : Number(v), k),
          };
        // Dates, times and text: compared in SQL against bounds cast to the column's type.
        const inside = this.between(agg, k, col, false);
        return {
          kind: "agg",
          exprs: [`to_json(${jsonReady(agg, this.type(col))})`, `coalesce(${inside}, FALSE)`],
          evaluate: ([v, ok]) => {
            const observed = fromJson(v);
            return { success: observed !== null && ok === true, result: { observed_value: observed } };
          },
        };
      }
      case "expect_column_unique_value_count_to_be_between": {
        const col = this.col(k.column);
        return {
          kind: "agg",
          exprs: [`count(DISTINCT ${ident(col)})${this.filter(col)}`],
          evaluate: ([v]) => metricBetween(Number(v), k),
        };
      }
      case "expect_column_proportion_of_unique_values_to_be_between": {
        const col = this.col(k.column);
        const f = this.filter(col);
        return {
          kind: "agg",
          exprs: [`count(DISTINCT ${ident(col)})${f}`, `count(${ident(col)})${f}`],
          // great_expectations/expectations/metrics/column_aggregate_metrics/column_proportion_of_unique_values.py:
          // unique / nonnull, 0 when there are no non-null values.
          evaluate: ([u, n]) => metricBetween(Number(n) > 0 ? Number(u) / Number(n) : 0, k),
        };
      }
      case "expect_column_distinct_values_to_be_in_set": {
        const col = this.col(k.column);
        const missing = missingSql(col, this.type(col));
        const isIn = k.value_set === null ? "TRUE" : this.inSet(col, k.value_set as unknown[]);
        return {
          kind: "agg",
          exprs: [
            `to_json(list_transform(list_sort(list(DISTINCT ${ident(col)}) FILTER (WHERE NOT ${missing})), __dagwood_v -> ${jsonReady("__dagwood_v", this.type(col))}))`,
            `count(DISTINCT ${ident(col)}) FILTER (WHERE NOT ${missing} AND NOT ${isIn})`,
          ],
          evaluate: ([list, outside]) => {
            const observed = (fromJson(list) as unknown[] | null) ?? [];
            return { success: Number(outside) === 0, result: { observed_value: observed } };
          },
        };
      }
      case "expect_column_quantile_values_to_be_between": {
        const col = this.col(k.column);
        this.needNumeric(col);
        const qr = k.quantile_ranges as {
          quantiles: number[];
          value_ranges: [number | null, number | null][];
        };
        const qs = `[${qr.quantiles.map((q) => numberSql(q)).join(", ")}]`;
        return {
          kind: "agg",
          // SQL percentile_disc, as Great Expectations computes quantiles on SQL backends
          // (column_quantile_values.py, _get_column_quantiles_generic_sqlalchemy).
          exprs: [`to_json(quantile_disc(${ident(col)}, ${qs})${this.filter(col)})`],
          evaluate: ([v]) => {
            const got = fromJson(v);
            const values = Array.isArray(got) ? (got as (number | string | null)[]) : null;
            const details = qr.value_ranges.map((r, i) => {
              // ±Infinity comes back as text (not JSON); it compares as the number it is.
              const x = typeof values?.[i] === "string" ? Number(values[i]) : values?.[i];
              if (x === null || x === undefined) return false;
              return (r[0] === null || x >= r[0]) && (r[1] === null || x <= r[1]);
            });
            return {
              success: values !== null && details.every(Boolean),
              result: {
                observed_value: { quantiles: qr.quantiles, values: values ?? qr.quantiles.map(() => null) },
                details: { success_details: details },
              },
            };
          },
        };
      }
    }
    throw new CompileError(`unknown expectation type "${type}".`);
  }

  private filter(col: string): string {
    return FLOAT.test(this.type(col)) ? ` FILTER (WHERE NOT isnan(${ident(col)}))` : "";
  }

  private row(col: string, unexpected: string, mostly: number, reason: string): Compiled {
    return {
      kind: "row",
      considered: `NOT ${missingSql(col, this.type(col))}`,
      unexpected,
      value: `to_json(${jsonReady(ident(col), this.type(col))})`,
      overAll: false,
      mostly,
      reason,
    };
  }
}

const sentence = (s: string) => (/[.?!]$/.test(s) ? s : `${s}.`);

function inRange(v: number, k: Record<string, unknown>): boolean {
  const lo = k.min_value as number | null | undefined;
  const hi = k.max_value as number | null | undefined;
  return (lo === null || lo === undefined || v >= lo) && (hi === null || hi === undefined || v <= hi);
}

/** great_expectations/expectations/expectation.py `_validate_metric_value_between`: a null metric fails. */
export function metricBetween(v: number | null, k: Record<string, unknown>): Outcome {
  if (v === null || Number.isNaN(v)) return { success: false, result: { observed_value: null } };
  const lo = k.min_value as number | null | undefined;
  const hi = k.max_value as number | null | undefined;
  const aboveMin = lo === null || lo === undefined ? true : k.strict_min ? v > lo : v >= lo;
  const belowMax = hi === null || hi === undefined ? true : k.strict_max ? v < hi : v <= hi;
  // ±Infinity is not JSON: it is reported as text, as in partial lists.
  return { success: aboveMin && belowMax, result: { observed_value: Number.isFinite(v) ? v : String(v) } };
}

/** expect_table_columns_to_match_set._validate (0.18). */
function matchSet(actual: string[], k: Record<string, unknown>): Outcome {
  const expected = new Set((k.column_set as string[] | null) ?? []);
  const have = new Set(actual);
  // Great Expectations tests `if exact_match:` on the kwarg as given: only a missing one defaults to true.
  const exact = k.exact_match === undefined || k.exact_match === true;
  const same = expected.size === have.size && [...expected].every((c) => have.has(c));
  if (same) return { success: true, result: { observed_value: actual } };
  const unexpected = [...have].filter((c) => !expected.has(c)).sort();
  const missing = [...expected].filter((c) => !have.has(c)).sort();
  const mismatched: Record<string, string[]> = {};
  if (unexpected.length) mismatched.unexpected = unexpected;
  if (missing.length) mismatched.missing = missing;
  return {
    success: !exact && missing.length === 0,
    result: { observed_value: [...actual].sort(), details: { mismatched } },
  };
}

/** expect_table_columns_to_match_ordered_list._validate (0.18). */
function matchList(actual: string[], expected: string[]): Outcome {
  if (actual.length === expected.length && actual.every((c, i) => c === expected[i]))
    return { success: true, result: { observed_value: actual } };
  const n = Math.max(actual.length, expected.length);
  const mismatched = [];
  for (let i = 0; i < n; i++) {
    const e = expected[i] ?? null;
    const f = actual[i] ?? null;
    if (e !== f) mismatched.push({ "Expected Column Position": i, Expected: e, Found: f });
  }
  return { success: false, result: { observed_value: actual, details: { mismatched } } };
}
