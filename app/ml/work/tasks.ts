/**
 * The tasks a work worker runs (pool.ts): name → function. A task gets its
 * input as the worker received it (structured clone: plain objects, typed
 * arrays, SharedArrayBuffer views) and returns what is sent back. It must not
 * return arrays it keeps using (a cache, a module constant): the worker
 * transfers every ArrayBuffer in the result, which detaches it there.
 */
import { diagnosticTasks } from "./diagnostic-tasks";
import { scoringTasks } from "./scoring-tasks";
import { trainingTasks } from "./training-tasks";

export type TaskFn = (
  // biome-ignore lint/suspicious/noExplicitAny: each task narrows its own input; TaskInput<K> gives callers the type.
  input: any,
  ctx: { progress(done: number, total: number): void },
) => unknown | Promise<unknown>;

export const TASKS = { ...scoringTasks, ...trainingTasks, ...diagnosticTasks };

export type TaskName = keyof typeof TASKS;
export type TaskInput<K extends TaskName> = Parameters<(typeof TASKS)[K]>[0];
export type TaskOutput<K extends TaskName> = Awaited<ReturnType<(typeof TASKS)[K]>>;
