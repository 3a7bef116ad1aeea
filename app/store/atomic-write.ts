/**
 * Durable file writes, one way for every caller (pipeline files, the model
 * repository): a crash or power loss leaves either the old file or the new
 * one, never half of one, and never a rename the folder forgot.
 */
import { randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Flushes a folder's entries (a rename into it) to disk. */
export async function fsyncDir(dir: string): Promise<void> {
  // Windows cannot open a folder for fsync; the rename is as durable as it gets there.
  if (process.platform === "win32") return;
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Creates `path` (it must not exist), writes `data` and fsyncs it. */
export async function writeSynced(path: string, data: Uint8Array | string): Promise<void> {
  const handle = await open(path, "wx");
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes `path` atomically: a temp file beside it (a dotfile, so folder
 * listings skip it), fsynced, renamed over `path`, then the folder fsynced so
 * the rename itself survives a power loss. On failure the temp file is removed.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await writeSynced(temp, data);
    await rename(temp, path);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
  await fsyncDir(dir);
}
