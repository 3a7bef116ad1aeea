/**
 * Runs a pipeline test (app/ci/test-file.ts). The test is turned into an
 * ordinary pipeline: a fixture on an `ingest.file` node replaces its `path`
 * param; a fixture on any other node replaces the node by an `ingest.file`
 * node of the same id reading the fixture (one per output port when it has
 * several), with the edges from its ports moved to the new nodes; `nodeParams`
 * replace params. That pipeline is planned and run by the engine's normal run
 * path (planPipeline, runPlan), with the asserted nodes as targets, so only
 * they and what they need run; in a stand-in for the project
 * (app/ci/shadow.ts), so the project's history and registry are untouched.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import type { Catalog } from "../engine/block";
import type { RunEvent, RunSummary } from "../engine/events";
import type { Plan, Problem } from "../pipeline/validate";
import { type AssertionResult, checkAssertion, type PlacedAssertion, placeAssertions } from "./assertions";
import { rewritePipeline } from "./fixtures";
import {
  type Assertion,
  jsonPath,
  type PipelineTestFile,
  parseTestFile,
  TEST_DIR,
  TEST_SUFFIX,
  type TestProblem,
} from "./test-file";

export type { AssertionResult } from "./assertions";

/** Blocks a test never runs: they change things outside the project (a deploy target). */
const REFUSED_BLOCKS = new Set(["deploy"]);

/** A test ready to run: its plan, the nodes to run to, and each assertion's place and suite. */
export interface PreparedTest {
  /** Relative to the project ("tests/penguins.test.json"), or as given when outside it. */
  file: string;
  test: PipelineTestFile;
  plan: Plan;
  targets: string[];
  checks: PlacedAssertion[];
}

export interface TestResult {
  file: string;
  pipeline: string;
  status: "passed" | "failed";
  ms: number;
  run: RunSummary;
  assertions: AssertionResult[];
}

/** What `dagwood test` (and `dagwood ci`) did with a set of test files. */
export interface TestOutcome {
  results: TestResult[];
  /** Test files that could not be used (relative to the project), with their problems. */
  invalid: { file: string; problems: TestProblem[] }[];
}

/** The test files of a project: `tests/*.test.json`, sorted. */
export async function findTestFiles(projectDir: string): Promise<string[]> {
  const { readdir } = await import("node:fs/promises");
  const dir = join(projectDir, TEST_DIR);
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile() && e.name.endsWith(TEST_SUFFIX))
    .map((e) => join(dir, e.name))
    .sort();
}

const shown = (projectDir: string, file: string) => {
  const rel = relative(projectDir, resolve(file));
  return rel.startsWith("..") || isAbsolute(rel) ? file : rel.split(sep).join("/");
};

/** Reads a test file and checks it against the schema. */
async function readTest(
  file: string,
  name: string,
): Promise<{ test?: PipelineTestFile; problems: TestProblem[] }> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const message =
      code === "ENOENT"
        ? "test file not found"
        : code === "EISDIR"
          ? "a folder, not a test file"
          : `cannot read it: ${(e as Error).message}`;
    return { problems: [{ file: name, path: "$", message }] };
  }
  return parseTestFile(text, name);
}

/**
 * The plan's problems, each where it can be fixed: a param the test set (a
 * fixture's path, a nodeParams entry, a params override) in the test file;
 * anything else in the pipeline file.
 */
function placePlanProblems(
  problems: readonly Problem[],
  origin: ReadonlyMap<string, string>,
  name: string,
  pipelineFile: string,
): TestProblem[] {
  return problems.map((p) => {
    const m = /^\$\.nodes\[(\d+)\]\.params\.([A-Za-z0-9_]+)/.exec(p.path);
    const from = m ? origin.get(`${m[1]}.${m[2]}`) : undefined;
    if (from) return { file: name, path: from, message: p.message };
    if (p.path === "$.params" && p.message.startsWith("--param "))
      return { file: name, path: "$.params", message: p.message.slice("--param ".length) };
    return { file: pipelineFile, path: p.path, message: `${p.message} (running ${name})` };
  });
}

/** Each placed assertion that would run a refused block (a deploy) on its way. */
function refusedRuns(
  plan: Plan,
  placed: readonly PlacedAssertion[],
  assertions: readonly Assertion[],
  name: string,
): TestProblem[] {
  const nodes = new Map(plan.order.map((n) => [n.id, n]));
  const above = (id: string, seen = new Set<string>()): Set<string> => {
    if (seen.has(id)) return seen;
    seen.add(id);
    for (const src of Object.values(nodes.get(id)?.inputs ?? {})) above(src.node, seen);
    return seen;
  };
  const problems: TestProblem[] = [];
  for (const c of placed) {
    const refused = [...above(c.at.node)].find((id) => REFUSED_BLOCKS.has(nodes.get(id)!.block.kind));
    if (refused)
      problems.push({
        file: name,
        path: jsonPath(["assertions", assertions.indexOf(c.assertion)]),
        message: `checking ${c.at.node} would run ${refused} (${nodes.get(refused)!.block.kind}), which pushes to a real target: a test asserts on the nodes above a deploy`,
      });
  }
  return problems;
}

/**
 * Loads the test file and its pipeline, rewrites the pipeline with the
 * fixtures and nodeParams, plans it, and places each assertion on it.
 * Every problem at once, each with its file and JSON path.
 */
export async function prepareTest(
  projectDir: string,
  file: string,
  catalog: Catalog,
): Promise<{ prepared?: PreparedTest; problems: TestProblem[] }> {
  const name = shown(projectDir, file);
  const { test, problems: fileProblems } = await readTest(file, name);
  if (!test) return { problems: fileProblems };
  const pipelineAbs = resolve(projectDir, test.pipeline);
  const inProject = relative(projectDir, pipelineAbs);
  if (inProject === ".." || inProject.startsWith(`..${sep}`) || isAbsolute(inProject))
    return {
      problems: [
        {
          file: name,
          path: "$.pipeline",
          message: `the pipeline ${test.pipeline} is outside the project: a test names one of the project's own pipelines`,
        },
      ],
    };
  if (!existsSync(pipelineAbs))
    return {
      problems: [
        {
          file: name,
          path: "$.pipeline",
          message: `pipeline file not found: ${test.pipeline} (relative to the project ${projectDir})`,
        },
      ],
    };
  const [{ loadPipelineFile }, { planPipeline }] = await Promise.all([
    import("../pipeline/file"),
    import("../pipeline/validate"),
  ]);
  const loaded = await loadPipelineFile(pipelineAbs);
  if (!loaded.pipeline)
    return {
      problems: loaded.problems.map((p) => ({
        file: test.pipeline,
        path: p.path,
        message: `${p.message} (the pipeline of ${name})`,
      })),
    };
  const rewritten = rewritePipeline(loaded.pipeline, test, projectDir, catalog, name);
  const planned = planPipeline(rewritten.pipeline, catalog, test.params);
  const { placed, problems: placing } = await placeAssertions(
    test.assertions,
    loaded.pipeline,
    catalog,
    rewritten,
    {
      projectDir,
      file: name,
      pipeline: test.pipeline,
    },
  );
  const problems = [
    ...rewritten.problems,
    ...placePlanProblems(planned.problems, rewritten.origin, name, test.pipeline),
    ...placing,
  ];
  if (!planned.plan || problems.length) return { problems };
  problems.push(...refusedRuns(planned.plan, placed, test.assertions, name));
  if (problems.length) return { problems };
  // What runs: the asserted nodes and what they depend on.
  const targets = [...new Set(placed.map((c) => c.at.node))];
  return { prepared: { file: name, test, plan: planned.plan, targets, checks: placed }, problems: [] };
}

/**
 * Runs a prepared test in a stand-in for the project and checks its
 * assertions. Throws ProjectSettingsError for a bad dagwood.json.
 */
export async function runPreparedTest(
  projectDir: string,
  t: PreparedTest,
  options: { signal?: AbortSignal; onEvent?: (e: RunEvent) => void } = {},
): Promise<TestResult> {
  const [{ createShadowProject }, { Project }, { runPlan }] = await Promise.all([
    import("./shadow"),
    import("../project/project"),
    import("../engine/engine"),
  ]);
  const started = performance.now();
  const shadow = createShadowProject(projectDir);
  try {
    const project = await Project.open(shadow.dir);
    try {
      const run = await runPlan({
        project,
        plan: t.plan,
        pipelinePath: join(shadow.dir, t.test.pipeline),
        targets: t.targets,
        signal: options.signal,
        onEvent: options.onEvent,
      });
      const assertions: AssertionResult[] = [];
      for (const c of t.checks) assertions.push(await checkAssertion(c, run, project.workspace));
      return {
        file: t.file,
        pipeline: t.test.pipeline,
        status: assertions.every((r) => r.ok) ? "passed" : "failed",
        ms: performance.now() - started,
        run,
        assertions,
      };
    } finally {
      project.close();
    }
  } finally {
    shadow.remove();
  }
}
