import type Database from "better-sqlite3";
import { sqlite } from "../data/native";
import { applySqliteMigration, MIGRATIONS } from "./schema";

/**
 * Opens (creating if needed) a Dagwood metadata database: WAL, foreign keys,
 * a busy timeout so two processes can write in turn, then the migrations.
 * A database from a newer Dagwood, or a file that is not a SQLite database,
 * is refused with a message that names the file and says what to do.
 */
export function openMetadataDatabase(path: string): Database.Database {
  // Under Electron, the addon built for Electron's ABI (see bin/electron-native.mjs).
  const nativeBinding = process.env.DAGWOOD_SQLITE_BINDING;
  let db: Database.Database;
  try {
    db = new (sqlite())(path, nativeBinding ? { nativeBinding } : {});
  } catch (e) {
    throw unreadable(path, e);
  }
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("foreign_keys = ON");
    db.pragma("busy_timeout = 5000");
    migrate(db, path);
    return db;
  } catch (e) {
    db.close();
    throw unreadable(path, e);
  }
}

function unreadable(path: string, e: unknown): unknown {
  const code = (e as { code?: string }).code;
  if (code !== "SQLITE_NOTADB" && code !== "SQLITE_CORRUPT") return e;
  return new Error(
    `The metadata database ${path} is damaged or not a SQLite database (${(e as Error).message}). ` +
      "Move it aside (e.g. rename it to metadata.sqlite.broken) and open the project again: Dagwood then starts " +
      "a new, empty database. What the old file held (run history, metrics, lineage, registered model " +
      "versions and aliases, the audit log) is no longer shown, but stays in the file you moved, for recovery. " +
      "Nothing else is deleted: the workspace cache (workspace.duckdb), .dagwood/artifacts and the model files " +
      "under .dagwood/registry are kept. Registering a model again numbers its versions from 1; an old version " +
      "folder in the way is moved, untouched, to .dagwood/registry/<model>/.orphan-<version>-<random>.",
    { cause: e },
  );
}

function migrate(db: Database.Database, path: string): void {
  const version = db.pragma("user_version", { simple: true }) as number;
  if (version > MIGRATIONS.length) throw new Error(newerSchemaMessage(path, version, MIGRATIONS.length));
  for (let v = version; v < MIGRATIONS.length; v++) {
    const step = MIGRATIONS[v]!;
    db.transaction(() => {
      // Another process opening the same project may have applied it meanwhile.
      if ((db.pragma("user_version", { simple: true }) as number) > v) return;
      applySqliteMigration(db, step);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}

/** The refusal of a store whose schema is newer than this Dagwood's (`where`: the file, or the PostgreSQL schema). */
export function newerSchemaMessage(where: string, version: number, known: number): string {
  return `The metadata store ${where} was written by a newer Dagwood (schema ${version}, this one knows ${known}). Upgrade Dagwood to open this project.`;
}

export const nowIso = (): string => new Date().toISOString();

/** JSON text in which NaN and ±Infinity survive (as the strings "NaN", "Infinity", "-Infinity"). */
export function numbersToJson(values: Record<string, number>): string {
  return JSON.stringify(values, (_key, v) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v));
}

export function numbersFromJson(text: string): Record<string, number> {
  const parsed = JSON.parse(text) as Record<string, number | string>;
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(parsed)) out[k] = typeof v === "number" ? v : Number(v);
  return out;
}
