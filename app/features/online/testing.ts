/**
 * A real redis-server for tests, on a free port in its own folder, with an
 * append-only file written on every command so a restart after a kill keeps
 * what Redis acknowledged. Missing redis-server fails the test (it is never
 * skipped): install Debian's redis-server package.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestRedis {
  url: string;
  port: number;
  /** Kills the server (SIGKILL) and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts it again on the same port and folder (its data reloaded from the append-only file). */
  restart(): Promise<void>;
  /** Kills it and removes its folder. */
  stop(): Promise<void>;
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

function requireRedisServer(): void {
  const found = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
  if (found.error || found.status !== 0)
    throw new Error(
      "redis-server is not installed, and the Redis online store's tests need a real one: install it (Debian: apt-get install redis-server) and run the tests again.",
    );
}

function launch(port: number, dir: string, appendOnly: boolean): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      "redis-server",
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        "--save",
        "",
        "--appendonly",
        appendOnly ? "yes" : "no",
        "--appendfsync",
        "always",
        "--daemonize",
        "no",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes("Ready to accept connections")) {
        child.stdout!.off("data", onData);
        child.stdout!.resume();
        resolve(child);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (d) => (out += d));
    child.once("error", reject);
    child.once("exit", (code) =>
      reject(new Error(`redis-server exited ${code} before it was ready:\n${out}`)),
    );
  });
}

/** `appendOnly: false` (benches): nothing written to disk, so nothing kept across a restart. */
export async function startTestRedis(options: { appendOnly?: boolean } = {}): Promise<TestRedis> {
  requireRedisServer();
  const appendOnly = options.appendOnly ?? true;
  const dir = mkdtempSync(join(tmpdir(), "dagwood-redis-"));
  const port = await freePort();
  let child: ChildProcess | undefined = await launch(port, dir, appendOnly);
  const kill = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once("exit", () => resolve());
      c.kill("SIGKILL");
    });
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill,
    restart: async () => {
      await kill();
      child = await launch(port, dir, appendOnly);
    },
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
