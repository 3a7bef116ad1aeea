/**
 * A peer (XGBoost, scikit-learn) in a long-lived Python process, so a bench can interleave its
 * runs with ours: one repetition is ours, then each peer, repeated. The Python side loads its data
 * once, then answers one JSON line on stdout for each JSON line it reads on stdin, and times only
 * the library call inside Python (process start, imports and data loading are not counted, as for
 * ours).
 *
 * Python: `DAGWOOD_BENCH_PYTHON` if set, else the first of /usr/bin/python3 (Debian's, where
 * python3-sklearn and python3-xgboost install) and `python3` on PATH that imports the modules the
 * peer needs.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process";
import { availableParallelism, loadavg } from "node:os";
import { createInterface, type Interface } from "node:readline";

/** The Python interpreter that imports every module in `modules`, or why none does. */
export function findPython(modules: string[]): { python: string } | { error: string } {
  const candidates = process.env.DAGWOOD_BENCH_PYTHON
    ? [process.env.DAGWOOD_BENCH_PYTHON]
    : ["/usr/bin/python3", "python3"];
  const errors: string[] = [];
  for (const python of candidates) {
    const r = spawnSync(python, ["-c", `import ${modules.join(", ")}`], { encoding: "utf8" });
    if (r.error) {
      errors.push(`${python}: ${r.error.message}`);
      continue;
    }
    if (r.status === 0) return { python };
    errors.push(`${python}: ${(r.stderr.trim().split("\n").pop() ?? "").slice(0, 200)}`);
  }
  return {
    error: `no Python with ${modules.join(" and ")} (${errors.join("; ")}); install Debian's python3-sklearn python3-xgboost or set DAGWOOD_BENCH_PYTHON`,
  };
}

/** One long-lived peer process speaking JSON lines. */
export class PeerProcess {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: Interface;
  private readonly pending: ((line: string | null) => void)[] = [];
  private readonly queued: string[] = [];
  private stderr = "";
  private exited = false;

  constructor(python: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(python, args, { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
    this.child.stderr.on("data", (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    this.lines = createInterface({ input: this.child.stdout });
    this.lines.on("line", (line) => {
      const waiter = this.pending.shift();
      if (waiter) waiter(line);
      else this.queued.push(line);
    });
    this.child.on("exit", () => {
      this.exited = true;
      for (const waiter of this.pending.splice(0)) waiter(null);
    });
  }

  /** The next line the peer prints, parsed; an error names the peer's last stderr lines. */
  async next<T>(): Promise<T> {
    const line =
      this.queued.shift() ??
      (this.exited ? null : await new Promise<string | null>((done) => this.pending.push(done)));
    if (line === null) {
      const tail = this.stderr.trim().split("\n").slice(-5).join("\n");
      throw new Error(`the peer process exited${tail ? `:\n${tail}` : ""}`);
    }
    const out = JSON.parse(line) as T & { error?: string };
    if (out.error) throw new Error(out.error);
    return out;
  }

  /** Sends one request and waits for its answer. */
  async request<T>(req: Record<string, unknown>): Promise<T> {
    if (this.exited) throw new Error("the peer process has exited");
    this.child.stdin.write(`${JSON.stringify(req)}\n`);
    return await this.next<T>();
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.stdin.end();
    await done;
  }
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

let highestLoad = 0;

/** The 1-minute load average, for printing beside a figure (the machine may be shared). */
export const load = (): string => {
  const now = loadavg()[0]!;
  highestLoad = Math.max(highestLoad, now);
  return `load ${now.toFixed(2)}`;
};

/**
 * A warning when the load average printed so far exceeded the cores: other processes then took CPU
 * time from the fits, and multi-threaded peers (OpenMP, BLAS) lose far more to that than ours.
 */
export function loadWarning(hint = ""): string | undefined {
  const cores = availableParallelism();
  if (highestLoad <= cores) return undefined;
  return (
    `WARNING: the load average reached ${highestLoad.toFixed(2)} on ${cores} cores: other processes competed ` +
    "for the CPU, which slows OpenMP/BLAS peers far more than ours; rerun on a quiet machine before quoting " +
    `these ratios${hint}.`
  );
}

/** `--reps N` or the environment variable, a whole number ≥ 1. */
export function repsFrom(value: string | undefined, envName: string, fallback: number): number {
  const text = value ?? process.env[envName];
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`--reps (or ${envName}) must be a whole number, 1 or more; got "${text}"`);
  }
  return n;
}
