import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyPenguins, createTestProject, readTestColumns, type TestProject } from "../../engine/testing";
import { type ColumnTable, selectRows } from "../dataset";
import {
  type DagwoodModel,
  type Estimator,
  encodeTarget,
  MODEL_FORMAT,
  predictTable,
  resolveTask,
  signatureFor,
} from "../model";
import { fitPreprocessor, type PreprocessOptions, transformFeatures } from "../preprocess";
import { fitForest, fitGbdt, fitTree, modelToJSON } from "../trees";
import { decodeModel } from "./builder";
import { exportModel, exportModelWithInfo } from "./model";
import { checkModelParity, modelFeeds, parityRows } from "./parity";
import { DataType } from "./schema";

/**
 * Penguins with ±Infinity in beak_length_mm and a boolean `adelie`, read
 * from a copy inside the project (the sandbox allows only its folder).
 */
const PENGUINS_SQL = (path: string) => `
  SELECT species, island,
         CASE WHEN n % 29 = 0 THEN 'inf'::DOUBLE WHEN n % 31 = 0 THEN '-inf'::DOUBLE
              ELSE beak_length_mm END AS beak_length_mm,
         beak_depth_mm, flipper_length_mm, body_mass_g::DOUBLE AS body_mass_g, sex,
         species = 'Adelie' AS adelie
  FROM (SELECT *, row_number() OVER () AS n FROM read_csv('${path}'))`;

/** Rows the training data lacks: an unseen island (and its twin with island NULL), all NULL, ±Infinity. */
const EXTRA_ROWS = `
  SELECT * FROM (VALUES
    ('Adelie', 'Atlantis', 40.0, 18.0, 190.0, 3700.0, 'MALE', true),
    ('Adelie', NULL, 40.0, 18.0, 190.0, 3700.0, 'MALE', true),
    ('Gentoo', 'Atlantis', 'inf'::DOUBLE, '-inf'::DOUBLE, 'inf'::DOUBLE, '-inf'::DOUBLE, 'Unknown', false),
    (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
  )`;

const FEATURES = ["island", "beak_length_mm", "beak_depth_mm", "flipper_length_mm", "body_mass_g", "sex"];

/** What a train block does, without the block: preprocessing + trees, packed as a model. */
async function trainModel(
  estimator: Estimator,
  table: ColumnTable,
  target: string,
  preprocess: PreprocessOptions = {},
): Promise<DagwoodModel> {
  const targetColumn = table.columns.find((c) => c.name === target)!;
  const features = { rows: table.rows, columns: table.columns.filter((c) => c !== targetColumn) };
  const encoded = encodeTarget(targetColumn, resolveTask("auto", targetColumn));
  const rows = selectRows(features, encoded.rows);
  const spec = fitPreprocessor(rows, preprocess);
  const train = {
    data: transformFeatures(spec, rows),
    y: encoded.y,
    task: encoded.task,
    numClasses: encoded.classes?.length,
  };
  const fitOptions = { pool: "inline" as const };
  const ensemble =
    estimator === "gbdt"
      ? await fitGbdt(train, { trees: 40, minSamplesLeaf: 5, seed: 1 }, fitOptions)
      : estimator === "forest"
        ? await fitForest(train, { trees: 20, seed: 1 }, fitOptions)
        : await fitTree(train, { seed: 1 }, fitOptions);
  return {
    kind: MODEL_FORMAT,
    estimator,
    task: encoded.task,
    target,
    targetType: targetColumn.type,
    ...(encoded.classes ? { classes: encoded.classes } : {}),
    signature: signatureFor(spec, encoded.task, encoded.classes),
    preprocess: spec,
    ensemble: modelToJSON(ensemble),
    trainedRows: rows.rows,
    params: {},
  };
}

const TASKS = {
  regression: { target: "body_mass_g", features: FEATURES.filter((f) => f !== "body_mass_g") },
  binary: { target: "adelie", features: FEATURES },
  multiclass: { target: "species", features: FEATURES },
};

describe("exportModel: the whole model as one ONNX graph on raw columns", () => {
  let p: TestProject;
  beforeAll(async () => {
    p = await createTestProject();
    await p.table("penguins", PENGUINS_SQL(copyPenguins(p)));
    await p.table("scoring", `SELECT * FROM penguins UNION ALL ${EXTRA_ROWS}`);
  });
  afterAll(() => p.close());

  for (const estimator of ["gbdt", "forest", "tree"] as const) {
    for (const [task, { target, features }] of Object.entries(TASKS)) {
      it(`${estimator} ${task}: parity with predictTable, class names as labels`, async () => {
        const model = await trainModel(
          estimator,
          await readTestColumns(p, "penguins", [...features, target]),
          target,
        );
        expect(model.task).toBe(task);
        const scoring = await readTestColumns(p, "scoring", features);
        const bytes = exportModel(model);
        const parity = await checkModelParity(bytes, model, scoring);
        console.log(
          `${estimator} ${task}: ${parity.rows} rows, max |diff| ${parity.maxAbsDiff.toExponential(2)}, labels ${parity.labelAgreement}`,
        );
        expect(parity.rows).toBe(scoring.rows);
        expect(parity.passed).toBe(true);
        expect(parity.labelAgreement).toBe(1);

        const native = predictTable(model, scoring);
        const n = scoring.rows;
        if (task === "regression") {
          // The unseen island is missing (not capped): the same prediction as island NULL.
          expect(parity.onnx.prediction![n - 4]).toBe(parity.onnx.prediction![n - 3]);
          expect(parity.onnx.prediction!.every(Number.isFinite)).toBe(true);
          return;
        }
        expect(parity.onnx.label).toEqual(native.label);
        expect(new Set(parity.onnx.label)).toEqual(new Set(native.label));
        for (const label of parity.onnx.label!) expect(model.classes).toContain(label);
        if (task === "multiclass") expect(new Set(parity.onnx.label)).toContain("Gentoo");
        expect(Array.from(parity.onnx.probabilities!.subarray((n - 4) * 3, (n - 3) * 3))).toEqual(
          Array.from(parity.onnx.probabilities!.subarray((n - 3) * 3, (n - 2) * 3)),
        );
      });
    }
  }

  it("declares exactly the signature: raw inputs [N,1], outputs with their types, metadata", async () => {
    const model = await trainModel(
      "gbdt",
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
    expect(model.signature.outputs[0]).toEqual({ name: "label", dtype: "BYTES", shape: [-1] });
    const meta = Object.fromEntries(decoded.metadata_props.map((m) => [m.key, m.value]));
    expect(meta).toMatchObject({
      "dagwood.target": "species",
      "dagwood.classes": '["Adelie","Chinstrap","Gentoo"]',
      "dagwood.features": JSON.stringify(FEATURES),
      "dagwood.version": expect.stringMatching(/^\d+\.\d+\.\d+/),
    });
    expect(JSON.parse(meta["dagwood.signature"]!)).toEqual(model.signature);
  });

  it("one-hot encoding with an 'other' bucket, mean imputation and standard scaling", async () => {
    const table = await readTestColumns(p, "penguins", [...FEATURES, "species"]);
    const model = await trainModel("gbdt", table, "species", {
      encoding: "onehot",
      maxCategories: 2,
      impute: "mean",
      scale: "standard",
    });
    const island = model.preprocess.features[0]!;
    expect(island).toMatchObject({ kind: "categorical", encoding: "onehot", otherCode: 2, unknownCode: 2 });
    const scoring = await readTestColumns(p, "scoring", FEATURES);
    const parity = await checkModelParity(exportModel(model), model, scoring);
    expect(parity.passed).toBe(true);
    expect(parity.labelAgreement).toBe(1);
  });

  it("numeric classes label as INT64 numbers", async () => {
    await p.table("numbered", "SELECT * EXCLUDE (adelie), adelie::INTEGER AS adelie FROM penguins");
    const model = await trainModel(
      "forest",
      await readTestColumns(p, "numbered", [...FEATURES, "adelie"]),
      "adelie",
    );
    expect(model.classes).toEqual([0, 1]);
    expect(model.signature.outputs[0]).toEqual({ name: "label", dtype: "INT64", shape: [-1] });
    const session = await ort.InferenceSession.create(exportModel(model));
    const scoring = await readTestColumns(p, "scoring", FEATURES);
    const out = await session.run(modelFeeds(model, scoring));
    await session.release();
    expect(out.label!.type).toBe("int64");
    const parity = await checkModelParity(exportModel(model), model, scoring);
    expect(parity.labelAgreement).toBe(1);
    expect(new Set(parity.onnx.label)).toEqual(new Set([0, 1]));
  });

  it("parityRows adds probe rows: all missing, +Infinity / −Infinity with unseen categories", async () => {
    const table = await readTestColumns(p, "penguins", [...FEATURES, "species"]);
    const model = await trainModel("tree", table, "species");
    const rows = parityRows(model, table, 100);
    expect(rows.rows).toBe(103);
    const beak = rows.columns[1]!;
    const missing = beak.kind === "numeric" ? beak.values.filter((x) => !Number.isFinite(x)).length : 0;
    expect(missing).toBeGreaterThanOrEqual(5);
    const island = rows.columns[0]!;
    expect(island.kind === "categorical" && island.dictionary.at(-1)).toBe("<unseen>");
    const parity = await checkModelParity(exportModel(model), model, rows);
    expect(parity.labelAgreement).toBe(1);
  });

  it("refuses targets it cannot serve, and feature names that clash with outputs", async () => {
    const model = await trainModel(
      "tree",
      await readTestColumns(p, "penguins", [...FEATURES, "species"]),
      "species",
    );
    expect(() => exportModel(model, { target: { opsets: { "": 9 } } })).toThrow(/opset 11 or later/);
    const renamed: DagwoodModel = {
      ...model,
      preprocess: {
        ...model.preprocess,
        features: model.preprocess.features.map((f) => (f.name === "sex" ? { ...f, name: "label" } : f)),
      },
    };
    renamed.signature = signatureFor(renamed.preprocess, model.task, model.classes);
    renamed.ensemble = {
      ...model.ensemble,
      featureNames: model.ensemble.featureNames.map((n) => (n === "sex" ? "label" : n)),
    };
    expect(() => exportModel(renamed)).toThrow(/Feature column "label" has the name of an output/);
  });
});
