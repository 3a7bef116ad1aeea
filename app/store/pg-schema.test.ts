import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIGRATION_LOCK_KEY, migratePostgres, POSTGRES_BASELINE_VERSION } from "./pg-schema";
import { startTestPostgres, TEST_PG_URL_ENV, type TestPostgres } from "./pg-testing";
import { openPostgres, type PostgresSql } from "./postgres";
import { openPostgresStore } from "./postgres-store";
import { MIGRATIONS, type Migration } from "./schema";
import { openMetadataDatabase } from "./sqlite";

// The schema as both dialects report it through their own catalogs (SQLite's pragmas, PostgreSQL's
// information_schema and pg_catalog), reduced to what the store relies on.
type Kind = "text" | "number" | "blob";
interface TableShape {
  columns: Map<string, { kind: Kind | string; notNull: boolean }>;
  primaryKey: string;
  unique: Set<string>;
  indexes: Map<string, string>;
  foreignKeys: Set<string>;
}
type Shape = Map<string, TableShape>;

const emptyTable = (): TableShape => ({
  columns: new Map(),
  primaryKey: "",
  unique: new Set(),
  indexes: new Map(),
  foreignKeys: new Set(),
});

function sqliteKind(type: string): Kind | string {
  const t = type.toUpperCase();
  if (t === "TEXT") return "text";
  if (t === "INTEGER" || t === "REAL") return "number";
  if (t === "BLOB") return "blob";
  return `sqlite:${type}`;
}

function sqliteShape(db: Database.Database): Shape {
  const shape: Shape = new Map();
  const tables = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    .pluck()
    .all() as string[];
  for (const name of tables) {
    const t = emptyTable();
    const cols = db.pragma(`table_info("${name}")`) as {
      name: string;
      type: string;
      notnull: number;
      pk: number;
    }[];
    for (const c of cols)
      t.columns.set(c.name, { kind: sqliteKind(c.type), notNull: c.notnull === 1 || c.pk > 0 });
    t.primaryKey = cols
      .filter((c) => c.pk > 0)
      .sort((a, b) => a.pk - b.pk)
      .map((c) => c.name)
      .join(",");
    const indexes = db.pragma(`index_list("${name}")`) as {
      name: string;
      unique: number;
      origin: string;
      partial: number;
    }[];
    for (const ix of indexes) {
      const columns = (db.pragma(`index_info("${ix.name}")`) as { seqno: number; name: string }[])
        .sort((a, b) => a.seqno - b.seqno)
        .map((c) => c.name)
        .join(",");
      if (ix.origin === "pk") continue;
      if (ix.unique) t.unique.add(columns);
      else t.indexes.set(ix.name, columns + (ix.partial ? " partial" : ""));
    }
    const fks = db.pragma(`foreign_key_list("${name}")`) as {
      id: number;
      seq: number;
      table: string;
      from: string;
      to: string;
      on_delete: string;
    }[];
    for (const id of new Set(fks.map((f) => f.id))) {
      const parts = fks.filter((f) => f.id === id).sort((a, b) => a.seq - b.seq);
      t.foreignKeys.add(
        `${parts.map((p) => p.from).join(",")} -> ${parts[0]!.table}(${parts.map((p) => p.to).join(",")}) ON DELETE ${parts[0]!.on_delete}`,
      );
    }
    shape.set(name, t);
  }
  return shape;
}

function postgresKind(type: string): Kind | string {
  if (type === "text") return "text";
  if (["bigint", "integer", "smallint", "double precision", "real", "numeric"].includes(type))
    return "number";
  if (type === "bytea") return "blob";
  return `postgres:${type}`;
}

const DELETE_ACTION: Record<string, string> = {
  a: "NO ACTION",
  c: "CASCADE",
  r: "RESTRICT",
  n: "SET NULL",
  d: "SET DEFAULT",
};

/** The store's schema on PostgreSQL, with `dagwood_schema` (the runner's own table) left out. */
function postgresShape(sql: PostgresSql): Shape {
  const shape: Shape = new Map();
  for (const name of sql.column<string>(
    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'dagwood_schema'",
  ))
    shape.set(name, emptyTable());
  for (const c of sql.all<{
    table_name: string;
    column_name: string;
    is_nullable: string;
    data_type: string;
  }>(
    `SELECT table_name, column_name, is_nullable, data_type FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name <> 'dagwood_schema'`,
  ))
    shape.get(c.table_name)!.columns.set(c.column_name, {
      kind: postgresKind(c.data_type),
      notNull: c.is_nullable === "NO",
    });
  const indexes = sql.all<{
    tbl: string;
    name: string;
    uniq: number;
    pk: number;
    partial: number;
    columns: string;
  }>(
    `SELECT t.relname AS tbl, i.relname AS name, x.indisunique::int AS uniq, x.indisprimary::int AS pk,
            (x.indpred IS NOT NULL)::int AS partial,
            (SELECT string_agg(pg_get_indexdef(x.indexrelid, k, true), ',' ORDER BY k)
               FROM generate_series(1, x.indnatts) AS k) AS columns
       FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
      WHERE t.relnamespace = current_schema()::regnamespace AND t.relname <> 'dagwood_schema'`,
  );
  for (const ix of indexes) {
    const t = shape.get(ix.tbl)!;
    // A unique index on md5(col) stands for UNIQUE (col): b-tree keys hold at most 2,704 bytes.
    const columns = ix.columns.replace(/md5\((\w+)\)/g, "$1").replace(/"/g, "");
    if (ix.pk) t.primaryKey = columns;
    else if (ix.uniq) t.unique.add(columns);
    else t.indexes.set(ix.name, columns + (ix.partial ? " partial" : ""));
  }
  for (const fk of sql.all<{ tbl: string; def: string; del: string }>(
    `SELECT c.conrelid::regclass::text AS tbl, pg_get_constraintdef(c.oid) AS def, c.confdeltype AS del
       FROM pg_constraint c WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace`,
  )) {
    const m = /^FOREIGN KEY \(([^)]*)\) REFERENCES (\w+)\(([^)]*)\)/.exec(fk.def);
    if (!m) throw new Error(`unexpected foreign key ${fk.def}`);
    const cols = (s: string) => s.replace(/\s+/g, "");
    shape
      .get(fk.tbl)!
      .foreignKeys.add(
        `${cols(m[1]!)} -> ${m[2]}(${cols(m[3]!)}) ON DELETE ${DELETE_ACTION[fk.del] ?? fk.del}`,
      );
  }
  return shape;
}

/**
 * The documented differences, taken out of the PostgreSQL shape: `metrics.seq` and `logs.seq`
 * (PostgreSQL's stand-in for SQLite's rowid, `Sql.insertionOrder()`) and keysets' hash index for
 * the lookup by keys. Returns what it took out, for the caller to check.
 */
function withoutDialectExtras(shape: Shape): string[] {
  const taken: string[] = [];
  for (const table of ["metrics", "logs"]) {
    const seq = shape.get(table)?.columns.get("seq");
    if (seq) {
      shape.get(table)!.columns.delete("seq");
      taken.push(`${table}.seq ${seq.kind}${seq.notNull ? " not null" : ""}`);
    }
  }
  const lookup = shape.get("keysets")?.indexes.get("keysets_lookup");
  if (lookup) {
    shape.get("keysets")!.indexes.delete("keysets_lookup");
    taken.push(`keysets_lookup ${lookup}`);
  }
  return taken;
}

/** Every difference between the two shapes, one line each; empty when they agree. */
function differences(sqlite: Shape, postgres: Shape): string[] {
  const out: string[] = [];
  const only = (what: string, a: Iterable<string>, b: { has(k: string): boolean }, where: string) => {
    for (const k of a) if (!b.has(k)) out.push(`${what} ${k} only in ${where}`);
  };
  only("table", sqlite.keys(), postgres, "SQLite");
  only("table", postgres.keys(), sqlite, "PostgreSQL");
  for (const [name, s] of sqlite) {
    const p = postgres.get(name);
    if (!p) continue;
    only(
      "column",
      [...s.columns.keys()].map((c) => `${name}.${c}`),
      { has: (k) => p.columns.has(k.slice(name.length + 1)) },
      "SQLite",
    );
    only(
      "column",
      [...p.columns.keys()].map((c) => `${name}.${c}`),
      { has: (k) => s.columns.has(k.slice(name.length + 1)) },
      "PostgreSQL",
    );
    for (const [col, sc] of s.columns) {
      const pc = p.columns.get(col);
      if (!pc) continue;
      if (sc.kind !== pc.kind)
        out.push(`column ${name}.${col}: ${sc.kind} in SQLite, ${pc.kind} in PostgreSQL`);
      if (sc.notNull !== pc.notNull)
        out.push(
          `column ${name}.${col}: ${sc.notNull ? "NOT NULL" : "nullable"} in SQLite, ${pc.notNull ? "NOT NULL" : "nullable"} in PostgreSQL`,
        );
    }
    if (s.primaryKey !== p.primaryKey)
      out.push(`table ${name}: primary key (${s.primaryKey}) in SQLite, (${p.primaryKey}) in PostgreSQL`);
    only(`unique on ${name}`, s.unique, p.unique, "SQLite");
    only(`unique on ${name}`, p.unique, s.unique, "PostgreSQL");
    for (const [ix, cols] of s.indexes)
      if (p.indexes.get(ix) !== cols)
        out.push(`index ${ix}: (${cols}) in SQLite, (${p.indexes.get(ix) ?? "none"}) in PostgreSQL`);
    only(`index on ${name}`, p.indexes.keys(), s.indexes, "PostgreSQL");
    only(`foreign key of ${name}`, s.foreignKeys, p.foreignKeys, "SQLite");
    only(`foreign key of ${name}`, p.foreignKeys, s.foreignKeys, "PostgreSQL");
  }
  return out;
}

let server: TestPostgres | undefined;
let url: string;
const schemas: string[] = [];
const tempDirs: string[] = [];

beforeAll(async () => {
  const shared = process.env[TEST_PG_URL_ENV];
  if (shared) url = shared;
  else {
    server = await startTestPostgres();
    url = server.url;
  }
}, 60_000);

afterAll(async () => {
  if (schemas.length > 0) {
    const admin = openPostgres({ url, schema: "public" });
    try {
      for (const s of schemas) admin.exec(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    } finally {
      admin.close();
    }
  }
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  await server?.stop();
}, 60_000);

/** A connection to a new, empty schema (dropped after the file). */
function freshSchema(): { sql: PostgresSql; schema: string } {
  const schema = `t_schema_${randomBytes(6).toString("hex")}`;
  schemas.push(schema);
  return { sql: openPostgres({ url, schema }), schema };
}

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "dagwood-pg-schema-"));
  tempDirs.push(d);
  return d;
}

/** A fresh SQLite store's schema (its own migrations) and a fresh PostgreSQL schema's, both migrated. */
function bothShapes(): {
  sqlite: Shape;
  postgres: Shape;
  sqliteVersion: number;
  postgresVersion: number;
  extras: string[];
} {
  const db = openMetadataDatabase(join(tempDir(), "metadata.sqlite"));
  const sqlite = sqliteShape(db);
  const sqliteVersion = db.pragma("user_version", { simple: true }) as number;
  db.close();
  const { sql } = freshSchema();
  try {
    migratePostgres(sql);
    const postgres = postgresShape(sql);
    const extras = withoutDialectExtras(postgres);
    return {
      sqlite,
      postgres,
      sqliteVersion,
      postgresVersion: sql.value<number>("SELECT version FROM dagwood_schema")!,
      extras,
    };
  } finally {
    sql.close();
  }
}

/** Runs `fn` with `extra` appended to MIGRATIONS, then takes it away again. */
function withMigration<T>(extra: Migration, fn: () => T): T {
  MIGRATIONS.push(extra);
  try {
    return fn();
  } finally {
    MIGRATIONS.pop();
  }
}

describe("the PostgreSQL schema", () => {
  it("has the same tables, columns, keys, unique constraints, indexes and foreign keys as SQLite's", () => {
    const { sqlite, postgres, sqliteVersion, postgresVersion, extras } = bothShapes();
    expect(differences(sqlite, postgres)).toEqual([]);
    expect(sqliteVersion).toBe(MIGRATIONS.length);
    expect(postgresVersion).toBe(MIGRATIONS.length);
    // The documented differences are there, and are what they should be.
    expect(extras.sort()).toEqual([
      "keysets_lookup keys",
      "logs.seq number not null",
      "metrics.seq number not null",
    ]);
    // Not vacuous: the tables the store uses are all compared.
    expect([...sqlite.keys()].sort()).toEqual(
      expect.arrayContaining([
        "audit",
        "keysets",
        "metrics",
        "model_aliases",
        "model_versions",
        "runs",
        "run_params",
      ]),
    );
    expect(sqlite.get("runs")!.columns.get("user")).toEqual({ kind: "text", notNull: false });
    expect(sqlite.get("keysets")!.unique).toEqual(new Set(["keys"]));
    expect(sqlite.get("monitor_loops")!.unique).toEqual(new Set(["monitor,window_start"]));
  });

  it("collates every text column in byte order, as SQLite compares text", () => {
    const { sql } = freshSchema();
    try {
      migratePostgres(sql);
      const other = sql.column<string>(
        `SELECT table_name || '.' || column_name || ' ' || coalesce(collation_name, 'default')
           FROM information_schema.columns
          WHERE table_schema = current_schema() AND data_type = 'text' AND coalesce(collation_name, '') <> 'C'`,
      );
      expect(other).toEqual([]);
      sql.run(
        "INSERT INTO runs (id, pipeline, status, params, environment, started_at) VALUES ('r', 'p', 'running', '{}', '{}', 't')",
      );
      for (const key of ["_abB", "a", "B_ab", "Z"])
        sql.run("INSERT INTO run_tags (run_id, key, value) VALUES ('r', ?, '')", key);
      // Byte order, as SQLite's BINARY: uppercase before underscore before lowercase.
      expect(sql.column<string>("SELECT key FROM run_tags ORDER BY key")).toEqual(["B_ab", "Z", "_abB", "a"]);
    } finally {
      sql.close();
    }
  });

  it.each<[string, Migration, RegExp]>([
    [
      "a column",
      { sqlite: "ALTER TABLE runs ADD COLUMN extra TEXT;", postgres: "SELECT 1;" },
      /column runs\.extra only in SQLite/,
    ],
    [
      "a table",
      { sqlite: "SELECT 1;", postgres: 'CREATE TABLE extra (id TEXT COLLATE "C" PRIMARY KEY);' },
      /table extra only in PostgreSQL/,
    ],
    [
      "a column's kind",
      {
        sqlite: "ALTER TABLE runs ADD COLUMN extra INTEGER;",
        postgres: 'ALTER TABLE runs ADD COLUMN extra TEXT COLLATE "C";',
      },
      /column runs\.extra: number in SQLite, text in PostgreSQL/,
    ],
    [
      "nullability",
      {
        sqlite: "ALTER TABLE runs ADD COLUMN extra TEXT NOT NULL DEFAULT '';",
        postgres: `ALTER TABLE runs ADD COLUMN extra TEXT COLLATE "C" DEFAULT '';`,
      },
      /column runs\.extra: NOT NULL in SQLite, nullable in PostgreSQL/,
    ],
    [
      "a unique constraint",
      { sqlite: "CREATE UNIQUE INDEX runs_extra ON runs (pipeline, started_at);", postgres: "SELECT 1;" },
      /unique on runs pipeline,started_at only in SQLite/,
    ],
  ])("finds %s added to one dialect only", (_what, extra, expected) => {
    const found = withMigration(extra, () => {
      const { sqlite, postgres } = bothShapes();
      return differences(sqlite, postgres);
    });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(expected);
  });

  it("keeps the audit log append-only, with SQLite's words", () => {
    const { sql } = freshSchema();
    const db = openMetadataDatabase(join(tempDir(), "metadata.sqlite"));
    try {
      migratePostgres(sql);
      const insert =
        "INSERT INTO audit (at, actor, action, model, version, details) VALUES (?, ?, ?, ?, ?, ?)";
      const row = ["2026-01-01T00:00:00.000Z", "ana", "register", "churn", 1, "{}"] as const;
      sql.run(insert, ...row);
      db.prepare(insert).run(...row);
      const refusals: string[] = [];
      for (const change of ["UPDATE audit SET actor = 'mallory'", "DELETE FROM audit"]) {
        for (const run of [() => sql.run(change), () => db.prepare(change).run()]) {
          try {
            run();
            refusals.push(`${change}: accepted`);
          } catch (e) {
            refusals.push((e as Error).message);
          }
        }
      }
      expect(refusals).toHaveLength(4);
      for (const r of refusals) expect(r).toMatch(/the audit log is append-only/);
      expect(() => sql.exec("TRUNCATE audit")).toThrow(/the audit log is append-only/);
      expect(sql.all("SELECT actor, action, model, version FROM audit")).toEqual([
        { actor: "ana", action: "register", model: "churn", version: 1 },
      ]);
      // Appending stays possible, with ids in order.
      sql.run(insert, "2026-01-02T00:00:00.000Z", "ana", "alias", "churn", 1, "{}");
      expect(sql.column<number>("SELECT id FROM audit ORDER BY id")).toEqual([1, 2]);
    } finally {
      sql.close();
      db.close();
    }
  });

  it("migrates once: a second run changes nothing and keeps the data", () => {
    const { sql } = freshSchema();
    try {
      expect(migratePostgres(sql)).toEqual({ from: 0, to: MIGRATIONS.length });
      sql.run(
        "INSERT INTO runs (id, pipeline, status, params, environment, started_at) VALUES ('r1', 'p', 'running', '{}', '{}', 't')",
      );
      const tables = sql.column<string>(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1",
      );
      expect(migratePostgres(sql)).toEqual({ from: MIGRATIONS.length, to: MIGRATIONS.length });
      expect(
        sql.column<string>("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"),
      ).toEqual(tables);
      expect(sql.column("SELECT id FROM runs")).toEqual(["r1"]);
      expect(sql.column("SELECT version FROM dagwood_schema")).toEqual([MIGRATIONS.length]);
    } finally {
      sql.close();
    }
  });

  it("runs the migrations after the baseline on an older PostgreSQL store, in one transaction", () => {
    const { sql } = freshSchema();
    try {
      migratePostgres(sql);
      const extra: Migration = {
        sqlite: "ALTER TABLE runs ADD COLUMN extra TEXT;",
        postgres: `ALTER TABLE runs ADD COLUMN extra TEXT COLLATE "C"; UPDATE runs SET extra = 'filled';`,
      };
      sql.run(
        "INSERT INTO runs (id, pipeline, status, params, environment, started_at) VALUES ('r1', 'p', 'running', '{}', '{}', 't')",
      );
      const known = MIGRATIONS.length;
      expect(withMigration(extra, () => migratePostgres(sql))).toEqual({ from: known, to: known + 1 });
      expect(sql.value("SELECT extra FROM runs WHERE id = 'r1'")).toBe("filled");
      expect(sql.value("SELECT version FROM dagwood_schema")).toBe(known + 1);

      // A failing migration leaves nothing behind: not its first statement, not the version.
      const { sql: other } = freshSchema();
      try {
        migratePostgres(other);
        const broken: Migration = {
          sqlite: "SELECT 1;",
          postgres: `ALTER TABLE runs ADD COLUMN half TEXT COLLATE "C"; SELECT no_such_function();`,
        };
        expect(() => withMigration(broken, () => migratePostgres(other))).toThrow(/no_such_function/);
        expect(other.value("SELECT version FROM dagwood_schema")).toBe(known);
        expect(
          other.column(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND column_name = 'half'",
          ),
        ).toEqual([]);
        // A migration written only as a function on a SQLite connection cannot run here: said so, nothing applied.
        expect(() =>
          withMigration(
            () => {},
            () => migratePostgres(other),
          ),
        ).toThrow(
          new RegExp(
            `Migration ${known + 1} in app/store/schema.ts is a function on a SQLite connection and has no PostgreSQL form`,
          ),
        );
        expect(other.value("SELECT version FROM dagwood_schema")).toBe(known);
      } finally {
        other.close();
      }
    } finally {
      sql.close();
    }
  });

  it("lets a migration run longer than the connection's statement limit", () => {
    const { sql } = freshSchema();
    try {
      migratePostgres(sql);
      sql.exec("SET statement_timeout = '200ms'");
      // Not vacuous: the limit holds outside a migration.
      let outside: unknown;
      try {
        sql.value("SELECT pg_sleep(0.5)");
      } catch (e) {
        outside = e;
      }
      expect(outside).toMatchObject({ code: "57014", kind: "timeout" });
      const slow: Migration = { sqlite: "SELECT 1;", postgres: "SELECT pg_sleep(0.5);" };
      expect(withMigration(slow, () => migratePostgres(sql))).toEqual({
        from: MIGRATIONS.length,
        to: MIGRATIONS.length + 1,
      });
      // The limit is the connection's again after the migration.
      expect(sql.value("SHOW statement_timeout")).toBe("200ms");
    } finally {
      sql.close();
    }
  });

  it("refuses a schema written by a newer Dagwood with SQLite's message", () => {
    const { sql, schema } = freshSchema();
    const known = MIGRATIONS.length;
    try {
      migratePostgres(sql);
      sql.run("UPDATE dagwood_schema SET version = ?", known + 3);
    } finally {
      sql.close();
    }
    const path = join(tempDir(), "metadata.sqlite");
    const db = openMetadataDatabase(path);
    db.pragma(`user_version = ${known + 3}`);
    db.close();
    let sqliteMessage = "";
    try {
      openMetadataDatabase(path);
    } catch (e) {
      sqliteMessage = (e as Error).message;
    }
    expect(sqliteMessage).toContain(`(schema ${known + 3}, this one knows ${known}). Upgrade Dagwood`);

    const again = openPostgres({ url, schema });
    let postgresMessage = "";
    try {
      migratePostgres(again);
    } catch (e) {
      postgresMessage = (e as Error).message;
    } finally {
      again.close();
    }
    expect(postgresMessage).toBe(
      sqliteMessage.replace(path, `in PostgreSQL database "postgres", schema "${schema}",`),
    );
    // The store does not open either, and says the same.
    expect(() => openPostgresStore({ url, schema, projectDir: tempDir() })).toThrow(postgresMessage);
  });

  it("refuses a schema that holds other tables and no dagwood_schema", () => {
    const { sql, schema } = freshSchema();
    try {
      sql.exec("CREATE TABLE runs (id text)");
      expect(() => migratePostgres(sql)).toThrow(
        `The metadata store in PostgreSQL database "postgres", schema "${schema}", holds tables but no dagwood_schema table, so it is not a Dagwood store.`,
      );
      expect(sql.column("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")).toEqual([
        "runs",
      ]);
    } finally {
      sql.close();
    }
  });

  it("lets exactly one of two processes opening an empty schema at once migrate it", async () => {
    const { sql: holder, schema } = freshSchema();
    const watcher = openPostgres({ url, schema: "public" });
    const app = `dagwood-migrate-${schema}`;
    const root = join(import.meta.dirname, "..", "..");
    const migrator = join(import.meta.dirname, "fixtures", "pg-migrator.ts");
    try {
      // Hold the migration lock so both processes are sure to arrive while it is taken.
      holder.exec("BEGIN");
      holder.get(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
      const children = [1, 2].map(
        () =>
          new Promise<{ code: number | null; out: string; err: string }>((resolve, reject) => {
            const child = spawn(process.execPath, ["--import", "tsx", migrator, url, schema, app], {
              cwd: root,
              stdio: ["ignore", "pipe", "pipe"],
            });
            let out = "";
            let err = "";
            child.stdout.on("data", (d) => (out += d));
            child.stderr.on("data", (d) => (err += d));
            child.on("error", reject);
            child.on("close", (code) => resolve({ code, out, err }));
          }),
      );
      const waiting = () =>
        Number(
          watcher.value(
            `SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
              WHERE l.locktype = 'advisory' AND NOT l.granted AND a.application_name = ?`,
            app,
          ),
        );
      const deadline = Date.now() + 60_000;
      while (waiting() < 2) {
        if (Date.now() > deadline) throw new Error("the two migrating processes never waited for the lock");
        await new Promise((r) => setTimeout(r, 50));
      }
      holder.exec("COMMIT");
      const results = await Promise.all(children);
      for (const r of results) expect(r, r.err).toMatchObject({ code: 0 });
      const done = results.map((r) => JSON.parse(r.out) as { from: number; to: number });
      const known = MIGRATIONS.length;
      expect(done.sort((a, b) => a.from - b.from)).toEqual([
        { from: 0, to: known },
        { from: known, to: known },
      ]);
      expect(holder.column("SELECT version FROM dagwood_schema")).toEqual([known]);
      expect(
        Number(holder.value("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()")),
      ).toBeGreaterThan(POSTGRES_BASELINE_VERSION);
    } finally {
      holder.close();
      watcher.close();
    }
  }, 120_000);
});
