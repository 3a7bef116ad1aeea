/**
 * ingest.database's CSV path (a full PostgreSQL read: COPY … (FORMAT csv) piped into DuckDB's
 * read_csv through a named pipe) against a real PostgreSQL: every type it takes lands as the binary
 * reader lands it (an incremental read, checked against psql in ingest-database-pg.test.ts) and as
 * psql prints it; bad values fail naming the column; a cancel and a dropped connection leave nothing.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { PortValue } from "../app/engine/ports";
import { createTestProject, type TestProject } from "../app/engine/testing";
import type { DbConnection } from "../app/ingest/db/types";
import { startTestPostgres, type TestPostgres } from "../app/store/pg-testing";
import ingestDatabase, { connections } from "./ingest-database";

function tab(v: PortValue | undefined) {
  if (v?.type !== "table") throw new Error("not a table output");
  return v;
}

type CsvOpts = { consume: (csv: Readable) => Promise<void> } & Record<string, unknown>;
type WithCsv = DbConnection & { readCsv(spec: unknown, opts: CsvOpts): Promise<unknown> };

describe("ingest.database (PostgreSQL, CSV path)", () => {
  let pg: TestPostgres;
  let p: TestProject;
  const realOpen = connections.open;
  /** readCsv calls and what they gave (null: the binary reader read instead). */
  let csvReads: unknown[];
  /** Called with each CSV stream before the block consumes it. */
  let onStream: ((csv: Readable) => void) | undefined;

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
    csvReads = [];
    onStream = undefined;
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
    // The real connection, its readCsv watched (the prototype keeps every other method).
    connections.open = async (...args) => {
      const real = (await realOpen(...args)) as WithCsv;
      const watched = Object.create(real) as WithCsv;
      watched.readCsv = async (spec, opts) => {
        try {
          const r = await real.readCsv(spec, {
            ...opts,
            consume: (csv) => {
              onStream?.(csv);
              return opts.consume(csv);
            },
          });
          csvReads.push(r);
          return r;
        } catch (e) {
          csvReads.push((e as Error).name);
          throw e;
        }
      };
      return watched;
    };
  });
  afterEach(async () => {
    connections.open = realOpen;
    await p.close();
  });

  /** Workspace tables besides `keep`, and read folders left in .dagwood/tmp. */
  const leftovers = async (keep: string[] = []) => {
    const tables = (await p.sql.all<{ t: string }>("SELECT table_name AS t FROM duckdb_tables()"))
      .map((r) => r.t)
      .filter((t) => !keep.includes(t) && !t.startsWith("dagwood_"));
    const tmp = join(p.dir, ".dagwood", "tmp");
    return { tables, tmp: existsSync(tmp) ? readdirSync(tmp) : [] };
  };

  const copies = () =>
    psql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%' AND pid <> pg_backend_pid()");

  it("lands every type it takes exactly as the binary reader and psql do", async () => {
    psql(`DROP TABLE IF EXISTS t; CREATE TABLE t (id bigint, i2 smallint, i4 integer, f4 real, f8 float8,
        n numeric(30,9), b boolean, tx text, vc varchar(20), ch char(4), d date, tm time, ts timestamp,
        tz timestamptz, u uuid, j json, jb jsonb, bt bytea, ai integer[], an numeric(10,2)[], ab boolean[]);
      INSERT INTO t VALUES
        (1, -32768, 2147483647, 1.1, 0.1, 123456789012345678901.123456789, true, '', 'a,b', 'x',
         '2024-02-29', '23:59:59.999999', '2024-01-01 00:00:00.000001', '2024-03-01 10:00:00.123456+02',
         'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2]}', '{"b": null}', '\\x00ff0a22', '{1,NULL,3}',
         '{1.50,-2.25}', '{t,f,NULL}'),
        (2, NULL, NULL, 'NaN', 'Infinity', -0.000000001, false, '\\N', 'say "hi"', NULL,
         '0044-03-15 BC', '00:00:00', '0044-03-15 12:30:00.5 BC', '0001-01-01 00:00:00+00 BC', NULL, NULL,
         NULL, '\\x', '{}', NULL, NULL),
        (3, 7, 8, '-Infinity', 5e-324, 0, NULL, E'two\\nlines, "quoted"', NULL, 'abcd', '9999-12-31',
         NULL, '1970-01-01 00:00:00', '2262-04-11 23:47:16.854775+00', NULL, '"x"', '[1, "y"]', NULL,
         '[0:1]={4,5}', '{}', '{}'),
        (4, NULL, NULL, -0.0, 1.7976931348623157e308, NULL, NULL, NULL, '', '', NULL, NULL, NULL, NULL,
         NULL, NULL, NULL, NULL, NULL, NULL, NULL)`);
    const csv = tab((await p.run(ingestDatabase, {}, { connection: "wh", table: "t" })).out);
    expect(csvReads).toHaveLength(1);
    expect(csvReads[0]).not.toBeNull();
    expect(csv.rows).toBe(4);
    // An incremental read takes the binary reader.
    const binary = tab(
      (await p.run(ingestDatabase, {}, { connection: "wh", table: "t", mode: "incremental", cursor: "id" }))
        .out,
    );
    expect(csvReads).toHaveLength(1);
    expect(csv.columns).toEqual(binary.columns);
    const diff = async (a: string, b: string) =>
      p.sql.all(`SELECT id FROM (SELECT * FROM "${a}" EXCEPT SELECT * FROM "${b}") ORDER BY id`);
    expect(await diff(csv.name, binary.name)).toEqual([]);
    expect(await diff(binary.name, csv.name)).toEqual([]);
    // NULL, '' and the text \N stay apart; quotes, commas and newlines survive; psql agrees.
    const text = await p.sql.all<{ id: number; tx: string | null; vc: string | null }>(
      `SELECT CAST(id AS INTEGER) AS id, tx, vc FROM "${csv.name}" ORDER BY id`,
    );
    expect(text).toEqual([
      { id: 1, tx: "", vc: "a,b" },
      { id: 2, tx: "\\N", vc: 'say "hi"' },
      { id: 3, tx: 'two\nlines, "quoted"', vc: null },
      { id: 4, tx: null, vc: "" },
    ]);
    const theirs = psql(
      "SELECT id, n::text, to_char(tz AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), encode(bt, 'hex'), f8::text FROM t WHERE id IN (1, 3) ORDER BY id",
    );
    const ours = (
      await p.sql.all<Record<string, string>>(
        `SELECT CAST(id AS VARCHAR) AS id, CAST(n AS VARCHAR) AS n,
          strftime(timezone('UTC', tz), '%Y-%m-%d %H:%M:%S.%f') AS tz, coalesce(lower(hex(bt)), '') AS bt,
          CAST(f8 AS VARCHAR) AS f8 FROM "${csv.name}" WHERE id IN (1, 3) ORDER BY id`,
      )
    ).map((r) => Object.values(r));
    expect(ours.map((r) => r.slice(0, 4))).toEqual(theirs.map((r) => r.slice(0, 4)));
    expect(Number(ours[1]![4])).toBe(Number(theirs[1]![4])); // 5e-324, the smallest double
    expect(await leftovers([csv.name, binary.name])).toEqual({
      tables: expect.not.arrayContaining([expect.stringMatching(/stage/)]),
      tmp: [],
    });
  });

  it("lands rows whose quoted newlines fall across DuckDB's read buffers whole, in the server's order, as psql reads them", async () => {
    // About 30 MB of CSV (several of read_csv's 8 MiB buffers, parsed by its threads as they fill):
    // texts with newlines, commas, quotes and whole lines that look like rows of this table.
    psql(`DROP TABLE IF EXISTS nl; CREATE TABLE nl AS SELECT i AS id,
        CASE WHEN i % 3 = 0 THEN E'line\\n' || i || ',' || (i + 1) || E',"x"\\n' || repeat('z', i % 200)
             WHEN i % 3 = 1 THEN E'""\\n\\n,,' || md5(i::text)
             ELSE 'plain ' || i END AS t,
        i * 2 AS k FROM generate_series(1, 400000) AS i`);
    const digest = "md5(string_agg(id || ':' || t || ':' || k, '|' ORDER BY id))";
    const [[theirs]] = psql(`SELECT ${digest} FROM nl`) as [[string]];
    const out = tab((await p.run(ingestDatabase, {}, { connection: "wh", table: "nl" })).out);
    expect(csvReads).toHaveLength(1);
    expect(csvReads[0]).not.toBeNull();
    expect(out.rows).toBe(400_000);
    const ours = await p.sql.one<{ d: string; misplaced: number | bigint }>(
      `SELECT ${digest} AS d, count(*) FILTER (WHERE id <> rowid + 1) AS misplaced FROM "${out.name}"`,
    );
    expect(ours.d).toBe(theirs);
    // The table keeps the order COPY wrote the rows in (the heap's: id order for this new table).
    expect(Number(ours.misplaced)).toBe(0);
  }, 120_000);

  it("an empty read gives its columns and no rows; a column it cannot take goes through the binary reader", async () => {
    psql(
      "DROP TABLE IF EXISTS e; CREATE TABLE e (a int, b text); DROP TABLE IF EXISTS m; CREATE TABLE m (id int, x text[])",
    );
    const empty = tab((await p.run(ingestDatabase, {}, { connection: "wh", table: "e" })).out);
    expect(empty.rows).toBe(0);
    expect(empty.columns).toEqual([
      { name: "a", type: "INTEGER" },
      { name: "b", type: "VARCHAR" },
    ]);
    expect(csvReads).toHaveLength(1);
    expect(csvReads[0]).not.toBeNull();
    psql(`INSERT INTO m VALUES (1, '{"a,b", NULL, "c"}')`);
    // A field under the CSV path's line limit (4 MB), and one over it: read again by the binary reader.
    psql("INSERT INTO e VALUES (1, repeat('x', 3000000))");
    const long = tab((await p.run(ingestDatabase, {}, { connection: "wh", table: "e" })).out);
    expect(csvReads[1]).not.toBeNull();
    expect(await p.sql.all(`SELECT CAST(length(b) AS INTEGER) AS n FROM "${long.name}"`)).toEqual([
      { n: 3_000_000 },
    ]);
    psql("INSERT INTO e SELECT i, repeat('y', 5000000) || i FROM generate_series(2, 3) AS i");
    const longer = tab((await p.run(ingestDatabase, {}, { connection: "wh", table: "e" })).out);
    expect(csvReads[2]).toBe("CsvLineTooLong");
    expect(
      await p.sql.all(
        `SELECT CAST(a AS INTEGER) AS a, CAST(length(b) AS INTEGER) AS n FROM "${longer.name}" ORDER BY a`,
      ),
    ).toEqual([
      { a: 1, n: 3_000_000 },
      { a: 2, n: 5_000_001 },
      { a: 3, n: 5_000_001 },
    ]);
    expect(await leftovers([empty.name, long.name, longer.name])).toEqual({
      tables: expect.not.arrayContaining([expect.stringMatching(/stage/)]),
      tmp: [],
    });
    csvReads = [];
    const m = tab((await p.run(ingestDatabase, {}, { connection: "wh", table: "m" })).out);
    expect(csvReads[0]).toBeNull(); // text[] elements print quoted: the binary reader reads them
    expect(await p.sql.all(`SELECT x FROM "${m.name}"`)).toEqual([{ x: ["a,b", null, "c"] }]);
  });

  it("a value the column's DuckDB type cannot hold fails naming the column; the query stops, nothing stays", async () => {
    psql(`DROP TABLE IF EXISTS bad; CREATE TABLE bad (id int, amount numeric(12,2), day date);
      INSERT INTO bad SELECT i, CASE WHEN i = 2 THEN 'NaN'::numeric ELSE i END, date '2024-01-01' FROM generate_series(1, 300000) AS i`);
    await expect(p.run(ingestDatabase, {}, { connection: "wh", table: "bad" })).rejects.toThrow(
      /Column "amount" \(numeric\(12,2\)\).*NaN/,
    );
    expect(copies()).toEqual([["0"]]);
    expect(await leftovers()).toEqual({ tables: [], tmp: [] });
    psql("UPDATE bad SET amount = 1 WHERE id = 2; UPDATE bad SET day = 'infinity' WHERE id = 5");
    await expect(p.run(ingestDatabase, {}, { connection: "wh", table: "bad" })).rejects.toThrow(
      'Column "day": the date infinity (or -infinity) has no DuckDB value',
    );
    expect(await leftovers()).toEqual({ tables: [], tmp: [] });
    // The connection's next read works.
    psql("UPDATE bad SET day = '2024-01-02' WHERE id = 5");
    expect(tab((await p.run(ingestDatabase, {}, { connection: "wh", table: "bad" })).out).rows).toBe(300_000);
  });

  const big = () =>
    psql(`DROP TABLE IF EXISTS big; CREATE TABLE big AS SELECT i AS id, md5(i::text) AS h
      FROM generate_series(1, 400000) AS i`);

  it("a cancel stops the COPY on the server and leaves no table nor pipe", async () => {
    big();
    const abort = new AbortController();
    onStream = (csv) => csv.once("data", () => abort.abort());
    await expect(p.run(ingestDatabase, {}, { connection: "wh", table: "big" }, abort.signal)).rejects.toThrow(
      /cancel/i,
    );
    expect(copies()).toEqual([["0"]]);
    expect(await leftovers()).toEqual({ tables: [], tmp: [] });
  });

  it("a dropped connection fails naming it and leaves no table nor pipe", async () => {
    big();
    onStream = (csv) =>
      csv.once("data", () =>
        psql(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'COPY%' AND pid <> pg_backend_pid()",
        ),
      );
    await expect(p.run(ingestDatabase, {}, { connection: "wh", table: "big" })).rejects.toThrow(
      /Connection wh .*dropped/,
    );
    expect(await leftovers()).toEqual({ tables: [], tmp: [] });
    // The next run connects again and reads every row, with progress on the way.
    onStream = undefined;
    const out = tab((await p.run(ingestDatabase, {}, { connection: "wh", table: "big" })).out);
    expect(out.rows).toBe(400_000);
    expect(p.progress.some((e) => /^Read 400,000 /.test(e.message ?? ""))).toBe(true);
  });
});
