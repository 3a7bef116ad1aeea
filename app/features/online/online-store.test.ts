import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ProjectSettingsSchema } from "../../project/project";
import type { OnlineRow, OnlineStore } from "../types";
import { openOnlineStore } from "./open";
import { RedisOnlineStore } from "./redis";
import { SqliteOnlineStore } from "./sqlite";
import { startTestRedis, type TestRedis } from "./testing";
import { entityKey } from "./values";

const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;
const record = (view: string) => ({
  view,
  version: 1,
  start: new Date(T0).toISOString(),
  end: new Date(T0 + 24 * HOUR).toISOString(),
});
const row = (id: number, conv: number, eventTs: number, extra: Record<string, unknown> = {}): OnlineRow => ({
  key: entityKey([id]),
  values: { conv_rate: conv, trips: id * 10, ...extra } as OnlineRow["values"],
  eventTs,
});

interface Backend {
  name: "sqlite" | "redis";
  /** A new, empty store; opening it again gives the same data. */
  fresh(): { open(): OnlineStore };
}

let redis: TestRedis | undefined;
const dirs: string[] = [];
let prefixes = 0;

beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const backends: Backend[] = [
  {
    name: "sqlite",
    fresh() {
      const dir = mkdtempSync(join(tmpdir(), "dagwood-online-"));
      dirs.push(dir);
      return { open: () => new SqliteOnlineStore(join(dir, "online.sqlite")) };
    },
  },
  {
    name: "redis",
    fresh() {
      const keyPrefix = `test${++prefixes}`;
      return { open: () => new RedisOnlineStore({ url: redis!.url, keyPrefix }) };
    },
  },
];

/** Chunks handed over one by one, waiting for `gate` before each chunk after the first. */
async function* gated(chunks: OnlineRow[][], gate: () => Promise<void>): AsyncIterable<OnlineRow[]> {
  for (let i = 0; i < chunks.length; i++) {
    if (i > 0) await gate();
    yield chunks[i]!;
  }
}

describe.each(backends)("the $name online store", (backend) => {
  const open: OnlineStore[] = [];
  const store = (s: { open(): OnlineStore }) => {
    const st = s.open();
    open.push(st);
    return st;
  };
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
  });

  it("answers null for keys it has no row for, and has no materialisations yet", async () => {
    const s = store(backend.fresh());
    expect(s.kind).toBe(backend.name);
    expect(await s.get("driver_stats", [entityKey([1]), entityKey([2])], ["conv_rate"])).toEqual([
      null,
      null,
    ]);
    expect(await s.materializations()).toEqual([]);
  });

  it("materialises rows and looks them up with only the features asked for, in order", async () => {
    const s = store(backend.fresh());
    const done = await s.materialize(
      "driver_stats",
      [
        row(1001, 0.5, T0 + HOUR),
        row(1002, 0.25, T0 + 2 * HOUR, { name: "ann", ok: true, big: "9007199254740993" }),
      ],
      record("driver_stats"),
    );
    expect(done).toMatchObject({ ...record("driver_stats"), rows: 2 });
    expect(Date.parse(done.at)).not.toBeNaN();
    expect(done.ms).toBeGreaterThanOrEqual(0);
    const got = await s.get(
      "driver_stats",
      [entityKey([1002]), entityKey([9]), entityKey([1001])],
      ["trips", "conv_rate", "name", "ok", "big", "missing"],
    );
    expect(got).toEqual([
      {
        eventTs: T0 + 2 * HOUR,
        values: {
          trips: 10020,
          conv_rate: 0.25,
          name: "ann",
          ok: true,
          big: "9007199254740993",
          missing: null,
        },
      },
      null,
      {
        eventTs: T0 + HOUR,
        values: { trips: 10010, conv_rate: 0.5, name: null, ok: null, big: null, missing: null },
      },
    ]);
    expect(Object.keys(got[0]!.values)).toEqual(["trips", "conv_rate", "name", "ok", "big", "missing"]);
  });

  it("keeps views apart: the same key in two views is two rows", async () => {
    const s = store(backend.fresh());
    await s.materialize("a", [row(1, 0.1, T0)], record("a"));
    await s.materialize("b", [row(1, 0.9, T0)], record("b"));
    expect((await s.get("a", [entityKey([1])], ["conv_rate"]))[0]!.values).toEqual({ conv_rate: 0.1 });
    expect((await s.get("b", [entityKey([1])], ["conv_rate"]))[0]!.values).toEqual({ conv_rate: 0.9 });
  });

  it("replaces a row by a materialisation at the same or a later event time, never an earlier one", async () => {
    const s = store(backend.fresh());
    await s.materialize(
      "v",
      [row(1, 0.1, T0 + HOUR), row(2, 0.2, T0 + HOUR), row(3, 0.3, T0 + HOUR)],
      record("v"),
    );
    await s.materialize(
      "v",
      [row(1, 0.11, T0), row(2, 0.22, T0 + HOUR), row(3, 0.33, T0 + 2 * HOUR)],
      record("v"),
    );
    const got = await s.get(
      "v",
      [1, 2, 3].map((k) => entityKey([k])),
      ["conv_rate"],
    );
    expect(got.map((g) => [g!.values.conv_rate, g!.eventTs])).toEqual([
      [0.1, T0 + HOUR],
      [0.22, T0 + HOUR],
      [0.33, T0 + 2 * HOUR],
    ]);
  });

  it("pushes rows that are newer than what is there, and says how many it wrote", async () => {
    const s = store(backend.fresh());
    await s.materialize("v", [row(1, 0.1, T0 + HOUR), row(2, 0.2, T0 + HOUR)], record("v"));
    const written = await s.push("v", [
      row(1, 0.5, T0),
      row(2, 0.6, T0 + HOUR),
      row(3, 0.7, T0 + HOUR),
      row(2, 0.8, T0 + 3 * HOUR),
    ]);
    expect(written).toBe(2);
    const got = await s.get(
      "v",
      [1, 2, 3].map((k) => entityKey([k])),
      ["conv_rate"],
    );
    expect(got.map((g) => g!.values.conv_rate)).toEqual([0.1, 0.8, 0.7]);
    expect(await s.push("v", [])).toBe(0);
    // A push is not a materialisation.
    expect((await s.materializations("v")).length).toBe(1);
  });

  it("takes rows in chunks, and readers see the old values until the last chunk is in", async () => {
    const fresh = backend.fresh();
    const s = store(fresh);
    // Another connection to the same data.
    const reader = store(fresh);
    const keys = Array.from({ length: 2500 }, (_, i) => i);
    await s.materialize(
      "v",
      keys.map((k) => row(k, 0, T0)),
      record("v"),
    );
    const chunks = [keys.slice(0, 1200), keys.slice(1200, 2400), keys.slice(2400)].map((c) =>
      c.map((k) => row(k, 1, T0 + HOUR)),
    );
    const seen: number[][] = [];
    const look = async () => {
      const got = await reader.get(
        "v",
        [0, 1500, 2499].map((k) => entityKey([k])),
        ["conv_rate"],
      );
      seen.push(got.map((g) => g!.values.conv_rate as number));
    };
    const done = await s.materialize("v", gated(chunks, look), record("v"));
    expect(done.rows).toBe(2500);
    expect(seen).toEqual([
      [0, 0, 0],
      [0, 0, 0],
    ]);
    const after = await s.get(
      "v",
      [0, 1500, 2499].map((k) => entityKey([k])),
      ["conv_rate"],
    );
    expect(after.map((g) => g!.values.conv_rate)).toEqual([1, 1, 1]);
  });

  it("changes nothing when the rows fail mid-way, and records no materialisation", async () => {
    const s = store(backend.fresh());
    await s.materialize("v", [row(1, 0.1, T0), row(2, 0.2, T0)], record("v"));
    async function* failing(): AsyncIterable<OnlineRow[]> {
      yield [row(1, 9, T0 + HOUR)];
      throw new Error("the source went away");
    }
    await expect(s.materialize("v", failing(), record("v"))).rejects.toThrow("the source went away");
    const got = await s.get("v", [entityKey([1]), entityKey([2])], ["conv_rate"]);
    expect(got.map((g) => g!.values.conv_rate)).toEqual([0.1, 0.2]);
    expect((await s.materializations("v")).length).toBe(1);
  });

  it("refuses a row without an event time, writing none of the rows", async () => {
    const s = store(backend.fresh());
    const bad = { key: entityKey([2]), values: { conv_rate: 1 }, eventTs: Number.NaN };
    await expect(s.materialize("v", [row(1, 0.1, T0), bad], record("v"))).rejects.toThrow(
      "The row for key [2] has no event time",
    );
    await expect(s.push("v", [row(1, 0.1, T0), bad])).rejects.toThrow("has no event time");
    expect(await s.get("v", [entityKey([1])], ["conv_rate"])).toEqual([null]);
    expect(await s.materializations()).toEqual([]);
  });

  it("lists materialisations per view, newest first, and keeps them when opened again", async () => {
    const fresh = backend.fresh();
    const s = store(fresh);
    await s.materialize("b", [row(1, 0, T0)], { ...record("b"), version: 1 });
    await s.materialize("a", [row(1, 0, T0)], { ...record("a"), version: 1 });
    await s.materialize("a", [row(1, 0, T0), row(2, 0, T0)], {
      ...record("a"),
      version: 2,
      end: "2026-01-03T00:00:00.000Z",
    });
    await s.close();
    const again = store(fresh);
    const all = await again.materializations();
    expect(all.map((m) => [m.view, m.version, m.rows])).toEqual([
      ["a", 2, 2],
      ["a", 1, 1],
      ["b", 1, 1],
    ]);
    expect((await again.materializations("a"))[0]!.end).toBe("2026-01-03T00:00:00.000Z");
    expect(await again.materializations("nope")).toEqual([]);
    expect((await again.get("a", [entityKey([2])], ["trips"]))[0]!.values).toEqual({ trips: 20 });
  });

  it("keeps the rows pushed while a materialisation runs, and the newer of a pushed and a materialised row", async () => {
    const fresh = backend.fresh();
    const s = store(fresh);
    const pusher = store(fresh);
    const keys = Array.from({ length: 3000 }, (_, i) => i);
    await s.materialize(
      "v",
      keys.map((k) => row(k, 0, T0)),
      record("v"),
    );
    // Between the chunks: key 1 pushed newer than its materialised row, key 2 older, key 5000 new.
    const between = async () => {
      await pusher.push("v", [row(1, 7, T0 + 3 * HOUR), row(2, 7, T0 + HOUR), row(5000, 7, T0)]);
    };
    const chunks = [[row(1, 1, T0 + 2 * HOUR)], [row(2, 1, T0 + 2 * HOUR)]];
    const running = s.materialize("v", gated(chunks, between), record("v"));
    // And more pushes of new keys while it runs, whatever it is doing meanwhile.
    const pushed: number[] = [];
    let finished = false;
    void running.finally(() => {
      finished = true;
    });
    for (let k = 6000; !finished && k < 6200; k++) {
      await pusher.push("v", [row(k, 8, T0)]);
      pushed.push(k);
    }
    await running;
    expect(pushed.length).toBeGreaterThan(0);
    const got = await s.get(
      "v",
      [1, 2, 3, 5000, ...pushed].map((k) => entityKey([k])),
      ["conv_rate"],
    );
    expect(got.map((g) => g?.values.conv_rate)).toEqual([7, 1, 0, 7, ...pushed.map(() => 8)]);
  });

  it("keeps the rows of two materialisations of a view running at once, the newer row per key", async () => {
    const fresh = backend.fresh();
    const [a, b] = [store(fresh), store(fresh)];
    await a.materialize("v", [row(1, 0, T0), row(2, 0, T0), row(3, 0, T0)], record("v"));
    // a's second chunk waits until b has finished: b switches first, a then takes b's rows in.
    let bDone: Promise<unknown> = Promise.resolve();
    const first = a.materialize(
      "v",
      gated([[row(1, 1, T0 + HOUR)], [row(2, 1, T0 + HOUR)]], async () => {
        bDone = b.materialize("v", [row(2, 2, T0 + 2 * HOUR), row(4, 2, T0)], record("v"));
        await bDone;
      }),
      record("v"),
    );
    await first;
    await bDone;
    const got = await a.get(
      "v",
      [1, 2, 3, 4].map((k) => entityKey([k])),
      ["conv_rate"],
    );
    expect(got.map((g) => g?.values.conv_rate)).toEqual([1, 2, 0, 2]);
    expect((await a.materializations("v")).length).toBe(3);
  });

  it("materialises an empty window: a view keeps its rows, a new view has none, both recorded", async () => {
    const s = store(backend.fresh());
    await s.materialize("v", [row(1, 0.1, T0)], record("v"));
    expect((await s.materialize("v", [], record("v"))).rows).toBe(0);
    async function* nothing(): AsyncIterable<OnlineRow[]> {}
    expect((await s.materialize("w", nothing(), record("w"))).rows).toBe(0);
    expect((await s.get("v", [entityKey([1])], ["conv_rate"]))[0]!.values).toEqual({ conv_rate: 0.1 });
    expect(await s.get("w", [entityKey([1])], ["conv_rate"])).toEqual([null]);
    expect((await s.materializations()).map((m) => [m.view, m.rows])).toEqual([
      ["v", 0],
      ["v", 1],
      ["w", 0],
    ]);
  });

  it("keys compound entities by their join-key values in order", async () => {
    const s = store(backend.fresh());
    const key = entityKey(["ann", 7]);
    expect(key).toBe('["ann",7]');
    await s.materialize("v", [{ key, values: { x: 1 }, eventTs: T0 }], record("v"));
    expect(await s.get("v", [entityKey([7, "ann"])], ["x"])).toEqual([null]);
    expect((await s.get("v", [entityKey(["ann", 7])], ["x"]))[0]!.values).toEqual({ x: 1 });
  });
});

describe("entityKey", () => {
  it("keeps big integers exact as text and refuses null keys", () => {
    expect(entityKey([9007199254740993n, 5n])).toBe('["9007199254740993",5]');
    expect(() => entityKey([null])).toThrow("An entity key value is null");
    expect(() => entityKey([{}])).toThrow("must be a number, string or boolean");
  });
});

describe("the SQLite online store's file", () => {
  it("refuses a file that is not a SQLite database, saying what to do", () => {
    const dir = mkdtempSync(join(tmpdir(), "dagwood-online-"));
    dirs.push(dir);
    const path = join(dir, "online.sqlite");
    writeFileSync(path, "not a database, just some text that is long enough to have a header".repeat(20));
    expect(() => new SqliteOnlineStore(path)).toThrow(/Cannot open the online store .*Move the file aside/);
  });
});

describe("the Redis online store when Redis goes away", () => {
  it("fails with an error naming the URL when nothing listens there", async () => {
    const s = new RedisOnlineStore({ url: "redis://127.0.0.1:1", connectTimeout: 1000 });
    await expect(s.get("v", [entityKey([1])], ["x"])).rejects.toThrow(
      /The Redis online store at redis:\/\/127\.0\.0\.1:1.* did not answer while reading v .*Start Redis or fix "online\.url"/,
    );
    await s.close();
  });

  it("fails mid-materialisation with a clear error, and after Redis is back the view is as it was", async () => {
    const s = new RedisOnlineStore({ url: redis!.url, keyPrefix: "gone", connectTimeout: 1000 });
    try {
      await s.materialize("v", [row(1, 0.1, T0), row(2, 0.2, T0)], record("v"));
      async function* killedMidway(): AsyncIterable<OnlineRow[]> {
        yield [row(1, 5, T0 + HOUR)];
        await redis!.kill();
        yield [row(2, 6, T0 + HOUR)];
      }
      await expect(s.materialize("v", killedMidway(), record("v"))).rejects.toThrow(
        /did not answer while materialising v .*Nothing was half-written/,
      );
      await expect(s.get("v", [entityKey([1])], ["conv_rate"])).rejects.toThrow("did not answer");
      await redis!.restart();
      const got = await s.get("v", [entityKey([1]), entityKey([2])], ["conv_rate"]);
      expect(got.map((g) => g!.values.conv_rate)).toEqual([0.1, 0.2]);
      expect((await s.materializations("v")).length).toBe(1);
    } finally {
      await s.close();
    }
  });
});

describe("the Redis online store's generations", () => {
  const raw = async () => {
    const { createClient } = await import("@redis/client");
    const client = createClient({ url: redis!.url });
    await client.connect();
    return client;
  };

  it("leaves the view as it was when a materialising process is killed, and the next one removes what it left", async () => {
    const keyPrefix = "killed";
    const s = new RedisOnlineStore({ url: redis!.url, keyPrefix });
    const client = await raw();
    try {
      await s.materialize("v", [row(1, 0.1, T0), row(2, 0.2, T0)], record("v"));
      const child = spawn(
        process.execPath,
        [
          "--import",
          "tsx",
          "--input-type=module",
          "-e",
          `const { RedisOnlineStore } = await import(${JSON.stringify(join(import.meta.dirname, "redis.ts"))});
           const s = new RedisOnlineStore({ url: ${JSON.stringify(redis!.url)}, keyPrefix: "${keyPrefix}" });
           async function* rows() {
             yield [{ key: "[1]", values: { conv_rate: 9 }, eventTs: ${T0 + HOUR} }];
             console.log("staged");
             await new Promise(() => setInterval(() => {}, 1000));
           }
           await s.materialize("v", rows(), { view: "v", version: 2, start: "a", end: "b" });`,
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      let err = "";
      child.stderr!.on("data", (d) => (err += d));
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on("data", (d) => String(d).includes("staged") && resolve());
        child.once("exit", (code) => reject(new Error(`the child exited ${code} before staging: ${err}`)));
      });
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
      const generations = async () => (await client.keys(`${keyPrefix}:view:v:*`)).sort();
      const before = await generations();
      // The current generation and the killed one's.
      expect(before).toHaveLength(2);
      expect(await client.hLen(`${keyPrefix}:staging:v`)).toBe(1);
      const got = await s.get("v", [entityKey([1]), entityKey([2])], ["conv_rate"]);
      expect(got.map((g) => g!.values.conv_rate)).toEqual([0.1, 0.2]);
      expect((await s.materializations("v")).length).toBe(1);

      await s.materialize("v", [row(2, 0.3, T0 + HOUR)], record("v"));
      const after = await generations();
      expect(after).toHaveLength(1);
      expect(before).not.toContain(after[0]);
      expect(await client.exists([`${keyPrefix}:staging:v`, `${keyPrefix}:merging:v`])).toBe(0);
      expect(await client.get(`${keyPrefix}:gen:v`)).toBe(after[0]!.split(":").pop());
      const now = await s.get("v", [entityKey([1]), entityKey([2])], ["conv_rate"]);
      expect(now.map((g) => g!.values.conv_rate)).toEqual([0.1, 0.3]);
    } finally {
      await s.close();
      await client.close();
    }
  });

  it("reads a view written before generations, and moves it into one at its next materialisation", async () => {
    const keyPrefix = "older";
    const client = await raw();
    const s = new RedisOnlineStore({ url: redis!.url, keyPrefix });
    try {
      await client.hSet(`${keyPrefix}:view:v`, {
        "[1]": `${T0}|{"conv_rate":0.1}`,
        "[2]": `${T0 + HOUR}|{"conv_rate":0.2}`,
      });
      const got = await s.get("v", [entityKey([1]), entityKey([2])], ["conv_rate"]);
      expect(got.map((g) => [g!.values.conv_rate, g!.eventTs])).toEqual([
        [0.1, T0],
        [0.2, T0 + HOUR],
      ]);
      expect(await s.push("v", [row(3, 0.3, T0)])).toBe(1);
      await s.materialize("v", [row(1, 0.5, T0 + HOUR), row(2, 0.6, T0)], record("v"));
      expect(await client.exists(`${keyPrefix}:view:v`)).toBe(0);
      const now = await s.get(
        "v",
        [1, 2, 3].map((k) => entityKey([k])),
        ["conv_rate"],
      );
      expect(now.map((g) => g!.values.conv_rate)).toEqual([0.5, 0.2, 0.3]);
    } finally {
      await s.close();
      await client.close();
    }
  });

  it("answers a lookup of more keys than one Lua call can take at once", async () => {
    const s = new RedisOnlineStore({ url: redis!.url, keyPrefix: "wide" });
    try {
      const keys = Array.from({ length: 12_000 }, (_, i) => i);
      await s.materialize(
        "v",
        keys.filter((k) => k % 2 === 0).map((k) => row(k, k, T0)),
        record("v"),
      );
      const got = await s.get(
        "v",
        keys.map((k) => entityKey([k])),
        ["conv_rate"],
      );
      expect(got).toHaveLength(12_000);
      expect(got.every((g, k) => (k % 2 === 0 ? g?.values.conv_rate === k : g === null))).toBe(true);
    } finally {
      await s.close();
    }
  });
});

describe("openOnlineStore", () => {
  it("opens .dagwood/online.sqlite by default, and the Redis dagwood.json names under the project's prefix", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dagwood-online-"));
    dirs.push(dir);
    const sqlite = openOnlineStore({ dir, settings: ProjectSettingsSchema.parse({}) });
    expect(sqlite.kind).toBe("sqlite");
    await sqlite.materialize("v", [row(1, 0.5, T0)], record("v"));
    await sqlite.close();
    expect(existsSync(join(dir, ".dagwood", "online.sqlite"))).toBe(true);

    const settings = ProjectSettingsSchema.parse({
      name: "shop",
      online: { kind: "redis", url: redis!.url },
    });
    const store = openOnlineStore({ dir, settings });
    expect(store.kind).toBe("redis");
    try {
      await store.materialize("v", [row(1, 0.25, T0)], record("v"));
      const other = new RedisOnlineStore({ url: redis!.url, keyPrefix: "dagwood:shop" });
      expect((await other.get("v", [entityKey([1])], ["conv_rate"]))[0]!.values).toEqual({ conv_rate: 0.25 });
      await other.close();
    } finally {
      await store.close();
    }
  });

  it("refuses settings that name no usable Redis", () => {
    expect(ProjectSettingsSchema.safeParse({ online: { kind: "redis" } }).success).toBe(false);
    expect(
      ProjectSettingsSchema.safeParse({ online: { kind: "redis", url: "localhost:6379" } }).success,
    ).toBe(false);
    expect(ProjectSettingsSchema.safeParse({ online: { kind: "memcached" } }).success).toBe(false);
  });
});
