import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { literal } from "../data/sql";
import { createTestProject, type TestProject } from "../engine/testing";
import { MaterializeError, type MaterializeTarget, materialize, materializeIncremental } from "./materialize";
import { FeatureSourceError } from "./offline-source";
import { RedisOnlineStore } from "./online/redis";
import { SqliteOnlineStore } from "./online/sqlite";
import { startTestRedis, type TestRedis } from "./online/testing";
import { entityKey } from "./online/values";
import { loadFeatureRepo } from "./repo";
import { FEATURES_FORMAT, type OnlineStore } from "./types";

const ROOT = join(import.meta.dirname, "..", "..");
const CHILD = join(import.meta.dirname, "fixtures", "materialize-child.ts");

const DEFS = {
  format: FEATURES_FORMAT,
  entities: [
    { name: "driver", joinKeys: ["driver_id"] },
    { name: "customer", joinKeys: ["customer_id"] },
  ],
  featureViews: [
    {
      name: "driver_stats",
      entities: ["driver"],
      ttl: "1d",
      source: {
        path: "data/driver_stats.parquet",
        timestampField: "event_timestamp",
        createdTimestampColumn: "created",
      },
      features: [
        { name: "conv_rate", type: "Float64" },
        { name: "trips", type: "Int64" },
        { name: "city", type: "String" },
        { name: "active", type: "Bool" },
      ],
    },
    {
      name: "pair",
      entities: ["driver", "customer"],
      ttl: "0",
      source: { path: "data/pair.csv", timestampField: "ts" },
      features: [{ name: "affinity", type: "Float64" }],
    },
    {
      name: "archive",
      entities: ["driver"],
      ttl: "0",
      online: false,
      source: { path: "data/pair.csv", timestampField: "ts" },
      features: [{ name: "affinity", type: "Float64" }],
    },
  ],
};

const iso = (t: string) => new Date(t);

/** Deterministic driver rows with late and duplicate (key, event time) rows, and a few null keys. */
function driverCsv(n: number, seed: number): string {
  let s = seed;
  const rand = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  const lines = ["driver_id,event_timestamp,created,conv_rate,trips,city,active"];
  for (let i = 0; i < n; i++) {
    const id = i % 17 === 0 ? "" : String(1000 + Math.floor(rand() * 40));
    const hour = Math.floor(rand() * 72);
    const ts = new Date(Date.UTC(2026, 0, 1, hour)).toISOString();
    // Created between 0 and 5 h after the event: a duplicate (key, event time) differs in created.
    const created = new Date(Date.UTC(2026, 0, 1, hour, i % 300)).toISOString();
    lines.push(
      `${id},${ts},${created},${rand().toFixed(6)},${Math.floor(rand() * 1000)},${["ber", "par", "rom"][i % 3]},${rand() < 0.5}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** pandas' latest row per key in [start, end] (Feast's BETWEEN), the latest created winning ties: key → [event ms, values]. */
function pandasLatest(
  csv: string,
  start: string,
  end: string,
): Record<string, [number, Record<string, unknown>]> {
  const script = `
import json, sys
import pandas as pd
df = pd.read_csv(sys.argv[1], dtype={"driver_id": "Int64"})
for c in ["event_timestamp", "created"]:
    df[c] = pd.to_datetime(df[c], utc=True)
start, end = pd.Timestamp(sys.argv[2]), pd.Timestamp(sys.argv[3])
df = df[df["driver_id"].notna() & (df["event_timestamp"] >= start) & (df["event_timestamp"] <= end)]
df = df.sort_values(["event_timestamp", "created"], kind="stable").groupby("driver_id").tail(1)
out = {}
for r in df.itertuples():
    out[json.dumps([int(r.driver_id)], separators=(",", ":"))] = [
        int(r.event_timestamp.value // 1_000_000),
        {"conv_rate": float(r.conv_rate), "trips": int(r.trips), "city": r.city, "active": bool(r.active)},
    ]
print(json.dumps(out))
`;
  return JSON.parse(execFileSync("/usr/bin/python3", ["-c", script, csv, start, end], { encoding: "utf8" }));
}

const stores: OnlineStore[] = [];
let redis: TestRedis | undefined;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});

let p: TestProject;
let csvPath: string;

async function writeDrivers(csv: string): Promise<void> {
  writeFileSync(csvPath, csv);
  await p.sql.run(
    `COPY (SELECT * FROM read_csv(${literal(csvPath)}, types = {'driver_id': 'BIGINT'})) TO ${literal(join(p.dir, "data", "driver_stats.parquet"))} (FORMAT parquet)`,
  );
}

function project(store: OnlineStore): MaterializeTarget {
  return {
    projectDir: p.dir,
    allowedDirs: [p.dir],
    repo: loadFeatureRepo(p.dir),
    store,
    sql: p.sql,
    viewVersion: () => 3,
  };
}

beforeEach(async () => {
  p = await createTestProject();
  mkdirSync(join(p.dir, "features"));
  writeFileSync(join(p.dir, "features", "drivers.json"), JSON.stringify(DEFS));
  csvPath = join(p.dir, "data", "drivers.csv");
  await writeDrivers(driverCsv(3000, 7));
  writeFileSync(
    join(p.dir, "data", "pair.csv"),
    "driver_id,customer_id,ts,affinity\n1,a,2026-01-01T00:00:00Z,0.1\n1,a,2026-01-02T00:00:00Z,0.2\n1,b,2026-01-01T00:00:00Z,0.3\n",
  );
});
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  await p.close();
});

const backends = [
  { name: "sqlite", open: () => new SqliteOnlineStore(join(p.dir, ".dagwood-online.sqlite")) },
  { name: "redis", open: () => new RedisOnlineStore({ url: redis!.url, keyPrefix: `m${Math.random()}` }) },
];

describe.each(backends)("materialising into the $name store", (backend) => {
  const open = () => {
    const s = backend.open();
    stores.push(s);
    return s;
  };

  it("writes the latest row per key in the window, as pandas computes it independently", async () => {
    const store = open();
    const start = "2026-01-01T12:00:00.000Z";
    const end = "2026-01-02T18:00:00.000Z";
    const done = await materialize(project(store), {
      start: iso(start),
      end: iso(end),
      views: ["driver_stats"],
    });
    const expected = pandasLatest(csvPath, start, end);
    const keys = Object.keys(expected);
    expect(keys.length).toBeGreaterThan(30);
    expect(done).toEqual([
      expect.objectContaining({ view: "driver_stats", version: 3, start, end, rows: keys.length }),
    ]);
    const missing = [entityKey([999]), entityKey([1000 + 41])];
    const got = await store.get(
      "driver_stats",
      [...keys, ...missing],
      ["conv_rate", "trips", "city", "active"],
    );
    expect(got.slice(keys.length)).toEqual([null, null]);
    for (let i = 0; i < keys.length; i++) {
      const [ts, values] = expected[keys[i]!]!;
      expect([keys[i], got[i]!.eventTs]).toEqual([keys[i], ts]);
      expect(got[i]!.values.conv_rate).toBeCloseTo(values.conv_rate as number, 9);
      expect({ ...got[i]!.values, conv_rate: 0 }).toEqual({ ...values, conv_rate: 0 });
    }
    expect((await store.materializations("driver_stats"))[0]).toMatchObject({
      start,
      end,
      rows: keys.length,
    });
  });

  it("materialises every online view by default, keyed by all join keys in order, and never an offline-only one", async () => {
    const store = open();
    const done = await materialize(project(store), {
      start: iso("2025-12-01T00:00:00Z"),
      end: iso("2026-02-01T00:00:00Z"),
    });
    expect(done.map((d) => d.view)).toEqual(["driver_stats", "pair"]);
    const got = await store.get(
      "pair",
      [entityKey([1, "a"]), entityKey([1, "b"]), entityKey(["a", 1])],
      ["affinity"],
    );
    expect(got.map((g) => g?.values.affinity ?? null)).toEqual([0.2, 0.3, null]);
    expect(await store.materializations("archive")).toEqual([]);
  });

  it("keeps every Feast type as JSON: Int64 past 2^53 as text, times as epoch ms, bytes as base64, NaN as null", async () => {
    const store = open();
    const defs = {
      format: FEATURES_FORMAT,
      entities: [{ name: "thing", joinKeys: ["id"] }],
      featureViews: [
        {
          name: "typed",
          entities: ["thing"],
          ttl: "0",
          source: { path: "data/typed.parquet", timestampField: "ts" },
          features: [
            { name: "i32", type: "Int32" },
            { name: "i64", type: "Int64" },
            { name: "f32", type: "Float32" },
            { name: "s", type: "String" },
            { name: "b", type: "Bool" },
            { name: "when", type: "UnixTimestamp" },
            { name: "raw", type: "Bytes" },
          ],
        },
      ],
    };
    writeFileSync(join(p.dir, "features", "typed.json"), JSON.stringify(defs));
    await p.sql.run(
      `COPY (SELECT 'x/1' AS id, TIMESTAMPTZ '2026-01-01 02:00:00+02' AS ts, 7::INTEGER AS i32, 9007199254740993::BIGINT AS i64,
        'NaN'::FLOAT AS f32, 'é"' AS s, false AS b, TIMESTAMP '2026-01-01 00:00:01.5' AS "when", '\\xFF\\x00a'::BLOB AS raw)
        TO ${literal(join(p.dir, "data", "typed.parquet"))} (FORMAT parquet)`,
    );
    await materialize(project(store), {
      start: iso("2026-01-01T00:00:00Z"),
      end: iso("2026-01-01T00:00:00Z"),
      views: ["typed"],
    });
    const [got] = await store.get(
      "typed",
      [entityKey(["x/1"])],
      ["i32", "i64", "f32", "s", "b", "when", "raw"],
    );
    expect(got).toEqual({
      eventTs: Date.parse("2026-01-01T00:00:00Z"),
      values: {
        i32: 7,
        i64: "9007199254740993",
        f32: null,
        s: 'é"',
        b: false,
        when: Date.parse("2026-01-01T00:00:01.500Z"),
        raw: Buffer.from([0xff, 0x00, 0x61]).toString("base64"),
      },
    });
  });

  it("goes on from the last materialised end, else from end − TTL (or the epoch without one)", async () => {
    const store = open();
    const fp = project(store);
    const first = await materializeIncremental(fp, { end: iso("2026-01-02T00:00:00Z") });
    expect(first.map((r) => [r.view, r.start, r.end])).toEqual([
      ["driver_stats", "2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z"],
      ["pair", "1970-01-01T00:00:00.000Z", "2026-01-02T00:00:00.000Z"],
    ]);
    const second = await materializeIncremental(fp, { end: iso("2026-01-03T00:00:00Z"), views: ["pair"] });
    expect(second.map((r) => [r.view, r.start, r.end])).toEqual([
      ["pair", "2026-01-02T00:00:00.000Z", "2026-01-03T00:00:00.000Z"],
    ]);
    // Already up to date: nothing to do.
    expect(await materializeIncremental(fp, { end: iso("2026-01-03T00:00:00Z"), views: ["pair"] })).toEqual(
      [],
    );
    expect((await store.materializations("pair")).map((m) => m.end)).toEqual([
      "2026-01-03T00:00:00.000Z",
      "2026-01-02T00:00:00.000Z",
    ]);
  });

  it("refuses a source whose schema drifted from the view, writing nothing", async () => {
    const store = open();
    await p.sql.run(
      `COPY (SELECT driver_id, event_timestamp, created, conv_rate, CAST(trips AS VARCHAR) AS trips, city FROM read_csv(${literal(csvPath)})) TO ${literal(join(p.dir, "data", "driver_stats.parquet"))} (FORMAT parquet)`,
    );
    const run = materialize(project(store), {
      start: iso("2026-01-01T00:00:00Z"),
      end: iso("2026-01-04T00:00:00Z"),
    });
    await expect(run).rejects.toThrow(FeatureSourceError);
    await expect(run).rejects.toThrow(
      /feature "trips" is declared Int64 but the source's column is VARCHAR[\s\S]*feature "active" is not a column/,
    );
    expect(await store.materializations()).toEqual([]);
  });

  it("refuses rows sharing keys and event time in the window when no created column chooses, writing nothing", async () => {
    const store = open();
    writeFileSync(
      join(p.dir, "data", "pair.csv"),
      "driver_id,customer_id,ts,affinity\n1,a,2026-01-01T00:00:00Z,0.1\n1,a,2026-01-03T00:00:00Z,0.2\n1,a,2026-01-03T00:00:00Z,0.4\n",
    );
    const run = materialize(project(store), {
      start: iso("2026-01-02T00:00:00Z"),
      end: iso("2026-01-04T00:00:00Z"),
      views: ["pair"],
    });
    await expect(run).rejects.toThrow(MaterializeError);
    await expect(run).rejects.toThrow(
      /Feature view "pair" has 2 rows with the same keys and event time \(driver_id=1, customer_id="a", ts=2026-01-03T00:00:00.000Z\), and no created-timestamp column to choose among them: add "createdTimestampColumn"/,
    );
    expect(await store.materializations()).toEqual([]);
    // Outside the window the duplicates do not matter.
    await materialize(project(store), {
      start: iso("2026-01-01T00:00:00Z"),
      end: iso("2026-01-02T00:00:00Z"),
      views: ["pair"],
    });
    expect((await store.get("pair", [entityKey([1, "a"])], ["affinity"]))[0]?.values).toEqual({
      affinity: 0.1,
    });
  });

  it("says what is wrong with the request: unknown or offline-only views, a window backwards, a time that is not one", async () => {
    const store = open();
    const fp = project(store);
    const window = { start: iso("2026-01-01T00:00:00Z"), end: iso("2026-01-02T00:00:00Z") };
    await expect(materialize(fp, { ...window, views: ["nope", "driver_stats"] })).rejects.toThrow(
      'Unknown feature view "nope" (known: driver_stats, pair, archive)',
    );
    await expect(materialize(fp, { ...window, views: ["archive"] })).rejects.toThrow(
      /"archive" is offline only \("online": false\)/,
    );
    await expect(materialize(fp, { start: window.end, end: window.start })).rejects.toThrow(MaterializeError);
    await expect(materializeIncremental(fp, { end: new Date("soon") })).rejects.toThrow(
      "The end of the window is not a time",
    );
    expect(await store.materializations()).toEqual([]);
  });
});

describe.each(backends)("a materialisation into the $name store killed mid-way (kill -9)", (backend) => {
  it("changes nothing: readers keep the old values and no materialisation is recorded", async () => {
    const keyPrefix = `k${Math.random()}`;
    const dbPath = join(p.dir, ".dagwood-online.sqlite");
    const openStore = () =>
      backend.name === "sqlite"
        ? new SqliteOnlineStore(dbPath)
        : new RedisOnlineStore({ url: redis!.url, keyPrefix });
    // 30,000 distinct drivers, so the rows reach the store in several chunks.
    const csv = (v: number) =>
      `driver_id,event_timestamp,created,conv_rate,trips,city,active\n${Array.from(
        { length: 30_000 },
        (_, i) => `${i},2026-01-01T0${v}:00:00Z,2026-01-01T0${v}:00:00Z,${v},${i},x,true`,
      ).join("\n")}\n`;
    await writeDrivers(csv(1));
    const store = openStore();
    stores.push(store);
    const window = {
      start: iso("2026-01-01T00:00:00Z"),
      end: iso("2026-01-02T00:00:00Z"),
      views: ["driver_stats"],
    };
    await materialize(project(store), window);
    await writeDrivers(csv(2));

    const child: ChildProcess = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        CHILD,
        p.dir,
        backend.name === "sqlite" ? `sqlite:${dbPath}` : `${redis!.url}#${keyPrefix}`,
      ],
      { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on("data", (d) => {
        output += d;
        if (output.includes("chunk 2 taken")) resolve();
      });
      child.stderr!.on("data", (d) => (output += d));
      child.on("exit", (code) =>
        reject(new Error(`the child exited ${code} before it was killed:\n${output}`)),
      );
    });
    await new Promise<void>((resolve) => {
      child.removeAllListeners("exit");
      child.on("exit", () => resolve());
      child.kill("SIGKILL");
    });

    const keys = [0, 12_345, 29_999].map((k) => entityKey([k]));
    const got = await store.get("driver_stats", keys, ["conv_rate"]);
    expect(got.map((g) => [g!.values.conv_rate, new Date(g!.eventTs).toISOString()])).toEqual(
      keys.map(() => [1, "2026-01-01T01:00:00.000Z"]),
    );
    expect((await store.materializations("driver_stats")).length).toBe(1);

    // Run again to the end: the new values are all there.
    await materialize(project(store), window);
    const after = await store.get("driver_stats", keys, ["conv_rate"]);
    expect(after.map((g) => g!.values.conv_rate)).toEqual([2, 2, 2]);
  });
});
