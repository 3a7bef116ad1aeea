/**
 * `dagwood ci`'s Markdown summary, for `$GITHUB_STEP_SUMMARY` or a merge
 * request comment: the verdict, each pipeline's run, its models against their
 * champions, its data tests and gates, the pipeline tests, and what changed
 * in the pipelines since the base revision.
 */
import { expectationName, resultDetail } from "../values/expectation-text";
import type { ChangesResult } from "./changes";
import type { CiPipeline, ModelComparison } from "./ci-run";
import type { TestOutcome } from "./pipeline-test";

/** Text in a Markdown table cell: no pipes or line breaks. */
const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");

const seconds = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);

/** A metric as people read it: up to 4 decimals, no float noise. */
export function metricText(v: number | undefined): string {
  if (v === undefined) return "—";
  if (!Number.isFinite(v)) return String(v);
  return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(4)));
}

function deltaText(now: number | undefined, before: number | undefined): string {
  if (now === undefined || before === undefined || !Number.isFinite(now) || !Number.isFinite(before))
    return "—";
  const d = now - before;
  if (d === 0) return "0";
  return `${d > 0 ? "+" : ""}${metricText(d)}`;
}

function modelSection(m: ModelComparison): string[] {
  if (m.version === null) return [`**${m.model}** (node \`${m.node}\`): not registered in this run.`, ""];
  if (!m.champion)
    return [
      `**${m.model}** v${m.version} (node \`${m.node}\`): no champion yet, nothing to compare with.`,
      "",
      ...metricRows(m, null),
    ];
  if (m.champion.version === m.version)
    return [
      `**${m.model}** v${m.version} (node \`${m.node}\`) is the champion already (the same model).`,
      "",
    ];
  return [
    `**${m.model}** v${m.version} (node \`${m.node}\`) against the champion v${m.champion.version}:`,
    "",
    ...metricRows(m, m.champion),
  ];
}

function metricRows(m: ModelComparison, champion: ModelComparison["champion"]): string[] {
  const names = [...new Set([...Object.keys(m.metrics), ...Object.keys(champion?.metrics ?? {})])].sort();
  if (!names.length) return ["(no metrics recorded with the version)", ""];
  if (!champion)
    return [
      "| metric | this run |",
      "|---|---:|",
      ...names.map((n) => `| ${cell(n)} | ${metricText(m.metrics[n])} |`),
      "",
    ];
  return [
    `| metric | champion v${champion.version} | this run v${m.version} | change |`,
    "|---|---:|---:|---:|",
    ...names.map(
      (n) =>
        `| ${cell(n)} | ${metricText(champion.metrics[n])} | ${metricText(m.metrics[n])} | ${deltaText(m.metrics[n], champion.metrics[n])} |`,
    ),
    "",
  ];
}

function statusIcon(status: string): string {
  return status === "succeeded" || status === "passed" ? "✅" : status === "invalid" ? "⛔" : "❌";
}

function pipelineSection(p: CiPipeline): string[] {
  const lines = [`### ${p.file}`, ""];
  if (p.problems.length) {
    lines.push(`⛔ Not run: ${p.problems.length} problem${p.problems.length === 1 ? "" : "s"}.`, "");
    for (const pr of p.problems) lines.push(`- \`${pr.path}\`: ${pr.message}`);
    return [...lines, ""];
  }
  const run = p.run;
  if (!run) return [...lines, "Not run (canceled).", ""];
  const failed = run.nodes.filter((n) => n.status === "failed");
  lines.push(`${statusIcon(run.status)} Run \`${run.runId}\` ${run.status} in ${seconds(run.ms)}.`, "");
  for (const n of failed) lines.push(`- ❌ \`${n.id}\` (${n.block}): ${cell(n.error ?? "failed")}`);
  if (failed.length) lines.push("");
  const gates = run.nodes.filter((n) => n.block === "gate");
  if (gates.length) {
    lines.push("**Gates**", "");
    for (const g of gates)
      lines.push(
        `- ${g.status === "failed" ? "❌" : g.status === "skipped" ? "⏭️" : "✅"} \`${g.id}\`${g.status === "failed" ? `: ${cell(g.error ?? "failed")}` : g.status === "skipped" ? " (not reached)" : " passed"}`,
      );
    lines.push("");
  }
  for (const m of p.models) lines.push(...modelSection(m));
  if (p.reports.size) {
    lines.push("**Data tests**", "", "| node | suite | passed | failed |", "|---|---|---:|---:|");
    for (const [node, r] of p.reports)
      lines.push(
        `| \`${node}\` | ${cell(r.meta.expectation_suite_name)} | ${r.statistics.successful_expectations} | ${r.statistics.unsuccessful_expectations} |`,
      );
    lines.push("");
    for (const [node, r] of p.reports)
      for (const res of r.results.filter((x) => !x.success))
        lines.push(`- ❌ \`${node}\` ${cell(expectationName(res))}: ${cell(resultDetail(res))}`);
    if ([...p.reports.values()].some((r) => !r.success)) lines.push("");
  }
  return lines;
}

function testsSection(t: TestOutcome): string[] {
  const lines = ["### Pipeline tests", ""];
  lines.push("| test | pipeline | assertions passed |", "|---|---|---:|");
  for (const i of t.invalid) lines.push(`| ⛔ ${cell(i.file)} | — | invalid |`);
  for (const r of t.results)
    lines.push(
      `| ${statusIcon(r.status)} ${cell(r.file)} | ${cell(r.pipeline)} | ${r.assertions.filter((a) => a.ok).length} / ${r.assertions.length} |`,
    );
  lines.push("");
  for (const i of t.invalid)
    for (const p of i.problems) lines.push(`- ⛔ ${cell(p.file)} \`${p.path}\`: ${cell(p.message)}`);
  for (const r of t.results)
    for (const a of r.assertions.filter((x) => !x.ok))
      lines.push(`- ❌ ${cell(r.file)}: ${cell(a.name)}: ${cell(a.message)}`);
  if (t.invalid.length || t.results.some((r) => r.status === "failed")) lines.push("");
  return lines;
}

function changesSection(c: ChangesResult): string[] {
  if ("unavailable" in c) return ["### What changed", "", `Not shown: ${c.unavailable}.`, ""];
  const lines = [`### What changed since ${c.base} (merge base ${c.commit.slice(0, 12)})`, ""];
  const changed = c.pipelines.filter((p) => p.state !== "same");
  if (!changed.length) return [...lines, "No pipeline changed.", ""];
  for (const p of changed) {
    if (p.state === "new") lines.push(`- \`${p.pipeline}\`: new pipeline`);
    else if (p.state === "unreadable") lines.push(`- \`${p.pipeline}\`: ${p.text}`);
    else lines.push(`- \`${p.pipeline}\`: ${p.changes} change${p.changes === 1 ? "" : "s"}`);
  }
  lines.push("");
  for (const p of changed.filter((x) => x.state === "changed"))
    lines.push(
      `<details><summary>${p.pipeline.replace(/&/g, "&amp;").replace(/</g, "&lt;")}</summary>`,
      "",
      "```text",
      p.text!.trimEnd(),
      "```",
      "",
      "</details>",
      "",
    );
  return lines;
}

export interface CiSummaryInput {
  project: string;
  pipelines: CiPipeline[];
  tests?: TestOutcome;
  changes?: ChangesResult;
  /** The exit code the command gives: 0 passed, 1 failed, 2 invalid. */
  exit: number;
}

export function renderCiSummary(s: CiSummaryInput): string {
  const verdict = s.exit === 0 ? "✅ passed" : s.exit === 1 ? "❌ failed" : "⛔ invalid";
  const lines = [`## Dagwood CI: ${verdict}`, "", `Project \`${s.project}\`.`, ""];
  lines.push("| pipeline | result | nodes | time |", "|---|---|---|---:|");
  for (const p of s.pipelines) {
    if (p.problems.length) {
      lines.push(`| ${cell(p.file)} | ⛔ invalid | — | — |`);
      continue;
    }
    if (!p.run) {
      lines.push(`| ${cell(p.file)} | not run | — | — |`);
      continue;
    }
    const count = (st: string) => p.run!.nodes.filter((n) => n.status === st).length;
    const nodes = [
      `${count("ran")} ran`,
      count("cached") ? `${count("cached")} cached` : "",
      count("failed") ? `${count("failed")} failed` : "",
      count("skipped") ? `${count("skipped")} skipped` : "",
    ]
      .filter(Boolean)
      .join(", ");
    lines.push(
      `| ${cell(p.file)} | ${statusIcon(p.run.status)} ${p.run.status} | ${nodes} | ${seconds(p.run.ms)} |`,
    );
  }
  lines.push("");
  if (s.tests) lines.push(...testsSection(s.tests));
  for (const p of s.pipelines) lines.push(...pipelineSection(p));
  if (s.changes) lines.push(...changesSection(s.changes));
  return `${lines.join("\n").trimEnd()}\n`;
}
