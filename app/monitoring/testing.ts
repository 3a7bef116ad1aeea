/**
 * Test helpers of the monitoring: the reference profile of the training
 * columns of app/serving/testing.ts trainTestModel (x: a number in [0, 10),
 * color: red, green or blue), written into a staging folder as a trained
 * model's `reference-profile.json` is; the profile of a "step" model (x only,
 * "high" from 5); a version's files and registration; and the log and
 * feedback of served traffic of the step model, as `dagwood serve` writes them.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { SqlSession } from "../data/sql";
import { servingRepository } from "../deploy/embedded";
import { LOG_FILE } from "../serving/observability";
import type { RegisterVersionInput } from "../store/types";
import { buildModelReferenceProfile, writeReferenceProfile } from "./reference";

export async function writeTestReferenceProfile(
  projectDir: string,
  staging: string,
  rows = 300,
): Promise<void> {
  const instance = await DuckDBInstance.create(":memory:");
  const sql = new SqlSession(await instance.connect());
  try {
    await sql.run(
      `CREATE TABLE train AS SELECT ((range * 7919) % 1000) / 100.0 AS x, ['red', 'green', 'blue'][(range % 3) + 1] AS color FROM range(${rows})`,
    );
    const profile = await buildModelReferenceProfile(
      sql,
      {
        name: "train",
        columns: [
          { name: "x", type: "DOUBLE" },
          { name: "color", type: "VARCHAR" },
        ],
      },
      { target: null },
    );
    await writeReferenceProfile(projectDir, staging, profile);
  } finally {
    sql.connection.closeSync();
    instance.closeSync();
  }
}

/**
 * The reference profile of a model trained on x = 0…9 (ten times each) whose
 * predictions say "high" from 5 ("low" below), written into `staging`.
 */
export async function writeStepReferenceProfile(projectDir: string, staging: string): Promise<void> {
  const instance = await DuckDBInstance.create(":memory:");
  const sql = new SqlSession(await instance.connect());
  try {
    await sql.run("CREATE TABLE train AS SELECT (range % 10)::DOUBLE AS x FROM range(100)");
    const xs = Array.from({ length: 100 }, (_, i) => i % 10);
    const profile = await buildModelReferenceProfile(
      sql,
      { name: "train", columns: [{ name: "x", type: "DOUBLE" }] },
      {
        target: null,
        predictions: { kind: "label", sqlType: "VARCHAR", values: xs.map((x) => (x >= 5 ? "high" : "low")) },
      },
    );
    await writeReferenceProfile(projectDir, staging, profile);
  } finally {
    sql.connection.closeSync();
    instance.closeSync();
  }
}

/**
 * A version's files in `staging`: model.json (`native`, as JSON), model.onnx
 * (`onnx`) and the path of the reference profile written there before.
 */
export function writeTestModelFiles(
  staging: string,
  native: unknown,
  onnx: string | Uint8Array,
): { native: string; onnx: string; profile: string } {
  const files = {
    native: join(staging, "model.json"),
    onnx: join(staging, "model.onnx"),
    profile: join(staging, "reference-profile.json"),
  };
  writeFileSync(files.native, JSON.stringify(native));
  writeFileSync(files.onnx, onnx);
  return files;
}

/**
 * A registration as these tests make one: version of "m" from run-1 (pipeline
 * p, node train) of a binary gbdt, alias champion, by ana; `over` names the
 * files and anything else that differs.
 */
export function testVersionInput(
  over: Partial<RegisterVersionInput> & Pick<RegisterVersionInput, "files">,
): RegisterVersionInput {
  const name = over.name ?? "m";
  const runId = over.runId ?? "run-1";
  return {
    name,
    runId,
    nodeId: "train",
    modelFingerprint: `f-${name}`,
    estimator: "gbdt",
    task: "binary",
    signature: { inputs: [], outputs: [] },
    metrics: {},
    parity: { rows: 1, maxAbsDiff: 0, labelAgreement: 1 },
    lineage: {
      run: {
        id: runId,
        pipeline: "p",
        pipelinePath: null,
        pipelineHash: "h",
        startedAt: "2026-12-01T00:00:00Z",
        user: null,
      },
      nodeId: "train",
      datasets: [],
      params: {},
      environment: {},
    },
    alias: "champion",
    actor: "ana",
    ...over,
  };
}

/**
 * 60 one-row requests of model m v1 20 s apart from `start`, in the project's
 * serving folder as `dagwood serve` logs them; x = i mod 10 (as trained), or
 * shifted to 10…19. The step model says "high" for x ≥ 5 (probability 0.8 for
 * its answer, classes high, low); the feedback labels (sent at start + 25 min)
 * agree with it unshifted and say "low" for every shifted row.
 */
export function writeStepTraffic(projectDir: string, start: number, shifted: boolean): void {
  const entries = Array.from({ length: 60 }, (_, i) => {
    const x = shifted ? (i % 10) + 10 : i % 10;
    return {
      seq: i + 1,
      time: new Date(start + i * 20e3 + 1000).toISOString(),
      requestId: `r${i}`,
      model: "m",
      version: 1,
      role: "primary",
      latencyMs: 1,
      inputs: [{ name: "x", datatype: "FP64", shape: [1, 1], data: [x] }],
      outputs: [
        { name: "label", datatype: "BYTES", shape: [1], data: [x >= 5 ? "high" : "low"] },
        { name: "probabilities", datatype: "FP64", shape: [1, 2], data: x >= 5 ? [0.8, 0.2] : [0.2, 0.8] },
      ],
    };
  });
  const feedback = entries.map((e, i) => ({
    id: e.requestId,
    label: shifted ? "low" : e.outputs[0]!.data[0],
    seq: i + 1,
    time: new Date(start + 25 * 60e3).toISOString(),
  }));
  writeServedLog(projectDir, "m", entries, feedback);
}

/**
 * A served model's inference log and feedback labels in the project's serving
 * folder (the built-in local target's), one JSON object a line, as `dagwood serve` writes them.
 */
export function writeServedLog(projectDir: string, model: string, log: unknown[], feedback: unknown[]): void {
  const repo = join(servingRepository(projectDir), model);
  mkdirSync(repo, { recursive: true });
  writeFileSync(join(repo, LOG_FILE), `${log.map((e) => JSON.stringify(e)).join("\n")}\n`);
  writeFileSync(join(repo, "feedback.jsonl"), `${feedback.map((f) => JSON.stringify(f)).join("\n")}\n`);
}
