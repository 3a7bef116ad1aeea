/**
 * The feature store's benchmarks (issue 15), in one run, each goal printed
 * beside its figure:
 *
 * - a point-in-time training set of 1M entity rows × 3 views × 10 features
 *   against the same join hand-written as one DuckDB ASOF JOIN query
 *   (bench/features-training.ts): ≤ 1.2×;
 * - materialising 1M keys × 10 features into SQLite: < 5 s (and into Redis,
 *   with the longest command Redis ran meanwhile, when redis-server is
 *   installed; no goal);
 * - an online lookup of one entity, 10 features, in process: p99 < 1 ms;
 * - the same over HTTP at 50 connections: ≥ 0.5× the requests/s of a bare
 *   node:http echo server in the same interleaved rounds, p99 < 5 ms
 *   (bench/features-serve.ts).
 *
 *   npm run bench:features [-- --keys 1000000 --seconds 5 --connections 50 --rounds 3 --lookups 20000]
 *
 * A missed goal prints MISSED; the exit code is non-zero only on an error.
 * Timings taken while the machine does other work are noisy: the ratios
 * (ours against the peer in the same rounds) hold better than the times.
 */
import { availableParallelism } from "node:os";
import { benchOnline, GOALS, onlineOptions } from "./features-serve";
import { benchTrainingSet, TRAINING_RATIO_GOAL, trainingLine } from "./features-training";

const options = onlineOptions(process.argv.slice(2));
const training = await benchTrainingSet();
console.log(trainingLine(training));
const online = await benchOnline(options);

const mark = (ok: boolean) => (ok ? "ok" : "MISSED");
const keys = online.keys.toLocaleString("en-US");
const rows: [string, string, string, string][] = [
  [
    "training set, 1M entity rows × 3 views × 10 features",
    `${training.oursMs.toFixed(0)} ms vs ASOF JOIN ${training.handMs.toFixed(0)} ms: ${training.ratio.toFixed(2)}×`,
    `≤ ${TRAINING_RATIO_GOAL}×`,
    mark(training.ratio <= TRAINING_RATIO_GOAL),
  ],
  [
    `materialise ${keys} keys × 10 features into SQLite`,
    `${(online.materializeSqliteMs / 1000).toFixed(1)} s`,
    `< ${GOALS.materializeSqliteMs / 1000} s`,
    mark(online.materializeSqliteMs < GOALS.materializeSqliteMs),
  ],
  [
    `materialise ${keys} keys × 10 features into Redis`,
    online.redis
      ? `${(online.redis.firstMs / 1000).toFixed(1)} s, again ${(online.redis.againMs / 1000).toFixed(1)} s; longest Redis command ${online.redis.longestCommandMs.toFixed(0)} ms`
      : "not measured: redis-server is not installed",
    "no goal",
    "",
  ],
  [
    "lookup of 1 entity × 10 features, in process",
    `p50 ${(online.lookup.p50Ms * 1000).toFixed(0)} µs, p99 ${(online.lookup.p99Ms * 1000).toFixed(0)} µs`,
    `p99 < ${GOALS.lookupP99Ms} ms`,
    mark(online.lookup.p99Ms < GOALS.lookupP99Ms),
  ],
  [
    `the same over HTTP, ${online.http.connections} connections`,
    `${online.http.serveRps.toFixed(0)} req/s (${online.http.ratio.toFixed(2)}× echo's ${online.http.echoRps.toFixed(0)}), p99 ${online.http.serveP99Ms} ms`,
    `≥ ${GOALS.httpRatio}× echo, p99 < ${GOALS.httpP99Ms} ms`,
    `${mark(online.http.ratio >= GOALS.httpRatio)}, ${mark(online.http.serveP99Ms < GOALS.httpP99Ms)}`,
  ],
];
const width = (i: number) => Math.max(...rows.map((r) => r[i]!.length));
console.log(
  `\nbench:features — ${availableParallelism()} CPUs, load ${online.http.load.toFixed(1)} at the end; HTTP: medians of ${online.http.rounds} interleaved rounds of ${online.http.seconds} s`,
);
for (const r of rows)
  console.log(`  ${r[0].padEnd(width(0))}  ${r[1].padEnd(width(1))}  ${r[2].padEnd(width(2))}  ${r[3]}`);
