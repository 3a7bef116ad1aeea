/**
 * The end of a run that several `dagwood step` processes recorded into (the steps of one Argo workflow,
 * each joining the run named by the workflow: app/step/step.ts): no step finishes it, since each ran
 * one node; the workflow's exit handler runs `dagwood step --finish-run` (app/argo/workflow.ts), which
 * sets the run's status from the workflow's and its finished time, naming the nodes that failed.
 */
import { createHash } from "node:crypto";
import { isAbsolute, relative } from "node:path";
import { currentUser, localEnvironment } from "../engine/environment";
import { serializePipeline } from "../pipeline/canonical";
import type { Plan } from "../pipeline/validate";
import { Project, ProjectSettingsError } from "../project/project";
import { flattenParams } from "../store/rows";
import type { NodeRunRecord, RunStatus } from "../store/types";
import { otherWorkflowsRun, StepRefused } from "./step";

/**
 * What Argo's `{{workflow.status}}` holds in an exit handler ("one of: Succeeded, Failed, Error",
 * argo-workflows docs/walk-through/exit-handlers.md), and the run status each one becomes.
 */
export const WORKFLOW_STATUS: Record<string, RunStatus> = {
  Succeeded: "succeeded",
  Failed: "failed",
  Error: "failed",
};

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface FinishRunOptions {
  plan: Plan;
  projectDir: string;
  /** The pipeline file, for the record of a run no step recorded. */
  pipelinePath?: string;
  runId: string;
  /** The workflow's status as Argo gives it (WORKFLOW_STATUS). */
  workflowStatus: string;
  /** Run tags to set (argo.workflow from ARGO_WORKFLOW_NAME); `argo.status` is set to the workflow's status. */
  tags?: Record<string, string>;
}

export interface FinishRunResult {
  runId: string;
  status: RunStatus;
  error: string | null;
  /** True when no step had recorded the run (every pod failed before its node ran): recorded now. */
  created: boolean;
  /** Each node of the pipeline: the status of its last node run, or null when it has none. */
  nodes: { id: string; status: NodeRunRecord["status"] | null }[];
}

/** The pipeline file as the record keeps it: relative to the project when it lies inside (as the engine records it). */
function recordedPath(projectDir: string, path: string | undefined): string | null {
  if (!path) return null;
  if (!isAbsolute(path)) return path;
  const rel = relative(projectDir, path);
  return rel.startsWith("..") || isAbsolute(rel) ? path : rel;
}

/** The first line of a node's error, at most 200 characters: the run's error names every failed node. */
function short(error: string | null): string {
  const line = (error ?? "").split("\n")[0]!.trim();
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

/**
 * The run's error from its nodes' last records: the nodes whose last attempt failed (with their error),
 * then those with no record at all (a pod that never started, or was killed before its node ran).
 */
export function failureText(
  workflowStatus: string,
  runId: string,
  nodes: { id: string; status: string | null; error: string | null }[],
): string {
  const failed = nodes.filter((n) => n.status === "failed");
  const missing = nodes.filter((n) => n.status === null).map((n) => n.id);
  const parts = failed.map((n) => `node "${n.id}" failed${n.error ? `: ${short(n.error)}` : ""}`);
  if (missing.length) parts.push(`no record of ${missing.map((id) => `"${id}"`).join(", ")}`);
  const head = `Argo workflow ${runId} ended ${workflowStatus}`;
  return parts.length
    ? `${head}: ${parts.join("; ")}`
    : `${head} though every node recorded a result (a pod was killed or evicted after its node ran?): see argo get ${runId}`;
}

/** Checks the arguments, then sets the run's status and finished time (recording the run first if no step did). */
export async function finishWorkflowRun(opts: FinishRunOptions): Promise<FinishRunResult> {
  if (!RUN_ID.test(opts.runId))
    throw new StepRefused(
      `--run-id "${opts.runId}": letters, digits, ".", "_" and "-" only, starting with a letter or digit (at most 128)`,
    );
  const status = Object.hasOwn(WORKFLOW_STATUS, opts.workflowStatus)
    ? WORKFLOW_STATUS[opts.workflowStatus]!
    : undefined;
  if (!status)
    throw new StepRefused(
      `--status "${opts.workflowStatus}": give the workflow's status as Argo's {{workflow.status}} does: ${Object.keys(WORKFLOW_STATUS).join(", ")}`,
    );
  let project: Project;
  try {
    // No journal: the exit handler's pod goes, so a store out of reach is an error (exit 1, retried).
    project = await Project.open(opts.projectDir, { memoryWorkspace: true, journal: false });
  } catch (e) {
    if (e instanceof ProjectSettingsError) throw new StepRefused(e.message);
    throw e;
  }
  try {
    const { metadata } = project;
    const existing = metadata.getRun(opts.runId);
    const clash = otherWorkflowsRun(existing, opts.runId, opts.tags ?? {});
    if (clash) throw new StepRefused(clash);
    const created = !existing;
    if (created) {
      const pipelineText = serializePipeline(opts.plan.pipeline);
      metadata.startRun({
        id: opts.runId,
        pipeline: opts.plan.pipeline.name,
        pipelinePath: recordedPath(project.dir, opts.pipelinePath),
        pipelineHash: createHash("sha256").update(pipelineText).digest("hex"),
        pipelineText,
        params: opts.plan.params,
        resolvedParams: Object.assign({}, ...opts.plan.order.map((n) => flattenParams(n.id, n.params))),
        startedAt: new Date().toISOString(),
        environment: localEnvironment(),
        user: currentUser(),
        tags: opts.tags ?? {},
        // A step may yet record it between the look-up and here (the exit handler runs last, but a
        // lost pod's retry may not have noticed): join rather than fail on the id.
        join: true,
      });
    }
    // The last record of each node: a retried step records one node run per attempt.
    const last = new Map<string, NodeRunRecord>();
    for (const r of metadata.nodeRuns(opts.runId)) last.set(r.nodeId, r);
    const nodes = opts.plan.order.map((n) => ({
      id: n.id,
      status: last.get(n.id)?.status ?? null,
      error: last.get(n.id)?.error ?? null,
    }));
    const error = status === "succeeded" ? null : failureText(opts.workflowStatus, opts.runId, nodes);
    metadata.setTags(opts.runId, { ...opts.tags, "argo.status": opts.workflowStatus });
    metadata.finishRun(opts.runId, status, error);
    return {
      runId: opts.runId,
      status,
      error,
      created,
      nodes: nodes.map(({ id, status }) => ({ id, status })),
    };
  } finally {
    project.close();
  }
}
