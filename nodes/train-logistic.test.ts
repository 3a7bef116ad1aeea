import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PortValue } from "../app/engine/ports";
import { createTestProject, expectOnnxParity, penguinsTable, type TestProject } from "../app/engine/testing";
import type { LinearDagwoodModel } from "../app/ml/model";
import predict from "./predict";
import split from "./split";
import trainLogistic from "./train-logistic";

const modelOf = (v: PortValue | undefined) =>
  (v?.type === "model" ? v.data : undefined) as LinearDagwoodModel;

describe("train.logistic", () => {
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

  it("classifies penguin species with test accuracy ≥ 0.95, streaming the loss per iteration", async () => {
    const out = await p.run(trainLogistic, { train }, { target: "species" });
    const model = modelOf(out.model);
    expect(model).toMatchObject({
      kind: "dagwood.model/1",
      estimator: "logistic",
      task: "multiclass",
      target: "species",
      classes: ["Adelie", "Chinstrap", "Gentoo"],
      linear: { kind: "logistic", numClasses: 3, converged: true },
    });
    expect(model.linear.coefficients).toHaveLength(3);
    expect(model.signature.outputs).toEqual([
      { name: "label", dtype: "BYTES", shape: [-1] },
      { name: "probabilities", dtype: "FP64", shape: [-1, 3] },
    ]);
    expect(JSON.parse(JSON.stringify(model))).toEqual(model);
    const losses = p.metrics.filter((m) => m.name === "train_loss");
    expect(losses.length).toBe(model.linear.iterations);
    expect(losses.at(-1)!.value).toBeLessThan(losses[0]!.value);
    expect(p.progress.at(-1)?.fraction).toBe(1);
    expectOnnxParity(p, model);
    console.log(
      `logistic species: ONNX parity ${model.onnx!.parity.maxAbsDiff} on ${model.onnx!.parity.rows} rows`,
    );

    const scored = await p.run(predict, { model: out.model, data: test }, {});
    const rows = await p.rows(scored.out);
    const accuracy = rows.filter((r) => r.label === r.species).length / rows.length;
    console.log(
      `logistic species: test accuracy ${accuracy.toFixed(3)} on ${rows.length} rows (${model.linear.iterations} iterations)`,
    );
    expect(accuracy).toBeGreaterThanOrEqual(0.95);
    for (const r of rows) {
      const sum = ["Adelie", "Chinstrap", "Gentoo"].reduce(
        (s, c) => s + (r[`probability_${c}`] as number),
        0,
      );
      expect(sum).toBeCloseTo(1, 12);
    }
  });

  it("trains a binary classifier (sex) with the positive class second", async () => {
    const sexed = await p.table(
      "sexed",
      `SELECT * FROM "${train.type === "table" && train.name}" WHERE sex IS DISTINCT FROM '.'`,
    );
    const out = await p.run(trainLogistic, { train: sexed }, { target: "sex" });
    const model = modelOf(out.model);
    expect(model.task).toBe("binary");
    expect(model.classes).toEqual(["FEMALE", "MALE"]);
    expect(model.linear.coefficients).toHaveLength(1);
    expectOnnxParity(p, model);
    console.log(
      `logistic sex: ONNX parity ${model.onnx!.parity.maxAbsDiff} on ${model.onnx!.parity.rows} rows`,
    );
    const scored = await p.run(predict, { model: out.model, data: test }, {});
    const rows = (await p.rows(scored.out)).filter((r) => r.sex === "MALE" || r.sex === "FEMALE");
    const accuracy = rows.filter((r) => r.label === r.sex).length / rows.length;
    console.log(`logistic sex: test accuracy ${accuracy.toFixed(3)} on ${rows.length} rows`);
    expect(accuracy).toBeGreaterThanOrEqual(0.8);
    for (const r of rows) expect(r.label).toBe((r.probability_MALE as number) > 0.5 ? "MALE" : "FEMALE");
  });

  it("gives the same model every time, whatever the seed", async () => {
    const a = await p.run(trainLogistic, { train }, { target: "species", l2: 0.1 });
    const again = await p.run(trainLogistic, { train }, { target: "species", l2: 0.1 });
    const b = await p.run(trainLogistic, { train }, { target: "species", l2: 0.1, seed: 3 });
    expect(a.model?.fingerprint).toBe(again.model?.fingerprint);
    expect(JSON.stringify(modelOf(a.model).linear)).toBe(JSON.stringify(modelOf(b.model).linear));
  });
});

describe("train.logistic bad input", () => {
  let p: TestProject;
  beforeEach(async () => {
    p = await createTestProject();
  });
  afterEach(() => p.close());

  it("refuses a regression target, pointing to train.linear", async () => {
    const t = await p.table("t", "SELECT range AS x, range * 1.5 AS y FROM range(40)");
    await expect(p.run(trainLogistic, { train: t }, { target: "y" })).rejects.toThrow(
      /"y" is a number with fractions or more than 20 distinct values, a regression target, and train.logistic does classification only. Use train.linear/,
    );
    const many = await p.table("u", "SELECT range AS x, range % 30 AS y FROM range(90)");
    const out = await p.run(
      trainLogistic,
      { train: many },
      { target: "y", task: "classification", maxIter: 5 },
    );
    expect(modelOf(out.model).classes).toHaveLength(30);
    expect(
      p.logs.some((l) => l.level === "warn" && /did not converge within maxIter \(5\)/.test(l.message)),
    ).toBe(true);
  });

  it("refuses a constant target", async () => {
    const t = await p.table("t", "SELECT range AS x, 'same' AS y FROM range(20)");
    await expect(p.run(trainLogistic, { train: t }, { target: "y" })).rejects.toThrow(
      /target "y" has the same value \("same"\) in every training row/,
    );
  });

  it("fails when every feature is dropped, saying why", async () => {
    const t = await p.table("t", "SELECT NULL::DOUBLE AS a, range % 2 AS y FROM range(50)");
    await expect(p.run(trainLogistic, { train: t }, { target: "y" })).rejects.toThrow(
      /All feature columns were dropped \("a": it has no values/,
    );
    const only = await p.table("u", "SELECT [range] AS l, range % 2 AS y FROM range(50)");
    await expect(p.run(trainLogistic, { train: only }, { target: "y" })).rejects.toThrow(
      /no feature columns/,
    );
  });

  it("stays finite on perfectly separable classes", async () => {
    const t = await p.table(
      "t",
      "SELECT range::DOUBLE AS x, CASE WHEN range < 50 THEN 'lo' ELSE 'hi' END AS y FROM range(100)",
    );
    const out = await p.run(trainLogistic, { train: t }, { target: "y", l2: 0.01, maxIter: 500 });
    const model = modelOf(out.model);
    expect(model.linear.coefficients.flat().every(Number.isFinite)).toBe(true);
    const scored = await p.rows((await p.run(predict, { model: out.model, data: t }, {})).out);
    expect(scored.every((r) => r.label === r.y)).toBe(true);
  });

  it("stops quickly when cancelled mid-way, with no model", async () => {
    const t = await p.table(
      "big",
      "SELECT random() AS a, random() AS b, (range % 50)::VARCHAR AS g, (range % 7)::VARCHAR AS y FROM range(300000)",
    );
    const controller = new AbortController();
    const run = p.run(
      trainLogistic,
      { train: t },
      { target: "y", l2: 1e-6, maxIter: 10_000 },
      controller.signal,
    );
    while (!p.metrics.some((m) => m.name === "train_loss")) await new Promise((r) => setTimeout(r, 10));
    const abortedAt = performance.now();
    controller.abort();
    await expect(run).rejects.toThrow(/Training was cancelled/);
    const ms = performance.now() - abortedAt;
    console.log(`logistic cancel: rejected ${ms.toFixed(0)} ms after abort`);
  });
});
