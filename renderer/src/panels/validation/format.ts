/**
 * Words and figures for an expectation suite's result (a ValidationReport,
 * app/values/expectations.ts): readable expectation names, the columns an
 * expectation is about, its other kwargs in one short line, observed values
 * and unexpected counts.
 */
import type { ExpectationResult, ValidationReport } from "../../../../app/values/expectations";

/**
 * "expect_column_values_to_not_be_null" → "values not null";
 * "expect_table_row_count_to_be_between" → "table row count between";
 * "expect_column_to_exist" → "column exists". Unknown types read the same way.
 */
export function readableType(type: string): string {
  let t = type.replace(/^expect_/, "");
  if (t.startsWith("column_") && !t.startsWith("column_to_")) t = t.slice("column_".length);
  t = t
    .replace(/_to_not_be_/g, " not ")
    .replace(/_to_be_/g, " ")
    .replace(/_to_not_/g, " not ")
    .replace(/_to_/g, " ")
    .replace(/_/g, " ");
  return t === "column exist" ? "column exists" : t;
}

/** Kwargs that name the columns an expectation is about, in the order shown. */
const COLUMN_KWARGS = ["column", "column_A", "column_B", "column_list"] as const;
/** Kwargs shown elsewhere (mostly) or that only steer Great Expectations' output. */
const HIDDEN_KWARGS = new Set<string>([
  ...COLUMN_KWARGS,
  "mostly",
  "result_format",
  "include_config",
  "catch_exceptions",
  "meta",
  "batch_id",
]);

/** The columns an expectation names ("a", "a, b"); "" for a table expectation. */
export function expectationColumns(kwargs: Record<string, unknown>): string {
  const names: string[] = [];
  for (const k of COLUMN_KWARGS) {
    const v = kwargs[k];
    if (typeof v === "string") names.push(v);
    else if (Array.isArray(v)) names.push(...v.map(String));
  }
  return names.join(", ");
}

/** A number to 4 significant digits with thousands separators, an exponent for tiny or huge ones. */
export function figure(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v !== 0 && (Math.abs(v) >= 1e9 || Math.abs(v) < 1e-4)) return v.toExponential(2);
  if (Number.isInteger(v)) return v.toLocaleString("en-US");
  return Number(v.toPrecision(4)).toLocaleString("en-US", { maximumFractionDigits: 6 });
}

/** A value in one short piece: lists cut after `max` items ("[a, b, c, … +12]"), long text cut with "…". */
export function compactValue(v: unknown, max = 5): string {
  if (v === null) return "null";
  if (v === undefined) return "—";
  if (typeof v === "number") return figure(v);
  if (typeof v === "string") return v.length > 60 ? `"${v.slice(0, 57)}…"` : JSON.stringify(v);
  if (typeof v === "boolean") return String(v);
  if (Array.isArray(v)) {
    const shown = v.slice(0, max).map((x) => compactValue(x, max));
    return `[${shown.join(", ")}${v.length > max ? `, … +${v.length - max}` : ""}]`;
  }
  if (typeof v === "object") {
    const entries = Object.entries(v as Record<string, unknown>);
    const shown = entries.slice(0, max).map(([k, x]) => `${k}: ${compactValue(x, max)}`);
    return `{${shown.join(", ")}${entries.length > max ? `, … +${entries.length - max}` : ""}}`;
  }
  return String(v);
}

/** The kwargs other than the columns and `mostly`: "min_value=0, max_value=100". */
export function compactKwargs(kwargs: Record<string, unknown>): string {
  return Object.entries(kwargs)
    .filter(([k, v]) => !HIDDEN_KWARGS.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${compactValue(v)}`)
    .join(", ");
}

/** A percentage 0–100 as "3.2 %", "< 0.01 %" for a tiny non-zero share, "—" when there is none. */
export function percentText(p: number | null | undefined): string {
  if (p === null || p === undefined || !Number.isFinite(p)) return "—";
  if (p > 0 && p < 0.01) return "< 0.01 %";
  if (p < 100 && p > 99.99) return "> 99.99 %";
  return `${Number(p.toPrecision(3)).toLocaleString("en-US", { maximumFractionDigits: 2 })} %`;
}

/** Whether the expectation itself was wrong (unknown type, bad kwargs, a missing column): its message, else null. */
export function exceptionMessage(r: ExpectationResult): string | null {
  const info = r.exception_info;
  if (!info?.raised_exception) return null;
  return info.exception_message ?? "The expectation could not be evaluated (no message was given).";
}

/** "812 (3.2 %)" for a row-level expectation; null for a table or aggregate one (no counts). */
export function unexpectedText(r: ExpectationResult): string | null {
  const n = r.result?.unexpected_count;
  if (typeof n !== "number") return null;
  return `${n.toLocaleString("en-US")} (${percentText(r.result?.unexpected_percent)})`;
}

/** `mostly` as a share of non-null rows that must pass ("mostly 95 %"), or null when not set. */
export function mostlyText(kwargs: Record<string, unknown>): string | null {
  const m = kwargs.mostly;
  return typeof m === "number" && Number.isFinite(m) ? `mostly ${percentText(m * 100)}` : null;
}

/** The suite's one-line summary: "18 of 20 expectations passed · 812 rows rejected". */
export function summaryText(report: ValidationReport): string {
  const s = report.statistics;
  const n = s.evaluated_expectations;
  const head =
    n === 0
      ? "The suite has no expectations"
      : `${s.successful_expectations.toLocaleString("en-US")} of ${n.toLocaleString("en-US")} expectation${n === 1 ? "" : "s"} passed`;
  const rejected = report.meta.rejected_rows;
  if (report.meta.on_failure === "quarantine" && typeof rejected === "number")
    return `${head} · ${rejected.toLocaleString("en-US")} row${rejected === 1 ? "" : "s"} rejected`;
  return head;
}

/** The results to show, failed first (each group in suite order), or only the failed ones. */
export function orderedResults(
  results: readonly ExpectationResult[],
  filter: "all" | "failed",
): { result: ExpectationResult; index: number }[] {
  const indexed = results.map((result, index) => ({ result, index }));
  const failed = indexed.filter((r) => !r.result.success);
  return filter === "failed" ? failed : [...failed, ...indexed.filter((r) => r.result.success)];
}

/** The unexpected examples as shown: each distinct value once, in first-seen order, with how often it came. */
export function distinctExamples(values: readonly unknown[]): { text: string; count: number }[] {
  const seen = new Map<string, number>();
  for (const v of values) {
    const text = compactValue(v, 3);
    seen.set(text, (seen.get(text) ?? 0) + 1);
  }
  return [...seen].map(([text, count]) => ({ text, count }));
}
