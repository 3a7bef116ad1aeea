import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { ident } from "../data/sql";
import { serializePipeline } from "../pipeline/canonical";
import { validatePipelineText } from "../pipeline/validate";
import type { Project } from "../project/project";
import { defineBlock, makeCatalog, requireTable } from "./block";
import { runPlan } from "./engine";
import { closeTempProject, openTempProject } from "./testing";

const sha = (bytes: string | Buffer) => createHash("sha256").update(bytes).digest("hex");

const read = defineBlock({
  kind: "t.read",
  version: 1,
  title: "Read",
  category: "Test",
  description: "a CSV, recorded as a dataset",
  inputs: {},
  outputs: { out: { type: "table" } },
  params: z.object({ path: z.string() }),
  externalFingerprint: (ctx, p) => ctx.hashFile(ctx.resolvePath(p.path)),
  async run(ctx, _i, p) {
    const out = ctx.newTable("out");
    const abs = ctx.resolvePath(p.path);
    await ctx.sql.run(`CREATE OR REPLACE TABLE ${ident(out)} AS SELECT * FROM read_csv(?)`, [abs]);
    ctx.dataset({ source: p.path, digest: await ctx.hashFile(abs), port: "out" });
    return { out: { type: "table", name: out } };
  },
});

const fit = defineBlock({
  kind: "t.fit",
  version: 1,
  title: "Fit",
  category: "Test",
  description: "a pretend model with an ONNX file, two tuning trials and a loss curve",
  inputs: { train: { type: "table" } },
  outputs: { model: { type: "model" } },
  params: z.object({
    opts: z.object({ depth: z.number(), inner: z.object({ x: z.number() }) }),
    layers: z.array(z.number()),
  }),
  async run(ctx, inputs, p) {
    const t = requireTable(inputs, "train");
    ctx.trial(0, { depth: 1 }, { cv_accuracy: 0.8, cv_accuracy_std: 0.02 });
    ctx.trial(1, { depth: p.opts.depth }, { cv_accuracy: 0.9, cv_accuracy_std: 0.01 });
    ctx.metric("loss", 0.5, 0);
    ctx.metric("loss", 0.25, 1);
    ctx.environment({ tfjsBackend: "cpu" });
    const onnx = join(await ctx.artifactDir(), "model.onnx");
    await writeFile(onnx, "onnx bytes");
    return {
      model: {
        type: "model",
        // The engine stores a value without reading it: a pretend model will do.
        data: { kind: "pretend", rows: t.rows, onnx: { file: relative(ctx.projectDir, onnx) } } as never,
      },
    };
  },
});

const score = defineBlock({
  kind: "t.score",
  version: 1,
  title: "Score",
  category: "Test",
  description: "a report, and the lineage of the model it was given",
  inputs: { model: { type: "model" }, data: { type: "table" } },
  outputs: { report: { type: "report" } },
  params: z.object({}),
  async run(ctx) {
    ctx.metric("accuracy", 0.875);
    const lineage = await ctx.lineage(ctx.upstream("model")!.node);
    return { report: { type: "report", data: { metrics: { accuracy: 0.875 }, lineage } as never } };
  },
});

const catalog = makeCatalog([read, fit, score]);

const PIPELINE = JSON.stringify({
  format: "dagwood.pipeline/1",
  name: "tracked",
  params: { depth: 3 },
  nodes: [
    { id: "read", block: "t.read", params: { path: "data.csv" } },
    { id: "fit", block: "t.fit", params: { opts: { depth: "${depth}", inner: { x: 1 } }, layers: [2, 3] } },
    { id: "score", block: "t.score", params: {} },
  ],
  edges: [
    { from: "read.out", to: "fit.train" },
    { from: "fit.model", to: "score.model" },
    { from: "read.out", to: "score.data" },
  ],
});

describe("the engine records what a run did", () => {
  let dir: string;
  let project: Project;
  const csv = "a,b\n1,x\n2,y\n3,z\n";

  beforeEach(async () => {
    vi.stubEnv("DAGWOOD_USER", "alice");
    ({ dir, project } = await openTempProject("dagwood-tracking-", { "data.csv": csv }));
  });
  afterEach(() => {
    vi.unstubAllEnvs();
    closeTempProject(project);
  });

  const run = async (text = PIPELINE) => {
    const { plan, problems } = validatePipelineText(text, catalog);
    expect(problems).toEqual([]);
    const summary = await runPlan({ project, plan: plan!, pipelinePath: join(dir, "tracked.dag.json") });
    return { summary, plan: plan! };
  };

  it("records the pipeline, its hash, who ran it, the resolved params and the environment", async () => {
    const { summary, plan } = await run();
    expect(summary.status).toBe("succeeded");
    const { metadata } = project;
    const record = metadata.getRun(summary.runId)!;
    const text = serializePipeline(plan.pipeline);
    expect(metadata.pipelineText(summary.runId)).toBe(text);
    expect(record).toMatchObject({
      pipeline: "tracked",
      pipelinePath: "tracked.dag.json",
      pipelineHash: sha(text),
      user: "alice",
      params: { depth: 3 },
      kind: "pipeline",
      parentRunId: null,
    });
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "../../package.json"), "utf8"));
    expect(record.environment).toMatchObject({
      dagwood: pkg.version,
      node: process.version,
      tfjsBackend: "cpu",
    });
    expect(record.environment.os).toContain(process.platform);
    expect(record.environment.duckdb).toMatch(/\d+\.\d+/);
    // Not a git repository: no commit is guessed.
    expect(record.environment).not.toHaveProperty("gitCommit");
    expect(metadata.resolvedParams(summary.runId)).toEqual({
      "read.path": "data.csv",
      "fit.opts.depth": 3,
      "fit.opts.inner.x": 1,
      "fit.layers": [2, 3],
    });
  });

  it("records inputs, artifacts, datasets, trials and lineage of the nodes that ran", async () => {
    const { summary } = await run();
    const { metadata } = project;
    const id = summary.runId;
    const out = (node: string, port: string) =>
      summary.nodes.find((n) => n.id === node)!.outputs[port]!.fingerprint;
    const nodes = metadata.nodeRuns(id);
    expect(nodes.find((n) => n.nodeId === "score")!.inputs).toEqual({
      model: { node: "fit", port: "model", fingerprint: out("fit", "model") },
      data: { node: "read", port: "out", fingerprint: out("read", "out") },
    });
    expect(nodes.find((n) => n.nodeId === "read")!.inputs).toEqual({});

    const artifacts = metadata.artifacts(id);
    const byName = (node: string, name: string) =>
      artifacts.find((a) => a.nodeId === node && a.name === name)!;
    const native = byName("fit", "model/model.json");
    expect(native).toMatchObject({ kind: "model.native", path: `.dagwood/artifacts/${id}/fit/model.json` });
    const nativeBytes = readFileSync(join(dir, native.path));
    expect(JSON.parse(nativeBytes.toString())).toMatchObject({ kind: "pretend", rows: 3 });
    expect(native).toMatchObject({ bytes: nativeBytes.length, sha256: sha(nativeBytes) });
    expect(byName("fit", "model/model.onnx")).toMatchObject({
      kind: "model.onnx",
      path: `.dagwood/artifacts/${id}/fit/model.onnx`,
      bytes: 10,
      sha256: sha("onnx bytes"),
    });
    const report = byName("score", "report/report.json");
    expect(report.kind).toBe("report");
    expect(JSON.parse(readFileSync(join(dir, report.path), "utf8")).metrics).toEqual({ accuracy: 0.875 });
    expect(artifacts).toHaveLength(3);

    const schema = [
      { name: "a", type: "BIGINT" },
      { name: "b", type: "VARCHAR" },
    ];
    expect(metadata.datasets(id)).toMatchObject([
      {
        nodeId: "read",
        digest: sha(csv),
        source: "data.csv",
        rows: 3,
        schema,
        fingerprint: out("read", "out"),
      },
    ]);

    const trials = metadata.searchRuns({ parentRunId: id, includeChildren: true }).runs;
    expect(trials).toHaveLength(2);
    for (const t of trials) expect(t).toMatchObject({ kind: "trial", parentRunId: id });
    expect(
      trials.map((t) => t.metrics).sort((a, b) => a["fit.cv_accuracy"]! - b["fit.cv_accuracy"]!),
    ).toEqual([
      { "fit.cv_accuracy": 0.8, "fit.cv_accuracy_std": 0.02 },
      { "fit.cv_accuracy": 0.9, "fit.cv_accuracy_std": 0.01 },
    ]);

    // The model's lineage: the data read upstream, the params of fit and its ancestors only.
    const reportData = JSON.parse(readFileSync(join(dir, report.path), "utf8")).lineage;
    expect(reportData).toMatchObject({
      run: { id, pipeline: "tracked", pipelinePath: "tracked.dag.json", user: "alice" },
      nodeId: "fit",
      datasets: [{ digest: sha(csv), source: "data.csv", rows: 3 }],
      params: { "read.path": "data.csv", "fit.opts.depth": 3, "fit.opts.inner.x": 1, "fit.layers": [2, 3] },
      environment: { tfjsBackend: "cpu" },
    });
    expect(Object.keys(reportData.params).some((k) => k.startsWith("score."))).toBe(false);
  });

  it("gives a cached run the metrics, datasets and artifacts of the run that computed its nodes", async () => {
    const first = (await run()).summary;
    const second = (await run()).summary;
    expect(second.nodes.map((n) => n.status)).toEqual(["cached", "cached", "cached"]);
    const { metadata } = project;
    const strip = <T extends { runId: string; ts?: string }>(xs: T[]) =>
      xs.map(({ runId: _r, ts: _t, ...rest }) => rest);
    expect(strip(metadata.metrics(second.runId))).toEqual(strip(metadata.metrics(first.runId)));
    expect(
      metadata
        .metrics(second.runId)
        .filter((m) => m.name === "loss")
        .map((m) => m.step),
    ).toEqual([0, 1]);
    expect(metadata.datasets(second.runId)).toEqual(metadata.datasets(first.runId));
    expect(strip(metadata.artifacts(second.runId))).toEqual(strip(metadata.artifacts(first.runId)));
    expect(second.metrics.map((m) => `${m.node}.${m.name}`).sort()).toEqual([
      "fit.loss",
      "fit.loss",
      "score.accuracy",
    ]);
    // A cached run records its own inputs too.
    expect(metadata.nodeRuns(second.runId).find((n) => n.nodeId === "score")!.inputs.model!.node).toBe("fit");
  });

  it("records the project's git commit, and whether the tree has changes", async () => {
    const git = (...args: string[]) =>
      execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], {
        cwd: dir,
        encoding: "utf8",
      });
    try {
      git("init", "-q");
    } catch {
      return; // no git here: nothing to record, as the first test checks
    }
    writeFileSync(join(dir, ".gitignore"), ".dagwood/\n");
    git("add", ".");
    git("commit", "-q", "-m", "data");
    const head = git("rev-parse", "HEAD").trim();
    const clean = (await run()).summary;
    expect(project.metadata.getRun(clean.runId)!.environment).toMatchObject({
      gitCommit: head,
      gitDirty: false,
    });
    writeFileSync(join(dir, "data.csv"), `${csv}4,w\n`);
    const dirty = (await run()).summary;
    expect(project.metadata.getRun(dirty.runId)!.environment).toMatchObject({
      gitCommit: head,
      gitDirty: true,
    });
  });
});

describe("metric logging", () => {
  let project: Project;
  beforeEach(async () => {
    ({ project } = await openTempProject("dagwood-metrics-"));
  });
  afterEach(() => closeTempProject(project));

  const POINTS = 10_000;
  const curve = defineBlock({
    kind: "t.curve",
    version: 1,
    title: "Curve",
    category: "Test",
    description: "a long training curve, then maybe a failure",
    inputs: {},
    outputs: { report: { type: "report" } },
    params: z.object({ fail: z.boolean().default(false) }),
    async run(ctx, _i, p) {
      for (let i = 0; i < POINTS; i++) ctx.metric("loss", 1 / (i + 1), i);
      ctx.metric("nan", Number.NaN);
      if (p.fail) throw new Error("diverged");
      return { report: { type: "report", data: {} as never } };
    },
  });
  const after = defineBlock({
    kind: "t.after",
    version: 1,
    title: "After",
    category: "Test",
    description: "one point after the curve",
    inputs: { report: { type: "report" } },
    outputs: { report: { type: "report" } },
    params: z.object({}),
    async run(ctx) {
      ctx.metric("done", 1);
      return { report: { type: "report", data: { done: true } as never } };
    },
  });
  const pipeline = (fail: boolean) =>
    JSON.stringify({
      format: "dagwood.pipeline/1",
      name: "curve",
      params: {},
      nodes: [
        { id: "curve", block: "t.curve", params: { fail } },
        { id: "after", block: "t.after", params: {} },
      ],
      edges: [{ from: "curve.report", to: "after.report" }],
    });

  it("writes a node's points in batches, all in the store when its node.finished fires, events at once", async () => {
    const { plan } = validatePipelineText(pipeline(false), makeCatalog([curve, after]));
    const { metadata } = project;
    const one = vi.spyOn(metadata, "logMetric");
    const batch = vi.spyOn(metadata, "logMetrics");
    const storedAtFinish = new Map<string, number>();
    let metricEvents = 0;
    const summary = await runPlan({
      project,
      plan: plan!,
      onEvent: (e) => {
        if (e.type === "node.metric") metricEvents++;
        if (e.type === "node.finished")
          storedAtFinish.set(e.nodeId, metadata.metrics(e.runId).filter((m) => m.nodeId === e.nodeId).length);
      },
    });
    expect(summary.status).toBe("succeeded");
    expect(metricEvents).toBe(POINTS + 2);
    expect(storedAtFinish.get("curve")).toBe(POINTS + 1);
    expect(storedAtFinish.get("after")).toBe(1);
    // Not one transaction per point: a handful of batches.
    expect(one).not.toHaveBeenCalled();
    expect(batch.mock.calls.length).toBeGreaterThan(0);
    expect(batch.mock.calls.length).toBeLessThan(30);
    const stored = metadata.metrics(summary.runId);
    expect(stored).toHaveLength(POINTS + 2);
    expect(Number.isNaN(stored.find((m) => m.name === "nan")!.value)).toBe(true);
    expect(stored.filter((m) => m.name === "loss").map((m) => m.step)).toEqual(
      Array.from({ length: POINTS }, (_, i) => i),
    );
  });

  it("keeps the points a failed node logged before it failed", async () => {
    const { plan } = validatePipelineText(pipeline(true), makeCatalog([curve, after]));
    const summary = await runPlan({ project, plan: plan! });
    expect(summary.status).toBe("failed");
    expect(summary.nodes.map((n) => [n.id, n.status])).toEqual([
      ["curve", "failed"],
      ["after", "skipped"],
    ]);
    expect(project.metadata.metrics(summary.runId)).toHaveLength(POINTS + 1);
    expect(project.metadata.getRun(summary.runId)!.status).toBe("failed");
  });
});
