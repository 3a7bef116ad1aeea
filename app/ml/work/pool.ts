/**
 * A pool of worker threads that runs named tasks (tasks.ts) off the engine's
 * event loop: scoring, explanations, linear and MLP training, the ONNX export.
 *
 * - Workers start on first use, one per core at most (`workerCount()`), and
 *   are reused. Each runs one task at a time; more tasks wait in a queue.
 * - An idle worker is unref'd, so it never keeps the process alive.
 * - Aborting a task's signal terminates the worker that runs it (a new one
 *   replaces it on demand) and rejects at once with an error named
 *   "AbortError"; a task still queued is dropped.
 * - A task that throws rejects with its message (and error name).
 * - Typed arrays travel as SharedArrayBuffer views or are transferred
 *   (`transfer`); results' own ArrayBuffers are transferred back (worker.ts).
 *
 * Loading the worker: tasks import modules (the models, onnxruntime-node), so
 * unlike the tree kernel (app/ml/trees/pool.ts, source eval) a real entry
 * file is needed. From the esbuild bundles (dist/cli, dist/main) it is the
 * `work-worker` entry bin/build.mjs writes beside the bundle; from sources
 * (vitest, tsx) it is worker.ts, loaded through tsx's ESM API
 * (`register()` from "tsx/esm/api", see https://tsx.is/dev-api/register-esm)
 * in a small bootstrap: Node 20 does not apply `--import` hooks to a worker's
 * own entry module.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { type TransferListItem, Worker } from "node:worker_threads";
import type { TaskInput, TaskName, TaskOutput } from "./tasks";

export type { TaskInput, TaskName, TaskOutput } from "./tasks";

/** What may be moved to a worker (ArrayBuffers, MessagePorts…): Node's TransferListItem. */
export type Transferable = TransferListItem;

export interface WorkOptions {
  signal?: AbortSignal;
  /** Buffers moved (not copied) to the worker; the caller loses them. */
  transfer?: readonly Transferable[];
  /** Called as the task reports its progress (ctx.progress in the task). */
  onProgress?: (done: number, total: number) => void;
}

/** What the worker posts back (worker.ts). */
export type WorkerReply =
  | { id: number; progress: [number, number] }
  | { id: number; result: unknown; recycle?: boolean }
  | { id: number; error: { name: string; message: string; stack?: string } };

/** The pool's size: one worker per core (os.availableParallelism()), at least 1. */
export function workerCount(): number {
  return Math.max(1, availableParallelism());
}

/** An error named "AbortError", as DOM and Node APIs throw when a signal aborts them. */
export function taskAbortError(task: string, signal?: AbortSignal): Error {
  const err = new Error(`The ${task} task was canceled`, { cause: signal?.reason });
  err.name = "AbortError";
  return err;
}

/**
 * The URL of tsx's ESM API ("tsx/esm/api", its `import` condition): by
 * import.meta.resolve where the module runs as native ESM (tsx), else (vitest)
 * from the package's own exports map. (The package's `require` build of it
 * does not load in a worker: it imports a file the package lacks.)
 */
function tsxEsmApi(from: string): string {
  const resolveUrl = (import.meta as { resolve?: (s: string) => string }).resolve;
  if (typeof resolveUrl === "function") {
    try {
      return resolveUrl("tsx/esm/api");
    } catch {
      // fall through to the exports map
    }
  }
  const pkgPath = createRequire(from).resolve("tsx/package.json");
  const pkg = JSON.parse(readFileSync(pkgPath, "utf8")) as {
    exports: Record<string, { import?: { default?: string } } | string>;
  };
  const entry = pkg.exports["./esm/api"];
  const file = typeof entry === "object" ? entry.import?.default : undefined;
  if (!file)
    throw new Error(
      `tsx at ${pkgPath} has no ESM API ("tsx/esm/api"): the work workers need it to load TypeScript`,
    );
  return pathToFileURL(join(dirname(pkgPath), file)).href;
}

/** How a worker is started: the bundled entry beside this module, or worker.ts through tsx. */
function workerSpec(): { entry: string | URL; options: ConstructorParameters<typeof Worker>[1] } {
  const here = import.meta.url;
  if (!/\.ts$/.test(new URL(here).pathname)) {
    // Bundled: dist/main/*.mjs beside work-worker.mjs; dist/cli/*.js and the CommonJS main.cjs beside
    // work-worker.js (an ES module, as bin/build.mjs writes it).
    const ext = /\.mjs$/.test(new URL(here).pathname) ? ".mjs" : ".js";
    return { entry: new URL(`./work-worker${ext}`, here), options: {} };
  }
  const tsxApi = tsxEsmApi(here);
  const entry = new URL("./worker.ts", here).href;
  const bootstrap = `import(${JSON.stringify(tsxApi)})
  .then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })
  .catch((e) => { setImmediate(() => { throw e; }); });`;
  return { entry: bootstrap, options: { eval: true } };
}

interface Job {
  id: number;
  task: string;
  input: unknown;
  opts: WorkOptions;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  /** Removes the abort listener. */
  detach: () => void;
}

class PoolWorker {
  readonly worker: Worker;
  job: Job | null = null;
  dead = false;

  constructor(
    private readonly onIdle: (w: PoolWorker) => void,
    private readonly onDead: (w: PoolWorker) => void,
  ) {
    const { entry, options } = workerSpec();
    this.worker = new Worker(entry, { ...options, name: "dagwood-work" });
    this.worker.unref();
    this.worker.on("message", (m: WorkerReply) => this.receive(m));
    this.worker.on("error", (e) => this.die(e));
    this.worker.on("exit", (code) => this.die(new Error(`The work worker exited with code ${code}`)));
  }

  start(job: Job): void {
    this.job = job;
    this.worker.ref();
    try {
      this.worker.postMessage(
        { id: job.id, task: job.task, input: job.input },
        job.opts.transfer as TransferListItem[] | undefined,
      );
    } catch (e) {
      // Not cloneable (a function, a detached buffer): the worker is fine, the job is not.
      this.finish()?.reject(
        new Error(`The ${job.task} task's input cannot be sent to a worker: ${(e as Error).message}`),
      );
      this.onIdle(this);
    }
  }

  private finish(): Job | null {
    const job = this.job;
    this.job = null;
    job?.detach();
    if (!this.dead) this.worker.unref();
    return job;
  }

  private receive(m: WorkerReply): void {
    const job = this.job;
    if (!job || m.id !== job.id) return;
    if ("progress" in m) {
      job.opts.onProgress?.(m.progress[0], m.progress[1]);
      return;
    }
    this.finish();
    // A worker left holding much memory after its task is replaced (worker.ts, RECYCLE_BYTES).
    const recycle = "recycle" in m && m.recycle === true;
    if ("error" in m) {
      const err = new Error(m.error.message);
      if (m.error.name && m.error.name !== "Error") err.name = m.error.name;
      if (m.error.stack)
        err.stack = `${err.name}: ${m.error.message}\n    in the work worker:\n${m.error.stack}`;
      job.reject(err);
    } else {
      job.resolve(m.result);
    }
    if (recycle) this.kill();
    else this.onIdle(this);
  }

  private die(e: Error): void {
    if (this.dead) return;
    this.dead = true;
    const job = this.finish();
    job?.reject(new Error(`The work worker running ${job.task} failed: ${e.message}`));
    this.onDead(this);
  }

  /** Stops the worker now and rejects its job (if any) with `reason`. */
  stop(reason: Error): Promise<number> {
    const job = this.finish();
    this.dead = true;
    job?.reject(reason);
    return this.worker.terminate();
  }

  /** Stops the worker now; its job (if any) is the caller's to settle. */
  kill(): void {
    if (this.dead) return;
    this.dead = true;
    this.job = null;
    this.onDead(this);
    void this.worker.terminate();
  }
}

class WorkPool {
  private readonly workers = new Set<PoolWorker>();
  private readonly idle: PoolWorker[] = [];
  private readonly queue: Job[] = [];
  private nextId = 0;

  constructor(readonly size: number) {}

  run(task: string, input: unknown, opts: WorkOptions): Promise<unknown> {
    const { signal } = opts;
    if (signal?.aborted) return Promise.reject(taskAbortError(task, signal));
    return new Promise((resolve, reject) => {
      const job: Job = { id: this.nextId++, task, input, opts, resolve, reject, detach: () => {} };
      if (signal) {
        const onAbort = () => this.abort(job);
        signal.addEventListener("abort", onAbort, { once: true });
        job.detach = () => signal.removeEventListener("abort", onAbort);
      }
      this.queue.push(job);
      this.pump();
    });
  }

  private abort(job: Job): void {
    const queued = this.queue.indexOf(job);
    if (queued >= 0) this.queue.splice(queued, 1);
    else for (const w of this.workers) if (w.job === job) w.kill();
    job.detach();
    job.reject(taskAbortError(job.task, job.opts.signal));
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let w = this.idle.pop();
      if (!w && this.workers.size < this.size) {
        w = new PoolWorker(
          (x) => {
            this.idle.push(x);
            this.pump();
          },
          (x) => {
            this.workers.delete(x);
            const i = this.idle.indexOf(x);
            if (i >= 0) this.idle.splice(i, 1);
            // A replacement starts on demand for what is still queued.
            queueMicrotask(() => this.pump());
          },
        );
        this.workers.add(w);
      }
      if (!w) return;
      if (w.dead) continue;
      w.start(this.queue.shift()!);
    }
  }

  /** Workers started and alive (for tests). */
  get started(): number {
    return this.workers.size;
  }

  async close(): Promise<void> {
    const workers = [...this.workers];
    this.workers.clear();
    this.idle.length = 0;
    for (const job of this.queue.splice(0)) {
      job.detach();
      job.reject(new Error(`The work pool closed before the ${job.task} task ran`));
    }
    await Promise.all(
      workers.map((w) =>
        w.stop(new Error(`The work pool closed while the ${w.job?.task ?? "idle"} task ran`)),
      ),
    );
  }
}

let shared: WorkPool | null = null;

function pool(): WorkPool {
  shared ??= new WorkPool(workerCount());
  return shared;
}

/** Runs `task` (see tasks.ts) with `input` in a worker thread; resolves with what the task returns. */
export function runTask<K extends TaskName>(
  task: K,
  input: TaskInput<K>,
  opts: WorkOptions = {},
): Promise<TaskOutput<K>> {
  return pool().run(task, input, opts) as Promise<TaskOutput<K>>;
}

/** Workers the pool has started and that are alive (tests check reuse and replacement). */
export function startedWorkers(): number {
  return shared?.started ?? 0;
}

/** Terminates every worker (tests; a process exits fine without it, as idle workers are unref'd). */
export async function closeWorkPool(): Promise<void> {
  const p = shared;
  shared = null;
  await p?.close();
}
