/**
 * Drift benchmark (issue 14's goal: 20 columns, 1M reference rows against
 * 100k current rows, in ≤ 2 s): ours end to end from two DuckDB tables
 * (computeDrift: each column's values read out of DuckDB once per side and
 * sorted, its counts, distinct values, standard deviation and the normed
 * Wasserstein integral, Evidently's default for references over 1,000 rows,
 * computed from them), beside SciPy's ks_2samp and wasserstein_distance on
 * the same arrays (bench/drift_peer.py). Interleaved rounds, alternating
 * which goes first; tables and arrays are built before timing. Each round
 * also prints our CPU time (every thread of the process, DuckDB's included),
 * which other processes on the machine disturb less than the wall time.
 *
 *   npx tsx bench/drift.ts [--reps N]
 *
 * Exits non-zero only on an error or when ours and SciPy's Wasserstein
 * disagree beyond 1e-6; a missed goal is printed as MISSED.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Workspace } from "../app/data/workspace";
import { computeDrift } from "../app/monitoring/drift";
import type { DriftReport } from "../app/values/drift";
import { findPython, load, loadWarning, median, PeerProcess, repsFrom } from "./peer";

const COLUMNS = 20;
const REF_ROWS = 1_000_000;
const CUR_ROWS = 100_000;
const GOAL_SECONDS = 2;
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Column k: a deterministic pseudo-random value from hash(row, k), shaped per
 * column (uniform, a sum of three uniforms, an exponential-like tail, a
 * rounded integer with ~200 values); current rows of odd columns shifted by
 * 5 % of a unit, so half the columns drift.
 */
function columnSql(k: number, current: boolean): string {
  const u = (j: number) => `((hash(i, ${k}, ${j}${current ? ", 1" : ""}) % 1000003) / 1000003.0)`;
  const shift = current && k % 2 ? " + 0.05" : "";
  const shapes = [
    `${u(0)}${shift}`,
    `(${u(0)} + ${u(1)} + ${u(2)}) / 3${shift}`,
    `-ln(1 - ${u(0)} * 0.999)${shift}`,
    `round(${u(0)} * 200)${shift ? " + 10" : ""}`,
  ];
  return `${shapes[k % shapes.length]} AS c${k}`;
}

async function main() {
  const { values } = parseArgs({ options: { reps: { type: "string" } } });
  const reps = repsFrom(values.reps, "DAGWOOD_BENCH_REPS", 5);
  const dir = mkdtempSync(join(tmpdir(), "dagwood-bench-drift-"));
  const workspace = await Workspace.open({ path: ":memory:", allowedDirs: [dir] });
  const sql = await workspace.session();
  try {
    const cols = Array.from({ length: COLUMNS }, (_, k) => k);
    await sql.run(
      `CREATE TABLE ref AS SELECT ${cols.map((k) => columnSql(k, false)).join(", ")} FROM range(${REF_ROWS}) AS t(i)`,
    );
    await sql.run(
      `CREATE TABLE cur AS SELECT ${cols.map((k) => columnSql(k, true)).join(", ")} FROM range(${CUR_ROWS}) AS t(i)`,
    );
    const reference = await workspace.describeTable("ref", sql);
    const current = await workspace.describeTable("cur", sql);
    // The same values, column-major float64, for SciPy.
    for (const [name, file] of [
      ["ref", "ref.f64"],
      ["cur", "cur.f64"],
    ] as const) {
      const reader = await sql.connection.runAndReadAll(`SELECT * FROM ${name}`);
      const columns = reader.getColumnsJS() as number[][];
      const n = columns[0]!.length;
      const out = new Float64Array(COLUMNS * n);
      columns.forEach((c, k) => {
        out.set(c.map(Number), k * n);
      });
      writeFileSync(join(dir, file), out);
    }

    const found = findPython(["scipy", "numpy"]);
    const peer =
      "python" in found
        ? new PeerProcess(found.python, [
            join(root, "bench", "drift_peer.py"),
            dir,
            "--columns",
            String(COLUMNS),
            "--ref-rows",
            String(REF_ROWS),
            "--cur-rows",
            String(CUR_ROWS),
          ])
        : undefined;
    const ready = peer ? await peer.next<{ version: string }>() : undefined;
    console.log(
      `drift: ${COLUMNS} numeric columns, ${REF_ROWS.toLocaleString("en-US")} reference rows vs ${CUR_ROWS.toLocaleString("en-US")} current; ${reps} interleaved repetitions (ours${peer ? `, scipy ${ready!.version}` : ""}); ${load()}`,
    );
    if (!peer) console.log(`scipy peer skipped: ${(found as { error: string }).error}`);

    const ours: number[] = [];
    const oursCpu: number[] = [];
    const theirs: number[] = [];
    let report: DriftReport | undefined;
    let peerOut: { wasserstein: number[]; ks: number[] } | undefined;
    const runOurs = async () => {
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      report = await computeDrift(sql, reference, current);
      ours.push((performance.now() - t0) / 1000);
      const cpu = process.cpuUsage(cpu0);
      oursCpu.push((cpu.user + cpu.system) / 1e6);
    };
    const runPeer = async () => {
      if (!peer) return;
      const r = await peer.request<{ seconds: number; wasserstein: number[]; ks: number[] }>({ run: true });
      theirs.push(r.seconds);
      peerOut = r;
    };
    for (let rep = 0; rep < reps; rep++) {
      if (rep % 2) {
        await runPeer();
        await runOurs();
      } else {
        await runOurs();
        await runPeer();
      }
      console.log(
        `rep ${rep + 1}/${reps}: ours ${ours.at(-1)!.toFixed(3)} s (cpu ${oursCpu.at(-1)!.toFixed(3)} s)${peer ? `, scipy ${theirs.at(-1)!.toFixed(3)} s` : ""}  (${load()})`,
      );
    }
    await peer?.close();

    const drifted = report!.columns.filter((c) => c.drifted).map((c) => c.column);
    console.log(
      `ours: ${report!.driftedColumns} of ${COLUMNS} columns drifted (${drifted.join(", ")}); tests: ${[...new Set(report!.columns.map((c) => c.test))].join(", ")}`,
    );
    const oursMedian = median(ours);
    console.log(
      `ours (end to end from DuckDB tables): median ${oursMedian.toFixed(3)} s (cpu ${median(oursCpu).toFixed(3)} s); goal ≤ ${GOAL_SECONDS} s: ${oursMedian <= GOAL_SECONDS ? "met" : "MISSED"}`,
    );
    if (peer && peerOut) {
      const theirsMedian = median(theirs);
      let worst = 0;
      report!.columns.forEach((c, k) => {
        worst = Math.max(worst, Math.abs(c.statistic! - peerOut!.wasserstein[k]!));
      });
      console.log(
        `scipy (ks_2samp + wasserstein_distance, 20 columns): median ${theirsMedian.toFixed(3)} s; ours / scipy ${(oursMedian / theirsMedian).toFixed(2)}×`,
      );
      console.log(
        `normed Wasserstein, ours − scipy: max |difference| ${worst.toExponential(2)} over ${COLUMNS} columns`,
      );
      if (!(worst <= 1e-6)) {
        console.error("ours and SciPy disagree on the normed Wasserstein distance beyond 1e-6");
        process.exitCode = 1;
      }
    }
    const warning = loadWarning();
    if (warning) console.log(warning);
  } finally {
    sql.close();
    workspace.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
