import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { ident } from "../data/sql";
import { validatePipelineText } from "../pipeline/validate";
import type { Project } from "../project/project";
import { defineBlock, makeCatalog } from "./block";
import { runPlan } from "./engine";
import type { RunEvent } from "./events";
import { closeTempProject, openTempProject } from "./testing";

const values = defineBlock({
  kind: "test.values",
  version: 1,
  title: "Values",
  category: "Test",
  description: "three rows",
  inputs: {},
  outputs: { out: { type: "table" } },
  params: z.object({}),
  async run(ctx) {
    const out = ctx.newTable("out");
    await ctx.sql.run(`CREATE OR REPLACE TABLE ${ident(out)} AS SELECT range AS i FROM range(3)`);
    return { out: { type: "table", name: out } };
  },
});
const catalog = makeCatalog([values]);

describe("running a deprecated pipeline", () => {
  let project: Project;
  beforeEach(async () => {
    ({ project } = await openTempProject("dagwood-deprecated-"));
  });
  afterEach(() => closeTempProject(project));

  const run = async (governance: Record<string, unknown>) => {
    const text = JSON.stringify({
      format: "dagwood.pipeline/1",
      name: "penguins-old",
      ...governance,
      nodes: [{ id: "in", block: "test.values", params: {} }],
    });
    const { plan, problems } = validatePipelineText(text, catalog);
    expect(problems).toEqual([]);
    const events: RunEvent[] = [];
    const summary = await runPlan({ project, plan: plan!, onEvent: (e) => events.push(e) });
    return { summary, events };
  };

  it("warns in the run, naming the replacement: an event after run.started, the summary, the count, the record", async () => {
    const { summary, events } = await run({
      owner: "ana",
      deprecated: {
        reason: "Reads the 2023 extract.",
        replacement: "pipelines/penguins.dag.json",
        since: "2026-11-01",
      },
    });
    const message =
      'Pipeline "penguins-old" is deprecated (since 2026-11-01): Reads the 2023 extract. Use pipelines/penguins.dag.json instead.';
    expect(events.map((e) => e.type).slice(0, 2)).toEqual(["run.started", "run.warning"]);
    expect(events[1]).toEqual({ type: "run.warning", runId: summary.runId, message });
    expect(summary.status).toBe("succeeded");
    expect(summary.runWarnings).toEqual([message]);
    // The run's warnings count it with the nodes' (none here); run.finished says the same.
    expect(summary.warnings).toBe(1);
    expect(events.at(-1)).toMatchObject({ type: "run.finished", warnings: 1 });
    expect(project.metadata.logs(summary.runId)).toContainEqual({
      runId: summary.runId,
      nodeId: "",
      level: "warn",
      message,
    });
  });

  it("without a replacement, says to ask the owner; a pipeline not deprecated has no warning", async () => {
    const { summary } = await run({ deprecated: { reason: "unmaintained" } });
    expect(summary.runWarnings).toEqual([
      'Pipeline "penguins-old" is deprecated: unmaintained. It names no replacement: ask its owner what to use instead.',
    ]);
    const plain = await run({ owner: "ana", reviewBy: "2027-01-01" });
    expect(plain.summary.runWarnings).toBeUndefined();
    expect(plain.summary.warnings).toBe(0);
    expect(plain.events.some((e) => e.type === "run.warning")).toBe(false);
  });
});
