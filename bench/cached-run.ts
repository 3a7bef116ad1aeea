// A fully cached re-run of the flights pipeline through the CLI, process start
// included (goal: under 1.5 s), beside a bare Node process that opens the same
// DuckDB workspace and counts one table: the floor any CLI on DuckDB pays.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..");
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const GOAL_MS = 1500;

const dir = mkdtempSync(join(tmpdir(), "dagwood-bench-cached-"));
cpSync(join(ROOT, "resources", "examples", "starter"), dir, { recursive: true });
rmSync(join(dir, ".dagwood"), { recursive: true, force: true });
const settings = JSON.parse(readFileSync(join(dir, "dagwood.json"), "utf8"));
settings.dataFolders = [join(ROOT, "node_modules", "vega-datasets", "data")];
writeFileSync(join(dir, "dagwood.json"), JSON.stringify(settings));
const pipelinePath = join(dir, "flights.dag.json");
const pipeline = JSON.parse(readFileSync(pipelinePath, "utf8"));
pipeline.nodes.find((n: { id: string }) => n.id === "flights").params.path = join(
  ROOT,
  "node_modules",
  "vega-datasets",
  "data",
  "flights-3m.parquet",
);
writeFileSync(pipelinePath, JSON.stringify(pipeline));

function time(cmd: string, args: string[]): { ms: number; stdout: string } {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8" });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}:\n${r.stderr}`);
  return { ms, stdout: r.stdout };
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

try {
  const cli = [join(ROOT, "bin", "dagwood"), "run", pipelinePath, "--json"];
  process.stderr.write("first run (fills the cache)…\n");
  const first = time(process.execPath, cli);
  process.stderr.write(`  ${Math.round(first.ms)} ms\n`);

  const table = JSON.parse(first.stdout).nodes.find((n: { id: string }) => n.id === "split").outputs.train
    .table;
  const bare = `import("@duckdb/node-api").then(async ({ DuckDBInstance }) => {
    const db = await DuckDBInstance.create(${JSON.stringify(join(dir, ".dagwood", "workspace.duckdb"))});
    const c = await db.connect();
    const r = await c.runAndReadAll('SELECT count(*) FROM "${table}"');
    if (r.getRows().length !== 1) process.exit(1);
  })`;

  const ours: number[] = [];
  const peer: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = time(process.execPath, cli);
    const statuses = JSON.parse(r.stdout).nodes.map((n: { status: string }) => n.status);
    if (statuses.some((s: string) => s !== "cached")) throw new Error(`not fully cached: ${statuses}`);
    ours.push(r.ms);
    peer.push(time(process.execPath, ["--input-type=module", "-e", bare]).ms);
  }
  const o = median(ours);
  const p = median(peer);
  console.log(`\ncached re-run of flights (3M rows, 3 nodes), median of ${RUNS}, process start included`);
  console.log(
    `  dagwood run (all cached)          ${o.toFixed(0).padStart(6)} ms   goal < ${GOAL_MS} ms ${o < GOAL_MS ? "met" : "MISSED"}`,
  );
  console.log(`  bare node + DuckDB open + count   ${p.toFixed(0).padStart(6)} ms`);
  console.log(`  ratio ours / bare                 ${(o / p).toFixed(2).padStart(6)}×`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
