/**
 * The expectation types this runner knows, with Great Expectations' names and
 * kwargs (great_expectations/expectations/core/*.py, 0.18: each class's
 * `default_kwarg_values`, `args_keys` and `validate_configuration`), and the
 * checks of a configuration's kwargs.
 */

import type { ExpectationConfig } from "../../values/expectations";

export type KwargKind =
  | "column"
  | "columns"
  | "bound"
  | "number"
  | "bool"
  | "mostly"
  | "valueSet"
  | "typeName"
  | "typeList"
  | "regex"
  | "quantileRanges"
  | "int"
  | "ignoreRowIfPair"
  | "ignoreRowIfMulti";

export interface KwargSpec {
  name: string;
  kind: KwargKind;
  required: boolean;
  description: string;
  /** null is allowed for this required kwarg (Great Expectations treats it as vacuously true). */
  nullable?: boolean;
}

export interface ExpectationSpec {
  type: string;
  scope: "table" | "row" | "aggregate";
  description: string;
  kwargs: KwargSpec[];
}

const column: KwargSpec = {
  name: "column",
  kind: "column",
  required: true,
  description: "The column's name.",
};
const mostly: KwargSpec = {
  name: "mostly",
  kind: "mostly",
  required: false,
  description: "Share (0–1) of non-null rows that must pass; default 1.",
};
/**
 * Great Expectations lists `mostly` among the type expectations' success_keys
 * (its pandas engine checks each value's type); here the column's type is
 * checked as a whole, so it is accepted and changes nothing.
 */
const typeMostly: KwargSpec = {
  name: "mostly",
  kind: "mostly",
  required: false,
  description: "Accepted for Great Expectations suites; the column's type is checked as a whole.",
};
const between = (what: string, strict: boolean, kind: KwargKind = "number"): KwargSpec[] =>
  [
    {
      name: "min_value",
      kind,
      required: false,
      description: `Lowest allowed ${what}; null: no lower bound.`,
    },
    {
      name: "max_value",
      kind,
      required: false,
      description: `Highest allowed ${what}; null: no upper bound.`,
    },
    ...(strict
      ? [
          {
            name: "strict_min",
            kind: "bool",
            required: false,
            description: "min_value itself is not allowed.",
          },
          {
            name: "strict_max",
            kind: "bool",
            required: false,
            description: "max_value itself is not allowed.",
          },
        ]
      : []),
  ] as KwargSpec[];

const aggregate = (
  type: string,
  what: string,
  description: string,
  kind: KwargKind = "number",
): ExpectationSpec => ({
  type,
  scope: "aggregate",
  description,
  kwargs: [column, ...between(what, true, kind)],
});

export const SPECS: readonly ExpectationSpec[] = [
  {
    type: "expect_table_row_count_to_be_between",
    scope: "table",
    description: "The table has between min_value and max_value rows (both inclusive).",
    kwargs: between("row count", false),
  },
  {
    type: "expect_table_columns_to_match_set",
    scope: "table",
    description:
      "The table's columns are column_set (in any order); with exact_match false, it may have more.",
    kwargs: [
      {
        name: "column_set",
        kind: "columns",
        required: true,
        nullable: true,
        description: "The expected column names (null: none, which passes only without exact_match).",
      },
      {
        name: "exact_match",
        kind: "bool",
        required: false,
        description: "true (default): no other columns; false: the table may have more.",
      },
    ],
  },
  {
    type: "expect_table_columns_to_match_ordered_list",
    scope: "table",
    description: "The table's columns are column_list, in that order.",
    kwargs: [
      {
        name: "column_list",
        kind: "columns",
        required: true,
        nullable: true,
        description: "The expected column names, in order (null: any).",
      },
    ],
  },
  {
    type: "expect_column_to_exist",
    scope: "table",
    description: "The column exists (at column_index, 0-based, when given).",
    kwargs: [
      column,
      {
        name: "column_index",
        kind: "int",
        required: false,
        description: "The column's expected position, 0-based.",
      },
    ],
  },
  {
    type: "expect_compound_columns_to_be_unique",
    scope: "row",
    description:
      "Each combination of the columns' values occurs once; every row of a repeated combination is unexpected.",
    kwargs: [
      {
        name: "column_list",
        kind: "columns",
        required: true,
        description: "The columns that together are unique.",
      },
      {
        name: "ignore_row_if",
        kind: "ignoreRowIfMulti",
        required: false,
        description: '"all_values_are_missing" (default), "any_value_is_missing" or "never".',
      },
      mostly,
    ],
  },
  {
    type: "expect_column_values_to_not_be_null",
    scope: "row",
    description: "Values are not null (nor NaN); mostly is over all rows.",
    kwargs: [column, mostly],
  },
  {
    type: "expect_column_values_to_be_null",
    scope: "row",
    description: "Values are null (or NaN); mostly is over all rows.",
    kwargs: [column, mostly],
  },
  {
    type: "expect_column_values_to_be_between",
    scope: "row",
    description: "Non-null values lie between min_value and max_value (inclusive unless strict).",
    kwargs: [column, ...between("value", true, "bound"), mostly],
  },
  {
    type: "expect_column_values_to_be_in_set",
    scope: "row",
    description: "Non-null values are in value_set.",
    kwargs: [
      column,
      {
        name: "value_set",
        kind: "valueSet",
        required: true,
        nullable: true,
        description: "The allowed values (null: any).",
      },
      mostly,
    ],
  },
  {
    type: "expect_column_values_to_not_be_in_set",
    scope: "row",
    description: "Non-null values are not in value_set.",
    kwargs: [
      column,
      { name: "value_set", kind: "valueSet", required: true, description: "The forbidden values." },
      mostly,
    ],
  },
  {
    type: "expect_column_values_to_be_unique",
    scope: "row",
    description: "Non-null values occur once; every row of a repeated value is unexpected.",
    kwargs: [column, mostly],
  },
  {
    type: "expect_column_values_to_match_regex",
    scope: "row",
    description:
      "Text values contain a match of regex (a partial match, as Python's re.search; DuckDB's RE2 syntax).",
    kwargs: [
      column,
      { name: "regex", kind: "regex", required: true, description: "The regular expression." },
      mostly,
    ],
  },
  {
    type: "expect_column_values_to_not_match_regex",
    scope: "row",
    description: "Text values contain no match of regex.",
    kwargs: [
      column,
      { name: "regex", kind: "regex", required: true, description: "The regular expression." },
      mostly,
    ],
  },
  {
    type: "expect_column_values_to_be_of_type",
    scope: "table",
    description: "The column's type is type_ (a DuckDB, pandas/numpy or SQLAlchemy type name).",
    kwargs: [
      column,
      { name: "type_", kind: "typeName", required: true, description: "The expected type name." },
      typeMostly,
    ],
  },
  {
    type: "expect_column_values_to_be_in_type_list",
    scope: "table",
    description: "The column's type is one of type_list.",
    kwargs: [
      column,
      {
        name: "type_list",
        kind: "typeList",
        required: true,
        nullable: true,
        description: "The allowed type names (null: any).",
      },
      typeMostly,
    ],
  },
  {
    type: "expect_column_value_lengths_to_be_between",
    scope: "row",
    description: "Text values have between min_value and max_value characters.",
    kwargs: [column, ...between("length", true), mostly],
  },
  {
    type: "expect_column_pair_values_a_to_be_greater_than_b",
    scope: "row",
    description: "In each row column_A is greater than column_B (or equal, with or_equal).",
    kwargs: [
      { name: "column_A", kind: "column", required: true, description: "The larger column." },
      { name: "column_B", kind: "column", required: true, description: "The smaller column." },
      { name: "or_equal", kind: "bool", required: false, description: "Equal values pass too." },
      {
        name: "ignore_row_if",
        kind: "ignoreRowIfPair",
        required: false,
        description: '"both_values_are_missing" (default), "either_value_is_missing" or "neither".',
      },
      mostly,
    ],
  },
  aggregate(
    "expect_column_mean_to_be_between",
    "mean",
    "The column's mean is between min_value and max_value.",
  ),
  aggregate(
    "expect_column_median_to_be_between",
    "median",
    "The column's median (the mean of the two middle values for an even count) is between min_value and max_value.",
  ),
  aggregate(
    "expect_column_stdev_to_be_between",
    "standard deviation",
    "The column's sample standard deviation (n − 1) is between min_value and max_value.",
  ),
  aggregate(
    "expect_column_min_to_be_between",
    "minimum",
    "The column's minimum is between min_value and max_value (dates and text compare in the column's type).",
    "bound",
  ),
  aggregate(
    "expect_column_max_to_be_between",
    "maximum",
    "The column's maximum is between min_value and max_value (dates and text compare in the column's type).",
    "bound",
  ),
  aggregate("expect_column_sum_to_be_between", "sum", "The column's sum is between min_value and max_value."),
  aggregate(
    "expect_column_unique_value_count_to_be_between",
    "number of distinct values",
    "The column's number of distinct non-null values is between min_value and max_value.",
  ),
  aggregate(
    "expect_column_proportion_of_unique_values_to_be_between",
    "proportion",
    "Distinct non-null values ÷ non-null values is between min_value and max_value.",
  ),
  {
    type: "expect_column_distinct_values_to_be_in_set",
    scope: "aggregate",
    description: "Every distinct non-null value is in value_set.",
    kwargs: [
      column,
      {
        name: "value_set",
        kind: "valueSet",
        required: true,
        nullable: true,
        description: "The allowed values (null: any).",
      },
    ],
  },
  {
    type: "expect_column_quantile_values_to_be_between",
    scope: "aggregate",
    description:
      "Each quantile (SQL percentile_disc: the first value whose cumulative share reaches q) lies in its range.",
    kwargs: [
      column,
      {
        name: "quantile_ranges",
        kind: "quantileRanges",
        required: true,
        description: "{ quantiles: number[], value_ranges: [min|null, max|null][] }.",
      },
      {
        name: "allow_relative_error",
        kind: "bool",
        required: false,
        description: "Accepted for compatibility; quantiles are always exact here.",
      },
    ],
  },
];

export const SPEC_BY_TYPE: ReadonlyMap<string, ExpectationSpec> = new Map(SPECS.map((s) => [s.type, s]));

/** Older names Great Expectations still accepts (its own test definitions use the first). */
const ALIASES: Record<string, string> = {
  expect_column_pair_values_A_to_be_greater_than_B: "expect_column_pair_values_a_to_be_greater_than_b",
};

/** The type's canonical name (aliases resolved). */
export function canonicalType(type: string): string {
  return ALIASES[type] ?? type;
}

/** kwargs Great Expectations accepts on every expectation that change nothing here. */
const GENERIC_KWARGS = new Set([
  "result_format",
  "include_config",
  "catch_exceptions",
  "meta",
  "auto",
  "profiler_config",
  "parse_strings_as_datetimes",
  "allow_cross_type_comparisons",
  "condition_parser",
  "row_condition",
  "batch_id",
]);

/** Edit distance (Levenshtein), for "Did you mean". */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

export function closest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(name, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(3, Math.floor(name.length / 3)) ? best : undefined;
}

const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === "string");
const shown = (v: unknown) =>
  v === null ? "null" : Array.isArray(v) ? "a list" : `${typeof v} ${JSON.stringify(v)}`;

/** What is wrong with one kwarg's value, or undefined. */
function kwargProblem(spec: KwargSpec, v: unknown): string | undefined {
  switch (spec.kind) {
    case "column":
      return typeof v === "string" && v.length > 0 ? undefined : `must be a column name, got ${shown(v)}`;
    case "columns":
      return isStringList(v) && v.length > 0
        ? undefined
        : `must be a non-empty list of column names, got ${shown(v)}`;
    case "number":
      return v === null || (typeof v === "number" && Number.isFinite(v))
        ? undefined
        : `must be a number or null, got ${shown(v)}`;
    case "bound":
      return v === null || typeof v === "string" || (typeof v === "number" && Number.isFinite(v))
        ? undefined
        : `must be a number (or a date/text for such columns) or null, got ${shown(v)}`;
    case "bool":
      return v === null || typeof v === "boolean" ? undefined : `must be true or false, got ${shown(v)}`;
    case "mostly":
      return typeof v === "number" && v >= 0 && v <= 1
        ? undefined
        : `must be a number from 0 to 1, got ${shown(v)}`;
    case "int":
      return v === null || (typeof v === "number" && Number.isInteger(v) && v >= 0)
        ? undefined
        : `must be a whole number ≥ 0, got ${shown(v)}`;
    case "valueSet":
      return Array.isArray(v) &&
        v.every((x) => x === null || ["string", "number", "boolean"].includes(typeof x))
        ? undefined
        : `must be a list of values (text, numbers, true/false), got ${shown(v)}`;
    case "typeName":
      return typeof v === "string" && v.length > 0 ? undefined : `must be a type name, got ${shown(v)}`;
    case "typeList":
      return isStringList(v) ? undefined : `must be a list of type names, got ${shown(v)}`;
    case "regex":
      return typeof v === "string" ? undefined : `must be a regular expression (text), got ${shown(v)}`;
    case "ignoreRowIfPair":
      return ["both_values_are_missing", "either_value_is_missing", "neither"].includes(v as string)
        ? undefined
        : `must be "both_values_are_missing", "either_value_is_missing" or "neither", got ${shown(v)}`;
    case "ignoreRowIfMulti":
      return ["all_values_are_missing", "any_value_is_missing", "never"].includes(v as string)
        ? undefined
        : `must be "all_values_are_missing", "any_value_is_missing" or "never", got ${shown(v)}`;
    case "quantileRanges": {
      if (!v || typeof v !== "object" || Array.isArray(v))
        return `must be { quantiles: [...], value_ranges: [[min, max], ...] }, got ${shown(v)}`;
      const { quantiles, value_ranges } = v as { quantiles?: unknown; value_ranges?: unknown };
      if (!Array.isArray(quantiles) || !quantiles.every((q) => typeof q === "number" && q >= 0 && q <= 1))
        return "needs quantiles: a list of numbers from 0 to 1";
      if (
        !Array.isArray(value_ranges) ||
        !value_ranges.every(
          (r) =>
            Array.isArray(r) &&
            r.length === 2 &&
            r.every((x) => x === null || (typeof x === "number" && Number.isFinite(x))),
        )
      )
        return "needs value_ranges: a list of [min or null, max or null] pairs";
      if (quantiles.length !== value_ranges.length)
        return `has ${quantiles.length} quantiles but ${value_ranges.length} value_ranges: give one range per quantile`;
      return undefined;
    }
  }
}

export interface KwargProblem {
  /** The kwarg's name, or "" for the expectation as a whole. */
  kwarg: string;
  message: string;
}

/** Problems of one expectation's configuration (without its index: the caller names it). */
export function configProblems(config: ExpectationConfig): KwargProblem[] {
  const spec = SPEC_BY_TYPE.get(canonicalType(config.expectation_type));
  if (!spec) {
    const near = closest(config.expectation_type, SPEC_BY_TYPE.keys());
    return [
      {
        kwarg: "",
        message: `unknown expectation type "${config.expectation_type}"${near ? `. Did you mean "${near}"?` : ". Run `dagwood expect list` for the known types."}`,
      },
    ];
  }
  const out: KwargProblem[] = [];
  const kwargs = config.kwargs ?? {};
  for (const k of spec.kwargs) {
    const v = kwargs[k.name];
    if (v === undefined) {
      if (k.required) out.push({ kwarg: k.name, message: `is missing kwarg "${k.name}" (${k.description})` });
      continue;
    }
    if (v === null && k.required && !k.nullable) {
      out.push({ kwarg: k.name, message: `kwarg "${k.name}" must not be null (${k.description})` });
      continue;
    }
    const p = v === null && k.nullable ? undefined : kwargProblem(k, v);
    if (p) out.push({ kwarg: k.name, message: `kwarg "${k.name}" ${p}` });
  }
  const known = new Set(spec.kwargs.map((k) => k.name));
  for (const name of Object.keys(kwargs)) {
    if (known.has(name) || GENERIC_KWARGS.has(name)) continue;
    const near = closest(name, known);
    out.push({
      kwarg: name,
      message: `has unknown kwarg "${name}"${near ? `. Did you mean "${near}"?` : `; it takes ${[...known].join(", ")}`}`,
    });
  }
  if (kwargs.allow_cross_type_comparisons === true)
    out.push({
      kwarg: "allow_cross_type_comparisons",
      message:
        "uses allow_cross_type_comparisons, which Dagwood does not support: bounds must have the column's type",
    });
  if (spec.type === "expect_column_quantile_values_to_be_between") {
    const ranges = (kwargs.quantile_ranges as { value_ranges?: unknown } | undefined)?.value_ranges;
    if (
      Array.isArray(ranges) &&
      ranges.some(
        (r) => Array.isArray(r) && typeof r[0] === "number" && typeof r[1] === "number" && r[0] > r[1],
      )
    )
      out.push({
        kwarg: "quantile_ranges",
        message:
          "has a value range with its minimum above its maximum: quantile_ranges must consist of ordered pairs",
      });
  }
  const rc = kwargs.row_condition;
  if (rc !== undefined && rc !== null && rc !== "")
    out.push({
      kwarg: "row_condition",
      message:
        "uses row_condition, which Dagwood does not support: filter the table before the validate block instead",
    });
  const hasBounds = spec.kwargs.some((k) => k.name === "min_value");
  if (
    hasBounds &&
    spec.scope === "row" &&
    (kwargs.min_value === undefined || kwargs.min_value === null) &&
    (kwargs.max_value === undefined || kwargs.max_value === null)
  )
    out.push({ kwarg: "min_value", message: "needs min_value or max_value: both cannot be null" });
  // Great Expectations refuses min > max for the row count (its test definitions,
  // expect_table_row_count_to_be_between.json) and values between (metrics/column_map_metrics/
  // column_values_between.py); elsewhere nothing lies in such a range and the expectation fails.
  if (
    (spec.type === "expect_table_row_count_to_be_between" ||
      spec.type === "expect_column_values_to_be_between") &&
    typeof kwargs.min_value === "number" &&
    typeof kwargs.max_value === "number" &&
    kwargs.min_value > kwargs.max_value
  )
    out.push({
      kwarg: "min_value",
      message: `has min_value ${kwargs.min_value} above max_value ${kwargs.max_value}`,
    });
  return out;
}
