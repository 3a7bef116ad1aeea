import { configDefaults, defineConfig } from "vitest/config";

/** Options every project shares (inline projects do not inherit the root's in vitest 4). */
const shared = {
  testTimeout: 30_000,
  hookTimeout: 30_000,
  pool: "forks",
} as const;

/** Tests of PostgreSQL itself (the driver, its schema, the team store): they run beside the store-pg cluster only. */
const POSTGRES_ONLY = [
  "app/store/postgres.test.ts",
  "app/store/pg-schema.test.ts",
  "app/store/postgres-store.test.ts",
  "app/store/postgres-dialect.test.ts",
  "app/store/team-keys.test.ts",
  "app/store/journal-review.test.ts",
];

/**
 * Store tests that open no metadata store of the run's kind (settings, the journal's own file, file
 * writes) or are about the SQLite file only (its opening and migrations): they run in `unit` only.
 */
const STORE_INDEPENDENT = [
  "app/store/atomic-write.test.ts",
  "app/store/open.test.ts",
  "app/store/journal.test.ts",
  "app/store/sqlite-file.test.ts",
  "app/store/open-secrets.test.ts",
];

export default defineConfig({
  test: {
    // Runs once per run for the root: builds the CLI bundle (and starts PostgreSQL when
    // DAGWOOD_TEST_STORE=postgres is set for the whole run).
    globalSetup: ["./vitest.global-setup.ts"],
    projects: [
      {
        test: {
          ...shared,
          name: "unit",
          include: [
            "app/**/*.test.ts",
            "nodes/**/*.test.ts",
            "bin/**/*.test.ts",
            "renderer/**/*.test.ts",
            "main/**/*.test.ts",
          ],
          exclude: [...configDefaults.exclude, ...POSTGRES_ONLY],
        },
      },
      {
        // The store suite again, on PostgreSQL: createTempStore()/createTestStore() (app/store/testing.ts)
        // give a store in a fresh schema of ONE cluster per run, started by vitest.global-setup.ts for
        // this project and passed to the tests in DAGWOOD_TEST_PG_URL.
        test: {
          ...shared,
          name: "store-pg",
          include: ["app/store/**/*.test.ts"],
          exclude: [...configDefaults.exclude, ...STORE_INDEPENDENT],
          env: { DAGWOOD_TEST_STORE: "postgres" },
          globalSetup: ["./vitest.global-setup.ts"],
        },
      },
    ],
  },
});
