/**
 * Missing text inputs in the inference log. The server sends a JSON null in
 * a BYTES input to the model as MISSING_TEXT (""), which the exported model
 * reads as missing, and logs it so. The log table turns it back into NULL,
 * so the drift report counts it missing, as the reference profile counts the
 * training data's NULLs, instead of seeing a new category; and the rows that
 * retraining reads from the log (a label join) hold NULL where training did.
 */
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqlSession } from "../data/sql";
import type { InferenceLogEntry } from "../serving/observability";
import { createServer, type DagwoodServer } from "../serving/server";
import { testServers } from "../serving/test-servers";
import { trainTestModel } from "../serving/testing";
import { computeDrift } from "./drift";
import { inferenceLogTable, loadInferenceLog } from "./inference-log";
import { feedbackTable, joinLabels } from "./labels";
import { buildReferenceProfile, profileTable } from "./profile";

const TOKEN = "missing-token";
const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
const { tempDir } = testServers("dagwood-monitor-missing-");
let server: DagwoodServer;
let url: string;
let repository: string;
let xType: string;
let instance: DuckDBInstance;
let sql: SqlSession;

/**
 * Colors in a cycle of 6 — red, green, blue, red, green, missing — in the
 * reference and in the traffic alike: the same shares of each color and of
 * missing values on both sides.
 */
const CYCLE = ["red", "green", "blue", "red", "green", null] as const;
const REFERENCE_ROWS = 300;
const TRAFFIC_ROWS = 120;
/** The training data's x (app/serving/testing.ts): spread over 0…10. */
const trainX = (i: number) => ((i * 7919) % 1000) / 100;

beforeAll(async () => {
  const trained = await trainTestModel({ task: "classification" });
  xType = trained.model.signature.inputs.find((i) => i.name === "x")!.dtype;
  server = createServer({ repository: tempDir(), token: TOKEN, log: () => {}, logAll: true });
  url = await server.listen(0);
  repository = server.manager.repository.dir;
  const load = await fetch(`${url}/v2/repository/models/m/load`, {
    method: "POST",
    headers: auth,
    body: JSON.stringify({
      parameters: { "file:1/model.onnx": Buffer.from(trained.bytes).toString("base64") },
    }),
  });
  expect(load.status).toBe(200);
  // 120 rows in batches of 10; a missing color is sent as JSON null, except every other one as "",
  // which the model reads the same way (MISSING_TEXT).
  let missingSent = 0;
  for (let b = 0; b < TRAFFIC_ROWS / 10; b++) {
    const idx = Array.from({ length: 10 }, (_, k) => b * 10 + k);
    const colors = idx.map((i) => {
      const c = CYCLE[i % CYCLE.length]!;
      return c ?? (missingSent++ % 2 === 0 ? null : "");
    });
    const res = await fetch(`${url}/v2/models/m/infer`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({
        id: `q${b}`,
        inputs: [
          { name: "x", datatype: xType, shape: [10, 1], data: idx.map(trainX) },
          { name: "color", datatype: "BYTES", shape: [10, 1], data: colors },
        ],
      }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    await res.arrayBuffer();
  }
  instance = await DuckDBInstance.create(":memory:");
  sql = new SqlSession(await instance.connect());
}, 60_000);

afterAll(async () => {
  await server?.close();
  sql?.connection.closeSync();
  instance?.closeSync();
});

describe("missing text inputs in the inference log", () => {
  it("are NULL in the log table, over HTTP and from the repository folder", async () => {
    for (const [table, source] of [
      ["over_http", { url, model: "m", token: TOKEN }],
      ["local", { repository, model: "m" }],
    ] as const) {
      const log = await loadInferenceLog(sql, source, { table });
      expect(log.rows).toBe(TRAFFIC_ROWS);
      const counts = await sql.all<{ color: string | null; n: number }>(
        `SELECT color, count(*)::INTEGER AS n FROM ${table} GROUP BY color ORDER BY color NULLS LAST`,
      );
      // 120 rows of a cycle of 6: 40 red, 40 green, 20 blue, 20 missing (10 sent as null, 10 as "").
      expect(counts).toEqual([
        { color: "blue", n: 20 },
        { color: "green", n: 40 },
        { color: "red", n: 40 },
        { color: null, n: 20 },
      ]);
      // Row by row: the missing ones are where the cycle put them.
      const rows = await sql.all<{ color: string | null }>(
        `SELECT color FROM ${table} ORDER BY seq, row_index`,
      );
      expect(rows.map((r) => r.color)).toEqual(
        Array.from({ length: TRAFFIC_ROWS }, (_, i) => CYCLE[i % CYCLE.length]),
      );
    }
  });

  it("do not drift against a reference with NULLs in the same share, and are counted missing", async () => {
    // The training data: x as trained, the colors in the same cycle with SQL NULL for missing.
    await sql.run(
      `CREATE OR REPLACE TABLE train AS
       SELECT ((range * 7919) % 1000) / 100.0 AS x,
              ['red', 'green', 'blue', 'red', 'green', NULL][(range % 6) + 1] AS color
       FROM range(${REFERENCE_ROWS})`,
    );
    const profile = await buildReferenceProfile(sql, {
      name: "train",
      columns: [
        { name: "x", type: "DOUBLE" },
        { name: "color", type: "VARCHAR" },
      ],
    });
    expect(profile.columns.find((c) => c.name === "color")!.missing).toBe(REFERENCE_ROWS / 6);
    const reference = await profileTable(sql, profile, "reference");
    const log = await loadInferenceLog(sql, { url, model: "m", token: TOKEN }, { table: "current" });
    const report = await computeDrift(sql, reference, log, { columns: ["x", "color"] });
    const color = report.columns.find((c) => c.column === "color")!;
    expect(color).toMatchObject({
      test: "chisquare", // a categorical column of a reference of at most 1,000 rows (Evidently's default)
      tested: true,
      drifted: false,
      missing: { reference: REFERENCE_ROWS / 6, current: TRAFFIC_ROWS / 6 },
      rows: { reference: (REFERENCE_ROWS * 5) / 6, current: (TRAFFIC_ROWS * 5) / 6 },
      distinct: 3, // red, green, blue: "" is not a category
    });
    // The current shares are exactly the reference's (2:2:1 over the non-missing rows), so
    // Pearson's statistic Σ (observed − expected)² / expected is 0 and its p-value 1.
    expect(color.statistic).toBeCloseTo(0, 12);
    expect(color.pValue).toBeCloseTo(1, 12);
    expect(report.columns.find((c) => c.column === "x")!.drifted).toBe(false);
    expect(report.driftedColumns).toBe(0);
  });

  it("are NULL in the labelled rows that retraining reads from the log", async () => {
    const log = await loadInferenceLog(sql, { repository, model: "m" }, { table: "for_labels" });
    // A label for every row of the first request (ids <request id>/<row>): rows 0…9 of the cycle.
    const labels = await feedbackTable(
      sql,
      "labels",
      Array.from({ length: 10 }, (_, r) => ({
        id: `q0/${r}`,
        label: "low",
        seq: r + 1,
        time: new Date().toISOString(),
      })),
    );
    const joined = await joinLabels(sql, log, labels, { table: "labelled_rows", targetColumn: "truth" });
    expect(joined.rows).toBe(10);
    const colors = await sql.all<{ color: string | null }>(
      "SELECT color FROM labelled_rows ORDER BY row_index",
    );
    expect(colors.map((r) => r.color)).toEqual(Array.from({ length: 10 }, (_, i) => CYCLE[i % CYCLE.length]));
  });
});

describe("inferenceLogTable and MISSING_TEXT", () => {
  const entry = (
    seq: number,
    inputs: InferenceLogEntry["inputs"],
    outputs: InferenceLogEntry["outputs"],
  ): InferenceLogEntry => ({
    seq,
    time: new Date(Date.UTC(2026, 11, 6, 12, 0, seq)).toISOString(),
    requestId: `r${seq}`,
    model: "m",
    version: 1,
    role: "primary",
    latencyMs: 1,
    inputs,
    outputs,
  });

  it('makes a text input\'s "" NULL, in every column of a wide tensor, and leaves other values as logged', async () => {
    const table = await inferenceLogTable(sql, "hand", [
      entry(
        1,
        [
          { name: "city", datatype: "BYTES", shape: [4, 1], data: ["", "Oslo", " ", null] },
          { name: "pair", datatype: "BYTES", shape: [4, 2], data: ["a", "", "", "b", "", "", "c", "d"] },
          { name: "n", datatype: "FP64", shape: [4, 1], data: [1, null, "NaN", 0] },
        ],
        // An output is the model's answer, not a missing input: "" stays "".
        [{ name: "label", datatype: "BYTES", shape: [4], data: ["", "yes", "no", ""] }],
      ),
    ]);
    expect(table.inputs).toEqual(["city", "pair_0", "pair_1", "n"]);
    const rows = await sql.all(`SELECT city, pair_0, pair_1, n, label FROM hand ORDER BY row_index`);
    expect(rows).toEqual([
      { city: null, pair_0: "a", pair_1: null, n: 1, label: "" },
      { city: "Oslo", pair_0: null, pair_1: "b", n: null, label: "yes" },
      { city: " ", pair_0: null, pair_1: null, n: null, label: "no" },
      { city: null, pair_0: "c", pair_1: "d", n: 0, label: "" },
    ]);
  });

  it('makes only the text tensor\'s "" NULL in a column two versions logged as number and text', async () => {
    // Version 1 sent `code` as numbers, version 2 as text: the column is VARCHAR; only the text
    // tensor's "" is a missing value.
    const table = await inferenceLogTable(sql, "widened", [
      entry(1, [{ name: "code", datatype: "INT64", shape: [1, 1], data: [7] }], []),
      entry(2, [{ name: "code", datatype: "BYTES", shape: [2, 1], data: ["", "x"] }], []),
    ]);
    expect(table.columns.find((c) => c.name === "code")!.type).toBe("VARCHAR");
    const rows = await sql.all(`SELECT code FROM widened ORDER BY seq, row_index`);
    expect(rows).toEqual([{ code: "7" }, { code: null }, { code: "x" }]);
  });
});
