import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PortValue } from "../app/engine/ports";
import { createTestProject, penguinsTable, type TestProject } from "../app/engine/testing";
import type { DagwoodModel } from "../app/ml/model";
import predict from "./predict";
import split from "./split";
import trainForest from "./train-forest";

const modelOf = (v: PortValue | undefined) => (v?.type === "model" ? v.data : undefined) as DagwoodModel;

describe("train.forest", () => {
  let p: TestProject;
  let train: PortValue;
  let test: PortValue;
  beforeEach(async () => {
    p = await createTestProject();
    const parts = await p.run(
      split,
      { in: await penguinsTable(p, "sex IS DISTINCT FROM '.'") },
      { testFraction: 0.25, seed: 7 },
    );
    train = parts.train!;
    test = parts.test!;
  });
  afterEach(() => p.close());

  const accuracy = async (model: PortValue | undefined, target: string) => {
    const scored = await p.run(predict, { model, data: test }, {});
    const rows = (await p.rows(scored.out)).filter((r) => r[target] !== null);
    return rows.filter((r) => r.label === r[target]).length / rows.length;
  };

  it("classifies penguin species", async () => {
    const out = await p.run(trainForest, { train }, { trees: 50, target: "species", seed: 7 });
    const model = modelOf(out.model);
    expect(model).toMatchObject({
      estimator: "forest",
      task: "multiclass",
      classes: ["Adelie", "Chinstrap", "Gentoo"],
    });
    expect(p.progress.at(-1)?.fraction).toBe(1);
    const acc = await accuracy(out.model, "species");
    console.log(`forest species: test accuracy ${acc.toFixed(3)}`);
    expect(acc).toBeGreaterThanOrEqual(0.9);
  });

  it("classifies sex (binary)", async () => {
    const out = await p.run(trainForest, { train }, { trees: 50, target: "sex", seed: 7 });
    expect(modelOf(out.model)).toMatchObject({ task: "binary", classes: ["FEMALE", "MALE"] });
    const acc = await accuracy(out.model, "sex");
    console.log(`forest sex: test accuracy ${acc.toFixed(3)}`);
    expect(acc).toBeGreaterThanOrEqual(0.75);
  });

  it("regresses body mass", async () => {
    const out = await p.run(
      trainForest,
      { train },
      { trees: 50, target: "body_mass_g", minSamplesLeaf: 5, seed: 7 },
    );
    expect(modelOf(out.model).task).toBe("regression");
    const scored = await p.run(predict, { model: out.model, data: test }, {});
    const rows = (await p.rows(scored.out)).filter((r) => r.body_mass_g !== null);
    const rmse = Math.sqrt(
      rows.reduce((s, r) => s + ((r.prediction as number) - (r.body_mass_g as number)) ** 2, 0) / rows.length,
    );
    console.log(`forest body_mass_g: test RMSE ${rmse.toFixed(0)} g`);
    expect(rmse).toBeLessThan(450);
  });

  it("gives the same model for the same seed", async () => {
    const a = await p.run(trainForest, { train }, { trees: 50, target: "species", seed: 3 });
    const b = await p.run(trainForest, { train }, { trees: 50, target: "species", seed: 3 });
    expect(a.model?.fingerprint).toBe(b.model?.fingerprint);
  });

  it("stops quickly when cancelled mid-way, with no model", async () => {
    const big = await p.table(
      "big",
      "SELECT random() AS a, random() AS b, random() AS c, (range % 97)::VARCHAR AS g, random() AS y FROM range(300000)",
    );
    const controller = new AbortController();
    const run = p.run(
      trainForest,
      { train: big },
      { trees: 500, target: "y", maxDepth: 30 },
      controller.signal,
    );
    while (p.progress.length === 0) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 50));
    controller.abort();
    await expect(run).rejects.toThrow(/Training was cancelled/);
  });
});
