import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { RunSummary } from "../engine/events";
import { expectationName, resultDetail } from "../values/expectation-text";
import type { ValidationReport } from "../values/expectations";

export const escapeXml = (s: string) =>
  s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    // XML 1.0 admits no other control characters, nor U+FFFE and U+FFFF, not even escaped
    // (https://www.w3.org/TR/xml/#charsets); a value from the data may hold them.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters removed
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\uFFFE\uFFFF]/g, "\uFFFD");

/** The block whose reports become one test case per expectation. */
export const VALIDATE_BLOCK = "validate.expectations";

/**
 * Why `--junit FILE` cannot be written, checked before the work so it is not
 * lost to a typo: the folder must exist and FILE must not be a folder.
 */
export function junitProblem(file: string, example = "junit.xml"): string | undefined {
  const abs = resolve(file);
  if (!existsSync(dirname(abs))) return `the folder of ${file} does not exist`;
  try {
    if (statSync(abs).isDirectory()) return `${file} is a folder; name a file, e.g. ${join(file, example)}`;
  } catch {
    // a new file
  }
  return undefined;
}

/** One test case per expectation of a report, under `classname`. */
function expectationCases(report: ValidationReport, classname: string): string[] {
  return report.results.map((r) => {
    const attrs = `name="${escapeXml(expectationName(r))}" classname="${escapeXml(classname)}" time="0.000"`;
    if (r.success) return `    <testcase ${attrs}/>`;
    const kind = r.exception_info?.raised_exception ? "error" : "failure";
    return `    <testcase ${attrs}>\n      <${kind} message="${escapeXml(resultDetail(r))}" type="${escapeXml(r.expectation_type)}"/>\n    </testcase>`;
  });
}

const failedOf = (report: ValidationReport) =>
  report.results.filter((r) => !r.success && !r.exception_info?.raised_exception).length;
const erroredOf = (report: ValidationReport) =>
  report.results.filter((r) => !r.success && r.exception_info?.raised_exception).length;

/** A JUnit test suite's counts. */
export interface JunitCounts {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
}

/** The counts as JUnit attributes. */
export const countAttrs = (c: JunitCounts) =>
  `tests="${c.tests}" failures="${c.failures}"${c.errors ? ` errors="${c.errors}"` : ""} skipped="${c.skipped}"`;

/** Test suites in one JUnit document, the totals on its root. */
export function junitDocument(suites: { lines: string[]; counts: JunitCounts }[], seconds: number): string {
  const total: JunitCounts = { tests: 0, failures: 0, errors: 0, skipped: 0 };
  for (const s of suites)
    for (const k of ["tests", "failures", "errors", "skipped"] as const) total[k] += s.counts[k];
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="dagwood" ${countAttrs(total)} time="${seconds.toFixed(3)}">`,
    ...suites.flatMap((s) => s.lines),
    "</testsuites>",
    "",
  ].join("\n");
}

/**
 * A run as one JUnit test suite: one test case per node, so CI systems show
 * node failures; and per validate.expectations node whose report is known
 * (`reports`, by node id), one test case per expectation, classname
 * `<pipeline>.<node>`.
 */
export function runJunitSuite(
  summary: RunSummary,
  reports: ReadonlyMap<string, ValidationReport> = new Map(),
): { lines: string[]; counts: JunitCounts } {
  let failures = summary.nodes.filter((n) => n.status === "failed").length;
  let errors = 0;
  const skipped = summary.nodes.filter((n) => n.status === "skipped").length;
  let tests = summary.nodes.length;
  const cases = summary.nodes.map((n) => {
    const attrs = `name="${escapeXml(n.id)}" classname="${escapeXml(`${summary.pipeline}.${n.block}`)}" time="${(n.ms / 1000).toFixed(3)}"`;
    if (n.status === "failed") {
      return `    <testcase ${attrs}>\n      <failure message="${escapeXml(n.error ?? "failed")}"/>\n    </testcase>`;
    }
    if (n.status === "skipped") {
      return `    <testcase ${attrs}>\n      <skipped message="${escapeXml(n.reason ?? "skipped")}"/>\n    </testcase>`;
    }
    return `    <testcase ${attrs}/>`;
  });
  for (const n of summary.nodes) {
    const report = reports.get(n.id);
    if (!report) continue;
    cases.push(...expectationCases(report, `${summary.pipeline}.${n.id}`));
    tests += report.results.length;
    failures += failedOf(report);
    errors += erroredOf(report);
  }
  const counts = { tests, failures, errors, skipped };
  return {
    lines: [
      `  <testsuite name="${escapeXml(summary.pipeline)}" id="${escapeXml(summary.runId)}" ${countAttrs(counts)}>`,
      ...cases,
      "  </testsuite>",
    ],
    counts,
  };
}

/** A JUnit XML report of a run (`dagwood run --junit`): the run's suite (runJunitSuite). */
export function renderJunit(
  summary: RunSummary,
  reports: ReadonlyMap<string, ValidationReport> = new Map(),
): string {
  return junitDocument([runJunitSuite(summary, reports)], summary.ms / 1000);
}

/** A JUnit XML report of one suite's run (`dagwood expect run --junit`): one test case per expectation. */
export function renderSuiteJunit(report: ValidationReport, classname: string, seconds = 0): string {
  const counts = `tests="${report.results.length}" failures="${failedOf(report)}"${erroredOf(report) ? ` errors="${erroredOf(report)}"` : ""} skipped="0"`;
  const name = escapeXml(report.meta.expectation_suite_name);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="dagwood" ${counts} time="${seconds.toFixed(3)}">`,
    `  <testsuite name="${name}" ${counts}>`,
    ...expectationCases(report, classname),
    "  </testsuite>",
    "</testsuites>",
    "",
  ].join("\n");
}

/**
 * The reports of a run's validate.expectations nodes, read from the project
 * (so a run in this process and one in the app give the same): a node that
 * ran or was cached has its report output among the run's artifacts; a node
 * whose suite failed kept its report in its artifact folder
 * (nodes/validate-expectations.ts). A report that cannot be read is left out:
 * the node's own test case still says how it ended.
 */
export async function validationReports(
  projectDir: string,
  summary: RunSummary,
): Promise<Map<string, ValidationReport>> {
  const reports = new Map<string, ValidationReport>();
  const nodes = summary.nodes.filter(
    (n) =>
      n.block === VALIDATE_BLOCK && (n.status === "ran" || n.status === "cached" || n.status === "failed"),
  );
  if (!nodes.length) return reports;
  let artifacts: { nodeId: string; name: string; path: string }[] = [];
  const { readProjectSettings } = await import("../project/project");
  const { openProjectStore } = await import("../store/open");
  try {
    const store = openProjectStore(projectDir, readProjectSettings(projectDir), { existingOnly: true });
    try {
      artifacts = store?.artifacts(summary.runId) ?? [];
    } finally {
      store?.close();
    }
  } catch {
    // No store to read: only the failed nodes' own copies are found.
  }
  for (const n of nodes) {
    const recorded = artifacts.find((a) => a.nodeId === n.id && a.name === "report/report.json");
    const file = recorded
      ? resolve(projectDir, recorded.path)
      : join(projectDir, ".dagwood", "artifacts", summary.runId, n.id, "report.json");
    try {
      const report = JSON.parse(readFileSync(file, "utf8")) as ValidationReport;
      if (report?.kind === "validation" && Array.isArray(report.results)) reports.set(n.id, report);
    } catch {
      // not there (a node that failed before it ran the suite)
    }
  }
  return reports;
}
