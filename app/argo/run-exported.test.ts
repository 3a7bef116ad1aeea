/**
 * The exported Workflow run as Argo runs it, without a cluster: the YAML read
 * back (PyYAML), the DAG's tasks started once their `depends` are done, each
 * task a "pod" of its own (a folder standing for the container's filesystem:
 * /project a fresh copy of the project, as the image holds it, /dagwood the
 * step's folders), the raw artifact written and each input artifact copied
 * from the producing task's output path, {{workflow.name}} and
 * {{workflow.parameters.*}} substituted (one overridden, as `argo submit -p`
 * does), the pod name through the downward API, then the container's command
 * run. Against `dagwood run` of the same pipeline with the same param.
 * With a team store (a real PostgreSQL): each container's Secret references
 * resolved from the namespace's Secrets (a missing one fails the pod, as
 * Kubernetes does), then the exit handler run with {{workflow.status}}, and the
 * one run read back from another machine's project.
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog } from "../../nodes/index";
import type { StepResult } from "../step/step";
import { dagwood, makeProject, type ProjectRecipe } from "../step/testing";
import { startTestPostgres, TEST_PG_URL_ENV } from "../store/pg-testing";
import { exportArgoFile } from "./export";
import { IMAGE_CLI, RESULT_ARTIFACT } from "./workflow";

const ROOT = join(import.meta.dirname, "..", "..");
const STARTER = join(ROOT, "resources", "examples", "starter");
const recipe: ProjectRecipe = {
  pipeline: join(STARTER, "penguins.dag.json"),
  files: { "data/penguins.csv": join(STARTER, "data", "penguins.csv") },
};

interface Artifact {
  name: string;
  path?: string;
  from?: string;
  raw?: { data: string };
}
interface DagTask {
  name: string;
  template: string;
  depends?: string;
  arguments?: { artifacts: Artifact[] };
}
interface Template {
  name: string;
  dag?: {
    tasks: DagTask[];
  };
  inputs?: { artifacts: Artifact[] };
  outputs?: { artifacts: Artifact[] };
  container?: {
    command: string[];
    args: string[];
    workingDir: string;
    env: {
      name: string;
      value?: string;
      valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string } };
    }[];
  };
}
interface Workflow {
  kind: string;
  spec: {
    entrypoint: string;
    onExit?: string;
    arguments: { parameters: { name: string; value: string }[] };
    templates: Template[];
  };
}

function readYaml(text: string): Workflow {
  const r = spawnSync(
    "/usr/bin/python3",
    ["-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))"],
    {
      input: text,
      encoding: "utf8",
    },
  );
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as Workflow;
}

function exec(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, "bin", "dagwood"), ...args], {
      cwd,
      env,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

interface Pods {
  /** Makes the pod's /project (default: a copy of the recipe's project). */
  project?: (dir: string) => Promise<void>;
  /** The namespace's Secrets: name → key → value, for secretKeyRef. */
  secrets?: Record<string, Record<string, string>>;
}

/**
 * Runs the Workflow's DAG, then its exit handler (spec.onExit) with {{workflow.status}} Succeeded, as
 * every task succeeded; answers each task's pod name and result.json, and the exit handler's env.
 */
async function runAsArgo(
  wf: Workflow,
  root: string,
  workflowName: string,
  overrides: Record<string, string>,
  pods: Pods = {},
) {
  const params = new Map(wf.spec.arguments.parameters.map((p) => [p.name, overrides[p.name] ?? p.value]));
  let status = "Running";
  const substitute = (s: string) => {
    const out = s
      .replaceAll("{{workflow.name}}", workflowName)
      .replaceAll("{{workflow.status}}", status)
      .replaceAll("{{workflow.uid}}", `uid-of-${workflowName}`)
      .replace(/\{\{workflow\.parameters\.([\w-]+)\}\}/g, (_, n: string) => {
        if (!params.has(n)) throw new Error(`unresolved workflow parameter ${n}`);
        return params.get(n)!;
      });
    if (out.includes("{{")) throw new Error(`Argo would fail on an unresolved expression: ${out}`);
    return out;
  };
  const produced = new Map<string, Map<string, string>>();
  /** One pod: its filesystem (a folder), its input artifacts, its container run, its output artifacts. */
  const runPod = async (template: Template, pod: string, task?: DagTask) => {
    const fs = join(root, pod);
    // The container's paths, inside this pod's folder.
    const at = (p: string) => (p.startsWith("/dagwood/") || p.startsWith("/project") ? join(fs, p) : p);
    if (pods.project) await pods.project(join(fs, "project"));
    else await makeProject(join(fs, "project"), recipe);
    for (const input of template.inputs?.artifacts ?? []) {
      const dest = at(input.path!);
      await mkdir(dirname(dest), { recursive: true });
      if (input.raw) {
        await writeFile(dest, input.raw.data);
        continue;
      }
      const arg = task?.arguments?.artifacts.find((a) => a.name === input.name);
      const [, producer, name] =
        /^\{\{tasks\.([^.]+)\.outputs\.artifacts\.(\w+)\}\}$/.exec(arg?.from ?? "") ?? [];
      const source = produced.get(producer!)?.get(name!);
      if (!source) throw new Error(`${template.name}: no artifact for input ${input.name} (${arg?.from})`);
      await cp(source, dest, { recursive: true });
    }
    const c = template.container!;
    expect(c.command).toEqual(["node", IMAGE_CLI]);
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const e of c.env) {
      const ref = e.valueFrom?.secretKeyRef;
      if (ref) {
        // Kubernetes does not start a container whose Secret or key is missing (CreateContainerConfigError).
        const value = pods.secrets?.[ref.name]?.[ref.key];
        if (value === undefined)
          throw new Error(`${template.name}: no Secret ${ref.name} with key ${ref.key}`);
        env[e.name] = value;
      } else
        env[e.name] =
          e.value !== undefined
            ? substitute(e.value)
            : e.valueFrom!.fieldRef!.fieldPath === "metadata.name"
              ? pod
              : "";
    }
    const args = c.args.map(substitute).map(at);
    const r = await exec(args, at(c.workingDir), env);
    expect(r.code, `${template.name}: ${r.stderr}`).toBe(0);
    const outputs = new Map<string, string>();
    for (const o of template.outputs?.artifacts ?? []) {
      // Argo fails a task whose (non-optional) output artifact is missing.
      expect(existsSync(at(o.path!)), `${template.name}: output ${o.name} at ${o.path}`).toBe(true);
      outputs.set(o.name, at(o.path!));
    }
    return { outputs, env };
  };
  const templates = new Map(wf.spec.templates.map((t) => [t.name, t]));
  const tasks = templates.get(wf.spec.entrypoint)!.dag!.tasks;
  const results: Record<string, { pod: string; result: StepResult }> = {};
  const done = new Set<string>();
  while (done.size < tasks.length) {
    const ready = tasks.filter(
      (t) => !done.has(t.name) && (t.depends?.split(" && ") ?? []).every((d) => done.has(d)),
    );
    expect(ready.length, "a task can start").toBeGreaterThan(0);
    for (const task of ready) {
      const template = templates.get(task.template)!;
      const pod = `${workflowName}-${task.name}-${done.size}`;
      const { outputs } = await runPod(template, pod, task);
      produced.set(task.name, outputs);
      results[task.name] = {
        pod,
        result: JSON.parse(await readFile(outputs.get(RESULT_ARTIFACT)!, "utf8")) as StepResult,
      };
      done.add(task.name);
    }
  }
  if (!wf.spec.onExit) return { results };
  status = "Succeeded";
  const exit = await runPod(templates.get(wf.spec.onExit)!, `${workflowName}-exit`);
  return { results, exitEnv: exit.env };
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "dagwood-argo-run-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("the exported Workflow, run as Argo runs it", () => {
  it("gives every node the outputs of dagwood run, with the workflow and pod as tags", async () => {
    const file = join(work, "penguins.yaml");
    await exportArgoFile({ pipelineFile: recipe.pipeline, catalog, image: "starter:1", out: file });
    const wf = readYaml(await readFile(file, "utf8"));
    const { results } = await runAsArgo(wf, join(work, "pods"), "penguins-x7k2p", { testFraction: "0.3" });

    const localProject = await makeProject(join(work, "local"), recipe);
    const local = await dagwood([
      "run",
      localProject,
      "--json",
      "--no-attach",
      "--param",
      "testFraction=0.3",
    ]);
    expect(local.code, local.stderr).toBe(0);
    const summary = JSON.parse(local.stdout) as {
      nodes: { id: string; outputs: Record<string, { fingerprint: string }> }[];
    };
    expect(Object.keys(results).sort()).toEqual(summary.nodes.map((n) => n.id).sort());
    for (const node of summary.nodes) {
      const { pod, result } = results[node.id]!;
      expect(result.status, result.error).toBe("ran");
      expect(result.node).toBe(node.id);
      expect(result.runId).toBe("penguins-x7k2p");
      expect(result.tags).toMatchObject({ "argo.workflow": "penguins-x7k2p", "argo.pod": pod });
      for (const [port, o] of Object.entries(node.outputs))
        expect(result.outputs[port]?.fingerprint, `${node.id}.${port}`).toBe(o.fingerprint);
    }
    // The override reached the split: with the file's 0.25 the test side would be smaller.
    const defaults = await dagwood(["run", localProject, "--json", "--no-attach"]);
    const split = (JSON.parse(defaults.stdout) as typeof summary).nodes.find((n) => n.id === "split")!;
    expect(results.split!.result.outputs.test!.fingerprint).not.toBe(split.outputs.test!.fingerprint);
  });

  it("with a team store, records every pod into one run, which the exit handler finishes", async () => {
    const cluster = process.env[TEST_PG_URL_ENV] ? undefined : await startTestPostgres();
    try {
      const url = process.env[TEST_PG_URL_ENV] ?? cluster!.url;
      const schema = `argo_${randomBytes(5).toString("hex")}`;
      const settings = `${JSON.stringify({ name: "team", dataFolders: [], store: { kind: "postgres", url, schema } })}\n`;
      // The exporting machine's project and each pod's /project hold the team's dagwood.json.
      const project = async (dir: string) => {
        await makeProject(dir, recipe);
        await writeFile(join(dir, "dagwood.json"), settings);
      };
      const exporter = join(work, "team-export");
      await project(exporter);
      const file = join(work, "team.yaml");
      await exportArgoFile({
        pipelineFile: join(exporter, "penguins.dag.json"),
        catalog,
        image: "starter:1",
        out: file,
        storeSecret: "ml-store",
      });
      const wf = readYaml(await readFile(file, "utf8"));
      expect(wf.spec.onExit).toBe("dagwood-finish-run");
      // The test cluster trusts its user: the password the Secret holds reaches each pod, unused.
      const secrets = { "ml-store": { password: "pw-unused-by-trust" } };
      const { results, exitEnv } = await runAsArgo(
        wf,
        join(work, "team-pods"),
        "penguins-t3am1",
        {},
        { project, secrets },
      );
      expect(exitEnv?.DAGWOOD_STORE_PASSWORD).toBe("pw-unused-by-trust");

      const analyst = join(work, "team-analyst");
      await project(analyst);
      const show = await dagwood(["runs", "show", "penguins-t3am1", "--project", analyst, "--json"]);
      expect(show.code, show.stderr).toBe(0);
      const d = JSON.parse(show.stdout) as {
        run: {
          status: string;
          error: string | null;
          tags: Record<string, string>;
          finishedAt: string | null;
        };
        nodes: { nodeId: string; status: string }[];
      };
      expect(d.run).toMatchObject({ status: "succeeded", error: null });
      expect(d.run.finishedAt).not.toBeNull();
      expect(d.nodes.map((n) => [n.nodeId, n.status]).sort()).toEqual(
        Object.keys(results)
          .sort()
          .map((id) => [id, "ran"]),
      );
      expect(d.run.tags).toEqual({
        "argo.workflow": "penguins-t3am1",
        "argo.uid": "uid-of-penguins-t3am1",
        "argo.status": "Succeeded",
        ...Object.fromEntries(Object.values(results).map((r) => [`argo.pod.${r.result.node}`, r.pod])),
      });
      const list = await dagwood(["runs", "list", "--project", analyst, "--json"]);
      expect((JSON.parse(list.stdout) as { runs: { id: string }[] }).runs.map((r) => r.id)).toEqual([
        "penguins-t3am1",
      ]);
    } finally {
      await cluster?.stop();
    }
  }, 300_000);
});
