import { describe, expect, it } from "vitest";
import type { CategoricalColumn, ColumnTable, NumericColumn } from "./dataset";
import { fitPreprocessor, transformFeatures } from "./preprocess";

const num = (name: string, values: number[]): NumericColumn => ({
  name,
  kind: "numeric",
  type: "DOUBLE",
  values: Float64Array.from(values),
});
/** A categorical column from strings (null = NULL), dictionary in first-seen order. */
function cat(name: string, values: (string | null)[]): CategoricalColumn {
  const dictionary: string[] = [];
  const codes = Int32Array.from(values, (v) => {
    if (v === null) return -1;
    if (!dictionary.includes(v)) dictionary.push(v);
    return dictionary.indexOf(v);
  });
  return { name, kind: "categorical", type: "VARCHAR", codes, dictionary };
}
const table = (...columns: (NumericColumn | CategoricalColumn)[]): ColumnTable => ({
  rows: columns[0]!.kind === "numeric" ? columns[0]!.values.length : columns[0]!.codes.length,
  columns,
});
const values = (t: ReturnType<typeof transformFeatures>, k: number) => Array.from(t.features[k]!.values);

describe("fitPreprocessor / transformFeatures", () => {
  it("imputes numeric missing values (NULL, NaN, ±Infinity) with the training median by default", () => {
    const train = table(num("x", [1, 2, Number.NaN, 10, Number.POSITIVE_INFINITY, 3]));
    const logs: string[] = [];
    const spec = fitPreprocessor(train, { log: (m) => logs.push(m) });
    expect(spec.features).toEqual([
      {
        name: "x",
        kind: "numeric",
        sourceType: "DOUBLE",
        impute: { strategy: "median", value: 2.5 },
        scale: null,
      },
    ]);
    expect(logs).toEqual([
      'Column "x": 2 missing value(s) (1 of them ±Infinity) in the training rows, filled with the median 2.5.',
    ]);
    const out = transformFeatures(spec, table(num("x", [Number.NEGATIVE_INFINITY, 7, Number.NaN])));
    expect(out.features[0]!.kind).toBe("numeric");
    expect(values(out, 0)).toEqual([2.5, 7, 2.5]);
  });

  it("imputes with the mean, a constant or not at all, and scales when asked", () => {
    const train = table(num("x", [0, 2, 4, Number.NaN]));
    const test = table(num("x", [Number.NaN, 4]));
    expect(values(transformFeatures(fitPreprocessor(train, { impute: "mean" }), test), 0)).toEqual([2, 4]);
    expect(
      values(transformFeatures(fitPreprocessor(train, { impute: "constant", imputeValue: -1 }), test), 0),
    ).toEqual([-1, 4]);
    expect(values(transformFeatures(fitPreprocessor(train, { impute: "none" }), test), 0)).toEqual([
      Number.NaN,
      4,
    ]);
    const standard = fitPreprocessor(train, { scale: "standard" });
    expect(standard.features[0]).toMatchObject({
      scale: { kind: "standard", offset: 2, scale: Math.fround(1 / Math.sqrt(8 / 3)) },
    });
    const minmax = fitPreprocessor(train, { scale: "minmax" });
    expect(values(transformFeatures(minmax, test), 0)).toEqual([0.5, 1]);
  });

  it("imputes with the mode: the most frequent training value, ties to the smallest", () => {
    const train = table(num("x", [5, 2, 5, 2, 9, Number.NaN]));
    const spec = fitPreprocessor(train, { impute: "mode" });
    expect(spec.features[0]).toMatchObject({ impute: { strategy: "mode", value: 2 } });
    const test = table(num("x", [Number.NaN, 7]));
    expect(values(transformFeatures(spec, test), 0)).toEqual([2, 7]);
    const clear = fitPreprocessor(table(num("x", [1, 3, 3, 1, 3])), { impute: "mode" });
    expect(clear.features[0]).toMatchObject({ impute: { value: 3 } });
  });

  it("numbers categories by frequency, ties by value; NULL and unseen categories are missing", () => {
    const train = table(cat("c", ["b", "a", "c", "a", null, "b", "z"]));
    const spec = fitPreprocessor(train);
    expect(spec.features).toEqual([
      {
        name: "c",
        kind: "categorical",
        sourceType: "VARCHAR",
        encoding: "ordinal",
        categories: ["a", "b", "c", "z"],
        otherCode: null,
        unknownCode: null,
      },
    ]);
    const out = transformFeatures(spec, table(cat("c", ["z", "new", null, "a"])));
    expect(out.features[0]!.kind).toBe("categorical");
    expect(values(out, 0)).toEqual([3, Number.NaN, Number.NaN, 0]);
  });

  it("caps categories at maxCategories: the rest, and unseen ones, share the 'other' code", () => {
    const train = table(cat("c", ["a", "a", "a", "b", "b", "c", "d"]));
    const logs: { m: string; level?: string }[] = [];
    const spec = fitPreprocessor(train, { maxCategories: 2, log: (m, level) => logs.push({ m, level }) });
    expect(spec.features[0]).toMatchObject({ categories: ["a", "b"], otherCode: 2, unknownCode: 2 });
    expect(logs).toEqual([
      {
        m: 'Column "c" has 4 categories, more than maxCategories (2): the 2 least frequent (2 rows) share one "other" code. Raise maxCategories to keep more.',
        level: "warn",
      },
    ]);
    expect(values(transformFeatures(spec, table(cat("c", ["d", "new", "b", null]))), 0)).toEqual([
      2,
      2,
      1,
      Number.NaN,
    ]);
  });

  it("one-hot encodes with an 'other' column when capped; NULL is all zeros", () => {
    const spec = fitPreprocessor(table(cat("c", ["a", "a", "b", "c"])), {
      encoding: "onehot",
      maxCategories: 2,
    });
    const out = transformFeatures(spec, table(cat("c", ["a", "c", null, "new"])));
    expect(out.features.map((f) => [f.name, f.kind])).toEqual([
      ["c=a", "numeric"],
      ["c=b", "numeric"],
      ["c=<other>", "numeric"],
    ]);
    expect([0, 1, 2].map((k) => values(out, k))).toEqual([
      [1, 0, 0, 0],
      [0, 0, 0, 0],
      [0, 1, 0, 1],
    ]);
  });

  it("drops columns with no values, saying why, and keeps the spec plain JSON", () => {
    const spec = fitPreprocessor(
      table(num("x", [Number.NaN, Number.NaN]), cat("c", [null, null]), num("y", [1, 2])),
    );
    expect(spec.features.map((f) => f.name)).toEqual(["y"]);
    expect(spec.dropped).toEqual([
      { name: "x", reason: "it has no values in the training rows (all NULL, NaN or ±Infinity)" },
      { name: "c", reason: "it has no values in the training rows (all NULL)" },
    ]);
    expect(JSON.parse(JSON.stringify(spec))).toEqual(spec);
  });

  it("drops a column whose imputed value or scaling is beyond float32, where the model's constants live", () => {
    // Math.fround(3e39) is Infinity: float32's largest finite value is about 3.4028e38 (IEEE 754 binary32).
    const big = num("big", [1e39, 2e39, 3e39, Number.NaN]);
    const tiny = num("tiny", [0, 1e-40, 2e-40]); // std ≈ 8e-41, so 1 / std ≈ 1.2e40
    const ok = num("ok", [1, 2, 3, 4]);
    for (const options of [
      {},
      { scale: "standard" as const },
      { scale: "minmax" as const, impute: "none" as const },
    ]) {
      const spec = fitPreprocessor(table(big, ok), options);
      expect(spec.features.map((f) => f.name)).toEqual(["ok"]);
      expect(spec.dropped[0]!.name).toBe("big");
      expect(spec.dropped[0]!.reason).toMatch(/beyond float32's range .* rescale it/);
      // Every constant of the kept spec survives JSON (Infinity would be written as null).
      expect(JSON.parse(JSON.stringify(spec))).toEqual(spec);
    }
    const scaled = fitPreprocessor(table(tiny, ok), { scale: "standard" });
    expect(scaled.dropped.map((d) => d.name)).toEqual(["tiny"]);
    // Without scaling the tiny values are kept: nothing overflows.
    expect(fitPreprocessor(table(tiny, ok)).features.map((f) => f.name)).toEqual(["tiny", "ok"]);
  });

  it("names missing columns and refuses a column read as another kind", () => {
    const spec = fitPreprocessor(table(num("x", [1]), cat("c", ["a"])));
    expect(() => transformFeatures(spec, table(num("y", [1])))).toThrow(
      'The data has no column "x", "c", which the model was trained on',
    );
    expect(() => transformFeatures(spec, table(num("x", [1]), num("c", [1])))).toThrow(
      'Column "c" was categorical in training but is read as numeric',
    );
  });

  it("checks its options", () => {
    expect(() => fitPreprocessor(table(num("x", [1])), { maxCategories: 255 })).toThrow(/maxCategories/);
  });
});
