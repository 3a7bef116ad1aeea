/**
 * ingest.database against a real MariaDB (a throw-away server, app/ingest/db/mariadb-testing.ts):
 * exact values compared with the `mariadb` command-line client's output (an independent read),
 * incremental runs, a killed session mid-stream, NULL and backwards cursors, cancel.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { PortValue } from "../app/engine/ports";
import { createTestProject, type TestProject } from "../app/engine/testing";
import { CURSOR_TABLE } from "../app/ingest/db/incremental";
import { startTestMariadb, type TestMariadb } from "../app/ingest/db/mariadb-testing";
import type { DbConnection } from "../app/ingest/db/types";
import ingestDatabase, { connections } from "./ingest-database";

function tab(v: PortValue | undefined) {
  if (v?.type !== "table") throw new Error("not a table output");
  return v;
}

describe("ingest.database (MariaDB)", () => {
  let my: TestMariadb;
  let p: TestProject;
  const realOpen = connections.open;

  /** The mariadb client's batch output (tab-separated, NULL as "NULL"): the server's own text of each value. */
  const client = (sql: string): string[][] =>
    execFileSync(
      "mariadb",
      ["-h", my.host, "-P", String(my.port), "-u", my.user, my.database, "-B", "-N", "-e", sql],
      { encoding: "utf8", env: { ...process.env, MYSQL_PWD: my.password } },
    )
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => l.split("\t"));

  beforeAll(async () => {
    my = await startTestMariadb();
    process.env.DAGWOOD_SECRET_MDB = my.password;
  }, 120_000);
  afterAll(async () => {
    delete process.env.DAGWOOD_SECRET_MDB;
    await my?.stop();
  });

  beforeEach(async () => {
    p = await createTestProject();
    await my.root("DROP TABLE IF EXISTS dagwood.orders");
    await my.root(`CREATE TABLE dagwood.orders (id BIGINT PRIMARY KEY, customer VARCHAR(20) NOT NULL,
      amount DECIMAL(20,6), paid BOOLEAN, placed DATETIME(6), doc JSON, updated BIGINT)`);
    writeFileSync(
      join(p.dir, "dagwood.json"),
      JSON.stringify({
        connections: {
          mdb: { kind: "mysql", host: my.host, port: my.port, database: my.database, user: my.user },
        },
      }),
    );
  });
  afterEach(async () => {
    connections.open = realOpen;
    await p.close();
  });

  /** Rows from..to: decimals past a double's digits, microsecond datetimes, JSON, NULLs. */
  const insert = async (from: number, to: number) => {
    // MariaDB's SEQUENCE engine: seq_<from>_to_<to> is the table of those integers.
    await my.root(`INSERT INTO dagwood.orders
      SELECT seq, CONCAT('c', seq % 7), seq * 1000003 + 0.123457 + seq / 1000000, seq % 2 = 0,
             TIMESTAMP('2024-03-01 10:00:00.123456') + INTERVAL seq HOUR,
             IF(seq % 3 = 0, NULL, JSON_OBJECT('i', seq)), seq
      FROM dagwood.seq_${from}_to_${to}`);
  };

  const incremental = { connection: "mdb", table: "orders", mode: "incremental", cursor: "id" };
  const committed = async () =>
    (await p.sql.all<{ cursor: string; rows: number }>(`SELECT cursor, rows FROM ${CURSOR_TABLE}`))[0];

  it("lands DECIMAL, DATETIME(6), booleans and JSON exactly as the client prints them", async () => {
    await insert(1, 200);
    const { out } = await p.run(ingestDatabase, {}, { connection: "mdb", table: "orders" });
    const types = Object.fromEntries(tab(out).columns.map((c) => [c.name, c.type]));
    expect(types).toMatchObject({ id: "BIGINT", customer: "VARCHAR", amount: "DECIMAL(20,6)" });
    const theirs = client(
      "SELECT id, customer, amount, paid, DATE_FORMAT(placed, '%Y-%m-%d %H:%i:%s.%f'), IFNULL(doc, 'NULL') FROM orders ORDER BY id",
    );
    const ours = (
      await p.sql.all<Record<string, string>>(
        `SELECT CAST(id AS VARCHAR) AS sid, customer, CAST(amount AS VARCHAR) AS amount,
           CAST(CAST(paid AS INTEGER) AS VARCHAR) AS paid, strftime(CAST(placed AS TIMESTAMP), '%Y-%m-%d %H:%M:%S.%f') AS placed,
           coalesce(CAST(doc AS VARCHAR), 'NULL') AS doc
         FROM "${tab(out).name}" ORDER BY id`,
      )
    ).map((r) => Object.values(r));
    const norm = (rows: string[][]) =>
      rows.map((r) => r.map((v, i) => (i === 5 && v !== "NULL" ? JSON.stringify(JSON.parse(v)) : v)));
    expect(norm(ours)).toEqual(norm(theirs));
    expect(ours[199]![2]).toBe("200000600.123657");
    // The password (DAGWOOD_SECRET_MDB) is in no cache key, dataset record or log line.
    const key = await p.fingerprint(ingestDatabase, { connection: "mdb", table: "orders" });
    expect(key).toMatch(/mdb|127\.0\.0\.1/);
    for (const text of [key, JSON.stringify(p.datasets), JSON.stringify(p.logs), JSON.stringify(p.progress)])
      expect(text).not.toContain(my.password);
  });

  it("reads only new rows over three runs, and a killed session commits nothing and resumes", async () => {
    await insert(1, 100);
    await p.run(ingestDatabase, {}, incremental);
    await insert(101, 150);
    await p.run(ingestDatabase, {}, incremental);
    await insert(151, 150_000);
    connections.open = async (...args) => {
      const real = await realOpen(...args);
      return {
        ...real,
        kind: real.kind,
        serverVersion: () => real.serverVersion(),
        changeToken: (s) => real.changeToken(s),
        close: () => real.close(),
        read: (spec, opts) =>
          real.read(spec, {
            ...opts,
            batchRows: 1000,
            onBatch: async (batch) => {
              await opts.onBatch(batch);
              if (!spec.cursor) return;
              // Every session of the reading user: the one streaming the rows among them.
              const ids = (await my.root(
                "SELECT id FROM information_schema.PROCESSLIST WHERE user = 'dagwood'",
              )) as { id: number }[];
              for (const { id } of ids) await my.root(`KILL CONNECTION ${id}`).catch(() => undefined);
            },
          }),
      } as DbConnection;
    };
    await expect(p.run(ingestDatabase, {}, incremental)).rejects.toThrow(/mdb/);
    expect(await committed()).toEqual({ cursor: "150", rows: 150 });
    connections.open = realOpen;
    const { out } = await p.run(ingestDatabase, {}, incremental);
    expect(tab(out).rows).toBe(150_000);
    expect(p.datasets.map((d) => [d.database!.cursor, d.database!.rowsRead])).toEqual([
      [{ column: "id", from: null, to: "100" }, 100],
      [{ column: "id", from: "100", to: "150" }, 50],
      [{ column: "id", from: "150", to: "150000" }, 149_850],
    ]);
    expect(await p.sql.all(`SELECT count(DISTINCT id) AS d FROM "${tab(out).name}"`)).toEqual([
      { d: 150_000 },
    ]);
  });

  it("fills the progress bar by information_schema's TABLE_ROWS, below 1 until done", async () => {
    await insert(1, 2000);
    await my.root("ANALYZE TABLE dagwood.orders");
    // The server's estimate, read by its own client.
    const [[estimate]] = client(
      "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'dagwood' AND TABLE_NAME = 'orders'",
    ) as [[string]];
    expect(Number(estimate)).toBeGreaterThan(0);
    await p.run(ingestDatabase, {}, { connection: "mdb", table: "orders" });
    const about = p.progress.find((e) => / of about /.test(e.message ?? ""));
    expect(about?.message).toMatch(
      new RegExp(`^Read 2,000 of about ${Number(estimate).toLocaleString("en")} rows from mdb/orders`),
    );
    // After "Reading mdb/orders" (0): rows read of the estimate, never 1 before the end.
    const during = p.progress.slice(1, -1);
    expect(during.length).toBeGreaterThan(0);
    expect(during.every((e) => e.fraction > 0 && e.fraction < 1)).toBe(true);
    expect(p.progress.at(-1)?.fraction).toBe(1);
  });

  it("refuses NULL and backwards cursors", async () => {
    await insert(1, 10);
    await my.root("UPDATE dagwood.orders SET updated = NULL WHERE id <= 3");
    await expect(p.run(ingestDatabase, {}, { ...incremental, cursor: "updated" })).rejects.toThrow(
      'The cursor column "updated" of mdb/orders has 3 NULL values',
    );
    await p.run(ingestDatabase, {}, incremental);
    await my.root("DELETE FROM dagwood.orders WHERE id > 5");
    await expect(p.run(ingestDatabase, {}, incremental)).rejects.toThrow(
      /is now 5, below the cursor .* \(10\)/,
    );
  });

  it("a cancel stops the query on the server and commits nothing", async () => {
    await insert(1, 5);
    await p.run(ingestDatabase, {}, incremental);
    await insert(6, 50_000);
    const abort = new AbortController();
    connections.open = async (...args) => {
      const real = await realOpen(...args);
      return {
        ...real,
        kind: real.kind,
        serverVersion: () => real.serverVersion(),
        changeToken: (s) => real.changeToken(s),
        close: () => real.close(),
        read: (spec, opts) =>
          real.read(spec, {
            ...opts,
            batchRows: 1000,
            onBatch: async (batch) => {
              await opts.onBatch(batch);
              if (spec.cursor) abort.abort();
            },
          }),
      } as DbConnection;
    };
    await expect(p.run(ingestDatabase, {}, incremental, abort.signal)).rejects.toThrow(/cancel/i);
    expect(await committed()).toEqual({ cursor: "5", rows: 5 });
    const running = (await my.root(
      "SELECT id FROM information_schema.PROCESSLIST WHERE user = 'dagwood' AND info LIKE 'SELECT%orders%'",
    )) as unknown[];
    expect(running).toEqual([]);
  });
});
