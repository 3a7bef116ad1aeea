/**
 * `dagwood step` overhead per node on the starter's flights pipeline (three million rows: ingest,
 * SQL features, split): the pipeline run by `dagwood run`, then node by node as an orchestrator runs
 * it, each node a `dagwood step` process in its own copy of the project with the upstream port
 * folders copied in (app/step/testing.ts). Rounds interleave the two; medians are printed.
 *
 * Per node: the step process's wall time, the node's own time inside it (as in a local run), the
 * Parquet file I/O (reading and fingerprinting its inputs, writing its outputs), and the rest: the
 * overhead of being a process: start (loading the code, planning, exit: the wall time outside the
 * step's own clock), opening a fresh project, and the rest (the run record, closing). Goal (issue 17):
 * overhead ≤ 500 ms per node plus the file I/O. Also: the whole pipeline, step by step against
 * `dagwood run`, and a check that every output fingerprint is the same both ways.
 *
 *   npx tsx bench/step.ts            (BENCH_RUNS=N rounds, default 3)
 *
 * Exits non-zero on an error or a fingerprint that differs; a missed goal is printed as MISSED.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dagwood, makeProject, type ProjectRecipe, runStepwise } from "../app/step/testing";

const ROOT = join(import.meta.dirname, "..");
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const GOAL_MS = 500;
const FLIGHTS = join(ROOT, "node_modules", "vega-datasets", "data", "flights-3m.parquet");

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const ms = (x: number) => `${Math.round(x)} ms`.padStart(9);

interface Summary {
  runId: string;
  ms: number;
  nodes: { id: string; ms: number; outputs: Record<string, { fingerprint: string }> }[];
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "dagwood-bench-step-"));
  try {
    // The pipeline reads data/flights-3m.parquet in each copy of the project (13 MB, copied: a block may not
    // read through a link out of its project).
    const source = join(work, "flights.dag.json");
    const pipeline = JSON.parse(
      readFileSync(join(ROOT, "resources", "examples", "starter", "flights.dag.json"), "utf8"),
    );
    pipeline.nodes.find((n: { id: string }) => n.id === "flights").params.path = "data/flights-3m.parquet";
    writeFileSync(source, JSON.stringify(pipeline));
    const recipe: ProjectRecipe = {
      pipeline: source,
      files: { "data/flights-3m.parquet": FLIGHTS },
    };

    const local: number[] = [];
    const stepwise: number[] = [];
    const perNode = new Map<
      string,
      {
        wall: number[];
        node: number[];
        io: number[];
        rest: number[];
        start: number[];
        open: number[];
        local: number[];
      }
    >();
    let mismatches = 0;
    for (let round = 0; round < RUNS; round++) {
      const dir = join(work, `round-${round}`);
      const file = await makeProject(join(dir, "local"), recipe);
      const run = await dagwood(["run", file, "--json", "--no-attach"]);
      if (run.code !== 0) throw new Error(`dagwood run failed: ${run.stderr}`);
      const summary = JSON.parse(run.stdout) as Summary;
      local.push(run.ms);
      const steps = await runStepwise(join(dir, "steps"), recipe, { runId: summary.runId });
      stepwise.push(Object.values(steps.ms).reduce((a, b) => a + b, 0));
      for (const n of summary.nodes) {
        const r = steps.results[n.id]!;
        for (const [port, o] of Object.entries(n.outputs)) {
          if (r.outputs[port]?.fingerprint !== o.fingerprint) {
            mismatches++;
            process.stderr.write(
              `MISMATCH ${n.id}.${port}: run ${o.fingerprint}, step ${r.outputs[port]?.fingerprint}\n`,
            );
          }
        }
        const t = r.timings;
        const io = t.readInputsMs + t.writeOutputsMs;
        const entry = perNode.get(n.id) ?? {
          wall: [],
          node: [],
          io: [],
          rest: [],
          start: [],
          open: [],
          local: [],
        };
        entry.wall.push(steps.ms[n.id]!);
        entry.node.push(t.nodeMs);
        entry.io.push(io);
        entry.rest.push(steps.ms[n.id]! - t.nodeMs - io);
        entry.start.push(steps.ms[n.id]! - t.totalMs);
        entry.open.push(t.openMs);
        entry.local.push(n.ms);
        perNode.set(n.id, entry);
      }
      rmSync(dir, { recursive: true, force: true });
      process.stderr.write(`round ${round + 1}/${RUNS} done\n`);
    }

    console.log(`dagwood step on flights.dag.json (3,000,000 rows), median of ${RUNS} rounds`);
    console.log(
      "node          step wall   in step    node in run   Parquet I/O   overhead (goal ≤ 500 ms + I/O) = start + open + rest",
    );
    let missed = false;
    for (const [id, e] of perNode) {
      const rest = median(e.rest);
      if (rest > GOAL_MS) missed = true;
      console.log(
        `${id.padEnd(12)} ${ms(median(e.wall))} ${ms(median(e.node))} ${ms(median(e.local))}     ${ms(median(e.io))}     ${ms(rest)}${rest > GOAL_MS ? "  MISSED" : "        "} ${ms(median(e.start))} ${ms(median(e.open))} ${ms(rest - median(e.start) - median(e.open))}`,
      );
    }
    const [l, s] = [median(local), median(stepwise)];
    console.log(`whole pipeline: dagwood run ${ms(l)}, node by node ${ms(s)}: ${(s / l).toFixed(2)}×`);
    console.log(
      `fingerprints: ${mismatches ? `${mismatches} MISMATCHED` : "every output the same as dagwood run's"}`,
    );
    if (missed) console.log(`MISSED: a node's overhead is over ${GOAL_MS} ms`);
    if (mismatches) process.exitCode = 1;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
