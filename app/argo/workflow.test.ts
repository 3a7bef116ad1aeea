import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { catalog } from "../../nodes/index";
import { parseOverrides } from "../pipeline/params";
import { type Pipeline, PipelineSchema } from "../pipeline/schema";
import {
  ArgoExportError,
  type ArgoExportOptions,
  argoWorkflow,
  clusterCaveats,
  FINISH_TEMPLATE,
  IMAGE_CLI,
  kubernetesLabel,
  PIPELINE_ARTIFACT,
  paramText,
  parseS3Url,
  RESULT_ARTIFACT,
  taskNames,
} from "./workflow";

const PENGUINS = join(
  import.meta.dirname,
  "..",
  "..",
  "resources",
  "examples",
  "starter",
  "penguins-model.dag.json",
);
const penguinsText = readFileSync(PENGUINS, "utf8");
const penguins = PipelineSchema.parse(JSON.parse(penguinsText));

interface Artifact {
  name: string;
  path?: string;
  from?: string;
  raw?: { data: string };
  archive?: unknown;
}
interface Task {
  name: string;
  template: string;
  depends?: string;
  arguments?: { artifacts: Artifact[] };
}
interface Template {
  name: string;
  metadata?: { annotations: Record<string, string> };
  dag?: { tasks: Task[] };
  inputs?: { artifacts: Artifact[] };
  outputs?: { artifacts: Artifact[] };
  container?: {
    image: string;
    command: string[];
    args: string[];
    workingDir: string;
    env: {
      name: string;
      value?: string;
      valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string } };
    }[];
    resources: { requests: Record<string, string>; limits: Record<string, string> };
  };
  retryStrategy?: { limit: string; retryPolicy: string; expression: string };
  archiveLocation?: { s3: Record<string, unknown> };
}
interface Spec {
  entrypoint: string;
  arguments: { parameters: { name: string; value: string }[] };
  templates: Template[];
}

function exportOf(over: Partial<ArgoExportOptions> = {}, pipeline: Pipeline = penguins, text = penguinsText) {
  return argoWorkflow({
    pipeline,
    pipelineText: text,
    pipelineFileName: "penguins-model.dag.json",
    catalog,
    image: "registry.example.com/starter:1",
    ...over,
  });
}

function partsOf(resource: Record<string, unknown>) {
  const spec = resource.spec as Spec;
  const dag = spec.templates.find((t) => t.name === spec.entrypoint)!.dag!;
  const template = (name: string) => spec.templates.find((t) => t.name === name)!;
  const byNode = (id: string) =>
    spec.templates.find((t) => t.metadata?.annotations["dagwood.dev/node"] === id)!;
  return { spec, dag, template, byNode };
}

/** Argo's evaluation of `depends` for a plain "a && b" expression: the names it waits for. */
const dependsOn = (t: Task) => (t.depends ? t.depends.split(" && ").sort() : []);

describe("argoWorkflow", () => {
  it("has one task per node whose dependencies and artifacts follow the edges", () => {
    const { dag, template, byNode } = partsOf(exportOf());
    expect(dag.tasks).toHaveLength(penguins.nodes.length);
    const taskOf = (id: string) => byNode(id).name;
    for (const node of penguins.nodes) {
      const task = dag.tasks.find((t) => t.name === taskOf(node.id))!;
      expect(task.template).toBe(task.name);
      // Independently from the file: the edges into this node.
      const incoming = penguins.edges.filter((e) => e.to.startsWith(`${node.id}.`));
      expect(dependsOn(task)).toEqual(
        [...new Set(incoming.map((e) => taskOf(e.from.split(".")[0]!)))].sort(),
      );
      const passed = (task.arguments?.artifacts ?? []).map((a) => [a.name, a.from]).sort();
      expect(passed).toEqual(
        incoming
          .map((e) => {
            const [from, out] = e.from.split(".");
            return [e.to.split(".")[1], `{{tasks.${taskOf(from!)}.outputs.artifacts.${out}}}`];
          })
          .sort(),
      );
      // Every artifact a task takes is one its producer's template declares, and the consumer's template has an input of that name.
      for (const a of task.arguments?.artifacts ?? []) {
        const [, producer, artifact] = /^\{\{tasks\.([^.]+)\.outputs\.artifacts\.([^}]+)\}\}$/.exec(a.from!)!;
        expect(template(producer!).outputs!.artifacts.map((o) => o.name)).toContain(artifact);
        expect(template(task.template).inputs!.artifacts.find((i) => i.name === a.name)!.path).toBe(
          `/dagwood/in/${a.name}`,
        );
      }
    }
    // A topological order exists in Argo's terms: every task's dependencies can run before it.
    const done = new Set<string>();
    let progressed = true;
    while (progressed) {
      progressed = false;
      for (const t of dag.tasks)
        if (!done.has(t.name) && dependsOn(t).every((d) => done.has(d))) {
          done.add(t.name);
          progressed = true;
        }
    }
    expect(done.size).toBe(dag.tasks.length);
  });

  it("runs dagwood step with the contract's arguments, the pipeline carried in, and every output port as an artifact", () => {
    const { byNode } = partsOf(exportOf());
    const gbdt = byNode("gbdt");
    expect(gbdt.container!.command).toEqual(["node", IMAGE_CLI]);
    expect(gbdt.container!.image).toBe("registry.example.com/starter:1");
    expect(gbdt.container!.workingDir).toBe("/project");
    expect(gbdt.container!.args).toEqual([
      "step",
      "/dagwood/pipeline/penguins-model.dag.json",
      "--project",
      "/project",
      "--node",
      "gbdt",
      "--run-id",
      "{{workflow.name}}",
      "--inputs",
      "/dagwood/in",
      "--outputs",
      "/dagwood/out",
      "--param",
      "minAccuracy={{workflow.parameters.minAccuracy}}",
      "--param",
      "seed={{workflow.parameters.seed}}",
      "--param",
      "testFraction={{workflow.parameters.testFraction}}",
    ]);
    const pipelineArtifact = gbdt.inputs!.artifacts.find((a) => a.name === PIPELINE_ARTIFACT)!;
    expect(pipelineArtifact.raw!.data).toBe(penguinsText);
    expect(gbdt.outputs!.artifacts.map((a) => [a.name, a.path])).toEqual([
      ["model", "/dagwood/out/model"],
      [RESULT_ARTIFACT, "/dagwood/out/result.json"],
    ]);
    // A node with no inputs gets no --inputs.
    const ingest = byNode("penguins");
    expect(ingest.container!.args).not.toContain("--inputs");
    expect(ingest.inputs!.artifacts.map((a) => a.name)).toEqual([PIPELINE_ARTIFACT]);
    // split has two outputs.
    expect(byNode("split").outputs!.artifacts.map((a) => a.name)).toEqual(["train", "test", RESULT_ARTIFACT]);
  });

  it("makes the pipeline's params workflow parameters that read back as the file's values", () => {
    const { spec } = partsOf(exportOf());
    expect(spec.arguments.parameters.map((p) => [p.name, p.value])).toEqual([
      ["minAccuracy", "0.95"],
      ["seed", "7"],
      ["testFraction", "0.25"],
    ]);
    for (const value of [7, 0.25, "species", "7", "true", "yes", [1, 2], { a: "b" }, true, null])
      expect(parseOverrides([`p=${paramText(value)}`]).p).toEqual(value);
  });

  it("passes the workflow's name and uid and the pod's name to each step, and retries all but what a retry cannot fix", () => {
    const { byNode } = partsOf(exportOf());
    const split = byNode("split");
    expect(split.container!.env).toEqual([
      { name: "ARGO_WORKFLOW_NAME", value: "{{workflow.name}}" },
      { name: "ARGO_WORKFLOW_UID", value: "{{workflow.uid}}" },
      { name: "ARGO_POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
    ]);
    expect(split.retryStrategy!.limit).toBe("2");
    expect(split.retryStrategy!.retryPolicy).toBe("Always");
    // dagwood step exits 2 for bad arguments, a missing input or another fingerprint: never retried.
    expect(split.retryStrategy!.expression).toBe(
      'lastRetry.status == "Error" || asInt(lastRetry.exitCode) != 2',
    );
    expect(byNode("split").retryStrategy).toEqual(
      partsOf(exportOf({ retries: 2 })).byNode("split").retryStrategy,
    );
    expect(partsOf(exportOf({ retries: 0 })).byNode("split").retryStrategy!.limit).toBe("0");
  });

  it("requests more CPU and memory for trainers, as Kubernetes quantity strings", () => {
    const { byNode } = partsOf(exportOf());
    const cpu = (q: string) => (q.endsWith("m") ? Number(q.slice(0, -1)) / 1000 : Number(q));
    const gi = (q: string) => (q.endsWith("Gi") ? Number(q.slice(0, -2)) : Number.NaN);
    const split = byNode("split").container!.resources;
    const evaluate = byNode("eval_gbdt").container!.resources;
    for (const trainer of ["gbdt", "forest", "logistic", "mlp", "tree"]) {
      const r = byNode(trainer).container!.resources;
      expect(typeof r.requests.cpu).toBe("string");
      expect(cpu(r.requests.cpu!)).toBeGreaterThan(cpu(evaluate.requests.cpu!));
      expect(gi(r.requests.memory!)).toBeGreaterThan(gi(evaluate.requests.memory!));
      expect(gi(r.limits.memory!)).toBeGreaterThanOrEqual(gi(r.requests.memory!));
    }
    expect(cpu(evaluate.requests.cpu!)).toBeGreaterThan(cpu(split.requests.cpu!));
    expect(split.requests).toEqual({ cpu: "500m", memory: "1Gi" });
  });

  it("stores the artifacts under s3://BUCKET/PREFIX/<workflow>/<task> with --artifacts, else in the namespace's repository", () => {
    const plain = partsOf(exportOf());
    expect(plain.spec.templates.every((t) => t.archiveLocation === undefined)).toBe(true);
    const withSecret = partsOf(
      exportOf({
        artifacts: {
          ...parseS3Url("s3://ml-bucket/teams/a/"),
          endpoint: "minio.minio:9000",
          secret: "s3-creds",
          insecure: true,
        },
      }),
    );
    expect(withSecret.byNode("eval_gbdt").archiveLocation).toEqual({
      s3: {
        bucket: "ml-bucket",
        endpoint: "minio.minio:9000",
        key: "teams/a/{{workflow.name}}/eval-gbdt",
        insecure: true,
        accessKeySecret: { name: "s3-creds", key: "accessKey" },
        secretKeySecret: { name: "s3-creds", key: "secretKey" },
      },
    });
    const sdk = partsOf(
      exportOf({ artifacts: { ...parseS3Url("s3://ml-bucket"), endpoint: "s3.amazonaws.com" } }),
    );
    expect(sdk.byNode("split").archiveLocation).toEqual({
      s3: {
        bucket: "ml-bucket",
        endpoint: "s3.amazonaws.com",
        key: "{{workflow.name}}/split",
        useSDKCreds: true,
      },
    });
    // The DAG template itself runs no pod and has no location.
    expect(sdk.spec.templates[0]!.archiveLocation).toBeUndefined();
  });

  it("with a schedule, is a CronWorkflow around the same workflow spec", () => {
    const once = exportOf();
    const cron = exportOf({ schedule: "0 3 * * 1", timezone: "Europe/Paris" });
    expect(cron.kind).toBe("CronWorkflow");
    expect((cron.metadata as { name: string }).name).toBe("penguins-model");
    const spec = cron.spec as {
      schedules: string[];
      timezone: string;
      workflowSpec: unknown;
      concurrencyPolicy: string;
    };
    expect(spec.schedules).toEqual(["0 3 * * 1"]);
    expect(spec.timezone).toBe("Europe/Paris");
    expect(spec.concurrencyPolicy).toBe("Forbid");
    expect(spec.workflowSpec).toEqual(once.spec);
    expect((once.metadata as { generateName: string }).generateName).toBe("penguins-model-");
    expect(exportOf({ schedule: "@daily" }).kind).toBe("CronWorkflow");
    // Argo refuses a CronWorkflow name over 52 characters (its Workflows get "-<unix time>" appended).
    const long = { ...penguins, name: `${"a".repeat(50)}-b-${"c".repeat(20)}` };
    const longCron = exportOf({ schedule: "@daily" }, long, JSON.stringify(long));
    expect((longCron.metadata as { name: string }).name).toBe(`${"a".repeat(50)}-b`);
    const longOnce = exportOf({}, long, JSON.stringify(long));
    expect((longOnce.metadata as { generateName: string }).generateName).toHaveLength(63);
  });

  it("names tasks as Argo and Kubernetes allow, distinct even where node ids differ only by case or _ and -", () => {
    const names = taskNames([
      "eval_gbdt",
      "eval-gbdt",
      "Eval_GBDT",
      "_x",
      "a".repeat(80),
      `${"a".repeat(80)}b`,
    ]);
    const valid = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
    for (const n of names.values()) {
      expect(n).toMatch(valid);
      expect(n.length).toBeLessThanOrEqual(63);
    }
    expect(new Set(names.values()).size).toBe(names.size);
    expect(names.get("_x")).toBe("x");
    expect(kubernetesLabel("Penguins Model!")).toBe("penguins-model");
    expect(kubernetesLabel("___")).toBe("node");
  });

  it("refuses what Argo would misread or cannot run, saying what to do", () => {
    const braces = penguinsText.replace('"examples"', '"{{team}}"');
    expect(() => exportOf({}, { ...penguins, owner: "{{team}}" }, braces)).toThrow(
      /contains "\{\{", which Argo would read as one of its own template expressions/,
    );
    // Escaped in the file, "{{" all the same in the Workflow's description annotation and parameter values.
    const escaped = penguinsText.replace('"examples"', '"\\u007b\\u007bworkflow.name}}"');
    expect(escaped).not.toContain("{{");
    const parsed = PipelineSchema.parse(JSON.parse(escaped));
    expect(() => exportOf({}, parsed, escaped)).toThrow(
      /contains "\{\{", which Argo would read .*\(written as \\u007b\\u007b too/,
    );
    const param = { ...penguins, params: { ...penguins.params, seed: "{{workflow.name}}" } };
    expect(() => exportOf({}, param, JSON.stringify(param).replaceAll("{{", "\\u007b\\u007b"))).toThrow(
      ArgoExportError,
    );
    expect(() => exportOf({ schedule: "every monday" })).toThrow(
      /--schedule must be a cron expression with five fields/,
    );
    expect(() => exportOf({ schedule: "0 3 * *" })).toThrow(ArgoExportError);
    expect(() => exportOf({ retries: 11 })).toThrow(/--retries takes a whole number from 0 to 10/);
    expect(() => exportOf({ image: " " })).toThrow(/--image names the image/);
    expect(() =>
      exportOf({}, { ...penguins, nodes: [...penguins.nodes, { id: "x", block: "no.such", params: {} }] }),
    ).toThrow(/node "x": unknown block "no.such"/);
    for (const bad of ["s3://", "s3://A_Bucket/x", "gs://bucket/x", "bucket/x", "s3://ok-bucket/a/../b"])
      expect(() => parseS3Url(bad), bad).toThrow(/--artifacts/);
    expect(parseS3Url("s3://ok-bucket//a/b/")).toEqual({ bucket: "ok-bucket", prefix: "a/b" });
  });

  it("says what a cluster run cannot keep yet: registrations, deploys and champions need the team store", () => {
    const caveats = clusterCaveats(penguins);
    expect(caveats.map((c) => c.split(" ")[0])).toEqual(["gate", "register"]);
    expect(caveats[1]).toMatch(
      /register \(register\): .* lasts only as the step's artifacts .* until the project uses a team store/,
    );
    const data = PipelineSchema.parse(
      JSON.parse(readFileSync(join(PENGUINS, "..", "penguins.dag.json"), "utf8")),
    );
    expect(clusterCaveats(data)).toEqual([]);
  });

  it("with a team store, finishes the run in an exit handler and gives every pod the store's password from a Secret", () => {
    const plain = partsOf(exportOf());
    expect(plain.spec).not.toHaveProperty("onExit");
    expect(plain.spec.templates.find((t) => t.name === FINISH_TEMPLATE)).toBeUndefined();
    const env = (t: Template) => t.container!.env.map((e) => e.name);
    expect(env(plain.byNode("gbdt"))).toEqual(["ARGO_WORKFLOW_NAME", "ARGO_WORKFLOW_UID", "ARGO_POD_NAME"]);

    const team = partsOf(exportOf({ teamStore: { secret: "ml-store" } }));
    const spec = team.spec as Spec & { onExit?: string };
    expect(spec.onExit).toBe(FINISH_TEMPLATE);
    const exit = team.template(FINISH_TEMPLATE);
    expect(exit.container!.args).toContain("--finish-run");
    const args = exit.container!.args;
    expect(args.slice(args.indexOf("--run-id"), args.indexOf("--run-id") + 4)).toEqual([
      "--run-id",
      "{{workflow.name}}",
      "--status",
      "{{workflow.status}}",
    ]);
    // The params as submitted (argo submit -p), as each step gets them.
    expect(args.filter((_, i) => args[i - 1] === "--param").sort()).toEqual(
      Object.keys(penguins.params)
        .map((p) => `${p}={{workflow.parameters.${p}}}`)
        .sort(),
    );
    // It reads the pipeline the steps run, and is retried like a step (a store out of reach for a moment).
    expect(exit.inputs!.artifacts[0]!.name).toBe(PIPELINE_ARTIFACT);
    expect(exit.retryStrategy!.limit).toBe("2");
    expect(exit.dag).toBeUndefined();
    for (const t of [team.byNode("gbdt"), exit])
      expect(t.container!.env.find((e) => e.name === "DAGWOOD_STORE_PASSWORD")).toEqual({
        name: "DAGWOOD_STORE_PASSWORD",
        valueFrom: { secretKeyRef: { name: "ml-store", key: "password" } },
      });
    // No Secret (the image holds a ~/.pgpass, or trust authentication): the exit handler all the same.
    const none = partsOf(exportOf({ teamStore: { secret: null }, s3Artifacts: { secret: null } }));
    expect((none.spec as Spec & { onExit?: string }).onExit).toBe(FINISH_TEMPLATE);
    expect(env(none.byNode("gbdt"))).toEqual(["ARGO_WORKFLOW_NAME", "ARGO_WORKFLOW_UID", "ARGO_POD_NAME"]);
    // S3 artifacts: the AWS SDK's variables from the Secret's accessKey and secretKey.
    const s3 = partsOf(exportOf({ s3Artifacts: { secret: "ml-s3" } }));
    expect(s3.byNode("gbdt").container!.env.slice(3)).toEqual([
      { name: "AWS_ACCESS_KEY_ID", valueFrom: { secretKeyRef: { name: "ml-s3", key: "accessKey" } } },
      { name: "AWS_SECRET_ACCESS_KEY", valueFrom: { secretKeyRef: { name: "ml-s3", key: "secretKey" } } },
    ]);
    expect((s3.spec as Spec & { onExit?: string }).onExit).toBeUndefined();
    for (const bad of ["ML_Store", "-x", "a b", "x".repeat(254)])
      expect(() => exportOf({ teamStore: { secret: bad } }), bad).toThrow(
        /--store-secret ".*": a Kubernetes Secret's name is lower-case letters/,
      );
    expect(() => exportOf({ s3Artifacts: { secret: "s3/keys" } })).toThrow(/--artifacts-secret "s3\/keys"/);
  });

  it("names no task as the workflow's own templates", () => {
    const names = taskNames(["pipeline", "dagwood_finish_run", "train"]);
    expect([...names.entries()].sort()).toEqual([
      ["dagwood_finish_run", "dagwood-finish-run-2"],
      ["pipeline", "pipeline-2"],
      ["train", "train"],
    ]);
    const clash = {
      ...penguins,
      nodes: penguins.nodes.map((n) => (n.id === "split" ? { ...n, id: "pipeline" } : n)),
      edges: penguins.edges.map((e) => ({
        from: e.from.replace(/^split\./, "pipeline."),
        to: e.to.replace(/^split\./, "pipeline."),
      })),
    };
    const { spec } = partsOf(exportOf({ teamStore: { secret: "s" } }, clash, JSON.stringify(clash)));
    const templateNames = spec.templates.map((t) => t.name);
    expect(new Set(templateNames).size).toBe(templateNames.length);
    expect(templateNames).toContain("pipeline-2");
  });

  it("with a team store, says what still stays in the pod: a version's files, unless the artifacts are shared", () => {
    expect(clusterCaveats(penguins, { teamStore: true })).toEqual([
      expect.stringMatching(
        /^register \(register\): the version is recorded in the team store, but its files stay in the pod: set "artifacts"/,
      ),
    ]);
    expect(clusterCaveats(penguins, { teamStore: true, artifacts: { kind: "s3" } })).toEqual([]);
    expect(
      clusterCaveats(penguins, { teamStore: true, artifacts: { kind: "folder", path: "/mnt/ml" } }),
    ).toEqual([
      "The artifacts folder /mnt/ml must be mounted at that path in every pod (a volume of the Workflow; the export adds none).",
    ]);
  });
});
