/**
 * `dagwood features serve` and `dagwood serve --project DIR` on a real
 * project: a CSV source materialised over HTTP into the project's SQLite
 * online store, then looked up in Feast's shape; definitions edited while
 * serving are picked up.
 */
import { EventEmitter } from "node:events";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { FEATURES_FORMAT } from "../features/types";
import { serveCommand } from "../serving/cli";
import { featuresServeCommand } from "./features-serve";

const DEFS = {
  format: FEATURES_FORMAT,
  entities: [{ name: "driver", joinKeys: ["driver_id"] }],
  featureViews: [
    {
      name: "driver_stats",
      entities: ["driver"],
      ttl: "0",
      source: { path: "data/drivers.csv", timestampField: "ts", createdTimestampColumn: "created" },
      features: [
        { name: "conv_rate", type: "Float64" },
        { name: "trips", type: "Int64" },
      ],
    },
  ],
};

// 1001: a later row, and two rows at 03:00 where the later created one wins; 1002: a row after the window's end.
const CSV = `driver_id,ts,created,conv_rate,trips
1001,2026-01-01T01:00:00Z,2026-01-01T01:00:00Z,0.1,10
1001,2026-01-01T03:00:00Z,2026-01-01T05:00:00Z,0.3,30
1001,2026-01-01T03:00:00Z,2026-01-01T04:00:00Z,0.9,90
1002,2026-01-01T02:00:00Z,2026-01-01T02:00:00Z,0.2,20
1002,2026-01-03T00:00:00Z,2026-01-03T00:00:00Z,0.7,70
`;

const dirs: string[] = [];
const stops: (() => Promise<number>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function project(): { dir: string; tokenFile: string } {
  const dir = mkdtempSync(join(tmpdir(), "dagwood-features-serve-"));
  dirs.push(dir);
  mkdirSync(join(dir, "data"));
  mkdirSync(join(dir, "features"));
  writeFileSync(join(dir, "dagwood.json"), JSON.stringify({ name: "fs" }));
  writeFileSync(join(dir, "data", "drivers.csv"), CSV);
  writeFileSync(join(dir, "features", "drivers.json"), JSON.stringify(DEFS));
  const tokenFile = join(dir, "token");
  writeFileSync(tokenFile, "s3cret\n", { mode: 0o600 });
  return { dir, tokenFile };
}

/** Runs a long-lived command until its stop() sends SIGTERM; resolves the URL it prints. */
async function start(
  run: (io: { stdout: PassThrough; stderr: PassThrough }, signals: EventEmitter) => Promise<number>,
): Promise<{ url: string; stderr: () => string }> {
  const io = { stdout: new PassThrough(), stderr: new PassThrough() };
  let out = "";
  let err = "";
  io.stdout.on("data", (c) => {
    out += c;
  });
  io.stderr.on("data", (c) => {
    err += c;
  });
  const signals = new EventEmitter();
  const exit = run(io, signals);
  stops.push(async () => {
    signals.emit("SIGTERM");
    return exit;
  });
  for (let i = 0; i < 400 && !/listening on (\S+)/.test(out); i++) {
    const code = await Promise.race([exit, new Promise((r) => setTimeout(() => r(undefined), 25))]);
    if (code !== undefined) throw new Error(`the command exited ${code}: ${err}`);
  }
  const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
  if (!url) throw new Error(`the command did not start: ${out} ${err}`);
  return { url, stderr: () => err };
}

async function post(url: string, body: unknown, token?: string) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const LOOKUP = {
  features: ["driver_stats:conv_rate", "driver_stats:trips"],
  entities: { driver_id: [1001, 1002, 1003] },
};

describe("dagwood features serve", () => {
  it("materialises a window over HTTP, then serves the latest row per key in Feast's shape", async () => {
    const { dir, tokenFile } = project();
    const { url } = await start((io, signals) =>
      featuresServeCommand(["--project", dir, "--port", "0", "--token-file", tokenFile], io, signals),
    );
    const window = { start_ts: "2026-01-01T00:00:00Z", end_ts: "2026-01-02T00:00:00Z" };
    expect((await post(`${url}/materialize`, window)).status).toBe(401);
    const done = await post(`${url}/materialize`, window, "s3cret");
    expect(done, JSON.stringify(done.body)).toEqual({ status: 200, body: null });
    const r = await post(`${url}/get-online-features`, LOOKUP);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      metadata: { feature_names: ["driver_id", "conv_rate", "trips"] },
      results: [
        {
          values: [1001, 1002, 1003],
          statuses: ["PRESENT", "PRESENT", "PRESENT"],
          event_timestamps: ["1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"],
        },
        {
          values: [0.3, 0.2, null],
          statuses: ["PRESENT", "PRESENT", "NOT_FOUND"],
          event_timestamps: ["2026-01-01T03:00:00Z", "2026-01-01T02:00:00Z", "1970-01-01T00:00:00Z"],
        },
        {
          values: [30, 20, null],
          statuses: ["PRESENT", "PRESENT", "NOT_FOUND"],
          event_timestamps: ["2026-01-01T03:00:00Z", "2026-01-01T02:00:00Z", "1970-01-01T00:00:00Z"],
        },
      ],
    });
    // Incremental from the last end picks up 1002's later row.
    const inc = await post(`${url}/materialize-incremental`, { end_ts: "2026-01-04T00:00:00Z" }, "s3cret");
    expect(inc.status, JSON.stringify(inc.body)).toBe(200);
    const later = await post(`${url}/get-online-features`, LOOKUP);
    expect((later.body.results as { values: unknown[] }[])[1]!.values).toEqual([0.3, 0.7, null]);
    // A bad window is the caller's to fix: 400.
    const unknown = await post(`${url}/materialize`, { ...window, feature_views: ["ghost"] }, "s3cret");
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatch(/ghost/);
  });

  it("reads definitions edited while it serves, and answers 503 while they do not load", async () => {
    const { dir, tokenFile } = project();
    const { url } = await start((io, signals) =>
      featuresServeCommand(["--project", dir, "--port", "0", "--token-file", tokenFile], io, signals),
    );
    const byService = { feature_service: "rates", entities: { driver_id: [1001] } };
    expect((await post(`${url}/get-online-features`, byService)).status).toBe(400);
    // The server looks at features/ once a second at most.
    const settle = () => new Promise((r) => setTimeout(r, 1100));
    writeFileSync(join(dir, "features", "drivers.json"), "{ broken");
    await settle();
    const broken = await post(`${url}/get-online-features`, byService);
    expect(broken.status).toBe(503);
    expect(broken.body.error).toMatch(/do not load.*drivers\.json/s);
    // Still broken on the next request: the last good definitions are not served in between.
    expect((await post(`${url}/get-online-features`, byService)).status).toBe(503);
    writeFileSync(
      join(dir, "features", "drivers.json"),
      JSON.stringify({ ...DEFS, featureServices: [{ name: "rates", features: ["driver_stats:conv_rate"] }] }),
    );
    await settle();
    const fixed = await post(`${url}/get-online-features`, byService);
    expect(fixed.status).toBe(200);
    expect((fixed.body.metadata as { feature_names: string[] }).feature_names).toEqual([
      "driver_id",
      "conv_rate",
    ]);
  });

  it("refuses bad arguments and bad definitions before listening", async () => {
    const { dir } = project();
    const io = { stdout: new PassThrough(), stderr: new PassThrough() };
    await expect(featuresServeCommand(["--project", dir, "--port", "70000"], io)).rejects.toThrow(/--port/);
    await expect(featuresServeCommand(["--project", dir, "--infer-token"], io)).rejects.toThrow(
      /needs a token/,
    );
    writeFileSync(join(dir, "features", "drivers.json"), JSON.stringify({ ...DEFS, entities: [] }));
    let err = "";
    io.stderr.on("data", (c) => {
      err += c;
    });
    expect(await featuresServeCommand(["--project", dir, "--port", "0"], io)).toBe(2);
    expect(err).toMatch(/unknown entity|driver/i);
  });
});

describe("dagwood serve --project", () => {
  it("serves the project's features beside the models", async () => {
    const { dir, tokenFile } = project();
    const { url } = await start((io, signals) =>
      serveCommand(
        ["--project", dir, "--port", "0", "--repository", join(dir, "models"), "--token-file", tokenFile],
        io,
        signals,
      ),
    );
    expect((await fetch(`${url}/v2/health/live`)).status).toBe(200);
    const done = await post(
      `${url}/materialize`,
      { start_ts: "2026-01-01T00:00:00Z", end_ts: "2026-01-02T00:00:00Z" },
      "s3cret",
    );
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    const r = await post(`${url}/get-online-features`, { ...LOOKUP, full_feature_names: true });
    expect(r.status).toBe(200);
    expect((r.body.metadata as { feature_names: string[] }).feature_names).toEqual([
      "driver_id",
      "driver_stats__conv_rate",
      "driver_stats__trips",
    ]);
    expect((r.body.results as { values: unknown[] }[])[2]!.values).toEqual([30, 20, null]);
  });
});
