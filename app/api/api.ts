/**
 * The typed interface through which the UI reaches the core. One definition:
 * each method's argument schema (zod, checked on the receiving side of both
 * transports) and its result type. Electron IPC and HTTP + server-sent events
 * both carry exactly these methods.
 */
import { z } from "zod";
import type { ExpectationInfo, SuiteProblem } from "../data/expectations/index";
import type { TargetStatus as DeployTargetStatus } from "../deploy/deploy";
import type { InferExample } from "../deploy/example";
import type { RunEvent, RunSummary } from "../engine/events";
import type { PortSpec } from "../engine/ports";
import type { PipelineSchemas, PortSchema } from "../engine/schema";
import { CONNECTION_NAME } from "../ingest/db/settings";
import type { CatalogTable, DbErrorKind, SourceColumn } from "../ingest/db/types";
import type { ReferenceProfileResult } from "../monitoring/reference";
import type { PipelineDiff } from "../pipeline/diff";
import type { Problem } from "../pipeline/validate";
import type {
  ArtifactRecord,
  AuditEntry,
  DatasetRecord,
  LogRecord,
  MetricRecord,
  ModelVersion,
  NodeRunRecord,
  RegisteredModel,
  RunComparison,
  RunPage,
  RunRecord,
} from "../store/types";
import type { DatasetDetail, DatasetSummary } from "../values/datasets";
import { ExpectationSuite } from "../values/expectations";
import type {
  FeatureApplyResult,
  FeatureMaterialization,
  FeaturesOverview,
  OnlineFeaturesAnswer,
} from "../values/features";
import {
  Deprecation,
  Governance,
  type GovernanceFinding,
  type GovernanceFindingKind,
  IsoDate,
} from "../values/governance";
import { MONITOR_NAME, MONITOR_NAME_MESSAGE, type MonitorLoop } from "../values/loop";
import type { MonitoringReport } from "../values/monitoring";
import type { DataPortType, PortData } from "../values/port-types";
import { type ScanReport, TagName } from "../values/privacy";
import { ProfileReport } from "../values/profile";
import type { AliasChange, ProductionRecord } from "../values/registry";
import { API_METHODS, type ApiMethod } from "./api-methods";

export type { ServedModelStatus } from "../deploy/deploy";
export type { InferExample, InferExampleInput } from "../deploy/example";

/** A target's status; the built-in `local` target says so, and whether its server runs (stopped: not asked). */
export type TargetStatus = DeployTargetStatus & { builtin?: true; running?: boolean };
export type { VersionTraffic } from "../deploy/metrics";
export type {
  EdgeSummary,
  NodeChange,
  NodeRename,
  NodeSummary,
  PipelineDiff,
  ValueChange,
} from "../pipeline/diff";
export type { Pipeline as PipelineDocument, PipelineConflict } from "../pipeline/schema";
export type {
  ModelLineage,
  RunCondition,
  RunEnvironment,
  RunListItem,
  RunQuery,
  RunStatus,
} from "../store/types";
export type * from "../values/features";
export type {
  ArtifactRecord,
  AuditEntry,
  DatasetRecord,
  LogRecord,
  MetricRecord,
  ModelVersion,
  NodeRunRecord,
  PipelineSchemas,
  PortSchema,
  PortSpec,
  Problem,
  RegisteredModel,
  RunComparison,
  RunEvent,
  RunPage,
  RunRecord,
  RunSummary,
};

/** A monitor of dagwood.json as listMonitors answers it. */
export interface MonitorSummary {
  name: string;
  /** The registered model, and the alias or version it is checked against (dagwood.json's NAME@REF). */
  model: string;
  ref: string;
  target: string;
  /** Its name on the target when it differs from the registered one. */
  deployedModel: string | null;
  window: string;
  /** Rows a window needs to be tested; the watched metric and its tolerance (null: drift only). */
  minRows: number;
  metric: string | null;
  tolerance: number | null;
  action: "alert" | "retrain";
  schedule: string | null;
  /** ISO: when the app's scheduler runs it next (null: no schedule, or the scheduler is not running). */
  nextRunAt: string | null;
  /**
   * Its last check since the app opened; before any, its latest alert in the
   * audit history (rows null when that entry does not say). Null: neither.
   */
  lastCheck: {
    at: string;
    window: { start: string; end: string };
    rows: number | null;
    tested: boolean;
    breached: boolean;
    reasons: string[];
  } | null;
  /** Why its last check in this session failed (null: it went through, or none ran). */
  lastError: string | null;
  /** Its loops still open (alerts not yet closed). */
  openAlerts: number;
}

/** A run's user and machine as the store records them (RunRecord.user, RunRecord.host). */
export interface RunOwner {
  user: string | null;
  host: string;
}

export interface ProjectInfo {
  dir: string;
  name: string;
  /** Pipeline files, relative to the project folder, sorted. */
  pipelines: string[];
}

/** A file `ingest.file` can read (listDataFiles). */
export interface DataFile {
  /** The path as `ingest.file` takes it: relative to the project, with "/" (outside it: "../…"). */
  path: string;
  /** "" for the project folder, else the data folder as dagwood.json names it. */
  folder: string;
  /** The path inside that folder, for display ("seattle-weather.csv"). */
  name: string;
  bytes: number;
}

export interface DataFileList {
  files: DataFile[];
  /** More files exist than were listed (the listing is capped). */
  truncated: boolean;
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
  /** `personal`: the column carries a pii or sensitive tag; its cells are masked unless asked for in clear. */
  columns: { name: string; type: string; personal?: true }[];
  rows: CellValue[];
  offset: number;
  total: number;
  /** The personal columns whose cells this page masks (app/privacy/masking.ts); absent when none. */
  masked?: string[];
}

export interface RunDetail {
  run: RunRecord;
  nodes: NodeRunRecord[];
  metrics: MetricRecord[];
  logs: LogRecord[];
  artifacts: ArtifactRecord[];
  datasets: (DatasetRecord & { nodeId: string })[];
  /** `nodeId.param` → value. */
  resolvedParams: Record<string, unknown>;
  /** Tuning trials (child runs), oldest first. */
  trials: RunRecord[];
  /** The pipeline file the run used (canonical text), when recorded. */
  pipelineText: string | null;
}

/** pipelineChanges: the open pipeline against its version at a git revision. */
export interface PipelineChanges {
  /** The revision asked for, the commit it names (null when it names none) and how to show it. */
  base: { rev: string; commit: string | null; label: string };
  /** Why nothing can be compared (no git repository, the file not committed there, not a pipeline there), else null. */
  unavailable: string | null;
  /** Base → the current document (app/pipeline/diff.ts); null when unavailable. */
  diff: PipelineDiff | null;
  /** The pipeline at the base (removed nodes are drawn at its layout); null when unavailable. */
  basePipeline: Record<string, unknown> | null;
}

export interface GitRevisions {
  /** False: the project is in no git repository (`message` says so). */
  repository: boolean;
  message: string | null;
  /** The checked-out branch (null: detached, or no repository). */
  current: string | null;
  branches: { name: string; commit: string; date: string }[];
  /** Newest first. */
  commits: { commit: string; short: string; date: string; author: string; subject: string }[];
}

/** A comparison, plus the newest compared run's pipeline document to draw with differing nodes marked. */
export interface ComparisonResult extends RunComparison {
  pipeline: Record<string, unknown> | null;
}

export interface ModelDetail {
  model: RegisteredModel;
  /** Newest first. */
  versions: ModelVersion[];
  /** This model's audit history, newest first. */
  audit: AuditEntry[];
}

export type LineageNodeKind = "dataset" | "run" | "modelVersion" | "deployment" | "alert" | "featureService";

/** Dataset → run → model version → deployment. */
export interface LineageGraph {
  nodes: { id: string; kind: LineageNodeKind; label: string; detail: Record<string, unknown> }[];
  edges: { from: string; to: string }[];
}

export interface TargetInfo {
  name: string;
  url: string;
  kind: "dagwood" | "triton";
  /** Where its token comes from: DAGWOOD_TOKEN_<TARGET>, the OS keychain, the app (built-in target), or none. */
  tokenSource: "env" | "keychain" | "app" | null;
  /**
   * The app's built-in `local` target (its in-process `dagwood serve`), listed when dagwood.json
   * defines no `local`; `url` is empty while it is not running.
   */
  builtin?: true;
  /** Built-in target only: whether its server runs. */
  running?: boolean;
}

export interface TrafficPolicy {
  primary?: number;
  canary?: { version: number; percent: number };
  shadow?: { version: number };
}

/** One suite file (listSuites). */
export interface SuiteSummary {
  /** Relative to the project: expectations/<name>.json. */
  path: string;
  /** Its expectation_suite_name (the file name when it is not a suite). */
  name: string;
  expectations: number;
  /** Owner, purpose, review date, deprecation: the suite's meta.dagwood. */
  governance: Governance;
  /** How many problems it has (not JSON, not a suite, unknown types, bad kwargs): 0 when usable. */
  problems: number;
}

export interface LoadedSuite {
  path: string;
  /** The file's text as it is on disk. */
  text: string;
  /** The parsed suite, or null when the text is not JSON or not a suite. */
  suite: ExpectationSuite | null;
  problems: SuiteProblem[];
}

export type { ExpectationInfo, SuiteProblem };

/** A connection of dagwood.json as listConnections answers it: where it points, never its secret. */
export interface ConnectionInfo {
  name: string;
  kind: "postgres" | "mysql" | "sqlite";
  /** A server database's address (null for SQLite). */
  host: string | null;
  port: number | null;
  database: string | null;
  user: string | null;
  /** SQLite: the file as dagwood.json names it (null for a server). */
  path: string | null;
  /** Where its password comes from: DAGWOOD_SECRET_<NAME>, the OS keychain, or none (SQLite never needs one). */
  secret: "env" | "keychain" | "none";
  /** The environment variable that holds its password (DAGWOOD_SECRET_<NAME>). */
  secretVariable: string;
}

/** testConnection: the server's version, or why it could not connect (in words, never the secret). */
export type ConnectionTest =
  | { ok: true; serverVersion: string; elapsedMs: number }
  | { ok: false; kind: DbErrorKind; message: string };

/** browseConnection: a schema's tables (no `table` asked), or a table's columns. */
export interface ConnectionBrowse {
  /** The database's schemas (null when a table's columns were asked). */
  schemas: string[] | null;
  /** The tables and views of `schema` (all when none was named), with row estimates where kept. */
  tables: CatalogTable[] | null;
  /** The table's columns: the source's type and the DuckDB type each lands as. */
  columns: SourceColumn[] | null;
}

/** previewConnection: the first rows of a table or a read-only query, before any run. */
export interface ConnectionPreview {
  columns: SourceColumn[];
  /** Row-major, each value as display text (null: SQL NULL). */
  rows: (string | null)[][];
  /** More rows than `limit` exist. */
  more: boolean;
}

export type { CatalogTable, DbErrorKind, SourceColumn };

export interface ExportResult {
  /** The export folder, relative to the project. */
  dir: string;
  files: string[];
  /** Personal columns masked in the export, or exported in clear at the user's request; absent when none. */
  masked?: string[];
  unmasked?: string[];
}

/**
 * Personal columns in clear (app/privacy/masking.ts): `unmasked` asks for them, and only counts with
 * `confirm: true` (the user confirmed; the answer is recorded in the audit log as privacy.unmasked).
 */
const unmaskArgs = { unmasked: z.boolean().optional(), confirm: z.boolean().optional() };

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
const runId = z.string().min(1).max(100);
const modelName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, "a model name: letters, digits, _ - . (≤ 128)");
const aliasName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, "an alias: a letter, then letters, digits, _ - (≤ 64)");
const targetName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, "a target name: a letter, then letters, digits, _ - (≤ 64)");
const versionNumber = z.number().int().min(1);
const monitorName = z.string().regex(MONITOR_NAME, MONITOR_NAME_MESSAGE);
const runStatus = z.enum(["running", "succeeded", "failed", "canceled", "interrupted"]);
const tagKey = z.string().min(1).max(250);
const tagValue = z.string().max(5000);
/** A revision as git names it: never an option ("-…"), no spaces or control characters. */
const gitRev = z
  .string()
  .min(1)
  .max(256)
  .refine((r) => !r.startsWith("-"), "a revision does not start with '-'")
  .refine(
    (r) => ![...r].some((c) => c.trim() === "" || c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f),
    "a revision holds no spaces or control characters",
  );
/** A pipeline document as the editor holds it; the core validates it fully. */
const pipelineDocument = z.record(z.string(), z.unknown());
/** Printable text of at most `max` characters (no control characters): a user or a machine name. */
const ownerName = (what: string, max: number) =>
  z
    .string()
    .min(1, `${what} is empty: name one, or leave the filter out`)
    .max(max, `${what} is longer than ${max} characters: no run is recorded with such a name`)
    .refine(
      (s) => ![...s].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f),
      `${what} holds control characters`,
    );
/**
 * Whose runs (RunRecord.user, RunRecord.host). `mine`: the runs of the user this engine runs as
 * (DAGWOOD_USER, else the OS user; `whoAmI` tells who that is). 256 covers an e-mail address as
 * DAGWOOD_USER; 253 is the longest DNS host name (RFC 1035 §2.3.4).
 */
const runOwner = {
  user: ownerName("The user name", 256).optional(),
  host: ownerName("The machine name", 253).optional(),
  mine: z.boolean().optional(),
};

const connectionName = z
  .string()
  .regex(
    CONNECTION_NAME,
    "a connection name: a letter, then letters, digits or _ (at most 63), as in dagwood.json",
  );
/** A schema, table or column name in a database (quoted by the reader, so any printable text). */
const dbIdentifier = (what: string) =>
  z
    .string()
    .min(1, `the ${what} name is empty`)
    .max(128, `the ${what} name is longer than 128 characters: no database names one so`)
    .refine((s) => ![...s].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f), {
      message: `the ${what} name holds control characters`,
    });

/** Every method: its argument schema. The result types are in `ApiResults`. */
export const API_ARGS = {
  getProject: z.object({}),
  openProject: z.object({ dir: z.string().min(1).max(4096) }),
  listBlocks: z.object({}),
  listDataFiles: z.object({}),
  loadPipeline: z.object({ path: relPath }),
  savePipeline: z.object({
    path: relPath,
    document: pipelineDocument,
    /** Refuse (409) rather than replace an existing file. */
    create: z.boolean().optional(),
  }),
  formatPipeline: z.object({ document: pipelineDocument }),
  validatePipeline: z.object({ document: pipelineDocument }),
  pipelineChanges: z.object({
    path: relPath,
    /** A branch, tag or commit, as git names it (default HEAD); never an option. */
    base: gitRev.default("HEAD"),
    /** The document as the editor holds it (unsaved edits included); without it, the file on disk. */
    document: pipelineDocument.optional(),
  }),
  gitRevisions: z.object({ path: relPath.optional() }),
  cacheState: z.object({ document: pipelineDocument }),
  inferSchemas: z.object({ document: pipelineDocument }),
  startRun: z.object({
    document: pipelineDocument,
    path: relPath.optional(),
    targets: z.array(nodeId).max(10_000).optional(),
    noCache: z.boolean().optional(),
    /** Nodes to run anew from nothing, for this run only (RunOptions.fullRefresh). */
    fullRefresh: z.array(nodeId).max(10_000).optional(),
    params: z.record(z.string(), z.unknown()).optional(),
  }),
  cancelRun: z.object({ runId: z.string().min(1).max(100) }),
  collectGarbage: z.object({ keepRuns: z.number().int().min(0).max(1_000_000) }),
  listRuns: z.object({
    pipeline: z.string().max(500).optional(),
    limit: z.number().int().min(1).max(1000).optional(),
    ...runOwner,
  }),
  getRun: z.object({ runId: z.string().min(1).max(100) }),
  previewTable: z.object({
    table: tableName,
    offset: z.number().int().min(0).default(0),
    limit: z.number().int().min(1).max(5000).default(200),
    orderBy: z.object({ column: z.string().min(1).max(500), desc: z.boolean().default(false) }).optional(),
    ...unmaskArgs,
  }),
  profileTable: z.object({ table: tableName }),
  /** A node output table (t_…) of the workspace, or a data file of the project (as `dagwood expect run --data`). */
  scanPrivacy: z.object({
    source: relPath,
    /** Rows sampled (default: dagwood.json privacy.scanSample). */
    sample: z.number().int().min(1).max(10_000_000).optional(),
    seed: z.number().int().min(0).max(2_147_483_647).optional(),
  }),
  getReport: z.object({ runId: z.string().min(1).max(100), nodeId, port: z.string().min(1).max(100) }),
  listSuites: z.object({}),
  loadSuite: z.object({ path: relPath }),
  saveSuite: z.object({
    path: relPath,
    suite: ExpectationSuite,
    /** Refuse (409) rather than replace an existing file. */
    create: z.boolean().optional(),
  }),
  suggestSuite: z.object({
    profile: ProfileReport,
    name: z.string().min(1).max(200),
    /** How much to widen what was observed: 0.1 = 10 % of each range's span, and of the row count. */
    margin: z.number().min(0).max(10).default(0.1),
  }),
  listExpectationTypes: z.object({}),
  searchRuns: z.object({
    pipeline: z.string().max(500).optional(),
    status: z.array(runStatus).max(5).optional(),
    ...runOwner,
    where: z
      .array(
        z.object({
          field: z.enum(["param", "metric", "tag"]),
          key: z.string().min(1).max(500),
          op: z.enum(["=", "!=", "<", "<=", ">", ">=", "contains"]),
          value: z.union([z.string().max(5000), z.number(), z.boolean()]),
        }),
      )
      .max(50)
      .optional(),
    orderBy: z
      .object({
        field: z.enum(["metric", "param", "startedAt", "duration", "status", "pipeline"]),
        key: z.string().min(1).max(500).optional(),
        desc: z.boolean().optional(),
      })
      .optional(),
    limit: z.number().int().min(1).max(1000).optional(),
    offset: z.number().int().min(0).optional(),
    includeChildren: z.boolean().optional(),
    parentRunId: runId.optional(),
    paramKeys: z.array(z.string().min(1).max(500)).max(500).optional(),
    metricKeys: z.array(z.string().min(1).max(500)).max(500).optional(),
  }),
  compareRuns: z.object({ runIds: z.array(runId).min(1).max(100) }),
  whoAmI: z.object({}),
  setRunTags: z.object({
    runId,
    set: z.record(tagKey, tagValue).default({}),
    remove: z.array(tagKey).max(100).default([]),
  }),
  setRunNote: z.object({ runId, note: z.string().max(100_000).nullable() }),
  listModels: z.object({ search: z.string().max(200).optional() }),
  getModel: z.object({ name: modelName }),
  getModelVersion: z.object({ name: modelName, ref: z.union([z.number().int().min(1), aliasName]) }),
  getReferenceProfile: z.object({ name: modelName, ref: z.union([z.number().int().min(1), aliasName]) }),
  updateModel: z.object({
    name: modelName,
    description: z.string().max(10_000).optional(),
    owner: z.string().max(200).nullable().optional(),
    tags: z.record(tagKey, tagValue).optional(),
    // Governance (app/values/governance.ts); null clears each.
    purpose: Governance.shape.purpose.unwrap().nullable().optional(),
    reviewBy: IsoDate.nullable().optional(),
    deprecated: Deprecation.nullable().optional(),
  }),
  setAlias: z.object({
    name: modelName,
    alias: aliasName,
    version: z.number().int().min(1),
    /** Why `production` may move without its requirements (kept in the audit history). */
    reason: z.string().max(2000).optional(),
  }),
  removeAlias: z.object({
    name: modelName,
    alias: aliasName,
    /** Why `production` is removed (required for it; kept in the audit history). */
    reason: z.string().max(2000).optional(),
  }),
  productionCheck: z.object({ name: modelName, version: z.number().int().min(1) }),
  aliasHistory: z.object({ name: modelName, alias: aliasName.optional() }),
  archiveVersion: z.object({
    name: modelName,
    version: z.number().int().min(1),
    /** Why the version holding `production` is archived (required for it; kept in the audit history). */
    reason: z.string().max(2000).optional(),
  }),
  auditLog: z.object({ model: modelName.optional(), limit: z.number().int().min(1).max(10_000).optional() }),
  lineageGraph: z.object({ model: modelName.optional() }),
  exportRun: z.object({ runId, dir: relPath.optional(), ...unmaskArgs }),
  exportModelVersion: z.object({
    name: modelName,
    ref: z.union([z.number().int().min(1), aliasName]),
    dir: relPath.optional(),
    ...unmaskArgs,
  }),
  listTargets: z.object({}),
  deploymentStatus: z.object({}),
  deployVersion: z.object({
    name: modelName,
    ref: z.union([versionNumber, aliasName]),
    target: targetName,
  }),
  rollbackDeployment: z.object({ name: modelName, target: targetName, version: versionNumber }),
  setTraffic: z.object({
    target: targetName,
    name: modelName,
    canary: z.object({ version: versionNumber, percent: z.number().min(0).max(100) }).optional(),
    shadow: z.object({ version: versionNumber }).optional(),
  }),
  /** A version beside the serving one at a share of the requests (app/deploy/canary.ts; Dagwood targets only). */
  deployCanary: z.object({
    name: modelName,
    ref: z.union([versionNumber, aliasName]),
    target: targetName,
    percent: z.number().gt(0).lt(100),
  }),
  promoteCanary: z.object({ name: modelName, target: targetName, version: versionNumber }),
  removeCanary: z.object({
    name: modelName,
    target: targetName,
    version: versionNumber,
    reason: z.string().trim().min(1).max(2000),
  }),
  startLocalServer: z.object({}),
  stopLocalServer: z.object({}),
  inferExample: z.object({ name: modelName, ref: z.union([versionNumber, aliasName]), ...unmaskArgs }),
  governanceReport: z.object({}),
  /** A deployed model's drift, predictions and performance per time window (app/api/handlers/monitoring.ts). */
  monitoringReport: z.object({
    /** The deploy target and the model's name there. */
    target: targetName,
    model: modelName,
    /** The registered model, when its name differs from the deployed one; `ref` its version or alias (default champion). */
    registeredModel: modelName.optional(),
    ref: z.union([versionNumber, aliasName]).optional(),
    /** A reference data file instead of the version's reference profile; a labels file (id, label) instead of the target's feedback. */
    reference: z.string().min(1).max(4096).optional(),
    labels: z.string().min(1).max(4096).optional(),
    /** Window width ("1h", "15m", "1d") and start of the data (a duration back, an ISO time). */
    window: z.string().min(1).max(32).default("1h"),
    since: z.string().min(1).max(64).optional(),
    minRows: z.number().int().min(1).max(1_000_000).default(30),
    tolerance: z.number().min(0).default(0.05),
  }),
  /** One column's reference and current distributions in a window of a deployed model's log, on the same bins (app/api/handlers/monitoring.ts). */
  driftDistribution: z.object({
    target: targetName,
    model: modelName,
    registeredModel: modelName.optional(),
    ref: z.union([versionNumber, aliasName]).optional(),
    column: z.string().min(1).max(1000),
    /** The window, ISO times: rows with start ≤ time < end. */
    start: z.iso.datetime({ offset: true }),
    end: z.iso.datetime({ offset: true }),
  }),
  /** dagwood.json's monitors with their schedule and last check (app/api/handlers/loops.ts). */
  listMonitors: z.object({}),
  /** Checks these monitors now (default: all) and advances their loops. */
  runMonitorsNow: z.object({ names: z.array(monitorName).min(1).max(1000).optional() }),
  monitorLoops: z.object({
    monitor: monitorName.optional(),
    model: modelName.optional(),
    status: z.enum(["open", "closed"]).optional(),
    limit: z.number().int().min(1).max(10_000).default(100),
  }),
  approveChallenger: z.object({ loopId: z.number().int().min(1) }),
  rejectChallenger: z.object({
    loopId: z.number().int().min(1),
    reason: z.string().trim().min(1).max(2000).optional(),
  }),
  acknowledgeAlert: z.object({ loopId: z.number().int().min(1) }),
  /** The feature store's definitions, versions, freshness, services and materialisations (app/api/handlers/features.ts). */
  listFeatures: z.object({}),
  /** `dagwood features apply`: checks every view against its source and records changed versions; 400 with every problem. */
  applyFeatures: z.object({}),
  /** `dagwood features materialize` (start and end) or `materialize-incremental` (end only). */
  materializeFeatures: z
    .object({
      incremental: z.boolean().default(false),
      start: z.iso.datetime({ offset: true }).optional(),
      end: z.iso.datetime({ offset: true }),
      views: z.array(z.string().min(1).max(128)).min(1).max(1000).optional(),
    })
    .refine((a) => a.incremental || a.start !== undefined, {
      message: "a materialisation needs a start (or incremental: true)",
      path: ["start"],
    }),
  /** Feast's /get-online-features, from the app: `features` (view:feature) or `service`, and the entity rows. */
  getOnlineFeatures: z
    .object({
      features: z.array(z.string().min(1).max(300)).min(1).max(10_000).optional(),
      service: z.string().min(1).max(128).optional(),
      entities: z.record(
        z.string().min(1).max(128),
        z
          .array(z.union([z.string().max(10_000), z.number(), z.boolean(), z.null()]))
          .min(1)
          .max(10_000),
      ),
      fullFeatureNames: z.boolean().default(false),
    })
    .refine((a) => (a.features === undefined) !== (a.service === undefined), {
      message: "name either features (view:feature) or a service, not both",
    }),
  /** dagwood.json's connections (app/api/handlers/connections.ts). */
  listConnections: z.object({}),
  testConnection: z.object({ connection: connectionName }),
  /** A schema's tables (without `table`), or a table's columns (with it). */
  browseConnection: z.object({
    connection: connectionName,
    schema: dbIdentifier("schema").optional(),
    table: dbIdentifier("table").optional(),
  }),
  /** The first rows of a table (some columns, a filter) or of one read-only query. */
  previewConnection: z
    .object({
      connection: connectionName,
      schema: dbIdentifier("schema").optional(),
      table: dbIdentifier("table").optional(),
      columns: z.array(dbIdentifier("column")).min(1).max(2000).optional(),
      where: z.string().trim().min(1).max(10_000).optional(),
      query: z.string().trim().min(1).max(100_000).optional(),
      limit: z.number().int().min(1).max(200).default(50),
      /** Columns with no lossless DuckDB type: an error naming them, or read as text. */
      unmapped: z.enum(["error", "text"]).default("error"),
    })
    .refine((a) => (a.table === undefined) !== (a.query === undefined), {
      message: "name either a table or a query, not both",
    })
    .refine((a) => a.query === undefined || (a.columns === undefined && a.where === undefined), {
      message: "columns and where go with a table; write them into the query instead",
    }),
  listDatasets: z.object({}),
  getDataset: z.object({ name: z.string().min(1).max(4096) }),
  updateDataset: z.object({
    /** A dagwood.json dataset name; a new one creates the entry (give its path). */
    name: z
      .string()
      .regex(
        /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/,
        "a dataset name: a letter, then letters, digits, _ . - (at most 128), e.g. flights",
      ),
    path: z.string().min(1).max(4096).optional(),
    suites: z.array(relPath).max(100).optional(),
    onFailure: z.enum(["warn", "fail"]).optional(),
    /** null clears a field. */
    governance: z
      .object({
        owner: z.string().max(200).nullable().optional(),
        purpose: z.string().max(2000).nullable().optional(),
        reviewBy: IsoDate.nullable().optional(),
        deprecated: Deprecation.nullable().optional(),
      })
      .optional(),
    /** Per column, its new full tag list (privacy); null or [] removes the column's entry; columns not named are kept. */
    columns: z
      .record(z.string().min(1).max(256), z.strictObject({ tags: z.array(TagName).max(32) }).nullable())
      .optional(),
  }),
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
  /** Files `ingest.file` can read, in the project and its data folders (capped; `truncated` says so). */
  listDataFiles: DataFileList;
  loadPipeline: LoadedPipeline;
  savePipeline: { path: string; text: string };
  /** The canonical file text of a document, without saving it (for Export JSON). */
  formatPipeline: { text: string };
  validatePipeline: { problems: Problem[] };
  /** The pipeline's changes since a git revision (app/api/handlers/changes.ts); `unavailable` says why there are none to show. */
  pipelineChanges: PipelineChanges;
  /** The project's branches and the recent commits (touching `path` when given), for picking a base. */
  gitRevisions: GitRevisions;
  /** Per node: its outputs are in the cache for its current params and inputs, or it would run. */
  cacheState: { nodes: Record<string, NodeCacheState> };
  /**
   * Per node, per output port, what is known of it before any run (its
   * columns; a model's input columns and target), null when only a run can
   * tell; and the problems that shows (an unknown column, bad SQL, a missing
   * file), with JSON paths. Runs nothing and writes nothing.
   */
  inferSchemas: { schemas: PipelineSchemas; problems: Problem[] };
  startRun: { runId: string };
  cancelRun: { canceled: boolean };
  /** Cache entries and tables dropped (those of the latest keepRuns runs of each pipeline are kept). */
  collectGarbage: { entries: number; tables: number };
  listRuns: RunRecord[];
  getRun: RunDetail;
  previewTable: TablePage;
  profileTable: ProfileReport;
  /** Per column, the personal data found in a sample of the table or file, with masked examples (app/privacy/scan.ts). */
  scanPrivacy: ScanReport;
  /** What a node output other than a table holds: a report, a model, a version reference, a deployment. */
  getReport: { data: PortData[DataPortType] };
  /** The suite files of the project (expectations/**.json), sorted by path. */
  listSuites: SuiteSummary[];
  /** A suite file as it is on disk, parsed when it is a suite, with its problems (unknown types, bad kwargs). */
  loadSuite: LoadedSuite;
  /** Written as Great Expectations writes a suite (formatSuite); 409 with `create` when the file exists. */
  saveSuite: { path: string };
  /** A suite drafted from a profile report, for review before saving. */
  suggestSuite: ExpectationSuite;
  /** Every expectation type the runner knows, with its kwargs. */
  listExpectationTypes: ExpectationInfo[];
  searchRuns: RunPage;
  compareRuns: ComparisonResult;
  /** Who this engine records runs as, and where: what `mine` filters by (user null: neither DAGWOOD_USER nor an OS user). */
  whoAmI: RunOwner;
  setRunTags: RunRecord;
  setRunNote: RunRecord;
  listModels: RegisteredModel[];
  getModel: ModelDetail;
  getModelVersion: ModelVersion;
  /** The version's reference profile (its training data and predictions), for drift monitoring. */
  getReferenceProfile: ReferenceProfileResult;
  updateModel: RegisteredModel;
  setAlias: AuditEntry;
  removeAlias: AuditEntry;
  /** What moving `production` to the version would record; `missing` lists the requirements it lacks. */
  productionCheck: ProductionRecord;
  /** The model's alias changes, newest first (production ones with their record). */
  aliasHistory: AliasChange[];
  archiveVersion: AuditEntry;
  auditLog: AuditEntry[];
  lineageGraph: LineageGraph;
  /** Default folder: `exports/run-<id>/` in the project. */
  exportRun: ExportResult;
  /** Default folder: `exports/<name>-v<version>/` in the project. */
  exportModelVersion: ExportResult;
  listTargets: TargetInfo[];
  /** Per target: health, what serves there, recent deployments, traffic and latency from /metrics. */
  deploymentStatus: TargetStatus[];
  /** The audit entry of the verified deployment (a parity failure is a 409 naming the figures). */
  deployVersion: AuditEntry;
  rollbackDeployment: AuditEntry;
  /** Dagwood targets only (400 for Triton): the primary stays, canary and shadow are replaced. */
  setTraffic: { policy: TrafficPolicy };
  /** The `deployment.canary` audit entry (the earlier one when that canary was already there). */
  deployCanary: AuditEntry;
  /** The `deployment.succeeded` entry of the promotion (a `deployment.canaryEnded` entry precedes it). */
  promoteCanary: AuditEntry;
  /** The `deployment.canaryEnded` entry (404 when the version was never the canary there). */
  removeCanary: AuditEntry;
  /** Starts the built-in `local` target's server (409 when dagwood.json defines a `local`): the target, running. */
  startLocalServer: TargetInfo;
  /** Stops it (status no longer restarts it until it is started or deployed to): the target, stopped. */
  stopLocalServer: TargetInfo;
  /** A V2 infer request for a version that works as pasted (a held-out row, else typed values), each input explained. */
  inferExample: InferExample;
  /** Artifacts with no owner, past their review date, or deprecated and still used; and dagwood.json's failOn policy. */
  governanceReport: { findings: GovernanceFinding[]; failOn: GovernanceFindingKind[] };
  monitoringReport: MonitoringReport;
  /** Same bins for both sides: Sturges edges over both for a numeric column (> 20 distinct reference values), else its values. */
  driftDistribution: {
    column: string;
    type: "numeric" | "categorical";
    /** Non-missing values on each side. */
    rows: { reference: number; current: number };
    edges: number[] | null;
    reference: { label: string; share: number }[];
    current: { label: string; share: number }[];
  };
  /** 400 when dagwood.json is not valid (its reason); `scheduler`: the app runs the monitors on their schedules. */
  listMonitors: { monitors: MonitorSummary[]; scheduler: boolean };
  /** 400 naming monitors dagwood.json does not declare; a monitor whose check failed has its `error`. */
  runMonitorsNow: {
    ticks: {
      monitor: string;
      breached: boolean;
      alerted: boolean;
      reasons: string[];
      error: string | null;
      loops: MonitorLoop[];
    }[];
  };
  /** Newest first. */
  monitorLoops: MonitorLoop[];
  /** 404 for an unknown loop; 409 (naming its stage) for one not awaiting approval. The loop as it now is. */
  approveChallenger: MonitorLoop;
  /** A loop awaiting approval or in canary (its canary removed) → kept. */
  rejectChallenger: MonitorLoop;
  /** An alerted or failed loop → acknowledged. */
  acknowledgeAlert: MonitorLoop;
  /** 200 even when features/*.json has problems (they are listed; the rest is what could be read). */
  listFeatures: FeaturesOverview;
  applyFeatures: FeatureApplyResult;
  /** What each view wrote, in order; 400 naming an unknown view or a bad window; 503 when the online store is away. */
  materializeFeatures: { records: FeatureMaterialization[] };
  /** 400 naming unknown features, services or missing entity keys; unknown keys are NOT_FOUND statuses. */
  getOnlineFeatures: OnlineFeaturesAnswer;
  /** dagwood.json's connections, sorted by name; 409 when dagwood.json is not valid. */
  listConnections: ConnectionInfo[];
  /** 404 for a connection dagwood.json does not name; a failure to connect is `ok: false` with its kind. */
  testConnection: ConnectionTest;
  browseConnection: ConnectionBrowse;
  /** 400 for a query that is not read-only (refused before it is sent); 404 for a missing table. */
  previewConnection: ConnectionPreview;
  /** dagwood.json's datasets (read or not), then files runs read with no entry; each with its latest version and test. */
  listDatasets: DatasetSummary[];
  /** A dataset's versions, schema changes, test history (failing expectations with examples) and users; 404 when unknown. */
  getDataset: DatasetDetail;
  /** Writes the entry into dagwood.json in place (other content and formatting kept); the dataset as it now is. */
  updateDataset: DatasetSummary;
}

/** The interface both transports implement: one async function per method, plus the event stream. */
export type Api = { [M in ApiMethod]: (args: ApiArgs<M>) => Promise<ApiResults[M]> } & {
  /** Subscribes to run events; returns the unsubscribe function. */
  onEvent(listener: (event: RunEvent) => void): () => void;
};

/** An error the API reports to its caller: `status` maps to HTTP; the message is for the user. */
export class ApiError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 500 | 502 | 503,
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
