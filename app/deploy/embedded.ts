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
 * before with the same token (never through a symbolic link: see
 * `projectServeToken`). One process at a time runs a project's server: it
 * holds `<repository>/.lock` (pid and url) until it stops it. `close()` stops
 * every server; the Api calls it when it closes. A project with features/*.json
 * gets its feature server beside the models, as `dagwood serve --project`.
 */
import { randomBytes } from "node:crypto";
import { constants, readFileSync, type Stats } from "node:fs";
import { type FileHandle, lstat, mkdir, open, readFile, rename, unlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ensureStoreDir } from "../project/project";
import { STATE_FILE } from "../serving/repository";
import type { EntityInputsFn, ServeRoute } from "../serving/routes";
import { createServer, type DagwoodServer } from "../serving/server";
import { tokenProblem } from "./targets";

/** The port tried first; `DAGWOOD_LOCAL_SERVE_PORT` replaces it (tests set 0). */
export const LOCAL_SERVE_PORT = 8000;
export const LOCAL_SERVE_HOST = "127.0.0.1";

const posix = process.platform !== "win32";
/** 0 where the OS has no such flag (Windows), so it can be or'ed in. */
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;

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

export interface StopOptions {
  /**
   * Remember it was stopped on purpose, so the status does not start it again
   * (default true: the user's Stop). False when the app stops it for its own
   * reasons (another project opened).
   */
  byUser?: boolean;
}

export interface LocalServers {
  /** The project's server when it runs (started and listening), else null. */
  running(projectDir: string): LocalServer | null;
  /**
   * Starts the project's server (once; concurrent calls share the start; a
   * start during a stop waits for the stop to end) and answers where it listens.
   */
  start(projectDir: string): Promise<LocalServer>;
  /** Stops the project's server, if it runs; by default remembers it was stopped on purpose (see `stoppedByUser`). */
  stop(projectDir: string, opts?: StopOptions): Promise<void>;
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

/** The lock of a project's built-in server: which process runs it (pid) and where (url). */
export function serverLockFile(projectDir: string): string {
  return join(servingRepository(projectDir), ".lock");
}

/**
 * Whether the project's built-in server served something before: its saved
 * state names at least one loaded version. An empty state (the server ran
 * with nothing deployed) is not worth starting for. A state that cannot be
 * read as JSON counts as something, so the server's restore reports it.
 */
export function hasServedState(projectDir: string): boolean {
  let text: string;
  try {
    text = readFileSync(join(servingRepository(projectDir), STATE_FILE), "utf8");
  } catch {
    return false;
  }
  try {
    const models = (JSON.parse(text) as { models?: unknown })?.models;
    if (!models || typeof models !== "object") return true;
    return Object.values(models as Record<string, { versions?: unknown }>).some(
      (m) => !Array.isArray(m?.versions) || m.versions.length > 0,
    );
  } catch {
    return true;
  }
}

/** The store folder `<project>/.dagwood`, created if missing; refuses one that is a symbolic link. */
async function storeFolder(projectDir: string): Promise<string> {
  const store = join(resolve(projectDir), ".dagwood");
  // Checked before anything is written in it (its .gitignore included), and again once it exists.
  const existing = await lstat(store).catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return null;
    throw e;
  });
  if (existing) refuseStore(store, existing);
  ensureStoreDir(projectDir);
  refuseStore(store, await lstat(store));
  return store;
}

function refuseStore(store: string, info: Stats): void {
  if (info.isSymbolicLink() || !info.isDirectory()) {
    throw new Error(
      `${store} is ${info.isSymbolicLink() ? "a symbolic link" : "not a folder"}: the built-in local server keeps its token and models only in a real folder there. Replace it with a folder and try again.`,
    );
  }
}

/** Refuses a token file that is not a regular file of the current user (nothing is read, written or changed). */
function checkTokenFile(file: string, info: Stats): void {
  if (!info.isFile()) {
    const what = info.isSymbolicLink()
      ? "a symbolic link"
      : info.isDirectory()
        ? "a folder"
        : "not a regular file";
    throw new Error(
      `${file} is ${what}: Dagwood does not read, replace or change it. Remove it and try again (a new token is generated).`,
    );
  }
  const uid = process.getuid?.();
  if (posix && uid !== undefined && info.uid !== uid) {
    throw new Error(
      `${file} belongs to another user (uid ${info.uid}, not ${uid}): Dagwood does not read, replace or change it. Remove it and try again (a new token is generated).`,
    );
  }
}

async function readTokenFile(file: string, before: Stats): Promise<string> {
  const handle = await open(file, constants.O_RDONLY | O_NOFOLLOW);
  try {
    const info = await handle.stat();
    // Replaced between the lstat and the open: refuse rather than read something else.
    if (info.ino !== before.ino || info.dev !== before.dev)
      throw new Error(`${file} changed while being read`);
    checkTokenFile(file, info);
    return (await handle.readFile("utf8")).trim();
  } finally {
    await handle.close();
  }
}

/** Writes the token to a new file beside `file` (O_EXCL|O_NOFOLLOW, 0600), fsyncs it and renames it into place. */
async function writeTokenFile(store: string, file: string, token: string): Promise<void> {
  const temp = join(store, `.serve-token.${randomBytes(6).toString("hex")}.tmp`);
  let handle: FileHandle | undefined;
  try {
    handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW, 0o600);
    // The mode of open() goes through the umask: make it exact.
    if (posix) await handle.chmod(0o600);
    await handle.writeFile(`${token}\n`);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, file);
  } catch (e) {
    await handle?.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw e;
  }
  if (posix) {
    const dir = await open(store, "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}

/**
 * The project's serve token: read back from `.dagwood/serve-token`, or
 * generated (32 random bytes, base64url) and written there with mode 0600.
 *
 * The file is never followed through a symbolic link: a token file that is
 * not a regular file of the current user (a link into the home folder in an
 * unpacked project archive, say), or a `.dagwood` that is a link, is refused
 * with an error naming it, and nothing is touched. A file that holds no
 * usable token is replaced; one the group or others could read is replaced
 * by a NEW token (the old one may have leaked). A new token goes to a temp
 * file (O_EXCL|O_NOFOLLOW, 0600) in the same folder, fsync'ed, renamed into place.
 */
export async function projectServeToken(projectDir: string): Promise<string> {
  const store = await storeFolder(projectDir);
  const file = tokenFile(projectDir);
  let info: Stats | undefined;
  try {
    info = await lstat(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  if (info) {
    checkTokenFile(file, info);
    const exposed = posix && (info.mode & 0o077) !== 0;
    if (!exposed) {
      const text = await readTokenFile(file, info);
      if (text && !tokenProblem(text)) return text;
    }
  }
  const token = randomBytes(32).toString("base64url");
  await writeTokenFile(store, file, token);
  return token;
}

/** This process's held server locks, by lock file. */
const heldLocks = new Map<string, string>();

interface LockInfo {
  pid: number;
  url: string | null;
  id: string;
}

function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, it is someone else's.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function readLock(file: string): Promise<{ text: string; lock: LockInfo | null } | null> {
  let text: string;
  try {
    const info = await lstat(file);
    if (!info.isFile()) return { text: "", lock: null };
    text = await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
  try {
    const lock = JSON.parse(text) as LockInfo;
    return { text, lock: typeof lock?.pid === "number" ? lock : null };
  } catch {
    return { text, lock: null };
  }
}

/** An unreadable lock younger than this may be one being written: it is left alone. */
const FRESH_LOCK_MS = 10_000;

/**
 * Takes `<repository>/.lock` (created with O_EXCL, holding this pid) so one
 * process at a time runs the project's built-in server; a lock whose process
 * is gone is replaced. Throws, naming the other process and its URL, when one runs.
 */
async function acquireLock(projectDir: string): Promise<string> {
  const file = serverLockFile(projectDir);
  await mkdir(servingRepository(projectDir), { recursive: true });
  const id = randomBytes(8).toString("hex");
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const handle = await open(
        file,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW,
        0o600,
      );
      try {
        await handle.writeFile(`${JSON.stringify({ pid: process.pid, url: null, id } satisfies LockInfo)}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      heldLocks.set(file, id);
      return id;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const found = await readLock(file);
    if (!found) continue;
    const { lock } = found;
    if (lock) {
      const ours = lock.pid === process.pid && heldLocks.get(file) === lock.id;
      if (ours) {
        throw new Error(
          `The built-in server of this project is already running in this Dagwood process at ${lock.url ?? "(starting)"}.`,
        );
      }
      // Our own pid but not held here: left by an earlier process that had the same pid.
      if (lock.pid !== process.pid && pidAlive(lock.pid)) {
        throw new Error(
          `The built-in server of this project is running in another Dagwood process (pid ${lock.pid}) at ${lock.url ?? "(starting)"}: stop it there or close that process, then try again. (If no such process runs Dagwood, remove ${file}.)`,
        );
      }
    } else {
      const info = await lstat(file).catch(() => null);
      if (info && !info.isFile()) throw new Error(`${file} is not a regular file: remove it and try again.`);
      if (info && Date.now() - info.mtimeMs < FRESH_LOCK_MS) {
        throw new Error(
          `The built-in server of this project is starting in another Dagwood process (lock ${file}): try again in a moment.`,
        );
      }
    }
    // Stale: replaced, unless someone replaced it meanwhile.
    const again = await readLock(file);
    if (again && again.text === found.text) await unlink(file).catch(() => undefined);
  }
  throw new Error(`Could not take the lock ${file} of the built-in server: try again.`);
}

/** Writes the URL into our lock (a temp file renamed over it). */
async function updateLock(projectDir: string, id: string, url: string): Promise<void> {
  const file = serverLockFile(projectDir);
  if (heldLocks.get(file) !== id) return;
  const temp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  await writeFileExclusive(temp, `${JSON.stringify({ pid: process.pid, url, id } satisfies LockInfo)}\n`);
  await rename(temp, file);
}

async function writeFileExclusive(path: string, text: string): Promise<void> {
  const handle = await open(
    path,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW,
    0o600,
  );
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Removes our lock (only if it is still ours). */
async function releaseLock(projectDir: string, id: string): Promise<void> {
  const file = serverLockFile(projectDir);
  if (heldLocks.get(file) !== id) return;
  heldLocks.delete(file);
  const found = await readLock(file).catch(() => null);
  if (found?.lock?.id === id && found.lock.pid === process.pid) await unlink(file).catch(() => undefined);
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

type ProjectFeatures = {
  routes: ServeRoute[];
  entityInputs: EntityInputsFn;
  close(): Promise<void>;
};

/**
 * The project's feature server (as `dagwood serve --project`: /get-online-features, /push, …, and
 * infer by entity for versions registered with a feature service), when it has features/*.json;
 * null when it has none or they do not load (said in the log: the models serve all the same). A
 * project that gains features after the server started needs the server started again.
 */
async function projectFeatures(dir: string, log: (message: string) => void): Promise<ProjectFeatures | null> {
  const { featureFiles } = await import("../features/repo");
  if (featureFiles(dir).length === 0) return null;
  try {
    const { openProjectFeatureService } = await import("../features/serve-project");
    const { entityInputs, featureServeRoutes } = await import("../features/server");
    const service = openProjectFeatureService(dir);
    return {
      routes: featureServeRoutes(service),
      entityInputs: (featureService, inputs, entities, given) =>
        entityInputs(service, featureService, inputs, entities, given),
      close: () => service.close(),
    };
  } catch (e) {
    log(
      `the local server serves no features: ${(e as Error).message} (fix features/*.json, then stop and start the local server)`,
    );
    return null;
  }
}

export function createLocalServers(opts: LocalServersOptions = {}): LocalServers {
  interface Entry {
    dir: string;
    server: DagwoodServer | null;
    info: LocalServer | null;
    /** The id of the server lock this entry holds. */
    lock: string | null;
    starting: Promise<LocalServer> | null;
    stopping: Promise<void> | null;
    stopped: boolean;
    /** The project's feature service beside the models (closed with the server). */
    features: ProjectFeatures | null;
  }
  const entries = new Map<string, Entry>();
  const entryOf = (projectDir: string): Entry => {
    const key = resolve(projectDir);
    let entry = entries.get(key);
    if (!entry) {
      entry = {
        dir: key,
        server: null,
        info: null,
        lock: null,
        starting: null,
        stopping: null,
        stopped: false,
        features: null,
      };
      entries.set(key, entry);
    }
    return entry;
  };
  let closed = false;

  const stopEntry = (entry: Entry): Promise<void> => {
    // Stops in progress are shared; a start in progress finishes first, so its server is the one closed.
    if (entry.stopping) return entry.stopping;
    entry.stopping = (async () => {
      await entry.starting?.catch(() => undefined);
      const server = entry.server;
      const lock = entry.lock;
      const features = entry.features;
      entry.server = null;
      entry.info = null;
      entry.lock = null;
      entry.features = null;
      try {
        if (server) await server.close();
      } finally {
        await features?.close().catch(() => undefined);
        if (lock) await releaseLock(entry.dir, lock);
      }
    })().finally(() => {
      entry.stopping = null;
    });
    return entry.stopping;
  };

  const startEntry = async (entry: Entry): Promise<LocalServer> => {
    const port = opts.port ?? configuredPort();
    // The lock first: another process running it is refused before anything is touched.
    await storeFolder(entry.dir);
    const lock = await acquireLock(entry.dir);
    try {
      const token = await projectServeToken(entry.dir);
      const repository = servingRepository(entry.dir);
      const features = await projectFeatures(entry.dir, opts.log ?? ((m) => process.stderr.write(`${m}\n`)));
      const server = createServer({
        repository,
        token,
        host: LOCAL_SERVE_HOST,
        ...(opts.log ? { log: opts.log } : {}),
        ...(features ? { routes: features.routes, entityInputs: features.entityInputs } : {}),
      });
      let url: string;
      try {
        url = await listenWithFallback(server, port);
      } catch (e) {
        await server.close().catch(() => undefined);
        await features?.close().catch(() => undefined);
        throw new Error(`The local server could not start: ${(e as Error).message}`);
      }
      entry.features = features;
      entry.server = server;
      entry.lock = lock;
      entry.info = { url, token, repository };
      await updateLock(entry.dir, lock, url).catch(() => undefined);
      return entry.info;
    } catch (e) {
      if (!entry.lock) await releaseLock(entry.dir, lock);
      throw e;
    }
  };

  const start = (projectDir: string): Promise<LocalServer> => {
    if (closed) return Promise.reject(new Error("the app is closing: the local server cannot start"));
    const entry = entryOf(projectDir);
    entry.stopped = false;
    // A start during a stop waits for the stop to end, then starts it again.
    if (entry.stopping) return entry.stopping.catch(() => undefined).then(() => start(projectDir));
    if (entry.info) return Promise.resolve(entry.info);
    if (entry.starting) return entry.starting;
    entry.starting = startEntry(entry).finally(() => {
      entry.starting = null;
    });
    return entry.starting;
  };

  return {
    running(projectDir) {
      return entries.get(resolve(projectDir))?.info ?? null;
    },
    start,
    async stop(projectDir, stopOpts = {}) {
      const entry = entryOf(projectDir);
      if (stopOpts.byUser !== false) entry.stopped = true;
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
