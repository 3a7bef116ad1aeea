/**
 * Scoring and explanations in worker threads give exactly (bit for bit) what
 * the same code gives in this thread, for every estimator, whichever way the
 * rows or columns are split over the workers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CategoricalColumn, ColumnTable, NumericColumn } from "../dataset";
import { evaluationFigures, type Scored } from "../evaluation";
import {
  partialDependence,
  partialDependenceInWorkers,
  permutationImportance,
  permutationImportanceInWorkers,
  type Truth,
} from "../explain";
import { fitLogistic, fitRidge } from "../linear";
import { MLP_FORMAT } from "../mlp";
import {
  type AnyDagwoodModel,
  encodeTarget,
  MODEL_FORMAT,
  type Predictions,
  predictTable,
  signatureFor,
} from "../model";
import { exportModel } from "../onnx/model";
import { checkModelParity } from "../onnx/parity";
import { fitPreprocessor, type PreprocessSpec, transformFeatures } from "../preprocess";
import { fitForest, fitGbdt, modelToJSON, type Task } from "../trees";
import { mulberry32 } from "../trees/binning";
import { closeWorkPool, runTask } from "./pool";
import { MIN_ROWS_PER_WORKER, predictInWorkers } from "./score";
import { PARITY_CHUNK_ROWS, SCORE_CHUNK_ROWS } from "./scoring-tasks";
import { shareTable } from "./shared";

afterAll(() => closeWorkPool());

const num = (name: string, values: Float64Array): NumericColumn => ({
  name,
  kind: "numeric",
  type: "DOUBLE",
  values,
});

/** Numbers with NaN and ±Infinity here and there, and text with NULLs and a category unseen in training. */
function table(n: number, seed: number, unseen = false): { features: ColumnTable; y: Float64Array } {
  const rand = mulberry32(seed);
  const x1 = Float64Array.from({ length: n }, () => rand() * 4 - 2);
  const x2 = Float64Array.from({ length: n }, () => (rand() < 0.05 ? Number.NaN : rand()));
  if (n > 10) {
    x2[3] = Number.POSITIVE_INFINITY;
    x2[7] = Number.NEGATIVE_INFINITY;
  }
  const dictionary = unseen ? ["a", "b", "c", "zz"] : ["a", "b", "c"];
  const codes = Int32Array.from({ length: n }, () =>
    rand() < 0.03 ? -1 : Math.floor(rand() * dictionary.length),
  );
  const c: CategoricalColumn = { name: "c", kind: "categorical", type: "VARCHAR", codes, dictionary };
  const y = Float64Array.from(
    { length: n },
    (_, i) =>
      x1[i]! * 2 + (Number.isFinite(x2[i]!) ? x2[i]! : 0) + (codes[i] === 1 ? 1 : 0) + 0.3 * (rand() - 0.5),
  );
  return { features: { rows: n, columns: [num("x1", x1), num("x2", x2), c] }, y };
}

function container(
  spec: PreprocessSpec,
  task: Task,
  classes: (string | number)[] | undefined,
  rows: number,
): Omit<AnyDagwoodModel, "estimator" | "ensemble"> {
  return {
    kind: MODEL_FORMAT,
    task,
    target: "y",
    targetType: "DOUBLE",
    ...(classes ? { classes } : {}),
    signature: signatureFor(spec, task, classes),
    preprocess: spec,
    trainedRows: rows,
    params: {},
  };
}

/** The class of each row: 3 classes by y's terciles, or 2 by its median. */
function classesOf(y: Float64Array, k: 2 | 3): Float64Array {
  const sorted = [...y].sort((a, b) => a - b);
  const cuts =
    k === 2
      ? [sorted[y.length >> 1]!]
      : [sorted[Math.floor(y.length / 3)]!, sorted[Math.floor((2 * y.length) / 3)]!];
  return Float64Array.from(y, (v) => cuts.filter((c) => v > c).length);
}

async function models(train: {
  features: ColumnTable;
  y: Float64Array;
}): Promise<Record<string, AnyDagwoodModel>> {
  const { features, y } = train;
  const treeSpec = fitPreprocessor(features);
  const treeData = transformFeatures(treeSpec, features);
  const three = encodeTarget(num("y", classesOf(y, 3)), "classification");
  const two = encodeTarget(num("y", classesOf(y, 2)), "classification");
  const gbdtMulti = await fitGbdt(
    { data: treeData, y: three.y, task: three.task, numClasses: 3 },
    { trees: 20, seed: 1 },
    { pool: "inline" },
  );
  const gbdtReg = await fitGbdt(
    { data: treeData, y, task: "regression" },
    { trees: 20, seed: 1 },
    { pool: "inline" },
  );
  const forest = await fitForest(
    { data: treeData, y: two.y, task: two.task, numClasses: 2 },
    { trees: 10, seed: 2 },
    { pool: "inline" },
  );
  const linSpec = fitPreprocessor(features, { encoding: "onehot", scale: "standard" });
  const linData = transformFeatures(linSpec, features);
  const logistic = await fitLogistic({ data: linData, y: two.y });
  const ridge = fitRidge({ data: linData, y });
  const F = linData.features.length;
  const rand = mulberry32(9);
  const w = (n: number) => Array.from({ length: n }, () => Math.fround(rand() - 0.5));
  const mlp = {
    format: MLP_FORMAT,
    task: "multiclass" as const,
    featureNames: linData.features.map((f) => f.name),
    activation: "tanh" as const,
    layers: [
      { inputs: F, units: 8, weights: w(F * 8), bias: w(8) },
      { inputs: 8, units: 3, weights: w(24), bias: w(3) },
    ],
    output: "softmax" as const,
    numClasses: 3,
    training: {} as never,
  };
  return {
    "gbdt multiclass": {
      ...container(treeSpec, three.task, three.classes, features.rows),
      estimator: "gbdt",
      ensemble: modelToJSON(gbdtMulti),
    },
    "gbdt regression": {
      ...container(treeSpec, "regression", undefined, features.rows),
      estimator: "gbdt",
      ensemble: modelToJSON(gbdtReg),
    },
    "forest binary": {
      ...container(treeSpec, two.task, two.classes, features.rows),
      estimator: "forest",
      ensemble: modelToJSON(forest),
    },
    "logistic binary": {
      ...container(linSpec, "binary", two.classes, features.rows),
      estimator: "logistic",
      linear: logistic,
    },
    "linear regression": {
      ...container(linSpec, "regression", undefined, features.rows),
      estimator: "linear",
      linear: ridge,
    },
    "mlp multiclass": {
      ...container(linSpec, "multiclass", three.classes, features.rows),
      estimator: "mlp",
      mlp,
    },
  } as Record<string, AnyDagwoodModel>;
}

/** The bytes of a float array: equal bytes is equal bit for bit (NaN payloads, -0 included). */
const bytes = (a: Float64Array | Int32Array | undefined) =>
  a ? Buffer.from(a.buffer, a.byteOffset, a.byteLength) : undefined;

function expectSame(a: Predictions, b: Predictions): void {
  expect(bytes(a.prediction)?.equals(bytes(b.prediction)!) ?? b.prediction === undefined).toBe(true);
  expect(bytes(a.probabilities)?.equals(bytes(b.probabilities)!) ?? b.probabilities === undefined).toBe(true);
  expect(bytes(a.classIndex)?.equals(bytes(b.classIndex)!) ?? b.classIndex === undefined).toBe(true);
  expect(a.label).toEqual(b.label);
}

const ESTIMATORS = [
  "gbdt multiclass",
  "gbdt regression",
  "forest binary",
  "logistic binary",
  "linear regression",
  "mlp multiclass",
] as const;

describe("scoring in workers", () => {
  let all: Record<string, AnyDagwoodModel>;
  beforeAll(async () => {
    all = await models(table(3000, 1));
  });
  // Several workers, each scoring more than one chunk; an odd count; a category the model never saw.
  const test = table(Math.max(2 * MIN_ROWS_PER_WORKER, 2 * SCORE_CHUNK_ROWS) + 1001, 2, true);

  for (const name of ESTIMATORS) {
    it(`${name}: predictInWorkers equals predictTable bit for bit`, async () => {
      const model = all[name]!;
      const here = predictTable(model, test.features);
      const progress: number[] = [];
      const there = await predictInWorkers(model, test.features, {
        onProgress: (done) => progress.push(done),
      });
      expectSame(there, here);
      expect(progress.at(-1)).toBe(test.features.rows);
      // And on few rows (one worker), and none.
      const few = {
        rows: 5,
        columns: test.features.columns.map((c) =>
          c.kind === "numeric"
            ? { ...c, values: c.values.slice(0, 5) }
            : { ...c, codes: c.codes.slice(0, 5) },
        ),
      };
      expectSame(await predictInWorkers(model, few), predictTable(model, few));
      const none = {
        rows: 0,
        columns: few.columns.map((c) =>
          c.kind === "numeric" ? { ...c, values: new Float64Array(0) } : { ...c, codes: new Int32Array(0) },
        ),
      };
      expectSame(await predictInWorkers(model, none), predictTable(model, none));
    });
  }

  it("checks ONNX parity in a worker chunk by chunk with the figures of one check over every row", async () => {
    expect(test.features.rows).toBeGreaterThan(3 * PARITY_CHUNK_ROWS);
    for (const name of ["logistic binary", "mlp multiclass", "gbdt regression"] as const) {
      const model = all[name]!;
      const onnx = exportModel(model);
      const whole = await checkModelParity(onnx, model, test.features);
      const chunked = await runTask("modelParity", { onnx, model, table: shareTable(test.features) });
      expect(chunked).toEqual({
        rows: whole.rows,
        maxAbsDiff: whole.maxAbsDiff,
        labelAgreement: whole.labelAgreement,
        tolerance: whole.tolerance,
        passed: whole.passed,
      });
      expect(chunked.passed).toBe(true);
    }
  });

  it("permutation importance and partial dependence in workers equal those in this thread", async () => {
    const sample = table(800, 3);
    for (const [name, model] of Object.entries(all)) {
      const truth: Truth =
        model.task === "regression"
          ? { task: "regression", y: sample.y }
          : {
              task: "classification",
              y: Int32Array.from(classesOf(sample.y, model.classes!.length as 2 | 3)),
            };
      const here = permutationImportance(model, sample.features, truth, { seed: 4, repeats: 3 });
      const messages: string[] = [];
      const there = await permutationImportanceInWorkers(model, sample.features, truth, {
        seed: 4,
        repeats: 3,
        onProgress: (_, m) => messages.push(m),
      });
      expect(there.metric, name).toEqual(here.metric);
      expect(
        there.permutation.map((f) => f.feature),
        name,
      ).toEqual(here.permutation.map((f) => f.feature));
      expect(
        bytes(Float64Array.from(there.permutation.flatMap((f) => [f.mean, f.std, ...f.repeats]))),
        name,
      ).toEqual(bytes(Float64Array.from(here.permutation.flatMap((f) => [f.mean, f.std, ...f.repeats]))));
      expect(messages).toHaveLength(3 * 3);
      expect(messages).toContain('Permuting "c"');
      const pdHere = partialDependence(model, sample.features, ["x1", "c"]);
      const pdThere = await partialDependenceInWorkers(model, sample.features, ["x1", "c"]);
      expect(JSON.stringify(pdThere), name).toBe(JSON.stringify(pdHere));
    }
  });

  it("leaves labels out when asked, and computes evaluation figures in a worker as in this thread", async () => {
    const model = all["gbdt multiclass"]!;
    const here = predictTable(model, test.features);
    const there = await predictInWorkers(model, test.features, { noLabels: true });
    expect(there.label).toBeUndefined();
    expect(bytes(there.classIndex)!.equals(bytes(here.classIndex)!)).toBe(true);
    const n = test.features.rows;
    const y = Int32Array.from(classesOf(test.y, 3));
    const scored: Scored = {
      task: "multiclass",
      k: 3,
      labels: 3,
      y,
      pred: there.classIndex!,
      probs: there.probabilities!,
      positive: 1,
    };
    const c = test.features.columns.find((x) => x.name === "c") as CategoricalColumn;
    const input = {
      scored,
      classes: model.classes!,
      calibrationBins: 10,
      // Dagwood's conventions keep the NULL group; 100 resamples also check the bootstrap in a worker.
      conventions: "dagwood" as const,
      group: {
        columns: [{ name: "c", codes: c.codes, dictionary: c.dictionary }],
        options: {
          conventions: "dagwood" as const,
          minGroupSize: 30,
          smallGroups: "exclude" as const,
          resamples: 100,
          seed: 1,
        },
      },
    };
    const exact = (v: unknown) =>
      JSON.stringify(v, (_k, x) => (typeof x === "number" && !Number.isFinite(x) ? String(x) : x));
    const figures = await runTask("evaluationFigures", input);
    expect(exact(figures)).toBe(exact(evaluationFigures(input)));
    expect(figures.groups?.rows.map((g) => g.group)).toEqual(["a", "b", "c", "zz", null]);
    expect(figures.groups?.rows.reduce((s, g) => s + g.n, 0)).toBe(n);
  });

  it("names a missing feature column, and stops when canceled", async () => {
    const model = all["gbdt multiclass"]!;
    const lacking = {
      rows: test.features.rows,
      columns: test.features.columns.filter((c) => c.name !== "x2"),
    };
    await expect(predictInWorkers(model, lacking)).rejects.toThrow(
      'The data lacks column(s) "x2", which the model was trained on',
    );
    const controller = new AbortController();
    const job = predictInWorkers(model, test.features, {
      signal: controller.signal,
      onProgress: () => controller.abort(),
    });
    await expect(job).rejects.toMatchObject({ name: "AbortError" });
    await expect(
      permutationImportanceInWorkers(
        model,
        test.features,
        { task: "classification", y: new Int32Array(test.features.rows) },
        { signal: AbortSignal.abort() },
      ),
    ).rejects.toMatchObject({ name: "AbortError" });
  });
});
