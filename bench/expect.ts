/**
 * Expectations benchmark: a suite of 20 expectations over the 3M-row flights
 * table, run by the expectations runner (runSuite: its queries, the partial
 * unexpected lists and building the report), against ONE hand-written DuckDB
 * query computing the same counts and aggregates over the same table, on the
 * same connection. Interleaved rounds, alternating which goes first; the
 * table is loaded once, before timing.
 *
 *   npx tsx bench/expect.ts
 *
 * Exits non-zero only on an error (or when the two disagree on a count); a
 * missed goal is printed as MISSED.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { runSuite } from "../app/data/expectations";
import { ident, literal } from "../app/data/sql";
import { Workspace } from "../app/data/workspace";
import type { ExpectationConfig } from "../app/values/expectations";

const RUNS = 7;
const RATIO_GOAL = 1.5;

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const parquet = join(root, "node_modules", "vega-datasets", "data", "flights-3m.parquet");

const e = (expectation_type: string, kwargs: Record<string, unknown>): ExpectationConfig => ({
  expectation_type,
  kwargs,
});

/** 20 expectations a user might write for this table: table, row-level (some failing), aggregate, uniqueness. */
const SUITE: ExpectationConfig[] = [
  e("expect_table_row_count_to_be_between", { min_value: 2_900_000, max_value: 3_100_000 }),
  e("expect_table_columns_to_match_set", {
    column_set: ["date", "delay", "distance", "origin", "destination"],
  }),
  e("expect_column_to_exist", { column: "date", column_index: 0 }),
  e("expect_column_values_to_be_of_type", { column: "delay", type_: "int64" }),
  e("expect_column_values_to_not_be_null", { column: "date" }),
  e("expect_column_values_to_not_be_null", { column: "delay" }),
  e("expect_column_values_to_be_between", { column: "delay", min_value: -60, max_value: 600, mostly: 0.99 }),
  e("expect_column_values_to_be_between", { column: "distance", min_value: 20, max_value: 5000 }),
  e("expect_column_values_to_match_regex", { column: "origin", regex: "^[A-Z]{3}$" }),
  e("expect_column_values_to_not_match_regex", { column: "destination", regex: "[a-z]" }),
  e("expect_column_value_lengths_to_be_between", { column: "origin", min_value: 3, max_value: 3 }),
  e("expect_column_values_to_not_be_in_set", { column: "destination", value_set: ["XXX", "ZZZ"] }),
  e("expect_column_values_to_be_in_set", {
    column: "origin",
    value_set: ["ATL", "ORD", "DFW", "LAX", "DEN"],
  }),
  e("expect_column_pair_values_a_to_be_greater_than_b", { column_A: "distance", column_B: "delay" }),
  e("expect_column_mean_to_be_between", { column: "delay", min_value: 0, max_value: 20 }),
  e("expect_column_stdev_to_be_between", { column: "delay", min_value: 10, max_value: 100 }),
  e("expect_column_min_to_be_between", { column: "distance", min_value: 1 }),
  e("expect_column_max_to_be_between", { column: "distance", max_value: 6000 }),
  e("expect_column_unique_value_count_to_be_between", { column: "origin", min_value: 200, max_value: 400 }),
  e("expect_compound_columns_to_be_unique", { column_list: ["date", "origin", "destination"], mostly: 0.5 }),
];

const ORIGINS = "'ATL', 'ORD', 'DFW', 'LAX', 'DEN'";

/** The peer: one query a person would write for the same counts (row count, nonnull and unexpected counts, aggregates, duplicate rows). */
const HAND = `SELECT
  count(*) AS n,
  count(date) AS date_nn, count(delay) AS delay_nn, count(distance) AS distance_nn,
  count(origin) AS origin_nn, count(destination) AS destination_nn,
  count(*) FILTER (WHERE date IS NULL) AS date_null,
  count(*) FILTER (WHERE delay IS NULL) AS delay_null,
  count(*) FILTER (WHERE delay IS NOT NULL AND NOT (delay >= -60 AND delay <= 600)) AS delay_out,
  count(*) FILTER (WHERE distance IS NOT NULL AND NOT (distance >= 20 AND distance <= 5000)) AS distance_out,
  count(*) FILTER (WHERE origin IS NOT NULL AND NOT regexp_matches(origin, '^[A-Z]{3}$')) AS origin_regex,
  count(*) FILTER (WHERE destination IS NOT NULL AND regexp_matches(destination, '[a-z]')) AS destination_regex,
  count(*) FILTER (WHERE origin IS NOT NULL AND NOT (length(origin) >= 3 AND length(origin) <= 3)) AS origin_length,
  count(*) FILTER (WHERE destination IN ('XXX', 'ZZZ')) AS destination_forbidden,
  count(*) FILTER (WHERE origin IS NOT NULL AND origin NOT IN (${ORIGINS})) AS origin_not_in,
  count(*) FILTER (WHERE NOT (distance IS NULL AND delay IS NULL)) AS pair_considered,
  count(*) FILTER (WHERE NOT (distance IS NULL AND delay IS NULL) AND NOT coalesce(distance > delay, false)) AS pair_bad,
  avg(delay) AS delay_mean, stddev_samp(delay) AS delay_std, min(distance) AS distance_min,
  max(distance) AS distance_max, count(DISTINCT origin) AS origins,
  (SELECT sum(c) FILTER (WHERE c > 1) FROM (SELECT count(*) AS c FROM flights GROUP BY date, origin, destination)) AS dup_rows
FROM flights`;

function cpuSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "dagwood-bench-expect-"));
  const workspace = await Workspace.open({
    path: join(work, "workspace.duckdb"),
    allowedDirs: [work, dirname(parquet)],
    tempDir: join(work, "tmp"),
  });
  const sql = await workspace.session();
  try {
    process.stdout.write("Loading flights-3m.parquet into the workspace (not timed)...\n");
    await sql.run(`CREATE TABLE flights AS SELECT * FROM read_parquet(${literal(parquet)})`);
    const suite = { expectation_suite_name: "flights", expectations: SUITE };

    const timeOurs = async () => {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const report = await runSuite(sql, "flights", suite);
      return { ms: performance.now() - t0, cpuMs: cpuSince(c0), report };
    };
    const timeHand = async () => {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const row = await sql.one(HAND);
      return { ms: performance.now() - t0, cpuMs: cpuSince(c0), row };
    };

    const ours: number[] = [];
    const hand: number[] = [];
    const oursCpu: number[] = [];
    const handCpu: number[] = [];
    let passes = 0;
    for (let i = 0; i < RUNS; i++) {
      const first = i % 2 === 0 ? await timeOurs() : undefined;
      const h = await timeHand();
      const o = first ?? (await timeOurs());
      // The two must agree, or the comparison means nothing.
      const r = o.report.results;
      const agree: [string, unknown, unknown][] = [
        ["rows", o.report.meta.rows, h.row.n],
        ["delay out of range", r[6]!.result.unexpected_count, h.row.delay_out],
        ["distance out of range", r[7]!.result.unexpected_count, h.row.distance_out],
        ["origin not in set", r[12]!.result.unexpected_count, h.row.origin_not_in],
        ["pair", r[13]!.result.unexpected_count, h.row.pair_bad],
        ["origins", r[18]!.result.observed_value, h.row.origins],
        ["duplicate rows", r[19]!.result.unexpected_count, Number(h.row.dup_rows ?? 0)],
      ];
      for (const [what, a, b] of agree)
        if (Number(a) !== Number(b))
          throw new Error(`runSuite and the hand query disagree on ${what}: ${a} vs ${b}`);
      passes = o.report.meta.passes ?? 0;
      ours.push(o.ms);
      hand.push(h.ms);
      oursCpu.push(o.cpuMs);
      handCpu.push(h.cpuMs);
      process.stdout.write(
        `  run ${i + 1}: runSuite ${o.ms.toFixed(0)} ms (${passes} passes, ${o.report.statistics.successful_expectations}/${r.length} passed), hand query ${h.ms.toFixed(0)} ms\n`,
      );
    }
    const ratio = median(ours) / median(hand);
    process.stdout.write(
      `\nMedian of ${RUNS} runs, 20 expectations over ${(await sql.one<{ n: number }>(`SELECT count(*) AS n FROM ${ident("flights")}`)).n} rows\n`,
    );
    process.stdout.write(
      `runSuite ${median(ours).toFixed(0)} ms   hand query ${median(hand).toFixed(0)} ms   ratio ${ratio.toFixed(2)}×   goal ≤ ${RATIO_GOAL}×   ${ratio <= RATIO_GOAL ? "ok" : "MISSED"}\n`,
    );
    process.stdout.write(
      `CPU ms runSuite ${median(oursCpu).toFixed(0)} / hand ${median(handCpu).toFixed(0)}, ${(median(oursCpu) / median(handCpu)).toFixed(2)}×\n`,
    );
  } finally {
    sql.close();
    workspace.close();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
