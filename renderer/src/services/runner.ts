/** Starting and stopping runs, and folding the core's event stream into the run store. */
import { api } from "../api/client";
import { useExperiments } from "../experiments/store";
import { useEditor } from "../store/editor";
import { useFullRefresh } from "../store/fullRefresh";
import { isRunActive, type NodeOutputs, type OutputSummary, useRun, WARNING_MESSAGES } from "../store/run";
import { useUi } from "../store/ui";
import { reportError } from "./errors";

export function subscribeToRunEvents(): () => void {
  return api.onEvent((event) => {
    const run = useRun.getState();
    const foreign = event.runId !== run.runId && run.status !== "starting";
    // A run of the open pipeline started elsewhere (`dagwood run` attached to this engine): followed live
    // as if started here, unless one of ours is running.
    if (
      foreign &&
      event.type === "run.started" &&
      !isRunActive(run.status) &&
      event.pipeline === useEditor.getState().document?.name
    )
      run.begin(event.runId);
    useRun.getState().apply(event);
    // A node armed for a full refresh that this run ran (not took from the cache, not failed) is done with it.
    if (event.type === "node.finished" && event.status === "ran" && event.runId === useRun.getState().runId)
      useFullRefresh.getState().disarm(event.nodeId);
    // Any other pipeline's run shows in the Experiments list once it ends.
    if (foreign && event.type === "run.finished" && event.runId !== useRun.getState().runId)
      useExperiments.getState().reload();
  });
}

export async function startRun(targets?: string[]): Promise<void> {
  const { document, path } = useEditor.getState();
  const run = useRun.getState();
  if (!document || isRunActive(run.status)) return;
  run.starting();
  useUi.getState().showTab("log");
  try {
    const armed = useFullRefresh.getState().armed.filter((id) => document.nodes.some((n) => n.id === id));
    const { runId } = await api.startRun({
      document,
      path: path ?? undefined,
      targets,
      ...(armed.length ? { fullRefresh: armed } : {}),
    });
    useRun.getState().begin(runId);
  } catch (e) {
    useRun.getState().abandon();
    reportError(e, "The run did not start");
  }
}

export async function stopRun(): Promise<void> {
  const { runId, status } = useRun.getState();
  if (!runId || status !== "running") return;
  try {
    await api.cancelRun({ runId });
  } catch (e) {
    reportError(e, "Could not stop the run");
  }
}

/**
 * What earlier runs of this pipeline left: for each node, the outputs of the
 * most recent run that produced them, so the data drawer and the column
 * pickers work before the first run of this session.
 */
export async function loadEarlierOutputs(pipeline: string): Promise<void> {
  try {
    const runs = await api.listRuns({ pipeline, limit: 5 });
    const found: Record<string, NodeOutputs> = {};
    for (const r of runs) {
      const detail = await api.getRun({ runId: r.id });
      for (const n of detail.nodes) {
        if (found[n.nodeId] || (n.status !== "ran" && n.status !== "cached")) continue;
        const warned = detail.logs.filter((l) => l.nodeId === n.nodeId && l.level === "warn");
        found[n.nodeId] = {
          runId: r.id,
          outputs: n.outputs as Record<string, OutputSummary>,
          ...(warned.length
            ? {
                warnings: {
                  count: warned.length,
                  messages: warned.slice(0, WARNING_MESSAGES).map((l) => l.message),
                },
              }
            : {}),
        };
      }
    }
    // Outputs that arrived from a run started meanwhile are newer: they win.
    useRun.getState().setOutputs({ ...found, ...useRun.getState().outputs });
  } catch (e) {
    reportError(e, "Could not read earlier runs");
  }
}
