import type { TestProject } from "vitest/node";
import { startTestPostgres, TEST_PG_URL_ENV } from "./app/store/pg-testing";

/** The vitest project that runs the store suite on PostgreSQL (vitest.config.ts). */
const POSTGRES_PROJECT = "store-pg";

/**
 * The run's global setup. For the root project: builds the CLI bundle once before the tests
 * that spawn bin/dagwood. For the `store-pg` project (or any run under
 * DAGWOOD_TEST_STORE=postgres): starts ONE throw-away PostgreSQL cluster for the whole run
 * and passes its URL to the test processes in DAGWOOD_TEST_PG_URL; stopped at the end.
 */
export default async function setup(project: TestProject) {
  const wantsPostgres = project.name === POSTGRES_PROJECT || process.env.DAGWOOD_TEST_STORE === "postgres";
  let stopPostgres: (() => Promise<void>) | undefined;
  if (wantsPostgres && !process.env[TEST_PG_URL_ENV]) {
    const cluster = await startTestPostgres();
    process.env[TEST_PG_URL_ENV] = cluster.url;
    stopPostgres = async () => {
      delete process.env[TEST_PG_URL_ENV];
      await cluster.stop();
    };
  }
  if (project.name !== POSTGRES_PROJECT) {
    // @ts-expect-error: a plain ESM script without types
    const { build } = await import("./bin/build.mjs");
    await build({ targets: ["cli"] });
  }
  return async () => {
    await stopPostgres?.();
  };
}
