import { readFileSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { onnxruntime } from "../../data/native";
import type { ColumnTable } from "../dataset";
import { fitLogistic } from "../linear";
import {
  type AnyDagwoodModel,
  type DagwoodModel,
  encodeTarget,
  type LinearDagwoodModel,
  MODEL_FORMAT,
  signatureFor,
} from "../model";
import { SERVING_SESSION_OPTIONS } from "../onnx/session-options";
import { fitPreprocessor, transformFeatures } from "../preprocess";
import { fitTree, modelToJSON } from "../trees";
import { closeWorkPool } from "../work/pool";
import { COMPLEXITY_METRICS, median, modelSize, singleRowLatency } from "./complexity";
import type { TrainingContext } from "./context";
import { exportWithParity } from "./export";

afterAll(() => closeWorkPool());

/** n rows: two numbers (one with NULLs), a text column, and a 0/1 target that depends on them. */
function table(n: number): { rows: ColumnTable; y: Float64Array } {
  const a = Float64Array.from({ length: n }, (_, i) => ((i * 37) % 101) / 25 - 2);
  const b = Float64Array.from({ length: n }, (_, i) => (i % 17 === 0 ? Number.NaN : (i * 13) % 10));
  const codes = Int32Array.from({ length: n }, (_, i) => (i * 7) % 4);
  const y = Float64Array.from({ length: n }, (_, i) => (a[i]! + [0, 1, -1, 0.5][codes[i]!]! > 0 ? 1 : 0));
  return {
    rows: {
      rows: n,
      columns: [
        { name: "a", kind: "numeric", type: "DOUBLE", values: a },
        { name: "b", kind: "numeric", type: "DOUBLE", values: b },
        { name: "g", kind: "categorical", type: "VARCHAR", codes, dictionary: ["p", "q", "r", "s"] },
      ],
    },
    y,
  };
}

async function logisticModel(rows: ColumnTable, y: Float64Array): Promise<LinearDagwoodModel> {
  const spec = fitPreprocessor(rows, {
    impute: "median",
    maxCategories: 64,
    encoding: "onehot",
    scale: "standard",
  });
  const linear = await fitLogistic({ data: transformFeatures(spec, rows), y }, { l2: 1 });
  const target = encodeTarget({ name: "y", kind: "numeric", type: "BIGINT", values: y }, "classification");
  return {
    kind: MODEL_FORMAT,
    estimator: "logistic",
    task: "binary",
    target: "y",
    targetType: "BIGINT",
    classes: target.classes!,
    signature: signatureFor(spec, "binary", target.classes),
    preprocess: spec,
    linear,
    trainedRows: rows.rows,
    params: {},
  } as unknown as LinearDagwoodModel;
}

describe("model size", () => {
  it("counts a tree's leaves as the nodes without a split feature, and its trees", async () => {
    const { rows, y } = table(300);
    const spec = fitPreprocessor(rows, { impute: "median", maxCategories: 64 });
    const data = transformFeatures(spec, rows);
    for (const maxDepth of [1, 3]) {
      const fitted = await fitTree(
        { data, y, task: "binary", numClasses: 2 },
        { maxDepth },
        { pool: "inline" },
      );
      const ensemble = modelToJSON(fitted);
      const model = { estimator: "tree", ensemble } as unknown as DagwoodModel;
      // Independently: a leaf is a node whose feature is -1 (types.ts), and a binary tree of depth d has ≤ 2^d leaves.
      const leaves = ensemble.trees[0]!.feature.filter((f) => f === -1).length;
      expect(modelSize(model)).toEqual({ trees: 1, leaves });
      expect(leaves).toBeGreaterThanOrEqual(2);
      expect(leaves).toBeLessThanOrEqual(2 ** maxDepth);
    }
  });

  it("counts a logistic regression's coefficients and intercept, and an MLP's weights and biases", async () => {
    const { rows, y } = table(200);
    const model = await logisticModel(rows, y);
    // Binary: one coefficient per encoded column (a, b, four categories of g, maybe missing flags) and one intercept.
    expect(modelSize(model)).toEqual({ parameters: model.linear.featureNames.length + 1 });
    expect(model.linear.featureNames.length).toBeGreaterThanOrEqual(6);

    // 5 inputs → 8 hidden → 3 outputs: 5·8 + 8 + 8·3 + 3 = 75.
    const layer = (inputs: number, units: number) => ({
      inputs,
      units,
      weights: new Array(inputs * units).fill(0.1),
      bias: new Array(units).fill(0),
    });
    const mlp = {
      estimator: "mlp",
      mlp: { layers: [layer(5, 8), layer(8, 3)] },
    } as unknown as AnyDagwoodModel;
    expect(modelSize(mlp)).toEqual({ parameters: 75 });
  });
});

describe("single-row latency", () => {
  it("takes the median of an odd and of an even count", () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it("times single rows through onnxruntime, and refuses what it cannot time", async () => {
    const { rows, y } = table(120);
    const model = await logisticModel(rows, y);
    const dir = await mkdtemp(join(tmpdir(), "dagwood-complexity-"));
    const metrics: { name: string; value: number }[] = [];
    const logs: string[] = [];
    const ctx: TrainingContext = {
      sql: undefined as never,
      projectDir: dir,
      artifactDir: async () => dir,
      progress: () => {},
      metric: (name, value) => metrics.push({ name, value }),
      log: (message) => logs.push(message),
      signal: new AbortController().signal,
      trial: () => {},
      chosenParams: () => {},
      environment: () => {},
    };
    try {
      const onnx = await exportWithParity(ctx, model, rows);
      const value = (name: string) => metrics.find((m) => m.name === name)?.value;
      expect(value(COMPLEXITY_METRICS.onnxBytes)).toBe(statSync(join(dir, "model.onnx")).size);
      expect(value(COMPLEXITY_METRICS.parameters)).toBe(model.linear.featureNames.length + 1);
      expect(value(COMPLEXITY_METRICS.trees)).toBeUndefined();
      const p50 = value(COMPLEXITY_METRICS.latencyP50);
      expect(p50).toBeGreaterThan(0);
      expect(Number.isFinite(p50)).toBe(true);
      expect(logs.join("\n")).toMatch(/one row scores in \d+ µs \(median of 200 calls\)/);

      const bytes = new Uint8Array(readFileSync(join(dir, "model.onnx")));
      expect(onnx.bytes).toBe(bytes.length);
      const few = await singleRowLatency(bytes, model, rows, { warmup: 1, calls: 7 });
      expect(few.calls).toBe(7);
      expect(few.p50Us).toBeGreaterThan(0);
      // Timed as `dagwood serve` runs a version: one intra-op and one inter-op thread, full graph
      // optimization (app/serving/models.ts opens every session with SERVING_SESSION_OPTIONS).
      const create = vi.spyOn(onnxruntime().InferenceSession, "create");
      try {
        await singleRowLatency(bytes, model, rows, { warmup: 0, calls: 1 });
        expect(create).toHaveBeenCalledTimes(1);
        expect(create.mock.calls[0]![1]).toEqual({
          intraOpNumThreads: 1,
          interOpNumThreads: 1,
          graphOptimizationLevel: "all",
        });
        expect(create.mock.calls[0]![1]).toEqual(SERVING_SESSION_OPTIONS);
      } finally {
        create.mockRestore();
      }
      await expect(singleRowLatency(bytes, model, { rows: 0, columns: rows.columns })).rejects.toThrow(
        /at least one row/,
      );
      await expect(singleRowLatency(bytes, model, rows, { calls: 0 })).rejects.toThrow(
        /at least one timed call/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
