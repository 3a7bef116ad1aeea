/**
 * A pipeline test's assertions: placed on the rewritten pipeline before the
 * run (which node and table port each checks, its suite loaded and checked),
 * and checked against the run after it.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Workspace } from "../data/workspace";
import type { AnyBlock, Catalog } from "../engine/block";
import type { RunSummary } from "../engine/events";
import type { Pipeline } from "../pipeline/schema";
import type { ExpectationSuite, ValidationReport } from "../values/expectations";
import { closest, fileProblem, type OutputAt, type RewrittenPipeline, unknownNode } from "./fixtures";
import { type Assertion, jsonPath, type TestProblem } from "./test-file";

/** An assertion ready to check: where it looks, its name in reports, its suite. */
export interface PlacedAssertion {
  assertion: Assertion;
  at: OutputAt;
  name: string;
  suite?: ExpectationSuite;
}

export interface AssertionResult {
  name: string;
  ok: boolean;
  /** Why it failed; what was seen when it passed. */
  message: string;
}

function rangeText(r: { min?: number; max?: number }): string {
  if (r.min !== undefined && r.max !== undefined)
    return r.min === r.max ? `= ${r.min}` : `in [${r.min}, ${r.max}]`;
  return r.min !== undefined ? `>= ${r.min}` : `<= ${r.max}`;
}

const within = (v: number, r: { min?: number; max?: number }) =>
  (r.min === undefined || v >= r.min) && (r.max === undefined || v <= r.max);

/** An assertion's default name: what it checks, e.g. "split.train rows in [200, 260]". */
export function describeAssertion(a: Assertion): string {
  const where = a.port ? `${a.node}.${a.port}` : a.node;
  if (a.rows !== undefined)
    return `${where} rows ${typeof a.rows === "number" ? `= ${a.rows}` : rangeText(a.rows)}`;
  if (a.columns !== undefined) {
    const c = Array.isArray(a.columns) ? { include: a.columns } : a.columns;
    const parts = [
      c.include ? `include ${c.include.join(", ")}` : "",
      c.exclude ? `exclude ${c.exclude.join(", ")}` : "",
      c.exactly ? `are exactly ${c.exactly.join(", ")}` : "",
    ].filter(Boolean);
    return `${where} columns ${parts.join("; ")}`;
  }
  if (a.metric !== undefined) return `${a.node} ${a.metric} ${rangeText(a)}`;
  if (a.expect !== undefined) return `${where} passes ${a.expect}`;
  return `${a.node} fails${typeof a.fails === "string" ? ` with "${a.fails}"` : ""}`;
}

const tablePorts = (block: AnyBlock) =>
  Object.entries(block.outputs)
    .filter(([, s]) => s.type === "table")
    .map(([p]) => p);

/** Where assertion `a` (the i-th) looks, or the problem that keeps it from being checked. */
function place(
  a: Assertion,
  original: Pipeline,
  catalog: Catalog,
  rewritten: RewrittenPipeline,
  pipelineFile: string,
  at: (...path: PropertyKey[]) => string,
): OutputAt | { path: string; message: string } {
  const node = original.nodes.find((n) => n.id === a.node);
  if (!node)
    return {
      path: at("node"),
      message: unknownNode(
        a.node,
        pipelineFile,
        original.nodes.map((n) => n.id),
      ),
    };
  const block = catalog.get(node.block)!;
  const onTable = a.rows !== undefined || a.columns !== undefined || a.expect !== undefined;
  if (!onTable) {
    if (a.port !== undefined)
      return {
        path: at("port"),
        message: `"port" names the table that rows, columns or expect check; a ${a.metric !== undefined ? "metric" : "fails"} assertion is about the whole node: remove it`,
      };
    if (rewritten.replaced.has(a.node))
      return {
        path: at("node"),
        message: `${a.node} is replaced by its fixture, so it neither records metrics nor fails: assert on a node below it`,
      };
    return { node: a.node };
  }
  const tables = tablePorts(block);
  let port = a.port;
  if (port !== undefined && !tables.includes(port))
    return {
      path: at("port"),
      message: `${a.node} (${block.kind}) has no table output "${port}" (its table outputs: ${tables.join(", ") || "none"})`,
    };
  if (port === undefined) {
    if (tables.length !== 1)
      return {
        path: at(),
        message: tables.length
          ? `${a.node} has the table outputs ${tables.join(" and ")}: say which with "port"`
          : `${a.node} (${block.kind}) gives no table: rows, columns and expect check tables (check its "metric", or a node below it)`,
      };
    port = tables[0]!;
  }
  return rewritten.moved.get(`${a.node}.${port}`) ?? { node: a.node, port };
}

/** The suite an `expect` assertion names, read and checked; or its problems. */
async function loadSuite(
  projectDir: string,
  path: string,
  file: string,
  at: string,
): Promise<{ suite?: ExpectationSuite; problems: TestProblem[] }> {
  const missing = fileProblem(projectDir, path, "suite");
  if (missing) return { problems: [{ file, path: at, message: missing }] };
  const { parseSuite, checkSuite } = await import("../data/expectations/index");
  let suite: ExpectationSuite;
  try {
    suite = parseSuite(readFileSync(resolve(projectDir, path), "utf8"), path);
  } catch (e) {
    return { problems: [{ file, path: at, message: (e as Error).message }] };
  }
  const problems = checkSuite(suite).map((p) => ({
    file: path,
    path: p.path,
    message: `${p.message} (the suite of ${file})`,
  }));
  return problems.length ? { problems } : { suite, problems };
}

/** Places every assertion of the test; every problem at once. */
export async function placeAssertions(
  assertions: readonly Assertion[],
  original: Pipeline,
  catalog: Catalog,
  rewritten: RewrittenPipeline,
  paths: { projectDir: string; file: string; pipeline: string },
): Promise<{ placed: PlacedAssertion[]; problems: TestProblem[] }> {
  const placed: PlacedAssertion[] = [];
  const problems: TestProblem[] = [];
  for (const [i, a] of assertions.entries()) {
    const at = (...path: PropertyKey[]) => jsonPath(["assertions", i, ...path]);
    const where = place(a, original, catalog, rewritten, paths.pipeline, at);
    if ("message" in where) {
      problems.push({ file: paths.file, ...where });
      continue;
    }
    let suite: ExpectationSuite | undefined;
    if (a.expect !== undefined) {
      const loaded = await loadSuite(paths.projectDir, a.expect, paths.file, at("expect"));
      problems.push(...loaded.problems);
      if (!loaded.suite) continue;
      suite = loaded.suite;
    }
    placed.push({ assertion: a, at: where, name: a.name ?? describeAssertion(a), suite });
  }
  return { placed, problems };
}

/** The failed expectations of a report, one line each. */
async function failedExpectations(report: ValidationReport): Promise<string> {
  const { expectationName, resultDetail } = await import("../values/expectation-text");
  return report.results
    .filter((r) => !r.success)
    .map((r) => `${expectationName(r)}: ${resultDetail(r)}`)
    .join("; ");
}

function checkColumns(a: Assertion, have: string[]): { ok: boolean; message: string } {
  const spec = Array.isArray(a.columns) ? { include: a.columns } : a.columns!;
  const wrong: string[] = [];
  const missing = (spec.include ?? []).filter((col) => !have.includes(col));
  if (missing.length) wrong.push(`missing ${missing.join(", ")}`);
  const present = (spec.exclude ?? []).filter((col) => have.includes(col));
  if (present.length) wrong.push(`has ${present.join(", ")}, which it should not`);
  if (spec.exactly) {
    const extra = have.filter((col) => !spec.exactly!.includes(col));
    const lacking = spec.exactly.filter((col) => !have.includes(col));
    if (extra.length) wrong.push(`has ${extra.join(", ")} beyond the expected`);
    if (lacking.length) wrong.push(`missing ${lacking.join(", ")}`);
  }
  return wrong.length
    ? { ok: false, message: `${wrong.join("; ")} (its columns: ${have.join(", ")})` }
    : { ok: true, message: `columns: ${have.join(", ")}` };
}

/** Checks one placed assertion against the run, reading tables from `workspace` (the test's own). */
export async function checkAssertion(
  c: PlacedAssertion,
  run: RunSummary,
  workspace: Workspace,
): Promise<AssertionResult> {
  const result = (ok: boolean, message: string) => ({ name: c.name, ok, message });
  const a = c.assertion;
  const id = c.at.node;
  const node = run.nodes.find((n) => n.id === id);
  if (a.fails !== undefined) {
    if (node?.status !== "failed")
      return result(false, `${id} ${node?.status ?? "did not run"}; the test expects it to fail`);
    if (typeof a.fails === "string" && !(node.error ?? "").includes(a.fails))
      return result(
        false,
        `${id} failed, but its error does not say "${a.fails}": ${node.error ?? "(no message)"}`,
      );
    return result(true, `failed: ${node.error ?? ""}`);
  }
  if (!node || (node.status !== "ran" && node.status !== "cached"))
    return result(
      false,
      node?.status === "failed"
        ? `${id} failed: ${node.error ?? "(no message)"}`
        : `${id} ${node?.status ?? "did not run"}${node?.reason ? ` (${node.reason})` : ""}: a node above it failed`,
    );
  if (a.metric !== undefined) {
    const recorded = run.metrics.filter((m) => m.node === id);
    const values = recorded.filter((m) => m.name === a.metric);
    if (!values.length) {
      const names = [...new Set(recorded.map((m) => m.name))];
      const guess = closest(a.metric, names);
      return result(
        false,
        `${id} recorded no metric "${a.metric}"${guess ? `: did you mean "${guess}"?` : ""} (it recorded: ${names.join(", ") || "none"})`,
      );
    }
    const value = values.at(-1)!.value;
    return within(value, a)
      ? result(true, `${a.metric} = ${value}`)
      : result(false, `${a.metric} = ${value}, expected ${rangeText(a)}`);
  }
  const output = node.outputs[c.at.port!];
  if (!output?.table) return result(false, `${id} gave no table on "${c.at.port}"`);
  if (a.rows !== undefined) {
    const rows = output.rows ?? 0;
    const range = typeof a.rows === "number" ? { min: a.rows, max: a.rows } : a.rows;
    return within(rows, range)
      ? result(true, `${rows} rows`)
      : result(false, `${rows} rows, expected ${typeof a.rows === "number" ? a.rows : rangeText(a.rows)}`);
  }
  const sql = await workspace.session();
  try {
    if (a.columns !== undefined) {
      const { ok, message } = checkColumns(
        a,
        (await sql.columns(output.table)).map((col) => col.name),
      );
      return result(ok, message);
    }
    const { runSuite } = await import("../data/expectations/index");
    const report = await runSuite(sql, output.table, c.suite!, { suiteSource: a.expect });
    const s = report.statistics;
    return report.success
      ? result(true, `${s.successful_expectations} of ${s.evaluated_expectations} expectations passed`)
      : result(
          false,
          `${s.unsuccessful_expectations} of ${s.evaluated_expectations} expectations failed: ${await failedExpectations(report)}`,
        );
  } finally {
    sql.close();
  }
}
