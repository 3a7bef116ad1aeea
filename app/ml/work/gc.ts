/**
 * A full garbage collection on demand, for the points where a thread has just
 * dropped a lot of memory: a CPU-heavy node done (app/engine/engine.ts), a work
 * task done (worker.ts), a tree fit's session closed (app/ml/trees/pool.ts).
 *
 * Why: V8 collects when its heap grows, and counts ArrayBuffer memory only
 * loosely (it collects for it after tens of MiB more), so every isolate of the
 * engine — the main thread, the work workers, the tree workers — held up to
 * tens of MiB of dead typed arrays: column tables, encoded matrices, scores.
 * A SharedArrayBuffer is freed only once every isolate that saw it has
 * collected its handle, so the garbage of one thread kept another's alive.
 * Measured on the bundled flights-model run cold in a `dagwood ui` engine
 * (issue 11 §1; interleaved with the code before, on a loaded machine): peak
 * 438–456 MiB (medians of three 3-round bench:memory runs) against 494 and
 * 532 MiB before; single runs 417–496 MiB against 450–588 MiB; engine CPU time
 * about 2 % more, wall time no worse.
 *
 * How: V8's `gc()` extension, installed in contexts created while its
 * `--expose-gc` flag is set (Node's `--expose-gc`,
 * https://nodejs.org/api/cli.html#--expose-gc). When the process was not
 * started with it, the flag is set at run time (v8.setFlagsFromString) and
 * the function taken from a new context (vm.runInNewContext); the flag is
 * process-wide, so worker threads started afterwards have `globalThis.gc`.
 * Where that fails (a runtime that refuses the flag), collection is a no-op
 * and V8 collects as it would anyway.
 */
import { getHeapStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

type Gc = () => void;

let gc: Gc | null | undefined;

/** The gc function of this isolate, enabling `--expose-gc` first when needed; null when unavailable. */
export function exposeGc(): Gc | null {
  if (gc !== undefined) return gc;
  const own = (globalThis as { gc?: unknown }).gc;
  if (typeof own === "function") {
    gc = own as Gc;
    return gc;
  }
  try {
    setFlagsFromString("--expose-gc");
    const fn: unknown = runInNewContext("typeof gc === 'function' ? gc : null");
    gc = typeof fn === "function" ? (fn as Gc) : null;
  } catch {
    gc = null;
  }
  return gc;
}

/** This thread's JS heap in use plus its external (ArrayBuffer) memory, in bytes. */
function held(): number {
  const h = getHeapStatistics();
  return h.used_heap_size + h.external_memory;
}

/** What this thread held right after its last collection here. */
let floor = 0;

/**
 * Collects this thread's garbage now when it holds at least `minGrowth`
 * bytes more (heap in use and ArrayBuffers) than right after the last
 * collection here: a full, synchronous collection (a few ms on a worker's
 * heap). The threshold keeps small tasks from paying for one: each forced
 * collection costs CPU, and V8 ages compiled code by collections. Returns
 * whether it collected (false also when gc() is unavailable).
 */
export function collectGarbage(minGrowth = 0): boolean {
  const fn = exposeGc();
  if (!fn) return false;
  if (minGrowth > 0) {
    const now = held();
    // Memory given up otherwise (buffers transferred out, V8's own collections) lowers the mark.
    floor = Math.min(floor, now);
    if (now - floor < minGrowth) return false;
  }
  fn();
  floor = held();
  return true;
}

/** The growth worth a collection at the points listed above. */
export const COLLECT_AFTER_BYTES = 8 * 1024 * 1024;
