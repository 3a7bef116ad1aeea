/**
 * What only the embedded SQLite file has: opening the file (WAL, user_version, damaged files, the
 * addon), the migrations of files written by an older Dagwood (PostgreSQL stores start at the
 * baseline, app/store/pg-schema.ts), a database moved aside, and in-memory stores. vitest.config.ts
 * lists this file in STORE_INDEPENDENT: it runs in the `unit` project only, never skipped.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { currentProcess } from "./liveness";
import { type RegisterVersionInput, SqliteMetadataStore, type StartRunInput } from "./metadata";
import { applySqliteMigration, MIGRATIONS } from "./schema";

const require = createRequire(import.meta.url);

let seq = 0;
const run = (id: string, over: Partial<StartRunInput> = {}): StartRunInput => ({
  id,
  pipeline: "p",
  pipelinePath: "p.dag.json",
  pipelineHash: "h1",
  pipelineText: '{"format":"dagwood.pipeline/1"}\n',
  params: { seed: 1 },
  resolvedParams: {},
  // Distinct, increasing start times so "newest first" is well defined.
  startedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, seq++)).toISOString(),
  environment: { node: "v20" },
  user: "ana",
  ...over,
});

// The file itself: WAL, user_version, damaged files, the addon, and a file written before tracking.
describe("SqliteMetadataStore: opening the file", () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-meta-"));
    path = join(dir, "metadata.sqlite");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("marks runs left running by a dead process as interrupted when asked (and only then)", () => {
    const a = new SqliteMetadataStore(path, { projectDir: dir });
    a.startRun(run("r1"));
    a.close();
    const b = new SqliteMetadataStore(path, { projectDir: dir });
    expect(b.getRun("r1")?.status).toBe("running");
    b.markInterruptedRuns();
    const r = b.getRun("r1")!;
    expect(r.status).toBe("interrupted");
    expect(r.durationMs).toBeGreaterThan(0);
    b.close();
  });

  it("uses WAL and refuses a store written by a newer Dagwood, naming the file", () => {
    new SqliteMetadataStore(path, { projectDir: dir }).close();
    const db = new Database(path);
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.pragma("user_version", { simple: true })).toBe(MIGRATIONS.length);
    db.pragma("user_version = 99");
    db.close();
    expect(() => new SqliteMetadataStore(path, { projectDir: dir })).toThrow(
      /newer Dagwood.*Upgrade Dagwood/,
    );
    expect(() => new SqliteMetadataStore(path, { projectDir: dir })).toThrow(path);
    // Refusing did not touch it.
    const again = new Database(path);
    expect(again.pragma("user_version", { simple: true })).toBe(99);
    again.close();
  });

  it("refuses a file of random bytes with an error naming it and saying what to do", () => {
    const bytes = Buffer.alloc(8192);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919 + 13) % 251;
    writeFileSync(path, bytes);
    let error: Error | undefined;
    try {
      new SqliteMetadataStore(path, { projectDir: dir });
    } catch (e) {
      error = e as Error;
    }
    expect(error?.message).toContain(path);
    expect(error?.message).toMatch(/Move it aside/);
    expect(error?.message).toMatch(/workspace cache .* kept/);
    // It says what happens to the model files when a model is registered again.
    expect(error?.message).toMatch(/stays in the file you moved/);
    expect(error?.message).toMatch(
      /moved, untouched, to \.dagwood\/registry\/<model>\/\.orphan-<version>-<random>/,
    );
    expect(error?.message).not.toMatch(/^SQLITE_/);
    // The file is left as it was, for the user to keep or inspect.
    expect(readFileSync(path).equals(bytes)).toBe(true);
  });

  it("refuses a database whose header was truncated", () => {
    new SqliteMetadataStore(path, { projectDir: dir }).close();
    writeFileSync(path, readFileSync(path).subarray(0, 60));
    rmSync(`${path}-wal`, { force: true });
    rmSync(`${path}-shm`, { force: true });
    expect(() => new SqliteMetadataStore(path, { projectDir: dir })).toThrow(
      new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is damaged or not a SQLite database`),
    );
  });

  it("upgrades a database written before tracking (schema 2): runs, metrics and latest values carry over", () => {
    const old = new Database(path);
    old.exec(MIGRATIONS[0] as string);
    old.exec(MIGRATIONS[1] as string);
    old.pragma("user_version = 2");
    old
      .prepare(
        "INSERT INTO runs (id, pipeline, pipeline_path, status, params, environment, started_at, finished_at) VALUES (?, 'p', NULL, 'succeeded', '{}', '{}', ?, ?)",
      )
      .run("old", "2025-01-01T00:00:00.000Z", "2025-01-01T00:00:02.500Z");
    const m = old.prepare(
      "INSERT INTO metrics (run_id, node_id, name, value, step) VALUES ('old', ?, ?, ?, ?)",
    );
    m.run("train", "loss", 0.9, 1);
    m.run("train", "loss", 0.4, 2);
    m.run("train", "loss", 0.7, 0);
    m.run("eval", "accuracy", 0.8, null);
    old.close();

    const store = new SqliteMetadataStore(path, { projectDir: dir });
    expect(store.getRun("old")).toMatchObject({
      kind: "pipeline",
      durationMs: 2500,
      tags: {},
      pipelineHash: null,
    });
    expect(store.metrics("old")).toHaveLength(4);
    const page = store.searchRuns({ orderBy: { field: "metric", key: "train.loss" } });
    expect(page.runs[0]!.metrics).toEqual({ "train.loss": 0.4, "eval.accuracy": 0.8 });
    expect(page.metricKeys).toEqual(["eval.accuracy", "train.loss"]);
    // The carried-over points are packed for comparison too, curve sorted by step.
    expect(store.compareRuns(["old"]).curves).toEqual([
      {
        key: "train.loss",
        series: [
          {
            runId: "old",
            points: [
              [0, 0.7],
              [1, 0.9],
              [2, 0.4],
            ],
          },
        ],
      },
    ]);
    store.close();
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

describe("SqliteMetadataStore: files written by an older Dagwood, moved aside, in memory", () => {
  let dir: string;
  let store: SqliteMetadataStore;
  let files: { native: string; onnx: string };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-sqlite-file-"));
    mkdirSync(join(dir, ".dagwood"));
    store = new SqliteMetadataStore(join(dir, ".dagwood", "metadata.sqlite"), { projectDir: dir });
    mkdirSync(join(dir, "out"));
    files = { native: join(dir, "out", "model.json"), onnx: join(dir, "out", "model.onnx") };
    writeFileSync(files.native, '{"estimator":"gbdt"}');
    writeFileSync(files.onnx, "onnx-bytes");
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const lineage = {
    run: {
      id: "r1",
      pipeline: "p",
      pipelinePath: null,
      pipelineHash: "h",
      startedAt: "2026-01-01T00:00:00Z",
      user: null,
    },
    nodeId: "gbdt",
    datasets: [{ digest: "d1", source: "data/a.csv", schema: [], rows: 3, fingerprint: "f" }],
    params: { "gbdt.trees": 100 },
    environment: {},
  };
  const input = (fingerprint: string, over: Partial<RegisterVersionInput> = {}): RegisterVersionInput => ({
    name: "penguins",
    runId: "r1",
    nodeId: "gbdt",
    modelFingerprint: fingerprint,
    estimator: "gbdt",
    task: "classification",
    signature: { inputs: [{ name: "bill", dtype: "FP64", shape: [-1, 1] }], outputs: [] },
    metrics: { accuracy: 0.9, logloss: Number.NaN },
    parity: { rows: 10, maxAbsDiff: 1e-6, labelAgreement: 1 },
    files,
    lineage,
    actor: "ana",
    ...over,
  });

  it("an old database (before owners) upgrades; its running runs wait for the workspace lock's sweep", () => {
    const oldPath = join(dir, "old.sqlite");
    const owners = MIGRATIONS.findIndex((m) => typeof m === "string" && m.includes("ADD COLUMN owner"));
    expect(owners).toBeGreaterThan(0);
    // A database as the Dagwood before this migration left it, with a run left running.
    const old = new Database(oldPath);
    for (const m of MIGRATIONS.slice(0, owners)) {
      applySqliteMigration(old, m);
    }
    old.pragma(`user_version = ${owners}`);
    old
      .prepare(
        "INSERT INTO runs (id, pipeline, status, params, environment, started_at) VALUES ('old', 'p', 'running', '{}', '{}', ?)",
      )
      .run(new Date(Date.now() - 5000).toISOString());
    old.close();
    const upgraded = new SqliteMetadataStore(oldPath, { projectDir: dir });
    try {
      // Whose process it was is not known: left as it is until the workspace lock's sweep.
      expect(upgraded.getRun("old")!.status).toBe("running");
      upgraded.markInterruptedRuns();
      expect(upgraded.getRun("old")!.status).toBe("interrupted");
      upgraded.startRun(run("new"));
      const db = new Database(oldPath, { readonly: true });
      expect(db.pragma("user_version", { simple: true })).toBe(MIGRATIONS.length);
      const owner = db.prepare("SELECT owner FROM runs WHERE id = 'new'").pluck().get() as string;
      expect(JSON.parse(owner)).toEqual(currentProcess());
      db.close();
    } finally {
      upgraded.close();
    }
  });

  it("a version registered before feature services reads back without one", () => {
    const dbPath = join(dir, "old.sqlite");
    const last = MIGRATIONS.findIndex((m) => typeof m === "string" && m.includes("feature_service"));
    expect(last).toBeGreaterThan(0);
    // A database as the Dagwood before the migration left it, with one version in it.
    const old = new Database(dbPath);
    for (const m of MIGRATIONS.slice(0, last)) {
      applySqliteMigration(old, m);
    }
    old.pragma(`user_version = ${last}`);
    old.exec(`INSERT INTO models (name, created_at, updated_at) VALUES ('old', 't', 't');
      INSERT INTO model_versions (name, version, status, created_at, run_id, node_id, model_fingerprint,
        estimator, task, signature, metrics, native_path, onnx_path, lineage)
      VALUES ('old', 1, 'ready', 't', 'r1', 'n', 'f1', 'linear', 'regression', '{"inputs":[],"outputs":[]}', '{}',
        '.dagwood/registry/old/1/model.json', '.dagwood/registry/old/1/model.onnx', '{}');`);
    old.close();
    const upgraded = new SqliteMetadataStore(dbPath, { projectDir: dir });
    try {
      expect(upgraded.registry.getVersion("old", 1)).toMatchObject({ version: 1, featureService: null });
    } finally {
      upgraded.close();
    }
  });

  // Moved aside as the damaged-database message says; on PostgreSQL the same situation, a version
  // folder without its row, is the crash test's (registry-crash.test.ts).
  it("keeps an old version's files when its SQLite database was moved aside and the model is registered again", () => {
    const dbPath = join(dir, ".dagwood", "metadata.sqlite");
    const { version: old } = store.registry.registerVersion(input("f1"));
    const oldBytes = readFileSync(join(dir, old.onnxPath));
    store.close();
    // What the corrupt-database message tells the user to do.
    renameSync(dbPath, `${dbPath}.broken`);
    for (const suffix of ["-wal", "-shm"]) if (existsSync(dbPath + suffix)) rmSync(dbPath + suffix);
    const reopened = new SqliteMetadataStore(dbPath, { projectDir: dir });
    try {
      writeFileSync(files.onnx, "new-onnx-bytes");
      const { version: again } = reopened.registry.registerVersion(input("f9"));
      expect(again.version).toBe(1);
      expect(readFileSync(join(dir, again.onnxPath), "utf8")).toBe("new-onnx-bytes");
      const modelDir = join(dir, ".dagwood", "registry", "penguins");
      const aside = readdirSync(modelDir).filter((f) => f.startsWith(".orphan-1-"));
      expect(aside).toHaveLength(1);
      expect(readFileSync(join(modelDir, aside[0]!, "model.onnx"))).toEqual(oldBytes);
      expect(readFileSync(join(modelDir, aside[0]!, "model.json"), "utf8")).toBe('{"estimator":"gbdt"}');
    } finally {
      reopened.close();
    }
  });

  // A PostgreSQL store always has its project folder.
  it("an in-memory SQLite store without a project folder tracks runs but refuses to register files", () => {
    const memory = new SqliteMetadataStore(":memory:");
    try {
      memory.registry.upsertModel("m", { description: "only metadata" }, null);
      expect(() => memory.registry.registerVersion(input("f1", { name: "m" }))).toThrow(
        /pass \{ projectDir \}/,
      );
      expect(memory.registry.listVersions("m")).toEqual([]);
    } finally {
      memory.close();
    }
    const withDir = new SqliteMetadataStore(":memory:", { projectDir: dir, registryDir: join(dir, "reg") });
    try {
      expect(withDir.registry.registerVersion(input("f1")).version.onnxPath).toBe(
        "reg/penguins/1/model.onnx",
      );
    } finally {
      withDir.close();
    }
  });
});

describe("compareRuns with a run recorded before resolved params were tracked (a schema-2 file upgraded)", () => {
  let dir: string;
  let store: SqliteMetadataStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-compare-"));
    const path = join(dir, "metadata.sqlite");
    // A schema-2 database (before migration 3): runs without resolved params.
    const old = new Database(path);
    old.exec(MIGRATIONS[0] as string);
    old.exec(MIGRATIONS[1] as string);
    old.pragma("user_version = 2");
    old
      .prepare(
        "INSERT INTO runs (id, pipeline, pipeline_path, status, params, environment, started_at, finished_at) VALUES ('old', 'penguins', NULL, 'succeeded', '{}', '{}', ?, ?)",
      )
      .run("2025-01-01T00:00:00.000Z", "2025-01-01T00:00:01.000Z");
    old.close();
    store = new SqliteMetadataStore(path, { projectDir: dir });
    const start = (id: string, resolvedParams: Record<string, unknown>) =>
      store.startRun({
        id,
        pipeline: "penguins",
        pipelinePath: null,
        pipelineHash: null,
        pipelineText: null,
        params: {},
        resolvedParams,
        startedAt: "2026-01-01T00:00:00.000Z",
        environment: {},
        user: null,
      });
    start("n1", { "gbdt.trees": 100, "split.seed": 7 });
    start("n2", { "gbdt.trees": 100, "split.seed": 8 });
    start("empty", {});
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("says which runs have params recorded, and compares only those", () => {
    const c = store.compareRuns(["old", "n1", "n2"]);
    expect(c.paramsRecorded).toEqual([false, true, true]);
    expect(c.params).toEqual([
      { key: "split.seed", values: [null, 7, 8], differs: true },
      { key: "gbdt.trees", values: [null, 100, 100], differs: false },
    ]);
    expect(c.differingNodes).toEqual(["split"]);

    const one = store.compareRuns(["n1", "old"]);
    expect(one.paramsRecorded).toEqual([true, false]);
    expect(one.params.every((p) => !p.differs)).toBe(true);
    expect(one.differingNodes).toEqual([]);
  });

  it("a run recorded with no params at all still counts as recorded: its absent params differ", () => {
    const c = store.compareRuns(["n1", "empty", "old"]);
    expect(c.paramsRecorded).toEqual([true, true, false]);
    expect(c.params.map((p) => [p.key, p.differs])).toEqual([
      ["gbdt.trees", true],
      ["split.seed", true],
    ]);
    expect(c.differingNodes).toEqual(["gbdt", "split"]);
  });
});
