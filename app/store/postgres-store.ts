import { join } from "node:path";
import { SqlMetadataStore } from "./metadata";
import { migratePostgres } from "./pg-schema";
import { openPostgres } from "./postgres";

export interface PostgresStoreOptions {
  /** `postgres://user@host:5432/database`, without a password. */
  url: string;
  /** The PostgreSQL schema holding this project's store (one per project); created when missing. */
  schema?: string;
  /** From DAGWOOD_STORE_PASSWORD or the keychain (libpq's PGPASSWORD and ~/.pgpass work too). */
  password?: string;
  /** The project folder: registry paths are stored relative to it. */
  projectDir: string;
  /** Where registered model files go; default `<projectDir>/.dagwood/registry`. */
  registryDir?: string;
}

/**
 * The team store: the metadata store and registry on PostgreSQL. Connects, brings the schema up
 * to this Dagwood's migrations (app/store/pg-schema.ts) and returns the same store class the
 * SQLite file uses, marked shared: other machines run in it too, so settling interrupted runs
 * touches only this machine's.
 */
export function openPostgresStore(options: PostgresStoreOptions): SqlMetadataStore {
  const sql = openPostgres({
    url: options.url,
    schema: options.schema ?? "dagwood",
    ...(options.password !== undefined ? { password: options.password } : {}),
  });
  try {
    migratePostgres(sql);
  } catch (e) {
    sql.close();
    throw e;
  }
  return new SqlMetadataStore(sql, {
    projectDir: options.projectDir,
    registryDir: options.registryDir ?? join(options.projectDir, ".dagwood", "registry"),
    shared: true,
  });
}
