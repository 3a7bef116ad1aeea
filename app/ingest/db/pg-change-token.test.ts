/**
 * PostgreSQL's change token for a table read without a cursor (postgres.ts changeToken), against a
 * real server: a change of the rows the read gives must change the token (a token that stays while
 * the rows changed would keep a stale read in the cache); a token that moves while the rows stayed
 * only costs a read. Each case compares the token with the rows themselves, as the admin reads them
 * (an independent read: every row's text, sorted), before and after.
 */
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startPostgresDatabase, type TestDatabase } from "./test-servers";
import type { DbConnection, ReadSpec } from "./types";

describe("PostgreSQL change token (no cursor)", () => {
  let db: TestDatabase;
  let conn: DbConnection;

  beforeAll(async () => {
    db = await startPostgresDatabase();
    conn = await db.open();
  }, 60_000);
  afterAll(async () => {
    await conn?.close();
    await db?.stop();
  });
  beforeEach(async () => {
    await db.admin(
      "DROP VIEW IF EXISTS tv; DROP MATERIALIZED VIEW IF EXISTS tm; DROP TABLE IF EXISTS t, tp, te, tr, t_renamed; DROP TYPE IF EXISTS mood",
    );
    await db.admin("CREATE TABLE t (id int, v text)");
    await db.admin("INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 50) AS i");
  });

  /** The rows `select` gives, as the admin reads them: each row's text, sorted, as one string. */
  const content = async (select: string) =>
    String(
      (
        await db.adminQuery(`SELECT string_agg(r::text, E'\\n' ORDER BY r::text) AS s FROM (${select}) AS r`)
      )[0]!.s,
    );

  /**
   * Runs `change` and answers whether the rows and the token changed; fails when the rows changed
   * and the token did not.
   */
  async function step(spec: ReadSpec, select: string, change: () => Promise<void>) {
    const rowsBefore = await content(select);
    const before = await conn.changeToken(spec);
    await change();
    const rowsAfter = await content(select);
    const after = await conn.changeToken(spec);
    const rows = rowsAfter !== rowsBefore;
    const token = after !== before;
    if (rows) expect(token, `the rows changed and the token stayed ${before}`).toBe(true);
    return { rows, token, before, after };
  }

  const table: ReadSpec = { source: { table: "t" } };
  const all = "SELECT * FROM t";

  it("stays while nothing changes, and names the table's row versions", async () => {
    const a = await conn.changeToken(table);
    expect(a).toMatch(/^pg:rows:[0-9a-f]{32}:50:-?\d+$/);
    expect(await conn.changeToken(table)).toBe(a);
    // A read of the same table by another connection sees the same token.
    const other = await db.open();
    try {
      expect(await other.changeToken(table)).toBe(a);
    } finally {
      await other.close();
    }
  });

  it("moves on an insert, a delete and an update", async () => {
    expect((await step(table, all, () => db.admin("INSERT INTO t VALUES (51, 'v51')"))).rows).toBe(true);
    expect((await step(table, all, () => db.admin("DELETE FROM t WHERE id = 3"))).rows).toBe(true);
    expect((await step(table, all, () => db.admin("UPDATE t SET v = 'w' WHERE id = 7"))).rows).toBe(true);
  });

  it("moves on a delete and an insert of as many rows, in one transaction and in two", async () => {
    const one = await step(table, all, () =>
      db.admin("BEGIN; DELETE FROM t WHERE id IN (1, 2); INSERT INTO t VALUES (1, 'x'), (2, 'y'); COMMIT"),
    );
    expect(one.rows).toBe(true);
    const two = await step(table, all, async () => {
      await db.admin("DELETE FROM t WHERE id = 5");
      await db.admin("INSERT INTO t VALUES (5, 'other')");
    });
    expect(two.rows).toBe(true);
  });

  it("moves when a row is deleted and inserted again unchanged, and on an update that writes the same value", async () => {
    // The rows read are the same: a moved token costs a read, never a wrong one.
    const again = await step(table, all, () =>
      db.admin("BEGIN; DELETE FROM t WHERE id = 9; INSERT INTO t VALUES (9, 'v9'); COMMIT"),
    );
    expect(again.rows).toBe(false);
    expect(again.token).toBe(true);
    const same = await step(table, all, () => db.admin("UPDATE t SET v = v"));
    expect(same.token).toBe(true);
  });

  it("moves on TRUNCATE and a reload, with the same count", async () => {
    const r = await step(table, all, () =>
      db.admin(
        "BEGIN; TRUNCATE t; INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 49) AS i; INSERT INTO t VALUES (50, 'changed'); COMMIT",
      ),
    );
    expect(r.rows).toBe(true);
    // And a reload of the same rows in another transaction: the same rows, a new token (a read).
    const same = await step(table, all, async () => {
      const rows = await db.adminQuery("SELECT id, v FROM t");
      await db.admin("TRUNCATE t");
      await db.admin(`INSERT INTO t VALUES ${rows.map((x) => `(${x.id}, '${x.v}')`).join(", ")}`);
    });
    expect(same.rows).toBe(false);
    expect(same.token).toBe(true);
  });

  it("stays through VACUUM and VACUUM FREEZE; after VACUUM FULL it still sees an update", async () => {
    await db.admin("DELETE FROM t WHERE id > 40");
    const vacuum = await step(table, all, () => db.admin("VACUUM t"));
    expect(vacuum.token).toBe(false);
    // Freezing keeps each row's xmin (PostgreSQL 9.4+ marks a tuple frozen in its infomask).
    const freeze = await step(table, all, () => db.admin("VACUUM (FREEZE) t"));
    expect(freeze.token).toBe(false);
    // VACUUM FULL rewrites the table: the rows move (a moved token is a read, never a wrong one).
    await step(table, all, () => db.admin("VACUUM FULL t"));
    expect((await step(table, all, () => db.admin("UPDATE t SET v = 'after full' WHERE id = 1"))).token).toBe(
      true,
    );
  });

  it("moves when a column is added with a default, retyped or renamed (the rows' versions stay)", async () => {
    // ADD COLUMN with a constant default does not rewrite the table (PostgreSQL 11+): every row keeps its ctid and xmin.
    const add = await step(table, all, () => db.admin("ALTER TABLE t ADD COLUMN w int DEFAULT 7"));
    expect(add.rows).toBe(true);
    const retype = await step(table, all, () => db.admin("ALTER TABLE t ALTER COLUMN w TYPE bigint"));
    expect(retype.rows).toBe(false); // the same text, another type: the read's columns differ
    expect(retype.token).toBe(true);
    const rename = await step(table, all, () => db.admin("ALTER TABLE t RENAME COLUMN w TO w2"));
    expect(rename.token).toBe(true);
    const drop = await step(table, all, () => db.admin("ALTER TABLE t DROP COLUMN w2"));
    expect(drop.rows).toBe(true);
  });

  it("moves when a column is dropped and one of the same name and type added (no row is rewritten)", async () => {
    // DROP COLUMN and ADD COLUMN without a volatile default touch only the catalog: every row keeps
    // its ctid and xmin, and the names and types read the same, yet v's values are gone.
    const empty = await step(table, all, () =>
      db.admin("ALTER TABLE t DROP COLUMN v; ALTER TABLE t ADD COLUMN v text"),
    );
    expect(empty.rows).toBe(true);
    const filled = await step(table, all, () =>
      db.admin("ALTER TABLE t DROP COLUMN v; ALTER TABLE t ADD COLUMN v text DEFAULT 'd'"),
    );
    expect(filled.rows).toBe(true);
  });

  it("moves when a column is rewritten to its own type by USING", async () => {
    const r = await step(table, all, () => db.admin("ALTER TABLE t ALTER COLUMN v TYPE text USING upper(v)"));
    expect(r.rows).toBe(true);
  });

  it("hashes the rows' text when a column names a catalog object (regclass): a rename moves the token", async () => {
    await db.admin("CREATE TABLE tr (id int, r regclass); INSERT INTO tr VALUES (1, 't'::regclass)");
    const spec: ReadSpec = { source: { table: "tr" } };
    // No row of tr is written: the table it names is renamed, and with it the text the read gives.
    const r = await step(spec, "SELECT * FROM tr", () => db.admin("ALTER TABLE t RENAME TO t_renamed"));
    expect(r.rows).toBe(true);
    await db.admin("ALTER TABLE t_renamed RENAME TO t");
  });

  it("moves when a transaction that began before the token commits after it", async () => {
    const late = new pg.Client({ connectionString: `postgres://dagwood@127.0.0.1:${portOf(db)}/postgres` });
    await late.connect();
    try {
      await late.query("BEGIN");
      await late.query("UPDATE t SET v = 'late' WHERE id = 4"); // an older transaction id
      await db.admin("DELETE FROM t WHERE id = 6"); // a newer one, committed first
      const r = await step(table, all, async () => {
        await late.query("COMMIT");
      });
      expect(r.rows).toBe(true);
    } finally {
      await late.end();
    }
  });

  it("moves on an insert in a subtransaction, and stays when the subtransaction rolls back", async () => {
    const kept = await step(table, all, () =>
      db.admin("BEGIN; SAVEPOINT s; INSERT INTO t VALUES (60, 'sub'); RELEASE SAVEPOINT s; COMMIT"),
    );
    expect(kept.rows).toBe(true);
    const undone = await step(table, all, () =>
      db.admin("BEGIN; SAVEPOINT s; INSERT INTO t VALUES (61, 'gone'); ROLLBACK TO SAVEPOINT s; COMMIT"),
    );
    expect(undone.rows).toBe(false);
    expect(undone.token).toBe(false);
  });

  it("follows the read's filter: a change outside it keeps the token, one into it moves it", async () => {
    const spec: ReadSpec = { source: { table: "t", where: "id <= 10" } };
    const filtered = "SELECT * FROM t WHERE id <= 10";
    const outside = await step(spec, filtered, () => db.admin("UPDATE t SET v = 'x' WHERE id = 20"));
    expect(outside.rows).toBe(false);
    expect(outside.token).toBe(false);
    expect((await step(spec, filtered, () => db.admin("UPDATE t SET id = 5 WHERE id = 30"))).rows).toBe(true);
    expect((await step(spec, filtered, () => db.admin("UPDATE t SET id = 31 WHERE id = 5"))).rows).toBe(true);
  });

  it("sees rows move between the partitions of a partitioned table", async () => {
    await db.admin(
      "CREATE TABLE tp (id int, part int) PARTITION BY LIST (part); CREATE TABLE tp1 PARTITION OF tp FOR VALUES IN (1); CREATE TABLE tp2 PARTITION OF tp FOR VALUES IN (2)",
    );
    await db.admin("INSERT INTO tp SELECT i, 1 + i % 2 FROM generate_series(1, 20) AS i");
    const spec: ReadSpec = { source: { table: "tp" } };
    expect(await conn.changeToken(spec)).toMatch(/^pg:rows:/);
    const moved = await step(spec, "SELECT * FROM tp", () => db.admin("UPDATE tp SET part = 2 WHERE id = 2"));
    expect(moved.rows).toBe(true);
    const swap = await step(spec, "SELECT * FROM tp", () =>
      db.admin("BEGIN; DELETE FROM tp1 WHERE id = 4; INSERT INTO tp2 VALUES (4, 2); COMMIT"),
    );
    expect(swap.rows).toBe(true);
  });

  it("hashes the rows' text when a partition is a foreign table: a change of its file moves the token", async () => {
    // A foreign table's rows have no ctid or xmin of their own: the file behind it changes unseen.
    const file = join(mkdtempSync(join(tmpdir(), "dagwood-fdw-")), "rows.csv");
    writeFileSync(file, "3,2\n");
    chmodSync(dirname(file), 0o755);
    chmodSync(file, 0o644);
    await db.admin(
      `CREATE EXTENSION IF NOT EXISTS file_fdw; CREATE SERVER IF NOT EXISTS files FOREIGN DATA WRAPPER file_fdw;
       CREATE TABLE tp (id int, part int) PARTITION BY LIST (part); CREATE TABLE tp1 PARTITION OF tp FOR VALUES IN (1);
       CREATE FOREIGN TABLE tp2 PARTITION OF tp FOR VALUES IN (2) SERVER files OPTIONS (filename '${file}', format 'csv')`,
    );
    await db.admin("INSERT INTO tp1 VALUES (1, 1)");
    const spec: ReadSpec = { source: { table: "tp" } };
    expect(await conn.changeToken(spec)).toMatch(/^pg:hash:2:/);
    const r = await step(spec, "SELECT * FROM tp", async () => writeFileSync(file, "4,2\n"));
    expect(r.rows).toBe(true);
  });

  it("sees a materialized view refreshed", async () => {
    await db.admin("CREATE MATERIALIZED VIEW tm AS SELECT id, v FROM t WHERE id <= 5");
    const spec: ReadSpec = { source: { table: "tm" } };
    expect(await conn.changeToken(spec)).toMatch(/^pg:rows:/);
    await db.admin("UPDATE t SET v = 'new' WHERE id = 1");
    const r = await step(spec, "SELECT * FROM tm", () => db.admin("REFRESH MATERIALIZED VIEW tm"));
    expect(r.rows).toBe(true);
  });

  it("hashes a view's rows' text: a change in the table under it moves the token", async () => {
    await db.admin("CREATE VIEW tv AS SELECT id, upper(v) AS v FROM t");
    const spec: ReadSpec = { source: { table: "tv" } };
    expect(await conn.changeToken(spec)).toMatch(/^pg:hash:50:/);
    expect(
      (await step(spec, "SELECT * FROM tv", () => db.admin("UPDATE t SET v = 'q' WHERE id = 2"))).rows,
    ).toBe(true);
    // A rewrite that keeps the view's rows keeps its token (the rows' text is what is hashed).
    const same = await step(spec, "SELECT * FROM tv", () => db.admin("UPDATE t SET v = v"));
    expect(same.token).toBe(false);
  });

  it("hashes the rows' text when a column has a user-defined type: an enum value renamed moves the token", async () => {
    await db.admin("CREATE TYPE mood AS ENUM ('sad', 'ok'); CREATE TABLE te (id int, m mood)");
    await db.admin("INSERT INTO te VALUES (1, 'sad'), (2, 'ok')");
    const spec: ReadSpec = { source: { table: "te" } };
    expect(await conn.changeToken(spec)).toMatch(/^pg:hash:2:/);
    // No row is written: only the enum's label changes, and with it the rows the read gives.
    const r = await step(spec, "SELECT * FROM te", () =>
      db.admin("ALTER TYPE mood RENAME VALUE 'sad' TO 'glum'"),
    );
    expect(r.rows).toBe(true);
  });

  it("names a missing table as not found", async () => {
    await expect(conn.changeToken({ source: { table: "nope" } })).rejects.toMatchObject({
      kind: "not-found",
    });
    await expect(conn.changeToken({ source: { table: "t", schema: "nowhere" } })).rejects.toMatchObject({
      kind: "not-found",
    });
    // The connection is usable after the failure.
    expect(await conn.changeToken(table)).toMatch(/^pg:rows:/);
  });
});

/** The test server's port (its admin URL is trust-authenticated as dagwood). */
function portOf(db: TestDatabase): number {
  if (db.settings.kind !== "postgres") throw new Error("not PostgreSQL");
  return db.settings.port;
}
