/**
 * A real MariaDB server for tests, like app/store/pg-testing.ts for PostgreSQL: a throw-away data
 * folder (`mariadb-install-db`), a free port of 127.0.0.1, a user with a password (wrong
 * credentials must be testable) and a database. Debian's `mariadb-server` package provides the
 * binaries; when they are missing the tests fail (they are never skipped). Under root (CI) the server
 * runs as Debian's `mysql` user.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mysql from "mysql2/promise";

export interface TestMariadb {
  host: "127.0.0.1";
  port: number;
  database: string;
  user: string;
  password: string;
  /** Runs SQL as the server's root (through its socket): set up tables, kill sessions. */
  root(sql: string, params?: unknown[]): Promise<unknown>;
  /** Kills the server at once (SIGKILL): a connection dropping mid-read. */
  kill(): void;
  stop(): Promise<void>;
}

const INSTALL = ["/usr/bin/mariadb-install-db", "/usr/bin/mysql_install_db"];
const SERVER = ["/usr/sbin/mariadbd", "/usr/sbin/mysqld"];

function find(paths: string[], what: string): string {
  const p = paths.find((x) => existsSync(x));
  if (!p)
    throw new Error(
      `MariaDB's ${what} is not installed (looked for ${paths.join(", ")}), and the database-ingest tests need a real server: install Debian's mariadb-server package (apt-get install mariadb-server) and run the tests again.`,
    );
  return p;
}

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

function serverUser(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return undefined;
  const id = (flag: string): number => {
    const r = spawnSync("id", [flag, "mysql"], { encoding: "utf8" });
    const n = Number(r.stdout.trim());
    if (r.status !== 0 || !Number.isInteger(n))
      throw new Error(
        "MariaDB will not run as root and there is no `mysql` user: install Debian's mariadb-server package (it creates that user).",
      );
    return n;
  };
  return { uid: id("-u"), gid: id("-g") };
}

export async function startTestMariadb(): Promise<TestMariadb> {
  const install = find(INSTALL, "mariadb-install-db");
  const serverBin = find(SERVER, "server (mariadbd)");
  const user = serverUser();
  const dir = mkdtempSync(join(tmpdir(), "dagwood-maria-"));
  chmodSync(dir, 0o755);
  if (user) chownSync(dir, user.uid, user.gid);
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  const data = join(dir, "data");
  try {
    execFileSync(
      install,
      [
        "--no-defaults",
        `--datadir=${data}`,
        "--auth-root-authentication-method=normal",
        "--skip-test-db",
        ...(user ? ["--user=mysql"] : []),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
  } catch (e) {
    removeDir();
    const err = e as { stderr?: Buffer; stdout?: Buffer; message: string };
    throw new Error(
      `mariadb-install-db failed: ${err.stderr?.toString() || err.stdout?.toString() || err.message}`,
    );
  }
  const port = await freePort();
  const socket = join(dir, "s");
  const child: ChildProcess = spawn(
    serverBin,
    [
      "--no-defaults",
      `--datadir=${data}`,
      `--socket=${socket}`,
      `--port=${port}`,
      "--bind-address=127.0.0.1",
      `--pid-file=${join(dir, "pid")}`,
      "--skip-log-bin",
      "--innodb-buffer-pool-size=32M",
      "--innodb-log-file-size=16M",
      "--innodb-flush-log-at-trx-commit=0",
      "--skip-name-resolve",
      ...(user ? ["--user=mysql"] : []),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      let out = "";
      const onData = (d: Buffer) => {
        out += d.toString();
        if (out.includes("ready for connections")) {
          child.stderr!.off("data", onData);
          child.off("exit", onExit);
          resolve();
        }
      };
      const onExit = (code: number | null) =>
        reject(new Error(`mariadbd exited (${code}) before it was ready:\n${out}`));
      child.stderr!.on("data", onData);
      child.stdout!.resume();
      child.once("error", reject);
      child.once("exit", onExit);
    });
    child.stderr!.resume();
  } catch (e) {
    child.kill("SIGKILL");
    removeDir();
    throw e;
  }
  const watchdog = spawn(
    "/bin/sh",
    ["-c", 'read _ignored; kill -KILL "$0" 2>/dev/null; sleep 1; rm -rf "$1"', String(child.pid), dir],
    { stdio: ["pipe", "ignore", "ignore"], detached: true },
  );
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  const onExit = () => {
    child.kill("SIGKILL");
    removeDir();
  };
  process.once("exit", onExit);

  const rootConn = await mysql.createConnection({
    socketPath: socket,
    user: "root",
    multipleStatements: false,
  });
  rootConn.on("error", () => {});
  const password = "Pw-for-tests-7d1f";
  const database = "dagwood";
  await rootConn.query(`CREATE DATABASE ${database}`);
  for (const host of ["127.0.0.1", "localhost"]) {
    await rootConn.query(`CREATE USER 'dagwood'@'${host}' IDENTIFIED BY '${password}'`);
    await rootConn.query(`GRANT ALL ON *.* TO 'dagwood'@'${host}'`);
  }
  await rootConn.query(`USE ${database}`);
  let stopped = false;
  return {
    host: "127.0.0.1",
    port,
    database,
    user: "dagwood",
    password,
    root: async (sql, params) => (await rootConn.query(sql, params))[0],
    kill: () => child.kill("SIGKILL"),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      process.off("exit", onExit);
      watchdog.kill("SIGKILL");
      rootConn.destroy();
      if (child.exitCode === null && child.signalCode === null) {
        await new Promise<void>((resolve) => {
          child.once("exit", () => resolve());
          child.kill("SIGTERM");
        });
      }
      removeDir();
    },
  };
}
