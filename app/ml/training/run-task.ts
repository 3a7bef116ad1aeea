/**
 * Runs a training task in a work worker (app/ml/work/pool.ts) with the
 * training's signal: a cancel terminates the worker and rejects with
 * "Training was cancelled", as a cancelled tree fit does. Events the task
 * posts on its MessagePort reach `onEvent` as they come.
 */
import { MessageChannel } from "node:worker_threads";
import { abortError } from "../trees/grow";
import { runTask, type TaskInput, type TaskName, type TaskOutput } from "../work/pool";

export async function runTrainingTask<K extends TaskName, E>(
  task: K,
  input: TaskInput<K>,
  signal: AbortSignal,
  onEvent?: (event: E) => void,
): Promise<TaskOutput<K>> {
  if (signal.aborted) throw abortError(signal);
  const channel = onEvent ? new MessageChannel() : undefined;
  channel?.port1.on("message", (event: E) => onEvent!(event));
  try {
    return await runTask(task, (channel ? { ...input, events: channel.port2 } : input) as TaskInput<K>, {
      signal,
      ...(channel ? { transfer: [channel.port2] } : {}),
    });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw abortError(signal);
    throw e;
  } finally {
    channel?.port1.close();
  }
}
