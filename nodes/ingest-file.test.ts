import { createHash } from "node:crypto";
import {
  appendFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { BlockContext, FingerprintContext } from "../app/engine/block";
import { runPlan } from "../app/engine/engine";
import { executeBlock, parseParams } from "../app/engine/execute";
import { hashFile } from "../app/engine/files";
import { resolveProjectPath } from "../app/engine/paths";
import {
  closeTempProject,
  createTestProject,
  openTempProject,
  type TestProject,
} from "../app/engine/testing";
import { validatePipelineText } from "../app/pipeline/validate";
import type { Project } from "../app/project/project";
import ingestFile from "./ingest-file";

describe("ingest.file", () => {
  let p: TestProject;
  beforeEach(async () => {
    p = await createTestProject();
  });
  afterEach(() => p.close());

  const write = (path: string, content: string | Buffer) => writeFileSync(join(p.dir, path), content);

  describe("records", () => {
    it("the dataset it read: source, digest of the bytes, schema, rows and the table's fingerprint", async () => {
      const text = "id,name\n1,Ann\n2,Bo\n";
      write("data/people.csv", text);
      const { out } = await p.run(ingestFile, {}, { path: "data/people.csv" });
      expect(p.datasets).toEqual([
        {
          source: "data/people.csv",
          digest: createHash("sha256").update(text).digest("hex"),
          schema: [
            { name: "id", type: "BIGINT" },
            { name: "name", type: "VARCHAR" },
          ],
          rows: 2,
          fingerprint: out!.fingerprint,
        },
      ]);
      // The digest is the cache key's file hash: the same bytes, the same value.
      expect(await p.fingerprint(ingestFile, { path: "data/people.csv" })).toBe(p.datasets[0]!.digest);
    });

    it("no dataset when the read fails", async () => {
      write("data/bad.csv", "");
      await expect(p.run(ingestFile, {}, { path: "data/bad.csv" })).rejects.toThrow(/is empty/);
      expect(p.datasets).toEqual([]);
    });
  });

  describe("reads", () => {
    it("a CSV, inferring integers, doubles, dates, strings and nulls", async () => {
      write("data/people.csv", "id,height,born,name\n1,1.75,2001-02-03,Ann\n2,,1999-12-31,Bo\n3,1.6,,\n");
      const { out } = await p.run(ingestFile, {}, { path: "data/people.csv" });
      expect(out?.type === "table" && out.columns).toEqual([
        { name: "id", type: "BIGINT" },
        { name: "height", type: "DOUBLE" },
        { name: "born", type: "DATE" },
        { name: "name", type: "VARCHAR" },
      ]);
      expect(out?.type === "table" && out.rows).toBe(3);
      const rows = await p.rows(out, "id");
      expect(rows.map((r) => [r.id, r.height, r.name])).toEqual([
        [1, 1.75, "Ann"],
        [2, null, "Bo"],
        [3, 1.6, null],
      ]);
      expect(rows[0]?.born).toEqual(new Date("2001-02-03T00:00:00Z"));
      expect(rows[2]?.born).toBeNull();
      expect(p.progress[0]).toEqual({ fraction: 0, message: "Reading data/people.csv" });
      expect(p.progress.at(-1)?.fraction).toBe(1);
      expect(p.logs.some((l) => l.message.includes("3 rows"))).toBe(true);
    });

    it("a TSV by its extension, and a headerless file with generated column names", async () => {
      write("data/t.tsv", "a\tb\n1\tx,y\n2\tz\n");
      const tsv = await p.run(ingestFile, {}, { path: "data/t.tsv" });
      expect(await p.rows(tsv.out, "a")).toEqual([
        { a: 1, b: "x,y" },
        { a: 2, b: "z" },
      ]);
      write("data/n.csv", "1,x\n2,y\n");
      const bare = await p.run(ingestFile, {}, { path: "data/n.csv", header: false });
      expect(await p.rows(bare.out, "column0")).toEqual([
        { column0: 1, column1: "x" },
        { column0: 2, column1: "y" },
      ]);
    });

    it("a CSV with another delimiter (detected or given) and custom missing values", async () => {
      write("data/eu.csv", "a;b\n1;NA\n2;3\n3;-\n");
      const detected = await p.run(ingestFile, {}, { path: "data/eu.csv", nullValues: ["NA", "-"] });
      expect(await p.rows(detected.out, "a")).toEqual([
        { a: 1, b: null },
        { a: 2, b: 3 },
        { a: 3, b: null },
      ]);
      write("data/pipe.txt", "a|b\n1|2\n");
      const given = await p.run(ingestFile, {}, { path: "data/pipe.txt", format: "csv", delimiter: "|" });
      expect(await p.rows(given.out)).toEqual([{ a: 1, b: 2 }]);
      write("data/tab.txt", "a\tb\n1\t2\n");
      const tab = await p.run(ingestFile, {}, { path: "data/tab.txt", format: "csv", delimiter: "\\t" });
      expect(await p.rows(tab.out)).toEqual([{ a: 1, b: 2 }]);
    });

    it("a gzipped CSV, by the extension under .gz", async () => {
      write("data/g.csv.gz", gzipSync("a,b\n1,x\n"));
      expect(await p.rows((await p.run(ingestFile, {}, { path: "data/g.csv.gz" })).out)).toEqual([
        { a: 1, b: "x" },
      ]);
    });

    it("Parquet, JSON arrays and NDJSON", async () => {
      const parquet = join(p.dir, "data", "p.parquet").replaceAll("'", "''");
      await p.sql.run(
        `COPY (SELECT range AS i, range * 0.5 AS x FROM range(5)) TO '${parquet}' (FORMAT parquet)`,
      );
      const pq = await p.run(ingestFile, {}, { path: "data/p.parquet" });
      expect(pq.out?.type === "table" && pq.out.rows).toBe(5);
      expect((await p.rows(pq.out, "i"))[4]).toEqual({ i: 4, x: 2 });

      write("data/a.json", '[{"k": 1, "v": "x"}, {"k": 2, "v": null}]');
      expect(await p.rows((await p.run(ingestFile, {}, { path: "data/a.json" })).out, "k")).toEqual([
        { k: 1, v: "x" },
        { k: 2, v: null },
      ]);
      write("data/l.jsonl", '{"k": 1, "v": "x"}\n{"k": 2, "v": "y"}\n');
      write("data/l.ndjson", '{"k": 3}\n');
      expect(await p.rows((await p.run(ingestFile, {}, { path: "data/l.jsonl" })).out, "k")).toEqual([
        { k: 1, v: "x" },
        { k: 2, v: "y" },
      ]);
      expect(await p.rows((await p.run(ingestFile, {}, { path: "data/l.ndjson" })).out)).toEqual([{ k: 3 }]);
    });

    it("applies type overrides at read time, keeping leading zeros", async () => {
      write("data/z.csv", "zip,year,price\n01234,2020,1.5\n98765,2021,2\n");
      const { out } = await p.run(
        ingestFile,
        {},
        { path: "data/z.csv", columns: { zip: "VARCHAR", year: "VARCHAR", price: "DECIMAL(10,2)" } },
      );
      expect(out?.type === "table" && out.columns.map((c) => c.type)).toEqual([
        "VARCHAR",
        "VARCHAR",
        "DECIMAL(10,2)",
      ]);
      expect((await p.rows(out, "zip")).map((r) => r.zip)).toEqual(["01234", "98765"]);

      write("data/y.json", '[{"year": 2020, "n": "7"}]');
      const json = await p.run(
        ingestFile,
        {},
        { path: "data/y.json", columns: { year: "VARCHAR", n: "INTEGER" } },
      );
      expect(json.out?.type === "table" && json.out.columns).toEqual([
        { name: "year", type: "VARCHAR" },
        { name: "n", type: "INTEGER" },
      ]);
      expect(await p.rows(json.out)).toEqual([{ year: "2020", n: 7 }]);
    });

    it("has a JSON Schema with a description for every param", () => {
      const schema = z.toJSONSchema(ingestFile.params, { io: "input" }) as {
        properties: Record<string, { description?: string }>;
        required?: string[];
      };
      for (const [name, prop] of Object.entries(schema.properties)) {
        expect(prop.description, name).toBeTruthy();
      }
      expect(schema.required).toEqual(["path"]);
    });
  });

  describe("fingerprint", () => {
    it("changes when the file's bytes change, and not otherwise", async () => {
      write("data/f.csv", "a\n1\n");
      const first = await p.fingerprint(ingestFile, { path: "data/f.csv" });
      expect(first).toMatch(/^[0-9a-f]{64}$/);
      expect(await p.fingerprint(ingestFile, { path: "data/f.csv" })).toBe(first);
      write("data/f.csv", "a\n2\n");
      expect(await p.fingerprint(ingestFile, { path: "data/f.csv" })).not.toBe(first);
    });
  });

  describe("explains bad input", () => {
    const fails = (params: unknown) => p.run(ingestFile, {}, params);

    it("a row with the wrong number of fields, naming the file and the line", async () => {
      write("data/x.csv", "a,b\n1,2\n3,4\n5,6,7\n8,9\n");
      await expect(fails({ path: "data/x.csv" })).rejects.toThrow(
        /^Could not read data\/x\.csv: line 4 has 3 fields, expected 2/,
      );
      await expect(fails({ path: "data/x.csv", delimiter: "," })).rejects.toThrow(
        /^Could not read data\/x\.csv: line 4 has 3 fields, expected 2/,
      );
      // The same with overrides, which look at the columns before the full read.
      await expect(fails({ path: "data/x.csv", columns: { b: "INTEGER" } })).rejects.toThrow(
        /^Could not read data\/x\.csv: line 4 has 3 fields, expected 2/,
      );
      await expect(fails({ path: "data/x.csv", delimiter: ",", columns: { b: "INTEGER" } })).rejects.toThrow(
        /^Could not read data\/x\.csv: line 4 has 3 fields, expected 2/,
      );
      write("data/short.csv", "a,b\n1,2\n3\n4,5\n");
      await expect(fails({ path: "data/short.csv" })).rejects.toThrow(
        /^Could not read data\/short\.csv: line 3 has 1 fields, expected 2/,
      );
      // Past the sniffer's sample, DuckDB's own parse reports the row.
      const rows = Array.from({ length: 30_000 }, (_, i) => `${i},x${i}`).join("\n");
      write("data/big.csv", `a,b\n${rows}\n1,2,3\n`);
      await expect(fails({ path: "data/big.csv" })).rejects.toThrow(
        /^Could not read data\/big\.csv: line 30002 has 3 fields, expected 2/,
      );
    });

    it("a missing file, a folder, and an empty file", async () => {
      await expect(fails({ path: "data/nope.csv" })).rejects.toThrow(/^File not found: data\/nope\.csv/);
      await expect(fails({ path: "data", format: "csv" })).rejects.toThrow(/data is a folder/);
      write("data/empty.csv", "");
      await expect(fails({ path: "data/empty.csv" })).rejects.toThrow(/data\/empty\.csv is empty/);
    });

    it("a file that is not UTF-8, suggesting to re-save it", async () => {
      write("data/latin.csv", Buffer.from("name,city\nJos\xe9,M\xfcnchen\n", "latin1"));
      await expect(fails({ path: "data/latin.csv" })).rejects.toThrow(
        /^Could not read data\/latin\.csv: the file is not UTF-8 encoded .*line 2.*Re-save it as UTF-8/,
      );
      write("data/latin.jsonl", Buffer.from('{"name": "Jos\xe9"}\n', "latin1"));
      await expect(fails({ path: "data/latin.jsonl" })).rejects.toThrow(
        /^Could not read data\/latin\.jsonl: the file is not UTF-8 encoded/,
      );
    });

    it("an override for a column the file does not have", async () => {
      write("data/c.csv", "a,b\n1,2\n");
      await expect(fails({ path: "data/c.csv", columns: { zz: "INTEGER" } })).rejects.toThrow(
        /"columns" sets a type for "zz", but data\/c\.csv has no such column\. Its columns are: a, b/,
      );
    });

    it("an override cast that fails, naming the column", async () => {
      write("data/c.csv", "a,b\n1,abc\n2,3\n");
      await expect(fails({ path: "data/c.csv", columns: { b: "INTEGER" } })).rejects.toThrow(
        /^Could not read data\/c\.csv: line 2, column "b": "abc" is not a valid INTEGER\. Fix the value/,
      );
      write("data/c.json", '[{"a": 1, "b": "abc"}]');
      await expect(fails({ path: "data/c.json", columns: { b: "INTEGER" } })).rejects.toThrow(
        /^Could not read data\/c\.json: column "b": "abc" cannot be converted to INTEGER/,
      );
    });

    it("a value past the sampled rows that does not fit the guessed type, suggesting an override", async () => {
      const rows = Array.from({ length: 30_000 }, (_, i) => `${i},${i}`).join("\n");
      write("data/late.csv", `a,b\n${rows}\n1,x\n`);
      await expect(fails({ path: "data/late.csv" })).rejects.toThrow(
        /^Could not read data\/late\.csv: line 30002, column "b": "x" is not a valid BIGINT\. .*set "columns": \{"b": "VARCHAR"\}/,
      );
    });

    it("a type that is unknown or could smuggle in SQL", async () => {
      write("data/c.csv", "a,b\n1,2\n");
      await expect(fails({ path: "data/c.csv", columns: { b: "FOOBAR" } })).rejects.toThrow(
        /"columns" gives "b" the unknown type FOOBAR/,
      );
      await expect(
        fails({ path: "data/c.csv", columns: { b: "INTEGER) AS b FROM t; DROP TABLE x; --" } }),
      ).rejects.toThrow(/columns\.b: must be a DuckDB type name/);
      await expect(fails({ path: "data/c.csv", columns: { b: "INTEGER FROM other_table" } })).rejects.toThrow(
        /columns\.b: must be a DuckDB type name/,
      );
    });

    it("a path outside the project", async () => {
      await expect(fails({ path: "../../etc/passwd", format: "csv" })).rejects.toThrow(/outside the project/);
      await expect(p.fingerprint(ingestFile, { path: "../../etc/passwd" })).rejects.toThrow(
        /outside the project/,
      );
    });

    it.skipIf(process.platform === "win32")("a link inside the project to a file outside it", async () => {
      const outside = mkdtempSync(join(tmpdir(), "dagwood-outside-"));
      try {
        writeFileSync(join(outside, "secret.csv"), "a\n1\n");
        symlinkSync(join(outside, "secret.csv"), join(p.dir, "data", "link.csv"));
        await expect(fails({ path: "data/link.csv" })).rejects.toThrow(
          /"data\/link\.csv" links to a file outside the project folder/,
        );
      } finally {
        rmSync(outside, { recursive: true, force: true });
      }
    });

    it("a file whose format cannot be told, a JSON object where an array is expected, a broken Parquet", async () => {
      write("data/x.dat", "a\n");
      await expect(fails({ path: "data/x.dat" })).rejects.toThrow(/Set "format"/);
      write("data/o.json", '{"a": 1}\n{"a": 2}\n');
      await expect(fails({ path: "data/o.json" })).rejects.toThrow(/set "format" to "ndjson"/);
      write("data/b.ndjson", '{"a": 1}\n{"a": \n');
      await expect(fails({ path: "data/b.ndjson" })).rejects.toThrow(
        /^Could not read data\/b\.ndjson: malformed JSON on line \d/,
      );
      write("data/cut.json", '[{"a": 1}, {"a": 2},\n');
      await expect(fails({ path: "data/cut.json" })).rejects.toThrow(
        /cut short \(the file may be truncated\)/,
      );
      write("data/whole.json", '[{"a": 1}, {"a": 2}]\n\n');
      expect((await p.run(ingestFile, {}, { path: "data/whole.json" })).out).toMatchObject({ rows: 2 });
      write("data/b.parquet", "not parquet");
      await expect(fails({ path: "data/b.parquet" })).rejects.toThrow(/is not a Parquet file/);
    });
  });
});

describe("ingest.file hashes the file while DuckDB reads it", () => {
  let project: Project;
  beforeEach(async () => {
    ({ project } = await openTempProject("dagwood-ingest-", { "dagwood.json": "{}" }));
  });
  afterEach(() => closeTempProject(project));

  const catalog = new Map([[ingestFile.kind, ingestFile]]);
  const csv = () => join(project.dir, "people.csv");
  const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
  const run = async () => {
    const text = JSON.stringify({
      format: "dagwood.pipeline/1",
      name: "ingest",
      nodes: [{ id: "read", block: "ingest.file", params: { path: "people.csv" } }],
      edges: [],
    });
    const { plan, problems } = validatePipelineText(text, catalog);
    expect(problems).toEqual([]);
    const summary = await runPlan({ project, plan: plan! });
    expect(summary.status).toBe("succeeded");
    const node = summary.nodes[0]!;
    return { status: node.status, reason: node.reason, out: node.outputs.out, runId: summary.runId };
  };

  it("runs a file not hashed yet, records its SHA-256, and caches the outputs under its content", async () => {
    writeFileSync(csv(), "id,name\n1,Ann\n2,Bo\n");
    const first = await run();
    expect(first.status).toBe("ran");
    // The digest is the file's SHA-256, as sha256sum gives it.
    expect(project.metadata.datasets(first.runId).map((d) => d.digest)).toEqual([sha256(csv())]);
    expect(await project.workspace.fileHashMemo(csv())).toMatchObject({ hash: sha256(csv()) });
    expect((await run()).status).toBe("cached");

    // New bytes: a new key, read again.
    appendFileSync(csv(), "3,Cy\n");
    const changed = await run();
    expect(changed.status).toBe("ran");
    expect(changed.out).toMatchObject({ rows: 3 });
    expect((await run()).status).toBe("cached");
  });

  it("two runs at once on a file not hashed yet both read it, and the next run finds their outputs", async () => {
    writeFileSync(csv(), "id,name\n1,Ann\n2,Bo\n3,Cy\n");
    const [a, b] = await Promise.all([run(), run()]);
    // Each key matched nothing (a random part), so each run read the file; both stored under its content.
    expect([a.status, b.status]).toEqual(["ran", "ran"]);
    expect(a.out?.fingerprint).toBe(b.out?.fingerprint);
    expect(project.metadata.datasets(a.runId).map((d) => d.digest)).toEqual([sha256(csv())]);
    expect(project.metadata.datasets(b.runId).map((d) => d.digest)).toEqual([sha256(csv())]);
    const next = await run();
    expect(next.status).toBe("cached");
    expect(next.out?.fingerprint).toBe(a.out?.fingerprint);
    expect(next.out).toMatchObject({ rows: 3 });
  });

  it("reads a touched file again once (same bytes, new mtime), to the same table fingerprint", async () => {
    writeFileSync(csv(), "id,name\n1,Ann\n");
    const first = await run();
    const later = new Date(Date.now() + 60_000);
    utimesSync(csv(), later, later);
    const touched = await run();
    expect(touched.status).toBe("ran");
    expect(touched.out?.fingerprint).toBe(first.out?.fingerprint);
    expect((await run()).status).toBe("cached");
  });

  it("keys by the memo's hash when size and mtime match, else by a key that matches nothing", async () => {
    writeFileSync(csv(), "id\n1\n");
    const memo = {
      get: (x: string) => project.workspace.fileHashMemo(x),
      put: project.workspace.rememberFileHash.bind(project.workspace),
    };
    const fctx: FingerprintContext = {
      projectDir: project.dir,
      resolvePath: (p) => resolveProjectPath(project.dir, [project.dir], p),
      hashFile: (p) => hashFile(p, memo),
      knownFileHash: async (p) => {
        const known = await memo.get(p);
        return known?.size === readFileSync(p).length ? known.hash : undefined;
      },
      resolveAlias: () => null,
    };
    const params = ingestFile.params.parse({ path: "people.csv" });
    const a = await ingestFile.externalFingerprint!(fctx, params);
    const b = await ingestFile.externalFingerprint!(fctx, params);
    expect(a).not.toBe(b);
    expect([a, b]).not.toContain(sha256(csv()));
    await fctx.hashFile(csv());
    expect(await ingestFile.externalFingerprint!(fctx, params)).toBe(sha256(csv()));
    // Without knownFileHash (an older caller) the key is the hash itself.
    const { knownFileHash: _, ...plain } = fctx;
    expect(await ingestFile.externalFingerprint!(plain, params)).toBe(sha256(csv()));
  });

  it("refuses a file that changes while it is read", async () => {
    writeFileSync(csv(), "id\n1\n2\n");
    const sql = await project.workspace.session();
    try {
      const ctx = {
        sql,
        projectDir: project.dir,
        resolvePath: (p: string) => resolveProjectPath(project.dir, [project.dir], p),
        newTable: (port: string) => `t_changing_${port}`,
        progress: () => {},
        log: () => {},
        dataset: () => {},
        signal: new AbortController().signal,
        // A writer appends while the file is hashed.
        hashFile: async (p: string) => {
          const hash = sha256(p);
          appendFileSync(p, "3\n");
          const later = new Date(Date.now() + 60_000);
          utimesSync(p, later, later);
          return hash;
        },
      } as unknown as BlockContext;
      await expect(
        executeBlock(ingestFile, ctx, {}, parseParams(ingestFile, { path: "people.csv" }), project.workspace),
      ).rejects.toThrow(
        "people.csv changed while it was being read. Run again once whatever writes it has finished.",
      );
    } finally {
      sql.close();
    }
  });
});
