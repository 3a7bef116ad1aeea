/** Warnings on nodes and runs: counted per node, in all, and carried by the outputs a later run takes from the cache. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { ident } from "../data/sql";
import { validatePipelineText } from "../pipeline/validate";
import type { Project } from "../project/project";
import { BlockError, defineBlock, makeCatalog } from "./block";
import { runPlan } from "./engine";
import type { RunEvent } from "./events";
import { closeTempProject, openTempProject } from "./testing";

const warner = defineBlock({
  kind: "test.warner",
  version: 1,
  title: "Warner",
  category: "Test",
  description: "one row; logs `warnings` warnings and one info line; fails when asked",
  inputs: {},
  outputs: { out: { type: "table" } },
  params: z.object({
    warnings: z.number().int().default(0),
    fail: z.boolean().default(false),
    tag: z.string().default(""),
  }),
  async run(ctx, _inputs, p) {
    ctx.log("an info line is not a warning");
    ctx.log("a debug line is not a warning", "debug");
    for (let i = 1; i <= p.warnings; i++) ctx.log(`warning ${i} of ${p.warnings}${p.tag}`, "warn");
    if (p.fail) throw new BlockError("asked to fail");
    const out = ctx.newTable("out");
    await ctx.sql.run(`CREATE TABLE ${ident(out)} AS SELECT 1 AS i`);
    return { out: { type: "table", name: out } };
  },
});

const catalog = makeCatalog([warner]);

const pipeline = (nodes: { id: string; params: Record<string, unknown> }[]) =>
  JSON.stringify({
    format: "dagwood.pipeline/1",
    name: "warnings-test",
    params: {},
    nodes: nodes.map((n) => ({ ...n, block: "test.warner" })),
    edges: [],
  });

describe("run warnings", () => {
  let project: Project;
  let events: RunEvent[];
  beforeEach(async () => {
    ({ project } = await openTempProject("dagwood-warnings-"));
    events = [];
  });
  afterEach(() => closeTempProject(project));

  const run = (text: string) => {
    const { plan, problems } = validatePipelineText(text, catalog);
    expect(problems).toEqual([]);
    return runPlan({ project, plan: plan!, onEvent: (e) => events.push(e) });
  };
  const finished = () =>
    Object.fromEntries(
      events.flatMap((e) => (e.type === "node.finished" ? [[e.nodeId, e.warnings ?? 0] as const] : [])),
    );
  const runFinished = () =>
    events.find((e) => e.type === "run.finished") as Extract<RunEvent, { type: "run.finished" }>;

  it("counts warn-level messages per node and in all; info and debug lines do not count", async () => {
    const summary = await run(
      pipeline([
        { id: "two", params: { warnings: 2 } },
        { id: "none", params: {} },
        { id: "one", params: { warnings: 1 } },
      ]),
    );
    expect(summary.status).toBe("succeeded");
    expect(Object.fromEntries(summary.nodes.map((n) => [n.id, n.warnings]))).toEqual({
      two: 2,
      none: undefined,
      one: 1,
    });
    expect(summary.warnings).toBe(3);
    expect(finished()).toEqual({ two: 2, none: 0, one: 1 });
    expect(runFinished().warnings).toBe(3);
    expect(runFinished().status).toBe("succeeded");
  });

  it("a run without warnings says 0", async () => {
    const summary = await run(pipeline([{ id: "quiet", params: {} }]));
    expect(summary.warnings).toBe(0);
    expect(runFinished().warnings).toBe(0);
  });

  it("a failed node's warnings count too", async () => {
    const summary = await run(pipeline([{ id: "bad", params: { warnings: 1, fail: true } }]));
    expect(summary.status).toBe("failed");
    expect(summary.nodes[0]).toMatchObject({ id: "bad", status: "failed", warnings: 1 });
    expect(summary.warnings).toBe(1);
  });

  it("a cached node repeats the warnings of the run that computed its outputs, in its log and its count", async () => {
    const text = pipeline([
      { id: "two", params: { warnings: 2 } },
      { id: "none", params: {} },
    ]);
    const first = await run(text);
    events = [];
    const second = await run(text);
    expect(second.nodes.map((n) => n.status)).toEqual(["cached", "cached"]);
    expect(second.warnings).toBe(2);
    expect(finished()).toEqual({ two: 2, none: 0 });
    const logged = events.flatMap((e) =>
      e.type === "node.log" ? [`${e.nodeId} ${e.level} ${e.message}`] : [],
    );
    expect(logged).toEqual(["two warn (cached) warning 1 of 2", "two warn (cached) warning 2 of 2"]);
    // The record of the second run is whole: its log holds them too, and the first run's log is unchanged.
    const warnLogs = (runId: string) =>
      project.metadata
        .logs(runId)
        .filter((l) => l.level === "warn")
        .map((l) => `${l.nodeId} ${l.message}`);
    expect(warnLogs(second.runId)).toEqual(["two (cached) warning 1 of 2", "two (cached) warning 2 of 2"]);
    expect(warnLogs(first.runId)).toEqual(["two warning 1 of 2", "two warning 2 of 2"]);

    // A third run takes them from the run that computed the outputs, not from the second: no "(cached) (cached)".
    events = [];
    const third = await run(text);
    expect(third.warnings).toBe(2);
    expect(warnLogs(third.runId)).toEqual(["two (cached) warning 1 of 2", "two (cached) warning 2 of 2"]);
  });

  it("outputs computed again take the new run's warnings, not the old ones", async () => {
    await run(pipeline([{ id: "n", params: { warnings: 2 } }]));
    events = [];
    const again = await run(pipeline([{ id: "n", params: { warnings: 1, tag: " (new)" } }]));
    expect(again.nodes[0]).toMatchObject({ status: "ran", warnings: 1 });
    const logged = events.flatMap((e) => (e.type === "node.log" && e.level === "warn" ? [e.message] : []));
    expect(logged).toEqual(["warning 1 of 1 (new)"]);
  });
});
