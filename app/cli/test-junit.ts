/**
 * Pipeline tests in JUnit XML: one test suite per test file, one test case
 * per assertion (classname `<test file>`), so a CI system lists every check.
 * A test file that could not be used is one suite with one errored case
 * naming each problem.
 */
import type { TestResult } from "../ci/pipeline-test";
import type { TestProblem } from "../ci/test-file";
import { countAttrs, escapeXml, type JunitCounts } from "./junit";

export function testResultSuite(r: TestResult): { lines: string[]; counts: JunitCounts } {
  const cases = r.assertions.map((a) => {
    const attrs = `name="${escapeXml(a.name)}" classname="${escapeXml(r.file)}" time="0.000"`;
    if (a.ok) return `    <testcase ${attrs}/>`;
    return `    <testcase ${attrs}>\n      <failure message="${escapeXml(a.message)}"/>\n    </testcase>`;
  });
  const counts = {
    tests: r.assertions.length,
    failures: r.assertions.filter((a) => !a.ok).length,
    errors: 0,
    skipped: 0,
  };
  return {
    lines: [
      `  <testsuite name="${escapeXml(r.file)}" id="${escapeXml(r.run.runId)}" ${countAttrs(counts)} time="${(r.ms / 1000).toFixed(3)}">`,
      ...cases,
      "  </testsuite>",
    ],
    counts,
  };
}

/** A test file (or a pipeline, for `dagwood ci`) that could not be used: one errored case. */
export function problemSuite(
  name: string,
  caseName: string,
  problems: readonly TestProblem[],
): { lines: string[]; counts: JunitCounts } {
  const text = problems.map((p) => `${p.file} at ${p.path}: ${p.message}`).join("\n");
  const counts = { tests: 1, failures: 0, errors: 1, skipped: 0 };
  return {
    lines: [
      `  <testsuite name="${escapeXml(name)}" ${countAttrs(counts)}>`,
      `    <testcase name="${escapeXml(caseName)}" classname="${escapeXml(name)}" time="0.000">`,
      `      <error message="${escapeXml(problems[0]?.message ?? "invalid")}">${escapeXml(text)}</error>`,
      "    </testcase>",
      "  </testsuite>",
    ],
    counts,
  };
}
