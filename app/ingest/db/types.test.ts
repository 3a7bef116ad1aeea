/**
 * Each database's types land as the DuckDB types of the contract (types.ts), values exact: checked
 * against the values the test wrote and, for PostgreSQL's numeric and timestamps, against the
 * server's own text output (an independent rendering).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  startMariadbDatabase,
  startPostgresDatabase,
  startSqliteDatabase,
  type TestDatabase,
} from "./test-servers";
import { type DbConnection, DbError, type ReadSpec, type SourceColumn } from "./types";
import { mysqlDuckdbType, pgDuckdbType, pgNumericType, sqliteDuckdbType } from "./types-map";

async function readRows(conn: DbConnection, spec: ReadSpec) {
  let columns: SourceColumn[] = [];
  const rows: unknown[][] = [];
  await conn.read(spec, {
    onColumns: (c) => {
      columns = c;
    },
    onBatch: async (b) => {
      for (let r = 0; r < b.rows; r++) rows.push(b.columns.map((c) => c[r]));
    },
  });
  return { columns, rows };
}

const types = (cols: SourceColumn[]) => Object.fromEntries(cols.map((c) => [c.name, c.duckdbType]));

async function unmapped(p: Promise<unknown>, column: string) {
  const e = await p.then(
    () => undefined,
    (x) => x,
  );
  expect(e).toBeInstanceOf(DbError);
  expect((e as DbError).kind).toBe("unmapped-type");
  expect((e as Error).message).toContain(`"${column}"`);
}

describe("type mapping tables", () => {
  it("PostgreSQL: numeric(p,s) → DECIMAL(p,s) up to 38 digits; unconstrained numeric has none", () => {
    const mod = (p: number, s: number) => ((p << 16) | s) + 4;
    expect(pgNumericType(mod(12, 2))).toBe("DECIMAL(12,2)");
    expect(pgNumericType(mod(38, 0))).toBe("DECIMAL(38,0)");
    expect(pgNumericType(mod(39, 2))).toBeNull();
    expect(pgNumericType(-1)).toBeNull();
    expect(pgDuckdbType(1184, -1)).toBe("TIMESTAMPTZ");
    expect(pgDuckdbType(1007, -1)).toBe("INTEGER[]");
    expect(pgDuckdbType(1231, mod(5, 2))).toBe("DECIMAL(5,2)[]");
    expect(pgDuckdbType(3802, -1)).toBe("JSON");
    expect(pgDuckdbType(1186, -1)).toBeNull(); // interval
    expect(pgDuckdbType(790, -1)).toBeNull(); // money
  });

  it("MySQL: DECIMAL's precision from the display length, unsigned kinds, BIT(1) and TIME", () => {
    const f = (
      columnType: number,
      o: Partial<{ flags: number; decimals: number; columnLength: number; characterSet: number }> = {},
    ) => mysqlDuckdbType({ columnType, flags: 0, decimals: 0, columnLength: 0, characterSet: 33, ...o });
    expect(f(246, { columnLength: 14, decimals: 3 })).toBe("DECIMAL(12,3)"); // sign + point
    expect(f(246, { columnLength: 13, decimals: 3, flags: 32 })).toBe("DECIMAL(12,3)"); // unsigned: no sign
    expect(f(246, { columnLength: 67, decimals: 0 })).toBeNull(); // DECIMAL(65)
    expect(f(8, { flags: 32 })).toBe("UBIGINT");
    expect(f(16, { columnLength: 1 })).toBe("BOOLEAN");
    expect(f(11)).toBeNull(); // TIME: ±838 hours
    expect(f(252, { characterSet: 63 })).toBe("BLOB");
    expect(f(252, { characterSet: 45 })).toBe("VARCHAR");
  });

  it("SQLite: declared types hold when the values fit them; mixed values have no type", () => {
    const seen = (k: string[]) => ({
      integer: k.includes("i"),
      real: k.includes("r"),
      text: k.includes("t"),
      blob: k.includes("b"),
    });
    expect(sqliteDuckdbType("INTEGER", seen(["i"]))).toBe("BIGINT");
    expect(sqliteDuckdbType("VARCHAR(20)", seen(["t"]))).toBe("VARCHAR");
    expect(sqliteDuckdbType("NUMERIC(10,2)", seen(["i", "r"]))).toBe("DECIMAL(10,2)");
    expect(sqliteDuckdbType("REAL", seen(["i", "r"]))).toBe("DOUBLE");
    expect(sqliteDuckdbType(null, seen(["i"]))).toBe("BIGINT");
    expect(sqliteDuckdbType("INTEGER", seen(["i", "t"]))).toBeNull();
    expect(sqliteDuckdbType(null, seen(["t", "b"]))).toBeNull();
    expect(sqliteDuckdbType("TEXT", seen([]))).toBe("VARCHAR");
  });
});

describe("PostgreSQL values", () => {
  let db: TestDatabase;
  let conn: DbConnection;
  beforeAll(async () => {
    db = await startPostgresDatabase();
    await db.admin("CREATE TYPE mood AS ENUM ('sad', 'happy')");
    await db.admin(`CREATE TABLE t (
      b boolean, i2 smallint, i4 integer, i8 bigint, f4 real, f8 double precision, n numeric(12,3),
      tx text, vc varchar(10), ch char(3), d date, tm time, ts timestamp, tz timestamptz, u uuid, j json, jb jsonb,
      by bytea, ai integer[], at text[], an numeric(5,2)[], e mood, iv interval)`);
    await db.admin(`INSERT INTO t VALUES (true, -32768, 2147483647, 9223372036854775807, 1.5, 0.1, -12345.678,
      'héllo', 'x', 'ab', '2024-02-29', '13:14:15.123456', '2024-02-29 13:14:15.5', '2024-02-29 13:14:15+02',
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a":1}', '{"b": [1, 2]}', '\\x00ff', '{1,NULL,3}', '{"a","b c"}',
      '{1.50,-2.25}', 'happy', '1 day')`);
    await db.admin("INSERT INTO t (b) VALUES (NULL)");
    conn = await db.open();
  }, 120_000);
  afterAll(async () => {
    await conn?.close();
    await db?.stop();
  });

  it("reads every mapped type exactly, NULLs as null", async () => {
    const cols = [
      "b",
      "i2",
      "i4",
      "i8",
      "f4",
      "f8",
      "n",
      "tx",
      "vc",
      "ch",
      "d",
      "tm",
      "ts",
      "tz",
      "u",
      "j",
      "jb",
      "by",
      "ai",
      "at",
      "an",
      "e",
    ];
    const { columns, rows } = await readRows(conn, { source: { table: "t", columns: cols } });
    expect(types(columns)).toEqual({
      b: "BOOLEAN",
      i2: "SMALLINT",
      i4: "INTEGER",
      i8: "BIGINT",
      f4: "FLOAT",
      f8: "DOUBLE",
      n: "DECIMAL(12,3)",
      tx: "VARCHAR",
      vc: "VARCHAR",
      ch: "VARCHAR",
      d: "DATE",
      tm: "TIME",
      ts: "TIMESTAMP",
      tz: "TIMESTAMPTZ",
      u: "UUID",
      j: "JSON",
      jb: "JSON",
      by: "BLOB",
      ai: "INTEGER[]",
      at: "VARCHAR[]",
      an: "DECIMAL(5,2)[]",
      e: "VARCHAR",
    });
    expect(columns.find((c) => c.name === "tz")!.sourceType).toBe("timestamp with time zone");
    expect(rows[0]).toEqual([
      true,
      -32768,
      2147483647,
      9223372036854775807n,
      1.5,
      0.1,
      "-12345.678",
      "héllo",
      "x",
      "ab ",
      "2024-02-29",
      "13:14:15.123456",
      "2024-02-29 13:14:15.5",
      "2024-02-29 11:14:15+00",
      "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
      '{"a":1}',
      '{"b": [1, 2]}',
      Buffer.from([0, 255]),
      [1, null, 3],
      ["a", "b c"],
      ["1.50", "-2.25"],
      "happy",
    ]);
    expect(rows[1]).toEqual(cols.map((c) => (c === "b" ? null : null)));
  });

  it("numeric and timestamps match the server's own text output for many values", async () => {
    const q = `SELECT n::numeric(38,8) AS n, n::text AS nt, ts, ts::text AS tst FROM (
      SELECT ((random() - 0.5) * 10 ^ (random() * 30))::numeric(38,8) AS n,
             timestamp '1900-01-01' + random() * interval '250 years' AS ts
      FROM generate_series(1, 2000)
      UNION ALL SELECT 0::numeric(38,8), timestamp '1999-12-31 23:59:59.999999'
      UNION ALL SELECT -0.00000001, timestamp '2000-01-01 00:00:00') AS v`;
    const { rows } = await readRows(conn, { source: { query: q } });
    expect(rows.length).toBe(2002);
    for (const [n, nt, ts, tst] of rows) {
      expect(n).toBe(nt);
      expect(ts).toBe(tst);
    }
  });

  it("the binary COPY parser gives the same rows whatever the chunk boundaries", async () => {
    const pg = (await import("pg")).default;
    const { to: copyTo } = await import("pg-copy-streams");
    const { BinaryCopyParser } = await import("./postgres");
    const s = db.settings as Extract<typeof db.settings, { kind: "postgres" }>;
    const client = new pg.Client({
      host: s.host,
      port: s.port,
      database: s.database,
      user: "reader",
      password: db.secret!,
    });
    await client.connect();
    const chunks: Buffer[] = [];
    for await (const c of client.query(
      copyTo("COPY (SELECT i4, n, tx, ai, tz FROM t) TO STDOUT (FORMAT binary)"),
    ))
      chunks.push(c as Buffer);
    await client.end();
    const bytes = Buffer.concat(chunks);
    const cols = await conn.describe({ source: { table: "t", columns: ["i4", "n", "tx", "ai", "tz"] } });
    const { decoderFor } = await import("./postgres");
    const oids = [23, 1700, 25, 1007, 1184];
    const parse = (pieces: Buffer[]) => {
      const parser = new BinaryCopyParser(
        5,
        oids.map((oid, i) => decoderFor({ ...cols[i]!, oid, cast: false })),
        cols,
      );
      const rows: unknown[][] = [];
      const take = (r: unknown[]) => {
        rows.push([...r]);
        return true; // every row "fills a batch": push(EMPTY) must go on with the rest
      };
      for (const p of pieces) {
        parser.push(p, take);
        while (parser.push(Buffer.alloc(0), take));
      }
      expect(parser.done).toBe(true);
      return rows;
    };
    const whole = parse([bytes]);
    expect(whole).toEqual([
      [2147483647, "-12345.678", "héllo", [1, null, 3], "2024-02-29 11:14:15+00"],
      [null, null, null, null, null],
    ]);
    expect(parse([...bytes].map((b) => Buffer.from([b])))).toEqual(whole);
  });

  it("interval has no lossless type: an error naming the column, or text when chosen", async () => {
    await unmapped(readRows(conn, { source: { table: "t", columns: ["i4", "iv"] } }), "iv");
    await unmapped(readRows(conn, { source: { query: "SELECT sum(n) AS total FROM t" } }), "total");
    const { columns, rows } = await readRows(conn, {
      source: { table: "t", columns: ["i4", "iv"] },
      unmappedAsText: true,
    });
    expect(types(columns)).toEqual({ i4: "INTEGER", iv: "VARCHAR" });
    expect(rows[0]).toEqual([2147483647, "1 day"]);
  });

  it("a query that writes through a function fails in the read-only transaction", async () => {
    await db.admin("CREATE SEQUENCE s");
    const e = await readRows(conn, { source: { query: "SELECT nextval('s') AS v" } }).catch((x) => x);
    expect((e as DbError).kind).toBe("not-read-only");
    expect((await db.adminQuery("SELECT last_value, is_called FROM s"))[0]).toMatchObject({
      is_called: false,
    });
  });
});

describe("MariaDB values", () => {
  let db: TestDatabase;
  let conn: DbConnection;
  beforeAll(async () => {
    db = await startMariadbDatabase();
    await db.admin(`CREATE TABLE t (bt BIT(1), ti TINYINT, si SMALLINT, i INT, bi BIGINT, ubi BIGINT UNSIGNED, f FLOAT, d DOUBLE,
      n DECIMAL(12,3), tx TEXT, vc VARCHAR(10), dt DATE, dtm DATETIME(6), ts TIMESTAMP(6) NULL, bl BLOB, e ENUM('a','b'), j JSON, tm TIME)`);
    await db.admin(`INSERT INTO t VALUES (b'1', -128, -32768, 2147483647, 9223372036854775807, 18446744073709551615, 1.5, 0.1,
      -12345.678, 'héllo', 'x', '2024-02-29', '2024-02-29 13:14:15.500000', '2024-02-29 13:14:15.250000', x'00ff', 'b', '{"a": 1}', '838:59:59')`);
    await db.admin("INSERT INTO t (i) VALUES (NULL)");
    conn = await db.open();
  }, 120_000);
  afterAll(async () => {
    await conn?.close();
    await db?.stop();
  });

  it("reads every mapped type exactly, NULLs as null", async () => {
    const cols = [
      "bt",
      "ti",
      "si",
      "i",
      "bi",
      "ubi",
      "f",
      "d",
      "n",
      "tx",
      "vc",
      "dt",
      "dtm",
      "ts",
      "bl",
      "e",
      "j",
    ];
    const { columns, rows } = await readRows(conn, { source: { table: "t", columns: cols } });
    expect(types(columns)).toEqual({
      bt: "BOOLEAN",
      ti: "TINYINT",
      si: "SMALLINT",
      i: "INTEGER",
      bi: "BIGINT",
      ubi: "UBIGINT",
      f: "FLOAT",
      d: "DOUBLE",
      n: "DECIMAL(12,3)",
      tx: "VARCHAR",
      vc: "VARCHAR",
      dt: "DATE",
      dtm: "TIMESTAMP",
      ts: "TIMESTAMPTZ",
      bl: "BLOB",
      e: "VARCHAR",
      j: "JSON", // MariaDB's JSON is LONGTEXT with a check, named json in its extended metadata
    });
    expect(rows[0]).toEqual([
      true,
      -128,
      -32768,
      2147483647,
      9223372036854775807n,
      18446744073709551615n,
      1.5,
      0.1,
      "-12345.678",
      "héllo",
      "x",
      "2024-02-29",
      "2024-02-29 13:14:15.500000",
      "2024-02-29 13:14:15.250000+00",
      Buffer.from([0, 255]),
      "b",
      '{"a": 1}',
    ]);
    expect(rows[1]).toEqual(cols.map(() => null));
  });

  it("TIME has no lossless type: an error naming the column, or text when chosen", async () => {
    await unmapped(readRows(conn, { source: { table: "t", columns: ["tm"] } }), "tm");
    const { rows } = await readRows(conn, { source: { table: "t", columns: ["tm"] }, unmappedAsText: true });
    expect(rows[0]).toEqual(["838:59:59"]);
  });
});

describe("SQLite values", () => {
  let db: TestDatabase;
  let conn: DbConnection;
  beforeAll(async () => {
    db = await startSqliteDatabase();
    await db.admin(
      `CREATE TABLE t (i INTEGER, r REAL, tx TEXT, bl BLOB, bo BOOLEAN, d DATE, ts TIMESTAMP, n NUMERIC(10,2), j JSON, mixed)`,
    );
    await db.admin(
      `INSERT INTO t VALUES (9223372036854775807, 0.1, 'héllo', x'00ff', 1, '2024-02-29', '2024-02-29T13:14:15.5', 12.5, '{"a":1}', 1)`,
    );
    await db.admin(`INSERT INTO t (i, mixed) VALUES (NULL, 'text')`);
    conn = await db.open();
  });
  afterAll(async () => {
    await conn?.close();
    await db?.stop();
  });

  it("reads declared types exactly, NULLs as null", async () => {
    const cols = ["i", "r", "tx", "bl", "bo", "d", "ts", "n", "j"];
    const { columns, rows } = await readRows(conn, { source: { table: "t", columns: cols } });
    expect(types(columns)).toEqual({
      i: "BIGINT",
      r: "DOUBLE",
      tx: "VARCHAR",
      bl: "BLOB",
      bo: "BOOLEAN",
      d: "DATE",
      ts: "TIMESTAMP",
      n: "DECIMAL(10,2)",
      j: "JSON",
    });
    expect(rows[0]).toEqual([
      9223372036854775807n,
      0.1,
      "héllo",
      Buffer.from([0, 255]),
      true,
      "2024-02-29",
      "2024-02-29 13:14:15.5",
      "12.50",
      '{"a":1}',
    ]);
    expect(rows[1]).toEqual(cols.map(() => null));
  });

  it("a column holding numbers and text is an error naming it, or text when chosen", async () => {
    await unmapped(readRows(conn, { source: { table: "t", columns: ["mixed"] } }), "mixed");
    const { columns, rows } = await readRows(conn, {
      source: { table: "t", columns: ["mixed"] },
      unmappedAsText: true,
    });
    expect(types(columns)).toEqual({ mixed: "VARCHAR" });
    expect(rows).toEqual([["1"], ["text"]]);
  });

  it("a value that breaks its declared type fails naming the column", async () => {
    await db.admin("CREATE TABLE bad (d DATE)");
    await db.admin("INSERT INTO bad VALUES ('yesterday')");
    await unmapped(readRows(conn, { source: { table: "bad" } }), "d");
  });
});
