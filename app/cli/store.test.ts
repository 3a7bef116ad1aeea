// `dagwood store status|sync` on a project whose "team store" is a SQLite file (the journal's
// own tests are app/store/journal.test.ts; on a real PostgreSQL: store-pg.test.ts).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  cleanupJournalCases,
  expectSyncedOnce,
  pendingProject,
  project,
  runInput,
  teamFile,
} from "../store/fixtures/journal-cases";
import { JournalingStore } from "../store/journal";
import { storeCommand } from "./store";

afterEach(cleanupJournalCases);

describe("dagwood store status and sync (CLI)", () => {
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    return {
      io: {
        stdout: { write: (s: string) => out.push(s) } as never,
        stderr: { write: (s: string) => err.push(s) } as never,
      },
      out,
      err,
    };
  };

  it("shows the store and the pending runs, then syncs them", async () => {
    const dir = pendingProject();
    const s = io();
    expect(await storeCommand(["status", "--project", dir], s.io)).toBe(0);
    const text = s.out.join("");
    expect(text).toContain("SQLite (embedded)");
    expect(text).toContain(`Where:     SQLite file ${teamFile(dir)}`);
    expect(text).toContain("Reachable: yes");
    expect(text).toMatch(/Schema: {4}\d+ \(this Dagwood writes \d+\)/);
    expect(text).toContain("Pending:   2 runs in .dagwood/pending/journal.sqlite");
    const j = io();
    expect(await storeCommand(["status", "--project", dir, "--json"], j.io)).toBe(0);
    expect(
      JSON.parse(j.out.join(""))
        .pending.map((p: { runId: string }) => p.runId)
        .sort(),
    ).toEqual(["a", "b"]);

    const y = io();
    expect(await storeCommand(["sync", "--project", dir], y.io)).toBe(0);
    expect(y.out.join("")).toContain("2 runs synced to SQLite file");
    expectSyncedOnce(dir);
    const again = io();
    expect(await storeCommand(["sync", "--project", dir], again.io)).toBe(0);
    expect(again.out.join("")).toContain("0 runs synced");
  });

  it("a sync to another store than the runs were kept for leaves them, saying why", async () => {
    const dir = project();
    const store = new JournalingStore({
      primary: null,
      projectDir: dir,
      team: "PostgreSQL at db.example.com:5432, database dagwood, schema dagwood",
      onWarning: () => {},
    });
    store.startRun(runInput("z"));
    store.finishRun("z", "succeeded");
    store.close();
    const s = io();
    expect(await storeCommand(["sync", "--project", dir], s.io)).toBe(0);
    expect(s.out.join("")).toContain(
      "left z: it was recorded for PostgreSQL at db.example.com:5432, database dagwood, schema dagwood, and dagwood.json now names SQLite file",
    );
  });

  it("refuses a dagwood.json whose store URL carries a password, without repeating it", async () => {
    const dir = project();
    writeFileSync(
      join(dir, "dagwood.json"),
      JSON.stringify({ store: { kind: "postgres", url: "postgres://ana:hunter2-x@db:5432/team" } }),
    );
    for (const sub of ["status", "sync"]) {
      const s = io();
      expect(await storeCommand([sub, "--project", dir], s.io)).toBe(2);
      expect(s.err.join("")).toContain("store.url: the URL carries a password");
      expect(s.err.join("")).toContain("DAGWOOD_STORE_PASSWORD");
      expect(s.err.join("") + s.out.join("")).not.toContain("hunter2-x");
    }
  });

  it("with nothing pending says so", async () => {
    const dir = project();
    const s = io();
    expect(await storeCommand(["sync", "--project", dir], s.io)).toBe(0);
    expect(s.out.join("")).toBe("Nothing to sync: .dagwood/pending/journal.sqlite does not exist.\n");
  });
});
