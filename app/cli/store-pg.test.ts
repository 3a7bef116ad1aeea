// The team store on a real PostgreSQL going away mid-run: the network to the test cluster (a
// proxy in a child process) drops every connection and refuses new ones; the run finishes in the
// local journal, and once the server is reachable again `dagwood store sync` puts it, whole and
// once, into the team store.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readProjectSettings } from "../project/project";
import { Journal, type JournalingStore, STORE_TAG } from "../store/journal";
import { openProjectStore } from "../store/open";
import { startTestPostgres, TEST_PG_URL_ENV, type TestPostgres } from "../store/pg-testing";
import { openPostgres, quoteIdent } from "../store/postgres";
import { openPostgresStore } from "../store/postgres-store";
import { storeCommand } from "./store";

const PROXY = join(import.meta.dirname, "..", "store", "fixtures", "tcp-proxy.ts");

let cluster: TestPostgres | undefined;
let url: string;
let proxy: ChildProcess;
let proxyPort: number;
let proxyOut = "";
const schema = `t_${randomBytes(6).toString("hex")}`;
let dir: string;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Sends a command to the proxy and waits for its answer. */
function network(cmd: "down" | "up"): Promise<void> {
  const seen = proxyOut.split("\n").filter((l) => l === cmd).length;
  proxy.stdin!.write(`${cmd}\n`);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`proxy did not answer ${cmd}: ${proxyOut}`)), 10_000);
    const check = () => {
      if (proxyOut.split("\n").filter((l) => l === cmd).length > seen) {
        clearTimeout(timer);
        proxy.stdout!.off("data", check);
        resolve();
      }
    };
    proxy.stdout!.on("data", check);
  });
}

beforeAll(async () => {
  const fromRun = process.env[TEST_PG_URL_ENV];
  if (fromRun) url = fromRun;
  else {
    cluster = await startTestPostgres();
    url = cluster.url;
  }
  const target = new URL(url);
  proxyPort = await freePort();
  proxy = spawn(process.execPath, ["--import", "tsx", PROXY, String(proxyPort), target.port], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  proxy.stdout!.on("data", (d) => (proxyOut += d));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("the proxy did not start")), 20_000);
    proxy.stdout!.on("data", () => {
      if (proxyOut.includes("up\n")) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  dir = mkdtempSync(join(tmpdir(), "dagwood-journal-pg-"));
  mkdirSync(join(dir, ".dagwood"));
  const viaProxy = `postgres://${target.username}@127.0.0.1:${proxyPort}${target.pathname}`;
  writeFileSync(
    join(dir, "dagwood.json"),
    JSON.stringify({ store: { kind: "postgres", url: viaProxy, schema } }),
  );
}, 60_000);

afterAll(async () => {
  proxy?.stdin?.end();
  proxy?.kill();
  try {
    const admin = openPostgres({ url, schema: "public" });
    admin.exec(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
    admin.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await cluster?.stop();
  }
});

const points = (runId: string, n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => ({
    runId,
    nodeId: "train",
    name: "loss",
    value: 1 / (from + i + 1),
    step: from + i,
  }));

const nodeRun = (runId: string, nodeId: string) => ({
  runId,
  nodeId,
  block: "train.tree",
  blockVersion: 1,
  status: "ran" as const,
  reason: null,
  cacheKey: `key-${nodeId}`,
  paramsHash: "p",
  inputsHash: "i",
  ms: 5,
  error: null,
  outputs: {},
  inputs: {},
});

describe("the team store (PostgreSQL) unreachable mid-run", () => {
  it("finishes the run locally and syncs it, whole and once, when the server is back", async () => {
    const settings = readProjectSettings(dir);
    const warnings: string[] = [];
    const store = openProjectStore(dir, settings, {
      journal: true,
      onWarning: (m) => warnings.push(m),
    }) as JournalingStore;
    try {
      store.startRun({
        id: "pg-run",
        pipeline: "flights",
        pipelinePath: null,
        pipelineHash: null,
        pipelineText: '{"name":"flights"}',
        params: {},
        resolvedParams: { "train.depth": 4 },
        startedAt: new Date().toISOString(),
        environment: {},
        user: "ana",
      });
      store.recordNodeRun(nodeRun("pg-run", "prep"));
      store.logMetrics(points("pg-run", 20));
      expect(store.routeOf("pg-run")).toBe("primary");

      await network("down");
      store.logMetrics(points("pg-run", 20, 20));
      store.recordNodeRun(nodeRun("pg-run", "train"));
      store.finishRun("pg-run", "succeeded");
      expect(store.routeOf("pg-run")).toBe("journal");
      expect(warnings.join("\n")).toMatch(/became unreachable during the run/);
      expect(store.getRun("pg-run")!.status).toBe("succeeded");
      expect(store.metrics("pg-run")).toHaveLength(40);
      // Registering needs the team store: a clear error, the run is unaffected.
      expect(() => store.registry.listModels()).toThrow(
        /team store \(PostgreSQL at 127\.0\.0\.1:\d+.*\) is unreachable/,
      );
    } finally {
      store.close();
    }

    // While it is down, status says so and sync leaves the run where it is.
    const io = () => {
      const out: string[] = [];
      const err: string[] = [];
      return {
        io: {
          stdout: { write: (s: string) => out.push(s) } as never,
          stderr: { write: (s: string) => err.push(s) } as never,
        },
        out,
        err,
      };
    };
    const st = io();
    expect(await storeCommand(["status", "--project", dir], st.io)).toBe(1);
    expect(st.out.join("")).toMatch(/Reachable: no — /);
    expect(st.out.join("")).toContain("Pending:   1 run in .dagwood/pending/journal.sqlite");
    const failed = io();
    expect(await storeCommand(["sync", "--project", dir], failed.io)).toBe(1);
    expect(failed.err.join("")).toContain("The pending runs stay in .dagwood/pending/journal.sqlite");

    await network("up");
    const back = io();
    expect(await storeCommand(["status", "--project", dir], back.io)).toBe(0);
    const status = back.out.join("");
    expect(status).toContain("Store:     PostgreSQL (team store)");
    expect(status).toMatch(/Where: {5}PostgreSQL at 127\.0\.0\.1:\d+, database postgres, schema t_/);
    expect(status).toContain("Reachable: yes");
    expect(status).toMatch(/Schema: {4}(\d+) \(this Dagwood writes \1\)/);
    expect(status).toContain("Password:  from libpq (PGPASSWORD, ~/.pgpass, or none)");
    const synced = io();
    expect(await storeCommand(["sync", "--project", dir], synced.io)).toBe(0);
    expect(synced.out.join("")).toContain("1 run synced to PostgreSQL at 127.0.0.1");

    const team = openPostgresStore({ url, schema, projectDir: dir });
    try {
      const run = team.getRun("pg-run")!;
      expect(run.status).toBe("succeeded");
      expect(run.tags[STORE_TAG]).toBe("synced");
      expect(team.nodeRuns("pg-run").map((n) => n.nodeId)).toEqual(["prep", "train"]);
      const steps = team.metrics("pg-run").map((m) => m.step);
      expect(steps).toEqual(Array.from({ length: 40 }, (_, i) => i));
      expect(team.compareRuns(["pg-run"]).curves[0]!.series[0]!.points).toHaveLength(40);
      expect(team.searchRuns({ pipeline: "flights" }).runs[0]!.metrics["train.loss"]).toBeCloseTo(1 / 40);
    } finally {
      team.close();
    }
    const j = Journal.open(dir);
    expect(j.pending()).toEqual([]);
    j.close();
  }, 60_000);
});
