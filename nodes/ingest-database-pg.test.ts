/**
 * ingest.database against a real PostgreSQL (a throw-away cluster, app/store/pg-testing.ts): exact
 * values compared with psql's own text output (an independent read), incremental runs, a dropped
 * connection, NULL and backwards cursors, cancel.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { PortValue } from "../app/engine/ports";
import { createTestProject, type TestProject } from "../app/engine/testing";
import { CURSOR_TABLE } from "../app/ingest/db/incremental";
import type { DbConnection } from "../app/ingest/db/types";
import { startTestPostgres, type TestPostgres } from "../app/store/pg-testing";
import ingestDatabase, { connections } from "./ingest-database";

function tab(v: PortValue | undefined) {
  if (v?.type !== "table") throw new Error("not a table output");
  return v;
}

describe("ingest.database (PostgreSQL)", () => {
  let pg: TestPostgres;
  let p: TestProject;
  const realOpen = connections.open;

  /** psql's unaligned output (fields split on |): PostgreSQL's own text form of each value. */
  const psql = (sql: string): string[][] =>
    execFileSync("psql", ["-X", "-q", "-At", "-F", "|", "-v", "ON_ERROR_STOP=1", pg.url, "-c", sql], {
      encoding: "utf8",
    })
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => l.split("|"));

  beforeAll(async () => {
    pg = await startTestPostgres();
  }, 120_000);
  afterAll(async () => {
    await pg?.stop();
  });

  beforeEach(async () => {
    p = await createTestProject();
    psql(`DROP TABLE IF EXISTS orders;
      CREATE TABLE orders (id bigint PRIMARY KEY, customer text NOT NULL, amount numeric(20,6),
        paid boolean, placed timestamptz, doc jsonb, tags integer[], updated bigint)`);
    writeFileSync(
      join(p.dir, "dagwood.json"),
      JSON.stringify({
        connections: {
          wh: {
            kind: "postgres",
            host: "127.0.0.1",
            port: pg.port,
            database: "postgres",
            user: "dagwood",
            ssl: "disable",
          },
        },
      }),
    );
  });
  afterEach(async () => {
    connections.open = realOpen;
    await p.close();
  });

  /** Rows from..to: decimals past a double's digits, time zones, JSON, arrays, NULLs. */
  const insert = (from: number, to: number) =>
    psql(`INSERT INTO orders
      SELECT i, 'c' || (i % 7), (i::bigint * 1000003)::numeric + 0.123457 + i / 1000000.0, i % 2 = 0,
             timestamptz '2024-03-01 10:00:00.123456+02' + i * interval '1 hour 1 second',
             CASE WHEN i % 3 = 0 THEN NULL ELSE jsonb_build_object('i', i, 'tags', jsonb_build_array('a', 'b')) END,
             ARRAY[i, i + 1, NULL], i
      FROM generate_series(${from}, ${to}) AS i`);

  const incremental = { connection: "wh", table: "orders", mode: "incremental", cursor: "id" };
  const committed = async () =>
    (await p.sql.all<{ cursor: string; rows: number }>(`SELECT cursor, rows FROM ${CURSOR_TABLE}`))[0];

  it("lands numeric, timestamptz, boolean, jsonb and integer[] exactly as PostgreSQL prints them", async () => {
    insert(1, 200);
    const { out } = await p.run(ingestDatabase, {}, { connection: "wh", table: "orders" });
    expect(tab(out).columns).toEqual([
      { name: "id", type: "BIGINT" },
      { name: "customer", type: "VARCHAR" },
      { name: "amount", type: "DECIMAL(20,6)" },
      { name: "paid", type: "BOOLEAN" },
      { name: "placed", type: "TIMESTAMP WITH TIME ZONE" },
      { name: "doc", type: "JSON" },
      { name: "tags", type: "INTEGER[]" },
      { name: "updated", type: "BIGINT" },
    ]);
    const theirs = psql(`SELECT id, customer, amount::text, CASE WHEN paid THEN 't' ELSE 'f' END,
        to_char(placed AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), coalesce(doc::text, 'NULL'),
        array_to_string(tags, ',', 'NULL') FROM orders ORDER BY id`);
    const ours = (
      await p.sql.all<
        Record<string, string>
      >(`SELECT CAST(id AS VARCHAR) AS sid, customer, CAST(amount AS VARCHAR) AS amount,
        CASE WHEN paid THEN 't' ELSE 'f' END AS paid,
        strftime(timezone('UTC', placed), '%Y-%m-%d %H:%M:%S.%f') AS placed,
        coalesce(CAST(json(doc) AS VARCHAR), 'NULL') AS doc,
        array_to_string(list_transform(tags, x -> coalesce(CAST(x AS VARCHAR), 'NULL')), ',') AS tags
        FROM "${tab(out).name}" ORDER BY id`)
    ).map((r) => Object.values(r));
    // jsonb prints with spaces after : and ,; DuckDB's json() minifies: compare the parsed documents.
    const norm = (rows: string[][]) =>
      rows.map((r) => r.map((v, i) => (i === 5 && v !== "NULL" ? JSON.stringify(JSON.parse(v)) : v)));
    expect(tab(out).rows).toBe(200);
    expect(norm(ours)).toEqual(norm(theirs));
    expect(ours[199]![2]).toBe("200000600.123657");
  });

  it("reads only new rows over three runs, and a dropped connection commits nothing and resumes", async () => {
    insert(1, 100);
    await p.run(ingestDatabase, {}, incremental);
    insert(101, 150);
    await p.run(ingestDatabase, {}, incremental);
    insert(151, 100_000);
    // Drop the connection from the server side after the first batch of the read.
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
            onBatch: async (batch) => {
              await opts.onBatch(batch);
              if (spec.cursor)
                psql(
                  "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'dagwood' AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
                );
            },
          }),
      } as DbConnection;
    };
    await expect(p.run(ingestDatabase, {}, incremental)).rejects.toThrow(/wh/);
    expect(await committed()).toEqual({ cursor: "150", rows: 150 });
    connections.open = realOpen;
    const { out } = await p.run(ingestDatabase, {}, incremental);
    expect(tab(out).rows).toBe(100_000);
    expect(p.datasets.map((d) => [d.database!.cursor, d.database!.rowsRead])).toEqual([
      [{ column: "id", from: null, to: "100" }, 100],
      [{ column: "id", from: "100", to: "150" }, 50],
      [{ column: "id", from: "150", to: "100000" }, 99_850],
    ]);
    const ids = await p.sql.all<{ n: number; d: number }>(
      `SELECT count(*) AS n, count(DISTINCT id) AS d FROM "${tab(out).name}"`,
    );
    expect(ids).toEqual([{ n: 100_000, d: 100_000 }]);
  });

  it("fills the progress bar by PostgreSQL's estimate: a bounded count before ANALYZE, reltuples after", async () => {
    insert(1, 3000);
    const aboutIn = () => p.progress.findLast((e) => / of about /.test(e.message ?? ""))?.message;
    // Never analysed (reltuples -1 on PostgreSQL 14+): a count of at most a million rows.
    const [[reltuples]] = psql("SELECT reltuples FROM pg_class WHERE oid = 'orders'::regclass") as [[string]];
    await p.run(ingestDatabase, {}, { connection: "wh", table: "orders" });
    expect(aboutIn()).toMatch(/^Read 3,000 of about 3,000 rows from wh\/orders/);
    expect(p.progress.slice(0, -1).every((e) => e.fraction < 1)).toBe(true);
    // After ANALYZE, the catalog's estimate as PostgreSQL keeps it.
    psql("ANALYZE orders");
    const [[analysed]] = psql("SELECT reltuples::bigint FROM pg_class WHERE oid = 'orders'::regclass") as [
      [string],
    ];
    expect(Number(analysed)).toBe(3000);
    p.progress.length = 0;
    await p.run(ingestDatabase, {}, incremental);
    expect(aboutIn()).toMatch(/ of about 3,000 rows/);
    // Incremental past the cursor: the estimate less the rows accumulated.
    insert(3001, 3500);
    psql("ANALYZE orders");
    p.progress.length = 0;
    await p.run(ingestDatabase, {}, incremental);
    expect(aboutIn()).toMatch(/^Read 500 of about 500 rows/);
    expect(Number(reltuples)).toBeLessThan(3000);
  });

  it("refuses NULL and backwards cursors", async () => {
    insert(1, 10);
    psql("UPDATE orders SET updated = NULL WHERE id <= 3");
    await expect(p.run(ingestDatabase, {}, { ...incremental, cursor: "updated" })).rejects.toThrow(
      'The cursor column "updated" of wh/orders has 3 NULL values',
    );
    await p.run(ingestDatabase, {}, incremental);
    psql("DELETE FROM orders WHERE id > 5");
    await expect(p.run(ingestDatabase, {}, incremental)).rejects.toThrow(
      /is now 5, below the cursor .* \(10\)/,
    );
  });

  it("a cancel stops the query on the server and commits nothing", async () => {
    insert(1, 5);
    await p.run(ingestDatabase, {}, incremental);
    insert(6, 200_000);
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
            onBatch: async (batch) => {
              await opts.onBatch(batch);
              if (spec.cursor) abort.abort();
            },
          }),
      } as DbConnection;
    };
    await expect(p.run(ingestDatabase, {}, incremental, abort.signal)).rejects.toThrow(/cancel/i);
    expect(await committed()).toEqual({ cursor: "5", rows: 5 });
    expect(
      psql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%' AND pid <> pg_backend_pid()"),
    ).toEqual([["0"]]);
  });
});
