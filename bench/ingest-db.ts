/**
 * Database ingest benchmark (issue 18): 1M rows × 10 columns (bigint, int, float8, numeric(14,2),
 * text, boolean, timestamptz, date, text, smallint) from a throw-away PostgreSQL into the workspace
 * by `dagwood run --no-cache` of a one-node `ingest.database` pipeline, against
 * `psql -c "\copy (SELECT …) TO '/dev/null' (FORMAT binary)"` reading the same rows. Runs are
 * interleaved, so the ratio holds on a loaded machine; peak memory is the run's maximum resident
 * set (GNU time's "Maximum resident set size").
 *
 *   npx tsx bench/ingest-db.ts [rows]
 *
 * Exits non-zero only on an error; a missed goal is printed as MISSED.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startTestPostgres } from "../app/store/pg-testing";

const RUNS = 3;
const RATIO_GOAL = 1.5;
const RSS_GOAL_MIB = 300;
const ROWS = Number(process.argv[2] ?? 1_000_000);

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const pg = await startTestPostgres();
const dir = mkdtempSync(join(tmpdir(), "dagwood-bench-ingest-db-"));
try {
  execFileSync("psql", [
    "-X",
    "-q",
    pg.url,
    "-c",
    `CREATE TABLE big AS SELECT i::bigint AS id, (i % 1000)::int AS a, i * 0.5::float8 AS b,
       (i * 1.25)::numeric(14,2) AS c, 'name ' || i AS d, i % 2 = 0 AS e,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second' AS f,
       date '2020-01-01' + (i % 1000) AS g, md5(i::text) AS h, (i % 7)::smallint AS j
     FROM generate_series(1, ${ROWS}) AS i`,
  ]);
  writeFileSync(
    join(dir, "dagwood.json"),
    JSON.stringify({
      connections: {
        wh: {
          kind: "postgres",
          host: "127.0.0.1",
          port: pg.port,
          database: "postgres",
          user: "dagwood",
          ssl: "disable",
        },
      },
    }),
  );
  const pipeline = join(dir, "big.dag.json");
  writeFileSync(
    pipeline,
    JSON.stringify({
      format: "dagwood.pipeline/1",
      name: "big",
      nodes: [{ id: "read", block: "ingest.database", params: { connection: "wh", table: "big" } }],
      edges: [],
    }),
  );
  const peer: number[] = [];
  const ours: number[] = [];
  const rss: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    let t = performance.now();
    execFileSync("psql", [
      "-X",
      "-q",
      pg.url,
      "-c",
      "\\copy (SELECT * FROM big) TO '/dev/null' (FORMAT binary)",
    ]);
    peer.push(performance.now() - t);
    t = performance.now();
    const r = spawnSync(
      "/usr/bin/time",
      ["-v", process.execPath, join(root, "bin", "dagwood"), "run", pipeline, "--no-cache"],
      { encoding: "utf8" },
    );
    ours.push(performance.now() - t);
    if (r.status !== 0) throw new Error(`dagwood run failed:\n${r.stdout}\n${r.stderr}`);
    rss.push(Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1]) / 1024);
  }
  const ratio = median(ours) / median(peer);
  const peak = Math.max(...rss);
  console.log(`${ROWS.toLocaleString("en")} rows × 10 columns from PostgreSQL (median of ${RUNS})`);
  console.log(`  psql \\copy binary → /dev/null  ${median(peer).toFixed(0)} ms`);
  console.log(
    `  dagwood run (ingest.database)  ${median(ours).toFixed(0)} ms  (${Math.round(ROWS / (median(ours) / 1000)).toLocaleString("en")} rows/s)`,
  );
  console.log(`  ratio ${ratio.toFixed(2)} (goal ≤ ${RATIO_GOAL}) ${ratio <= RATIO_GOAL ? "ok" : "MISSED"}`);
  console.log(
    `  peak RSS ${peak.toFixed(0)} MiB (goal < ${RSS_GOAL_MIB}) ${peak < RSS_GOAL_MIB ? "ok" : "MISSED"}`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
  await pg.stop();
}
