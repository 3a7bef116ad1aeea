/**
 * Training-set benchmark (issue 15): 1M entity rows × 3 feature views × 10
 * features, built by buildTrainingSet (its checks of the request, the entity
 * table and each source, then the point-in-time join) against the same join
 * hand-written as one DuckDB query with an ASOF LEFT JOIN per view
 * (de-duplicated by created time, TTL applied), on the same connection, into
 * a table each. Interleaved rounds, alternating which goes first; the
 * sources are Parquet files written once, before timing.
 *
 * Part of `npm run bench:features` (bench/features.ts); on its own:
 *
 *   npx tsx bench/features-training.ts
 *
 * Goal: ≤ 1.2× the hand-written query. Throws when the two disagree; a
 * missed goal is printed as MISSED.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Workspace } from "../app/data/workspace";
import { buildTrainingSet } from "../app/features/offline";
import { loadFeatureRepo } from "../app/features/repo";
import { FEATURES_FORMAT } from "../app/features/types";

const RUNS = 5;
const RATIO_GOAL = 1.2;
const ENTITY_ROWS = 1_000_000;
const VIEW_ROWS = 1_000_000;
const KEYS = 100_000;
const FEATURES = 10;
const VIEWS = ["v0", "v1", "v2"];

export const TRAINING_RATIO_GOAL = RATIO_GOAL;

export interface TrainingFigures {
  entityRows: number;
  /** Medians, ms. */
  oursMs: number;
  handMs: number;
  ratio: number;
}

/** Runs the training-set rounds; throws if buildTrainingSet and the hand-written join disagree. */
export async function benchTrainingSet(): Promise<TrainingFigures> {
  const dir = mkdtempSync(join(tmpdir(), "dagwood-bench-features-"));
  mkdirSync(join(dir, "features"));
  mkdirSync(join(dir, "data"));
  const workspace = await Workspace.open({ path: ":memory:", allowedDirs: [dir] });
  const sql = await workspace.session();
  try {
    const feats = Array.from({ length: FEATURES }, (_, i) => `f${i}`);
    writeFileSync(
      join(dir, "features", "bench.json"),
      JSON.stringify({
        format: FEATURES_FORMAT,
        entities: [{ name: "user", joinKeys: ["user_id"] }],
        featureViews: VIEWS.map((v) => ({
          name: v,
          entities: ["user"],
          ttl: "2d",
          source: { path: `data/${v}.parquet`, timestampField: "ts", createdTimestampColumn: "created" },
          features: feats.map((f) => ({ name: f, type: "Float64" })),
        })),
      }),
    );
    for (const [n, v] of VIEWS.entries()) {
      await sql.run(
        `COPY (SELECT (hash(i, ${n}) % ${KEYS})::BIGINT AS user_id,
                    TIMESTAMP '2024-01-01' + INTERVAL (hash(i, ${n + 10}) % 43200) MINUTE AS ts,
                    TIMESTAMP '2024-01-01' + INTERVAL (hash(i, ${n + 10}) % 43200) MINUTE + INTERVAL (i) MILLISECOND AS created,
                    ${feats.map((f, j) => `(hash(i, ${n * 100 + j}) % 1000) / 1000.0::DOUBLE AS ${f}`).join(", ")}
             FROM range(${VIEW_ROWS}) t(i)) TO '${join(dir, "data", `${v}.parquet`)}' (FORMAT PARQUET)`,
      );
    }
    await sql.run(
      `CREATE TABLE entities AS SELECT (hash(i, 99) % ${KEYS})::BIGINT AS user_id,
       TIMESTAMP '2024-01-01' + INTERVAL (hash(i, 98) % 43200) MINUTE AS event_timestamp, i % 2 AS label
     FROM range(${ENTITY_ROWS}) t(i)`,
    );
    const repo = loadFeatureRepo(dir);
    const features = VIEWS.flatMap((v) => feats.map((f) => `${v}:${f}`));

    const handWritten = () => {
      const ctes = VIEWS.map(
        (v) =>
          `${v} AS (SELECT * FROM read_parquet('${join(dir, "data", `${v}.parquet`)}')
          QUALIFY row_number() OVER (PARTITION BY user_id, ts ORDER BY created DESC) = 1)`,
      );
      const cols = VIEWS.flatMap((v) =>
        feats.map(
          (f) => `CASE WHEN ${v}.ts >= e.event_timestamp - INTERVAL 2 DAY THEN ${v}.${f} END AS ${v}__${f}`,
        ),
      );
      const joins = VIEWS.map(
        (v) => `ASOF LEFT JOIN ${v} ON e.user_id = ${v}.user_id AND e.event_timestamp >= ${v}.ts`,
      );
      return `CREATE OR REPLACE TABLE hand AS WITH ${ctes.join(", ")} SELECT e.*, ${cols.join(", ")} FROM entities e ${joins.join(" ")}`;
    };

    const ours: number[] = [];
    const hand: number[] = [];
    const time = async (fn: () => Promise<unknown>) => {
      const t = performance.now();
      await fn();
      return performance.now() - t;
    };
    const runOurs = () =>
      buildTrainingSet(
        sql,
        { projectDir: dir, allowedDirs: [dir] },
        repo,
        { entitiesTable: "entities", features, fullFeatureNames: true },
        "ours",
      );
    const runHand = () => sql.run(handWritten());
    await runOurs();
    await runHand();
    for (let r = 0; r < RUNS; r++) {
      if (r % 2 === 0) {
        ours.push(await time(runOurs));
        hand.push(await time(runHand));
      } else {
        hand.push(await time(runHand));
        ours.push(await time(runOurs));
      }
    }
    const diff = await sql.one<{ n: number }>(
      "SELECT count(*) AS n FROM ((SELECT * FROM ours EXCEPT ALL SELECT * FROM hand) UNION ALL (SELECT * FROM hand EXCEPT ALL SELECT * FROM ours))",
    );
    if (diff.n !== 0) throw new Error(`The training set and the hand-written query differ in ${diff.n} rows`);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    return {
      entityRows: ENTITY_ROWS,
      oursMs: median(ours),
      handMs: median(hand),
      ratio: median(ours) / median(hand),
    };
  } finally {
    sql.close();
    workspace.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The figures as one line. */
export function trainingLine(f: TrainingFigures): string {
  return (
    `training set, ${f.entityRows.toLocaleString("en-US")} entity rows × ${VIEWS.length} views × ${FEATURES} features: ` +
    `buildTrainingSet ${f.oursMs.toFixed(0)} ms, hand-written ASOF JOIN ${f.handMs.toFixed(0)} ms, ` +
    `ratio ${f.ratio.toFixed(2)} (goal ≤ ${RATIO_GOAL})${f.ratio <= RATIO_GOAL ? "" : " MISSED"}`
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href)
  console.log(trainingLine(await benchTrainingSet()));
