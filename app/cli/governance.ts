/**
 * `dagwood governance [--project DIR] [--json]`: the project's datasets,
 * pipelines, suites and registered models with no owner, past their review
 * date, or deprecated and still used (app/project/governance.ts), and whether
 * they fail the project's policy (dagwood.json `governance.failOn`) — exit 1
 * when they do, so CI can gate on it.
 */
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { SqliteMetadataStore } from "../store/metadata";
import type { GovernanceFinding, GovernanceFindingKind } from "../values/governance";
import { EXIT, type Io, parse, UsageError } from "./args";
import { renderTable, toJson } from "./format";

export const GOVERNANCE_USAGE = "dagwood governance [--project DIR] [--json]";

const TITLES: Record<GovernanceFindingKind, string> = {
  noOwner: "No owner",
  pastReview: "Past review date",
  deprecatedInUse: "Deprecated and still used",
  personalData: "Uses personal data",
};

/** "deprecated and still used: a; b; c" as a head line and one indented line per case. */
function wrapRule(rule: string): string {
  const colon = rule.indexOf(": ");
  if (colon < 0) return rule;
  const cases = rule.slice(colon + 2).split("; ");
  return [`${rule.slice(0, colon)}:`, ...cases.map((c) => `                   - ${c}`)].join("\n");
}

/** The command's help: its usage, the rules and the exit codes. */
export function governanceHelp(rules: Record<GovernanceFindingKind, string>): string {
  return `Usage:
  ${GOVERNANCE_USAGE}

Lists the project's datasets (dagwood.json "datasets"), pipelines (*.dag.json in the project), suites
(expectations/*.json, governance under meta.dagwood) and registered models that have a finding:
  noOwner          ${rules.noOwner}
  pastReview       ${rules.pastReview}
  deprecatedInUse  ${wrapRule(rules.deprecatedInUse)}
  personalData     ${rules.personalData}
Each finding says what to do. --json prints { findings, failOn, failed, rules, today }.

Exit codes: 1 when a finding's kind is in dagwood.json "governance": { "failOn": [...] } (e.g. ["noOwner",
"deprecatedInUse"]), else 0 (findings are listed either way); 2 bad arguments or an unreadable dagwood.json.
`;
}

/** `text` in lines of at most `width` characters, broken at spaces (a longer word stays whole). */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

function renderFindings(
  findings: GovernanceFinding[],
  failOn: GovernanceFindingKind[],
  columns: number,
): string {
  const out: string[] = [];
  for (const kind of Object.keys(TITLES) as GovernanceFindingKind[]) {
    const group = findings.filter((f) => f.kind === kind);
    if (!group.length) continue;
    const fails = failOn.includes(kind) ? "  — fails the project's policy" : "";
    out.push(`${TITLES[kind]} (${group.length})${fails}`);
    // Datasets and models by name; pipelines and suites by their file.
    const named = group.map((f) => [
      f.artifact.kind,
      f.artifact.kind === "dataset" || f.artifact.kind === "model"
        ? f.artifact.name
        : (f.artifact.path ?? f.artifact.name),
      f.message,
    ]);
    const left =
      Math.max(8, ...named.map((r) => r[0]!.length)) + Math.max(4, ...named.map((r) => r[1]!.length)) + 6;
    const width = Math.max(40, columns - left);
    const rows = named.flatMap(([kind, name, message]) =>
      wrapText(message!, width).map((line, i) => (i === 0 ? [kind!, name!, line] : ["", "", line])),
    );
    const table = renderTable(["artifact", "name", "what to do"], rows);
    out.push(
      table
        .split("\n")
        .map((l) => `  ${l}`)
        .join("\n"),
      "",
    );
  }
  return out.join("\n");
}

export async function governanceCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    project: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  const { GOVERNANCE_RULES, governanceReport, failsPolicy, metadataFile } = await import(
    "../project/governance"
  );
  if (values.help) {
    io.stdout.write(governanceHelp(GOVERNANCE_RULES));
    return EXIT.ok;
  }
  if (positionals.length)
    throw new UsageError(`governance takes no positional arguments (use --project DIR): ${positionals[0]}`);
  const { findProjectDir, readProjectSettings, ProjectSettingsError } = await import("../project/project");
  const dir = values.project ? resolve(values.project as string) : findProjectDir(join(process.cwd(), "_"));
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new UsageError(`--project: ${dir} is not a folder`);
  let settings: ReturnType<typeof readProjectSettings>;
  try {
    settings = readProjectSettings(dir);
  } catch (e) {
    if (!(e instanceof ProjectSettingsError)) throw e;
    io.stderr.write(`${e.message}\n`);
    return EXIT.invalid;
  }
  const file = metadataFile(dir);
  let metadata: SqliteMetadataStore | null = null;
  if (file) {
    const store = await import("../store/metadata");
    try {
      metadata = new store.SqliteMetadataStore(file, { projectDir: dir });
    } catch (e) {
      io.stderr.write(`Cannot open ${file}: ${(e as Error).message}\n`);
      return EXIT.failed;
    }
  }
  const now = new Date();
  let report: Awaited<ReturnType<typeof governanceReport>>;
  try {
    report = await governanceReport(dir, { settings, metadata, now });
  } finally {
    metadata?.close();
  }
  const failed = failsPolicy(report);
  if (values.json) {
    io.stdout.write(
      toJson({ ...report, failed, rules: GOVERNANCE_RULES, today: now.toISOString().slice(0, 10) }),
    );
    return failed ? EXIT.failed : EXIT.ok;
  }
  const { findings, failOn } = report;
  const policy = failOn.length
    ? `dagwood.json governance.failOn: ${failOn.join(", ")}`
    : "no policy (dagwood.json governance.failOn is empty)";
  if (!findings.length) {
    io.stdout.write(
      `No governance findings in ${dir}: every artifact has an owner, none is past its review date, nothing deprecated is in use, and no model uses personal data.\n`,
    );
    return EXIT.ok;
  }
  io.stdout.write(`Governance of ${dir}: ${findings.length} finding${findings.length === 1 ? "" : "s"}\n\n`);
  io.stdout.write(`${renderFindings(findings, failOn, io.stdout.columns ?? 120)}\n`);
  const failing = findings.filter((f) => failOn.includes(f.kind)).length;
  io.stdout.write(
    failed
      ? `${failing} finding${failing === 1 ? "" : "s"} fail${failing === 1 ? "s" : ""} the project's policy (${policy}): exit 1.\n`
      : `None fails the project's policy (${policy}).\n`,
  );
  return failed ? EXIT.failed : EXIT.ok;
}
