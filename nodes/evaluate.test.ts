import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PortValue, TableValue } from "../app/engine/ports";
import { createTestProject, penguinsTable, type TestProject } from "../app/engine/testing";
import type { EvaluationReport } from "../app/values/evaluation";
import evaluate from "./evaluate";
import predict from "./predict";
import split from "./split";
import trainGbdt from "./train-gbdt";
import trainTree from "./train-tree";

const reportOf = (v: PortValue | undefined) =>
  (v?.type === "report" ? v.data : undefined) as EvaluationReport;
const nameOf = (v: PortValue | undefined) => (v?.type === "table" ? v.name : "");

describe("evaluate on penguins", () => {
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

  it("reports multiclass species metrics, curves per class and a confusion matrix", async () => {
    const { model } = await p.run(trainGbdt, { train }, { target: "species", seed: 7 });
    const rows = await p.rows((await p.run(predict, { model, data: test }, {})).out);
    p.metrics.length = 0;
    const report = reportOf((await p.run(evaluate, { model, data: test }, {})).report);

    expect(report).toMatchObject({
      kind: "evaluation",
      task: "multiclass",
      rows: rows.length,
      skippedRows: 0,
      target: "species",
      classes: ["Adelie", "Chinstrap", "Gentoo"],
      model: { estimator: "gbdt", task: "multiclass" },
    });
    const m = report.metrics;
    console.log(
      `evaluate species: accuracy ${m.accuracy?.toFixed(3)}, f1_macro ${m.f1_macro?.toFixed(3)}, roc_auc ${m.roc_auc?.toFixed(4)}, log_loss ${m.log_loss?.toFixed(3)} on ${report.rows} rows`,
    );
    expect(m.accuracy).toBeGreaterThanOrEqual(0.95);
    // The ONNX file written at training is checked again on the rows evaluated.
    expect(report.model.onnxParity).toMatchObject({ on: "evaluation", rows: rows.length, labelAgreement: 1 });
    expect((report.model.onnxParity as { maxAbsDiff: number }).maxAbsDiff).toBeLessThanOrEqual(1e-5);
    // The same labels as predict's.
    expect(m.accuracy).toBeCloseTo(rows.filter((r) => r.label === r.species).length / rows.length, 12);
    expect(m.roc_auc).toBeGreaterThan(0.98);
    expect(m.log_loss).toBeGreaterThan(0);
    for (const key of ["f1_macro", "f1_weighted", "precision_macro", "recall_macro", "brier", "ece"]) {
      expect(m[key]).toBeTypeOf("number");
    }

    const { confusion, perClass, roc, pr, calibration } = report;
    expect(confusion?.labels).toEqual(["Adelie", "Chinstrap", "Gentoo"]);
    expect(confusion?.matrix.flat().reduce((s, x) => s + x, 0)).toBe(rows.length);
    expect(perClass?.map((c) => c.support)).toEqual(
      confusion?.matrix.map((r) => r.reduce((s, x) => s + x, 0)),
    );
    expect(roc && "perClass" in roc && roc.perClass.map((c) => c.label)).toEqual([
      "Adelie",
      "Chinstrap",
      "Gentoo",
    ]);
    if (roc && "perClass" in roc) {
      for (const c of roc.perClass) {
        expect(c.fpr[0]).toBe(0);
        expect(c.fpr.at(-1)).toBe(1);
        expect(c.thresholds[0]).toBeNull(); // +Infinity in JSON
      }
    }
    expect(pr && "perClass" in pr && pr.perClass).toHaveLength(3);
    expect(calibration?.of).toBe("confidence");
    expect(calibration?.bins.reduce((s, b) => s + b.count, 0)).toBe(rows.length);

    // Every scalar metric is emitted for run comparison.
    expect(p.metrics.find((x) => x.name === "accuracy")?.value).toBe(m.accuracy);
    expect(p.metrics.map((x) => x.name).sort()).toEqual(
      [...Object.keys(m), "onnx_label_agreement", "onnx_max_abs_diff"].sort(),
    );
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it("reports binary sex metrics per island with the fairness gaps", async () => {
    const known = (t: PortValue, name: string) =>
      p.table(name, `SELECT * FROM "${nameOf(t)}" WHERE sex IN ('MALE', 'FEMALE')`);
    const { model } = await p.run(
      trainGbdt,
      { train: await known(train, "train_sexed") },
      { target: "sex", seed: 1 },
    );
    const data = await known(test, "test_sexed");
    p.metrics.length = 0;
    // Every island counts (Torgersen has 9 test rows, below the default minGroupSize).
    const report = reportOf(
      (await p.run(evaluate, { model, data }, { groupBy: "island", minGroupSize: 5 })).report,
    );

    expect(report).toMatchObject({ task: "binary", positiveClass: "MALE", threshold: 0.5, rows: data.rows });
    const m = report.metrics;
    console.log(
      `evaluate sex: accuracy ${m.accuracy?.toFixed(3)}, roc_auc ${m.roc_auc?.toFixed(3)}, AP ${m.average_precision?.toFixed(3)}; by island: DP diff ${m.demographic_parity_difference?.toFixed(3)}, EO diff ${m.equal_opportunity_difference?.toFixed(3)} (${report.groups?.rows.map((g) => `${g.group} ${g.n}`).join(", ")})`,
    );
    expect(m.accuracy).toBeGreaterThan(0.8);
    expect(m.roc_auc).toBeGreaterThan(0.85);
    expect(m.recall).toBe(m.true_positive_rate);

    const groups = report.groups!;
    expect(groups.column).toBe("island");
    expect(groups.rows.map((g) => g.group)).toEqual(["Biscoe", "Dream", "Torgersen"]);
    expect(groups.rows.reduce((s, g) => s + g.n, 0)).toBe(report.rows);
    const rates = groups.rows.map((g) => g.metrics.positive_rate!);
    const tprs = groups.rows.map((g) => g.metrics.true_positive_rate!);
    for (const gap of [
      "demographic_parity_difference",
      "equal_opportunity_difference",
      "accuracy_difference",
    ]) {
      expect(groups.gaps[gap]).toBeGreaterThanOrEqual(0);
      expect(groups.gaps[gap]).toBeLessThanOrEqual(1);
      expect(m[gap]).toBe(groups.gaps[gap]); // gaps are metrics too, so a gate can check them
    }
    expect(groups.gaps.demographic_parity_difference).toBeCloseTo(
      Math.max(...rates) - Math.min(...rates),
      12,
    );
    expect(groups.gaps.equal_opportunity_difference).toBeCloseTo(Math.max(...tprs) - Math.min(...tprs), 12);
    expect(p.metrics.some((x) => x.name === "demographic_parity_difference")).toBe(true);
    // Equalized odds: the larger of the TPR and FPR gaps, each with a bootstrap interval around it.
    const fprs = groups.rows.map((g) => g.metrics.false_positive_rate!);
    expect(groups.gaps.false_positive_rate_difference).toBeCloseTo(Math.max(...fprs) - Math.min(...fprs), 12);
    expect(m.equalized_odds_difference).toBe(
      Math.max(m.equal_opportunity_difference!, m.false_positive_rate_difference!),
    );
    expect(p.metrics.some((x) => x.name === "equalized_odds_ratio")).toBe(true);
    expect(groups).toMatchObject({
      columns: ["island"],
      conventions: "fairlearn",
      droppedRows: 0,
      leftOut: [],
      bootstrap: { resamples: 1000, seed: 1, level: 0.95 },
    });
    const [lower, upper] = groups.intervals!.equalized_odds_difference!;
    expect(lower!).toBeLessThanOrEqual(upper!);
    expect(upper!).toBeGreaterThan(0);

    // With the default minGroupSize (30) the two smaller islands are marked and left out, and said so.
    p.logs.length = 0;
    const defaults = reportOf((await p.run(evaluate, { model, data }, { groupBy: "island" })).report).groups!;
    expect(defaults.rows.map((g) => [g.group, g.small, g.counted])).toEqual([
      ["Biscoe", false, true],
      ["Dream", true, false],
      ["Torgersen", true, false],
    ]);
    expect(defaults.leftOut).toEqual(["Dream", "Torgersen"]);
    expect(defaults.gaps.equalized_odds_difference).toBeNull();
    expect(p.logs.map((l) => l.message)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /2 group\(s\) have fewer than 30 rows and are left out of the gaps: Dream \(24\), Torgersen \(9\)/,
        ),
        expect.stringMatching(/Only 1 group\(s\) count in the gaps/),
      ]),
    );

    const { roc, pr, calibration, confusion } = report;
    expect(roc && "auc" in roc && roc.auc).toBe(m.roc_auc);
    expect(roc && "fpr" in roc && roc.fpr.length).toBeLessThanOrEqual(200);
    expect(pr && "recall" in pr && pr.recall[0]).toBe(0);
    expect(calibration?.of).toBe("positive");
    expect(confusion?.labels).toEqual(["FEMALE", "MALE"]);

    // The other class as positive: the same AUC, the recall of the other class.
    const female = reportOf((await p.run(evaluate, { model, data }, { positiveClass: "FEMALE" })).report);
    expect(female.positiveClass).toBe("FEMALE");
    expect(female.metrics.roc_auc).toBeCloseTo(m.roc_auc!, 12);
    expect(female.metrics.recall).toBeCloseTo(report.perClass![0]!.recall, 12);
    // Threshold 0: every row predicted positive.
    const all = reportOf((await p.run(evaluate, { model, data }, { threshold: 0 })).report);
    expect(all.metrics.positive_rate).toBe(1);
    expect(all.metrics.recall).toBe(1);
    await expect(p.run(evaluate, { model, data }, { positiveClass: "male" })).rejects.toThrow(
      /positiveClass "male" is not one of the model's classes: FEMALE, MALE\./,
    );
  });

  it("reports regression metrics and the residuals of body mass", async () => {
    const { model } = await p.run(trainGbdt, { train }, { target: "body_mass_g", seed: 3 });
    const report = reportOf((await p.run(evaluate, { model, data: test }, { groupBy: "species" })).report);
    expect(report.task).toBe("regression");
    const m = report.metrics;
    console.log(
      `evaluate body_mass_g: RMSE ${m.rmse?.toFixed(0)} g, MAE ${m.mae?.toFixed(0)} g, R² ${m.r2?.toFixed(3)} on ${report.rows} rows (${report.skippedRows} without a value)`,
    );
    expect(m.rmse).toBeLessThan(400);
    expect(m.mae).toBeLessThanOrEqual(m.rmse!);
    expect(m.r2).toBeGreaterThan(0.75);
    expect(report.skippedRows).toBeGreaterThanOrEqual(0);
    expect(report.residuals?.predicted).toHaveLength(report.rows);
    expect(report.residuals?.sampled).toBe(false);
    expect(report.confusion).toBeUndefined();
    expect(report.groups?.gaps.rmse_difference).toBeGreaterThan(0);
    expect(report.groups?.rows.map((g) => g.group)).toEqual(["Adelie", "Chinstrap", "Gentoo"]);
  });
});

describe("evaluate bad input", () => {
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
    model = (await p.run(trainTree, { train: data }, { target: "size", features: ["x", "color"] })).model!;
  });
  afterEach(() => p.close());

  it("names the target when the data lacks it", async () => {
    const unlabelled = await p.table("u", `SELECT x, color FROM "${data.name}"`);
    await expect(p.run(evaluate, { model, data: unlabelled }, {})).rejects.toThrow(
      /The data has no column "size", the model's target: .* Its columns are: x, color\. .*or use predict/,
    );
  });

  it("names a missing feature column and a missing groupBy column", async () => {
    const noColor = await p.table("n", `SELECT x, size FROM "${data.name}"`);
    await expect(p.run(evaluate, { model, data: noColor }, {})).rejects.toThrow(
      /The data lacks column\(s\) "color", which the model was trained on/,
    );
    await expect(p.run(evaluate, { model, data }, { groupBy: "Color" })).rejects.toThrow(
      /Column "Color" in groupBy does not exist\. Did you mean "color"\? Columns are: id, x, color, size\./,
    );
  });

  it("refuses a model port carrying something else", async () => {
    // Not what a model port carries, as an old cache or a hand-made value might hold.
    const other = { type: "model", data: { kind: "sklearn" }, fingerprint: "x" } as unknown as PortValue;
    await expect(p.run(evaluate, { model: other, data }, {})).rejects.toThrow(/not a Dagwood .*model/);
    await expect(p.run(evaluate, { model: data, data }, {})).rejects.toThrow(
      /Input "model" must be a model, got table/,
    );
    await expect(p.run(evaluate, { data }, {})).rejects.toThrow(/Input "model" is not connected/);
  });

  it("leaves out rows without a label, counts labels the model never saw as errors", async () => {
    const odd = await p.table(
      "o",
      `SELECT x, color, CASE WHEN id < 10 THEN NULL WHEN id < 20 THEN 'huge' ELSE size END AS size FROM "${data.name}"`,
    );
    const report = reportOf((await p.run(evaluate, { model, data: odd }, {})).report);
    expect(report).toMatchObject({ rows: 190, skippedRows: 10, classes: ["big", "small", "huge"] });
    expect(report.confusion?.matrix[2]).toEqual([expect.any(Number), expect.any(Number), 0]);
    expect(report.perClass?.[2]).toMatchObject({ label: "huge", support: 10, recall: 0 });
    expect(report.metrics.accuracy).toBeCloseTo(180 / 190, 12); // the tree is exact on x
    expect(p.logs).toContainEqual({
      level: "warn",
      message: '10 row(s) have no "size" value and are left out of the evaluation.',
    });
    expect(p.logs).toContainEqual({
      level: "warn",
      message: '10 row(s) have a "size" value the model never saw ("huge"): they count as errors.',
    });
    const none = await p.table("none", `SELECT x, color, NULL::VARCHAR AS size FROM "${data.name}"`);
    await expect(p.run(evaluate, { model, data: none }, {})).rejects.toThrow(
      /"size" is missing in every row/,
    );
  });

  it("refuses positiveClass for a model that is not binary", async () => {
    const three = await p.table("three", `SELECT x, color, (x % 3)::VARCHAR AS size FROM "${data.name}"`);
    const multi = (await p.run(trainTree, { train: three }, { target: "size" })).model!;
    await expect(p.run(evaluate, { model: multi, data: three }, { positiveClass: "1" })).rejects.toThrow(
      /positiveClass applies to binary models, but this model is multiclass/,
    );
  });
});
