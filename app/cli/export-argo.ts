/** `dagwood export argo`: a pipeline as an Argo Workflow or CronWorkflow file (app/argo). */
import { resolve } from "node:path";
import type { Catalog } from "../engine/block";
import { EXIT, type Io, parse, UsageError } from "./args";

export const EXPORT_ARGO_HELP = `  dagwood export argo <pipeline.dag.json> --image IMAGE --out FILE [--artifacts s3://BUCKET/PREFIX [--s3-endpoint HOST] [--s3-secret NAME] [--s3-insecure]]
                      [--schedule CRON [--timezone TZ]] [--project-dir /project] [--retries 2]
                      [--store-secret NAME|none] [--artifacts-secret NAME|none]
  export argo: an Argo Workflow (a CronWorkflow with --schedule) with one task per node running dagwood step in
  IMAGE (built FROM the Dockerfile's image with the project in --project-dir); each port an artifact in the
  namespace's artifact repository, or under s3://BUCKET/PREFIX/<workflow>/<task>/ (endpoint s3.amazonaws.com;
  credentials from the Secret NAME's accessKey and secretKey, else the pod's own); the pipeline's params as workflow
  parameters (argo submit -p name=value). --out: .yaml, .yml or .json. Submit: argo submit FILE, argo cron create FILE.
  With a team store (dagwood.json "store": {"kind": "postgres", …}) every step records into one run named after the
  workflow, which an exit handler (dagwood step --finish-run) finishes with the workflow's status; each pod reads
  DAGWOOD_STORE_PASSWORD from the Secret --store-secret (default dagwood-store, key "password"). With S3 artifacts
  ("artifacts": {"kind": "s3", …}) each pod reads AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY from the Secret
  --artifacts-secret (default dagwood-artifacts, keys "accessKey" and "secretKey"). "none": no Secret (the image or the
  pod's own credentials). The manifest holds Secret names only, never a value.
`;

/** --store-secret / --artifacts-secret: a Secret's name, "none" for no Secret, absent for the default. */
function secretOption(value: unknown): string | null | undefined {
  if (value === undefined) return undefined;
  return value === "none" ? null : (value as string);
}

export async function exportArgoCommand(args: string[], io: Io, cat: Catalog): Promise<number> {
  const { values, positionals } = parse(args, {
    image: { type: "string" },
    out: { type: "string" },
    artifacts: { type: "string" },
    "s3-endpoint": { type: "string" },
    "s3-secret": { type: "string" },
    "s3-insecure": { type: "boolean" },
    schedule: { type: "string" },
    timezone: { type: "string" },
    "project-dir": { type: "string" },
    retries: { type: "string" },
    "store-secret": { type: "string" },
    "artifacts-secret": { type: "string" },
  });
  if (positionals.length !== 1) throw new UsageError("export argo takes exactly one pipeline file");
  if (!values.image)
    throw new UsageError("export argo needs --image IMAGE (the image holding Dagwood and the project)");
  if (!values.out) throw new UsageError("export argo needs --out FILE (.yaml, .yml or .json)");
  if (!values.artifacts && (values["s3-endpoint"] || values["s3-secret"] || values["s3-insecure"]))
    throw new UsageError(
      "--s3-endpoint, --s3-secret and --s3-insecure go with --artifacts s3://BUCKET/PREFIX",
    );
  if (values.timezone && !values.schedule) throw new UsageError("--timezone goes with --schedule");
  const projectDir = values["project-dir"] as string | undefined;
  if (projectDir !== undefined && !projectDir.startsWith("/"))
    throw new UsageError(`--project-dir is a full path inside the image (got "${projectDir}")`);
  let retries: number | undefined;
  if (values.retries !== undefined) {
    retries = Number(values.retries);
    if (!/^\d+$/.test(values.retries as string) || retries > 10)
      throw new UsageError(`--retries takes a whole number from 0 to 10 (got ${values.retries})`);
  }
  const [{ exportArgoFile }, { ArgoExportError, parseS3Url }] = await Promise.all([
    import("../argo/export"),
    import("../argo/workflow"),
  ]);
  try {
    const s3 = values.artifacts ? parseS3Url(values.artifacts as string) : undefined;
    const { resource, caveats } = await exportArgoFile({
      pipelineFile: positionals[0]!,
      catalog: cat,
      out: resolve(values.out as string),
      image: values.image as string,
      projectDir,
      retries,
      schedule: values.schedule as string | undefined,
      timezone: values.timezone as string | undefined,
      storeSecret: secretOption(values["store-secret"]),
      artifactsSecret: secretOption(values["artifacts-secret"]),
      artifacts: s3 && {
        ...s3,
        endpoint: (values["s3-endpoint"] as string | undefined) ?? "s3.amazonaws.com",
        secret: values["s3-secret"] as string | undefined,
        insecure: Boolean(values["s3-insecure"]),
      },
    });
    const cron = resource.kind === "CronWorkflow";
    type Templates = {
      metadata?: { annotations?: Record<string, string> };
      container?: { env: { valueFrom?: { secretKeyRef?: { name: string; key: string } } }[] };
    }[];
    const spec = resource.spec as { templates?: Templates; workflowSpec?: { templates: Templates } };
    const templates = cron ? spec.workflowSpec!.templates : spec.templates!;
    const steps = templates.filter((t) => t.metadata?.annotations?.["dagwood.dev/node"] !== undefined).length;
    // The Secrets the pods read (a pod whose Secret is missing does not start): the command that makes each.
    const secrets = new Map<string, Set<string>>();
    for (const t of templates)
      for (const e of t.container?.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef;
        if (ref) secrets.set(ref.name, (secrets.get(ref.name) ?? new Set()).add(ref.key));
      }
    const create = [...secrets].map(
      ([name, keys]) =>
        `  kubectl create secret generic ${name} ${[...keys].map((k) => `--from-file=${k}=./${k}`).join(" ")}\n`,
    );
    io.stdout.write(
      `Wrote ${values.out}: an Argo ${resource.kind} of ${steps} step${steps === 1 ? "" : "s"} in ${values.image}.\n` +
        (create.length
          ? `Its pods read these Secrets of the namespace; create them first:\n${create.join("")}`
          : "") +
        `${cron ? "Schedule it: argo cron create" : "Submit it: argo submit"} ${values.out}${cron ? "" : " [-p name=value]..."}\n`,
    );
    for (const caveat of caveats) io.stderr.write(`Note: ${caveat}\n`);
    return EXIT.ok;
  } catch (e) {
    if (!(e instanceof ArgoExportError)) throw e;
    io.stderr.write(`${e.message}\n`);
    return EXIT.invalid;
  }
}
