import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { catalog } from "../../../nodes/index";
import { Workspace } from "../../data/workspace";
import { appendOfflineRows } from "../../features/offline-push";
import { startTestRedis, type TestRedis } from "../../features/online/testing";
import { featuresOverview, readFeaturesOverview } from "../../features/overview";
import { loadFeatureRepo } from "../../features/repo";
import type { MaterializationRecord, OnlineStore } from "../../features/types";
import { FEATURES_FORMAT } from "../../features/types";
import { testVersionInput, writeTestModelFiles } from "../../monitoring/testing";
import { readProjectSettings } from "../../project/project";
import { SqliteMetadataStore } from "../../store/metadata";
import type { FeatureMaterialization, FeaturesOverview, OnlineFeaturesAnswer } from "../../values/features";
import { ApiError } from "../api";
import { API_METHODS, FEATURE_METHODS } from "../api-methods";
import { type CoreApi, createCoreApi } from "../core";
import { startHttpBridge } from "../http";

/** The rows of driver_stats' Parquet source: late and duplicate rows, one before the window, one after. */
const STATS = [
  {
    driver_id: 1001,
    event: "2026-01-01T10:00:00Z",
    created: "2026-01-01T10:05:00Z",
    conv_rate: 0.5,
    trips: 10,
    active: true,
  },
  // Same key and event time: the later created row wins.
  {
    driver_id: 1001,
    event: "2026-01-02T10:00:00Z",
    created: "2026-01-02T11:00:00Z",
    conv_rate: 0.65,
    trips: 12,
    active: false,
  },
  {
    driver_id: 1001,
    event: "2026-01-02T10:00:00Z",
    created: "2026-01-02T10:05:00Z",
    conv_rate: 0.6,
    trips: 11,
    active: true,
  },
  {
    driver_id: 1002,
    event: "2026-01-01T12:00:00Z",
    created: "2026-01-01T12:00:00Z",
    conv_rate: 0.3,
    trips: 5,
    active: false,
  },
  {
    driver_id: 1002,
    event: "2026-01-05T00:00:00Z",
    created: "2026-01-05T00:00:00Z",
    conv_rate: 0.9,
    trips: 99,
    active: true,
  },
  {
    driver_id: 1003,
    event: "2025-12-20T00:00:00Z",
    created: "2025-12-20T00:00:00Z",
    conv_rate: 0.1,
    trips: 1,
    active: true,
  },
];
const CITY_CSV =
  "driver_id,ts,city\n1001,2026-01-01 00:00:00,Oslo\n1002,2026-01-02 08:00:00,Lima\n1001,2026-01-02 09:00:00,Bergen\n";

const WINDOW = { start: "2026-01-01T00:00:00Z", end: "2026-01-03T00:00:00Z" };

/** The latest row per driver with its event time in [start, end] (then the latest created), from the rows above in plain JS. */
function latestInWindow(start: string, end: string) {
  const out = new Map<number, (typeof STATS)[number]>();
  for (const r of STATS) {
    const t = Date.parse(r.event);
    if (t < Date.parse(start) || t > Date.parse(end)) continue;
    const seen = out.get(r.driver_id);
    const newer =
      !seen ||
      t > Date.parse(seen.event) ||
      (t === Date.parse(seen.event) && Date.parse(r.created) > Date.parse(seen.created));
    if (newer) out.set(r.driver_id, r);
  }
  return out;
}

const definitions = () => ({
  format: FEATURES_FORMAT,
  entities: [
    { name: "driver", joinKeys: ["driver_id"], valueType: "Int64", owner: "ops", description: "A driver" },
  ],
  featureViews: [
    {
      name: "driver_stats",
      entities: ["driver"],
      ttl: "1d",
      owner: "ml-team",
      description: "Hourly driver statistics",
      tags: { team: "drivers" },
      source: {
        path: "data/stats.parquet",
        timestampField: "event_timestamp",
        createdTimestampColumn: "created",
      },
      features: [
        { name: "conv_rate", type: "Float64" },
        { name: "trips", type: "Int32" },
        { name: "active", type: "Bool" },
      ],
    },
    {
      name: "driver_city",
      entities: ["driver"],
      ttl: "0",
      source: { path: "data/city.csv", timestampField: "ts" },
      features: [{ name: "city", type: "String" }],
    },
    {
      name: "engineered",
      entities: ["driver"],
      ttl: "0",
      source: { block: true, timestampField: "ts" },
      features: [{ name: "score", type: "Float64" }],
    },
  ],
  featureServices: [
    { name: "ranker", features: ["driver_stats:conv_rate", "driver_city", "driver_stats:trips"] },
    { name: "everything", features: ["driver_stats"] },
  ],
});

async function writeStats(dir: string, rows = STATS): Promise<void> {
  const instance = await DuckDBInstance.create(":memory:");
  const c = await instance.connect();
  const values = rows
    .map(
      (r) =>
        `(${r.driver_id}::BIGINT, TIMESTAMP '${r.event.replace("T", " ").replace("Z", "")}', TIMESTAMP '${r.created.replace("T", " ").replace("Z", "")}', ${r.conv_rate}::DOUBLE, ${r.trips}::INTEGER, ${r.active})`,
    )
    .join(", ");
  await c.run(
    `COPY (SELECT * FROM (VALUES ${values}) AS t(driver_id, event_timestamp, created, conv_rate, trips, active))
     TO '${join(dir, "data", "stats.parquet")}' (FORMAT PARQUET)`,
  );
  c.closeSync();
  instance.closeSync();
}

async function makeProject(settings?: unknown): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "dagwood-fsapi-"));
  mkdirSync(join(dir, "features"));
  mkdirSync(join(dir, "data"));
  if (settings) writeFileSync(join(dir, "dagwood.json"), JSON.stringify(settings));
  writeFileSync(join(dir, "features", "drivers.json"), JSON.stringify(definitions(), null, 2));
  writeFileSync(join(dir, "data", "city.csv"), CITY_CSV);
  await writeStats(dir);
  return dir;
}

/** A port nothing listens on. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** Files this process holds open (Linux /proc). */
function openFiles(): string[] {
  return readdirSync("/proc/self/fd").flatMap((fd) => {
    try {
      return [readlinkSync(`/proc/self/fd/${fd}`)];
    } catch {
      return [];
    }
  });
}

async function failure(p: Promise<unknown>): Promise<ApiError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  if (!(e instanceof ApiError)) throw new Error(`expected an ApiError, got ${e}`);
  return e;
}

describe("the feature-store Api methods", () => {
  let dir: string;
  let api: CoreApi;
  const call = <T>(method: string, args: unknown = {}) => api.call(method, args) as Promise<T>;
  const list = () => call<FeaturesOverview>("listFeatures");

  beforeEach(async () => {
    dir = await makeProject();
    api = await createCoreApi({ catalog, projectDir: dir, monitorScheduler: false });
  });
  afterEach(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("are Api methods every transport exposes", () => {
    for (const m of FEATURE_METHODS) expect(API_METHODS).toContain(m);
  });

  it("lists definitions, unapplied versions, each source's rows and newest event, services by view, the store", async () => {
    const o = await list();
    expect(o.problems).toEqual([]);
    expect(o.online).toEqual({ kind: "sqlite", location: ".dagwood/online.sqlite", error: null });
    expect(o.entities).toEqual([
      {
        name: "driver",
        joinKeys: ["driver_id"],
        valueType: "int64",
        description: "A driver",
        owner: "ops",
        tags: {},
        file: "features/drivers.json",
      },
    ]);
    expect(o.views.map((v) => v.name)).toEqual(["driver_stats", "driver_city", "engineered"]);
    const [stats, city, engineered] = o.views;
    expect(stats).toEqual({
      name: "driver_stats",
      file: "features/drivers.json",
      entities: ["driver"],
      joinKeys: ["driver_id"],
      features: [
        { name: "conv_rate", type: "float64" },
        { name: "trips", type: "int32" },
        { name: "active", type: "bool" },
      ],
      ttl: "1d",
      online: true,
      owner: "ml-team",
      description: "Hourly driver statistics",
      tags: { team: "drivers" },
      source: {
        kind: "file",
        path: "data/stats.parquet",
        timestampField: "event_timestamp",
        createdTimestampColumn: "created",
      },
      version: null,
      changedSinceApply: false,
      freshness: {
        lastMaterialized: null,
        newestEvent: new Date(Math.max(...STATS.map((r) => Date.parse(r.event)))).toISOString(),
        rows: STATS.length,
        sourceError: null,
      },
    });
    expect(city!.freshness).toEqual({
      lastMaterialized: null,
      newestEvent: "2026-01-02T09:00:00.000Z",
      rows: CITY_CSV.trim().split("\n").length - 1,
      sourceError: null,
    });
    expect(engineered!.source).toEqual({ kind: "block", timestampField: "ts", createdTimestampColumn: null });
    expect(engineered!.freshness.rows).toBeNull();
    expect(engineered!.freshness.sourceError).toMatch(/no offline table yet.*run that pipeline/);
    expect(o.services).toEqual([
      {
        name: "ranker",
        file: "features/drivers.json",
        description: "",
        owner: null,
        tags: {},
        // Grouped by view in the order first named; the whole view driver_city lists all its features.
        features: [
          { view: "driver_stats", features: ["conv_rate", "trips"] },
          { view: "driver_city", features: ["city"] },
        ],
        models: [],
      },
      {
        name: "everything",
        file: "features/drivers.json",
        description: "",
        owner: null,
        tags: {},
        features: [{ view: "driver_stats", features: ["conv_rate", "trips", "active"] }],
        models: [],
      },
    ]);
    expect(o.materializations).toEqual([]);
  });

  it("applies, records versions, and says when a file changed since its apply", async () => {
    // The block view has no table yet: apply records it unchecked.
    const first = await call<{
      views: {
        name: string;
        version: number;
        changed: boolean;
        rows: number | null;
        unchecked: string | null;
      }[];
    }>("applyFeatures");
    expect(first.views.map((v) => [v.name, v.version, v.changed, v.rows])).toEqual([
      ["driver_stats", 1, true, STATS.length],
      ["driver_city", 1, true, 3],
      ["engineered", 1, true, null],
    ]);
    expect(first.views[2]!.unchecked).toMatch(/no offline table yet/);
    let o = await list();
    expect(o.views.map((v) => [v.version, v.changedSinceApply])).toEqual([
      [1, false],
      [1, false],
      [1, false],
    ]);

    const edited = definitions();
    edited.featureViews[0]!.description = "Hourly driver statistics, now with more";
    writeFileSync(join(dir, "features", "drivers.json"), JSON.stringify(edited));
    o = await list();
    expect(o.views.map((v) => [v.name, v.changedSinceApply])).toEqual([
      ["driver_stats", true],
      ["driver_city", false],
      ["engineered", false],
    ]);
    const second = await call<{ views: { name: string; version: number; changed: boolean }[] }>(
      "applyFeatures",
    );
    expect(second.views[0]).toMatchObject({ name: "driver_stats", version: 2, changed: true });
    expect(second.views[1]).toMatchObject({ name: "driver_city", version: 1, changed: false });
    expect((await list()).views[0]).toMatchObject({ version: 2, changedSinceApply: false });
  });

  it("lists bad definitions as problems with file and path (200), and apply refuses them all at once (400)", async () => {
    const bad = definitions();
    (bad.featureViews[1] as { entities: string[] }).entities = ["rider"];
    bad.featureServices[0]!.features.push("driver_stats:speed");
    writeFileSync(join(dir, "features", "drivers.json"), JSON.stringify(bad));
    writeFileSync(join(dir, "features", "broken.json"), "{ not json");

    const o = await list();
    expect(o.problems).toEqual([
      { file: "features/broken.json", path: "", message: expect.stringMatching(/not valid JSON/) },
      {
        file: "features/drivers.json",
        path: "featureViews[1].entities[0]",
        message: expect.stringMatching(/unknown entity "rider"/),
      },
      {
        file: "features/drivers.json",
        path: "featureServices[0].features[3]",
        message: expect.stringMatching(/has no feature "speed"/),
      },
    ]);
    // What could be read is still listed; the view with an unknown entity has no join keys to show.
    expect(o.views.map((v) => v.name)).toEqual(["driver_stats", "driver_city", "engineered"]);
    expect(o.views[1]!.joinKeys).toEqual([]);
    expect(o.views[1]!.freshness.rows).toBe(3);

    const e = await failure(call("applyFeatures"));
    expect(e.status).toBe(400);
    expect(e.message).toMatch(/3 problems/);
    expect(e.message).toContain("features/broken.json");
    expect(e.message).toContain("features/drivers.json at featureViews[1].entities[0]");
    expect(e.message).toContain("features/drivers.json at featureServices[0].features[3]");
    expect(e.message).toMatch(/Fix features\/\*\.json/);
    // Nothing was recorded.
    expect((await list()).views.every((v) => v.version === null)).toBe(true);
  });

  it("shows a source that drifted from its view, and apply refuses it naming the column", async () => {
    writeFileSync(join(dir, "data", "city.csv"), "driver_id,ts,town\n1001,2026-01-01 00:00:00,Oslo\n");
    const city = (await list()).views[1]!;
    expect(city.freshness.rows).toBe(1);
    expect(city.freshness.newestEvent).toBe("2026-01-01T00:00:00.000Z");
    expect(city.freshness.sourceError).toMatch(/feature "city" is not a column of the source/);
    const e = await failure(call("applyFeatures"));
    expect(e.status).toBe(400);
    expect(e.message).toMatch(/Nothing applied.*\n.*driver_city/);
    expect(e.message).toMatch(/feature "city" is not a column/);
  });

  it("shows a source that lost a column its pushed rows still have, as apply refuses it", async () => {
    // A row pushed offline (Feast's /push "to": "offline") carries city; then the source loses it.
    const workspace = await Workspace.open({ path: ":memory:", allowedDirs: [dir] });
    try {
      const sql = await workspace.session();
      try {
        const repo = loadFeatureRepo(dir);
        await appendOfflineRows(
          { projectDir: dir, allowedDirs: [dir], sql },
          repo,
          repo.views.get("driver_city")!,
          {
            columns: new Map<string, unknown[]>([
              ["driver_id", [1003]],
              ["ts", ["2026-01-02T10:00:00Z"]],
              ["city", ["Quito"]],
            ]),
            rows: 1,
          },
        );
      } finally {
        sql.close();
      }
    } finally {
      workspace.close();
    }
    expect((await list()).views[1]!.freshness).toMatchObject({ rows: 4, sourceError: null });
    writeFileSync(join(dir, "data", "city.csv"), "driver_id,ts,town\n1001,2026-01-01 00:00:00,Oslo\n");
    const city = (await list()).views[1]!;
    // Both rows are counted, but the pushed rows' city does not hide the column the source lost.
    expect(city.freshness.rows).toBe(2);
    expect(city.freshness.sourceError).toMatch(/feature "city" is not a column of the source/);
    const e = await failure(call("applyFeatures"));
    expect(e.status).toBe(400);
    expect(e.message).toMatch(/feature "city" is not a column of the source/);
  });

  it("materialises a window, then incrementally; the lookup gives the latest rows in Feast's shape", async () => {
    await call("applyFeatures");
    const { records } = await call<{ records: FeatureMaterialization[] }>("materializeFeatures", {
      ...WINDOW,
      views: ["driver_stats", "driver_city"],
    });
    const expected = latestInWindow(WINDOW.start, WINDOW.end);
    expect(records.map((r) => [r.view, r.version, r.start, r.end, r.rows])).toEqual([
      ["driver_stats", 1, "2026-01-01T00:00:00.000Z", "2026-01-03T00:00:00.000Z", expected.size],
      // Oslo and Bergen for 1001 (the later wins), Lima for 1002.
      ["driver_city", 1, "2026-01-01T00:00:00.000Z", "2026-01-03T00:00:00.000Z", 2],
    ]);

    const answer = await call<OnlineFeaturesAnswer>("getOnlineFeatures", {
      features: ["driver_stats:conv_rate", "driver_stats:trips", "driver_city:city"],
      entities: { driver_id: [1001, 1002, 1003, 9999] },
    });
    const ZERO = "1970-01-01T00:00:00Z";
    const at = (id: number) => expected.get(id)!.event;
    // driver_stats' TTL is a day and its rows are from January: values kept, flagged OUTSIDE_MAX_AGE (Feast's FieldStatus).
    expect(answer).toEqual({
      metadata: { feature_names: ["driver_id", "conv_rate", "trips", "city"] },
      results: [
        {
          values: [1001, 1002, 1003, 9999],
          statuses: Array(4).fill("PRESENT"),
          event_timestamps: Array(4).fill(ZERO),
        },
        {
          values: [expected.get(1001)!.conv_rate, expected.get(1002)!.conv_rate, null, null],
          statuses: ["OUTSIDE_MAX_AGE", "OUTSIDE_MAX_AGE", "NOT_FOUND", "NOT_FOUND"],
          event_timestamps: [at(1001), at(1002), ZERO, ZERO],
        },
        {
          values: [expected.get(1001)!.trips, expected.get(1002)!.trips, null, null],
          statuses: ["OUTSIDE_MAX_AGE", "OUTSIDE_MAX_AGE", "NOT_FOUND", "NOT_FOUND"],
          event_timestamps: [at(1001), at(1002), ZERO, ZERO],
        },
        {
          values: ["Bergen", "Lima", null, null],
          statuses: ["PRESENT", "PRESENT", "NOT_FOUND", "NOT_FOUND"],
          event_timestamps: ["2026-01-02T09:00:00Z", "2026-01-02T08:00:00Z", ZERO, ZERO],
        },
      ],
    });
    expect(expected.get(1001)!.conv_rate).toBe(0.65);

    // By service, with full names: the service's features in its order, grouped by view.
    const byService = await call<OnlineFeaturesAnswer>("getOnlineFeatures", {
      service: "ranker",
      entities: { driver_id: [1002] },
      fullFeatureNames: true,
    });
    expect(byService.metadata.feature_names).toEqual([
      "driver_id",
      "driver_stats__conv_rate",
      "driver_stats__trips",
      "driver_city__city",
    ]);
    expect(byService.results.map((r) => r.values[0])).toEqual([1002, 0.3, 5, "Lima"]);

    // Incremental: from the last end (3 Jan) to 6 Jan picks up 1002's row of 5 Jan.
    const inc = await call<{ records: FeatureMaterialization[] }>("materializeFeatures", {
      incremental: true,
      end: "2026-01-06T00:00:00Z",
      views: ["driver_stats"],
    });
    expect(inc.records.map((r) => [r.view, r.start, r.end, r.rows])).toEqual([
      ["driver_stats", "2026-01-03T00:00:00.000Z", "2026-01-06T00:00:00.000Z", 1],
    ]);
    const later = await call<OnlineFeaturesAnswer>("getOnlineFeatures", {
      features: ["driver_stats:conv_rate"],
      entities: { driver_id: [1002] },
    });
    expect(later.results[1]!.values).toEqual([0.9]);

    const o = await list();
    expect(o.views[0]!.freshness.lastMaterialized).toEqual(inc.records[0]);
    expect(o.views[1]!.freshness.lastMaterialized).toEqual(records[1]);
    expect(o.views[2]!.freshness.lastMaterialized).toBeNull();
    // Newest first across views.
    expect(o.materializations.map((r) => [r.view, r.end])).toEqual([
      ["driver_stats", "2026-01-06T00:00:00.000Z"],
      ["driver_city", "2026-01-03T00:00:00.000Z"],
      ["driver_stats", "2026-01-03T00:00:00.000Z"],
    ]);
  });

  it("refuses bad materialisations: unknown views named, a block view without its table, bad windows", async () => {
    let e = await failure(
      call("materializeFeatures", { ...WINDOW, views: ["driver_stats", "nope", "gone"] }),
    );
    expect(e.status).toBe(400);
    expect(e.message).toMatch(
      /Unknown feature views "nope", "gone" \(known: driver_stats, driver_city, engineered\)/,
    );

    // Every online view, in name order: the block view fails last; the two before it are said to be done.
    e = await failure(call("materializeFeatures", WINDOW));
    expect(e.status).toBe(400);
    expect(e.message).toMatch(/"engineered" has no offline table yet.*run that pipeline first/);
    expect(e.message).toMatch(/Materialised before that: driver_city, driver_stats/);

    e = await failure(call("materializeFeatures", { start: WINDOW.end, end: WINDOW.start }));
    expect(e.status).toBe(400);
    expect(e.message).toMatch(/starts .* after it ends/);

    // The schema: a start unless incremental; ISO times only.
    e = await failure(call("materializeFeatures", { end: WINDOW.end }));
    expect(e.status).toBe(400);
    expect(e.message).toMatch(/needs a start/);
    e = await failure(call("materializeFeatures", { start: "yesterday", end: WINDOW.end }));
    expect(e.status).toBe(400);
    e = await failure(
      call("materializeFeatures", { incremental: true, start: WINDOW.start, end: WINDOW.end }),
    );
    expect(e.status).toBe(400);
    expect(e.message).toMatch(/leave out start/);
    e = await failure(call("materializeFeatures", { ...WINDOW, views: [] }));
    expect(e.status).toBe(400);
  });

  it("refuses bad lookups with what to fix; unknown keys are NOT_FOUND", async () => {
    const bad = async (args: unknown, pattern: RegExp) => {
      const e = await failure(call("getOnlineFeatures", args));
      expect(e.status).toBe(400);
      expect(e.message).toMatch(pattern);
    };
    const entities = { driver_id: [1001] };
    await bad(
      { features: ["driver_stats:speed"], entities },
      /feature view "driver_stats" has no feature "speed"/,
    );
    await bad({ features: ["riders:speed"], entities }, /unknown feature view "riders"/);
    await bad({ features: ["driver_stats"], entities }, /name each feature as view:feature/);
    await bad({ service: "nope", entities }, /Unknown feature service "nope" \(known: ranker, everything\)/);
    await bad(
      { features: ["driver_stats:trips"], entities: { rider_id: [1] } },
      /lacks the join key driver_id/,
    );
    await bad(
      { features: ["driver_stats:trips"], entities: { driver_id: [null] } },
      /not a number, string or boolean/,
    );
    // The schema: features or a service, not both nor neither; at least one entity row.
    await bad(
      { features: ["driver_stats:trips"], service: "ranker", entities },
      /either features .* or a service/,
    );
    await bad({ entities }, /either features .* or a service/);
    await bad({ features: ["driver_stats:trips"], entities: { driver_id: [] } }, /entities/);

    // The definitions are read again once their file changed: a view removed is unknown at once.
    const fewer = definitions();
    fewer.featureViews.splice(1, 1);
    fewer.featureServices.splice(0, 1);
    writeFileSync(join(dir, "features", "drivers.json"), JSON.stringify(fewer));
    await bad({ features: ["driver_city:city"], entities }, /unknown feature view "driver_city"/);

    const none = await call<OnlineFeaturesAnswer>("getOnlineFeatures", {
      features: ["driver_stats:trips"],
      entities: { driver_id: [1001] },
    });
    expect(none.results[1]).toEqual({
      values: [null],
      statuses: ["NOT_FOUND"],
      event_timestamps: ["1970-01-01T00:00:00Z"],
    });
  });

  it("lists the registered model versions that use each service, newest first, archived ones left out", async () => {
    const metadata = new SqliteMetadataStore(join(dir, ".dagwood", "metadata.sqlite"), { projectDir: dir });
    try {
      mkdirSync(join(dir, "out"));
      const files = writeTestModelFiles(join(dir, "out"), { kind: "test" }, "onnx-bytes");
      const register = (name: string, fingerprint: string, featureService: string | null) =>
        metadata.registry.registerVersion(
          testVersionInput({
            name,
            modelFingerprint: fingerprint,
            featureService,
            files: { native: files.native, onnx: files.onnx },
            alias: undefined,
          }),
        ).version;
      register("eta", "f1", "ranker");
      register("eta", "f2", null);
      const old = register("eta", "f3", "ranker");
      register("churn", "f4", "everything");
      const latest = register("eta", "f5", "ranker");
      expect(latest.version).toBe(4);
      metadata.registry.setAlias("eta", "champion", latest.version, "ana");
      metadata.registry.archiveVersion("eta", old.version, "ana");
    } finally {
      metadata.close();
    }
    const o = await list();
    expect(o.services.find((s) => s.name === "ranker")!.models).toEqual([
      { name: "eta", version: 4, aliases: ["champion"] },
      { name: "eta", version: 1, aliases: [] },
    ]);
    expect(o.services.find((s) => s.name === "everything")!.models).toEqual([
      { name: "churn", version: 1, aliases: [] },
    ]);
  });

  it("keeps the online store open for the project and closes it when another project is opened", async () => {
    const other = await makeProject();
    try {
      await call("getOnlineFeatures", { features: ["driver_city:city"], entities: { driver_id: [1] } });
      const storeFile = join(dir, ".dagwood", "online.sqlite");
      expect(openFiles()).toContain(storeFile);
      await call("openProject", { dir: other });
      expect(openFiles()).not.toContain(storeFile);
      // The new project's own store answers.
      const o = await list();
      expect(o.online.error).toBeNull();
      expect(openFiles()).toContain(join(other, ".dagwood", "online.sqlite"));
    } finally {
      await api.close();
      expect(openFiles().filter((f) => f.includes("online.sqlite"))).toEqual([]);
      rmSync(other, { recursive: true, force: true });
    }
  });
});

describe("the feature-store Api methods with the online store away", () => {
  it("lists with the store's error (200), refuses materialisations and lookups with 503, over HTTP too", async () => {
    const port = await closedPort();
    const dir = await makeProject({
      online: { kind: "redis", url: `redis://user:secret@127.0.0.1:${port}` },
    });
    const api = await createCoreApi({ catalog, projectDir: dir, monitorScheduler: false });
    const bridge = await startHttpBridge({ api });
    try {
      const o = (await api.call("listFeatures", {})) as FeaturesOverview;
      expect(o.online.kind).toBe("redis");
      expect(o.online.location).toBe(`redis://127.0.0.1:${port}`);
      expect(o.online.error).toMatch(
        new RegExp(`Redis online store at redis://127.0.0.1:${port}.*Start Redis or fix "online.url"`),
      );
      expect(o.online.error).not.toContain("secret");
      // The rest is there: the sources were read.
      expect(o.views[0]!.freshness.rows).toBe(STATS.length);

      await api.call("applyFeatures", {});
      const m = await failure(api.call("materializeFeatures", { ...WINDOW, views: ["driver_stats"] }));
      expect(m.status).toBe(503);
      expect(m.message).toMatch(/did not answer.*Nothing was half-written/);
      const g = await failure(
        api.call("getOnlineFeatures", { features: ["driver_stats:trips"], entities: { driver_id: [1001] } }),
      );
      expect(g.status).toBe(503);

      const res = await fetch(`${bridge.origin}/api/getOnlineFeatures`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-dagwood-token": bridge.token },
        body: JSON.stringify({ features: ["driver_stats:trips"], entities: { driver_id: [1001] } }),
      });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: string }).error).toMatch(/Start Redis/);
    } finally {
      await bridge.close();
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe("a real Redis that goes away", () => {
    let redis: TestRedis;
    beforeAll(async () => {
      redis = await startTestRedis();
    });
    afterAll(async () => {
      await redis.stop();
    });

    it("materialises into Redis and looks up from it; once Redis is killed, list says so and lookups are 503", async () => {
      const dir = await makeProject({ online: { kind: "redis", url: redis.url, keyPrefix: "fsapi-test" } });
      const api = await createCoreApi({ catalog, projectDir: dir, monitorScheduler: false });
      try {
        await api.call("applyFeatures", {});
        await api.call("materializeFeatures", { ...WINDOW, views: ["driver_city"] });
        const answer = (await api.call("getOnlineFeatures", {
          features: ["driver_city:city"],
          entities: { driver_id: [1001, 1002] },
        })) as OnlineFeaturesAnswer;
        expect(answer.results[1]!.values).toEqual(["Bergen", "Lima"]);
        let o = (await api.call("listFeatures", {})) as FeaturesOverview;
        expect(o.online).toEqual({ kind: "redis", location: `${redis.url}`, error: null });
        expect(o.views[1]!.freshness.lastMaterialized).toMatchObject({ view: "driver_city", rows: 2 });

        await redis.kill();
        o = (await api.call("listFeatures", {})) as FeaturesOverview;
        expect(o.online.error).toMatch(/did not answer/);
        expect(o.views[1]!.freshness.lastMaterialized).toBeNull();
        const e = await failure(
          api.call("getOnlineFeatures", { features: ["driver_city:city"], entities: { driver_id: [1001] } }),
        );
        expect(e.status).toBe(503);

        // Back again: the kept store connects anew and still holds what was materialised.
        await redis.restart();
        const again = (await api.call("getOnlineFeatures", {
          features: ["driver_city:city"],
          entities: { driver_id: [1001] },
        })) as OnlineFeaturesAnswer;
        expect(again.results[1]!.values).toEqual(["Bergen"]);
      } finally {
        await api.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});

describe("the overview's materialisation history", () => {
  it("lists at most 100, newest first across views; each view's last is the store's newest for it", async () => {
    const dir = await makeProject();
    mkdirSync(join(dir, ".dagwood"));
    const workspace = await Workspace.open({ path: ":memory:", allowedDirs: [dir] });
    const sql = await workspace.session();
    const metadata = new SqliteMetadataStore(join(dir, ".dagwood", "metadata.sqlite"), { projectDir: dir });
    try {
      // 150 records, 75 per view, an hour apart, handed over as the store does: by view, newest first per view.
      const record = (view: string, i: number): MaterializationRecord => ({
        view,
        version: 1,
        start: "2026-01-01T00:00:00.000Z",
        end: new Date(Date.parse("2026-01-01T00:00:00Z") + i * 3_600_000).toISOString(),
        rows: i,
        at: new Date(
          Date.parse("2026-02-01T00:00:00Z") + i * 3_600_000 + (view === "driver_city" ? 1 : 0),
        ).toISOString(),
        ms: 1,
      });
      const history = ["driver_city", "driver_stats"].flatMap((v) =>
        Array.from({ length: 75 }, (_, i) => record(v, 74 - i)),
      );
      const store = { materializations: async () => history } as unknown as OnlineStore;
      const o = await featuresOverview({
        dir,
        allowedDirs: [dir],
        settings: readProjectSettings(dir),
        metadata,
        sql,
        store: async () => store,
      });
      expect(o.materializations).toHaveLength(100);
      const all = [...history].sort((a, b) => Date.parse(b.at) - Date.parse(a.at));
      expect(o.materializations).toEqual(all.slice(0, 100));
      expect(o.materializations.slice(0, 2).map((r) => [r.view, r.rows])).toEqual([
        ["driver_city", 74],
        ["driver_stats", 74],
      ]);
      expect(o.views.find((v) => v.name === "driver_stats")!.freshness.lastMaterialized).toEqual(
        record("driver_stats", 74),
      );
    } finally {
      metadata.close();
      sql.close();
      workspace.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the overview from the project folder alone (for the CLI)", () => {
  it("creates nothing in a project never opened, and says what the Api says", async () => {
    const dir = await makeProject();
    try {
      const fresh = await readFeaturesOverview(dir);
      expect(existsSync(join(dir, ".dagwood"))).toBe(false);
      expect(fresh.views.map((v) => [v.name, v.version, v.freshness.rows])).toEqual([
        ["driver_stats", null, STATS.length],
        ["driver_city", null, 3],
        ["engineered", null, null],
      ]);
      const api = await createCoreApi({ catalog, projectDir: dir, monitorScheduler: false });
      let viaApi: FeaturesOverview;
      try {
        expect(await api.call("listFeatures", {})).toEqual(fresh);
        await api.call("applyFeatures", {});
        await api.call("materializeFeatures", { ...WINDOW, views: ["driver_city"] });
        viaApi = (await api.call("listFeatures", {})) as FeaturesOverview;
      } finally {
        await api.close();
      }
      expect(viaApi.materializations).toHaveLength(1);
      expect(await readFeaturesOverview(dir)).toEqual(viaApi);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the feature-store Api methods without a project", () => {
  it("answer 409 saying to open one", async () => {
    const api = await createCoreApi({ catalog, monitorScheduler: false });
    try {
      const e = await failure(api.call("listFeatures", {}));
      expect(e.status).toBe(409);
      expect(e.message).toMatch(/Open a project/);
    } finally {
      await api.close();
    }
  });
});
