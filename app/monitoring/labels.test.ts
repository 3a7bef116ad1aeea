/**
 * Labels joined to logged predictions: feedback sent to a real `dagwood
 * serve` (read back over HTTP and from its folder) and labels from a file.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqlSession } from "../data/sql";
import { createServer, type DagwoodServer } from "../serving/server";
import { testServers } from "../serving/test-servers";
import { trainTestModel } from "../serving/testing";
import { inferenceLogTable, loadInferenceLog } from "./inference-log";
import { feedbackTable, joinLabels, labelsFromFile, readFeedback } from "./labels";

// biome-ignore lint/suspicious/noExplicitAny: the tests read response fields freely
type Json = any;

const TOKEN = "labels-token";
const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
const { tempDir } = testServers("dagwood-monitor-labels-");
let server: DagwoodServer;
let url: string;
let repository: string;
let instance: DuckDBInstance;
let sql: SqlSession;
/** The label the server answered, per row id. */
const answered = new Map<string, string>();

async function post(path: string, body: unknown): Promise<Json> {
  const res = await fetch(`${url}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
  const json = await res.json();
  expect(res.status, JSON.stringify(json)).toBe(200);
  return json;
}

beforeAll(async () => {
  const trained = await trainTestModel({ task: "classification" });
  const xType = trained.model.signature.inputs.find((i) => i.name === "x")!.dtype;
  server = createServer({ repository: tempDir(), token: TOKEN, log: () => {}, logAll: true });
  url = await server.listen(0);
  repository = server.manager.repository.dir;
  await post("/v2/repository/models/m/load", {
    parameters: { "file:1/model.onnx": Buffer.from(trained.bytes).toString("base64") },
  });
  const send = async (id: string, xs: number[]) => {
    const json = await post("/v2/models/m/infer", {
      id,
      inputs: [
        { name: "x", datatype: xType, shape: [xs.length, 1], data: xs },
        { name: "color", datatype: "BYTES", shape: [xs.length, 1], data: xs.map(() => "red") },
      ],
    });
    const labels = json.outputs.find((o: Json) => o.name === "label").data as string[];
    for (const [r, l] of labels.entries()) answered.set(xs.length === 1 ? id : `${id}/${r}`, l);
  };
  for (let i = 0; i < 10; i++) await send(`r${i}`, [i]);
  await send("batch", [1, 8, 3]);
  instance = await DuckDBInstance.create(":memory:");
  sql = new SqlSession(await instance.connect());
}, 60_000);

afterAll(async () => {
  await server?.close();
  sql?.connection.closeSync();
  instance?.closeSync();
});

describe("labels joined to the log", () => {
  it("joins feedback to logged rows by request id, the latest label of an id, rows of a batch by <id>/<row>", async () => {
    const first = await post("/v2/models/m/feedback", {
      feedback: [
        { id: "r0", label: "high" },
        { id: "r1", label: "low" },
        { id: "r2", label: "low" },
        { id: "batch/1", label: "high" },
        { id: "ghost", label: "low" },
      ],
    });
    expect(first).toMatchObject({ accepted: 5, unknownIds: ["ghost"], replacedIds: [] });
    const second = await post("/v2/models/m/feedback", { id: "r0", label: "low" });
    expect(second.replacedIds).toEqual(["r0"]);

    const overHttp = await readFeedback({ url, model: "m", token: TOKEN });
    const fromFolder = await readFeedback({ repository, model: "m" });
    expect(overHttp).toEqual(fromFolder);
    expect(overHttp.map((f) => [f.id, f.label])).toEqual([
      ["r0", "high"],
      ["r1", "low"],
      ["r2", "low"],
      ["batch/1", "high"],
      ["ghost", "low"],
      ["r0", "low"],
    ]);

    const labels = await feedbackTable(sql, "labels", overHttp);
    expect(labels).toMatchObject({ labelType: "VARCHAR", rows: 5, replaced: 1 });
    const log = await loadInferenceLog(sql, { url, model: "m", token: TOKEN }, { table: "current" });
    expect(log.rows).toBe(13);
    const joined = await joinLabels(sql, log, labels);
    expect(joined).toMatchObject({
      prediction: "label",
      target: "target",
      rows: 4,
      unlabelled: 9,
      unmatched: 1,
    });
    const rows = await sql.all<{ row_id: string; x: number; label: string; target: string }>(
      `SELECT row_id, x, label, target FROM labelled`,
    );
    expect(rows).toEqual([
      { row_id: "r0", x: 0, label: answered.get("r0"), target: "low" },
      { row_id: "r1", x: 1, label: answered.get("r1"), target: "low" },
      { row_id: "r2", x: 2, label: answered.get("r2"), target: "low" },
      { row_id: "batch/1", x: 8, label: answered.get("batch/1"), target: "high" },
    ]);
    expect(joined.columns.map((c) => c.name)).toEqual(
      expect.arrayContaining(["x", "color", "label", "time", "target"]),
    );
    // Accuracy over the labelled rows, in SQL, against a count made here.
    const { accuracy } = await sql.one<{ accuracy: number }>(
      "SELECT avg(CASE WHEN label = target THEN 1 ELSE 0 END)::DOUBLE AS accuracy FROM labelled",
    );
    expect(accuracy).toBeCloseTo(rows.filter((r) => r.label === r.target).length / 4, 12);
  });

  it("takes labels from a CSV file, the last row of an id winning, and says which columns are missing", async () => {
    const dir = tempDir();
    const file = join(dir, "labels.csv");
    writeFileSync(file, "request,truth\nr3,high\nr4,low\nr3,low\nnope,low\n");
    const labels = await labelsFromFile(sql, "file_labels", file, {
      idColumn: "request",
      labelColumn: "truth",
    });
    expect(labels).toMatchObject({ rows: 3, replaced: 1, labelType: "VARCHAR" });
    const log = await loadInferenceLog(sql, { repository, model: "m" }, { table: "current_local" });
    const joined = await joinLabels(sql, log, labels, { table: "from_file", targetColumn: "truth" });
    expect(joined).toMatchObject({ rows: 2, unmatched: 1, target: "truth" });
    expect(await sql.all("SELECT row_id, truth FROM from_file")).toEqual([
      { row_id: "r3", truth: "low" },
      { row_id: "r4", truth: "low" },
    ]);
    await expect(labelsFromFile(sql, "bad", file)).rejects.toThrow(
      /need columns "id" \(the request id\) and "label"; "id" and "label" are missing \(its columns: request, truth\)/,
    );
    await expect(joinLabels(sql, log, labels, { targetColumn: "color" })).rejects.toThrow(
      /already has a column "color"/,
    );
  });

  it("leaves out and counts labels that are not of the prediction's type", async () => {
    const entry = (id: string, prediction: number) => ({
      seq: Number(id.slice(1)),
      time: "2026-12-06T10:00:00.000Z",
      requestId: id,
      model: "reg",
      version: 1,
      role: "primary" as const,
      latencyMs: 1,
      inputs: [{ name: "x", datatype: "FP64" as const, shape: [1, 1], data: [prediction / 2] }],
      outputs: [{ name: "prediction", datatype: "FP64" as const, shape: [1], data: [prediction] }],
    });
    const log = await inferenceLogTable(sql, "reg_log", [entry("q1", 2), entry("q2", 4), entry("q3", 6)]);
    const labels = await feedbackTable(sql, "reg_labels", [
      { seq: 1, time: "2026-12-06T10:01:00.000Z", id: "q1", label: 2.5 },
      { seq: 2, time: "2026-12-06T10:01:00.000Z", id: "q2", label: "abc" },
      { seq: 3, time: "2026-12-06T10:01:00.000Z", id: "q3", label: 5 },
    ]);
    expect(labels.labelType).toBe("VARCHAR");
    const joined = await joinLabels(sql, log, labels, { table: "reg_joined" });
    expect(joined).toMatchObject({ rows: 2, badLabels: 1, unlabelled: 0 });
    const rows = await sql.all("SELECT prediction, target FROM reg_joined");
    expect(rows).toEqual([
      { prediction: 2, target: 2.5 },
      { prediction: 6, target: 5 },
    ]);
    const { mae } = await sql.one<{ mae: number }>(
      "SELECT avg(abs(prediction - target)) AS mae FROM reg_joined",
    );
    expect(mae).toBeCloseTo((0.5 + 1) / 2, 12);
  });
});
