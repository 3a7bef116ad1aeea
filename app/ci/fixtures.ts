/**
 * A pipeline test's changes to its pipeline, made on a copy before it is
 * planned, so the run goes through the engine's normal path with no hook:
 *
 * - a fixture on an `ingest.file` node replaces its `path` param;
 * - a fixture on any other node replaces the node by an `ingest.file` node of
 *   the same id reading the fixture (for a node with several table outputs,
 *   one such node per port, `<id>__<port>`), its incoming edges dropped and
 *   the edges from its ports moved to the new nodes;
 * - `nodeParams` replace params of the nodes they name.
 *
 * Each changed param remembers where in the test file it came from, so a
 * problem the plan finds in it is reported there.
 */
import { existsSync, statSync } from "node:fs";
import { isAbsolute, relative, resolve } from "node:path";
import type { Catalog } from "../engine/block";
import type { Pipeline, PipelineEdge, PipelineNode } from "../pipeline/schema";
import { jsonPath, type PipelineTestFile, type TestProblem } from "./test-file";

export const INGEST = "ingest.file";

/** Where a node's output is in the rewritten pipeline. */
export interface OutputAt {
  node: string;
  port?: string;
}

export interface RewrittenPipeline {
  pipeline: Pipeline;
  /** `${original id}.${port}` → where that output is now (for nodes replaced by fixtures). */
  moved: Map<string, OutputAt>;
  /** `${node index}.${param}` → the JSON path in the test file that set it. */
  origin: Map<string, string>;
  /** Nodes replaced by their fixtures (they neither run nor record metrics). */
  replaced: Set<string>;
  problems: TestProblem[];
}

/** "Did you mean" for a name among `known`: the closest by edit distance, when close. */
export function closest(name: string, known: readonly string[]): string | undefined {
  const distance = (a: string, b: string) => {
    const d = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
      let prev = d[0]!;
      d[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const tmp = d[j]!;
        d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
        prev = tmp;
      }
    }
    return d[b.length]!;
  };
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const k of known) {
    const dist = distance(name.toLowerCase(), k.toLowerCase());
    if (dist < bestD) [best, bestD] = [k, dist];
  }
  return best;
}

export function unknownNode(id: string, pipelineFile: string, ids: readonly string[]): string {
  const guess = closest(id, ids);
  return `no node "${id}" in ${pipelineFile}${guess ? `: did you mean "${guess}"?` : ""} (its nodes: ${ids.join(", ")})`;
}

/** A file the test names (a fixture, a suite), checked: inside the project, there, not a folder. */
export function fileProblem(projectDir: string, path: string, what: "fixture" | "suite"): string | undefined {
  const abs = resolve(projectDir, path);
  const rel = relative(projectDir, abs);
  if (rel.startsWith("..") || isAbsolute(rel))
    return what === "fixture"
      ? `the fixture ${path} is outside the project: keep fixtures in the project (e.g. tests/fixtures/)`
      : `the suite ${path} is outside the project: keep suites in the project (e.g. expectations/)`;
  if (!existsSync(abs)) return `${what} file not found: ${path} (paths are relative to the project)`;
  if (statSync(abs).isDirectory()) return `${path} is a folder: a ${what} is one file`;
  return undefined;
}

/**
 * The ports of `node` that each fixture file stands for, or the problem with
 * the fixture: a node whose non-table output the pipeline uses, a port it
 * lacks, a port the pipeline uses left without a file.
 */
function fixturePorts(
  pipeline: Pipeline,
  node: PipelineNode,
  fixture: string | Record<string, string>,
  catalog: Catalog,
  at: (...path: PropertyKey[]) => string,
): { ports?: [string, string][]; problems: { path: string; message: string }[] } {
  const block = catalog.get(node.block)!;
  const id = node.id;
  const outputs = Object.entries(block.outputs);
  const tables = outputs.filter(([, spec]) => spec.type === "table").map(([p]) => p);
  const used = new Set(
    pipeline.edges.filter((e) => e.from.startsWith(`${id}.`)).map((e) => e.from.slice(id.length + 1)),
  );
  const nonTable = outputs.filter(([p, spec]) => spec.type !== "table" && used.has(p)).map(([p]) => p);
  if (nonTable.length)
    return {
      problems: [
        {
          path: at("fixtures", id),
          message: `a fixture stands for a table, but ${id} (${node.block}) also gives ${nonTable.map((p) => `"${p}" (${block.outputs[p]!.type})`).join(", ")}, which the pipeline uses: put the fixture on a node above it`,
        },
      ],
    };
  if (typeof fixture === "string") {
    if (tables.length === 1) return { ports: [[tables[0]!, fixture]], problems: [] };
    return {
      problems: [
        {
          path: at("fixtures", id),
          message: `${id} (${node.block}) has the table outputs ${tables.join(", ")}: give a file for each, e.g. { ${tables.map((p) => `"${p}": "tests/fixtures/${id}-${p}.csv"`).join(", ")} }`,
        },
      ],
    };
  }
  const problems = Object.keys(fixture)
    .filter((p) => !tables.includes(p))
    .map((p) => ({
      path: at("fixtures", id, p),
      message: `${id} (${node.block}) has no table output "${p}" (its table outputs: ${tables.join(", ") || "none"})`,
    }));
  const missing = [...used].filter((p) => !(p in fixture));
  if (missing.length)
    problems.push({
      path: at("fixtures", id),
      message: `the pipeline uses ${missing.map((p) => `${id}.${p}`).join(", ")}: give a fixture for ${missing.length === 1 ? "it" : "each"} too`,
    });
  return problems.length ? { problems } : { ports: Object.entries(fixture), problems };
}

/** Replaces `node` (at `index`) by one ingest node per port file, moving the edges from its ports. */
function replaceByIngest(
  out: RewrittenPipeline,
  node: PipelineNode,
  index: number,
  ports: [string, string][],
) {
  const { pipeline, moved, origin } = out;
  const id = node.id;
  const taken = new Set(pipeline.nodes.map((n) => n.id));
  const several = ports.length > 1;
  const nodes: PipelineNode[] = ports.map(([port, path], i) => {
    let newId = id;
    if (several) {
      newId = `${id}__${port}`;
      while (taken.has(newId)) newId = `_${newId}`;
      taken.add(newId);
    }
    moved.set(`${id}.${port}`, { node: newId, port: "out" });
    // The first takes the node's place; the others go at the end.
    const newIndex = i === 0 ? index : pipeline.nodes.length + i - 1;
    origin.set(`${newIndex}.path`, jsonPath(several ? ["fixtures", id, port] : ["fixtures", id]));
    return { id: newId, block: INGEST, params: { path } };
  });
  pipeline.nodes.splice(index, 1, nodes[0]!);
  pipeline.nodes.push(...nodes.slice(1));
  pipeline.edges = pipeline.edges
    .filter((e) => !e.to.startsWith(`${id}.`))
    .map((e): PipelineEdge => {
      const to = moved.get(e.from);
      return to ? { from: `${to.node}.${to.port}`, to: e.to } : e;
    });
  out.replaced.add(id);
}

/** The test's pipeline with its fixtures and nodeParams applied (the original is not changed). */
export function rewritePipeline(
  original: Pipeline,
  test: PipelineTestFile,
  projectDir: string,
  catalog: Catalog,
  file: string,
): RewrittenPipeline {
  const pipeline: Pipeline = structuredClone(original);
  delete pipeline.layout;
  const out: RewrittenPipeline = {
    pipeline,
    moved: new Map(),
    origin: new Map(),
    replaced: new Set(),
    problems: [],
  };
  const ids = original.nodes.map((n) => n.id);
  const at = (...path: PropertyKey[]) => jsonPath(path);
  const problem = (path: string, message: string) => out.problems.push({ file, path, message });

  for (const [id, fixture] of Object.entries(test.fixtures)) {
    const node = pipeline.nodes.find((n) => n.id === id);
    if (!node) {
      problem(at("fixtures", id), unknownNode(id, test.pipeline, ids));
      continue;
    }
    const files = Object.entries(typeof fixture === "string" ? { "": fixture } : fixture);
    const missing = files
      .map(([port, path]) => [port, fileProblem(projectDir, path, "fixture")] as const)
      .filter(([, message]) => message);
    for (const [port, message] of missing)
      problem(port ? at("fixtures", id, port) : at("fixtures", id), message!);
    // An unknown block is the pipeline's own problem, which its plan reports.
    if (missing.length || !catalog.has(node.block)) continue;
    const index = pipeline.nodes.indexOf(node);
    if (node.block === INGEST) {
      if (typeof fixture !== "string") {
        problem(
          at("fixtures", id),
          `${id} is an ${INGEST} node with one output: its fixture is one file, e.g. "tests/fixtures/${id}.csv"`,
        );
        continue;
      }
      node.params = { ...node.params, path: fixture };
      out.origin.set(`${index}.path`, at("fixtures", id));
      continue;
    }
    const { ports, problems } = fixturePorts(pipeline, node, fixture, catalog, at);
    for (const p of problems) problem(p.path, p.message);
    if (ports) replaceByIngest(out, node, index, ports);
  }

  for (const [id, params] of Object.entries(test.nodeParams)) {
    const node = pipeline.nodes.find((n) => n.id === id);
    if (!node || !ids.includes(id)) problem(at("nodeParams", id), unknownNode(id, test.pipeline, ids));
    else if (out.replaced.has(id))
      problem(
        at("nodeParams", id),
        `${id} is replaced by its fixture, so its params are not used: remove them here`,
      );
    else {
      node.params = { ...node.params, ...params };
      const index = pipeline.nodes.indexOf(node);
      for (const key of Object.keys(params)) out.origin.set(`${index}.${key}`, at("nodeParams", id, key));
    }
  }
  return out;
}
