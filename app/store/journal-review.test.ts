// A run that switched to the journal mid-run records where its rows in the team store end; sync copies
// only what came after. Those marks must survive a sync of another run in between, which deletes that
// run's rows from the journal (SQLite then hands out rowids again from the new maximum).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  cleanupJournalCases,
  closers,
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
import { Journal, JournalingStore, syncJournal } from "./journal";
import { SqliteMetadataStore } from "./metadata";
import { migratePostgres } from "./pg-schema";
import { startTestPostgres, TEST_PG_URL_ENV, type TestPostgres } from "./pg-testing";
import { openPostgres, quoteIdent } from "./postgres";

afterEach(cleanupJournalCases);

describe("a switched run's marks and a sync of another run meanwhile", () => {
  it("copies the switched run's later metrics and logs, though the other run's rows were the journal's newest", () => {
    const { dir, f, store } = setUp();
    // Another process of the project, which found the team store unreachable at start.
    const other = new JournalingStore({
      primary: null,
      projectDir: dir,
      team: TEAM(dir),
      startError: "unreachable at start",
      onWarning: () => {},
    });
    closers.push(() => other.close());

    store.startRun(runInput("y"));
    store.logMessage({ runId: "y", nodeId: "prep", level: "info", message: "before the outage" });
    other.startRun(runInput("x"));
    other.logMetrics(points("x", "train", "loss", 20));
    for (let i = 0; i < 10; i++)
      other.logMessage({ runId: "x", nodeId: "train", level: "info", message: `x ${i}` });

    f.down.value = true;
    store.recordNodeRun(nodeRun("y", "prep")); // y moves to the journal; it has no metrics yet
    other.finishRun("x", "succeeded");
    expect(sync(dir).synced).toEqual(["x"]); // y still runs: left in the journal

    store.logMetrics(points("y", "train", "loss", 5));
    for (let i = 0; i < 3; i++)
      store.logMessage({ runId: "y", nodeId: "train", level: "info", message: `y ${i}` });
    store.finishRun("y", "succeeded");
    expect(sync(dir).synced).toEqual(["y"]);

    readTeam(dir, (t) => {
      expect(t.getRun("y")!.status).toBe("succeeded");
      expect(t.metrics("y").map((m) => m.value)).toEqual(points("y", "train", "loss", 5).map((p) => p.value));
      const messages = t.logs("y").map((l) => l.message);
      expect(messages.filter((m) => m === "before the outage")).toHaveLength(1);
      expect(messages.filter((m) => /^y \d$/.test(m))).toEqual(["y 0", "y 1", "y 2"]);
      expect(t.nodeRuns("y").map((n) => n.nodeId)).toEqual(["prep"]);
      expect(t.metrics("x")).toHaveLength(20);
    });
  });
});

describe("reads after the team store comes back", () => {
  it("reconnect (as a new run does) instead of answering from the journal for ever", () => {
    // As PostgresSql does, a connection that broke stays broken: only a new connection (reopen) answers.
    const dir = project();
    const seed = new SqliteMetadataStore(teamFile(dir), { projectDir: dir });
    seed.startRun(runInput("teammate"));
    seed.finishRun("teammate", "succeeded");
    seed.close();
    const first = flaky(new SqliteMetadataStore(teamFile(dir), { projectDir: dir }));
    let reopened = 0;
    let now = 1_000_000;
    const store = new JournalingStore({
      primary: first.store,
      projectDir: dir,
      team: TEAM(dir),
      onWarning: () => {},
      now: () => now,
      reopen: () => {
        reopened++;
        return new SqliteMetadataStore(teamFile(dir), { projectDir: dir });
      },
    });
    closers.push(() => store.close());
    expect(store.listRuns().map((r) => r.id)).toEqual(["teammate"]);
    first.down.value = true; // the old connection is gone for good
    expect(store.listRuns().map((r) => r.id)).toEqual([]); // the journal's, while the team store is down
    now += 61_000; // the server is back a minute later; no new run is started
    expect(store.listRuns().map((r) => r.id)).toEqual(["teammate"]);
    expect(reopened).toBe(1);
  });
});

const SYNC_HELD = join(import.meta.dirname, "fixtures", "sync-held.ts");

describe("two syncs of one journal at once, into PostgreSQL", () => {
  let cluster: TestPostgres | undefined;
  let url: string;
  const schema = `sync_race_${randomBytes(4).toString("hex")}`;
  beforeAll(async () => {
    const fromRun = process.env[TEST_PG_URL_ENV];
    if (fromRun) url = fromRun;
    else {
      cluster = await startTestPostgres();
      url = cluster.url;
    }
  });
  afterAll(async () => {
    const admin = openPostgres({ url, schema: "public" });
    try {
      admin.exec(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
    } finally {
      admin.close();
    }
    await cluster?.stop();
  });

  it("copy each run once: the second waits for the first's transaction, then finds the run synced", async () => {
    const dir = pendingProject();
    const child = spawn(process.execPath, ["--import", "tsx", SYNC_HELD, dir, url, schema, "3000"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stderr.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    // The other sync has copied run "a" and holds its transaction open.
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (d) => {
        out += d;
        if (out.includes("holding")) resolve();
      });
      child.on("exit", () => reject(new Error(`the first sync ended before holding: ${out}`)));
    });
    const team = openPostgres({ url, schema });
    const journal = Journal.open(dir);
    try {
      migratePostgres(team);
      syncJournal(journal, team);
      expect(await exited).toBe(0);
      const count = (table: string, run: string) =>
        Number(team.value(`SELECT count(*) FROM ${table} WHERE run_id = ?`, run));
      // "a" switched mid-run: its node run and 300 points from before went to another team store.
      expect(count("node_runs", "a")).toBe(1);
      expect(count("metrics", "a")).toBe(300);
      expect(Number(team.value("SELECT count(*) FROM logs WHERE run_id = 'a' AND message = 'done'"))).toBe(1);
      expect(count("metrics", "b")).toBe(50);
      expect(journal.pending()).toEqual([]);
    } finally {
      journal.close();
      team.close();
    }
  }, 60_000);
});
