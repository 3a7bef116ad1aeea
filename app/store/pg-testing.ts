/**
 * A real PostgreSQL server for tests: a throw-away cluster (`initdb`) in a temporary folder,
 * on a free port of 127.0.0.1, with durability off (it is thrown away at the end). Debian's
 * `postgresql` package provides the binaries (/usr/lib/postgresql/<version>/bin); when they
 * are missing the tests fail (they are never skipped). PostgreSQL refuses to run as root, so
 * under root (CI) the server runs as Debian's `postgres` user.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestPostgres {
  /** `postgres://dagwood@127.0.0.1:<port>/postgres` (trust authentication, no password). */
  url: string;
  port: number;
  /** Stops the server (fast shutdown) and removes its folder. */
  stop(): Promise<void>;
}

/** The environment variable the test run passes the cluster's URL in. */
export const TEST_PG_URL_ENV = "DAGWOOD_TEST_PG_URL";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** The bin folder of the highest PostgreSQL version Debian installed. */
export function postgresBinDir(root = "/usr/lib/postgresql"): string {
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+(\.\d+)?$/.test(v) && existsSync(join(root, v, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0)
    throw new Error(
      `PostgreSQL's server programs (initdb, postgres) are not installed (looked in ${root}/<version>/bin), and the team-store tests need a real server: install Debian's postgresql package (apt-get install postgresql) and run the tests again.`,
    );
  return join(root, versions[0]!, "bin");
}

/** Under root: the uid/gid of Debian's `postgres` user, which the server runs as. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return undefined;
  const id = (flag: string): number => {
    const r = spawnSync("id", [flag, "postgres"], { encoding: "utf8" });
    const n = Number(r.stdout.trim());
    if (r.status !== 0 || !Number.isInteger(n))
      throw new Error(
        "PostgreSQL refuses to run as root and there is no `postgres` user to run it as: install Debian's postgresql package (it creates that user) and run the tests again.",
      );
    return n;
  };
  return { uid: id("-u"), gid: id("-g") };
}

function launch(bin: string, dir: string, port: number, user: { uid: number; gid: number } | undefined) {
  return new Promise<ChildProcess>((resolve, reject) => {
    const child = spawn(
      join(bin, "postgres"),
      [
        "-D",
        join(dir, "data"),
        "-p",
        String(port),
        "-k",
        dir,
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "fsync=off",
        "-c",
        "synchronous_commit=off",
        "-c",
        "full_page_writes=off",
        "-c",
        "max_connections=200",
      ],
      { stdio: ["ignore", "pipe", "pipe"], ...(user ?? {}) },
    );
    let out = "";
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes("ready to accept connections")) {
        child.stderr!.off("data", onData);
        child.stderr!.resume();
        child.stdout!.resume();
        child.off("exit", onExit);
        resolve(child);
      }
    };
    const onExit = (code: number | null) =>
      reject(new Error(`postgres exited (${code}) before it was ready:\n${out}`));
    child.stderr!.on("data", onData);
    child.stdout!.on("data", (d) => (out += d));
    child.once("error", reject);
    child.once("exit", onExit);
  });
}

/** Starts a fresh cluster; `stop()` (and, failing that, process exit) removes it. */
export async function startTestPostgres(): Promise<TestPostgres> {
  const bin = postgresBinDir();
  const user = serverUser();
  const dir = mkdtempSync(join(tmpdir(), "dagwood-pg-"));
  if (user) {
    chownSync(dir, user.uid, user.gid);
    chmodSync(dir, 0o700);
  }
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  try {
    execFileSync(
      join(bin, "initdb"),
      ["-D", join(dir, "data"), "-U", "dagwood", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"],
      { stdio: ["ignore", "pipe", "pipe"], ...(user ?? {}) },
    );
  } catch (e) {
    removeDir();
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`initdb failed: ${err.stderr?.toString() || err.message}`);
  }
  const port = await freePort();
  let child: ChildProcess | undefined;
  try {
    child = await launch(bin, dir, port, user);
  } catch (e) {
    removeDir();
    throw e;
  }
  // If the test process dies without calling stop(), do not leave a server behind: on a normal
  // exit through the exit event; on a crash or SIGKILL (no exit event) through a watchdog
  // shell that waits for the end of a pipe only this process holds, then stops the server.
  const watchdog = spawn(
    "/bin/sh",
    ["-c", 'read _ignored; kill -INT "$0" 2>/dev/null; sleep 2; rm -rf "$1"', String(child.pid), dir],
    { stdio: ["pipe", "ignore", "ignore"], detached: true },
  );
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  const onExit = () => {
    child?.kill("SIGKILL");
    removeDir();
  };
  process.once("exit", onExit);
  return {
    url: `postgres://dagwood@127.0.0.1:${port}/postgres`,
    port,
    stop: async () => {
      process.off("exit", onExit);
      watchdog.kill("SIGKILL");
      const c = child;
      child = undefined;
      if (c && c.exitCode === null && c.signalCode === null) {
        await new Promise<void>((resolve) => {
          c.once("exit", () => resolve());
          c.kill("SIGINT"); // fast shutdown: ends sessions, no checkpoint wait beyond the minimum
        });
      }
      removeDir();
    },
  };
}
