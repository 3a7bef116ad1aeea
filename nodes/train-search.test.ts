import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { BlockContext } from "../app/engine/block";
import type { PortValue } from "../app/engine/ports";
import { createTestProject, penguinsTable, type TestProject } from "../app/engine/testing";
import type { ColumnTable } from "../app/ml/dataset";
import type { AnyDagwoodModel } from "../app/ml/model";
import { encodeTarget } from "../app/ml/model";
import { searchHyperparameters, type TuningRecord } from "../app/ml/training";
import split from "./split";
import trainGbdt from "./train-gbdt";
import trainLinear from "./train-linear";
import trainLogistic from "./train-logistic";
import trainTree from "./train-tree";

type Tuned = AnyDagwoodModel & { tuning: TuningRecord };
const modelOf = (v: PortValue | undefined) => (v?.type === "model" ? v.data : undefined) as Tuned;

describe("hyperparameter search on the train blocks", () => {
  let p: TestProject;
  let train: PortValue;
  beforeEach(async () => {
    p = await createTestProject();
    const all = await penguinsTable(p);
    train = (await p.run(split, { in: all }, { testFraction: 0.25, seed: 7 })).train!;
    p.metrics.length = 0;
    p.logs.length = 0;
  });
  afterEach(() => p.close());

  it("grid-searches gbdt maxDepth × learningRate with 3 folds and refits with the best", async () => {
    const search = { strategy: "grid", space: { maxDepth: [1, 3], learningRate: [0.05, 0.2] }, folds: 3 };
    const out = await p.run(trainGbdt, { train }, { target: "species", trees: 30, seed: 7, search });
    const model = modelOf(out.model);
    const { tuning } = model;
    expect(tuning).toMatchObject({ strategy: "grid", metric: "accuracy", folds: 3, seed: 7 });
    expect(tuning.trials.map((t) => t.params)).toEqual([
      { maxDepth: 1, learningRate: 0.05 },
      { maxDepth: 1, learningRate: 0.2 },
      { maxDepth: 3, learningRate: 0.05 },
      { maxDepth: 3, learningRate: 0.2 },
    ]);
    const bestMean = Math.max(...tuning.trials.map((t) => t.mean));
    const first = tuning.trials.find((t) => t.mean === bestMean)!;
    expect(tuning.best).toEqual({ params: first.params, mean: bestMean });
    expect(bestMean).toBeGreaterThan(0.9);
    for (const t of tuning.trials) expect(t.std).toBeGreaterThanOrEqual(0);
    expect(model.params).toMatchObject(tuning.best.params);

    // Each trial is recorded (a child run in the engine) with its cross-validated mean and spread.
    expect(p.trials).toEqual(
      tuning.trials.map((t, index) => ({
        index,
        params: t.params,
        metrics: { cv_accuracy: t.mean, cv_accuracy_std: t.std },
      })),
    );
    const cv = p.metrics.filter((m) => m.name === "cv_accuracy");
    expect(cv.map((m) => m.step)).toEqual([0, 1, 2, 3]);
    expect(cv.map((m) => m.value)).toEqual(tuning.trials.map((t) => t.mean));
    expect(p.logs.filter((l) => /^Trial \d\/4 /.test(l.message))).toHaveLength(4);
    // the refit is the normal path: losses per round, ONNX export with parity
    expect(p.metrics.filter((m) => m.name === "train_loss")).toHaveLength(30);
    expect(model.onnx?.parity.labelAgreement).toBe(1);
    expect(JSON.parse(JSON.stringify(model))).toEqual(model);
    console.log(
      `gbdt grid: ${tuning.trials.map((t) => `${JSON.stringify(t.params)} ${t.mean.toFixed(3)}±${t.std.toFixed(3)}`).join("; ")}`,
    );
  });

  it("random-searches train.logistic l2 on a log range with 5 trials", async () => {
    const search = {
      strategy: "random",
      space: { l2: { min: 0.01, max: 10, log: true } },
      maxTrials: 5,
      metric: "log_loss",
    };
    const out = await p.run(trainLogistic, { train }, { target: "species", search });
    const { tuning, params } = modelOf(out.model);
    expect(tuning.trials).toHaveLength(5);
    expect(tuning.folds).toBe(5);
    for (const t of tuning.trials) {
      expect(t.params.l2).toBeGreaterThanOrEqual(0.01);
      expect(t.params.l2).toBeLessThanOrEqual(10);
    }
    expect(tuning.best.mean).toBe(Math.min(...tuning.trials.map((t) => t.mean)));
    expect(params.l2).toBe(tuning.best.params.l2);
    expect(p.metrics.filter((m) => m.name === "cv_log_loss").map((m) => m.step)).toEqual([0, 1, 2, 3, 4]);
    // the same seed draws the same trials
    const again = modelOf((await p.run(trainLogistic, { train }, { target: "species", search })).model);
    expect(again.tuning).toEqual(tuning);
  });

  it("searches ridge by cross-validated rmse", async () => {
    const search = { strategy: "grid", space: { l2: [0.1, 100000] }, folds: 4 };
    const out = await p.run(trainLinear, { train }, { target: "body_mass_g", search });
    const { tuning, params } = modelOf(out.model);
    expect(tuning.metric).toBe("rmse");
    expect(tuning.best.params).toEqual({ l2: 0.1 });
    expect(params.l2).toBe(0.1);
    // The run records the refit's params, not the pipeline's default l2 = 1.
    expect(p.chosenParams).toEqual({ l2: 0.1 });
  });

  it("refuses a param outside the block's estimator, listing the tunable ones", async () => {
    const search = { strategy: "grid", space: { maxDepth: [2], target: ["sex"] } };
    await expect(p.run(trainTree, { train }, { target: "species", search })).rejects.toThrow(
      'search.space names "target", which this block cannot tune. Tunable params: maxDepth, minSamplesLeaf.',
    );
    const ridge = { strategy: "grid", space: { maxIter: [10] } };
    await expect(p.run(trainLinear, { train }, { target: "body_mass_g", search: ridge })).rejects.toThrow(
      /Tunable params: l2\./,
    );
  });

  it("refuses a sampled value the estimator rejects, and a grid over budget", async () => {
    const fractional = { strategy: "random", space: { maxDepth: { min: 1, max: 4 } }, maxTrials: 2 };
    await expect(p.run(trainTree, { train }, { target: "species", search: fractional })).rejects.toThrow(
      /maxDepth is invalid there.*int: true/,
    );
    const big = { strategy: "grid", space: { maxDepth: [1, 2, 3], minSamplesLeaf: [1, 2, 3] }, maxTrials: 4 };
    await expect(p.run(trainTree, { train }, { target: "species", search: big })).rejects.toThrow(
      /grid has 9 combinations/,
    );
  });

  it("keeps a one-row class in the training folds with a warning", async () => {
    // The raw sex column has one "." row: a class of one row under stratified CV.
    const search = { strategy: "grid", space: { maxDepth: [2, 4] }, folds: 3 };
    const out = await p.run(trainTree, { train }, { target: "sex", search });
    expect(modelOf(out.model).classes).toContain(".");
    expect(
      p.logs.some(
        (l) => l.level === "warn" && /Class "\." has 1 row\(s\), fewer than the 3 folds/.test(l.message),
      ),
    ).toBe(true);
    expect(modelOf(out.model).tuning.trials).toHaveLength(2);
  });
});

describe("searchHyperparameters", () => {
  // Row i holds id i, so a fold's tables show exactly which rows it was given.
  const n = 40;
  const rows: ColumnTable = {
    rows: n,
    columns: [
      { name: "id", type: "DOUBLE", kind: "numeric", values: Float64Array.from({ length: n }, (_, i) => i) },
    ],
  };
  const encoded = encodeTarget(
    { name: "y", type: "BIGINT", kind: "numeric", values: Float64Array.from({ length: n }, (_, i) => i % 2) },
    "classification",
  );
  const fakeContext = (signal = new AbortController().signal) =>
    ({
      log: () => {},
      metric: () => {},
      progress: () => {},
      trial: () => {},
      chosenParams: () => {},
      signal,
    }) as unknown as BlockContext;
  const ids = (t: ColumnTable) => Array.from((t.columns[0] as { values: Float64Array }).values);
  const tunable = z.object({ depth: z.number() });
  const params = {
    seed: 3,
    depth: 1,
    search: { strategy: "grid" as const, space: { depth: [1, 2] }, folds: 4 },
  };

  it("gives each fold's fit only its training rows, and scores it on the held-out rows", async () => {
    const seen: { train: number[]; test: number[] }[] = [];
    const { tuning } = await searchHyperparameters(
      fakeContext(),
      params,
      tunable,
      rows,
      encoded,
      async (_, train, test) => {
        seen.push({ train: ids(train.rows), test: ids(test) });
        expect(Array.from(train.y)).toEqual(ids(train.rows).map((i) => i % 2));
        // predicts every held-out row right
        return { probabilities: Float64Array.from(ids(test).flatMap((i) => (i % 2 ? [0, 1] : [1, 0]))) };
      },
    );
    expect(seen).toHaveLength(8);
    for (const { train, test } of seen) {
      expect(train.filter((i) => test.includes(i))).toEqual([]);
      expect(train.length + test.length).toBe(n);
    }
    expect(
      seen
        .slice(0, 4)
        .flatMap((f) => f.test)
        .sort((a, b) => a - b),
    ).toEqual([...Array(n).keys()]);
    expect(tuning.trials.map((t) => t.mean)).toEqual([1, 1]);
    expect(tuning.best.params).toEqual({ depth: 1 });
  });

  it("stops between folds when the run is cancelled", async () => {
    const controller = new AbortController();
    let fits = 0;
    const search = searchHyperparameters(
      fakeContext(controller.signal),
      params,
      tunable,
      rows,
      encoded,
      async () => {
        fits++;
        controller.abort();
        return { probabilities: new Float64Array(20).fill(0.5) };
      },
    );
    await expect(search).rejects.toThrow(/abort/i);
    expect(fits).toBe(1);
  });
});
