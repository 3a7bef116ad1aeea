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
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog } from "../../nodes/index";
import type { StepResult } from "../step/step";
import { dagwood, makeProject, type ProjectRecipe } from "../step/testing";
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
interface Template {
  name: string;
  dag?: {
    tasks: { name: string; template: string; depends?: string; arguments?: { artifacts: Artifact[] } }[];
  };
  inputs?: { artifacts: Artifact[] };
  outputs?: { artifacts: Artifact[] };
  container?: {
    command: string[];
    args: string[];
    workingDir: string;
    env: { name: string; value?: string; valueFrom?: { fieldRef: { fieldPath: string } } }[];
  };
}
interface Workflow {
  kind: string;
  spec: {
    entrypoint: string;
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

/** Runs the Workflow's DAG; answers each task's pod name and result.json. */
async function runAsArgo(
  wf: Workflow,
  root: string,
  workflowName: string,
  overrides: Record<string, string>,
) {
  const params = new Map(wf.spec.arguments.parameters.map((p) => [p.name, overrides[p.name] ?? p.value]));
  const substitute = (s: string) => {
    const out = s
      .replaceAll("{{workflow.name}}", workflowName)
      .replace(/\{\{workflow\.parameters\.([\w-]+)\}\}/g, (_, n: string) => {
        if (!params.has(n)) throw new Error(`unresolved workflow parameter ${n}`);
        return params.get(n)!;
      });
    if (out.includes("{{")) throw new Error(`Argo would fail on an unresolved expression: ${out}`);
    return out;
  };
  const templates = new Map(wf.spec.templates.map((t) => [t.name, t]));
  const tasks = templates.get(wf.spec.entrypoint)!.dag!.tasks;
  const produced = new Map<string, Map<string, string>>();
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
      const fs = join(root, pod);
      // The container's paths, inside this pod's folder.
      const at = (p: string) => (p.startsWith("/dagwood/") || p.startsWith("/project") ? join(fs, p) : p);
      await makeProject(join(fs, "project"), recipe);
      for (const input of template.inputs?.artifacts ?? []) {
        const dest = at(input.path!);
        await mkdir(dirname(dest), { recursive: true });
        if (input.raw) {
          await writeFile(dest, input.raw.data);
          continue;
        }
        const arg = task.arguments?.artifacts.find((a) => a.name === input.name);
        const [, producer, name] =
          /^\{\{tasks\.([^.]+)\.outputs\.artifacts\.(\w+)\}\}$/.exec(arg?.from ?? "") ?? [];
        const source = produced.get(producer!)?.get(name!);
        if (!source) throw new Error(`${task.name}: no artifact for input ${input.name} (${arg?.from})`);
        await cp(source, dest, { recursive: true });
      }
      const c = template.container!;
      expect(c.command).toEqual(["node", IMAGE_CLI]);
      const env: NodeJS.ProcessEnv = { ...process.env };
      for (const e of c.env)
        env[e.name] =
          e.value !== undefined
            ? substitute(e.value)
            : e.valueFrom!.fieldRef.fieldPath === "metadata.name"
              ? pod
              : "";
      const args = c.args.map(substitute).map(at);
      const r = await exec(args, at(c.workingDir), env);
      expect(r.code, `${task.name}: ${r.stderr}`).toBe(0);
      const outputs = new Map<string, string>();
      for (const o of template.outputs?.artifacts ?? []) {
        // Argo fails a task whose (non-optional) output artifact is missing.
        expect(existsSync(at(o.path!)), `${task.name}: output ${o.name} at ${o.path}`).toBe(true);
        outputs.set(o.name, at(o.path!));
      }
      produced.set(task.name, outputs);
      results[task.name] = {
        pod,
        result: JSON.parse(await readFile(outputs.get(RESULT_ARTIFACT)!, "utf8")) as StepResult,
      };
      done.add(task.name);
    }
  }
  return results;
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
    const results = await runAsArgo(wf, join(work, "pods"), "penguins-x7k2p", { testFraction: "0.3" });

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
});
