import { describe, expect, it } from "vitest";
import { buildSelect, checkReadOnlyQuery, checkWhere, type Dialect, quoteIdent } from "./read-only";
import { DbError } from "./types";

const dialects: Dialect[] = ["postgres", "mysql", "sqlite"];

const refused = (fn: () => unknown, pattern: RegExp) => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DbError);
    expect((e as DbError).kind).toBe("not-read-only");
    expect((e as Error).message).toMatch(pattern);
    return;
  }
  throw new Error("expected a refusal");
};

describe("checkReadOnlyQuery", () => {
  it.each(dialects)("accepts one SELECT or WITH … SELECT (%s), dropping a trailing ;", (d) => {
    expect(checkReadOnlyQuery("SELECT a, b FROM t WHERE a > 1", d)).toBe("SELECT a, b FROM t WHERE a > 1");
    expect(checkReadOnlyQuery("  with x as (select 1 as a) select a from x ;  ", d)).toBe(
      "with x as (select 1 as a) select a from x",
    );
    expect(checkReadOnlyQuery("SELECT 'a; DELETE FROM t' AS s; -- done", d)).toBe(
      "SELECT 'a; DELETE FROM t' AS s",
    );
    expect(checkReadOnlyQuery("(SELECT 1) UNION (SELECT 2)", d)).toBe("(SELECT 1) UNION (SELECT 2)");
  });

  it.each(dialects)("refuses writes, several statements and locks (%s)", (d) => {
    refused(() => checkReadOnlyQuery("SELECT 1; DELETE FROM t", d), /more than one statement/);
    refused(() => checkReadOnlyQuery("DELETE FROM t", d), /starts with DELETE/);
    refused(() => checkReadOnlyQuery("SELECT * INTO t2 FROM t", d), /INTO/);
    refused(() => checkReadOnlyQuery("SELECT * FROM t FOR UPDATE", d), /UPDATE/);
    refused(() => checkReadOnlyQuery("SELECT * FROM t FOR SHARE", d), /FOR SHARE/);
    refused(() => checkReadOnlyQuery("WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", d), /DELETE/);
    refused(() => checkReadOnlyQuery("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", d), /INSERT/);
    refused(() => checkReadOnlyQuery("COPY t TO '/tmp/x'", d), /COPY/);
    refused(() => checkReadOnlyQuery("CALL p()", d), /CALL/);
    refused(() => checkReadOnlyQuery("", d), /empty/);
    refused(() => checkReadOnlyQuery("SELECT 'unclosed", d), /not closed/);
    refused(() => checkReadOnlyQuery("SELECT (1", d), /parenthesis/);
  });

  it("knows PostgreSQL's dollar-quoting, nested comments and E'' strings", () => {
    expect(checkReadOnlyQuery("SELECT $$; DROP TABLE t$$ AS s", "postgres")).toBe(
      "SELECT $$; DROP TABLE t$$ AS s",
    );
    expect(checkReadOnlyQuery("SELECT $x$ it's $$ ; $x$", "postgres")).toBe("SELECT $x$ it's $$ ; $x$");
    expect(checkReadOnlyQuery("SELECT 1 /* a /* nested */ ; DELETE */ + 2", "postgres")).toBe(
      "SELECT 1 /* a /* nested */ ; DELETE */ + 2",
    );
    expect(checkReadOnlyQuery("SELECT E'\\'; DELETE' AS s", "postgres")).toBe("SELECT E'\\'; DELETE' AS s");
    // Not quoted: the text after $$ is outside a string.
    refused(() => checkReadOnlyQuery("SELECT $$a$$; DELETE FROM t", "postgres"), /more than one/);
    refused(() => checkReadOnlyQuery("SELECT pg_terminate_backend(1)", "postgres"), /pg_terminate_backend/);
  });

  it("knows MySQL's backslash escapes, # comments and refuses executable comments", () => {
    // In MySQL '\'' is one quote inside the string; the ; is inside it.
    expect(checkReadOnlyQuery("SELECT 'a\\'; DELETE' AS s", "mysql")).toBe("SELECT 'a\\'; DELETE' AS s");
    // In PostgreSQL the same text closes the string at \' and the DELETE is outside.
    refused(
      () => checkReadOnlyQuery("SELECT 'a\\'; DELETE' AS s", "postgres"),
      /more than one|not closed|DELETE/,
    );
    expect(checkReadOnlyQuery("SELECT 1 # ; DELETE FROM t\n + 2", "mysql")).toBe(
      "SELECT 1 # ; DELETE FROM t\n + 2",
    );
    // A trailing comment is cut, so it cannot swallow the parenthesis the query is wrapped in.
    expect(checkReadOnlyQuery("SELECT 1 -- the end", "mysql")).toBe("SELECT 1");
    refused(() => checkReadOnlyQuery("SELECT 1 /*! ; DELETE FROM t */", "mysql"), /executable comment/);
    // `--1` is not a comment in MySQL: the text after it counts.
    refused(() => checkReadOnlyQuery("SELECT 1 --1; DELETE FROM t", "mysql"), /more than one/);
    refused(() => checkReadOnlyQuery("SELECT * FROM t INTO OUTFILE '/tmp/x'", "mysql"), /INTO/);
  });

  it("lets quoted names that look like keywords through", () => {
    expect(checkReadOnlyQuery('SELECT "update", "delete" FROM "insert"', "postgres")).toContain('"update"');
    expect(checkReadOnlyQuery("SELECT `into` FROM `drop`", "mysql")).toContain("`into`");
    expect(checkReadOnlyQuery("SELECT [copy] FROM t", "sqlite")).toContain("[copy]");
  });
});

describe("checkWhere and buildSelect", () => {
  it("accepts a boolean expression and refuses one that escapes the statement", () => {
    expect(checkWhere("a > 1 AND b IN (SELECT x FROM y)", "postgres")).toBe(
      "a > 1 AND b IN (SELECT x FROM y)",
    );
    refused(() => checkWhere("1=1; DROP TABLE t", "postgres"), /;/);
    refused(() => checkWhere("1=1) UNION (SELECT 1", "postgres"), /parenthesis/);
    refused(
      () => checkWhere("a IN (WITH d AS (DELETE FROM t RETURNING id) SELECT id FROM d)", "postgres"),
      /DELETE/,
    );
  });

  it("quotes identifiers so a table name cannot inject SQL", () => {
    expect(quoteIdent('t"; DROP TABLE x; --', "postgres")).toBe('"t""; DROP TABLE x; --"');
    expect(quoteIdent("t`; DROP", "mysql")).toBe("`t``; DROP`");
    expect(
      buildSelect(
        {
          source: { schema: "s", table: 'we"ird', columns: ["a", "b c"], where: "a > 0" },
          cursor: { column: "ts", after: "2024-01-01 00:00:00+00" },
          limit: 5,
        },
        "postgres",
      ),
    ).toBe(
      `SELECT "a", "b c" FROM "s"."we""ird" WHERE (a > 0) AND "ts" > '2024-01-01 00:00:00+00' ORDER BY "ts" LIMIT 5`,
    );
    expect(
      buildSelect({ source: { query: "SELECT 1 AS id;" }, cursor: { column: "id", after: "41" } }, "mysql"),
    ).toBe("SELECT * FROM (SELECT 1 AS id) AS dagwood_q WHERE `id` > 41 ORDER BY `id`");
    expect(buildSelect({ source: { table: "t" }, cursor: { column: "c", after: "it's\\" } }, "mysql")).toBe(
      "SELECT * FROM `t` WHERE `c` > 'it''s\\\\' ORDER BY `c`",
    );
  });
});
