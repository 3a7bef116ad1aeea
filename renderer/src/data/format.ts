/** How the Data view reads datasets: digests, test results, the rows sparkline, schema diffs, the test strip. */
import type { DatasetTest, DatasetVersion, SchemaColumn } from "../../../app/values/datasets";

/** A sha256 digest in a narrow column: its first 12 hex digits (the full one goes in a title). */
export function shortDigest(digest: string): string {
  return digest.length > 12 ? digest.slice(0, 12) : digest;
}

/** A suite's path without the folder and extension: expectations/penguins.json → penguins. */
export function suiteLabel(path: string): string {
  return path.replace(/^.*\//, "").replace(/\.json$/i, "");
}

type TestFacts = Pick<DatasetTest, "success" | "evaluated" | "successful" | "suite">;

/** The last test as a list shows it: "✓ passed", "✗ 2 failed", or "—" with no test. */
export function testResult(test: TestFacts | null | undefined): {
  state: "passed" | "failed" | "none";
  text: string;
} {
  if (!test) return { state: "none", text: "—" };
  if (test.success) return { state: "passed", text: "✓ passed" };
  const failed = Math.max(0, test.evaluated - test.successful);
  return { state: "failed", text: failed ? `✗ ${failed} failed` : "✗ failed" };
}

/**
 * The sparkline of rows over versions (oldest first) as an SVG path in a
 * `width`×`height` box, 1.5 px in from each edge; equal counts draw a level
 * line in the middle, a single version a short level line.
 */
export function sparkPath(values: number[], width: number, height: number): string {
  const finite = values.filter((v) => Number.isFinite(v));
  if (!finite.length) return "";
  const pad = 1.5;
  const min = Math.min(...finite);
  const max = Math.max(...finite);
  const y = (v: number) =>
    max === min ? height / 2 : pad + (height - 2 * pad) * (1 - (v - min) / (max - min));
  if (finite.length === 1) {
    const yy = y(finite[0]!).toFixed(1);
    return `M${pad} ${yy}L${(width - pad).toFixed(1)} ${yy}`;
  }
  const step = (width - 2 * pad) / (finite.length - 1);
  return finite.map((v, i) => `${i ? "L" : "M"}${(pad + i * step).toFixed(1)} ${y(v).toFixed(1)}`).join("");
}

export interface SchemaDiffRow {
  name: string;
  change: "added" | "removed" | "retyped" | "same";
  from?: string;
  to?: string;
}

/**
 * The columns of two versions side by side: the newer version's columns in
 * its order (added, retyped or the same), then those it no longer has.
 * Column names compare exactly, as DuckDB keeps them.
 */
export function schemaDiff(from: SchemaColumn[], to: SchemaColumn[]): SchemaDiffRow[] {
  const before = new Map(from.map((c) => [c.name, c.type]));
  const after = new Set(to.map((c) => c.name));
  const rows: SchemaDiffRow[] = to.map((c) => {
    const old = before.get(c.name);
    if (old === undefined) return { name: c.name, change: "added", to: c.type };
    return { name: c.name, change: old === c.type ? "same" : "retyped", from: old, to: c.type };
  });
  for (const c of from) if (!after.has(c.name)) rows.push({ name: c.name, change: "removed", from: c.type });
  return rows;
}

/** "2 added, 1 removed, 1 retyped", or "no change". */
export function diffSummary(rows: SchemaDiffRow[]): string {
  const count = (k: SchemaDiffRow["change"]) => rows.filter((r) => r.change === k).length;
  const parts = (["added", "removed", "retyped"] as const)
    .map((k) => [count(k), k] as const)
    .filter(([n]) => n > 0)
    .map(([n, k]) => `${n} ${k}`);
  return parts.length ? parts.join(", ") : "no change";
}

/** Versions are numbered in the order they were first seen: v1 is the oldest. */
export function versionNumbers(
  versions: Pick<DatasetVersion, "digest" | "firstSeen">[],
): Map<string, number> {
  const sorted = [...versions].sort((a, b) => a.firstSeen.localeCompare(b.firstSeen));
  return new Map(sorted.map((v, i) => [v.digest, i + 1]));
}

export interface StripCell {
  /** The test's position in the detail's `tests` list (for picking it). */
  index: number;
  test: DatasetTest;
  /** The version the test read (0 when the digest is not among the versions). */
  version: number;
}

/** The test history as one strip per suite: a cell per test, oldest left, newest right. */
export function testStrips(
  tests: DatasetTest[],
  versions: Pick<DatasetVersion, "digest" | "firstSeen">[],
): { suite: string; cells: StripCell[] }[] {
  const numbers = versionNumbers(versions);
  const bySuite = new Map<string, StripCell[]>();
  tests.forEach((test, index) => {
    const cells = bySuite.get(test.suite) ?? [];
    cells.push({ index, test, version: numbers.get(test.digest) ?? 0 });
    bySuite.set(test.suite, cells);
  });
  return [...bySuite.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([suite, cells]) => ({
      suite,
      cells: cells.sort((a, b) => a.test.at.localeCompare(b.test.at) || b.index - a.index),
    }));
}

/** A kwargs object on one line: column="dep_delay", min_value=0, mostly=0.95. */
export function formatKwargs(kwargs: Record<string, unknown>): string {
  return Object.entries(kwargs)
    .filter(([k]) => k !== "result_format" && k !== "batch_id")
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(", ");
}

/** An unexpected value as a list shows it: strings quoted, null as null. */
export function formatExample(v: unknown): string {
  if (v === undefined) return "undefined";
  return typeof v === "string" ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
}

/** "812 rows (0.03 %)", "1 row (50 %)", or "—" when the expectation counts no rows. */
export function unexpectedText(count: number | null, percent: number | null): string {
  if (count === null) return "—";
  const rows = `${count.toLocaleString("en-US")} row${count === 1 ? "" : "s"}`;
  if (percent === null || !Number.isFinite(percent)) return rows;
  const p = percent === 0 || percent >= 1 ? Number(percent.toFixed(2)) : Number(percent.toPrecision(2));
  return `${rows} (${p} %)`;
}

/**
 * Where a "used by" pipeline opens in the editor: the project's pipeline file
 * of that path, or of that name (`<name>.dag.json`); null when there is none.
 */
export function pipelineFile(pipeline: string, projectPipelines: string[]): string | null {
  if (projectPipelines.includes(pipeline)) return pipeline;
  const named = projectPipelines.find(
    (p) => p === `${pipeline}.dag.json` || p.replace(/^.*\//, "") === `${pipeline}.dag.json`,
  );
  return named ?? null;
}

/**
 * Whether a review date (YYYY-MM-DD) is past on `today` (YYYY-MM-DD, UTC as `dagwood governance`
 * takes it): a review due today is not past, due yesterday is.
 */
export function reviewOverdue(reviewBy: string | undefined, today: string): boolean {
  return !!reviewBy && reviewBy < today;
}
