import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { literal } from "../data/sql";
import { createTestProject, type TestProject } from "../engine/testing";
import { materialize } from "./materialize";
import { buildTrainingSet } from "./offline";
import { appendOfflineRows, OfflinePushError } from "./offline-push";
import { FeatureSourceError, pushedDir, pushedFiles, viewSourceRelation } from "./offline-source";
import { SqliteOnlineStore } from "./online/sqlite";
import { entityKey } from "./online/values";
import { loadFeatureRepo } from "./repo";
import { FEATURES_FORMAT } from "./types";

const ROOT = join(import.meta.dirname, "..", "..");
const CHILD = join(import.meta.dirname, "fixtures", "push-child.ts");

const DEFS = {
  format: FEATURES_FORMAT,
  entities: [
    { name: "driver", joinKeys: ["driver_id"] },
    { name: "customer", joinKeys: ["customer_id"], valueType: "Int64" },
  ],
  featureViews: [
    {
      name: "driver_stats",
      entities: ["driver"],
      ttl: "2d",
      source: {
        path: "data/driver_stats.parquet",
        timestampField: "event_timestamp",
        createdTimestampColumn: "created",
      },
      features: [
        { name: "conv_rate", type: "Float64" },
        { name: "trips", type: "Int64" },
      ],
    },
    {
      name: "customer_profile",
      entities: ["customer"],
      ttl: "0",
      source: { path: "data/customer_profile.parquet", timestampField: "ts" },
      features: [
        { name: "segment", type: "String" },
        { name: "age", type: "Int32" },
        { name: "vip", type: "Bool" },
      ],
    },
  ],
};

const BASE = "TIMESTAMP '2024-01-01 00:00:00'";
const BASE_MS = Date.UTC(2024, 0, 1);
const MINUTE = 60_000;

/** A deterministic stream of numbers in [0, 1). */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

/** A time as DuckDB reads it in a literal (UTC, ms). */
const tsLiteral = (ms: number) =>
  `TIMESTAMP '${new Date(ms).toISOString().replace("T", " ").replace("Z", "")}'`;

describe("rows pushed offline", () => {
  let p: TestProject;
  const scope = () => ({ projectDir: p.dir, allowedDirs: [p.dir], sql: p.sql });
  const writeDefs = (defs: unknown) => {
    mkdirSync(join(p.dir, "features"), { recursive: true });
    writeFileSync(join(p.dir, "features", "defs.json"), JSON.stringify(defs));
  };
  const copy = (select: string, file: string) =>
    p.sql.run(
      `COPY (${select}) TO '${join(p.dir, "data", file)}' (FORMAT ${file.endsWith(".csv") ? "CSV" : "PARQUET"})`,
    );
  const push = (view: string, columns: Record<string, unknown[]>) => {
    const repo = loadFeatureRepo(p.dir);
    const rows = Object.values(columns)[0]?.length ?? 0;
    return appendOfflineRows(scope(), repo, repo.views.get(view)!, {
      columns: new Map(Object.entries(columns)),
      rows,
    });
  };
  const pushedNames = (view: string) =>
    readdirSync(pushedDir(p.dir, view), { withFileTypes: true }).map((e) => e.name);

  beforeEach(async () => {
    p = await createTestProject();
    writeDefs(DEFS);
    // Driver stats with late rows and 200 duplicated (driver, event time) rows told apart by created time.
    await p.sql.run(`CREATE TABLE ds AS
      SELECT 1 + hash(i, 1) % 20 AS driver_id,
             ${BASE} + INTERVAL (hash(i, 2) % 14400) MINUTE AS event_timestamp,
             ${BASE} + INTERVAL (hash(i, 2) % 14400 + hash(i, 3) % 3000) MINUTE + INTERVAL (i) MILLISECOND AS created,
             (hash(i, 4) % 10000) / 10000.0 AS conv_rate, (hash(i, 5) % 100)::BIGINT AS trips
      FROM range(1500) t(i)`);
    await p.sql.run(`INSERT INTO ds
      SELECT driver_id, event_timestamp, created + INTERVAL (CASE WHEN i % 2 = 0 THEN 7 ELSE -7 END) MINUTE,
             (hash(i, 6) % 10000) / 10000.0, (hash(i, 7) % 100)::BIGINT
      FROM (SELECT *, row_number() OVER (ORDER BY created) AS i FROM ds) WHERE i <= 200`);
    await copy("SELECT * FROM ds", "driver_stats.parquet");
    await p.sql.run(`CREATE TABLE cp AS
      SELECT (1 + i % 15)::BIGINT AS customer_id, (${BASE} + INTERVAL (i * 47) MINUTE)::TIMESTAMPTZ AS ts,
             'seg' || (hash(i, 8) % 4) AS segment, (20 + hash(i, 9) % 50)::INTEGER AS age, i % 3 = 0 AS vip
      FROM range(300) t(i)`);
    await copy("SELECT * FROM cp", "customer_profile.parquet");
  });
  afterEach(() => p.close());

  it("are joined point-in-time with the source's rows, as pandas merge_asof joins them", async () => {
    const rand = random(7);
    // New rows (drivers 21 and 22 only ever pushed), late rows, and rows that tie
    // existing (driver, event time) rows with a created time before or after theirs.
    type Row = { driver_id: number; ts: number; created: number; conv_rate: number; trips: number };
    const fresh: Row[] = Array.from({ length: 150 }, (_, i) => {
      const ts = BASE_MS + Math.floor(rand() * 14400) * MINUTE;
      return {
        driver_id: 1 + Math.floor(rand() * 22),
        ts,
        created: ts + Math.floor(rand() * 3000) * MINUTE + 500 + i,
        conv_rate: Math.round(rand() * 10000) / 10000,
        trips: Math.floor(rand() * 100),
      };
    });
    const existing = await p.sql.all<{ driver_id: number; t: number; c: number }>(
      "SELECT driver_id::INTEGER AS driver_id, epoch_ms(event_timestamp) AS t, epoch_ms(created) AS c FROM ds USING SAMPLE 120 ROWS (reservoir, 3)",
    );
    const ties: Row[] = existing.map((e, i) => ({
      driver_id: e.driver_id,
      ts: Number(e.t),
      created: Number(e.c) + (i % 2 === 0 ? 3 : -3) * MINUTE + 250 + i,
      conv_rate: Math.round(rand() * 10000) / 10000,
      trips: 1000 + i,
    }));
    const pushes = [fresh.slice(0, 90), [...fresh.slice(90), ...ties]];
    for (const [n, rows] of pushes.entries()) {
      // The event times in each form the feature server takes: ISO text with a zone, naive text (UTC), ms.
      const when = (ms: number, i: number) =>
        i % 3 === 0
          ? new Date(ms).toISOString()
          : i % 3 === 1
            ? new Date(ms).toISOString().replace("T", " ").replace("Z", "")
            : ms;
      const wrote = await push("driver_stats", {
        driver_id: rows.map((r) => r.driver_id),
        event_timestamp: rows.map((r, i) => when(r.ts, i + n)),
        created: rows.map((r) => new Date(r.created).toISOString()),
        conv_rate: rows.map((r) => r.conv_rate),
        trips: rows.map((r) => r.trips),
      });
      expect(wrote).toBe(rows.length);
    }
    expect(pushedNames("driver_stats").filter((n) => n.endsWith(".parquet"))).toHaveLength(2);
    expect(pushedNames("driver_stats").every((n) => /^\d{8}T\d{9}Z-[0-9a-f-]{36}\.parquet$/.test(n))).toBe(
      true,
    );
    // Customer rows at new times (the view has no created column, so no ties), and new customers.
    const customers = Array.from({ length: 60 }, (_, i) => ({
      customer_id: 1 + (i % 18),
      ts: BASE_MS + (i * 211 + 13) * MINUTE,
      segment: `pushed${i % 5}`,
      age: 30 + i,
      vip: i % 2 === 0,
    }));
    await push("customer_profile", {
      customer_id: customers.map((c) => c.customer_id),
      ts: customers.map((c) => new Date(c.ts).toISOString()),
      segment: customers.map((c) => c.segment),
      age: customers.map((c) => c.age),
      vip: customers.map((c) => c.vip),
    });

    // Entity rows in a shuffled order: the training set keeps it.
    await p.table(
      "entities",
      `SELECT i AS row_id, 1 + hash(i, 20) % 22 AS driver_id, 1 + hash(i, 21) % 18 AS customer_id,
              ${BASE} + INTERVAL (hash(i, 22) % 15840) MINUTE - INTERVAL 1 DAY AS event_timestamp, hash(i, 23) % 2 AS label
       FROM range(700) t(i) ORDER BY hash(i, 24)`,
    );
    const features = [
      "driver_stats:conv_rate",
      "driver_stats:trips",
      "customer_profile:segment",
      "customer_profile:age",
    ];
    await buildTrainingSet(
      p.sql,
      scope(),
      loadFeatureRepo(p.dir),
      { entitiesTable: "entities", features, fullFeatureNames: true },
      "ts_out",
    );
    const ours = await p.sql.all("SELECT * FROM ts_out");
    const order = await p.sql.all<{ row_id: number }>("SELECT row_id FROM entities");
    expect(ours.map((r) => r.row_id)).toEqual(order.map((r) => r.row_id));

    // The peer reads the source's rows and the pushed rows as this test wrote them, from CSV.
    const values = (rows: Row[]) =>
      rows
        .map(
          (r) => `(${r.driver_id}, ${tsLiteral(r.ts)}, ${tsLiteral(r.created)}, ${r.conv_rate}, ${r.trips})`,
        )
        .join(", ");
    await copy(
      `SELECT driver_id::BIGINT AS driver_id, event_timestamp, created, conv_rate::DOUBLE AS conv_rate, trips FROM ds
       UNION ALL SELECT * FROM (VALUES ${values([...fresh, ...ties])}) t(driver_id, event_timestamp, created, conv_rate, trips)`,
      "ds_all.csv",
    );
    await copy(
      `SELECT customer_id, timezone('UTC', ts) AS ts, segment, age FROM cp
       UNION ALL SELECT * FROM (VALUES ${customers.map((c) => `(${c.customer_id}, ${tsLiteral(c.ts)}, ${literal(c.segment)}, ${c.age})`).join(", ")}) t(customer_id, ts, segment, age)`,
      "cp_all.csv",
    );
    await copy("SELECT * FROM entities", "entities.csv");
    const out = join(p.dir, "peer.csv");
    const spec = {
      entities: join(p.dir, "data", "entities.csv"),
      timestamp: "event_timestamp",
      out,
      views: [
        {
          csv: join(p.dir, "data", "ds_all.csv"),
          keys: ["driver_id"],
          ts: "event_timestamp",
          created: "created",
          ttl_ms: 2 * 86_400_000,
          features: [
            ["conv_rate", "driver_stats__conv_rate"],
            ["trips", "driver_stats__trips"],
          ],
        },
        {
          csv: join(p.dir, "data", "cp_all.csv"),
          keys: ["customer_id"],
          ts: "ts",
          created: null,
          ttl_ms: 0,
          features: [
            ["segment", "customer_profile__segment"],
            ["age", "customer_profile__age"],
          ],
        },
      ],
    };
    execFileSync("/usr/bin/python3", [join(import.meta.dirname, "pit_peer.py"), JSON.stringify(spec)], {
      stdio: "pipe",
    });
    const [header, ...lines] = readFileSync(out, "utf8").trim().split("\n");
    const names = header!.split(",");
    const peer = lines.map((l) => Object.fromEntries(l.split(",").map((v, i) => [names[i]!, v])));
    expect(peer).toHaveLength(700);
    const num = (v: string) => (v === "" ? null : Number(v));
    let fromPushes = 0;
    for (let i = 0; i < 700; i++) {
      const a = ours[i]!;
      const b = peer[i]!;
      expect(a.row_id).toBe(Number(b.row_id));
      const want = num(b.driver_stats__conv_rate!);
      if (want === null) expect(a.driver_stats__conv_rate, `conv_rate of row ${i}`).toBeNull();
      else expect(a.driver_stats__conv_rate as number, `conv_rate of row ${i}`).toBeCloseTo(want, 9);
      expect(a.driver_stats__trips ?? null, `trips of row ${i}`).toBe(num(b.driver_stats__trips!));
      expect(a.customer_profile__segment ?? "", `segment of row ${i}`).toBe(b.customer_profile__segment);
      expect(a.customer_profile__age ?? null, `age of row ${i}`).toBe(num(b.customer_profile__age!));
      if ((a.driver_stats__trips as number) >= 1000 || (a.driver_id as number) > 20) fromPushes++;
      if (String(a.customer_profile__segment).startsWith("pushed")) fromPushes++;
    }
    // The pushed rows matter to the answer: tie winners, new drivers, new customer rows.
    expect(fromPushes).toBeGreaterThan(50);
  });

  it("are materialised with the source's rows, and counted by every reader", async () => {
    await push("driver_stats", {
      driver_id: [5, 21],
      event_timestamp: ["2024-01-20T00:00:00Z", "2024-01-20T00:00:00Z"],
      conv_rate: [0.123, 0.456],
      trips: [7, null],
    });
    const { n } = await p.sql.one<{ n: number }>(
      `SELECT count(*) AS n FROM ${viewSourceRelation(scope(), loadFeatureRepo(p.dir).views.get("driver_stats")!)}`,
    );
    expect(n).toBe(1702);
    const store = new SqliteOnlineStore(join(p.dir, ".dagwood", "online.sqlite"));
    try {
      await materialize(
        { ...scope(), repo: loadFeatureRepo(p.dir), store },
        {
          start: new Date("2024-01-01T00:00:00Z"),
          end: new Date("2024-02-01T00:00:00Z"),
          views: ["driver_stats"],
        },
      );
      const got = await store.get("driver_stats", [entityKey([5]), entityKey([21])], ["conv_rate", "trips"]);
      expect(got).toEqual([
        { values: { conv_rate: 0.123, trips: 7 }, eventTs: Date.parse("2024-01-20T00:00:00Z") },
        { values: { conv_rate: 0.456, trips: null }, eventTs: Date.parse("2024-01-20T00:00:00Z") },
      ]);
    } finally {
      await store.close();
    }
  });

  it("win a tie with a source row when they carry no created time (the push is the later write)", async () => {
    const row = await p.sql.one<{ driver_id: number; t: string }>(
      "SELECT driver_id::INTEGER AS driver_id, strftime(event_timestamp, '%Y-%m-%dT%H:%M:%SZ') AS t FROM ds ORDER BY created DESC LIMIT 1",
    );
    await push("driver_stats", {
      driver_id: [row.driver_id],
      event_timestamp: [row.t],
      conv_rate: [0.999],
      trips: [4242],
    });
    const [file] = pushedFiles(p.dir, "driver_stats");
    const written = await p.sql.one<{ created: Date }>(
      `SELECT created FROM read_parquet(${literal(file!.path)})`,
    );
    expect(Math.abs(written.created.getTime() - Date.now())).toBeLessThan(60_000);
    await p.table(
      "e",
      `SELECT ${row.driver_id} AS driver_id, TIMESTAMP '${row.t.replace("T", " ").replace("Z", "")}' AS event_timestamp`,
    );
    await buildTrainingSet(
      p.sql,
      scope(),
      loadFeatureRepo(p.dir),
      { entitiesTable: "e", features: ["driver_stats:trips"] },
      "o",
    );
    expect((await p.sql.one<{ trips: number }>("SELECT trips FROM o")).trips).toBe(4242);
    // A created column given with a null in it: that row too gets the push's time.
    await push("driver_stats", {
      driver_id: [1, 2],
      event_timestamp: ["2024-03-01T00:00:00Z", "2024-03-01T00:00:00Z"],
      created: [null, "2024-03-01T05:00:00Z"],
      conv_rate: [0.1, 0.2],
      trips: [1, 2],
    });
    const second = pushedFiles(p.dir, "driver_stats")[1]!;
    const created = await p.sql.all<{ created: Date }>(
      `SELECT created FROM read_parquet(${literal(second.path)})`,
    );
    expect(Math.abs(created[0]!.created.getTime() - Date.now())).toBeLessThan(60_000);
    expect(created[1]!.created.toISOString()).toBe("2024-03-01T05:00:00.000Z");
  });

  it("pushed at once through one session, each lands whole in a file of its own", async () => {
    const counts = await Promise.all(
      Array.from({ length: 6 }, (_, n) =>
        push("driver_stats", {
          driver_id: Array.from({ length: 500 }, (_, i) => 1 + (i % 20)),
          event_timestamp: Array.from({ length: 500 }, (_, i) => Date.UTC(2024, 1, 1 + n) + i * 1000),
          conv_rate: Array.from({ length: 500 }, () => n / 10),
          trips: Array.from({ length: 500 }, (_, i) => i),
        }),
      ),
    );
    expect(counts).toEqual([500, 500, 500, 500, 500, 500]);
    const files = pushedFiles(p.dir, "driver_stats");
    expect(files).toHaveLength(6);
    const perFile = await p.sql.all<{ n: number; rates: number }>(
      `SELECT count(*) AS n, count(DISTINCT conv_rate) AS rates FROM read_parquet([${files.map((f) => literal(f.path)).join(", ")}], filename = true) GROUP BY filename`,
    );
    expect(perFile.map((f) => [f.n, f.rates])).toEqual(Array(6).fill([500, 1]));
  });

  it("keep the source's column types, so the union reads as the source does", async () => {
    await push("customer_profile", {
      customer_id: [3],
      ts: [Date.UTC(2024, 0, 5, 0, 13)],
      segment: ["x"],
      age: [41],
      vip: [true],
    });
    const relation = viewSourceRelation(scope(), loadFeatureRepo(p.dir).views.get("customer_profile")!);
    const types = await p.sql.all<{ column_name: string; column_type: string }>(
      `DESCRIBE SELECT * FROM ${relation}`,
    );
    expect(Object.fromEntries(types.map((t) => [t.column_name, t.column_type]))).toEqual({
      customer_id: "BIGINT",
      ts: "TIMESTAMP WITH TIME ZONE",
      segment: "VARCHAR",
      age: "INTEGER",
      vip: "BOOLEAN",
    });
    const row = await p.sql.one<{ ts: Date; vip: boolean }>(
      `SELECT ts, vip FROM ${relation} WHERE segment = 'x'`,
    );
    expect(row.ts.toISOString()).toBe("2024-01-05T00:13:00.000Z");
    expect(row.vip).toBe(true);
  });

  describe("refuse a frame that does not fit the view, naming the column and row, and write nothing", () => {
    const good = () => ({
      customer_id: [1, 2, 3],
      ts: ["2024-02-01T00:00:00Z", "2024-02-01 01:00:00", 1706749200000],
      segment: ["a", null, "c"],
      age: [30, 31, null],
      vip: [true, false, null],
    });
    it.each([
      [
        "a missing feature",
        (f: Record<string, unknown[]>) => delete f.age,
        /lack the column "age": a pushed row carries the view's join keys \(customer_id\), its event timestamp "ts" and every feature/,
      ],
      [
        "missing keys and timestamp",
        (f: Record<string, unknown[]>) => {
          delete f.customer_id;
          delete f.ts;
        },
        /lack the columns "customer_id", "ts"/,
      ],
      [
        "an unknown column",
        (f: Record<string, unknown[]>) => (f.speed = [1, 2, 3]),
        /have the column "speed", which the view does not have \(it has: customer_id, ts, segment, age, vip\)/,
      ],
      [
        "columns of different lengths",
        (f: Record<string, unknown[]>) => (f.age = [1, 2]),
        /Column "age" has 2 values for 3 rows/,
      ],
      [
        "text in a whole-number feature",
        (f: Record<string, unknown[]>) => (f.age = [30, "thirty", 31]),
        /column "age", row 1: "thirty" is not a whole number \(Int32\)/,
      ],
      [
        "a fraction in a whole-number feature",
        (f: Record<string, unknown[]>) => (f.age = [30, 31, 31.5]),
        /column "age", row 2: 31.5 is not a whole number \(Int32\)/,
      ],
      [
        "an Int32 out of range",
        (f: Record<string, unknown[]>) => (f.age = [2 ** 31, 1, 1]),
        /column "age", row 0: 2147483648 is not a whole number \(Int32\), between -2147483648 and 2147483647/,
      ],
      [
        "a number in a String feature and text in a Bool",
        (f: Record<string, unknown[]>) => {
          f.segment = ["a", 5, "c"];
          f.vip = [true, "yes", false];
        },
        /column "segment", row 1: 5 is not text \(String\)\n {2}column "vip", row 1: "yes" is not true or false \(Bool\)/,
      ],
      [
        "a row without a join key",
        (f: Record<string, unknown[]>) => (f.customer_id = [1, null, 3]),
        /column "customer_id", row 1: no value, but every row needs its join key/,
      ],
      [
        "a join key that is not a whole number (the entity declares Int64)",
        (f: Record<string, unknown[]>) => (f.customer_id = [1, "c2", 3]),
        /column "customer_id", row 1: "c2" is not a whole number \(Int64\)/,
      ],
      [
        "an event time that is none",
        (f: Record<string, unknown[]>) => (f.ts = ["2024-02-01T00:00:00Z", null, "yesterday"]),
        /column "ts", row 1: no value, but every row needs its event timestamp\n {2}column "ts", row 2: "yesterday" is not a time: ISO 8601 text/,
      ],
      [
        "rows with the same keys and event time (the view has no created column)",
        (f: Record<string, unknown[]>) => {
          f.customer_id = [1, 2, 1];
          f.ts = ["2024-02-01T00:00:00Z", "2024-02-01T01:00:00Z", "2024-02-01T00:00:00Z"];
        },
        /Rows 0 and 2 pushed to "customer_profile" have the same keys and event time \(customer_id=1, ts=2024-02-01T00:00:00.000Z\).*add "createdTimestampColumn"/,
      ],
    ] as const)("%s", async (_what, change, message) => {
      const frame: Record<string, unknown[]> = good();
      change(frame);
      const err = await push("customer_profile", frame).catch((e) => e);
      expect(err).toBeInstanceOf(OfflinePushError);
      expect(err.message).toMatch(message);
      expect(pushedFiles(p.dir, "customer_profile")).toEqual([]);
    });

    it("lists the first ten problems and counts the rest", async () => {
      const err = await push("customer_profile", {
        ...good(),
        age: ["a", "b", "c"],
        vip: [1, 2, 3],
        segment: [1, 2, 3],
        customer_id: [null, null, null],
      }).catch((e) => e);
      expect(err.message.match(/\n {2}column/g)).toHaveLength(10);
      expect(err.message).toMatch(/…and 2 more$/);
    });

    it("refuses a row whose keys and event time are already in the view's offline rows", async () => {
      const err = await push("customer_profile", {
        ...good(),
        customer_id: [1, 2, 4],
        // Row i of the source: customer 1 + i % 15 at BASE + 47·i minutes; i = 18 is customer 4 at 14:06.
        ts: ["2024-02-01T00:00:00Z", "2024-02-01T01:00:00Z", "2024-01-01T14:06:00Z"],
      }).catch((e) => e);
      expect(err).toBeInstanceOf(OfflinePushError);
      expect(err.message).toMatch(
        /Row 2 pushed to "customer_profile" has the keys and event time of a row already in its offline rows \(customer_id=4, ts=2024-01-01T14:06:00.000Z\)/,
      );
      expect(await push("customer_profile", good())).toBe(3);
      // The same rows again: now they clash with the rows pushed before.
      await expect(push("customer_profile", good())).rejects.toThrow(
        /Row 0 pushed to "customer_profile" has the keys and event time of a row already/,
      );
      expect(pushedFiles(p.dir, "customer_profile")).toHaveLength(1);
    });

    it("writes nothing for no rows", async () => {
      expect(await push("customer_profile", { customer_id: [], ts: [], segment: [], age: [], vip: [] })).toBe(
        0,
      );
      expect(pushedFiles(p.dir, "customer_profile")).toEqual([]);
    });
  });

  it("are checked against the view on their own: a source that lost a column, and pushes from before the view changed", async () => {
    await push("driver_stats", {
      driver_id: [1],
      event_timestamp: ["2024-01-20T00:00:00Z"],
      conv_rate: [0.5],
      trips: [3],
    });
    const entities = await p.table(
      "e",
      `SELECT 1 AS driver_id, ${BASE} + INTERVAL 30 DAY AS event_timestamp`,
    );
    const build = () =>
      buildTrainingSet(
        p.sql,
        scope(),
        loadFeatureRepo(p.dir),
        { entitiesTable: entities.name, features: ["driver_stats"] },
        "o",
      );
    // The source lost "trips"; the pushed rows have it, which must not hide the drift.
    await copy("SELECT * EXCLUDE (trips) FROM ds", "driver_stats.parquet");
    const lost = await build().catch((e) => e);
    expect(lost).toBeInstanceOf(FeatureSourceError);
    expect(lost.message).toMatch(
      /does not match its source \(data\/driver_stats.parquet\):\n {2}feature "trips" is not a column of the source/,
    );
    // The view gains a feature its source now has; the rows pushed before lack it.
    await copy("SELECT *, 1.5 AS speed FROM ds", "driver_stats.parquet");
    const defs = structuredClone(DEFS);
    defs.featureViews[0]!.features.push({ name: "speed", type: "Float64" });
    writeDefs(defs);
    const old = await build().catch((e) => e);
    expect(old).toBeInstanceOf(FeatureSourceError);
    expect(old.message).toMatch(
      /does not match the rows pushed to it offline \(.*pushed\), pushed before the view changed:\n {2}feature "speed" is not a column/,
    );
  });

  it("killed mid-write (kill -9) leave no file the readers take, and the next push clears what was left", async () => {
    const repo = loadFeatureRepo(p.dir);
    const relation = () => viewSourceRelation(scope(), repo.views.get("driver_stats")!);
    await push("driver_stats", {
      driver_id: [1],
      event_timestamp: ["2024-01-20T00:00:00Z"],
      conv_rate: [0.5],
      trips: [3],
    });
    const dir = pushedDir(p.dir, "driver_stats");
    const first = pushedFiles(p.dir, "driver_stats");
    // A child pushing 1.5M rows, killed as soon as the file it writes holds some bytes; undefined when
    // it finished before the kill (the simulation missed the write, not a fault): that push is undone.
    const killMidWrite = async (): Promise<{ partial: string; output: string } | undefined> => {
      const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", CHILD, p.dir, "1500000"], {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout!.on("data", (d) => (output += d));
      child.stderr!.on("data", (d) => (output += d));
      const partial = await new Promise<string | undefined>((resolve, reject) => {
        const timer = setInterval(() => {
          for (const name of readdirSync(dir)) {
            if (!name.endsWith(".tmp")) continue;
            try {
              if (statSync(join(dir, name)).size === 0) continue;
            } catch {
              continue;
            }
            clearInterval(timer);
            child.kill("SIGKILL");
            resolve(name);
            return;
          }
        }, 1);
        child.on("exit", (code) => {
          clearInterval(timer);
          if (code === 0 && output.includes("finished")) resolve(undefined);
          else reject(new Error(`the child failed before it was killed:\n${output}`));
        });
      });
      await new Promise<void>((resolve) => {
        child.removeAllListeners("exit");
        if (child.exitCode !== null || child.signalCode !== null) resolve();
        else child.on("exit", () => resolve());
      });
      if (partial) return { partial, output };
      for (const f of pushedFiles(p.dir, "driver_stats")) if (f.path !== first[0]!.path) rmSync(f.path);
      return undefined;
    };
    let killed: Awaited<ReturnType<typeof killMidWrite>>;
    for (let attempt = 0; attempt < 3 && !killed; attempt++) killed = await killMidWrite();
    expect(killed, "the child was never caught mid-write").toBeDefined();
    const { partial, output } = killed!;
    expect(output).not.toContain("finished");
    expect(readdirSync(dir)).toContain(partial);
    // Readers take only the finished push.
    expect(pushedFiles(p.dir, "driver_stats")).toHaveLength(1);
    const { n } = await p.sql.one<{ n: number }>(`SELECT count(*) AS n FROM ${relation()}`);
    expect(n).toBe(1701);
    // The next push removes the dead process's partial file.
    await push("driver_stats", {
      driver_id: [2],
      event_timestamp: ["2024-01-21T00:00:00Z"],
      conv_rate: [0.5],
      trips: [3],
    });
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect(pushedFiles(p.dir, "driver_stats")).toHaveLength(2);
  }, 60_000);
});
