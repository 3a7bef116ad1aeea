/**
 * The metadata store's contract: run tracking, lineage and the model
 * registry. One SQLite implementation (`metadata.ts`, `registry.ts`); the
 * engine, the blocks (through their context), the Api and the CLI use only
 * these types.
 */

import type { ValidationReport } from "../values/expectations";
import type { Deprecation } from "../values/governance";
import type { LoopCanary, LoopGate, LoopStage, MonitorLoop } from "../values/loop";
import type { ModelSignature } from "../values/model";
import type {
  DatasetRecord,
  ModelLineage,
  ModelVersion,
  ProductionRecord,
  RunEnvironment,
  VersionArtifacts,
  VersionDecision,
} from "../values/registry";

// The registry's values (a version, its lineage) cross the Api: they live in app/values.
export type { DatasetRecord, ModelLineage, ModelVersion, RunEnvironment, VersionArtifacts };

export type RunStatus = "running" | "succeeded" | "failed" | "canceled" | "interrupted";
export type NodeStatus = "ran" | "cached" | "failed" | "skipped";

export interface RunRecord {
  id: string;
  pipeline: string;
  /** The pipeline file, relative to the project, when it was run from a file. */
  pipelinePath: string | null;
  /** sha256 of the canonical pipeline text. */
  pipelineHash: string | null;
  status: RunStatus;
  /** The pipeline-level `${param}` values the run used. */
  params: Record<string, unknown>;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  error: string | null;
  environment: RunEnvironment;
  /** Who started it (OS user, or DAGWOOD_USER). */
  user: string | null;
  /** The machine it ran on (the host name of the process that started it); null for runs recorded before it was kept. */
  host: string | null;
  /** A tuning trial's parent run; null for a pipeline run. */
  parentRunId: string | null;
  /** "pipeline" for a pipeline run, "trial" for a tuning trial (a child run). */
  kind: "pipeline" | "trial";
  tags: Record<string, string>;
  note: string | null;
}

export interface StartRunInput {
  id: string;
  pipeline: string;
  pipelinePath: string | null;
  pipelineHash: string | null;
  /** The canonical pipeline file text, kept with the run. */
  pipelineText: string | null;
  params: Record<string, unknown>;
  /** Every node's resolved params, flattened as `nodeId.param` (nested objects as `nodeId.a.b`). */
  resolvedParams: Record<string, unknown>;
  startedAt: string;
  environment: RunEnvironment;
  user: string | null;
  tags?: Record<string, string>;
  /**
   * A run that several processes record into (the steps of one Argo workflow, each `dagwood step`
   * with the workflow's run id): when a run with this id exists, join it (its record, params and
   * tags stay as the first step wrote them) instead of failing on the duplicate id.
   */
  join?: boolean;
}

export interface NodeInputRef {
  node: string;
  port: string;
  fingerprint: string | null;
}

export interface NodeRunRecord {
  runId: string;
  nodeId: string;
  block: string;
  blockVersion: number;
  status: NodeStatus;
  reason: string | null;
  cacheKey: string | null;
  paramsHash: string | null;
  inputsHash: string | null;
  ms: number;
  error: string | null;
  /** Port → summary (table name, rows, fingerprint) of what the node produced. */
  outputs: Record<string, unknown>;
  /** Input port → the upstream node output it read (lineage). */
  inputs: Record<string, NodeInputRef>;
}

export interface MetricRecord {
  runId: string;
  nodeId: string;
  name: string;
  /** NaN and ±Infinity are kept as such. */
  value: number;
  step: number | null;
  /** ISO time it was logged; the store fills it when absent. */
  ts?: string;
}

export interface LogRecord {
  runId: string;
  nodeId: string;
  level: string;
  message: string;
}

export type ArtifactKind = "model.native" | "model.onnx" | "report" | "file";

export interface ArtifactRecord {
  runId: string;
  nodeId: string;
  /** e.g. "model/model.json", "model/model.onnx", "report/report.json" */
  name: string;
  kind: ArtifactKind;
  /** Relative to the project folder. */
  path: string;
  bytes: number;
  sha256: string;
}

export interface RunDatasetLink {
  runId: string;
  nodeId: string;
  digest: string;
}

/** One suite run on a dataset a node read (ingest.file with suites attached in dagwood.json). */
export interface DatasetTestRecord {
  runId: string;
  nodeId: string;
  /** The dataset version tested (sha256 of the file's bytes). */
  digest: string;
  /** The file as the node read it (path relative to the project, or absolute in a data folder). */
  source: string;
  /** The suite's project path (expectations/x.json). */
  suite: string;
  success: boolean;
  evaluated: number;
  successful: number;
  /** When it ran; the store fills it when absent. */
  at?: string;
  report: ValidationReport;
}

/**
 * A dataset version as the Data view lists it: the content, the name runs read it under
 * (`source`: one record per name when the same bytes were read under several), when runs last
 * read it under that name and how many did.
 */
export interface DatasetVersionRecord extends DatasetRecord {
  firstSeen: string;
  /** When a run last read it (its start time); firstSeen when no run is left. */
  lastSeen: string;
  /** The runs that read it (cached reads included). */
  runCount: number;
}

/** A run that read a dataset version. */
export interface DatasetReadRecord {
  digest: string;
  /** The file as the node read it (its `path` param). */
  source: string;
  runId: string;
  nodeId: string;
  pipeline: string;
  pipelinePath: string | null;
  startedAt: string;
}

/** One condition of a run search. */
export interface RunCondition {
  field: "param" | "metric" | "tag";
  /** `nodeId.param`, `nodeId.metric` or the tag key. */
  key: string;
  op: "=" | "!=" | "<" | "<=" | ">" | ">=" | "contains";
  value: string | number | boolean;
}

export interface RunQuery {
  pipeline?: string;
  status?: RunStatus[];
  /** Only runs started by this user (RunRecord.user). */
  user?: string;
  /** Only runs started on this machine (RunRecord.host). */
  host?: string;
  /** Every condition must hold. */
  where?: RunCondition[];
  orderBy?: {
    field: "metric" | "param" | "startedAt" | "duration" | "status" | "pipeline";
    /** For metric and param. */
    key?: string;
    desc?: boolean;
  };
  /** Default 50, at most 1000. */
  limit?: number;
  offset?: number;
  /** Include tuning trials (child runs); default false. */
  includeChildren?: boolean;
  parentRunId?: string;
  /** Which `nodeId.param` values each row carries; default none. */
  paramKeys?: string[];
  /** Which `nodeId.metric` values each row carries; default all. */
  metricKeys?: string[];
}

export interface RunListItem extends RunRecord {
  /** Latest value per `nodeId.metric` (the highest step, then the latest). NaN as NaN. */
  metrics: Record<string, number>;
  /** The requested `nodeId.param` values. */
  resolvedParams: Record<string, unknown>;
}

export interface RunPage {
  runs: RunListItem[];
  /** Runs matching the query, before paging. */
  total: number;
  /** Every `nodeId.param` and `nodeId.metric` key among matching runs (for column choosers), sorted. */
  paramKeys: string[];
  metricKeys: string[];
}

export interface RunComparison {
  runs: RunRecord[];
  /**
   * Per run (in `runs` order): whether its resolved params were recorded. Runs recorded before
   * Dagwood tracked resolved params (schema 3) have none; their params show as null.
   */
  paramsRecorded: boolean[];
  /**
   * Every `nodeId.param`: its value per run (null when absent), differing ones first, each group
   * sorted by key. `differs` compares only the runs whose params were recorded.
   */
  params: { key: string; values: unknown[]; differs: boolean }[];
  /** Every `nodeId.metric`: its latest value per run (null when absent). */
  metrics: { key: string; values: (number | null)[] }[];
  /** Metrics logged with steps in any run (training curves): per run, [step, value] sorted by step. */
  curves: { key: string; series: { runId: string; points: [number, number][] }[] }[];
  /** Node ids whose resolved params differ between the runs. */
  differingNodes: string[];
}

export interface TrialRunInput {
  parentRunId: string;
  nodeId: string;
  /** The trial's index in the search (0-based). */
  index: number;
  params: Record<string, unknown>;
  /** e.g. { cv_accuracy: 0.93, cv_accuracy_std: 0.01 } */
  metrics: Record<string, number>;
}

// ---------------------------------------------------------------- registry

/** Model names: letters, digits, `_`, `-`, `.`; start with a letter or digit; ≤ 128. No path can be made of one. */
export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
/** Alias names: start with a letter (so "3" always means version 3); ≤ 64. */
export const ALIAS_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

export interface RegisteredModel {
  name: string;
  description: string;
  owner: string | null;
  /** What the model is for (governance: app/values/governance.ts). */
  purpose: string | null;
  /** The date by which its owner reviews it again (YYYY-MM-DD). */
  reviewBy: string | null;
  /** Deprecated: registering to it warns, naming the replacement (a model name). */
  deprecated: Deprecation | null;
  tags: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  latestVersion: number | null;
  /** alias → version */
  aliases: Record<string, number>;
  versions: number;
}

export interface RegisterVersionInput {
  name: string;
  description?: string;
  runId: string;
  nodeId: string;
  modelFingerprint: string;
  estimator: string;
  task: string;
  signature: ModelSignature;
  metrics: Record<string, number>;
  parity: ModelVersion["parity"];
  /**
   * Absolute paths of the files to copy into the registry; `heldout` becomes `heldout.json`, `profile`
   * (the training data's reference profile) `reference-profile.json`.
   */
  files: { native: string; onnx: string; heldout?: string; profile?: string };
  /**
   * The same files already uploaded to the project's shared artifact location and verified
   * (app/artifacts/version-files.ts `stageVersionFiles`): the row records this manifest, after the
   * registry has checked that the files it copied hash to it. Absent without a shared location.
   */
  artifacts?: VersionArtifacts | null;
  lineage: ModelLineage;
  /**
   * The feature service whose features fill the model's inputs (checked by the caller against the
   * project's features). A registration of the same model with another service is a new version.
   */
  featureService?: string | null;
  /**
   * A binary classifier's decision rule as evaluated (ModelVersion.decision); `files.onnx` must already
   * label by it. The same model with another decision is a new version.
   */
  decision?: VersionDecision | null;
  /** Set this alias to the new (or existing) version. */
  alias?: string;
  actor: string | null;
}

export type AuditAction =
  | "model.created"
  | "model.updated"
  | "version.created"
  | "version.archived"
  | "alias.set"
  | "alias.moved"
  | "alias.removed"
  | "deployment.succeeded"
  | "deployment.failed"
  | "deployment.rolledBack"
  /** A monitor's window breached (details: monitor, window, reasons): app/monitoring/monitors.ts. */
  | "monitor.alert"
  /**
   * The retraining loop's steps (app/monitoring/loop.ts; details: loop, monitor and the step's
   * figures): the run started and ended, the gate's figures, the canary judged, the challenger
   * promoted or the champion kept (with the reason), a person's approval, rejection or acknowledgement.
   */
  | "monitor.retrain"
  | "monitor.gate"
  | "monitor.canary"
  | "monitor.promoted"
  | "monitor.kept"
  | "monitor.failed"
  | "monitor.approved"
  | "monitor.acknowledged"
  /** A version deployed as a canary beside the primary, and a canary ended (details.outcome promoted | removed). */
  | "deployment.canary"
  | "deployment.canaryEnded"
  /**
   * Privacy (app/privacy): tagged values shown or exported unmasked at the user's request (details:
   * what, where, columns), a subject erased (details: column, value's hash, what was removed), a
   * model's log policy changed. Entries about the project, not one model, carry model "*".
   */
  | "privacy.unmasked"
  | "privacy.erased"
  | "privacy.policy";

export interface AuditEntry {
  id: number;
  at: string;
  actor: string | null;
  action: AuditAction;
  model: string;
  version: number | null;
  /** e.g. { alias: "champion", from: 3, to: 4 } */
  details: Record<string, unknown>;
}

/** The fields of a registered model a user sets (undefined: unchanged; null: cleared). */
export interface ModelFields {
  description?: string;
  owner?: string | null;
  tags?: Record<string, string>;
  purpose?: string | null;
  /** YYYY-MM-DD. */
  reviewBy?: string | null;
  deprecated?: Deprecation | null;
}

/** The model registry. Every change is one transaction with its audit entry. */
export interface Registry {
  /**
   * Creates the model, or updates description/owner/tags/governance of an
   * existing one (null clears owner, purpose, reviewBy, deprecated); a change
   * is audited as `model.updated` with the fields that changed.
   */
  upsertModel(name: string, fields: ModelFields, actor: string | null): RegisteredModel;
  /**
   * Copies the files into `<registryDir>/<name>/<version>/` and records the
   * version, its alias and the audit entries in one transaction; with
   * `input.artifacts` (files already uploaded to the shared artifact location)
   * the copies must hash to it, and the row records it. A model
   * already registered under this name with the same fingerprint (and not
   * archived) is returned instead, with `created: false`.
   */
  registerVersion(input: RegisterVersionInput): { version: ModelVersion; created: boolean };
  listModels(opts?: { search?: string }): RegisteredModel[];
  getModel(name: string): RegisteredModel | undefined;
  listVersions(name: string): ModelVersion[];
  /** `ref` is a version number or an alias. */
  getVersion(name: string, ref: number | string): ModelVersion | undefined;
  /**
   * Moves (or sets) an alias; throws RegistryError if the version does not exist or is archived.
   * `production` needs a passed gate and a staging deploy, or `opts.reason` (app/store/promotion.ts).
   */
  setAlias(
    name: string,
    alias: string,
    version: number,
    actor: string | null,
    opts?: { reason?: string },
  ): AuditEntry;
  /** What moving `production` to the version would record, and which requirements it misses. */
  productionCheck(name: string, version: number): ProductionRecord;
  /** Removes an alias; removing `production` needs `opts.reason` (kept in the audit entry). */
  removeAlias(name: string, alias: string, actor: string | null, opts?: { reason?: string }): AuditEntry;
  /** Archives a version and removes its aliases; a version holding `production` needs `opts.reason`. */
  archiveVersion(name: string, version: number, actor: string | null, opts?: { reason?: string }): AuditEntry;
  /** Appends an entry (deployments use this); model "*" (PROJECT_AUDIT_MODEL) for one about the project. */
  appendAudit(entry: Omit<AuditEntry, "id" | "at">): AuditEntry;
  /**
   * A subject erased from a registered file of a version (`heldout.json`, app/privacy/erase.ts): in one
   * transaction, the version's artifact manifest takes `stored` (the erased file as uploaded to the
   * shared location; null when the version has no manifest entry for the file) and the
   * `privacy.erased` audit entry of the version is appended.
   */
  recordErasedFile(
    name: string,
    version: number,
    file: string,
    stored: { key: string; sha256: string; bytes: number } | null,
    entry: { actor: string | null; details: Record<string, unknown> },
  ): AuditEntry;
  /** Newest first; `actions`: only these. */
  audit(opts?: { model?: string; limit?: number; actions?: readonly AuditAction[] }): AuditEntry[];
}

/** A user-facing registry error (unknown model, bad name, alias to a missing version). */
export class RegistryError extends Error {
  override name = "RegistryError";
  constructor(
    message: string,
    readonly code: "not-found" | "invalid" | "conflict" = "invalid",
  ) {
    super(message);
  }
}

/** A loop's first record: a monitor alerted on a breached window (app/store/loops.ts). */
export interface NewLoopInput {
  monitor: string;
  model: string;
  target: string;
  action: "alert" | "retrain";
  window: { start: string; end: string };
  reasons: string[];
  champion: number | null;
  /** The first history line, and the `monitor.alert` audit entry. */
  message: string;
  auditId: number | null;
  at?: string;
}

/** A step of a loop: the fields it sets (undefined: unchanged) and its history line. */
export interface LoopUpdate {
  stage?: LoopStage;
  runId?: string | null;
  challenger?: number | null;
  gate?: LoopGate | null;
  canary?: LoopCanary | null;
  outcome?: string | null;
  /** The process taking an external step (JSON of app/monitoring/loop.ts Claim: the step and its ProcessOwner), or null to release it. */
  claim?: string | null;
  event?: { message: string; auditId?: number | null };
  at?: string;
}

export interface LoopQuery {
  monitor?: string;
  model?: string;
  status?: "open" | "closed";
  limit?: number;
}

/** A version of a feature view's definition, recorded by `dagwood features apply` (app/features/apply.ts). */
export interface FeatureViewVersion {
  view: string;
  version: number;
  /** sha256 of the definition's canonical JSON. */
  digest: string;
  /** The definition as applied (JSON). */
  definition: string;
  /** The file that defined it ("features/drivers.json"). */
  file: string;
  appliedAt: string;
}

/** The metadata store: runs, node runs, metrics, logs, artifacts, datasets. */
export interface MetadataStore {
  readonly registry: Registry;
  startRun(run: StartRunInput): void;
  finishRun(id: string, status: RunStatus, error?: string | null): void;
  /** Merges facts into the run's environment (e.g. the tfjs backend a block used). */
  updateEnvironment(id: string, facts: RunEnvironment): void;
  recordNodeRun(node: NodeRunRecord): void;
  /** One transaction for the batch. */
  logMetrics(metrics: MetricRecord[]): void;
  logMetric(metric: MetricRecord): void;
  logMessage(entry: LogRecord): void;
  recordArtifact(artifact: ArtifactRecord): void;
  /** Records the dataset (once per digest) and links it to the run and node. */
  recordDataset(runId: string, nodeId: string, dataset: DatasetRecord): void;
  /** A tuning trial as a child run of `parentRunId`; returns its id. */
  recordTrial(trial: TrialRunInput): string;
  /** Records the params a search chose for a node as its params (node.key), listing them in node.search.chosen. */
  recordChosenParams(runId: string, nodeId: string, params: Record<string, unknown>): void;
  /**
   * For a node taken from the cache: copies the metrics, dataset links, the
   * suite results on those datasets (dated now: the run tested that version
   * again, with the same suite bytes, as the cache key covers both) and
   * artifacts of the node run that computed the outputs under `cacheKey`
   * into (runId, nodeId), in one transaction. Returns the metrics copied.
   */
  copyFromProducer(
    cacheKey: string,
    runId: string,
    nodeId: string,
  ): { name: string; value: number; step: number | null }[];
  /** The messages logged at level warn by the node run that computed the outputs under `cacheKey`. */
  producerWarnings(cacheKey: string): string[];
  getRun(id: string): RunRecord | undefined;
  /** The canonical pipeline text the run used. */
  pipelineText(id: string): string | null;
  /** `nodeId.param` → value. */
  resolvedParams(id: string): Record<string, unknown>;
  listRuns(opts?: { pipeline?: string; limit?: number }): RunRecord[];
  searchRuns(query: RunQuery): RunPage;
  compareRuns(ids: string[]): RunComparison;
  setTags(id: string, set: Record<string, string>, remove?: string[]): void;
  setNote(id: string, note: string | null): void;
  nodeRuns(runId: string): NodeRunRecord[];
  metrics(runId: string): MetricRecord[];
  logs(runId: string): LogRecord[];
  artifacts(runId: string): ArtifactRecord[];
  /** The datasets a run read, with the node that read each. */
  datasets(runId: string): (DatasetRecord & { nodeId: string })[];
  /** The datasets read by `nodeId` and every node upstream of it in the run (via node_runs inputs). */
  upstreamDatasets(runId: string, nodeId: string): DatasetRecord[];
  /** Records a suite's result on a dataset a node read (replacing that node's earlier result for the suite). */
  recordDatasetTest(test: DatasetTestRecord): void;
  /** Every dataset version recorded, once per name it was read under, oldest first (by firstSeen). */
  datasetVersions(): DatasetVersionRecord[];
  /** Digests that were tested but never recorded as read (the node failed on its suite), once per source. */
  untrackedTestedDigests(): { digest: string; source: string }[];
  /** The runs that read these versions, newest first. */
  datasetReads(digests: readonly string[]): DatasetReadRecord[];
  /** The suite results on these versions, newest first (`limit`: at most that many; `sources`: read under these names only). */
  datasetTests(
    digests: readonly string[],
    opts?: { limit?: number; sources?: readonly string[] },
  ): DatasetTestRecord[];
  /** Registered model versions whose lineage lists one of these digests (registered by `runIds`, when given). */
  modelVersionsReading(
    digests: readonly string[],
    runIds?: readonly string[],
  ): { name: string; version: number }[];
  /** The most recent node run of a node that produced outputs (ran or cached), to explain why it runs again. */
  lastCompletedNodeRun(pipeline: string, nodeId: string): NodeRunRecord | undefined;
  markInterruptedRuns(): void;
  /** The retraining loop's records (app/monitoring/loop.ts): undefined when that window already has a loop. */
  createMonitorLoop(input: NewLoopInput): MonitorLoop | undefined;
  monitorLoop(id: number): MonitorLoop | undefined;
  /** Newest first. */
  monitorLoops(query?: LoopQuery): MonitorLoop[];
  /** The process holding the loop's current external step, as recorded (null: none). */
  monitorLoopClaim(id: number): string | null;
  /** Compare-and-set: applied only while the loop is at `expect.stage` (and holds `expect.claim` when given); undefined otherwise. */
  updateMonitorLoop(
    id: number,
    expect: { stage: LoopStage; claim?: string | null },
    update: LoopUpdate,
  ): MonitorLoop | undefined;
  /** Records the view's definition as a new version when its digest differs from the latest one; answers the current version. */
  recordFeatureViewVersion(input: Omit<FeatureViewVersion, "version" | "appliedAt"> & { at?: string }): {
    version: FeatureViewVersion;
    changed: boolean;
  };
  /** Every recorded version of the view (or of all views), newest first per view. */
  featureViewVersions(view?: string): FeatureViewVersion[];
  /** The cache keys that the latest `runs` runs of each pipeline used (ran or cached). */
  recentCacheKeys(runs: number): Set<string>;
  close(): void;
}
