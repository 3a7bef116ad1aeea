/**
 * The figure a node shows on the canvas after a run, taken from one output
 * value when the node finishes (ran or cached): the evaluation's main metric,
 * a model's ONNX parity, the registered version, the deployed version, an
 * expectation suite's passed and failed counts, a drift report's drifted
 * columns ("3 of 20 drifted", "no drift"). Table
 * outputs need none: their row count is in the output summary already.
 */
import type { OutputHeadline } from "./events";
import type { PortValue } from "./ports";

/** The metric a node shows for an evaluation: accuracy for classification, RMSE for regression. */
const HEADLINE_METRIC = { binary: "accuracy", multiclass: "accuracy", regression: "rmse" } as const;

const finiteOrNull = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** The headline of one output value, or undefined when its kind has none (tables, profiles, explanations). */
export function outputHeadline(v: PortValue): OutputHeadline | undefined {
  switch (v.type) {
    case "report": {
      const r = v.data;
      if (r.kind === "validation") {
        const stats = r.statistics;
        return {
          kind: "validation",
          suite: r.meta.expectation_suite_name,
          evaluated: stats.evaluated_expectations,
          failed: stats.unsuccessful_expectations,
          rows: r.meta.rows,
          rejected: r.meta.on_failure === "quarantine" ? (r.meta.rejected_rows ?? 0) : null,
          onFailure: r.meta.on_failure ?? null,
        };
      }
      if (r.kind === "drift")
        return {
          kind: "drift",
          drifted: r.driftedColumns,
          considered: r.consideredColumns,
          datasetDrift: r.datasetDrift,
          rows: r.rows.current,
        };
      if (r.kind !== "evaluation") return undefined;
      const name = HEADLINE_METRIC[r.task];
      return { kind: "metric", name, value: finiteOrNull(r.metrics[name]), rows: r.rows };
    }
    case "model": {
      const parity = v.data.onnx?.parity;
      if (!parity) return undefined;
      // A train block fails when parity is off (DESIGN "ONNX export"); the figures say by how little.
      return {
        kind: "parity",
        maxAbsDiff: parity.maxAbsDiff,
        labelAgreement: parity.labelAgreement,
        rows: parity.rows,
      };
    }
    case "modelVersion":
      return { kind: "version", model: v.data.name, version: v.data.version, created: v.data.created };
    case "deployment":
      return {
        kind: "deployment",
        target: v.data.target,
        model: v.data.model,
        version: v.data.version,
        previous: v.data.previous,
      };
    default:
      return undefined;
  }
}
