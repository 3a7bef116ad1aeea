import type Database from "better-sqlite3";
import { prepare } from "./statements";

/**
 * Metric points packed per (run, key): chunks of up to CHUNK_POINTS
 * [step, value] float64 pairs, a NULL step stored as NaN. NaN and ±Infinity
 * values keep their bits. Appending rewrites at most the last chunk.
 */
export const CHUNK_POINTS = 256;

export interface ChunkPoint {
  runId: string;
  key: string;
  step: number | null;
  value: number;
}

function encode(pairs: number[]): Buffer {
  const arr = Float64Array.from(pairs);
  return Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength);
}

/** The chunk's pairs (copied, so the float64 view is aligned). */
export function decodeChunk(blob: Buffer): Float64Array {
  return new Float64Array(new Uint8Array(blob).buffer);
}

/** Appends the points, in order, to their series. The caller holds the transaction. */
export function appendMetricChunks(db: Database.Database, points: ChunkPoint[]): void {
  const series = new Map<string, { runId: string; key: string; pairs: number[] }>();
  for (const p of points) {
    const id = `${p.runId}\u0000${p.key}`;
    let s = series.get(id);
    if (!s) {
      s = { runId: p.runId, key: p.key, pairs: [] };
      series.set(id, s);
    }
    s.pairs.push(p.step ?? Number.NaN, p.value);
  }
  const last = prepare(
    db,
    "SELECT chunk, n, points FROM metric_chunks WHERE run_id = ? AND key = ? ORDER BY chunk DESC LIMIT 1",
  );
  const upsert = prepare(
    db,
    "INSERT OR REPLACE INTO metric_chunks (run_id, key, chunk, n, points) VALUES (?, ?, ?, ?, ?)",
  );
  for (const { runId, key, pairs } of series.values()) {
    const tail = last.get(runId, key) as { chunk: number; n: number; points: Buffer } | undefined;
    let chunk = tail ? tail.chunk : 0;
    let current: number[] = [];
    if (tail && tail.n < CHUNK_POINTS) current = Array.from(decodeChunk(tail.points));
    else if (tail) chunk++;
    for (let i = 0; i < pairs.length; i += 2) {
      current.push(pairs[i]!, pairs[i + 1]!);
      if (current.length === 2 * CHUNK_POINTS) {
        upsert.run(runId, key, chunk++, CHUNK_POINTS, encode(current));
        current = [];
      }
    }
    if (current.length > 0) upsert.run(runId, key, chunk, current.length / 2, encode(current));
  }
}
