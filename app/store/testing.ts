/**
 * A metadata store for tests, on the database the test run asks for: the SQLite file by
 * default, or — when DAGWOOD_TEST_STORE=postgres (vitest's `store-pg` project) — a fresh
 * schema of the PostgreSQL cluster the run's global setup started (DAGWOOD_TEST_PG_URL).
 * The same store tests thus run against both drivers.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteMetadataStore, type SqlMetadataStore } from "./metadata";
import { TEST_PG_URL_ENV } from "./pg-testing";
import { openPostgres, quoteIdent } from "./postgres";
import { openPostgresStore } from "./postgres-store";

/** The environment variable that selects the store the tests run on. */
export const TEST_STORE_ENV = "DAGWOOD_TEST_STORE";

/** True when this test run puts the store on PostgreSQL. */
export const testingOnPostgres = (): boolean => process.env[TEST_STORE_ENV] === "postgres";

/** The URL of the test run's PostgreSQL cluster; a clear error outside such a run. */
export function testPostgresUrl(): string {
  const url = process.env[TEST_PG_URL_ENV];
  if (!url)
    throw new Error(
      `${TEST_STORE_ENV}=postgres but ${TEST_PG_URL_ENV} is not set: the PostgreSQL test cluster is started by vitest's global setup (vitest.global-setup.ts); run the tests through vitest (e.g. npx vitest run --project store-pg).`,
    );
  return url;
}

export interface TestStore {
  /** Typed as the SQLite store so existing tests compile unchanged; the class is the same. */
  store: SqliteMetadataStore;
  /** The project folder (registry files go under it on both databases). */
  dir: string;
  /** On PostgreSQL: the schema the store lives in. */
  schema?: string;
  /** Closes the store and removes its folder (and its PostgreSQL schema). */
  cleanup: () => void;
}

/** A store in a fresh temporary project folder, on the database the test run selects. */
export function createTestStore(): TestStore {
  const dir = mkdtempSync(join(tmpdir(), "dagwood-store-"));
  mkdirSync(join(dir, ".dagwood"), { recursive: true });
  if (!testingOnPostgres()) {
    const store = new SqliteMetadataStore(join(dir, ".dagwood", "metadata.sqlite"), { projectDir: dir });
    return {
      store,
      dir,
      cleanup: () => {
        store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const url = testPostgresUrl();
  const schema = `t_${randomBytes(8).toString("hex")}`;
  let store: SqlMetadataStore;
  try {
    store = openPostgresStore({ url, schema, projectDir: dir });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  let done = false;
  return {
    // The same class as SqliteMetadataStore (which only adds a constructor): see TestStore.store.
    store: store as SqliteMetadataStore,
    dir,
    schema,
    cleanup: () => {
      if (done) return;
      done = true;
      store.close();
      rmSync(dir, { recursive: true, force: true });
      const admin = openPostgres({ url, schema: "public", applicationName: "dagwood-test-cleanup" });
      try {
        admin.exec(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
      } finally {
        admin.close();
      }
    },
  };
}
