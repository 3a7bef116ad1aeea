// The steps of one Argo workflow on a real PostgreSQL team store: each node a `dagwood step` process in a
// project folder of its own (as each pod has the project as the image holds it), sharing nothing but the
// store and the port folders; the exit handler in one more folder; the run read back from yet another
// (an analyst's machine) through `dagwood runs`.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail } from "../api/api";
import { startTestPostgres, TEST_PG_URL_ENV, type TestPostgres } from "../store/pg-testing";
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

let cluster: TestPostgres | undefined;
let url: string;
let work: string;
beforeAll(async () => {
  const fromRun = process.env[TEST_PG_URL_ENV];
  if (fromRun) url = fromRun;
  else {
    cluster = await startTestPostgres();
    url = cluster.url;
  }
  work = await mkdtemp(join(tmpdir(), "dagwood-wfrun-pg-"));
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
  await rm(work, { recursive: true, force: true });
});

/** A copy of the project whose dagwood.json names the team store (its own schema per test). */
async function podProject(dir: string, pipeline: string, schema: string): Promise<string> {
  await makeProject(dir, recipe(pipeline));
  await writeFile(
    join(dir, "dagwood.json"),
    `${JSON.stringify({ name: "team", dataFolders: [], store: { kind: "postgres", url, schema } })}\n`,
  );
  return dir;
}

async function cli(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = await dagwood(args, env);
  expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

describe("the steps of one workflow on a PostgreSQL team store", () => {
  it("record one run, every node's run, metrics and pod, finished by the exit handler", async () => {
    const schema = `wf_${randomBytes(5).toString("hex")}`;
    const file = "penguins-model.dag.json";
    const pipeline = join(STARTER, file);
    const wf = "penguins-model-pg7k2";
    const steps = await runAsWorkflow(
      join(work, "ok"),
      (node) => podProject(join(work, "ok", node, "project"), file, schema),
      pipeline,
      wf,
    );
    for (const id of steps.order) expect(steps.codes[id], `${id}: ${steps.results[id]?.error}`).toBe(0);

    const analyst = await podProject(join(work, "ok", "analyst"), file, schema);
    // No step ended the run. (Here every "pod" runs on this machine, so a reader judges the run by its first
    // step's process, gone: "interrupted" until the exit handler. Pods have host names of their own, and a
    // reader leaves another host's run as it is.)
    const before = JSON.parse(await cli(["runs", "show", wf, "--project", analyst, "--json"])) as RunDetail;
    expect(["running", "interrupted"]).toContain(before.run.status);

    const exitPod = await podProject(join(work, "ok", "exit"), file, schema);
    await cli(
      ["step", pipeline, "--project", exitPod, "--finish-run", "--run-id", wf, "--status", "Succeeded"],
      { ...process.env, ARGO_WORKFLOW_NAME: wf },
    );
    const page = JSON.parse(await cli(["runs", "list", "--project", analyst, "--json"])) as RunPage;
    expect(page.runs.map((r) => r.id)).toEqual([wf]);
    const d = JSON.parse(await cli(["runs", "show", wf, "--project", analyst, "--json"])) as RunDetail;
    expect(d.run.status).toBe("succeeded");
    expect(d.run.finishedAt).not.toBeNull();
    expect(d.run.error).toBeNull();
    expect(d.nodes.map((n) => n.nodeId).sort()).toEqual([...steps.order].sort());
    for (const n of d.nodes) expect(n.status, n.nodeId).toBe("ran");
    expect(d.run.tags).toEqual({
      "argo.workflow": wf,
      "argo.status": "Succeeded",
      ...Object.fromEntries(
        steps.order.map((id) => [`argo.pod.${id}`, `${wf}-${id.replace(/_/g, "-")}-1234`]),
      ),
    });
    for (const id of steps.order)
      expect(
        d.metrics
          .filter((m) => m.nodeId === id)
          .map((m) => [m.name, m.step, m.value])
          .sort(),
        id,
      ).toEqual(steps.results[id]!.metrics.map((m) => [m.name, m.step ?? null, m.value]).sort());
    // The registration went to the team registry: the analyst sees version 1, registered by this run.
    const v = JSON.parse(
      await cli(["models", "show", "penguins-classifier:1", "--project", analyst, "--json"]),
    ) as { version: number; runId: string };
    expect(v).toMatchObject({ version: 1, runId: wf });
  }, 400_000);

  it("a failing node fails the run, naming it", async () => {
    const schema = `wf_${randomBytes(5).toString("hex")}`;
    const file = "penguins.dag.json";
    const pipeline = join(STARTER, file);
    const wf = "penguins-pgf41l";
    const steps = await runAsWorkflow(
      join(work, "fail"),
      async (node) => {
        const dir = await podProject(join(work, "fail", node, "project"), file, schema);
        if (node === "penguins") await rm(join(dir, "data", "penguins.csv"));
        return dir;
      },
      pipeline,
      wf,
    );
    expect(steps.codes).toEqual({ penguins: 1 });
    const exitPod = await podProject(join(work, "fail", "exit"), file, schema);
    await cli(["step", pipeline, "--project", exitPod, "--finish-run", "--run-id", wf, "--status", "Failed"]);
    const d = JSON.parse(await cli(["runs", "show", wf, "--project", exitPod, "--json"])) as RunDetail;
    expect(d.run.status).toBe("failed");
    expect(d.run.error).toMatch(
      new RegExp(
        `^Argo workflow ${wf} ended Failed: node "penguins" failed: .*; no record of "clean", "profile", "split"$`,
      ),
    );
  }, 200_000);
});
