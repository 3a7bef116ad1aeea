import { describe, expect, it } from "vitest";
import type { DeploymentRecord } from "../values/deployment";
import type { EvaluationReport } from "../values/evaluation";
import type { ModelSummary } from "../values/model";
import { outputHeadline } from "./headline";
import type { PortValue } from "./ports";

const report = (task: EvaluationReport["task"], metrics: Record<string, number | null>): PortValue => ({
  type: "report",
  fingerprint: "f",
  data: { kind: "evaluation", task, rows: 86, skippedRows: 0, metrics } as unknown as EvaluationReport,
});

describe("outputHeadline", () => {
  it("an evaluation shows accuracy for classification and RMSE for regression, over its rows", () => {
    expect(outputHeadline(report("binary", { accuracy: 0.75, f1: 0.5 }))).toEqual({
      kind: "metric",
      name: "accuracy",
      value: 0.75,
      rows: 86,
    });
    expect(outputHeadline(report("multiclass", { accuracy: 1 }))).toMatchObject({
      name: "accuracy",
      value: 1,
    });
    expect(outputHeadline(report("regression", { rmse: 3.25, r2: 0.9 }))).toMatchObject({
      name: "rmse",
      value: 3.25,
    });
  });

  it("an evaluation whose metric is undefined (NaN, null or missing) shows null, not a number", () => {
    expect(outputHeadline(report("regression", { rmse: Number.NaN }))).toMatchObject({ value: null });
    expect(outputHeadline(report("binary", { accuracy: null }))).toMatchObject({ value: null });
    expect(outputHeadline(report("binary", {}))).toMatchObject({ value: null });
  });

  it("profiles and explanations have no headline", () => {
    const profile = { type: "report", fingerprint: "f", data: { kind: "profile" } } as unknown as PortValue;
    expect(outputHeadline(profile)).toBeUndefined();
    const tableValue: PortValue = { type: "table", name: "t", columns: [], rows: 3, fingerprint: "f" };
    expect(outputHeadline(tableValue)).toBeUndefined();
  });

  it("a model shows its ONNX parity; one without an export shows none", () => {
    const parity = { rows: 261, maxAbsDiff: 3.3e-16, labelAgreement: 1 };
    const model = (onnx: unknown) =>
      ({ type: "model", fingerprint: "f", data: { onnx } as unknown as ModelSummary }) as PortValue;
    expect(outputHeadline(model({ file: "m.onnx", bytes: 10, opsets: {}, parity }))).toEqual({
      kind: "parity",
      ...parity,
    });
    expect(outputHeadline(model(undefined))).toBeUndefined();
  });

  it("a registered version and a deployment show their versions", () => {
    expect(
      outputHeadline({
        type: "modelVersion",
        fingerprint: "f",
        data: { name: "penguins", version: 3, created: false, modelFingerprint: "m" },
      }),
    ).toEqual({ kind: "version", model: "penguins", version: 3, created: false });
    const record = { target: "local", model: "penguins", version: 3, previous: 2 } as DeploymentRecord;
    expect(outputHeadline({ type: "deployment", fingerprint: "f", data: record })).toEqual({
      kind: "deployment",
      target: "local",
      model: "penguins",
      version: 3,
      previous: 2,
    });
  });
});
