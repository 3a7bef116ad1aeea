/**
 * Reading a model's inference log, from a real `dagwood serve` on loopback
 * (over HTTP with its token) and from its repository folder, into a DuckDB
 * table: one row per request row, the inputs and outputs as columns, with
 * the values that were sent and answered.
 */
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqlSession } from "../data/sql";
import { createServer, type DagwoodServer } from "../serving/server";
import { testServers } from "../serving/test-servers";
import { trainTestModel } from "../serving/testing";
import { inferenceLogTable, loadInferenceLog, parseSince, readInferenceLog } from "./inference-log";

// biome-ignore lint/suspicious/noExplicitAny: the tests read response fields freely
type Json = any;

const TOKEN = "log-token";
const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
// One server for the file (testServers closes tracked servers after each test: this one is closed in afterAll).
const { tempDir } = testServers("dagwood-monitor-log-");
let server: DagwoodServer;

let model: Uint8Array;
let xType: string;
/** The classifier's classes in the order of its probabilities' columns, as trained. */
let classes: string[];
let url: string;
let repository: string;
let instance: DuckDBInstance;
let sql: SqlSession;
/** What was sent and answered, per request id. */
const sent = new Map<string, { xs: number[]; colors: string[]; labels: string[]; probabilities: number[] }>();
let startedAt: number;
let midpoint: number;

async function infer(id: string, xs: number[], colors: string[]) {
  const res = await fetch(`${url}/v2/models/m/infer`, {
    method: "POST",
    headers: auth,
    body: JSON.stringify({
      id,
      inputs: [
        { name: "x", datatype: xType, shape: [xs.length, 1], data: xs },
        { name: "color", datatype: "BYTES", shape: [colors.length, 1], data: colors },
      ],
    }),
  });
  const json: Json = await res.json();
  expect(res.status, JSON.stringify(json)).toBe(200);
  const out = (name: string) => json.outputs.find((o: Json) => o.name === name).data;
  sent.set(id, { xs, colors, labels: out("label"), probabilities: out("probabilities") });
}

beforeAll(async () => {
  const trained = await trainTestModel({ task: "classification" });
  model = trained.bytes;
  xType = trained.model.signature.inputs.find((i) => i.name === "x")!.dtype;
  classes = trained.model.classes!.map(String);
  server = createServer({ repository: tempDir(), token: TOKEN, log: () => {}, logAll: true });
  url = await server.listen(0);
  repository = server.manager.repository.dir;
  const load = await fetch(`${url}/v2/repository/models/m/load`, {
    method: "POST",
    headers: auth,
    body: JSON.stringify({ parameters: { "file:1/model.onnx": Buffer.from(model).toString("base64") } }),
  });
  expect(load.status).toBe(200);
  startedAt = Date.now();
  for (let i = 0; i < 20; i++) await infer(`a${i}`, [i / 2], [["red", "green", "blue"][i % 3]!]);
  await new Promise((r) => setTimeout(r, 20));
  midpoint = Date.now();
  await new Promise((r) => setTimeout(r, 20));
  await infer("batch", [1, 9.5, 4], ["blue", "red", "green"]);
  for (let i = 0; i < 10; i++) await infer(`b${i}`, [i], ["green"]);
  instance = await DuckDBInstance.create(":memory:");
  sql = new SqlSession(await instance.connect());
}, 60_000);

afterAll(async () => {
  await server?.close();
  sql?.connection.closeSync();
  instance?.closeSync();
});

async function rowsOf(table: string) {
  return sql.all(`SELECT * FROM "${table}" ORDER BY seq, row_index`);
}

describe("the inference log as a table", () => {
  it("reads the log over HTTP into a table with the right columns, types and values", async () => {
    const log = await loadInferenceLog(sql, { url, model: "m", token: TOKEN }, { table: "current" });
    expect(log.requests).toBe(31);
    expect(log.rows).toBe(33); // 30 one-row requests and one of 3 rows
    expect(log.complete).toBe(true);
    expect(log.inputs).toEqual(["x", "color"]);
    // The class names come from the target's model metadata, in the probabilities' column order.
    expect(log.outputs).toEqual(["label", `probability_${classes[0]}`, `probability_${classes[1]}`]);
    expect(log.prediction).toBe("label");
    const described = await sql.columns("current");
    expect(described).toEqual([
      { name: "x", type: "DOUBLE" },
      { name: "color", type: "VARCHAR" },
      { name: "label", type: "VARCHAR" },
      { name: `probability_${classes[0]}`, type: "DOUBLE" },
      { name: `probability_${classes[1]}`, type: "DOUBLE" },
      { name: "request_id", type: "VARCHAR" },
      { name: "row_id", type: "VARCHAR" },
      { name: "row_index", type: "INTEGER" },
      { name: "time", type: "TIMESTAMP WITH TIME ZONE" },
      { name: "model_version", type: "INTEGER" },
      { name: "role", type: "VARCHAR" },
      { name: "seq", type: "BIGINT" },
    ]);
    expect(log.columns).toEqual(described);
    // Every row is what was sent and what the server answered.
    const rows = await rowsOf("current");
    const expected = [...sent.entries()].flatMap(([id, s]) =>
      s.xs.map((x, r) => ({
        x,
        color: s.colors[r],
        label: s.labels[r],
        [`probability_${classes[0]}`]: s.probabilities[2 * r],
        [`probability_${classes[1]}`]: s.probabilities[2 * r + 1],
        request_id: id,
        row_id: s.xs.length === 1 ? id : `${id}/${r}`,
        row_index: r,
        model_version: 1,
        role: "primary",
      })),
    );
    expect(rows.map(({ time: _t, seq: _s, ...rest }) => rest)).toEqual(expected);
    for (const row of rows) {
      const t = (row.time as Date).getTime?.() ?? Date.parse(String(row.time));
      expect(t).toBeGreaterThanOrEqual(startedAt - 1000);
    }
  });

  it("reads the same table from the repository folder, and a window by time or duration", async () => {
    const local = await loadInferenceLog(sql, { repository, model: "m" }, { table: "local" });
    expect(local.rows).toBe(33);
    // Without class names, a tensor of width 2 becomes <name>_0, <name>_1.
    expect(local.outputs).toEqual(["label", "probabilities_0", "probabilities_1"]);
    const http = await rowsOf("current");
    const files = await rowsOf("local");
    expect(files.map((r) => [r.request_id, r.x, r.label, r.probabilities_1])).toEqual(
      http.map((r) => [r.request_id, r.x, r.label, r[`probability_${classes[1]}`]]),
    );
    const window = await readInferenceLog({ repository, model: "m" }, { since: midpoint });
    expect(window.entries.map((e) => e.requestId)).toEqual([
      "batch",
      ...Array.from({ length: 10 }, (_, i) => `b${i}`),
    ]);
    const overHttp = await readInferenceLog({ url, model: "m", token: TOKEN }, { since: new Date(midpoint) });
    expect(overHttp.entries.map((e) => e.requestId)).toEqual(window.entries.map((e) => e.requestId));
    const lastHour = await readInferenceLog({ url, model: "m", token: TOKEN }, { since: "1h" });
    expect(lastHour.entries).toHaveLength(31);
    const future = await readInferenceLog({ repository, model: "m" }, { since: "1h", now: 0 });
    expect(future.entries).toHaveLength(31); // an hour before epoch 0: everything
  });

  it("skips a line a crash cut and shadow runs; says what is wrong with a source", async () => {
    appendFileSync(join(repository, "m", "inference-log.jsonl"), '{"seq":99999,"time":"2026-');
    const read = await readInferenceLog({ repository, model: "m" });
    expect(read.entries).toHaveLength(31);
    const shadow = await inferenceLogTable(sql, "with_shadow", [
      { ...read.entries[0]!, role: "shadow" },
      read.entries[1]!,
    ]);
    expect(shadow.rows).toBe(2); // the table takes what it is given; readInferenceLog filters roles
    const noShadow = await readInferenceLog({ repository, model: "m" }, { roles: ["shadow"] });
    expect(noShadow.entries).toHaveLength(0);
    await expect(readInferenceLog({ url, model: "m" })).rejects.toThrow(
      /answered 401: missing or wrong bearer token .*\(the log needs the target's token\)/,
    );
    await expect(readInferenceLog({ url, model: "zz", token: TOKEN })).rejects.toThrow(
      /answered 404.*is the model deployed there/,
    );
    await expect(readInferenceLog({ url: "http://127.0.0.1:9", model: "m" })).rejects.toThrow(/cannot reach/);
    expect(() => parseSince("yesterday")).toThrow(/is not a duration \(90s, 30m, 1h, 7d\), an ISO time/);
  });

  it("names columns that collide with the request's, types mixed versions, and counts cut tensors", async () => {
    const base = {
      requestId: "r",
      model: "m",
      role: "primary" as const,
      latencyMs: 1,
      time: "2026-12-06T10:00:00.000Z",
    };
    const table = await inferenceLogTable(sql, "odd", [
      {
        ...base,
        seq: 1,
        version: 1,
        inputs: [
          { name: "time", datatype: "INT64", shape: [2, 1], data: [5, 6] },
          { name: "v", datatype: "FP32", shape: [2, 2], data: [1, 2, null as unknown as number, 4] },
        ],
        outputs: [{ name: "prediction", datatype: "FP64", shape: [2], data: [0.5, 1.5] }],
      },
      {
        ...base,
        requestId: "s",
        seq: 2,
        version: 2,
        inputs: [
          { name: "time", datatype: "FP64", shape: [300, 1], data: [7.5], truncated: true },
          { name: "flag", datatype: "BOOL", shape: [300, 1], data: [true], truncated: true },
        ],
        outputs: [{ name: "prediction", datatype: "FP64", shape: [300], data: [2.5], truncated: true }],
      },
    ]);
    expect(table.meta.time).toBe("_time");
    expect(table.truncatedRequests).toBe(1);
    expect(table.prediction).toBe("prediction");
    expect(await sql.columns("odd")).toEqual(
      expect.arrayContaining([
        { name: "time", type: "DOUBLE" }, // INT64 in one version, FP64 in the other
        { name: "v_0", type: "DOUBLE" },
        { name: "flag", type: "BOOLEAN" },
        { name: "_time", type: "TIMESTAMP WITH TIME ZONE" },
      ]),
    );
    const rows = await sql.all(
      `SELECT "time", v_0, v_1, flag, prediction, row_id, model_version FROM odd ORDER BY seq, row_index`,
    );
    expect(rows).toEqual([
      { time: 5, v_0: 1, v_1: 2, flag: null, prediction: 0.5, row_id: "r/0", model_version: 1 },
      { time: 6, v_0: null, v_1: 4, flag: null, prediction: 1.5, row_id: "r/1", model_version: 1 },
      { time: 7.5, v_0: null, v_1: null, flag: true, prediction: 2.5, row_id: "s/0", model_version: 2 },
    ]);
  });
});
