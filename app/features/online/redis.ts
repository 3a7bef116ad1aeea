/**
 * The online store in Redis, for a team or production (`online: { kind:
 * "redis", url }` in dagwood.json). A view's rows are one hash per
 * generation, `<prefix>:view:<view>:<generation>`, whose field is the entity
 * key and whose value is `<event ms>|<features as JSON>`; the string
 * `<prefix>:gen:<view>` names the current generation (absent: the hash
 * `<prefix>:view:<view>`, as stores written before generations were). A
 * lookup is one small Lua script that follows the pointer and HMGETs the keys
 * in the same call, so it never reads a generation being replaced.
 *
 * A materialisation is atomic per view without blocking Redis: it writes the
 * new rows into a generation of its own (expiring while it is being written,
 * and recorded with its process in `<prefix>:staging:<view>`), copies the
 * current generation's rows the new ones do not replace into it, in scripts
 * of COPY_BATCH rows each, then one short script points the view at it and
 * records the materialisation; the old generation is then removed with
 * UNLINK (freed in the background). Redis runs each script atomically
 * (https://redis.io/docs/latest/develop/interact/programmability/eval-intro/),
 * so readers see the old generation until the switch, and a materialisation
 * interrupted before it changes nothing; the next one removes what it left
 * (its process gone, or its time passed). While a generation is being
 * filled, pushes are written into it as well as into the current one
 * (`<prefix>:merging:<view>`), so none is lost at the switch. A
 * materialisation holds two copies of the view in Redis until the switch.
 *
 * The scripts name the generation hashes they read in their arguments, not
 * as KEYS: fine for a single Redis, not for Redis Cluster.
 *
 * Redis unreachable: every call fails with an error naming the URL; the next
 * call connects again.
 */
import { createHash, randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { EntityKey, MaterializationRecord, OnlineRecord, OnlineRow, OnlineStore } from "../types";
import { eventTime, OnlineStoreError, pickValues, valuesText } from "./values";

/** How long a generation being written outlives a process that died before switching to it. */
const STAGE_TTL_SECONDS = 3600;
/** Rows per HSET while staging. */
const STAGE_BATCH = 1000;
/** Rows of the current generation looked at per copy script (each a few ms of Redis's time). */
const COPY_BATCH = 1000;

/** A Lua script, called by its SHA1 (EVALSHA), sent whole (EVAL) only when Redis does not know it yet. */
class Script {
  readonly sha: string;
  constructor(readonly text: string) {
    this.sha = createHash("sha1").update(text).digest("hex");
  }
}

/** KEYS: the view's pointer. ARGV: the view's hash name without generation, then the entity keys. */
const GET_SCRIPT = new Script(`
local h = ARGV[1]
local g = redis.call("GET", KEYS[1])
if g then h = h .. ":" .. g end
local out = {}
for i = 2, #ARGV, 1000 do
  local part = redis.call("HMGET", h, unpack(ARGV, i, math.min(i + 999, #ARGV)))
  for j = 1, #part do out[#out + 1] = part[j] end
end
return out
`);

/**
 * KEYS: the view's pointer, its set of generations being filled. ARGV: the
 * hash name without generation, then key, event ms, features, … Writes a row
 * only when newer than the one there, into the current generation and each
 * one being filled; answers how many it wrote into the current one.
 */
const PUSH_SCRIPT = new Script(`
local function newer(h, k, ts, v)
  local old = redis.call("HGET", h, k)
  if (not old) or ts > tonumber(string.match(old, "^([^|]+)")) then
    redis.call("HSET", h, k, v)
    return 1
  end
  return 0
end
local base = ARGV[1]
local g = redis.call("GET", KEYS[1])
local h = base
if g then h = base .. ":" .. g end
local filling = {}
for _, s in ipairs(redis.call("SMEMBERS", KEYS[2])) do
  if redis.call("EXISTS", base .. ":" .. s) == 1 then filling[#filling + 1] = base .. ":" .. s end
end
local n = 0
for i = 2, #ARGV, 3 do
  local ts = tonumber(ARGV[i + 1])
  local v = ARGV[i + 1] .. "|" .. ARGV[i + 2]
  n = n + newer(h, ARGV[i], ts, v)
  for _, s in ipairs(filling) do newer(s, ARGV[i], ts, v) end
end
return n
`);

/**
 * KEYS: the current generation, the new one. ARGV: HSCAN cursor, count, the
 * new one's expiry (s). Copies a page of the current rows into the new
 * generation where it has no row for the key or an older one (a materialised
 * row replaces one of the same event time); answers the next cursor and
 * whether the page had rows.
 */
const COPY_SCRIPT = new Script(`
local page = redis.call("HSCAN", KEYS[1], ARGV[1], "COUNT", ARGV[2])
local fields = page[2]
if #fields == 0 then return {page[1], 0} end
for i = 1, #fields, 2 do
  local old = fields[i + 1]
  local new = redis.call("HGET", KEYS[2], fields[i])
  if (not new) or tonumber(string.match(old, "^([^|]+)")) > tonumber(string.match(new, "^([^|]+)")) then
    redis.call("HSET", KEYS[2], fields[i], old)
  end
end
redis.call("EXPIRE", KEYS[2], ARGV[3])
return {page[1], 1}
`);

/**
 * KEYS: the view's pointer, its staging record, its set of generations being
 * filled, the new generation, its materialisation list, the set of
 * materialised views. ARGV: the generation copied from ("" for none), the new
 * generation, the record, the view, "1" if the new generation holds rows
 * (else it may be empty: no hash). Switches only if the view still is at the
 * generation copied from ({0, current} if not: copy that one too and call
 * again) and the new one was not removed as abandoned ({-1}).
 */
const SWITCH_SCRIPT = new Script(`
local current = redis.call("GET", KEYS[1]) or ""
if current ~= ARGV[1] then return {0, current} end
if redis.call("HEXISTS", KEYS[2], ARGV[2]) == 0 then return {-1, ""} end
if ARGV[5] == "1" and redis.call("EXISTS", KEYS[4]) == 0 then return {-1, ""} end
redis.call("SET", KEYS[1], ARGV[2])
redis.call("PERSIST", KEYS[4])
redis.call("HDEL", KEYS[2], ARGV[2])
redis.call("SREM", KEYS[3], ARGV[2])
redis.call("LPUSH", KEYS[5], ARGV[3])
redis.call("SADD", KEYS[6], ARGV[4])
return {1, ""}
`);

/**
 * KEYS: the view's pointer, its set of generations being filled. ARGV: the
 * hash name without generation, then the entity keys. Deletes the keys' rows
 * from the current generation and from each one being filled (erasure: a
 * materialisation under way must not bring them back); answers how many the
 * current one held.
 */
const DELETE_SCRIPT = new Script(`
local base = ARGV[1]
local g = redis.call("GET", KEYS[1])
local h = base
if g then h = base .. ":" .. g end
local n = 0
for i = 2, #ARGV, 1000 do
  n = n + redis.call("HDEL", h, unpack(ARGV, i, math.min(i + 999, #ARGV)))
  for _, s in ipairs(redis.call("SMEMBERS", KEYS[2])) do
    redis.call("HDEL", base .. ":" .. s, unpack(ARGV, i, math.min(i + 999, #ARGV)))
  end
end
return n
`);

/** Whether a process of this machine is running (signal 0 checks without sending anything). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The generations this process is filling now (a record of this process naming another one is a failed materialisation's). */
const fillingHere = new Set<string>();

/** Who fills a generation, until when (ms) at the latest. */
interface StageOwner {
  host: string;
  pid: number;
  until: number;
}

// The client library is loaded on the first connection, not with the block catalog that imports this store.
type RedisLibrary = typeof import("@redis/client");
const redisLibrary = (): Promise<RedisLibrary> => import("@redis/client");

const newClient = (lib: RedisLibrary, url: string, connectTimeout: number) =>
  lib.createClient({
    url,
    // A lost connection fails the calls now, instead of queueing them while Redis is away.
    disableOfflineQueue: true,
    socket: { connectTimeout, reconnectStrategy: false },
  });
type Client = ReturnType<typeof newClient>;

export interface RedisOnlineStoreOptions {
  /** redis://[user:password@]host:port[/db] */
  url: string;
  /** Prefix of every key, so projects can share one Redis (default "dagwood"). */
  keyPrefix?: string;
  /** Milliseconds to wait for a connection (default 5000). */
  connectTimeout?: number;
}

export class RedisOnlineStore implements OnlineStore {
  readonly kind = "redis" as const;
  private lib: RedisLibrary | undefined;
  private client: Client | undefined;
  private connecting: Promise<Client> | undefined;
  private readonly prefix: string;

  constructor(private readonly opts: RedisOnlineStoreOptions) {
    this.prefix = opts.keyPrefix ?? "dagwood";
  }

  /** Where the URL is, without a password. */
  private get where(): string {
    try {
      const u = new URL(this.opts.url);
      u.password = "";
      u.username = "";
      return u.toString();
    } catch {
      return "(an unparsable URL)";
    }
  }

  private unreachable(e: unknown, what: string): Error {
    return new OnlineStoreError(
      `The Redis online store at ${this.where} did not answer while ${what} (${(e as Error).message}). Nothing was half-written. Start Redis or fix "online.url" in dagwood.json, then try again.`,
      { cause: e },
    );
  }

  private async connection(what: string): Promise<Client> {
    if (this.client?.isReady) return this.client;
    this.connecting ??= (async () => {
      this.lib ??= await redisLibrary();
      const client = newClient(this.lib, this.opts.url, this.opts.connectTimeout ?? 5000);
      // Errors surface through the calls; without a listener node-redis would throw them at the process.
      client.on("error", () => {});
      try {
        await client.connect();
      } catch (e) {
        client.destroy();
        throw e;
      }
      this.client = client;
      return client;
    })().finally(() => {
      this.connecting = undefined;
    });
    try {
      return await this.connecting;
    } catch (e) {
      throw this.unreachable(e, what);
    }
  }

  private async command<T>(what: string, args: string[]): Promise<T> {
    const client = await this.connection(what);
    try {
      return (await client.sendCommand(args)) as T;
    } catch (e) {
      // A reply error (wrong type, script error) is Redis answering: say so as it is.
      if (this.lib && e instanceof this.lib.ErrorReply) throw e;
      if (client.isOpen) client.destroy();
      this.client = undefined;
      throw this.unreachable(e, what);
    }
  }

  /** Runs a script by its SHA1, sending it whole the first time Redis does not know it. */
  private async script<T>(what: string, script: Script, keys: string[], args: string[]): Promise<T> {
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await this.command<T>(what, ["EVALSHA", script.sha, ...tail]);
    } catch (e) {
      if (!(this.lib && e instanceof this.lib.ErrorReply && e.message.startsWith("NOSCRIPT"))) throw e;
      return await this.command<T>(what, ["EVAL", script.text, ...tail]);
    }
  }

  /** The name of a view's hashes without their generation (and of its hash before generations). */
  private viewKey(view: string): string {
    return `${this.prefix}:view:${view}`;
  }

  private pointerKey(view: string): string {
    return `${this.prefix}:gen:${view}`;
  }

  private stagingKey(view: string): string {
    return `${this.prefix}:staging:${view}`;
  }

  private mergingKey(view: string): string {
    return `${this.prefix}:merging:${view}`;
  }

  /** Removes the generations of `view` that materialisations left unfinished (their process gone, or their time passed). */
  private async removeAbandoned(view: string, what: string): Promise<void> {
    const reply = await this.command<string[] | Record<string, string>>(what, [
      "HGETALL",
      this.stagingKey(view),
    ]);
    const entries = Array.isArray(reply)
      ? Array.from({ length: reply.length / 2 }, (_, i) => [reply[2 * i]!, reply[2 * i + 1]!] as const)
      : Object.entries(reply);
    const here = hostname();
    for (const [generation, text] of entries) {
      let owner: Partial<StageOwner> = {};
      try {
        owner = JSON.parse(text) as StageOwner;
      } catch {}
      const abandoned =
        !(typeof owner.until === "number" && owner.until > Date.now()) ||
        (owner.host === here &&
          (owner.pid === process.pid ? !fillingHere.has(generation) : !processAlive(Number(owner.pid))));
      if (!abandoned) continue;
      await this.command(what, ["SREM", this.mergingKey(view), generation]);
      await this.command(what, ["UNLINK", `${this.viewKey(view)}:${generation}`]);
      await this.command(what, ["HDEL", this.stagingKey(view), generation]);
    }
  }

  async materialize(
    view: string,
    rows: OnlineRow[] | AsyncIterable<OnlineRow[]>,
    record: Omit<MaterializationRecord, "rows" | "at" | "ms">,
  ): Promise<MaterializationRecord> {
    const t0 = performance.now();
    const what = `materialising ${view}`;
    await this.removeAbandoned(view, what);
    const generation = randomBytes(8).toString("hex");
    const stage = `${this.viewKey(view)}:${generation}`;
    const ttl = String(STAGE_TTL_SECONDS);
    const owner = () =>
      JSON.stringify({ host: hostname(), pid: process.pid, until: Date.now() + STAGE_TTL_SECONDS * 1000 });
    let count = 0;
    fillingHere.add(generation);
    try {
      await this.command(what, ["HSET", this.stagingKey(view), generation, owner()]);
      // The generation the new one will replace; if another materialisation replaces it first, the switch says so.
      let from = (await this.command<string | null>(what, ["GET", this.pointerKey(view)])) ?? "";
      const chunks = Array.isArray(rows) ? [rows] : rows;
      for await (const chunk of chunks) {
        // A chunk's commands are sent together (node-redis pipelines what is sent in one tick).
        const sent: Promise<unknown>[] = [];
        for (let i = 0; i < chunk.length; i += STAGE_BATCH) {
          const args = ["HSET", stage];
          for (const r of chunk.slice(i, i + STAGE_BATCH)) args.push(r.key, stored(r));
          sent.push(this.command(what, args));
        }
        if (sent.length === 0) continue;
        sent.push(this.command(what, ["EXPIRE", stage, ttl]));
        sent.push(this.command(what, ["HSET", this.stagingKey(view), generation, owner()]));
        await Promise.all(sent);
        count += chunk.length;
      }
      // From here on pushes land in the new generation too; the current one's rows are copied in under them.
      await this.command(what, ["SADD", this.mergingKey(view), generation]);
      for (let attempt = 0; ; attempt++) {
        const current = from === "" ? this.viewKey(view) : `${this.viewKey(view)}:${from}`;
        let cursor = "0";
        let copied = false;
        do {
          const [next, some] = await this.script<[string, number]>(
            what,
            COPY_SCRIPT,
            [current, stage],
            [cursor, String(COPY_BATCH), ttl],
          );
          cursor = next;
          copied ||= some === 1;
        } while (cursor !== "0");
        const done: MaterializationRecord = {
          ...record,
          rows: count,
          at: new Date().toISOString(),
          ms: performance.now() - t0,
        };
        const [switched, now] = await this.script<[number, string]>(
          what,
          SWITCH_SCRIPT,
          [
            this.pointerKey(view),
            this.stagingKey(view),
            this.mergingKey(view),
            stage,
            `${this.prefix}:materializations:${view}`,
            `${this.prefix}:materialized-views`,
          ],
          [from, generation, JSON.stringify(done), view, count > 0 || copied ? "1" : "0"],
        );
        if (switched === 1) {
          // The old generation, freed by Redis in the background; a failure here leaves it unreferenced, and harmless.
          await this.command(what, ["UNLINK", current]).catch(() => {});
          return done;
        }
        if (switched === -1)
          throw new OnlineStoreError(
            `The materialisation of ${view} was idle longer than ${STAGE_TTL_SECONDS} s, and its new rows were removed as abandoned; the view is as it was. Materialise again.`,
          );
        // Another materialisation of the view switched meanwhile: its rows are copied in too.
        if (attempt >= 5)
          throw new OnlineStoreError(
            `The materialisation of ${view} kept meeting others of the same view finishing first; the view is as they left it. Materialise again.`,
          );
        from = now;
      }
    } catch (e) {
      // Best effort: the next materialisation removes what is left, and the generation expires anyway.
      await this.command(what, ["SREM", this.mergingKey(view), generation]).catch(() => {});
      await this.command(what, ["UNLINK", stage]).catch(() => {});
      await this.command(what, ["HDEL", this.stagingKey(view), generation]).catch(() => {});
      throw e;
    } finally {
      fillingHere.delete(generation);
    }
  }

  async push(view: string, rows: OnlineRow[]): Promise<number> {
    if (rows.length === 0) return 0;
    const args = [this.viewKey(view)];
    for (const r of rows) args.push(r.key, String(eventTime(r)), valuesText(r));
    return await this.script<number>(
      `pushing rows to ${view}`,
      PUSH_SCRIPT,
      [this.pointerKey(view), this.mergingKey(view)],
      args,
    );
  }

  async get(view: string, keys: EntityKey[], features: readonly string[]): Promise<(OnlineRecord | null)[]> {
    if (keys.length === 0) return [];
    const found = await this.script<(string | null)[]>(
      `reading ${view}`,
      GET_SCRIPT,
      [this.pointerKey(view)],
      [this.viewKey(view), ...keys],
    );
    return found.map((text) => {
      if (text === null) return null;
      const bar = text.indexOf("|");
      return { eventTs: Number(text.slice(0, bar)), values: pickValues(text.slice(bar + 1), features) };
    });
  }

  async materializations(view?: string): Promise<MaterializationRecord[]> {
    const what = "reading the materialisations";
    const views =
      view === undefined
        ? (await this.command<string[]>(what, ["SMEMBERS", `${this.prefix}:materialized-views`])).sort()
        : [view];
    const out: MaterializationRecord[] = [];
    for (const v of views) {
      const items = await this.command<string[]>(what, [
        "LRANGE",
        `${this.prefix}:materializations:${v}`,
        "0",
        "-1",
      ]);
      for (const item of items) out.push(JSON.parse(item) as MaterializationRecord);
    }
    return out;
  }

  /** The views that have rows or were materialised (erasure looks in each). */
  async views(): Promise<string[]> {
    const what = "listing the views";
    const views = new Set(
      await this.command<string[]>(what, ["SMEMBERS", `${this.prefix}:materialized-views`]),
    );
    const head = `${this.prefix}:view:`;
    let cursor = "0";
    do {
      const [next, keys] = await this.command<[string, string[]]>(what, [
        "SCAN",
        cursor,
        "MATCH",
        `${head.replace(/[*?[\]\\]/g, "\\$&")}*`,
        "COUNT",
        "1000",
      ]);
      for (const k of keys) views.add(k.slice(head.length).replace(/:[0-9a-f]{16}$/, ""));
      cursor = next;
    } while (cursor !== "0");
    return [...views].sort();
  }

  /** The keys of a view's rows that `match` (given the entity key and the features' JSON text), for erasure. */
  async findRows(view: string, match: (key: EntityKey, vals: string) => boolean): Promise<EntityKey[]> {
    const what = `reading ${view}`;
    const generation = await this.command<string | null>(what, ["GET", this.pointerKey(view)]);
    const hash = generation ? `${this.viewKey(view)}:${generation}` : this.viewKey(view);
    const found: EntityKey[] = [];
    let cursor = "0";
    do {
      const [next, fields] = await this.command<[string, string[]]>(what, [
        "HSCAN",
        hash,
        cursor,
        "COUNT",
        "1000",
      ]);
      for (let i = 0; i < fields.length; i += 2) {
        const text = fields[i + 1]!;
        if (match(fields[i]!, text.slice(text.indexOf("|") + 1))) found.push(fields[i]!);
      }
      cursor = next;
    } while (cursor !== "0");
    return [...new Set(found)];
  }

  /** Deletes the rows of these keys from the view (and from a materialisation filling it); answers how many there were. */
  async deleteRows(view: string, keys: readonly EntityKey[]): Promise<number> {
    if (keys.length === 0) return 0;
    return await this.script<number>(
      `deleting rows of ${view}`,
      DELETE_SCRIPT,
      [this.pointerKey(view), this.mergingKey(view)],
      [this.viewKey(view), ...keys],
    );
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client?.isOpen) await client.close().catch(() => client.destroy());
  }
}

const stored = (r: OnlineRow): string => `${eventTime(r)}|${valuesText(r)}`;
