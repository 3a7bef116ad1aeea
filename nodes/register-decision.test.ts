/**
 * A registered binary classifier keeps the decision threshold it was evaluated with, and is served
 * labelling by it (issue 20): the version's model.onnx, run by onnxruntime, by `dagwood serve`'s V2
 * server and as exported for Triton, gives predict's labels at threshold 0.3, which scikit-learn
 * (Debian's python3-sklearn) computes independently from the served probabilities.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { exportRepository } from "../app/deploy/export";
import type { PortValue } from "../app/engine/ports";
import { createTestProject, penguinsTable, type TestProject } from "../app/engine/testing";
import { onnxDecision, withDecisionThreshold } from "../app/ml/onnx/decision";
import { createServer } from "../app/serving/server";
import type { ModelVersion } from "../app/values/registry";
import evaluate from "./evaluate";
import predict from "./predict";
import register from "./register";
import split from "./split";
import trainGbdt from "./train-gbdt";

const PYTHON = process.env.DAGWOOD_PYTHON ?? "/usr/bin/python3";
const FEATURES = ["beak_length_mm", "beak_depth_mm", "flipper_length_mm"];
const CLASSES = ["FEMALE", "MALE"];
const TOKEN = "decision-test-token";

/** scikit-learn's labels from the probabilities at a threshold, and how many differ from the largest probability's. */
function sklearnLabels(
  probabilities: number[],
  positive: string,
  threshold: number,
): { labels: string[]; changed: number } {
  const script = `
import json, sys
import numpy as np
q = json.load(sys.stdin)
proba = np.array(q["probabilities"]).reshape(-1, 2)
classes = np.array(q["classes"])
pos = q["classes"].index(q["positive"])
labels = np.where(proba[:, pos] >= q["threshold"], classes[pos], classes[1 - pos])
print(json.dumps({"labels": labels.tolist(), "changed": int((labels != classes[proba.argmax(axis=1)]).sum())}))
`;
  const r = spawnSync(PYTHON, ["-c", script], {
    input: JSON.stringify({ probabilities, classes: CLASSES, positive, threshold }),
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`scikit-learn failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** The model's inputs for `rows` as FP64 [N, 1] columns (a missing value: NaN, as the served model reads it). */
function columnsOf(rows: Record<string, unknown>[]): Record<string, number[]> {
  return Object.fromEntries(
    FEATURES.map((f) => [f, rows.map((r) => (r[f] === null ? Number.NaN : Number(r[f])))]),
  );
}

async function runOnnx(
  bytes: Uint8Array,
  columns: Record<string, number[]>,
): Promise<{ label: string[]; probabilities: number[] }> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const n = columns[FEATURES[0]!]!.length;
    const feeds = Object.fromEntries(
      FEATURES.map((f) => [f, new ort.Tensor("float64", Float64Array.from(columns[f]!), [n, 1])]),
    );
    const out = await session.run(feeds);
    return {
      label: Array.from(out.label!.data as string[]),
      probabilities: Array.from(out.probabilities!.data as Float64Array),
    };
  } finally {
    await session.release();
  }
}

describe("a registered version's decision threshold", () => {
  let p: TestProject;
  let model: PortValue;
  let test: PortValue;
  const dirs: string[] = [];
  beforeEach(async () => {
    p = await createTestProject();
    const parts = await p.run(
      split,
      { in: await penguinsTable(p, "sex IS NOT NULL AND sex <> '.'") },
      { testFraction: 0.25, seed: 7 },
    );
    test = parts.test!;
    model = (await p.run(trainGbdt, { train: parts.train! }, { target: "sex", features: FEATURES, seed: 7 }))
      .model!;
    p.upstream = { model: { node: "train", port: "model" } };
  });
  afterEach(() => {
    p.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  const registerAt = async (threshold: number | undefined, name = "sex") => {
    const report =
      threshold === undefined
        ? undefined
        : (await p.run(evaluate, { model, data: test }, { threshold })).report!;
    const out = await p.run(register, { model, data: test, ...(report ? { report } : {}) }, { name });
    const ref = (out.version as { data: { version: number; created: boolean } }).data;
    return { ...ref, v: p.metadata().registry.getVersion(name, ref.version)! };
  };

  it("keeps 0.3, and its model.onnx labels as predict does at 0.3 (onnxruntime, the V2 server, the Triton export)", async () => {
    const { v } = await registerAt(0.3);
    expect(v.decision).toEqual({ threshold: 0.3, positiveClass: "MALE" });
    expect(p.logs.map((l) => l.message)).toContain(
      "The version labels a row MALE when its probability of MALE is at least 0.3, as the evaluation scored it (its model.onnx decides so).",
    );
    const rows = await p.rows((await p.run(predict, { model, data: test }, { threshold: 0.3 })).out);
    const columns = columnsOf(rows);
    const bytes = readFileSync(join(p.dir, v.onnxPath));
    expect(onnxDecision(bytes)).toEqual({ threshold: 0.3, positiveClass: "MALE" });

    // onnxruntime on the version's file: predict's labels, and scikit-learn's rule on the served probabilities.
    const served = await runOnnx(bytes, columns);
    expect(served.label).toEqual(rows.map((r) => r.label));
    const reference = sklearnLabels(served.probabilities, "MALE", 0.3);
    expect(served.label).toEqual(reference.labels);
    expect(reference.changed).toBeGreaterThan(0);
    // The graph written at training still labels by the largest probability: those rows differ there.
    const training = readFileSync(
      join(p.dir, (model as { data: { onnx: { file: string } } }).data.onnx.file),
    );
    expect(onnxDecision(training)).toBeUndefined();
    const before = await runOnnx(training, columns);
    expect(before.probabilities).toEqual(served.probabilities);
    const differing = before.label.filter((l, i) => l !== served.label[i]).length;
    expect(differing).toBe(reference.changed);
    console.log(
      `threshold 0.3: ${differing} of ${rows.length} served labels differ from the training graph's ArgMax`,
    );

    // dagwood serve's V2 server, given the version's file.
    const server = createServer({
      repository: mkdtempSync(join(tmpdir(), "dagwood-decision-")),
      token: TOKEN,
      log: () => {},
    });
    try {
      const url = await server.listen(0);
      const headers = { "content-type": "application/json", authorization: `Bearer ${TOKEN}` };
      const load = await fetch(`${url}/v2/repository/models/sex/load`, {
        method: "POST",
        headers,
        body: JSON.stringify({
          parameters: {
            config: JSON.stringify({ name: "sex", platform: "onnxruntime_onnx" }),
            "file:1/model.onnx": bytes.toString("base64"),
          },
        }),
      });
      expect(load.status).toBe(200);
      const infer = await fetch(`${url}/v2/models/sex/infer`, {
        method: "POST",
        headers,
        body: JSON.stringify({
          inputs: FEATURES.map((f) => ({
            name: f,
            datatype: "FP64",
            shape: [rows.length, 1],
            data: columns[f]!.map((x) => (Number.isNaN(x) ? null : x)),
          })),
        }),
      });
      expect(infer.status).toBe(200);
      const answer = (await infer.json()) as {
        outputs: { name: string; data: unknown[]; parameters?: Record<string, unknown> }[];
      };
      const label = answer.outputs.find((o) => o.name === "label");
      expect(label?.data).toEqual(rows.map((r) => r.label));
      // The answer and the model metadata say which rule labelled.
      expect(label?.parameters).toEqual({ decision_threshold: 0.3, positive_class: "MALE" });
      const metadata = (await (await fetch(`${url}/v2/models/sex`, { headers })).json()) as {
        parameters: Record<string, unknown>;
      };
      expect(metadata.parameters).toMatchObject({ decision_threshold: 0.3, positive_class: "MALE" });
    } finally {
      await server.close();
    }

    // The Triton export: the same file, and the decision in the config's parameters.
    const outDir = mkdtempSync(join(tmpdir(), "dagwood-decision-export-"));
    dirs.push(outDir);
    await exportRepository({
      project: { dir: p.dir, registry: p.metadata().registry },
      name: "sex",
      ref: v.version,
      format: "triton",
      outDir,
    });
    expect(readFileSync(join(outDir, "sex", String(v.version), "model.onnx")).equals(bytes)).toBe(true);
    const config = readFileSync(join(outDir, "sex", "config.pbtxt"), "utf8");
    expect(config).toContain('key: "decision_threshold"\n  value: {\n    string_value: "0.3"');
    expect(config).toContain('key: "positive_class"\n  value: {\n    string_value: "MALE"');
  });

  it("keeps the held-out rows' expected labels by the threshold, so a deploy's parity check holds", async () => {
    const { v } = await registerAt(0.3);
    const heldout = JSON.parse(readFileSync(join(p.dir, v.heldoutPath!), "utf8")) as {
      rows: number;
      inputs: { name: string; data: (number | null)[] }[];
      expected: { label: string[]; probabilities: number[] };
    };
    const columns = Object.fromEntries(
      heldout.inputs.map((t) => [t.name, t.data.map((x) => (x === null ? Number.NaN : x))]),
    );
    const served = await runOnnx(readFileSync(join(p.dir, v.onnxPath)), columns);
    expect(heldout.expected.label).toEqual(served.label);
    expect(heldout.expected.label).toEqual(sklearnLabels(heldout.expected.probabilities, "MALE", 0.3).labels);
  });

  it("is part of the version's identity: the same model at another threshold is another version", async () => {
    const first = await registerAt(0.3);
    const again = await registerAt(0.3);
    expect(again).toMatchObject({ version: first.version, created: false });
    const other = await registerAt(0.5);
    expect(other).toMatchObject({ version: first.version + 1, created: true });
    expect(other.v.decision).toEqual({ threshold: 0.5, positiveClass: "MALE" });
  });

  it("keeps none without a report: the training's graph, labelling by the largest probability", async () => {
    const { v } = await registerAt(undefined, "plain");
    expect(v.decision).toBeNull();
    const training = readFileSync(
      join(p.dir, (model as { data: { onnx: { file: string } } }).data.onnx.file),
    );
    expect(readFileSync(join(p.dir, v.onnxPath)).equals(training)).toBe(true);
  });

  it("labels by the first class when evaluate counted it positive", async () => {
    const report = (await p.run(evaluate, { model, data: test }, { threshold: 0.3, positiveClass: "FEMALE" }))
      .report!;
    await p.run(register, { model, report }, { name: "female" });
    const v: ModelVersion = p.metadata().registry.getVersion("female", 1)!;
    expect(v.decision).toEqual({ threshold: 0.3, positiveClass: "FEMALE" });
    const rows = await p.rows(
      (await p.run(predict, { model, data: test }, { threshold: 0.3, positiveClass: "FEMALE" })).out,
    );
    const served = await runOnnx(readFileSync(join(p.dir, v.onnxPath)), columnsOf(rows));
    expect(served.label).toEqual(rows.map((r) => r.label));
    const reference = sklearnLabels(served.probabilities, "FEMALE", 0.3);
    expect(served.label).toEqual(reference.labels);
    expect(reference.changed).toBeGreaterThan(0);
  });

  it("refuses to relabel a graph that is not a binary Dagwood classifier, or already relabelled", async () => {
    const training = readFileSync(
      join(p.dir, (model as { data: { onnx: { file: string } } }).data.onnx.file),
    );
    expect(() => withDecisionThreshold(training, { threshold: 0.3, positiveClass: "male" })).toThrow(
      'The positive class "male" is not one of the graph\'s classes: FEMALE, MALE',
    );
    expect(() => withDecisionThreshold(training, { threshold: 1.5, positiveClass: "MALE" })).toThrow(
      "The decision threshold must be between 0 and 1, not 1.5",
    );
    const once = withDecisionThreshold(training, { threshold: 0.3, positiveClass: "MALE" });
    expect(() => withDecisionThreshold(once, { threshold: 0.4, positiveClass: "MALE" })).toThrow(
      /already labels by a decision threshold/,
    );
    const parts = await p.run(split, { in: await penguinsTable(p) }, { testFraction: 0.25, seed: 7 });
    const species = (await p.run(trainGbdt, { train: parts.train! }, { target: "species", trees: 5 })).model!;
    const multiclass = readFileSync(
      join(p.dir, (species as { data: { onnx: { file: string } } }).data.onnx.file),
    );
    expect(() => withDecisionThreshold(multiclass, { threshold: 0.3, positiveClass: "Adelie" })).toThrow(
      "A decision threshold applies to binary classifiers; this ONNX graph has 3 classes",
    );
  });
});
