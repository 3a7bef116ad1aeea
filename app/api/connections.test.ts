import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestMariadb, type TestMariadb } from "../ingest/db/mariadb-testing";
import { openConnection } from "../ingest/db/open";
import { type DbConnection, DbError } from "../ingest/db/types";
import { startTestPostgres, type TestPostgres } from "../store/pg-testing";
import { ApiError, parseApiArgs } from "./api";
import { API_METHODS, CONNECTION_METHODS } from "./api-methods";
import {
  type ConnectionHandlerOptions,
  createConnectionHandlers,
  displayValue,
  type OpenConnection,
} from "./handlers/connections";

const SECRET = "s3cret-Pa55word";

// Rows written here and read back by better-sqlite3 itself (never through our reader) for the expectations.
const PENGUINS: [number, string, string, number | null, string | null][] = [
  [1, "Adelie", "Torgersen", 39.1, "MALE"],
  [2, "Adelie", "Torgersen", null, null],
  [3, "Gentoo", "Biscoe", 46.1, "FEMALE"],
  [4, "Chinstrap", "Dream", 46.5, "FEMALE"],
];

let dir: string;
let dbFile: string;

const settings = {
  name: "connections-test",
  connections: {
    shop: { kind: "sqlite", path: "data/shop.sqlite" },
    warehouse: { kind: "postgres", host: "127.0.0.1", port: 1, database: "dw", user: "analyst" },
    Missing: { kind: "sqlite", path: "data/nowhere.sqlite" },
  },
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "dagwood-connections-"));
  mkdirSync(join(dir, "data"));
  dbFile = join(dir, "data", "shop.sqlite");
  const db = new Database(dbFile);
  db.exec(`CREATE TABLE penguins (id INTEGER PRIMARY KEY, species TEXT NOT NULL, island TEXT,
             bill_length_mm REAL, sex TEXT);
           CREATE TABLE "odd name" ("a b" INTEGER);
           CREATE TABLE mixed (v);
           CREATE VIEW gentoo AS SELECT * FROM penguins WHERE species = 'Gentoo';`);
  const insert = db.prepare("INSERT INTO penguins VALUES (?, ?, ?, ?, ?)");
  for (const row of PENGUINS) insert.run(...row);
  db.prepare("INSERT INTO mixed VALUES (?), (?)").run(1, "one");
  db.prepare(`INSERT INTO "odd name" VALUES (7)`).run();
  db.close();
  writeFileSync(join(dir, "dagwood.json"), JSON.stringify(settings, null, 2));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The handlers over the temp project, with the connections they open and close counted. */
function handlers(opts: ConnectionHandlerOptions = {}) {
  const counts = { opened: 0, closed: 0 };
  const open: OpenConnection = async (...args) => {
    const c = await (opts.open ?? openConnection)(...args);
    counts.opened++;
    const close = c.close.bind(c);
    return Object.assign(c, {
      close: async () => {
        counts.closed++;
        await close();
      },
    });
  };
  const h = createConnectionHandlers(() => ({ dir }), { env: {}, run: () => "", ...opts, open });
  /** Validates the arguments as core.call does, then calls the handler. */
  const call = async <M extends (typeof CONNECTION_METHODS)[number]>(method: M, args: unknown) =>
    // biome-ignore lint/suspicious/noExplicitAny: the parsed arguments are those of `method`
    (h[method] as (a: any) => ReturnType<(typeof h)[M]>)(parseApiArgs(method, args));
  return { call, counts };
}

/** The ApiError a call fails with. */
async function failure(p: Promise<unknown>): Promise<ApiError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(ApiError);
  return e as ApiError;
}

/** The rows as better-sqlite3 reads them, each value as SQLite's own text for it (CAST AS TEXT). */
function sqliteText(sql: string): (string | null)[][] {
  const db = new Database(dbFile, { readonly: true });
  try {
    return db.prepare(sql).raw(true).all() as (string | null)[][];
  } finally {
    db.close();
  }
}

describe("the connection methods", () => {
  it("are Api methods", () => {
    for (const m of CONNECTION_METHODS) expect(API_METHODS).toContain(m);
  });

  it("lists dagwood.json's connections with where they point and where the secret comes from, never the secret", async () => {
    const withEnv = await handlers({ env: { DAGWOOD_SECRET_WAREHOUSE: SECRET } }).call("listConnections", {});
    expect(withEnv.map((c) => c.name)).toEqual(["Missing", "shop", "warehouse"]);
    expect(withEnv.find((c) => c.name === "shop")).toEqual({
      name: "shop",
      kind: "sqlite",
      host: null,
      port: null,
      database: null,
      user: null,
      path: "data/shop.sqlite",
      secret: "none",
      secretVariable: "DAGWOOD_SECRET_SHOP",
    });
    expect(withEnv.find((c) => c.name === "warehouse")).toMatchObject({
      kind: "postgres",
      host: "127.0.0.1",
      port: 1,
      database: "dw",
      user: "analyst",
      path: null,
      secret: "env",
    });
    expect(JSON.stringify(withEnv)).not.toContain(SECRET);

    // The keychain (secret-tool on Linux) when the variable is unset or empty; none when neither has it.
    const asked: string[][] = [];
    const keychain = await handlers({
      env: { DAGWOOD_SECRET_WAREHOUSE: "" },
      platform: "linux",
      run: (cmd, args) => {
        asked.push([cmd, ...args]);
        return `${SECRET}\n`;
      },
    }).call("listConnections", {});
    expect(keychain.find((c) => c.name === "warehouse")?.secret).toBe("keychain");
    expect(asked).toContainEqual(["secret-tool", "lookup", "service", "dagwood", "connection", "warehouse"]);
    expect(JSON.stringify(keychain)).not.toContain(SECRET);
    const none = await handlers({
      platform: "linux",
      run: () => {
        throw new Error("no such secret");
      },
    }).call("listConnections", {});
    expect(none.find((c) => c.name === "warehouse")?.secret).toBe("none");
  });

  it("tests a connection: the server's version, as the database itself reports it", async () => {
    const version = (new Database(":memory:").prepare("SELECT sqlite_version() AS v").get() as { v: string })
      .v;
    const { call, counts } = handlers();
    const test = await call("testConnection", { connection: "shop" });
    expect(test).toMatchObject({ ok: true, serverVersion: `SQLite ${version}` });
    expect(counts).toEqual({ opened: 1, closed: 1 });
  });

  it("tests a connection that fails: its kind and a message in words, not an exception", async () => {
    const test = await handlers().call("testConnection", { connection: "Missing" });
    expect(test.ok).toBe(false);
    if (test.ok) return;
    expect(test.kind).toBe("not-found");
    expect(test.message).toContain("nowhere.sqlite");
  });

  it("tests a server that does not answer: unreachable, in words, without the secret", async () => {
    const test = await handlers({ env: { DAGWOOD_SECRET_WAREHOUSE: SECRET } }).call("testConnection", {
      connection: "warehouse",
    });
    expect(test.ok).toBe(false);
    if (test.ok) return;
    expect(["unreachable", "timeout"]).toContain(test.kind);
    expect(test.message).toContain("127.0.0.1:1");
    expect(JSON.stringify(test)).not.toContain(SECRET);
  });

  it("says how to set the password when the server refuses it, and never echoes the secret", async () => {
    const refuses: OpenConnection = async (_dir, name) => {
      throw new DbError("auth", `Connection ${name}: the server refused the password of user analyst.`);
    };
    const { call } = handlers({ open: refuses, env: { DAGWOOD_SECRET_WAREHOUSE: SECRET } });
    const test = await call("testConnection", { connection: "warehouse" });
    expect(test).toMatchObject({ ok: false, kind: "auth" });
    if (test.ok) return;
    expect(test.message).toContain("Set DAGWOOD_SECRET_WAREHOUSE to its password");
    expect(test.message).not.toContain(SECRET);
    // The same words when browsing fails for it (a 502: the server said no).
    const e = await failure(call("browseConnection", { connection: "warehouse" }));
    expect(e.status).toBe(502);
    expect(e.message).toContain("DAGWOOD_SECRET_WAREHOUSE");
  });

  it("browses the catalog: schemas, then tables and views, then a table's columns with both types", async () => {
    const { call, counts } = handlers();
    const catalog = await call("browseConnection", { connection: "shop" });
    expect(catalog.schemas).toContain("main");
    expect(catalog.columns).toBeNull();
    const names = sqliteText(
      "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name",
    );
    expect(catalog.tables?.map((t) => [t.name, t.kind])).toEqual(names);

    const table = await call("browseConnection", { connection: "shop", schema: "main", table: "penguins" });
    expect(table.tables).toBeNull();
    const declared = sqliteText("SELECT name, type FROM pragma_table_info('penguins') ORDER BY cid");
    expect(table.columns?.map((c) => [c.name, c.sourceType])).toEqual(declared);
    expect(table.columns?.map((c) => c.duckdbType)).toEqual([
      "BIGINT",
      "VARCHAR",
      "VARCHAR",
      "DOUBLE",
      "VARCHAR",
    ]);

    // A name that needs quoting is only ever a name.
    const odd = await call("browseConnection", { connection: "shop", table: "odd name" });
    expect(odd.columns?.map((c) => c.name)).toEqual(["a b"]);
    expect(counts.opened).toBe(3);
    expect(counts.closed).toBe(3);
  });

  it("browses a column with no lossless type as the text it would be read as", async () => {
    const mixed = await handlers().call("browseConnection", { connection: "shop", table: "mixed" });
    expect(mixed.columns).toMatchObject([{ name: "v", duckdbType: "VARCHAR" }]);
  });

  it("previews a table's first rows as display text, the same values SQLite holds", async () => {
    const preview = await handlers().call("previewConnection", { connection: "shop", table: "penguins" });
    expect(preview.columns.map((c) => c.name)).toEqual(["id", "species", "island", "bill_length_mm", "sex"]);
    const expected = sqliteText(
      "SELECT CAST(id AS TEXT), species, island, CAST(bill_length_mm AS TEXT), sex FROM penguins",
    );
    expect(preview.rows).toEqual(expected);
    expect(preview.rows[1]?.[3]).toBeNull();
    expect(preview.more).toBe(false);
  });

  it("previews at most `limit` rows and says when there are more", async () => {
    const { call } = handlers();
    const two = await call("previewConnection", { connection: "shop", table: "penguins", limit: 2 });
    expect(two.rows).toHaveLength(2);
    expect(two.more).toBe(true);
    const exact = await call("previewConnection", { connection: "shop", table: "penguins", limit: 4 });
    expect(exact.rows).toHaveLength(4);
    expect(exact.more).toBe(false);
  });

  it("previews some columns with a filter, and a read-only query", async () => {
    const { call } = handlers();
    const some = await call("previewConnection", {
      connection: "shop",
      table: "penguins",
      columns: ["species", "sex"],
      where: "sex = 'FEMALE'",
    });
    expect(some.rows).toEqual(sqliteText("SELECT species, sex FROM penguins WHERE sex = 'FEMALE'"));
    const query = "SELECT species, count(*) AS n FROM penguins GROUP BY species ORDER BY species";
    const grouped = await call("previewConnection", { connection: "shop", query });
    expect(grouped.columns.map((c) => c.name)).toEqual(["species", "n"]);
    expect(grouped.rows).toEqual(
      sqliteText("SELECT species, CAST(count(*) AS TEXT) FROM penguins GROUP BY species ORDER BY species"),
    );
  });

  it("refuses a query that is not read-only before anything is sent", async () => {
    const { call, counts } = handlers();
    for (const query of [
      "DELETE FROM penguins",
      "SELECT 1; DROP TABLE penguins",
      "WITH gone AS (DELETE FROM penguins RETURNING *) SELECT * FROM gone",
    ]) {
      const e = await failure(call("previewConnection", { connection: "shop", query }));
      expect(e.status).toBe(400);
      expect(e.message).toMatch(/refused before it is sent/);
    }
    const where = await failure(
      call("previewConnection", {
        connection: "shop",
        table: "penguins",
        where: "1 = 1; DELETE FROM penguins",
      }),
    );
    expect(where.status).toBe(400);
    expect(counts.opened).toBe(0);
    expect(sqliteText("SELECT count(*) FROM penguins")).toEqual([[4]]);
  });

  it("answers 404 naming a table that does not exist, and closes the connection", async () => {
    const { call, counts } = handlers();
    const preview = await failure(call("previewConnection", { connection: "shop", table: "penguinz" }));
    expect(preview.status).toBe(404);
    expect(preview.message).toContain("penguinz");
    const browse = await failure(call("browseConnection", { connection: "shop", table: "penguinz" }));
    expect(browse.status).toBe(404);
    expect(counts).toEqual({ opened: 2, closed: 2 });
  });

  it("names the column with no lossless type unless the preview reads it as text", async () => {
    const { call } = handlers();
    const e = await failure(call("previewConnection", { connection: "shop", table: "mixed" }));
    expect(e.status).toBe(400);
    expect(e.message).toContain('"v"');
    const text = await call("previewConnection", { connection: "shop", table: "mixed", unmapped: "text" });
    expect(text.rows).toEqual([["1"], ["one"]]);
  });

  it("answers 404 for a connection dagwood.json does not name, with the near name and the list", async () => {
    const { call } = handlers();
    const e = await failure(call("testConnection", { connection: "SHOP" }));
    expect(e.status).toBe(404);
    expect(e.message).toContain('Did you mean "shop"?');
    expect(e.message).toContain("Missing, shop, warehouse");
    const preview = await failure(call("previewConnection", { connection: "nope", table: "t" }));
    expect(preview.status).toBe(404);
  });

  it("stops a preview that takes too long on the server, and says what to do", async () => {
    let signalled = false;
    const slow: OpenConnection = async () =>
      ({
        kind: "postgres",
        close: async () => {},
        read: (_spec, o) =>
          new Promise((_resolve, reject) =>
            o.signal?.addEventListener("abort", () => {
              signalled = true;
              reject(new DbError("cancelled", "Connection warehouse: the read was cancelled."));
            }),
          ),
      }) as Partial<DbConnection> as DbConnection;
    const { call, counts } = handlers({ open: slow, previewTimeoutMs: 20 });
    const e = await failure(
      call("previewConnection", { connection: "warehouse", query: "SELECT * FROM big" }),
    );
    expect(signalled).toBe(true);
    expect(e.status).toBe(503);
    expect(e.message).toMatch(/was stopped on the server: narrow the query/);
    expect(counts.closed).toBe(1);
  });

  it("answers 409 with the reason when dagwood.json is not valid", async () => {
    const broken = mkdtempSync(join(tmpdir(), "dagwood-connections-bad-"));
    try {
      writeFileSync(
        join(broken, "dagwood.json"),
        JSON.stringify({ connections: { "bad-name": { kind: "sqlite" } } }),
      );
      const h = createConnectionHandlers(() => ({ dir: broken }));
      const e = await failure(h.listConnections({}));
      expect(e.status).toBe(409);
      expect(e.message).toContain("connections");
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  });
});

describe("the connection methods' arguments", () => {
  const refused = (method: (typeof CONNECTION_METHODS)[number], args: unknown, says: RegExp) => {
    let error: unknown;
    try {
      parseApiArgs(method, args);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(400);
    expect((error as ApiError).message).toMatch(says);
  };

  it("refuses connection names that dagwood.json could not hold", () => {
    refused("testConnection", { connection: `a${"b".repeat(63)}` }, /connection: a connection name/);
    refused("testConnection", { connection: "9lives" }, /a connection name/);
    refused("testConnection", { connection: "my-db" }, /a connection name/);
    refused("testConnection", { connection: "" }, /a connection name/);
    refused("testConnection", {}, /connection/);
    expect(parseApiArgs("testConnection", { connection: `a${"b".repeat(62)}` }).connection).toHaveLength(63);
  });

  it("refuses over-long or control-character table, schema and column names", () => {
    refused("browseConnection", { connection: "shop", table: "t".repeat(129) }, /longer than 128/);
    refused("browseConnection", { connection: "shop", schema: "" }, /schema name is empty/);
    refused("browseConnection", { connection: "shop", table: "a\u0000b" }, /control characters/);
    refused("previewConnection", { connection: "shop", table: "t", columns: ["ok", "x\ny"] }, /control/);
    refused("previewConnection", { connection: "shop", table: "t", columns: [] }, /columns/);
  });

  it("refuses a preview of more than 200 rows, of neither or both a table and a query", () => {
    refused("previewConnection", { connection: "shop", table: "t", limit: 201 }, /limit/);
    refused("previewConnection", { connection: "shop", table: "t", limit: 0 }, /limit/);
    refused("previewConnection", { connection: "shop", table: "t", limit: 1.5 }, /limit/);
    refused("previewConnection", { connection: "shop" }, /either a table or a query/);
    refused(
      "previewConnection",
      { connection: "shop", table: "t", query: "SELECT 1" },
      /either a table or a query/,
    );
    refused(
      "previewConnection",
      { connection: "shop", query: "SELECT 1", where: "x > 1" },
      /go with a table/,
    );
    refused("previewConnection", { connection: "shop", query: "x".repeat(100_001) }, /query/);
    expect(parseApiArgs("previewConnection", { connection: "shop", table: "t" })).toMatchObject({
      limit: 50,
      unmapped: "error",
    });
  });
});

describe("displayValue", () => {
  it("writes each normalised value as text", () => {
    expect(displayValue(null)).toBeNull();
    expect(displayValue(12345678901234567890n)).toBe("12345678901234567890");
    expect(displayValue(true)).toBe("true");
    expect(displayValue(2.5)).toBe("2.5");
    expect(displayValue("12.30")).toBe("12.30");
    expect(displayValue(Buffer.from([0xde, 0xad]))).toBe("\\xdead");
    expect(displayValue([1, null, "a"])).toBe('[1, NULL, "a"]');
    expect(displayValue("x".repeat(1500))).toHaveLength(1001);
  });
});

describe("the connection methods on a real PostgreSQL", () => {
  let server: TestPostgres;
  let pgDir: string;
  /** The server asked directly, never through our reader, with timestamps in UTC. */
  const direct = async <T>(ask: (c: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      await client.query("SET TimeZone = 'UTC'");
      return await ask(client);
    } finally {
      await client.end();
    }
  };

  beforeAll(async () => {
    server = await startTestPostgres();
    await direct((c) =>
      c.query(`CREATE SCHEMA sales;
               CREATE TABLE sales.orders (id serial PRIMARY KEY, amount numeric(12,2) NOT NULL,
                                          placed timestamptz, paid boolean);
               INSERT INTO sales.orders (amount, placed, paid) VALUES
                 (12.30, '2024-01-02 03:04:05+01', true), (0.05, NULL, false), (99999.99, '2024-06-30 23:59:59.5+00', NULL);
               CREATE TABLE public.empty (x int);
               ANALYZE sales.orders;`),
    );
    pgDir = mkdtempSync(join(tmpdir(), "dagwood-connections-pg-"));
    writeFileSync(
      join(pgDir, "dagwood.json"),
      JSON.stringify({
        connections: {
          dw: {
            kind: "postgres",
            host: "127.0.0.1",
            port: server.port,
            database: "postgres",
            user: "dagwood",
            ssl: "disable",
          },
        },
      }),
    );
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    if (pgDir) rmSync(pgDir, { recursive: true, force: true });
  });

  const pgHandlers = () => createConnectionHandlers(() => ({ dir: pgDir }), { env: {}, run: () => "" });
  const call = <M extends (typeof CONNECTION_METHODS)[number]>(method: M, args: unknown) =>
    // biome-ignore lint/suspicious/noExplicitAny: the parsed arguments are those of `method`
    (pgHandlers()[method] as (a: any) => Promise<unknown>)(parseApiArgs(method, args)) as ReturnType<
      ReturnType<typeof pgHandlers>[M]
    >;

  it("tests the connection: the server's own version string", async () => {
    const version = await direct(async (c) => (await c.query("SELECT version() AS v")).rows[0].v as string);
    const test = await call("testConnection", { connection: "dw" });
    expect(test.ok).toBe(true);
    if (test.ok) expect(version).toContain(test.serverVersion.replace(/^PostgreSQL /, ""));
  });

  it("browses schemas, a schema's tables with the planner's row estimate, and exact column types", async () => {
    const catalog = await call("browseConnection", { connection: "dw" });
    expect(catalog.schemas).toEqual(expect.arrayContaining(["public", "sales"]));
    const sales = await call("browseConnection", { connection: "dw", schema: "sales" });
    const reltuples = await direct(
      async (c) =>
        (await c.query("SELECT reltuples FROM pg_class WHERE oid = 'sales.orders'::regclass")).rows[0]
          .reltuples,
    );
    expect(sales.tables).toEqual([
      { schema: "sales", name: "orders", kind: "table", rowsEstimate: Number(reltuples) },
    ]);
    expect(Number(reltuples)).toBe(3);
    const orders = await call("browseConnection", { connection: "dw", schema: "sales", table: "orders" });
    expect(orders.columns?.map((c) => [c.name, c.duckdbType])).toEqual([
      ["id", "INTEGER"],
      ["amount", "DECIMAL(12,2)"],
      ["placed", "TIMESTAMPTZ"],
      ["paid", "BOOLEAN"],
    ]);
  });

  it("previews exact values: decimals as written, timestamps with time zone in UTC", async () => {
    const preview = await call("previewConnection", { connection: "dw", schema: "sales", table: "orders" });
    const expected = await direct(
      async (c) =>
        (
          await c.query({
            text: "SELECT id::text, amount::text, placed::text, paid::text FROM sales.orders ORDER BY id",
            rowMode: "array",
          })
        ).rows,
    );
    expect(preview.rows).toEqual(
      expected.map((r) => r.map((v: string | null) => (v === "t" ? "true" : v === "f" ? "false" : v))),
    );
    expect(preview.rows[0]?.[1]).toBe("12.30");
  });

  it("runs a query in a read-only transaction: a function that writes is refused by the server", async () => {
    const before = await direct(
      async (c) => (await c.query("SELECT last_value FROM sales.orders_id_seq")).rows[0].last_value,
    );
    const e = await failure(
      call("previewConnection", { connection: "dw", query: "SELECT nextval('sales.orders_id_seq')" }),
    );
    expect(e.status).toBe(400);
    expect(e.message).toMatch(/read-only/);
    const after = await direct(
      async (c) => (await c.query("SELECT last_value FROM sales.orders_id_seq")).rows[0].last_value,
    );
    expect(after).toBe(before);
  });

  it("answers 404 for a table in another schema than named", async () => {
    const e = await failure(
      call("previewConnection", { connection: "dw", schema: "public", table: "orders" }),
    );
    expect(e.status).toBe(404);
    expect(e.message).toContain("orders");
  });
});

describe("the connection methods on a real MariaDB, with a password", () => {
  let server: TestMariadb;
  let myDir: string;

  beforeAll(async () => {
    server = await startTestMariadb();
    await server.root(
      `CREATE TABLE ${server.database}.items (id INT PRIMARY KEY, price DECIMAL(8,3), name VARCHAR(20))`,
    );
    await server.root(`INSERT INTO ${server.database}.items VALUES (1, 1.500, 'bolt'), (2, 1234.125, NULL)`);
    myDir = mkdtempSync(join(tmpdir(), "dagwood-connections-my-"));
    const { host, port, database, user } = server;
    writeFileSync(
      join(myDir, "dagwood.json"),
      JSON.stringify({ connections: { mart: { kind: "mysql", host, port, database, user } } }),
    );
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    if (myDir) rmSync(myDir, { recursive: true, force: true });
  });

  const withPassword = (password: string) =>
    createConnectionHandlers(() => ({ dir: myDir }), {
      env: { DAGWOOD_SECRET_MART: password },
      run: () => "",
    });

  it("a wrong password: the kind, what to set, and never the password given", async () => {
    const wrong = "not-the-Password-42";
    const test = await withPassword(wrong).testConnection({ connection: "mart" });
    expect(test).toMatchObject({ ok: false, kind: "auth" });
    if (test.ok) return;
    expect(test.message).toContain("DAGWOOD_SECRET_MART");
    expect(JSON.stringify(test)).not.toContain(wrong);
  });

  it("the right password: the server's version, the catalog and a preview with exact decimals", async () => {
    const h = withPassword(server.password);
    const test = await h.testConnection({ connection: "mart" });
    expect(test.ok).toBe(true);
    const [row] = (await server.root("SELECT VERSION() AS v")) as { v: string }[];
    if (test.ok) expect(test.serverVersion).toContain(row?.v.split("-")[0]);
    const catalog = await h.browseConnection({ connection: "mart" });
    expect(catalog.tables?.map((t) => t.name)).toContain("items");
    const preview = await h.previewConnection(
      parseApiArgs("previewConnection", { connection: "mart", table: "items" }),
    );
    expect(preview.rows).toEqual([
      ["1", "1.500", "bolt"],
      ["2", "1234.125", null],
    ]);
    expect(JSON.stringify([test, catalog, preview])).not.toContain(server.password);
  });
});
