import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { applyFeatures, FeatureApplyError } from "./apply";
import { appendOfflineRows } from "./offline-push";
import { type FeatureProject, openFeatureProject } from "./project";
import { FeatureRepoError, loadFeatureRepo } from "./repo";
import { FEATURES_FORMAT } from "./types";

const defs = (ttl = "1d") => ({
  format: FEATURES_FORMAT,
  entities: [{ name: "driver", joinKeys: ["driver_id"], valueType: "Int64" }],
  featureViews: [
    {
      name: "driver_stats",
      entities: ["driver"],
      ttl,
      source: {
        path: "data/stats.parquet",
        timestampField: "event_timestamp",
        createdTimestampColumn: "created",
      },
      features: [
        { name: "conv_rate", type: "Float32" },
        { name: "trips", type: "Int32" },
        { name: "active", type: "Bool" },
      ],
    },
    {
      name: "driver_city",
      entities: ["driver"],
      ttl: "0",
      source: { path: "data/city.csv", timestampField: "ts" },
      features: [{ name: "city", type: "String" }],
    },
    {
      name: "engineered",
      entities: ["driver"],
      ttl: "0",
      source: { block: true, timestampField: "ts" },
      features: [{ name: "score", type: "Float64" }],
    },
  ],
});

describe("dagwood features apply", () => {
  let dir: string;
  let project: FeatureProject & { close(): void };
  const write = (content: unknown) =>
    writeFileSync(join(dir, "features", "drivers.json"), JSON.stringify(content));

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-apply-"));
    mkdirSync(join(dir, "features"));
    mkdirSync(join(dir, "data"));
    write(defs());
    writeFileSync(
      join(dir, "data", "city.csv"),
      "driver_id,ts,city\n1,2024-01-01 00:00:00,Oslo\n2,2024-01-03 10:00:00,Lima\n",
    );
    project = await openFeatureProject(dir);
    await project.sql.run(
      `COPY (SELECT range AS driver_id, TIMESTAMP '2024-01-01' + INTERVAL (range) HOUR AS event_timestamp,
                    TIMESTAMP '2024-01-02' AS created, range / 10.0 AS conv_rate, range::INTEGER AS trips, range % 2 = 0 AS active
             FROM range(5)) TO '${join(dir, "data", "stats.parquet")}' (FORMAT PARQUET)`,
    );
  });
  afterEach(() => {
    project.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("checks every view against its source and records a version only when a definition changed", async () => {
    const first = await applyFeatures(project);
    expect(first.entities).toBe(1);
    expect(first.views).toEqual([
      {
        name: "driver_stats",
        version: 1,
        changed: true,
        file: "features/drivers.json",
        rows: 5,
        newestEvent: "2024-01-01T04:00:00.000Z",
        unchecked: null,
      },
      {
        name: "driver_city",
        version: 1,
        changed: true,
        file: "features/drivers.json",
        rows: 2,
        newestEvent: "2024-01-03T10:00:00.000Z",
        unchecked: null,
      },
      expect.objectContaining({
        name: "engineered",
        version: 1,
        unchecked: expect.stringMatching(/run the pipeline/),
      }),
    ]);
    const again = await applyFeatures(project);
    expect(again.views.map((v) => [v.version, v.changed])).toEqual([
      [1, false],
      [1, false],
      [1, false],
    ]);
    write(defs("2d"));
    const changed = await applyFeatures(project);
    expect(changed.views.map((v) => [v.name, v.version, v.changed])).toEqual([
      ["driver_stats", 2, true],
      ["driver_city", 1, false],
      ["engineered", 1, false],
    ]);
    const versions = project.metadata.featureViewVersions("driver_stats");
    expect(versions.map((v) => v.version)).toEqual([2, 1]);
    expect(JSON.parse(versions[0]!.definition).ttl).toBe("2d");
    expect(JSON.parse(versions[1]!.definition).ttl).toBe("1d");
  });

  it("refuses sources that drifted from their views, naming every mismatch, and records nothing", async () => {
    await project.sql.run(
      `COPY (SELECT 'd1' AS driver_id, '2024-01-01' AS event_timestamp, 0.5 AS conv_rate, 1.5 AS trips, 1 AS active)
             TO '${join(dir, "data", "stats.parquet")}' (FORMAT PARQUET)`,
    );
    writeFileSync(join(dir, "data", "city.csv"), "driver_id,when,city\n1,2024-01-01,Oslo\n");
    const err = await applyFeatures(project).catch((e) => e);
    expect(err).toBeInstanceOf(FeatureApplyError);
    const m = err.message as string;
    expect(m).toMatch(/^Nothing applied: 2 feature views do not match their sources/);
    expect(m).toMatch(
      /join key "driver_id" is VARCHAR in the source, which does not hold the entity's Int64/,
    );
    expect(m).toMatch(/timestamp field "event_timestamp" is VARCHAR, not a timestamp/);
    expect(m).toMatch(/created-timestamp column "created" is not a column of the source/);
    expect(m).toMatch(/feature "trips" is declared Int32 but the source's column is DECIMAL\(2,1\)/);
    expect(m).toMatch(/feature "active" is declared Bool but the source's column is INTEGER/);
    expect(m).toMatch(
      /feature view "driver_city" \(features\/drivers.json\):\n {4}timestamp field "ts" is not a column of the source \(it has: driver_id BIGINT, when DATE, city VARCHAR\)/,
    );
    expect(project.metadata.featureViewVersions()).toEqual([]);
  });

  it("checks rows pushed offline on their own: a feature the source gained but the pushed files lack is named", async () => {
    const repo = loadFeatureRepo(dir);
    await appendOfflineRows(
      { projectDir: dir, allowedDirs: project.allowedDirs, sql: project.sql },
      repo,
      repo.views.get("driver_city")!,
      {
        columns: new Map<string, unknown[]>([
          ["driver_id", [3]],
          ["ts", ["2024-01-04T00:00:00Z"]],
          ["city", ["Pune"]],
        ]),
        rows: 1,
      },
    );
    expect((await applyFeatures(project)).views.find((v) => v.name === "driver_city")?.rows).toBe(3);
    // The view gains a feature and its CSV the column; the pushed file has no such column.
    const next = defs();
    next.featureViews[1]!.features.push({ name: "zone", type: "String" });
    write(next);
    writeFileSync(join(dir, "data", "city.csv"), "driver_id,ts,city,zone\n1,2024-01-01 00:00:00,Oslo,n\n");
    const error = await applyFeatures(project).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FeatureApplyError);
    expect((error as Error).message).toMatch(/driver_city[\s\S]*rows pushed offline: .*zone/);
  });

  it("refuses rows sharing keys and event time when no created column chooses among them", async () => {
    writeFileSync(
      join(dir, "data", "city.csv"),
      "driver_id,ts,city\n1,2024-01-01 00:00:00,Oslo\n1,2024-01-01 00:00:00,Rome\n",
    );
    await expect(applyFeatures(project)).rejects.toThrow(
      /feature view "driver_city" \(features\/drivers.json\):\n {4}the source has 2 rows with the same keys and event time \(driver_id=1, ts=2024-01-01T00:00:00.000Z\), and no created-timestamp column/,
    );
  });

  it("reports bad definitions before reading any source", async () => {
    write({ ...defs(), featureServices: [{ name: "s", features: ["driver_stats:nope"] }] });
    await expect(applyFeatures(project)).rejects.toThrow(FeatureRepoError);
    await expect(applyFeatures(project)).rejects.toThrow(
      /featureServices\[0\]\.features\[0\]: feature view "driver_stats" has no feature "nope"/,
    );
  });

  it("refuses a source outside the project", async () => {
    const d = defs();
    d.featureViews[1]!.source = { path: "../elsewhere.csv", timestampField: "ts" };
    write(d);
    await expect(applyFeatures(project)).rejects.toThrow(/driver_city.*outside the project folder/s);
  });
});
