/**
 * Database ingest benchmark (issue 18): 1M rows × 10 columns (bigint, int, float8, numeric(14,2),
 * text, boolean, timestamptz, date, text, smallint) from a throw-away PostgreSQL into the workspace
 * by `dagwood run --no-cache --json` of a one-node `ingest.database` pipeline, against
 * `psql -c "\copy (SELECT …) TO '/dev/null' (FORMAT binary)"` reading the same rows. Runs are
 * interleaved, so the ratio holds on a loaded machine; peak memory is the run's maximum resident
 * set (GNU time's "Maximum resident set size").
 *
 * Two times are given for our side. The ingest (the goal's figure): the node's time in the run
 * record, what the engine spends on the node from its cache key (the change token) to its output
 * described (the read, the output's count and fingerprint). End to end: the whole `dagwood run`
 * process, which adds the CLI's start (Node, the bundle, the project's stores; bench:cli-start),
 * the run's records and the exit; psql's own start is a few ms of its figure.
 *
 *   npx tsx bench/ingest-db.ts [rows]
 *
 * Exits non-zero only on an error; a missed goal is printed as MISSED.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { startTestPostgres } from "../app/store/pg-testing";

const RUNS = 3;
const RATIO_GOAL = 1.5;
const RSS_GOAL_MIB = 300;
const ROWS = Number(process.argv[2] ?? 1_000_000);

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = () => readFileSync("/proc/loadavg", "utf8").split(" ")[0];

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
  const node: number[] = [];
  const rss: number[] = [];
  // References, not goals: what PostgreSQL spends writing the rows as CSV (the node's read asks for
  // CSV), and what DuckDB alone spends loading that CSV from a file into a database file, in a
  // process of its own with the types given and the parallel reader (no sniffing, as the node's read).
  const csvPeer: number[] = [];
  const duckAlone: number[] = [];
  const csvFile = join(dir, "big.csv");
  const csvSession = [
    "-c",
    "SET TimeZone = 'UTC'",
    "-c",
    "SET DateStyle = 'ISO, YMD'",
    "-c",
    "SET extra_float_digits = 3",
  ];
  execFileSync("psql", [
    "-X",
    "-q",
    pg.url,
    ...csvSession,
    "-c",
    `\\copy (SELECT * FROM big) TO '${csvFile}' (FORMAT csv, NULL '\\N')`,
  ]);
  const duckdbApi = pathToFileURL(createRequire(import.meta.url).resolve("@duckdb/node-api")).href;
  const duckScript = `
    const { DuckDBInstance } = await import(${JSON.stringify(duckdbApi)});
    const db = await DuckDBInstance.create(${JSON.stringify(join(dir, "alone.duckdb"))});
    const c = await db.connect();
    await c.run("CREATE OR REPLACE TABLE t (id BIGINT, a INTEGER, b DOUBLE, c DECIMAL(14,2), d VARCHAR, e BOOLEAN, f TIMESTAMPTZ, g DATE, h VARCHAR, j SMALLINT)");
    const t = performance.now();
    await c.run(\`INSERT INTO t SELECT * FROM read_csv(${JSON.stringify(csvFile).replaceAll('"', "'")}, columns = {'id': 'BIGINT', 'a': 'INTEGER', 'b': 'DOUBLE', 'c': 'DECIMAL(14,2)', 'd': 'VARCHAR', 'e': 'BOOLEAN', 'f': 'TIMESTAMPTZ', 'g': 'DATE', 'h': 'VARCHAR', 'j': 'SMALLINT'}, header = false, nullstr = '\\\\N', auto_detect = false, parallel = true)\`);
    process.stdout.write(String(performance.now() - t));`;
  // One run first, untimed: the first command after a build writes the CLI's code cache (bin/dagwood.cjs).
  execFileSync(process.execPath, [join(root, "bin", "dagwood"), "run", pipeline, "--no-cache"], {
    stdio: "pipe",
  });
  const loadBefore = load();
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
    execFileSync("psql", [
      "-X",
      "-q",
      pg.url,
      ...csvSession,
      "-c",
      "\\copy (SELECT * FROM big) TO '/dev/null' (FORMAT csv, NULL '\\N')",
    ]);
    csvPeer.push(performance.now() - t);
    duckAlone.push(
      Number(execFileSync(process.execPath, ["--input-type=module", "-e", duckScript], { encoding: "utf8" })),
    );
    t = performance.now();
    const r = spawnSync(
      "/usr/bin/time",
      ["-v", process.execPath, join(root, "bin", "dagwood"), "run", pipeline, "--no-cache", "--json"],
      { encoding: "utf8" },
    );
    ours.push(performance.now() - t);
    if (r.status !== 0) throw new Error(`dagwood run failed:\n${r.stdout}\n${r.stderr}`);
    const summary = JSON.parse(r.stdout) as { nodes: { id: string; ms: number }[] };
    node.push(summary.nodes.find((n) => n.id === "read")!.ms);
    rss.push(Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1]) / 1024);
  }
  const ratio = median(node) / median(peer);
  const endToEnd = median(ours) / median(peer);
  const peak = Math.max(...rss);
  const rate = (ms: number) => Math.round(ROWS / (ms / 1000)).toLocaleString("en");
  console.log(
    `${ROWS.toLocaleString("en")} rows × 10 columns from PostgreSQL (median of ${RUNS}, load ${loadBefore} → ${load()})`,
  );
  console.log(`  psql \\copy binary → /dev/null      ${median(peer).toFixed(0)} ms`);
  console.log(
    `  ingest.database node (run record)  ${median(node).toFixed(0)} ms  (${rate(median(node))} rows/s)  ratio ${ratio.toFixed(2)} (goal ≤ ${RATIO_GOAL}) ${ratio <= RATIO_GOAL ? "ok" : "MISSED"}`,
  );
  console.log(
    `  dagwood run, end to end            ${median(ours).toFixed(0)} ms  (${rate(median(ours))} rows/s)  ratio ${endToEnd.toFixed(2)} (with the CLI's start)`,
  );
  console.log(
    `  references: psql \\copy csv → /dev/null ${median(csvPeer).toFixed(0)} ms (${(median(csvPeer) / median(peer)).toFixed(2)}×); DuckDB alone loading that CSV from a file ${median(duckAlone).toFixed(0)} ms (${(median(duckAlone) / median(peer)).toFixed(2)}×)`,
  );
  console.log(
    `  peak RSS ${peak.toFixed(0)} MiB (goal < ${RSS_GOAL_MIB}) ${peak < RSS_GOAL_MIB ? "ok" : "MISSED"}`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
  await pg.stop();
}
