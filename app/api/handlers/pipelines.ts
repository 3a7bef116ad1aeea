/** loadPipeline, savePipeline, formatPipeline, validatePipeline, cacheState, inferSchemas: pipeline files and documents. */
import { existsSync } from "node:fs";
import { inspectCache } from "../../engine/engine";
import { resolveProjectPath } from "../../engine/paths";
import { inferSchemas } from "../../engine/schema";
import { serializePipeline } from "../../pipeline/canonical";
import { loadPipelineFile } from "../../pipeline/file";
import { type Plan, type Problem, parsePipelineObject, planPipeline } from "../../pipeline/validate";
import type { Project } from "../../project/project";
import { writeFileAtomic } from "../../store/atomic-write";
import { ApiError, type LoadedPipeline } from "../api";
import { PIPELINE_SUFFIX } from "./projects";
import type { CoreState, Handlers } from "./state";

/** A pipeline path inside the project (never through "..", never outside). */
export function pipelinePath(p: Project, path: string): string {
  if (!path.endsWith(PIPELINE_SUFFIX))
    throw new ApiError(400, `A pipeline file name ends with ${PIPELINE_SUFFIX}`);
  try {
    return resolveProjectPath(p.dir, [p.dir], path);
  } catch (e) {
    throw new ApiError(403, (e as Error).message);
  }
}

/** A document's plan with `overrides` for its params, or the problems that keep it from having one. */
export function planDocument(
  state: CoreState,
  document: unknown,
  overrides?: Record<string, unknown>,
): { plan?: Plan; problems: Problem[] } {
  const parsed = parsePipelineObject(document);
  if (!parsed.pipeline) return { problems: parsed.problems };
  return planPipeline(parsed.pipeline, state.catalog, overrides);
}

/** Unknown blocks and bad params are kept as they are, so nothing is lost; only the shape must hold. */
function canonicalText(document: unknown, what: string): string {
  const parsed = parsePipelineObject(document);
  if (!parsed.pipeline) {
    const detail = parsed.problems.map((x) => `${x.path}: ${x.message}`).join("; ");
    throw new ApiError(400, `${what}: the document is not a pipeline (${detail})`);
  }
  return serializePipeline(parsed.pipeline);
}

export function pipelineHandlers(
  state: CoreState,
): Handlers<
  "loadPipeline" | "savePipeline" | "formatPipeline" | "validatePipeline" | "cacheState" | "inferSchemas"
> {
  return {
    async loadPipeline({ path }) {
      const p = state.requireProject();
      const abs = pipelinePath(p, path);
      if (!existsSync(abs)) throw new ApiError(404, `Cannot read ${path}: no such file`);
      // The same reading as the CLI's: size limit, BOM, depth checked before anything walks the text.
      const parsed = await loadPipelineFile(abs);
      if (parsed.text === undefined)
        throw new ApiError(400, parsed.problems[0]?.message ?? `Cannot read ${path}`);
      const text = parsed.text;
      let document: LoadedPipeline["document"] = null;
      // A document the checks refused before parsing (too deep, too big) is not handed to the editor.
      if (parsed.pipeline || !parsed.problems.some((q) => q.path === "$")) {
        try {
          const json = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
          if (json && typeof json === "object" && !Array.isArray(json)) document = json;
        } catch {
          // not JSON: the problems say so; the editor shows the text as it is
        }
      }
      const problems = parsed.pipeline
        ? planPipeline(parsed.pipeline, state.catalog).problems
        : parsed.problems;
      return { path, text, document, problems };
    },
    async savePipeline({ path, document, create }) {
      const abs = pipelinePath(state.requireProject(), path);
      const text = canonicalText(document, "Not saved");
      if (create && existsSync(abs))
        throw new ApiError(409, `${path} already exists: open it, or choose another name`);
      await writeFileAtomic(abs, text);
      return { path, text };
    },
    async formatPipeline({ document }) {
      return { text: canonicalText(document, "Cannot export") };
    },
    async validatePipeline({ document }) {
      return { problems: planDocument(state, document).problems };
    },
    async inferSchemas({ document }) {
      const p = state.requireProject();
      const parsed = parsePipelineObject(document);
      if (!parsed.pipeline) return { schemas: {}, problems: [] };
      // A private in-memory DuckDB: the workspace (and its lock) is not touched, nothing is written.
      const { schemas, problems } = await inferSchemas({
        pipeline: parsed.pipeline,
        catalog: state.catalog,
        projectDir: p.dir,
        allowedDirs: p.allowedDirs,
      });
      return { schemas, problems };
    },
    async cacheState({ document }) {
      const p = state.requireProject();
      const { plan } = planDocument(state, document);
      if (!plan) return { nodes: {} };
      return { nodes: await inspectCache(p, plan) };
    },
  };
}
