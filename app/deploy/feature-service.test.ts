/**
 * Inference by entity end to end, as a user gets there: a temp project with a
 * feature view whose Parquet source has late and duplicate rows, `dagwood
 * features apply` and `features materialize`, a pipeline whose training set
 * comes from `features.training-set` with a feature service, a ridge model
 * trained on it and registered with that service, deployed to the app's
 * built-in local target (which serves the project's features beside the
 * models), then V2 infer with the entity keys only. The expected features
 * are worked out here from the rows as written (latest event time, latest
 * created time on a tie), never by the feature store's code.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runDagwood } from "../cli/testing";
import { readProjectSettings } from "../project/project";
import { SqliteMetadataStore } from "../store/metadata";
import { deployVersion } from "./deploy";
import { createLocalServers, type LocalServers } from "./embedded";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface FeatureRow {
  driver_id: number;
  event_timestamp: number;
  created: number;
  conv_rate: number;
  acc_rate: number;
  avg_daily_trips: number;
}

/** A deterministic generator (mulberry32), so the data is the same every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("a model registered with a feature service, called by entity", { timeout: 180_000 }, () => {
  let dir: string;
  let local: LocalServers;
  let url: string;
  let rows: FeatureRow[];
  /** Now, on the hour: the feature rows are the 3 days before it. */
  const now = Math.floor(Date.now() / HOUR) * HOUR;
  const iso = (ms: number) => new Date(ms).toISOString();

  /** The row the online store should hold for a driver: the latest event time, then the latest created time. */
  const latest = (driver: number): FeatureRow => {
    const mine = rows.filter((r) => r.driver_id === driver);
    return mine.reduce((a, b) =>
      b.event_timestamp > a.event_timestamp ||
      (b.event_timestamp === a.event_timestamp && b.created > a.created)
        ? b
        : a,
    );
  };

  const infer = async (body: unknown) => {
    const res = await fetch(`${url}/v2/models/trips/infer`, { method: "POST", body: JSON.stringify(body) });
    return {
      status: res.status,
      body: (await res.json()) as {
        outputs: { name: string; data: number[] }[];
        parameters?: Record<string, string>;
        error?: string;
      },
    };
  };
  const byHand = (drivers: number[]) =>
    infer({
      inputs: (["conv_rate", "acc_rate", "avg_daily_trips"] as const).map((name) => ({
        name,
        datatype: "FP64",
        shape: [drivers.length, 1],
        data: drivers.map((d) => latest(d)[name]),
      })),
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-by-entity-"));
    mkdirSync(join(dir, "data"));
    mkdirSync(join(dir, "features"));
    mkdirSync(join(dir, "pipelines"));
    writeFileSync(join(dir, "dagwood.json"), JSON.stringify({ name: "by-entity" }));

    // Drivers 1001–1008 report hourly over the last 3 days; driver 1008 stopped 2 days ago (stale
    // against the 1-day TTL). Every 5th row arrives late (created 6 h after its event), and some
    // rows come twice with the same event time: the later-created copy holds the corrected values.
    const rand = random(7);
    rows = [];
    for (let driver = 1001; driver <= 1008; driver++) {
      const last = driver === 1008 ? now - 2 * DAY : now - HOUR;
      for (let t = now - 3 * DAY; t <= last; t += HOUR) {
        const row: FeatureRow = {
          driver_id: driver,
          event_timestamp: t,
          created: t + (rows.length % 5 === 0 ? 6 * HOUR : 60_000),
          conv_rate: Math.round(rand() * 1000) / 1000,
          acc_rate: Math.round(rand() * 1000) / 1000,
          avg_daily_trips: Math.floor(rand() * 900),
        };
        rows.push(row);
        if (rows.length % 7 === 0 || t === last)
          rows.push({ ...row, created: row.created + HOUR, conv_rate: Math.round(rand() * 1000) / 1000 });
      }
    }
    const instance = await DuckDBInstance.create(":memory:");
    const connection = await instance.connect();
    try {
      const values = rows
        .map(
          (r) =>
            `(${r.driver_id}, TIMESTAMPTZ '${iso(r.event_timestamp)}', TIMESTAMPTZ '${iso(r.created)}', ${r.conv_rate}, ${r.acc_rate}, ${r.avg_daily_trips})`,
        )
        .join(",\n");
      // Written shuffled (by a hash of the row), as late rows land in a real source.
      await connection.run(
        `COPY (SELECT * FROM (VALUES ${values}) t(driver_id, event_timestamp, created, conv_rate, acc_rate, avg_daily_trips)
           ORDER BY hash(driver_id, event_timestamp, created))
         TO '${join(dir, "data", "driver_stats.parquet")}' (FORMAT parquet)`,
      );
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
    // Labels: trips the next day, from the features at the label's time plus noise.
    const labels: string[] = ["driver_id,event_timestamp,trips_tomorrow"];
    const labelRand = random(11);
    for (let i = 0; i < 400; i++) {
      const driver = 1001 + (i % 7);
      const t = now - 3 * DAY + HOUR + Math.floor(labelRand() * (3 * DAY - 2 * HOUR));
      const seen = rows.filter((r) => r.driver_id === driver && r.event_timestamp <= t);
      const f = seen.reduce((a, b) =>
        b.event_timestamp > a.event_timestamp ||
        (b.event_timestamp === a.event_timestamp && b.created > a.created)
          ? b
          : a,
      );
      const y = 40 * f.conv_rate + 25 * f.acc_rate + 0.05 * f.avg_daily_trips + labelRand();
      labels.push(`${driver},${iso(t)},${y.toFixed(4)}`);
    }
    writeFileSync(join(dir, "data", "labels.csv"), `${labels.join("\n")}\n`);

    writeFileSync(
      join(dir, "features", "drivers.json"),
      JSON.stringify({
        format: "dagwood.features/1",
        entities: [{ name: "driver", joinKeys: ["driver_id"] }],
        featureViews: [
          {
            name: "driver_stats",
            entities: ["driver"],
            ttl: "1d",
            source: {
              path: "data/driver_stats.parquet",
              timestampField: "event_timestamp",
              createdTimestampColumn: "created",
            },
            features: [
              { name: "conv_rate", type: "Float64" },
              { name: "acc_rate", type: "Float64" },
              { name: "avg_daily_trips", type: "Int64" },
            ],
          },
        ],
        featureServices: [
          { name: "trip_model", features: ["driver_stats"] },
          { name: "conv_only", features: ["driver_stats:conv_rate"] },
        ],
      }),
    );
    const pipeline = (service: string) => ({
      format: "dagwood.pipeline/1",
      name: "trips",
      params: {},
      nodes: [
        { id: "labels", block: "ingest.file", params: { path: "data/labels.csv" } },
        { id: "features", block: "features.training-set", params: { service: "trip_model" } },
        {
          id: "train",
          block: "train.linear",
          params: { target: "trips_tomorrow", features: ["conv_rate", "acc_rate", "avg_daily_trips"], l2: 0 },
        },
        { id: "register", block: "register", params: { name: "trips", featureService: service } },
      ],
      edges: [
        { from: "labels.out", to: "features.entities" },
        { from: "features.out", to: "train.train" },
        { from: "train.model", to: "register.model" },
      ],
    });
    writeFileSync(join(dir, "pipelines", "trips.dag.json"), JSON.stringify(pipeline("trip_model")));
    writeFileSync(join(dir, "pipelines", "wrong.dag.json"), JSON.stringify(pipeline("conv_only")));
    local = createLocalServers({ port: 0, log: () => {} });
  });

  afterAll(async () => {
    await local?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("applies the view and materialises its latest row per driver", async () => {
    const apply = await runDagwood("features", "apply", "--project", dir);
    expect(apply.code, apply.stderr).toBe(0);
    const materialize = await runDagwood(
      "features",
      "materialize",
      "--project",
      dir,
      "--start",
      iso(now - 7 * DAY),
      "--end",
      iso(now),
      "--json",
    );
    expect(materialize.code, materialize.stderr).toBe(0);
    expect(JSON.parse(materialize.stdout)).toEqual([
      expect.objectContaining({ view: "driver_stats", rows: 8 }),
    ]);
  });

  it("refuses a service that lacks the model's inputs: validate says so, and a run registers nothing", async () => {
    const wrong = join(dir, "pipelines", "wrong.dag.json");
    const message =
      'Feature service "conv_only" does not provide the model inputs "acc_rate", "avg_daily_trips"';
    const validate = await runDagwood("validate", wrong);
    expect(validate.code).not.toBe(0);
    expect(validate.stdout + validate.stderr).toContain(message);
    const r = await runDagwood("run", wrong, "--project", dir, "--no-attach");
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain(message);
    const models = await runDagwood("models", "list", "--project", dir, "--json");
    expect(models.code, models.stderr).toBe(0);
    expect(JSON.parse(models.stdout)).toEqual([]);
  });

  it("trains on the service's training set and registers the model with the service", async () => {
    const r = await runDagwood(
      "run",
      join(dir, "pipelines", "trips.dag.json"),
      "--project",
      dir,
      "--no-attach",
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const show = await runDagwood("models", "show", "trips:1", "--project", dir);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain(
      "features  service trip_model (callable by entity: V2 parameters.entities)",
    );
    const list = await runDagwood("models", "show", "trips", "--project", dir);
    expect(list.stdout).toMatch(/feature service[\s\S]*trip_model/);
  });

  it("deploys to the built-in local target, which answers infer by entity as infer with the features by hand", async () => {
    const store = new SqliteMetadataStore(join(dir, ".dagwood", "metadata.sqlite"), { projectDir: dir });
    try {
      const project = { dir, settings: readProjectSettings(dir), registry: store.registry };
      // As the app deploys to its built-in target: the project's server started, its URL and token given.
      const server = await local.start(dir);
      const entry = await deployVersion({
        project,
        target: "local",
        name: "trips",
        ref: 1,
        actor: "e2e",
        tokens: { env: {}, platform: "aix", builtin: { url: server.url, token: server.token } },
      });
      expect(entry).toMatchObject({ status: "succeeded", target: "local", model: "trips", version: 1 });
    } finally {
      store.close();
    }
    url = local.running(dir)!.url;

    const drivers = [1001, 1004, 1007];
    const entity = await infer({ parameters: { entities: { driver_id: drivers } } });
    expect(entity.status, JSON.stringify(entity.body)).toBe(200);
    const hand = await byHand(drivers);
    expect(hand.status).toBe(200);
    expect(entity.body.outputs).toEqual(hand.body.outputs);
    expect(entity.body.parameters).toEqual({ features_not_found: "{}", features_outside_max_age: "{}" });
    // The model learnt the labels' rule: its answers are near 40·conv + 25·acc + 0.05·trips + 0.5.
    const predictions = entity.body.outputs.find((o) => o.name === "prediction")!.data;
    drivers.forEach((d, i) => {
      const f = latest(d);
      expect(predictions[i]).toBeCloseTo(
        40 * f.conv_rate + 25 * f.acc_rate + 0.05 * f.avg_daily_trips + 0.5,
        0,
      );
    });
  });

  it("says which inputs were missing for an unknown driver and stale for one outside the TTL", async () => {
    const answer = await infer({ parameters: { entities: { driver_id: [1002, 9999, 1008] } } });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const inputs = ["conv_rate", "acc_rate", "avg_daily_trips"];
    expect(JSON.parse(answer.body.parameters!.features_not_found!)).toEqual(
      Object.fromEntries(inputs.map((n) => [n, [1]])),
    );
    expect(JSON.parse(answer.body.parameters!.features_outside_max_age!)).toEqual(
      Object.fromEntries(inputs.map((n) => [n, [2]])),
    );
    // The known rows are answered as by hand; the stale one with its last (old) values.
    const known = await byHand([1002, 1008]);
    const predictions = answer.body.outputs.find((o) => o.name === "prediction")!.data;
    const expected = known.body.outputs.find((o) => o.name === "prediction")!.data;
    expect([predictions[0], predictions[2]]).toEqual(expected);
  });
});
