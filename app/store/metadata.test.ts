import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SqliteMetadataStore } from "./metadata";

const require = createRequire(import.meta.url);

describe("SqliteMetadataStore", () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-meta-"));
    path = join(dir, "metadata.sqlite");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const run = (id: string) => ({
    id,
    pipeline: "p",
    pipelinePath: null,
    params: { seed: 1 },
    startedAt: new Date().toISOString(),
    environment: { node: "v20" },
  });

  it("records runs, node runs, metrics and logs, and reads them back", () => {
    const store = new SqliteMetadataStore(path);
    store.startRun(run("r1"));
    store.recordNodeRun({
      runId: "r1",
      nodeId: "n",
      block: "split",
      blockVersion: 1,
      status: "ran",
      reason: "first run",
      cacheKey: "k",
      paramsHash: "ph",
      inputsHash: "ih",
      ms: 12,
      error: null,
      outputs: { out: { rows: 3 } },
    });
    store.logMetrics([
      { runId: "r1", nodeId: "n", name: "loss", value: 0.5, step: 1 },
      { runId: "r1", nodeId: "n", name: "loss", value: 0.25, step: 2 },
    ]);
    store.logMessage({ runId: "r1", nodeId: "n", level: "warn", message: "hm" });
    store.finishRun("r1", "succeeded");
    expect(store.getRun("r1")).toMatchObject({ status: "succeeded", params: { seed: 1 }, error: null });
    expect(store.nodeRuns("r1")[0]).toMatchObject({
      nodeId: "n",
      outputs: { out: { rows: 3 } },
      reason: "first run",
    });
    expect(store.metrics("r1").map((m) => m.value)).toEqual([0.5, 0.25]);
    expect(store.logs("r1")).toEqual([{ runId: "r1", nodeId: "n", level: "warn", message: "hm" }]);
    expect(store.lastCompletedNodeRun("p", "n")?.cacheKey).toBe("k");
    expect(store.lastCompletedNodeRun("other", "n")).toBeUndefined();
    store.close();
  });

  it("marks runs left running by a dead process as interrupted when asked (and only then)", () => {
    const a = new SqliteMetadataStore(path);
    a.startRun(run("r1"));
    a.close();
    const b = new SqliteMetadataStore(path);
    expect(b.getRun("r1")?.status).toBe("running");
    b.markInterruptedRuns();
    expect(b.getRun("r1")?.status).toBe("interrupted");
    b.close();
  });

  it("uses WAL and refuses a store written by a newer Dagwood", () => {
    new SqliteMetadataStore(path).close();
    const db = new Database(path);
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    db.pragma("user_version = 99");
    db.close();
    expect(() => new SqliteMetadataStore(path)).toThrow(/newer Dagwood/);
  });

  it("loads the SQLite addon named by DAGWOOD_SQLITE_BINDING (Electron's build)", () => {
    const saved = process.env.DAGWOOD_SQLITE_BINDING;
    try {
      process.env.DAGWOOD_SQLITE_BINDING = join(dir, "missing.node");
      expect(() => new SqliteMetadataStore(path)).toThrow(/missing\.node/);
      process.env.DAGWOOD_SQLITE_BINDING = require.resolve(
        "better-sqlite3/build/Release/better_sqlite3.node",
      );
      new SqliteMetadataStore(path).close();
    } finally {
      if (saved === undefined) delete process.env.DAGWOOD_SQLITE_BINDING;
      else process.env.DAGWOOD_SQLITE_BINDING = saved;
    }
  });
});
