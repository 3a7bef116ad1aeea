import { statSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PortValue, TableValue } from "../app/engine/ports";
import { copyPenguins, createTestProject, type TestProject } from "../app/engine/testing";
import type { DagwoodModel } from "../app/ml/model";
import trainForest from "./train-forest";
import trainGbdt from "./train-gbdt";
import trainTree from "./train-tree";

const modelOf = (v: PortValue | undefined) => (v?.type === "model" ? v.data : undefined) as DagwoodModel;

describe("train blocks export ONNX and check parity after every training", () => {
  let p: TestProject;
  let penguins: TableValue;
  beforeEach(async () => {
    p = await createTestProject();
    const path = copyPenguins(p);
    // ±Infinity in a numeric column; the CSV already has NULL rows and a "." sex.
    penguins = await p.table(
      "penguins",
      `SELECT * EXCLUDE (n) REPLACE (CASE WHEN n % 23 = 0 THEN 'inf'::DOUBLE WHEN n % 37 = 0 THEN '-inf'::DOUBLE
                              ELSE flipper_length_mm END AS flipper_length_mm)
       FROM (SELECT *, row_number() OVER () AS n FROM read_csv('${path}'))`,
    );
  });
  afterEach(() => p.close());

  const cases = [
    { block: trainGbdt, target: "species", params: { trees: 30 } },
    { block: trainForest, target: "sex", params: { trees: 20 } },
    { block: trainTree, target: "body_mass_g", params: {} },
    { block: trainGbdt, target: "island", params: { trees: 10, impute: "mode" } },
  ];
  for (const { block, target, params } of cases) {
    it(`${block.kind} (${target}) stores model.onnx with parity ≤ 1e-5 and full label agreement`, async () => {
      const out = await p.run(block, { train: penguins }, { target, seed: 3, ...params });
      const model = modelOf(out.model);
      expect(model.onnx).toMatchObject({
        file: ".dagwood/artifacts/test/model.onnx",
        opsets: { "": 17, "ai.onnx.ml": 3 },
        parity: { rows: model.trainedRows + 3 },
      });
      const { file, bytes, parity } = model.onnx!;
      expect(parity.maxAbsDiff).toBeLessThanOrEqual(1e-5);
      expect(parity.labelAgreement).toBe(1);
      expect(statSync(join(p.dir, file)).size).toBe(bytes);
      expect(p.metrics).toContainEqual({ name: "onnx_max_abs_diff", value: parity.maxAbsDiff });
      expect(p.metrics).toContainEqual({ name: "onnx_label_agreement", value: 1 });
      expect(
        p.logs.some((l) => /Exported .*model\.onnx .* parity with the native model/.test(l.message)),
      ).toBe(true);
      const session = await ort.InferenceSession.create(join(p.dir, file));
      expect(session.inputNames).toEqual(model.signature.inputs.map((i) => i.name));
      expect(session.outputNames).toEqual(model.signature.outputs.map((o) => o.name));
      await session.release();
    });
  }

  it("writes the opset versions a block asks for, still with parity", async () => {
    const out = await p.run(
      trainGbdt,
      { train: penguins },
      { target: "species", trees: 5, onnxOpset: { default: 15 } },
    );
    const model = modelOf(out.model);
    expect(model.onnx).toMatchObject({ opsets: { "": 15, "ai.onnx.ml": 3 }, parity: { labelAgreement: 1 } });
    await expect(
      p.run(trainGbdt, { train: penguins }, { target: "species", trees: 5, onnxOpset: { default: 3 } }),
    ).rejects.toThrow(/onnxOpset/);
    // Trees need ai.onnx.ml 3 or 4 (float64 thresholds): refused before any training, not after it.
    for (const ml of [2, 5]) {
      await expect(
        p.run(trainGbdt, { train: penguins }, { target: "species", trees: 5, onnxOpset: { ml } }),
      ).rejects.toThrow(/onnxOpset\.ml/);
    }
  });
});
