import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PortValue } from "../app/engine/ports";
import { createTestProject, penguinsTable, type TestProject } from "../app/engine/testing";
import type { MlpDagwoodModel } from "../app/ml/model";
import predict from "./predict";
import split from "./split";
import trainMlp from "./train-mlp";

const modelOf = (v: PortValue | undefined) => (v?.type === "model" ? v.data : undefined) as MlpDagwoodModel;

/** XOR of the signs of a and b, with a noise column and a text column the label ignores. */
const XOR = `SELECT a, b, hash(range) % 1000 / 1000.0 AS noise, (range % 3)::VARCHAR AS g,
  CASE WHEN (a > 0) = (b > 0) THEN 'same' ELSE 'differ' END AS sign
  FROM (SELECT range, (hash(range * 2) % 2000) / 1000.0 - 1 AS a, (hash(range * 2 + 1) % 2000) / 1000.0 - 1 AS b FROM range(600))`;

function expectParity(model: MlpDagwoodModel): void {
  expect(model.onnx).toBeDefined();
  expect(model.onnx!.parity.maxAbsDiff).toBeLessThanOrEqual(1e-5);
  expect(model.onnx!.parity.labelAgreement).toBe(1);
}

describe("train.mlp", () => {
  let p: TestProject;
  beforeEach(async () => {
    p = await createTestProject();
  });
  afterEach(() => p.close());

  it("learns XOR (binary), streams loss and val_loss per epoch, records the wasm backend, exports ONNX with parity", async () => {
    const t = await p.table("xor", XOR);
    const out = await p.run(
      trainMlp,
      { train: t },
      { target: "sign", hidden: [16, 16], epochs: 60, learningRate: 0.01, validationFraction: 0.1, seed: 3 },
    );
    const model = modelOf(out.model);
    expect(model).toMatchObject({
      kind: "dagwood.model/1",
      estimator: "mlp",
      task: "binary",
      classes: ["differ", "same"],
      mlp: { format: "dagwood.mlp/1", output: "sigmoid", activation: "relu", training: { backend: "wasm" } },
    });
    expect(model.mlp.layers.map((l) => [l.inputs, l.units])).toEqual([
      [6, 16],
      [16, 16],
      [16, 1],
    ]);
    expect(JSON.parse(JSON.stringify(model))).toEqual(model);
    expect(p.logs.some((l) => /backend "wasm"/.test(l.message))).toBe(true);
    expect(p.environment).toEqual({ tfjsBackend: "wasm" });
    // Per-epoch metrics with their step: 60 of each, steps 0..59.
    for (const name of ["loss", "val_loss", "accuracy", "val_accuracy"]) {
      const series = p.metrics.filter((m) => m.name === name);
      expect(series.map((m) => m.step)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    }
    const loss = p.metrics.filter((m) => m.name === "loss").map((m) => m.value);
    expect(loss.at(-1)!).toBeLessThan(loss[0]! / 3);
    expect(p.progress.at(-1)?.fraction).toBe(1);
    expectParity(model);
    expect(readFileSync(join(p.dir, model.onnx!.file)).length).toBe(model.onnx!.bytes);

    const rows = await p.rows((await p.run(predict, { model: out.model, data: t }, {})).out);
    const accuracy = rows.filter((r) => r.label === r.sign).length / rows.length;
    console.log(
      `mlp XOR: training accuracy ${accuracy.toFixed(3)}, parity ${model.onnx!.parity.maxAbsDiff.toExponential(2)}`,
    );
    expect(accuracy).toBeGreaterThanOrEqual(0.95);
  });

  it("classifies penguin species (multiclass) with ≥ 0.9 test accuracy", async () => {
    const all = await penguinsTable(p);
    const { train, test } = await p.run(
      split,
      { in: all },
      { strategy: "stratified", column: "species", testFraction: 0.25, seed: 7 },
    );
    const out = await p.run(
      trainMlp,
      { train },
      { target: "species", hidden: [32], epochs: 80, learningRate: 0.01, dropout: 0.1, seed: 1 },
    );
    const model = modelOf(out.model);
    expect(model.task).toBe("multiclass");
    expect(model.mlp.output).toBe("softmax");
    expect(model.signature.outputs[1]).toEqual({ name: "probabilities", dtype: "FP64", shape: [-1, 3] });
    expectParity(model);
    const rows = await p.rows((await p.run(predict, { model: out.model, data: test! }, {})).out);
    const accuracy = rows.filter((r) => r.label === r.species).length / rows.length;
    console.log(
      `mlp penguins species: test accuracy ${accuracy.toFixed(3)} on ${rows.length} rows; parity ${model.onnx!.parity.maxAbsDiff.toExponential(2)} over ${model.onnx!.parity.rows} rows`,
    );
    expect(accuracy).toBeGreaterThanOrEqual(0.9);
  });

  it("regresses penguin body mass (target in the thousands) with parity ≤ 1e-5", async () => {
    const all = await penguinsTable(p);
    const { train, test } = await p.run(split, { in: all }, { testFraction: 0.25, seed: 7 });
    const out = await p.run(
      trainMlp,
      { train },
      { target: "body_mass_g", hidden: [32, 16], epochs: 100, learningRate: 0.01, seed: 2 },
    );
    const model = modelOf(out.model);
    expect(model.task).toBe("regression");
    expect(model.mlp.targetScale!.mean).toBeGreaterThan(3000);
    expectParity(model);
    const rows = (await p.rows((await p.run(predict, { model: out.model, data: test! }, {})).out)).filter(
      (r) => r.body_mass_g !== null,
    );
    const rmse = Math.sqrt(
      rows.reduce((s, r) => s + ((r.prediction as number) - Number(r.body_mass_g)) ** 2, 0) / rows.length,
    );
    console.log(
      `mlp body_mass_g: test RMSE ${rmse.toFixed(0)} g on ${rows.length} rows; parity ${model.onnx!.parity.maxAbsDiff.toExponential(2)}`,
    );
    expect(rmse).toBeLessThan(400);
  });

  it("gives the same weights for the same seed, other weights for another", async () => {
    const t = await p.table("xor", XOR);
    const params = { target: "sign", hidden: [8], epochs: 5, dropout: 0.2, seed: 11 };
    const a = modelOf((await p.run(trainMlp, { train: t }, params)).model);
    const b = modelOf((await p.run(trainMlp, { train: t }, params)).model);
    const c = modelOf((await p.run(trainMlp, { train: t }, { ...params, seed: 12 })).model);
    expect(JSON.stringify(a.mlp.layers)).toBe(JSON.stringify(b.mlp.layers));
    expect(a.mlp.training.loss).toEqual(b.mlp.training.loss);
    expect(JSON.stringify(a.mlp.layers)).not.toBe(JSON.stringify(c.mlp.layers));
  });

  it("searches hyperparameters with cross-validation and refits the best", async () => {
    const t = await p.table("xor", XOR);
    const out = await p.run(
      trainMlp,
      { train: t },
      {
        target: "sign",
        hidden: [8],
        epochs: 5,
        search: { strategy: "grid", space: { learningRate: [0.001, 0.03] }, folds: 2 },
      },
    );
    const model = modelOf(out.model) as MlpDagwoodModel & { tuning: { trials: unknown[] } };
    expect(model.tuning.trials).toHaveLength(2);
    expect(p.metrics.filter((m) => m.name === "cv_accuracy")).toHaveLength(2);
    expectParity(model);
  });

  it("stops when cancelled mid-way, with no model", async () => {
    const t = await p.table(
      "big",
      "SELECT random() AS a, random() AS b, (range % 7)::VARCHAR AS g, random() * 10 AS y FROM range(50000)",
    );
    const controller = new AbortController();
    const run = p.run(
      trainMlp,
      { train: t },
      { target: "y", hidden: [64, 64], epochs: 1000, batchSize: 64 },
      controller.signal,
    );
    while (!p.metrics.some((m) => m.name === "loss")) await new Promise((r) => setTimeout(r, 10));
    const abortedAt = performance.now();
    controller.abort();
    await expect(run).rejects.toThrow(/Training was cancelled/);
    const ms = performance.now() - abortedAt;
    console.log(`mlp cancel: rejected ${ms.toFixed(0)} ms after abort`);
  });

  it("refuses a constant target and a table whose features are all dropped", async () => {
    const constant = await p.table("c", "SELECT range AS x, 5 AS y FROM range(20)");
    await expect(p.run(trainMlp, { train: constant }, { target: "y", epochs: 1 })).rejects.toThrow(
      /same value \(5\) in every training row/,
    );
    const empty = await p.table(
      "e",
      "SELECT NULL::DOUBLE AS x, NULL::VARCHAR AS g, range % 2 AS y FROM range(20)",
    );
    await expect(p.run(trainMlp, { train: empty }, { target: "y", epochs: 1 })).rejects.toThrow(
      /All feature columns were dropped/,
    );
    await expect(p.run(trainMlp, { train: constant }, { target: "y", hidden: [0] })).rejects.toThrow();
  });
});
