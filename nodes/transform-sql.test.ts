import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { TableValue } from "../app/engine/ports";
import { createTestProject, type TestProject } from "../app/engine/testing";
import transformSql from "./transform-sql";

describe("transform.sql", () => {
  let p: TestProject;
  let people: TableValue;
  beforeEach(async () => {
    p = await createTestProject();
    people = await p.table(
      "people",
      "SELECT * FROM (VALUES (1, 'ada', 36, 'uk'), (2, 'bob', 17, 'us'), (3, 'cy', 52, 'fr')) AS v(id, name, age, country)",
    );
  });
  afterEach(() => p.close());

  const run = (query: string, other?: TableValue) =>
    p.run(transformSql, other ? { in: people, other } : { in: people }, { query });

  const tableExists = async (name: string) =>
    (await p.sql.all("SELECT 1 FROM duckdb_tables() WHERE table_name = ?", [name])).length > 0;

  describe("queries", () => {
    it("filters rows and computes a column", async () => {
      const out = await run("SELECT id, upper(name) AS shout, age >= 18 AS adult FROM input WHERE age > 20");
      expect(await p.rows(out.out, "id")).toEqual([
        { id: 1, shout: "ADA", adult: true },
        { id: 3, shout: "CY", adult: true },
      ]);
    });

    it("joins the other input", async () => {
      const countries = await p.table(
        "countries",
        "SELECT * FROM (VALUES ('uk', 'United Kingdom'), ('fr', 'France')) AS v(code, country_name)",
      );
      const out = await run(
        "SELECT i.name, o.country_name FROM input AS i LEFT JOIN other AS o ON i.country = o.code",
        countries,
      );
      expect(await p.rows(out.out, "name")).toEqual([
        { name: "ada", country_name: "United Kingdom" },
        { name: "bob", country_name: null },
        { name: "cy", country_name: "France" },
      ]);
    });

    it("accepts a CTE and a trailing semicolon", async () => {
      const out = await run(
        "WITH grown AS (SELECT * FROM input WHERE age >= 18) SELECT count(*) AS n, max(age) AS oldest FROM grown;",
      );
      expect(await p.rows(out.out)).toEqual([{ n: 2, oldest: 52 }]);
    });

    it("reports the result's column types", async () => {
      const out = await run(
        "SELECT id, name, age / 2 AS half, DATE '2024-01-01' + id::INTEGER AS day, age > 30 AS old FROM input",
      );
      expect(out.out?.type === "table" && out.out.columns).toEqual([
        { name: "id", type: "INTEGER" },
        { name: "name", type: "VARCHAR" },
        { name: "half", type: "DOUBLE" },
        { name: "day", type: "DATE" },
        { name: "old", type: "BOOLEAN" },
      ]);
      expect(out.out?.type === "table" && out.out.rows).toBe(3);
    });

    it("reads a CSV inside the project by its absolute path", async () => {
      const csv = join(p.dir, "data", "scores.csv");
      writeFileSync(csv, "id,score\n1,0.5\n3,0.9\n");
      const out = await run(
        `SELECT i.name, s.score FROM input AS i JOIN read_csv('${csv}') AS s USING (id) ORDER BY i.id`,
      );
      expect(await p.rows(out.out)).toEqual([
        { name: "ada", score: 0.5 },
        { name: "cy", score: 0.9 },
      ]);
    });
  });

  describe("errors", () => {
    it("says when the query uses other but it is not connected", async () => {
      await expect(run("SELECT * FROM input JOIN other USING (id)")).rejects.toThrow(
        /reads "other", but the "other" input is not connected/,
      );
    });

    it("prefixes a syntax error with the block", async () => {
      await expect(run("SELEC * FROM input")).rejects.toThrow(
        /^SQL error in transform.sql: Parser Error: syntax error at or near "SELEC"/,
      );
    });

    it("keeps DuckDB's message for a missing column, with its candidates", async () => {
      await expect(run("SELECT nmae FROM input")).rejects.toThrow(
        /SQL error in transform.sql: Binder Error: Referenced column "nmae" not found[\s\S]*Candidate bindings: "name"/,
      );
    });

    it("asks for DESCRIBE and SUMMARIZE as subqueries, which it then runs", async () => {
      await expect(run("SUMMARIZE input")).rejects.toThrow(
        /which SUMMARIZE cannot give directly\. Wrap it in a SELECT/,
      );
      const out = await run("SELECT column_name FROM (DESCRIBE input)");
      expect(await p.rows(out.out)).toEqual(
        ["id", "name", "age", "country"].map((c) => ({ column_name: c })),
      );
    });

    it("refuses an empty query", async () => {
      await expect(run("  -- nothing here\n")).rejects.toThrow(/single SELECT statement.*found no statement/);
    });
  });

  describe("sandbox", () => {
    it("refuses to read a file outside the project and says how to allow a folder", async () => {
      const err = await run("SELECT * FROM read_csv('/etc/passwd')").catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(/"\/etc\/passwd", which is outside the project folder/);
      expect((err as Error).message).toMatch(/file access outside the project is not allowed/);
      expect((err as Error).message).toMatch(/add its folder to "dataFolders" in dagwood\.json/);
    });

    it("reads project files by paths relative to the project, whatever the working folder", async () => {
      writeFileSync(join(p.dir, "data", "scores.csv"), "id,score\n1,0.5\n3,0.9\n");
      const out = await run(
        "SELECT i.name, s.score FROM input AS i JOIN read_csv('data/scores.csv') AS s USING (id) ORDER BY i.id",
      );
      expect((await p.rows(out.out)).map((r) => r.score)).toEqual([0.5, 0.9]);
      // a literal that is no file stays as it is
      const text = await run("SELECT 'data/none.csv' AS s, 'x.csv' AS t FROM input LIMIT 1");
      expect(await p.rows(text.out)).toEqual([{ s: "data/none.csv", t: "x.csv" }]);
    });

    it("puts the bytes of the files it reads into the cache key, globs included", async () => {
      const q = (f: string) => ({ query: `SELECT count(*) AS n FROM read_csv('${f}')` });
      writeFileSync(join(p.dir, "data", "a.csv"), "x\n1\n");
      writeFileSync(join(p.dir, "data", "b.csv"), "x\n2\n");
      const one = await p.fingerprint(transformSql, q("data/a.csv"));
      const all = await p.fingerprint(transformSql, q("data/*.csv"));
      expect(one).toMatch(/a\.csv:[0-9a-f]{64}$/);
      expect(all!.split("\n")).toHaveLength(2);
      writeFileSync(join(p.dir, "data", "a.csv"), "x\n1\n5\n");
      expect(await p.fingerprint(transformSql, q("data/a.csv"))).not.toBe(one);
      expect(await p.fingerprint(transformSql, q("data/*.csv"))).not.toBe(all);
      expect(await p.fingerprint(transformSql, { query: "SELECT * FROM input" })).toBe("");
    });

    it("refuses COPY, and the sandbox refuses writing outside the project even on a raw session", async () => {
      const target = join("/tmp", `dagwood-escape-${process.pid}.csv`);
      await expect(run(`COPY (SELECT * FROM input) TO '${target}'`)).rejects.toThrow(
        /single SELECT statement.*found COPY\b/,
      );
      await expect(p.sql.run(`COPY (SELECT 1 AS x) TO '${target}'`)).rejects.toThrow(
        /Permission Error.*disabled by configuration/,
      );
      expect(existsSync(target)).toBe(false);
    });

    it("refuses a COPY inside the project too: only SELECT may run", async () => {
      const target = join(p.dir, "out.csv");
      await expect(run(`COPY (SELECT * FROM input) TO '${target}'`)).rejects.toThrow(
        /single SELECT statement.*found COPY \(DuckDB statement type COPY\)/,
      );
      expect(existsSync(target)).toBe(false);
    });

    it("cannot switch file access back on, even on a raw session", async () => {
      await expect(run("SET enable_external_access = true")).rejects.toThrow(/found SET\b/);
      await expect(p.sql.run("SET enable_external_access = true")).rejects.toThrow(
        /configuration has been locked/,
      );
    });

    it("refuses a second statement, and runs neither", async () => {
      await p.table("x", "SELECT 1 AS a");
      await expect(run("SELECT 1; DROP TABLE x")).rejects.toThrow(
        /single SELECT statement.*found 2 statements/,
      );
      expect(await tableExists("x")).toBe(true);
    });

    it.each([
      ["DROP TABLE people", /found DROP\b/],
      ["CREATE TABLE y AS SELECT 1", /found CREATE\b/],
      ["INSERT INTO people VALUES (4, 'dee', 20, 'de')", /found INSERT\b/],
      ["UPDATE people SET age = 0", /found UPDATE\b/],
      ["DELETE FROM people", /found DELETE\b/],
      ["ATTACH ':memory:' AS elsewhere", /found ATTACH\b/],
      ["INSTALL httpfs", /found INSTALL\b/],
      ["LOAD httpfs", /found LOAD\b/],
      ["SET enable_external_access = true", /found SET\b/],
      ["PRAGMA enable_profiling", /found PRAGMA\b/],
      ["CALL pragma_version()", /found CALL\b/],
      ["EXPLAIN SELECT 1", /found EXPLAIN\b/],
    ])("refuses %s", async (query, found) => {
      await expect(run(query)).rejects.toThrow(/runs a single SELECT statement/);
      await expect(run(query)).rejects.toThrow(found);
      const rows = await p.sql.all("SELECT count(*) AS n FROM people");
      expect(rows).toEqual([{ n: 3 }]);
      expect(await tableExists("y")).toBe(false);
    });

    it("leaves no views behind in the session", async () => {
      await run("SELECT * FROM input");
      await run("SELECT 1 FROM nowhere").catch(() => undefined);
      const views = await p.sql.all("SELECT view_name FROM duckdb_views() WHERE NOT internal");
      expect(views).toEqual([]);
    });
  });
});
