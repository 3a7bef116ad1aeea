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
import { ArgoExportError, type ArgoExportOptions, argoWorkflow, clusterCaveats } from "./workflow";

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
  "pipeline" | "pipelineText" | "pipelineFileName" | "catalog"
> & {
  pipelineFile: string;
  catalog: Catalog;
  out: string;
};

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
  const { pipelineFile, out, ...rest } = opts;
  const resource = argoWorkflow({
    ...rest,
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
  return { resource, caveats: clusterCaveats(loaded.pipeline) };
}
