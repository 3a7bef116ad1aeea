/**
 * The embedded online store: one SQLite file (`.dagwood/online.sqlite`) with
 * a row per (view, entity key) holding the features as JSON and the row's
 * event time, and the history of materialisations.
 *
 * A materialisation streams its rows into a TEMP table (private to this
 * connection, gone with the process), then merges it into the live table and
 * records itself in one transaction: readers (WAL) see the old values until
 * that commits, and a process killed before it leaves the live table as it
 * was.
 */
import type Database from "better-sqlite3";
import { sqlite } from "../../data/native";
import type { EntityKey, MaterializationRecord, OnlineRecord, OnlineRow, OnlineStore } from "../types";
import { eventTime, OnlineStoreError, pickValues, valuesText } from "./values";

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS online_rows (
  view TEXT NOT NULL,
  key TEXT NOT NULL,
  event_ts INTEGER NOT NULL,
  vals TEXT NOT NULL,
  PRIMARY KEY (view, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS materializations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  view TEXT NOT NULL,
  version INTEGER NOT NULL,
  start TEXT NOT NULL,
  "end" TEXT NOT NULL,
  rows INTEGER NOT NULL,
  at TEXT NOT NULL,
  ms REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS materializations_view ON materializations (view, id);
`;

/** Rows per INSERT into the staging table (SQLite allows 32766 bound values; 3 a row). */
const STAGE_BATCH = 500;

export class SqliteOnlineStore implements OnlineStore {
  readonly kind = "sqlite" as const;
  private readonly db: Database.Database;
  private stages = 0;
  private readonly getOne: Database.Statement<[string, string], { event_ts: number; vals: string }>;
  private readonly getMany: Database.Statement<
    [string, string],
    { key: string; event_ts: number; vals: string }
  >;
  private readonly pushOne: Database.Statement<[string, string, number, string]>;

  constructor(readonly path: string) {
    const nativeBinding = process.env.DAGWOOD_SQLITE_BINDING;
    let db: Database.Database;
    try {
      db = new (sqlite())(path, nativeBinding ? { nativeBinding } : {});
    } catch (e) {
      throw new OnlineStoreError(`Cannot open the online store ${path}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    try {
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      db.pragma("busy_timeout = 5000");
      const version = db.pragma("user_version", { simple: true }) as number;
      if (version > SCHEMA_VERSION)
        throw new Error(
          `it was written by a newer Dagwood (schema ${version}, this one knows ${SCHEMA_VERSION}); upgrade Dagwood`,
        );
      db.exec(SCHEMA);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    } catch (e) {
      db.close();
      const code = (e as { code?: string }).code;
      const hint =
        code === "SQLITE_NOTADB" || code === "SQLITE_CORRUPT"
          ? " Move the file aside and materialise again: the online store holds only copies of offline features."
          : "";
      throw new OnlineStoreError(`Cannot open the online store ${path}: ${(e as Error).message}.${hint}`, {
        cause: e,
      });
    }
    this.db = db;
    this.getOne = db.prepare("SELECT event_ts, vals FROM online_rows WHERE view = ? AND key = ?");
    // The keys as one JSON list: one statement for any number of keys.
    this.getMany = db.prepare(
      "SELECT key, event_ts, vals FROM online_rows WHERE view = ? AND key IN (SELECT value FROM json_each(?))",
    );
    this.pushOne = db.prepare(
      `INSERT INTO online_rows (view, key, event_ts, vals) VALUES (?, ?, ?, ?)
       ON CONFLICT (view, key) DO UPDATE SET event_ts = excluded.event_ts, vals = excluded.vals
       WHERE excluded.event_ts > online_rows.event_ts`,
    );
  }

  async materialize(
    view: string,
    rows: OnlineRow[] | AsyncIterable<OnlineRow[]>,
    record: Omit<MaterializationRecord, "rows" | "at" | "ms">,
  ): Promise<MaterializationRecord> {
    const t0 = performance.now();
    const stage = `stage_${process.pid}_${++this.stages}`;
    // Keyed, so the merge reads it in key order without a sort (a materialisation hands the rows in key
    // order: appended, not inserted all over the index); made at the first row, so an empty window stages nothing.
    let staged = false;
    try {
      let count = 0;
      const chunks = Array.isArray(rows) ? [rows] : rows;
      for await (const chunk of chunks) {
        if (chunk.length === 0) continue;
        if (!staged) {
          this.db.exec(
            `CREATE TEMP TABLE ${stage} (key TEXT NOT NULL PRIMARY KEY, event_ts INTEGER NOT NULL, vals TEXT NOT NULL) WITHOUT ROWID`,
          );
          staged = true;
        }
        this.stageRows(stage, chunk);
        count += chunk.length;
      }
      const done: MaterializationRecord = { ...record, rows: count, at: "", ms: 0 };
      this.db
        .transaction(() => {
          // An equal event time replaces the row too: materialising a window again picks up corrected rows.
          // (`WHERE true`: SQLite's upsert after INSERT … SELECT needs a WHERE to parse.)
          if (staged)
            this.db
              .prepare(
                `INSERT INTO online_rows (view, key, event_ts, vals) SELECT ?, key, event_ts, vals FROM temp.${stage} WHERE true
               ON CONFLICT (view, key) DO UPDATE SET event_ts = excluded.event_ts, vals = excluded.vals
               WHERE excluded.event_ts >= online_rows.event_ts`,
              )
              .run(view);
          done.at = new Date().toISOString();
          done.ms = performance.now() - t0;
          this.db
            .prepare(
              `INSERT INTO materializations (view, version, start, "end", rows, at, ms) VALUES (?, ?, ?, ?, ?, ?, ?)`,
            )
            .run(view, done.version, done.start, done.end, done.rows, done.at, done.ms);
        })
        .immediate();
      return done;
    } finally {
      if (staged) this.db.exec(`DROP TABLE IF EXISTS temp.${stage}`);
    }
  }

  private stageRows(stage: string, chunk: OnlineRow[]): void {
    const insert = (n: number) =>
      this.db.prepare(
        // A key given twice keeps its newer row, as the merge would.
        `INSERT INTO temp.${stage} (key, event_ts, vals) VALUES ${Array(n).fill("(?, ?, ?)").join(", ")}
         ON CONFLICT (key) DO UPDATE SET event_ts = excluded.event_ts, vals = excluded.vals
         WHERE excluded.event_ts >= event_ts`,
      );
    const full = chunk.length >= STAGE_BATCH ? insert(STAGE_BATCH) : undefined;
    this.db.transaction(() => {
      for (let i = 0; i < chunk.length; i += STAGE_BATCH) {
        const part = chunk.slice(i, i + STAGE_BATCH);
        const args: (string | number)[] = [];
        for (const r of part) args.push(r.key, eventTime(r), valuesText(r));
        (part.length === STAGE_BATCH && full ? full : insert(part.length)).run(args);
      }
    })();
  }

  async push(view: string, rows: OnlineRow[]): Promise<number> {
    let written = 0;
    this.db
      .transaction(() => {
        for (const r of rows) written += this.pushOne.run(view, r.key, eventTime(r), valuesText(r)).changes;
      })
      .immediate();
    return written;
  }

  async get(view: string, keys: EntityKey[], features: readonly string[]): Promise<(OnlineRecord | null)[]> {
    // One statement, so one read snapshot: a materialisation committing meanwhile is seen wholly or not at all.
    if (keys.length === 1) {
      const row = this.getOne.get(view, keys[0]!);
      return [row ? { eventTs: row.event_ts, values: pickValues(row.vals, features) } : null];
    }
    if (keys.length === 0) return [];
    const found = new Map<string, { event_ts: number; vals: string }>();
    for (const row of this.getMany.all(view, JSON.stringify(keys))) found.set(row.key, row);
    return keys.map((key) => {
      const row = found.get(key);
      return row ? { eventTs: row.event_ts, values: pickValues(row.vals, features) } : null;
    });
  }

  async materializations(view?: string): Promise<MaterializationRecord[]> {
    const sql = `SELECT view, version, start, "end", rows, at, ms FROM materializations ${view === undefined ? "" : "WHERE view = ?"} ORDER BY view, id DESC`;
    const rows = this.db
      .prepare<unknown[], MaterializationRecord>(sql)
      .all(...(view === undefined ? [] : [view]));
    return rows.map((r) => ({ ...r }));
  }

  /** The views that have rows (erasure looks in each). */
  async views(): Promise<string[]> {
    return this.db
      .prepare<[], { view: string }>("SELECT DISTINCT view FROM online_rows ORDER BY view")
      .all()
      .map((r) => r.view);
  }

  /** The keys of a view's rows that `match` (given the entity key and the features' JSON text), for erasure. */
  async findRows(view: string, match: (key: EntityKey, vals: string) => boolean): Promise<EntityKey[]> {
    const found: EntityKey[] = [];
    const rows = this.db
      .prepare<[string], { key: string; vals: string }>("SELECT key, vals FROM online_rows WHERE view = ?")
      .iterate(view);
    for (const row of rows) if (match(row.key, row.vals)) found.push(row.key);
    return found;
  }

  /** Deletes the rows of these keys from the view in one transaction; answers how many there were. */
  async deleteRows(view: string, keys: readonly EntityKey[]): Promise<number> {
    if (keys.length === 0) return 0;
    let deleted = 0;
    // Erased rows are overwritten with zeros in the file (https://sqlite.org/pragma.html#pragma_secure_delete),
    // and the WAL holding their old pages is written back and emptied.
    this.db.pragma("secure_delete = ON");
    const del = this.db.prepare("DELETE FROM online_rows WHERE view = ? AND key = ?");
    this.db
      .transaction(() => {
        for (const key of keys) deleted += del.run(view, key).changes;
      })
      .immediate();
    this.db.pragma("wal_checkpoint(TRUNCATE)");
    return deleted;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
