// The steps of one Argo workflow record into ONE run: each node a separate `dagwood step` process with
// the workflow's name as --run-id and Argo's environment (ARGO_WORKFLOW_NAME, ARGO_POD_NAME), all on one
// store (the project's SQLite file here; app/step/workflow-run-pg.test.ts on PostgreSQL), then the exit
// handler's `dagwood step --finish-run` with the workflow's status. Read back through `dagwood runs`.
import { existsSync } from "node:fs";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail } from "../api/api";
import type { RunPage } from "../store/types";
import { dagwood, makeProject, runAsWorkflow } from "./testing";

const STARTER = join(import.meta.dirname, "..", "..", "resources", "examples", "starter");

const recipe = (pipeline: string) => ({
  pipeline: join(STARTER, pipeline),
  files: {
    "data/penguins.csv": join(STARTER, "data", "penguins.csv"),
    expectations: join(STARTER, "expectations"),
  },
});

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "dagwood-wfrun-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function show(projectDir: string, runId: string): Promise<RunDetail> {
  const r = await dagwood(["runs", "show", runId, "--project", projectDir, "--json"]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as RunDetail;
}

async function list(projectDir: string): Promise<RunPage> {
  const r = await dagwood(["runs", "list", "--project", projectDir, "--json"]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as RunPage;
}

function finish(pipeline: string, projectDir: string, runId: string, status: string, ...more: string[]) {
  return dagwood(
    [
      "step",
      pipeline,
      "--project",
      projectDir,
      "--finish-run",
      "--run-id",
      runId,
      "--status",
      status,
      ...more,
    ],
    { ...process.env, ARGO_WORKFLOW_NAME: runId },
  );
}

describe("the steps of one workflow, one run", () => {
  it("penguins-model.dag.json: every node's run, metrics and pod in one run, finished by the exit handler", async () => {
    const projectDir = join(work, "ok", "project");
    const pipeline = await makeProject(projectDir, recipe("penguins-model.dag.json"));
    const wf = "penguins-model-x7k2p";
    const steps = await runAsWorkflow(join(work, "ok"), projectDir, pipeline, wf);
    for (const id of steps.order) expect(steps.codes[id], `${id}: ${steps.results[id]?.error}`).toBe(0);

    // No step finished the run: each ran one node of it. (On one machine a reader judges the run by the
    // process that started it, the first step, long gone: "interrupted" until the exit handler ends it;
    // pods have host names of their own, so on a cluster it stays "running".)
    const before = await show(projectDir, wf);
    expect(["running", "interrupted"]).toContain(before.run.status);

    const done = await finish(pipeline, projectDir, wf, "Succeeded");
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toMatch(new RegExp(`Run ${wf}: succeeded; nodes: ${steps.order.length} ran`));

    const page = await list(projectDir);
    expect(page.runs.map((r) => r.id)).toEqual([wf]);
    const d = await show(projectDir, wf);
    expect(d.run.status).toBe("succeeded");
    expect(d.run.error).toBeNull();
    expect(d.run.finishedAt).not.toBeNull();
    expect(Date.parse(d.run.finishedAt!)).toBeGreaterThanOrEqual(Date.parse(d.run.startedAt));
    // Every node once, as it ran.
    expect(d.nodes.map((n) => n.nodeId).sort()).toEqual([...steps.order].sort());
    for (const n of d.nodes) expect(n.status, n.nodeId).toBe("ran");
    // Each node's pod, the workflow and its status as tags.
    const pods = Object.fromEntries(
      steps.order.map((id) => [`argo.pod.${id}`, `${wf}-${id.replace(/_/g, "-")}-1234`]),
    );
    expect(d.run.tags).toEqual({ "argo.workflow": wf, "argo.status": "Succeeded", ...pods });
    // Each step's metrics (as its result.json reports them) are the run's, under its node.
    for (const id of steps.order) {
      const recorded = d.metrics
        .filter((m) => m.nodeId === id)
        .map((m) => [m.name, m.step, m.value])
        .sort();
      const reported = steps.results[id]!.metrics.map((m) => [m.name, m.step ?? null, m.value]).sort();
      expect(recorded, id).toEqual(reported);
    }
    // The whole pipeline's params, as the first step recorded them (not only its own node's).
    for (const id of ["split", "gbdt", "forest", "mlp", "tree"])
      expect(d.resolvedParams[`${id}.seed`], id).toBe(7);
    // The trainers' model files are the run's artifacts, and the version registered names the run.
    expect(
      d.artifacts
        .filter((a) => a.kind === "model.onnx")
        .map((a) => a.nodeId)
        .sort(),
    ).toEqual(["forest", "gbdt", "logistic", "mlp", "tree"]);
    const v = await dagwood(["models", "show", "penguins-classifier:1", "--project", projectDir, "--json"]);
    expect(v.code, v.stderr).toBe(0);
    // Its lineage names the trainer, a node of another step of the same run.
    const registered = JSON.parse(v.stdout) as { version: number; runId: string; nodeId: string };
    expect(registered).toMatchObject({ version: 1, runId: wf });
    expect(["forest", "gbdt", "logistic", "mlp", "tree"]).toContain(registered.nodeId);
  }, 300_000);

  it("a failing node fails the run, naming it and the nodes it kept from running; a retried step counts by its last attempt", async () => {
    const projectDir = join(work, "fail", "project");
    const pipeline = await makeProject(projectDir, recipe("penguins.dag.json"));
    await rm(join(projectDir, "data", "penguins.csv"));
    const wf = "penguins-f00ba";
    const steps = await runAsWorkflow(join(work, "fail"), projectDir, pipeline, wf);
    expect(steps.codes.penguins).toBe(1);
    expect(steps.results.penguins!.status).toBe("failed");
    expect(Object.keys(steps.codes)).toEqual(["penguins"]);

    const done = await finish(pipeline, projectDir, wf, "Failed");
    expect(done.code, done.stderr).toBe(0);
    const d = await show(projectDir, wf);
    expect(d.run.status).toBe("failed");
    expect(d.run.error).toMatch(
      new RegExp(`^Argo workflow ${wf} ended Failed: node "penguins" failed: .*penguins\\.csv`),
    );
    expect(d.run.error).toMatch(/no record of "clean", "profile", "split"$/);
    expect(d.run.tags["argo.status"]).toBe("Failed");

    // The same workflow retried from the failed node (argo retry) once the file is back: its last attempt ran.
    await cp(join(STARTER, "data", "penguins.csv"), join(projectDir, "data", "penguins.csv"));
    const again = await runAsWorkflow(join(work, "retry"), projectDir, pipeline, wf);
    for (const id of again.order) expect(again.codes[id], id).toBe(0);
    expect((await finish(pipeline, projectDir, wf, "Succeeded")).code).toBe(0);
    const d2 = await show(projectDir, wf);
    expect(d2.run.status).toBe("succeeded");
    expect(d2.run.error).toBeNull();
    expect(d2.nodes.filter((n) => n.nodeId === "penguins").map((n) => n.status)).toEqual(["failed", "ran"]);
    expect((await list(projectDir)).runs.map((r) => r.id)).toEqual([wf]);
  }, 300_000);

  it("records a workflow no step recorded (every pod failed to start) as failed, naming every node", async () => {
    const projectDir = join(work, "none", "project");
    const pipeline = await makeProject(projectDir, recipe("penguins.dag.json"));
    const r = await finish(
      pipeline,
      projectDir,
      "penguins-n0n3s",
      "Error",
      "--json",
      "--param",
      "testFraction=0.3",
    );
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ runId: "penguins-n0n3s", status: "failed", created: true });
    const d = await show(projectDir, "penguins-n0n3s");
    expect(d.run).toMatchObject({
      pipeline: "penguins",
      status: "failed",
      params: { seed: 7, testFraction: 0.3 },
    });
    // Every node's params, as submitted.
    expect(d.resolvedParams).toMatchObject({ "split.testFraction": 0.3, "split.seed": 7 });
    expect(d.run.error).toBe(
      'Argo workflow penguins-n0n3s ended Error: no record of "penguins", "clean", "profile", "split"',
    );
    expect(d.run.tags).toEqual({ "argo.workflow": "penguins-n0n3s", "argo.status": "Error" });
  }, 120_000);

  it("refuses to join or finish a run of another workflow of the same name (another uid)", async () => {
    const projectDir = join(work, "reuse", "project");
    const pipeline = await makeProject(projectDir, recipe("penguins.dag.json"));
    const wf = "penguins-r3use";
    const first = await runAsWorkflow(join(work, "reuse", "first"), projectDir, pipeline, wf, {
      ...process.env,
      ARGO_WORKFLOW_UID: "0b1c-first",
    });
    expect(Object.values(first.codes).every((c) => c === 0)).toBe(true);
    const env = { ...process.env, ARGO_WORKFLOW_NAME: wf, ARGO_WORKFLOW_UID: "9f8e-second" };
    const out = join(work, "reuse", "second");
    const step = await dagwood(
      ["step", pipeline, "--project", projectDir, "--node", "penguins", "--run-id", wf, "--outputs", out],
      env,
    );
    expect(step.code).toBe(2);
    const message =
      /Run "penguins-r3use" in the store belongs to another Argo workflow of that name \(uid 0b1c-first; this one's is 9f8e-second\)/;
    expect(step.stderr).toMatch(message);
    expect(JSON.parse(await readFile(join(out, "result.json"), "utf8"))).toMatchObject({ status: "refused" });
    const exit = await dagwood(
      ["step", pipeline, "--project", projectDir, "--finish-run", "--run-id", wf, "--status", "Succeeded"],
      env,
    );
    expect(exit.code).toBe(2);
    expect(exit.stderr).toMatch(message);
    // The first workflow's run is as its steps left it: its nodes once, its uid.
    const d = await show(projectDir, wf);
    expect(d.nodes.map((n) => n.nodeId).sort()).toEqual(["clean", "penguins", "profile", "split"]);
    expect(d.run.tags["argo.uid"]).toBe("0b1c-first");
    expect(d.run.status).not.toBe("succeeded");
  }, 120_000);

  it("fails a step and the exit handler with exit 1 (Argo retries them) when the team store is out of reach, journaling nothing", async () => {
    const projectDir = join(work, "down", "project");
    const pipeline = await makeProject(projectDir, recipe("penguins.dag.json"));
    // Port 1 on this machine: nothing listens there, the connection is refused at once.
    await writeFile(
      join(projectDir, "dagwood.json"),
      JSON.stringify({ store: { kind: "postgres", url: "postgres://dagwood@127.0.0.1:1/ml" } }),
    );
    const env = { ...process.env, ARGO_WORKFLOW_NAME: "penguins-d0wn1", DAGWOOD_STORE_PASSWORD: "pw-5e1d9a" };
    const out = join(work, "down", "out");
    const step = await dagwood(
      [
        "step",
        pipeline,
        "--project",
        projectDir,
        "--node",
        "penguins",
        "--run-id",
        "penguins-d0wn1",
        "--outputs",
        out,
      ],
      env,
    );
    expect(step.code).toBe(1);
    const result = JSON.parse(await readFile(join(out, "result.json"), "utf8"));
    expect(result).toMatchObject({ status: "failed" });
    expect(result.error).toMatch(/The team store at 127\.0\.0\.1:1 cannot be reached/);
    const exit = await dagwood(
      [
        "step",
        pipeline,
        "--project",
        projectDir,
        "--finish-run",
        "--run-id",
        "penguins-d0wn1",
        "--status",
        "Failed",
      ],
      env,
    );
    expect(exit.code).toBe(1);
    expect(exit.stderr).toMatch(/cannot be reached/);
    // A pod's journal would go with the pod: nothing is kept there, and the password is nowhere.
    expect(existsSync(join(projectDir, ".dagwood", "pending"))).toBe(false);
    for (const text of [step.stdout, step.stderr, exit.stdout, exit.stderr, JSON.stringify(result)])
      expect(text).not.toContain("pw-5e1d9a");
  }, 120_000);

  it("refuses a status Argo never gives, a bad run id, and node arguments with --finish-run (exit 2)", async () => {
    const projectDir = join(work, "bad", "project");
    const pipeline = await makeProject(projectDir, recipe("penguins.dag.json"));
    const status = await finish(pipeline, projectDir, "wf-1", "succeeded");
    expect(status.code).toBe(2);
    expect(status.stderr).toMatch(/--status "succeeded": .*Succeeded, Failed, Error/);
    const id = await finish(pipeline, projectDir, "../x", "Failed");
    expect(id.code).toBe(2);
    expect(id.stderr).toMatch(/--run-id "\.\.\/x": letters, digits/);
    const node = await finish(pipeline, projectDir, "wf-1", "Failed", "--node", "split");
    expect(node.code).toBe(2);
    expect(node.stderr).toMatch(/--finish-run ends a run; it takes no --node/);
    const noStatus = await dagwood([
      "step",
      pipeline,
      "--project",
      projectDir,
      "--finish-run",
      "--run-id",
      "wf-1",
    ]);
    expect(noStatus.code).toBe(2);
    expect(noStatus.stderr).toMatch(/--finish-run needs --status Succeeded\|Failed\|Error/);
    const stray = await dagwood([
      "step",
      pipeline,
      "--node",
      "split",
      "--outputs",
      join(work, "bad", "out"),
      "--status",
      "Failed",
    ]);
    expect(stray.code).toBe(2);
    expect(stray.stderr).toMatch(/--status goes with --finish-run/);
    // Nothing was recorded by the refusals.
    const none = await dagwood(["runs", "list", "--project", projectDir, "--json"]);
    expect(none.stderr).toMatch(/^No Dagwood runs in /);
  }, 120_000);
});
