import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestProject, type TestProject } from "../engine/testing";
import { buildTrainingSet, TrainingSetError } from "./offline";
import { FeatureSourceError } from "./offline-source";
import { FeatureRefError, loadFeatureRepo } from "./repo";
import { FEATURES_FORMAT } from "./types";

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
      features: [{ name: "segment", type: "String" }],
    },
    {
      name: "driver_customer",
      entities: ["driver", "customer"],
      ttl: "12h",
      source: {
        path: "data/driver_customer.parquet",
        timestampField: "ts",
        createdTimestampColumn: "created",
      },
      features: [
        { name: "affinity", type: "Float64" },
        { name: "trips", type: "Int64" },
      ],
    },
  ],
  featureServices: [{ name: "ranker", features: ["driver_stats:conv_rate", "customer_profile"] }],
};

const BASE = "TIMESTAMP '2024-01-01 00:00:00'";

describe("training sets (point-in-time joins)", () => {
  let p: TestProject;
  const scope = () => ({ projectDir: p.dir, allowedDirs: [p.dir] });
  const writeDefs = (defs: unknown) => {
    mkdirSync(join(p.dir, "features"), { recursive: true });
    writeFileSync(join(p.dir, "features", "defs.json"), JSON.stringify(defs));
  };
  const copy = (select: string, file: string) =>
    p.sql.run(
      `COPY (${select}) TO '${join(p.dir, "data", file)}' (FORMAT ${file.endsWith(".csv") ? "CSV" : "PARQUET"})`,
    );

  beforeEach(async () => {
    p = await createTestProject();
    writeDefs(DEFS);
    // Driver stats: rows arriving late (created long after their event time), and
    // 300 duplicates of (driver, event time) with other values and created times.
    await p.sql.run(`CREATE TABLE ds AS
      SELECT 1 + hash(i, 1) % 20 AS driver_id,
             ${BASE} + INTERVAL (hash(i, 2) % 14400) MINUTE AS event_timestamp,
             ${BASE} + INTERVAL (hash(i, 2) % 14400 + hash(i, 3) % 3000) MINUTE + INTERVAL (i) MILLISECOND AS created,
             (hash(i, 4) % 10000) / 10000.0 AS conv_rate, (hash(i, 5) % 100)::BIGINT AS trips
      FROM range(2000) t(i)`);
    await p.sql.run(`INSERT INTO ds
      SELECT driver_id, event_timestamp,
             created + INTERVAL (CASE WHEN i % 2 = 0 THEN 7 ELSE -7 END) MINUTE,
             (hash(i, 6) % 10000) / 10000.0, (hash(i, 7) % 100)::BIGINT
      FROM (SELECT *, row_number() OVER (ORDER BY created) AS i FROM ds) WHERE i <= 300`);
    await copy("SELECT * FROM ds", "driver_stats.parquet");
    // Customer profile: event times as TIMESTAMPTZ, no created column (no duplicates).
    await p.sql.run(`CREATE TABLE cp AS
      SELECT 1 + i % 15 AS customer_id, (${BASE} + INTERVAL (i * 47) MINUTE)::TIMESTAMPTZ AS ts,
             'seg' || (hash(i, 8) % 4) AS segment
      FROM range(300) t(i)`);
    await copy("SELECT * FROM cp", "customer_profile.parquet");
    await p.sql.run(`CREATE TABLE dc AS
      SELECT 1 + hash(i, 9) % 20 AS driver_id, 1 + hash(i, 10) % 15 AS customer_id,
             ${BASE} + INTERVAL (hash(i, 11) % 14400) MINUTE AS ts,
             ${BASE} + INTERVAL (hash(i, 11) % 14400) MINUTE + INTERVAL (i) SECOND AS created,
             (hash(i, 12) % 1000) / 1000.0 AS affinity, (hash(i, 13) % 50)::BIGINT AS trips
      FROM range(1500) t(i)`);
    await copy("SELECT * FROM dc", "driver_customer.parquet");
    // Entities: unknown keys (21, 22, 16), times before any data, exact matches with feature rows.
    await p.table(
      "entities",
      `WITH d AS (SELECT driver_id, event_timestamp, row_number() OVER (ORDER BY created) - 1 AS i FROM ds)
       SELECT i AS row_id, driver_id, 1 + hash(i, 21) % 16 AS customer_id, event_timestamp, hash(i, 23) % 2 AS label
       FROM d WHERE i < 40
       UNION ALL
       SELECT i, 1 + hash(i, 20) % 22, 1 + hash(i, 21) % 16,
              ${BASE} + INTERVAL (hash(i, 22) % 15840) MINUTE - INTERVAL 1 DAY, hash(i, 23) % 2
       FROM range(40, 600) t(i)`,
    );
  });
  afterEach(() => p.close());

  it("matches pandas merge_asof (by, tolerance) on data with late and duplicate rows", async () => {
    const repo = loadFeatureRepo(p.dir);
    const features = [
      "driver_stats:conv_rate",
      "driver_stats:trips",
      "customer_profile:segment",
      "driver_customer:affinity",
      "driver_customer:trips",
    ];
    const { features: cols } = await buildTrainingSet(
      p.sql,
      scope(),
      repo,
      { entitiesTable: "entities", features, fullFeatureNames: true },
      "ts_out",
    );
    expect(cols.map((c) => c.column)).toEqual([
      "driver_stats__conv_rate",
      "driver_stats__trips",
      "customer_profile__segment",
      "driver_customer__affinity",
      "driver_customer__trips",
    ]);
    // In the entity table's order (row_id ascending), as the training set keeps it.
    const ours = await p.sql.all("SELECT * FROM ts_out");
    expect(ours).toHaveLength(600);
    expect(Object.keys(ours[0]!)).toEqual([
      "row_id",
      "driver_id",
      "customer_id",
      "event_timestamp",
      "label",
      ...cols.map((c) => c.column),
    ]);

    // The peer reads CSV copies of the same data.
    await copy("SELECT * FROM entities ORDER BY row_id", "entities.csv");
    for (const t of ["ds", "cp", "dc"]) await copy(`SELECT * FROM ${t}`, `${t}.csv`);
    const out = join(p.dir, "peer.csv");
    const spec = {
      entities: join(p.dir, "data", "entities.csv"),
      timestamp: "event_timestamp",
      out,
      views: [
        {
          csv: join(p.dir, "data", "ds.csv"),
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
          csv: join(p.dir, "data", "cp.csv"),
          keys: ["customer_id"],
          ts: "ts",
          created: null,
          ttl_ms: 0,
          features: [["segment", "customer_profile__segment"]],
        },
        {
          csv: join(p.dir, "data", "dc.csv"),
          keys: ["driver_id", "customer_id"],
          ts: "ts",
          created: "created",
          ttl_ms: 12 * 3_600_000,
          features: [
            ["affinity", "driver_customer__affinity"],
            ["trips", "driver_customer__trips"],
          ],
        },
      ],
    };
    execFileSync("/usr/bin/python3", [join(__dirname, "pit_peer.py"), JSON.stringify(spec)], {
      stdio: "pipe",
    });
    const [header, ...lines] = readFileSync(out, "utf8").trim().split("\n");
    const names = header!.split(",");
    const peer = lines.map((l) => Object.fromEntries(l.split(",").map((v, i) => [names[i]!, v])));
    expect(peer).toHaveLength(600);

    const num = (v: string) => (v === "" ? null : Number(v));
    let nulls = 0;
    let present = 0;
    for (let i = 0; i < 600; i++) {
      const a = ours[i]!;
      const b = peer[i]!;
      expect(a.row_id).toBe(Number(b.row_id));
      expect((a.event_timestamp as Date).toISOString().slice(0, 19)).toBe(b.event_timestamp!.slice(0, 19));
      for (const c of ["driver_stats__conv_rate", "driver_customer__affinity"]) {
        const want = num(b[c]!);
        if (want === null) expect(a[c], `${c} of row ${i}`).toBeNull();
        else expect(a[c] as number, `${c} of row ${i}`).toBeCloseTo(want, 9);
      }
      for (const c of ["driver_stats__trips", "driver_customer__trips"]) {
        expect(a[c] ?? null, `${c} of row ${i}`).toBe(num(b[c]!));
      }
      expect(a.customer_profile__segment ?? "", `segment of row ${i}`).toBe(b.customer_profile__segment);
      for (const c of cols) a[c.column] === null ? nulls++ : present++;
    }
    // The data exercises both sides: found features, and nulls (unknown keys, outside the TTL, too early).
    expect(nulls).toBeGreaterThan(300);
    expect(present).toBeGreaterThan(1000);
  });

  it("keeps the entity rows' order, from a table or a view", async () => {
    const repo = loadFeatureRepo(p.dir);
    // 50,000 rows in an order unrelated to keys or times, so a join that reorders them would show.
    await p.table(
      "shuffled",
      `SELECT i AS row_id, 1 + hash(i, 30) % 22 AS driver_id, 1 + hash(i, 31) % 16 AS customer_id,
              ${BASE} + INTERVAL (hash(i, 32) % 15840) MINUTE AS event_timestamp
       FROM range(50000) t(i) ORDER BY hash(i, 33)`,
    );
    await p.sql.run("CREATE VIEW shuffled_view AS SELECT * FROM shuffled WHERE row_id % 2 = 0");
    const request = {
      features: ["driver_stats:trips", "customer_profile:segment", "driver_customer:affinity"],
    };
    for (const table of ["shuffled", "shuffled_view"]) {
      await buildTrainingSet(p.sql, scope(), repo, { entitiesTable: table, ...request }, "o");
      const want = await p.sql.all<{ row_id: number }>(`SELECT row_id FROM ${table}`);
      const got = await p.sql.all<{ row_id: number }>("SELECT row_id FROM o");
      expect(got.length).toBe(table === "shuffled" ? 50000 : 25000);
      expect(got.map((r) => r.row_id)).toEqual(want.map((r) => r.row_id));
      expect((await p.sql.columns("o")).map((c) => c.name)).toEqual([
        "row_id",
        "driver_id",
        "customer_id",
        "event_timestamp",
        "trips",
        "segment",
        "affinity",
      ]);
    }
  });

  it("takes the latest created row among duplicates and never a later event", async () => {
    await copy(
      `SELECT * FROM (VALUES
        (1, ${BASE} + INTERVAL 1 HOUR, ${BASE} + INTERVAL 5 HOUR, 0.1, 1::BIGINT),
        (1, ${BASE} + INTERVAL 1 HOUR, ${BASE} + INTERVAL 9 HOUR, 0.2, 2::BIGINT),
        (1, ${BASE} + INTERVAL 1 HOUR, ${BASE} + INTERVAL 2 HOUR, 0.3, 3::BIGINT),
        (1, ${BASE} + INTERVAL 3 HOUR, ${BASE} + INTERVAL 3 HOUR, 0.4, 4::BIGINT),
        (1, ${BASE} + INTERVAL 3 HOUR, NULL, 0.5, 5::BIGINT)
      ) t(driver_id, event_timestamp, created, conv_rate, trips)`,
      "driver_stats.parquet",
    );
    await p.table(
      "e",
      `SELECT * FROM (VALUES (1, ${BASE}), (1, ${BASE} + INTERVAL 1 HOUR), (1, ${BASE} + INTERVAL 2 HOUR),
                             (1, ${BASE} + INTERVAL 3 HOUR), (1, ${BASE} + INTERVAL 51 HOUR), (1, ${BASE} + INTERVAL 52 HOUR))
              t(driver_id, event_timestamp)`,
    );
    await buildTrainingSet(
      p.sql,
      scope(),
      loadFeatureRepo(p.dir),
      { entitiesTable: "e", features: ["driver_stats"] },
      "o",
    );
    const rows = await p.sql.all("SELECT trips FROM o ORDER BY event_timestamp");
    // Before any row: null; at 1h and 2h: the 1h row created last (9h); 3h: the 3h row with a created
    // time (a row without one loses the tie);
    // 51h: 48h after the 3h row, still inside the 2-day TTL (inclusive); 52h: outside it.
    expect(rows.map((r) => r.trips)).toEqual([null, 2, 2, 4, 4, null]);
  });

  it("gives the same answer for entity times as TIMESTAMPTZ or DATE", async () => {
    const repo = loadFeatureRepo(p.dir);
    const request = { features: ["driver_stats:trips", "customer_profile:segment"] };
    await buildTrainingSet(p.sql, scope(), repo, { entitiesTable: "entities", ...request }, "plain");
    await p.table(
      "tz",
      "SELECT * REPLACE (timezone('UTC', event_timestamp) AS event_timestamp) FROM entities",
    );
    await buildTrainingSet(p.sql, scope(), repo, { entitiesTable: "tz", ...request }, "zoned");
    const strip = "SELECT row_id, trips, segment FROM";
    const differ = await p.sql.one<{ n: number }>(
      `SELECT count(*) AS n FROM ((${strip} plain EXCEPT ALL ${strip} zoned) UNION ALL (${strip} zoned EXCEPT ALL ${strip} plain))`,
    );
    expect(differ.n).toBe(0);
    expect((await p.sql.columns("zoned")).find((c) => c.name === "event_timestamp")?.type).toBe(
      "TIMESTAMP WITH TIME ZONE",
    );
    await p.table("days", "SELECT 3 AS customer_id, DATE '2024-01-02' AS event_timestamp");
    await buildTrainingSet(
      p.sql,
      scope(),
      repo,
      { entitiesTable: "days", features: ["customer_profile:segment"] },
      "d",
    );
    // The latest row of customer 3 at or before 2024-01-02 00:00 (rows every 47 minutes, customer = i % 15 + 1).
    const want = await p.sql.one<{ segment: string }>(
      "SELECT segment FROM cp WHERE customer_id = 3 AND ts <= TIMESTAMPTZ '2024-01-02 00:00:00+00' ORDER BY ts DESC LIMIT 1",
    );
    expect((await p.sql.one<{ segment: string }>("SELECT segment FROM d")).segment).toBe(want.segment);
  });

  it("names features as Feast does, and refuses names that collide", async () => {
    const repo = loadFeatureRepo(p.dir);
    await buildTrainingSet(p.sql, scope(), repo, { entitiesTable: "entities", service: "ranker" }, "o");
    const cols = (await p.sql.columns("o")).map((c) => c.name);
    expect(cols.slice(-2)).toEqual(["conv_rate", "segment"]);
    await expect(
      buildTrainingSet(
        p.sql,
        scope(),
        repo,
        { entitiesTable: "entities", features: ["driver_stats:trips", "driver_customer:trips"] },
        "o2",
      ),
    ).rejects.toThrow(
      /driver_stats:trips and driver_customer:trips would both be the column "trips": ask for full feature names/,
    );
  });

  it("refuses entity rows without a timestamp, a missing join key, and unknown features", async () => {
    const repo = loadFeatureRepo(p.dir);
    await p.table(
      "nots",
      `SELECT 1 AS driver_id, NULL::TIMESTAMP AS event_timestamp UNION ALL SELECT 2, ${BASE}`,
    );
    await expect(
      buildTrainingSet(
        p.sql,
        scope(),
        repo,
        { entitiesTable: "nots", features: ["driver_stats:trips"] },
        "o",
      ),
    ).rejects.toThrow(/1 entity row has no "event_timestamp"/);
    await p.table("strts", "SELECT 1 AS driver_id, '2024-01-01' AS event_timestamp");
    await expect(
      buildTrainingSet(
        p.sql,
        scope(),
        repo,
        { entitiesTable: "strts", features: ["driver_stats:trips"] },
        "o",
      ),
    ).rejects.toThrow(/"event_timestamp" is VARCHAR, not a timestamp/);
    await expect(
      buildTrainingSet(
        p.sql,
        scope(),
        repo,
        { entitiesTable: "nots", features: ["customer_profile:segment"] },
        "o",
      ),
    ).rejects.toThrow(/lacks the join key "customer_id" of feature view "customer_profile"/);
    await expect(
      buildTrainingSet(
        p.sql,
        scope(),
        repo,
        { entitiesTable: "nots", features: ["driver_stats:speed", "nope:x"] },
        "o",
      ),
    ).rejects.toThrow(FeatureRefError);
    await p.table("strkey", `SELECT 'd1' AS driver_id, ${BASE} AS event_timestamp`);
    await expect(
      buildTrainingSet(
        p.sql,
        scope(),
        repo,
        { entitiesTable: "strkey", features: ["driver_stats:trips"] },
        "o",
      ),
    ).rejects.toThrow(
      /Join key "driver_id" is VARCHAR in the entity table but UBIGINT in feature view "driver_stats"'s source: cast one/,
    );
    await expect(
      buildTrainingSet(p.sql, scope(), repo, { entitiesTable: "nots", service: "missing" }, "o"),
    ).rejects.toThrow(/Unknown feature service "missing" \(known: ranker\)/);
  });

  it("refuses duplicate (key, event time) rows when no created column orders them", async () => {
    await copy(
      `SELECT * FROM (VALUES (3, ${BASE}::TIMESTAMPTZ, 'a'), (3, ${BASE}::TIMESTAMPTZ, 'b')) t(customer_id, ts, segment)`,
      "customer_profile.parquet",
    );
    const err = await buildTrainingSet(
      p.sql,
      scope(),
      loadFeatureRepo(p.dir),
      { entitiesTable: "entities", features: ["customer_profile:segment"] },
      "o",
    ).catch((e) => e);
    expect(err).toBeInstanceOf(TrainingSetError);
    expect(err.message).toMatch(
      /"customer_profile" has 2 rows with the same keys and event time \(customer_id=3, ts=2024-01-01T00:00:00.000Z\)/,
    );
    expect(err.message).toMatch(/add "createdTimestampColumn"/);
  });

  it("catches a source whose schema drifted from the view", async () => {
    await copy(
      `SELECT 1 AS driver_id, 'x' AS event_timestamp, ${BASE} AS created, 'high' AS conv_rate`,
      "driver_stats.parquet",
    );
    const err = await buildTrainingSet(
      p.sql,
      scope(),
      loadFeatureRepo(p.dir),
      { entitiesTable: "entities", features: ["driver_stats:conv_rate"] },
      "o",
    ).catch((e) => e);
    expect(err).toBeInstanceOf(FeatureSourceError);
    expect(err.message).toMatch(/timestamp field "event_timestamp" is VARCHAR, not a timestamp/);
    expect(err.message).toMatch(/feature "conv_rate" is declared Float64 but the source's column is VARCHAR/);
    expect(err.message).toMatch(/feature "trips" is not a column of the source/);
  });

  it("says which source is missing", async () => {
    writeDefs({
      ...DEFS,
      featureViews: [
        { ...DEFS.featureViews[0]!, source: { path: "data/gone.parquet", timestampField: "t" } },
      ],
      featureServices: [],
    });
    await expect(
      buildTrainingSet(
        p.sql,
        scope(),
        loadFeatureRepo(p.dir),
        { entitiesTable: "entities", features: ["driver_stats"] },
        "o",
      ),
    ).rejects.toThrow(/its source data\/gone.parquet does not exist/);
  });
});
