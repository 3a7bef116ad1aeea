import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runPlan } from "../app/engine/engine";
import type { RunEvent } from "../app/engine/events";
import { PENGUINS_CSV } from "../app/engine/testing";
import { validatePipelineText } from "../app/pipeline/validate";
import { Project } from "../app/project/project";
import { catalog } from "./index";

describe("register to a deprecated model", () => {
  let dir: string;
  let project: Project;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-register-gov-"));
    mkdirSync(join(dir, "data"));
    copyFileSync(PENGUINS_CSV, join(dir, "data", "penguins.csv"));
    project = await Project.open(dir, { threads: 2 });
  });
  afterEach(() => {
    project.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const text = JSON.stringify({
    format: "dagwood.pipeline/1",
    name: "penguins",
    nodes: [
      { id: "penguins", block: "ingest.file", params: { path: "data/penguins.csv" } },
      { id: "tree", block: "train.tree", params: { target: "species", maxDepth: 2 } },
      { id: "register", block: "register", params: { name: "penguins-classifier" } },
    ],
    edges: [
      { from: "penguins.out", to: "tree.train" },
      { from: "tree.model", to: "register.model" },
    ],
  });
  const run = async () => {
    const { plan, problems } = validatePipelineText(text, catalog);
    expect(problems).toEqual([]);
    const warnings: string[] = [];
    const summary = await runPlan({
      project,
      plan: plan!,
      onEvent: (e: RunEvent) => {
        if (e.type === "node.log" && e.level === "warn" && e.nodeId === "register") warnings.push(e.message);
      },
    });
    expect(summary.status).toBe("succeeded");
    return { register: summary.nodes.find((n) => n.id === "register")!, warnings };
  };

  it("warns on the node naming the replacement (not an error); deprecating it re-runs the node; lifting it brings back the outputs without", async () => {
    const { registry } = project.metadata;
    const first = await run();
    expect(first.register).toMatchObject({ status: "ran" });
    expect(first.warnings).toEqual([]);

    registry.upsertModel(
      "penguins-classifier",
      { deprecated: { reason: "Trained on too few rows", replacement: "penguins-v2", since: "2026-12-01" } },
      "ana",
    );
    const deprecated = await run();
    // The registry changed under the cached node: it runs again, finds the same model (v1), and warns.
    expect(deprecated.register).toMatchObject({ status: "ran", warnings: 1 });
    expect(deprecated.warnings).toEqual([
      'Model "penguins-classifier" is deprecated (since 2026-12-01): Trained on too few rows. Use penguins-v2 instead. (v1 was registered to it all the same.)',
    ]);
    expect(registry.listVersions("penguins-classifier")).toHaveLength(1);

    // Cached while it stays deprecated: the warning comes with the cached outputs.
    const again = await run();
    expect(again.register).toMatchObject({ status: "cached", warnings: 1 });
    expect(again.warnings).toEqual([`(cached) ${deprecated.warnings[0]}`]);

    registry.upsertModel("penguins-classifier", { deprecated: null }, "ana");
    // Lifted: the registry is as it was at the first run, whose outputs (without a warning) serve again.
    const lifted = await run();
    expect(lifted.register).toMatchObject({ status: "cached" });
    expect(lifted.register.warnings).toBeUndefined();
    expect(lifted.warnings).toEqual([]);
  });
});
