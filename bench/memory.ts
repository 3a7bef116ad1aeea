/**
 * Peak memory of the bundled flights-model pipeline run cold (issue goal:
 * under 500 MiB, no slower), three ways in interleaved rounds so that load on
 * the machine falls on all alike:
 *
 * - engine: run in a `dagwood ui` engine (as from the app; the CLI attaches),
 *   which starts with glibc's malloc thresholds fixed (bin/dagwood.cjs);
 * - engine untuned: the same with DAGWOOD_MALLOC_TUNED=1 (thresholds left to glibc);
 * - cli: `dagwood run` in its own process (untuned; a one-off process).
 *
 * The engine's peak is its VmRSS (/proc/PID/status, Linux) sampled every
 * 20 ms during the run; it includes the idle engine (~120 MiB). The CLI's
 * peak is the child's ru_maxrss. Medians and ranges are printed; a missed goal prints
 * MISSED and exits 0.
 *
 *   npm run bench:memory            (BENCH_RUNS=N rounds, default 3)
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { median, timeNode } from "./child-time";

const ROOT = join(import.meta.dirname, "..");
const BIN = join(ROOT, "bin", "dagwood");
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const GOAL_MIB = 500;

/** A fresh copy of the starter project three folders below the repository (flights-model's data path is relative). */
function freshProject(tag: string): string {
  const dir = join(ROOT, "test-results", `bench-memory-${tag}`, "p");
  rmSync(join(dir, ".."), { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  cpSync(join(ROOT, "resources", "examples", "starter"), dir, {
    recursive: true,
    filter: (src) => !src.includes(".dagwood"),
  });
  return dir;
}

function statusKiB(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]);
}

async function waitFor<T>(what: string, get: () => T | undefined, ms = 30_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function runInEngine(tag: string, tuned: boolean): Promise<{ ms: number; peakKiB: number }> {
  const dir = freshProject(tag);
  const env: NodeJS.ProcessEnv = { ...process.env, DAGWOOD_MALLOC_TUNED: tuned ? "0" : "1" };
  const ui: ChildProcess = spawn(process.execPath, [BIN, "ui", "--project", dir, "--port", "0"], {
    env,
    stdio: "ignore",
  });
  try {
    const engineFile = join(dir, ".dagwood", "engine.json");
    const pid = await waitFor("the engine", () =>
      existsSync(engineFile) ? (JSON.parse(readFileSync(engineFile, "utf8")).pid as number) : undefined,
    );
    // Sampled during the run, not VmHWM: the engine may have built the renderer at start.
    const started = performance.now();
    const run = spawn(process.execPath, [BIN, "run", join(dir, "flights-model.dag.json"), "--project", dir], {
      stdio: "ignore",
    });
    let peakKiB = statusKiB(pid, "VmRSS");
    const timer = setInterval(() => {
      peakKiB = Math.max(peakKiB, statusKiB(pid, "VmRSS"));
    }, 20);
    const code = await new Promise<number | null>((r) => run.once("exit", r));
    clearInterval(timer);
    if (code !== 0) throw new Error(`the attached run failed (${code})`);
    return { ms: performance.now() - started, peakKiB };
  } finally {
    ui.kill("SIGTERM");
    await new Promise((r) => ui.once("exit", r));
    rmSync(join(dir, ".."), { recursive: true, force: true });
  }
}

const mib = (kib: number) => kib / 1024;
const range = (xs: number[]) => `${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))}`;

async function main(): Promise<void> {
  if (process.platform !== "linux") throw new Error("bench:memory reads /proc: Linux only");
  spawnSync(process.execPath, [join(ROOT, "bin", "build.mjs"), "cli"], { stdio: "inherit" });
  const rows: Record<string, { mib: number[]; s: number[] }> = {
    engine: { mib: [], s: [] },
    "engine untuned": { mib: [], s: [] },
    cli: { mib: [], s: [] },
  };
  for (let i = 0; i < RUNS; i++) {
    const tuned = await runInEngine(`tuned-${i}`, true);
    rows.engine!.mib.push(mib(tuned.peakKiB));
    rows.engine!.s.push(tuned.ms / 1000);
    const untuned = await runInEngine(`untuned-${i}`, false);
    rows["engine untuned"]!.mib.push(mib(untuned.peakKiB));
    rows["engine untuned"]!.s.push(untuned.ms / 1000);
    const dir = freshProject(`cli-${i}`);
    const cli = timeNode([BIN, "run", join(dir, "flights-model.dag.json")], ROOT);
    rmSync(join(dir, ".."), { recursive: true, force: true });
    rows.cli!.mib.push(mib(cli.maxRssKiB));
    rows.cli!.s.push(cli.ms / 1000);
    process.stderr.write(`round ${i + 1}/${RUNS} done\n`);
  }
  console.log(`flights-model, cold, ${RUNS} rounds (median, range):`);
  for (const [name, r] of Object.entries(rows)) {
    console.log(
      `  ${name.padEnd(15)} peak ${Math.round(median(r.mib))} MiB (${range(r.mib)})   run ${median(r.s).toFixed(1)} s (${r.s.map((s) => s.toFixed(1)).join(", ")})`,
    );
  }
  const peak = median(rows.engine!.mib);
  const ratio = peak / median(rows["engine untuned"]!.mib);
  console.log(
    `engine peak ${Math.round(peak)} MiB, ${ratio.toFixed(2)}× untuned; goal < ${GOAL_MIB} MiB: ${peak < GOAL_MIB ? "met" : "MISSED"}`,
  );
}

await main();
