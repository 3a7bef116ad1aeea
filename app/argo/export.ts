/**
 * Writes a pipeline file's Argo export (app/argo/workflow.ts) as YAML or
 * JSON, by the output file's extension. YAML is written as YAML 1.1, the
 * version Argo's Go reader (sigs.k8s.io/yaml on go-yaml v2) and kubectl
 * read, so a value such as "yes" or "on" stays a string there.
 */
import { writeFile } from "node:fs/promises";
import { basename, extname } from "node:path";
import { stringify } from "yaml";
import type { Catalog } from "../engine/block";
import { loadPipelineFile } from "../pipeline/file";
import { formatProblems, planPipeline } from "../pipeline/validate";
import { findProjectDir, ProjectSettingsError, readProjectSettings } from "../project/project";
import {
  ArgoExportError,
  type ArgoExportOptions,
  argoWorkflow,
  type ClusterStorage,
  clusterCaveats,
} from "./workflow";

/** The Secrets the steps read credentials from unless told otherwise (--store-secret, --artifacts-secret). */
export const DEFAULT_STORE_SECRET = "dagwood-store";
export const DEFAULT_ARTIFACTS_SECRET = "dagwood-artifacts";

export type ArgoFileFormat = "yaml" | "json";

/** The format the file name asks for; throws for any other extension. */
export function formatOf(out: string): ArgoFileFormat {
  const ext = extname(out).toLowerCase();
  if (ext === ".yaml" || ext === ".yml") return "yaml";
  if (ext === ".json") return "json";
  throw new ArgoExportError(`--out must end in .yaml, .yml or .json (got "${out}")`);
}

export function serialize(resource: Record<string, unknown>, format: ArgoFileFormat): string {
  if (format === "json") return `${JSON.stringify(resource, null, 2)}\n`;
  const header = `# Argo Workflows ${resource.kind}, exported by Dagwood (dagwood export argo). Submit: ${
    resource.kind === "CronWorkflow" ? "argo cron create" : "argo submit"
  } <this file> [-p name=value]...\n`;
  // lineWidth 0: long values (the pipeline text) are not folded; Argo reads folded scalars too, people less so.
  return header + stringify(resource, { version: "1.1", lineWidth: 0 });
}

export type ExportArgoFileOptions = Omit<
  ArgoExportOptions,
  "pipeline" | "pipelineText" | "pipelineFileName" | "catalog" | "teamStore" | "s3Artifacts"
> & {
  pipelineFile: string;
  catalog: Catalog;
  out: string;
  /**
   * The Secret holding the team store's `password` (a project with `store.kind` postgres); default
   * dagwood-store; null: none (the image or the pod provides the password).
   */
  storeSecret?: string | null;
  /** The Secret holding `accessKey` and `secretKey` (S3 artifacts); default dagwood-artifacts; null: the pod's own credentials. */
  artifactsSecret?: string | null;
};

/**
 * What the project's dagwood.json (beside the pipeline, or up from it) says of its store and artifacts,
 * and the Secrets the steps then need. A secret option the settings have no use for is refused.
 */
export function clusterSettings(
  pipelineFile: string,
  opts: Pick<ExportArgoFileOptions, "storeSecret" | "artifactsSecret">,
): {
  storage: ClusterStorage;
  teamStore?: { secret: string | null };
  s3Artifacts?: { secret: string | null };
} {
  const dir = findProjectDir(pipelineFile);
  let settings: ReturnType<typeof readProjectSettings>;
  try {
    settings = readProjectSettings(dir);
  } catch (e) {
    if (e instanceof ProjectSettingsError) throw new ArgoExportError(e.message);
    throw e;
  }
  const teamStore = settings.store.kind === "postgres";
  const a = settings.artifacts;
  if (opts.storeSecret !== undefined && !teamStore)
    throw new ArgoExportError(
      `--store-secret is for a project whose dagwood.json has "store": {"kind": "postgres", …}; ${dir}'s store is ${settings.store.kind}, which each pod keeps to itself`,
    );
  if (opts.artifactsSecret !== undefined && a?.kind !== "s3")
    throw new ArgoExportError(
      `--artifacts-secret is for a project whose dagwood.json has "artifacts": {"kind": "s3", …}; ${dir}'s artifacts are ${a ? `a ${a.kind}` : "in each pod's own .dagwood folder"}`,
    );
  return {
    storage: {
      teamStore,
      ...(a ? { artifacts: a.kind === "folder" ? { kind: "folder", path: a.path } : { kind: "s3" } } : {}),
    },
    ...(teamStore
      ? { teamStore: { secret: opts.storeSecret === undefined ? DEFAULT_STORE_SECRET : opts.storeSecret } }
      : {}),
    ...(a?.kind === "s3"
      ? {
          s3Artifacts: {
            secret: opts.artifactsSecret === undefined ? DEFAULT_ARTIFACTS_SECRET : opts.artifactsSecret,
          },
        }
      : {}),
  };
}

/**
 * Validates the pipeline, builds the resource, writes `out`; returns the resource and what a cluster
 * run of it cannot do yet (clusterCaveats). Throws ArgoExportError for a bad pipeline or option.
 */
export async function exportArgoFile(
  opts: ExportArgoFileOptions,
): Promise<{ resource: Record<string, unknown>; caveats: string[] }> {
  const format = formatOf(opts.out);
  const loaded = await loadPipelineFile(opts.pipelineFile);
  if (!loaded.pipeline || loaded.text === undefined)
    throw new ArgoExportError(
      `${opts.pipelineFile} is not a valid pipeline:\n${formatProblems(loaded.problems)}`,
    );
  const { problems } = planPipeline(loaded.pipeline, opts.catalog);
  if (problems.length)
    throw new ArgoExportError(`${opts.pipelineFile} is not a valid pipeline:\n${formatProblems(problems)}`);
  const { pipelineFile, out, storeSecret, artifactsSecret, ...rest } = opts;
  const { storage, ...credentials } = clusterSettings(pipelineFile, { storeSecret, artifactsSecret });
  const resource = argoWorkflow({
    ...rest,
    ...credentials,
    pipeline: loaded.pipeline,
    pipelineText: loaded.text,
    pipelineFileName: basename(pipelineFile),
  });
  try {
    await writeFile(out, serialize(resource, format));
  } catch (e) {
    throw new ArgoExportError(
      `--out: cannot write ${out} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); choose a file in an existing, writable folder`,
    );
  }
  return { resource, caveats: clusterCaveats(loaded.pipeline, storage) };
}
