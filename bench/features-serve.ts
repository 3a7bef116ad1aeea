/**
 * Online benchmarks (issue 15), over a feature view of `keys` entities × 10
 * Float64 features in a Parquet source:
 *
 * - materialise: `materialize()` as `dagwood features materialize` runs it
 *   (DuckDB picks the latest row per key from the source, the rows stream
 *   into the store) into SQLite; goal < 5 s for 1M keys. Then into Redis
 *   when redis-server is installed (a server of its own, no persistence),
 *   twice: into an empty view, then over the full view (what replacing a
 *   view costs), each with the longest command Redis ran meanwhile (SLOWLOG):
 *   a materialisation must not stall Redis's other clients.
 * - in process: `getOnlineFeatures` (parsing the request, the store's read,
 *   Feast's answer) for one entity, p50 / p99 over `lookups` calls; goal
 *   p99 < 1 ms.
 * - over HTTP: `dagwood serve --project DIR` (the esbuild bundle, as
 *   bench/serve.ts runs it) answering POST /get-online-features under
 *   autocannon, beside a bare node:http JSON echo server in the same
 *   interleaved rounds; goals: requests/s ≥ 0.5× the echo server's (the
 *   median of the rounds' ratios) and p99 < 5 ms.
 *
 * Part of `npm run bench:features` (bench/features.ts); on its own:
 *
 *   npx tsx bench/features-serve.ts [--keys 1000000 --seconds 5 --connections 50 --rounds 3 --lookups 20000]
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { Workspace } from "../app/data/workspace";
import { materialize } from "../app/features/materialize";
import { RedisOnlineStore } from "../app/features/online/redis";
import { SqliteOnlineStore } from "../app/features/online/sqlite";
import { startTestRedis } from "../app/features/online/testing";
import { loadFeatureRepo } from "../app/features/repo";
import { getOnlineFeatures } from "../app/features/server";
import { FEATURES_FORMAT, type OnlineStore } from "../app/features/types";
import { type AutocannonResult, autocannon, bundleServer, children, ECHO_SERVER, startChild } from "./http";
import { median } from "./peer";

export const GOALS = {
  materializeSqliteMs: 5000,
  lookupP99Ms: 1,
  httpRatio: 0.5,
  httpP99Ms: 5,
} as const;

export interface OnlineBenchOptions {
  keys: number;
  lookups: number;
  seconds: number;
  connections: number;
  rounds: number;
}

export const ONLINE_DEFAULTS: OnlineBenchOptions = {
  keys: 1_000_000,
  lookups: 20_000,
  seconds: 5,
  connections: 50,
  rounds: 3,
};

export interface OnlineFigures {
  keys: number;
  materializeSqliteMs: number;
  /** Undefined: redis-server is not installed. */
  redis?: { firstMs: number; againMs: number; longestCommandMs: number; longestCommand: string };
  lookup: { p50Ms: number; p99Ms: number };
  http: {
    connections: number;
    rounds: number;
    seconds: number;
    load: number;
    echoRps: number;
    echoP99Ms: number;
    serveRps: number;
    serveP99Ms: number;
    ratio: number;
  };
}

const FEATURES = Array.from({ length: 10 }, (_, i) => `f${i}`);
const VIEW = "user_stats";
/** The source's rows are all on 2026-01-01; the window covers the day. */
const WINDOW = { start: new Date("2026-01-01T00:00:00Z"), end: new Date("2026-01-02T00:00:00Z") };

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** A project with one view of `keys` entities × 10 features in data/users.parquet. */
async function writeProject(dir: string, keys: number, sql: Awaited<ReturnType<Workspace["session"]>>) {
  mkdirSync(join(dir, "features"));
  mkdirSync(join(dir, "data"));
  mkdirSync(join(dir, ".dagwood"));
  writeFileSync(join(dir, "dagwood.json"), JSON.stringify({ name: "bench" }));
  writeFileSync(
    join(dir, "features", "bench.json"),
    JSON.stringify({
      format: FEATURES_FORMAT,
      entities: [{ name: "user", joinKeys: ["user_id"] }],
      featureViews: [
        {
          name: VIEW,
          entities: ["user"],
          ttl: "0",
          source: { path: "data/users.parquet", timestampField: "ts" },
          features: FEATURES.map((name) => ({ name, type: "Float64" })),
        },
      ],
    }),
  );
  await sql.run(
    `COPY (SELECT i::BIGINT AS user_id, TIMESTAMP '2026-01-01' + INTERVAL (i % 86400) SECOND AS ts,
                  ${FEATURES.map((f, j) => `(i * 31 + ${j}) / 7.0::DOUBLE AS ${f}`).join(", ")}
           FROM range(${keys}) t(i)) TO '${join(dir, "data", "users.parquet")}' (FORMAT PARQUET)`,
  );
}

async function measure(url: string, body: string, o: OnlineBenchOptions): Promise<AutocannonResult> {
  const opts = {
    url,
    method: "POST",
    body,
    headers: { "content-type": "application/json" },
    connections: o.connections,
  };
  await autocannon({ ...opts, duration: 1 });
  const r = await autocannon({ ...opts, duration: o.seconds });
  if (r.errors || r.non2xx || r.timeouts)
    throw new Error(`${url}: ${r.errors} errors, ${r.non2xx} non-2xx, ${r.timeouts} timeouts`);
  return r;
}

/** Materialises the view into Redis twice (empty, then over itself), with Redis's longest command meanwhile. */
async function benchRedis(
  run: (store: OnlineStore) => Promise<unknown>,
): Promise<OnlineFigures["redis"] | undefined> {
  if (spawnSync("redis-server", ["--version"]).status !== 0) return undefined;
  const redis = await startTestRedis({ appendOnly: false });
  const store = new RedisOnlineStore({ url: redis.url, keyPrefix: "bench" });
  const { createClient } = await import("@redis/client");
  const admin = createClient({ url: redis.url });
  try {
    await admin.connect();
    await admin.configSet({ "slowlog-log-slower-than": "1000", "slowlog-max-len": "100000" });
    await admin.sendCommand(["SLOWLOG", "RESET"]);
    let t = performance.now();
    await run(store);
    const firstMs = performance.now() - t;
    t = performance.now();
    await run(store);
    const againMs = performance.now() - t;
    const slow = (await admin.sendCommand(["SLOWLOG", "GET", "100000"])) as [
      number,
      number,
      number,
      string[],
    ][];
    let longest: (typeof slow)[number] | undefined;
    for (const entry of slow) if (!longest || Number(entry[2]) > Number(longest[2])) longest = entry;
    return {
      firstMs,
      againMs,
      longestCommandMs: longest ? Number(longest[2]) / 1000 : 0,
      longestCommand: longest ? String(longest[3]?.[0] ?? "") : "none over 1 ms",
    };
  } finally {
    await store.close();
    await admin.close().catch(() => {});
    await redis.stop();
  }
}

/** Runs the online benchmarks; `log` gets a line as each part is done. */
export async function benchOnline(
  o: OnlineBenchOptions = ONLINE_DEFAULTS,
  log: (line: string) => void = console.log,
): Promise<OnlineFigures> {
  const dir = mkdtempSync(join(tmpdir(), "dagwood-bench-features-"));
  const workspace = await Workspace.open({ path: ":memory:", allowedDirs: [dir] });
  const sql = await workspace.session();
  try {
    await writeProject(dir, o.keys, sql);
    const repo = loadFeatureRepo(dir);
    const target = (store: OnlineStore) => ({ projectDir: dir, allowedDirs: [dir], repo, store, sql });
    const keys = o.keys.toLocaleString("en-US");

    const store = new SqliteOnlineStore(join(dir, ".dagwood", "online.sqlite"));
    const t0 = performance.now();
    await materialize(target(store), WINDOW);
    const materializeSqliteMs = performance.now() - t0;
    log(`materialised ${keys} keys × 10 features into SQLite in ${materializeSqliteMs.toFixed(0)} ms`);

    const redis = await benchRedis((s) => materialize(target(s), WINDOW));
    log(
      redis
        ? `materialised ${keys} keys × 10 features into Redis in ${redis.firstMs.toFixed(0)} ms, again over them in ${redis.againMs.toFixed(0)} ms; Redis's longest command meanwhile ${redis.longestCommandMs.toFixed(1)} ms (${redis.longestCommand})`
        : "Redis: not measured (redis-server is not installed)",
    );

    const service = { repo, store };
    const features = FEATURES.map((f) => `${VIEW}:${f}`);
    const times: number[] = [];
    for (let i = 0; i < o.lookups; i++) {
      const key = (i * 7919) % o.keys;
      const s = performance.now();
      await getOnlineFeatures(service, { features, entities: { user_id: [key] } });
      times.push(performance.now() - s);
    }
    await store.close();
    times.sort((a, b) => a - b);
    const lookup = { p50Ms: quantile(times, 0.5), p99Ms: quantile(times, 0.99) };
    log(
      `in process, one entity × 10 features: p50 ${(lookup.p50Ms * 1000).toFixed(0)} µs, p99 ${(lookup.p99Ms * 1000).toFixed(0)} µs`,
    );

    const echo = await startChild(["-e", ECHO_SERVER]);
    const serve = await startChild([
      await bundleServer("bench-features-serve"),
      "--repository",
      join(dir, "models"),
      "--project",
      dir,
      "--port",
      "0",
    ]);
    const body = JSON.stringify({ features, entities: { user_id: [4242 % o.keys] } });
    const echoRuns: AutocannonResult[] = [];
    const serveRuns: AutocannonResult[] = [];
    for (let r = 0; r < o.rounds; r++) {
      echoRuns.push(await measure(echo.url, body, o));
      serveRuns.push(await measure(`${serve.url}/get-online-features`, body, o));
    }
    for (const c of children.splice(0)) c.kill();
    const http = {
      connections: o.connections,
      rounds: o.rounds,
      seconds: o.seconds,
      load: loadavg()[0]!,
      echoRps: median(echoRuns.map((r) => r.requests.average)),
      echoP99Ms: median(echoRuns.map((r) => r.latency.p99)),
      serveRps: median(serveRuns.map((r) => r.requests.average)),
      serveP99Ms: median(serveRuns.map((r) => r.latency.p99)),
      ratio: median(serveRuns.map((s, i) => s.requests.average / echoRuns[i]!.requests.average)),
    };
    log(
      `over HTTP, ${o.connections} connections, ${o.rounds} interleaved rounds of ${o.seconds} s on loopback; ${availableParallelism()} CPUs (load ${http.load.toFixed(1)}); medians: ` +
        `echo ${http.echoRps.toFixed(0)} req/s p99 ${http.echoP99Ms} ms, /get-online-features ${http.serveRps.toFixed(0)} req/s p99 ${http.serveP99Ms} ms (${http.ratio.toFixed(2)}× echo)`,
    );
    return { keys: o.keys, materializeSqliteMs, ...(redis ? { redis } : {}), lookup, http };
  } finally {
    for (const c of children.splice(0)) c.kill();
    sql.close();
    workspace.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Command-line options over the defaults. */
export function onlineOptions(argv: string[]): OnlineBenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(Object.keys(ONLINE_DEFAULTS).map((k) => [k, { type: "string" as const }])),
  });
  const out = { ...ONLINE_DEFAULTS };
  for (const [k, v] of Object.entries(values)) {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${k} must be a positive whole number, not ${v}`);
    out[k as keyof OnlineBenchOptions] = n;
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href)
  await benchOnline(onlineOptions(process.argv.slice(2)));
