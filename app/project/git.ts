/**
 * One git command, for the readers of a project's history (`dagwood diff
 * git:REV:path`, `dagwood ci`'s "what changed", the app's Changes overlay):
 * through execFile, never a shell, so revisions and paths are arguments and
 * never shell text. Callers keep revisions from being read as options
 * (a leading "-" refused, and `--end-of-options` before them).
 */
import { execFile } from "node:child_process";

/** What git printed, or why it failed (`missing`: git is not installed). */
export type GitResult = { ok: true; out: string } | { ok: false; error: string; missing?: true };

export interface GitOptions {
  /** The folder git runs in; the current one when absent. */
  cwd?: string;
  /** How long git may take (default 30 s). */
  timeoutMs?: number;
  /** No optional locks (no index refresh behind the user's own git) and no credential prompt. */
  readOnly?: boolean;
}

const GIT_MS = 30_000;

export function runGit(args: readonly string[], options: GitOptions = {}): Promise<GitResult> {
  return new Promise((done) => {
    execFile(
      "git",
      args,
      {
        ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
        timeout: options.timeoutMs ?? GIT_MS,
        maxBuffer: 64 * 1024 * 1024,
        windowsHide: true,
        encoding: "utf8",
        ...(options.readOnly
          ? { env: { ...process.env, GIT_OPTIONAL_LOCKS: "0", GIT_TERMINAL_PROMPT: "0" } }
          : {}),
      },
      (error, stdout, stderr) => {
        if (!error) return done({ ok: true, out: stdout });
        if ((error as NodeJS.ErrnoException).code === "ENOENT")
          return done({ ok: false, error: "git is not installed (or not on PATH)", missing: true });
        done({ ok: false, error: (stderr || error.message).trim().replace(/^fatal: /, "") });
      },
    );
  });
}
