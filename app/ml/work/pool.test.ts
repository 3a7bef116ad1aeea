import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { threadId } from "node:worker_threads";
import { afterAll, describe, expect, it, vi } from "vitest";
import { closeWorkPool, runTask, startedWorkers, type TaskName, workerCount } from "./pool";
import { sharedArray } from "./shared";

afterAll(() => closeWorkPool());

describe("work pool", () => {
  it("runs a task in another thread, with shared arrays arriving as shared memory", async () => {
    const array = sharedArray(Float64Array, 4);
    const reply = await runTask("echo", { value: { a: [1, "two", null] }, array });
    expect(reply.value).toEqual({ a: [1, "two", null] });
    expect(reply.threadId).not.toBe(threadId);
    expect(reply.sharedArray).toBe(true);
  });

  it("lets a task write into shared memory and transfers its fresh arrays back", async () => {
    const array = sharedArray(Float64Array, 1000);
    const reply = await runTask("fill", { array, value: 7, length: 100_000 });
    expect(array.every((x) => x === 7)).toBe(true);
    expect(reply.fresh).toBeInstanceOf(Float64Array);
    expect(reply.fresh.length).toBe(100_000);
    expect(reply.fresh[99_999]).toBe(7);
  });

  it("moves buffers listed in transfer instead of copying them", async () => {
    const array = new Float64Array(1024).fill(1);
    const reply = await runTask("echo", { value: 1, array }, { transfer: [array.buffer] });
    expect(reply.sharedArray).toBe(false);
    expect(array.byteLength).toBe(0); // detached here: it moved
  });

  it("rejects with the task's message and error name, and keeps working", async () => {
    await expect(
      runTask("fail", { message: "bad input: x is -1", name: "RangeError" }),
    ).rejects.toMatchObject({
      message: "bad input: x is -1",
      name: "RangeError",
    });
    await expect(runTask("fail", { message: "plain" })).rejects.toThrow(/^plain$/);
    await expect(runTask("fail", { message: "not an Error", plain: true })).rejects.toThrow(/^not an Error$/);
    await expect(runTask("nope" as TaskName, {} as never)).rejects.toThrow(
      /Unknown work task "nope"; known: .*predictRows/,
    );
    expect((await runTask("echo", { value: 2 })).value).toBe(2);
  });

  it("rejects the task of a worker that dies, and replaces the worker", async () => {
    await expect(runTask("exit", { code: 3 })).rejects.toThrow(
      "The work worker running exit failed: The work worker exited with code 3",
    );
    expect((await runTask("echo", { value: "after" })).value).toBe("after");
  });

  it("replaces a worker left holding much memory after its task", async () => {
    const before = await runTask("echo", { value: 0 });
    const big = await runTask("hold", { mb: 300 });
    // The next tasks run on other threads: the one holding 300 MiB was terminated.
    const after = await Promise.all(
      Array.from({ length: workerCount() }, (_, i) => runTask("echo", { value: i })),
    );
    expect(after.map((r) => r.threadId)).not.toContain(big.threadId);
    expect(before.threadId).toBeGreaterThan(0);
    expect((await runTask("hold", { mb: 1 })).threadId).not.toBe(big.threadId);
  });

  it("replaces a worker left holding 80 MiB (over RECYCLE_BYTES, 64 MiB) and keeps one holding 8 MiB", async () => {
    const threadsAfter = async () =>
      (await Promise.all(Array.from({ length: workerCount() }, (_, i) => runTask("echo", { value: i })))).map(
        (r) => r.threadId,
      );
    const small = await runTask("hold", { mb: 8 });
    expect(await threadsAfter()).toContain(small.threadId);
    const big = await runTask("hold", { mb: 80 });
    expect(await threadsAfter()).not.toContain(big.threadId);
  });

  it("collects a task's dead arrays before the worker takes the next task (gc.ts)", async () => {
    // 24 MiB: more than COLLECT_AFTER_BYTES, less than V8 lets grow before it collects by itself.
    const left = await runTask("garbage", { mb: 24 });
    expect(left.sum).toBe(24);
    // The next tasks on that thread (no other task runs meanwhile) see its ArrayBuffers freed. V8
    // frees the backing stores of collected buffers on a background thread, which a loaded machine
    // may run late: look again for up to 2 s (left to V8, all 24 MiB were still held after that).
    let same: { threadId: number; bytes: number } | undefined;
    for (let attempt = 0; attempt < 40; attempt++) {
      const after = await Promise.all(
        Array.from({ length: workerCount() }, () => runTask("arrayBuffers", undefined)),
      );
      same = after.find((r) => r.threadId === left.threadId);
      expect(same).toBeDefined();
      if (same!.bytes < 1024 * 1024) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(same!.bytes).toBeLessThan(1024 * 1024);
  });

  it("refuses input that cannot be cloned, naming the task", async () => {
    await expect(runTask("echo", { value: () => 1 })).rejects.toThrow(
      /echo task's input cannot be sent to a worker/,
    );
    expect((await runTask("echo", { value: 3 })).value).toBe(3);
  });

  it("reports progress", async () => {
    const seen: [number, number][] = [];
    expect(await runTask("count", { n: 5 }, { onProgress: (d, t) => seen.push([d, t]) })).toBe(5);
    expect(seen).toEqual([1, 2, 3, 4, 5].map((d) => [d, 5]));
  });

  it("cancels a running task by terminating its worker, then replaces the worker", async () => {
    const controller = new AbortController();
    let running!: () => void;
    const started = new Promise<void>((resolve) => {
      running = resolve;
    });
    // The task counts its turns in shared memory: a thread still spinning keeps counting.
    const turns = sharedArray(Int32Array, 1);
    const task = runTask(
      "spin",
      { ms: 120_000, turns },
      { signal: controller.signal, onProgress: () => running() },
    );
    task.catch(() => {});
    await started;
    controller.abort();
    await expect(task).rejects.toMatchObject({ name: "AbortError", message: "The spin task was canceled" });
    // The thread stops: its count stands still (left running, it would spin for two minutes).
    await vi.waitFor(
      async () => {
        const seen = Atomics.load(turns, 0);
        await new Promise((r) => setTimeout(r, 50));
        expect(Atomics.load(turns, 0)).toBe(seen);
      },
      { timeout: 20_000, interval: 10 },
    );
    const after = await Promise.all(
      Array.from({ length: workerCount() }, (_, i) => runTask("echo", { value: i })),
    );
    expect(after.map((r) => r.value)).toEqual(Array.from({ length: workerCount() }, (_, i) => i));
    expect(startedWorkers()).toBeLessThanOrEqual(workerCount());
  });

  it("ignores an abort after the task finished: the worker stays and serves the next task", async () => {
    const controller = new AbortController();
    const done = await runTask("echo", { value: "done" }, { signal: controller.signal });
    expect(done.value).toBe("done");
    const workers = startedWorkers();
    controller.abort();
    const next = await runTask("echo", { value: "next" });
    expect(next.value).toBe("next");
    expect(next.threadId).toBe(done.threadId);
    expect(startedWorkers()).toBe(workers);
  });

  it("keeps serving the queue when a worker dies mid-task while other tasks wait", async () => {
    const n = workerCount() + 3;
    const crash = runTask("exit", { code: 7 });
    crash.catch(() => {});
    const queued = Array.from({ length: n }, (_, i) => runTask("spin", { ms: 20 }).then(() => i));
    await expect(crash).rejects.toThrow(
      "The work worker running exit failed: The work worker exited with code 7",
    );
    expect(await Promise.all(queued)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(startedWorkers()).toBeLessThanOrEqual(workerCount());
  });

  it("does not replace a worker for the large result it hands back, only for memory it keeps", async () => {
    // 270 MiB returned (transferred out) is not memory the worker keeps.
    const big = await runTask("fill", {
      array: sharedArray(Float64Array, 1),
      value: 1,
      length: (270 * 1024 * 1024) / 8,
    });
    expect(big.fresh.length).toBe((270 * 1024 * 1024) / 8);
    const next = await runTask("echo", { value: 0 });
    expect(next.threadId).toBe(big.threadId);
  });

  it("rejects at once when the signal is already aborted, and drops a queued task when aborted", async () => {
    await expect(runTask("echo", { value: 1 }, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      name: "AbortError",
    });
    // Fill every worker, then queue one more and cancel it before it starts.
    const busy = Array.from({ length: workerCount() }, () => runTask("spin", { ms: 300 }));
    const controller = new AbortController();
    const queued = runTask("echo", { value: "late" }, { signal: controller.signal });
    controller.abort();
    await expect(queued).rejects.toMatchObject({ name: "AbortError" });
    await Promise.all(busy);
  });

  it("runs more tasks than workers, no more than workerCount() at once", async () => {
    const n = workerCount() + 3;
    const replies = await Promise.all(Array.from({ length: n }, () => runTask("spin", { ms: 50 })));
    expect(new Set(replies.map((r) => r.threadId)).size).toBeLessThanOrEqual(workerCount());
    expect(startedWorkers()).toBeLessThanOrEqual(workerCount());
  });

  it("under tsx, runs a task and lets the process exit with idle workers", () => {
    const root = join(import.meta.dirname, "..", "..", "..");
    const script = `
      import { runTask } from "./app/ml/work/pool.ts";
      const r = await runTask("echo", { value: "from tsx" });
      console.log(JSON.stringify(r.value));
    `;
    const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: root,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(child.stderr).toBe("");
    expect(child.signal).toBeNull(); // not killed by the timeout: it exited by itself
    expect(child.status).toBe(0);
    expect(child.stdout.trim()).toBe('"from tsx"');
  });
  it("under tsx, keeps the process alive while a task runs, though nothing else waits for it", () => {
    const root = join(import.meta.dirname, "..", "..", "..");
    // No await: only the running task (a referenced worker) keeps the process alive until it answers.
    const script = `
      import { runTask } from "./app/ml/work/pool.ts";
      runTask("spin", { ms: 300 }).then((r) => console.log(typeof r.threadId));
    `;
    const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: root,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(child.stderr).toBe("");
    expect(child.signal).toBeNull();
    expect(child.status).toBe(0);
    expect(child.stdout.trim()).toBe("number");
  });

  it("on close, rejects the running and the queued tasks saying so, and starts afresh after", async () => {
    const running = Array.from({ length: workerCount() }, () => runTask("spin", { ms: 120_000 }));
    const controller = new AbortController();
    const queued = runTask("echo", { value: "never" }, { signal: controller.signal });
    for (const t of [...running, queued]) t.catch(() => {});
    // Each worker was handed its task at once (runTask posts it to an idle worker as it is called).
    await closeWorkPool();
    for (const t of running) await expect(t).rejects.toThrow("The work pool closed while the spin task ran");
    await expect(queued).rejects.toThrow("The work pool closed before the echo task ran");
    controller.abort(); // its listener was removed: nothing happens
    expect(startedWorkers()).toBe(0);
    expect((await runTask("echo", { value: "again" })).value).toBe("again");
  });
});
