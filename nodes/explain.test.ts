import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PortValue, TableValue } from "../app/engine/ports";
import { createTestProject, penguinsTable, type TestProject } from "../app/engine/testing";
import type { ExplanationReport } from "../app/values/explanation";
import explain from "./explain";
import split from "./split";
import trainGbdt from "./train-gbdt";
import trainLinear from "./train-linear";
import trainLogistic from "./train-logistic";
import trainMlp from "./train-mlp";

const reportOf = (v: PortValue | undefined) =>
  (v?.type === "report" ? v.data : undefined) as ExplanationReport;
const features = (xs: { feature: string }[]) => xs.map((x) => x.feature);

/** y = 3·x1 + 0.7·x2 (+ a little noise); x3 and the category c are noise. Pseudo-random by hash, so stable. */
const synthetic = (n: number) => `
  WITH r AS (
    SELECT range AS i,
      (hash(range, 'x1') % 10000) / 10000.0 AS x1,
      (hash(range, 'x2') % 10000) / 10000.0 AS x2,
      (hash(range, 'x3') % 10000) / 10000.0 AS x3,
      ['a', 'b', 'c'][1 + (hash(range, 'c') % 3)::INT] AS c,
      ((hash(range, 'e') % 10000) / 10000.0 - 0.5) * 0.05 AS e
    FROM range(${n}))
  SELECT x1, x2, x3, c, 3 * x1 + 0.7 * x2 + e AS y FROM r`;

describe("explain on data whose answer is known", () => {
  let p: TestProject;
  let train: TableValue;
  let test: TableValue;
  beforeEach(async () => {
    p = await createTestProject();
    train = await p.table("train", synthetic(3000));
    test = await p.table("test", `${synthetic(4000)} OFFSET 3000`);
  });
  afterEach(() => p.close());

  it("ranks x1 > x2 > noise, x3 ≈ 0, and partial dependence rises with x1", async () => {
    const { model } = await p.run(trainGbdt, { train }, { target: "y", seed: 1, trees: 80 });
    p.metrics.length = 0;
    p.progress.length = 0;
    const report = reportOf((await p.run(explain, { model, data: test }, { seed: 4 })).report);
    console.log(
      `explain y (gbdt): R² ${report.metric.baseline?.toFixed(4)}; permutation ${report.permutation.map((f) => `${f.feature} ${f.mean?.toFixed(3)}±${f.std?.toFixed(3)}`).join(", ")}; split gain ${report.splitGain?.map((f) => `${f.feature} ${f.value?.toFixed(3)}`).join(", ")}`,
    );
    expect(report).toMatchObject({
      kind: "explanation",
      task: "regression",
      target: "y",
      rows: 1000,
      availableRows: 1000,
      metric: { name: "r2", importance: "drop" },
      modelImportance: "splitGain",
      model: { estimator: "gbdt", task: "regression" },
    });
    expect(report.coefficients).toBeUndefined();
    expect(features(report.permutation).slice(0, 2)).toEqual(["x1", "x2"]);
    const byName = Object.fromEntries(report.permutation.map((f) => [f.feature, f]));
    expect(byName.x1!.mean).toBeGreaterThan(10 * byName.x2!.mean!);
    expect(byName.x2!.mean).toBeGreaterThan(0.05);
    expect(Math.abs(byName.x3!.mean!)).toBeLessThan(0.01);
    expect(byName.x1!.repeats).toHaveLength(5);
    expect(features(report.splitGain!).slice(0, 2)).toEqual(["x1", "x2"]);

    // The top 3 by permutation, in that order.
    expect(features(report.partialDependence)).toEqual(features(report.permutation).slice(0, 3));
    const pd = report.partialDependence[0]!;
    expect(pd).toMatchObject({ feature: "x1", kind: "numeric" });
    expect(pd.grid).toHaveLength(20);
    const values = pd.values as number[];
    expect(values.at(-1)! - values[0]!).toBeGreaterThan(2.5);
    for (let i = 1; i < values.length; i++) expect(values[i]!).toBeGreaterThanOrEqual(values[i - 1]! - 0.05);

    expect(p.metrics.find((m) => m.name === "importance.x1")?.value).toBe(byName.x1!.mean);
    expect(p.metrics).toHaveLength(4);
    expect(p.progress.at(-1)?.fraction).toBe(1);
    expect(p.progress.some((x) => x.message === 'Permuting "x1"')).toBe(true);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it("reports standardized coefficients for a linear model, and is deterministic for a seed", async () => {
    const { model } = await p.run(trainLinear, { train }, { target: "y" });
    const run = async (params: object) =>
      reportOf((await p.run(explain, { model, data: test }, params)).report);
    const report = await run({ seed: 2, maxRows: 300, topK: 1 });
    expect(report).toMatchObject({ rows: 300, availableRows: 1000, modelImportance: "coefficients" });
    expect(report.splitGain).toBeUndefined();
    expect(features(report.coefficients!).slice(0, 2)).toEqual(["x1", "x2"]);
    expect(features(report.permutation).slice(0, 2)).toEqual(["x1", "x2"]);
    expect(report.partialDependence).toHaveLength(1);
    expect(p.logs).toContainEqual({
      level: "info",
      message: "Explaining a sample of 300 of 1000 rows (maxRows).",
    });

    expect(await run({ seed: 2, maxRows: 300, topK: 1 })).toEqual(report);
    const other = await run({ seed: 3, maxRows: 300, topK: 1 });
    expect(other.metric.baseline).not.toBe(report.metric.baseline);
  });

  it("stops when cancelled", async () => {
    const { model } = await p.run(trainGbdt, { train }, { target: "y", trees: 10 });
    const controller = new AbortController();
    controller.abort(new Error("cancelled by the user"));
    await expect(p.run(explain, { model, data: test }, {}, controller.signal)).rejects.toThrow(
      /cancelled by the user/,
    );
  });
});

describe("explain on penguins", () => {
  let p: TestProject;
  let train: PortValue;
  let test: PortValue;
  beforeEach(async () => {
    p = await createTestProject();
    const parts = await p.run(split, { in: await penguinsTable(p) }, { testFraction: 0.25, seed: 7 });
    train = parts.train!;
    test = parts.test!;
  });
  afterEach(() => p.close());

  for (const [name, block] of [
    ["gbdt", trainGbdt],
    ["logistic", trainLogistic],
  ] as const) {
    it(`explains a ${name} species model: importances, and per-class partial dependence`, async () => {
      const { model } = await p.run(block, { train }, { target: "species", seed: 7 });
      const report = reportOf((await p.run(explain, { model, data: test }, { seed: 1 })).report);
      console.log(
        `explain species (${name}): log loss ${report.metric.baseline?.toFixed(3)} on ${report.rows} rows; permutation ${report.permutation.map((f) => `${f.feature} ${f.mean?.toFixed(3)}±${f.std?.toFixed(3)}`).join(", ")}; ${report.modelImportance} ${(report.splitGain ?? report.coefficients)!.map((f) => `${f.feature} ${f.value?.toFixed(3)}`).join(", ")}`,
      );
      expect(report).toMatchObject({
        kind: "explanation",
        task: "multiclass",
        metric: { name: "log_loss", importance: "increase" },
        classes: ["Adelie", "Chinstrap", "Gentoo"],
        modelImportance: name === "gbdt" ? "splitGain" : "coefficients",
      });
      expect(report.metric.baseline).toBeLessThan(0.3);
      const all = ["island", "beak_length_mm", "beak_depth_mm", "flipper_length_mm", "body_mass_g", "sex"];
      expect(features(report.permutation).sort()).toEqual([...all].sort());
      // Beak length is what separates Chinstrap from Adelie; no model can do without it.
      expect(features(report.permutation).slice(0, 3)).toContain("beak_length_mm");
      expect(report.permutation[0]!.mean).toBeGreaterThan(0.1);
      for (let i = 1; i < report.permutation.length; i++) {
        expect(report.permutation[i]!.mean).toBeLessThanOrEqual(report.permutation[i - 1]!.mean!);
      }
      expect(features(report.splitGain ?? report.coefficients!).sort()).toEqual([...all].sort());

      expect(report.partialDependence).toHaveLength(3);
      for (const pd of report.partialDependence) {
        const values = pd.values as Record<string, number[]>;
        expect(Object.keys(values)).toEqual(["Adelie", "Chinstrap", "Gentoo"]);
        expect(pd.grid.length).toBeGreaterThan(1);
        expect(pd.grid.length).toBeLessThanOrEqual(20);
        pd.grid.forEach((_, i) => {
          const sum = values.Adelie![i]! + values.Chinstrap![i]! + values.Gentoo![i]!;
          expect(sum).toBeCloseTo(1, 9);
        });
        if (pd.kind === "categorical") expect(pd.grid.every((g) => typeof g === "string")).toBe(true);
      }
      const beak = report.partialDependence.find((pd) => pd.feature === "beak_length_mm");
      if (beak) {
        // Longer beaks: less Adelie.
        const adelie = (beak.values as Record<string, number[]>).Adelie!;
        expect(adelie.at(-1)!).toBeLessThan(adelie[0]! - 0.3);
      }
    });
  }
});

describe("explain on a neural network", () => {
  it("ranks by permutation alone, as a network has no importance of its own", async () => {
    const p = await createTestProject();
    try {
      const parts = await p.run(split, { in: await penguinsTable(p) }, { testFraction: 0.25, seed: 7 });
      const { model } = await p.run(
        trainMlp,
        { train: parts.train! },
        { target: "species", seed: 7, epochs: 30 },
      );
      const report = reportOf((await p.run(explain, { model, data: parts.test! }, { seed: 1 })).report);
      expect(report.modelImportance).toBe("none");
      expect(report.splitGain).toBeUndefined();
      expect(report.coefficients).toBeUndefined();
      expect(features(report.permutation).slice(0, 3)).toContain("beak_length_mm");
      expect(report.partialDependence).toHaveLength(3);
    } finally {
      await p.close();
    }
  });
});

describe("explain bad input", () => {
  let p: TestProject;
  let model: PortValue;
  let data: TableValue;
  beforeEach(async () => {
    p = await createTestProject();
    data = await p.table(
      "t",
      `SELECT range AS id, (range % 10)::DOUBLE AS x, CASE WHEN range % 3 = 0 THEN 'red' ELSE 'blue' END AS color,
              CASE WHEN range % 10 >= 5 THEN 'big' ELSE 'small' END AS size FROM range(200)`,
    );
    model = (await p.run(trainGbdt, { train: data }, { target: "size", features: ["x", "color"], trees: 5 }))
      .model!;
  });
  afterEach(() => p.close());

  it("names a missing feature column", async () => {
    const noColor = await p.table("n", `SELECT x, size FROM "${data.name}"`);
    await expect(p.run(explain, { model, data: noColor }, {})).rejects.toThrow(
      /The data lacks column\(s\) "color", which the model was trained on\. Its columns are: x, size\./,
    );
  });

  it("asks for the target, which permutation importance scores against", async () => {
    const unlabelled = await p.table("u", `SELECT x, color FROM "${data.name}"`);
    await expect(p.run(explain, { model, data: unlabelled }, {})).rejects.toThrow(
      /The data has no column "size", the model's target: permutation importance .* Its columns are: x, color\./,
    );
    const none = await p.table("none", `SELECT x, color, NULL::VARCHAR AS size FROM "${data.name}"`);
    await expect(p.run(explain, { model, data: none }, {})).rejects.toThrow(
      /No row of the data has a "size" value the model knows/,
    );
  });

  it("leaves out rows whose label is missing or unknown to the model", async () => {
    const odd = await p.table(
      "o",
      `SELECT x, color, CASE WHEN id < 10 THEN NULL WHEN id < 20 THEN 'huge' ELSE size END AS size FROM "${data.name}"`,
    );
    const report = reportOf((await p.run(explain, { model, data: odd }, {})).report);
    expect(report).toMatchObject({ rows: 180, availableRows: 180 });
    expect(p.logs).toContainEqual({
      level: "warn",
      message: '20 row(s) have no "size" value or one the model never saw and are left out.',
    });
  });

  it("refuses a model port carrying something else", async () => {
    // Not what a model port carries, as an old cache or a hand-made value might hold.
    const other = { type: "model", data: { kind: "sklearn" }, fingerprint: "x" } as unknown as PortValue;
    await expect(p.run(explain, { model: other, data }, {})).rejects.toThrow(/not a Dagwood .*model/);
    await expect(p.run(explain, { model: data, data }, {})).rejects.toThrow(
      /Input "model" must be a model, got table/,
    );
    await expect(p.run(explain, { data }, {})).rejects.toThrow(/Input "model" is not connected/);
    await expect(p.run(explain, { model }, {})).rejects.toThrow(/Input "data" is not connected/);
  });
});
