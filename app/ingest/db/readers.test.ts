/**
 * One table of cases, run against a real PostgreSQL, a real MariaDB and a SQLite file
 * (test-servers.ts): batches, filters, incremental cursors, catalog, change tokens, and the bad paths
 * (unknown tables, writes, unmapped types, null cursors).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  startMariadbDatabase,
  startPostgresDatabase,
  startSqliteDatabase,
  type TestDatabase,
} from "./test-servers";
import {
  type DbConnection,
  DbError,
  type DbErrorKind,
  type ReadSpec,
  type RowBatch,
  type SourceColumn,
} from "./types";

const kinds = [
  ["postgres", startPostgresDatabase],
  ["mysql", startMariadbDatabase],
  ["sqlite", startSqliteDatabase],
] as const;

async function readAll(conn: DbConnection, spec: ReadSpec, batchRows = 1000) {
  const batches: RowBatch[] = [];
  let columns: SourceColumn[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const result = await conn.read(spec, {
    batchRows,
    onColumns: (c) => {
      columns = c;
    },
    onBatch: async (b) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 1));
      batches.push(b);
      inFlight--;
    },
  });
  const rows: unknown[][] = [];
  for (const b of batches) for (let r = 0; r < b.rows; r++) rows.push(b.columns.map((c) => c[r]));
  return { result, batches, rows, columns, maxInFlight };
}

async function failsWith(p: Promise<unknown>, kind: DbErrorKind, pattern?: RegExp): Promise<DbError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(DbError);
    expect((e as DbError).kind, (e as Error).message).toBe(kind);
    if (pattern) expect((e as Error).message).toMatch(pattern);
    return e as DbError;
  }
  throw new Error(`expected a ${kind} error`);
}

/** Rows 1..n of items(id, name, score, ts): score = id/100, ts = 2024-01-01 + id minutes. */
function itemsSql(from: number, to: number): string {
  const values: string[] = [];
  for (let i = from; i <= to; i++) {
    const m = i - 1;
    const ts = `2024-01-${String(1 + Math.floor(m / 1440)).padStart(2, "0")} ${String(Math.floor(m / 60) % 24).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}:00`;
    values.push(`(${i}, 'n${i}', ${(i / 100).toFixed(2)}, '${ts}')`);
  }
  return `INSERT INTO items (id, name, score, ts) VALUES ${values.join(", ")}`;
}

describe.each(kinds)("%s", (kind, start) => {
  let db: TestDatabase;
  let conn: DbConnection;

  beforeAll(async () => {
    db = await start();
    const tsType = kind === "postgres" ? "TIMESTAMP" : kind === "mysql" ? "DATETIME" : "TIMESTAMP";
    await db.admin(
      `CREATE TABLE items (id INTEGER NOT NULL, name VARCHAR(20), score DECIMAL(6,2), ts ${tsType})`,
    );
    await db.admin(itemsSql(1, 2500));
    await db.admin("CREATE VIEW big_items AS SELECT id, name FROM items WHERE id > 2000");
    await db.admin("CREATE TABLE holes (id INTEGER, v VARCHAR(5))");
    await db.admin("INSERT INTO holes VALUES (1, 'a'), (NULL, 'b')");
    conn = await db.open();
  }, 120_000);

  afterAll(async () => {
    await conn?.close();
    await db?.stop();
  });

  it("reports the server's version", async () => {
    expect(await conn.serverVersion()).toMatch(
      kind === "postgres" ? /^PostgreSQL 1\d/ : kind === "mysql" ? /^MariaDB 1\d\./ : /^SQLite 3\./,
    );
  });

  it("streams a table in batches, one batch at a time, with exact decimals", async () => {
    const { result, batches, rows, columns, maxInFlight } = await readAll(conn, {
      source: { table: "items" },
    });
    expect(result.rows).toBe(2500);
    expect(batches.map((b) => b.rows)).toEqual([1000, 1000, 500]);
    expect(maxInFlight).toBe(1);
    expect(columns.map((c) => [c.name, c.duckdbType])).toEqual([
      ["id", kind === "sqlite" ? "BIGINT" : "INTEGER"],
      ["name", "VARCHAR"],
      ["score", "DECIMAL(6,2)"],
      ["ts", "TIMESTAMP"],
    ]);
    const byId = new Map(rows.map((r) => [Number(r[0]), r]));
    expect(byId.get(1234)!.slice(1)).toEqual([
      "n1234",
      "12.34",
      expect.stringMatching(/^2024-01-01 20:33:00(\.0+)?$/),
    ]);
    expect(byId.get(2500)![2]).toBe("25.00");
  });

  it("reads chosen columns with a where filter, and a read-only query", async () => {
    const { rows, columns } = await readAll(conn, {
      source: { table: "items", columns: ["name", "id"], where: "id <= 3 AND name <> 'n2'" },
    });
    expect(columns.map((c) => c.name)).toEqual(["name", "id"]);
    expect(rows.map((r) => r[0]).sort()).toEqual(["n1", "n3"]);
    const q = await readAll(conn, {
      source: { query: "SELECT id * 2 AS twice FROM items WHERE id < 4 ORDER BY id;" },
    });
    expect(q.rows.map((r) => Number(r[0]))).toEqual([2, 4, 6]);
  });

  it("reads incrementally past a cursor, in the cursor's order", async () => {
    const first = await readAll(conn, {
      source: { table: "items", where: "id <= 100" },
      cursor: { column: "id", after: null },
    });
    expect(first.result.rows).toBe(100);
    expect(first.result.cursorMax).toBe("100");
    expect(first.rows.map((r) => Number(r[0]))).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    const next = await readAll(conn, {
      source: { table: "items", where: "id <= 150" },
      cursor: { column: "id", after: first.result.cursorMax },
    });
    expect(next.rows.map((r) => Number(r[0]))).toEqual(Array.from({ length: 50 }, (_, i) => i + 101));
    expect(next.result.cursorMax).toBe("150");
    // A timestamp cursor: its max comes back as text the next read compares against.
    const ts = await readAll(conn, {
      source: { table: "items", where: "id <= 90" },
      cursor: { column: "ts", after: null },
    });
    expect(ts.result.cursorMax).toMatch(/^2024-01-01 01:29:00(\.0+)?$/);
    const after = await readAll(conn, {
      source: { table: "items", where: "id <= 95" },
      cursor: { column: "ts", after: ts.result.cursorMax },
    });
    expect(after.rows.map((r) => Number(r[0]))).toEqual([91, 92, 93, 94, 95]);
    // Nothing new: no rows, no cursor.
    const none = await readAll(conn, { source: { table: "items" }, cursor: { column: "id", after: "2500" } });
    expect([none.result.rows, none.result.cursorMax]).toEqual([0, null]);
  });

  it("fails on a cursor column with nulls, or one not among the columns read", async () => {
    await failsWith(
      readAll(conn, { source: { table: "holes" }, cursor: { column: "id", after: null } }),
      "cursor",
      /"id" has a null value/,
    );
    await failsWith(
      readAll(conn, { source: { table: "items", columns: ["name"] }, cursor: { column: "id", after: null } }),
      "cursor",
      /not among the columns/,
    );
  });

  it("fails with not-found on an unknown table or column, naming it", async () => {
    await failsWith(readAll(conn, { source: { table: "no_such_table" } }), "not-found", /no_such_table/);
    await failsWith(readAll(conn, { source: { table: "items", columns: ["nope"] } }), "not-found");
    // The connection is still usable afterwards.
    expect((await readAll(conn, { source: { table: "holes" } })).result.rows).toBe(2);
  });

  it("refuses a query that is not one read-only SELECT before sending it", async () => {
    await failsWith(
      readAll(conn, { source: { query: "SELECT 1; DROP TABLE holes" } }),
      "not-read-only",
      /more than one statement/,
    );
    await failsWith(readAll(conn, { source: { query: "DELETE FROM holes" } }), "not-read-only");
    await failsWith(
      readAll(conn, { source: { table: "holes", where: "1=1; DROP TABLE holes" } }),
      "not-read-only",
    );
    // A table name is quoted: it cannot inject SQL.
    await failsWith(readAll(conn, { source: { table: "holes; DROP TABLE holes" } }), "not-found");
    expect((await db.adminQuery("SELECT count(*) AS n FROM holes"))[0]!.n).toBeTruthy();
  });

  it("lists schemas and tables with views", async () => {
    const schemas = await conn.listSchemas();
    expect(schemas).toContain(kind === "postgres" ? "public" : kind === "mysql" ? "dagwood" : "main");
    expect(schemas.some((s) => /^(pg_|information_schema|mysql|performance_schema)/.test(s))).toBe(false);
    const tables = await conn.listTables();
    expect(tables.find((t) => t.name === "items")).toMatchObject({ kind: "table" });
    expect(tables.find((t) => t.name === "big_items")).toMatchObject({ kind: "view" });
  });

  it("describes a read's columns without reading rows", async () => {
    const cols = await conn.describe({ source: { table: "items", columns: ["score", "name"] } });
    expect(cols.map((c) => [c.name, c.duckdbType])).toEqual([
      ["score", "DECIMAL(6,2)"],
      ["name", "VARCHAR"],
    ]);
  });

  it("gives a change token that moves when the table changes, none for a query", async () => {
    await db.admin("CREATE TABLE tok (id INTEGER, v INTEGER)");
    await db.admin("INSERT INTO tok VALUES (1, 10), (2, 20)");
    const spec: ReadSpec = { source: { table: "tok" }, cursor: { column: "id", after: null } };
    const a = await conn.changeToken(spec);
    expect(a).toBeTruthy();
    expect(await conn.changeToken(spec)).toBe(a);
    await db.admin("INSERT INTO tok VALUES (3, 30)");
    const b = await conn.changeToken(spec);
    expect(b).not.toBe(a);
    // Without a cursor too, an update that keeps the count (PostgreSQL: count + rows' hashes; MySQL: CHECKSUM TABLE; SQLite: the file's bytes).
    const plain: ReadSpec = { source: { table: "tok" } };
    const c = await conn.changeToken(plain);
    await db.admin("UPDATE tok SET v = 31 WHERE id = 3");
    expect(await conn.changeToken(plain)).not.toBe(c);
    expect(await conn.changeToken({ source: { query: "SELECT 1 AS x" } })).toBeNull();
  });
});
