/**
 * How an expectation's result reads in a sentence (node messages and
 * warnings, `dagwood expect run`, JUnit failure messages): the expectation's
 * type and column(s), and what it observed.
 */
import type { ExpectationResult } from "./expectations";

/** "expect_column_values_to_not_be_null(sex)": the type and the column(s) the expectation is about. */
export function expectationName(r: Pick<ExpectationResult, "expectation_type" | "kwargs">): string {
  const k = r.kwargs ?? {};
  const columns =
    typeof k.column === "string"
      ? [k.column]
      : typeof k.column_A === "string" && typeof k.column_B === "string"
        ? [k.column_A, k.column_B]
        : Array.isArray(k.column_list)
          ? k.column_list.map(String)
          : [];
  return columns.length ? `${r.expectation_type}(${columns.join(", ")})` : r.expectation_type;
}

const count = (n: number) => n.toLocaleString("en-US");

/**
 * What an expectation observed, in a few words: its unexpected rows (of the
 * non-null rows, as Great Expectations counts them; of all rows for the null
 * expectations) with a few examples, its observed value, or its own problem.
 */
export function resultDetail(r: ExpectationResult): string {
  if (r.exception_info?.raised_exception) {
    // The message may start by naming the expectation, which the reader has just read.
    const message = r.exception_info.exception_message ?? "the expectation could not run";
    return message.replace(/^expectations\[\d+\] [a-z_]+: /, "");
  }
  const res = r.result ?? {};
  if (typeof res.unexpected_count === "number") {
    const nullCheck = /_to_(not_)?be_null$/.test(r.expectation_type);
    const over = (res.element_count ?? 0) - (nullCheck ? 0 : (res.missing_count ?? 0));
    const of = over > 0 ? ` of ${count(over)}` : "";
    const pct =
      typeof res.unexpected_percent === "number"
        ? ` (${Number(res.unexpected_percent.toPrecision(3))} %)`
        : "";
    const mostly = typeof r.kwargs?.mostly === "number" ? `, mostly ${r.kwargs.mostly}` : "";
    const examples = res.partial_unexpected_list?.length
      ? `, e.g. ${res.partial_unexpected_list
          .slice(0, 3)
          .map((v) => JSON.stringify(v))
          .join(", ")}`
      : "";
    return `${count(res.unexpected_count)}${of} rows unexpected${pct}${mostly}${examples}`;
  }
  if ("observed_value" in res) return `observed ${JSON.stringify(res.observed_value)}`;
  return r.success ? "passed" : "failed";
}
