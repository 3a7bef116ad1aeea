import type { RunSummary } from "../engine/events";

const escapeXml = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** A JUnit XML report of a run: one test case per node, so CI systems show node failures. */
export function renderJunit(summary: RunSummary): string {
  const failures = summary.nodes.filter((n) => n.status === "failed").length;
  const skipped = summary.nodes.filter((n) => n.status === "skipped").length;
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
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="dagwood" tests="${summary.nodes.length}" failures="${failures}" skipped="${skipped}" time="${(summary.ms / 1000).toFixed(3)}">`,
    `  <testsuite name="${escapeXml(summary.pipeline)}" id="${escapeXml(summary.runId)}" tests="${summary.nodes.length}" failures="${failures}" skipped="${skipped}">`,
    ...cases,
    "  </testsuite>",
    "</testsuites>",
    "",
  ].join("\n");
}
