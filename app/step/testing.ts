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
