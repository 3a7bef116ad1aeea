/**
 * Registry values: what `register` puts on its `version` port (a reference),
 * and the version record the registry keeps and the Api returns, with its
 * lineage. The store (app/store) writes and reads these.
 */
import { z } from "zod";
import type { ModelSignature } from "./model";
import type { PersonalDataUse } from "./privacy";

/** What the `version` output (port type modelVersion) carries: a reference into the registry. */
export const ModelVersionRef = z.strictObject({
  name: z.string(),
  version: z.number(),
  /** False when the same model was registered before and that version is returned. */
  created: z.boolean(),
  modelFingerprint: z.string(),
});
export type ModelVersionRef = z.infer<typeof ModelVersionRef>;

/** Facts about where a run ran. Unknown facts are absent, never guessed. */
export interface RunEnvironment {
  dagwood?: string;
  node?: string;
  /** e.g. "linux 6.1.0 x64" */
  os?: string;
  duckdb?: string;
  /** The TensorFlow.js backend a block used ("tensorflow", "wasm", "cpu"). */
  tfjsBackend?: string;
  /** The project's git commit (HEAD), when the project is in a git repository. */
  gitCommit?: string;
  /** Whether the working tree had uncommitted changes. */
  gitDirty?: boolean;
  [key: string]: unknown;
}

/** A dataset a run read: an ingested file, by content. */
export interface DatasetRecord {
  /** sha256 of the source bytes. */
  digest: string;
  /** The source as given (path relative to the project, or absolute in a data folder). */
  source: string;
  /** The loaded table's columns. */
  schema: { name: string; type: string }[];
  rows: number;
  /** The loaded table's content fingerprint. */
  fingerprint: string;
  /** When this digest was first recorded. */
  firstSeen?: string;
  /** A read from a database (ingest.database): what was read, and for an incremental read the cursor range. */
  database?: DatabaseRead;
}

/** What a run read from a database: the connection (by name), the table or query, the cursor range, the rows. */
export interface DatabaseRead {
  connection: string;
  /** `schema.table` or `table`, as the node named it. */
  table?: string;
  query?: string;
  /** Incremental reads: rows with `column` past `from` (null: from the start) up to `to` (null: none read). */
  cursor?: { column: string; from: string | null; to: string | null };
  /** Rows this run read (an incremental read: the new rows only). */
  rowsRead: number;
}

export interface ModelLineage {
  run: {
    id: string;
    pipeline: string;
    pipelinePath: string | null;
    pipelineHash: string | null;
    startedAt: string;
    user: string | null;
  };
  /** The train node that produced the model. */
  nodeId: string;
  /** The datasets read upstream of that node. */
  datasets: DatasetRecord[];
  /** The resolved params of that node and of every node upstream of it (`nodeId.param`). */
  params: Record<string, unknown>;
  environment: RunEnvironment;
  /**
   * The model's inputs that carry a tag (app/privacy/types.ts), with where each tag came from:
   * "uses personal data: email_domain ← email". Absent or [] when none does.
   */
  personalData?: PersonalDataUse[];
}

/** A registered model version, as the registry keeps it and the Api returns it. */
export interface ModelVersion {
  name: string;
  version: number;
  status: "ready" | "archived";
  description: string;
  createdAt: string;
  createdBy: string | null;
  runId: string;
  nodeId: string;
  /** The model's block output fingerprint: registering the same model twice gives the same version. */
  modelFingerprint: string;
  estimator: string;
  task: string;
  /** The served model's tensors (inputs and outputs). */
  signature: ModelSignature;
  /** A snapshot of the metrics at registration (the evaluation report's finite ones, if given). */
  metrics: Record<string, number>;
  /** ONNX parity at export: rows, maxAbsDiff, labelAgreement. */
  parity: { rows: number; maxAbsDiff: number; labelAgreement: number } | null;
  /** Relative to the project folder. */
  nativePath: string;
  onnxPath: string;
  /**
   * Up to 200 held-out rows and the registry's predictions on them (`heldout.json`, see
   * app/deploy/heldout.ts), relative to the project folder; null when none were given.
   */
  heldoutPath: string | null;
  /**
   * The feature service (a name in the project's `features/*.json`) whose features fill the model's
   * inputs when it is called by entity (V2 `parameters.entities`); null when it was registered without
   * one (and for versions from before feature services).
   */
  featureService: string | null;
  /**
   * A binary classifier's decision rule, as the evaluation report it was registered with scored it
   * (app/ml/decision.ts): `positiveClass` when its probability is at least `threshold`. Its model.onnx
   * labels by it (app/ml/onnx/decision.ts), so served labels are predict's. Absent or null: registered
   * without a binary evaluation (and versions from before): the label is the most probable class.
   */
  decision?: VersionDecision | null;
  lineage: ModelLineage;
  aliases: string[];
  /**
   * The version's files in the project's shared artifact location (app/artifacts/location.ts), by file
   * name in the version folder (`model.json`, `model.onnx`, …), so another machine on the same store can
   * fetch them; absent or null when only the registering machine's registry folder has them.
   */
  artifacts?: VersionArtifacts | null;
}

/** A binary decision rule: the positive class (as text) and the threshold on its probability. */
export interface VersionDecision {
  threshold: number;
  positiveClass: string;
}

/** A version's files in the shared artifact location: content keys and their sha256, as registered. */
export interface VersionArtifacts {
  /** The location they were uploaded to, as it described itself (`s3://bucket/prefix`, `folder /mnt/share`). */
  location: string;
  files: Record<string, { key: string; sha256: string; bytes: number }>;
}

/**
 * Alias conventions the app knows. `staging` may be moved freely; `production` only to a version
 * that passed its gate and was deployed to the `staging` target, or with a reason that overrides
 * (app/store/promotion.ts checks it in the registry, so every path to the alias obeys it).
 */
export const STAGING_ALIAS = "staging";
export const PRODUCTION_ALIAS = "production";
/** The deploy target a version must have been deployed to before it may become `production`. */
export const STAGING_TARGET = "staging";

/** A gate's figures as a production change records them. */
export interface GateFigures {
  /** "run": a gate node of the run that registered the version; "monitor": a retraining loop's gate. */
  source: "run" | "monitor";
  /** The gate node's id, or the monitor's name. */
  node: string;
  status: "passed" | "failed" | "not reached";
  metric: string | null;
  /** How the metric had to compare with the threshold (">=", "<", …); null without a threshold. */
  op: string | null;
  threshold: number | null;
  /** The metric of the version (the report the gate checked); null when it is not recorded. */
  value: number | null;
  /** The registered version it had to beat, when the gate had one. */
  champion: {
    model: string;
    alias: string | null;
    margin: number;
    version: number | null;
    value: number | null;
  } | null;
  /** Why it failed or did not run. */
  error: string | null;
}

/**
 * A gate's figures in words, as the CLI and the Models view show them:
 * "accuracy 0.93 >= 0.9 against penguins@champion v1 0.9 (margin 0.01) — passed (node gate)";
 * `format` renders a metric value.
 */
export function gateFiguresText(g: GateFigures, format: (value: number) => string): string {
  const value = g.value === null ? "?" : format(g.value);
  const check =
    g.threshold !== null
      ? `${g.metric ?? "?"} ${value} ${g.op ?? ">="} ${g.threshold}`
      : `${g.metric ?? "?"} ${value}`;
  const c = g.champion;
  const champion = c
    ? ` against ${c.model}@${c.alias ?? "champion"}${c.version !== null ? ` v${c.version}` : ""}${c.value !== null ? ` ${format(c.value)}` : ""}${c.margin ? ` (margin ${c.margin})` : ""}`
    : "";
  const where = g.source === "monitor" ? `loop ${g.node}` : `node ${g.node}`;
  return `${check}${champion} — ${g.status}${g.error ? ` (${g.error})` : ""} (${where})`;
}

/** What a change of the `production` alias records (audit details `production`), and what a check answers. */
export interface ProductionRecord {
  /** The run that registered the version and the pipeline it ran: its file, canonical hash and the project's git commit. */
  run: {
    id: string;
    pipeline: string;
    pipelinePath: string | null;
    pipelineHash: string | null;
    gitCommit: string | null;
    /** The project's working tree had uncommitted changes (null: not known). */
    gitDirty: boolean | null;
  };
  /** The data versions the model was trained on (its lineage), by digest. */
  datasets: { source: string; digest: string; rows: number }[];
  gates: GateFigures[];
  /** The version's latest successful deploy to the staging target, or null. */
  staging: { target: string; auditId: number; at: string; actor: string | null } | null;
  /** The requirements not met (empty: all met); with any, the change needed `reason`. */
  missing: string[];
  /** The reason given to override the missing requirements (or a note when none were missing). */
  reason: string | null;
}

/** One change of an alias as `dagwood models history` and the version page list it. */
export interface AliasChange {
  auditId: number;
  at: string;
  actor: string | null;
  alias: string;
  /** "set", "moved", "removed", or "archived" (the version was archived and lost the alias). */
  change: "set" | "moved" | "removed" | "archived";
  from: number | null;
  to: number | null;
  /** For `production`: the record (null for changes made before Dagwood kept one, and for removals). */
  production: ProductionRecord | null;
  /** The reason given with a removal or an archive (required when it took `production` away), else null. */
  reason: string | null;
}

/**
 * The alias changes among audit entries (newest first, as given): sets, moves, removals, and the
 * aliases a version lost when it was archived; `alias` keeps only that alias's changes.
 */
export function aliasChanges(
  entries: readonly {
    id: number;
    at: string;
    actor: string | null;
    action: string;
    version: number | null;
    details: Record<string, unknown>;
  }[],
  alias?: string,
): AliasChange[] {
  const out: AliasChange[] = [];
  const num = (v: unknown) => (typeof v === "number" ? v : null);
  const str = (v: unknown) => (typeof v === "string" ? v : null);
  for (const e of entries) {
    const base = { auditId: e.id, at: e.at, actor: e.actor };
    if (e.action === "version.archived") {
      const removed = Array.isArray(e.details.aliasesRemoved) ? (e.details.aliasesRemoved as string[]) : [];
      for (const a of removed)
        if (alias === undefined || a === alias)
          out.push({
            ...base,
            alias: a,
            change: "archived",
            from: e.version,
            to: null,
            production: null,
            reason: str(e.details.reason),
          });
      continue;
    }
    const change =
      e.action === "alias.set"
        ? "set"
        : e.action === "alias.moved"
          ? "moved"
          : e.action === "alias.removed"
            ? "removed"
            : null;
    const a = e.details.alias;
    if (change === null || typeof a !== "string" || (alias !== undefined && a !== alias)) continue;
    const production = (e.details.production ?? null) as ProductionRecord | null;
    out.push({
      ...base,
      alias: a,
      change,
      from: num(e.details.from),
      to: change === "removed" ? null : num(e.details.to),
      production,
      reason: change === "removed" ? str(e.details.reason) : null,
    });
  }
  return out;
}
