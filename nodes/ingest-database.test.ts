import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PortValue } from "../app/engine/ports";
import { inferSchemas } from "../app/engine/schema";
import { createTestProject, type TestProject } from "../app/engine/testing";
import { CURSOR_TABLE } from "../app/ingest/db/incremental";
import type { DbConnection } from "../app/ingest/db/types";
import { DbError } from "../app/ingest/db/types";
import { parsePipelineObject } from "../app/pipeline/validate";
import { catalog } from "./index";
import ingestDatabase, { connections, progressFraction } from "./ingest-database";

/** A table output, narrowed. */
function tab(v: PortValue | undefined) {
  if (v?.type !== "table") throw new Error("not a table output");
  return v;
}

/** The rows as SQLite's own command-line shell prints them (an independent read), one JSON object per row. */
function sqliteCli(file: string, query: string): Record<string, unknown>[] {
  const out = execFileSync("sqlite3", ["-json", "-readonly", file, query], { encoding: "utf8" });
  return out.trim() ? JSON.parse(out) : [];
}

describe("ingest.database (SQLite)", () => {
  let p: TestProject;
  let file: string;
  let db: Database.Database;
  const realOpen = connections.open;

  beforeEach(async () => {
    p = await createTestProject();
    file = join(p.dir, "data", "shop.sqlite");
    db = new Database(file);
    db.exec(`CREATE TABLE orders (
      id INTEGER PRIMARY KEY, customer TEXT NOT NULL, amount DECIMAL(18,4), paid BOOLEAN,
      placed TIMESTAMP, note JSON, weight REAL, updated INTEGER)`);
    writeFileSync(
      join(p.dir, "dagwood.json"),
      JSON.stringify({ connections: { shop: { kind: "sqlite", path: "data/shop.sqlite" } } }),
    );
  });
  afterEach(async () => {
    connections.open = realOpen;
    db.close();
    await p.close();
  });

  const insert = (rows: [number, string, string, number, string, string | null, number, number | null][]) => {
    const stmt = db.prepare("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    for (const r of rows) stmt.run(...r);
  };
  const orders = (from: number, to: number) =>
    Array.from({ length: to - from + 1 }, (_, k) => {
      const i = from + k;
      return [
        i,
        `c${i % 7}`,
        `${i + 100}45678901.${String(i % 100).padStart(2, "0")}78`,
        i % 2,
        `2024-03-${String((i % 28) + 1).padStart(2, "0")} 10:${String(i % 60).padStart(2, "0")}:00`,
        i % 3 === 0 ? null : JSON.stringify({ i, tags: ["a", "b"] }),
        i / 3,
        i,
      ] as [number, string, string, number, string, string | null, number, number | null];
    });

  const incremental = { connection: "shop", table: "orders", mode: "incremental", cursor: "id" };

  /** The committed cursor of the node's accumulation (the state table), or undefined. */
  const committed = async () =>
    (await p.sql.all<{ cursor: string; rows: number }>(`SELECT cursor, rows FROM ${CURSOR_TABLE}`))[0];

  describe("a full read", () => {
    it("lands every value exactly as the database holds it (decimals, timestamps, booleans, JSON, reals)", async () => {
      insert(orders(1, 50));
      const { out } = await p.run(ingestDatabase, {}, { connection: "shop", table: "orders" });
      expect(tab(out).columns).toEqual([
        { name: "id", type: "BIGINT" },
        { name: "customer", type: "VARCHAR" },
        { name: "amount", type: "DECIMAL(18,4)" },
        { name: "paid", type: "BOOLEAN" },
        { name: "placed", type: "TIMESTAMP" },
        { name: "note", type: "JSON" },
        { name: "weight", type: "DOUBLE" },
        { name: "updated", type: "BIGINT" },
      ]);
      const ours = await p.sql.all(
        `SELECT id, customer, CAST(amount AS VARCHAR) AS amount, paid, strftime(placed, '%Y-%m-%d %H:%M:%S') AS placed,
                CAST(note AS VARCHAR) AS note, weight, updated FROM "${tab(out).name}" ORDER BY id`,
      );
      const theirs = sqliteCli(file, "SELECT * FROM orders ORDER BY id").map((r) => ({
        ...r,
        amount: String(r.amount),
        paid: r.paid === 1,
      }));
      expect(ours).toEqual(theirs);
      // SQLite keeps a DECIMAL column's values as REAL (NUMERIC affinity): 15 significant digits come back exactly.
      expect(ours[0]!.amount).toBe("10145678901.0178");
      expect(p.datasets).toMatchObject([
        {
          source: "shop/orders",
          rows: 50,
          database: { connection: "shop", table: "orders", rowsRead: 50 },
        },
      ]);
      expect(p.progress.at(-1)).toEqual({ fraction: 1, message: undefined });
      expect(
        p.progress.some((e) =>
          /Read 50 of about 50 rows from shop\/orders \([\d,]+ rows\/s\)/.test(e.message ?? ""),
        ),
      ).toBe(true);
    });

    it("reads some columns with a filter, or a read-only query", async () => {
      insert(orders(1, 20));
      const { out } = await p.run(
        ingestDatabase,
        {},
        { connection: "shop", table: "orders", columns: ["id", "customer"], where: "id <= 5" },
      );
      expect(await p.rows(out, "id")).toEqual(
        sqliteCli(file, "SELECT id, customer FROM orders WHERE id <= 5 ORDER BY id"),
      );
      const q = await p.run(
        ingestDatabase,
        {},
        { connection: "shop", query: "SELECT customer, count(*) AS n FROM orders GROUP BY customer" },
      );
      expect(await p.rows(q.out, "customer")).toEqual(
        sqliteCli(file, "SELECT customer, count(*) AS n FROM orders GROUP BY customer ORDER BY customer"),
      );
      // A query has no change token: each read is a dataset version of its own.
      await p.run(
        ingestDatabase,
        {},
        { connection: "shop", query: "SELECT customer, count(*) AS n FROM orders GROUP BY customer" },
      );
      expect(p.datasets[2]!.digest).not.toBe(p.datasets[1]!.digest);
      expect(p.datasets[1]!.database).toEqual({
        connection: "shop",
        query: "SELECT customer, count(*) AS n FROM orders GROUP BY customer",
        rowsRead: 7,
      });
    });

    it("refuses a query that writes before it reaches the database", async () => {
      await expect(
        p.run(ingestDatabase, {}, { connection: "shop", query: "DELETE FROM orders" }),
      ).rejects.toThrow(/SELECT/);
    });

    it("an empty table gives an empty table with the columns", async () => {
      const { out } = await p.run(ingestDatabase, {}, { connection: "shop", table: "orders" });
      expect(tab(out).rows).toBe(0);
      expect(tab(out).columns.map((c) => c.name)).toEqual([
        "id",
        "customer",
        "amount",
        "paid",
        "placed",
        "note",
        "weight",
        "updated",
      ]);
    });
  });

  describe("the output schema, before any run", () => {
    const infer = (params: Record<string, unknown>) =>
      inferSchemas({
        pipeline: parsePipelineObject({
          format: "dagwood.pipeline/1",
          name: "db",
          params: {},
          nodes: [{ id: "read", block: "ingest.database", params }],
          edges: [],
          layout: {},
        }).pipeline!,
        catalog,
        projectDir: p.dir,
        allowedDirs: [p.dir],
      });

    it("is the columns the run makes, with DuckDB's names for their types", async () => {
      insert(orders(1, 3));
      const params = { connection: "shop", table: "orders", columns: ["id", "amount", "placed", "note"] };
      const inferred = await infer(params);
      expect(inferred.problems).toEqual([]);
      const { out } = await p.run(ingestDatabase, {}, params);
      expect(inferred.schemas.read?.out?.columns).toEqual(await p.sql.columns(tab(out).name));
    });

    it("reports an unknown connection or table on the param at fault", async () => {
      const unknown = await infer({ connection: "nope", table: "orders" });
      expect(unknown.problems.map((x) => [x.path, x.message])).toEqual([
        [
          "$.nodes[0].params.connection",
          'No connection named "nope" in dagwood.json. Connections are: shop.',
        ],
      ]);
      const missing = await infer({ connection: "shop", table: "nope" });
      expect(missing.problems.map((x) => x.path)).toEqual(["$.nodes[0].params.table"]);
      expect(missing.problems[0]!.message).toMatch(/nope/);
    });
  });

  describe("bad params and connections", () => {
    it("names the connections there are when the name is unknown", async () => {
      await expect(p.run(ingestDatabase, {}, { connection: "warehouse", table: "orders" })).rejects.toThrow(
        'No connection named "warehouse" in dagwood.json. Connections are: shop.',
      );
    });
    it("wants a table or a query, not both, and a cursor for an incremental read", async () => {
      await expect(p.run(ingestDatabase, {}, { connection: "shop" })).rejects.toThrow(
        'Give a "table" to read',
      );
      await expect(
        p.run(ingestDatabase, {}, { connection: "shop", table: "orders", query: "SELECT 1" }),
      ).rejects.toThrow('either "table" or "query", not both');
      await expect(
        p.run(ingestDatabase, {}, { connection: "shop", table: "orders", mode: "incremental" }),
      ).rejects.toThrow('An incremental read needs a "cursor"');
    });
    it("a table that is not there is named", async () => {
      await expect(p.run(ingestDatabase, {}, { connection: "shop", table: "nope" })).rejects.toThrow(/nope/);
    });
  });

  describe("an incremental read", () => {
    it("reads only the new rows on each of three runs and keeps them all, the cursor recorded with each run", async () => {
      insert(orders(1, 10));
      const first = await p.run(ingestDatabase, {}, incremental);
      insert(orders(11, 25));
      const second = await p.run(ingestDatabase, {}, incremental);
      insert(orders(26, 30));
      const third = await p.run(ingestDatabase, {}, incremental);
      expect([tab(first.out).rows, tab(second.out).rows, tab(third.out).rows]).toEqual([10, 25, 30]);
      expect(p.datasets.map((d) => d.database)).toEqual([
        { connection: "shop", table: "orders", cursor: { column: "id", from: null, to: "10" }, rowsRead: 10 },
        { connection: "shop", table: "orders", cursor: { column: "id", from: "10", to: "25" }, rowsRead: 15 },
        { connection: "shop", table: "orders", cursor: { column: "id", from: "25", to: "30" }, rowsRead: 5 },
      ]);
      // Each run's dataset is its own version.
      expect(new Set(p.datasets.map((d) => d.digest)).size).toBe(3);
      const ours = await p.sql.all(`SELECT id, customer FROM "${tab(third.out).name}" ORDER BY id`);
      expect(ours).toEqual(sqliteCli(file, "SELECT id, customer FROM orders ORDER BY id"));
      // A run with nothing new reads nothing and keeps the cursor.
      const fourth = await p.run(ingestDatabase, {}, incremental);
      expect(tab(fourth.out).rows).toBe(30);
      expect(p.datasets.at(-1)!.database).toEqual({
        connection: "shop",
        table: "orders",
        cursor: { column: "id", from: "30", to: "30" },
        rowsRead: 0,
      });
      expect(await committed()).toEqual({ cursor: "30", rows: 30 });
    });

    it("a connection dropped mid-stream leaves the accumulated rows and the cursor as they were; the next run resumes", async () => {
      insert(orders(1, 10));
      await p.run(ingestDatabase, {}, incremental);
      insert(orders(11, 40));
      connections.open = async (...args) => {
        const real = await realOpen(...args);
        return {
          ...real,
          kind: real.kind,
          changeToken: (s) => real.changeToken(s),
          close: () => real.close(),
          read: (spec, opts) =>
            real.read(spec, {
              ...opts,
              batchRows: 4,
              onBatch: async (batch) => {
                await opts.onBatch(batch);
                if (spec.cursor)
                  throw new DbError("dropped", "Connection shop: the connection dropped mid-read.");
              },
            }),
        } as DbConnection;
      };
      await expect(p.run(ingestDatabase, {}, incremental)).rejects.toThrow("the connection dropped mid-read");
      expect(await committed()).toEqual({ cursor: "10", rows: 10 });
      const { acc_table } = await p.sql.one<{ acc_table: string }>(`SELECT acc_table FROM ${CURSOR_TABLE}`);
      expect(await p.sql.one(`SELECT count(*) AS n, max(id) AS hi FROM "${acc_table}"`)).toEqual({
        n: 10,
        hi: 10,
      });
      // No staging table is left behind.
      expect(
        await p.sql.all("SELECT table_name FROM duckdb_tables() WHERE table_name LIKE '%stage%'"),
      ).toEqual([]);
      connections.open = realOpen;
      const resumed = await p.run(ingestDatabase, {}, incremental);
      expect(tab(resumed.out).rows).toBe(40);
      expect(p.datasets.at(-1)!.database!.cursor).toEqual({ column: "id", from: "10", to: "40" });
      expect(await p.rows(resumed.out, "id").then((r) => r.map((x) => x.id))).toEqual(
        Array.from({ length: 40 }, (_, i) => i + 1),
      );
    });

    it("a cancel mid-stream stops the read and commits nothing", async () => {
      insert(orders(1, 5));
      await p.run(ingestDatabase, {}, incremental);
      insert(orders(6, 100));
      const abort = new AbortController();
      connections.open = async (...args) => {
        const real = await realOpen(...args);
        return {
          ...real,
          kind: real.kind,
          changeToken: (s) => real.changeToken(s),
          close: () => real.close(),
          read: (spec, opts) =>
            real.read(spec, {
              ...opts,
              batchRows: 10,
              onBatch: async (batch) => {
                await opts.onBatch(batch);
                if (spec.cursor) abort.abort();
              },
            }),
        } as DbConnection;
      };
      await expect(p.run(ingestDatabase, {}, incremental, abort.signal)).rejects.toThrow(
        "The read from connection shop was cancelled",
      );
      expect(await committed()).toEqual({ cursor: "5", rows: 5 });
    });

    it("takes the cursor from the staged rows when a reader does not report it", async () => {
      insert(orders(1, 7));
      connections.open = async (...args) => {
        const real = await realOpen(...args);
        return {
          ...real,
          kind: real.kind,
          changeToken: (s) => real.changeToken(s),
          close: () => real.close(),
          read: async (spec, opts) => ({ ...(await real.read(spec, opts)), cursorMax: null }),
        } as DbConnection;
      };
      await p.run(ingestDatabase, {}, incremental);
      expect(await committed()).toEqual({ cursor: "7", rows: 7 });
    });

    it("refuses a cursor column with NULLs, saying how many", async () => {
      insert(orders(1, 5));
      db.prepare("UPDATE orders SET updated = NULL WHERE id IN (2, 4)").run();
      await expect(p.run(ingestDatabase, {}, { ...incremental, cursor: "updated" })).rejects.toThrow(
        'The cursor column "updated" of shop/orders has 2 NULL values',
      );
      expect(await committed()).toBeUndefined();
    });

    it("refuses a cursor gone backwards (the source rewritten) and offers a full refresh, which reads everything again", async () => {
      insert(orders(1, 20));
      await p.run(ingestDatabase, {}, incremental);
      db.prepare("DELETE FROM orders WHERE id > 12").run();
      await expect(p.run(ingestDatabase, {}, incremental)).rejects.toThrow(
        /The largest "id" in shop\/orders is now 12, below the cursor committed on .* \(20\): the source was rewritten\. Run a full refresh/,
      );
      expect(await committed()).toEqual({ cursor: "20", rows: 20 });
      const refreshed = await p.run(ingestDatabase, {}, { ...incremental, refresh: true });
      expect(tab(refreshed.out).rows).toBe(12);
      expect(await committed()).toEqual({ cursor: "12", rows: 12 });
      expect(p.datasets.at(-1)!.database!.cursor).toEqual({ column: "id", from: null, to: "12" });
    });

    it("compares timestamps as timestamps, not as text", async () => {
      insert(orders(1, 3));
      db.prepare("UPDATE orders SET placed = '2024-03-0' || id || ' 09:00:00'").run();
      const tsInc = { ...incremental, cursor: "placed" };
      await p.run(ingestDatabase, {}, tsInc);
      insert([[4, "c", "1.0000", 0, "2024-03-10 08:00:00", null, 1, 4]]);
      const { out } = await p.run(ingestDatabase, {}, tsInc);
      expect(tab(out).rows).toBe(4);
      expect(p.datasets.at(-1)!.database!.cursor).toEqual({
        column: "placed",
        from: "2024-03-03 09:00:00",
        to: "2024-03-10 08:00:00",
      });
    });
  });

  describe("progress", () => {
    it("fills the bar by the rows SQLite counts beforehand, below 1 until the read is done", async () => {
      insert(orders(1, 30));
      await p.run(ingestDatabase, {}, { connection: "shop", table: "orders", where: "id <= 12" });
      // The count, independently: SQLite's own shell.
      const [{ n }] = sqliteCli(file, "SELECT count(*) AS n FROM orders WHERE id <= 12") as [{ n: number }];
      expect(n).toBe(12);
      const during = p.progress.slice(0, -1);
      expect(during.every((e) => e.fraction < 1)).toBe(true);
      expect(during.at(-1)).toEqual({
        fraction: 0.99,
        message: expect.stringMatching(/^Read 12 of about 12 rows from shop\/orders/),
      });
      expect(p.progress.at(-1)).toEqual({ fraction: 1, message: undefined });
    });

    it("counts only the rows past the cursor for an incremental read", async () => {
      insert(orders(1, 10));
      await p.run(ingestDatabase, {}, incremental);
      insert(orders(11, 14));
      p.progress.length = 0;
      await p.run(ingestDatabase, {}, incremental);
      expect(p.progress.some((e) => /^Read 4 of about 4 rows/.test(e.message ?? ""))).toBe(true);
    });

    it("leaves the bar indeterminate (0) for a query, whose size nothing cheap can tell", async () => {
      insert(orders(1, 5));
      await p.run(ingestDatabase, {}, { connection: "shop", query: "SELECT id FROM orders" });
      const during = p.progress.slice(0, -1);
      expect(during.length).toBeGreaterThan(0);
      expect(during.every((e) => e.fraction === 0 && !/of about/.test(e.message ?? ""))).toBe(true);
    });

    it("holds the fraction below 1 when the estimate falls short of the rows read", () => {
      expect(progressFraction(50, 100)).toBe(0.5);
      expect(progressFraction(150, 100)).toBe(0.99);
      expect(progressFraction(10, null)).toBe(0);
      expect(progressFraction(10, 0)).toBe(0);
    });
  });

  describe("a full refresh asked by the run (not a param)", () => {
    it("drops the rows read before, reads everything again, then goes on incrementally", async () => {
      insert(orders(1, 10));
      await p.run(ingestDatabase, {}, incremental);
      db.prepare("DELETE FROM orders WHERE id > 6").run();
      db.prepare("UPDATE orders SET customer = 'changed' WHERE id = 2").run();
      p.fullRefresh = true;
      const refreshed = await p.run(ingestDatabase, {}, incremental);
      expect(tab(refreshed.out).rows).toBe(6);
      expect(await committed()).toEqual({ cursor: "6", rows: 6 });
      expect((await p.rows(refreshed.out, "id")).map((r) => r.customer)[1]).toBe("changed");
      expect(
        p.logs.some((l) => l.message.startsWith("Full refresh: the rows read before from shop/orders")),
      ).toBe(true);
      p.fullRefresh = false;
      insert(orders(7, 8));
      const next = await p.run(ingestDatabase, {}, incremental);
      expect(tab(next.out).rows).toBe(8);
      expect(p.datasets.at(-1)!.database!.cursor).toEqual({ column: "id", from: "6", to: "8" });
    });
  });

  describe("the cache key", () => {
    it("changes when the table changes; a query has none (always read)", async () => {
      insert(orders(1, 3));
      const a = await p.fingerprint(ingestDatabase, { connection: "shop", table: "orders" });
      expect(await p.fingerprint(ingestDatabase, { connection: "shop", table: "orders" })).toBe(a);
      insert(orders(4, 4));
      expect(await p.fingerprint(ingestDatabase, { connection: "shop", table: "orders" })).not.toBe(a);
      const q = { connection: "shop", query: "SELECT * FROM orders" };
      expect(await p.fingerprint(ingestDatabase, q)).not.toBe(await p.fingerprint(ingestDatabase, q));
    });
  });
});
