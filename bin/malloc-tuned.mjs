// Starting an engine process with glibc's malloc thresholds fixed (bin/dagwood.cjs for `ui`, bin/start.mjs).
import { spawn } from "node:child_process";

/**
 * glibc's malloc keeps what worker threads and DuckDB's threads free in
 * per-thread arenas, and after each large free it raises the size below
 * which it serves blocks from those arenas (up to 32 MiB), so an engine
 * process holds native memory it no longer uses: the flights-model example
 * run cold by the CLI peaked at 650–660 MiB, 505–535 MiB with fixed
 * thresholds. Fixed thresholds cure it (mallopt(3): M_MMAP_THRESHOLD,
 * M_TRIM_THRESHOLD, and their environment variables), but glibc reads the
 * environment only at process start. Values the user set are kept.
 * main/engine-env.ts gives the desktop engine the same.
 */
export const MALLOC_ENV = { MALLOC_MMAP_THRESHOLD_: "1048576", MALLOC_TRIM_THRESHOLD_: "131072" };

/** Whether this process should start once more tuned: on Linux, unless it is that tuned child. */
export const shouldRerunTuned = () =>
  process.platform === "linux" && process.env.DAGWOOD_MALLOC_TUNED !== "1";

/**
 * Runs `script` with `args` once more as a child with MALLOC_ENV (and `env`)
 * set, then exits as the child did. Ctrl+C reaches both (one process group):
 * the child stops, this process waits for it; SIGTERM and SIGHUP are passed
 * on. Resolves to false when the child could not start (the caller then
 * goes on, untuned).
 */
export async function rerunTuned(script, args, env = {}) {
  const child = spawn(process.execPath, [...process.execArgv, script, ...args], {
    stdio: "inherit",
    env: { ...MALLOC_ENV, ...process.env, ...env, DAGWOOD_MALLOC_TUNED: "1" },
  });
  process.on("SIGINT", () => {});
  for (const sig of ["SIGTERM", "SIGHUP"]) process.on(sig, () => child.kill(sig));
  const [code, signal] = await new Promise((resolve) => {
    child.on("exit", (c, s) => resolve([c, s]));
    child.on("error", () => resolve([null, null]));
  });
  if (code === null && signal === null) return false;
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  }
  process.exit(code ?? 1);
}
