/**
 * CLI start time: `dagwood validate --no-schemas`, `blocks` and `runs list`
 * (and, with no goal, `validate`, which loads DuckDB to work out columns), each a whole
 * process (start, imports, the command, exit), beside the peer `node -e 0`,
 * the floor any Node CLI pays. Runs interleave (ours, peer, ours, peer …) so
 * that load on the machine falls on both alike; the medians and their ratio
 * are printed. Goal: each command ≤ 2× `node -e 0`.
 *
 *   npx tsx bench/cli-start.ts            (BENCH_RUNS=N, default 15)
 *
 * The CLI is built before each round (bin/build.mjs), and a round during
 * which bin/dagwood rebuilt it (a source changed meanwhile) is discarded, so
 * no figure includes a build.
 * Exits non-zero only on an error; a missed goal is printed as MISSED.
 */
import { cpSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ChildTime, median, timeNode } from "./child-time";

const ROOT = join(import.meta.dirname, "..");
const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const RATIO_GOAL = 2;

async function main(): Promise<void> {
  timeNode([join(ROOT, "bin", "build.mjs"), "cli"], ROOT);
  const project = mkdtempSync(join(tmpdir(), "dagwood-bench-cli-"));
  try {
    cpSync(join(ROOT, "resources", "examples", "starter"), project, { recursive: true });
    rmSync(join(project, ".dagwood"), { recursive: true, force: true });
    const cli = join(ROOT, "bin", "dagwood");
    const commands = [
      // The file and the graph, as the goal was set; with columns worked out DuckDB loads too (printed, no goal).
      {
        name: "dagwood validate --no-schemas",
        args: [cli, "validate", "--no-schemas", join(project, "penguins-model.dag.json")],
      },
      {
        name: "dagwood validate",
        args: [cli, "validate", join(project, "penguins-model.dag.json")],
        noGoal: true,
      },
      { name: "dagwood blocks", args: [cli, "blocks"] },
      { name: "dagwood runs list", args: [cli, "runs", "list", "--project", project] },
    ];
    const peerArgs = ["-e", "0"];
    const time = (args: string[]) => timeNode(args, project);
    // `runs list` lists something: one small run first (not timed).
    time([cli, "run", join(project, "penguins.dag.json")]);
    // One untimed round: the page cache holds the files after it, for every run alike.
    for (const c of commands) time(c.args);
    time(peerArgs);

    const ours = new Map<string, ChildTime[]>(commands.map((c) => [c.name, []]));
    const peer: ChildTime[] = [];
    const stamp = join(ROOT, "dist", "cli", ".built");
    let discarded = 0;
    for (let i = 0; i < RUNS; ) {
      timeNode([join(ROOT, "bin", "build.mjs"), "cli"], ROOT);
      const built = statSync(stamp).mtimeMs;
      const round = commands.map((c) => ({ name: c.name, o: time(c.args), p: time(peerArgs) }));
      if (statSync(stamp).mtimeMs !== built) {
        if (++discarded > 3 * RUNS) throw new Error("the sources keep changing: every round rebuilt the CLI");
        continue;
      }
      for (const r of round) {
        ours.get(r.name)!.push(r.o);
        peer.push(r.p);
      }
      i++;
    }
    const p = median(peer.map((t) => t.ms));
    const pCpu = median(peer.map((t) => t.cpuMs));
    process.stdout.write(
      `\nCLI start, whole process, median of ${RUNS} interleaved runs${discarded ? ` (${discarded} rounds with a rebuild discarded)` : ""}\n`,
    );
    process.stdout.write(
      `${"command".padEnd(31)}${"ms".padStart(6)}${"node -e 0".padStart(11)}${"ratio".padStart(8)}   goal ≤ ${RATIO_GOAL}×   CPU ms ours / node -e 0, ratio\n`,
    );
    for (const c of commands) {
      const o = median(ours.get(c.name)!.map((t) => t.ms));
      const oCpu = median(ours.get(c.name)!.map((t) => t.cpuMs));
      const ratio = o / p;
      process.stdout.write(
        `${c.name.padEnd(31)}${o.toFixed(0).padStart(6)}${p.toFixed(0).padStart(11)}${`${ratio.toFixed(2)}×`.padStart(8)}   ${("noGoal" in c ? "(no goal)" : ratio <= RATIO_GOAL ? "ok" : "MISSED").padEnd(11)}${oCpu.toFixed(0).padStart(5)} / ${pCpu.toFixed(0)}, ${(oCpu / pCpu).toFixed(2)}×\n`,
      );
    }
  } finally {
    rmSync(project, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
