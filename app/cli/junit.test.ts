import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import type { RunSummary } from "../engine/events";
import type { ValidationReport } from "../values/expectations";
import { renderJunit, renderSuiteJunit } from "./junit";

/** Python's expat (an independent XML parser) reads the document, or throws with its error. */
function parseXml(xml: string): { tests: string; failures: string; cases: string[]; messages: string[] } {
  const script = `
import json, sys, xml.dom.minidom as m
d = m.parseString(sys.stdin.buffer.read())
s = d.getElementsByTagName("testsuite")[0]
print(json.dumps({"tests": s.getAttribute("tests"), "failures": s.getAttribute("failures"),
  "cases": [c.getAttribute("name") for c in d.getElementsByTagName("testcase")],
  "messages": [f.getAttribute("message") for f in d.getElementsByTagName("failure")]}))`;
  return JSON.parse(execFileSync("/usr/bin/python3", ["-c", script], { input: xml, encoding: "utf8" }));
}

/** Data values no XML 1.0 document may hold, even escaped, beside ones it must escape. */
const NASTY = ["a\u0001b", "tab\there", "\uFFFE", "\uFFFF", 'q"<&>]]>', "ok 😀"];

const report: ValidationReport = {
  kind: "validation",
  success: false,
  statistics: {
    evaluated_expectations: 2,
    successful_expectations: 1,
    unsuccessful_expectations: 1,
    success_percent: 50,
  },
  results: [
    {
      expectation_type: "expect_column_values_to_be_in_set",
      kwargs: { column: "na\uFFFEme", value_set: ["x"] },
      success: false,
      result: {
        element_count: 6,
        unexpected_count: 6,
        unexpected_percent: 100,
        partial_unexpected_list: NASTY,
        missing_count: 0,
      },
    },
    {
      expectation_type: "expect_column_values_to_not_be_null",
      kwargs: { column: "c\u0000" },
      success: true,
      result: { element_count: 6, unexpected_count: 0 },
    },
  ],
  meta: { expectation_suite_name: "s\uFFFF", rows: 6 },
} as unknown as ValidationReport;

describe("JUnit XML", () => {
  it("a suite's report with control characters, U+FFFE and U+FFFF in the data is well-formed XML", () => {
    const parsed = parseXml(renderSuiteJunit(report, "suite\u0007", 1.5));
    expect(parsed.tests).toBe("2");
    expect(parsed.failures).toBe("1");
    expect(parsed.cases).toEqual([
      "expect_column_values_to_be_in_set(na\uFFFDme)",
      "expect_column_values_to_not_be_null(c\uFFFD)",
    ]);
    // The examples that XML can hold come through as written (the first three are shown).
    expect(parsed.messages[0]).toContain('"a\\u0001b"');
  });

  it("a run's report with such node errors and expectation results is well-formed XML", () => {
    const summary = {
      runId: "r1",
      pipeline: "p\uFFFE",
      ms: 10,
      nodes: [
        {
          id: "check",
          block: "validate.expectations",
          status: "failed",
          ms: 5,
          error: "bad \uFFFF value \u0002",
        },
      ],
    } as unknown as RunSummary;
    const parsed = parseXml(renderJunit(summary, new Map([["check", report]])));
    expect(parsed.tests).toBe("3");
    expect(parsed.failures).toBe("2");
    expect(parsed.messages[0]).toBe("bad \uFFFD value \uFFFD");
  });
});
