import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { basename, join, relative, sep } from "node:path";
import profileBlock from "../../nodes/analyze-profile";
import { ident } from "../data/sql";
import { deployProjectOf } from "../deploy/deploy";
import { createLocalServers } from "../deploy/embedded";
import { createDeployHandlers, createDeployOperations } from "../deploy/handlers";
import type { BlockContext, Catalog } from "../engine/block";
import { inspectCache, newRunId, runPlan } from "../engine/engine";
import type { RunEvent } from "../engine/events";
import { parseParams } from "../engine/execute";
import { hashFile } from "../engine/files";
import { resolveProjectPath } from "../engine/paths";
import type { PortValue, TableValue } from "../engine/ports";
import { serializePipeline } from "../pipeline/canonical";
import { loadPipelineFile, writeFileAtomic } from "../pipeline/file";
import { type Plan, type Problem, parsePipelineObject, planPipeline } from "../pipeline/validate";
import { Project } from "../project/project";
import {
  type Api,
  ApiError,
  type ApiMethod,
  type ApiResults,
  type BlockInfo,
  type LoadedPipeline,
  type ProjectInfo,
  parseApiArgs,
} from "./api";
import { describeBlock } from "./blocks";
import { createTrackingHandlers, toApiError } from "./tracking";

const PIPELINE_SUFFIX = ".dag.json";
/** Not searched for pipelines: Dagwood's own state, dependencies, and exported runs (which hold pipeline copies). */
const SKIP_DIRS = new Set([".dagwood", "node_modules", ".git", "exports"]);

async function findPipelines(dir: string, root = dir, depth = 0): Promise<string[]> {
  if (depth > 4) return [];
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const found: string[] = [];
  for (const e of entries) {
    if (e.isDirectory() && !SKIP_DIRS.has(e.name))
      found.push(...(await findPipelines(join(dir, e.name), root, depth + 1)));
    else if (e.isFile() && e.name.endsWith(PIPELINE_SUFFIX))
      found.push(relative(root, join(dir, e.name)).split(sep).join("/"));
  }
  return found.sort();
}

/** JSON-safe cell values: dates as ISO text, big integers as text, bytes as hex. */
function jsonCell(v: unknown): unknown {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number" && !Number.isFinite(v)) return String(v);
  if (v instanceof Uint8Array) return Buffer.from(v).toString("hex");
  if (Array.isArray(v)) return v.map(jsonCell);
  if (v && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonCell(x)]));
  return v;
}

export interface CoreApiOptions {
  catalog: Catalog;
  /** Open this project at start. */
  projectDir?: string;
}

export type CoreApi = Api & {
  /** Dispatches a method by name after validating its arguments (what both transports call). */
  call(method: string, args: unknown): Promise<unknown>;
  close(): Promise<void>;
};

/**
 * The Api implemented over the core: one open project, any number of runs at
 * once in it (nodes with the same cache key share one computation), events
 * fanned out to every subscriber.
 */
export async function createCoreApi(opts: CoreApiOptions): Promise<CoreApi> {
  const { catalog } = opts;
  let project: Project | null = opts.projectDir ? await Project.open(opts.projectDir) : null;
  const listeners = new Set<(e: RunEvent) => void>();
  /** The built-in `local` deploy target's servers, one per project, started on demand; closed with the Api. */
  const localServers = createLocalServers();
  /** The deploy calls in flight, per project (another project is not opened under them). */
  const deployOperations = createDeployOperations();
  const active = new Map<string, { controller: AbortController; done: Promise<unknown> }>();

  const emit = (e: RunEvent) => {
    for (const l of listeners) {
      try {
        l(e);
      } catch {
        // a failing subscriber must not break the run
      }
    }
  };

  const requireProject = (): Project => {
    if (!project) throw new ApiError(409, "No project is open. Open a project folder first.");
    return project;
  };

  const projectInfo = async (p: Project): Promise<ProjectInfo> => ({
    dir: p.dir,
    name: p.settings.name ?? basename(p.dir),
    pipelines: await findPipelines(p.dir),
  });

  /** A pipeline path inside the project (never through "..", never outside). */
  const pipelinePath = (p: Project, path: string): string => {
    if (!path.endsWith(PIPELINE_SUFFIX))
      throw new ApiError(400, `A pipeline file name ends with ${PIPELINE_SUFFIX}`);
    try {
      return resolveProjectPath(p.dir, [p.dir], path);
    } catch (e) {
      throw new ApiError(403, (e as Error).message);
    }
  };

  const planDocument = (
    document: unknown,
    overrides?: Record<string, unknown>,
  ): { plan?: Plan; problems: Problem[] } => {
    const parsed = parsePipelineObject(document);
    if (!parsed.pipeline) return { problems: parsed.problems };
    return planPipeline(parsed.pipeline, catalog, overrides);
  };

  /** Unknown blocks and bad params are kept as they are, so nothing is lost; only the shape must hold. */
  const canonicalText = (document: unknown, what: string): string => {
    const parsed = parsePipelineObject(document);
    if (!parsed.pipeline) {
      const detail = parsed.problems.map((x) => `${x.path}: ${x.message}`).join("; ");
      throw new ApiError(400, `${what}: the document is not a pipeline (${detail})`);
    }
    return serializePipeline(parsed.pipeline);
  };

  const requireTableValue = async (p: Project, table: string): Promise<TableValue> => {
    if (!(await p.workspace.tableExists(table))) {
      throw new ApiError(404, `No table ${table} in the workspace: run the pipeline again to produce it.`);
    }
    return p.workspace.describeTable(table);
  };

  const blocks: BlockInfo[] = [...catalog.values()].map(describeBlock);

  const handlers: { [M in ApiMethod]: (args: ReturnType<typeof parseApiArgs<M>>) => Promise<ApiResults[M]> } =
    {
      async getProject() {
        return project ? projectInfo(project) : null;
      },
      async openProject({ dir }) {
        const busy = () => {
          if (active.size)
            throw new ApiError(409, "A run is in progress. Stop it before opening another project.");
          if (project && deployOperations.count(project.dir))
            throw new ApiError(
              409,
              "A deploy is in progress. Wait for it to end before opening another project.",
            );
        };
        busy();
        let next: Project;
        try {
          next = await Project.open(dir);
        } catch (e) {
          throw new ApiError(400, `Cannot open project ${dir}: ${(e as Error).message}`);
        }
        try {
          busy();
        } catch (e) {
          next.close();
          throw e;
        }
        const previous = project;
        project = next;
        previous?.close();
        // The previous project's built-in server stops with it (not a user's Stop: reopening it restores it).
        // The new project is open either way: a failure to close the old server does not undo that.
        if (previous && previous.dir !== next.dir)
          await localServers.stop(previous.dir, { byUser: false }).catch(() => undefined);
        return projectInfo(next);
      },
      async listBlocks() {
        return blocks;
      },
      async loadPipeline({ path }) {
        const p = requireProject();
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
        const problems = parsed.pipeline ? planPipeline(parsed.pipeline, catalog).problems : parsed.problems;
        return { path, text, document, problems };
      },
      async savePipeline({ path, document, create }) {
        const abs = pipelinePath(requireProject(), path);
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
        return { problems: planDocument(document).problems };
      },
      async cacheState({ document }) {
        const p = requireProject();
        const { plan } = planDocument(document);
        if (!plan) return { nodes: {} };
        return { nodes: await inspectCache(p, plan) };
      },
      async startRun({ document, path, targets, noCache, params }) {
        const p = requireProject();
        const { plan, problems } = planDocument(document, params);
        if (!plan) {
          const detail = problems.map((x) => `${x.path}: ${x.message}`).join("; ");
          throw new ApiError(400, `The pipeline has problems; fix them before running: ${detail}`);
        }
        for (const t of targets ?? []) {
          if (!plan.order.some((n) => n.id === t)) throw new ApiError(400, `Unknown node "${t}"`);
        }
        const runId = newRunId();
        const controller = new AbortController();
        const done = runPlan({
          project: p,
          plan,
          runId,
          pipelinePath: path ? pipelinePath(p, path) : undefined,
          noCache,
          targets,
          signal: controller.signal,
          onEvent: emit,
        })
          .catch((e) =>
            emit({ type: "run.finished", runId, status: "failed", ms: 0, error: (e as Error).message }),
          )
          .finally(() => active.delete(runId));
        active.set(runId, { controller, done });
        return { runId };
      },
      async cancelRun({ runId }) {
        const run = active.get(runId);
        if (!run) return { canceled: false };
        run.controller.abort();
        await run.done;
        return { canceled: true };
      },
      async listRuns({ pipeline, limit }) {
        return requireProject().metadata.listRuns({ pipeline, limit });
      },
      async previewTable({ table, offset, limit, orderBy }) {
        const p = requireProject();
        const t = await requireTableValue(p, table);
        if (orderBy && !t.columns.some((c) => c.name === orderBy.column)) {
          throw new ApiError(400, `Cannot sort by "${orderBy.column}": the table has no such column`);
        }
        const sql = await p.workspace.session();
        try {
          // rowid breaks ties, so the pages of a sorted table neither repeat nor skip rows.
          const order = orderBy
            ? ` ORDER BY ${ident(orderBy.column)} ${orderBy.desc ? "DESC" : "ASC"} NULLS LAST, rowid`
            : " ORDER BY rowid";
          const rows = await sql.all(`SELECT * FROM ${ident(table)}${order} LIMIT ${limit} OFFSET ${offset}`);
          return {
            table,
            columns: t.columns,
            rows: rows.map((r) => jsonCell(r) as Record<string, unknown>),
            offset,
            total: t.rows,
          };
        } finally {
          sql.close();
        }
      },
      async profileTable({ table }) {
        const p = requireProject();
        const input = await requireTableValue(p, table);
        const sql = await p.workspace.session();
        try {
          const ctx: BlockContext = {
            sql,
            projectDir: p.dir,
            artifactDir: async () => p.artifactsDir,
            resolvePath: (x) => resolveProjectPath(p.dir, p.allowedDirs, x),
            newTable: () => {
              throw new Error("profiling writes no table");
            },
            progress: () => undefined,
            metric: () => undefined,
            log: () => undefined,
            signal: new AbortController().signal,
            runId: "preview",
            nodeId: "preview",
            // A preview is not a run: it records nothing and reads no lineage.
            dataset: () => undefined,
            trial: () => undefined,
            chosenParams: () => undefined,
            environment: () => undefined,
            registry: p.metadata.registry,
            upstream: () => undefined,
            lineage: async () => {
              throw new Error("profiling has no lineage");
            },
            hashFile: (path) => hashFile(path),
          };
          const out = await profileBlock.run(ctx, { in: input }, parseParams(profileBlock, {}) as never);
          return (out.report as { data: ApiResults["profileTable"] }).data;
        } finally {
          sql.close();
        }
      },
      ...createTrackingHandlers(requireProject),
      ...createDeployHandlers(() => deployProjectOf(requireProject()), {
        local: localServers,
        operations: deployOperations,
      }),
      async getReport({ runId, nodeId, port }) {
        const p = requireProject();
        const node = p.metadata.nodeRuns(runId).find((n) => n.nodeId === nodeId);
        if (!node?.cacheKey) throw new ApiError(404, `No outputs of node ${nodeId} in run ${runId}`);
        const text = await p.workspace.getCached(node.cacheKey);
        if (!text)
          throw new ApiError(404, `The outputs of ${nodeId} are no longer cached: run the pipeline again`);
        const value = (JSON.parse(text) as Record<string, PortValue>)[port];
        if (!value || value.type === "table")
          throw new ApiError(404, `Node ${nodeId} has no report output "${port}"`);
        return { data: value.data };
      },
    };

  const call = async (method: string, args: unknown): Promise<unknown> => {
    if (!Object.hasOwn(handlers, method)) throw new ApiError(404, `Unknown method "${method}"`);
    const m = method as ApiMethod;
    const parsed = parseApiArgs(m, args);
    try {
      return await (handlers[m] as (a: unknown) => Promise<unknown>)(parsed);
    } catch (e) {
      throw toApiError(e);
    }
  };

  const api = Object.fromEntries(
    Object.keys(handlers).map((m) => [m, (args: unknown) => call(m, args)]),
  ) as unknown as Api;

  return Object.assign(api, {
    onEvent(listener: (e: RunEvent) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    call,
    async close() {
      for (const run of active.values()) run.controller.abort();
      await Promise.all([...active.values()].map((r) => r.done));
      await localServers.close();
      project?.close();
      project = null;
    },
  });
}
