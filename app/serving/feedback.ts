/**
 * Ground-truth labels sent after the fact (`POST /v2/models/{name}/feedback`),
 * kept per model beside the inference log in `<repo>/<name>/feedback.jsonl`:
 * one line per label, appended and fsynced before the answer, never
 * rewritten. A line cut by a crash is skipped by readers and the next append
 * starts a line of its own. A request id labelled twice keeps its latest
 * label (the last line wins); the answer says which ids it replaced. A
 * request of several rows is labelled row by row, as `<request id>/<row>`
 * (row from 0).
 *
 *   {"seq":1,"time":"2026-…Z","id":"<request id>","label":"Adelie"}
 */
import { createReadStream } from "node:fs";
import { appendFile, open, stat } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { LogSince } from "./observability";
import { RequestError } from "./tensors";

export const FEEDBACK_FILE = "feedback.jsonl";
/** The body limit of a feedback call: 1 MiB (a batch of 10,000 short ids and labels fits). */
export const FEEDBACK_BODY_LIMIT = 1024 * 1024;
/** Labels in one call at most. */
export const FEEDBACK_MAX_BATCH = 10_000;
const MAX_ID = 256;
const MAX_LABEL = 4096;

/** A label: a class name, a number (regression), or a boolean. */
export type FeedbackLabel = string | number | boolean;

export interface FeedbackItem {
  id: string;
  label: FeedbackLabel;
}

export interface FeedbackRecord extends FeedbackItem {
  /** Increasing per model: the line number in feedback.jsonl (a `since` key). */
  seq: number;
  /** When the server received it, ISO 8601. */
  time: string;
}

export interface FeedbackAnswer {
  /** Labels stored, known ids or not. */
  accepted: number;
  /** Ids the inference log does not hold (stored anyway: the request may have been sampled out). */
  unknownIds: string[];
  /** Ids that had a label already (also earlier in the same batch): the new label replaces it. */
  replacedIds: string[];
}

function item(value: unknown, where: string): FeedbackItem {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new RequestError(`${where} must be an object {"id": "<request id>", "label": <value>}`);
  const { id, label, ...rest } = value as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0)
    throw new RequestError(
      `${where} has unknown key ${JSON.stringify(extra[0])}; give only "id" and "label"`,
    );
  if (typeof id !== "string" || id === "" || id.length > MAX_ID)
    throw new RequestError(
      `${where}: "id" must be the request's id, a non-empty string of at most ${MAX_ID} characters (the "id" sent with the infer request, or its x-dagwood-request-id header)`,
    );
  if (label === undefined) throw new RequestError(`${where} has no "label"`);
  const ok =
    (typeof label === "string" && label.length <= MAX_LABEL) ||
    (typeof label === "number" && Number.isFinite(label)) ||
    typeof label === "boolean";
  if (!ok)
    throw new RequestError(
      `${where}: "label" must be a string (at most ${MAX_LABEL} characters), a finite number or a boolean, not ${JSON.stringify(label)?.slice(0, 40) ?? typeof label}`,
    );
  return { id, label: label as FeedbackLabel };
}

/** The labels of a feedback body: `{id, label}` or `{feedback: [{id, label}, …]}` (at most 10,000). */
export function parseFeedback(body: unknown): FeedbackItem[] {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new RequestError(
      'the feedback must be a JSON object: {"id", "label"} or {"feedback": [{"id", "label"}, …]}',
    );
  const b = body as Record<string, unknown>;
  if (b.feedback === undefined) return [item(b, "the feedback")];
  if (Object.keys(b).length > 1)
    throw new RequestError('give either {"id", "label"} or {"feedback": [...]}, not both');
  if (!Array.isArray(b.feedback)) throw new RequestError('"feedback" must be an array of {"id", "label"}');
  if (b.feedback.length === 0) throw new RequestError('"feedback" is empty');
  if (b.feedback.length > FEEDBACK_MAX_BATCH)
    throw new RequestError(
      `"feedback" has ${b.feedback.length} labels; send at most ${FEEDBACK_MAX_BATCH} per call`,
      413,
    );
  return b.feedback.map((f, i) => item(f, `feedback[${i}]`));
}

/**
 * Whether the log holds the request a label is for: its id, or
 * `<request id>/<row>` for one row of a request of several rows.
 */
function isKnown(id: string, known: ReadonlySet<string>): boolean {
  if (known.has(id)) return true;
  const row = /^(.*)\/(0|[1-9][0-9]*)$/.exec(id);
  return row !== null && known.has(row[1]!);
}

interface ModelFeedback {
  /** Ids labelled so far. */
  ids: Set<string>;
  seq: number;
}

/** Reads feedback lines in order, skipping blank lines and a line cut by a crash. */
async function* records(file: string): AsyncGenerator<FeedbackRecord> {
  const input = createReadStream(file);
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  try {
    for await (const line of lines) {
      if (line.trim() === "") continue;
      let record: FeedbackRecord;
      try {
        record = JSON.parse(line) as FeedbackRecord;
      } catch {
        continue;
      }
      if (typeof record.id === "string" && typeof record.seq === "number") yield record;
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  } finally {
    input.destroy();
  }
}

export class FeedbackStore {
  private readonly models = new Map<string, ModelFeedback>();
  /** One write or read at a time per model, in arrival order. */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly repository: string) {}

  file(model: string): string {
    return join(this.repository, model, FEEDBACK_FILE);
  }

  private queued<T>(model: string, task: () => Promise<T>): Promise<T> {
    const result = (this.queues.get(model) ?? Promise.resolve()).then(task);
    this.queues.set(
      model,
      result.catch(() => {}),
    );
    return result;
  }

  /** What the file holds, read once: the ids labelled and the last seq; a cut last line gets its newline. */
  private async state(model: string): Promise<ModelFeedback> {
    let state = this.models.get(model);
    if (state) return state;
    state = { ids: new Set(), seq: 0 };
    const file = this.file(model);
    for await (const r of records(file)) {
      state.ids.add(r.id);
      state.seq = Math.max(state.seq, r.seq);
    }
    const size = await stat(file).then(
      (s) => s.size,
      () => 0,
    );
    if (size > 0) {
      const handle = await open(file, "r");
      const last = Buffer.alloc(1);
      await handle.read(last, 0, 1, size - 1).finally(() => handle.close());
      if (last[0] !== 0x0a) await appendFile(file, "\n");
    }
    this.models.set(model, state);
    return state;
  }

  /** Appends labels (fsynced before it resolves); `known`: the request ids the inference log holds. */
  add(model: string, items: FeedbackItem[], known: ReadonlySet<string>): Promise<FeedbackAnswer> {
    return this.queued(model, async () => {
      const state = await this.state(model);
      const time = new Date().toISOString();
      const unknownIds: string[] = [];
      const replacedIds: string[] = [];
      const seen = new Set<string>();
      let seq = state.seq;
      const lines = items.map((f) => {
        if (!isKnown(f.id, known)) unknownIds.push(f.id);
        if (state.ids.has(f.id) || seen.has(f.id)) replacedIds.push(f.id);
        seen.add(f.id);
        return JSON.stringify({ seq: ++seq, time, id: f.id, label: f.label });
      });
      const handle = await open(this.file(model), "a");
      try {
        await handle.write(`${lines.join("\n")}\n`);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      state.seq = seq;
      for (const id of seen) state.ids.add(id);
      return { accepted: items.length, unknownIds, replacedIds };
    });
  }

  /** Labels after `since` (a seq, or a time as epoch ms), oldest first, at most `limit`. */
  read(model: string, { since, limit }: { since?: LogSince; limit: number }) {
    return this.queued(model, async () => {
      const feedback: FeedbackRecord[] = [];
      for await (const r of records(this.file(model))) {
        if (since?.seq !== undefined && r.seq <= since.seq) continue;
        if (since?.time !== undefined && !(Date.parse(r.time) > since.time)) continue;
        if (feedback.length >= limit) return { feedback, more: true };
        feedback.push(r);
      }
      return { feedback, more: false };
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.queues.values());
  }
}
