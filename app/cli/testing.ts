/**
 * For the CLI's tests: the `dagwood` command run as a child process, as a user
 * runs it, or in this process (its main function) with its output captured.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { Io } from "./args";

export const ROOT = join(import.meta.dirname, "..", "..");
const BIN = join(ROOT, "bin", "dagwood");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts `dagwood <args>` (in the repository root unless `cwd` says otherwise); `done` settles when it exits. */
export function startDagwood(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): { child: ChildProcess; done: Promise<CliResult>; stderr: () => string } {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: options.env,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
  });
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  const done = new Promise<CliResult>((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done, stderr: () => stderr };
}

/** An Io whose stdout and stderr are kept as text (terminals when `tty`). */
export function captureIo(tty = false): Io & { out: () => string; err: () => string } {
  let out = "";
  let err = "";
  const stream = (write: (s: string) => void) =>
    Object.assign(
      new Writable({
        write(chunk, _enc, done) {
          write(String(chunk));
          done();
        },
      }),
      { isTTY: tty },
    );
  return {
    stdout: stream((s) => {
      out += s;
    }),
    stderr: stream((s) => {
      err += s;
    }),
    out: () => out,
    err: () => err,
  };
}

/** `dagwood <args>` run in this process: its exit code and what it wrote. */
export async function runDagwood(...args: string[]): Promise<CliResult & { code: number }> {
  // Loaded here, not at the top: the tests that only start the command as a child do not load the CLI.
  const { main } = await import("./main");
  const io = captureIo();
  const code = await main(args, io);
  return { code, stdout: io.out(), stderr: io.err() };
}
