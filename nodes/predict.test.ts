import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PortValue } from "../app/engine/ports";
import { createTestProject, type TestProject } from "../app/engine/testing";
import predict from "./predict";
import trainGbdt from "./train-gbdt";
import trainTree from "./train-tree";

describe("predict", () => {
  let p: TestProject;
  beforeEach(async () => {
    p = await createTestProject();
  });
  afterEach(() => p.close());

  const train = () =>
    p.table(
      "train",
      `SELECT range AS id, (range % 10)::DOUBLE AS x, CASE WHEN range % 3 = 0 THEN 'red' ELSE 'blue' END AS color,
              (range % 10 >= 5) AS big, range % 10 >= 5 AND range % 3 = 0 AS red_big, (range % 10) * 2.5 AS size
       FROM range(300)`,
    );

  it("adds the label (in the target's type) and one probability per class, keeping rows and order", async () => {
    const t = await train();
    const model = (await p.run(trainTree, { train: t }, { target: "big", features: ["x", "color"] })).model;
    const data = await p.table(
      "data",
      "SELECT * FROM (VALUES (7, 9.0, 'red'), (8, 1.0, 'green'), (9, NULL, NULL)) AS v(id, x, color)",
    );
    const out = await p.run(predict, { model, data }, {});
    expect(out.out?.type === "table" && out.out.columns).toEqual([
      { name: "id", type: "INTEGER" },
      { name: "x", type: "DECIMAL(2,1)" },
      { name: "color", type: "VARCHAR" },
      { name: "label", type: "BOOLEAN" },
      { name: "probability_false", type: "DOUBLE" },
      { name: "probability_true", type: "DOUBLE" },
    ]);
    const rows = await p.rows(out.out);
    expect(rows.map((r) => r.id)).toEqual([7, 8, 9]);
    expect(rows[0]).toMatchObject({ label: true, probability_false: 0, probability_true: 1 });
    expect(rows[1]).toMatchObject({ label: false }); // "green" was never seen: missing, not a crash
    for (const r of rows)
      expect((r.probability_false as number) + (r.probability_true as number)).toBeCloseTo(1);
  });

  it("writes `prediction` for regression, renaming it when the input has one", async () => {
    const t = await train();
    const model = (
      await p.run(trainGbdt, { train: t }, { target: "size", features: ["x"], trees: 50, minSamplesLeaf: 1 })
    ).model;
    const data = await p.table("data", "SELECT range::DOUBLE AS x, 'old' AS prediction FROM range(10)");
    const out = await p.run(predict, { model, data }, {});
    const rows = await p.rows(out.out);
    expect(Object.keys(rows[0]!)).toEqual(["x", "prediction", "prediction_1"]);
    for (const [i, r] of rows.entries()) expect(r.prediction_1 as number).toBeCloseTo(i * 2.5, 0);
    expect(p.logs).toContainEqual({
      level: "warn",
      message: 'The input already has a column "prediction"; the output column is "prediction_1".',
    });
  });

  it("names the feature columns the data lacks", async () => {
    const t = await train();
    const model = (await p.run(trainTree, { train: t }, { target: "big", features: ["x", "color", "id"] }))
      .model;
    const data = await p.table("data", "SELECT 1.0 AS x, 2 AS other");
    await expect(p.run(predict, { model, data }, {})).rejects.toThrow(
      /The data lacks column\(s\) "color", "id", which the model was trained on\. Its columns are: x, other\./,
    );
  });

  it("refuses a model input that is not a Dagwood model", async () => {
    const data = await p.table("data", "SELECT 1 AS x");
    const model = { type: "model", data: { kind: "other" }, fingerprint: "x" } as unknown as PortValue;
    await expect(p.run(predict, { model, data }, {})).rejects.toThrow(/not a Dagwood model/);
  });

  it("scores 200,000 rows through the appender", async () => {
    const t = await p.table(
      "train",
      "SELECT random() AS a, (range % 5)::VARCHAR AS g, range % 3 AS y FROM range(5000)",
    );
    const model = (await p.run(trainGbdt, { train: t }, { target: "y", trees: 10 })).model;
    const data = await p.table("data", "SELECT random() AS a, (range % 5)::VARCHAR AS g FROM range(200000)");
    const out = await p.run(predict, { model, data }, {});
    expect(out.out?.type === "table" && out.out.rows).toBe(200000);
  });
});
