// The local journal with a SQLite file standing in for the team store: a run that starts or
// goes on while the team store is unreachable is kept locally, and `syncJournal` (dagwood store
// sync) copies it into the team store exactly once, even after a kill -9 mid-sync.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  cleanupJournalCases,
  closers,
  expectSyncedOnce,
  flaky,
  nodeRun,
  pendingProject,
  points,
  project,
  readTeam,
  runInput,
  setUp,
  sync,
  TEAM,
  teamFile,
} from "./fixtures/journal-cases";
import { JOURNAL_FILE, Journal, JournalingStore, STORE_TAG, TeamStoreUnreachableError } from "./journal";
import { SqliteMetadataStore } from "./metadata";

const SYNC_KILL = join(import.meta.dirname, "fixtures", "sync-kill.ts");

afterEach(cleanupJournalCases);

describe("a run while the team store becomes unreachable", () => {
  it("moves the run to the journal mid-run, finishes it there, and sync completes it in the team store once", () => {
    const { dir, f, store, warnings } = setUp();
    store.startRun(runInput("r1"));
    store.recordNodeRun(nodeRun("r1", "prep"));
    store.logMetrics(points("r1", "train", "loss", 5));
    store.logMessage({ runId: "r1", nodeId: "prep", level: "info", message: "read 10 rows" });
    expect(store.routeOf("r1")).toBe("primary");

    f.down.value = true;
    // The write that meets the outage does not fail the run: it and the rest go to the journal.
    store.logMetrics(points("r1", "train", "loss", 3, 100).map((p) => ({ ...p, step: p.step + 5 })));
    store.recordNodeRun(nodeRun("r1", "train"));
    store.recordArtifact({
      runId: "r1",
      nodeId: "train",
      name: "model/model.json",
      kind: "model.native",
      path: ".dagwood/artifacts/x/model.json",
      bytes: 10,
      sha256: "ab".repeat(32),
    });
    store.recordDataset("r1", "prep", {
      digest: "d1",
      source: "data/flights.csv",
      schema: [{ name: "a", type: "BIGINT" }],
      rows: 10,
      fingerprint: "fp",
    } as never);
    store.finishRun("r1", "succeeded");
    expect(store.routeOf("r1")).toBe("journal");
    expect(warnings.join("\n")).toMatch(/became unreachable during the run/);
    expect(warnings.join("\n")).toContain("dagwood store sync");

    // Reads of the run come from the journal: whole (the part before the outage was replayed).
    const local = store.getRun("r1")!;
    expect(local.status).toBe("succeeded");
    expect(local.tags[STORE_TAG]).toBe("pending");
    expect(store.nodeRuns("r1").map((n) => n.nodeId)).toEqual(["prep", "train"]);
    expect(store.metrics("r1")).toHaveLength(8);
    expect(store.logs("r1").some((l) => l.level === "warn" && /unreachable/.test(l.message))).toBe(true);

    // The team store still has the run as it was at the outage.
    readTeam(dir, (t) => {
      expect(t.getRun("r1")!.status).toBe("running");
      expect(t.nodeRuns("r1").map((n) => n.nodeId)).toEqual(["prep"]);
      expect(t.metrics("r1")).toHaveLength(5);
    });
    store.close();
    closers.length = 0;

    const first = sync(dir);
    expect(first).toEqual({ synced: ["r1"], skipped: [] });
    readTeam(dir, (t) => {
      const run = t.getRun("r1")!;
      expect(run.status).toBe("succeeded");
      expect(run.finishedAt).not.toBeNull();
      expect(run.tags[STORE_TAG]).toBe("synced");
      // Each row once: the points and node run written before the outage are not copied again.
      expect(t.nodeRuns("r1").map((n) => n.nodeId)).toEqual(["prep", "train"]);
      const loss = t.metrics("r1").filter((m) => m.name === "loss");
      expect(loss.map((m) => m.step)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      expect(t.artifacts("r1").map((a) => a.name)).toEqual(["model/model.json"]);
      expect(t.datasets("r1").map((d) => d.digest)).toEqual(["d1"]);
      const cmp = t.compareRuns(["r1"]);
      expect(cmp.curves.find((c) => c.key === "train.loss")!.series[0]!.points.map((p) => p[0])).toEqual([
        0, 1, 2, 3, 4, 5, 6, 7,
      ]);
      expect(t.searchRuns({ pipeline: "flights" }).runs[0]!.metrics["train.loss"]).toBeCloseTo(100.2);
      expect(t.resolvedParams("r1")).toEqual({ "train.lr": 0.1, "train.depth": 3 });
    });
    const journal = Journal.open(dir);
    expect(journal.pending()).toEqual([]);
    expect(journal.store.getRun("r1")).toBeUndefined();
    journal.close();
    // Again: nothing to do, nothing doubled.
    expect(sync(dir)).toEqual({ synced: [], skipped: [] });
    readTeam(dir, (t) => expect(t.metrics("r1")).toHaveLength(8));
  });

  it("never journals registry writes or loops: they fail saying the team store is unreachable", () => {
    const { dir, f, store } = setUp();
    store.startRun(runInput("r2"));
    f.down.value = true;
    expect(() => store.registry.upsertModel("m", { description: "x" }, "ana")).toThrow(
      TeamStoreUnreachableError,
    );
    expect(() => store.registry.upsertModel("m", {}, "ana")).toThrow(
      /team store \(SQLite file .*\) is unreachable, and the model registry is kept only there: it is never written to the local journal/,
    );
    expect(() => store.registry.listModels()).toThrow(/Check that the database server is up/);
    expect(() =>
      store.recordFeatureViewVersion({ view: "v", digest: "d", definition: "{}", file: "features/v.json" }),
    ).toThrow(TeamStoreUnreachableError);
    // The run itself went on locally.
    store.finishRun("r2", "failed", "register failed");
    expect(store.getRun("r2")!.status).toBe("failed");
    const journal = Journal.open(dir);
    expect(journal.sql.value<number>("SELECT count(*) FROM models")).toBe(0);
    journal.close();
  });

  it("a run started while the team store is unreachable goes to the journal from the start, with the warning", () => {
    const dir = project();
    const warnings: string[] = [];
    const store = new JournalingStore({
      primary: null,
      projectDir: dir,
      team: TEAM(dir),
      startError: "The team store (PostgreSQL at db:5432) is unreachable: connection refused.",
      onWarning: (m) => warnings.push(m),
    });
    expect(warnings).toEqual(["The team store (PostgreSQL at db:5432) is unreachable: connection refused."]);
    closers.push(() => store.close());
    store.startRun(runInput("r3"));
    store.logMetrics(points("r3", "train", "acc", 4));
    const trial = store.recordTrial({
      parentRunId: "r3",
      nodeId: "train",
      index: 0,
      params: { lr: 0.1 },
      metrics: { cv_accuracy: 0.9 },
    });
    store.finishRun("r3", "succeeded");
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toMatch(
      /is unreachable: this run is recorded locally in \.dagwood\/pending\/journal\.sqlite/,
    );
    expect(store.getRun("r3")!.tags[STORE_TAG]).toBe("pending");
    expect(existsSync(join(dir, JOURNAL_FILE))).toBe(true);
    store.close();
    closers.length = 0;
    // The team store (here: the project's SQLite file) is back.
    new SqliteMetadataStore(teamFile(dir), { projectDir: dir }).close();
    expect(sync(dir).synced).toEqual(["r3"]);
    readTeam(dir, (t) => {
      expect(t.getRun("r3")!.status).toBe("succeeded");
      expect(t.metrics("r3")).toHaveLength(4);
      expect(t.getRun(trial)!.parentRunId).toBe("r3");
      expect(t.searchRuns({ parentRunId: "r3", includeChildren: true }).runs.map((r) => r.id)).toEqual([
        trial,
      ]);
    });
  });

  it("a new run goes to the journal while the team store is down, and to the team store again a minute after", () => {
    const dir = project();
    const team = new SqliteMetadataStore(teamFile(dir), { projectDir: dir });
    const f = flaky(team);
    let now = 1_000_000;
    const store = new JournalingStore({
      primary: f.store,
      projectDir: dir,
      team: TEAM(dir),
      onWarning: () => {},
      now: () => now,
    });
    closers.push(() => store.close());
    store.startRun(runInput("before"));
    store.finishRun("before", "succeeded");
    expect(store.routeOf("before")).toBeUndefined();
    f.down.value = true;
    store.startRun(runInput("during"));
    expect(store.routeOf("during")).toBe("journal");
    store.finishRun("during", "succeeded");
    // The team store is back, but within the minute nothing tries it (no wait per run).
    f.down.value = false;
    f.calls.length = 0;
    store.startRun(runInput("soon"));
    expect(store.routeOf("soon")).toBe("journal");
    expect(f.calls).toEqual([]);
    now += 61_000;
    store.startRun(runInput("later"));
    expect(store.routeOf("later")).toBe("primary");
    store.finishRun("later", "succeeded");
    readTeam(dir, (t) => {
      expect(t.getRun("later")!.status).toBe("succeeded");
      expect(t.getRun("during")).toBeUndefined();
    });
  });

  it("syncs a journalled run whose process died as interrupted", () => {
    const dir = project();
    const store = new JournalingStore({
      primary: null,
      projectDir: dir,
      team: TEAM(dir),
      onWarning: () => {},
    });
    store.startRun(runInput("killed"));
    store.logMetrics(points("killed", "train", "loss", 3));
    store.close();
    // As if its process had been killed: the owner recorded with the run is a pid that no longer runs.
    const j = Journal.open(dir);
    const owner = JSON.parse(j.sql.value<string>("SELECT owner FROM runs WHERE id = 'killed'")!);
    j.sql.run("UPDATE runs SET owner = ? WHERE id = 'killed'", JSON.stringify({ ...owner, pid: 4_194_000 }));
    j.close();
    new SqliteMetadataStore(teamFile(dir), { projectDir: dir }).close();
    expect(sync(dir).synced).toEqual(["killed"]);
    readTeam(dir, (t) => {
      const run = t.getRun("killed")!;
      expect(run.status).toBe("interrupted");
      expect(run.error).toMatch(/Interrupted: its process \(pid 4194000\) ended/);
      expect(t.metrics("killed")).toHaveLength(3);
    });
  });

  it("leaves a run that is still running in a live process for a later sync", () => {
    const dir = project();
    const store = new JournalingStore({
      primary: null,
      projectDir: dir,
      team: TEAM(dir),
      onWarning: () => {},
    });
    closers.push(() => store.close());
    store.startRun(runInput("r4"));
    new SqliteMetadataStore(teamFile(dir), { projectDir: dir }).close();
    const result = sync(dir);
    expect(result.synced).toEqual([]);
    expect(result.skipped).toEqual([{ runId: "r4", reason: "it is still running; sync it after it ends" }]);
  });
});

function killedSync(dir: string, at: string): Promise<{ signal: NodeJS.Signals | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", SYNC_KILL, dir, at], { stdio: "pipe" });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("exit", (_code, signal) => resolve({ signal, out }));
  });
}

describe("dagwood store sync after a kill -9", () => {
  for (const at of ["team-run:40", "team-run:380", "journal-write:2"]) {
    it(`completes the job when the first sync was killed (${at})`, async () => {
      const dir = pendingProject();
      const killed = await killedSync(dir, at);
      expect(killed.signal, killed.out).toBe("SIGKILL");
      sync(dir);
      expectSyncedOnce(dir);
      expect(sync(dir)).toEqual({ synced: [], skipped: [] });
      expectSyncedOnce(dir);
    }, 60_000);
  }
});
