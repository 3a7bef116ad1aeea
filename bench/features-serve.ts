/**
 * Online lookup benchmark (issue 15): one entity, 10 features, from the
 * SQLite online store holding `--keys` entities.
 *
 *   npm run bench:features-serve [-- --keys 1000000 --seconds 5 --connections 50 --rounds 3]
 *
 * In process: `getOnlineFeatures` (parsing the request, the store's read,
 * Feast's answer), p50 / p99 over `--lookups` calls; goal p99 < 1 ms.
 * Over HTTP: `dagwood serve --project DIR` (the esbuild bundle, as
 * bench/serve.ts runs it) answering POST /get-online-features under
 * autocannon at 50 connections, beside a bare node:http JSON echo server in
 * the same interleaved rounds; goals: requests/s ≥ 0.5× the echo server's
 * (the median of the rounds' ratios) and p99 < 5 ms. A missed goal prints
 * MISSED; the exit code is non-zero only on an error.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SqliteOnlineStore } from "../app/features/online/sqlite";
import { loadFeatureRepo } from "../app/features/repo";
import { getOnlineFeatures } from "../app/features/server";
import { FEATURES_FORMAT, type OnlineRow } from "../app/features/types";
import { type AutocannonResult, autocannon, bundleServer, children, ECHO_SERVER, startChild } from "./http";
import { median } from "./peer";

const { values: args } = parseArgs({
  options: {
    keys: { type: "string", default: "1000000" },
    lookups: { type: "string", default: "20000" },
    seconds: { type: "string", default: "5" },
    connections: { type: "string", default: "50" },
    rounds: { type: "string", default: "3" },
  },
});
const KEYS = Number(args.keys);
const LOOKUPS = Number(args.lookups);
const seconds = Number(args.seconds);
const connections = Number(args.connections);
const rounds = Number(args.rounds);
const FEATURES = Array.from({ length: 10 }, (_, i) => `f${i}`);

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function measure(url: string, body: string): Promise<AutocannonResult> {
  const opts = { url, method: "POST", body, headers: { "content-type": "application/json" }, connections };
  await autocannon({ ...opts, duration: 1 });
  const r = await autocannon({ ...opts, duration: seconds });
  if (r.errors || r.non2xx || r.timeouts)
    throw new Error(`${url}: ${r.errors} errors, ${r.non2xx} non-2xx, ${r.timeouts} timeouts`);
  return r;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "dagwood-bench-features-"));
  try {
    mkdirSync(join(dir, "features"));
    mkdirSync(join(dir, ".dagwood"));
    writeFileSync(join(dir, "dagwood.json"), JSON.stringify({ name: "bench" }));
    writeFileSync(
      join(dir, "features", "bench.json"),
      JSON.stringify({
        format: FEATURES_FORMAT,
        entities: [{ name: "user", joinKeys: ["user_id"] }],
        featureViews: [
          {
            name: "user_stats",
            entities: ["user"],
            ttl: "0",
            source: { path: "data/users.parquet", timestampField: "ts" },
            features: FEATURES.map((name) => ({ name, type: "Float64" })),
          },
        ],
      }),
    );
    const store = new SqliteOnlineStore(join(dir, ".dagwood", "online.sqlite"));
    const t0 = performance.now();
    async function* rows(): AsyncIterable<OnlineRow[]> {
      for (let start = 0; start < KEYS; start += 10_000) {
        const chunk: OnlineRow[] = [];
        for (let k = start; k < Math.min(KEYS, start + 10_000); k++) {
          const values: Record<string, number> = {};
          for (let f = 0; f < FEATURES.length; f++) values[FEATURES[f]!] = (k * 31 + f) / 7;
          chunk.push({ key: `[${k}]`, values, eventTs: 1_767_225_600_000 });
        }
        yield chunk;
      }
    }
    await store.materialize("user_stats", rows(), {
      view: "user_stats",
      version: 1,
      start: "2026-01-01T00:00:00Z",
      end: "2026-01-02T00:00:00Z",
    });
    console.log(
      `materialised ${KEYS.toLocaleString("en-US")} keys × 10 features in ${Math.round(performance.now() - t0)} ms`,
    );

    const service = { repo: loadFeatureRepo(dir), store };
    const features = FEATURES.map((f) => `user_stats:${f}`);
    const times: number[] = [];
    for (let i = 0; i < LOOKUPS; i++) {
      const key = (i * 7919) % KEYS;
      const s = performance.now();
      await getOnlineFeatures(service, { features, entities: { user_id: [key] } });
      times.push(performance.now() - s);
    }
    await store.close();
    times.sort((a, b) => a - b);
    const p99 = quantile(times, 0.99);
    console.log(
      `in process, one entity × 10 features: p50 ${(quantile(times, 0.5) * 1000).toFixed(0)} µs, p99 ${(p99 * 1000).toFixed(0)} µs  ${p99 < 1 ? "ok (< 1 ms)" : "MISSED (goal p99 < 1 ms)"}`,
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
    const body = JSON.stringify({ features, entities: { user_id: [4242 % KEYS] } });
    const echoRuns: AutocannonResult[] = [];
    const serveRuns: AutocannonResult[] = [];
    for (let r = 0; r < rounds; r++) {
      echoRuns.push(await measure(echo.url, body));
      serveRuns.push(await measure(`${serve.url}/get-online-features`, body));
    }
    const ratio = median(serveRuns.map((s, i) => s.requests.average / echoRuns[i]!.requests.average));
    const serveP99 = median(serveRuns.map((s) => s.latency.p99));
    console.log(
      `\nover HTTP, ${connections} connections, ${rounds} interleaved rounds of ${seconds} s on loopback; ${availableParallelism()} CPUs (load ${loadavg()[0]!.toFixed(1)}); medians`,
    );
    console.log(
      `  echo (node:http)        ${median(echoRuns.map((r) => r.requests.average))
        .toFixed(0)
        .padStart(8)} req/s  p99 ${median(echoRuns.map((r) => r.latency.p99))} ms`,
    );
    console.log(
      `  /get-online-features    ${median(serveRuns.map((r) => r.requests.average))
        .toFixed(0)
        .padStart(
          8,
        )} req/s  p99 ${serveP99} ms  ${ratio.toFixed(2)}× echo  ${ratio >= 0.5 ? "ok" : "MISSED (goal ≥ 0.5×)"}  ${serveP99 < 5 ? "ok" : "MISSED (goal p99 < 5 ms)"}`,
    );
  } finally {
    for (const c of children) c.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
