/**
 * Drift on an inference log whose tagged inputs the model's policy hashed or
 * dropped (issue 19): a hashed category is compared with the reference's
 * categories hashed in SQL with the project's key (HMAC-SHA256 checked
 * against Python's hmac module), giving the very statistic the same traffic
 * gives in clear; a dropped input is absent by design, not schema drift; a
 * hashed number is not tested, and says why.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqlSession } from "../data/sql";
import { createServer, type DagwoodServer } from "../serving/server";
import { testServers } from "../serving/test-servers";
import { trainTestModel } from "../serving/testing";
import { computeDrift, hmacSql } from "./drift";
import { loadInferenceLog } from "./inference-log";
import { logDriftPrivacy } from "./log-privacy";
import type { DriftTable } from "./types";

const TOKEN = "privacy-drift-token";
const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
const KEY = randomBytes(32);
const { tempDir } = testServers("dagwood-monitor-privacy-");
const CYCLE = ["red", "green", "blue", "red", "green", null] as const;
const ROWS = 120;
const trainX = (i: number) => ((i * 7919) % 1000) / 100;

let server: DagwoodServer;
let url: string;
let project: string;
let instance: DuckDBInstance;
let sql: SqlSession;

/** Loads the test model as `name` with a log policy (undefined: none), and sends the same 120 rows. */
async function deployAndSend(url: string, name: string, bytes: Uint8Array, xType: string, privacy?: unknown) {
  const load = await fetch(`${url}/v2/repository/models/${name}/load`, {
    method: "POST",
    headers: auth,
    body: JSON.stringify({
      parameters: {
        "file:1/model.onnx": Buffer.from(bytes).toString("base64"),
        ...(privacy ? { dagwood_privacy: JSON.stringify(privacy) } : {}),
      },
    }),
  });
  expect(load.status, await load.clone().text()).toBe(200);
  for (let b = 0; b < ROWS / 10; b++) {
    const idx = Array.from({ length: 10 }, (_, k) => b * 10 + k);
    const res = await fetch(`${url}/v2/models/${name}/infer`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({
        id: `q${b}`,
        inputs: [
          { name: "x", datatype: xType, shape: [10, 1], data: idx.map(trainX) },
          { name: "color", datatype: "BYTES", shape: [10, 1], data: idx.map((i) => CYCLE[i % CYCLE.length]) },
        ],
      }),
    });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
  }
}

beforeAll(async () => {
  const trained = await trainTestModel({ task: "classification" });
  const xType = trained.model.signature.inputs.find((i) => i.name === "x")!.dtype;
  server = createServer({ repository: tempDir(), token: TOKEN, log: () => {}, logAll: true });
  url = await server.listen(0);
  const key = KEY.toString("hex");
  await deployAndSend(url, "clear", trained.bytes, xType);
  await deployAndSend(url, "hashed", trained.bytes, xType, {
    policy: { tagged: "hash" },
    tagged: ["color"],
    key,
  });
  await deployAndSend(url, "hashednum", trained.bytes, xType, {
    policy: { tagged: "hash" },
    tagged: ["x", "color"],
    key,
  });
  // Logged in clear first, then deployed again with the policy that hashes color (one log, both kinds).
  await deployAndSend(url, "mixed", trained.bytes, xType);
  await deployAndSend(url, "mixed", trained.bytes, xType, {
    policy: { tagged: "hash" },
    tagged: ["color"],
    key,
  });
  await deployAndSend(url, "dropped", trained.bytes, xType, {
    policy: { tagged: "drop" },
    tagged: ["color"],
  });
  project = tempDir();
  mkdirSync(join(project, ".dagwood"));
  writeFileSync(join(project, ".dagwood", "privacy.key"), `${key}\n`, { mode: 0o600 });
  instance = await DuckDBInstance.create(":memory:");
  sql = new SqlSession(await instance.connect());
  // The training data: x as trained, the colors in the same cycle, NULL for missing.
  await sql.run(
    `CREATE TABLE train AS SELECT ((i * 7919) % 1000) / 100 AS x,
       [${CYCLE.map((c) => (c === null ? "NULL" : `'${c}'`)).join(", ")}][(i % 6) + 1] AS color
     FROM range(300) t(i)`,
  );
}, 60_000);

afterAll(async () => {
  await server?.close();
  sql?.connection.closeSync();
  instance?.closeSync();
});

const reference: DriftTable = {
  name: "train",
  columns: [
    { name: "x", type: "DOUBLE" },
    { name: "color", type: "VARCHAR" },
  ],
};

async function logTable(model: string) {
  // Over HTTP: the server flushes its log before it answers (a read of its folder could come first).
  const log = await loadInferenceLog(sql, { url, model, token: TOKEN }, { table: `log_${model}` });
  return { log, current: { name: log.name, columns: log.columns } as DriftTable };
}

describe("drift on a log with hashed or dropped inputs", () => {
  it("hashes in SQL exactly as Python's hmac module does; NULL stays NULL and '' stays ''", async () => {
    const values = ["red", "blue ü", "a'b", "x".repeat(300), "", null];
    const rows = await sql.all<{ h: string | null }>(
      `SELECT ${hmacSql(KEY, "v")} AS h FROM (SELECT unnest([${values.map((v) => (v === null ? "NULL" : `'${v.replaceAll("'", "''")}'`)).join(", ")}]) AS v)`,
    );
    const code = [
      "import hmac, hashlib, json, sys",
      "key = bytes.fromhex(sys.argv[1])",
      "vals = json.loads(sys.stdin.read())",
      "print(json.dumps([None if v is None else ('' if v == '' else 'hmac:' + hmac.new(key, v.encode(), hashlib.sha256).hexdigest()[:32]) for v in vals]))",
    ].join("\n");
    const python = JSON.parse(
      execFileSync("/usr/bin/python3", ["-c", code, KEY.toString("hex")], {
        input: JSON.stringify(values),
      }).toString(),
    );
    expect(rows.map((r) => r.h)).toEqual(python);
  });

  it("tests a hashed category against the reference hashed with the key: the same statistic as in clear", async () => {
    const clear = await logTable("clear");
    const hashed = await logTable("hashed");
    expect(hashed.log.privacy).toEqual({ hashed: ["color"], dropped: [] });
    expect(clear.log.privacy).toEqual({ hashed: [], dropped: [] });
    const values = await sql.all<{ color: string | null }>(
      `SELECT DISTINCT color FROM log_hashed ORDER BY 1`,
    );
    expect(values.every((v) => v.color === null || v.color.startsWith("hmac:"))).toBe(true);
    expect(values.filter((v) => v.color !== null)).toHaveLength(3);

    const inClear = await computeDrift(sql, reference, clear.current, { columns: ["x", "color"] });
    const privacy = logDriftPrivacy(project, hashed.log, {});
    expect(privacy?.key?.equals(KEY)).toBe(true);
    const withKey = await computeDrift(sql, reference, hashed.current, { columns: ["x", "color"], privacy });
    const a = inClear.columns.find((c) => c.column === "color")!;
    const b = withKey.columns.find((c) => c.column === "color")!;
    expect(b).toMatchObject({ tested: true, drifted: false, test: a.test, type: "categorical" });
    expect(a.tested && a.statistic !== null).toBe(true);
    expect(b.statistic).toBe(a.statistic);
    expect(b.pValue).toBe(a.pValue);
    expect(b.missing).toEqual(a.missing);

    // Unhashed, the reference's categories meet hashes: the drift a missing key would cause.
    const naive = await computeDrift(sql, reference, hashed.current, { columns: ["color"] });
    expect(naive.columns[0]!.drifted).toBe(true);
    // Without the project's key the column is not tested, and the report says why.
    const noKey = logDriftPrivacy(tempDir(), hashed.log, {});
    expect(noKey).toEqual({ hashed: ["color"], dropped: [] });
    const untested = await computeDrift(sql, reference, hashed.current, {
      columns: ["color"],
      privacy: noKey,
    });
    expect(untested.columns[0]).toMatchObject({ tested: false, drifted: false });
    expect(untested.columns[0]!.reason).toMatch(/needs the project's privacy key/);
  });

  it("hashes the entries logged in clear before the policy hashed them: the statistic of the same traffic in clear", async () => {
    const clear = await logTable("clear");
    const mixed = await logTable("mixed");
    expect(mixed.log.privacy).toEqual({ hashed: ["color"], dropped: [] });
    // The same 120 rows twice, in clear: what the mixed log holds before any hashing.
    await sql.run(
      `CREATE TABLE twice AS SELECT * FROM ${clear.log.name} UNION ALL SELECT * FROM ${clear.log.name}`,
    );
    const twice: DriftTable = { name: "twice", columns: clear.current.columns };
    const inClear = await computeDrift(sql, reference, twice, { columns: ["color"] });
    const privacy = logDriftPrivacy(project, mixed.log, {});
    const drift = await computeDrift(sql, reference, mixed.current, { columns: ["color"], privacy });
    const a = inClear.columns[0]!;
    const b = drift.columns[0]!;
    expect(a.tested && a.statistic !== null).toBe(true);
    expect(b).toMatchObject({ tested: true, drifted: false, test: a.test });
    expect(b.statistic).toBe(a.statistic);
    expect(b.pValue).toBe(a.pValue);
  });

  it("leaves a hashed number untested and a dropped input out, saying why, instead of schema drift", async () => {
    const num = await logTable("hashednum");
    expect(num.log.privacy.hashed.sort()).toEqual(["color", "x"]);
    const numReport = await computeDrift(sql, reference, num.current, {
      columns: ["x", "color"],
      privacy: logDriftPrivacy(project, num.log, {}),
    });
    const x = numReport.columns.find((c) => c.column === "x")!;
    expect(x).toMatchObject({ tested: false, drifted: false, schema: null });
    expect(x.reason).toMatch(/a hashed number cannot be compared/);
    expect(numReport.columns.find((c) => c.column === "color")).toMatchObject({
      tested: true,
      drifted: false,
    });

    const dropped = await logTable("dropped");
    expect(dropped.log.privacy).toEqual({ hashed: [], dropped: ["color"] });
    expect(dropped.log.inputs).toEqual(["x"]);
    const bare = await computeDrift(sql, reference, dropped.current, { columns: ["x", "color"] });
    expect(bare.columns.find((c) => c.column === "color")).toMatchObject({
      schema: "missing",
      drifted: true,
    });
    const report = await computeDrift(sql, reference, dropped.current, {
      columns: ["x", "color"],
      privacy: logDriftPrivacy(project, dropped.log, {}),
    });
    const color = report.columns.find((c) => c.column === "color")!;
    expect(color).toMatchObject({ tested: false, drifted: false, schema: null });
    expect(color.reason).toMatch(/Left out of the inference log by the model's privacy policy/);
    expect(report.columns.find((c) => c.column === "x")).toMatchObject({ tested: true });
  });
});
