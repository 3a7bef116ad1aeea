import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BlockError } from "../app/engine/block";
import { executeBlock, parseParams } from "../app/engine/execute";
import { standaloneContext } from "../app/engine/standalone-context";
import { createTestProject, type TestProject } from "../app/engine/testing";
import { SqliteOnlineStore } from "../app/features/online/sqlite";
import { entityKey } from "../app/features/online/values";
import { FEATURES_FORMAT } from "../app/features/types";
import block from "./features-materialize";

const DEFS = {
  format: FEATURES_FORMAT,
  entities: [{ name: "driver", joinKeys: ["driver_id"] }],
  featureViews: [
    {
      name: "driver_stats",
      entities: ["driver"],
      ttl: "1d",
      source: { path: "data/stats.csv", timestampField: "event_timestamp" },
      features: [{ name: "conv_rate", type: "Float64" }],
    },
  ],
};

describe("features.materialize", () => {
  let p: TestProject;
  beforeEach(async () => {
    p = await createTestProject();
    mkdirSync(join(p.dir, "features"));
    writeFileSync(join(p.dir, "features", "drivers.json"), JSON.stringify(DEFS));
    writeFileSync(
      join(p.dir, "data", "stats.csv"),
      "driver_id,event_timestamp,conv_rate\n1,2026-01-01T10:00:00Z,0.5\n1,2026-01-01T20:00:00Z,0.6\n2,2026-01-01T12:00:00Z,0.7\n",
    );
  });
  afterEach(async () => {
    await p.close();
  });

  async function lookup(keys: number[]) {
    const store = new SqliteOnlineStore(join(p.dir, ".dagwood", "online.sqlite"));
    try {
      return (
        await store.get(
          "driver_stats",
          keys.map((k) => entityKey([k])),
          ["conv_rate"],
        )
      ).map((r) => r?.values.conv_rate ?? null);
    } finally {
      await store.close();
    }
  }

  it("materialises a window into the project's online store and reports each view", async () => {
    const out = await p.run(
      block,
      {},
      { mode: "window", start: "2026-01-01T00:00:00Z", end: "2026-01-01T15:00:00Z" },
    );
    const rows = await p.rows(out.report);
    expect(rows).toEqual([expect.objectContaining({ view: "driver_stats", version: 0, rows: 2 })]);
    expect(await lookup([1, 2, 3])).toEqual([0.5, 0.7, null]);
    expect(p.logs.map((l) => l.message)).toContain("Materialised 2 rows of driver_stats");

    const next = await p.run(block, {}, { end: "2026-01-02T00:00:00" });
    expect(await p.rows(next.report)).toEqual([
      expect.objectContaining({ view: "driver_stats", rows: 1, start: new Date("2026-01-01T15:00:00Z") }),
    ]);
    expect(await lookup([1, 2])).toEqual([0.6, 0.7]);
  });

  it("records each view's version from the run's metadata store (features apply's), with no store of its own", async () => {
    const metadata = p.metadata();
    for (const digest of ["a", "b"])
      metadata.recordFeatureViewVersion({
        view: "driver_stats",
        digest,
        definition: JSON.stringify(DEFS.featureViews[0]),
        file: "features/drivers.json",
      });
    const out = await p.run(
      block,
      {},
      { mode: "window", start: "2026-01-01T00:00:00Z", end: "2026-01-02T00:00:00Z" },
    );
    expect(await p.rows(out.report)).toEqual([expect.objectContaining({ view: "driver_stats", version: 2 })]);
    const store = new SqliteOnlineStore(join(p.dir, ".dagwood", "online.sqlite"));
    try {
      expect((await store.materializations("driver_stats"))[0]?.version).toBe(2);
    } finally {
      await store.close();
    }
    // The versions come through the block's context, whatever is on disk.
    const ctx = Object.assign(standaloneContext(p.sql, p.dir, { resolvePath: (x) => join(p.dir, x) }), {
      featureViewVersions: () => [
        { view: "driver_stats", version: 7, digest: "c", definition: "{}", file: "f", appliedAt: "" },
      ],
    });
    const params = parseParams(block, {
      mode: "window",
      start: "2026-01-01T00:00:00Z",
      end: "2026-01-03T00:00:00Z",
    });
    const again = await executeBlock(block, ctx, {}, params, p.workspace);
    expect(await p.rows(again.report)).toEqual([
      expect.objectContaining({ view: "driver_stats", version: 7 }),
    ]);
  });

  it("runs every time: the online store lies outside the workspace", async () => {
    const ctx = {
      projectDir: p.dir,
      resolvePath: (x: string) => x,
      hashFile: async () => "",
      resolveAlias: () => null,
    };
    const a = await block.externalFingerprint!(ctx, block.params.parse({}));
    const b = await block.externalFingerprint!(ctx, block.params.parse({}));
    expect(a).not.toBe(b);
  });

  it("says what is wrong: a window without start, a start in incremental mode, an unknown view, a bad time", async () => {
    await expect(p.run(block, {}, { mode: "window" })).rejects.toThrow('Window mode needs "start"');
    await expect(p.run(block, {}, { start: "2026-01-01" })).rejects.toThrow('"start" is for window mode');
    await expect(p.run(block, {}, { views: ["nope"] })).rejects.toThrow(BlockError);
    await expect(p.run(block, {}, { views: ["nope"] })).rejects.toThrow('Unknown feature view "nope"');
    await expect(p.run(block, {}, { end: "tomorrow" })).rejects.toThrow("an ISO 8601 time");
  });
});
