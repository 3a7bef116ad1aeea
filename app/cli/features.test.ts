import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FEATURES_FORMAT } from "../features/types";
import { EXIT, main } from "./main";

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = "";
  let stderr = "";
  out.on("data", (d) => {
    stdout += d;
  });
  err.on("data", (d) => {
    stderr += d;
  });
  const code = await main(args, { stdout: out, stderr: err });
  return { code, stdout, stderr };
}

const DEFS = {
  format: FEATURES_FORMAT,
  entities: [{ name: "driver", joinKeys: ["driver_id"], description: "A driver" }],
  featureViews: [
    {
      name: "driver_stats",
      entities: ["driver"],
      ttl: "1d",
      owner: "ml-team",
      source: { path: "data/stats.csv", timestampField: "event_timestamp" },
      features: [
        { name: "conv_rate", type: "Float64" },
        { name: "trips", type: "Int64" },
      ],
    },
  ],
  featureServices: [{ name: "ranker", features: ["driver_stats:conv_rate"] }],
};

describe("dagwood features", () => {
  let dir: string;
  let elsewhere: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-features-cli-"));
    elsewhere = mkdtempSync(join(tmpdir(), "dagwood-features-out-"));
    mkdirSync(join(dir, "features"));
    mkdirSync(join(dir, "data"));
    writeFileSync(join(dir, "features", "drivers.json"), JSON.stringify(DEFS));
    writeFileSync(
      join(dir, "data", "stats.csv"),
      [
        "driver_id,event_timestamp,conv_rate,trips",
        "1,2024-01-01 00:00:00,0.5,10",
        "1,2024-01-02 00:00:00,0.7,12",
        "2,2024-01-01 12:00:00,0.1,3",
      ].join("\n"),
    );
    writeFileSync(
      join(elsewhere, "entities.csv"),
      [
        "driver_id,event_timestamp,label",
        "1,2024-01-01 06:00:00,1",
        "1,2024-01-02 00:00:00,0",
        "2,2024-01-03 00:00:00,1",
        "3,2024-01-02 00:00:00,0",
      ].join("\n"),
    );
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(elsewhere, { recursive: true, force: true });
  });

  it("list before apply shows the views as not applied; apply records v1; list then shows it", async () => {
    const before = await cli(["features", "list", "--project", dir]);
    expect(before.code).toBe(EXIT.ok);
    expect(before.stdout).toMatch(/driver_stats\s+driver\s+2\s+1d\s+data\/stats.csv\s+not applied\s+ml-team/);
    expect(before.stdout).toMatch(/ranker\s+driver_stats:conv_rate/);

    const applied = await cli(["features", "apply", "--project", dir]);
    expect(applied.code, applied.stderr).toBe(EXIT.ok);
    expect(applied.stdout).toMatch(/driver_stats\s+v1 \(new\)\s+3\s+2024-01-02 00:00:00\s+ok/);
    expect(applied.stdout).toMatch(/Applied 1 entity, 1 view, 1 service\./);
    const again = await cli(["features", "apply", "--project", dir, "--json"]);
    expect(JSON.parse(again.stdout).views[0]).toMatchObject({
      name: "driver_stats",
      version: 1,
      changed: false,
    });

    const listed = await cli(["features", "list", "--project", dir, "--json"]);
    const json = JSON.parse(listed.stdout);
    expect(json.views[0]).toMatchObject({
      name: "driver_stats",
      version: 1,
      changedSinceApply: false,
      joinKeys: ["driver_id"],
    });
    expect(json.problems).toEqual([]);
    expect(json.entities[0].name).toBe("driver");
    expect(json.services[0].name).toBe("ranker");
  });

  it("writes a point-in-time training set for entity rows in a file outside the project", async () => {
    const out = join(elsewhere, "train.csv");
    const r = await cli([
      "features",
      "training-set",
      "--project",
      dir,
      "--entities",
      join(elsewhere, "entities.csv"),
      "--features",
      "driver_stats:conv_rate,driver_stats:trips",
      "--out",
      out,
    ]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect(r.stdout).toMatch(/Wrote 4 rows with 2 features \(conv_rate, trips\)/);
    const lines = readFileSync(out, "utf8").trim().split("\n");
    expect(lines[0]).toBe("driver_id,event_timestamp,label,conv_rate,trips");
    // In the entity file's order.
    expect(lines.slice(1)).toEqual([
      "1,2024-01-01 06:00:00,1,0.5,10",
      "1,2024-01-02 00:00:00,0,0.7,12",
      // 36 hours after driver 2's row: outside the 1-day TTL.
      "2,2024-01-03 00:00:00,1,,",
      // No rows for driver 3.
      "3,2024-01-02 00:00:00,0,,",
    ]);
    const svc = await cli([
      "features",
      "training-set",
      "--project",
      dir,
      "--entities",
      join(elsewhere, "entities.csv"),
      "--service",
      "ranker",
      "--full-feature-names",
      "--out",
      join(elsewhere, "svc.parquet"),
    ]);
    expect(svc.code, svc.stderr).toBe(EXIT.ok);
    expect(svc.stdout).toMatch(/1 feature \(driver_stats__conv_rate\)/);
  });

  it("materialize and materialize-incremental are dagwood features subcommands, into the project's online store", async () => {
    const window = await cli([
      "features",
      "materialize",
      "--start",
      "2024-01-01T00:00:00Z",
      "--end",
      "2024-01-01T23:59:59Z",
      "--project",
      dir,
      "--json",
    ]);
    expect(window.code, window.stderr).toBe(EXIT.ok);
    // The window holds driver 1's first row and driver 2's only row: one row per key.
    expect(JSON.parse(window.stdout)).toMatchObject([{ view: "driver_stats", rows: 2 }]);
    const more = await cli([
      "features",
      "materialize-incremental",
      "--end",
      "2024-01-02T12:00:00Z",
      "--project",
      dir,
      "--json",
    ]);
    expect(more.code, more.stderr).toBe(EXIT.ok);
    // From the last end on: driver 1's second row only.
    expect(JSON.parse(more.stdout)).toMatchObject([{ view: "driver_stats", rows: 1 }]);
    const serve = await cli(["features", "serve", "--port", "nope", "--project", dir]);
    expect(serve.code).toBe(EXIT.invalid);
    expect(serve.stderr).toMatch(/--port/);
  });

  it("keeps the entity file's row order, and refuses entity rows without a time", async () => {
    const entities = join(elsewhere, "shuffled.csv");
    writeFileSync(
      entities,
      "driver_id,event_timestamp\n3,2024-01-02 00:00:00\n1,2024-01-02 00:00:00\n2,2024-01-01 13:00:00\n1,2024-01-01 06:00:00\n",
    );
    const out = join(elsewhere, "shuffled-out.csv");
    const args = [
      "features",
      "training-set",
      "--project",
      dir,
      "--features",
      "driver_stats:trips",
      "--out",
      out,
    ];
    const r = await cli([...args, "--entities", entities]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect(readFileSync(out, "utf8").trim().split("\n")).toEqual([
      "driver_id,event_timestamp,trips",
      "3,2024-01-02 00:00:00,",
      "1,2024-01-02 00:00:00,12",
      "2,2024-01-01 13:00:00,3",
      "1,2024-01-01 06:00:00,10",
    ]);
    const gaps = join(elsewhere, "gaps.csv");
    writeFileSync(gaps, "driver_id,event_timestamp\n1,2024-01-02 00:00:00\n2,\n");
    const refused = await cli([...args, "--entities", gaps]);
    expect(refused.code).toBe(EXIT.invalid);
    expect(refused.stderr).toBe(
      '1 entity row has no "event_timestamp": every entity row needs the time its features are wanted at; fill or drop those rows\n',
    );
    const other = await cli([...args, "--entities", gaps, "--timestamp-column", "at"]);
    expect(other.code).toBe(EXIT.invalid);
    expect(other.stderr).toMatch(
      /The entity table has no "at" column \(it has: driver_id, event_timestamp\)/,
    );
  });

  it("says what is wrong: bad arguments, unknown features, drifted sources, bad definitions", async () => {
    const base = [
      "features",
      "training-set",
      "--project",
      dir,
      "--entities",
      join(elsewhere, "entities.csv"),
    ];
    const noOut = await cli([...base, "--features", "driver_stats:trips"]);
    expect(noOut.code).toBe(EXIT.invalid);
    expect(noOut.stderr).toMatch(/needs --out FILE/);
    const both = await cli([
      ...base,
      "--features",
      "driver_stats:trips",
      "--service",
      "ranker",
      "--out",
      "x.csv",
    ]);
    expect(both.stderr).toMatch(/either --features view:feature,… or --service NAME/);
    const unknown = await cli([
      ...base,
      "--features",
      "driver_stats:speed",
      "--out",
      join(elsewhere, "u.csv"),
    ]);
    expect(unknown.code).toBe(EXIT.invalid);
    expect(unknown.stderr).toBe(
      'feature view "driver_stats" has no feature "speed" (it has: conv_rate, trips)\n',
    );
    const noSub = await cli(["features"]);
    expect(noSub.code).toBe(EXIT.invalid);
    expect(noSub.stderr).toMatch(
      /features needs a command: apply, list, training-set, materialize, materialize-incremental or serve/,
    );

    writeFileSync(join(dir, "data", "stats.csv"), "driver_id,event_timestamp,conv_rate\n1,yesterday,high\n");
    const drift = await cli(["features", "apply", "--project", dir]);
    expect(drift.code).toBe(EXIT.failed);
    expect(drift.stderr).toMatch(/timestamp field "event_timestamp" is VARCHAR, not a timestamp/);
    expect(drift.stderr).toMatch(/feature "trips" is not a column of the source/);

    const defs = (entities: unknown) => JSON.stringify({ format: FEATURES_FORMAT, entities });
    writeFileSync(join(dir, "features", "bad.json"), defs([{ name: "driver", joinKeys: ["id"] }]));
    writeFileSync(join(dir, "features", "worse.json"), defs([{ name: "rider", joinKeys: [] }]));
    const bad = await cli(["features", "list", "--project", dir]);
    expect(bad.code).toBe(EXIT.invalid);
    expect(bad.stderr).toMatch(/features\/worse.json at entities\[0\]\.joinKeys: /);
    expect(bad.stderr).toMatch(
      /features\/drivers.json at entities\[0\]\.name: entity "driver" is already defined in features\/bad.json/,
    );
  });
});
