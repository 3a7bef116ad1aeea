// The environment the desktop app starts its engine process with.

/**
 * The engine's environment: on Linux, glibc's malloc thresholds fixed
 * (mallopt(3)) so the native memory its worker threads and DuckDB free goes
 * back to the system; the same settings and reasons as `dagwood ui` in
 * bin/dagwood.cjs. Values the user set are kept.
 */
export function engineEnv(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): NodeJS.ProcessEnv {
  if (platform !== "linux") return env;
  return { MALLOC_MMAP_THRESHOLD_: "1048576", MALLOC_TRIM_THRESHOLD_: "131072", ...env };
}
