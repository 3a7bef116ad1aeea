import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { currentProcess } from "./liveness";
import { type RegisterVersionInput, SqliteMetadataStore, type SqlMetadataStore } from "./metadata";
import { startTestPostgres, TEST_PG_URL_ENV, type TestPostgres } from "./pg-testing";
import { openPostgres } from "./postgres";
import { openPostgresStore } from "./postgres-store";
import { MIGRATIONS } from "./schema";

let server: TestPostgres | undefined;
let url: string;
const schemas: string[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  const shared = process.env[TEST_PG_URL_ENV];
  if (shared) url = shared;
  else {
    server = await startTestPostgres();
    url = server.url;
  }
}, 60_000);

afterAll(async () => {
  if (schemas.length > 0) {
    const admin = openPostgres({ url, schema: "public" });
    try {
      for (const s of schemas) admin.exec(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    } finally {
      admin.close();
    }
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await server?.stop();
}, 60_000);

function project(): string {
  const dir = mkdtempSync(join(tmpdir(), "dagwood-pg-store-"));
  dirs.push(dir);
  mkdirSync(join(dir, ".dagwood"), { recursive: true });
  return dir;
}

function newSchema(): string {
  const schema = `t_store_${randomBytes(6).toString("hex")}`;
  schemas.push(schema);
  return schema;
}

/**
 * One analyst's session: two runs with params, tags, metrics (a curve, NaN, ±Infinity), one
 * failed; a registered version with an alias; then what the app reads back. Run on SQLite and on
 * PostgreSQL, the answers must be the same.
 */
function session(store: SqlMetadataStore, dir: string) {
  const start = (
    id: string,
    minute: number,
    resolvedParams: Record<string, unknown>,
    tags: Record<string, string>,
  ) =>
    store.startRun({
      id,
      pipeline: "penguins",
      pipelinePath: "pipelines/penguins.json",
      pipelineHash: "h1",
      pipelineText: '{"nodes":[]}',
      params: { trees: resolvedParams["gbdt.trees"] },
      resolvedParams,
      startedAt: new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString(),
      environment: { node: "20" },
      user: "ana",
      tags,
    });
  // Keys that sort differently by bytes and by a locale (SQLite compares bytes).
  start("r1", 1, { "gbdt.trees": 100, "gbdt._abB": "x", "gbdt.B_ab": 1.5 }, { team: "fraud", Zone: "eu" });
  start("r2", 2, { "gbdt.trees": 300, "gbdt._abB": "y", "gbdt.B_ab": 2.5 }, { team: "fraud" });
  const curve = (runId: string, scale: number) =>
    Array.from({ length: 300 }, (_, step) => ({
      runId,
      nodeId: "gbdt",
      name: "loss",
      value: scale / (step + 1),
      step,
      ts: "2026-01-01T00:10:00.000Z",
    }));
  store.logMetrics(curve("r1", 1));
  store.logMetrics(curve("r2", 2));
  store.logMetrics([
    {
      runId: "r1",
      nodeId: "evaluate",
      name: "accuracy",
      value: 0.91,
      step: null,
      ts: "2026-01-01T00:11:00.000Z",
    },
    {
      runId: "r2",
      nodeId: "evaluate",
      name: "accuracy",
      value: 0.87,
      step: null,
      ts: "2026-01-01T00:11:00.000Z",
    },
    {
      runId: "r1",
      nodeId: "evaluate",
      name: "logloss",
      value: Number.NaN,
      step: null,
      ts: "2026-01-01T00:11:00.000Z",
    },
    {
      runId: "r2",
      nodeId: "evaluate",
      name: "logloss",
      value: Number.POSITIVE_INFINITY,
      step: null,
      ts: "2026-01-01T00:11:00.000Z",
    },
  ]);
  store.finishRun("r1", "succeeded");
  store.finishRun("r2", "failed", "out of memory");

  mkdirSync(join(dir, "out"), { recursive: true });
  const files = { native: join(dir, "out", "model.json"), onnx: join(dir, "out", "model.onnx") };
  writeFileSync(files.native, '{"estimator":"gbdt"}');
  writeFileSync(files.onnx, "onnx-bytes");
  const input: RegisterVersionInput = {
    name: "penguins",
    runId: "r1",
    nodeId: "gbdt",
    modelFingerprint: "f1",
    estimator: "gbdt",
    task: "classification",
    signature: { inputs: [{ name: "bill", dtype: "FP64", shape: [-1, 1] }], outputs: [] },
    metrics: { accuracy: 0.91, logloss: Number.NaN },
    parity: { rows: 10, maxAbsDiff: 1e-6, labelAgreement: 1 },
    files,
    lineage: {
      run: {
        id: "r1",
        pipeline: "penguins",
        pipelinePath: null,
        pipelineHash: "h1",
        startedAt: "2026-01-01T00:01:00.000Z",
        user: "ana",
      },
      nodeId: "gbdt",
      datasets: [{ digest: "d1", source: "data/penguins.csv", schema: [], rows: 3, fingerprint: "fp" }],
      params: { "gbdt.trees": 100 },
      environment: {},
    },
    actor: "ana",
    alias: "champion",
  };
  const registered = store.registry.registerVersion(input);
  const again = store.registry.registerVersion({ ...input, modelFingerprint: "f2", alias: undefined });

  const byAccuracy = store.searchRuns({
    pipeline: "penguins",
    orderBy: { field: "metric", key: "evaluate.accuracy", desc: true },
    paramKeys: ["gbdt.trees", "gbdt._abB", "gbdt.B_ab"],
  });
  const filtered = store.searchRuns({
    where: [{ field: "param", key: "gbdt.trees", op: ">", value: 150 }],
    user: "ana",
  });
  const comparison = store.compareRuns(["r1", "r2"]);
  return {
    registered: {
      version: registered.version.version,
      created: registered.created,
      aliases: registered.version.aliases,
    },
    second: again.version.version,
    onnx: readFileSync(join(dir, registered.version.onnxPath), "utf8"),
    byAccuracy: byAccuracy.runs.map((r) => ({
      id: r.id,
      status: r.status,
      error: r.error,
      tags: r.tags,
      metrics: r.metrics,
      resolvedParams: r.resolvedParams,
      // The runs finish now: how long they took differs between the two sessions.
      durationMs: typeof r.durationMs,
    })),
    total: byAccuracy.total,
    filtered: filtered.runs.map((r) => r.id),
    comparison: {
      params: comparison.params,
      metrics: comparison.metrics,
      curves: comparison.curves,
      differingNodes: comparison.differingNodes,
    },
    metrics: store.metrics("r1").length,
  };
}

describe("openPostgresStore", () => {
  it("records and answers a session on PostgreSQL as the SQLite store does", () => {
    const sqliteDir = project();
    const onSqlite = new SqliteMetadataStore(join(sqliteDir, ".dagwood", "metadata.sqlite"), {
      projectDir: sqliteDir,
    });
    const pgDir = project();
    const onPostgres = openPostgresStore({ url, schema: newSchema(), projectDir: pgDir });
    try {
      const expected = session(onSqlite, sqliteDir);
      const actual = session(onPostgres, pgDir);
      // Not vacuous: the session did what it says.
      expect(expected.registered).toEqual({ version: 1, created: true, aliases: ["champion"] });
      expect(expected.second).toBe(2);
      expect(expected.byAccuracy.map((r) => r.id)).toEqual(["r1", "r2"]);
      expect(expected.filtered).toEqual(["r2"]);
      expect(expected.comparison.curves[0]!.series[0]!.points).toHaveLength(300);
      expect(expected.metrics).toBe(302);
      expect(expected.byAccuracy.map((r) => r.durationMs)).toEqual(["number", "number"]);
      expect(actual).toEqual(expected);
      expect(actual.byAccuracy[0]!.metrics["evaluate.logloss"]).toBeNaN();
      expect(actual.byAccuracy[1]!.metrics["evaluate.logloss"]).toBe(Number.POSITIVE_INFINITY);
      expect(actual.onnx).toBe("onnx-bytes");
    } finally {
      onSqlite.close();
      onPostgres.close();
    }
  });

  it("is a shared store: settling interrupted runs leaves other machines' runs alone", () => {
    const schema = newSchema();
    const dir = project();
    const store = openPostgresStore({ url, schema, projectDir: dir });
    const raw = openPostgres({ url, schema });
    try {
      for (const id of ["elsewhere", "mine-dead", "mine-alive"])
        store.startRun({
          id,
          pipeline: "p",
          pipelinePath: null,
          pipelineHash: null,
          pipelineText: null,
          params: {},
          resolvedParams: {},
          startedAt: "2026-01-01T00:00:00.000Z",
          environment: {},
          user: "ana",
        });
      // A process of this machine that has ended; and a process of another machine.
      const ended = spawnSync(process.execPath, ["-e", ""]).pid!;
      const me = currentProcess();
      raw.run(
        "UPDATE runs SET owner = ? WHERE id = 'mine-dead'",
        JSON.stringify({ host: me.host, pid: ended }),
      );
      raw.run(
        "UPDATE runs SET owner = ?, host = 'other-laptop' WHERE id = 'elsewhere'",
        JSON.stringify({ host: "other-laptop", pid: process.pid }),
      );
      store.markInterruptedRuns();
      const status = Object.fromEntries(
        raw.rows("SELECT id, status FROM runs ORDER BY id") as [string, string][],
      );
      expect(status).toEqual({ elsewhere: "running", "mine-alive": "running", "mine-dead": "interrupted" });
    } finally {
      raw.close();
      store.close();
    }
  });

  it("opens an existing store without migrating it again, and keeps what it holds", () => {
    const schema = newSchema();
    const dir = project();
    const first = openPostgresStore({ url, schema, projectDir: dir });
    try {
      first.startRun({
        id: "kept",
        pipeline: "p",
        pipelinePath: null,
        pipelineHash: null,
        pipelineText: null,
        params: {},
        resolvedParams: { "a.b": 1 },
        startedAt: "2026-01-01T00:00:00.000Z",
        environment: {},
        user: null,
      });
    } finally {
      first.close();
    }
    const second = openPostgresStore({ url, schema, projectDir: dir });
    const raw = openPostgres({ url, schema });
    try {
      expect(second.getRun("kept")?.status).toBe("running");
      expect(second.searchRuns({ paramKeys: ["a.b"] }).runs.map((r) => [r.id, r.resolvedParams])).toEqual([
        ["kept", { "a.b": 1 }],
      ]);
      expect(raw.column("SELECT version FROM dagwood_schema")).toEqual([MIGRATIONS.length]);
    } finally {
      raw.close();
      second.close();
    }
  });

  it("refuses a URL with a password before connecting", () => {
    expect(() =>
      openPostgresStore({ url: "postgres://ana:secret@127.0.0.1:1/db", projectDir: project() }),
    ).toThrow(/DAGWOOD_STORE_PASSWORD/);
  });
});
