import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { metricDirection } from "./metric-direction";

/** Debian's python3 (PATH's may be a virtualenv without python3-sklearn); DAGWOOD_PYTHON overrides. */
const PYTHON = process.env.DAGWOOD_PYTHON ?? "/usr/bin/python3";

/** Our metric names and scikit-learn's scorer for each (`neg_…`: sklearn negates it, so lower is better). */
const SKLEARN_SCORERS: Record<string, string> = {
  accuracy: "accuracy",
  balanced_accuracy: "balanced_accuracy",
  f1: "f1",
  f1_macro: "f1_macro",
  precision: "precision",
  precision_macro: "precision_macro",
  recall: "recall",
  recall_weighted: "recall_weighted",
  roc_auc: "roc_auc",
  average_precision: "average_precision",
  log_loss: "neg_log_loss",
  brier: "neg_brier_score",
  rmse: "neg_root_mean_squared_error",
  mae: "neg_mean_absolute_error",
  mse: "neg_mean_squared_error",
  r2: "r2",
};

function sklearnSigns(): Record<string, number> | string {
  const script = [
    "import json, sys",
    "from sklearn.metrics import get_scorer",
    "print(json.dumps({n: get_scorer(n)._sign for n in json.loads(sys.argv[1])}))",
  ].join("\n");
  const r = spawnSync(PYTHON, ["-c", script, JSON.stringify(Object.values(SKLEARN_SCORERS))], {
    encoding: "utf8",
  });
  if (r.error) return `${PYTHON} cannot be run (${r.error.message}); install Debian's python3-sklearn`;
  if (r.status !== 0) return `scikit-learn's scorers are not readable by ${PYTHON}: ${r.stderr.trim()}`;
  return JSON.parse(r.stdout) as Record<string, number>;
}

describe("metricDirection", () => {
  it("agrees with scikit-learn's scorers on every metric both have", () => {
    const signs = sklearnSigns();
    if (typeof signs === "string") throw new Error(signs);
    for (const [ours, scorer] of Object.entries(SKLEARN_SCORERS)) {
      expect(metricDirection(ours), `${ours} vs sklearn's ${scorer}`).toBe(
        signs[scorer] === -1 ? "lower" : "higher",
      );
    }
  });

  it("reads run metric keys: the node's name and cv_/train_/val_ prefixes", () => {
    expect(metricDirection("evaluate.rmse")).toBe("lower");
    expect(metricDirection("gbdt.cv_rmse")).toBe("lower");
    expect(metricDirection("gbdt.cv_accuracy")).toBe("higher");
    expect(metricDirection("mlp.val_loss")).toBe("lower");
    expect(metricDirection("gbdt.valid_loss")).toBe("lower");
    expect(metricDirection("linear.train_rmse")).toBe("lower");
    expect(metricDirection("gbdt.cv_accuracy_std")).toBeUndefined();
  });

  it("puts fairness gaps low, ratios high, and descriptive rates nowhere", () => {
    expect(metricDirection("demographic_parity_difference")).toBe("lower");
    expect(metricDirection("rmse_difference")).toBe("lower");
    expect(metricDirection("demographic_parity_ratio")).toBe("higher");
    expect(metricDirection("positive_rate")).toBeUndefined();
    expect(metricDirection("base_rate")).toBeUndefined();
    expect(metricDirection("bias")).toBeUndefined();
  });

  it("puts a model's size and single-row latency low, and its shape nowhere", () => {
    expect(metricDirection("gbdt.onnx_bytes")).toBe("lower");
    expect(metricDirection("gbdt.onnx_latency_p50_us")).toBe("lower");
    expect(metricDirection("forest.model_trees")).toBeUndefined();
    expect(metricDirection("forest.model_leaves")).toBeUndefined();
    expect(metricDirection("mlp.model_parameters")).toBeUndefined();
  });
});
