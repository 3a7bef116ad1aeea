/** The state a node shows: its run state while a run is on or just ended, else its cache state. */
import { useShallow } from "zustand/react/shallow";
import type { NodeCacheState } from "../../../app/api/api";
import { isRunActive, type NodeRun, useRun } from "../store/run";
import type { NodeState } from "../store/types";
import { useValidation } from "../store/validation";

export function displayState(
  run: NodeRun | undefined,
  active: boolean,
  editedSinceRun: boolean,
  cache: NodeCacheState | undefined,
): NodeState {
  if (run && (active || !editedSinceRun)) return run.state;
  // After an edit, a node the last run produced keeps its "done" while the cache still holds it.
  if (run && (run.state === "done" || run.state === "cached") && cache === "cached") return run.state;
  return cache ?? "idle";
}

export function useNodeState(id: string): { state: NodeState; run: NodeRun | undefined } {
  const { run, active, edited } = useRun(
    useShallow((s) => ({ run: s.nodes[id], active: isRunActive(s.status), edited: s.editedSinceRun })),
  );
  const cache = useValidation((s) => s.cache[id]);
  return { state: displayState(run, active, edited, cache), run };
}
