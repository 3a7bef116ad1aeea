/**
 * A project with a feature store for the Features view's tests: the example
 * project plus `features/drivers.json` (an entity, two feature views on small
 * CSV files, a service) whose event times are relative to `now`, so a lookup
 * finds rows within the 1-day TTL (PRESENT) and one older (OUTSIDE_MAX_AGE).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureStoreDir } from "../app/project/project";
import { SqliteMetadataStore } from "../app/store/metadata";

export const DRIVERS = {
  /** Latest rows an hour ago: within the TTL. */
  fresh: [1001, 1002],
  /** Latest row three days ago: outside the 1-day TTL. */
  old: 1003,
  /** In no source. */
  unknown: 9999,
};

const iso = (ms: number) => new Date(ms).toISOString().replace(".000Z", "Z");

/** Writes the definitions and their sources into a copy of the example project. */
export function writeFeatureProject(dir: string, now = Date.now()): void {
  const hour = 3_600_000;
  const rows: string[] = ["driver_id,event_timestamp,created,conv_rate,acc_rate,trips"];
  // Three hourly rows per fresh driver; driver 1002 has a late duplicate of its latest hour (created later, wins).
  for (const [i, id] of DRIVERS.fresh.entries()) {
    for (let h = 3; h >= 1; h--) {
      const t = now - h * hour;
      rows.push(
        `${id},${iso(t)},${iso(t + 60_000)},${(0.1 * (i + 1) + 0.01 * h).toFixed(2)},0.9,${10 * (i + 1) + h}`,
      );
    }
  }
  rows.push(`1002,${iso(now - hour)},${iso(now - hour + 120_000)},0.77,0.95,99`);
  rows.push(`${DRIVERS.old},${iso(now - 72 * hour)},${iso(now - 72 * hour)},0.5,0.8,7`);
  mkdirSync(join(dir, "features"), { recursive: true });
  mkdirSync(join(dir, "data"), { recursive: true });
  writeFileSync(join(dir, "data", "driver_stats.csv"), `${rows.join("\n")}\n`);
  const ratings = ["driver_id,event_timestamp,rating"];
  for (const id of [...DRIVERS.fresh, DRIVERS.old])
    ratings.push(`${id},${iso(now - 2 * hour)},${(4 + (id % 10) / 10).toFixed(1)}`);
  writeFileSync(join(dir, "data", "driver_ratings.csv"), `${ratings.join("\n")}\n`);
  writeFileSync(
    join(dir, "features", "drivers.json"),
    JSON.stringify(
      {
        format: "dagwood.features/1",
        entities: [
          {
            name: "driver",
            joinKeys: ["driver_id"],
            valueType: "Int64",
            description: "A driver of the ride service",
            owner: "ml-platform@example.com",
          },
        ],
        featureViews: [
          {
            name: "driver_stats",
            entities: ["driver"],
            ttl: "1d",
            source: {
              path: "data/driver_stats.csv",
              timestampField: "event_timestamp",
              createdTimestampColumn: "created",
            },
            features: [
              { name: "conv_rate", type: "Float64" },
              { name: "acc_rate", type: "Float64" },
              { name: "trips", type: "Int64" },
            ],
            owner: "ml-platform@example.com",
            description: "Hourly conversion and acceptance rates per driver",
            tags: { team: "ranking" },
          },
          {
            name: "driver_ratings",
            entities: ["driver"],
            ttl: "7d",
            source: { path: "data/driver_ratings.csv", timestampField: "event_timestamp" },
            features: [{ name: "rating", type: "Float64" }],
            description: "Riders' average rating",
          },
        ],
        featureServices: [
          {
            name: "ranker",
            features: ["driver_stats:conv_rate", "driver_stats:trips", "driver_ratings"],
            description: "What the ranking model reads",
          },
        ],
      },
      null,
      2,
    ),
  );
}

/**
 * Registers a model version with the `ranker` service, as the register block does with its
 * `featureService` param (the version's files are placeholders: the Features view reads only
 * the registry's records).
 */
export function registerRankerModel(dir: string): void {
  const out = join(ensureStoreDir(dir), "e2e-model");
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "model.json"), '{"estimator":"gbdt"}');
  writeFileSync(join(out, "model.onnx"), "onnx-bytes");
  const store = new SqliteMetadataStore(join(ensureStoreDir(dir), "metadata.sqlite"), { projectDir: dir });
  try {
    store.registry.registerVersion({
      name: "driver_ranker",
      runId: "r1",
      nodeId: "gbdt",
      modelFingerprint: "f1",
      estimator: "gbdt",
      task: "classification",
      signature: { inputs: [{ name: "conv_rate", dtype: "FP64", shape: [-1, 1] }], outputs: [] },
      metrics: { accuracy: 0.9 },
      parity: { rows: 10, maxAbsDiff: 1e-6, labelAgreement: 1 },
      files: { native: join(out, "model.json"), onnx: join(out, "model.onnx") },
      lineage: {
        run: {
          id: "r1",
          pipeline: "ranker",
          pipelinePath: null,
          pipelineHash: "h",
          startedAt: "2026-12-01T00:00:00Z",
          user: null,
        },
        nodeId: "gbdt",
        datasets: [],
        params: {},
        environment: {},
      },
      featureService: "ranker",
      alias: "champion",
      actor: "e2e",
    });
  } finally {
    store.close();
  }
}
