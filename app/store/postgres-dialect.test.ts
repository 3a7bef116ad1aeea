// The two dialects answer the store's portable SQL alike on a team database whose default collation is
// a UTF-8 locale (what a server set up with its system's locale has), not only on the C-locale test
// cluster: `Sql.contains` lowers both sides by the same rule as SQLite's lower() (ASCII letters only).
import { randomBytes } from "node:crypto";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestPostgres, TEST_PG_URL_ENV, type TestPostgres } from "./pg-testing";
import { openPostgres, type PostgresSql, quoteIdent } from "./postgres";
import { insertRows } from "./rows";
import { type Sql, SqliteSql } from "./sql";

let cluster: TestPostgres | undefined;
let url: string;
const database = `dialect_${randomBytes(4).toString("hex")}`;
let pg: PostgresSql;
let lite: SqliteSql;

beforeAll(async () => {
  const fromRun = process.env[TEST_PG_URL_ENV];
  if (fromRun) url = fromRun;
  else {
    cluster = await startTestPostgres();
    url = cluster.url;
  }
  const admin = openPostgres({ url, schema: "public" });
  try {
    // C.UTF-8 is in every glibc (Debian's libc-bin): a UTF-8 default collation that is not "C".
    admin.exec(
      `CREATE DATABASE ${quoteIdent(database)} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'`,
    );
  } finally {
    admin.close();
  }
  const u = new URL(url);
  u.pathname = `/${database}`;
  pg = openPostgres({ url: u.toString(), schema: "dialect" });
  lite = new SqliteSql(new Database(":memory:"));
  for (const sql of [pg, lite] as Sql[]) {
    sql.exec(
      `CREATE TABLE names (name ${sql.dialect === "postgres" ? 'TEXT COLLATE "C"' : "TEXT"} NOT NULL)`,
    );
    for (const name of ["Élan Über", "élan über", "plain ASCII", "Straße"])
      sql.run("INSERT INTO names VALUES (?)", name);
  }
});

afterAll(async () => {
  pg?.close();
  lite?.close();
  const admin = openPostgres({ url, schema: "public" });
  try {
    admin.exec(`DROP DATABASE IF EXISTS ${quoteIdent(database)}`);
  } finally {
    admin.close();
  }
  await cluster?.stop();
});

const hits = (sql: Sql, q: string) =>
  sql.column<string>(`SELECT name FROM names WHERE ${sql.contains("name")} ORDER BY name`, q);

describe("Sql.contains on a UTF-8 team database", () => {
  it("finds what SQLite finds, for ASCII and non-ASCII text in either case", () => {
    for (const q of ["É", "é", "ÜBER", "über", "LAN", "ascii", "STRASSE", "ß", "straße"]) {
      expect({ q, hits: hits(pg, q) }).toEqual({ q, hits: hits(lite, q) });
    }
    // What SQLite's lower() gives (ASCII letters only; https://sqlite.org/lang_corefunc.html#lower).
    expect(hits(lite, "É")).toEqual(["Élan Über"]);
    expect(hits(lite, "LAN")).toEqual(["Élan Über", "élan über"]);
  });
});

describe("text holding a NUL character", () => {
  // PostgreSQL's text cannot hold the character with code zero (PostgreSQL documentation, 8.3 Character
  // Types); libpq would end a parameter there (C strings), and jsonb refuses \u0000. A log line or a
  // param read from a file may hold one: it is stored with U+FFFD in its place, never cut short or refused.
  it("keeps the text on both sides of it, through a parameter and through a multi-row insert", () => {
    pg.exec('CREATE TABLE nul (k TEXT COLLATE "C" NOT NULL, v TEXT COLLATE "C")');
    pg.run("INSERT INTO nul VALUES (?, ?)", "param", "before\u0000after");
    insertRows(pg, "INSERT INTO nul (k, v)", [["rows", "one\u0000two"]], "", ["text", "text"]);
    expect(pg.value("SELECT v FROM nul WHERE k = 'param'")).toBe("before\uFFFDafter");
    expect(pg.value("SELECT v FROM nul WHERE k = 'rows'")).toBe("one\uFFFDtwo");
  });
});
