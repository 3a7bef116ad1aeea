/**
 * The model Dagwood evaluates is the model it serves (issue 10): on
 * scikit-learn's breast_cancer, wine and diabetes and on seattle-weather (a
 * date column, values not exact in float32), for every estimator, the metric
 * in the evaluate report equals the metric scikit-learn computes from
 * `dagwood predict`'s output on the same rows (relative difference ≤ 1e-9),
 * and the predict block's labels equal the served model's on every row.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { predictFile } from "../app/deploy/predict";
import type { AnyBlock } from "../app/engine/block";
import type { PortValue } from "../app/engine/ports";
import { createTestProject, type TestProject } from "../app/engine/testing";
import type { AnyDagwoodModel } from "../app/ml/model";
import evaluate from "./evaluate";
import predict from "./predict";
import trainForest from "./train-forest";
import trainGbdt from "./train-gbdt";
import trainLinear from "./train-linear";
import trainLogistic from "./train-logistic";
import trainMlp from "./train-mlp";
import trainTree from "./train-tree";

const PYTHON = "/usr/bin/python3";
const SCRIPT = join(import.meta.dirname, "fixtures", "served_parity.py");
const WEATHER = join(
  import.meta.dirname,
  "..",
  "node_modules",
  "vega-datasets",
  "data",
  "seattle-weather.csv",
);

const hasSklearn = (() => {
  try {
    execFileSync(PYTHON, ["-c", "import sklearn"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
if (!hasSklearn) {
  console.warn(
    `served-parity: skipped, ${PYTHON} has no scikit-learn (apt-get install python3-sklearn; CI installs it)`,
  );
}

const DATASETS = [
  { name: "breast_cancer", target: "target", task: "classification" },
  { name: "wine", target: "target", task: "classification" },
  { name: "diabetes", target: "target", task: "regression" },
  { name: "seattle_weather", target: "weather", task: "classification" },
] as const;

const ESTIMATORS: Record<string, AnyBlock> = {
  tree: trainTree,
  forest: trainForest,
  gbdt: trainGbdt,
  linear: trainLinear,
  logistic: trainLogistic,
  mlp: trainMlp,
};

const relative = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), Number.MIN_VALUE);

describe.runIf(hasSklearn)(
  "what evaluate reports is what dagwood predict serves",
  { timeout: 300_000 },
  () => {
    let p: TestProject;
    let data: string;
    beforeAll(async () => {
      p = await createTestProject();
      // Inside the project: the workspace reads only there.
      data = join(p.dir, "data");
      execFileSync(PYTHON, [SCRIPT, "split", data, WEATHER]);
    });
    afterAll(async () => {
      await p.close();
    });

    for (const d of DATASETS) {
      const estimators = Object.keys(ESTIMATORS).filter((e) =>
        d.task === "regression" ? e !== "logistic" : e !== "linear",
      );
      for (const estimator of estimators) {
        it(`${d.name}, ${estimator}`, async () => {
          const trainCsv = join(data, `${d.name}_train.csv`);
          const testCsv = join(data, `${d.name}_test.csv`);
          const train = await p.table(`${d.name}_train`, `SELECT * FROM read_csv('${trainCsv}')`);
          const test = await p.table(`${d.name}_test`, `SELECT * FROM read_csv('${testCsv}')`);
          const params = {
            target: d.target,
            seed: 3,
            ...(d.task === "classification" ? { task: "classification" } : {}),
          };
          const { model } = await p.run(ESTIMATORS[estimator]!, { train }, params);
          const m = (model as PortValue & { data: AnyDagwoodModel }).data;

          const report = (await p.run(evaluate, { model, data: test }, {})).report as PortValue & {
            data: { metrics: Record<string, number> };
          };
          const metricName = d.task === "regression" ? "rmse" : "accuracy";
          const evaluated = report.data.metrics[metricName]!;

          const served = join(data, `${d.name}_${estimator}_served.csv`);
          await predictFile({
            onnxFile: join(p.dir, m.onnx!.file),
            model: m,
            input: testCsv,
            output: served,
          });
          const column = d.task === "regression" ? "prediction" : "label";
          const sklearn = JSON.parse(
            execFileSync(PYTHON, [SCRIPT, "metric", served, d.target, column, d.task], { encoding: "utf8" }),
          ) as { value: number; rows: number };
          expect(sklearn.rows).toBe(test.type === "table" ? test.rows : -1);
          console.log(
            `${d.name} ${estimator}: ${metricName} evaluate ${evaluated}, served (scikit-learn) ${sklearn.value}, relative difference ${relative(evaluated, sklearn.value).toExponential(1)}`,
          );
          expect(
            relative(evaluated, sklearn.value),
            `${metricName}: evaluate ${evaluated}, served ${sklearn.value}`,
          ).toBeLessThanOrEqual(1e-9);

          // Row by row: the app's predict block against the served model's output.
          const native = await p.rows((await p.run(predict, { model, data: test }, {})).out);
          const onnx = await p.rows(
            await p.table(`${d.name}_${estimator}_served`, `SELECT * FROM read_csv('${served}')`),
          );
          expect(onnx).toHaveLength(native.length);
          for (let r = 0; r < native.length; r++) {
            if (d.task === "regression") {
              expect(
                relative(onnx[r]!.prediction as number, native[r]!.prediction as number),
              ).toBeLessThanOrEqual(1e-9);
            } else {
              expect(String(onnx[r]!.label), `row ${r}`).toBe(String(native[r]!.label));
            }
          }
        });
      }
    }

    it("the datasets have what the check needs: values not exact in float32, a date column", async () => {
      const weather = await p.table(
        "w",
        `SELECT * FROM read_csv('${join(data, "seattle_weather_test.csv")}')`,
      );
      expect(weather.type === "table" && weather.columns.find((c) => c.name === "date")?.type).toBe("DATE");
      const rows = await p.rows(
        await p.table("bc", `SELECT * FROM read_csv('${join(data, "diabetes_test.csv")}')`),
      );
      const values = rows.flatMap((r) => Object.values(r) as number[]);
      expect(values.some((v) => Math.fround(v) !== v)).toBe(true);
      expect(existsSync(WEATHER)).toBe(true);
    });
  },
);
