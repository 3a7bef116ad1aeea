/**
 * SQLite through better-sqlite3, on a connection opened read-only (a write fails in SQLite itself,
 * whatever the query says). Rows come from `iterate()` in batches; integers are read as bigint
 * (`safeIntegers`). A column's type is its declared type when every value fits it, else what its
 * values are (SQLite lets any column hold any value: see types-map.ts).
 */

import { createHash } from "node:crypto";
import { createReadStream, existsSync, statSync } from "node:fs";
import Database from "better-sqlite3";
import {
  Batcher,
  cancelledError,
  cursorIndex,
  DEFAULT_BATCH_ROWS,
  sourceLabel,
  unmappedError,
} from "./common";
import { buildSelect, quoteIdent } from "./read-only";
import { type CatalogTable, type DbConnection, DbError, type ReadSpec, type SourceColumn } from "./types";
import { sqliteDuckdbType } from "./types-map";

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const TIMESTAMP = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)$/;
const DECIMAL_TEXT = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

export function openSqlite(name: string, file: string): DbConnection {
  if (!existsSync(file))
    throw new DbError(
      "not-found",
      `Connection ${name}: the SQLite file ${file} does not exist. Check the path in dagwood.json.`,
    );
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (e) {
    throw new DbError(
      "other",
      `Connection ${name}: cannot open ${file} as a SQLite database (${(e as { code?: string }).code ?? "error"}).`,
    );
  }
  return new SqliteConnection(name, file, db);
}

function translate(name: string, spec: ReadSpec | undefined, e: unknown): DbError {
  if (e instanceof DbError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: string }).code ?? "";
  // SQLite's own messages carry no secret (there is none); keep the gist.
  if (/^no such (table|column)/.test(msg))
    return new DbError(
      "not-found",
      `Connection ${name}: ${msg} (reading ${spec ? sourceLabel(spec) : "the catalog"}).`,
      { cause: e },
    );
  if (code === "SQLITE_READONLY" || /readonly/i.test(msg))
    return new DbError(
      "not-read-only",
      `Connection ${name}: the query tried to write (${msg}); reads are read-only.`,
      { cause: e },
    );
  if (code === "SQLITE_CORRUPT" || code === "SQLITE_NOTADB")
    return new DbError(
      "other",
      `Connection ${name}: the file is not a SQLite database or is damaged (${code}).`,
      { cause: e },
    );
  return new DbError(
    "other",
    `Connection ${name}: SQLite failed reading ${spec ? sourceLabel(spec) : "the catalog"}: ${msg}`,
    { cause: e },
  );
}

class SqliteConnection implements DbConnection {
  readonly kind = "sqlite" as const;
  constructor(
    private readonly name: string,
    private readonly file: string,
    private readonly db: Database.Database,
  ) {}

  async serverVersion(): Promise<string> {
    return `SQLite ${(this.db.prepare("SELECT sqlite_version() AS v").get() as { v: string }).v}`;
  }

  async listSchemas(): Promise<string[]> {
    return (this.db.prepare("PRAGMA database_list").all() as { name: string }[]).map((r) => r.name);
  }

  async listTables(schema?: string): Promise<CatalogTable[]> {
    const s = schema ?? "main";
    try {
      const rows = this.db
        .prepare(
          `SELECT name, type FROM ${quoteIdent(s, "sqlite")}.sqlite_master WHERE type IN ('table','view') AND name NOT LIKE 'sqlite_%' ORDER BY name`,
        )
        .all() as { name: string; type: string }[];
      return rows.map((r) => ({
        schema: s,
        name: r.name,
        kind: r.type === "view" ? "view" : "table",
        rowsEstimate: null,
      }));
    } catch (e) {
      throw translate(this.name, undefined, e);
    }
  }

  /** The columns and the storage classes their values have (one scan of the rows the read would return). */
  private columnsOf(spec: ReadSpec, sql: string): SourceColumn[] {
    const stmt = this.db.prepare(sql);
    if (!stmt.reader)
      throw new DbError("not-read-only", `Connection ${this.name}: the query returns no rows.`);
    const cols = stmt.columns();
    const names = cols.map((c) => c.name);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup !== undefined)
      throw new DbError(
        "other",
        `Connection ${this.name}: two columns are named "${dup}": give them distinct names (AS …).`,
      );
    const probes = cols
      .map((c) => {
        const q = `s.${quoteIdent(c.name, "sqlite")}`;
        return ["integer", "real", "text", "blob"].map((k) => `max(typeof(${q}) = '${k}')`).join(", ");
      })
      .join(", ");
    const seen = cols.length
      ? (this.db.prepare(`SELECT ${probes} FROM (${sql}) AS s`).raw(true).get() as (number | null)[])
      : [];
    return cols.map((c, i) => {
      const [integer, real, text, blob] = [0, 1, 2, 3].map((k) => seen[i * 4 + k] === 1);
      const classes = { integer: !!integer, real: !!real, text: !!text, blob: !!blob };
      const t = sqliteDuckdbType(c.type, classes);
      const sourceType =
        c.type ??
        `(no declared type: ${
          Object.entries(classes)
            .filter(([, v]) => v)
            .map(([k]) => k)
            .join("/") || "no values"
        })`;
      if (t === null) {
        if (!spec.unmappedAsText)
          throw unmappedError(
            c.name,
            `${sourceType} holding mixed values (${Object.entries(classes)
              .filter(([, v]) => v)
              .map(([k]) => k)
              .join(", ")})`,
            this.name,
          );
        return { name: c.name, sourceType, duckdbType: "VARCHAR", nullable: true };
      }
      return { name: c.name, sourceType, duckdbType: t, nullable: true };
    });
  }

  async describe(spec: ReadSpec): Promise<SourceColumn[]> {
    try {
      return this.columnsOf(spec, buildSelect(spec, "sqlite"));
    } catch (e) {
      throw translate(this.name, spec, e);
    }
  }

  async read(
    spec: ReadSpec,
    opts: Parameters<DbConnection["read"]>[1],
  ): Promise<ReturnType<DbConnection["read"]> extends Promise<infer R> ? R : never> {
    let columns: SourceColumn[];
    let iter: IterableIterator<unknown[]> | undefined;
    try {
      const sql = buildSelect(spec, "sqlite");
      columns = this.columnsOf(spec, sql);
      await opts.onColumns(columns);
      const ci = cursorIndex(spec, columns);
      const norm = columns.map((c) => normaliser(c, this.name));
      const batcher = new Batcher(
        columns.length,
        opts.batchRows ?? DEFAULT_BATCH_ROWS,
        opts.onBatch,
        opts.onProgress,
        ci === undefined ? undefined : { index: ci, name: columns[ci]!.name, toText: (v) => String(v) },
      );
      iter = this.db.prepare(sql).raw(true).safeIntegers(true).iterate() as IterableIterator<unknown[]>;
      for (const raw of iter) {
        if (opts.signal?.aborted) throw cancelledError(this.name);
        const row = raw.map((v, i) => (v === null ? null : norm[i]!(v)));
        if (batcher.add(row)) await batcher.flush();
      }
      iter = undefined;
      await batcher.flush();
      batcher.finish();
      return { columns, rows: batcher.rows, cursorMax: batcher.cursorMax };
    } catch (e) {
      throw translate(this.name, spec, e);
    } finally {
      iter?.return?.();
    }
  }

  async changeToken(spec: ReadSpec): Promise<string | null> {
    if ("query" in spec.source) return null;
    // The file's bytes (and its write-ahead log's, where changes wait before a checkpoint). PRAGMA
    // data_version is only comparable within one connection, so it cannot key a cache across runs.
    const hash = createHash("sha256");
    for (const f of [this.file, `${this.file}-wal`]) {
      if (!existsSync(f)) continue;
      hash.update(`${f.endsWith("-wal") ? "wal" : "db"}:${statSync(f).size}:`);
      await new Promise<void>((resolve, reject) => {
        createReadStream(f)
          .on("data", (d) => hash.update(d))
          .on("end", resolve)
          .on("error", reject);
      });
    }
    return `sqlite:${hash.digest("hex")}`;
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

/** Turns a SQLite value into the RowBatch form for its DuckDB type; a value that does not fit fails naming the column. */
function normaliser(c: SourceColumn, connection: string): (v: unknown) => unknown {
  const bad = (v: unknown) =>
    new DbError(
      "unmapped-type",
      `Connection ${connection}: column "${c.name}" (${c.sourceType}) holds ${JSON.stringify(typeof v === "bigint" ? String(v) : v)}, which is not a ${c.duckdbType}: fix the value, or cast the column in a query.`,
    );
  const t = c.duckdbType;
  if (t === "BIGINT") return (v) => v;
  if (t === "DOUBLE") return (v) => Number(v);
  if (t === "BOOLEAN")
    return (v) => {
      if (v === 0n || v === 1n) return v === 1n;
      throw bad(v);
    };
  if (t.startsWith("DECIMAL")) {
    const scale = Number(/,(\d+)\)/.exec(t)?.[1] ?? 0);
    return (v) => {
      if (typeof v === "bigint") return scale > 0 ? `${v}.${"0".repeat(scale)}` : v.toString();
      if (typeof v === "number") return v.toFixed(scale);
      if (typeof v === "string" && DECIMAL_TEXT.test(v.trim())) return v.trim();
      throw bad(v);
    };
  }
  if (t === "DATE")
    return (v) => {
      if (typeof v === "string" && DATE.test(v)) return v;
      throw bad(v);
    };
  if (t === "TIMESTAMP")
    return (v) => {
      const m = typeof v === "string" ? TIMESTAMP.exec(v) : null;
      if (!m) throw bad(v);
      return `${m[1]} ${m[2]!.length === 5 ? `${m[2]}:00` : m[2]}`;
    };
  if (t === "BLOB") return (v) => v;
  // VARCHAR, JSON (and text chosen for mixed columns).
  return (v) => (Buffer.isBuffer(v) ? `\\x${v.toString("hex")}` : typeof v === "string" ? v : String(v));
}
