/**
 * What the inference log keeps of a model's tagged inputs (issue 19, "Keep it
 * out of places it does not need to be"), and how long it keeps entries.
 *
 * The tagged inputs of a version are the inputs its lineage records as
 * personal (ModelLineage.personalData[].input). The model's policy
 * (dagwood.json `privacy.models.<name>`, else `privacy.inferenceLog`) says
 * what happens to them in each logged entry:
 *
 *   hash   each value becomes hashValue(projectKey, value) — "hmac:" + 32 hex
 *          of HMAC-SHA256 over the value's text (secret.ts): equal values give
 *          equal hashes, so feedback joins by request id and drift over
 *          categories keep working. A numeric input is hashed as its decimal
 *          text and logged as a BYTES tensor of hashes: it is no longer a
 *          number, and monitoring leaves it out of numeric drift (saying so).
 *   drop   the input's tensor is left out of the entry.
 *   clear  the value as sent (the user chose it; the Deployments view warns).
 *
 * Every entry that had tagged inputs says what was done in `privacy`
 * ({ hashed, dropped, clear }: input names), so a reader knows a dropped
 * input is absent by policy, not a missing value.
 *
 * Retention: entries older than `retentionDays` are deleted, whole files
 * where every entry is older, and the file holding the cut rewritten without
 * its older lines (a temp file renamed over it: a crash leaves the old file
 * or the new one). The server does it at start and hourly; `dagwood privacy
 * retention` does it for a local repository.
 */

import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, readdir, readFile, rename, rm, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fsyncDir, writeFileAtomic } from "../store/atomic-write";
import type { ModelLineage } from "../values/registry";
import { hashValue } from "./secret";
import {
  type LogPolicy,
  LogPolicySchema,
  type LogTaggedAction,
  logPolicyFor,
  type PrivacySettings,
} from "./types";

export { logPolicyFor };

/** A V2 tensor as the log keeps it (structurally app/serving/tensors.ts V2Tensor). */
export interface LoggedTensor {
  name: string;
  datatype: string;
  shape: number[];
  data: unknown[];
  truncated?: boolean;
}

/** What an entry's tagged inputs went through: input names per action (only the actions that applied). */
export interface EntryPrivacy {
  hashed?: string[];
  dropped?: string[];
  clear?: string[];
}

/** The inputs of a version that carry a personal tag (its lineage's personalData), sorted, no repeats. */
export function taggedInputsOf(lineage: Pick<ModelLineage, "personalData"> | null | undefined): string[] {
  const uses = lineage?.personalData ?? [];
  return [...new Set(uses.map((u) => u.input))].sort();
}

/**
 * The log entry's inputs under the policy: tagged inputs hashed (with `key`),
 * dropped or kept; others as they are. `privacy` is undefined when no input
 * of the entry is tagged.
 */
export function applyLogPolicy<T extends LoggedTensor>(
  inputs: readonly T[],
  tagged: ReadonlySet<string>,
  action: LogTaggedAction,
  key: Buffer | undefined,
): { inputs: (T | LoggedTensor)[]; privacy?: EntryPrivacy } {
  if (tagged.size === 0 || !inputs.some((t) => tagged.has(t.name))) return { inputs: [...inputs] };
  if (action === "hash" && !key) throw new Error("hashing tagged inputs needs the project's privacy key");
  const out: (T | LoggedTensor)[] = [];
  const names: string[] = [];
  for (const t of inputs) {
    if (!tagged.has(t.name)) {
      out.push(t);
      continue;
    }
    names.push(t.name);
    if (action === "drop") continue;
    if (action === "clear") out.push(t);
    else
      out.push({
        ...t,
        datatype: "BYTES",
        // "" is what a model reads as a missing text (app/ml/preprocess.ts MISSING_TEXT): no value to hide.
        data: t.data.map((v) => (v === "" ? "" : hashValue(key!, v))),
      });
  }
  const field = action === "hash" ? "hashed" : action === "drop" ? "dropped" : "clear";
  return { inputs: out, privacy: { [field]: names } };
}

/** "personal inputs: email_domain hashed · kept 30 days", as the Deployments view and the CLI say a policy. */
export function describeLogPolicy(policy: LogPolicy, tagged: readonly string[]): string {
  const kept =
    policy.retentionDays === undefined
      ? "kept until the log's size budget deletes them"
      : `kept ${policy.retentionDays} day${policy.retentionDays === 1 ? "" : "s"}`;
  if (tagged.length === 0) return `no personal inputs · ${kept}`;
  const what = policy.tagged === "hash" ? "hashed" : policy.tagged === "drop" ? "dropped" : "logged IN CLEAR";
  return `personal inputs: ${tagged.join(", ")} ${what} · ${kept}`;
}

/**
 * A model's policy from the project's settings, with a clear error when the
 * value is not one (readProjectSettings already refuses a bad dagwood.json;
 * this checks a policy given another way, e.g. a deploy parameter).
 */
export function checkLogPolicy(value: unknown, where: string): LogPolicy {
  const parsed = LogPolicySchema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((i) => `${[where, ...i.path.map(String)].join(".")}: ${i.message}`)
      .join("; ");
    throw new Error(
      `${problems} (tagged is one of hash, drop, clear; retentionDays a whole number of days from 1)`,
    );
  }
  return parsed.data;
}

/** The policy a model follows in this project (its override, else the default). */
export function projectLogPolicy(settings: { privacy: PrivacySettings }, model: string): LogPolicy {
  return logPolicyFor(settings.privacy, model);
}

// ---- retention ------------------------------------------------------------------------------------

const LOG_FILE = "inference-log.jsonl";
const SEGMENT = /^inference-log\.(\d+)\.jsonl$/;
/** Temp files of a retention rewrite (a crash may leave one; the next run removes it). */
const TEMP = /^\.inference-log\..*\.tmp$/;

/** What a retention pass removed from one model's log. */
export interface RetentionResult {
  /** Entries removed (older than the cutoff). */
  entries: number;
  /** Whole files deleted, and files rewritten without their older lines (names). */
  deletedFiles: string[];
  rewrittenFiles: string[];
  /** The cutoff (ISO): entries at or before it were removed. */
  cutoff: string;
  /** The oldest entry's time removed and the newest, when any was. */
  oldest?: string;
  newest?: string;
}

/** The cutoff of a retention: `now` minus `days` days (epoch ms). */
export function retentionCutoff(days: number, now: number): number {
  if (!Number.isInteger(days) || days < 1)
    throw new Error(`retention must be a whole number of days from 1, not ${days}`);
  return now - days * 86_400_000;
}

/** `seq` and `time` at the start of a log line (the log writes `{"seq":N,"time":"…"` first). */
function headOf(line: string): { seq: number; time: number } | undefined {
  const match = /^\{"seq":(\d+),"time":"([^"]+)"/.exec(line);
  if (!match) return undefined;
  const time = Date.parse(match[2]!);
  return Number.isNaN(time) ? undefined : { seq: Number(match[1]), time };
}

function timeOf(line: string): number | undefined {
  return headOf(line)?.time;
}

/** What retention removed from a model's log, ever (`<repo>/<m>/inference-log.retention.json`). */
export interface RetentionRecord {
  entries: number;
  /** The highest seq removed: a restarted server continues after it even when every file went. */
  throughSeq: number;
  throughTime?: string;
}
export const RETENTION_FILE = "inference-log.retention.json";

/** A model's retention record (zeros when nothing was removed). */
export async function readRetentionRecord(modelDir: string): Promise<RetentionRecord> {
  try {
    const r = JSON.parse(await readFile(join(modelDir, RETENTION_FILE), "utf8")) as Partial<RetentionRecord>;
    return {
      entries: Number(r.entries) || 0,
      throughSeq: Number(r.throughSeq) || 0,
      ...(typeof r.throughTime === "string" ? { throughTime: r.throughTime } : {}),
    };
  } catch {
    return { entries: 0, throughSeq: 0 };
  }
}

/** A model's log files, oldest first (segments by number, then the current file). */
async function files(modelDir: string): Promise<string[]> {
  const names = await readdir(modelDir).catch(() => [] as string[]);
  const segments = names
    .map((n) => SEGMENT.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(a[1]) - Number(b[1]))
    .map((m) => m[0]);
  return [...segments, ...(names.includes(LOG_FILE) ? [LOG_FILE] : [])];
}

/**
 * Scans a file: whether it holds any entry after the cutoff and how many at
 * or before it (with their times). Lines that are not entries (cut by a
 * crash) count with the older ones when they come before a kept line.
 */
async function scan(path: string, cutoff: number) {
  let older = 0;
  let newer = 0;
  let oldest: number | undefined;
  let newest: number | undefined;
  let maxSeq = 0;
  const input = createReadStream(path);
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  try {
    for await (const line of lines) {
      if (line === "") continue;
      const head = headOf(line);
      const t = head?.time;
      if (t !== undefined && t > cutoff) {
        newer++;
        continue;
      }
      if (t === undefined) continue;
      older++;
      maxSeq = Math.max(maxSeq, head!.seq);
      oldest = oldest === undefined ? t : Math.min(oldest, t);
      newest = newest === undefined ? t : Math.max(newest, t);
    }
  } finally {
    input.destroy();
  }
  return { older, newer, oldest, newest, maxSeq };
}

/** Rewrites `path` keeping only the lines after the cutoff: a temp file beside it, fsynced, renamed over it. */
async function rewriteNewer(path: string, cutoff: number): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const out = await open(temp, "wx");
  try {
    const input = createReadStream(path);
    const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
    let batch: string[] = [];
    try {
      for await (const line of lines) {
        if (line === "") continue;
        const t = timeOf(line);
        if (t === undefined || t <= cutoff) continue;
        batch.push(line);
        if (batch.length >= 1000) {
          await out.write(`${batch.join("\n")}\n`);
          batch = [];
        }
      }
    } finally {
      input.destroy();
    }
    if (batch.length) await out.write(`${batch.join("\n")}\n`);
    await out.sync();
    await out.close();
    await rename(temp, path);
  } catch (e) {
    await out.close().catch(() => {});
    await rm(temp, { force: true });
    throw e;
  }
  await fsyncDir(dirname(path));
}

/**
 * Deletes a model's log entries at or before `cutoff` (epoch ms) from its
 * folder: whole files whose every entry is older, and the others rewritten
 * without their older lines. `dryRun`: only counts. The caller makes sure no
 * writer appends meanwhile (the server runs it between its flushes; the CLI
 * refuses while a server holds the repository).
 */
export async function applyRetention(
  modelDir: string,
  cutoff: number,
  { dryRun = false }: { dryRun?: boolean } = {},
): Promise<RetentionResult> {
  const result: RetentionResult = {
    entries: 0,
    deletedFiles: [],
    rewrittenFiles: [],
    cutoff: new Date(cutoff).toISOString(),
  };
  if (!dryRun) {
    // What an interrupted rewrite left: never a log file (the rename had not happened).
    for (const name of await readdir(modelDir).catch(() => [] as string[]))
      if (TEMP.test(name)) await rm(join(modelDir, name), { force: true });
  }
  let oldest: number | undefined;
  let newest: number | undefined;
  let throughSeq = 0;
  for (const name of await files(modelDir)) {
    const path = join(modelDir, name);
    let found: Awaited<ReturnType<typeof scan>>;
    try {
      found = await scan(path, cutoff);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw e;
    }
    if (found.older === 0) continue;
    result.entries += found.older;
    throughSeq = Math.max(throughSeq, found.maxSeq);
    if (found.oldest !== undefined) oldest = Math.min(oldest ?? found.oldest, found.oldest);
    if (found.newest !== undefined) newest = Math.max(newest ?? found.newest, found.newest);
    if (found.newer === 0) {
      result.deletedFiles.push(name);
      if (!dryRun) {
        // The current file is emptied in place (the writer appends to it), a segment deleted.
        if (name === LOG_FILE) await rewriteNewer(path, cutoff);
        else
          await unlink(path).catch((e: NodeJS.ErrnoException) => {
            if (e.code !== "ENOENT") throw e;
          });
      }
    } else {
      result.rewrittenFiles.push(name);
      if (!dryRun) await rewriteNewer(path, cutoff);
    }
  }
  if (oldest !== undefined) result.oldest = new Date(oldest).toISOString();
  if (newest !== undefined) result.newest = new Date(newest).toISOString();
  if (!dryRun && result.entries > 0) {
    const before = await readRetentionRecord(modelDir);
    const record: RetentionRecord = {
      entries: before.entries + result.entries,
      throughSeq: Math.max(before.throughSeq, throughSeq),
      ...(result.newest ? { throughTime: result.newest } : {}),
    };
    await writeFileAtomic(join(modelDir, RETENTION_FILE), `${JSON.stringify(record)}\n`);
  }
  return result;
}
