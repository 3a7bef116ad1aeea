import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { runPlan } from "../app/engine/engine";
import type { TableValue } from "../app/engine/ports";
import {
  closeTempProject,
  createTestProject,
  openTempProject,
  type TestProject,
} from "../app/engine/testing";
import { validatePipelineText } from "../app/pipeline/validate";
import { catalog } from "./index";
import transformSql from "./transform-sql";

// Every file the block hashes goes through here: a refused file must never reach it.
const hashFileSpy = vi.hoisted(() => vi.fn());
vi.mock(import("../app/engine/files"), async (original) => {
  const actual = await original();
  return {
    ...actual,
    hashFile: (...args: Parameters<typeof actual.hashFile>) => {
      hashFileSpy(args[0]);
      return actual.hashFile(...args);
    },
  };
});

describe("transform.sql", () => {
  let p: TestProject;
  let people: TableValue;
  beforeEach(async () => {
    hashFileSpy.mockClear();
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
      expect((err as Error).message).toMatch(
        /read_csv\('\/etc\/passwd'\): The path "\/etc\/passwd" is outside the project folder/,
      );
      expect((err as Error).message).toMatch(/add its folder to "dataFolders" in dagwood\.json/);
      expect(hashFileSpy).not.toHaveBeenCalled();
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

    it("hashes exactly the files DuckDB reads for a ** glob: two levels deep, not through a folder link", async () => {
      const data = join(p.dir, "data");
      mkdirSync(join(data, "2024", "q1"), { recursive: true });
      mkdirSync(join(p.dir, "archive"));
      writeFileSync(join(data, "top.csv"), "x\n1\n");
      writeFileSync(join(data, "2024", "q1", "deep.csv"), "x\n2\n");
      writeFileSync(join(data, "2024", "notes.txt"), "not a csv\n");
      writeFileSync(join(p.dir, "archive", "old.csv"), "x\n3\n");
      // A link to another project folder: DuckDB's ** does not descend into it, so it reads no file there.
      symlinkSync(join(p.dir, "archive"), join(data, "2024", "archive"));
      const query = "SELECT count(*) AS n FROM read_csv('data/**/*.csv')";
      const hashed = (fp: string | undefined) => fp!.split("\n").map((l) => l.slice(0, l.lastIndexOf(":")));
      const fp = await p.fingerprint(transformSql, { query });
      // What DuckDB reads, asked of DuckDB itself on the workspace's session.
      const read = await p.sql.all<{ f: string }>(
        `SELECT DISTINCT filename AS f FROM read_csv('${join(data, "**", "*.csv")}', filename = true) ORDER BY f`,
      );
      expect(read.map((r) => r.f)).toEqual([join(data, "2024", "q1", "deep.csv"), join(data, "top.csv")]);
      expect(hashed(fp)).toEqual(read.map((r) => r.f));
      // The link's files are not read, so changing them changes nothing; a file two levels deep does.
      writeFileSync(join(p.dir, "archive", "old.csv"), "x\n3\n4\n");
      expect(await p.fingerprint(transformSql, { query })).toBe(fp);
      writeFileSync(join(data, "2024", "q1", "deep.csv"), "x\n2\n5\n");
      expect(await p.fingerprint(transformSql, { query })).not.toBe(fp);
    });

    it("re-runs a cached node when a file two levels under a ** glob changes", async () => {
      const { dir, project } = await openTempProject("dagwood-sql-glob-", { "people.csv": "id\n1\n2\n" });
      try {
        mkdirSync(join(dir, "data", "2024", "q1"), { recursive: true });
        writeFileSync(join(dir, "data", "top.csv"), "x\n1\n");
        writeFileSync(join(dir, "data", "2024", "q1", "deep.csv"), "x\n2\n");
        const text = JSON.stringify({
          format: "dagwood.pipeline/1",
          name: "nested-glob",
          nodes: [
            { id: "src", block: "ingest.file", params: { path: "people.csv" } },
            {
              id: "sql",
              block: "transform.sql",
              params: { query: "SELECT sum(x) AS total FROM read_csv('data/**/*.csv')" },
            },
          ],
          edges: [{ from: "src.out", to: "sql.in" }],
        });
        const { plan, problems } = validatePipelineText(text, catalog);
        expect(problems).toEqual([]);
        const sqlNode = async () => {
          const summary = await runPlan({ project, plan: plan! });
          expect(summary.status).toBe("succeeded");
          const node = summary.nodes.find((n) => n.id === "sql")!;
          const session = await project.workspace.session();
          const rows = await session.all<{ total: number }>(`SELECT total FROM "${node.outputs.out!.table}"`);
          session.close();
          return { status: node.status, total: Number(rows[0]!.total) };
        };
        expect(await sqlNode()).toEqual({ status: "ran", total: 3 });
        expect(await sqlNode()).toEqual({ status: "cached", total: 3 });
        writeFileSync(join(dir, "data", "2024", "q1", "deep.csv"), "x\n2\n40\n");
        expect(await sqlNode()).toEqual({ status: "ran", total: 43 });
      } finally {
        closeTempProject(project);
      }
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
        /single SELECT statement.*found COPY\b/,
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
      ["WITH t AS (SELECT 1) DELETE FROM people", /found WITH … DELETE, which is not a SELECT/],
      [
        "WITH t AS (SELECT 1) INSERT INTO people SELECT 4, 'dee', 20, 'de'",
        /found WITH … INSERT, which is not a SELECT/,
      ],
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

  describe("Dagwood's own state and links out of the project", () => {
    const token = "s3cr3t-token-value";
    let outside: string;
    beforeEach(() => {
      mkdirSync(join(p.dir, ".dagwood"), { recursive: true });
      writeFileSync(join(p.dir, ".dagwood", "serve-token"), token);
      writeFileSync(join(p.dir, ".dagwood", "state.csv"), `t\n${token}\n`);
      outside = mkdtempSync(join(tmpdir(), "dagwood-outside-"));
      writeFileSync(join(outside, "short.csv"), "pin\n1234\n");
      writeFileSync(join(outside, "other.csv"), "pin\n5678\n");
    });
    afterEach(() => rmSync(outside, { recursive: true, force: true }));

    /** Runs a query that must be refused; checks nothing was read or hashed, and returns the message. */
    const refused = async (query: string): Promise<string> => {
      const err = await run(query).then(
        async (out) => new Error(`ran, giving ${JSON.stringify(await p.rows(out.out))}`),
        (e: Error) => e,
      );
      expect(err.message, query).not.toMatch(/^ran/);
      expect(err.message, query).not.toContain(token);
      const fp = await p.fingerprint(transformSql, { query }).then(
        () => "fingerprinted",
        (e: Error) => e.message,
      );
      expect(fp, query).not.toContain(token);
      for (const [path] of hashFileSpy.mock.calls) {
        expect(String(path), query).not.toMatch(/\.dagwood|dagwood-outside-/);
      }
      return err.message;
    };

    it.each([
      "SELECT * FROM read_text('.dagwood/serve-token')",
      "SELECT * FROM read_text('./.dagwood/serve-token')",
      "SELECT * FROM read_text('data/../.dagwood/serve-token')",
      "SELECT * FROM read_text('.DAGWOOD/serve-token')",
      "SELECT * FROM read_blob(['data/x.csv', '.dagwood/serve-token'])",
      "SELECT * FROM read_csv('.dagwood/state.csv')",
      "SELECT * FROM '.dagwood/state.csv'",
      "SELECT * FROM sniff_csv('.dagwood/state.csv')",
      "SELECT * FROM read_text('file://.dagwood/serve-token')",
      "SELECT * FROM histogram('.dagwood/state.csv', t)",
      "SELECT * FROM read_duckdb('.dagwood/workspace.duckdb', table_name = 'x')",
      "SELECT * FROM glob('.dagwood/*')",
      "SELECT * FROM read_text('*/serve-token')",
      "SELECT * FROM read_text('.dag*/serve-token')",
      "SELECT * FROM read_text('[.]dagwood/serve-token')",
      "SELECT * FROM read_text('**/serve-token')",
      "SELECT * FROM read_text('?dagwood/serve-token')",
      // DuckDB's glob splits on backslashes too, on every OS.
      "SELECT * FROM read_text('*\\serve-token')",
      "SELECT content FROM input, read_text('.dagwood/serve-token')",
      "SELECT * FROM input WHERE name IN (SELECT content FROM read_text('.dagwood/serve-token'))",
      "WITH t AS (SELECT * FROM read_text('.dagwood/serve-token')) SELECT * FROM t",
    ])("keeps .dagwood unreadable: %s", async (query) => {
      expect(await refused(query)).toMatch(/inside \.dagwood\/.*Dagwood's own state/);
    });

    it("says where to start a glob that would also match .dagwood", async () => {
      expect(await refused("SELECT * FROM read_csv('**/*.csv')")).toMatch(
        /inside \.dagwood\/.*start it in a data folder, e\.g\. 'data\/\*\*\/\*\.csv'/,
      );
    });

    it("keeps .dagwood unreadable by its full path, and says why a path is refused", async () => {
      const abs = join(p.dir, ".dagwood", "serve-token");
      expect(await refused(`SELECT * FROM read_text('${abs}')`)).toMatch(/inside \.dagwood\//);
      expect(await refused(`SELECT * FROM "${join(p.dir, ".dagwood", "state.csv")}"`)).toMatch(
        /inside \.dagwood\//,
      );
      expect(await refused(`SELECT * FROM read_text('${p.dir}/data/../.dagwood/serve-token')`)).toMatch(
        /without "\." or "\.\." folders/,
      );
      expect(await refused(`SELECT * FROM read_text(E'${p.dir}/\\x2edagwood/serve-token')`)).toMatch(
        /inside \.dagwood\//,
      );
      expect(await refused(`SELECT * FROM "data/x.csv"`)).toMatch(/single-quoted string/);
      // A qualified name is a file to DuckDB too, its parts joined by dots.
      const state = join(p.dir, ".dagwood", "state");
      expect(await refused(`SELECT * FROM "${state}"."csv"`)).toMatch(/inside \.dagwood\//);
      expect(await refused(`SELECT * FROM "${p.dir}/"."dagwood/state.csv"`)).toMatch(/inside \.dagwood\//);
      // DuckDB would look for "main./…" in its working folder: a name Dagwood cannot place is refused.
      expect(await refused(`SELECT * FROM memory.main."${state}.csv"`)).toMatch(/single-quoted string/);
      expect(await refused(`SELECT * FROM main."${state}.csv"`)).toMatch(/single-quoted string/);
      expect(await refused("SELECT * FROM read_text('~/.ssh/id_rsa')")).toMatch(/home folder/);
      expect(await refused("SELECT * FROM read_text('http://example.com/x')")).toMatch(/not URLs/);
    });

    it.each([
      ["SELECT * FROM read_text('.dag' || 'wood/serve-token')", /must be a plain string/],
      ["SELECT * FROM read_text(lower('.DAGWOOD/serve-token'))", /must be a plain string/],
      ["SELECT * FROM read_text(concat('.dagwood', '/serve-token'))", /must be a plain string/],
      ["SELECT * FROM read_text((SELECT '.dagwood/serve-token'))", /must be a plain string/],
      ["SELECT * FROM read_text([chr(46) || 'dagwood/serve-token'])", /must be a plain string/],
      ["SELECT * FROM read_text(getvariable('p'))", /must be a plain string/],
      ["SELECT * FROM read_text(CAST('[.dagwood/serve-token]' AS VARCHAR[]))", /must be a plain string/],
      ["SELECT * FROM read_text(files := '.dagwood/serve-token')", /inside \.dagwood\//],
      [
        "SELECT * FROM query('SELECT * FROM read_text(''.dagwood/serve-token'')')",
        /cannot call the table function query\(\)/,
      ],
      ["SELECT * FROM query_table('people')", /cannot call the table function query_table\(\)/],
      [
        "SELECT * FROM pragma_storage_info('people')",
        /cannot call the table function pragma_storage_info\(\)/,
      ],
      [
        "SELECT * FROM json_execute_serialized_sql('{}')",
        /cannot call the table function json_execute_serialized_sql\(\)/,
      ],
      ["SELECT * FROM checkpoint()", /cannot call the table function checkpoint\(\)/],
      ["SELECT * FROM duckdb_settings()", /cannot call the table function duckdb_settings\(\)/],
    ])("refuses a path it cannot check: %s", async (query, message) => {
      expect(await refused(query)).toMatch(message);
    });

    it("resolves links before hashing: a glob through a link out of the project hashes nothing", async () => {
      symlinkSync(outside, join(p.dir, "data", "link"));
      for (const query of [
        "SELECT * FROM read_csv('data/link/*.csv')",
        "SELECT * FROM read_csv('data/link/short.csv')",
        "SELECT * FROM read_csv('data/*/short.csv')",
        "SELECT * FROM read_csv('data/**/*.csv')",
        "SELECT * FROM 'data/link/*.csv'",
      ]) {
        hashFileSpy.mockClear();
        expect(await refused(query)).toMatch(/links to a file outside the project/);
        expect(hashFileSpy).not.toHaveBeenCalled();
      }
      // A link to one file, found by a glob in a folder of the project.
      rmSync(join(p.dir, "data", "link"));
      symlinkSync(join(outside, "short.csv"), join(p.dir, "data", "pin.csv"));
      writeFileSync(join(p.dir, "data", "ok.csv"), "pin\n1\n");
      expect(await refused("SELECT * FROM read_csv('data/*.csv')")).toMatch(
        /matches ".*pin\.csv": .*links to a file outside the project/,
      );
      expect(hashFileSpy).not.toHaveBeenCalled();
    });

    it("keeps the cache index and file-hash memo out of the query's reach", async () => {
      await p.workspace.rememberFileHash("/somewhere/secret.txt", 4, 1, "ab".repeat(32));
      await p.workspace.putCached("key", "transform.sql", "{}");
      for (const table of ["dagwood_file_hash", "dagwood_cache"]) {
        await expect(run(`SELECT * FROM ${table}`)).rejects.toThrow(
          /Table with name dagwood_\w+ does not exist/,
        );
        await expect(run(`SELECT * FROM main.${table}`)).rejects.toThrow(/does not exist/);
      }
      const names = await run("SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'dagwood%'");
      expect(await p.rows(names.out)).toEqual([]);
      expect(await p.workspace.fileHashMemo("/somewhere/secret.txt")).toMatchObject({ size: 4 });
    });

    it("still reads the project's files: relative, absolute, lists, globs and FROM 'file'", async () => {
      writeFileSync(join(p.dir, "data", "a.csv"), "id,score\n1,0.5\n");
      writeFileSync(join(p.dir, "data", "b.csv"), "id,score\n3,0.9\n");
      writeFileSync(join(p.dir, ".dagwood-notes.csv"), "id,score\n2,0.1\n");
      const scores = async (query: string) =>
        (await p.rows((await run(query)).out, "id")).map((r) => r.score);
      expect(await scores("SELECT * FROM read_csv('data/*.csv')")).toEqual([0.5, 0.9]);
      expect(await scores("SELECT * FROM read_csv(['data/a.csv', 'data/b.csv'], header = true)")).toEqual([
        0.5, 0.9,
      ]);
      expect(await scores("SELECT * FROM 'data/b.csv'")).toEqual([0.9]);
      expect(await scores(`SELECT * FROM '${join(p.dir, "data", "a.csv")}'`)).toEqual([0.5]);
      expect(await scores("SELECT * FROM read_csv('file://data/a.csv')")).toEqual([0.5]);
      expect(await scores("SELECT * FROM read_csv('.dagwood-notes.csv')")).toEqual([0.1]);
      expect(await scores("SELECT * FROM read_csv('data/**/*.csv')")).toEqual([0.5, 0.9]);
      const files = await p.fingerprint(transformSql, { query: "SELECT * FROM read_csv('data/[ab].csv')" });
      expect(files!.split("\n").map((l) => l.split(":")[0])).toEqual([
        join(p.dir, "data", "a.csv"),
        join(p.dir, "data", "b.csv"),
      ]);
      const n = await run("SELECT count(*) AS n FROM range(3), unnest([1, 2]), generate_series(1, 2)");
      expect(await p.rows(n.out)).toEqual([{ n: 12 }]);
    });
  });
});
