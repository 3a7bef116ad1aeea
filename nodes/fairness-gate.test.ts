/**
 * A gate fails a run on equalized odds, end to end: penguins' sex predicted
 * from body measurements, evaluated by island, gated on the evaluate
 * report's equalized_odds_difference, the model registered only when it passes.
 */
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runPlan } from "../app/engine/engine";
import { closeTempProject, openTempProject, PENGUINS_CSV } from "../app/engine/testing";
import { validatePipelineText } from "../app/pipeline/validate";
import { catalog } from "./index";

const pipeline = (gate: { op: string; threshold: number }, evaluate: Record<string, unknown> = {}) =>
  JSON.stringify({
    format: "dagwood.pipeline/1",
    name: "fair-penguins",
    params: {},
    nodes: [
      { id: "penguins", block: "ingest.file", params: { path: "data/penguins.csv" } },
      {
        id: "sexed",
        block: "transform.sql",
        params: { query: "SELECT * FROM input WHERE sex IN ('MALE', 'FEMALE')" },
      },
      { id: "split", block: "split", params: { testFraction: 0.3, seed: 3 } },
      { id: "gbdt", block: "train.gbdt", params: { target: "sex", seed: 3, trees: 30 } },
      {
        id: "eval",
        block: "evaluate",
        params: { groupBy: ["island"], minGroupSize: 10, bootstrapResamples: 200, ...evaluate },
      },
      { id: "gate", block: "gate", params: { metric: "equalized_odds_difference", ...gate } },
      { id: "register", block: "register", params: { name: "fair-penguins" } },
    ],
    edges: [
      { from: "penguins.out", to: "sexed.in" },
      { from: "sexed.out", to: "split.in" },
      { from: "split.train", to: "gbdt.train" },
      { from: "gbdt.model", to: "eval.model" },
      { from: "split.test", to: "eval.data" },
      { from: "eval.report", to: "gate.report" },
      { from: "gate.report", to: "register.report" },
      { from: "gbdt.model", to: "register.model" },
    ],
  });

describe("gate on equalized odds in a pipeline", () => {
  it("fails the run when equalized_odds_difference is above the threshold, and passes it below", async () => {
    const { dir, project } = await openTempProject("dagwood-fair-gate-");
    try {
      mkdirSync(join(dir, "data"));
      copyFileSync(PENGUINS_CSV, join(dir, "data", "penguins.csv"));

      const strict = validatePipelineText(pipeline({ op: "<=", threshold: 0.001 }), catalog);
      expect(strict.problems).toEqual([]);
      const failed = await runPlan({ project, plan: strict.plan! });
      expect(failed.status).toBe("failed");
      const byId = Object.fromEntries(failed.nodes.map((n) => [n.id, n]));
      expect(byId.eval).toMatchObject({ status: "ran" });
      expect(byId.gate).toMatchObject({ status: "failed" });
      const message = byId.gate!.error!;
      expect(message).toMatch(/Gate failed: equalized_odds_difference ([0-9.]+) is not <= 0\.001$/);
      const value = Number(/equalized_odds_difference ([0-9.]+)/.exec(message)![1]);
      expect(value).toBeGreaterThan(0.001);
      expect(byId.register).toMatchObject({ status: "skipped" });
      expect(project.metadata.registry.getVersion("fair-penguins", 1)).toBeUndefined();

      // The same pipeline with a threshold above the gap: the run succeeds and the model is registered.
      const loose = validatePipelineText(pipeline({ op: "<=", threshold: 0.99 }), catalog);
      const passed = await runPlan({ project, plan: loose.plan! });
      expect(passed.status).toBe("succeeded");
      expect(Object.fromEntries(passed.nodes.map((n) => [n.id, n.status]))).toMatchObject({
        eval: "cached",
        gate: "ran",
        register: "ran",
      });
      expect(project.metadata.registry.getVersion("fair-penguins", 1)).toBeDefined();

      // The ratio reads the other way: a gate on equalized_odds_ratio >= 1 fails the same model.
      const ratio = validatePipelineText(
        pipeline({ op: ">=", threshold: 1 }).replace('"equalized_odds_difference"', '"equalized_odds_ratio"'),
        catalog,
      );
      const low = await runPlan({ project, plan: ratio.plan! });
      expect(low.status).toBe("failed");
      expect(low.nodes.find((n) => n.id === "gate")?.error).toMatch(
        /Gate failed: equalized_odds_ratio [0-9.]+ is not >= 1$/,
      );

      // Too-small groups everywhere: the gap is undefined, and the gate refuses to pass on it.
      const tiny = validatePipelineText(
        pipeline({ op: "<=", threshold: 0.99 }, { minGroupSize: 1000 }),
        catalog,
      );
      const undefinedGap = await runPlan({ project, plan: tiny.plan! });
      expect(undefinedGap.status).toBe("failed");
      expect(undefinedGap.nodes.find((n) => n.id === "gate")?.error).toMatch(
        /Gate failed: equalized_odds_difference is undefined for this data \(null\)/,
      );
    } finally {
      closeTempProject(project);
    }
  });
});
