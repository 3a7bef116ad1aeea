import { DuckDBInstance } from "@duckdb/node-api";
import { describe, expect, it } from "vitest";
import { SqlSession } from "../data/sql";
import { computeDrift } from "../monitoring/drift";
import type { DeploymentRecord } from "../values/deployment";
import type { EvaluationReport } from "../values/evaluation";
import type { ValidationReport } from "../values/expectations";
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

  it("a drift report shows its drifted and tested columns, the verdict and the current rows", async () => {
    const instance = await DuckDBInstance.create(":memory:");
    const sql = new SqlSession(await instance.connect());
    try {
      await sql.run("CREATE TABLE r AS SELECT i * 1.0 AS x, i % 3 AS k, 'a' AS c FROM range(200) t(i)");
      await sql.run("CREATE TABLE c AS SELECT i * 1.0 + 150 AS x, i % 3 AS k, 'a' AS c FROM range(120) t(i)");
      const cols = [
        { name: "x", type: "DOUBLE" },
        { name: "k", type: "BIGINT" },
        { name: "c", type: "VARCHAR" },
      ];
      const data = await computeDrift(sql, { name: "r", columns: cols }, { name: "c", columns: cols });
      expect(outputHeadline({ type: "report", fingerprint: "f", data })).toEqual({
        kind: "drift",
        drifted: 1,
        considered: 3,
        datasetDrift: false,
        rows: 120,
      });
    } finally {
      sql.close();
      instance.closeSync();
    }
  });

  it("a validation report shows its evaluated and failed counts, and the rows quarantine rejected", () => {
    const validation = (failed: number, meta: Partial<ValidationReport["meta"]>): PortValue => ({
      type: "report",
      fingerprint: "f",
      data: {
        kind: "validation",
        success: failed === 0,
        statistics: {
          evaluated_expectations: 20,
          successful_expectations: 20 - failed,
          unsuccessful_expectations: failed,
          success_percent: ((20 - failed) / 20) * 100,
        },
        results: [],
        meta: { expectation_suite_name: "flights", rows: 5000, ...meta },
      },
    });
    expect(outputHeadline(validation(2, { on_failure: "warn" }))).toEqual({
      kind: "validation",
      suite: "flights",
      evaluated: 20,
      failed: 2,
      rows: 5000,
      rejected: null,
      onFailure: "warn",
    });
    expect(outputHeadline(validation(1, { on_failure: "quarantine", rejected_rows: 812 }))).toMatchObject({
      failed: 1,
      rejected: 812,
      onFailure: "quarantine",
    });
    // A quarantine that moved nothing says 0, not "not quarantined"; a report without on_failure says null.
    expect(outputHeadline(validation(0, { on_failure: "quarantine" }))).toMatchObject({ rejected: 0 });
    expect(outputHeadline(validation(0, {}))).toMatchObject({ rejected: null, onFailure: null, failed: 0 });
  });
});
