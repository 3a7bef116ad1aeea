/**
 * The typed interface through which the UI reaches the core. One definition:
 * each method's argument schema (zod, checked on the receiving side of both
 * transports) and its result type. Electron IPC and HTTP + server-sent events
 * both carry exactly these methods.
 */
import { z } from "zod";
import type { RunEvent, RunSummary } from "../engine/events";
import type { PortSpec } from "../engine/ports";
import type { Problem } from "../pipeline/validate";
import type { LogRecord, MetricRecord, NodeRunRecord, RunRecord } from "../store/metadata";
import { API_METHODS, type ApiMethod } from "./api-methods";

export type { ColumnProfile, ProfileReport } from "../../nodes/analyze-profile";
export type { Pipeline as PipelineDocument } from "../pipeline/schema";
export type { LogRecord, MetricRecord, NodeRunRecord, PortSpec, Problem, RunEvent, RunRecord, RunSummary };

export interface ProjectInfo {
  dir: string;
  name: string;
  /** Pipeline files, relative to the project folder, sorted. */
  pipelines: string[];
}

export interface BlockInfo {
  kind: string;
  version: number;
  title: string;
  category: string;
  description: string;
  inputs: Record<string, PortSpec>;
  outputs: Record<string, PortSpec>;
  /** JSON Schema of the params (draft 2020-12), with defaults and descriptions. */
  paramsSchema: Record<string, unknown>;
}

export interface LoadedPipeline {
  /** Relative to the project folder. */
  path: string;
  /** The file's text as it is on disk. */
  text: string;
  /** The parsed JSON when it is a JSON object (even if invalid as a pipeline), so nothing is lost on save. */
  document: Record<string, unknown> | null;
  problems: Problem[];
}

export type NodeCacheState = "cached" | "stale";

export interface CellValue {
  [key: string]: unknown;
}

export interface TablePage {
  table: string;
  columns: { name: string; type: string }[];
  rows: CellValue[];
  offset: number;
  total: number;
}

export interface RunDetail {
  run: RunRecord;
  nodes: NodeRunRecord[];
  metrics: MetricRecord[];
  logs: LogRecord[];
}

const relPath = z
  .string()
  .min(1)
  .max(1024)
  .refine((p) => !p.includes("\0"), "a path holds no NUL character");
const nodeId = z.string().min(1).max(200);
const tableName = z
  .string()
  .regex(/^t_[0-9a-f]+_[A-Za-z0-9_]+$/, "not a node output table name")
  .max(200);
/** A pipeline document as the editor holds it; the core validates it fully. */
const pipelineDocument = z.record(z.string(), z.unknown());

/** Every method: its argument schema. The result types are in `ApiResults`. */
export const API_ARGS = {
  getProject: z.object({}),
  openProject: z.object({ dir: z.string().min(1).max(4096) }),
  listBlocks: z.object({}),
  loadPipeline: z.object({ path: relPath }),
  savePipeline: z.object({
    path: relPath,
    document: pipelineDocument,
    /** Refuse (409) rather than replace an existing file. */
    create: z.boolean().optional(),
  }),
  formatPipeline: z.object({ document: pipelineDocument }),
  validatePipeline: z.object({ document: pipelineDocument }),
  cacheState: z.object({ document: pipelineDocument }),
  startRun: z.object({
    document: pipelineDocument,
    path: relPath.optional(),
    targets: z.array(nodeId).max(10_000).optional(),
    noCache: z.boolean().optional(),
    params: z.record(z.string(), z.unknown()).optional(),
  }),
  cancelRun: z.object({ runId: z.string().min(1).max(100) }),
  listRuns: z.object({
    pipeline: z.string().max(500).optional(),
    limit: z.number().int().min(1).max(1000).optional(),
  }),
  getRun: z.object({ runId: z.string().min(1).max(100) }),
  previewTable: z.object({
    table: tableName,
    offset: z.number().int().min(0).default(0),
    limit: z.number().int().min(1).max(5000).default(200),
    orderBy: z.object({ column: z.string().min(1).max(500), desc: z.boolean().default(false) }).optional(),
  }),
  profileTable: z.object({ table: tableName }),
  getReport: z.object({ runId: z.string().min(1).max(100), nodeId, port: z.string().min(1).max(100) }),
} as const satisfies Record<ApiMethod, z.ZodType>;

// Every listed method has a schema (above) and every schema a listed method (here).
type Exact<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const _methodsMatch: Exact<keyof typeof API_ARGS, ApiMethod> = true;
void _methodsMatch;

export { API_METHODS, type ApiMethod };
export type ApiArgs<M extends ApiMethod> = z.input<(typeof API_ARGS)[M]>;

export interface ApiResults {
  getProject: ProjectInfo | null;
  openProject: ProjectInfo;
  listBlocks: BlockInfo[];
  loadPipeline: LoadedPipeline;
  savePipeline: { path: string; text: string };
  /** The canonical file text of a document, without saving it (for Export JSON). */
  formatPipeline: { text: string };
  validatePipeline: { problems: Problem[] };
  /** Per node: its outputs are in the cache for its current params and inputs, or it would run. */
  cacheState: { nodes: Record<string, NodeCacheState> };
  startRun: { runId: string };
  cancelRun: { canceled: boolean };
  listRuns: RunRecord[];
  getRun: RunDetail;
  previewTable: TablePage;
  profileTable: import("../../nodes/analyze-profile").ProfileReport;
  getReport: { data: unknown };
}

/** The interface both transports implement: one async function per method, plus the event stream. */
export type Api = { [M in ApiMethod]: (args: ApiArgs<M>) => Promise<ApiResults[M]> } & {
  /** Subscribes to run events; returns the unsubscribe function. */
  onEvent(listener: (event: RunEvent) => void): () => void;
};

/** An error the API reports to its caller: `status` maps to HTTP; the message is for the user. */
export class ApiError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 500,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** Parses a method's arguments, turning a zod failure into a 400 with its message. */
export function parseApiArgs<M extends ApiMethod>(method: M, args: unknown): z.output<(typeof API_ARGS)[M]> {
  const schema = API_ARGS[method];
  const parsed = schema.safeParse(args ?? {});
  if (!parsed.success) {
    const detail = parsed.error.issues
      .map((i) => `${i.path.join(".") || "(arguments)"}: ${i.message}`)
      .join("; ");
    throw new ApiError(400, `Invalid arguments for ${method}: ${detail}`);
  }
  return parsed.data as z.output<(typeof API_ARGS)[M]>;
}
