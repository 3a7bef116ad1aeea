/**
 * The Argo export against Argo's own published JSON Schema (schemas/README.md),
 * with ajv's draft 2020-12 validator: first the validator itself, on Argo's
 * own examples and on a broken one, then the export of every example pipeline
 * as a Workflow and as a CronWorkflow, read back from YAML by PyYAML (YAML
 * 1.1, as Argo's Go reader) and from JSON.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { catalog } from "../../nodes/index";
import { exportArgoFile } from "./export";
import { argoValidator, EXAMPLES_DIR, findings } from "./schemas/validate";

const workflow = argoValidator("Workflow");
const cron = argoValidator("CronWorkflow");
const strictWorkflow = argoValidator("Workflow", { strict: true });
const strictCron = argoValidator("CronWorkflow", { strict: true });

const examples = readdirSync(EXAMPLES_DIR)
  .filter((f) => f.endsWith(".yaml"))
  .map((f) => ({
    file: f,
    doc: parse(readFileSync(join(EXAMPLES_DIR, f), "utf8")) as Record<string, unknown>,
  }));

/** PyYAML (Debian's python3-yaml): YAML 1.1, as go-yaml v2 under sigs.k8s.io/yaml reads it; aliases resolved. */
function readYamlIndependently(text: string): unknown {
  const r = spawnSync(
    "/usr/bin/python3",
    ["-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))"],
    { input: text, encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

describe("the validator", () => {
  it("accepts Argo's own examples", () => {
    expect(examples.map((e) => e.file).sort()).toEqual([
      "artifact-passing.yaml",
      "dag-conditional-artifacts.yaml",
      "dag-diamond.yaml",
    ]);
    for (const { file, doc } of examples) {
      expect(findings(workflow, doc), file).toEqual([]);
      expect(findings(strictWorkflow, doc), `${file} (strict)`).toEqual([]);
    }
  });

  it("rejects a task with a wrong-typed field, a retry limit given as a number, and a Workflow without spec", () => {
    const diamond = examples.find((e) => e.file === "dag-diamond.yaml")!.doc;
    const broken = structuredClone(diamond) as {
      spec: { templates: { dag?: { tasks: Record<string, unknown>[] }; retryStrategy?: unknown }[] };
    };
    broken.spec.templates[0]!.dag!.tasks[1]!.depends = ["A"];
    expect(findings(workflow, broken).join("\n")).toMatch(
      /\/spec\/templates\/0\/dag\/tasks\/1\/depends: must be string/,
    );

    const numericLimit = structuredClone(diamond) as typeof broken;
    numericLimit.spec.templates[1]!.retryStrategy = { limit: 2 };
    expect(findings(workflow, numericLimit).join("\n")).toMatch(/retryStrategy\/limit: must be string/);

    const { spec: _, ...noSpec } = diamond;
    expect(findings(workflow, noSpec).join("\n")).toMatch(/must have required property 'spec'/);
    expect(findings(workflow, { ...diamond, kind: "CronWorkflow" }).join("\n")).toMatch(
      /kind: must be equal to constant/,
    );
  });

  it("in its strict copy, rejects a misspelt field the published schema lets through", () => {
    const diamond = structuredClone(examples.find((e) => e.file === "dag-diamond.yaml")!.doc) as {
      spec: { templates: Record<string, unknown>[] };
    };
    diamond.spec.templates[1]!.retrystrategy = { limit: "2" };
    expect(findings(workflow, diamond)).toEqual([]);
    expect(findings(strictWorkflow, diamond).join("\n")).toMatch(
      /must NOT have additional properties.*retrystrategy/,
    );
  });
});

const EXAMPLES_ROOT = join(import.meta.dirname, "..", "..", "resources", "examples");
const pipelines = readdirSync(EXAMPLES_ROOT).flatMap((project) => {
  const dir = join(EXAMPLES_ROOT, project);
  const inDir = (d: string) => {
    try {
      return readdirSync(d)
        .filter((f) => f.endsWith(".dag.json"))
        .map((f) => join(d, f));
    } catch {
      return [];
    }
  };
  return [...inDir(dir), ...inDir(join(dir, "pipelines"))];
});

describe("the export of every example pipeline", () => {
  const out = mkdtempSync(join(tmpdir(), "dagwood-argo-schema-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("finds the example pipelines", () => {
    // starter's four models and two data pipelines, monitoring's train and retrain, features' train.
    expect(pipelines.length).toBeGreaterThanOrEqual(9);
    expect(pipelines.some((p) => p.endsWith("penguins-model.dag.json"))).toBe(true);
  });

  for (const [kind, validate, strict] of [
    ["Workflow", workflow, strictWorkflow],
    ["CronWorkflow", cron, strictCron],
  ] as const) {
    it(`is a valid ${kind}, as YAML read by PyYAML and as JSON`, async () => {
      for (const file of pipelines) {
        const name = file.slice(EXAMPLES_ROOT.length + 1).replace(/[/\\]/g, "_");
        const common = {
          pipelineFile: file,
          catalog,
          image: "registry.example.com/dagwood-examples:1.0",
          ...(kind === "CronWorkflow" ? { schedule: "0 3 * * 1", timezone: "Europe/Paris" } : {}),
        };
        const yamlFile = join(out, `${name}.${kind}.yaml`);
        const { resource } = await exportArgoFile({ ...common, out: yamlFile });
        expect(resource.kind).toBe(kind);
        const fromYaml = readYamlIndependently(readFileSync(yamlFile, "utf8"));
        expect(fromYaml, name).toEqual(resource);
        expect(findings(validate, fromYaml), name).toEqual([]);
        expect(findings(strict, fromYaml), `${name} (strict)`).toEqual([]);

        const jsonFile = join(out, `${name}.${kind}.json`);
        await exportArgoFile({
          ...common,
          out: jsonFile,
          artifacts: {
            bucket: "ml-artifacts",
            prefix: "dagwood",
            endpoint: "minio.minio:9000",
            secret: "s3",
            insecure: true,
          },
        });
        const fromJson = JSON.parse(readFileSync(jsonFile, "utf8"));
        expect(findings(validate, fromJson), `${name} (json, s3)`).toEqual([]);
        expect(findings(strict, fromJson), `${name} (json, s3, strict)`).toEqual([]);
      }
    });
  }
});

describe("the export of a project with a team store and S3 artifacts", () => {
  const dir = mkdtempSync(join(tmpdir(), "dagwood-argo-team-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const STARTER = join(EXAMPLES_ROOT, "starter");
  const pipelineFile = join(dir, "penguins-model.dag.json");
  copyFileSync(join(STARTER, "penguins-model.dag.json"), pipelineFile);
  writeFileSync(
    join(dir, "dagwood.json"),
    JSON.stringify({
      name: "team",
      store: { kind: "postgres", url: "postgres://analyst@db.example.com:5432/ml" },
      artifacts: { kind: "s3", bucket: "ml-artifacts", prefix: "dagwood", region: "eu-west-1" },
    }),
  );
  // Values the exporting machine holds: none may reach the manifest.
  const SECRETS = { DAGWOOD_STORE_PASSWORD: "pw-9f3e1c77", AWS_SECRET_ACCESS_KEY: "sk-4b2d88aa" };

  interface Env {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: unknown };
  }
  interface T {
    name: string;
    metadata?: { annotations?: Record<string, string> };
    container?: { args: string[]; env: Env[] };
  }

  for (const [kind, validate, strict] of [
    ["Workflow", workflow, strictWorkflow],
    ["CronWorkflow", cron, strictCron],
  ] as const) {
    it(`is a valid ${kind} whose exit handler finishes the run and whose pods read credentials from Secrets only`, async () => {
      const saved = { ...process.env };
      Object.assign(process.env, SECRETS);
      const out = join(dir, `${kind}.yaml`);
      try {
        await exportArgoFile({
          pipelineFile,
          catalog,
          image: "registry.example.com/team:1",
          out,
          storeSecret: "ml-store",
          ...(kind === "CronWorkflow" ? { schedule: "0 3 * * 1" } : {}),
        });
      } finally {
        process.env = saved;
      }
      const text = readFileSync(out, "utf8");
      for (const value of Object.values(SECRETS)) expect(text).not.toContain(value);
      const doc = readYamlIndependently(text) as {
        spec: { onExit?: string; templates: T[]; workflowSpec?: { onExit?: string; templates: T[] } };
      };
      expect(findings(validate, doc)).toEqual([]);
      expect(findings(strict, doc)).toEqual([]);
      const spec = kind === "CronWorkflow" ? doc.spec.workflowSpec! : doc.spec;
      // The exit handler: a template of the workflow that runs dagwood step --finish-run with Argo's status.
      const exit = spec.templates.find((t) => t.name === spec.onExit)!;
      expect(exit.container!.args).toEqual([
        "step",
        "/dagwood/pipeline/penguins-model.dag.json",
        "--project",
        "/project",
        "--finish-run",
        "--run-id",
        "{{workflow.name}}",
        "--status",
        "{{workflow.status}}",
        "--param",
        "minAccuracy={{workflow.parameters.minAccuracy}}",
        "--param",
        "seed={{workflow.parameters.seed}}",
        "--param",
        "testFraction={{workflow.parameters.testFraction}}",
      ]);
      // Every pod (each node's and the exit handler's) reads the password and the S3 keys from Secrets.
      const pods = spec.templates.filter((t) => t.container);
      expect(pods).toHaveLength(
        (JSON.parse(readFileSync(pipelineFile, "utf8")) as { nodes: unknown[] }).nodes.length + 1,
      );
      for (const t of pods) {
        const refs = Object.fromEntries(
          t
            .container!.env.filter((e) => e.valueFrom?.secretKeyRef)
            .map((e) => [e.name, e.valueFrom!.secretKeyRef]),
        );
        expect(refs, t.name).toEqual({
          DAGWOOD_STORE_PASSWORD: { name: "ml-store", key: "password" },
          AWS_ACCESS_KEY_ID: { name: "dagwood-artifacts", key: "accessKey" },
          AWS_SECRET_ACCESS_KEY: { name: "dagwood-artifacts", key: "secretKey" },
        });
        // No credential as a plain value.
        for (const e of t.container!.env)
          if (e.value !== undefined) expect(e.name, t.name).toMatch(/^ARGO_WORKFLOW_(NAME|UID)$/);
      }
      // Argo's schema checks the references: a secretKeyRef without its key is refused.
      const broken = structuredClone(doc) as typeof doc;
      const env = (kind === "CronWorkflow" ? broken.spec.workflowSpec! : broken.spec).templates.find(
        (t) => t.name === spec.onExit,
      )!.container!.env;
      delete (
        env.find((e) => e.name === "DAGWOOD_STORE_PASSWORD")!.valueFrom!.secretKeyRef as { key?: string }
      ).key;
      expect(findings(validate, broken).join("\n")).toMatch(
        /secretKeyRef: must have required property 'key'/,
      );
    });
  }
});
