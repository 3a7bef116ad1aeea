import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import type { DuckDBInstance } from "@duckdb/node-api";
import type { ColumnInfo, TableValue } from "../engine/ports";
import { duckdb } from "./native";
import { ident, SqlSession } from "./sql";

export interface WorkspaceOptions {
  /** The DuckDB file; ":memory:" for tests. */
  path: string;
  /** Folders SQL may read and write: the project folder and those it adds. */
  allowedDirs: string[];
  /** DuckDB threads; default: all cores. */
  threads?: number;
  /** DuckDB memory limit, e.g. "1GB"; default: DuckDB's own. */
  memoryLimit?: string;
  /** Where DuckDB spills; must be inside an allowed folder. */
  tempDir?: string;
}

/** The DuckDB file of Dagwood's own tables, beside the workspace's (in memory for an in-memory workspace). */
export function indexPathOf(workspacePath: string): string {
  if (workspacePath === ":memory:") return ":memory:";
  return join(dirname(workspacePath), `${basename(workspacePath).replace(/\.duckdb$/, "")}-index.duckdb`);
}

/** Makes a folder path end with the separator, so "/a/b" does not allow "/a/bc". */
function asDirPrefix(dir: string): string {
  const abs = resolve(dir);
  return abs.endsWith(sep) ? abs : abs + sep;
}

/** True when `path` (absolute) lies in one of `dirs`. */
export function isInside(path: string, dirs: readonly string[]): boolean {
  const abs = resolve(path);
  return dirs.some((d) => {
    const rel = relative(resolve(d), abs);
    return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
  });
}

/**
 * The project's DuckDB database: node outputs live here as tables. SQL run in
 * it can touch files only in the allowed folders, cannot install or load
 * extensions from outside, and cannot change those settings back.
 *
 * Dagwood's own tables (the cache index, the file-hash memo) live in a second
 * DuckDB database that no user SQL ever runs in: attached to the workspace,
 * any SELECT could read them (`SELECT path, hash FROM dagwood_file_hash` gave
 * the hashes of files outside the project), and DuckDB has no per-connection
 * catalog to hide a table from one session.
 */
export class Workspace {
  /** Node computations under way, by cache key, shared by every run in this workspace. */
  readonly inFlight = new Map<string, Promise<unknown>>();

  private constructor(
    readonly instance: DuckDBInstance,
    readonly allowedDirs: readonly string[],
    private readonly admin: SqlSession,
    private readonly indexInstance: DuckDBInstance,
    private readonly index: SqlSession,
  ) {}

  static async open(opts: WorkspaceOptions): Promise<Workspace> {
    const config: Record<string, string> = {
      autoinstall_known_extensions: "false",
      autoload_known_extensions: "false",
    };
    if (opts.threads) config.threads = String(opts.threads);
    if (opts.memoryLimit) config.memory_limit = opts.memoryLimit;
    if (opts.path !== ":memory:") mkdirSync(join(opts.path, ".."), { recursive: true });
    let instance: DuckDBInstance;
    try {
      instance = await duckdb().DuckDBInstance.create(opts.path, config);
    } catch (e) {
      const msg = (e as Error).message;
      if (/lock/i.test(msg)) {
        throw new Error(
          `The workspace ${opts.path} is in use by another Dagwood process. Close it (or wait for its run to end) and try again.\n${msg}`,
        );
      }
      throw e;
    }
    const admin = new SqlSession(await instance.connect());
    const dirs = opts.allowedDirs.map(asDirPrefix);
    if (opts.tempDir) {
      mkdirSync(opts.tempDir, { recursive: true });
      await admin.run(`SET temp_directory = '${opts.tempDir.replaceAll("'", "''")}'`);
    }
    const list = dirs.map((d) => `'${d.replaceAll("'", "''")}'`).join(", ");
    await admin.run(`SET allowed_directories = [${list}]`);
    await admin.run("SET enable_external_access = false");
    await admin.run("SET lock_configuration = true");
    let indexInstance: DuckDBInstance;
    try {
      // Only Dagwood's own statements run here: it needs no files and little memory.
      indexInstance = await duckdb().DuckDBInstance.create(indexPathOf(opts.path), {
        ...config,
        threads: "1",
        enable_external_access: "false",
      });
    } catch (e) {
      admin.close();
      instance.closeSync();
      throw e;
    }
    const ws = new Workspace(
      instance,
      dirs,
      admin,
      indexInstance,
      new SqlSession(await indexInstance.connect()),
    );
    await ws.migrate();
    return ws;
  }

  private async migrate(): Promise<void> {
    await this.index.run(`CREATE TABLE IF NOT EXISTS dagwood_cache (
      key VARCHAR PRIMARY KEY,
      block VARCHAR NOT NULL,
      outputs VARCHAR NOT NULL,
      created TIMESTAMP NOT NULL DEFAULT current_timestamp
    )`);
    await this.index.run(`CREATE TABLE IF NOT EXISTS dagwood_file_hash (
      path VARCHAR PRIMARY KEY, size BIGINT NOT NULL, mtime_ms DOUBLE NOT NULL, hash VARCHAR NOT NULL
    )`);
    // Workspaces made before the index had its own file kept these tables in
    // the workspace, where user SQL could read them: move the cache entries
    // over (the hash memo is only a shortcut and is rebuilt) and drop both.
    if (await this.tableExists("dagwood_cache")) {
      const entries = await this.admin.all<{ key: string; block: string; outputs: string }>(
        "SELECT key, block, outputs FROM dagwood_cache",
      );
      for (const e of entries) await this.putCached(e.key, e.block, e.outputs);
      await this.admin.run("DROP TABLE dagwood_cache");
    }
    await this.admin.run("DROP TABLE IF EXISTS dagwood_file_hash");
  }

  /** A new session (own connection) for one node run or one request. */
  async session(): Promise<SqlSession> {
    return new SqlSession(await this.instance.connect());
  }

  /** Describes and fingerprints a workspace table. */
  async describeTable(name: string, sql: SqlSession = this.admin): Promise<TableValue> {
    const columns = await sql.columns(name);
    const t = ident(name);
    // A row's hash summed over all rows: equal content in any order gives the
    // same sum, and a duplicated row changes it (unlike XOR, where pairs cancel).
    const row = await sql.one<{ n: number; h: string | null }>(
      `SELECT count(*) AS n, CAST(sum(hash(${t})::HUGEINT) AS VARCHAR) AS h FROM ${t} AS ${t}`,
    );
    return {
      type: "table",
      name,
      columns,
      rows: row.n,
      fingerprint: tableFingerprint(columns, row.n, row.h ?? "0"),
    };
  }

  async getCached(key: string): Promise<string | undefined> {
    const rows = await this.index.all<{ outputs: string }>(
      "SELECT outputs FROM dagwood_cache WHERE key = ?",
      [key],
    );
    return rows[0]?.outputs;
  }

  async putCached(key: string, block: string, outputs: string): Promise<void> {
    await this.index.run("INSERT OR REPLACE INTO dagwood_cache (key, block, outputs) VALUES (?, ?, ?)", [
      key,
      block,
      outputs,
    ]);
  }

  /** Every cache entry (its key, block and outputs JSON), for erasure to find the entries naming a table. */
  async cacheEntries(): Promise<{ key: string; block: string; outputs: string }[]> {
    return await this.index.all<{ key: string; block: string; outputs: string }>(
      "SELECT key, block, outputs FROM dagwood_cache ORDER BY key",
    );
  }

  async dropCached(key: string): Promise<void> {
    await this.index.run("DELETE FROM dagwood_cache WHERE key = ?", [key]);
  }

  async tableExists(name: string): Promise<boolean> {
    const rows = await this.admin.all(
      "SELECT 1 FROM duckdb_tables() WHERE table_name = ? AND NOT temporary",
      [name],
    );
    return rows.length > 0;
  }

  async dropTable(name: string): Promise<void> {
    await this.admin.run(`DROP TABLE IF EXISTS ${ident(name)}`);
  }

  async fileHashMemo(path: string): Promise<{ size: number; mtime_ms: number; hash: string } | undefined> {
    const rows = await this.index.all<{ size: number; mtime_ms: number; hash: string }>(
      "SELECT size, mtime_ms, hash FROM dagwood_file_hash WHERE path = ?",
      [path],
    );
    return rows[0];
  }

  async rememberFileHash(path: string, size: number, mtimeMs: number, hash: string): Promise<void> {
    await this.index.run("INSERT OR REPLACE INTO dagwood_file_hash VALUES (?, ?, ?, ?)", [
      path,
      size,
      mtimeMs,
      hash,
    ]);
  }

  /**
   * Drops cache entries whose keys are not in `keep`, then every node output
   * table no entry names (left by a crash, or by a dropped entry). Returns
   * what went, for the report.
   */
  async collectGarbage(keep: ReadonlySet<string>): Promise<{ entries: number; tables: number }> {
    const entries = await this.index.all<{ key: string; outputs: string }>(
      "SELECT key, outputs FROM dagwood_cache",
    );
    let dropped = 0;
    const referenced = new Set<string>();
    for (const e of entries) {
      if (keep.has(e.key) || this.inFlight.has(e.key)) {
        for (const v of Object.values(
          JSON.parse(e.outputs) as Record<string, { type: string; name?: string }>,
        )) {
          if (v.type === "table" && v.name) referenced.add(v.name);
        }
      } else {
        await this.dropCached(e.key);
        dropped++;
      }
    }
    const tables = await this.admin.all<{ table_name: string }>(
      "SELECT table_name FROM duckdb_tables() WHERE NOT temporary AND table_name LIKE 't\\_%' ESCAPE '\\'",
    );
    let removed = 0;
    for (const { table_name } of tables) {
      if (referenced.has(table_name)) continue;
      await this.dropTable(table_name);
      removed++;
    }
    if (dropped || removed) await this.checkpoint();
    return { entries: dropped, tables: removed };
  }

  /** Writes the WAL into the database file, so the next open starts fast. */
  async checkpoint(): Promise<void> {
    await this.admin.run("CHECKPOINT");
    await this.index.run("CHECKPOINT");
  }

  close(): void {
    this.admin.close();
    this.instance.closeSync();
    this.index.close();
    this.indexInstance.closeSync();
  }
}

export function tableFingerprint(columns: ColumnInfo[], rows: number, rowHashSum: string): string {
  const h = createHash("sha256");
  h.update(JSON.stringify(columns.map((c) => [c.name, c.type])));
  h.update(`|${rows}|${rowHashSum}`);
  return h.digest("hex").slice(0, 32);
}
