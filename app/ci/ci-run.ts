/**
 * `dagwood ci`'s work on one project: find and validate its pipelines, run
 * the valid ones in the project (as `dagwood run` does: expectation suites,
 * gates, registration), and gather what the summary shows: each run, its
 * data-test reports, and each model it registered against the champion it
 * had before the run.
 */
import { resolve } from "node:path";
import type { Catalog } from "../engine/block";
import type { RunEvent, RunSummary } from "../engine/events";
import type { Plan, Problem } from "../pipeline/validate";
import type { Project } from "../project/project";
import type { ValidationReport } from "../values/expectations";

export interface ModelComparison {
  /** The register node. */
  node: string;
  model: string;
  /** The version the run registered (or found already registered); null when the node did not register. */
  version: number | null;
  metrics: Record<string, number>;
  /** The version under the `champion` alias before the run, and its metrics; null when there was none. */
  champion: { version: number; metrics: Record<string, number> } | null;
}

export interface CiPipeline {
  /** Relative to the project ("penguins.dag.json"). */
  file: string;
  /** Why it cannot run; empty for a valid pipeline. */
  problems: Problem[];
  plan?: Plan;
  run?: RunSummary;
  /** The data-test reports of its validate.expectations nodes, by node id. */
  reports: Map<string, ValidationReport>;
  models: ModelComparison[];
}

/** Checks a pipeline as `dagwood validate` does: the file, the graph, and the columns and files it names. */
export async function validateForCi(
  projectDir: string,
  file: string,
  catalog: Catalog,
  allowedDirs: readonly string[],
): Promise<CiPipeline> {
  const [{ loadPipelineFile }, { planPipeline }, { inferSchemas }] = await Promise.all([
    import("../pipeline/file"),
    import("../pipeline/validate"),
    import("../engine/schema"),
  ]);
  const entry: CiPipeline = { file, problems: [], reports: new Map(), models: [] };
  const loaded = await loadPipelineFile(resolve(projectDir, file));
  if (!loaded.pipeline) return { ...entry, problems: loaded.problems };
  let planned: ReturnType<typeof planPipeline>;
  try {
    planned = planPipeline(loaded.pipeline, catalog);
  } catch (e) {
    return {
      ...entry,
      problems: [{ path: "$", message: `This file cannot be validated: ${(e as Error).message}` }],
    };
  }
  if (!planned.plan) return { ...entry, problems: planned.problems };
  const inferred = await inferSchemas({
    pipeline: planned.plan.pipeline,
    catalog,
    projectDir,
    allowedDirs: [...allowedDirs],
  });
  return { ...entry, problems: inferred.problems, plan: inferred.problems.length ? undefined : planned.plan };
}

/** The models a plan registers: its register nodes and their model names. */
function registeredModels(plan: Plan): { node: string; model: string }[] {
  return plan.order
    .filter((n) => n.block.kind === "register")
    .map((n) => ({ node: n.id, model: String((n.params as { name?: unknown }).name ?? "") }))
    .filter((m) => m.model);
}

/**
 * Runs a validated pipeline in the open project and fills in its run and its
 * models against their champions (the caller adds the data-test reports).
 */
export async function runForCi(
  project: Project,
  entry: CiPipeline,
  options: { signal?: AbortSignal; onEvent?: (e: RunEvent) => void } = {},
): Promise<void> {
  const { runPlan } = await import("../engine/engine");
  const plan = entry.plan!;
  const registry = project.metadata.registry;
  // The champion as it was before this run: a run may move the alias itself.
  const before = registeredModels(plan).map((m) => {
    const champion = registry.getVersion(m.model, "champion");
    return { ...m, champion: champion ? { version: champion.version, metrics: champion.metrics } : null };
  });
  const run = await runPlan({
    project,
    plan,
    pipelinePath: resolve(project.dir, entry.file),
    signal: options.signal,
    onEvent: options.onEvent,
  });
  entry.run = run;
  entry.models = before.map((m) => {
    const headline = run.nodes.find((n) => n.id === m.node)?.outputs.version?.headline;
    const version = headline?.kind === "version" ? headline.version : null;
    const metrics = version === null ? {} : (registry.getVersion(m.model, version)?.metrics ?? {});
    return { node: m.node, model: m.model, version, metrics, champion: m.champion };
  });
}
