/**
 * Where the tree kernel runs: a pool of worker threads started once and
 * reused, or this thread.
 *
 * Workers are started from the kernel's source text (`new Worker(source,
 * { eval: true })`, see kernel.ts), not from a worker file: that runs the same
 * under tsx, vitest (which transforms TS in the parent only) and the esbuild
 * bundle in dist/, needs no loader and no build entry. The price is that the
 * kernel may not import anything. A code-coverage instrumenter that rewrites
 * function bodies (istanbul) would break it; v8 coverage does not. If a worker
 * cannot start, fits fall back to `InlineTreePool` (this thread) with a
 * process warning.
 *
 * Big arrays travel as SharedArrayBuffer-backed typed arrays, so a message
 * carries views, not copies.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { exposeGc } from "../work/gc";
import { createTreeKernel, type KernelMessage, type KernelReply } from "./kernel";

export interface TreePool {
  /** Number of row shards a fit splits its training rows into (one per worker). */
  readonly size: number;
  /** Sends messages[i] to shard i (one per shard) and resolves with their replies, in order. */
  run(messages: KernelMessage[]): Promise<KernelReply[]>;
  close(): Promise<void>;
}

/** The kernel in this thread; `shards` > 1 emulates that many workers (for tests). */
export class InlineTreePool implements TreePool {
  private readonly kernels: ((m: KernelMessage) => KernelReply)[];

  constructor(readonly size = 1) {
    this.kernels = Array.from({ length: size }, () => createTreeKernel());
  }

  async run(messages: KernelMessage[]): Promise<KernelReply[]> {
    const replies = messages.map((m, i) => this.kernels[i]!(m));
    // Let timers and abort events in while a fit runs in this thread.
    await new Promise((resolve) => setImmediate(resolve));
    return replies;
  }

  async close(): Promise<void> {}
}

const KERNEL_SOURCE = createTreeKernel.toString();

/**
 * esbuild's keepNames (tsx; bundles built with it) wraps functions inside the
 * kernel in calls to a module-level helper, `__name(fn, "fn")` — renamed, and
 * `fn` too, when minified. The worker has no such helper: each name called as
 * `helper(identifier, "name")` is defined there as the identity.
 */
const NAME_HELPERS = [
  ...new Set(
    Array.from(KERNEL_SOURCE.matchAll(/(?<![\w$.])([\w$]+)\(\s*[\w$]+\s*,\s*"[\w$]+"\s*\)/g), (m) => m[1]!),
  ),
];

const WORKER_SOURCE = `
${NAME_HELPERS.map((name) => `const ${name} = (fn) => fn;`).join("\n")}
const { parentPort } = require("node:worker_threads");
const handle = (${KERNEL_SOURCE})();
let collect;
parentPort.on("message", ({ id, msg }) => {
  let reply;
  try {
    reply = { id, result: handle(msg) };
  } catch (e) {
    reply = { id, error: e instanceof Error ? e.stack || e.message : String(e) };
  }
  parentPort.postMessage(reply);
  // A closed session's arrays go now (app/ml/work/gc.ts): the shared ones live until every thread collected.
  if (msg.op === "close" && msg.session >= 0) {
    try {
      collect ??= typeof globalThis.gc === "function" ? globalThis.gc : require("node:vm").runInNewContext("gc");
      collect();
    } catch {
      collect = () => {};
    }
  }
});
`;

interface Pending {
  resolve: (r: KernelReply) => void;
  reject: (e: Error) => void;
}

class KernelWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  dead: Error | null = null;

  constructor() {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, name: "dagwood-trees" });
    this.worker.unref();
    this.worker.on("message", (m: { id: number; result?: KernelReply; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) this.worker.unref();
      if (m.error !== undefined) p.reject(new Error(`tree worker failed: ${m.error}`));
      else p.resolve(m.result ?? {});
    });
    const fail = (e: Error) => {
      this.dead = e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    this.worker.on("error", fail);
    this.worker.on("exit", (code) => fail(new Error(`tree worker exited with code ${code}`)));
  }

  send(msg: KernelMessage): Promise<KernelReply> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    // A worker with work in flight keeps the process alive; an idle one does not.
    if (this.pending.size === 0) this.worker.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, msg });
    });
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

/** Worker threads, started on first use and reused across fits. */
export class WorkerTreePool implements TreePool {
  private workers: KernelWorker[] = [];

  constructor(readonly size = availableParallelism()) {
    // Before any worker starts: they take gc() from the process-wide flag (app/ml/work/gc.ts).
    exposeGc();
  }

  async run(messages: KernelMessage[]): Promise<KernelReply[]> {
    if (messages.length > this.size)
      throw new Error(`tree pool has ${this.size} workers, got ${messages.length}`);
    for (let i = 0; i < messages.length; i++) {
      if (!this.workers[i] || this.workers[i]!.dead) this.workers[i] = new KernelWorker();
    }
    return Promise.all(messages.map((m, i) => this.workers[i]!.send(m)));
  }

  async close(): Promise<void> {
    const workers = this.workers;
    this.workers = [];
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

let shared: TreePool | null = null;

/** The process-wide pool: os.availableParallelism() workers, or this thread if workers cannot start. */
export async function sharedTreePool(): Promise<TreePool> {
  if (shared) return shared;
  const pool = new WorkerTreePool();
  try {
    await pool.run(Array.from({ length: pool.size }, () => ({ op: "close", session: -1 }) as const));
    shared = pool;
  } catch (e) {
    await pool.close().catch(() => {});
    process.emitWarning(`Tree training runs in the main thread: worker threads did not start (${String(e)})`);
    shared = new InlineTreePool();
  }
  return shared;
}
