import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisOnlineStore } from "../features/online/redis";
import { SqliteOnlineStore } from "../features/online/sqlite";
import { startTestRedis, type TestRedis } from "../features/online/testing";
import { entityKey } from "../features/online/values";
import { FEATURES_FORMAT } from "../features/types";
import { EXIT, UsageError } from "./args";
import { featuresOnlineCommand, parseTime } from "./features-online";

async function cli(sub: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = "";
  let stderr = "";
  out.on("data", (d) => (stdout += d));
  err.on("data", (d) => (stderr += d));
  const code = await featuresOnlineCommand(sub, args, { stdout: out, stderr: err });
  return { code, stdout, stderr };
}

const DEFS = {
  format: FEATURES_FORMAT,
  entities: [{ name: "driver", joinKeys: ["driver_id"] }],
  featureViews: [
    {
      name: "driver_stats",
      entities: ["driver"],
      ttl: "1d",
      source: { path: "data/stats.csv", timestampField: "event_timestamp" },
      features: [
        { name: "conv_rate", type: "Float64" },
        { name: "trips", type: "Int64" },
      ],
    },
  ],
};

const STATS = `driver_id,event_timestamp,conv_rate,trips
1001,2026-01-01T10:00:00Z,0.5,10
1001,2026-01-01T20:00:00Z,0.6,11
1002,2026-01-01T12:00:00Z,0.7,12
1001,2026-01-02T10:00:00Z,0.9,13
`;

function project(settings: object = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "dagwood-features-online-"));
  mkdirSync(join(dir, "features"));
  mkdirSync(join(dir, "data"));
  writeFileSync(join(dir, "features", "drivers.json"), JSON.stringify(DEFS));
  writeFileSync(join(dir, "data", "stats.csv"), STATS);
  writeFileSync(join(dir, "dagwood.json"), JSON.stringify({ name: "drivers", ...settings }));
  dirs.push(dir);
  return dir;
}

const dirs: string[] = [];
let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("dagwood features materialize", () => {
  it("writes the window's latest rows into .dagwood/online.sqlite and reports each view", async () => {
    const dir = project();
    const r = await cli("materialize", [
      "--project",
      dir,
      "--start",
      "2026-01-01T00:00:00Z",
      "--end",
      "2026-01-01T23:59:59",
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(EXIT.ok);
    expect(r.stdout).toMatch(/driver_stats\s+v0\s+2026-01-01T00:00:00.000Z\s+2026-01-01T23:59:59.000Z\s+2/);
    const store = new SqliteOnlineStore(join(dir, ".dagwood", "online.sqlite"));
    try {
      const got = await store.get(
        "driver_stats",
        [entityKey([1001]), entityKey([1002])],
        ["conv_rate", "trips"],
      );
      expect(got.map((g) => g!.values)).toEqual([
        { conv_rate: 0.6, trips: 11 },
        { conv_rate: 0.7, trips: 12 },
      ]);
    } finally {
      await store.close();
    }
    const again = await cli("materialize-incremental", [
      "--project",
      dir,
      "--end",
      "2026-01-03T00:00:00Z",
      "--json",
    ]);
    expect(again.code).toBe(EXIT.ok);
    expect(JSON.parse(again.stdout)).toEqual([
      expect.objectContaining({ view: "driver_stats", start: "2026-01-01T23:59:59.000Z", rows: 1 }),
    ]);
    const none = await cli("materialize-incremental", ["--project", dir, "--end", "2026-01-03T00:00:00Z"]);
    expect(none.stdout).toContain("Nothing to materialise");
  });

  it("writes into the Redis that dagwood.json names, under the project's key prefix", async () => {
    const dir = project({ online: { kind: "redis", url: redis.url } });
    const r = await cli("materialize", ["--project", dir, "--start", "2026-01-01", "--end", "2026-01-03"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(EXIT.ok);
    const store = new RedisOnlineStore({ url: redis.url, keyPrefix: "dagwood:drivers" });
    try {
      const got = await store.get("driver_stats", [entityKey([1001])], ["conv_rate"]);
      expect(got[0]!.values).toEqual({ conv_rate: 0.9 });
    } finally {
      await store.close();
    }
  });

  it("exits 1 with a clear message when the Redis is not there, and 1 when a source drifted", async () => {
    const gone = project({ online: { kind: "redis", url: "redis://127.0.0.1:1" } });
    const r = await cli("materialize", ["--project", gone, "--start", "2026-01-01", "--end", "2026-01-03"]);
    expect(r.code).toBe(EXIT.failed);
    expect(r.stderr).toMatch(
      /The Redis online store at redis:\/\/127\.0\.0\.1:1.* did not answer .*Start Redis/,
    );

    const drifted = project();
    writeFileSync(
      join(drifted, "data", "stats.csv"),
      "driver_id,event_timestamp,conv_rate\n1,2026-01-01T00:00:00Z,x\n",
    );
    const d = await cli("materialize", [
      "--project",
      drifted,
      "--start",
      "2026-01-01",
      "--end",
      "2026-01-03",
    ]);
    expect(d.code).toBe(EXIT.failed);
    expect(d.stderr).toMatch(/feature "conv_rate" is declared Float64 but the source's column is VARCHAR/);
    expect(d.stderr).toMatch(/feature "trips" is not a column/);
  });

  it("exits 2 for unknown views, bad definitions and bad settings", async () => {
    const dir = project();
    const u = await cli("materialize", [
      "--project",
      dir,
      "--start",
      "2026-01-01",
      "--end",
      "2026-01-03",
      "--views",
      "nope",
    ]);
    expect(u.code).toBe(EXIT.invalid);
    expect(u.stderr).toContain('Unknown feature view "nope" (known: driver_stats)');

    writeFileSync(
      join(dir, "features", "bad.json"),
      JSON.stringify({ format: FEATURES_FORMAT, featureViews: [{ name: "x" }] }),
    );
    const b = await cli("materialize", ["--project", dir, "--start", "2026-01-01", "--end", "2026-01-03"]);
    expect(b.code).toBe(EXIT.invalid);
    expect(b.stderr).toContain("features/bad.json");

    const s = project({ online: { kind: "redis", url: "http://example.com" } });
    const bs = await cli("materialize", ["--project", s, "--start", "2026-01-01", "--end", "2026-01-03"]);
    expect(bs.code).toBe(EXIT.invalid);
    expect(bs.stderr).toMatch(/online\.url: a redis:\/\/ or rediss:\/\/ URL/);
  });

  it("refuses bad arguments with a usage error saying what to give", async () => {
    const dir = project();
    await expect(cli("materialize", ["--project", dir, "--end", "2026-01-01"])).rejects.toThrow(
      "--start is required: an ISO 8601 time",
    );
    await expect(
      cli("materialize", ["--project", dir, "--start", "yesterday", "--end", "now"]),
    ).rejects.toThrow('--start yesterday: not a time; give ISO 8601, e.g. 2026-01-31T00:00:00Z, or "now"');
    await expect(
      cli("materialize", ["--project", dir, "--start", "2026-01-02", "--end", "2026-01-01"]),
    ).rejects.toThrow("is after --end");
    await expect(cli("materialize-incremental", ["--project", dir, "--end", "now", "extra"])).rejects.toThrow(
      "takes no positional arguments",
    );
    await expect(cli("materialise", [])).rejects.toThrow(UsageError);
  });

  it("reads times as ISO 8601, UTC when they name no zone", () => {
    expect(parseTime("--end", "2026-01-31").toISOString()).toBe("2026-01-31T00:00:00.000Z");
    expect(parseTime("--end", "2026-01-31T10:00:00").toISOString()).toBe("2026-01-31T10:00:00.000Z");
    expect(parseTime("--end", "2026-01-31T10:00:00+02:00").toISOString()).toBe("2026-01-31T08:00:00.000Z");
    expect(() => parseTime("--end", "1700000000")).toThrow("not a time");
  });
});
