import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import type Database from "better-sqlite3";
import { Deprecation, IsoDate } from "../values/governance";
import { PRODUCTION_ALIAS, type ProductionRecord } from "../values/registry";
import { productionRecord, productionRefusal, productionRemovalRefusal, type RunFacts } from "./promotion";
import type { Sql, SqliteSql } from "./sql";
import { nowIso, numbersFromJson, numbersToJson } from "./sqlite";
import { prepare } from "./statements";
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
  /** Transitional: the SQLite connection, while statements move to `this.sql`. */
  private readonly db: Database.Database;

  constructor(
    private readonly sql: Sql,
    private readonly opts: RegistryOptions,
  ) {
    this.db = (sql as SqliteSql).db;
  }

  private write<T>(fn: () => T): T {
    return this.sql.write(fn);
  }

  private insertAudit(entry: Omit<AuditEntry, "id" | "at">): AuditEntry {
    const at = nowIso();
    const details = JSON.stringify(entry.details ?? {});
    const info = prepare(
      this.db,
      "INSERT INTO audit (at, actor, action, model, version, details) VALUES (?, ?, ?, ?, ?, ?)",
    ).run(at, entry.actor, entry.action, entry.model, entry.version, details);
    return { ...entry, details: JSON.parse(details), id: Number(info.lastInsertRowid), at };
  }

  private modelRow(name: string): ModelRow | undefined {
    return prepare(this.db, "SELECT * FROM models WHERE name = ?").get(name) as ModelRow | undefined;
  }

  /**
   * Refuses a new model whose name differs from an existing one only in case: on macOS and Windows
   * both would share one folder, and the new one's versions would land among the old one's files.
   */
  private checkNoCaseTwin(name: string): void {
    const twin = prepare(this.db, "SELECT name FROM models WHERE lower(name) = lower(?) AND name != ?")
      .pluck()
      .get(name, name) as string | undefined;
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
    const stats = prepare(
      this.db,
      "SELECT max(CASE WHEN status = 'ready' THEN version END) AS latest, count(*) AS n FROM model_versions WHERE name = ?",
    ).get(r.name) as { latest: number | null; n: number };
    const aliases = prepare(this.db, "SELECT alias, version FROM model_aliases WHERE name = ? ORDER BY alias")
      .raw()
      .all(r.name) as [string, number][];
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
    const aliases = prepare(
      this.db,
      "SELECT alias FROM model_aliases WHERE name = ? AND version = ? ORDER BY alias",
    )
      .pluck()
      .all(r.name, r.version) as string[];
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
      nativePath: r.native_path,
      onnxPath: r.onnx_path,
      heldoutPath: r.heldout_path ?? null,
      featureService: r.feature_service ?? null,
      lineage: JSON.parse(r.lineage),
      aliases,
    };
  }

  private versionRow(name: string, version: number): VersionRow | undefined {
    return prepare(this.db, "SELECT * FROM model_versions WHERE name = ? AND version = ?").get(
      name,
      version,
    ) as VersionRow | undefined;
  }

  upsertModel(name: string, fields: ModelFields, actor: string | null): RegisteredModel {
    this.checkCreatable(name);
    checkGovernance(fields);
    return this.write(() => {
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
      prepare(
        this.db,
        `INSERT INTO models (name, description, owner, tags, created_at, updated_at, purpose, review_by, deprecated)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
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
    const pick = <K extends keyof ModelFields>(key: K, current: unknown) =>
      fields[key] !== undefined ? fields[key] : current;
    prepare(
      this.db,
      `UPDATE models SET description = ?, owner = ?, tags = ?, purpose = ?, review_by = ?, deprecated = ?,
         updated_at = ? WHERE name = ?`,
    ).run(
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
    const existing = this.findReady(input.name, input.modelFingerprint, featureService);
    if (existing !== undefined)
      return { version: this.applyAliasToExisting(input, existing), created: false };

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
      faultPoint("registry:after-copy");
      return this.write(() => {
        // Another process may have registered the same model while we copied.
        const raced = this.findReady(input.name, input.modelFingerprint, featureService);
        if (raced !== undefined)
          return { version: this.applyAliasToExisting(input, raced, true), created: false };
        this.ensureModel(input.name, {}, input.actor);
        const version =
          (prepare(this.db, "SELECT max(version) FROM model_versions WHERE name = ?")
            .pluck()
            .get(input.name) as number | null) ?? 0;
        const next = version + 1;
        const versionDir = join(modelDir, String(next));
        const setAside = existsSync(versionDir) ? this.setOrphanAside(modelDir, next) : undefined;
        renameSync(staging, versionDir);
        placed = { dir: versionDir, version: next };
        faultPoint("registry:after-rename");
        const rel = (file: string) =>
          relative(this.opts.projectDir, join(versionDir, file)).split(sep).join("/");
        prepare(
          this.db,
          `INSERT INTO model_versions (name, version, status, description, created_at, created_by, run_id, node_id,
               model_fingerprint, estimator, task, signature, metrics, parity, native_path, onnx_path, lineage,
               heldout_path, feature_service)
             VALUES (?, ?, 'ready', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
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
      // The transaction rolled back: no row points at the files we placed, so they go too.
      if (placed !== undefined && !this.versionRow(input.name, placed.version)) {
        rmSync(placed.dir, { recursive: true, force: true });
      }
      throw e;
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }

  /**
   * The newest ready version of this model with this feature service: the same model served with
   * another service answers differently (by entity), so it is another version.
   */
  private findReady(name: string, fingerprint: string, featureService: string | null): number | undefined {
    return prepare(
      this.db,
      "SELECT version FROM model_versions WHERE name = ? AND model_fingerprint = ? AND feature_service IS ? AND status = 'ready' ORDER BY version DESC LIMIT 1",
    )
      .pluck()
      .get(name, fingerprint, featureService) as number | undefined;
  }

  private applyAliasToExisting(
    input: RegisterVersionInput,
    version: number,
    inTransaction = false,
  ): ModelVersion {
    const apply = () => {
      const alias = input.alias;
      if (alias !== undefined) {
        const current = prepare(this.db, "SELECT version FROM model_aliases WHERE name = ? AND alias = ?")
          .pluck()
          .get(input.name, alias) as number | undefined;
        if (current !== version) this.moveAlias(input.name, alias, version, input.actor);
      }
      return this.toVersion(this.versionRow(input.name, version)!);
    };
    return inTransaction ? apply() : this.write(apply);
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
      const versions = prepare(
        this.db,
        "SELECT version FROM model_versions WHERE name = ? AND status = 'ready' ORDER BY version",
      )
        .pluck()
        .all(name) as number[];
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
    const from = prepare(this.db, "SELECT version FROM model_aliases WHERE name = ? AND alias = ?")
      .pluck()
      .get(name, alias) as number | undefined;
    if (from === version) {
      // Already so: nothing changes, so nothing is audited; the entry that made it so is the answer.
      const made = prepare(
        this.db,
        `SELECT * FROM audit WHERE model = ? AND action IN ('alias.set', 'alias.moved')
           AND json_extract(details, '$.alias') = ? ORDER BY id DESC LIMIT 1`,
      ).get(name, alias) as AuditRow | undefined;
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
    prepare(this.db, "INSERT OR REPLACE INTO model_aliases (name, alias, version) VALUES (?, ?, ?)").run(
      name,
      alias,
      version,
    );
    prepare(this.db, "UPDATE models SET updated_at = ? WHERE name = ?").run(nowIso(), name);
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
    return (
      prepare(
        this.db,
        `SELECT * FROM audit WHERE model = ? AND version = ?
           AND (action LIKE 'deployment.%' OR action = 'monitor.gate') ORDER BY id DESC`,
      ).all(name, version) as AuditRow[]
    ).map(toAudit);
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
    const rows = prepare(
      this.db,
      `SELECT * FROM models
         WHERE @search IS NULL OR instr(lower(name), @search) > 0 OR instr(lower(description), @search) > 0
         ORDER BY name`,
    ).all({ search }) as ModelRow[];
    return rows.map((r) => this.toModel(r));
  }

  getModel(name: string): RegisteredModel | undefined {
    checkModelName(name);
    const row = this.modelRow(name);
    return row && this.toModel(row);
  }

  listVersions(name: string): ModelVersion[] {
    this.requireModel(name);
    return (
      prepare(this.db, "SELECT * FROM model_versions WHERE name = ? ORDER BY version DESC").all(
        name,
      ) as VersionRow[]
    ).map((r) => this.toVersion(r));
  }

  getVersion(name: string, ref: number | string): ModelVersion | undefined {
    checkModelName(name);
    let version: number | undefined;
    if (typeof ref === "number" || /^\d+$/.test(ref)) {
      version = Number(ref);
    } else {
      checkAlias(ref);
      version = prepare(this.db, "SELECT version FROM model_aliases WHERE name = ? AND alias = ?")
        .pluck()
        .get(name, ref) as number | undefined;
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
      this.requireModel(name);
      return this.moveAlias(name, alias, version, actor, reason);
    });
  }

  removeAlias(name: string, alias: string, actor: string | null, opts: { reason?: string } = {}): AuditEntry {
    checkAlias(alias);
    const reason = checkReason(opts.reason);
    return this.write(() => {
      this.requireModel(name);
      const version = prepare(this.db, "SELECT version FROM model_aliases WHERE name = ? AND alias = ?")
        .pluck()
        .get(name, alias) as number | undefined;
      if (version === undefined) {
        throw new RegistryError(`Model "${name}" has no alias "${alias}".`, "not-found");
      }
      if (alias === PRODUCTION_ALIAS && reason === undefined)
        throw new RegistryError(productionRemovalRefusal(name, version, "remove"), "conflict");
      prepare(this.db, "DELETE FROM model_aliases WHERE name = ? AND alias = ?").run(name, alias);
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
      this.requireModel(name);
      const row = this.versionRow(name, version);
      if (!row) throw new RegistryError(`Model "${name}" has no version ${version}.`, "not-found");
      if (row.status === "archived") {
        throw new RegistryError(`Version ${version} of "${name}" is already archived.`, "conflict");
      }
      const aliases = prepare(
        this.db,
        "SELECT alias FROM model_aliases WHERE name = ? AND version = ? ORDER BY alias",
      )
        .pluck()
        .all(name, version) as string[];
      if (aliases.includes(PRODUCTION_ALIAS) && reason === undefined)
        throw new RegistryError(productionRemovalRefusal(name, version, "archive"), "conflict");
      prepare(this.db, "DELETE FROM model_aliases WHERE name = ? AND version = ?").run(name, version);
      prepare(this.db, "UPDATE model_versions SET status = 'archived' WHERE name = ? AND version = ?").run(
        name,
        version,
      );
      prepare(this.db, "UPDATE models SET updated_at = ? WHERE name = ?").run(nowIso(), name);
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
    checkModelName(entry.model);
    return this.write(() => this.insertAudit(entry));
  }

  audit(opts: { model?: string; limit?: number; actions?: readonly AuditAction[] } = {}): AuditEntry[] {
    if (opts.model !== undefined) checkModelName(opts.model);
    const limit = opts.limit ?? 1000;
    if (!Number.isInteger(limit) || limit < 1)
      throw new Error(`The audit limit must be 1 or more; got ${limit}.`);
    return (
      prepare(
        this.db,
        `SELECT * FROM audit WHERE (@model IS NULL OR model = @model)
           AND (@actions IS NULL OR action IN (SELECT value FROM json_each(@actions)))
           ORDER BY id DESC LIMIT @limit`,
      ).all({
        model: opts.model ?? null,
        actions: opts.actions ? JSON.stringify(opts.actions) : null,
        limit,
      }) as AuditRow[]
    ).map(toAudit);
  }
}
