/**
 * One node of a pipeline run on its own, with its inputs read from port folders and its outputs
 * written as port folders (app/step/port-files.ts): what `dagwood step` runs in each task of an
 * orchestrator (Argo Workflows, app/argo). The node runs through the engine (runPlan with the
 * upstream values `given`), so its block code, cache key and fingerprints are a local run's.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { runPlan } from "../engine/engine";
import type { RunEvent } from "../engine/events";
import type { PortValue } from "../engine/ports";
import type { Plan } from "../pipeline/validate";
import { Project, ProjectSettingsError } from "../project/project";
import { PortFileError, readPortFolder, writePortFolder } from "./port-files";

export const STEP_RESULT_FORMAT = "dagwood.step-result/1";
export const RESULT_FILE = "result.json";

/** Environment variables that become tags when set (the Argo export sets them on every step's pod). */
export const TAG_ENV: Record<string, string> = {
  ARGO_WORKFLOW_NAME: "argo.workflow",
  ARGO_POD_NAME: "argo.pod",
  ARGO_WORKFLOW_UID: "argo.uid",
};

/**
 * A run of the same id recorded by another Argo workflow (a workflow's name is free again once the old
 * one is deleted): its `argo.uid` tag against this one's. Joining it would mix two workflows' records.
 */
export function otherWorkflowsRun(
  run: { tags: Record<string, string> } | undefined,
  runId: string,
  tags: Record<string, string>,
): string | null {
  const theirs = run?.tags["argo.uid"];
  const ours = tags["argo.uid"];
  if (!theirs || !ours || theirs === ours) return null;
  return `Run "${runId}" in the store belongs to another Argo workflow of that name (uid ${theirs}; this one's is ${ours}): a workflow's name is free again once the old workflow is deleted. Submit it under another name (the export's generateName gives each submission a new one).`;
}

/**
 * The run tags a step records from its tags: the pod is the node's, so `argo.pod` becomes
 * `argo.pod.<node>` (every step of a workflow records into the one run, each with its own pod); the
 * rest (`argo.workflow`) as they are.
 */
export function runTags(tags: Record<string, string>, nodeId: string): Record<string, string> {
  return Object.fromEntries(
    Object.entries(tags).map(([k, v]) => [k === "argo.pod" ? `argo.pod.${nodeId}` : k, v]),
  );
}

/** What `<outputs>/result.json` holds. */
export interface StepResult {
  format: typeof STEP_RESULT_FORMAT;
  pipeline: string;
  node: string;
  block: string | null;
  runId: string | null;
  /**
   * ran / cached: outputs written; failed: the block failed or the step hit an internal error (a retry
   * may help); refused: bad inputs or arguments.
   */
  status: "ran" | "cached" | "failed" | "refused";
  error?: string;
  /** The engine's cache key of the node (app/engine/engine.ts nodeKey), and its two parts. */
  cacheKey: string | null;
  paramsHash: string | null;
  inputsHash: string | null;
  /** Input port → the fingerprint of the value read. */
  inputs: Record<string, string>;
  outputs: Record<string, { type: string; fingerprint: string; rows?: number; columns?: number }>;
  metrics: { name: string; value: number; step?: number }[];
  timings: { totalMs: number; openMs: number; readInputsMs: number; nodeMs: number; writeOutputsMs: number };
  tags: Record<string, string>;
}

export interface StepOptions {
  plan: Plan;
  nodeId: string;
  projectDir: string;
  /** The pipeline file, for the record. */
  pipelinePath?: string;
  /** Input port → its port folder. */
  inputs: Record<string, string>;
  /** Where the output port folders and result.json go: a new or empty folder. */
  outputs: string;
  /**
   * The run to record into. Given, the step joins it (the steps of one workflow share the workflow's
   * name as run id): the run is created by the first step, joined by the others and finished by none of
   * them (`dagwood step --finish-run`, the workflow's exit handler, does). Absent: a new run of its own,
   * finished with the step.
   */
  runId?: string;
  tags?: Record<string, string>;
  onEvent?: (e: RunEvent) => void;
  signal?: AbortSignal;
}

/** Arguments or inputs a step cannot run with (exit 2); the message says what to pass instead. */
export class StepRefused extends Error {}

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** The run tags the environment asks for (TAG_ENV). */
export function envTags(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const [name, tag] of Object.entries(TAG_ENV)) if (env[name]) tags[tag] = env[name]!;
  return tags;
}

/**
 * Checks the step's arguments against the plan before anything is opened: the node, its input folders
 * (one per connected input port), the run id, the outputs folder (new or empty).
 */
export async function checkStep(opts: StepOptions): Promise<void> {
  const node = opts.plan.order.find((n) => n.id === opts.nodeId);
  if (!node)
    throw new StepRefused(
      `No node "${opts.nodeId}" in pipeline "${opts.plan.pipeline.name}"; its nodes are ${opts.plan.order.map((n) => n.id).join(", ")}`,
    );
  const connected = Object.keys(node.inputs);
  const extra = Object.keys(opts.inputs).filter((p) => !connected.includes(p));
  if (extra.length)
    throw new StepRefused(
      `Node "${node.id}" has no connected input ${extra.map((p) => `"${p}"`).join(", ")}; its connected inputs are ${connected.length ? connected.join(", ") : "none"}`,
    );
  const missing = connected.filter((p) => !opts.inputs[p]);
  if (missing.length)
    throw new StepRefused(
      `Node "${node.id}" needs a folder for input ${missing.map((p) => `"${p}"`).join(", ")}: pass --inputs DIR holding DIR/<port>, or --input <port>=PATH`,
    );
  if (opts.runId !== undefined && !RUN_ID.test(opts.runId))
    throw new StepRefused(
      `--run-id "${opts.runId}": letters, digits, ".", "_" and "-" only, starting with a letter or digit (at most 128)`,
    );
  const present = await readdir(opts.outputs).catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return [];
    throw new StepRefused(`--outputs ${opts.outputs}: ${e.message}`);
  });
  if (present.length)
    throw new StepRefused(
      `--outputs ${opts.outputs} is not empty (${present.slice(0, 3).join(", ")}${present.length > 3 ? ", …" : ""}): give a new or empty folder`,
    );
}

function emptyResult(opts: StepOptions): StepResult {
  return refusedResult(
    opts.plan.pipeline.name,
    opts.nodeId,
    opts.plan.order.find((n) => n.id === opts.nodeId)?.block.kind ?? null,
    opts.tags,
  );
}

/** A result with nothing run yet: status refused, no hashes, no values, zero timings. */
function refusedResult(
  pipeline: string,
  node: string,
  block: string | null,
  tags: Record<string, string> | undefined,
): StepResult {
  return {
    format: STEP_RESULT_FORMAT,
    pipeline,
    node,
    block,
    runId: null,
    status: "refused",
    cacheKey: null,
    paramsHash: null,
    inputsHash: null,
    inputs: {},
    outputs: {},
    metrics: [],
    timings: { totalMs: 0, openMs: 0, readInputsMs: 0, nodeMs: 0, writeOutputsMs: 0 },
    tags: { ...tags },
  };
}

/** Writes result.json into the outputs folder (created when missing). */
export async function writeResult(outputs: string, result: StepResult): Promise<void> {
  await mkdir(outputs, { recursive: true });
  await writeFile(join(outputs, RESULT_FILE), `${JSON.stringify(result, null, 2)}\n`);
}

/**
 * result.json of a step refused before it has a plan (an invalid pipeline file, a malformed --input):
 * written only when --outputs is new or empty, as checkStep would have it.
 */
export async function writeEarlyRefusal(
  outputs: string,
  r: { pipeline: string; node: string; error: string; tags?: Record<string, string> },
): Promise<void> {
  const present = await readdir(outputs).catch((e: NodeJS.ErrnoException) =>
    e.code === "ENOENT" ? [] : undefined,
  );
  if (!present || present.length) return;
  await writeResult(outputs, { ...refusedResult(r.pipeline, r.node, null, r.tags), error: r.error }).catch(
    () => undefined,
  );
}

/**
 * Runs the node: checks the arguments, opens the project (its workspace may read the input folders
 * and write the outputs folder), reads each input, runs the node through the engine, writes each
 * output and result.json. A refusal (StepRefused, PortFileError) is thrown after result.json is
 * written (status "refused"; not when --outputs itself is unusable); a failing block is a result with
 * status "failed"; any other error is thrown after result.json is written with status "failed".
 */
export async function runStep(opts: StepOptions): Promise<StepResult> {
  const t0 = performance.now();
  const since = (t: number) => Math.round(performance.now() - t);
  const result = emptyResult(opts);
  try {
    await checkStep(opts);
  } catch (e) {
    result.error = (e as Error).message;
    if (!(e instanceof StepRefused && /^--outputs/.test(result.error)))
      await writeResult(opts.outputs, result).catch(() => undefined);
    throw e;
  }
  const outputs = resolve(opts.outputs);
  try {
    return await runChecked(opts, result, outputs, t0);
  } catch (e) {
    // StepRefused wrote its result.json already. A port folder's fault is a refusal; anything else (the
    // project's store unreadable, the engine throwing, the cache losing the values, a full disk) is an
    // internal error: a retry may help (exit 1).
    if (e instanceof StepRefused) throw e;
    result.status = e instanceof PortFileError ? "refused" : "failed";
    result.error = e instanceof Error ? e.message : String(e);
    result.outputs = {};
    result.timings.totalMs = since(t0);
    await writeResult(outputs, result).catch(() => undefined);
    throw e;
  }
}

/** runStep after its arguments are checked: any error it throws but a refusal is a failed step. */
async function runChecked(
  opts: StepOptions,
  result: StepResult,
  outputs: string,
  t0: number,
): Promise<StepResult> {
  const since = (t: number) => Math.round(performance.now() - t);
  const node = opts.plan.order.find((n) => n.id === opts.nodeId)!;
  await mkdir(outputs, { recursive: true });
  const inputDirs = Object.fromEntries(Object.entries(opts.inputs).map(([p, d]) => [p, resolve(d)]));
  // The workspace is in memory: a task keeps nothing but its output folders, and a DuckDB file would
  // cost writing every table twice (the file's checkpoint at close, then the Parquet file).
  let project: Project;
  try {
    project = await Project.open(opts.projectDir, {
      ioDirs: [outputs, ...Object.values(inputDirs)],
      memoryWorkspace: true,
      // A pod's journal would die with the pod: a team store out of reach fails the step (exit 1), and
      // Argo retries it.
      journal: false,
    });
  } catch (e) {
    // A project whose dagwood.json is invalid fails every attempt the same way: a refusal, not a retry.
    if (!(e instanceof ProjectSettingsError)) throw e;
    result.error = e.message;
    await writeResult(outputs, result);
    throw new StepRefused(e.message);
  }
  try {
    result.timings.openMs = since(t0);
    const tRead = performance.now();
    // No prototype: a node id may be "__proto__" or "constructor".
    const given: Record<string, Record<string, PortValue>> = Object.create(null);
    try {
      for (const [port, src] of Object.entries(node.inputs)) {
        const table = `t_${randomBytes(8).toString("hex")}_in_${port.replace(/\W/g, "_")}`;
        const { value } = await readPortFolder(
          inputDirs[port]!,
          `Input "${port}"`,
          project.workspace,
          project.dir,
          table,
        );
        const want = node.block.inputs[port]?.type;
        if (want && want !== value.type)
          throw new PortFileError(
            `Input "${port}": ${inputDirs[port]} holds a ${value.type}, but ${node.block.kind}'s input "${port}" takes a ${want}`,
          );
        given[src.node] = { ...given[src.node], [src.port]: value };
        result.inputs[port] = value.fingerprint;
      }
    } catch (e) {
      result.error = (e as Error).message;
      await writeResult(outputs, result);
      throw e;
    }
    result.timings.readInputsMs = since(tRead);
    if (opts.runId !== undefined) {
      const clash = otherWorkflowsRun(project.metadata.getRun(opts.runId), opts.runId, result.tags);
      if (clash) {
        result.error = clash;
        await writeResult(outputs, result);
        throw new StepRefused(clash);
      }
    }
    const tNode = performance.now();
    const summary = await runPlan({
      project,
      plan: opts.plan,
      pipelinePath: opts.pipelinePath,
      targets: [node.id],
      given,
      runId: opts.runId,
      join: opts.runId !== undefined,
      tags: runTags(result.tags, node.id),
      onEvent: opts.onEvent,
      signal: opts.signal,
      concurrency: 1,
    });
    result.timings.nodeMs = since(tNode);
    result.runId = summary.runId;
    if (Object.keys(result.tags).length)
      project.metadata.setTags(summary.runId, runTags(result.tags, node.id));
    const nodeSummary = summary.nodes.find((n) => n.id === node.id);
    // The last record of the node: a joined run holds one per attempt (a retried step, argo retry).
    const record = project.metadata
      .nodeRuns(summary.runId)
      .filter((r) => r.nodeId === node.id)
      .at(-1);
    result.cacheKey = record?.cacheKey ?? null;
    result.paramsHash = record?.paramsHash ?? null;
    result.inputsHash = record?.inputsHash ?? null;
    result.metrics = summary.metrics
      .filter((m) => m.node === node.id)
      .map(({ name, value, step }) => ({ name, value, ...(step !== undefined ? { step } : {}) }));
    if (nodeSummary?.status !== "ran" && nodeSummary?.status !== "cached") {
      result.status = "failed";
      result.error =
        nodeSummary?.error ?? summary.nodes.find((n) => n.error)?.error ?? "the node did not run";
    } else {
      // The values as the cache keeps them (the engine's own serialisation): what a local run hands downstream.
      const text = result.cacheKey ? await project.workspace.getCached(result.cacheKey) : undefined;
      if (!text) throw new Error(`Node "${node.id}" finished but its outputs are not in the cache`);
      const values = JSON.parse(text) as Record<string, PortValue>;
      const tWrite = performance.now();
      for (const [port, value] of Object.entries(values)) {
        await writePortFolder(
          join(outputs, port),
          value,
          { node: node.id, port },
          project.workspace,
          project.dir,
        );
        result.outputs[port] =
          value.type === "table"
            ? {
                type: value.type,
                fingerprint: value.fingerprint,
                rows: value.rows,
                columns: value.columns.length,
              }
            : { type: value.type, fingerprint: value.fingerprint };
      }
      result.timings.writeOutputsMs = since(tWrite);
      result.status = nodeSummary.status;
    }
  } finally {
    // The input tables go with the in-memory workspace.
    project.close();
  }
  result.timings.totalMs = since(t0);
  await writeResult(outputs, result);
  return result;
}
