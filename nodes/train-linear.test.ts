import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PortValue } from "../app/engine/ports";
import { createTestProject, expectOnnxParity, penguinsTable, type TestProject } from "../app/engine/testing";
import type { LinearDagwoodModel } from "../app/ml/model";
import type { TrainingContext } from "../app/ml/training/context";
import { exportWithParity } from "../app/ml/training/export";
import predict from "./predict";
import split from "./split";
import trainLinear from "./train-linear";

const modelOf = (v: PortValue | undefined) =>
  (v?.type === "model" ? v.data : undefined) as LinearDagwoodModel;

describe("train.linear", () => {
  let p: TestProject;
  beforeEach(async () => {
    p = await createTestProject();
  });
  afterEach(() => p.close());

  it("regresses penguin body mass with a reasonable RMSE, one-hot encoding and scaling in the model", async () => {
    const all = await penguinsTable(p);
    const { train, test } = await p.run(split, { in: all }, { testFraction: 0.25, seed: 7 });
    const out = await p.run(trainLinear, { train }, { target: "body_mass_g" });
    const model = modelOf(out.model);
    expect(model).toMatchObject({
      kind: "dagwood.model/1",
      estimator: "linear",
      task: "regression",
      target: "body_mass_g",
      linear: { kind: "ridge", l2: 1, iterations: 0 },
    });
    expect(model.signature.outputs).toEqual([{ name: "prediction", dtype: "FP64", shape: [-1] }]);
    expect(model.linear.featureNames).toContain("species=Adelie");
    expect(model.linear.featureNames).toContain("flipper_length_mm");
    const flipper = model.preprocess.features.find((f) => f.name === "flipper_length_mm");
    expect(flipper).toMatchObject({ impute: { strategy: "median" }, scale: { kind: "standard" } });
    expect(JSON.parse(JSON.stringify(model))).toEqual(model);
    expect(p.metrics.some((m) => m.name === "train_rmse")).toBe(true);
    expectOnnxParity(p, model);
    console.log(
      `linear body_mass_g: ONNX parity ${model.onnx!.parity.maxAbsDiff} on ${model.onnx!.parity.rows} rows`,
    );

    const scored = await p.run(predict, { model: out.model, data: test! }, {});
    const rows = (await p.rows(scored.out)).filter((r) => r.body_mass_g !== null);
    const rmse = Math.sqrt(
      rows.reduce((s, r) => s + ((r.prediction as number) - (r.body_mass_g as number)) ** 2, 0) / rows.length,
    );
    console.log(`linear body_mass_g: test RMSE ${rmse.toFixed(0)} g on ${rows.length} rows`);
    expect(rmse).toBeLessThan(350);
    expect((await p.rows(scored.out)).every((r) => Number.isFinite(r.prediction))).toBe(true);
  });

  // l2 = 0 would be refused: the one-hot columns of g sum to 1, collinear with the intercept.
  it("recovers an exact linear relation through the preprocessing", async () => {
    const t = await p.table(
      "t",
      "SELECT range::DOUBLE AS x, (range % 3)::VARCHAR AS g, 5 + 2 * range + (range % 3) * 10 AS y FROM range(30)",
    );
    const out = await p.run(trainLinear, { train: t }, { target: "y", task: "regression", l2: 1e-6 });
    const scored = await p.rows((await p.run(predict, { model: out.model, data: t }, {})).out);
    for (const r of scored) expect(r.prediction as number).toBeCloseTo(Number(r.y), 3);
  });

  it("gives the same model every time, whatever the seed", async () => {
    const t = await p.table(
      "t",
      "SELECT range AS x, sin(range) AS z, cos(range) * 3 + range AS y FROM range(100)",
    );
    const a = await p.run(trainLinear, { train: t }, { target: "y" });
    const again = await p.run(trainLinear, { train: t }, { target: "y" });
    const b = await p.run(trainLinear, { train: t }, { target: "y", seed: 9 });
    expect(a.model?.fingerprint).toBe(again.model?.fingerprint);
    expect(JSON.stringify(modelOf(a.model).linear)).toBe(JSON.stringify(modelOf(b.model).linear));
  });
});

describe("train.linear bad input", () => {
  let p: TestProject;
  beforeEach(async () => {
    p = await createTestProject();
  });
  afterEach(() => p.close());

  it("refuses a classification target, pointing to train.logistic", async () => {
    const t = await p.table(
      "t",
      "SELECT range AS x, CASE WHEN range < 5 THEN 'a' ELSE 'b' END AS y FROM range(10)",
    );
    await expect(p.run(trainLinear, { train: t }, { target: "y" })).rejects.toThrow(
      /"y" is VARCHAR, a classification target, and train.linear does regression only. Use train.logistic/,
    );
    const ints = await p.table("u", "SELECT range AS x, range % 3 AS y FROM range(30)");
    await expect(p.run(trainLinear, { train: ints }, { target: "y" })).rejects.toThrow(
      /looks like classes. Use train.logistic to classify it, or set task to "regression"/,
    );
    const out = await p.run(trainLinear, { train: ints }, { target: "y", task: "regression" });
    expect(modelOf(out.model).task).toBe("regression");
    const bools = await p.table("v", "SELECT range AS x, range > 4 AS y FROM range(10)");
    await expect(p.run(trainLinear, { train: bools }, { target: "y" })).rejects.toThrow(/Use train.logistic/);
  });

  it("refuses a constant target", async () => {
    const t = await p.table("t", "SELECT range AS x, 2.5 AS y FROM range(20)");
    await expect(p.run(trainLinear, { train: t }, { target: "y", task: "regression" })).rejects.toThrow(
      /"y" has the same value \(2.5\) in every training row/,
    );
  });

  it("fails when every feature is dropped, saying why", async () => {
    const t = await p.table(
      "t",
      "SELECT NULL::DOUBLE AS a, NULL::VARCHAR AS b, range * 1.5 AS y FROM range(50)",
    );
    await expect(p.run(trainLinear, { train: t }, { target: "y" })).rejects.toThrow(
      /All feature columns were dropped \("a": it has no values.*"b": it has no values/,
    );
  });

  it("leaves out a column whose scaling would not fit float32, saying why, and trains on the rest", async () => {
    // Math.fround(1e39) is Infinity (float32's largest finite value is about 3.4e38).
    const t = await p.table(
      "t",
      "SELECT range * 1e39 AS huge, range::DOUBLE AS x, 3 + 2 * range AS y FROM range(40)",
    );
    const out = await p.run(trainLinear, { train: t }, { target: "y", l2: 1e-6 });
    const model = modelOf(out.model);
    expect(model.preprocess.features.map((f) => f.name)).toEqual(["x"]);
    expect(model.preprocess.dropped).toEqual([
      { name: "huge", reason: expect.stringMatching(/beyond float32's range.*rescale it/) },
    ]);
    expect(p.logs.some((l) => l.level === "warn" && /Column "huge" is not used/.test(l.message))).toBe(true);
    expect(JSON.parse(JSON.stringify(model))).toEqual(model);
    expectOnnxParity(p, model);
  });

  it("writes no model file when a cancel arrives as the ONNX export finishes", async () => {
    const t = await p.table("t", "SELECT range::DOUBLE AS x, 3 + 2 * range AS y FROM range(40)");
    const model = modelOf((await p.run(trainLinear, { train: t }, { target: "y" })).model);
    const dir = await mkdtemp(join(tmpdir(), "dagwood-export-"));
    const controller = new AbortController();
    const ctx: TrainingContext = {
      sql: undefined as never,
      projectDir: dir,
      // Called once the export task has returned: the cancel lands between the export and the write.
      artifactDir: async () => {
        controller.abort();
        return dir;
      },
      progress: () => {},
      metric: () => {},
      log: () => {},
      signal: controller.signal,
      trial: () => {},
      chosenParams: () => {},
      environment: () => {},
    };
    const x = Float64Array.from({ length: 40 }, (_, i) => i);
    const rows = { rows: 40, columns: [{ name: "x", kind: "numeric" as const, type: "DOUBLE", values: x }] };
    try {
      await expect(exportWithParity(ctx, model, rows)).rejects.toThrow(/Training was cancelled/);
      expect(existsSync(join(dir, "model.onnx"))).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("imputes missing and non-finite values, and scores unseen categories", async () => {
    const t = await p.table(
      "t",
      `SELECT CASE WHEN range % 10 = 0 THEN NULL WHEN range % 10 = 1 THEN 'inf'::DOUBLE ELSE range::DOUBLE END AS x,
              CASE WHEN range % 7 = 0 THEN NULL ELSE (range % 4)::VARCHAR END AS g,
              range * 1.5 AS y FROM range(200)`,
    );
    const out = await p.run(trainLinear, { train: t }, { target: "y" });
    expectOnnxParity(p, modelOf(out.model));
    const probe = await p.table("probe", "SELECT 'nan'::DOUBLE AS x, 'new' AS g UNION ALL SELECT NULL, NULL");
    const scored = await p.rows((await p.run(predict, { model: out.model, data: probe }, {})).out);
    expect(scored.every((r) => Number.isFinite(r.prediction))).toBe(true);
  });

  it("asks for l2 > 0 when the features are collinear", async () => {
    const t = await p.table(
      "t",
      "SELECT range AS a, range * 2 AS b, range * 1.5 + sin(range) AS y FROM range(40)",
    );
    await expect(p.run(trainLinear, { train: t }, { target: "y", l2: 0 })).rejects.toThrow(
      /collinear.*Set l2 > 0/,
    );
  });
});
