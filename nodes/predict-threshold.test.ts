/**
 * predict labels a binary model's rows with the decision threshold evaluate scores with (issue 20): on the
 * penguins test split, the labels are checked against an independent computation by scikit-learn
 * (Debian's python3-sklearn): `predict_proba[:, positive] >= threshold` on the probabilities predict wrote,
 * and `confusion_matrix` of predict's labels against the truth, which must be the matrix evaluate reports
 * at the same threshold.
 */
import { spawnSync } from "node:child_process";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PortValue } from "../app/engine/ports";
import { createTestProject, penguinsTable, type TestProject } from "../app/engine/testing";
import type { EvaluationReport } from "../app/values/evaluation";
import evaluate from "./evaluate";
import predict from "./predict";
import split from "./split";
import trainGbdt from "./train-gbdt";

/** Debian's python3 (PATH's may be a virtualenv without python3-sklearn); DAGWOOD_PYTHON overrides. */
const PYTHON = process.env.DAGWOOD_PYTHON ?? "/usr/bin/python3";

/** scikit-learn's labels at a threshold and its confusion matrix of those labels against the truth. */
const SKLEARN = `
import json, sys
import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix
q = json.load(sys.stdin)
classes = q["classes"]
proba = np.array([[r["probability_" + c] for c in classes] for r in q["rows"]])
positive = classes.index(q["positive"])
negative = 1 - positive
labels = np.where(proba[:, positive] >= q["threshold"], classes[positive], classes[negative])
argmax = np.array(classes)[proba.argmax(axis=1)]
truth = [r[q["target"]] for r in q["rows"]]
print(json.dumps({
  "labels": labels.tolist(),
  "changedFromArgmax": int((labels != argmax).sum()),
  "accuracy": accuracy_score(truth, labels),
  "confusion": confusion_matrix(truth, labels, labels=classes).tolist(),
}))
`;

interface Reference {
  labels: string[];
  changedFromArgmax: number;
  accuracy: number;
  confusion: number[][];
}

function sklearn(query: object): Reference {
  const r = spawnSync(PYTHON, ["-c", SKLEARN], { input: JSON.stringify(query), encoding: "utf8" });
  if (r.status !== 0) throw new Error(`scikit-learn failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Reference;
}

const reportOf = (v: PortValue | undefined) =>
  (v?.type === "report" ? v.data : undefined) as EvaluationReport;

describe("predict's decision threshold", () => {
  let p: TestProject;
  let model: PortValue;
  let test: PortValue;
  beforeEach(async () => {
    p = await createTestProject();
    const parts = await p.run(
      split,
      { in: await penguinsTable(p, "sex IS NOT NULL AND sex <> '.'") },
      { testFraction: 0.25, seed: 7 },
    );
    test = parts.test!;
    model = (
      await p.run(
        trainGbdt,
        { train: parts.train! },
        { target: "sex", features: ["beak_length_mm", "beak_depth_mm", "flipper_length_mm"], seed: 7 },
      )
    ).model!;
  });
  afterEach(() => p.close());

  for (const { threshold, positiveClass } of [
    { threshold: 0.3, positiveClass: undefined },
    { threshold: 0.3, positiveClass: "FEMALE" },
    { threshold: 0.5, positiveClass: undefined },
    { threshold: 0.8, positiveClass: "MALE" },
  ]) {
    it(`labels as scikit-learn's predict_proba >= ${threshold} (positive ${positiveClass ?? "unset"}) and as evaluate scores`, async () => {
      const params = { threshold, ...(positiveClass ? { positiveClass } : {}) };
      const rows = await p.rows((await p.run(predict, { model, data: test }, params)).out);
      const report = reportOf((await p.run(evaluate, { model, data: test }, params)).report);
      const classes = ["FEMALE", "MALE"];
      const ref = sklearn({
        rows,
        classes,
        positive: positiveClass ?? "MALE",
        threshold,
        target: "sex",
      });
      expect(rows).toHaveLength(report.rows);
      expect(rows.map((r) => r.label)).toEqual(ref.labels);
      // evaluate's figures are those of predict's labels.
      expect(report.confusion?.labels).toEqual(classes);
      expect(report.confusion?.matrix).toEqual(ref.confusion);
      expect(report.metrics.accuracy).toBeCloseTo(ref.accuracy, 12);
      if (threshold !== 0.5) expect(ref.changedFromArgmax).toBeGreaterThan(0);
      console.log(
        `threshold ${threshold}, positive ${positiveClass ?? "MALE"}: ${ref.changedFromArgmax} of ${rows.length} labels differ from the largest probability's`,
      );
    });
  }

  it("refuses a positiveClass that is not one of the model's classes, naming them", async () => {
    await expect(p.run(predict, { model, data: test }, { positiveClass: "male" })).rejects.toThrow(
      'positiveClass "male" is not one of the model\'s classes: FEMALE, MALE.',
    );
  });

  it("refuses a positiveClass for a multiclass model, and a threshold out of [0, 1]", async () => {
    const parts = await p.run(split, { in: await penguinsTable(p) }, { testFraction: 0.25, seed: 7 });
    const species = (await p.run(trainGbdt, { train: parts.train! }, { target: "species", trees: 5 })).model;
    await expect(
      p.run(predict, { model: species, data: parts.test! }, { positiveClass: "Adelie" }),
    ).rejects.toThrow(
      "positiveClass applies to binary models, but this model is multiclass. Clear positiveClass.",
    );
    await expect(p.run(predict, { model, data: test }, { threshold: 1.5 })).rejects.toThrow(/threshold/);
  });
});
