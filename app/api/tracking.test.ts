import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog } from "../../nodes/index";
import { SqliteMetadataStore } from "../store/metadata";
import { PENGUINS_CSV, penguinTreePipeline } from "../tracking/testing";
import { ApiError } from "./api";
import { type CoreApi, createCoreApi } from "./core";
import { type HttpBridge, startHttpBridge } from "./http";

/** Trains a tree, evaluates it and registers it under `penguins` as challenger. */
const TREE_PIPELINE = penguinTreePipeline({ csvPath: "data/penguins.csv", testFraction: 0.25 });

/** Rejects with the ApiError's status, so a test can say `rejects.toMatchObject({ status: 404 })`. */
const statusOf = (p: Promise<unknown>) =>
  p.then(
    () => 200,
    (e) => (e instanceof ApiError ? e.status : `not an ApiError: ${e}`),
  );

describe("tracking and registry through the Api", () => {
  let dir: string;
  let api: CoreApi;
  let bridge: HttpBridge;
  const runIds: string[] = [];
  const previousUser = process.env.DAGWOOD_USER;

  beforeAll(async () => {
    process.env.DAGWOOD_USER = "ana";
    dir = mkdtempSync(join(tmpdir(), "dagwood-tracking-"));
    mkdirSync(join(dir, "data"));
    writeFileSync(join(dir, "data", "penguins.csv"), readFileSync(PENGUINS_CSV));
    writeFileSync(join(dir, "tree.dag.json"), JSON.stringify(TREE_PIPELINE));
    api = await createCoreApi({ catalog, projectDir: dir });
    bridge = await startHttpBridge({ api, staticDir: dir });
    const finished = new Map<string, string>();
    const waiters = new Map<string, () => void>();
    api.onEvent((e) => {
      if (e.type !== "run.finished") return;
      finished.set(e.runId, e.status);
      waiters.get(e.runId)?.();
    });
    for (const depth of [3, 2]) {
      // The previous run reports run.finished a moment before the Api lets the next one start.
      let runId = "";
      for (let tries = 0; !runId; tries++) {
        try {
          ({ runId } = await api.startRun({
            document: TREE_PIPELINE,
            path: "tree.dag.json",
            params: { depth },
          }));
        } catch (e) {
          if (!(e instanceof ApiError && e.status === 409) || tries > 100) throw e;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      if (!finished.has(runId)) await new Promise<void>((r) => waiters.set(runId, r));
      expect(finished.get(runId)).toBe("succeeded");
      runIds.push(runId);
    }
  }, 60_000);
  afterAll(async () => {
    await bridge?.close();
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
    if (previousUser === undefined) delete process.env.DAGWOOD_USER;
    else process.env.DAGWOOD_USER = previousUser;
  });

  it("searches runs by param and metric, sorts and pages", async () => {
    const all = await api.searchRuns({});
    expect(all.total).toBe(2);
    expect(all.paramKeys).toContain("tree.maxDepth");
    expect(all.metricKeys).toContain("evaluate.accuracy");
    const shallow = await api.searchRuns({
      where: [{ field: "param", key: "tree.maxDepth", op: "=", value: 2 }],
      paramKeys: ["tree.maxDepth"],
    });
    expect(shallow.runs.map((r) => r.id)).toEqual([runIds[1]]);
    expect(shallow.runs[0]!.resolvedParams).toEqual({ "tree.maxDepth": 2 });
    const byBrier = await api.searchRuns({ orderBy: { field: "metric", key: "evaluate.brier", desc: true } });
    const briers = byBrier.runs.map((r) => r.metrics["evaluate.brier"]!);
    expect(briers).toEqual([...briers].sort((a, b) => b - a));
    const page = await api.searchRuns({ limit: 1, offset: 1 });
    expect(page.runs).toHaveLength(1);
    expect(page.total).toBe(2);
    expect(await statusOf(api.searchRuns({ orderBy: { field: "metric" } }))).toBe(400);
    expect(await statusOf(api.searchRuns({ limit: 0 }))).toBe(400);
  });

  it("gets a run with its artifacts, datasets, params and pipeline; an unknown run is 404", async () => {
    const d = await api.getRun({ runId: runIds[0]! });
    expect(d.run.user).toBe("ana");
    expect(d.resolvedParams["tree.maxDepth"]).toBe(3);
    expect(d.artifacts.map((a) => a.kind)).toEqual(expect.arrayContaining(["model.native", "model.onnx"]));
    expect(d.datasets).toEqual([
      expect.objectContaining({ nodeId: "penguins", source: "data/penguins.csv", rows: 344 }),
    ]);
    expect(d.datasets[0]!.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.parse(d.pipelineText!).name).toBe("penguin-tree");
    expect(d.trials).toEqual([]);
    const missing = await statusOf(api.getRun({ runId: "20990101T000000-000000" }));
    expect(missing).toBe(404);
  });

  it("compares runs: the differing params and nodes, metrics side by side, the pipeline to draw", async () => {
    const c = await api.compareRuns({ runIds: [runIds[0]!, runIds[1]!, runIds[0]!] });
    expect(c.runs.map((r) => r.id)).toEqual(runIds);
    expect(c.params.filter((p) => p.differs)).toEqual([
      { key: "tree.maxDepth", values: [3, 2], differs: true },
    ]);
    expect(c.differingNodes).toEqual(["tree"]);
    expect(c.metrics.find((m) => m.key === "evaluate.accuracy")!.values).toHaveLength(2);
    expect(c.pipeline).toMatchObject({ name: "penguin-tree", format: "dagwood.pipeline/1" });
    await expect(api.compareRuns({ runIds: [runIds[0]!, "nope-1"] })).rejects.toMatchObject({
      status: 404,
      message: expect.stringMatching(/No run nope-1/),
    });
    expect(await statusOf(api.compareRuns({ runIds: [] }))).toBe(400);
  });

  it("tags and notes runs", async () => {
    const tagged = await api.setRunTags({ runId: runIds[0]!, set: { owner: "ana", purpose: "baseline" } });
    expect(tagged.tags).toEqual({ owner: "ana", purpose: "baseline" });
    const untagged = await api.setRunTags({ runId: runIds[0]!, remove: ["purpose"] });
    expect(untagged.tags).toEqual({ owner: "ana" });
    const found = await api.searchRuns({ where: [{ field: "tag", key: "owner", op: "=", value: "ana" }] });
    expect(found.runs.map((r) => r.id)).toEqual([runIds[0]]);
    expect((await api.setRunNote({ runId: runIds[0]!, note: "depth 3 is enough" })).note).toBe(
      "depth 3 is enough",
    );
    expect((await api.setRunNote({ runId: runIds[0]!, note: "   " })).note).toBeNull();
    expect(await statusOf(api.setRunTags({ runId: "nope", set: { a: "b" } }))).toBe(404);
    expect(await statusOf(api.setRunNote({ runId: "nope", note: "x" }))).toBe(404);
  });

  it("lists models and versions, resolves aliases, and answers 404 for what does not exist", async () => {
    const models = await api.listModels({});
    expect(models).toEqual([expect.objectContaining({ name: "penguins", versions: 2, latestVersion: 2 })]);
    const detail = await api.getModel({ name: "penguins" });
    expect(detail.versions.map((v) => v.version)).toEqual([2, 1]);
    expect(detail.audit[0]!.action).toBe("alias.moved");
    const challenger = await api.getModelVersion({ name: "penguins", ref: "challenger" });
    expect(challenger.version).toBe(2);
    expect(challenger.runId).toBe(runIds[1]);
    expect(challenger.lineage.datasets[0]!.digest).toMatch(/^[0-9a-f]{64}$/);
    expect((await api.getModelVersion({ name: "penguins", ref: 1 })).runId).toBe(runIds[0]);
    await expect(api.getModelVersion({ name: "penguins", ref: "prod" })).rejects.toMatchObject({
      status: 404,
      message: 'Model "penguins" has no alias "prod" (its aliases: challenger).',
    });
    await expect(api.getModelVersion({ name: "penguins", ref: 9 })).rejects.toMatchObject({
      status: 404,
      message: 'Model "penguins" has no version 9 (its latest is v2).',
    });
    expect(await statusOf(api.getModel({ name: "nope" }))).toBe(404);
    expect(await statusOf(api.updateModel({ name: "nope", description: "x" }))).toBe(404);
    const updated = await api.updateModel({
      name: "penguins",
      description: "Species from measurements",
      owner: "ana",
    });
    expect(updated).toMatchObject({ description: "Species from measurements", owner: "ana" });
  });

  it("moves aliases with an audit trail, refuses missing and archived versions", async () => {
    const set = await api.setAlias({ name: "penguins", alias: "champion", version: 1 });
    expect(set).toMatchObject({ action: "alias.set", actor: "ana", model: "penguins", version: 1 });
    const moved = await api.setAlias({ name: "penguins", alias: "champion", version: 2 });
    expect(moved).toMatchObject({
      action: "alias.moved",
      details: expect.objectContaining({ alias: "champion", from: 1, to: 2 }),
    });
    expect(await statusOf(api.setAlias({ name: "penguins", alias: "champion", version: 7 }))).toBe(404);
    expect(await statusOf(api.setAlias({ name: "nope", alias: "champion", version: 1 }))).toBe(404);
    expect(await statusOf(api.removeAlias({ name: "penguins", alias: "prod" }))).toBe(404);
    const removed = await api.removeAlias({ name: "penguins", alias: "champion" });
    expect(removed.action).toBe("alias.removed");
    expect((await api.getModel({ name: "penguins" })).model.aliases).toEqual({ challenger: 2 });

    await api.setAlias({ name: "penguins", alias: "old", version: 1 });
    const archived = await api.archiveVersion({ name: "penguins", version: 1 });
    expect(archived.action).toBe("version.archived");
    expect((await api.getModelVersion({ name: "penguins", ref: 1 })).status).toBe("archived");
    expect((await api.getModel({ name: "penguins" })).model.aliases).toEqual({ challenger: 2 });
    expect(await statusOf(api.archiveVersion({ name: "penguins", version: 1 }))).toBe(409);
    await expect(api.setAlias({ name: "penguins", alias: "champion", version: 1 })).rejects.toMatchObject({
      status: 409,
      message: expect.stringMatching(/archived/),
    });
    const log = await api.auditLog({ model: "penguins", limit: 3 });
    expect(log.map((e) => e.action)).toEqual(["version.archived", "alias.set", "alias.removed"]);
    expect(await statusOf(api.auditLog({ model: "nope" }))).toBe(404);
  });

  it("draws the lineage graph, deployments included", async () => {
    // A deployment as the deploy block records it: an audit entry.
    const store = new SqliteMetadataStore(join(dir, ".dagwood", "metadata.sqlite"), { projectDir: dir });
    try {
      store.registry.appendAudit({
        actor: "ana",
        action: "deployment.succeeded",
        model: "penguins",
        version: 2,
        details: { target: "local" },
      });
    } finally {
      store.close();
    }
    const g = await api.lineageGraph({ model: "penguins" });
    const byKind = (k: string) => g.nodes.filter((n) => n.kind === k);
    expect(byKind("dataset")).toHaveLength(1);
    expect(
      byKind("run")
        .map((n) => n.id)
        .sort(),
    ).toEqual(runIds.map((id) => `run:${id}`).sort());
    expect(
      byKind("modelVersion")
        .map((n) => n.label)
        .sort(),
    ).toEqual(["penguins v1", "penguins v2"]);
    expect(byKind("deployment")).toEqual([expect.objectContaining({ label: "succeeded → local" })]);
    const dataset = byKind("dataset")[0]!.id;
    expect(g.edges).toEqual(
      expect.arrayContaining([
        { from: dataset, to: `run:${runIds[0]}` },
        { from: dataset, to: `run:${runIds[1]}` },
        { from: `run:${runIds[1]}`, to: "model:penguins:v2" },
        { from: "model:penguins:v2", to: byKind("deployment")[0]!.id },
      ]),
    );
    expect(g.edges).toHaveLength(5);
    expect(await statusOf(api.lineageGraph({ model: "nope" }))).toBe(404);
  });

  it("exports a model version and a run inside the project, refusing traversal and overwrites", async () => {
    const mv = await api.exportModelVersion({ name: "penguins", ref: "challenger" });
    expect(mv.dir).toBe("exports/penguins-v2");
    const v = await api.getModelVersion({ name: "penguins", ref: 2 });
    expect(readFileSync(join(dir, mv.dir, "model.onnx")).equals(readFileSync(join(dir, v.onnxPath)))).toBe(
      true,
    );
    const mlmodel = JSON.parse(readFileSync(join(dir, mv.dir, "MLmodel.json"), "utf8"));
    expect(mlmodel.flavors.onnx.opset).toBeGreaterThan(0);
    expect(JSON.parse(mlmodel.signature.inputs).map((s: { name: string }) => s.name)).toContain(
      "beak_length_mm",
    );
    expect(JSON.parse(readFileSync(join(dir, mv.dir, "signature.json"), "utf8"))).toEqual(v.signature);

    const run = await api.exportRun({ runId: runIds[0]!, dir: "out/baseline" });
    expect(run.files).toEqual(
      expect.arrayContaining([
        "run.json",
        "metrics.csv",
        "pipeline.dag.json",
        "artifacts/tree/model/model.onnx",
      ]),
    );
    expect(await statusOf(api.exportRun({ runId: runIds[0]!, dir: "out/baseline" }))).toBe(409);
    expect(await statusOf(api.exportRun({ runId: runIds[0]!, dir: "../escape" }))).toBe(403);
    expect(existsSync(join(dir, "..", "escape"))).toBe(false);
    expect(await statusOf(api.exportRun({ runId: "nope" }))).toBe(404);
    expect(await statusOf(api.exportModelVersion({ name: "penguins", ref: "prod" }))).toBe(404);
  });

  it("answers through HTTP with the same statuses: bad names 400, missing 404, conflicts 409, outside 403", async () => {
    const call = async (method: string, args: unknown) => {
      const res = await fetch(`${bridge.origin}/api/${method}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-dagwood-token": bridge.token },
        body: JSON.stringify(args),
      });
      return { status: res.status, body: (await res.json()) as { error?: string; result?: unknown } };
    };
    const badName = await call("getModel", { name: "../etc/passwd" });
    expect(badName.status).toBe(400);
    expect(badName.body.error).toMatch(/Invalid arguments for getModel: name: a model name/);
    expect((await call("setAlias", { name: "penguins", alias: "3", version: 2 })).status).toBe(400);
    expect((await call("setAlias", { name: "penguins", alias: "x", version: 0 })).status).toBe(400);
    const missing = await call("setAlias", { name: "penguins", alias: "champion", version: 99 });
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatch(/no version 99/);
    expect((await call("archiveVersion", { name: "penguins", version: 1 })).status).toBe(409);
    expect((await call("exportRun", { runId: runIds[0], dir: "/tmp" })).status).toBe(403);
    expect((await call("getRun", { runId: "nope" })).status).toBe(404);
    const ok = await call("setAlias", { name: "penguins", alias: "champion", version: 2 });
    expect(ok.status).toBe(200);
    expect(ok.body.result).toMatchObject({ action: "alias.set", actor: "ana" });
  });
});

describe("two runs started at once through the Api", () => {
  it("records both fully: status, params, metrics, node runs", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dagwood-concurrent-"));
    mkdirSync(join(dir, "data"));
    writeFileSync(join(dir, "data", "penguins.csv"), readFileSync(PENGUINS_CSV));
    const api = await createCoreApi({ catalog, projectDir: dir });
    try {
      const finished = new Map<string, string>();
      api.onEvent((e) => {
        if (e.type === "run.finished") finished.set(e.runId, e.status);
      });
      const other = {
        ...TREE_PIPELINE,
        name: "penguin-tree-b",
        nodes: TREE_PIPELINE.nodes.map((n) =>
          n.id === "register" ? { ...n, params: { name: "penguins-b", alias: "challenger" } } : n,
        ),
      };
      // Neither call waits for the other's run.
      const [a, b] = await Promise.all([
        api.startRun({ document: TREE_PIPELINE, params: { depth: 3 } }),
        api.startRun({ document: other, params: { depth: 2 } }),
      ]);
      expect(a.runId).not.toBe(b.runId);
      for (let i = 0; i < 600 && finished.size < 2; i++) await new Promise((r) => setTimeout(r, 50));
      expect(finished.get(a.runId)).toBe("succeeded");
      expect(finished.get(b.runId)).toBe("succeeded");
      for (const [id, pipeline, depth, model] of [
        [a.runId, "penguin-tree", 3, "penguins"],
        [b.runId, "penguin-tree-b", 2, "penguins-b"],
      ] as const) {
        const d = await api.getRun({ runId: id });
        expect(d.run).toMatchObject({ status: "succeeded", pipeline, params: { depth } });
        expect(d.resolvedParams["tree.maxDepth"]).toBe(depth);
        expect(d.nodes.map((n) => n.nodeId).sort()).toEqual([
          "evaluate",
          "penguins",
          "register",
          "split",
          "tree",
        ]);
        expect(d.metrics.some((m) => m.nodeId === "evaluate" && m.name === "accuracy")).toBe(true);
        expect(d.datasets).toHaveLength(1);
        expect((await api.getModel({ name: model })).versions[0]!.runId).toBe(id);
      }
    } finally {
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
