/**
 * `dagwood export argo`: a pipeline as an Argo Workflows `Workflow` (or a
 * `CronWorkflow` for retraining on a schedule): one DAG task per node, each
 * running `dagwood step` in the headless image (Dockerfile), with
 * dependencies from the edges, every port an Argo artifact passed from the
 * producing task's outputs to the consumers' inputs, the pipeline's params
 * as workflow parameters (`argo submit -p name=value`), retries for
 * transient failures and resource requests by block kind.
 *
 * The step's arguments and folder layout are `dagwood step`'s contract
 * (app/cli/step.ts): one folder per input port under `--inputs`, one per
 * output port under `--outputs` plus `result.json`, exit 2 for what a retry
 * cannot fix. Field names and types follow Argo's published JSON Schema
 * (app/argo/schemas/, checked in schema.test.ts): Kubernetes quantities and
 * IntOrString values (`retryStrategy.limit`, `cpu`, `memory`) are strings there.
 */
import type { BlockDeclaration, Catalog } from "../engine/block";
import { type Pipeline, splitEndpoint } from "../pipeline/schema";

/** Where the headless image keeps the CLI (Dockerfile: WORKDIR and ENTRYPOINT). */
export const IMAGE_CLI = "/opt/dagwood/bin/dagwood";
/** Where the headless image expects the project (a derived image copies it there). */
export const IMAGE_PROJECT_DIR = "/project";
/** The step's folders in the pod (Dockerfile makes /dagwood the non-root user's). */
export const STEP_DIR = "/dagwood";
/** Artifact names with a "-" cannot clash with a port (ports are identifiers). */
export const PIPELINE_ARTIFACT = "dagwood-pipeline";
export const RESULT_ARTIFACT = "dagwood-result";
/** The DAG's template, and the exit handler's (`dagwood step --finish-run`); no task is named so. */
export const ENTRY_TEMPLATE = "pipeline";
export const FINISH_TEMPLATE = "dagwood-finish-run";
/** Keys the Kubernetes Secrets hold: the team store's password, an S3 access key pair (as Argo's own S3 Secrets). */
export const STORE_SECRET_KEY = "password";
export const S3_SECRET_KEYS = { accessKey: "accessKey", secretKey: "secretKey" } as const;

export interface S3Location {
  bucket: string;
  /** Key prefix inside the bucket, without leading or trailing "/"; may be "". */
  prefix: string;
  /** The S3 endpoint host (Argo's `endpoint`), e.g. s3.amazonaws.com or minio.minio:9000. */
  endpoint: string;
  /** A Kubernetes Secret with `accessKey` and `secretKey`; absent: the pod's own credentials (IRSA, instance role). */
  secret?: string;
  /** Plain HTTP to the endpoint (a MinIO inside the cluster). */
  insecure?: boolean;
}

export interface ArgoExportOptions {
  pipeline: Pipeline;
  /** The pipeline file's text, carried into each pod so every step runs exactly the graph exported. */
  pipelineText: string;
  /** The file name the pipeline has in the pod (its base name). */
  pipelineFileName: string;
  catalog: Catalog;
  /** The image holding the CLI and the project (built FROM the headless image). */
  image: string;
  /** The project's folder in the image (default /project). */
  projectDir?: string;
  /** An explicit S3 location; absent: the namespace's default artifact repository. */
  artifacts?: S3Location;
  /** A cron schedule: a CronWorkflow instead of a Workflow. */
  schedule?: string;
  /** The schedule's time zone (IANA name); absent: the controller's. */
  timezone?: string;
  /** Retries after a failed attempt (default 2). */
  retries?: number;
  /**
   * The project's team store (dagwood.json `store.kind` postgres): every step records into one run (the
   * workflow's name), which the exit handler (`dagwood step --finish-run`) finishes. `secret`: the
   * Kubernetes Secret whose `password` becomes DAGWOOD_STORE_PASSWORD in every pod (null: the image or
   * the pod provides the password, e.g. a ~/.pgpass). Absent: each pod has a store of its own.
   */
  teamStore?: { secret: string | null };
  /**
   * S3 artifacts (dagwood.json `artifacts.kind` s3): the Secret whose `accessKey` and `secretKey` become
   * AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in every pod (null: the pod's own credentials, IRSA or
   * an instance role). Credentials are always references: never a value in the manifest.
   */
  s3Artifacts?: { secret: string | null };
}

export class ArgoExportError extends Error {}

/** The resource requests (and memory limit) of a block kind: trainers get more. Quantities as Kubernetes writes them. */
export interface StepResources {
  requests: { cpu: string; memory: string };
  limits: { memory: string };
}

export function resourcesFor(block: Pick<BlockDeclaration, "category" | "cpu">): StepResources {
  // No CPU limit: a throttled trainer only runs slower; a memory limit keeps one step from starving its node.
  if (block.category === "Train")
    return {
      requests: { cpu: block.cpu === "all" ? "4" : "2", memory: "4Gi" },
      limits: { memory: "8Gi" },
    };
  if (block.cpu) return { requests: { cpu: "1", memory: "2Gi" }, limits: { memory: "4Gi" } };
  return { requests: { cpu: "500m", memory: "1Gi" }, limits: { memory: "2Gi" } };
}

/**
 * Retry what a retry can fix: an error of the pod (evicted, node lost, image
 * pull) and a failed node (exit 1: a lost connection, an OOM kill), but not
 * `dagwood step`'s exit 2 (bad arguments, a missing input, a fingerprint
 * mismatch), which fails the same way every time. Argo's retry expression
 * (docs/retries.md, examples/retry-conditional.yaml).
 */
export function retryStrategy(limit: number) {
  return {
    limit: String(limit),
    retryPolicy: "Always",
    expression: 'lastRetry.status == "Error" || asInt(lastRetry.exitCode) != 2',
    backoff: { duration: "15s", factor: "2", maxDuration: "10m" },
  };
}

const MAX_NAME = 63;
/**
 * A CronWorkflow's name is at most 52 characters: the Workflows it starts are named after it with
 * "-" and a Unix time appended (argo-workflows workflow/validate/validate.go, maxCharsInCronWorkflowName).
 */
const MAX_CRON_NAME = 52;

/**
 * A DNS-1123 label (lowercase letters, digits, "-"; starts and ends
 * alphanumeric; ≤ 63): what Argo's validation asks of task and template
 * names (`^[a-zA-Z0-9][-a-zA-Z0-9]*$`), and lowercase because pod names are
 * made from template names.
 */
export function kubernetesLabel(text: string, fallback = "node"): string {
  const base = text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, MAX_NAME)
    .replace(/-+$/, "");
  return base || fallback;
}

/**
 * Node id → task name, unique: ids that read the same once lowercased and "_" → "-" get -2, -3 … in id
 * order, as does an id that reads as one of the `reserved` names (the workflow's own templates).
 */
export function taskNames(
  ids: readonly string[],
  reserved: readonly string[] = [ENTRY_TEMPLATE, FINISH_TEMPLATE],
): Map<string, string> {
  const names = new Map<string, string>();
  const taken = new Set<string>(reserved);
  for (const id of [...ids].sort()) {
    const base = kubernetesLabel(id);
    let name = base;
    for (let i = 2; taken.has(name); i++) {
      const suffix = `-${i}`;
      name = `${base.slice(0, MAX_NAME - suffix.length).replace(/-+$/, "")}${suffix}`;
    }
    taken.add(name);
    names.set(id, name);
  }
  return names;
}

/** `s3://bucket/prefix` → bucket and prefix; throws saying what a valid one looks like. */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(url);
  // S3's bucket naming rules: 3–63 lowercase letters, digits, "." and "-", starting and ending alphanumeric.
  if (!m || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(m[1]!))
    throw new ArgoExportError(
      `--artifacts must be s3://BUCKET/PREFIX with a bucket name of 3-63 lowercase letters, digits, "." or "-" (got "${url}")`,
    );
  const prefix = (m[2] ?? "").replace(/^\/+|\/+$/g, "");
  if (prefix.split("/").some((part) => part === ".." || part === "."))
    throw new ArgoExportError(`--artifacts: the prefix may not contain "." or ".." segments (got "${url}")`);
  return { bucket: m[1]!, prefix };
}

/**
 * A pipeline param's value as `--param` text: what `dagwood run --param`
 * reads back to the same value (JSON when it parses, else text), so a string
 * that would parse as JSON ("7", "true") is written as a JSON string.
 */
export function paramText(value: unknown): string {
  if (typeof value === "string") {
    try {
      JSON.parse(value);
    } catch {
      return value;
    }
  }
  return JSON.stringify(value);
}

/** Cron with five fields (minute hour day month weekday) or a macro Argo's cron library takes. */
function checkSchedule(schedule: string): void {
  const macro = /^@(yearly|annually|monthly|weekly|daily|midnight|hourly|every \S+)$/;
  const fields = schedule.trim().split(/\s+/);
  if (
    !macro.test(schedule.trim()) &&
    (fields.length !== 5 || fields.some((f) => !/^[\d*/,\-A-Za-z?]+$/.test(f)))
  )
    throw new ArgoExportError(
      `--schedule must be a cron expression with five fields (minute hour day month weekday), e.g. "0 3 * * 1", or @daily/@weekly; got "${schedule}"`,
    );
}

/** What the project's dagwood.json says of its store and artifacts, as far as a cluster run is concerned. */
export interface ClusterStorage {
  /** `store.kind` postgres: the steps share the team store. */
  teamStore?: boolean;
  /** `artifacts`: absent, a folder (its path) or S3. */
  artifacts?: { kind: "folder"; path: string } | { kind: "s3" };
}

/**
 * What a cluster run cannot do, in words for the exporter to print. Without a team store each pod
 * starts from the project as the image holds it, with a store of its own (`dagwood step` writes the
 * project's .dagwood inside the pod), so a registration or a deploy is not kept beyond the pod, and a
 * gate's champion is looked up in an empty registry. With one, a registered version's files still
 * stay in the pod unless the artifacts are shared, and a shared folder must be mounted in every pod.
 */
export function clusterCaveats(pipeline: Pipeline, storage: ClusterStorage = {}): string[] {
  const caveats: string[] = [];
  for (const node of pipeline.nodes) {
    if (!storage.teamStore) {
      if (node.block === "register" || node.block === "deploy")
        caveats.push(
          `${node.id} (${node.block}): on Argo each step has a store of its own, so what it records lasts only as the step's artifacts (its ${node.block === "register" ? "version" : "deployment"} output and result.json) until the project uses a team store.`,
        );
      else if (node.block === "gate" && node.params.champion !== undefined)
        caveats.push(
          `${node.id} (gate): its champion is looked up in the step's own, empty registry on Argo, so the comparison passes as "no champion yet" until the project uses a team store.`,
        );
    } else if (node.block === "register" && !storage.artifacts)
      caveats.push(
        `${node.id} (register): the version is recorded in the team store, but its files stay in the pod: set "artifacts" in dagwood.json (S3, or a folder every pod mounts) so that other machines can serve and export it.`,
      );
  }
  const a = storage.artifacts;
  if (a?.kind === "folder")
    caveats.push(
      `The artifacts folder ${a.path} must be mounted at that path in every pod (a volume of the Workflow; the export adds none).`,
    );
  return caveats;
}

type Json = Record<string, unknown>;

interface TaskPlan {
  id: string;
  name: string;
  block: BlockDeclaration;
  /** input port → the producing node and port */
  inputs: { port: string; node: string; output: string }[];
}

function planTasks(pipeline: Pipeline, catalog: Catalog): TaskPlan[] {
  const names = taskNames(pipeline.nodes.map((n) => n.id));
  return pipeline.nodes.map((node) => {
    const block = catalog.get(node.block);
    if (!block) throw new ArgoExportError(`node "${node.id}": unknown block "${node.block}"`);
    const inputs = pipeline.edges
      .filter((e) => splitEndpoint(e.to).node === node.id)
      .map((e) => {
        const from = splitEndpoint(e.from);
        return { port: splitEndpoint(e.to).port, node: from.node, output: from.port };
      })
      .sort((a, b) => a.port.localeCompare(b.port));
    return { id: node.id, name: names.get(node.id)!, block, inputs };
  });
}

/** A Kubernetes object name (DNS-1123 subdomain, ≤ 253), as a Secret's name must be. */
const SECRET_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function checkSecretName(name: string, option: string): void {
  if (name.length > 253 || !SECRET_NAME.test(name))
    throw new ArgoExportError(
      `${option} "${name}": a Kubernetes Secret's name is lower-case letters, digits, "-" and "." (at most 253), starting and ending with a letter or digit`,
    );
}

const fromSecret = (name: string, variable: string, key: string) => ({
  name: variable,
  valueFrom: { secretKeyRef: { name, key } },
});

/** The credentials every pod reads from Secrets (team store password, S3 keys): references only. */
function credentialEnv(opts: ArgoExportOptions): Json[] {
  const env: Json[] = [];
  const store = opts.teamStore?.secret;
  if (store) env.push(fromSecret(store, "DAGWOOD_STORE_PASSWORD", STORE_SECRET_KEY));
  const s3 = opts.s3Artifacts?.secret;
  if (s3)
    env.push(
      fromSecret(s3, "AWS_ACCESS_KEY_ID", S3_SECRET_KEYS.accessKey),
      fromSecret(s3, "AWS_SECRET_ACCESS_KEY", S3_SECRET_KEYS.secretKey),
    );
  return env;
}

/**
 * The exit handler (spec.onExit): once every task is done, whatever their outcome, `dagwood step
 * --finish-run` sets the run the steps recorded into to the workflow's status (Argo's
 * `{{workflow.status}}` in an exit handler: Succeeded, Failed or Error) and its finished time.
 */
function finishTemplate(opts: ArgoExportOptions, pipelineRaw: { data: string }): Json {
  const projectDir = opts.projectDir ?? IMAGE_PROJECT_DIR;
  const pipelinePath = `${STEP_DIR}/pipeline/${opts.pipelineFileName}`;
  return {
    name: FINISH_TEMPLATE,
    metadata: { annotations: { "dagwood.dev/role": "finish-run" } },
    inputs: { artifacts: [{ name: PIPELINE_ARTIFACT, path: pipelinePath, raw: pipelineRaw }] },
    container: {
      image: opts.image,
      command: ["node", IMAGE_CLI],
      args: [
        "step",
        pipelinePath,
        "--project",
        projectDir,
        "--finish-run",
        "--run-id",
        "{{workflow.name}}",
        "--status",
        "{{workflow.status}}",
        // The params as submitted: a run no step recorded is recorded with them.
        ...Object.keys(opts.pipeline.params).flatMap((p) => ["--param", `${p}={{workflow.parameters.${p}}}`]),
      ],
      workingDir: projectDir,
      env: [
        { name: "ARGO_WORKFLOW_NAME", value: "{{workflow.name}}" },
        { name: "ARGO_WORKFLOW_UID", value: "{{workflow.uid}}" },
        ...credentialEnv(opts),
      ],
      resources: { requests: { cpu: "250m", memory: "512Mi" }, limits: { memory: "1Gi" } },
    },
    // A store out of reach for a moment is worth a retry; bad arguments (exit 2) are not.
    retryStrategy: retryStrategy(opts.retries ?? 2),
  };
}

function stepTemplate(task: TaskPlan, opts: ArgoExportOptions, pipelineRaw: { data: string }): Json {
  const projectDir = opts.projectDir ?? IMAGE_PROJECT_DIR;
  const pipelinePath = `${STEP_DIR}/pipeline/${opts.pipelineFileName}`;
  const args = [
    "step",
    pipelinePath,
    "--project",
    projectDir,
    "--node",
    task.id,
    "--run-id",
    "{{workflow.name}}",
    ...(task.inputs.length ? ["--inputs", `${STEP_DIR}/in`] : []),
    "--outputs",
    `${STEP_DIR}/out`,
    ...Object.keys(opts.pipeline.params).flatMap((p) => ["--param", `${p}={{workflow.parameters.${p}}}`]),
  ];
  const template: Json = {
    name: task.name,
    metadata: {
      annotations: { "dagwood.dev/node": task.id, "dagwood.dev/block": task.block.kind },
    },
    inputs: {
      artifacts: [
        { name: PIPELINE_ARTIFACT, path: pipelinePath, raw: pipelineRaw },
        ...task.inputs.map((i) => ({ name: i.port, path: `${STEP_DIR}/in/${i.port}` })),
      ],
    },
    outputs: {
      artifacts: [
        ...Object.keys(task.block.outputs).map((port) => ({ name: port, path: `${STEP_DIR}/out/${port}` })),
        // The step's record (status, metrics, fingerprints, timings), kept as a plain file to read in the UI.
        { name: RESULT_ARTIFACT, path: `${STEP_DIR}/out/result.json`, archive: { none: {} } },
      ],
    },
    container: {
      image: opts.image,
      command: ["node", IMAGE_CLI],
      args,
      workingDir: projectDir,
      env: [
        // dagwood step records these as the run's tags argo.workflow, argo.uid and argo.pod.<node>.
        { name: "ARGO_WORKFLOW_NAME", value: "{{workflow.name}}" },
        { name: "ARGO_WORKFLOW_UID", value: "{{workflow.uid}}" },
        { name: "ARGO_POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
        ...credentialEnv(opts),
      ],
      resources: resourcesFor(task.block),
    },
    retryStrategy: retryStrategy(opts.retries ?? 2),
  };
  if (opts.artifacts) {
    const a = opts.artifacts;
    // Argo puts each output under the template's archive location, with this key as its prefix.
    const key = [a.prefix, "{{workflow.name}}", task.name].filter(Boolean).join("/");
    template.archiveLocation = {
      s3: {
        bucket: a.bucket,
        endpoint: a.endpoint,
        key,
        ...(a.insecure ? { insecure: true } : {}),
        ...(a.secret
          ? {
              accessKeySecret: { name: a.secret, key: "accessKey" },
              secretKeySecret: { name: a.secret, key: "secretKey" },
            }
          : { useSDKCreds: true }),
      },
    };
  }
  return template;
}

/** The Workflow, or the CronWorkflow with `schedule`, as a plain object ready for YAML or JSON. */
export function argoWorkflow(opts: ArgoExportOptions): Json {
  const { pipeline } = opts;
  // The file's text as the pods get it, and its values as the export writes them into the Workflow (the
  // description, the params' values), where a JSON escape ("\u007b\u007b") is "{{" once read.
  if (opts.pipelineText.includes("{{") || JSON.stringify(pipeline).includes("{{"))
    throw new ArgoExportError(
      'The pipeline contains "{{", which Argo would read as one of its own template expressions (written as \\u007b\\u007b too: the export writes values decoded). Rewrite that text (e.g. in a SQL query) before exporting.',
    );
  if (!opts.image.trim())
    throw new ArgoExportError("--image names the image that holds Dagwood and the project");
  if (opts.schedule !== undefined) checkSchedule(opts.schedule);
  if (
    opts.retries !== undefined &&
    (!Number.isInteger(opts.retries) || opts.retries < 0 || opts.retries > 10)
  )
    throw new ArgoExportError(`--retries takes a whole number from 0 to 10 (got ${opts.retries})`);
  for (const [option, secret] of [
    ["--store-secret", opts.teamStore?.secret],
    ["--artifacts-secret", opts.s3Artifacts?.secret],
  ] as const)
    if (secret != null) checkSecretName(secret, option);
  const tasks = planTasks(pipeline, opts.catalog);
  const taskName = new Map(tasks.map((t) => [t.id, t.name]));
  const dag = {
    tasks: tasks.map((t) => {
      const upstream = [...new Set(t.inputs.map((i) => taskName.get(i.node)!))].sort();
      return {
        name: t.name,
        template: t.name,
        ...(upstream.length ? { depends: upstream.join(" && ") } : {}),
        ...(t.inputs.length
          ? {
              arguments: {
                artifacts: t.inputs.map((i) => ({
                  name: i.port,
                  from: `{{tasks.${taskName.get(i.node)}.outputs.artifacts.${i.output}}}`,
                })),
              },
            }
          : {}),
      };
    }),
  };
  // One object for every step: the YAML writer gives it an anchor and the other steps an alias (*a1), so the
  // file holds the pipeline's text once; Argo and kubectl read YAML aliases (sigs.k8s.io/yaml resolves them).
  const pipelineRaw = { data: opts.pipelineText };
  const entry = ENTRY_TEMPLATE;
  const spec: Json = {
    entrypoint: entry,
    // With a team store every step records into the one run; the exit handler finishes it.
    ...(opts.teamStore ? { onExit: FINISH_TEMPLATE } : {}),
    arguments: {
      parameters: Object.entries(pipeline.params).map(([name, value]) => ({
        name,
        value: paramText(value),
        description: `Pipeline parameter ${name} (JSON when it parses, else text; as dagwood run --param)`,
      })),
    },
    // The pods run as the image's non-root user (Dockerfile: uid 10001).
    securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001 },
    templates: [
      { name: entry, dag },
      ...tasks.map((t) => stepTemplate(t, opts, pipelineRaw)),
      ...(opts.teamStore ? [finishTemplate(opts, pipelineRaw)] : []),
    ],
  };
  const name = kubernetesLabel(pipeline.name, "pipeline");
  const annotations = {
    "dagwood.dev/pipeline": pipeline.name,
    "workflows.argoproj.io/description": (pipeline.description ?? `Dagwood pipeline ${pipeline.name}`).slice(
      0,
      1000,
    ),
  };
  const labels = { "dagwood.dev/pipeline": name };
  if (opts.schedule === undefined)
    return {
      apiVersion: "argoproj.io/v1alpha1",
      kind: "Workflow",
      metadata: { generateName: `${name.slice(0, MAX_NAME - 1)}-`, labels, annotations },
      spec,
    };
  return {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "CronWorkflow",
    metadata: { name: name.slice(0, MAX_CRON_NAME).replace(/-+$/, ""), labels, annotations },
    spec: {
      schedules: [opts.schedule.trim()],
      ...(opts.timezone ? { timezone: opts.timezone } : {}),
      // A retraining that is still running when the next one is due is left to finish; the next waits for its turn.
      concurrencyPolicy: "Forbid",
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
      workflowMetadata: { labels, annotations },
      workflowSpec: spec,
    },
  };
}
