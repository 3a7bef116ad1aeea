import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTempStore, type SqliteMetadataStore } from "../store/metadata";
import type { ModelLineage } from "../store/types";
import {
  exportJson,
  exportModelVersion,
  exportRun,
  latestMetrics,
  metricsCsv,
  onnxIrVersion,
  resolveExportDir,
  TrackingError,
} from "./export";
import { lineageGraph } from "./lineage";

const RUN = "20260101T000000-aaaaaa";
// A real ONNX header: field 1 (ir_version) = 8, then arbitrary bytes that must survive the copy.
const ONNX_BYTES = Buffer.from([0x08, 0x08, 0x12, 0x04, 0xff, 0x00, 0x80, 0x7f, 0x00, 0x01]);

function lineage(): ModelLineage {
  return {
    run: {
      id: RUN,
      pipeline: "p",
      pipelinePath: "p.dag.json",
      pipelineHash: "h1",
      startedAt: "2026-01-01T00:00:00.000Z",
      user: "ana",
    },
    nodeId: "train",
    datasets: [
      {
        digest: "d".repeat(64),
        source: "data/x.csv",
        schema: [{ name: "a", type: "DOUBLE" }],
        rows: 3,
        fingerprint: "f",
      },
    ],
    params: { "train.maxDepth": 3 },
    environment: { node: "v20" },
  };
}

describe("export and lineage over a temporary store", () => {
  let store: SqliteMetadataStore;
  let dir: string;
  let cleanup: () => void;

  beforeEach(() => {
    ({ store, dir, cleanup } = createTempStore());
    store.startRun({
      id: RUN,
      pipeline: "p",
      pipelinePath: "p.dag.json",
      pipelineHash: "h1",
      pipelineText: '{\n  "format": "dagwood.pipeline/1",\n  "name": "p"\n}\n',
      params: { depth: 3 },
      resolvedParams: { "train.maxDepth": 3, "load.path": "data/x.csv" },
      startedAt: "2026-01-01T00:00:00.000Z",
      environment: { node: "v20" },
      user: "ana",
      tags: { team: "a,b" },
    });
    store.logMetrics([
      { runId: RUN, nodeId: "train", name: "loss", value: 0.9, step: 0 },
      { runId: RUN, nodeId: "train", name: "loss", value: 0.4, step: 1 },
      { runId: RUN, nodeId: "eval", name: "accuracy", value: 0.875, step: null },
      { runId: RUN, nodeId: "eval", name: 'odd, "name"', value: Number.NaN, step: null },
    ]);
    mkdirSync(join(dir, ".dagwood", "artifacts", RUN, "train"), { recursive: true });
    const onnx = join(dir, ".dagwood", "artifacts", RUN, "train", "model.onnx");
    const native = join(dir, ".dagwood", "artifacts", RUN, "train", "model.json");
    writeFileSync(onnx, ONNX_BYTES);
    writeFileSync(
      native,
      JSON.stringify({ kind: "dagwood.model/1", onnx: { opsets: { "": 17, "ai.onnx.ml": 3 } } }),
    );
    store.recordArtifact({
      runId: RUN,
      nodeId: "train",
      name: "model/model.onnx",
      kind: "model.onnx",
      path: `.dagwood/artifacts/${RUN}/train/model.onnx`,
      bytes: ONNX_BYTES.length,
      sha256: "x",
    });
    store.recordArtifact({
      runId: RUN,
      nodeId: "train",
      name: "model/gone.json",
      kind: "file",
      path: `.dagwood/artifacts/${RUN}/train/gone.json`,
      bytes: 1,
      sha256: "y",
    });
    store.finishRun(RUN, "succeeded");
    store.registry.registerVersion({
      name: "iris",
      runId: RUN,
      nodeId: "train",
      modelFingerprint: "fp1",
      estimator: "tree",
      task: "multiclass",
      signature: {
        inputs: [
          { name: "a", dtype: "FP32", shape: [-1, 1] },
          { name: "b", dtype: "BYTES", shape: [-1, 1] },
        ],
        outputs: [{ name: "label", dtype: "BYTES", shape: [-1] }],
      },
      metrics: { accuracy: 0.875 },
      parity: { rows: 3, maxAbsDiff: 0, labelAgreement: 1 },
      files: { native, onnx },
      lineage: lineage(),
      alias: "champion",
      actor: "ana",
    });
  });
  afterEach(() => cleanup());

  const ctx = () => ({ dir, metadata: store });

  it("exports a model version as a folder another tool can read", async () => {
    const r = await exportModelVersion(ctx(), "iris", "champion");
    expect(r.dir).toBe("exports/iris-v1");
    expect(r.files).toEqual(["MLmodel.json", "lineage.json", "model.json", "model.onnx", "signature.json"]);
    const out = join(dir, r.dir);
    expect(readFileSync(join(out, "model.onnx")).equals(ONNX_BYTES)).toBe(true);
    const mlmodel = JSON.parse(readFileSync(join(out, "MLmodel.json"), "utf8"));
    expect(mlmodel.run_id).toBe(RUN);
    expect(mlmodel.model_uuid).toMatch(/^[0-9a-f]{32}$/);
    expect(mlmodel.utc_time_created).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/);
    expect(mlmodel.flavors.onnx).toMatchObject({ data: "model.onnx", ir_version: 8, opset: 17 });
    expect(mlmodel.flavors.dagwood).toMatchObject({
      data: "model.json",
      estimator: "tree",
      model_fingerprint: "fp1",
    });
    expect(JSON.parse(mlmodel.signature.inputs)).toEqual([
      { name: "a", type: "tensor", "tensor-spec": { dtype: "float32", shape: [-1, 1] } },
      { name: "b", type: "tensor", "tensor-spec": { dtype: "object", shape: [-1, 1] } },
    ]);
    expect(mlmodel.params).toEqual({ "train.maxDepth": 3 });
    expect(mlmodel.registered_model).toEqual({
      name: "iris",
      version: 1,
      aliases: ["champion"],
      status: "ready",
    });
    const sig = JSON.parse(readFileSync(join(out, "signature.json"), "utf8"));
    expect(sig.outputs[0].name).toBe("label");
    const lin = JSON.parse(readFileSync(join(out, "lineage.json"), "utf8"));
    expect(lin.datasets[0].digest).toBe("d".repeat(64));
    expect(lin.model).toEqual({ name: "iris", version: 1, fingerprint: "fp1" });
    // The default folder is never overwritten: a second export gets a suffix.
    expect((await exportModelVersion(ctx(), "iris", 1)).dir).toBe("exports/iris-v1-2");
    // No temporary folder is left beside them.
    expect(readdirSync(join(dir, "exports")).sort()).toEqual(["iris-v1", "iris-v1-2"]);
  });

  it("refuses unknown models, versions and aliases, and a version whose files are gone", async () => {
    await expect(exportModelVersion(ctx(), "nope", 1)).rejects.toMatchObject({
      code: "not-found",
      message: expect.stringMatching(/No registered model "nope"/),
    });
    await expect(exportModelVersion(ctx(), "iris", 7)).rejects.toMatchObject({
      code: "not-found",
      message: expect.stringMatching(/no version 7/),
    });
    await expect(exportModelVersion(ctx(), "iris", "prod")).rejects.toMatchObject({
      code: "not-found",
      message: expect.stringMatching(/no alias "prod"/),
    });
    const v = store.registry.getVersion("iris", 1)!;
    rmSync(join(dir, v.onnxPath));
    await expect(exportModelVersion(ctx(), "iris", 1)).rejects.toMatchObject({
      code: "not-found",
      message: expect.stringMatching(/ONNX file of iris v1 is missing/),
    });
    expect(existsSync(join(dir, "exports"))).toBe(false);
  });

  it("exports a run: run.json, the pipeline, every metric point as CSV, the artifacts that still exist", async () => {
    const r = await exportRun(ctx(), RUN, "out/run");
    expect(r).toEqual({
      dir: "out/run",
      files: ["artifacts/train/model/model.onnx", "metrics.csv", "pipeline.dag.json", "run.json"],
    });
    const out = join(dir, "out", "run");
    expect(readFileSync(join(out, "artifacts", "train", "model", "model.onnx")).equals(ONNX_BYTES)).toBe(
      true,
    );
    expect(readFileSync(join(out, "pipeline.dag.json"), "utf8")).toBe(store.pipelineText(RUN));
    const csv = readFileSync(join(out, "metrics.csv"), "utf8").trimEnd().split("\n");
    expect(csv[0]).toBe("node,name,step,value,ts");
    expect(csv).toHaveLength(5);
    expect(csv.find((l) => l.startsWith("train,loss,1,0.4,"))).toBeDefined();
    expect(csv.find((l) => l.startsWith('eval,"odd, ""name""",,NaN,'))).toBeDefined();
    const run = JSON.parse(readFileSync(join(out, "run.json"), "utf8"));
    expect(run.run.id).toBe(RUN);
    expect(run.params).toEqual({ "load.path": "data/x.csv", "train.maxDepth": 3 });
    expect(run.metrics).toEqual({ "eval.accuracy": 0.875, 'eval.odd, "name"': "NaN", "train.loss": 0.4 });
    expect(run.tags).toEqual({ team: "a,b" });
    expect(run.artifacts.map((a: { name: string; file: string | null }) => [a.name, a.file])).toEqual(
      expect.arrayContaining([
        ["model/model.onnx", "artifacts/train/model/model.onnx"],
        ["model/gone.json", null],
      ]),
    );
    await expect(exportRun(ctx(), "no-such-run")).rejects.toMatchObject({ code: "not-found" });
  });

  it("keeps exports inside the project: no traversal, no .dagwood, no link out, no overwrite", async () => {
    for (const bad of ["../x", "/etc/dagwood-x", ".", ".dagwood/registry/x", "exports/../../x"]) {
      await expect(exportRun(ctx(), RUN, bad), bad).rejects.toMatchObject({ code: "forbidden" });
    }
    const outside = mkdtempSync(join(tmpdir(), "dagwood-outside-"));
    try {
      symlinkSync(outside, join(dir, "link"));
      await expect(exportRun(ctx(), RUN, "link/run")).rejects.toMatchObject({ code: "forbidden" });
      expect(readdirSync(outside)).toEqual([]);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
    mkdirSync(join(dir, "taken"));
    writeFileSync(join(dir, "taken", "keep.txt"), "mine");
    await expect(exportRun(ctx(), RUN, "taken")).rejects.toMatchObject({
      code: "conflict",
      message: expect.stringMatching(/exists and is not empty/),
    });
    expect(readdirSync(join(dir, "taken"))).toEqual(["keep.txt"]);
    // An empty folder is fine to fill.
    mkdirSync(join(dir, "empty"));
    expect((await exportRun(ctx(), RUN, "empty")).files).toContain("run.json");
  });

  it("leaves nothing behind when an export fails half-way", async () => {
    // The model file is checked up front; make the copy itself fail by swapping the native file for a folder.
    const v = store.registry.getVersion("iris", 1)!;
    rmSync(join(dir, v.nativePath));
    mkdirSync(join(dir, v.nativePath));
    await expect(exportModelVersion(ctx(), "iris", 1, "exports/broken")).rejects.toThrow();
    expect(readdirSync(join(dir, "exports"))).toEqual([]);
  });

  it("draws dataset → run → model version → deployment, each once", () => {
    store.registry.registerVersion({
      ...store.registry.getVersion("iris", 1)!,
      description: "",
      modelFingerprint: "fp2",
      files: {
        native: join(dir, store.registry.getVersion("iris", 1)!.nativePath),
        onnx: join(dir, store.registry.getVersion("iris", 1)!.onnxPath),
      },
      lineage: lineage(),
      alias: undefined,
      actor: "ana",
    });
    store.registry.appendAudit({
      actor: "ci",
      action: "deployment.succeeded",
      model: "iris",
      version: 2,
      details: { target: "local" },
    });
    const g = lineageGraph(store, { model: "iris" });
    const kinds = g.nodes.map((n) => `${n.kind}:${n.label}`).sort();
    expect(kinds).toEqual([
      "dataset:x.csv",
      "deployment:succeeded → local",
      "modelVersion:iris v1",
      "modelVersion:iris v2",
      `run:p · ${RUN}`,
    ]);
    expect(g.edges).toHaveLength(4);
    expect(g.edges).toContainEqual({ from: `dataset:${"d".repeat(64)}`, to: `run:${RUN}` });
    expect(g.edges).toContainEqual({ from: "model:iris:v2", to: expect.stringMatching(/^deployment:\d+$/) });
    expect(lineageGraph(store).nodes).toHaveLength(5);
    expect(() => lineageGraph(store, { model: "nope" })).toThrow(TrackingError);
  });
});

describe("export helpers", () => {
  it("writes NaN and Infinity as text in JSON, and reads the ONNX ir_version", () => {
    expect(exportJson({ a: Number.NaN, b: [Number.NEGATIVE_INFINITY, 1] })).toBe(
      '{\n  "a": "NaN",\n  "b": [\n    "-Infinity",\n    1\n  ]\n}\n',
    );
    expect(onnxIrVersion(Uint8Array.from([0x08, 0x09]))).toBe(9);
    expect(onnxIrVersion(Uint8Array.from([0x08, 0x96, 0x01]))).toBe(150);
    expect(onnxIrVersion(Uint8Array.from([0x12, 0x00]))).toBeNull();
    expect(onnxIrVersion(new Uint8Array())).toBeNull();
  });

  it("keeps the latest step of each metric, and quotes CSV fields that need it", () => {
    const m = (name: string, value: number, step: number | null) => ({
      runId: "r",
      nodeId: "n",
      name,
      value,
      step,
    });
    expect(latestMetrics([m("loss", 3, 2), m("loss", 9, 1), m("acc", 0.5, null)])).toEqual({
      "n.acc": 0.5,
      "n.loss": 3,
    });
    expect(metricsCsv([{ ...m("a\nb", 1, null), ts: "t" }])).toBe('node,name,step,value,ts\nn,"a\nb",,1,t\n');
  });

  it("suffixes only the default folder", () => {
    const dir = mkdtempSync(join(tmpdir(), "dagwood-exportdir-"));
    try {
      mkdirSync(join(dir, "exports", "run-1"), { recursive: true });
      writeFileSync(join(dir, "exports", "run-1", "f"), "");
      expect(resolveExportDir(dir, undefined, "exports/run-1")).toBe(join(dir, "exports", "run-1-2"));
      expect(() => resolveExportDir(dir, "exports/run-1", "exports/run-1")).toThrow(
        /exists and is not empty/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
