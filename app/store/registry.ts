import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { manifestMismatches } from "../artifacts/manifest";
import { Deprecation, IsoDate } from "../values/governance";
import { PROJECT_AUDIT_MODEL } from "../values/privacy";
import { PRODUCTION_ALIAS, type ProductionRecord, type VersionDecision } from "../values/registry";
import { productionRecord, productionRefusal, productionRemovalRefusal, type RunFacts } from "./promotion";
import type { Sql } from "./sql";
import { nowIso, numbersFromJson, numbersToJson } from "./sqlite";
import {
  ALIAS_NAME,
  type AuditAction,
  type AuditEntry,
  MODEL_NAME,
  type ModelFields,
  type ModelVersion,
  type RegisteredModel,
  type RegisterVersionInput,
  type Registry,
  RegistryError,
  type VersionArtifacts,
} from "./types";

export interface RegistryOptions {
  projectDir: string;
  registryDir: string;
  /** An in-memory store opened without a project folder: registering files is refused. */
  inMemory?: boolean;
  /** The runs that registered versions: where moving `production` finds their gates (app/store/promotion.ts). */
  runs?: RunFacts;
}

/** Without the runs, no version's gate can be found (moving `production` then needs a reason). */
const NO_RUNS: RunFacts = {
  getRun: () => undefined,
  nodeRuns: () => [],
  metrics: () => [],
  resolvedParams: () => ({}),
  artifacts: () => [],
};

/** The longest reason an alias change keeps. */
const MAX_REASON = 2000;

/** A reason as given (trimmed), or undefined for none; a blank or overlong one is refused. */
function checkReason(reason: string | undefined): string | undefined {
  if (reason === undefined) return undefined;
  const text = typeof reason === "string" ? reason.trim() : "";
  if (!text)
    throw new RegistryError(
      "An override needs a reason: say in a sentence why this version may skip its requirements (it goes into the audit history).",
      "invalid",
    );
  if (text.length > MAX_REASON)
    throw new RegistryError(
      `The reason is ${text.length} characters long; keep it to ${MAX_REASON} (link to a longer write-up instead).`,
      "invalid",
    );
  return text;
}

interface ModelRow {
  name: string;
  description: string;
  owner: string | null;
  purpose: string | null;
  review_by: string | null;
  /** JSON: {reason, replacement?, since?}. */
  deprecated: string | null;
  tags: string;
  created_at: string;
  updated_at: string;
}

interface VersionRow {
  name: string;
  version: number;
  status: "ready" | "archived";
  description: string;
  created_at: string;
  created_by: string | null;
  run_id: string;
  node_id: string;
  model_fingerprint: string;
  estimator: string;
  task: string;
  signature: string;
  metrics: string;
  parity: string | null;
  native_path: string;
  onnx_path: string;
  heldout_path: string | null;
  feature_service: string | null;
  /** JSON VersionArtifacts: the files in the shared artifact location; null without one. */
  artifacts?: string | null;
  decision_threshold?: number | null;
  decision_positive_class?: string | null;
  lineage: string;
}

interface AuditRow {
  id: number;
  at: string;
  actor: string | null;
  action: AuditAction;
  model: string;
  version: number | null;
  details: string;
}

/**
 * The reference profile's file name in a version folder. It is copied into the staging folder with the
 * other files, so it is there exactly when the version's row is: a version has no path column for it,
 * and a version registered before profiles were kept simply has no such file.
 */
export const REFERENCE_PROFILE_FILE = "reference-profile.json";

/** The absolute path of a version's reference profile, or null when the version has none. */
export function referenceProfilePath(
  projectDir: string,
  version: Pick<ModelVersion, "nativePath">,
): string | null {
  const file = join(projectDir, dirname(version.nativePath), REFERENCE_PROFILE_FILE);
  return existsSync(file) ? file : null;
}

/** Staging folders older than this belong to a process that died (registration takes seconds). */
const STALE_STAGING_MS = 60 * 60 * 1000;

/**
 * Fault injection for crash tests: when DAGWOOD_FAULT names this point, the process kills itself here
 * (SIGKILL: no cleanup, no `finally`), exactly as a power cut at this moment would leave things.
 * Points: "registry:after-copy" (files staged, nothing committed), "registry:after-rename" (the version
 * folder in place, its row not committed).
 */
function faultPoint(point: string): void {
  if (process.env.DAGWOOD_FAULT === point) process.kill(process.pid, "SIGKILL");
}

const toAudit = (r: AuditRow): AuditEntry => ({
  id: r.id,
  at: r.at,
  actor: r.actor,
  action: r.action,
  model: r.model,
  version: r.version,
  details: JSON.parse(r.details),
});

function checkModelName(name: string): void {
  if (typeof name !== "string" || !MODEL_NAME.test(name)) {
    throw new RegistryError(
      `Invalid model name ${JSON.stringify(name)}: use 1 to 128 letters, digits, "_", "-" or ".", starting with a letter or digit.`,
      "invalid",
    );
  }
}

/** Names Windows reserves for devices, with or without an extension ("nul.txt"): no folder can have one. */
const WINDOWS_DEVICE_NAME = /^(con|prn|aux|nul|com[1-9]|lpt[1-9])(\..*)?$/i;

/**
 * The checks for a name that is about to become a folder: on top of MODEL_NAME, no Windows device name
 * and no trailing "." (Windows drops it, so "m." and "m" would share a folder).
 */
export function checkNewModelName(name: string): void {
  checkModelName(name);
  if (WINDOWS_DEVICE_NAME.test(name)) {
    throw new RegistryError(
      `Invalid model name ${JSON.stringify(name)}: Windows reserves it for a device (CON, PRN, AUX, NUL, COM1-9, LPT1-9, with or without an extension), so its folder could not be created there. Choose another name.`,
      "invalid",
    );
  }
  if (name.endsWith(".")) {
    throw new RegistryError(
      `Invalid model name ${JSON.stringify(name)}: a name cannot end in "." (Windows drops the dot from folder names). Remove the trailing dot.`,
      "invalid",
    );
  }
}

/** The deprecation as the models row keeps it: fixed key order, so equal values compare equal. */
function deprecationJson(d: Deprecation): string {
  return JSON.stringify({
    reason: d.reason,
    ...(d.replacement !== undefined ? { replacement: d.replacement } : {}),
    ...(d.since !== undefined ? { since: d.since } : {}),
  });
}

/** Refuses a malformed review date or deprecation with what to write instead. */
function checkGovernance(fields: ModelFields): void {
  if (fields.reviewBy !== undefined && fields.reviewBy !== null) {
    const r = IsoDate.safeParse(fields.reviewBy);
    if (!r.success)
      throw new RegistryError(
        `Invalid review date ${JSON.stringify(fields.reviewBy)}: ${r.error.issues[0]!.message}.`,
        "invalid",
      );
  }
  if (fields.deprecated !== undefined && fields.deprecated !== null) {
    const r = Deprecation.safeParse(fields.deprecated);
    if (!r.success)
      throw new RegistryError(
        `Invalid deprecation: ${r.error.issues.map((i) => `${i.path.join(".") || "deprecated"}: ${i.message}`).join("; ")}. Give a reason, and optionally a replacement model and a since date (YYYY-MM-DD).`,
        "invalid",
      );
  }
}

function checkAlias(alias: string): void {
  if (typeof alias !== "string" || !ALIAS_NAME.test(alias)) {
    throw new RegistryError(
      `Invalid alias ${JSON.stringify(alias)}: use 1 to 64 letters, digits, "_" or "-", starting with a letter (e.g. "champion").`,
      "invalid",
    );
  }
}

/**
 * The model registry, on the metadata database. A version's files live in
 * `<registryDir>/<name>/<version>/`; the database row is the truth: a folder
 * without a row is not a version. Such a folder is never deleted: it may be
 * debris of a registration killed before its commit, or the files of a
 * version whose database was moved aside; it is set aside as
 * `<name>/.orphan-<version>-<random>` before the number is used again.
 */
export class SqliteRegistry implements Registry {
  constructor(
    private readonly sql: Sql,
    private readonly opts: RegistryOptions,
  ) {}

  private write<T>(fn: () => T): T {
    return this.sql.write(fn);
  }

  /**
   * Inside `write`: makes other processes' changes to this model (its row, versions and aliases) wait
   * until this transaction ends, so the version number and alias rows read next stay true until it
   * commits. Keyed by the lower-case name, so two processes creating case twins take turns too. The
   * one lock order: this lock first, then any alias row.
   */
  private lockModel(name: string): void {
    this.sql.lock(`model:${name.toLowerCase()}`);
  }

  private insertAudit(entry: Omit<AuditEntry, "id" | "at">): AuditEntry {
    const at = nowIso();
    const details = JSON.stringify(entry.details ?? {});
    const id = this.sql.value<number>(
      "INSERT INTO audit (at, actor, action, model, version, details) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
      at,
      entry.actor,
      entry.action,
      entry.model,
      entry.version,
      details,
    );
    return { ...entry, details: JSON.parse(details), id: Number(id), at };
  }

  private modelRow(name: string): ModelRow | undefined {
    return this.sql.get<ModelRow>("SELECT * FROM models WHERE name = ?", name);
  }

  /**
   * Refuses a new model whose name differs from an existing one only in case: on macOS and Windows
   * both would share one folder, and the new one's versions would land among the old one's files.
   */
  private checkNoCaseTwin(name: string): void {
    const twin = this.sql.value<string>(
      "SELECT name FROM models WHERE lower(name) = lower(?) AND name != ?",
      name,
      name,
    );
    if (twin !== undefined) {
      throw new RegistryError(
        `Cannot create model "${name}": a model "${twin}" exists, and model names must differ in more than letter case. Register under "${twin}" or choose another name.`,
        "conflict",
      );
    }
  }

  /** The checks before a model of this name may be created; none for an existing model. */
  private checkCreatable(name: string): void {
    checkModelName(name);
    if (this.modelRow(name)) return;
    checkNewModelName(name);
    this.checkNoCaseTwin(name);
  }

  private requireModel(name: string): ModelRow {
    checkModelName(name);
    const row = this.modelRow(name);
    if (!row) {
      throw new RegistryError(
        `No registered model "${name}". List the models with: dagwood models list`,
        "not-found",
      );
    }
    return row;
  }

  private toModel(r: ModelRow): RegisteredModel {
    const stats = this.sql.get<{ latest: number | null; n: number }>(
      "SELECT max(CASE WHEN status = 'ready' THEN version END) AS latest, count(*) AS n FROM model_versions WHERE name = ?",
      r.name,
    )!;
    const aliases = this.sql.rows(
      "SELECT alias, version FROM model_aliases WHERE name = ? ORDER BY alias",
      r.name,
    ) as [string, number][];
    return {
      name: r.name,
      description: r.description,
      owner: r.owner,
      purpose: r.purpose ?? null,
      reviewBy: r.review_by ?? null,
      deprecated: r.deprecated ? (JSON.parse(r.deprecated) as Deprecation) : null,
      tags: JSON.parse(r.tags),
      createdAt: r.created_at,
      updatedAt: r.updated_at,
      latestVersion: stats.latest,
      aliases: Object.fromEntries(aliases),
      versions: stats.n,
    };
  }

  private toVersion(r: VersionRow): ModelVersion {
    const aliases = this.sql.column<string>(
      "SELECT alias FROM model_aliases WHERE name = ? AND version = ? ORDER BY alias",
      r.name,
      r.version,
    );
    return {
      name: r.name,
      version: r.version,
      status: r.status,
      description: r.description,
      createdAt: r.created_at,
      createdBy: r.created_by,
      runId: r.run_id,
      nodeId: r.node_id,
      modelFingerprint: r.model_fingerprint,
      estimator: r.estimator,
      task: r.task,
      signature: JSON.parse(r.signature),
      metrics: numbersFromJson(r.metrics),
      parity: r.parity === null ? null : JSON.parse(r.parity),
      nativePath: this.inRegistry(r, r.native_path),
      onnxPath: this.inRegistry(r, r.onnx_path),
      heldoutPath: r.heldout_path == null ? null : this.inRegistry(r, r.heldout_path),
      featureService: r.feature_service ?? null,
      ...(r.artifacts ? { artifacts: JSON.parse(r.artifacts) } : {}),
      decision:
        r.decision_threshold == null || r.decision_positive_class == null
          ? null
          : { threshold: r.decision_threshold, positiveClass: r.decision_positive_class },
      lineage: JSON.parse(r.lineage),
      aliases,
    };
  }

  /**
   * A version's file path as its row records it (relative to the project), refused when it leads
   * out of the registry folder: readers open, serve and export it, and a shared store's rows are
   * written by other machines.
   */
  private inRegistry(r: VersionRow, path: string): string {
    const root = resolve(this.opts.registryDir);
    const full = resolve(this.opts.projectDir, path);
    if (!full.startsWith(root + sep)) {
      throw new RegistryError(
        `Version ${r.version} of model "${r.name}" records the file ${JSON.stringify(path)}, which is outside the registry folder ${root}: the store's row has been changed by hand or by another tool. Archive that version, or restore the row from a backup.`,
      );
    }
    return path;
  }

  private versionRow(name: string, version: number): VersionRow | undefined {
    return this.sql.get<VersionRow>(
      "SELECT * FROM model_versions WHERE name = ? AND version = ?",
      name,
      version,
    );
  }

  /** The version an alias points at, or undefined when the model has no such alias. */
  private aliasVersion(name: string, alias: string): number | undefined {
    return this.sql.value<number>(
      "SELECT version FROM model_aliases WHERE name = ? AND alias = ?",
      name,
      alias,
    );
  }

  upsertModel(name: string, fields: ModelFields, actor: string | null): RegisteredModel {
    this.checkCreatable(name);
    checkGovernance(fields);
    return this.write(() => {
      this.lockModel(name);
      this.ensureModel(name, fields, actor);
      return this.toModel(this.modelRow(name)!);
    });
  }

  /** Creates the model (audit `model.created`) or applies the changed fields (audit `model.updated`). */
  private ensureModel(name: string, fields: ModelFields, actor: string | null): void {
    const now = nowIso();
    const existing = this.modelRow(name);
    if (!existing) {
      // Again inside the transaction: another process may have created a case twin meanwhile.
      this.checkCreatable(name);
      this.sql.run(
        `INSERT INTO models (name, description, owner, tags, created_at, updated_at, purpose, review_by, deprecated)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        name,
        fields.description ?? "",
        fields.owner ?? null,
        JSON.stringify(fields.tags ?? {}),
        now,
        now,
        fields.purpose ?? null,
        fields.reviewBy ?? null,
        fields.deprecated ? deprecationJson(fields.deprecated) : null,
      );
      this.insertAudit({
        actor,
        action: "model.created",
        model: name,
        version: null,
        details: { ...fields },
      });
      return;
    }
    const changed: Record<string, unknown> = {};
    if (fields.description !== undefined && fields.description !== existing.description) {
      changed.description = fields.description;
    }
    if (fields.owner !== undefined && fields.owner !== existing.owner) changed.owner = fields.owner;
    if (fields.tags !== undefined && JSON.stringify(fields.tags) !== existing.tags)
      changed.tags = fields.tags;
    if (fields.purpose !== undefined && fields.purpose !== (existing.purpose ?? null))
      changed.purpose = fields.purpose;
    if (fields.reviewBy !== undefined && fields.reviewBy !== (existing.review_by ?? null))
      changed.reviewBy = fields.reviewBy;
    const deprecated =
      fields.deprecated === undefined
        ? existing.deprecated
        : fields.deprecated === null
          ? null
          : deprecationJson(fields.deprecated);
    // The audit says both sides of a deprecation change: what it was, and what it is now (null: lifted).
    if (deprecated !== existing.deprecated) {
      changed.deprecated = deprecated === null ? null : JSON.parse(deprecated);
      if (existing.deprecated !== null) changed.deprecatedBefore = JSON.parse(existing.deprecated);
    }
    if (Object.keys(changed).length === 0) return;
    const pick = <K extends keyof ModelFields>(key: K, current: string | null) =>
      (fields[key] !== undefined ? fields[key] : current) as string | null;
    this.sql.run(
      `UPDATE models SET description = ?, owner = ?, tags = ?, purpose = ?, review_by = ?, deprecated = ?,
         updated_at = ? WHERE name = ?`,
      fields.description ?? existing.description,
      pick("owner", existing.owner),
      fields.tags !== undefined ? JSON.stringify(fields.tags) : existing.tags,
      pick("purpose", existing.purpose ?? null),
      pick("reviewBy", existing.review_by ?? null),
      deprecated,
      now,
      name,
    );
    this.insertAudit({ actor, action: "model.updated", model: name, version: null, details: changed });
  }

  registerVersion(input: RegisterVersionInput): { version: ModelVersion; created: boolean } {
    // Before any folder is made: a case twin's folder is this name's folder on macOS and Windows.
    this.checkCreatable(input.name);
    if (input.alias !== undefined) checkAlias(input.alias);
    if (this.opts.inMemory) {
      throw new Error(
        "This metadata store was opened in memory without a project folder; pass { projectDir } to register models.",
      );
    }
    for (const [what, path] of Object.entries(input.files)) {
      if (path !== undefined && !existsSync(path)) {
        throw new RegistryError(
          `Cannot register "${input.name}": the model's ${what} file ${path} is missing.`,
          "invalid",
        );
      }
    }
    const featureService = input.featureService ?? null;
    const decision = input.decision ?? null;
    const existing = this.findReady(input.name, input.modelFingerprint, featureService, decision);
    if (existing !== undefined) {
      if (input.artifacts) this.recordArtifactsOf(input.name, existing, input.artifacts);
      return { version: this.applyAliasToExisting(input, existing), created: false };
    }

    const modelDir = join(this.opts.registryDir, input.name);
    mkdirSync(modelDir, { recursive: true });
    this.removeStaleStaging(modelDir);
    const staging = join(modelDir, `.staging-${randomBytes(6).toString("hex")}`);
    /** The version folder once our files are in it (and only then: it is ours to remove on rollback). */
    let placed: { dir: string; version: number } | undefined;
    try {
      mkdirSync(staging);
      copyFileSync(input.files.native, join(staging, "model.json"));
      copyFileSync(input.files.onnx, join(staging, "model.onnx"));
      if (input.files.heldout) copyFileSync(input.files.heldout, join(staging, "heldout.json"));
      if (input.files.profile) copyFileSync(input.files.profile, join(staging, REFERENCE_PROFILE_FILE));
      if (input.artifacts) {
        // The row will name these objects: the files this machine keeps must be the ones uploaded.
        const problems = manifestMismatches(staging, input.artifacts);
        if (problems.length > 0)
          throw new RegistryError(
            `Cannot register "${input.name}": its files are not the ones uploaded to ${input.artifacts.location} (${problems.join("; ")}). Nothing was registered; upload the files again.`,
            "invalid",
          );
      }
      faultPoint("registry:after-copy");
      return this.write(() => {
        if (placed !== undefined) {
          // PostgreSQL runs this again after a deadlock or serialization failure rolled it back:
          // the files go back to staging, and the number is allocated afresh.
          renameSync(placed.dir, staging);
          placed = undefined;
        }
        this.lockModel(input.name);
        // Another process may have registered the same model while we copied.
        const raced = this.findReady(input.name, input.modelFingerprint, featureService, decision);
        if (raced !== undefined)
          return { version: this.applyAliasToExisting(input, raced, true), created: false };
        this.ensureModel(input.name, {}, input.actor);
        const version =
          this.sql.value<number | null>(
            "SELECT max(version) FROM model_versions WHERE name = ?",
            input.name,
          ) ?? 0;
        const next = version + 1;
        const versionDir = join(modelDir, String(next));
        const setAside = existsSync(versionDir) ? this.setOrphanAside(modelDir, next) : undefined;
        renameSync(staging, versionDir);
        placed = { dir: versionDir, version: next };
        faultPoint("registry:after-rename");
        const rel = (file: string) =>
          relative(this.opts.projectDir, join(versionDir, file)).split(sep).join("/");
        this.sql.run(
          `INSERT INTO model_versions (name, version, status, description, created_at, created_by, run_id, node_id,
               model_fingerprint, estimator, task, signature, metrics, parity, native_path, onnx_path, lineage,
               heldout_path, feature_service, decision_threshold, decision_positive_class)
             VALUES (?, ?, 'ready', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          input.name,
          next,
          input.description ?? "",
          nowIso(),
          input.actor,
          input.runId,
          input.nodeId,
          input.modelFingerprint,
          input.estimator,
          input.task,
          JSON.stringify(input.signature ?? null),
          numbersToJson(input.metrics),
          input.parity === null ? null : JSON.stringify(input.parity),
          rel("model.json"),
          rel("model.onnx"),
          JSON.stringify(input.lineage),
          input.files.heldout ? rel("heldout.json") : null,
          featureService,
          decision?.threshold ?? null,
          decision?.positiveClass ?? null,
        );
        if (input.artifacts)
          this.sql.run(
            "UPDATE model_versions SET artifacts = ? WHERE name = ? AND version = ?",
            JSON.stringify(input.artifacts),
            input.name,
            next,
          );
        this.insertAudit({
          actor: input.actor,
          action: "version.created",
          model: input.name,
          version: next,
          details: {
            runId: input.runId,
            nodeId: input.nodeId,
            fingerprint: input.modelFingerprint,
            // Where the files of an earlier folder numbered like this version were kept.
            ...(setAside !== undefined && { setAside }),
          },
        });
        if (input.alias !== undefined) this.moveAlias(input.name, input.alias, next, input.actor);
        return { version: this.toVersion(this.versionRow(input.name, next)!), created: true };
      });
    } catch (e) {
      // The transaction rolled back: no row points at the files we placed, so they go too. When the
      // database cannot say (a team store that became unreachable, maybe during COMMIT), the files
      // stay: a folder without a row is set aside later, a row without its folder would be a loss.
      if (placed !== undefined) {
        let committed = true;
        try {
          committed = this.versionRow(input.name, placed.version) !== undefined;
        } catch {
          // Unknown: keep the files.
        }
        if (!committed) rmSync(placed.dir, { recursive: true, force: true });
      }
      throw e;
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }

  /**
   * A version registered before the project had a shared artifact location gets the manifest of its
   * files when the same model is uploaded again, provided its own copies hash to it (all of them:
   * a partial manifest would leave another machine with some files and not the others).
   */
  private recordArtifactsOf(name: string, version: number, manifest: VersionArtifacts): void {
    const row = this.versionRow(name, version);
    if (!row || row.artifacts) return;
    const dir = join(this.opts.projectDir, dirname(row.native_path));
    // On a team store the version may have been registered on another machine: its files are not here
    // to check against the manifest, so none is recorded (registering it again there records one).
    if (!existsSync(dir)) return;
    const own = Object.keys(manifest.files).length;
    const present = readdirSync(dir).filter((f) => !f.startsWith(".")).length;
    if (own !== present || manifestMismatches(dir, manifest).length > 0) return;
    this.write(() =>
      this.sql.run(
        "UPDATE model_versions SET artifacts = ? WHERE name = ? AND version = ? AND artifacts IS NULL",
        JSON.stringify(manifest),
        name,
        version,
      ),
    );
  }

  /**
   * The newest ready version of this model with this feature service and decision rule: the same model
   * served with another service answers differently (by entity), with another threshold labels
   * differently, so either is another version.
   */
  private findReady(
    name: string,
    fingerprint: string,
    featureService: string | null,
    decision: VersionDecision | null,
  ): number | undefined {
    return this.sql.value<number>(
      `SELECT version FROM model_versions WHERE name = ? AND model_fingerprint = ? AND feature_service IS NOT DISTINCT FROM ?
         AND decision_threshold IS NOT DISTINCT FROM ? AND decision_positive_class IS NOT DISTINCT FROM ?
         AND status = 'ready' ORDER BY version DESC LIMIT 1`,
      name,
      fingerprint,
      featureService,
      decision?.threshold ?? null,
      decision?.positiveClass ?? null,
    );
  }

  private applyAliasToExisting(
    input: RegisterVersionInput,
    version: number,
    inTransaction = false,
  ): ModelVersion {
    const apply = () => {
      const alias = input.alias;
      if (alias !== undefined) {
        const current = this.aliasVersion(input.name, alias);
        if (current !== version) this.moveAlias(input.name, alias, version, input.actor);
      }
      return this.toVersion(this.versionRow(input.name, version)!);
    };
    return inTransaction
      ? apply()
      : this.write(() => {
          this.lockModel(input.name);
          return apply();
        });
  }

  /**
   * Moves a version folder that has no row out of the way, keeping its files: it is either debris of a
   * registration killed between its rename and its commit, or a version whose database was moved aside.
   */
  private setOrphanAside(modelDir: string, version: number): string {
    const aside = `.orphan-${version}-${randomBytes(6).toString("hex")}`;
    renameSync(join(modelDir, String(version)), join(modelDir, aside));
    return aside;
  }

  private removeStaleStaging(modelDir: string): void {
    for (const entry of readdirSync(modelDir)) {
      if (!entry.startsWith(".staging-")) continue;
      const path = join(modelDir, entry);
      try {
        if (Date.now() - statSync(path).mtimeMs > STALE_STAGING_MS)
          rmSync(path, { recursive: true, force: true });
      } catch {
        // Removed meanwhile by the process that owned it.
      }
    }
  }

  /**
   * Points the alias at the version, with its audit entry; the caller holds the transaction.
   * `production` moves only to a version that meets its requirements (app/store/promotion.ts), or
   * with a reason; its entry carries the record (`details.production`).
   */
  private moveAlias(
    name: string,
    alias: string,
    version: number,
    actor: string | null,
    reason?: string,
  ): AuditEntry {
    const row = this.versionRow(name, version);
    if (!row) {
      const versions = this.sql.column<number>(
        "SELECT version FROM model_versions WHERE name = ? AND status = 'ready' ORDER BY version",
        name,
      );
      throw new RegistryError(
        `Model "${name}" has no version ${version}` +
          (versions.length > 0 ? ` (its versions: ${versions.join(", ")}).` : " (it has no versions yet)."),
        "not-found",
      );
    }
    if (row.status === "archived") {
      throw new RegistryError(
        `Version ${version} of "${name}" is archived; an alias can only point to a ready version.`,
        "conflict",
      );
    }
    const from = this.aliasVersion(name, alias);
    if (from === version) {
      // Already so: nothing changes, so nothing is audited; the entry that made it so is the answer.
      const made = this.sql.get<AuditRow>(
        `SELECT * FROM audit WHERE model = ? AND action IN ('alias.set', 'alias.moved')
           AND ${this.sql.jsonText("details", "alias")} = ? ORDER BY id DESC LIMIT 1`,
        name,
        alias,
      );
      if (made !== undefined) return toAudit(made);
    }
    let extra: Record<string, unknown> = reason !== undefined ? { reason } : {};
    if (alias === PRODUCTION_ALIAS) {
      const record = productionRecord(
        this.opts.runs ?? NO_RUNS,
        this.opts.projectDir,
        this.toVersion(row),
        this.promotionAudit(name, version),
      );
      if (record.missing.length > 0 && reason === undefined)
        throw new RegistryError(productionRefusal({ name, version }, record.missing), "conflict");
      extra = { production: { ...record, reason: reason ?? null } };
    }
    this.sql.run(
      `INSERT INTO model_aliases (name, alias, version) VALUES (?, ?, ?)
         ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version`,
      name,
      alias,
      version,
    );
    this.sql.run("UPDATE models SET updated_at = ? WHERE name = ?", nowIso(), name);
    return from === undefined
      ? this.insertAudit({
          actor,
          action: "alias.set",
          model: name,
          version,
          details: { alias, to: version, ...extra },
        })
      : this.insertAudit({
          actor,
          action: "alias.moved",
          model: name,
          version,
          details: { alias, from, to: version, ...extra },
        });
  }

  /** The version's deploys and loop gates, newest first: what moving `production` to it checks. */
  private promotionAudit(name: string, version: number): AuditEntry[] {
    return this.sql
      .all<AuditRow>(
        `SELECT * FROM audit WHERE model = ? AND version = ?
           AND (action LIKE 'deployment.%' OR action = 'monitor.gate') ORDER BY id DESC`,
        name,
        version,
      )
      .map(toAudit);
  }

  productionCheck(name: string, version: number): ProductionRecord {
    checkModelName(name);
    this.requireModel(name);
    const row = this.versionRow(name, version);
    if (!row) throw new RegistryError(`Model "${name}" has no version ${version}.`, "not-found");
    return productionRecord(
      this.opts.runs ?? NO_RUNS,
      this.opts.projectDir,
      this.toVersion(row),
      this.promotionAudit(name, version),
    );
  }

  listModels(opts: { search?: string } = {}): RegisteredModel[] {
    const search = opts.search?.trim() ? opts.search.trim().toLowerCase() : null;
    const rows = this.sql.all<ModelRow>(
      `SELECT * FROM models
         WHERE ${this.sql.nullParam()} IS NULL OR ${this.sql.contains("name")} OR ${this.sql.contains("description")}
         ORDER BY name`,
      search,
      search,
      search,
    );
    return rows.map((r) => this.toModel(r));
  }

  getModel(name: string): RegisteredModel | undefined {
    checkModelName(name);
    const row = this.modelRow(name);
    return row && this.toModel(row);
  }

  listVersions(name: string): ModelVersion[] {
    this.requireModel(name);
    return this.sql
      .all<VersionRow>("SELECT * FROM model_versions WHERE name = ? ORDER BY version DESC", name)
      .map((r) => this.toVersion(r));
  }

  getVersion(name: string, ref: number | string): ModelVersion | undefined {
    checkModelName(name);
    let version: number | undefined;
    if (typeof ref === "number" || /^\d+$/.test(ref)) {
      version = Number(ref);
    } else {
      checkAlias(ref);
      version = this.aliasVersion(name, ref);
    }
    if (version === undefined) return undefined;
    const row = this.versionRow(name, version);
    return row && this.toVersion(row);
  }

  setAlias(
    name: string,
    alias: string,
    version: number,
    actor: string | null,
    opts: { reason?: string } = {},
  ): AuditEntry {
    checkAlias(alias);
    const reason = checkReason(opts.reason);
    return this.write(() => {
      this.lockModel(name);
      this.requireModel(name);
      return this.moveAlias(name, alias, version, actor, reason);
    });
  }

  removeAlias(name: string, alias: string, actor: string | null, opts: { reason?: string } = {}): AuditEntry {
    checkAlias(alias);
    const reason = checkReason(opts.reason);
    return this.write(() => {
      this.lockModel(name);
      this.requireModel(name);
      const version = this.aliasVersion(name, alias);
      if (version === undefined) {
        throw new RegistryError(`Model "${name}" has no alias "${alias}".`, "not-found");
      }
      if (alias === PRODUCTION_ALIAS && reason === undefined)
        throw new RegistryError(productionRemovalRefusal(name, version, "remove"), "conflict");
      this.sql.run("DELETE FROM model_aliases WHERE name = ? AND alias = ?", name, alias);
      return this.insertAudit({
        actor,
        action: "alias.removed",
        model: name,
        version,
        details: { alias, from: version, ...(reason !== undefined ? { reason } : {}) },
      });
    });
  }

  archiveVersion(
    name: string,
    version: number,
    actor: string | null,
    opts: { reason?: string } = {},
  ): AuditEntry {
    const reason = checkReason(opts.reason);
    return this.write(() => {
      this.lockModel(name);
      this.requireModel(name);
      const row = this.versionRow(name, version);
      if (!row) throw new RegistryError(`Model "${name}" has no version ${version}.`, "not-found");
      if (row.status === "archived") {
        throw new RegistryError(`Version ${version} of "${name}" is already archived.`, "conflict");
      }
      const aliases = this.sql.column<string>(
        "SELECT alias FROM model_aliases WHERE name = ? AND version = ? ORDER BY alias",
        name,
        version,
      );
      if (aliases.includes(PRODUCTION_ALIAS) && reason === undefined)
        throw new RegistryError(productionRemovalRefusal(name, version, "archive"), "conflict");
      this.sql.run("DELETE FROM model_aliases WHERE name = ? AND version = ?", name, version);
      this.sql.run(
        "UPDATE model_versions SET status = 'archived' WHERE name = ? AND version = ?",
        name,
        version,
      );
      this.sql.run("UPDATE models SET updated_at = ? WHERE name = ?", nowIso(), name);
      return this.insertAudit({
        actor,
        action: "version.archived",
        model: name,
        version,
        details: { aliasesRemoved: aliases, ...(reason !== undefined ? { reason } : {}) },
      });
    });
  }

  appendAudit(entry: Omit<AuditEntry, "id" | "at">): AuditEntry {
    // Entries about the project rather than one model (erasures, unmasked exports) carry model "*".
    if (entry.model !== PROJECT_AUDIT_MODEL) checkModelName(entry.model);
    return this.write(() => this.insertAudit(entry));
  }

  recordErasedFile(
    name: string,
    version: number,
    file: string,
    stored: { key: string; sha256: string; bytes: number } | null,
    entry: { actor: string | null; details: Record<string, unknown> },
  ): AuditEntry {
    checkModelName(name);
    return this.write(() => {
      this.lockModel(name);
      const row = this.versionRow(name, version);
      if (!row) throw new RegistryError(`Model "${name}" has no version ${version}.`, "not-found");
      if (row.artifacts) {
        const manifest = JSON.parse(row.artifacts) as VersionArtifacts;
        if (manifest.files[file] && stored) {
          manifest.files[file] = stored;
          this.sql.run(
            "UPDATE model_versions SET artifacts = ? WHERE name = ? AND version = ?",
            JSON.stringify(manifest),
            name,
            version,
          );
        } else if (manifest.files[file])
          throw new RegistryError(
            `${name} v${version}'s ${file} is in the shared location ${manifest.location}: record the erased file's upload with it.`,
          );
      }
      return this.insertAudit({
        actor: entry.actor,
        action: "privacy.erased",
        model: name,
        version,
        details: entry.details,
      });
    });
  }

  audit(opts: { model?: string; limit?: number; actions?: readonly AuditAction[] } = {}): AuditEntry[] {
    if (opts.model !== undefined && opts.model !== PROJECT_AUDIT_MODEL) checkModelName(opts.model);
    const limit = opts.limit ?? 1000;
    if (!Number.isInteger(limit) || limit < 1)
      throw new Error(`The audit limit must be 1 or more; got ${limit}.`);
    const model = opts.model ?? null;
    const actions = opts.actions ? JSON.stringify(opts.actions) : null;
    const nullParam = this.sql.nullParam();
    return this.sql
      .all<AuditRow>(
        `SELECT * FROM audit WHERE (${nullParam} IS NULL OR model = ?)
           AND (${nullParam} IS NULL OR action IN ${this.sql.inJson()})
           ORDER BY id DESC LIMIT ?`,
        model,
        model,
        actions,
        actions,
        limit,
      )
      .map(toAudit);
  }
}
