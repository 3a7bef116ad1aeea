/**
 * The feature server against Feast's protocol: request bodies as Feast's
 * docs and tests send them (docs/reference/feature-servers/
 * python-feature-server.md, sdk/python/tests/unit/test_feature_server.py),
 * answers in the shape of Feast's GetOnlineFeaturesResponse
 * (protos/feast/serving/ServingService.proto), written out by hand here.
 * The online store is the real SQLite one.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseModelConfig } from "../serving/config";
import { createServer as createModelServer } from "../serving/server";
import { testServers } from "../serving/test-servers";
import { trainTestModel } from "../serving/testing";
import { pushedFiles } from "./offline-source";
import { RedisOnlineStore } from "./online/redis";
import { SqliteOnlineStore } from "./online/sqlite";
import { startTestRedis } from "./online/testing";
import { OnlineStoreError } from "./online/values";
import { openFeatureProject } from "./project";
import { loadFeatureRepo } from "./repo";
import { openProjectFeatureService } from "./serve-project";
import {
  createFeatureServer,
  entityInputs,
  type FeatureServer,
  type FeatureService,
  featureServeRoutes,
  getOnlineFeatures,
} from "./server";
import { FEATURES_FORMAT, type OnlineStore } from "./types";

const { tempDir, track } = testServers("dagwood-feature-server-");

const DEFINITIONS = {
  format: FEATURES_FORMAT,
  entities: [
    { name: "driver", joinKeys: ["driver_id"] },
    { name: "customer", joinKeys: ["customer_id"] },
  ],
  featureViews: [
    {
      name: "driver_hourly_stats",
      entities: ["driver"],
      ttl: "1d",
      source: {
        path: "data/driver_stats.parquet",
        timestampField: "event_timestamp",
        createdTimestampColumn: "created",
      },
      features: [
        { name: "conv_rate", type: "Float32" },
        { name: "acc_rate", type: "Float32" },
        { name: "avg_daily_trips", type: "Int64" },
      ],
    },
    {
      name: "driver_customer",
      entities: ["driver", "customer"],
      ttl: "0",
      source: { path: "data/pairs.parquet", timestampField: "ts" },
      features: [{ name: "trips_together", type: "Int64" }],
    },
  ],
  featureServices: [
    { name: "driver_activity", features: ["driver_hourly_stats:conv_rate", "driver_customer"] },
  ],
};

const T = Date.parse("2021-12-31T23:00:00Z");
const HOUR = 3_600_000;

const stores: OnlineStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

/** A project with the definitions and an online store holding drivers 1001 and 1002 (not 1003). */
async function setup(
  now = T + HOUR,
  open: (dir: string) => OnlineStore = (dir) => new SqliteOnlineStore(join(dir, "online.sqlite")),
): Promise<{ service: FeatureService; store: OnlineStore }> {
  const dir = tempDir();
  mkdirSync(join(dir, "features"));
  writeFileSync(join(dir, "features", "drivers.json"), JSON.stringify(DEFINITIONS));
  const store = open(dir);
  stores.push(store);
  const window = { version: 1, start: "2021-12-30T00:00:00Z", end: "2022-01-01T00:00:00Z" };
  await store.materialize(
    "driver_hourly_stats",
    [
      { key: "[1001]", values: { conv_rate: 0.5, acc_rate: 0.75, avg_daily_trips: 308 }, eventTs: T },
      {
        key: "[1002]",
        values: { conv_rate: 0.25, acc_rate: null, avg_daily_trips: 332 },
        eventTs: T - 2 * HOUR + 250,
      },
    ],
    { view: "driver_hourly_stats", ...window },
  );
  await store.materialize(
    "driver_customer",
    [{ key: '[1001,"c7"]', values: { trips_together: 4 }, eventTs: T - 30 * 86_400_000 }],
    { view: "driver_customer", ...window },
  );
  return { service: { repo: loadFeatureRepo(dir), store, now: () => now }, store };
}

async function serve(service: FeatureService, options: Parameters<typeof createFeatureServer>[1] = {}) {
  const server = createFeatureServer(service, { log: () => {}, ...options });
  await server.listen(0);
  servers.push(server);
  return server;
}
const servers: FeatureServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The request of Feast's python-feature-server docs, word for word. */
const FEAST_DOCS_REQUEST = {
  features: [
    "driver_hourly_stats:conv_rate",
    "driver_hourly_stats:acc_rate",
    "driver_hourly_stats:avg_daily_trips",
  ],
  entities: { driver_id: [1001, 1002, 1003] },
};

describe("POST /get-online-features", () => {
  it("answers Feast's documented request in Feast's shape: entity column first, a column per feature, statuses and timestamps", async () => {
    const { service } = await setup();
    const server = await serve(service);
    const { status, body } = await post(`${server.url}/get-online-features`, FEAST_DOCS_REQUEST);
    expect(status).toBe(200);
    expect(body).toEqual({
      metadata: { feature_names: ["driver_id", "conv_rate", "acc_rate", "avg_daily_trips"] },
      results: [
        {
          values: [1001, 1002, 1003],
          statuses: ["PRESENT", "PRESENT", "PRESENT"],
          event_timestamps: ["1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"],
        },
        {
          values: [0.5, 0.25, null],
          statuses: ["PRESENT", "PRESENT", "NOT_FOUND"],
          event_timestamps: ["2021-12-31T23:00:00Z", "2021-12-31T21:00:00.250Z", "1970-01-01T00:00:00Z"],
        },
        {
          values: [0.75, null, null],
          statuses: ["PRESENT", "PRESENT", "NOT_FOUND"],
          event_timestamps: ["2021-12-31T23:00:00Z", "2021-12-31T21:00:00.250Z", "1970-01-01T00:00:00Z"],
        },
        {
          values: [308, 332, null],
          statuses: ["PRESENT", "PRESENT", "NOT_FOUND"],
          event_timestamps: ["2021-12-31T23:00:00Z", "2021-12-31T21:00:00.250Z", "1970-01-01T00:00:00Z"],
        },
      ],
    });
  });

  it("names features view__feature with full_feature_names, and reads a feature service across views with composite keys", async () => {
    const { service } = await setup();
    const full = await getOnlineFeatures(service, { ...FEAST_DOCS_REQUEST, full_feature_names: true });
    expect(full.metadata.feature_names).toEqual([
      "driver_id",
      "driver_hourly_stats__conv_rate",
      "driver_hourly_stats__acc_rate",
      "driver_hourly_stats__avg_daily_trips",
    ]);
    // customer_id named before driver_id: the key is built in the view's join-key order all the same.
    const byService = await getOnlineFeatures(service, {
      feature_service: "driver_activity",
      entities: { customer_id: ["c7", "c7"], driver_id: [1001, 1002] },
    });
    expect(byService.metadata.feature_names).toEqual([
      "customer_id",
      "driver_id",
      "conv_rate",
      "trips_together",
    ]);
    expect(byService.results[2]!.values).toEqual([0.5, 0.25]);
    // ttl "0": a month-old row is still PRESENT.
    expect(byService.results[3]).toEqual({
      values: [4, null],
      statuses: ["PRESENT", "NOT_FOUND"],
      event_timestamps: ["2021-12-01T23:00:00Z", "1970-01-01T00:00:00Z"],
    });
  });

  it("marks rows older than the view's TTL OUTSIDE_MAX_AGE, keeping the value", async () => {
    // 1001's row is 23 h old, 1002's 25 h: the TTL is 1d.
    const { service } = await setup(T + 23 * HOUR);
    const r = await getOnlineFeatures(service, {
      features: ["driver_hourly_stats:conv_rate"],
      entities: { driver_id: [1001, 1002] },
    });
    expect(r.results[1]).toEqual({
      values: [0.5, 0.25],
      statuses: ["PRESENT", "OUTSIDE_MAX_AGE"],
      event_timestamps: ["2021-12-31T23:00:00Z", "2021-12-31T21:00:00.250Z"],
    });
  });

  it("writes every kind of value as JSON would, in the answer sent as text", async () => {
    const { service, store } = await setup();
    await store.materialize(
      "driver_hourly_stats",
      [
        {
          key: "[1004]",
          values: { conv_rate: 'say "hi"\\\n\u2028é', acc_rate: true, avg_daily_trips: 1e21 },
          eventTs: T,
        },
        { key: "[1005]", values: { conv_rate: -0, acc_rate: false, avg_daily_trips: 5e-7 }, eventTs: T },
      ],
      { view: "driver_hourly_stats", version: 1, start: "2021-12-30T00:00:00Z", end: "2022-01-01T00:00:00Z" },
    );
    const server = await serve(service);
    const request = { ...FEAST_DOCS_REQUEST, entities: { driver_id: [1004, 1005, 'x"y'] } };
    const res = await fetch(`${server.url}/get-online-features`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(request),
    });
    const text = await res.text();
    const stamps = ["2021-12-31T23:00:00Z", "2021-12-31T23:00:00Z", "1970-01-01T00:00:00Z"];
    const statuses = ["PRESENT", "PRESENT", "NOT_FOUND"];
    const expected = {
      metadata: { feature_names: ["driver_id", "conv_rate", "acc_rate", "avg_daily_trips"] },
      results: [
        {
          values: [1004, 1005, 'x"y'],
          statuses: ["PRESENT", "PRESENT", "PRESENT"],
          event_timestamps: Array(3).fill("1970-01-01T00:00:00Z"),
        },
        { values: ['say "hi"\\\n\u2028é', 0, null], statuses, event_timestamps: stamps },
        { values: [true, false, null], statuses, event_timestamps: stamps },
        { values: [1e21, 5e-7, null], statuses, event_timestamps: stamps },
      ],
    };
    expect(JSON.parse(text)).toEqual(expected);
    // Byte for byte what JSON.stringify writes for that answer.
    expect(text).toBe(JSON.stringify(expected));
    expect(res.headers.get("content-length")).toBe(String(Buffer.byteLength(text)));
  });

  it("checks each request of a shape answered before, and follows changed definitions", async () => {
    const { service, store } = await setup();
    const request = { features: ["driver_hourly_stats:acc_rate"], entities: { driver_id: [1001] } };
    expect((await getOnlineFeatures(service, request)).results[1]!.values).toEqual([0.75]);
    // The same shape again, with values that are not keys: still refused.
    await expect(getOnlineFeatures(service, { ...request, entities: { driver_id: [null] } })).rejects.toThrow(
      /not a number, string or boolean/,
    );
    // The same features with full names: named differently.
    const full = await getOnlineFeatures(service, { ...request, full_feature_names: true });
    expect(full.metadata.feature_names).toEqual(["driver_id", "driver_hourly_stats__acc_rate"]);
    expect((await getOnlineFeatures(service, request)).metadata.feature_names).toEqual([
      "driver_id",
      "acc_rate",
    ]);
    // Definitions reloaded without acc_rate (and a TTL of 1 s): the same request is refused, conv_rate is stale.
    const dir = tempDir();
    mkdirSync(join(dir, "features"));
    const [hourly, ...rest] = DEFINITIONS.featureViews;
    const changed = {
      ...DEFINITIONS,
      featureViews: [{ ...hourly!, ttl: "1s", features: hourly!.features.slice(0, 1) }, ...rest],
    };
    writeFileSync(join(dir, "features", "drivers.json"), JSON.stringify(changed));
    let repo = service.repo as ReturnType<typeof loadFeatureRepo>;
    const reloaded: FeatureService = { ...service, store, repo: () => repo };
    repo = loadFeatureRepo(dir);
    await expect(getOnlineFeatures(reloaded, request)).rejects.toThrow(/no feature "acc_rate"/);
    const conv = await getOnlineFeatures(reloaded, {
      ...request,
      features: ["driver_hourly_stats:conv_rate"],
    });
    expect(conv.results[1]!.statuses).toEqual(["OUTSIDE_MAX_AGE"]);
  });

  it("refuses unknown views, features and services with a 400 naming them", async () => {
    const { service } = await setup();
    const server = await serve(service);
    const url = `${server.url}/get-online-features`;
    const entities = { driver_id: [1001] };
    const cases: [unknown, RegExp][] = [
      [{ features: ["nope:conv_rate"], entities }, /nope/],
      [{ features: ["driver_hourly_stats:speed"], entities }, /no feature "speed"/],
      [{ feature_service: "ghost", entities }, /Unknown feature service "ghost"/],
      [{ features: ["driver_hourly_stats"], entities }, /view:feature/],
      [{ entities }, /name the features/],
      [
        { features: ["driver_hourly_stats:conv_rate"], feature_service: "driver_activity", entities },
        /not both/,
      ],
      [
        { features: ["driver_hourly_stats:conv_rate"], entities: { customer_id: ["c7"] } },
        /lacks the join key driver_id/,
      ],
      [
        { features: ["driver_hourly_stats:conv_rate"], entities: { driver_id: [1], rider_id: [2] } },
        /rider_id, not a join key/,
      ],
      [
        { features: ["driver_customer:trips_together"], entities: { driver_id: [1, 2], customer_id: ["a"] } },
        /differ in length/,
      ],
      [
        { features: ["driver_hourly_stats:conv_rate"], entities: { driver_id: [{ id: 1 }] } },
        /not a number, string or boolean/,
      ],
      [{ ...FEAST_DOCS_REQUEST, full_feature_names: "yes" }, /full_feature_names/],
    ];
    for (const [body, message] of cases) {
      const r = await post(url, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error).toMatch(message);
    }
  });

  it("answers bad JSON with 400, a body over the limit with 413, other paths and methods with 404 and 405", async () => {
    const { service } = await setup();
    const server = await serve(service, { maxBodyBytes: 1024 });
    const bad = await post(`${server.url}/get-online-features`, "{not json");
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/^malformed JSON/);
    const big = await post(`${server.url}/get-online-features`, {
      ...FEAST_DOCS_REQUEST,
      entities: { driver_id: Array.from({ length: 500 }, (_, i) => i) },
    });
    expect(big.status).toBe(413);
    expect(big.body.error).toMatch(/larger than 1024 bytes/);
    expect((await post(`${server.url}/get-online-featurez`, FEAST_DOCS_REQUEST)).status).toBe(404);
    const health = await fetch(`${server.url}/health`);
    expect([health.status, await health.text()]).toEqual([200, ""]);
    const get = await fetch(`${server.url}/get-online-features`);
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
  });

  it("needs the token only with inferToken, and refuses a foreign Origin", async () => {
    const { service } = await setup();
    const server = await serve(service, { token: "s3cret", inferToken: true });
    const url = `${server.url}/get-online-features`;
    expect((await post(url, FEAST_DOCS_REQUEST)).status).toBe(401);
    expect((await post(url, FEAST_DOCS_REQUEST, { authorization: "Bearer wrong" })).status).toBe(401);
    expect((await post(url, FEAST_DOCS_REQUEST, { authorization: "Bearer s3cret" })).status).toBe(200);
    const foreign = await post(url, FEAST_DOCS_REQUEST, {
      authorization: "Bearer s3cret",
      origin: "http://evil.example",
    });
    expect(foreign.status).toBe(403);
  });
});

/** Feast's test push body (sdk/python/tests/unit/test_feature_server.py push_body), our view as the push source. */
function pushBody(lat: number, at: string) {
  return {
    push_source_name: "driver_hourly_stats",
    df: {
      driver_id: [1003],
      conv_rate: [lat],
      acc_rate: [0.5],
      avg_daily_trips: [12],
      event_timestamp: [at],
      created: [at],
    },
    to: "online",
  };
}

describe("POST /push", () => {
  it("writes rows to the online store with the token, newer rows only; a lookup then finds them", async () => {
    const { service } = await setup();
    const server = await serve(service, { token: "s3cret" });
    const auth = { authorization: "Bearer s3cret" };
    expect((await post(`${server.url}/push`, pushBody(0.9, "2022-05-13 10:59:42"))).status).toBe(401);
    const ok = await post(`${server.url}/push`, pushBody(0.9, "2022-05-13 10:59:42"), auth);
    expect(ok).toEqual({ status: 200, body: null });
    // An older row for the same key does not replace it.
    expect((await post(`${server.url}/push`, pushBody(0.1, "2022-05-12T00:00:00Z"), auth)).status).toBe(200);
    const r = await getOnlineFeatures(service, {
      features: ["driver_hourly_stats:conv_rate"],
      entities: { driver_id: [1003] },
    });
    expect(r.results[1]).toEqual({
      values: [0.9],
      statuses: ["PRESENT"],
      event_timestamps: ["2022-05-13T10:59:42Z"],
    });
  });

  it("refuses a server without a token, unknown sources, and incomplete rows", async () => {
    const { service } = await setup();
    const open = await serve(service);
    const refused = await post(`${open.url}/push`, pushBody(0.9, "2022-05-13 10:59:42"));
    expect(refused.status).toBe(401);
    expect(refused.body.error).toMatch(/no token/);
    const server = await serve(service, { token: "s3cret" });
    const auth = { authorization: "Bearer s3cret" };
    const body = pushBody(0.9, "2022-05-13 10:59:42");
    const cases: [unknown, RegExp][] = [
      [{ ...body, push_source_name: "driver_locations_push" }, /unknown push source "driver_locations_push"/],
      [{ ...body, to: "both" }, /must be "online", "offline" or "online_and_offline"/],
      [{ ...body, df: { ...body.df, acc_rate: undefined } }, /lacks the feature acc_rate/],
      [{ ...body, df: { ...body.df, speed: [3] } }, /column speed, not in view/],
      [{ ...body, df: { ...body.df, event_timestamp: ["yesterday"] } }, /not a timestamp/],
      [{ ...body, df: { ...body.df, driver_id: [null] } }, /no value for a join key/],
      [{ ...body, df: { ...body.df, conv_rate: [1, 2] } }, /differ in length/],
    ];
    for (const [b, message] of cases) {
      const r = await post(`${server.url}/push`, b, auth);
      expect(r.status, JSON.stringify(b)).toBe(400);
      expect(r.body.error).toMatch(message);
    }
    const r = await getOnlineFeatures(service, {
      features: ["driver_hourly_stats:conv_rate"],
      entities: { driver_id: [1003] },
    });
    expect(r.results[1]!.statuses).toEqual(["NOT_FOUND"]);
  });

  it("refuses rows for the online store of an offline-only view, writing nowhere", async () => {
    const { service } = await setup();
    const dir = tempDir();
    mkdirSync(join(dir, "features"));
    const offlineOnly = structuredClone(DEFINITIONS);
    Object.assign(offlineOnly.featureViews[0]!, { online: false });
    writeFileSync(join(dir, "features", "drivers.json"), JSON.stringify(offlineOnly));
    const offlinePushes: string[] = [];
    const server = await serve(
      {
        ...service,
        repo: loadFeatureRepo(dir),
        pushOffline: async (_repo, view) => {
          offlinePushes.push(view.name);
          return 1;
        },
      },
      { token: "s3cret" },
    );
    const auth = { authorization: "Bearer s3cret" };
    const body = pushBody(0.9, "2022-05-13 10:59:42");
    for (const to of ["online", "online_and_offline"]) {
      const r = await post(`${server.url}/push`, { ...body, to }, auth);
      expect(r.status, to).toBe(400);
      expect(r.body.error).toMatch(
        /"driver_hourly_stats" is offline only \("online": false\).*push with "to": "offline"/,
      );
    }
    expect(offlinePushes).toEqual([]);
    const r = await getOnlineFeatures(service, {
      features: ["driver_hourly_stats:conv_rate"],
      entities: { driver_id: [1003] },
    });
    expect(r.results[1]!.statuses).toEqual(["NOT_FOUND"]);
    // Offline, the view takes them.
    expect(await post(`${server.url}/push`, { ...body, to: "offline" }, auth)).toEqual({
      status: 200,
      body: null,
    });
    expect(offlinePushes).toEqual(["driver_hourly_stats"]);
  });
});

describe("POST /push to the offline store", () => {
  /** A project with the definitions and one offline row (driver 1001, an hour before T) in its source file. */
  async function project(): Promise<string> {
    const dir = tempDir();
    mkdirSync(join(dir, "features"));
    mkdirSync(join(dir, "data"));
    writeFileSync(join(dir, "dagwood.json"), JSON.stringify({ name: "push-test" }));
    writeFileSync(join(dir, "features", "drivers.json"), JSON.stringify(DEFINITIONS));
    const p = await openFeatureProject(dir);
    try {
      await p.sql.run(
        `COPY (SELECT 1001::BIGINT AS driver_id, TIMESTAMP '2021-12-31 22:00:00' AS event_timestamp,
                      TIMESTAMP '2021-12-31 22:00:00' AS created, 0.5::FLOAT AS conv_rate, 0.75::FLOAT AS acc_rate,
                      308::BIGINT AS avg_daily_trips)
         TO '${join(dir, "data", "driver_stats.parquet")}' (FORMAT PARQUET)`,
      );
    } finally {
      p.close();
    }
    return dir;
  }

  const lookup = (service: FeatureService, id: number) =>
    getOnlineFeatures(service, {
      features: ["driver_hourly_stats:conv_rate"],
      entities: { driver_id: [id] },
    });

  it("appends offline rows that a materialisation then brings online; online_and_offline writes both", async () => {
    const dir = await project();
    // The rows' TTL is a day: look them up as of an hour after T.
    const service: FeatureService = { ...openProjectFeatureService(dir), now: () => T + HOUR };
    stores.push(service.store);
    const server = await serve(service, { token: "s3cret" });
    const auth = { authorization: "Bearer s3cret" };
    const offline = { ...pushBody(0.9, "2021-12-31 22:30:00"), to: "offline" };
    expect(await post(`${server.url}/push`, offline, auth)).toEqual({ status: 200, body: null });
    expect(pushedFiles(dir, "driver_hourly_stats")).toHaveLength(1);
    // Offline only: not online until materialised.
    expect((await lookup(service, 1003)).results[1]!.statuses).toEqual(["NOT_FOUND"]);
    const window = {
      start_ts: "2021-12-31T00:00:00Z",
      end_ts: "2022-01-01T00:00:00Z",
      feature_views: ["driver_hourly_stats"],
    };
    expect((await post(`${server.url}/materialize`, window, auth)).status).toBe(200);
    expect((await lookup(service, 1003)).results[1]).toEqual({
      values: [expect.closeTo(0.9, 6)],
      statuses: ["PRESENT"],
      event_timestamps: ["2021-12-31T22:30:00Z"],
    });
    expect((await lookup(service, 1001)).results[1]!.values).toEqual([0.5]);

    const both = { ...pushBody(0.25, "2021-12-31 23:30:00"), to: "online_and_offline" };
    both.df.driver_id = [1004];
    expect(await post(`${server.url}/push`, both, auth)).toEqual({ status: 200, body: null });
    expect(pushedFiles(dir, "driver_hourly_stats")).toHaveLength(2);
    expect((await lookup(service, 1004)).results[1]!.values).toEqual([0.25]);

    // A frame that does not fit the view's types: a 400 naming the column and row, nothing written anywhere.
    const bad = { ...pushBody(0.5, "2021-12-31 23:45:00"), to: "online_and_offline" };
    bad.df.driver_id = [1005];
    bad.df.avg_daily_trips = ["many" as unknown as number];
    const refused = await post(`${server.url}/push`, bad, auth);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatch(/column "avg_daily_trips", row 0: "many" is not/);
    expect(pushedFiles(dir, "driver_hourly_stats")).toHaveLength(2);
    expect((await lookup(service, 1005)).results[1]!.statuses).toEqual(["NOT_FOUND"]);
  });

  it("writes offline before online, says so when the online write then fails, and answers 501 without an offline store", async () => {
    const { service, store } = await setup();
    const calls: string[] = [];
    const away: OnlineStore = {
      ...store,
      kind: store.kind,
      get: (...a) => store.get(...a),
      materialize: (...a) => store.materialize(...a),
      materializations: (...a) => store.materializations(...a),
      close: async () => {},
      push: async () => {
        calls.push("online");
        throw new OnlineStoreError("The Redis online store at redis://127.0.0.1:1/ did not answer.");
      },
    };
    const server = await serve(
      {
        ...service,
        store: away,
        pushOffline: async (_repo, view, frame) => {
          calls.push(`offline ${view.name} ${frame.rows}`);
          return frame.rows;
        },
      },
      { token: "s3cret" },
    );
    const auth = { authorization: "Bearer s3cret" };
    const r = await post(
      `${server.url}/push`,
      { ...pushBody(0.9, "2022-05-13 10:59:42"), to: "online_and_offline" },
      auth,
    );
    expect(r.status).toBe(503);
    expect(r.body.error).toMatch(
      /did not answer\. The 1 row was written to the offline store of driver_hourly_stats/,
    );
    expect(r.body.error).toMatch(/next materialisation/);
    expect(calls).toEqual(["offline driver_hourly_stats 1", "online"]);
    // A frame the online store would refuse is refused before the offline write.
    calls.length = 0;
    const incomplete = { ...pushBody(0.9, "2022-05-13 10:59:42"), to: "online_and_offline" };
    const { acc_rate: _dropped, ...df } = incomplete.df;
    expect((await post(`${server.url}/push`, { ...incomplete, df }, auth)).status).toBe(400);
    expect(calls).toEqual([]);

    const plain = await serve(service, { token: "s3cret" });
    for (const to of ["offline", "online_and_offline"]) {
      const refused = await post(`${plain.url}/push`, { ...pushBody(0.9, "2022-05-13 10:59:42"), to }, auth);
      expect(refused.status).toBe(501);
      expect(refused.body.error).toMatch(/without the project's offline store/);
    }
  });
});

describe("POST /materialize and /materialize-incremental", () => {
  it("pass Feast's bodies to the materialiser, and check the views and times first", async () => {
    const { service } = await setup();
    const calls: unknown[] = [];
    const server = await serve(
      {
        ...service,
        materialize: async (o) =>
          void calls.push(["full", o.start.toISOString(), o.end.toISOString(), o.views]),
        materializeIncremental: async (o) => void calls.push(["incremental", o.end.toISOString(), o.views]),
      },
      { token: "s3cret" },
    );
    const auth = { authorization: "Bearer s3cret" };
    const full = { start_ts: "2021-12-30T00:00:00", end_ts: "2022-01-01T00:00:00+01:00" };
    expect((await post(`${server.url}/materialize`, full)).status).toBe(401);
    expect(await post(`${server.url}/materialize`, full, auth)).toEqual({ status: 200, body: null });
    const inc = { end_ts: "2022-01-02T00:00:00Z", feature_views: ["driver_customer"] };
    expect(await post(`${server.url}/materialize-incremental`, inc, auth)).toEqual({
      status: 200,
      body: null,
    });
    expect(calls).toEqual([
      ["full", "2021-12-30T00:00:00.000Z", "2021-12-31T23:00:00.000Z", undefined],
      ["incremental", "2022-01-02T00:00:00.000Z", ["driver_customer"]],
    ]);
    const cases: [string, unknown, RegExp][] = [
      [
        "materialize",
        { ...full, feature_views: ["ghost"] },
        /unknown feature view ghost in "feature_views": .*\(known: driver_hourly_stats, driver_customer\)/,
      ],
      ["materialize", { start_ts: "soon", end_ts: full.end_ts }, /"start_ts" is not a time/],
      ["materialize", { start_ts: "2023-01-01T00:00:00Z", end_ts: "2022-01-01T00:00:00Z" }, /after/],
      ["materialize-incremental", {}, /"end_ts" must be an ISO 8601 time/],
    ];
    for (const [path, body, message] of cases) {
      const r = await post(`${server.url}/${path}`, body, auth);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error).toMatch(message);
    }
    expect(calls).toHaveLength(2);
  });

  it("answers 501 on a server started without a materialiser", async () => {
    const { service } = await setup();
    const server = await serve(service, { token: "s3cret" });
    const r = await post(
      `${server.url}/materialize-incremental`,
      { end_ts: "2022-01-02T00:00:00Z" },
      { authorization: "Bearer s3cret" },
    );
    expect(r.status).toBe(501);
    expect(r.body.error).toMatch(/not available on this server/);
  });
});

describe("mounted in dagwood serve", () => {
  it("serves the feature routes beside V2, with the model server's token rules and infer body limit", async () => {
    const { service } = await setup();
    const server = track(
      createModelServer({
        repository: join(tempDir(), "models"),
        token: "s3cret",
        maxInferBytes: 2048,
        log: () => {},
        routes: featureServeRoutes(service),
      }),
    );
    const url = await server.listen(0);
    expect((await fetch(`${url}/v2/health/live`)).status).toBe(200);
    expect((await fetch(`${url}/health`)).status).toBe(200);
    const lookup = await post(`${url}/get-online-features`, FEAST_DOCS_REQUEST);
    expect(lookup.status).toBe(200);
    expect((lookup.body.metadata as { feature_names: string[] }).feature_names).toEqual([
      "driver_id",
      "conv_rate",
      "acc_rate",
      "avg_daily_trips",
    ]);
    expect((await post(`${url}/push`, pushBody(0.9, "2022-05-13 10:59:42"))).status).toBe(401);
    const pushed = await post(`${url}/push`, pushBody(0.9, "2022-05-13 10:59:42"), {
      authorization: "Bearer s3cret",
    });
    expect(pushed.status).toBe(200);
    const big = await post(`${url}/get-online-features`, {
      ...FEAST_DOCS_REQUEST,
      entities: { driver_id: Array.from({ length: 1000 }, (_, i) => i) },
    });
    expect(big.status).toBe(413);
    const bad = await post(`${url}/get-online-features`, "[1,");
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/malformed JSON/);
  });
});

describe("inference by entity", () => {
  const SHOP_DEFINITIONS = {
    format: FEATURES_FORMAT,
    entities: [{ name: "shop", joinKeys: ["shop_id"] }],
    featureViews: [
      {
        name: "shop_stats",
        entities: ["shop"],
        ttl: "1h",
        source: { path: "data/shops.parquet", timestampField: "ts" },
        features: [
          { name: "x", type: "Float64" },
          { name: "color", type: "String" },
        ],
      },
    ],
    featureServices: [{ name: "shop_model", features: ["shop_stats"] }],
  };

  async function shopServer(featureService?: string) {
    const dir = tempDir();
    mkdirSync(join(dir, "features"));
    writeFileSync(join(dir, "features", "shops.json"), JSON.stringify(SHOP_DEFINITIONS));
    const store = new SqliteOnlineStore(join(dir, "online.sqlite"));
    stores.push(store);
    await store.push("shop_stats", [
      { key: "[1]", values: { x: 7.5, color: "red" }, eventTs: T },
      { key: "[2]", values: { x: 2.25, color: "blue" }, eventTs: T - 2 * HOUR },
    ]);
    const service: FeatureService = { repo: loadFeatureRepo(dir), store, now: () => T + 1000 };
    const server = track(
      createModelServer({
        repository: join(dir, "models"),
        token: "s3cret",
        log: () => {},
        routes: featureServeRoutes(service),
        entityInputs: (name, inputs, entities, given) => entityInputs(service, name, inputs, entities, given),
      }),
    );
    const url = await server.listen(0);
    const { bytes } = await trainTestModel();
    const config = featureService
      ? { parameters: { feature_service: { string_value: featureService } } }
      : undefined;
    const load = await post(
      `${url}/v2/repository/models/shop/load`,
      {
        parameters: {
          ...(config ? { config: JSON.stringify(config) } : {}),
          "file:1/model.onnx": Buffer.from(bytes).toString("base64"),
        },
      },
      { authorization: "Bearer s3cret" },
    );
    expect(load.status, JSON.stringify(load.body)).toBe(200);
    const meta = (await (await fetch(`${url}/v2/models/shop`)).json()) as {
      inputs: { name: string; datatype: string }[];
    };
    return { url, xType: meta.inputs.find((i) => i.name === "x")!.datatype };
  }

  it("fills the model's inputs from the feature service and says which rows were missing or stale", async () => {
    const { url, xType } = await shopServer("shop_model");
    const byEntity = await post(`${url}/v2/models/shop/infer`, {
      parameters: { entities: { shop_id: [1, 2, 3] } },
    });
    expect(byEntity.status, JSON.stringify(byEntity.body)).toBe(200);
    expect(byEntity.body.parameters).toEqual({
      features_not_found: JSON.stringify({ x: [2], color: [2] }),
      features_outside_max_age: JSON.stringify({ x: [1], color: [1] }),
    });
    // The same rows given by hand (a missing value as V2 JSON writes it: null) get the same answer.
    const byHand = await post(`${url}/v2/models/shop/infer`, {
      inputs: [
        { name: "x", datatype: xType, shape: [3, 1], data: [7.5, 2.25, null] },
        { name: "color", datatype: "BYTES", shape: [3, 1], data: ["red", "blue", null] },
      ],
    });
    expect(byHand.status).toBe(200);
    expect(byEntity.body.outputs).toEqual(byHand.body.outputs);
    // An input the request gives itself is kept; only the others come from the store.
    const mixed = await post(`${url}/v2/models/shop/infer`, {
      inputs: [{ name: "color", datatype: "BYTES", shape: [2, 1], data: ["red", "blue"] }],
      parameters: { entities: { shop_id: [2, 1] } },
    });
    const mixedByHand = await post(`${url}/v2/models/shop/infer`, {
      inputs: [
        { name: "x", datatype: xType, shape: [2, 1], data: [2.25, 7.5] },
        { name: "color", datatype: "BYTES", shape: [2, 1], data: ["red", "blue"] },
      ],
    });
    expect(mixed.body.outputs).toEqual(mixedByHand.body.outputs);
    expect(mixed.body.parameters).toEqual({
      features_not_found: "{}",
      features_outside_max_age: '{"x":[0]}',
    });
  });

  it("checks the config's feature_service parameter when the model is loaded", () => {
    expect(
      parseModelConfig({ parameters: { feature_service: { string_value: "shop_model" } } }, "m"),
    ).toEqual({
      warmup: [],
      featureService: "shop_model",
    });
    // Other Triton parameters pass untouched.
    expect(parseModelConfig({ parameters: { other: { string_value: "x" } } }, "m")).toEqual({ warmup: [] });
    for (const bad of [
      { feature_service: "shop_model" },
      { feature_service: { string_value: "no spaces" } },
    ]) {
      expect(() => parseModelConfig({ parameters: bad }, "m")).toThrow(/must be \{"string_value"/);
    }
    expect(() => parseModelConfig({ parameters: [] }, "m")).toThrow(/"parameters" must be an object/);
  });

  it("refuses a model without a feature service, and bad entities, with a 400 saying what to do", async () => {
    const plain = await shopServer();
    const r = await post(`${plain.url}/v2/models/shop/infer`, { parameters: { entities: { shop_id: [1] } } });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/not registered with a feature service.*feature_service/);
    const { url } = await shopServer("shop_model");
    const cases: [unknown, RegExp][] = [
      [{ parameters: { entities: { store_id: [1] } } }, /lacks the join key shop_id/],
      [{ parameters: { entities: [1] } }, /"entities" must be an object/],
      [{ parameters: "entities" }, /"parameters" must be an object/],
    ];
    for (const [body, message] of cases) {
      const bad = await post(`${url}/v2/models/shop/infer`, body);
      expect(bad.status, JSON.stringify(body)).toBe(400);
      expect(bad.body.error).toMatch(message);
    }
  });
});

describe("over a Redis online store", () => {
  let redis: Awaited<ReturnType<typeof startTestRedis>>;
  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });
  const openRedis = () =>
    new RedisOnlineStore({ url: redis.url, keyPrefix: `fs${Math.random()}`, connectTimeout: 500 });

  it("answers Feast's documented request the same, and a push lands", async () => {
    const { service } = await setup(T + HOUR, openRedis);
    const server = await serve(service, { token: "s3cret" });
    const r = await post(`${server.url}/get-online-features`, FEAST_DOCS_REQUEST);
    expect(r.status).toBe(200);
    expect((r.body.results as { values: unknown[] }[]).map((c) => c.values)).toEqual([
      [1001, 1002, 1003],
      [0.5, 0.25, null],
      [0.75, null, null],
      [308, 332, null],
    ]);
    const pushed = await post(`${server.url}/push`, pushBody(0.9, "2022-05-13 10:59:42"), {
      authorization: "Bearer s3cret",
    });
    expect(pushed.status).toBe(200);
    const after = await getOnlineFeatures(service, FEAST_DOCS_REQUEST);
    expect(after.results[1]!.values).toEqual([0.5, 0.25, 0.9]);
  });

  it("answers 503 with the store's message while Redis is away, and serves again once it is back", async () => {
    const { service } = await setup(T + HOUR, openRedis);
    const server = await serve(service, { token: "s3cret" });
    await redis.kill();
    try {
      const r = await post(`${server.url}/get-online-features`, FEAST_DOCS_REQUEST);
      expect(r.status).toBe(503);
      expect(r.body.error).toMatch(/redis/i);
      const p = await post(`${server.url}/push`, pushBody(0.9, "2022-05-13 10:59:42"), {
        authorization: "Bearer s3cret",
      });
      expect(p.status).toBe(503);
    } finally {
      await redis.restart();
    }
    const again = await getOnlineFeatures(service, FEAST_DOCS_REQUEST);
    expect(again.results[1]!.values).toEqual([0.5, 0.25, null]);
  });
});
