// The steps of one Argo workflow record into one run of the team store, several at once (parallel
// branches). Each step's first point of a metric updates the run's list of metric keys (what the run
// search shows as columns): a step that writes the list while another's write is uncommitted must not
// drop the other's key.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runInput } from "./fixtures/journal-cases";
import { startTestPostgres, TEST_PG_URL_ENV, type TestPostgres } from "./pg-testing";
import { openPostgres, quoteIdent } from "./postgres";
import { openPostgresStore } from "./postgres-store";

const HELD = join(import.meta.dirname, "fixtures", "metrics-held.ts");
let cluster: TestPostgres | undefined;
let url: string;
const schema = `team_keys_${randomBytes(4).toString("hex")}`;
let dir: string;

beforeAll(async () => {
  const fromRun = process.env[TEST_PG_URL_ENV];
  if (fromRun) url = fromRun;
  else {
    cluster = await startTestPostgres();
    url = cluster.url;
  }
  dir = mkdtempSync(join(tmpdir(), "dagwood-team-keys-"));
});

afterAll(async () => {
  const admin = openPostgres({ url, schema: "public" });
  try {
    admin.exec(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
  } finally {
    admin.close();
  }
  rmSync(dir, { recursive: true, force: true });
  await cluster?.stop();
});

describe("two steps of one run logging their first metrics at once", () => {
  it("keeps both keys in the run's key list", async () => {
    const store = openPostgresStore({ url, schema, projectDir: dir });
    try {
      store.startRun(runInput("wf-1"));
      const child = spawn(process.execPath, ["--import", "tsx", HELD, url, schema, dir, "wf-1", "2000"], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      child.stderr.on("data", (d) => (out += d));
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      await new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (d) => {
          out += d;
          if (out.includes("holding")) resolve();
        });
        child.on("exit", () => reject(new Error(`the other step ended before holding: ${out}`)));
      });
      // Step "b" logs while step "a" holds its uncommitted key list.
      store.logMetrics([{ runId: "wf-1", nodeId: "b", name: "y", value: 2, step: null }]);
      expect(await exited).toBe(0);
      expect(store.searchRuns({}).metricKeys).toEqual(["a.x", "b.y"]);
    } finally {
      store.close();
    }
  }, 60_000);
});
