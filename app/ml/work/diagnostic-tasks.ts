/**
 * Tasks that check the pool itself (pool.test.ts, the CLI test): where a task
 * runs, what it was sent, how errors, progress and cancel travel.
 */
import { threadId } from "node:worker_threads";
import type { TaskFn } from "./tasks";

const held: Float64Array[] = [];

export const diagnosticTasks = {
  /** The input back, with the worker's thread id and whether its typed arrays arrived in shared memory. */
  echo(input: { value: unknown; array?: Float64Array }) {
    return {
      value: input.value,
      threadId,
      sharedArray: input.array ? input.array.buffer instanceof SharedArrayBuffer : null,
    };
  },
  /** Writes `value` into `array` (shared memory: the caller sees it) and returns a fresh array of `length`. */
  fill(input: { array: Float64Array; value: number; length: number }) {
    input.array.fill(input.value);
    return { fresh: new Float64Array(input.length).fill(input.value), threadId };
  },
  /** Fails with `message` (and `name`); `plain`: throws a plain object, not an Error. */
  fail(input: { message: string; name?: string; plain?: boolean }) {
    if (input.plain) throw { message: input.message };
    const err = new Error(input.message);
    if (input.name) err.name = input.name;
    throw err;
  },
  /** Reports progress 1..n of n, then returns n. */
  count(input: { n: number }, ctx: { progress(done: number, total: number): void }) {
    for (let i = 1; i <= input.n; i++) ctx.progress(i, input.n);
    return input.n;
  },
  /** Keeps `mb` MiB alive in the worker (a module-level array), as a task that caches too much would. */
  hold(input: { mb: number }) {
    held.push(new Float64Array((input.mb * 1024 * 1024) / 8).fill(1));
    return { threadId };
  },
  /** Leaves `mb` MiB of dead typed arrays behind, as a task's temporaries would; returns their sum. */
  garbage(input: { mb: number }) {
    let sum = 0;
    for (let i = 0; i < input.mb; i++) sum += new Float64Array(131_072).fill(1)[0]!;
    return { threadId, sum };
  },
  /** This thread's ArrayBuffer memory in bytes (process.memoryUsage().arrayBuffers: this isolate's). */
  arrayBuffers() {
    return { threadId, bytes: process.memoryUsage().arrayBuffers };
  },
  /** Ends the worker thread (as a native crash or an out-of-memory would). */
  exit(input: { code: number }) {
    process.exit(input.code);
  },
  /**
   * Keeps the thread busy for `ms` (no await), reporting progress every 10 ms
   * or so, and counting its turns in `turns[0]` (shared memory: the caller
   * sees the thread still running, or stopped).
   */
  spin(input: { ms: number; turns?: Int32Array }, ctx: { progress(done: number, total: number): void }) {
    const end = Date.now() + input.ms;
    let last = 0;
    while (Date.now() < end) {
      if (input.turns) Atomics.add(input.turns, 0, 1);
      const now = Math.min(input.ms, input.ms - (end - Date.now()));
      if (now - last >= 10) {
        last = now;
        ctx.progress(now, input.ms);
      }
    }
    return { threadId };
  },
} satisfies Record<string, TaskFn>;
