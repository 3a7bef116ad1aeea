/**
 * The online store in Redis, for a team or production (`online: { kind:
 * "redis", url }` in dagwood.json). Each view is one hash,
 * `<prefix>:view:<view>`, whose field is the entity key and whose value is
 * `<event ms>|<features as JSON>`, so one HMGET answers a lookup of many keys
 * and the event time is compared without decoding the features.
 *
 * A materialisation stages its rows in a hash of its own (expiring, in case
 * the process dies), then one Lua script merges it into the view's hash and
 * records the materialisation: Redis runs a script atomically
 * (https://redis.io/docs/latest/develop/interact/programmability/eval-intro/),
 * so readers see the old values until all the new ones are in, and a
 * materialisation interrupted before the script leaves the view as it was.
 *
 * Redis unreachable: every call fails with an error naming the URL; the next
 * call connects again.
 */
import { randomBytes } from "node:crypto";
import type { EntityKey, MaterializationRecord, OnlineRecord, OnlineRow, OnlineStore } from "../types";
import { eventTime, OnlineStoreError, pickValues } from "./values";

/** How long a staging hash outlives a process that died before merging it. */
const STAGE_TTL_SECONDS = 3600;
/** Rows per HSET while staging. */
const STAGE_BATCH = 1000;

/** KEYS: stage, view hash, the view's materialisation list, the set of materialised views. ARGV: the record, the view. */
const MERGE_SCRIPT = `
local cursor = "0"
repeat
  local page = redis.call("HSCAN", KEYS[1], cursor, "COUNT", 1000)
  cursor = page[1]
  local fields = page[2]
  for i = 1, #fields, 2 do
    local new = fields[i + 1]
    local old = redis.call("HGET", KEYS[2], fields[i])
    if (not old) or tonumber(string.match(new, "^([^|]+)")) >= tonumber(string.match(old, "^([^|]+)")) then
      redis.call("HSET", KEYS[2], fields[i], new)
    end
  end
until cursor == "0"
redis.call("DEL", KEYS[1])
redis.call("LPUSH", KEYS[3], ARGV[1])
redis.call("SADD", KEYS[4], ARGV[2])
return 1
`;

/** KEYS: the view hash. ARGV: key, event ms, value, … Writes a row only when newer than the one there. */
const PUSH_SCRIPT = `
local n = 0
for i = 1, #ARGV, 3 do
  local old = redis.call("HGET", KEYS[1], ARGV[i])
  if (not old) or tonumber(ARGV[i + 1]) > tonumber(string.match(old, "^([^|]+)")) then
    redis.call("HSET", KEYS[1], ARGV[i], ARGV[i + 1] .. "|" .. ARGV[i + 2])
    n = n + 1
  end
end
return n
`;

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

  private viewKey(view: string): string {
    return `${this.prefix}:view:${view}`;
  }

  async materialize(
    view: string,
    rows: OnlineRow[] | AsyncIterable<OnlineRow[]>,
    record: Omit<MaterializationRecord, "rows" | "at" | "ms">,
  ): Promise<MaterializationRecord> {
    const t0 = performance.now();
    const stage = `${this.prefix}:stage:${view}:${randomBytes(8).toString("hex")}`;
    const what = `materialising ${view}`;
    let count = 0;
    try {
      const chunks = Array.isArray(rows) ? [rows] : rows;
      for await (const chunk of chunks) {
        for (let i = 0; i < chunk.length; i += STAGE_BATCH) {
          const args = ["HSET", stage];
          for (const r of chunk.slice(i, i + STAGE_BATCH)) args.push(r.key, stored(r));
          if (args.length === 2) continue;
          await this.command(what, args);
          await this.command(what, ["EXPIRE", stage, String(STAGE_TTL_SECONDS)]);
        }
        count += chunk.length;
      }
      const done: MaterializationRecord = {
        ...record,
        rows: count,
        at: new Date().toISOString(),
        ms: performance.now() - t0,
      };
      const matList = `${this.prefix}:materializations:${view}`;
      await this.command(what, [
        "EVAL",
        MERGE_SCRIPT,
        "4",
        stage,
        this.viewKey(view),
        matList,
        `${this.prefix}:materialized-views`,
        JSON.stringify(done),
        view,
      ]);
      return done;
    } catch (e) {
      // Best effort: the staging hash expires anyway.
      await this.command(what, ["DEL", stage]).catch(() => {});
      throw e;
    }
  }

  async push(view: string, rows: OnlineRow[]): Promise<number> {
    if (rows.length === 0) return 0;
    const args = ["EVAL", PUSH_SCRIPT, "1", this.viewKey(view)];
    for (const r of rows) args.push(r.key, String(eventTime(r)), JSON.stringify(r.values));
    return await this.command<number>(`pushing rows to ${view}`, args);
  }

  async get(view: string, keys: EntityKey[], features: readonly string[]): Promise<(OnlineRecord | null)[]> {
    if (keys.length === 0) return [];
    const found = await this.command<(string | null)[]>(`reading ${view}`, [
      "HMGET",
      this.viewKey(view),
      ...keys,
    ]);
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

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client?.isOpen) await client.close().catch(() => client.destroy());
  }
}

const stored = (r: OnlineRow): string => `${eventTime(r)}|${JSON.stringify(r.values)}`;
