/**
 * Times a child Node process: wall clock, and CPU time (user + system, all its
 * threads). On a loaded machine CPU time varies far less than the wall clock,
 * so the benches print both. Python's os.wait4 gives the child's CPU time to
 * the microsecond (GNU time rounds to 10 ms, a quarter of `node -e 0`); where
 * there is no python3 the CPU time is NaN. Throws when the child fails.
 */
import { spawnSync } from "node:child_process";

export interface ChildTime {
  ms: number;
  cpuMs: number;
  /** The child's peak resident set (ru_maxrss, KiB on Linux); NaN without python3. */
  maxRssKiB: number;
  stdout: string;
}

/** Runs argv, passing its stdout and stderr through, then writes "<wall ms> <cpu ms> <max rss KiB>" on fd 3. */
const TIMER = `
import os, sys, time
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, ru = os.wait4(pid, 0)
wall = (time.perf_counter() - t0) * 1000
os.write(3, f"{wall} {(ru.ru_utime + ru.ru_stime) * 1000} {ru.ru_maxrss}".encode())
sys.exit(os.waitstatus_to_exitcode(status))
`;

let python: string | null | undefined;

function findPython(): string | null {
  if (python === undefined) {
    python = spawnSync("python3", ["-c", "import os; os.wait4"]).status === 0 ? "python3" : null;
  }
  return python;
}

export function timeNode(args: string[], cwd: string): ChildTime {
  const py = findPython();
  if (!py) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { cwd, encoding: "utf8", maxBuffer: 64 << 20 });
    const ms = performance.now() - t0;
    if (r.status !== 0) throw new Error(`node ${args.join(" ")} exited ${r.status}:\n${r.stderr}`);
    return { ms, cpuMs: Number.NaN, maxRssKiB: Number.NaN, stdout: r.stdout };
  }
  const r = spawnSync(py, ["-c", TIMER, process.execPath, ...args], {
    cwd,
    encoding: "utf8",
    maxBuffer: 64 << 20,
    stdio: ["ignore", "pipe", "pipe", "pipe"],
  });
  if (r.status !== 0) throw new Error(`node ${args.join(" ")} exited ${r.status}:\n${r.stderr}`);
  const [ms, cpuMs, maxRssKiB] = String(r.output[3]).split(" ").map(Number);
  return { ms: ms!, cpuMs: cpuMs!, maxRssKiB: maxRssKiB!, stdout: r.stdout };
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
