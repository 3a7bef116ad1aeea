/**
 * What a server tells about itself: Prometheus metrics (prom-client, on a
 * registry of its own so two servers in one process do not share counters)
 * and a sampled inference log per model.
 */
import { createReadStream } from "node:fs";
import { appendFile, open, readdir, readFile, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Counter, Histogram, Registry } from "prom-client";
import {
  applyRetention,
  type EntryPrivacy,
  type RetentionResult,
  readRetentionRecord,
  retentionCutoff,
} from "../privacy/log-policy";
import { writeFileAtomic } from "../store/atomic-write";
import type { Role } from "./models";
import { PRIVACY_FILE, PrivacyTable, readServedPrivacy } from "./privacy";
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
  /** Inference log entries deleted from disk to keep a model's log within its byte budget. */
  readonly logDropped = new Counter({
    name: "dagwood_inference_log_dropped_total",
    help: "Inference log entries deleted from disk, oldest first, to keep a model's log within its byte budget",
    labelNames: ["model"] as const,
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
 *   privacy    present when inputs of the version are tagged personal: the
 *              input names the model's log policy hashed (their data is
 *              "hmac:…" text, datatype BYTES), dropped (absent from
 *              `inputs`) or kept in clear (app/privacy/log-policy.ts)
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
  privacy?: EntryPrivacy;
}

export interface InferenceLogOptions {
  /** Entries kept in memory per model. */
  capacity?: number;
  /** Bytes kept in memory per model (the entries' JSON text at 2 bytes a character); default 64 MiB. */
  maxBytes?: number;
  /** Rows logged per tensor; default 100. */
  maxRows?: number;
  /** The repository folder: entries are also appended to <repo>/<name>/inference-log.jsonl. */
  repository?: string;
  /** Bytes on disk per model, all segments together; the oldest segment is deleted past it. Default 128 MiB. */
  maxDiskBytes?: number;
  /** Size at which the JSONL file becomes a segment; default an eighth of maxDiskBytes, at most 64 MiB. */
  maxFileBytes?: number;
  /** Called when entries are deleted from disk for the budget. */
  onDrop?: (model: string, entries: number) => void;
  /** The clock retention counts back from (epoch ms; tests set it). */
  now?: () => number;
  /** How often retention runs (default hourly; it also runs at init). */
  retentionIntervalMs?: number;
  /** Where problems at start are told (a privacy file that cannot be read); never a logged value. */
  log?: (message: string) => void;
  /** Called after a retention pass removed entries of a model (counts only, never values). */
  onRetention?: (model: string, result: RetentionResult) => void;
}

/** What a model's log has lost to its byte budget (`<repo>/<m>/inference-log.dropped.json`). */
export interface LogDropped {
  /** Entries deleted, oldest first, since the log began. */
  entries: number;
  bytes: number;
  /** The highest seq deleted (0: none): a window starting before it is incomplete. */
  throughSeq: number;
  /** The time of that entry (ISO), when known: a window starting before it is incomplete. */
  throughTime?: string;
}

/** Whether a read from `since` has every entry: nothing it reaches back to was deleted for the budget. */
export function windowComplete(dropped: LogDropped, since: LogSince | undefined): boolean {
  if (dropped.entries === 0) return true;
  if (since?.seq !== undefined && since.seq >= dropped.throughSeq) return true;
  if (since?.time !== undefined && dropped.throughTime !== undefined)
    return since.time >= Date.parse(dropped.throughTime);
  return false;
}

export const LOG_FILE = "inference-log.jsonl";
const SEGMENT = /^inference-log\.(\d+)\.jsonl$/;
const DROPPED_FILE = "inference-log.dropped.json";
const MiB = 1024 * 1024;

/** An entry in memory: its JSON line, and what reads filter on. */
interface RingEntry {
  seq: number;
  time: string;
  requestId: string;
  line: string;
}

/** Memory an entry holds: its text (at most 2 bytes a character) and the record around it. */
function lineBytes(line: string): number {
  return 2 * line.length + 96;
}

function parseRing(e: RingEntry): InferenceLogEntry {
  return JSON.parse(e.line) as InferenceLogEntry;
}

/** The `seq` and `time` at the start of a JSONL file's last line (seq 0 if none), reading only the file's tail. */
export async function lastHead(file: string): Promise<{ seq: number; time?: string }> {
  const handle = await open(file, "r").catch(() => undefined);
  if (!handle) return { seq: 0 };
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
    if (end < 0) return { seq: 0 };
    const head = Buffer.alloc(Math.min(128, end - start));
    await handle.read(head, 0, head.length, start);
    return lineHead(head.toString("utf8")) ?? { seq: 0 };
  } finally {
    await handle.close();
  }
}

/** The seq at the start of a JSONL file's last line (0 if none), reading only the file's tail. */
export async function lastSeq(file: string): Promise<number> {
  return (await lastHead(file)).seq;
}

/** `seq` and `time` read from the start of a log line as the log writes it (a line cut by a crash keeps them). */
function lineHead(line: string): { seq: number; time?: string } | undefined {
  const match = /^\{"seq":(\d+)(?:,"time":"([^"]+)")?/.exec(line);
  if (!match) return undefined;
  return match[2] === undefined ? { seq: Number(match[1]) } : { seq: Number(match[1]), time: match[2] };
}

/**
 * A model's inference log files in a repository folder, oldest first (the
 * numbered segments, then the current file), read-only: for readers beside
 * a running server (app/monitoring/inference-log.ts).
 */
export async function logFiles(modelDir: string): Promise<string[]> {
  const names = await readdir(modelDir).catch(() => [] as string[]);
  const segments = names
    .map((n) => SEGMENT.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((x, y) => x - y)
    .map((n) => `inference-log.${n}.jsonl`);
  return [...segments, ...(names.includes(LOG_FILE) ? [LOG_FILE] : [])].map((f) => join(modelDir, f));
}

/** What a model's log lost to its byte budget, from its folder (zeros if nothing was dropped). */
export async function readLogDropped(modelDir: string): Promise<LogDropped> {
  try {
    const d = JSON.parse(await readFile(join(modelDir, DROPPED_FILE), "utf8")) as Partial<LogDropped>;
    return {
      entries: Number(d.entries) || 0,
      bytes: Number(d.bytes) || 0,
      throughSeq: Number(d.throughSeq) || 0,
      ...(typeof d.throughTime === "string" ? { throughTime: d.throughTime } : {}),
    };
  } catch {
    return { entries: 0, bytes: 0, throughSeq: 0 };
  }
}

/** Newlines in a file (its complete lines), read as a stream. */
async function countLines(file: string): Promise<number> {
  let lines = 0;
  for await (const chunk of createReadStream(file)) {
    const buffer = chunk as Buffer;
    let at = buffer.indexOf(0x0a);
    while (at >= 0) {
      lines++;
      at = buffer.indexOf(0x0a, at + 1);
    }
  }
  return lines;
}

/** A model's log on disk: the current file, the older segments (oldest first) and what the budget deleted. */
interface DiskLog {
  current: number;
  segments: { n: number; bytes: number }[];
  dropped: LogDropped;
}

/** Where `since` starts a read: after a seq number, or after a time (epoch ms). */
export interface LogSince {
  seq?: number;
  time?: number;
}

function after(since: LogSince | undefined, seq: number, time: string | undefined): boolean {
  return (
    (since?.seq === undefined || seq > since.seq) &&
    (since?.time === undefined || time === undefined || Date.parse(time) > since.time)
  );
}

/** A page of the log read forward from `since`. */
export interface LogPage {
  entries: InferenceLogEntry[];
  /** More entries follow: read again with `since` = the last entry's seq. */
  more: boolean;
}

/**
 * A ring buffer per model (bounded by count and by bytes) for the newest
 * entries, plus, with a repository, a JSONL file per model flushed once a
 * second. On disk, past `maxFileBytes` the file becomes a numbered segment
 * (`inference-log.<n>.jsonl`, n increasing) and a new one starts; past
 * `maxDiskBytes` per model the oldest segment is deleted and its entries
 * counted as dropped — the budget never refuses a request or skips an entry.
 */
export class InferenceLog {
  /**
   * The newest entries per model, each kept as its JSON line (the one written
   * to disk): one flat string an entry instead of a tree of objects, which
   * the garbage collector would trace on every major collection.
   */
  private readonly rings = new Map<string, { entries: RingEntry[]; head: number; bytes: number }>();
  private readonly pending = new Map<string, string[]>();
  private readonly disks = new Map<string, Promise<DiskLog>>();
  /** Request ids logged per model, once asked for (`knownIds`): for feedback. */
  private readonly ids = new Map<string, Set<string>>();
  private readonly idsLoading = new Map<string, Promise<Set<string>>>();
  private cap = 1_000_000;
  private seq = 0;
  private readonly timer: NodeJS.Timeout | undefined;
  private retentionTimer: NodeJS.Timeout | undefined;
  /** Per model: its log policy, key and tagged inputs per version (privacy.json), applied in `add`. */
  readonly privacy = new PrivacyTable();
  private flushing: Promise<void> = Promise.resolve();
  readonly capacity: number;
  readonly maxBytes: number;
  readonly maxRows: number;
  readonly maxDiskBytes: number;
  readonly maxFileBytes: number;

  constructor(private readonly options: InferenceLogOptions = {}) {
    this.capacity = options.capacity ?? 10_000;
    this.maxBytes = options.maxBytes ?? 64 * MiB;
    this.maxRows = options.maxRows ?? LOG_MAX_ROWS;
    this.maxDiskBytes = options.maxDiskBytes ?? 128 * MiB;
    this.maxFileBytes =
      options.maxFileBytes ?? Math.min(64 * MiB, Math.max(4096, Math.floor(this.maxDiskBytes / 8)));
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
      const files = await readdir(join(repository, folder.name)).catch(() => [] as string[]);
      for (const file of files.filter((f) => f === LOG_FILE || SEGMENT.test(f))) {
        this.seq = Math.max(this.seq, await lastSeq(join(repository, folder.name, file)).catch(() => 0));
      }
      const dropped = await this.readDropped(folder.name);
      this.seq = Math.max(this.seq, dropped.throughSeq);
      const retained = await readRetentionRecord(join(repository, folder.name));
      this.seq = Math.max(this.seq, retained.throughSeq);
      // A privacy file that cannot be read: which inputs are tagged is unknown, so the model's
      // entries keep no input (never one in clear) until a load (a deploy) writes it again.
      try {
        this.privacy.set(folder.name, await readServedPrivacy(join(repository, folder.name)));
      } catch (e) {
        this.privacy.setUnreadable(folder.name);
        this.options.log?.(
          `${PRIVACY_FILE} of model ${folder.name} cannot be read (${(e as Error).message}): its log entries' inputs are left out until a deploy loads it again`,
        );
      }
    }
    await this.retain().catch(() => {});
    this.retentionTimer = setInterval(
      () => void this.retain().catch(() => {}),
      this.options.retentionIntervalMs ?? 3_600_000,
    );
    this.retentionTimer.unref();
  }

  /**
   * Deletes the entries older than each model's retention (its policy's
   * `retentionDays`), on disk between flushes and in memory. Answers what
   * was removed, per model with a retention.
   */
  async retain(): Promise<Map<string, RetentionResult>> {
    const results = new Map<string, RetentionResult>();
    const repository = this.options.repository;
    const now = (this.options.now ?? Date.now)();
    for (const [model, days] of this.privacy.retentions()) {
      const cutoff = retentionCutoff(days, now);
      const ring = this.rings.get(model);
      if (ring) {
        const kept = ring.entries.slice(ring.head).filter((e) => Date.parse(e.time) > cutoff);
        ring.entries = kept;
        ring.head = 0;
        ring.bytes = kept.reduce((sum, e) => sum + lineBytes(e.line), 0);
      }
      if (!repository) continue;
      await this.flush();
      const result = await this.exclusive(async () => {
        const r = await applyRetention(join(repository, model), cutoff);
        // Sizes and segments are read again from disk by the next append.
        if (r.entries > 0) this.disks.delete(model);
        return r;
      });
      results.set(model, result);
      if (result.entries > 0) this.options.onRetention?.(model, result);
    }
    return results;
  }

  add(entry: Omit<InferenceLogEntry, "seq">): void {
    // Tagged inputs are hashed or dropped before the entry exists anywhere (memory, disk, the log API).
    const inputs = entry.inputs.map((t) => truncateRows(t, this.maxRows));
    const kept = this.privacy.apply(entry.model, entry.version, inputs);
    // seq and time lead each line: readers filter on them before parsing the rest (lineHead).
    const full: InferenceLogEntry = {
      seq: ++this.seq,
      time: entry.time,
      requestId: entry.requestId,
      model: entry.model,
      version: entry.version,
      role: entry.role,
      latencyMs: entry.latencyMs,
      inputs: kept.inputs,
      outputs: entry.outputs.map((t) => truncateRows(t, this.maxRows)),
      ...(kept.privacy ? { privacy: kept.privacy } : {}),
    };
    let ring = this.rings.get(entry.model);
    if (!ring) {
      ring = { entries: [], head: 0, bytes: 0 };
      this.rings.set(entry.model, ring);
    }
    const line = JSON.stringify(full);
    ring.entries.push({ seq: full.seq, time: full.time, requestId: full.requestId, line });
    ring.bytes += lineBytes(line);
    // The oldest go first, past the count or the byte budget (the newest entry always stays).
    while (
      ring.entries.length - ring.head > 1 &&
      (ring.entries.length - ring.head > this.capacity || ring.bytes > this.maxBytes)
    ) {
      ring.bytes -= lineBytes(ring.entries[ring.head]!.line);
      ring.head++;
    }
    if (ring.head > 1024 && ring.head * 2 > ring.entries.length) {
      ring.entries.splice(0, ring.head);
      ring.head = 0;
    }
    const ids = this.ids.get(entry.model);
    if (ids) {
      ids.add(full.requestId);
      if (ids.size > this.cap) ids.delete(ids.values().next().value!);
    }
    if (this.options.repository) {
      const lines = this.pending.get(entry.model) ?? [];
      lines.push(line);
      this.pending.set(entry.model, lines);
    }
  }

  has(model: string): boolean {
    return this.rings.has(model);
  }

  /** Bytes the model's entries hold in memory (their JSON text, and a little for each). */
  bytes(model: string): number {
    return this.rings.get(model)?.bytes ?? 0;
  }

  /** Entries oldest first, after `since` (a seq number, or a time as epoch ms or ISO), the newest `limit`, from memory. */
  read(model: string, { limit = 100, since }: { limit?: number; since?: LogSince }) {
    const ring = this.rings.get(model);
    if (!ring) return [];
    const kept = ring.entries.slice(ring.head).filter((e) => after(since, e.seq, e.time));
    return kept.slice(Math.max(0, kept.length - limit)).map(parseRing);
  }

  /**
   * Entries after `since`, oldest first, at most `limit` and about `maxBytes`
   * of JSON (at least one): every entry still on disk (the segments, then the
   * current file, after a flush), or, without a repository, in memory.
   */
  async readForward(
    model: string,
    { since, limit = 100, maxBytes = 16 * MiB }: { since?: LogSince; limit?: number; maxBytes?: number },
  ): Promise<LogPage> {
    const repository = this.options.repository;
    if (!repository) {
      const ring = this.rings.get(model);
      const kept = ring ? ring.entries.slice(ring.head).filter((e) => after(since, e.seq, e.time)) : [];
      return { entries: kept.slice(0, limit).map(parseRing), more: kept.length > limit };
    }
    await this.flush();
    return this.exclusive(() => this.readDisk(model, since, limit, maxBytes));
  }

  /** Runs `task` between flushes, so no segment is renamed or deleted under it. */
  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const result = this.flushing.then(task);
    this.flushing = result.then(
      () => {},
      () => {},
    );
    return result;
  }

  /** The model's log files, oldest first. */
  private async files(model: string): Promise<string[]> {
    const disk = await this.disk(model);
    const dir = join(this.options.repository!, model);
    return [...disk.segments.map((s) => `inference-log.${s.n}.jsonl`), LOG_FILE].map((f) => join(dir, f));
  }

  private async readDisk(model: string, since: LogSince | undefined, limit: number, maxBytes: number) {
    const entries: InferenceLogEntry[] = [];
    let bytes = 0;
    for (const path of await this.files(model)) {
      // A whole segment before the window is skipped on its last line.
      const last = await lastHead(path);
      if (last.seq === 0 || !after(since, last.seq, last.time)) continue;
      const input = createReadStream(path);
      const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
      for await (const line of lines) {
        const head = lineHead(line);
        if (!head || !after(since, head.seq, head.time)) continue;
        let entry: InferenceLogEntry;
        try {
          entry = JSON.parse(line) as InferenceLogEntry;
        } catch {
          continue; // a line cut by a crash
        }
        if (!after(since, entry.seq, entry.time)) continue;
        if (entries.length >= limit || (entries.length > 0 && bytes + line.length > maxBytes)) {
          input.destroy();
          return { entries, more: true };
        }
        entries.push(entry);
        bytes += line.length;
      }
    }
    return { entries, more: false };
  }

  /** What the model's log lost to the byte budget (zeros without a repository). */
  async dropped(model: string): Promise<LogDropped> {
    if (!this.options.repository) return { entries: 0, bytes: 0, throughSeq: 0 };
    return { ...(await this.disk(model)).dropped };
  }

  /**
   * The request ids of a model's logged entries (those on disk, read once,
   * then every one logged since), for feedback to tell a known request from
   * an unknown one. At most `cap` ids: past it, the oldest are forgotten.
   */
  knownIds(model: string, cap = 1_000_000): Promise<Set<string>> {
    let loading = this.idsLoading.get(model);
    if (!loading) {
      loading = this.loadIds(model, cap);
      this.idsLoading.set(model, loading);
      loading.catch(() => this.idsLoading.delete(model));
    }
    return loading;
  }

  private async loadIds(model: string, cap: number): Promise<Set<string>> {
    // Entries logged from here on are added to `since` by add(); the earlier ones are on disk after the flush.
    const since = new Set<string>();
    this.ids.set(model, since);
    const older = new Set<string>();
    if (this.options.repository) {
      await this.flush();
      await this.exclusive(async () => {
        for (const path of await this.files(model)) {
          const input = createReadStream(path);
          const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
          try {
            for await (const line of lines) {
              const match = /"requestId":"((?:[^"\\]|\\.)*)"/.exec(line.slice(0, 4096));
              if (match) older.add(JSON.parse(`"${match[1]}"`) as string);
            }
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
          } finally {
            input.destroy();
          }
        }
      });
    } else {
      const ring = this.rings.get(model);
      for (const e of ring?.entries.slice(ring.head) ?? []) older.add(e.requestId);
    }
    const merged = new Set([...older, ...since]);
    for (const id of merged) {
      if (merged.size <= cap) break;
      merged.delete(id);
    }
    this.ids.set(model, merged);
    this.cap = cap;
    return merged;
  }

  private readDropped(model: string): Promise<LogDropped> {
    return readLogDropped(join(this.options.repository!, model));
  }

  /** The model's files on disk, read once: segment sizes, the current file's size, the drop count. */
  private disk(model: string): Promise<DiskLog> {
    let disk = this.disks.get(model);
    if (!disk) {
      disk = (async () => {
        const dir = join(this.options.repository!, model);
        const names = await readdir(dir).catch(() => [] as string[]);
        const segments: DiskLog["segments"] = [];
        for (const name of names) {
          const match = SEGMENT.exec(name);
          if (match) segments.push({ n: Number(match[1]), bytes: (await stat(join(dir, name))).size });
        }
        segments.sort((a, b) => a.n - b.n);
        const current = await stat(join(dir, LOG_FILE)).then(
          (s) => s.size,
          () => 0,
        );
        // A last line cut by a crash gets its newline, so the next entry starts a line of its own.
        if (current > 0) {
          const handle = await open(join(dir, LOG_FILE), "r");
          const last = Buffer.alloc(1);
          await handle.read(last, 0, 1, current - 1).finally(() => handle.close());
          if (last[0] !== 0x0a) {
            await appendFile(join(dir, LOG_FILE), "\n");
            return { current: current + 1, segments, dropped: await this.readDropped(model) };
          }
        }
        return { current, segments, dropped: await this.readDropped(model) };
      })();
      this.disks.set(model, disk);
      disk.catch(() => this.disks.delete(model));
    }
    return disk;
  }

  /** Appends a batch to the model's file, making room first: rotate past the file size, drop past the budget. */
  private async append(model: string, text: string): Promise<void> {
    const dir = join(this.options.repository!, model);
    const disk = await this.disk(model);
    const size = Buffer.byteLength(text);
    if (disk.current > 0 && disk.current + size > this.maxFileBytes) {
      const n = (disk.segments[disk.segments.length - 1]?.n ?? 0) + 1;
      await rename(join(dir, LOG_FILE), join(dir, `inference-log.${n}.jsonl`));
      disk.segments.push({ n, bytes: disk.current });
      disk.current = 0;
    }
    const total = () => disk.segments.reduce((sum, s) => sum + s.bytes, disk.current) + size;
    let dropped = 0;
    while (disk.segments.length > 0 && total() > this.maxDiskBytes) {
      const oldest = disk.segments[0]!;
      const file = join(dir, `inference-log.${oldest.n}.jsonl`);
      const lines = await countLines(file);
      const { seq, time } = await lastHead(file);
      await unlink(file);
      disk.segments.shift();
      disk.dropped = {
        entries: disk.dropped.entries + lines,
        bytes: disk.dropped.bytes + oldest.bytes,
        throughSeq: Math.max(disk.dropped.throughSeq, seq),
        ...(time ? { throughTime: time } : {}),
      };
      dropped += lines;
    }
    if (dropped > 0) {
      await writeFileAtomic(join(dir, DROPPED_FILE), JSON.stringify(disk.dropped));
      this.options.onDrop?.(model, dropped);
    }
    await appendFile(join(dir, LOG_FILE), text);
    disk.current += size;
  }

  flush(): Promise<void> {
    const repository = this.options.repository;
    if (!repository || this.pending.size === 0) return this.flushing;
    const batches = [...this.pending];
    this.pending.clear();
    this.flushing = this.flushing.then(async () => {
      for (const [model, lines] of batches) {
        // The model folder exists: only loaded models are logged. A failed write loses this
        // batch, never the server.
        await this.append(model, `${lines.join("\n")}\n`).catch(() => {});
      }
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    await this.flush();
  }
}

/**
 * Rewrites one inference-log file (a segment or the current file) entry by
 * entry, for erasure (app/privacy/erase.ts): `edit` answers the entry
 * unchanged (the same object: its line is kept byte for byte), a changed
 * entry (written anew) or null (the entry goes). The new file is written
 * beside the old one under a dot name, fsynced and renamed over it, so a
 * crash leaves the old file or the new one, never half of one; a file
 * nothing changed in is left alone. A line cut by a crash is kept as it is.
 * Offline only: a server running on the repository appends to and rotates
 * these files (the caller checks that none runs).
 */
export async function rewriteLogFile(
  file: string,
  edit: (entry: InferenceLogEntry) => InferenceLogEntry | null,
): Promise<{ entries: number; changed: number; removed: number }> {
  const out: string[] = [];
  let entries = 0;
  let changed = 0;
  let removed = 0;
  const input = createReadStream(file);
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  try {
    for await (const line of lines) {
      if (line === "") continue;
      let entry: InferenceLogEntry;
      try {
        entry = JSON.parse(line) as InferenceLogEntry;
      } catch {
        out.push(line);
        continue;
      }
      entries++;
      const next = edit(entry);
      if (next === null) removed++;
      else if (next === entry) out.push(line);
      else {
        changed++;
        out.push(JSON.stringify(next));
      }
    }
  } finally {
    input.destroy();
  }
  if (changed > 0 || removed > 0) await writeFileAtomic(file, out.length ? `${out.join("\n")}\n` : "");
  return { entries, changed, removed };
}
