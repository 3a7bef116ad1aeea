import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PortValue } from "../app/engine/ports";
import { createTestProject, penguinsTable, type TestProject } from "../app/engine/testing";
import type { DagwoodModel } from "../app/ml/model";
import predict from "./predict";
import split from "./split";
import trainGbdt from "./train-gbdt";

const modelOf = (v: PortValue | undefined) => (v?.type === "model" ? v.data : undefined) as DagwoodModel;

describe("train.gbdt", () => {
  let p: TestProject;
  let train: PortValue;
  let test: PortValue;
  beforeEach(async () => {
    p = await createTestProject();
    const all = await penguinsTable(p);
    const parts = await p.run(split, { in: all }, { testFraction: 0.25, seed: 7 });
    train = parts.train!;
    test = parts.test!;
    p.metrics.length = 0;
  });
  afterEach(() => p.close());

  it("classifies penguin species with test accuracy ≥ 0.95, streaming the loss per round", async () => {
    const out = await p.run(trainGbdt, { train }, { target: "species", seed: 7 });
    const model = modelOf(out.model);
    expect(model).toMatchObject({
      kind: "dagwood.model/1",
      estimator: "gbdt",
      task: "multiclass",
      target: "species",
      classes: ["Adelie", "Chinstrap", "Gentoo"],
    });
    expect(model.signature.inputs.map(({ name, dtype, shape }) => ({ name, dtype, shape }))).toEqual([
      { name: "island", dtype: "BYTES", shape: [-1, 1] },
      { name: "beak_length_mm", dtype: "FP64", shape: [-1, 1] },
      { name: "beak_depth_mm", dtype: "FP64", shape: [-1, 1] },
      { name: "flipper_length_mm", dtype: "FP64", shape: [-1, 1] },
      { name: "body_mass_g", dtype: "FP64", shape: [-1, 1] },
      { name: "sex", dtype: "BYTES", shape: [-1, 1] },
    ]);
    expect(model.signature.inputs[0]).toMatchObject({ sourceType: "VARCHAR" });
    expect(model.signature.outputs.map((o) => o.name)).toEqual(["label", "probabilities"]);
    expect(JSON.parse(JSON.stringify(model))).toEqual(model);

    const losses = p.metrics.filter((m) => m.name === "train_loss");
    expect(losses).toHaveLength(100);
    expect(losses.map((m) => m.step)).toEqual([...Array(100).keys()]);
    expect(losses.at(-1)!.value).toBeLessThan(losses[0]!.value);
    expect(p.progress.at(-1)?.fraction).toBe(1);
    expect(p.logs.some((l) => /histogram kernel in/.test(l.message))).toBe(true);

    const scored = await p.run(predict, { model: out.model, data: test }, {});
    const rows = await p.rows(scored.out);
    const accuracy = rows.filter((r) => r.label === r.species).length / rows.length;
    console.log(`gbdt species: test accuracy ${accuracy.toFixed(3)} on ${rows.length} rows`);
    expect(accuracy).toBeGreaterThanOrEqual(0.95);
  });

  it("trains a binary classifier (sex) with the positive class second", async () => {
    // One penguin's sex is ".", a third class of one row: keep the two real ones (and the NULLs).
    const sexed = await p.table(
      "sexed",
      `SELECT * FROM "${train.type === "table" && train.name}" WHERE sex IS DISTINCT FROM '.'`,
    );
    const out = await p.run(trainGbdt, { train: sexed }, { target: "sex", seed: 1 });
    const model = modelOf(out.model);
    expect(model.task).toBe("binary");
    expect(model.classes).toEqual(["FEMALE", "MALE"]);
    expect(p.logs.some((l) => /row\(s\) have no "sex" value and are left out/.test(l.message))).toBe(true);
    const scored = await p.run(predict, { model: out.model, data: test }, {});
    const rows = (await p.rows(scored.out)).filter((r) => r.sex === "MALE" || r.sex === "FEMALE");
    const accuracy = rows.filter((r) => r.label === r.sex).length / rows.length;
    console.log(`gbdt sex: test accuracy ${accuracy.toFixed(3)} on ${rows.length} rows`);
    expect(accuracy).toBeGreaterThanOrEqual(0.8);
    for (const r of rows) {
      expect((r.probability_FEMALE as number) + (r.probability_MALE as number)).toBeCloseTo(1, 12);
    }
  });

  it("regresses body mass with a reasonable RMSE, and stops early on a validation fraction", async () => {
    const out = await p.run(
      trainGbdt,
      { train },
      { target: "body_mass_g", earlyStopping: true, trees: 500, seed: 3 },
    );
    const model = modelOf(out.model);
    expect(model.task).toBe("regression");
    expect(model.signature.outputs).toEqual([{ name: "prediction", dtype: "FP64", shape: [-1] }]);
    expect(p.metrics.some((m) => m.name === "valid_loss")).toBe(true);
    expect(model.ensemble.iterations).toBeLessThan(500);
    const scored = await p.run(predict, { model: out.model, data: test }, {});
    const rows = (await p.rows(scored.out)).filter((r) => r.body_mass_g !== null);
    const rmse = Math.sqrt(
      rows.reduce((s, r) => s + ((r.prediction as number) - (r.body_mass_g as number)) ** 2, 0) / rows.length,
    );
    console.log(
      `gbdt body_mass_g: test RMSE ${rmse.toFixed(0)} g on ${rows.length} rows (${model.ensemble.iterations} rounds)`,
    );
    expect(rmse).toBeLessThan(400);
  });

  it("gives the same model for the same seed", async () => {
    const params = { target: "species", trees: 20, subsample: 0.7, seed: 5 };
    const a = await p.run(trainGbdt, { train }, params);
    const b = await p.run(trainGbdt, { train }, params);
    const c = await p.run(trainGbdt, { train }, { ...params, seed: 6 });
    expect(a.model?.fingerprint).toBe(b.model?.fingerprint);
    expect(JSON.stringify(modelOf(a.model).ensemble)).toBe(JSON.stringify(modelOf(b.model).ensemble));
    expect(modelOf(c.model).ensemble).not.toEqual(modelOf(a.model).ensemble);
  });
});

describe("train.gbdt bad input", () => {
  let p: TestProject;
  beforeEach(async () => {
    p = await createTestProject();
  });
  afterEach(() => p.close());

  const numbers = (p: TestProject, extra = "") =>
    p.table(
      "t",
      `SELECT range AS id, (range % 7)::DOUBLE AS x, (range % 3)::VARCHAR AS g, range % 2 AS y${extra} FROM range(200)`,
    );

  it("names the columns when the target is missing", async () => {
    const t = await numbers(p);
    await expect(p.run(trainGbdt, { train: t }, { target: "label" })).rejects.toThrow(
      /Column "label" in target does not exist\. Columns are: id, x, g, y\./,
    );
  });

  it("refuses a constant target", async () => {
    const t = await p.table("t", "SELECT range AS x, 'same' AS y FROM range(50)");
    await expect(p.run(trainGbdt, { train: t }, { target: "y" })).rejects.toThrow(
      /target "y" has the same value \("same"\) in every training row/,
    );
  });

  it("refuses regression on a text target", async () => {
    const t = await numbers(p);
    await expect(p.run(trainGbdt, { train: t }, { target: "g", task: "regression" })).rejects.toThrow(
      /Regression needs a numeric target, but "g" is VARCHAR/,
    );
  });

  it("fails when every feature is dropped, saying why", async () => {
    const t = await p.table(
      "t",
      "SELECT NULL::DOUBLE AS a, NULL::VARCHAR AS b, range % 2 AS y FROM range(50)",
    );
    await expect(p.run(trainGbdt, { train: t }, { target: "y" })).rejects.toThrow(
      /All feature columns were dropped \("a": it has no values.*"b": it has no values/,
    );
    const only = await p.table("u", "SELECT [range] AS l, range % 2 AS y FROM range(50)");
    await expect(p.run(trainGbdt, { train: only }, { target: "y" })).rejects.toThrow(/no feature columns/);
    await expect(p.run(trainGbdt, { train: only }, { target: "y", features: ["l"] })).rejects.toThrow(
      /"l" \(BIGINT\[\]\) cannot be used/,
    );
    await expect(p.run(trainGbdt, { train: only }, { target: "y", features: ["y"] })).rejects.toThrow(
      /also listed in features/,
    );
  });

  it("treats NaN and ±Infinity in numeric columns as missing", async () => {
    const t = await p.table(
      "t",
      `SELECT CASE WHEN range % 10 = 0 THEN 'nan'::DOUBLE WHEN range % 10 = 1 THEN 'inf'::DOUBLE
                   WHEN range % 10 = 2 THEN '-inf'::DOUBLE ELSE range::DOUBLE END AS x,
              range::DOUBLE * 2 AS y FROM range(300)`,
    );
    const out = await p.run(trainGbdt, { train: t }, { target: "y", trees: 10 });
    expect(p.logs).toContainEqual({
      level: "warn",
      message:
        'Column "x": 90 missing value(s) (60 of them ±Infinity) in the training rows, filled with the median 151.',
    });
    const model = modelOf(out.model);
    expect(model.preprocess.features[0]).toMatchObject({
      name: "x",
      impute: { strategy: "median", value: 151 },
    });
    const scored = await p.run(predict, { model: out.model, data: t }, {});
    expect((await p.rows(scored.out)).every((r) => Number.isFinite(r.prediction))).toBe(true);
  });

  it("puts categories beyond maxCategories in one 'other' code, with a warning", async () => {
    const t = await p.table(
      "t",
      "SELECT 'c' || (range % 40) AS city, (range % 40 < 20)::INTEGER AS y FROM range(400)",
    );
    const out = await p.run(trainGbdt, { train: t }, { target: "y", maxCategories: 8, trees: 5 });
    const city = modelOf(out.model).preprocess.features[0]!;
    expect(city).toMatchObject({ kind: "categorical", otherCode: 8, unknownCode: 8 });
    expect(city.kind === "categorical" && city.categories).toHaveLength(8);
    expect(p.logs).toContainEqual({
      level: "warn",
      message: expect.stringMatching(
        /"city" has 40 categories, more than maxCategories \(8\): the 32 least frequent \(320 rows\)/,
      ),
    });
  });

  it("stops quickly when cancelled mid-way, with no model", async () => {
    const t = await p.table(
      "big",
      "SELECT random() AS a, random() AS b, random() AS c, (range % 97)::VARCHAR AS g, random() * 10 AS y FROM range(200000)",
    );
    const controller = new AbortController();
    const run = p.run(trainGbdt, { train: t }, { target: "y", trees: 5000, maxDepth: 8 }, controller.signal);
    while (!p.metrics.some((m) => m.name === "train_loss")) await new Promise((r) => setTimeout(r, 10));
    const abortedAt = performance.now();
    controller.abort();
    await expect(run).rejects.toThrow(/Training was cancelled/);
    const ms = performance.now() - abortedAt;
    console.log(`gbdt cancel: rejected ${ms.toFixed(0)} ms after abort`);
  });
});
