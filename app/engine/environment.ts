import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { release, userInfo } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { duckdb } from "../data/native";
import type { RunEnvironment } from "../store/types";

let dagwoodVersion: string | null | undefined;

/**
 * Dagwood's version from its package.json, found by walking up from this
 * module (app/engine in a checkout, dist/cli or dist/main when bundled).
 */
function readDagwoodVersion(): string | null {
  if (dagwoodVersion !== undefined) return dagwoodVersion;
  dagwoodVersion = null;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++, dir = dirname(dir)) {
    const file = join(dir, "package.json");
    if (!existsSync(file)) continue;
    try {
      const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
      if (pkg.name === "dagwood" && typeof pkg.version === "string") {
        dagwoodVersion = pkg.version;
        break;
      }
    } catch {
      // An unreadable package.json is not Dagwood's: keep looking up.
    }
  }
  return dagwoodVersion;
}

/** The facts known at once: Dagwood, Node, OS, DuckDB. Unknown facts are left out. */
export function localEnvironment(): RunEnvironment {
  const env: RunEnvironment = {
    node: process.version,
    os: `${process.platform} ${release()} ${process.arch}`,
  };
  const dagwood = readDagwoodVersion();
  if (dagwood) env.dagwood = dagwood;
  try {
    env.duckdb = duckdb().version();
  } catch {
    // The version is a nicety; a binding without it must not fail a run.
  }
  return env;
}

/** Who starts a run: DAGWOOD_USER, else the OS user; null when neither is known. */
export function currentUser(): string | null {
  const given = process.env.DAGWOOD_USER?.trim();
  if (given) return given;
  try {
    return userInfo().username || null;
  } catch {
    return null;
  }
}

const GIT_TIMEOUT_MS = 2000;

function git(dir: string, args: string[]): Promise<string | null> {
  return new Promise((resolve) => {
    execFile("git", args, { cwd: dir, timeout: GIT_TIMEOUT_MS, windowsHide: true }, (error, stdout) =>
      resolve(error ? null : stdout),
    );
  });
}

/**
 * The project's git commit and whether its working tree has changes. Empty
 * when the folder is not in a repository, git is missing, or it takes longer
 * than two seconds: a run never waits on, or fails for, its bookkeeping.
 */
export async function gitState(dir: string): Promise<Pick<RunEnvironment, "gitCommit" | "gitDirty">> {
  const [head, status] = await Promise.all([
    git(dir, ["rev-parse", "--verify", "HEAD"]),
    git(dir, ["status", "--porcelain"]),
  ]);
  const commit = head?.trim();
  if (!commit || !/^[0-9a-f]{40,64}$/.test(commit)) return {};
  return status === null ? { gitCommit: commit } : { gitCommit: commit, gitDirty: status.trim().length > 0 };
}
