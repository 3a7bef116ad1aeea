import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startDagwood } from "../cli/testing";
import { openRawSql, type StoreSpec, specOf } from "./fixtures/store-spec";
import { currentProcess, ownerState, parseProcStat } from "./liveness";
import { createTempStore, type SqliteMetadataStore, type StartRunInput } from "./metadata";
import type { Sql } from "./sql";

const ROOT = join(import.meta.dirname, "..", "..");
const RUNNING_RUN = join(import.meta.dirname, "fixtures", "running-run.ts");

const run = (id: string): StartRunInput => ({
  id,
  pipeline: "p",
  pipelinePath: null,
  pipelineHash: null,
  pipelineText: null,
  params: {},
  resolvedParams: {},
  startedAt: new Date(Date.now() - 1000).toISOString(),
  environment: {},
  user: "ana",
});

/** Starts a process that starts run `id` and never finishes it; resolves once the run is recorded. */
function startOwner(spec: StoreSpec, dir: string, id: string): Promise<{ child: ChildProcess; pid: number }> {
  const where = spec.kind === "sqlite" ? spec.path : JSON.stringify(spec);
  const child = spawn(process.execPath, ["--import", "tsx", RUNNING_RUN, where, dir, id], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      const m = /started (\d+)/.exec(String(d));
      if (m) resolve({ child, pid: Number(m[1]) });
    });
    child.on("exit", (code) => reject(new Error(`the run's process exited (${code}) early: ${stderr}`)));
  });
}

describe("runs whose process is gone", () => {
  let store: SqliteMetadataStore;
  let dir: string;
  let spec: StoreSpec;
  let cleanup: () => void;
  const children: ChildProcess[] = [];
  /** Runs `fn` on a bare connection to the store (as a SQL client would), then closes it. */
  const raw = <T>(fn: (sql: Sql) => T): T => {
    const sql = openRawSql(spec);
    try {
      return fn(sql);
    } finally {
      sql.close();
    }
  };
  beforeEach(() => {
    const temp = createTempStore();
    ({ store, dir, cleanup } = temp);
    spec = specOf(temp);
    if (spec.kind === "postgres") {
      // The CLI below opens the project's store as dagwood.json says: this test's schema.
      writeFileSync(
        join(dir, "dagwood.json"),
        JSON.stringify({ store: { kind: "postgres", url: spec.url, schema: spec.schema } }),
      );
    }
  });
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    cleanup();
  });

  it("a run whose process is SIGKILLed reads as interrupted in list, search and get", async () => {
    const owner = await startOwner(spec, dir, "doomed");
    children.push(owner.child);
    // Alive in another process: running, for every reader.
    expect(store.getRun("doomed")?.status).toBe("running");
    expect(store.listRuns()[0]).toMatchObject({ id: "doomed", status: "running" });
    expect(store.searchRuns({}).runs[0]).toMatchObject({ id: "doomed", status: "running" });

    const exited = new Promise((r) => owner.child.on("exit", r));
    owner.child.kill("SIGKILL");
    await exited;

    // No other process opened the project. The CLI, first to read after the kill, sees it as it is.
    const list = await startDagwood(["runs", "list", "--project", dir]).done;
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^doomed\s+p\s+interrupted\s/m);
    const show = await startDagwood(["runs", "show", "doomed", "--project", dir]).done;
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain("interrupted");
    expect(show.stdout).toContain(`its process (pid ${owner.pid}) ended before the run finished`);
    expect(store.searchRuns({}).runs[0]).toMatchObject({ id: "doomed", status: "interrupted" });
    const r = store.getRun("doomed")!;
    expect(r.status).toBe("interrupted");
    expect(r.finishedAt).not.toBeNull();
    expect(r.durationMs).toBeGreaterThan(0);
    expect(r.error).toBe(
      `Interrupted: its process (pid ${owner.pid}) ended before the run finished (killed or crashed).`,
    );
    expect(store.listRuns()[0]!.status).toBe("interrupted");
    // Recorded, not only shown: a plain SQL reader sees it too.
    expect(raw((sql) => sql.value("SELECT status FROM runs WHERE id = 'doomed'"))).toBe("interrupted");
  }, 30_000);

  it("leaves alone a run of a live process, of another host, of an unreadable owner, and a finished one", () => {
    store.startRun(run("mine"));
    store.startRun(run("elsewhere"));
    store.startRun(run("garbled"));
    store.startRun(run("done"));
    store.finishRun("done", "failed", "boom");
    raw((sql) => {
      const setOwner = (owner: string, id: string) =>
        sql.run("UPDATE runs SET owner = ? WHERE id = ?", owner, id);
      setOwner(JSON.stringify({ host: `${hostname()}-other`, pid: 999_999_999 }), "elsewhere");
      setOwner("{not json", "garbled");
      setOwner(JSON.stringify({ ...currentProcess(), pid: 999_999_999 }), "done");
    });
    const status = Object.fromEntries(store.searchRuns({}).runs.map((r) => [r.id, r.status]));
    expect(status).toEqual({ mine: "running", elsewhere: "running", garbled: "running", done: "failed" });
    expect(store.getRun("done")!.error).toBe("boom");
  });

  // Start times come from /proc (Linux only); elsewhere a reused pid keeps the run "running".
  it.runIf(process.platform === "linux")(
    "takes a process that now has the dead one's pid for another one (start time differs)",
    () => {
      const me = currentProcess();
      expect(me.start).toMatch(/^\d+$/);
      store.startRun(run("reused"));
      // This process's pid, with a start time that is not this process's.
      raw((sql) =>
        sql.run(
          "UPDATE runs SET owner = ? WHERE id = 'reused'",
          JSON.stringify({ ...me, start: String(Number(me.start) - 1) }),
        ),
      );
      expect(store.getRun("reused")!.status).toBe("interrupted");
    },
  );
});

describe("ownerState", () => {
  const viewer = { host: "h", pid: 10, machine: "m1", boot: "b1", pidns: "pid:[1]", start: "500" };
  // A /proc/<pid>/stat line as proc(5) describes it; the command name holds a space and a ")".
  const stat = (state: string, start: string) =>
    `42 (node ) x) ${state} 1 42 42 0 -1 4194304 100 0 0 0 5 1 0 0 20 0 11 0 ${start} 1000 200 18446744073709551615`;

  it("reads the state and start time after the command name", () => {
    expect(parseProcStat(stat("S", "777"))).toEqual({ state: "S", start: "777" });
    expect(parseProcStat("garbage")).toBeUndefined();
    if (process.platform === "linux") {
      expect(parseProcStat(readFileSync("/proc/self/stat", "utf8"))?.state).toBe("R");
    }
  });

  it("tells alive, gone and unknown apart on Linux", () => {
    const owner = { host: "h", pid: 42, machine: "m1", boot: "b1", pidns: "pid:[1]", start: "777" };
    const errno = (code: string) => () => {
      throw Object.assign(new Error(code), { code });
    };
    const probe = (text: string | undefined, signal0: (pid: number) => void = errno("ESRCH")) => ({
      procStat: () => text,
      signal0,
    });
    expect(ownerState(owner, viewer, probe(stat("S", "777")))).toBe("alive");
    expect(ownerState(owner, viewer, probe(undefined))).toBe("gone");
    // /proc hides another user's process (hidepid=2): the kernel still says it exists.
    expect(ownerState(owner, viewer, probe(undefined, errno("EPERM")))).toBe("alive");
    expect(ownerState(owner, viewer, probe(stat("Z", "777")))).toBe("gone");
    expect(ownerState(owner, viewer, probe(stat("S", "778")))).toBe("gone");
    expect(ownerState({ ...owner, boot: "b0" }, viewer, probe(stat("S", "777")))).toBe("gone");
    // Same host name, another machine (a cloned VM on a shared folder): not ours to judge.
    expect(ownerState({ ...owner, machine: "m2", boot: "b0" }, viewer, probe(stat("S", "777")))).toBe(
      "unknown",
    );
    expect(ownerState({ ...owner, machine: undefined, boot: "b0" }, viewer, probe(undefined))).toBe(
      "unknown",
    );
    expect(ownerState({ ...owner, pidns: "pid:[2]" }, viewer, probe(undefined))).toBe("unknown");
    expect(ownerState({ ...owner, host: "other" }, viewer, probe(undefined))).toBe("unknown");
    expect(ownerState({ host: "h" }, viewer, probe(undefined))).toBe("unknown");
    expect(ownerState(null, viewer)).toBe("unknown");
  });

  it("falls back to signal 0 without /proc (macOS, Windows)", () => {
    const bare = { host: "h", pid: 10 };
    const owner = { host: "h", pid: 42 };
    const errno = (code: string) => () => {
      throw Object.assign(new Error(code), { code });
    };
    expect(ownerState(owner, bare, { signal0: () => {} })).toBe("alive");
    expect(ownerState(owner, bare, { signal0: errno("ESRCH") })).toBe("gone");
    // Not ours to signal, but it exists.
    expect(ownerState(owner, bare, { signal0: errno("EPERM") })).toBe("alive");
  });
});
