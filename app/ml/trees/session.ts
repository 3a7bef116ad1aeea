/**
 * One fit's state shared with the kernel shards: SharedArrayBuffer-backed
 * arrays, the row shards (aligned to CHUNK_ROWS so per-chunk sums and seeds do
 * not depend on the number of workers) and the histogram slots.
 */
import {
  BINS_PER_FEATURE,
  CHUNK_ROWS,
  type KernelInit,
  type KernelMessage,
  type KernelReply,
} from "./kernel";
import type { TreePool } from "./pool";

let nextSession = 1;

export function sharedFloat64(n: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(Math.max(1, n) * 8), 0, n);
}
export function sharedInt32(n: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(Math.max(1, n) * 4), 0, n);
}
export function sharedUint8(n: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(Math.max(1, n)), 0, n);
}

export interface SessionArrays {
  numFeatures: number;
  nTrain: number;
  nValid: number;
  outputs: number;
  bins: Uint8Array;
  rowBytes: number;
  channels: number;
  labels: Float64Array | null;
  weights: Float64Array | null;
  scores: Float64Array | null;
  stats: Int32Array;
  mult: Int32Array | null;
  lossChunks: Float64Array | null;
  loss: KernelInit["loss"];
  /** Stats channels per histogram bin (gradient channels + hessian + count). */
  binStats: number;
}

/** Histogram slots per shard for one dispatch: enough for wide frontiers, bounded in memory. */
const SLOT_BUDGET_BYTES = 96 * 1024 * 1024;

export class KernelSession {
  readonly id = nextSession++;
  readonly histSize: number;
  readonly slots: number;
  readonly hist: Float64Array;
  readonly shards: number;
  /** Node histograms no longer used, for reuse by the next ones. */
  readonly freeHists: Float64Array[] = [];

  private constructor(
    readonly pool: TreePool,
    readonly arrays: SessionArrays,
  ) {
    this.histSize = arrays.numFeatures * BINS_PER_FEATURE * arrays.binStats;
    this.shards = Math.max(1, Math.min(pool.size, Math.ceil(arrays.nTrain / CHUNK_ROWS)));
    const perSlot = this.histSize * 8 * this.shards;
    this.slots = Math.max(2, Math.min(64, Math.floor(SLOT_BUDGET_BYTES / perSlot)));
    this.hist = sharedFloat64(this.shards * this.slots * this.histSize);
  }

  static async open(pool: TreePool, arrays: SessionArrays): Promise<KernelSession> {
    const s = new KernelSession(pool, arrays);
    const trainChunks = Math.ceil(arrays.nTrain / CHUNK_ROWS);
    const validChunks = Math.ceil(arrays.nValid / CHUNK_ROWS);
    const bound = (chunks: number, i: number, base: number, n: number) =>
      base + Math.min(n, Math.floor((chunks * i) / s.shards) * CHUNK_ROWS);
    await s.run((i) => ({
      op: "init",
      session: s.id,
      ...arrays,
      hist: s.hist,
      histSize: s.histSize,
      slotBase: i * s.slots,
      trainStart: bound(trainChunks, i, 0, arrays.nTrain),
      trainEnd: bound(trainChunks, i + 1, 0, arrays.nTrain),
      validStart: bound(validChunks, i, arrays.nTrain, arrays.nValid),
      validEnd: bound(validChunks, i + 1, arrays.nTrain, arrays.nValid),
    }));
    return s;
  }

  run(message: (shard: number) => KernelMessage): Promise<KernelReply[]> {
    return this.pool.run(Array.from({ length: this.shards }, (_, i) => message(i)));
  }

  /** Sums slot `slot` over the shards into `into` (exact: the stats are integers). */
  reduceSlot(slot: number, into: Float64Array): Float64Array {
    const { hist, histSize } = this;
    into.set(hist.subarray(slot * histSize, (slot + 1) * histSize));
    for (let w = 1; w < this.shards; w++) {
      const base = (w * this.slots + slot) * histSize;
      for (let i = 0; i < histSize; i++) into[i] = into[i]! + hist[base + i]!;
    }
    return into;
  }

  async close(): Promise<void> {
    await this.run(() => ({ op: "close", session: this.id }));
  }
}
