import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyPenguins, createTestProject, readTestColumns, type TestProject } from "../../engine/testing";
import { type ColumnTable, selectRows } from "../dataset";
import { fitLogistic, fitRidge } from "../linear";
import {
  encodeTarget,
  type LinearDagwoodModel,
  MODEL_FORMAT,
  predictTable,
  resolveTask,
  signatureFor,
} from "../model";
import { fitPreprocessor, type PreprocessOptions, transformFeatures } from "../preprocess";
import { decodeModel } from "./builder";
import { exportModel, exportModelWithInfo } from "./model";
import { checkModelParity, modelFeeds, parityRows } from "./parity";
import { DataType } from "./schema";

/** Penguins with ±Infinity in beak_length_mm, NaN in beak_depth_mm and a boolean `adelie`. */
const PENGUINS_SQL = (path: string) => `
  SELECT species, island,
         CASE WHEN n % 29 = 0 THEN 'inf'::DOUBLE WHEN n % 31 = 0 THEN '-inf'::DOUBLE
              ELSE beak_length_mm END AS beak_length_mm,
         CASE WHEN n % 37 = 0 THEN 'nan'::DOUBLE ELSE beak_depth_mm END AS beak_depth_mm,
         flipper_length_mm, body_mass_g::DOUBLE AS body_mass_g, sex,
         species = 'Adelie' AS adelie
  FROM (SELECT *, row_number() OVER () AS n FROM read_csv('${path}'))`;

/** Rows the training data lacks: an unseen island (and its twin with island NULL), NaN, ±Infinity, all NULL. */
const EXTRA_ROWS = `
  SELECT * FROM (VALUES
    ('Adelie', 'Atlantis', 40.0, 18.0, 190.0, 3700.0, 'MALE', true),
    ('Adelie', NULL, 40.0, 18.0, 190.0, 3700.0, 'MALE', true),
    ('Gentoo', 'Biscoe', 'nan'::DOUBLE, 'nan'::DOUBLE, 220.0, 5000.0, 'FEMALE', false),
    ('Gentoo', 'Atlantis', 'inf'::DOUBLE, '-inf'::DOUBLE, 'inf'::DOUBLE, '-inf'::DOUBLE, 'Unknown', false),
    (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
  )`;

const FEATURES = ["island", "beak_length_mm", "beak_depth_mm", "flipper_length_mm", "body_mass_g", "sex"];

/** The linear family's preprocessing (nodes/train-linear.ts). */
const LINEAR_PREPROCESSING: PreprocessOptions = {
  impute: "median",
  encoding: "onehot",
  scale: "standard",
  maxCategories: 64,
};

/** What train.linear / train.logistic do, without the block. */
async function trainLinear(
  table: ColumnTable,
  target: string,
  preprocess: PreprocessOptions = LINEAR_PREPROCESSING,
  l2 = 1,
): Promise<LinearDagwoodModel> {
  const targetColumn = table.columns.find((c) => c.name === target)!;
  const features = { rows: table.rows, columns: table.columns.filter((c) => c !== targetColumn) };
  const encoded = encodeTarget(targetColumn, resolveTask("auto", targetColumn));
  const rows = selectRows(features, encoded.rows);
  const spec = fitPreprocessor(rows, preprocess);
  const data = transformFeatures(spec, rows);
  const regression = encoded.task === "regression";
  const linear = regression
    ? fitRidge({ data, y: encoded.y }, { l2 })
    : await fitLogistic({ data, y: encoded.y }, { l2, numClasses: encoded.classes!.length });
  return {
    kind: MODEL_FORMAT,
    estimator: regression ? "linear" : "logistic",
    task: encoded.task,
    target,
    targetType: targetColumn.type,
    ...(encoded.classes ? { classes: encoded.classes } : {}),
    signature: signatureFor(spec, encoded.task, encoded.classes),
    preprocess: spec,
    linear,
    trainedRows: rows.rows,
    params: {},
  };
}

const TASKS = {
  regression: { target: "body_mass_g", features: FEATURES.filter((f) => f !== "body_mass_g") },
  binary: { target: "adelie", features: FEATURES },
  multiclass: { target: "species", features: FEATURES },
};

describe("exportModel for linear models: preprocessing + MatMul/Add (+ Sigmoid/Softmax) in float64", () => {
  let p: TestProject;
  beforeAll(async () => {
    p = await createTestProject();
    await p.table("penguins", PENGUINS_SQL(copyPenguins(p)));
    await p.table("scoring", `SELECT * FROM penguins UNION ALL ${EXTRA_ROWS}`);
  });
  afterAll(() => p.close());

  for (const [task, { target, features }] of Object.entries(TASKS)) {
    it(`${task}: parity ≤ 1e-5 with predictTable, 100 % labels, class names as labels`, async () => {
      const model = await trainLinear(await readTestColumns(p, "penguins", [...features, target]), target);
      expect(model.task).toBe(task);
      expect(model.preprocess.features.find((f) => f.name === "island")).toMatchObject({
        encoding: "onehot",
      });
      const scoring = await readTestColumns(p, "scoring", features);
      const bytes = exportModel(model);
      const parity = await checkModelParity(bytes, model, scoring);
      // The train blocks' rows: the table plus probes (all missing; ±Infinity with unseen categories).
      const probed = await checkModelParity(bytes, model, parityRows(model, scoring));
      console.log(
        `linear ${task}: ${parity.rows} rows, max |diff| ${parity.maxAbsDiff.toExponential(2)}, labels ${parity.labelAgreement}; with probes ${probed.maxAbsDiff.toExponential(2)}, ${probed.labelAgreement}`,
      );
      expect(parity.rows).toBe(scoring.rows);
      for (const result of [parity, probed]) {
        expect(result.passed).toBe(true);
        expect(result.labelAgreement).toBe(1);
      }

      const native = predictTable(model, scoring);
      const n = scoring.rows;
      if (task === "regression") {
        expect(parity.onnx.prediction!.every(Number.isFinite)).toBe(true);
        // An unseen island is all zeros in the one-hot block, as island NULL.
        expect(parity.onnx.prediction![n - 5]).toBe(parity.onnx.prediction![n - 4]);
        expect(Math.max(...parity.onnx.prediction!)).toBeGreaterThan(3000);
        return;
      }
      expect(parity.onnx.label).toEqual(native.label);
      for (const label of parity.onnx.label!) expect(model.classes).toContain(label);
      expect(new Set(parity.onnx.label)).toEqual(new Set(model.classes));
      const K = model.classes!.length;
      expect(Array.from(parity.onnx.probabilities!.subarray((n - 5) * K, (n - 4) * K))).toEqual(
        Array.from(parity.onnx.probabilities!.subarray((n - 4) * K, (n - 3) * K)),
      );
      for (let r = 0; r < n; r++) {
        let sum = 0;
        for (let k = 0; k < K; k++) sum += parity.onnx.probabilities![r * K + k]!;
        expect(sum).toBeCloseTo(1, 6);
      }
    });
  }

  it("declares exactly the signature and the linear metadata", async () => {
    const model = await trainLinear(
      await readTestColumns(p, "penguins", [...FEATURES, "species"]),
      "species",
    );
    const { bytes, opsets } = exportModelWithInfo(model);
    expect(opsets).toEqual({ "": 17, "ai.onnx.ml": 3 });
    const decoded = decodeModel(bytes);
    const typeOf = {
      FP64: DataType.DOUBLE,
      FP32: DataType.FLOAT,
      BYTES: DataType.STRING,
      INT64: DataType.INT64,
    };
    const described = (v: (typeof decoded.graph.input)[number]) => ({
      name: v.name,
      type: v.type.tensor_type.elem_type,
      shape: v.type.tensor_type.shape.dim.map((d) => ("dim_param" in d ? -1 : d.dim_value)),
    });
    expect(decoded.graph.input.map(described)).toEqual(
      model.signature.inputs.map((i) => ({ name: i.name, type: typeOf[i.dtype], shape: i.shape })),
    );
    expect(decoded.graph.output.map(described)).toEqual(
      model.signature.outputs.map((o) => ({ name: o.name, type: typeOf[o.dtype], shape: o.shape })),
    );
    const ops = decoded.graph.node.map((n) => n.op_type);
    expect(ops).toEqual(expect.arrayContaining(["MatMul", "Add", "Softmax", "ArgMax", "LabelEncoder"]));
    const meta = Object.fromEntries(decoded.metadata_props.map((m) => [m.key, m.value]));
    expect(meta).toMatchObject({
      "dagwood.estimator": "logistic",
      "dagwood.classes": '["Adelie","Chinstrap","Gentoo"]',
      "dagwood.encoded_features": JSON.stringify(model.linear.featureNames),
    });
  });

  it("one-hot with an 'other' bucket and mean imputation, numeric classes as INT64 labels", async () => {
    await p.table("numbered", "SELECT * EXCLUDE (adelie), adelie::INTEGER AS adelie FROM penguins");
    const model = await trainLinear(await readTestColumns(p, "numbered", [...FEATURES, "adelie"]), "adelie", {
      ...LINEAR_PREPROCESSING,
      impute: "mean",
      maxCategories: 2,
    });
    expect(model.classes).toEqual([0, 1]);
    expect(model.preprocess.features[0]).toMatchObject({ encoding: "onehot", otherCode: 2 });
    const scoring = await readTestColumns(p, "scoring", FEATURES);
    const session = await ort.InferenceSession.create(exportModel(model));
    const out = await session.run(modelFeeds(model, scoring));
    await session.release();
    expect(out.label!.type).toBe("int64");
    const parity = await checkModelParity(exportModel(model), model, parityRows(model, scoring));
    expect(parity.passed).toBe(true);
    expect(parity.labelAgreement).toBe(1);
    expect(new Set(parity.onnx.label)).toEqual(new Set([0, 1]));
  });

  it("binary labels follow p > 0.5 with a tie to the first class, as predictTable", async () => {
    const model = await trainLinear(await readTestColumns(p, "penguins", [...FEATURES, "adelie"]), "adelie");
    // Every coefficient 0 and intercept 0: p = 0.5 exactly on every row.
    const tied: LinearDagwoodModel = {
      ...model,
      linear: {
        ...model.linear,
        coefficients: model.linear.coefficients.map((r) => r.map(() => 0)),
        intercepts: [0],
      },
    };
    const scoring = await readTestColumns(p, "scoring", FEATURES);
    const parity = await checkModelParity(exportModel(tied), tied, scoring);
    expect(parity.labelAgreement).toBe(1);
    expect(new Set(parity.onnx.label)).toEqual(new Set([model.classes![0]]));
    expect(parity.maxAbsDiff).toBe(0);
  });

  it("refuses an inconsistent model", async () => {
    const model = await trainLinear(
      await readTestColumns(p, "penguins", [...FEATURES, "species"]),
      "species",
    );
    const wrong: LinearDagwoodModel = {
      ...model,
      linear: { ...model.linear, featureNames: model.linear.featureNames.slice(1) },
    };
    expect(() => exportModel(wrong)).toThrow(/its coefficients read/);
  });
});
