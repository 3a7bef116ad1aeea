import { describe, expect, it } from "vitest";
import type { CategoricalColumn, ColumnTable, NumericColumn } from "./dataset";
import {
  type DagwoodModel,
  encodeTarget,
  MODEL_FORMAT,
  predictTable,
  resolveTask,
  signatureFor,
} from "./model";
import { fitPreprocessor, transformFeatures } from "./preprocess";
import { fitTree, modelToJSON } from "./trees";

const num = (name: string, values: number[], type = "DOUBLE"): NumericColumn => ({
  name,
  kind: "numeric",
  type,
  values: Float64Array.from(values),
});
const text = (name: string, values: (string | null)[]): CategoricalColumn => {
  const dictionary = [...new Set(values.filter((v) => v !== null))] as string[];
  return {
    name,
    kind: "categorical",
    type: "VARCHAR",
    codes: Int32Array.from(values, (v) => (v === null ? -1 : dictionary.indexOf(v))),
    dictionary,
  };
};

describe("resolveTask", () => {
  it("auto: classification for text and for few distinct integers, regression otherwise", () => {
    expect(resolveTask("auto", text("y", ["a", "b"]))).toBe("classification");
    expect(resolveTask("auto", num("y", [0, 1, 2, 1, Number.NaN], "BIGINT"))).toBe("classification");
    expect(resolveTask("auto", num("y", [0, 1.5]))).toBe("regression");
    expect(
      resolveTask(
        "auto",
        num(
          "y",
          Array.from({ length: 21 }, (_, i) => i),
          "BIGINT",
        ),
      ),
    ).toBe("regression");
    expect(resolveTask("auto", num("y", [0, 86_400_000], "DATE"))).toBe("classification");
    expect(resolveTask("classification", num("y", [0.5, 1.5]))).toBe("classification");
  });

  it("refuses regression on a non-numeric target", () => {
    expect(() => resolveTask("regression", text("species", ["a"]))).toThrow(
      /Regression needs a numeric target, but "species" is VARCHAR/,
    );
  });
});

describe("encodeTarget", () => {
  it("sorts classes and leaves rows without a target out", () => {
    const e = encodeTarget(text("y", ["b", null, "a", "b"]), "classification");
    expect(e).toMatchObject({ task: "binary", classes: ["a", "b"] });
    expect(Array.from(e.rows)).toEqual([0, 2, 3]);
    expect(Array.from(e.y)).toEqual([1, 0, 1]);
    const n = encodeTarget(num("y", [3, 1, Number.NaN, 2]), "classification");
    expect(n).toMatchObject({ task: "multiclass", classes: [1, 2, 3] });
    expect(Array.from(n.y)).toEqual([2, 0, 1]);
    const r = encodeTarget(num("y", [3.5, Number.POSITIVE_INFINITY, 1]), "regression");
    expect(r.task).toBe("regression");
    expect(Array.from(r.y)).toEqual([3.5, 1]);
  });
});

describe("predictTable", () => {
  const train: ColumnTable = {
    rows: 8,
    columns: [num("x", [1, 2, 3, 4, 5, 6, 7, 8]), text("c", ["a", "a", "a", "a", "b", "b", "b", "b"])],
  };
  const target = text("y", ["lo", "lo", "lo", "lo", "hi", "hi", "hi", "hi"]);

  async function model(): Promise<DagwoodModel> {
    const spec = fitPreprocessor(train);
    const y = encodeTarget(target, "classification");
    const ensemble = await fitTree(
      { data: transformFeatures(spec, train), y: y.y, task: y.task },
      {},
      { pool: "inline" },
    );
    return {
      kind: MODEL_FORMAT,
      estimator: "tree",
      task: y.task,
      target: "y",
      targetType: "VARCHAR",
      classes: y.classes!,
      signature: signatureFor(spec, y.task, y.classes),
      preprocess: spec,
      ensemble: modelToJSON(ensemble),
      trainedRows: 8,
      params: {},
    };
  }

  it("applies the preprocessing and gives labels, class indexes and probabilities", async () => {
    const m = await model();
    expect(m.signature).toEqual({
      inputs: [
        { name: "x", dtype: "FP64", shape: [-1, 1], sourceType: "DOUBLE", use: "number" },
        {
          name: "c",
          dtype: "BYTES",
          shape: [-1, 1],
          sourceType: "VARCHAR",
          use: "category, ordinal code (2 kept)",
        },
      ],
      outputs: [
        { name: "label", dtype: "BYTES", shape: [-1] },
        { name: "probabilities", dtype: "FP64", shape: [-1, 2] },
      ],
    });
    const out = predictTable(m, { rows: 2, columns: [text("c", ["b", "unseen"]), num("x", [7, 2])] });
    expect(out.label).toEqual(["hi", "lo"]);
    expect(Array.from(out.classIndex!)).toEqual([0, 1]);
    expect(Array.from(out.probabilities!)).toEqual([1, 0, 0, 1]);
  });

  it("names the feature columns the table lacks", async () => {
    const m = await model();
    expect(() => predictTable(m, { rows: 1, columns: [num("z", [1])] })).toThrow(
      'The data lacks column(s) "x", "c", which the model was trained on',
    );
  });
});
