/**
 * `.dagwood/engine.json`: where the process holding a project's engine (the
 * `dagwood ui` process, the desktop app's engine process) can be reached, so
 * that the CLI talks to it instead of being refused by the project lock, as
 * VS Code's `code` command reaches the running window. It names a loopback
 * HTTP bridge and its token, so it is written with mode 0600 and removed when
 * the engine closes; a reader proves it live (the process runs and the bridge
 * answers with the token) before trusting it.
 */
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { currentProcess, type ProcessOwner } from "../store/liveness";
import { ensureStoreDir, STORE_DIR } from "./project";

export const ENGINE_FILE = "engine.json";

const EngineFileSchema = z.object({
  pid: z.number().int().positive(),
  /** The bridge's address: a loopback host and its port. */
  host: z.string().min(1).max(255),
  port: z.number().int().min(1).max(65535),
  token: z.string().min(16).max(256),
  startedAt: z.string(),
  /** Who wrote it, as app/store/liveness.ts tells a live process from a dead one with the same pid. */
  owner: z.unknown(),
});
export type EngineFile = z.infer<typeof EngineFileSchema> & { owner: ProcessOwner };

export const engineFilePath = (projectDir: string): string => join(projectDir, STORE_DIR, ENGINE_FILE);

/**
 * Says that this process holds the project's engine, reachable at `host:port`
 * with `token`. Written to a temporary file created 0600 (never through an
 * existing file or link), then renamed over any earlier one.
 */
export function writeEngineFile(projectDir: string, bridge: { host: string; port: number; token: string }) {
  const store = ensureStoreDir(projectDir);
  const owner = currentProcess();
  const record: EngineFile = {
    pid: owner.pid,
    host: bridge.host,
    port: bridge.port,
    token: bridge.token,
    startedAt: new Date().toISOString(),
    owner,
  };
  const tmp = join(store, `.${ENGINE_FILE}.${process.pid}.tmp`);
  rmSync(tmp, { force: true });
  // "wx": created here, never through an existing file or link.
  const fd = openSync(tmp, "wx", 0o600);
  try {
    // The mode given at creation is reduced by the umask; 0600 is what is meant, whatever the umask.
    // On the descriptor: a path could be swapped for a link between the two calls.
    fchmodSync(fd, 0o600);
    writeSync(fd, `${JSON.stringify(record, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, engineFilePath(projectDir));
  return record;
}

/**
 * Whether a file may be taken for one this user's engine wrote: on POSIX it
 * is a regular file of this user that no one else may read or write, as
 * writeEngineFile leaves it. A file from a clone or an archive (0644, as git
 * checks files out), another user's, or one others may change could name a
 * port someone else listens on: the CLI would send it the pipeline.
 */
function trustworthy(fd: number): boolean {
  const st = fstatSync(fd);
  if (!st.isFile()) return false;
  if (process.platform === "win32" || typeof process.getuid !== "function") return true;
  return st.uid === process.getuid() && (st.mode & 0o077) === 0;
}

/**
 * The project's engine file, or undefined when there is none or it is not
 * one this user's engine wrote (a torn or foreign file, a link, or a file
 * others may read or write).
 */
export function readEngineFile(projectDir: string): EngineFile | undefined {
  let text: string;
  let fd: number;
  try {
    // O_NOFOLLOW: a link in its place is not followed (ELOOP).
    fd = openSync(engineFilePath(projectDir), constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch {
    return undefined;
  }
  try {
    if (!trustworthy(fd)) return undefined;
    text = readFileSync(fd, "utf8");
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
  try {
    const parsed = EngineFileSchema.safeParse(JSON.parse(text));
    return parsed.success ? (parsed.data as EngineFile) : undefined;
  } catch {
    return undefined;
  }
}

/** Removes the engine file if it is still this engine's (another engine may have replaced it since). */
export function removeEngineFile(projectDir: string, token: string): void {
  if (readEngineFile(projectDir)?.token !== token) return;
  rmSync(engineFilePath(projectDir), { force: true });
}
