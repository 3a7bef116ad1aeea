/**
 * What a server tells about itself: Prometheus metrics (prom-client, on a
 * registry of its own so two servers in one process do not share counters)
 * and a sampled inference log per model.
 */
import { appendFile, open, readdir, rename, stat } from "node:fs/promises";
import { join } from "node:path";
import { Counter, Histogram, Registry } from "prom-client";
import type { Role } from "./models";
import { truncateRows, type V2Tensor } from "./tensors";

/** Tensors with more rows are logged as their shape and first rows (`truncated: true`). */
export const LOG_MAX_ROWS = 100;

export class ServerMetrics {
  readonly registry = new Registry();
  /** Infer requests by model, answering version ("" when none answered) and HTTP status. */
  readonly requests = new Counter({
    name: "dagwood_requests_total",
    help: "Inference requests by model, version and HTTP status code",
    labelNames: ["model", "version", "code"] as const,
    registers: [this.registry],
  });
  /** Failed inferences: kind "client" (4xx), "server" (5xx) or "shadow" (a shadow run that threw). */
  readonly errors = new Counter({
    name: "dagwood_errors_total",
    help: "Failed inference requests and shadow runs by model, version and kind",
    labelNames: ["model", "version", "kind"] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: "dagwood_inference_duration_seconds",
    help: "Inference latency (parse, run, encode) by model, version and role",
    labelNames: ["model", "version", "role"] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
}

/**
 * One inference log entry — the contract the monitoring issue reads, from
 * `GET /v2/logs/models/{name}` and from `<repo>/<name>/inference-log.jsonl`
 * (one entry per line):
 *
 *   seq        increasing, also across restarts (seeded from the JSONL files; use with `since` to page)
 *   time       ISO 8601, when the inference finished
 *   requestId  the request's V2 "id", or one the server made up
 *   model, version
 *   role       "primary" | "canary" (infer by model, per the traffic policy),
 *              "shadow" (the mirrored run; its output was not returned),
 *              "direct" (infer by version)
 *   latencyMs  the onnxruntime run
 *   inputs     V2 tensors as received (name, datatype, shape, flat data)
 *   outputs    V2 tensors as computed (all outputs, flat data)
 *              A tensor of more than 100 rows keeps its shape, the data of its
 *              first 100 rows and `truncated: true`.
 */
/**
 * Which inferences go into the inference log: each with probability `rate`,
 * and at most `maxPerSecond` per model (a token bucket, so a burst up to that
 * many is kept whole). At low traffic every request is logged; under load the
 * log costs a bounded amount of work instead of a share of every request.
 */
export class LogSampler {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly rate: number,
    private readonly maxPerSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  take(model: string): boolean {
    if (this.rate <= 0 || (this.rate < 1 && Math.random() >= this.rate)) return false;
    if (!Number.isFinite(this.maxPerSecond)) return true;
    const t = this.now();
    let bucket = this.buckets.get(model);
    if (!bucket) {
      bucket = { tokens: this.maxPerSecond, at: t };
      this.buckets.set(model, bucket);
    }
    bucket.tokens = Math.min(this.maxPerSecond, bucket.tokens + ((t - bucket.at) / 1000) * this.maxPerSecond);
    bucket.at = t;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}

export interface InferenceLogEntry {
  seq: number;
  time: string;
  requestId: string;
  model: string;
  version: number;
  role: Role;
  latencyMs: number;
  inputs: V2Tensor[];
  outputs: V2Tensor[];
}

export interface InferenceLogOptions {
  /** Entries kept in memory per model. */
  capacity?: number;
  /** Bytes kept in memory per model, estimated from the tensors; default 64 MiB. */
  maxBytes?: number;
  /** Rows logged per tensor; default 100. */
  maxRows?: number;
  /** The repository folder: entries are also appended to <repo>/<name>/inference-log.jsonl. */
  repository?: string;
  /** Size at which the JSONL file is rotated; default 64 MiB. */
  maxFileBytes?: number;
}

/** A rough size in memory of a logged entry: numbers 8 bytes, strings 2 bytes a character, plus overheads. */
export function entryBytes(entry: InferenceLogEntry): number {
  let bytes = 256 + entry.requestId.length * 2;
  for (const t of [...entry.inputs, ...entry.outputs]) {
    bytes += 96 + t.name.length * 2 + t.shape.length * 8;
    if (t.datatype === "BYTES")
      for (const v of t.data) bytes += 16 + (typeof v === "string" ? v.length * 2 : 0);
    else bytes += t.data.length * 8;
  }
  return bytes;
}

/** The seq at the start of a JSONL file's last line (0 if none), reading only the file's tail. */
export async function lastSeq(file: string): Promise<number> {
  const handle = await open(file, "r").catch(() => undefined);
  if (!handle) return 0;
  try {
    const size = (await handle.stat()).size;
    const CHUNK = 64 * 1024;
    let end = -1; // after the last non-newline byte
    let start = 0; // of the last line
    let pos = size;
    search: while (pos > 0) {
      const from = Math.max(0, pos - CHUNK);
      const buffer = Buffer.alloc(pos - from);
      await handle.read(buffer, 0, buffer.length, from);
      for (let i = buffer.length - 1; i >= 0; i--) {
        const c = buffer[i]!;
        if (end < 0) {
          if (c !== 0x0a && c !== 0x0d) end = from + i + 1;
        } else if (c === 0x0a) {
          start = from + i + 1;
          break search;
        }
      }
      pos = from;
    }
    if (end < 0) return 0;
    const head = Buffer.alloc(Math.min(64, end - start));
    await handle.read(head, 0, head.length, start);
    const match = /^\{"seq":(\d+)/.exec(head.toString("utf8"));
    return match ? Number(match[1]) : 0;
  } finally {
    await handle.close();
  }
}

/** A ring buffer per model (bounded by count and by bytes), plus a JSONL file flushed once a second. */
export class InferenceLog {
  private readonly rings = new Map<
    string,
    { entries: InferenceLogEntry[]; sizes: number[]; head: number; bytes: number }
  >();
  private readonly pending = new Map<string, string[]>();
  private seq = 0;
  private readonly timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  readonly capacity: number;
  readonly maxBytes: number;
  private readonly maxRows: number;
  private readonly maxFileBytes: number;

  constructor(private readonly options: InferenceLogOptions = {}) {
    this.capacity = options.capacity ?? 10_000;
    this.maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.maxRows = options.maxRows ?? LOG_MAX_ROWS;
    this.maxFileBytes = options.maxFileBytes ?? 64 * 1024 * 1024;
    if (options.repository) {
      this.timer = setInterval(() => void this.flush(), 1000);
      this.timer.unref();
    }
  }

  /**
   * Continues the seq numbers of a previous run: the highest seq at the end
   * of the models' JSONL files (only their tails are read).
   */
  async init(): Promise<void> {
    const repository = this.options.repository;
    if (!repository) return;
    const folders = await readdir(repository, { withFileTypes: true }).catch(() => []);
    for (const folder of folders) {
      if (!folder.isDirectory()) continue;
      for (const file of ["inference-log.jsonl", "inference-log.1.jsonl"]) {
        this.seq = Math.max(this.seq, await lastSeq(join(repository, folder.name, file)).catch(() => 0));
      }
    }
  }

  add(entry: Omit<InferenceLogEntry, "seq">): void {
    const full: InferenceLogEntry = {
      seq: ++this.seq,
      ...entry,
      inputs: entry.inputs.map((t) => truncateRows(t, this.maxRows)),
      outputs: entry.outputs.map((t) => truncateRows(t, this.maxRows)),
    };
    let ring = this.rings.get(entry.model);
    if (!ring) {
      ring = { entries: [], sizes: [], head: 0, bytes: 0 };
      this.rings.set(entry.model, ring);
    }
    const size = entryBytes(full);
    ring.entries.push(full);
    ring.sizes.push(size);
    ring.bytes += size;
    // The oldest go first, past the count or the byte budget (the newest entry always stays).
    while (
      ring.entries.length - ring.head > 1 &&
      (ring.entries.length - ring.head > this.capacity || ring.bytes > this.maxBytes)
    ) {
      ring.bytes -= ring.sizes[ring.head]!;
      ring.head++;
    }
    if (ring.head > 1024 && ring.head * 2 > ring.entries.length) {
      ring.entries.splice(0, ring.head);
      ring.sizes.splice(0, ring.head);
      ring.head = 0;
    }
    if (this.options.repository) {
      const lines = this.pending.get(entry.model) ?? [];
      lines.push(JSON.stringify(full));
      this.pending.set(entry.model, lines);
    }
  }

  has(model: string): boolean {
    return this.rings.has(model);
  }

  /** Bytes (estimated) the model's entries hold in memory. */
  bytes(model: string): number {
    return this.rings.get(model)?.bytes ?? 0;
  }

  /** Entries oldest first, after `since` (a seq number, or a time as epoch ms or ISO), the newest `limit`. */
  read(model: string, { limit = 100, since }: { limit?: number; since?: { seq?: number; time?: number } }) {
    const ring = this.rings.get(model);
    if (!ring) return [];
    const after = ring.entries
      .slice(ring.head)
      .filter(
        (e) =>
          (since?.seq === undefined || e.seq > since.seq) &&
          (since?.time === undefined || Date.parse(e.time) > since.time),
      );
    return after.slice(Math.max(0, after.length - limit));
  }

  flush(): Promise<void> {
    const repository = this.options.repository;
    if (!repository || this.pending.size === 0) return this.flushing;
    const batches = [...this.pending];
    this.pending.clear();
    this.flushing = this.flushing.then(async () => {
      for (const [model, lines] of batches) {
        // The model folder exists: only loaded models are logged. Past the size limit, the file
        // becomes inference-log.1.jsonl (replacing the previous one) and a new one starts.
        const file = join(repository, model, "inference-log.jsonl");
        const size = await stat(file).then(
          (s) => s.size,
          () => 0,
        );
        if (size > this.maxFileBytes) {
          await rename(file, join(repository, model, "inference-log.1.jsonl")).catch(() => {});
        }
        await appendFile(file, `${lines.join("\n")}\n`).catch(() => {});
      }
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }
}
