/**
 * For the step test and bench/step.ts: a pipeline run node by node as an orchestrator runs it, each
 * node a separate `dagwood step` process in its own copy of the project, the port folders moved from
 * a producer's --outputs to its consumers' --inputs (as Argo moves an artifact: a copy of the folder).
 * The order comes from the pipeline file's own edges, not from the engine's plan.
 */
import { cp, mkdir, readFile, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { type CliResult, startDagwood } from "../cli/testing";
import type { StepResult } from "./step";

interface PipelineFile {
  name: string;
  nodes: { id: string }[];
  edges: { from: string; to: string }[];
}

/** A project folder for one process: dagwood.json with no data folders, the pipeline, and `files` (copied). */
export interface ProjectRecipe {
  pipeline: string;
  /** Project-relative path → source file or folder to copy. */
  files: Record<string, string>;
}

export async function makeProject(dir: string, recipe: ProjectRecipe): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "dagwood.json"), `${JSON.stringify({ name: "step-test", dataFolders: [] })}\n`);
  const pipeline = join(dir, basename(recipe.pipeline));
  await cp(recipe.pipeline, pipeline);
  for (const [rel, src] of Object.entries(recipe.files)) await cp(src, join(dir, rel), { recursive: true });
  return pipeline;
}

/** Node ids in an order where every node comes after its upstream nodes (Kahn's algorithm on the file's edges). */
export function topologicalOrder(p: PipelineFile): string[] {
  const ids = p.nodes.map((n) => n.id).sort();
  const upstream = new Map(ids.map((id) => [id, new Set<string>()]));
  for (const e of p.edges) upstream.get(e.to.split(".")[0]!)!.add(e.from.split(".")[0]!);
  const order: string[] = [];
  while (order.length < ids.length) {
    const next = ids.find(
      (id) => !order.includes(id) && [...upstream.get(id)!].every((u) => order.includes(u)),
    );
    if (!next) throw new Error(`${p.name}: the edges form a cycle`);
    order.push(next);
  }
  return order;
}

export type Proc = CliResult & { ms: number };

/** `dagwood <args>` as a child process, with its wall time. */
export async function dagwood(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Proc> {
  const t0 = performance.now();
  const r = await startDagwood(args, { env }).done;
  return { ...r, ms: performance.now() - t0 };
}

export interface StepwiseRun {
  order: string[];
  results: Record<string, StepResult>;
  /** Wall time of each step process. */
  ms: Record<string, number>;
  /** Each node's --outputs folder. */
  outputs: Record<string, string>;
}

/**
 * Runs every node of the recipe's pipeline as `dagwood step` in `work/<node>/project`, inputs in
 * `work/<node>/in/<port>` (copies of the producers' port folders), outputs in `work/<node>/out`.
 */
export async function runStepwise(
  work: string,
  recipe: ProjectRecipe,
  opts: { runId?: string; params?: string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<StepwiseRun> {
  const p = JSON.parse(await readFile(recipe.pipeline, "utf8")) as PipelineFile;
  const order = topologicalOrder(p);
  const run: StepwiseRun = { order, results: {}, ms: {}, outputs: {} };
  for (const id of order) {
    const dir = join(work, id);
    const pipeline = await makeProject(join(dir, "project"), recipe);
    await mkdir(join(dir, "in"), { recursive: true });
    for (const e of p.edges) {
      const [to, toPort] = e.to.split(".") as [string, string];
      if (to !== id) continue;
      const [from, fromPort] = e.from.split(".") as [string, string];
      await cp(join(run.outputs[from]!, fromPort), join(dir, "in", toPort), { recursive: true });
    }
    const out = join(dir, "out");
    const args = ["step", pipeline, "--node", id, "--inputs", join(dir, "in"), "--outputs", out];
    if (opts.runId) args.push("--run-id", opts.runId);
    for (const param of opts.params ?? []) args.push("--param", param);
    const proc = await dagwood(args, opts.env);
    if (proc.code !== 0) throw new Error(`dagwood step --node ${id} exited ${proc.code}: ${proc.stderr}`);
    run.results[id] = JSON.parse(await readFile(join(out, "result.json"), "utf8")) as StepResult;
    run.ms[id] = proc.ms;
    run.outputs[id] = out;
  }
  return run;
}

export interface WorkflowRun {
  order: string[];
  /** Each step's exit code; a node after a failed one is not run (as Argo leaves a failed task's dependents). */
  codes: Record<string, number | null>;
  results: Record<string, StepResult>;
}

/**
 * Runs the pipeline's nodes as the steps of one Argo workflow: each `dagwood step` a separate process
 * with `--run-id <workflow>`, ARGO_WORKFLOW_NAME and ARGO_POD_NAME set, all recording into the ONE
 * store of `projectDir` (its dagwood.json's store: the project's SQLite file, or a team store), or each
 * in a project folder of its own (`projectDir(node)`, as pods are) sharing a team store; inputs and
 * outputs in `work/<node>/in|out`. The nodes whose upstream nodes are done run at once, as Argo
 * runs a DAG's ready tasks; a node whose upstream failed is left out. Does not finish the run.
 */
export async function runAsWorkflow(
  work: string,
  projectDir: string | ((node: string) => Promise<string>),
  pipeline: string,
  workflow: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<WorkflowRun> {
  const p = JSON.parse(await readFile(pipeline, "utf8")) as PipelineFile;
  const order = topologicalOrder(p);
  const run: WorkflowRun = { order, codes: {}, results: {} };
  const upstream = (id: string) =>
    p.edges.filter((e) => e.to.split(".")[0] === id).map((e) => e.from.split(".")[0]!);
  const done = new Set<string>();
  while (done.size < order.length) {
    const ready = order.filter((id) => !done.has(id) && upstream(id).every((u) => done.has(u)));
    await Promise.all(
      ready.map(async (id) => {
        done.add(id);
        if (upstream(id).some((u) => run.codes[u] !== 0)) return;
        const dir = join(work, id);
        await mkdir(join(dir, "in"), { recursive: true });
        for (const e of p.edges) {
          const [to, toPort] = e.to.split(".") as [string, string];
          if (to !== id) continue;
          const [from, fromPort] = e.from.split(".") as [string, string];
          await cp(join(work, from, "out", fromPort), join(dir, "in", toPort), { recursive: true });
        }
        const out = join(dir, "out");
        const project = typeof projectDir === "string" ? projectDir : await projectDir(id);
        const args = ["step", pipeline, "--project", project, "--node", id, "--run-id", workflow];
        args.push("--inputs", join(dir, "in"), "--outputs", out);
        const proc = await dagwood(args, {
          ...env,
          ARGO_WORKFLOW_NAME: workflow,
          ARGO_POD_NAME: `${workflow}-${id.replace(/_/g, "-")}-1234`,
        });
        run.codes[id] = proc.code;
        const text = await readFile(join(out, "result.json"), "utf8").catch(() => {
          throw new Error(
            `dagwood step --node ${id} exited ${proc.code} with no result.json: ${proc.stderr}`,
          );
        });
        run.results[id] = JSON.parse(text) as StepResult;
      }),
    );
  }
  return run;
}
