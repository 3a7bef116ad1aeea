/**
 * A work worker's entry (see pool.ts): runs the tasks of tasks.ts one message
 * at a time and posts back progress, the result or the error.
 */
import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";
import { getHeapStatistics } from "node:v8";
import { parentPort } from "node:worker_threads";
import { collectGarbage } from "./gc";
import type { WorkerReply } from "./pool";
import { TASKS, type TaskFn } from "./tasks";

/** The ArrayBuffers in `value` (typed arrays' own buffers, not shared ones), to transfer rather than copy. */
function ownBuffers(value: unknown, found = new Set<ArrayBuffer>(), depth = 0): Set<ArrayBuffer> {
  if (depth > 8 || value === null || typeof value !== "object") return found;
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer && value.buffer.byteLength > 0) found.add(value.buffer);
    return found;
  }
  if (value instanceof ArrayBuffer) {
    if (value.byteLength > 0) found.add(value);
    return found;
  }
  const items = Array.isArray(value) ? value : Object.values(value);
  // Long arrays of numbers or strings hold no buffers; do not walk them.
  if (Array.isArray(value) && value.length > 64 && typeof value[0] !== "object") return found;
  for (const item of items) ownBuffers(item, found, depth + 1);
  return found;
}

/**
 * Linux: this thread at a lower priority (nice 10), so the engine's event
 * loop (and a window's) gets a core at once when it wakes, even while every
 * core scores. setpriority(2) with a thread id changes that thread alone
 * ("a thread's nice value", Linux man-pages, sched(7)); elsewhere nothing.
 */
function lowerThreadPriority(): void {
  if (process.platform !== "linux") return;
  try {
    const tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, 10);
  } catch {
    // No /proc, or not allowed: run at the process's priority.
  }
}

lowerThreadPriority();

/**
 * Memory this thread holds after a task beyond which the pool replaces it: a
 * thread's heap does not shrink back after a big task, and an engine runs for
 * hours. Starting a worker costs a fraction of a second; holding a gigabyte
 * costs the machine. A finished thread gives back more than its JS heap (the
 * memory its task's native code took, too): with 256 MiB no worker of the
 * bundled flights-model run was ever replaced (they end their tasks at 40 to
 * 115 MiB), and the run peaked 50 to 100 MiB higher than with 64 MiB, at the
 * same wall time (interleaved runs, issue 11 §1).
 */
export const RECYCLE_BYTES = 64 * 1024 * 1024;

/** Whether the thread holds more than RECYCLE_BYTES, not counting `leaving` (the result's buffers, transferred out). */
function holdsMuchMemory(leaving: Iterable<ArrayBuffer>): boolean {
  const heap = getHeapStatistics();
  let outgoing = 0;
  for (const b of leaving) outgoing += b.byteLength;
  return heap.total_heap_size + heap.external_memory - outgoing > RECYCLE_BYTES;
}

const port = parentPort;
if (!port) throw new Error("app/ml/work/worker.ts runs as a worker thread (see pool.ts)");

port.on("message", async ({ id, task, input }: { id: number; task: string; input: unknown }) => {
  const post = (reply: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);
  try {
    const fn = (TASKS as Record<string, TaskFn>)[task];
    if (!fn) throw new Error(`Unknown work task "${task}"; known: ${Object.keys(TASKS).join(", ")}`);
    const result = await fn(input, { progress: (done, total) => post({ id, progress: [done, total] }) });
    const transfer = [...ownBuffers(result)];
    post({ id, result, ...(holdsMuchMemory(transfer) ? { recycle: true } : {}) }, transfer);
    // The task's dead arrays go now, not whenever V8 would collect them (gc.ts), after the post (the
    // result has left). Always, not on growth: this thread's dead handles to another's
    // SharedArrayBuffers (the training table) keep those alive, yet count nowhere here.
    collectGarbage();
  } catch (e) {
    // A thrown non-Error (a plain object with a message, a string) keeps its message too.
    const message = (e as { message?: unknown } | null)?.message;
    const err = e instanceof Error ? e : new Error(typeof message === "string" ? message : String(e));
    post({ id, error: { name: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}) } });
  }
});
