/**
 * The built-in `local` target: the app process (the core Api of `dagwood ui`
 * or Electron main) runs one `dagwood serve` in-process per project, so a
 * first deploy needs no server, no dagwood.json entry and no token to set up.
 *
 * Per project: repository `<project>/.dagwood/serving`, host 127.0.0.1, port
 * 8000 when it is free, else an ephemeral one (`DAGWOOD_LOCAL_SERVE_PORT`
 * overrides 8000; 0 is always ephemeral). Its token is generated once and
 * kept in `<project>/.dagwood/serve-token` (mode 0600, inside the ignored
 * store folder, never in dagwood.json), so a restart restores what served
 * before with the same token. `close()` stops every server; the Api calls it
 * when it closes.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createServer, type DagwoodServer } from "../serving/server";
import { tokenProblem } from "./targets";

/** The port tried first; `DAGWOOD_LOCAL_SERVE_PORT` replaces it (tests set 0). */
export const LOCAL_SERVE_PORT = 8000;
export const LOCAL_SERVE_HOST = "127.0.0.1";

export interface LocalServer {
  url: string;
  token: string;
  repository: string;
}

export interface LocalServersOptions {
  /** The port tried first (default: `DAGWOOD_LOCAL_SERVE_PORT`, else 8000); busy → an ephemeral one. */
  port?: number;
  /** Where the servers report restore problems and shadow failures (default stderr). */
  log?: (message: string) => void;
}

export interface LocalServers {
  /** The project's server when it runs (started and listening), else null. */
  running(projectDir: string): LocalServer | null;
  /** Starts the project's server (once; concurrent calls share the start) and answers where it listens. */
  start(projectDir: string): Promise<LocalServer>;
  /** Stops the project's server, if it runs; remembers it was stopped on purpose (see `stoppedByUser`). */
  stop(projectDir: string): Promise<void>;
  /** Whether `stop` stopped it since this process started and no `start` came since. */
  stoppedByUser(projectDir: string): boolean;
  /** Stops every server. */
  close(): Promise<void>;
}

export function servingRepository(projectDir: string): string {
  return join(resolve(projectDir), ".dagwood", "serving");
}

export function tokenFile(projectDir: string): string {
  return join(resolve(projectDir), ".dagwood", "serve-token");
}

/** Whether the project's built-in server served something before (its saved state exists). */
export function hasServedState(projectDir: string): boolean {
  return existsSync(join(servingRepository(projectDir), ".dagwood-state.json"));
}

/**
 * The project's serve token: read back from `.dagwood/serve-token`, or
 * generated (32 random bytes, base64url) and written there with mode 0600.
 * A file that holds no usable token is replaced; a file others could read is
 * narrowed to 0600.
 */
export async function projectServeToken(projectDir: string): Promise<string> {
  const file = tokenFile(projectDir);
  await mkdir(join(resolve(projectDir), ".dagwood"), { recursive: true });
  try {
    const text = (await readFile(file, "utf8")).trim();
    if (text && !tokenProblem(text)) {
      if (process.platform !== "win32" && ((await stat(file)).mode & 0o077) !== 0) await chmod(file, 0o600);
      return text;
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const token = randomBytes(32).toString("base64url");
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  // writeFile's mode applies only to a new file (and through the umask): make it exact.
  if (process.platform !== "win32") await chmod(file, 0o600);
  return token;
}

function configuredPort(): number {
  const text = process.env.DAGWOOD_LOCAL_SERVE_PORT;
  if (text === undefined || text === "") return LOCAL_SERVE_PORT;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0 || n > 65535)
    throw new Error(`DAGWOOD_LOCAL_SERVE_PORT must be a port number (0..65535), not ${text}`);
  return n;
}

/** Listens on `port`; when it is taken, on an ephemeral port instead. */
async function listenWithFallback(server: DagwoodServer, port: number): Promise<string> {
  try {
    return await server.listen(port, LOCAL_SERVE_HOST);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (port === 0 || (code !== "EADDRINUSE" && code !== "EACCES")) throw e;
    // node:http may listen again after a failed listen.
    return server.listen(0, LOCAL_SERVE_HOST);
  }
}

export function createLocalServers(opts: LocalServersOptions = {}): LocalServers {
  interface Entry {
    server: DagwoodServer | null;
    info: LocalServer | null;
    starting: Promise<LocalServer> | null;
    stopped: boolean;
  }
  const entries = new Map<string, Entry>();
  const entryOf = (projectDir: string): Entry => {
    const key = resolve(projectDir);
    let entry = entries.get(key);
    if (!entry) {
      entry = { server: null, info: null, starting: null, stopped: false };
      entries.set(key, entry);
    }
    return entry;
  };
  let closed = false;

  const stopEntry = async (entry: Entry) => {
    // A start in progress finishes first, so its server is the one closed.
    await entry.starting?.catch(() => undefined);
    const server = entry.server;
    entry.server = null;
    entry.info = null;
    if (server) await server.close();
  };

  return {
    running(projectDir) {
      return entries.get(resolve(projectDir))?.info ?? null;
    },
    start(projectDir) {
      if (closed) return Promise.reject(new Error("the app is closing: the local server cannot start"));
      const entry = entryOf(projectDir);
      entry.stopped = false;
      if (entry.info) return Promise.resolve(entry.info);
      if (entry.starting) return entry.starting;
      entry.starting = (async () => {
        const token = await projectServeToken(projectDir);
        const repository = servingRepository(projectDir);
        const server = createServer({
          repository,
          token,
          host: LOCAL_SERVE_HOST,
          ...(opts.log ? { log: opts.log } : {}),
        });
        let url: string;
        try {
          url = await listenWithFallback(server, opts.port ?? configuredPort());
        } catch (e) {
          await server.close().catch(() => undefined);
          throw new Error(`The local server could not start: ${(e as Error).message}`);
        }
        entry.server = server;
        entry.info = { url, token, repository };
        return entry.info;
      })().finally(() => {
        entry.starting = null;
      });
      return entry.starting;
    },
    async stop(projectDir) {
      const entry = entryOf(projectDir);
      entry.stopped = true;
      await stopEntry(entry);
    },
    stoppedByUser(projectDir) {
      return entries.get(resolve(projectDir))?.stopped ?? false;
    },
    async close() {
      closed = true;
      await Promise.all([...entries.values()].map(stopEntry));
      entries.clear();
    },
  };
}
