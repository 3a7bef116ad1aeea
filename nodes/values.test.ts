/**
 * The value types of app/values against what the blocks really write: each
 * block runs on a small table, its output goes through JSON as the cache and
 * the Api carry it, and the result must parse against the schema the blocks,
 * the Api and the renderer share. A field a block adds, drops, or leaves NaN
 * where the type promises a number fails here.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PortValue, TableValue } from "../app/engine/ports";
import { createTestProject, penguinsTable, type TestProject } from "../app/engine/testing";
import { EvaluationReport } from "../app/values/evaluation";
import { ExplanationReport } from "../app/values/explanation";
import {
  isEvaluationReport,
  isExplanationReport,
  isModelSummary,
  isProfileReport,
} from "../app/values/guards";
import { ModelSummary } from "../app/values/model";
import { ProfileReport } from "../app/values/profile";
import { ModelVersionRef } from "../app/values/registry";
import profile from "./analyze-profile";
import evaluate from "./evaluate";
import explain from "./explain";
import gate from "./gate";
import register from "./register";
import split from "./split";
import trainGbdt from "./train-gbdt";
import trainLinear from "./train-linear";
import trainLogistic from "./train-logistic";
import trainMlp from "./train-mlp";
import trainTree from "./train-tree";

/** What the cache stores and getReport reads back: the value as JSON text. */
const wire = (v: PortValue | undefined): unknown => {
  if (!v || v.type === "table") throw new Error(`expected a data value, got ${v?.type}`);
  return JSON.parse(JSON.stringify(v.data));
};

/** Parses with the schema, failing the test with zod's paths when the shape drifted. */
function parses<T>(
  schema: { safeParse(x: unknown): { success: boolean; data?: T; error?: unknown } },
  x: unknown,
): T {
  const result = schema.safeParse(x);
  if (!result.success) throw new Error(`does not parse: ${String(result.error)}`);
  return result.data as T;
}

describe("the value types match what the blocks write", () => {
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

  it("evaluation reports: multiclass with groups, a model summary, and a gate's champion", async () => {
    const { model } = await p.run(trainGbdt, { train }, { target: "species", seed: 7, trees: 20 });
    const summary = parses(ModelSummary, wire(model));
    expect(isModelSummary(summary)).toBe(true);
    expect(summary.signature.inputs.map((t) => t.name)).toEqual(
      summary.preprocess.features.map((f) => f.name),
    );
    expect(summary.onnx?.parity.labelAgreement).toBe(1);

    const out = await p.run(evaluate, { model, data: test }, { groupBy: "island" });
    const report = parses(EvaluationReport, wire(out.report));
    expect(isEvaluationReport(report)).toBe(true);
    expect(report.task).toBe("multiclass");
    expect(report.model.onnxParity?.on).toBe("evaluation");
    // Torgersen holds only Adelie: the per-group AUC is undefined there, and travels as null.
    const torgersen = report.groups?.rows.find((g) => g.group === "Torgersen");
    expect(torgersen?.metrics.roc_auc).toBeNull();
    // The ROC curve's first threshold is +Infinity, which JSON holds as null.
    const roc = report.roc as { perClass: { thresholds: (number | null)[] }[] };
    expect(roc.perClass[0]!.thresholds[0]).toBeNull();

    // gate passes the report on with the champion's outcome added (no champion yet: null).
    const gated = await p.run(
      gate,
      { report: out.report!, data: test },
      { metric: "accuracy", champion: { model: "nobody" } },
    );
    const passed = parses(EvaluationReport, wire(gated.report));
    expect(passed.champion).toEqual({ model: "nobody", alias: "champion", version: null, value: null });

    const registered = await p.run(register, { model, report: out.report }, { name: "species" });
    expect(parses(ModelVersionRef, wire(registered.version))).toMatchObject({
      name: "species",
      version: 1,
      created: true,
    });
  });

  it("evaluation reports: binary on data holding one class, and regression on a constant target", async () => {
    const rows = await p.table(
      "b",
      `SELECT range::DOUBLE AS x, CASE WHEN range % 4 = 0 THEN 'yes' ELSE 'no' END AS y,
              (range % 7)::DOUBLE AS v FROM range(120)`,
    );
    const { model } = await p.run(trainTree, { train: rows }, { target: "y", features: ["x"] });
    const onlyNo = await p.table("n", `SELECT * FROM "${rows.name}" WHERE y = 'no'`);
    const binary = parses(
      EvaluationReport,
      wire((await p.run(evaluate, { model, data: onlyNo }, {})).report),
    );
    expect(binary.task).toBe("binary");
    // No positive row: recall, AUC and average precision are undefined (scikit-learn warns and gives nan).
    expect(binary.metrics.roc_auc).toBeNull();
    expect(binary.metrics.average_precision).toBeNull();
    const binaryRoc = binary.roc as { tpr: (number | null)[]; auc?: number | null };
    expect(binaryRoc.auc).toBeNull();
    // tpr = true positives / positives, from the fixed first point (0, 0): 0 / 0 after it.
    expect(binaryRoc.tpr[0]).toBe(0);
    expect(binaryRoc.tpr.slice(1).every((t) => t === null)).toBe(true);

    // Trained on a varying target, scored on rows where the target is constant.
    const linear = (
      await p.run(trainLinear, { train: rows }, { target: "v", features: ["x"], task: "regression" })
    ).model!;
    const flat = await p.table("c", `SELECT x, y, 5.0 AS v FROM "${rows.name}"`);
    const regression = parses(
      EvaluationReport,
      wire((await p.run(evaluate, { model: linear, data: flat }, { groupBy: "y" })).report),
    );
    expect(regression.task).toBe("regression");
    // R² of a constant target is undefined (1 − SS_res / 0).
    expect(regression.metrics.r2).toBeNull();
    expect(regression.residuals?.predicted).toHaveLength(120);
  });

  it("explanations of a tree ensemble and of a linear model", async () => {
    const gbdt = (await p.run(trainGbdt, { train }, { target: "body_mass_g", seed: 3, trees: 20 })).model!;
    const trees = parses(
      ExplanationReport,
      wire((await p.run(explain, { model: gbdt, data: test }, {})).report),
    );
    expect(isExplanationReport(trees)).toBe(true);
    expect(trees.modelImportance).toBe("splitGain");
    expect(trees.metric.name).toBe("r2");

    const logistic = (await p.run(trainLogistic, { train }, { target: "species" })).model!;
    // Every kind of model carries the summary: trees above, a linear model and a network here.
    expect(parses(ModelSummary, wire(logistic)).estimator).toBe("logistic");
    const mlp = (await p.run(trainMlp, { train }, { target: "species", hidden: [4], epochs: 2, seed: 1 }))
      .model!;
    expect(parses(ModelSummary, wire(mlp)).estimator).toBe("mlp");
    const linear = parses(
      ExplanationReport,
      wire((await p.run(explain, { model: logistic, data: test }, { topK: 2 })).report),
    );
    expect(linear.modelImportance).toBe("coefficients");
    expect(linear.classes).toEqual(["Adelie", "Chinstrap", "Gentoo"]);
    expect(linear.partialDependence).toHaveLength(2);

    // A constant target: R², the baseline of every importance, is undefined and arrives as null.
    const varying = await p.table("f", "SELECT range::DOUBLE AS x, (range % 7)::DOUBLE AS v FROM range(50)");
    const linearModel = (await p.run(trainLinear, { train: varying }, { target: "v", task: "regression" }))
      .model!;
    const flat = await p.table("c", `SELECT x, 5.0 AS v FROM "${varying.name}"`);
    const undefinedScore = parses(
      ExplanationReport,
      wire((await p.run(explain, { model: linearModel, data: flat }, {})).report),
    );
    expect(undefinedScore.metric.baseline).toBeNull();
    expect(undefinedScore.permutation[0]!.mean).toBeNull();
  });
});

describe("the profile type matches what analyze.profile writes", () => {
  let p: TestProject;
  beforeEach(async () => {
    p = await createTestProject();
  });
  afterEach(() => p.close());

  it("every kind of column, missing and non-finite values, and an empty table", async () => {
    const values = [1, 1, 2, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, null];
    const table = await p.table(
      "t",
      `SELECT * FROM (VALUES ${values
        .map(
          (v, i) =>
            `(${v === null ? "NULL" : Number.isFinite(v) ? `${v}::DOUBLE` : `'${v === Number.POSITIVE_INFINITY ? "inf" : v === Number.NEGATIVE_INFINITY ? "-inf" : "nan"}'::DOUBLE`},
              ${i % 2 ? "'a'" : "NULL"}, DATE '2024-01-01' + ${i}, ${i % 3 === 0}, 7, NULL::DOUBLE)`,
        )
        .join(", ")}) AS t(x, s, d, b, k, empty)`,
    );
    const out = (await p.run(profile, { in: table }, {})).report;
    const report = parses(ProfileReport, wire(out));
    expect(isProfileReport(report)).toBe(true);
    // Nothing non-finite is left to be lost in JSON: the value as written is the value read back.
    expect(wire(out)).toEqual((out as { data: unknown }).data);
    const x = report.columns.find((c) => c.name === "x")!;
    // Counted by hand from `values`: 3 non-finite, 1 NULL; the top values are the finite ones.
    expect(x.nonFinite).toBe(3);
    expect(x.nulls).toBe(1);
    expect(x.top).toEqual([
      { value: 1, count: 2 },
      { value: 2, count: 1 },
    ]);
    const empty = report.columns.find((c) => c.name === "empty")!;
    expect([empty.min, empty.mean, empty.quantiles, empty.histogram]).toEqual([null, null, null, null]);
    // A constant column has no correlation with anything.
    const k = report.correlation.columns.indexOf("k");
    expect(report.correlation.matrix[k]![k]).toBeNull();

    const none = await p.table("z", `SELECT * FROM "${table.name}" WHERE false`);
    const nothing = parses(ProfileReport, wire((await p.run(profile, { in: none }, {})).report));
    expect(nothing.rows).toBe(0);
    expect(nothing.columns[0]!.nullFraction).toBeNull();
  });
});

describe("the schemas refuse a shape that drifted", () => {
  let p: TestProject;
  let report: Record<string, unknown>;
  beforeEach(async () => {
    p = await createTestProject();
    const data: TableValue = await p.table(
      "t",
      "SELECT range::DOUBLE AS x, CASE WHEN range % 2 = 0 THEN 'a' ELSE 'b' END AS y FROM range(40)",
    );
    const { model } = await p.run(trainTree, { train: data }, { target: "y", features: ["x"] });
    report = wire((await p.run(evaluate, { model, data }, {})).report) as Record<string, unknown>;
  });
  afterEach(() => p.close());

  it("an unknown field, a missing field, a null where a number is promised, NaN", () => {
    expect(EvaluationReport.safeParse(report).success).toBe(true);
    expect(EvaluationReport.safeParse({ ...report, extra: 1 }).success).toBe(false);
    const { dataFingerprint: _, ...without } = report;
    expect(EvaluationReport.safeParse(without).success).toBe(false);
    expect(EvaluationReport.safeParse({ ...report, rows: null }).success).toBe(false);
    expect(EvaluationReport.safeParse({ ...report, threshold: Number.NaN }).success).toBe(false);
    expect(ExplanationReport.safeParse(report).success).toBe(false);
  });
});
