/**
 * Deploying a registered model version to a named target, verified: upload
 * through the repository extension, wait until it is ready, send held-out
 * rows (or probe rows) through V2 infer and compare with the registry's
 * predictions. A mismatch, or any failure after the upload, makes the
 * previous version serve again; either way the outcome goes in the
 * registry's audit log (`deployment.succeeded` / `deployment.failed` /
 * `deployment.rolledBack`).
 *
 * On a Dagwood target a new version never takes traffic before it passed:
 * the current version is pinned as the traffic policy's primary before the
 * upload, parity is checked on the new version by its own URL, and only
 * then is the primary moved (the upload says `dagwood_keep_primary`).
 * Triton serves what it loaded, so there the check runs on the new version
 * in place and a failure re-loads the previous one. On a first deploy
 * (nothing served before) the new version is reachable from its upload
 * until a failed check unloads it; the record says for how long.
 *
 * A version number the target already holds is never overwritten with other
 * bytes: the target's sha256 of it (Dagwood's metadata and index) must be
 * the registry's; where the target does not say (Triton), a loaded copy
 * must pass the parity check first. Otherwise the deploy stops before
 * changing anything on the target.
 */
import { createHash, randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ArtifactError } from "../artifacts/location";
import { ensureProjectVersionFiles } from "../artifacts/version-files";
import { storedDecision } from "../ml/decision";
import { type AnyDagwoodModel, asModel } from "../ml/model";
import { describeLogPolicy } from "../privacy/log-policy";
import { type Project, type ProjectSettings, readProjectSettings } from "../project/project";
import { TRITON_TYPES, type V2Datatype } from "../serving/tensors";
import type { AuditEntry, ModelVersion, Registry } from "../store/types";
import {
  CHECK_REQUEST_PREFIX,
  type DeploymentRecord,
  type DeployOperation,
  type DeployParity,
} from "../values/deployment";
import { type ClientOptions, type TrafficPolicy, V2Client } from "./client";
import { asHeldout, compareWithServed, type HeldoutRows, probeRows } from "./heldout";
import { privacyParameter, versionLogPrivacy } from "./log-privacy";
import { trafficByVersion, type VersionTraffic } from "./metrics";
import {
  DeployError,
  hasUrlCredentials,
  listTargets,
  resolveTarget,
  type Target,
  type TokenLookup,
  targetUrl,
} from "./targets";

/** What a deploy needs of a project: its folder, its targets, its registry. */
export interface DeployProject {
  dir: string;
  settings: Pick<ProjectSettings, "targets">;
  registry: Registry;
}

/** Targets are read from dagwood.json at each call, so an edit there needs no reopening. */
export function deployProjectOf(project: Pick<Project, "dir" | "metadata">): DeployProject {
  return {
    dir: project.dir,
    settings: readProjectSettings(project.dir),
    registry: project.metadata.registry,
  };
}

export interface DeployProgress {
  phase: "upload" | "ready" | "parity" | "promote" | "rollback";
  message: string;
}

export interface ConnectOptions {
  tokens?: TokenLookup;
  client?: ClientOptions;
}

export interface DeployOptions extends ConnectOptions {
  project: DeployProject;
  target: string;
  name: string;
  /** A version number or an alias. */
  ref: number | string;
  actor: string | null;
  onProgress?: (progress: DeployProgress) => void;
  /** How long to wait for the uploaded version to be ready (default 60 s). */
  readyTimeoutMs?: number;
}

/** The parity check a deploy records: the figures, and which rows they were measured on. */
export type ParityRecord = DeployParity;
export type { DeploymentRecord, DeployOperation };

const STATUS_OF: Record<string, DeploymentRecord["status"]> = {
  "deployment.succeeded": "succeeded",
  "deployment.failed": "failed",
  "deployment.rolledBack": "rolledBack",
  "deployment.canary": "canary",
  "deployment.canaryEnded": "canaryEnded",
};

/**
 * The deployment a `deployment.*` audit entry records: its details are the
 * record (as deployVersion, rollbackDeployment, failure and app/deploy/canary.ts
 * write them), its action the status. Any other entry is an Error: it records
 * no deployment.
 */
export function deploymentRecordOf(entry: AuditEntry): DeploymentRecord {
  const status = Object.hasOwn(STATUS_OF, entry.action) ? STATUS_OF[entry.action] : undefined;
  if (status === undefined)
    throw new Error(`Audit entry ${entry.id} (${entry.action}) records no deployment.`);
  return {
    ...(entry.details as Omit<DeploymentRecord, "status" | "model" | "version" | "actor" | "auditId">),
    status,
    model: entry.model,
    version: entry.version ?? 0,
    actor: entry.actor,
    auditId: entry.id,
  } as DeploymentRecord;
}

export function requireVersion(registry: Registry, name: string, ref: number | string): ModelVersion {
  const model = registry.getModel(name);
  if (!model)
    throw new DeployError(`No registered model "${name}". \`dagwood models list\` shows them.`, "not-found");
  const version = registry.getVersion(name, ref);
  if (!version) {
    throw new DeployError(
      typeof ref === "string" && !/^\d+$/.test(ref)
        ? `Model "${name}" has no alias "${ref}".`
        : `Model "${name}" has no version ${ref}${model.latestVersion ? ` (its latest is v${model.latestVersion})` : ""}.`,
      "not-found",
    );
  }
  if (version.status !== "ready") {
    throw new DeployError(
      `Version ${version.version} of "${name}" is archived; deploy a ready version.`,
      "invalid",
    );
  }
  return version;
}

/**
 * Makes the version's files present on this machine before they are read: a version registered on
 * another machine of a shared store is fetched (verified) from the project's artifact location.
 */
export async function withVersionFiles(projectDir: string, version: ModelVersion): Promise<ModelVersion> {
  try {
    await ensureProjectVersionFiles(projectDir, version);
  } catch (e) {
    if (e instanceof ArtifactError) throw new DeployError(e.message, "invalid");
    throw e;
  }
  return version;
}

/** `requireVersion`, with its files on this machine (`withVersionFiles`). */
export async function requireVersionFiles(
  project: { dir: string; registry: Registry },
  name: string,
  ref: number | string,
): Promise<ModelVersion> {
  return withVersionFiles(project.dir, requireVersion(project.registry, name, ref));
}

interface SignatureSpec {
  inputs: { name: string; dtype: V2Datatype; shape: number[] }[];
  outputs: { name: string; dtype: V2Datatype; shape: number[] }[];
}

/** The signature in V2 terms (the registry keeps `dtype`; the protocol says `datatype`). */
export function v2Signature(version: Pick<ModelVersion, "signature">) {
  const s = version.signature as SignatureSpec;
  const meta = (t: SignatureSpec["inputs"][number]) => ({ name: t.name, datatype: t.dtype, shape: t.shape });
  return { inputs: s.inputs.map(meta), outputs: s.outputs.map(meta) };
}

/**
 * Triton's model configuration, as JSON (what the repository extension's `config` parameter takes).
 * A version registered with a feature service says it in `parameters` (Triton's
 * ModelConfig.parameters, name → {string_value}), so `dagwood serve --project` answers infer by entity.
 */
export function tritonConfig(
  name: string,
  version: Pick<ModelVersion, "signature"> & Partial<Pick<ModelVersion, "featureService">>,
): Record<string, unknown> {
  const s = v2Signature(version);
  const tensors = (list: typeof s.inputs) =>
    list.map((t) => ({ name: t.name, data_type: TRITON_TYPES[t.datatype], dims: t.shape }));
  return {
    name,
    platform: "onnxruntime_onnx",
    max_batch_size: 0,
    input: tensors(s.inputs),
    output: tensors(s.outputs),
    ...(version.featureService ? { parameters: featureServiceParameters(version.featureService) } : {}),
  };
}

/** Model config `parameters` naming a feature service (app/serving/config.ts reads it). */
export function featureServiceParameters(featureService: string): Record<string, { string_value: string }> {
  return { feature_service: { string_value: featureService } };
}

async function nativeModel(project: DeployProject, version: ModelVersion): Promise<AnyDagwoodModel> {
  return asModel(JSON.parse(await readFile(join(project.dir, version.nativePath), "utf8")));
}

/** Rows as the target's JSON can carry them: missing text as "", and on Triton (no NaN) without rows missing a number. */
function fitRows(rows: HeldoutRows, kind: Target["kind"]): HeldoutRows {
  const keep = Array.from({ length: rows.rows }, (_, r) =>
    kind === "dagwood" ? true : rows.inputs.every((t) => t.datatype === "BYTES" || t.data[r] !== null),
  );
  const pick = <T>(list: T[], width: number) => list.filter((_, i) => keep[Math.floor(i / width)]);
  const n = keep.filter(Boolean).length;
  const width = (list: unknown[] | undefined) => (list ? list.length / Math.max(rows.rows, 1) : 1);
  return {
    ...rows,
    rows: n,
    inputs: rows.inputs.map((t) => ({
      ...t,
      shape: [n, 1],
      data: pick(t.data, 1).map((v) => (t.datatype === "BYTES" && v === null ? "" : v)),
    })),
    expected: Object.fromEntries(
      Object.entries(rows.expected).map(([k, list]) => [
        k,
        pick(list as unknown[], width(list as unknown[])),
      ]),
    ),
  };
}

/**
 * The rows parity is checked on, fitted to what the target's JSON can carry:
 * the held-out rows, else (none kept, or none left once fitted) probe rows,
 * with a note saying why. No rows at all is a DeployError: nothing compared
 * is nothing verified.
 */
async function verificationRows(
  project: DeployProject,
  version: ModelVersion,
  kind: Target["kind"],
): Promise<{ rows: HeldoutRows; source: ParityRecord["source"]; note?: string }> {
  let note: string | undefined;
  if (version.heldoutPath) {
    const file = join(project.dir, version.heldoutPath);
    const held = asHeldout(JSON.parse(await readFile(file, "utf8")), file);
    const rows = fitRows(held, kind);
    if (rows.rows > 0) return { rows, source: "heldout" };
    note =
      held.rows === 0
        ? "the version's held-out file has no rows: checked on probe rows instead"
        : `all ${held.rows} held-out rows have a missing number, which a ${kind} target's JSON cannot carry: checked on probe rows instead`;
  }
  // Labelled as the version's model.onnx labels: by its decision threshold, when it keeps one.
  const model = await nativeModel(project, version);
  const rows = fitRows(probeRows(model, storedDecision(model.classes ?? [], version.decision)), kind);
  if (rows.rows === 0) {
    throw new DeployError(
      `parity cannot be checked: no rows are left to compare (${note ?? "no held-out rows"}; every probe row has a missing number, which a ${kind} target's JSON cannot carry)`,
      "parity",
    );
  }
  return { rows, source: "probe", ...(note ? { note } : {}) };
}

/** Sends the parity rows to `version` of `served` by its own URL and compares; never passes on zero rows. */
export async function checkParity(
  client: V2Client,
  project: DeployProject,
  version: ModelVersion,
  kind: Target["kind"],
  served: string,
): Promise<ParityRecord> {
  const { rows, source, note } = await verificationRows(project, version, kind);
  // Marked as the deploy's own check, so the monitoring does not take these rows for traffic.
  const answer = await client.infer(
    served,
    version.version,
    rows.inputs,
    `${CHECK_REQUEST_PREFIX}${randomUUID()}`,
  );
  return { source, ...(note ? { note } : {}), ...compareWithServed(rows.expected, rows.rows, answer) };
}

export function parityFailure(parity: ParityRecord): string {
  const first = parity.firstDifference;
  return `parity failed on ${parity.rows} ${parity.source} rows: max |served − registry| = ${parity.maxAbsDiff} (tolerance ${parity.tolerance}), ${parity.labelMismatches} label(s) differ${first ? `; row ${first.row}: served ${JSON.stringify(first.served)}, registry ${JSON.stringify(first.expected)}` : ""}`;
}

/** The version a target serves for a model (null: not loaded), and the Dagwood traffic policy. */
export async function servingVersion(
  client: V2Client,
  kind: Target["kind"],
  name: string,
): Promise<{ version: number | null; versions: number[]; policy?: TrafficPolicy; logPolicy?: unknown }> {
  let versions: number[];
  let logPolicy: unknown;
  try {
    const meta = await client.modelMetadata(name);
    versions = (meta.versions ?? []).map(Number).filter(Number.isSafeInteger);
    // A Dagwood server says what its log keeps of the primary's personal inputs (app/serving/privacy.ts).
    logPolicy = meta.parameters?.dagwood_log_policy;
  } catch (e) {
    if (e instanceof DeployError && e.code === "not-found") return { version: null, versions: [] };
    throw e;
  }
  if (versions.length === 0) return { version: null, versions };
  if (kind === "triton") return { version: Math.max(...versions), versions };
  const { policy } = await client.traffic(name);
  const pinned = policy.primary;
  const version = pinned !== undefined && versions.includes(pinned) ? pinned : Math.max(...versions);
  return { version, versions, policy, ...(logPolicy !== undefined ? { logPolicy } : {}) };
}

export function connect(project: DeployProject, target: string, opts: ConnectOptions = {}) {
  const resolved = resolveTarget(project.settings, target, opts.tokens);
  return { target: resolved, client: new V2Client(resolved, opts.client) };
}

/**
 * Uploads a version's ONNX file. On Dagwood with `dagwood_keep_primary`: the
 * version serving now keeps the traffic until the deploy moves the primary.
 */
export async function upload(
  client: V2Client,
  project: DeployProject,
  version: ModelVersion,
  kind: Target["kind"],
): Promise<void> {
  const bytes = await readFile(join(project.dir, version.onnxPath));
  // A Dagwood server's inference log follows the model's privacy policy (app/deploy/log-privacy.ts);
  // the parameter may hold the project's key, which the client then keeps out of its errors.
  const privacy = kind === "dagwood" ? privacyParameter(project.dir, version) : undefined;
  const key = privacy ? (JSON.parse(privacy) as { key?: string }).key : undefined;
  if (key) client.keepSecret(key);
  await client.load(
    version.name,
    tritonConfig(version.name, version),
    new Map([[version.version, bytes]]),
    privacy ? { dagwood_keep_primary: true, dagwood_privacy: privacy } : {},
  );
}

/** The target's sha256 of a version's model.onnx (undefined: the target does not say). */
async function targetDigest(
  client: V2Client,
  name: string,
  version: number,
  loaded: boolean,
): Promise<{ present: boolean; sha256?: string }> {
  const rows = (await client.repositoryIndex()).filter(
    (r) => r.name === name && r.version === String(version),
  );
  const fromIndex = rows.find((r) => typeof r.sha256 === "string")?.sha256;
  if (fromIndex) return { present: true, sha256: fromIndex.toLowerCase() };
  if (loaded) {
    const sha = (await client.modelMetadata(name, version)).parameters?.sha256;
    return { present: true, ...(typeof sha === "string" ? { sha256: sha.toLowerCase() } : {}) };
  }
  return { present: rows.length > 0 };
}

/**
 * Refuses (DeployError "conflict") to upload a version number the target
 * holds with other bytes than the registry's: uploading would replace what
 * it serves, and "rolling back" to that number would serve the wrong bytes.
 * Dagwood says the sha256 of each version; where a target does not (Triton,
 * older servers), a loaded copy is checked by parity on its own URL. A copy
 * on disk but not loaded and without a digest cannot be checked; it serves
 * nothing, so it is overwritten.
 */
export async function refuseOtherBytes(
  client: V2Client,
  project: DeployProject,
  target: Target,
  version: ModelVersion,
  loaded: number[],
): Promise<void> {
  const isLoaded = loaded.includes(version.version);
  const copy =
    target.kind === "dagwood"
      ? await targetDigest(client, version.name, version.version, isLoaded)
      : { present: isLoaded };
  if (!copy.present) return;
  const at = `${target.name} already has ${version.name} v${version.version}`;
  const why =
    "(another project or a re-created registry deployed that number); register the model under another name, or remove that version from the target first";
  if (copy.sha256 !== undefined) {
    const ours = createHash("sha256")
      .update(await readFile(join(project.dir, version.onnxPath)))
      .digest("hex");
    if (copy.sha256 === ours) return;
    throw new DeployError(
      `${at} with other bytes (sha256 ${copy.sha256.slice(0, 12)}…, the registry's is ${ours.slice(0, 12)}…) ${why}`,
      "conflict",
      { targetSha256: copy.sha256, sha256: ours },
    );
  }
  if (!isLoaded) return;
  const parity = await checkParity(client, project, version, target.kind, version.name);
  if (parity.passed) return;
  throw new DeployError(
    `${at} and it does not answer as the registry's v${version.version} does (${parityFailure(parity)}) ${why}`,
    "conflict",
    { parity },
  );
}

export async function waitReady(
  client: V2Client,
  name: string,
  version: number,
  timeoutMs: number,
  onProgress: (p: DeployProgress) => void,
): Promise<void> {
  const start = Date.now();
  for (let attempt = 0; ; attempt++) {
    if (await client.modelReady(name, version)) return;
    const waited = Date.now() - start;
    if (waited > timeoutMs) {
      throw new DeployError(
        `${name} v${version} was not ready on target "${client.target.name}" within ${timeoutMs} ms`,
        "rejected",
      );
    }
    if (attempt % 5 === 0)
      onProgress({ phase: "ready", message: `waiting for ${name} v${version} (${waited} ms)` });
    await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 1000)));
  }
}

/** Makes `previous` serve again (or unloads the model when there was none). */
async function restore(
  client: V2Client,
  project: DeployProject,
  target: Target,
  name: string,
  previous: number | null,
  policy: TrafficPolicy | undefined,
): Promise<number | null> {
  if (previous === null) {
    await client.unload(name);
    return null;
  }
  if (target.kind === "dagwood") {
    await client.setTraffic(name, { ...policy, primary: previous });
    return previous;
  }
  const earlier = project.registry.getVersion(name, previous);
  if (!earlier) {
    throw new DeployError(
      `the registry has no version ${previous} of "${name}" to load again on target "${target.name}"`,
      "not-found",
    );
  }
  await upload(client, project, await withVersionFiles(project.dir, earlier), target.kind);
  return previous;
}

export interface FailureContext {
  opts: Pick<DeployOptions, "project" | "actor" | "onProgress">;
  operation: DeployOperation;
  started: number;
  target: Target;
  client: V2Client;
  name: string;
  version: number;
  previous: number | null;
  policy: TrafficPolicy | undefined;
  /** Something was changed on the target (pinned or uploaded): make `previous` serve again. */
  changed: boolean;
  /** performance.now() when the failed version became reachable by infer-by-model (upload done). */
  reachableSince?: number;
  parity: ParityRecord | null;
}

/**
 * After a failed deploy or rollback: restores what served before (when
 * anything was changed), audits `deployment.failed` with the reason, and
 * returns the DeployError to throw (its `details` hold the record).
 */
export async function failure(ctx: FailureContext, e: unknown): Promise<DeployError> {
  const { target, client, name, version, previous, opts } = ctx;
  const reason = (e as Error).message;
  const progress = opts.onProgress ?? (() => {});
  let restored: number | null | undefined;
  let restoreError: string | undefined;
  let reachableMs: number | undefined;
  if (ctx.changed) {
    progress({ phase: "rollback", message: `rolling back: ${reason}` });
    try {
      restored = await restore(client, opts.project, target, name, previous, ctx.policy);
    } catch (r) {
      restoreError = (r as Error).message;
    }
    if (ctx.reachableSince !== undefined && restoreError === undefined)
      reachableMs = Math.round(performance.now() - ctx.reachableSince);
  }
  const ms = Math.round(performance.now() - ctx.started);
  const record = {
    target: target.name,
    url: target.url,
    kind: target.kind,
    previous,
    parity: ctx.parity,
    ms,
    reason,
    ...(restored !== undefined ? { restored } : {}),
    ...(reachableMs !== undefined ? { reachableMs } : {}),
    ...(ctx.operation !== "deploy" ? { operation: ctx.operation } : {}),
  };
  const entry = opts.project.registry.appendAudit({
    actor: opts.actor,
    action: "deployment.failed",
    model: name,
    version,
    details: { ...record, ...(restoreError ? { restoreError } : {}) },
  });
  const full: DeploymentRecord = {
    status: "failed",
    model: name,
    version,
    actor: opts.actor,
    ...record,
    auditId: entry.id,
  };
  const reachable =
    reachableMs !== undefined ? ` ${name} v${version} was reachable for ${reachableMs} ms before that.` : "";
  const restoredText =
    restoreError !== undefined
      ? ` Rolling back failed too: ${restoreError}.`
      : restored === undefined
        ? ctx.changed
          ? ""
          : ` Nothing was changed on ${target.name}${previous !== null ? `: ${name} v${previous} still serves` : ""}.`
        : restored === null
          ? ` ${name} was unloaded from ${target.name} (nothing served it before).${reachable}`
          : ` ${name} v${restored} serves again on ${target.name}.${reachable}`;
  const code = e instanceof DeployError ? e.code : "rejected";
  const what = {
    deploy: `Deploying ${name} v${version} to ${target.name}`,
    rollback: `Rolling ${name} back to v${version} on ${target.name}`,
    canary: `Deploying ${name} v${version} to ${target.name} as a canary`,
    promote: `Promoting the canary ${name} v${version} on ${target.name}`,
    removeCanary: `Removing the canary ${name} v${version} from ${target.name}`,
  }[ctx.operation];
  return new DeployError(`${what} failed: ${reason}.${restoredText}`, code, {
    deployment: full,
    audit: entry,
  });
}

/**
 * The canary rule of deployVersion and rollbackDeployment, which both make
 * `version` the primary on a target whose traffic policy is `policy`. Another
 * version as the canary is refused (DeployError "conflict", thrown before
 * anything changes or is recorded): it would stay beside a primary it was
 * never measured against. The canary's own version ends its canary: answers
 * that canary (undefined: none) and the policy to set with the new primary
 * (the canary share cleared, a shadow kept). `doing` names the step for the
 * message ("deploying v3").
 */
function canaryBeforePrimary(
  policy: TrafficPolicy | undefined,
  name: string,
  target: Target,
  version: number,
  doing: string,
): { canary?: { version: number; percent: number }; withoutCanary: TrafficPolicy } {
  const { canary, ...withoutCanary } = policy ?? {};
  if (canary && canary.version !== version) {
    throw new DeployError(
      `${name} v${canary.version} is the canary on ${target.name} (${canary.percent} %): promote or remove it before ${doing} (dagwood deploy canary promote|remove ${name} --target ${target.name}).`,
      "conflict",
    );
  }
  return { ...(canary ? { canary } : {}), withoutCanary };
}

/** Records the end of a canary that became the primary (`deployment.canaryEnded`, outcome "promoted"). */
function recordCanaryPromoted(
  opts: { project: DeployProject; actor: string | null },
  name: string,
  version: number,
  canary: { percent: number },
  base: { target: string; url: string; kind: Target["kind"]; previous: number | null },
  ms: number,
): void {
  opts.project.registry.appendAudit({
    actor: opts.actor,
    action: "deployment.canaryEnded",
    model: name,
    version,
    details: { ...base, percent: canary.percent, parity: null, ms, outcome: "promoted" },
  });
}

/**
 * Deploys a version; resolves with the record of a verified deployment.
 * A failure after the upload is rolled back and recorded, then thrown as a
 * DeployError whose `details` hold the record (code "parity" on a mismatch).
 *
 * On a Dagwood target with a canary (app/deploy/canary.ts): deploying another
 * version is refused (DeployError "conflict", nothing changed or recorded),
 * since the canary would stay beside a primary it was never measured against;
 * deploying the canary's own version makes it the primary (not uploaded again
 * when loaded), clears the canary and records its end
 * (`deployment.canaryEnded`, outcome "promoted") before `deployment.succeeded`.
 */
export async function deployVersion(opts: DeployOptions): Promise<DeploymentRecord> {
  const started = performance.now();
  const progress = opts.onProgress ?? (() => {});
  const { project, name } = opts;
  const version = await requireVersionFiles(project, name, opts.ref);
  const { target, client } = connect(project, opts.target, opts);
  const current = await servingVersion(client, target.kind, name);
  const previous = current.version;
  const base = { target: target.name, url: target.url, kind: target.kind, previous };
  // The canary's own version: its share ends when it takes all the traffic (a shadow stays).
  const { canary, withoutCanary } = canaryBeforePrimary(
    current.policy,
    name,
    target,
    version.version,
    `deploying v${version.version}`,
  );
  const ctx: FailureContext = {
    opts,
    operation: "deploy",
    started,
    target,
    client,
    name,
    version: version.version,
    previous,
    policy: current.policy,
    changed: false,
    parity: null,
  };
  try {
    // Before anything changes on the target: its copy of this version number, if any, must be ours.
    await refuseOtherBytes(client, project, target, version, current.versions);
    // Pinned, the version serving now keeps all traffic while the new one is checked.
    if (target.kind === "dagwood" && previous !== null && current.policy?.primary !== previous) {
      ctx.changed = true;
      await client.setTraffic(name, { ...current.policy, primary: previous });
    }
    // A canary is loaded, and its bytes were just checked to be the registry's.
    if (!(canary && (await client.modelReady(name, version.version)))) {
      progress({ phase: "upload", message: `uploading ${name} v${version.version} to ${target.name}` });
      await upload(client, project, version, target.kind);
      ctx.changed = true;
      // Nothing served before (or Triton): the new version answers infer-by-model from now on.
      if (previous === null || target.kind === "triton") ctx.reachableSince = performance.now();
      await waitReady(client, name, version.version, opts.readyTimeoutMs ?? 60_000, progress);
    }
    progress({ phase: "parity", message: "comparing the served predictions with the registry's" });
    ctx.parity = await checkParity(client, project, version, target.kind, name);
    if (!ctx.parity.passed) throw new DeployError(parityFailure(ctx.parity), "parity");
    if (target.kind === "dagwood") {
      progress({ phase: "promote", message: `${name} v${version.version} takes the traffic` });
      ctx.changed = true;
      await client.setTraffic(name, { ...withoutCanary, primary: version.version });
    }
  } catch (e) {
    throw await failure(ctx, e);
  }
  const parity = ctx.parity;
  const ms = Math.round(performance.now() - started);
  if (canary) recordCanaryPromoted(opts, name, version.version, canary, base, ms);
  const record = { ...base, parity, ms };
  const entry = project.registry.appendAudit({
    actor: opts.actor,
    action: "deployment.succeeded",
    model: name,
    version: version.version,
    details: record,
  });
  return {
    status: "succeeded",
    model: name,
    version: version.version,
    actor: opts.actor,
    ...record,
    auditId: entry.id,
  };
}

export interface RollbackOptions extends ConnectOptions {
  project: DeployProject;
  target: string;
  name: string;
  toVersion: number;
  actor: string | null;
  onProgress?: (progress: DeployProgress) => void;
  readyTimeoutMs?: number;
}

/**
 * Makes an earlier version serve again: on Dagwood by moving the primary
 * (the server loads it from its repository; re-uploaded from the registry
 * when the target lacks it), on Triton by loading its file again. Parity is
 * checked as for a deploy; the result is audited as `deployment.rolledBack`.
 *
 * A canary is treated as deployVersion treats it: another version as the
 * canary is refused (DeployError "conflict", nothing changed or recorded);
 * rolling back to the canary's own version makes it the primary, clears the
 * canary and records its end (`deployment.canaryEnded`, outcome "promoted")
 * before `deployment.rolledBack`.
 */
export async function rollbackDeployment(opts: RollbackOptions): Promise<DeploymentRecord> {
  const started = performance.now();
  const progress = opts.onProgress ?? (() => {});
  const { project, name, toVersion } = opts;
  const version = await requireVersionFiles(project, name, toVersion);
  const { target, client } = connect(project, opts.target, opts);
  const current = await servingVersion(client, target.kind, name);
  const readyTimeout = opts.readyTimeoutMs ?? 60_000;
  const base = { target: target.name, url: target.url, kind: target.kind, previous: current.version };
  const { canary, withoutCanary } = canaryBeforePrimary(
    current.policy,
    name,
    target,
    toVersion,
    `rolling back to v${toVersion}`,
  );
  // A failure is handled as a deploy's: what served before serves again, and it is audited.
  const ctx: FailureContext = {
    opts,
    operation: "rollback",
    started,
    target,
    client,
    name,
    version: toVersion,
    previous: current.version,
    policy: current.policy,
    changed: false,
    parity: null,
  };
  try {
    progress({ phase: "rollback", message: `making ${name} v${toVersion} serve on ${target.name}` });
    const needsUpload = target.kind !== "dagwood" || !(await client.modelReady(name, toVersion));
    if (needsUpload) {
      await refuseOtherBytes(client, project, target, version, current.versions);
      if (
        target.kind === "dagwood" &&
        current.version !== null &&
        current.policy?.primary !== current.version
      ) {
        ctx.changed = true;
        await client.setTraffic(name, { ...current.policy, primary: current.version });
      }
      progress({ phase: "upload", message: `uploading ${name} v${toVersion} from the registry` });
      await upload(client, project, version, target.kind);
      ctx.changed = true;
      if (current.version === null || target.kind === "triton") ctx.reachableSince = performance.now();
    }
    await waitReady(client, name, toVersion, readyTimeout, progress);
    progress({ phase: "parity", message: "comparing the served predictions with the registry's" });
    ctx.parity = await checkParity(client, project, version, target.kind, name);
    // On Dagwood the version serving before keeps serving until here (primary not moved yet).
    if (!ctx.parity.passed) throw new DeployError(parityFailure(ctx.parity), "parity");
    if (target.kind === "dagwood") {
      ctx.changed = true;
      await client.setTraffic(name, { ...withoutCanary, primary: toVersion });
    }
  } catch (e) {
    throw await failure(ctx, e);
  }
  const ms = Math.round(performance.now() - started);
  if (canary) recordCanaryPromoted(opts, name, toVersion, canary, base, ms);
  const record = { ...base, parity: ctx.parity, ms };
  const entry = project.registry.appendAudit({
    actor: opts.actor,
    action: "deployment.rolledBack",
    model: name,
    version: toVersion,
    details: record,
  });
  return {
    status: "rolledBack",
    model: name,
    version: toVersion,
    actor: opts.actor,
    ...record,
    auditId: entry.id,
  };
}

export interface ServedModelStatus {
  name: string;
  /** The version infer-by-model answers with (null: not loaded). */
  serving: number | null;
  /** Loaded versions. */
  versions: number[];
  policy?: TrafficPolicy;
  /** This model's latest deployment audit entries on this target, newest first. */
  deployments: AuditEntry[];
  /**
   * What the inference log keeps of the serving version's personal inputs (Dagwood targets): as the
   * server says it applies, else as dagwood.json and the version's lineage say a deploy sends it;
   * `text` as the Deployments view shows it.
   */
  logPolicy?: ServedLogPolicy;
}

export interface ServedLogPolicy {
  tagged: "hash" | "drop" | "clear";
  retentionDays?: number;
  /** The serving version's tagged inputs ([]: none). */
  inputs: string[];
  /** "personal inputs: email_domain hashed · kept 30 days" */
  text: string;
  /** "server": what the server applies (its model metadata); "project": dagwood.json (a server that does not say). */
  source: "server" | "project";
  /** dagwood.json's policy for the version, when it differs from the server's: applies at the next deploy. */
  pending?: string;
}

type ShownPolicy = Pick<ServedLogPolicy, "tagged" | "retentionDays" | "inputs">;

/** The server's `dagwood_log_policy` model parameter, checked (undefined when absent or not one). */
function parseServedPolicy(value: unknown): ShownPolicy | undefined {
  if (typeof value !== "string") return undefined;
  try {
    const p = JSON.parse(value) as { tagged?: unknown; retentionDays?: unknown; inputs?: unknown };
    if (p.tagged !== "hash" && p.tagged !== "drop" && p.tagged !== "clear") return undefined;
    return {
      tagged: p.tagged,
      ...(typeof p.retentionDays === "number" ? { retentionDays: p.retentionDays } : {}),
      inputs: Array.isArray(p.inputs) ? p.inputs.map(String) : [],
    };
  } catch {
    return undefined;
  }
}

/**
 * The log policy of `name`'s serving version: what the server says it applies (its model
 * metadata), else what dagwood.json and the version's lineage say a deploy sends; with both,
 * dagwood.json's text when it differs (`pending`: it applies at the next deploy). Undefined when
 * neither can be said.
 */
function servedLogPolicy(
  project: DeployProject,
  name: string,
  version: number | null,
  fromServer: unknown,
): ServedLogPolicy | undefined {
  if (version === null) return undefined;
  let ours: ReturnType<typeof versionLogPrivacy> | undefined;
  try {
    const v = project.registry.getVersion(name, version);
    if (v) ours = versionLogPrivacy(project.dir, v);
  } catch {
    // dagwood.json unreadable: the server's word stands alone
  }
  const served = parseServedPolicy(fromServer);
  if (served) {
    const { inputs, ...policy } = served;
    const text = describeLogPolicy(policy, inputs);
    // The server keeps the tagged inputs of every version it loaded (app/serving/privacy.ts
    // PrivacyTable): the next deploy applies dagwood.json's policy to those and this version's.
    const next = ours && describeLogPolicy(ours.policy, [...new Set([...ours.tagged, ...inputs])].sort());
    return {
      ...served,
      text,
      source: "server",
      ...(next && next !== text ? { pending: next } : {}),
    };
  }
  if (!ours) return undefined;
  return {
    tagged: ours.policy.tagged,
    ...(ours.policy.retentionDays !== undefined ? { retentionDays: ours.policy.retentionDays } : {}),
    inputs: ours.tagged,
    text: ours.text,
    source: "project",
  };
}

export interface TargetStatus {
  name: string;
  url: string;
  kind: Target["kind"];
  tokenSource: Target["tokenSource"];
  /**
   * `errorCode` says what `error` is: "unreachable" (no answer), "unauthorized"
   * (the target refused the token), "invalid" (not asked: its token or URL
   * cannot be sent), or another answer of the target.
   */
  health: { live: boolean; ready: boolean; error?: string; errorCode?: DeployError["code"] };
  models: ServedModelStatus[];
  /** From /metrics (Dagwood targets): requests, errors and latency per model and version. */
  traffic: VersionTraffic[];
}

const DEPLOYMENT_ACTIONS = new Set([
  "deployment.succeeded",
  "deployment.failed",
  "deployment.rolledBack",
  "deployment.canary",
  "deployment.canaryEnded",
]);

/** Per target: health, what each model serves there, its latest deployments, traffic figures. */
export async function deploymentStatus(
  project: DeployProject,
  opts: ConnectOptions = {},
): Promise<TargetStatus[]> {
  // Entries recorded before URLs were stripped of credentials are shown without them too.
  const audit = project.registry
    .audit({ limit: 5000 })
    .filter((a) => DEPLOYMENT_ACTIONS.has(a.action))
    .map((a) =>
      typeof a.details.url === "string" && hasUrlCredentials(a.details.url)
        ? { ...a, details: { ...a.details, url: targetUrl(a.details.url) } }
        : a,
    );
  return Promise.all(
    listTargets(project.settings, opts.tokens).map(async (target): Promise<TargetStatus> => {
      const client = new V2Client(target, { timeoutMs: 5000, ...opts.client });
      const status: TargetStatus = {
        name: target.name,
        url: target.url,
        kind: target.kind,
        tokenSource: target.tokenSource,
        health: { live: false, ready: false },
        models: [],
        traffic: [],
      };
      const fail = (e: unknown) => {
        status.health.error ??= (e as Error).message;
        status.health.errorCode ??= e instanceof DeployError ? e.code : "rejected";
      };
      if (target.tokenError) {
        fail(new DeployError(target.tokenError, "invalid"));
        return status;
      }
      try {
        status.health = { live: await client.live(), ready: await client.ready() };
      } catch (e) {
        fail(e);
        return status;
      }
      const onTarget = audit.filter((a) => a.details.target === target.name);
      const names = new Set(onTarget.map((a) => a.model));
      try {
        for (const row of await client.repositoryIndex()) names.add(row.name);
      } catch {
        // Without the token the index is refused: the models deployed from here are still listed.
      }
      for (const name of [...names].sort()) {
        try {
          const serving = await servingVersion(client, target.kind, name);
          status.models.push({
            name,
            serving: serving.version,
            versions: serving.versions,
            ...(serving.policy ? { policy: serving.policy } : {}),
            deployments: onTarget.filter((a) => a.model === name).slice(0, 10),
          });
          const logPolicy =
            target.kind === "dagwood"
              ? servedLogPolicy(project, name, serving.version, serving.logPolicy)
              : undefined;
          if (logPolicy) status.models.at(-1)!.logPolicy = logPolicy;
        } catch (e) {
          fail(e);
        }
      }
      if (target.kind === "dagwood") {
        try {
          status.traffic = trafficByVersion(await client.metrics());
        } catch {
          // metrics are a bonus: the status stands without them
        }
      }
      return status;
    }),
  );
}

/** Dagwood targets only: canary and shadow versions (the primary stays as it is). */
export async function setTraffic(
  project: DeployProject,
  args: {
    target: string;
    name: string;
    canary?: { version: number; percent: number };
    shadow?: { version: number };
  },
  opts: ConnectOptions = {},
): Promise<TrafficPolicy> {
  const { target, client } = connect(project, args.target, opts);
  if (target.kind !== "dagwood") {
    throw new DeployError(
      `Target "${target.name}" is ${target.kind}: canary and shadow traffic are a Dagwood server extension. Split traffic in front of it instead (e.g. KServe's canaryTrafficPercent).`,
      "invalid",
    );
  }
  const current = await servingVersion(client, target.kind, args.name);
  if (current.version === null) {
    throw new DeployError(
      `Model "${args.name}" is not served by target "${target.name}"; deploy it first.`,
      "not-found",
    );
  }
  const policy: TrafficPolicy = {
    primary: current.version,
    ...(args.canary ? { canary: args.canary } : {}),
    ...(args.shadow ? { shadow: args.shadow } : {}),
  };
  return (await client.setTraffic(args.name, policy)).policy;
}
