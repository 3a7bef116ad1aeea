import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestProject, type TestProject } from "../engine/testing";
import { indexPathOf, Workspace } from "./workspace";

describe("workspace", () => {
  let p: TestProject;
  beforeEach(async () => {
    p = await createTestProject();
  });
  afterEach(() => p.close());

  it("fingerprints content: insensitive to row order, sensitive to duplicates, names and types", async () => {
    const base = await p.table("a", "SELECT * FROM (VALUES (1, 'x'), (2, 'y')) t(i, s)");
    const reordered = await p.table("b", "SELECT * FROM (VALUES (2, 'y'), (1, 'x')) t(i, s)");
    const renamed = await p.table("e", "SELECT * FROM (VALUES (1, 'x'), (2, 'y')) t(j, s)");
    const retyped = await p.table("f", "SELECT i::DOUBLE AS i, s FROM (VALUES (1, 'x'), (2, 'y')) t(i, s)");
    expect(reordered.fingerprint).toBe(base.fingerprint);
    expect(base.rows).toBe(2);
    expect(new Set([base, renamed, retyped].map((t) => t.fingerprint)).size).toBe(3);
    // {A, A, B} and {B, C, C}: the same row count, and under XOR both reduce to B.
    const aab = await p.table("aab", "SELECT * FROM (VALUES (1, 'a'), (1, 'a'), (2, 'b')) t(i, s)");
    const bcc = await p.table("bcc", "SELECT * FROM (VALUES (2, 'b'), (3, 'c'), (3, 'c')) t(i, s)");
    expect(aab.rows).toBe(bcc.rows);
    expect(aab.fingerprint).not.toBe(bcc.fingerprint);
  });

  it("a cancel that lands between statements stops the next one (DuckDB's interrupt reaches only a running one)", async () => {
    const session = await p.workspace.session();
    try {
      await session.run("CREATE TEMP TABLE before_cancel AS SELECT 1 AS x");
      session.interrupt(); // idle: nothing runs now
      await expect(session.run("CREATE TEMP TABLE after_cancel AS SELECT 1 AS x")).rejects.toThrow(
        /INTERRUPT: the run was canceled/,
      );
      await expect(session.all("SELECT 1 AS x")).rejects.toThrow(/INTERRUPT/);
      // Other sessions are untouched.
      expect(await p.sql.all("SELECT 42 AS x")).toEqual([{ x: 42 }]);
    } finally {
      session.close();
    }
  });

  it("keeps SQL inside the allowed folders and its settings locked", async () => {
    await expect(p.sql.run("SELECT * FROM read_csv('/etc/passwd')")).rejects.toThrow(
      /disabled by configuration/,
    );
    await expect(p.sql.run("COPY (SELECT 1) TO '/tmp/dagwood-escape.csv'")).rejects.toThrow(
      /disabled by configuration/,
    );
    await expect(p.sql.run("SET enable_external_access = true")).rejects.toThrow(/locked/);
    await expect(p.sql.run("SET allowed_directories = ['/']")).rejects.toThrow(/locked/);
    await expect(p.sql.run("INSTALL httpfs")).rejects.toThrow();
    await p.sql.run(`COPY (SELECT 1 AS one) TO '${p.dir}/inside.csv'`);
    expect(await p.sql.all(`SELECT * FROM read_csv('${p.dir}/inside.csv')`)).toEqual([{ one: 1 }]);
  });

  it("keeps cache entries and file hashes", async () => {
    await p.workspace.putCached("k1", "shuffle", '{"out":1}');
    expect(await p.workspace.getCached("k1")).toBe('{"out":1}');
    await p.workspace.dropCached("k1");
    expect(await p.workspace.getCached("k1")).toBeUndefined();
    await p.workspace.rememberFileHash("/x", 10, 5.5, "abc");
    expect(await p.workspace.fileHashMemo("/x")).toEqual({ size: 10, mtime_ms: 5.5, hash: "abc" });
  });

  it("keeps its own tables out of the workspace that user SQL reads, moving those of older workspaces", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dagwood-ws-"));
    const path = join(dir, "workspace.duckdb");
    try {
      // A workspace as older Dagwood left it: its own tables beside the node outputs.
      const old = await DuckDBInstance.create(path);
      const c = await old.connect();
      await c.run(
        "CREATE TABLE dagwood_cache (key VARCHAR PRIMARY KEY, block VARCHAR NOT NULL, outputs VARCHAR NOT NULL, created TIMESTAMP NOT NULL DEFAULT current_timestamp)",
      );
      await c.run("INSERT INTO dagwood_cache (key, block, outputs) VALUES ('k', 'split', '{\"train\":1}')");
      await c.run(
        "CREATE TABLE dagwood_file_hash (path VARCHAR PRIMARY KEY, size BIGINT NOT NULL, mtime_ms DOUBLE NOT NULL, hash VARCHAR NOT NULL)",
      );
      await c.run("INSERT INTO dagwood_file_hash VALUES ('/etc/hostname', 5, 1, 'abc')");
      await c.run("CREATE TABLE t_1 AS SELECT 1 AS x");
      c.closeSync();
      old.closeSync();

      const ws = await Workspace.open({ path, allowedDirs: [dir], threads: 1 });
      try {
        expect(await ws.getCached("k")).toBe('{"train":1}');
        expect(await ws.fileHashMemo("/etc/hostname")).toBeUndefined();
        await ws.rememberFileHash("/x", 1, 1, "h");
        const sql = await ws.session();
        const names = await sql.all<{ table_name: string }>(
          "SELECT table_name FROM duckdb_tables() ORDER BY 1",
        );
        expect(names.map((r) => r.table_name)).toEqual(["t_1"]);
        await expect(sql.all("SELECT * FROM dagwood_file_hash")).rejects.toThrow(/does not exist/);
        sql.close();
      } finally {
        ws.close();
      }
      expect(existsSync(indexPathOf(path))).toBe(true);
      // Reopened: the entries are where they were put.
      const again = await Workspace.open({ path, allowedDirs: [dir], threads: 1 });
      expect(await again.getCached("k")).toBe('{"train":1}');
      expect(await again.fileHashMemo("/x")).toEqual({ size: 1, mtime_ms: 1, hash: "h" });
      again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
