import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { BlockError } from "./block";

export interface FileHashMemo {
  get(path: string): Promise<{ size: number; mtime_ms: number; hash: string } | undefined>;
  put(path: string, size: number, mtimeMs: number, hash: string): Promise<void>;
}

/** The memo's hash of a file whose size and mtime still match it; undefined when the file must be read. */
export async function knownFileHash(path: string, memo: FileHashMemo): Promise<string | undefined> {
  const st = await stat(path).catch(() => undefined);
  if (!st?.isFile()) return undefined;
  const known = await memo.get(path);
  return known && known.size === st.size && known.mtime_ms === st.mtimeMs ? known.hash : undefined;
}

/** SHA-256 of a file's bytes, skipping the read when size and mtime match the memo. */
export async function hashFile(path: string, memo?: FileHashMemo): Promise<string> {
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(path);
  } catch {
    throw new BlockError(`File not found: ${path}. Check the path (it is relative to the project folder).`);
  }
  if (!st.isFile()) throw new BlockError(`Not a file: ${path}`);
  const known = await memo?.get(path);
  if (known && known.size === st.size && known.mtime_ms === st.mtimeMs) return known.hash;
  const h = createHash("sha256");
  // Large reads: with the default 64 KiB chunks, reading costs more than hashing.
  for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 })) h.update(chunk as Buffer);
  const hash = h.digest("hex");
  await memo?.put(path, st.size, st.mtimeMs, hash);
  return hash;
}
