import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BlockError } from "../app/engine/block";
import { inferSchemas } from "../app/engine/schema";
import { createTestProject, type TestProject } from "../app/engine/testing";
import { appendOfflineRows } from "../app/features/offline-push";
import { offlineTableFile, pushedFiles } from "../app/features/offline-source";
import { loadFeatureRepo } from "../app/features/repo";
import { FEATURES_FORMAT } from "../app/features/types";
import { parsePipelineObject } from "../app/pipeline/validate";
import featuresTrainingSet from "./features-training-set";
import featuresView from "./features-view";
import { catalog } from "./index";

const DEFS = {
  format: FEATURES_FORMAT,
  entities: [{ name: "user", joinKeys: ["user_id"] }],
  featureViews: [
    {
      name: "user_activity",
      entities: ["user"],
      ttl: "7d",
      source: { block: true, timestampField: "day" },
      features: [
        { name: "clicks_7d", type: "Int64" },
        { name: "spend_7d", type: "Float64" },
      ],
    },
    {
      name: "from_file",
      entities: ["user"],
      ttl: "0",
      source: { path: "data/f.csv", timestampField: "day" },
      features: [{ name: "x", type: "Float64" }],
    },
  ],
};

const ACTIVITY = `SELECT * FROM (VALUES
  (1, TIMESTAMP '2024-03-01', 3, 1.5), (1, TIMESTAMP '2024-03-05', 8, 4.0), (2, TIMESTAMP '2024-03-02', 1, 0.5)
) t(user_id, day, clicks_7d, spend_7d)`;

describe("features.view and features.training-set", () => {
  let p: TestProject;
  beforeEach(async () => {
    p = await createTestProject();
    mkdirSync(join(p.dir, "features"));
    writeFileSync(join(p.dir, "features", "users.json"), JSON.stringify(DEFS));
  });
  afterEach(() => p.close());

  it("writes the view's offline table, which a training set then joins point-in-time", async () => {
    const activity = await p.table("activity", ACTIVITY);
    const before = await p.fingerprint(featuresView, { view: "user_activity" });
    const { out } = await p.run(featuresView, { in: activity }, { view: "user_activity" });
    expect(out).toEqual(activity);
    expect(existsSync(offlineTableFile(p.dir, "user_activity"))).toBe(true);
    // The table written is state the cache key follows.
    expect(await p.fingerprint(featuresView, { view: "user_activity" })).not.toBe(before);

    const entities = await p.table(
      "labels",
      `SELECT * FROM (VALUES (1, TIMESTAMP '2024-03-04', true), (1, TIMESTAMP '2024-03-05', false),
                             (2, TIMESTAMP '2024-03-10', true), (2, TIMESTAMP '2024-03-01', false))
              t(user_id, event_timestamp, churned)`,
    );
    const set = await p.run(
      featuresTrainingSet,
      { entities },
      { features: ["user_activity"], fullFeatureNames: true },
    );
    // The source's INTEGER and DECIMAL(2,1) come out as the declared Int64 and Float64.
    const outName = set.out?.type === "table" ? set.out.name : "";
    expect((await p.sql.columns(outName)).slice(3)).toEqual([
      { name: "user_activity__clicks_7d", type: "BIGINT" },
      { name: "user_activity__spend_7d", type: "DOUBLE" },
    ]);
    expect(await p.rows(set.out, "user_id, event_timestamp")).toEqual([
      {
        user_id: 1,
        event_timestamp: new Date("2024-03-04T00:00:00Z"),
        churned: true,
        user_activity__clicks_7d: 3,
        user_activity__spend_7d: 1.5,
      },
      {
        user_id: 1,
        event_timestamp: new Date("2024-03-05T00:00:00Z"),
        churned: false,
        user_activity__clicks_7d: 8,
        user_activity__spend_7d: 4,
      },
      // Before user 2's first row: nothing.
      {
        user_id: 2,
        event_timestamp: new Date("2024-03-01T00:00:00Z"),
        churned: false,
        user_activity__clicks_7d: null,
        user_activity__spend_7d: null,
      },
      // Eight days after user 2's row: outside the 7-day TTL.
      {
        user_id: 2,
        event_timestamp: new Date("2024-03-10T00:00:00Z"),
        churned: true,
        user_activity__clicks_7d: null,
        user_activity__spend_7d: null,
      },
    ]);
  });

  it("refuses a table that does not fit the view, and views it does not produce", async () => {
    const drifted = await p.table("d", "SELECT 1 AS user_id, '2024-03-01' AS day, 2.5 AS clicks_7d");
    await expect(p.run(featuresView, { in: drifted }, { view: "user_activity" })).rejects.toThrow(
      /does not fit feature view "user_activity":\n {2}timestamp field "day" is VARCHAR, not a timestamp.*\n {2}feature "clicks_7d" is declared Int64 but the source's column is DECIMAL\(2,1\)\n {2}feature "spend_7d" is not a column of the source/s,
    );
    expect(existsSync(offlineTableFile(p.dir, "user_activity"))).toBe(false);
    const activity = await p.table("activity", ACTIVITY);
    await expect(p.run(featuresView, { in: activity }, { view: "from_file" })).rejects.toThrow(
      /reads data\/f.csv, not a block's table/,
    );
    await expect(p.run(featuresView, { in: activity }, { view: "nope" })).rejects.toThrow(
      /No feature view "nope" in features\/\*\.json \(known: user_activity, from_file\)/,
    );
  });

  it("declares the training set's columns as the run makes them, and its problems before a run", async () => {
    writeFileSync(
      join(p.dir, "data", "labels.csv"),
      "user_id,event_timestamp,churned\n1,2024-03-04 00:00:00,true\n2,2024-03-10 00:00:00,false\n",
    );
    const pipeline = (params: Record<string, unknown>, sql = "SELECT * FROM input") =>
      parsePipelineObject({
        format: "dagwood.pipeline/1",
        name: "features",
        params: {},
        nodes: [
          { id: "labels", block: "ingest.file", params: { path: "data/labels.csv" } },
          { id: "pick", block: "transform.sql", params: { query: sql } },
          { id: "set", block: "features.training-set", params },
        ],
        edges: [
          { from: "labels.out", to: "pick.in" },
          { from: "pick.out", to: "set.entities" },
        ],
        layout: {},
      }).pipeline!;
    const infer = (params: Record<string, unknown>, sql?: string) =>
      inferSchemas({ pipeline: pipeline(params, sql), catalog, projectDir: p.dir, allowedDirs: [p.dir] });
    const inferred = await infer({ features: ["user_activity"], fullFeatureNames: true });
    expect(inferred.problems).toEqual([]);

    await p.run(featuresView, { in: await p.table("activity", ACTIVITY) }, { view: "user_activity" });
    const labels = await p.table(
      "labels",
      `SELECT * FROM read_csv_auto('${join(p.dir, "data", "labels.csv")}')`,
    );
    const set = await p.run(
      featuresTrainingSet,
      { entities: labels },
      { features: ["user_activity"], fullFeatureNames: true },
    );
    const ran = await p.sql.columns(set.out?.type === "table" ? set.out.name : "");
    expect(inferred.schemas.set?.out?.columns).toEqual(ran);
    expect(ran.map((c) => c.name)).toEqual([
      "user_id",
      "event_timestamp",
      "churned",
      "user_activity__clicks_7d",
      "user_activity__spend_7d",
    ]);

    const unknown = await infer({ service: "nope" });
    expect(unknown.problems.map((x) => x.message)).toEqual([
      expect.stringMatching(/Unknown feature service "nope"/),
    ]);
    const noKey = await infer({ features: ["user_activity:clicks_7d"] }, "SELECT event_timestamp FROM input");
    expect(noKey.problems.map((x) => x.message)).toEqual([
      'The entity table lacks the join key "user_id" of feature view "user_activity"',
    ]);
  });

  it("keeps rows pushed offline when it rewrites the view's table, and the training set's key follows them", async () => {
    const repo = () => loadFeatureRepo(p.dir);
    const push = (columns: Record<string, unknown[]>) =>
      appendOfflineRows(
        { projectDir: p.dir, allowedDirs: [p.dir], sql: p.sql },
        repo(),
        repo().views.get("user_activity")!,
        { columns: new Map(Object.entries(columns)), rows: Object.values(columns)[0]!.length },
      );
    const entities = await p.table(
      "labels",
      `SELECT * FROM (VALUES (3, TIMESTAMP '2024-03-06'), (1, TIMESTAMP '2024-03-07'), (2, TIMESTAMP '2024-03-03'))
              t(user_id, event_timestamp)`,
    );
    const trainingSet = async () =>
      p.rows((await p.run(featuresTrainingSet, { entities }, { features: ["user_activity"] })).out);
    const setKey = () => p.fingerprint(featuresTrainingSet, { features: ["user_activity"] });

    // Pushed before the pipeline ever ran: the view reads the pushed rows alone.
    await push({ user_id: [3], day: ["2024-03-04T00:00:00Z"], clicks_7d: [30], spend_7d: [3.5] });
    expect(await trainingSet()).toEqual([
      { user_id: 3, event_timestamp: new Date("2024-03-06T00:00:00Z"), clicks_7d: 30, spend_7d: 3.5 },
      { user_id: 1, event_timestamp: new Date("2024-03-07T00:00:00Z"), clicks_7d: null, spend_7d: null },
      { user_id: 2, event_timestamp: new Date("2024-03-03T00:00:00Z"), clicks_7d: null, spend_7d: null },
    ]);

    await p.run(featuresView, { in: await p.table("activity", ACTIVITY) }, { view: "user_activity" });
    const afterTable = await setKey();
    await push({ user_id: [1], day: ["2024-03-06T12:00:00Z"], clicks_7d: [99], spend_7d: [9.5] });
    const afterPush = await setKey();
    expect(afterPush).not.toBe(afterTable);
    expect(await setKey()).toBe(afterPush);
    const pushed = pushedFiles(p.dir, "user_activity");
    expect(pushed).toHaveLength(2);

    // The pipeline runs again with other rows: its table is replaced, the pushed rows stay.
    const rewritten = await p.table(
      "activity2",
      `SELECT * FROM (VALUES (2, TIMESTAMP '2024-03-02', 5, 2.5)) t(user_id, day, clicks_7d, spend_7d)`,
    );
    await p.run(featuresView, { in: rewritten }, { view: "user_activity" });
    expect(pushedFiles(p.dir, "user_activity")).toEqual(pushed);
    expect(await trainingSet()).toEqual([
      { user_id: 3, event_timestamp: new Date("2024-03-06T00:00:00Z"), clicks_7d: 30, spend_7d: 3.5 },
      { user_id: 1, event_timestamp: new Date("2024-03-07T00:00:00Z"), clicks_7d: 99, spend_7d: 9.5 },
      { user_id: 2, event_timestamp: new Date("2024-03-03T00:00:00Z"), clicks_7d: 5, spend_7d: 2.5 },
    ]);
  });

  it("keys a glob source by the files it matches: one added, changed or removed re-runs the training set", async () => {
    const defs = structuredClone(DEFS);
    defs.featureViews[1]!.source = { path: "data/parts/*.csv", timestampField: "day" };
    writeFileSync(join(p.dir, "features", "users.json"), JSON.stringify(defs));
    mkdirSync(join(p.dir, "data", "parts"));
    const part = (name: string, x: number) =>
      writeFileSync(join(p.dir, "data", "parts", name), `user_id,day,x\n1,2024-03-01 00:00:00,${x}\n`);
    part("a.csv", 1);
    const key = () => p.fingerprint(featuresTrainingSet, { features: ["from_file:x"] });
    const first = await key();
    expect(await key()).toBe(first);
    part("b.csv", 2);
    const added = await key();
    expect(added).not.toBe(first);
    part("b.csv", 3);
    const changed = await key();
    expect(changed).not.toBe(added);
    rmSync(join(p.dir, "data", "parts", "b.csv"));
    expect(await key()).toBe(first);
    // A file beside the glob's folder, or of another name, is no part of it.
    writeFileSync(join(p.dir, "data", "parts", "c.txt"), "x");
    writeFileSync(join(p.dir, "data", "other.csv"), "x");
    expect(await key()).toBe(first);
  });

  it("refuses rows sharing keys and event time (the view has no created column), also with rows pushed offline", async () => {
    const dup = await p.table(
      "dup",
      `SELECT * FROM (VALUES (1, TIMESTAMP '2024-03-01', 3, 1.5), (1, TIMESTAMP '2024-03-01', 4, 2.5))
              t(user_id, day, clicks_7d, spend_7d)`,
    );
    await expect(p.run(featuresView, { in: dup }, { view: "user_activity" })).rejects.toThrow(
      /The table for feature view "user_activity" has 2 rows with the same keys and event time \(user_id=1, day=2024-03-01T00:00:00.000Z\), and no created-timestamp column/,
    );
    expect(existsSync(offlineTableFile(p.dir, "user_activity"))).toBe(false);
    const repo = loadFeatureRepo(p.dir);
    await appendOfflineRows(
      { projectDir: p.dir, allowedDirs: [p.dir], sql: p.sql },
      repo,
      repo.views.get("user_activity")!,
      {
        columns: new Map<string, unknown[]>([
          ["user_id", [2]],
          ["day", ["2024-03-02T00:00:00Z"]],
          ["clicks_7d", [1]],
          ["spend_7d", [0.5]],
        ]),
        rows: 1,
      },
    );
    await expect(
      p.run(featuresView, { in: await p.table("activity", ACTIVITY) }, { view: "user_activity" }),
    ).rejects.toThrow(
      /The table and the rows pushed offline to feature view "user_activity" \(.*pushed\) together have 2 rows with the same keys and event time \(user_id=2, day=2024-03-02T00:00:00.000Z\)/,
    );
  });

  it("says what to do when the view's table is not written yet or the request is bad", async () => {
    const entities = await p.table("e", "SELECT 1 AS user_id, TIMESTAMP '2024-03-04' AS event_timestamp");
    await expect(
      p.run(featuresTrainingSet, { entities }, { features: ["user_activity:clicks_7d"] }),
    ).rejects.toThrow(/"user_activity" has no offline table yet: .*run that pipeline first/);
    await expect(
      p.run(featuresTrainingSet, { entities }, { features: ["user_activity:nope"] }),
    ).rejects.toThrow(/feature view "user_activity" has no feature "nope"/);
    await expect(
      p.run(featuresTrainingSet, { entities }, { features: ["user_activity"], service: "svc" }),
    ).rejects.toThrow(/either features \(view:feature\) or a feature service/);
    await expect(p.run(featuresTrainingSet, { entities }, {})).rejects.toThrow(/either features/);
    await p.run(featuresView, { in: await p.table("activity", ACTIVITY) }, { view: "user_activity" });
    const noTime = await p.table(
      "nt",
      "SELECT * FROM (VALUES (1, TIMESTAMP '2024-03-04'), (2, NULL), (1, NULL)) t(user_id, event_timestamp)",
    );
    await expect(
      p.run(featuresTrainingSet, { entities: noTime }, { features: ["user_activity"] }),
    ).rejects.toThrow(
      new BlockError(
        '2 entity rows have no "event_timestamp": every entity row needs the time its features are wanted at; fill or drop those rows',
      ),
    );
    const noColumn = await p.table("nc", "SELECT 1 AS user_id, TIMESTAMP '2024-03-04' AS at");
    await expect(
      p.run(featuresTrainingSet, { entities: noColumn }, { features: ["user_activity"] }),
    ).rejects.toThrow(
      /The entity table has no "event_timestamp" column \(it has: user_id, at\); add each row's event time there, or name the column that holds it \(--timestamp-column of `dagwood features training-set`, timestampColumn of the features.training-set block\)/,
    );
  });
});
