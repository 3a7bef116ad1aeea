/**
 * The models a server has loaded: one onnxruntime session per version, the
 * traffic policy per model, and the changes to them (load, unload, traffic)
 * serialized per model and recorded in the repository's state file.
 *
 * A new version is created and warmed before it is put in the map, and the
 * swap is one assignment, so a request sees either the old version or the
 * new one, never a half-loaded one. A retired session is released when the
 * last request using it finishes.
 */
import { createHash } from "node:crypto";
import * as ort from "onnxruntime-node";
import { SERVING_SESSION_OPTIONS } from "../ml/onnx/session-options";
import {
  type Batching,
  DAGWOOD_CLASSES_KEY,
  DAGWOOD_DECISION_KEY,
  type ModelConfig,
  onnxMetadata,
  parseModelConfig,
  resolveBatching,
  warmupFeeds,
} from "./config";
import {
  type ConfigSnapshot,
  checkModelName,
  type ModelRepository,
  type ServingState,
  sha256Hex,
  type TrafficPolicy,
} from "./repository";
import { RequestError, sessionSignature, type TensorMeta } from "./tensors";

export interface LoadedVersion {
  version: number;
  session: ort.InferenceSession;
  signature: { inputs: TensorMeta[]; outputs: TensorMeta[] };
  /** sha256 of the model.onnx bytes (hex): the version's identity. */
  sha256: string;
  /** Dimension 0 is the batch (from the config's max_batch_size, or Dagwood's metadata); undefined: shapes pass as given. */
  batching?: Batching;
  /**
   * A classifier's class names in the order of its `probabilities` columns, as
   * a JSON array in a string (a V2 parameter value is a string, a number or a
   * boolean): from Dagwood's `dagwood.classes` model metadata.
   */
  classNames?: string;
  /**
   * A binary classifier's decision rule (Dagwood's `dagwood.decision` model metadata, written with a
   * registered version's threshold): its `label` output is `positiveClass` when that class's probability
   * is at least `threshold`. Undefined: the label is the most probable class.
   */
  decision?: { threshold: number; positiveClass: string };
  /** The feature service that fills its inputs from entity keys (config `parameters.feature_service`). */
  featureService?: string;
  /** Requests running on it; a retired version is released when this drops to 0. */
  active: number;
  retired: boolean;
}

export interface ServedModel {
  name: string;
  versions: Map<number, LoadedVersion>;
  policy: TrafficPolicy;
}

export type Role = "primary" | "canary" | "shadow" | "direct";

export interface Route {
  target: LoadedVersion;
  role: Role;
  shadow?: LoadedVersion;
}

/** The decision rule a Dagwood model's graph labels by (`dagwood.decision`); undefined if absent or malformed. */
export function decisionOf(metadata: Map<string, string>): LoadedVersion["decision"] {
  const text = metadata.get(DAGWOOD_DECISION_KEY);
  if (text === undefined) return undefined;
  try {
    const { threshold, positiveClass } = JSON.parse(text) as Record<string, unknown>;
    if (typeof threshold !== "number" || typeof positiveClass !== "string") return undefined;
    return { threshold, positiveClass };
  } catch {
    return undefined;
  }
}

/** The class names a Dagwood model declares (`dagwood.classes`, a JSON array), re-encoded; undefined if absent or malformed. */
export function classNamesOf(metadata: Map<string, string>): string | undefined {
  const text = metadata.get(DAGWOOD_CLASSES_KEY);
  if (text === undefined) return undefined;
  try {
    const classes: unknown = JSON.parse(text);
    if (!Array.isArray(classes) || !classes.every((c) => typeof c === "string" || typeof c === "number"))
      return undefined;
    return JSON.stringify(classes);
  } catch {
    return undefined;
  }
}

/**
 * Creates a session from model bytes: onnxruntime's session creation is the
 * validation (a refusal is a 400). Warm-up runs only when the config asks for
 * it (`model_warmup`, as on Triton); inputs invented by the server could fail
 * on a valid model (a Mod by zero, a Reshape to a zero dimension).
 */
export async function createSession(
  bytes: Uint8Array,
  config: ModelConfig = { warmup: [] },
): Promise<Omit<LoadedVersion, "version">> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, { ...SERVING_SESSION_OPTIONS });
  } catch (e) {
    throw new RequestError(`onnxruntime could not load the model: ${(e as Error).message}`);
  }
  try {
    let signature: LoadedVersion["signature"];
    try {
      signature = sessionSignature(session);
    } catch (e) {
      throw new RequestError(`the model cannot be served: ${(e as Error).message}`);
    }
    const metadata = onnxMetadata(bytes);
    const batching = resolveBatching(config, signature, metadata);
    const classNames = classNamesOf(metadata);
    const decision = decisionOf(metadata);
    for (const warmup of config.warmup) {
      const feeds = warmupFeeds(warmup, signature.inputs, batching);
      for (let i = 0; i < warmup.count; i++) {
        try {
          await session.run(feeds);
        } catch (e) {
          throw new RequestError(
            `the model failed its warm-up ${JSON.stringify(warmup.name)} (config model_warmup): ${(e as Error).message}`,
          );
        }
      }
    }
    return {
      session,
      signature,
      sha256: sha256Hex(bytes),
      active: 0,
      retired: false,
      ...(batching ? { batching } : {}),
      ...(classNames ? { classNames } : {}),
      ...(decision ? { decision } : {}),
      ...(config.featureService ? { featureService: config.featureService } : {}),
    };
  } catch (e) {
    await session.release().catch(() => {});
    throw e;
  }
}

const MAX_BATCH_ROWS = 256;

interface Queued {
  feeds: Record<string, ort.Tensor>;
  outputs: string[];
  resolve: (result: ort.InferenceSession.ReturnType) => void;
  reject: (error: unknown) => void;
}

/** Whether two tensors have the same type and the same dimensions after the first. */
function sameInner(a: ort.Tensor, b: ort.Tensor): boolean {
  if (a.type !== b.type || a.dims.length !== b.dims.length) return false;
  for (let d = 1; d < a.dims.length; d++) if (a.dims[d] !== b.dims[d]) return false;
  return true;
}

/** The requests' feeds concatenated along the first (batch) dimension, or undefined if they cannot be. */
function concatFeeds(
  all: Record<string, ort.Tensor>[],
): { feeds: Record<string, ort.Tensor>; rows: number[] } | undefined {
  const names = Object.keys(all[0]!);
  const rows = new Array<number>(all.length);
  for (let i = 0; i < all.length; i++) rows[i] = all[i]![names[0]!]!.dims[0] ?? 0;
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of names) {
    const first = all[0]![name]!;
    if (first.dims.length === 0) return undefined;
    let total = 0;
    let length = 0;
    for (let i = 0; i < all.length; i++) {
      const t = all[i]![name];
      if (!t || t.dims[0] !== rows[i] || !sameInner(t, first)) return undefined;
      total += rows[i]!;
      length += t.data.length;
    }
    let data: ort.Tensor["data"];
    if (first.type === "string") {
      const out = new Array<string>(length);
      let at = 0;
      for (const f of all) for (const v of f[name]!.data as string[]) out[at++] = v;
      data = out;
    } else {
      const Ctor = (first.data as Float32Array).constructor as new (n: number) => Float32Array;
      const out = new Ctor(length);
      let at = 0;
      for (const f of all) {
        const d = f[name]!.data as Float32Array;
        out.set(d, at);
        at += d.length;
      }
      data = out;
    }
    const dims = first.dims.slice();
    dims[0] = total;
    feeds[name] = new ort.Tensor(first.type as "float32", data as Float32Array, dims);
  }
  return { feeds, rows };
}

/** A batch's outputs cut back into one result per request, or undefined if an output is not per row. */
function splitOutputs(
  result: ort.InferenceSession.ReturnType,
  rows: number[],
): ort.InferenceSession.ReturnType[] | undefined {
  let total = 0;
  for (const n of rows) total += n;
  const parts: Record<string, ort.Tensor>[] = rows.map(() => ({}));
  for (const name in result) {
    const tensor = result[name]!;
    if (tensor.dims[0] !== total) return undefined;
    let width = 1;
    for (let d = 1; d < tensor.dims.length; d++) width *= tensor.dims[d]!;
    const data = tensor.data as Float32Array | string[];
    let at = 0;
    for (let i = 0; i < rows.length; i++) {
      const n = rows[i]!;
      const dims = tensor.dims.slice();
      dims[0] = n;
      // Numbers as views of the batch's output (no copy, no new buffer: the batch's is not reused).
      const part = Array.isArray(data)
        ? data.slice(at * width, (at + n) * width)
        : data.subarray(at * width, (at + n) * width);
      parts[i]![name] = new ort.Tensor(tensor.type as "float32", part as Float32Array, dims);
      at += n;
    }
  }
  return parts;
}

/** A loaded version serves a new load of the same bytes if the config asks for no warm-up, batches it the same way and names the same feature service. */
function reusable(loaded: LoadedVersion, config: ModelConfig, bytes: Uint8Array): boolean {
  if (config.warmup.length > 0 || loaded.featureService !== config.featureService) return false;
  const batching = resolveBatching(config, loaded.signature, onnxMetadata(bytes));
  return batching?.max === loaded.batching?.max;
}

/** 0..99 from a request id, so one id always takes the same arm of a canary. */
function bucketOf(id: string): number {
  return createHash("sha256").update(id).digest().readUInt32BE(0) % 100;
}

export class ModelManager {
  readonly models = new Map<string, ServedModel>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private stateWrite: Promise<unknown> = Promise.resolve();
  private readonly queues = new Map<LoadedVersion, Queued[]>();

  constructor(
    readonly repository: ModelRepository,
    private readonly log: (message: string) => void,
    /** Batch concurrent requests per version (see `run`). */
    private readonly batching = true,
  ) {}

  /** Runs `task` after the previous change to the same model finished. */
  private exclusive<T>(model: string, task: () => Promise<T>): Promise<T> {
    // Names differing only in case share a folder on macOS and Windows: one lock for them.
    const name = model.toLowerCase();
    const previous = this.locks.get(name) ?? Promise.resolve();
    const next = previous.then(task, task);
    const settled = next.catch(() => {});
    this.locks.set(name, settled);
    void settled.then(() => {
      if (this.locks.get(name) === settled) this.locks.delete(name);
    });
    return next;
  }

  /** Loads what the state file says was serving (and nothing else). */
  async restore(): Promise<void> {
    let state: ServingState | undefined;
    try {
      state = await this.repository.readState();
    } catch (e) {
      this.log(`ignoring the serving state: ${(e as Error).message}`);
    }
    for (const [name, entry] of Object.entries(state?.models ?? {})) {
      try {
        checkModelName(name);
        const onDisk = await this.repository.versions(name);
        const missing = entry.versions.filter((v) => !onDisk.includes(v));
        if (missing.length > 0) throw new Error(`version ${missing.join(", ")} is not in the repository`);
        const model: ServedModel = { name, versions: new Map(), policy: entry.policy ?? {} };
        const config = await this.configFor(name);
        for (const version of entry.versions) {
          const loaded = await createSession(await this.repository.readModel(name, version), config);
          model.versions.set(version, { ...loaded, version });
        }
        if (model.versions.size > 0) this.models.set(name, model);
      } catch (e) {
        this.log(`not restoring model ${name}: ${(e as Error).message}`);
      }
    }
  }

  /** The load's config (checked), else the one in the repository (config.json), else none. */
  private async configFor(name: string, given?: unknown): Promise<ModelConfig> {
    if (given !== undefined) return parseModelConfig(given, name);
    const stored = await this.repository.readConfig(name);
    if (stored === undefined) return { warmup: [] };
    try {
      return parseModelConfig(stored, name);
    } catch (e) {
      throw new RequestError(
        `the config.json of ${name} in the repository is not valid (${(e as Error).message}); load it with a "config" parameter`,
      );
    }
  }

  private saveState(): Promise<void> {
    const state = { format: "dagwood.serve-state/1" as const, models: {} as ServingState["models"] };
    for (const [name, model] of this.models) {
      state.models[name] = {
        versions: [...model.versions.keys()].sort((a, b) => a - b),
        policy: model.policy,
      };
    }
    const write = this.stateWrite.then(() => this.repository.writeState(state));
    this.stateWrite = write.catch(() => {});
    return write;
  }

  /**
   * Puts validated, warmed versions into service. Keeps the new versions, the
   * previous primary (instant rollback) and whatever the policy names; the
   * other loaded versions are retired on `commit`. `primary`: the version
   * the load makes the primary, or "keep" (the current primary stays,
   * pinned). Until `commit`, `rollback` puts the previous versions and
   * policy back (the new sessions are retired).
   */
  private install(
    name: string,
    added: LoadedVersion[],
    primary: number | "keep",
  ): { model: ServedModel; commit: () => void; rollback: () => void } {
    const existing = this.models.get(name);
    const model: ServedModel = existing ?? { name, versions: new Map(), policy: {} };
    const previousVersions = model.versions;
    const previousPolicy = model.policy;
    const previous = existing && existing.versions.size > 0 ? this.primaryVersion(existing) : undefined;
    const versions = new Map(model.versions);
    const replaced: LoadedVersion[] = [];
    for (const v of added) {
      const old = versions.get(v.version);
      if (old && old !== v) replaced.push(old);
      versions.set(v.version, v);
    }
    const policy: TrafficPolicy = { ...model.policy };
    if (primary === "keep") {
      if (previous !== undefined) policy.primary = previous;
    } else if (primary === Math.max(...versions.keys())) delete policy.primary;
    else policy.primary = primary;
    const keep = new Set<number>(added.map((v) => v.version));
    if (previous !== undefined) keep.add(previous);
    for (const v of [policy.primary, policy.canary?.version, policy.shadow?.version]) {
      if (v !== undefined) keep.add(v);
    }
    const dropped: LoadedVersion[] = [...replaced];
    for (const [v, loaded] of versions) {
      if (!keep.has(v)) {
        dropped.push(loaded);
        versions.delete(v);
      }
    }
    // Assigned in one tick: requests see the old versions and policy or the new ones.
    model.versions = versions;
    model.policy = policy;
    this.models.set(name, model);
    const fresh = added.filter((v) => previousVersions.get(v.version) !== v);
    return {
      model,
      commit: () => {
        for (const v of dropped) this.retire(v);
      },
      rollback: () => {
        if (existing) {
          existing.versions = previousVersions;
          existing.policy = previousPolicy;
        } else if (this.models.get(name) === model) this.models.delete(name);
        for (const v of fresh) this.retire(v);
      },
    };
  }

  private retire(loaded: LoadedVersion): void {
    loaded.retired = true;
    if (loaded.active === 0) void loaded.session.release().catch(() => {});
  }

  /** A 409 if another model's name differs from `name` only in case (they would share a folder on macOS/Windows). */
  private async checkCase(name: string): Promise<void> {
    const lower = name.toLowerCase();
    const other = [...this.models.keys(), ...(await this.repository.modelNames())].find(
      (n) => n !== name && n.toLowerCase() === lower,
    );
    if (other !== undefined) {
      throw new RequestError(
        `model ${name} differs from the existing model ${other} only in case; they would share a folder on macOS and Windows, so use ${other} or another name`,
        409,
      );
    }
  }

  /**
   * Serves `added` (written, warmed) and records the state; if that fails,
   * everything is put back: the previous versions and policy in memory, the
   * config files, and the version folders this load wrote.
   */
  private async commitLoad(
    name: string,
    fresh: LoadedVersion[],
    reused: LoadedVersion[],
    primary: number | "keep",
    config: unknown,
    written: number[],
  ): Promise<ServedModel> {
    let snapshot: ConfigSnapshot | undefined;
    let installed: ReturnType<ModelManager["install"]> | undefined;
    try {
      const all = [...reused, ...fresh];
      const latest = all.reduce((a, b) => (b.version > a.version ? b : a));
      snapshot = await this.repository.snapshotConfig(name);
      // A limit the config set goes into config.pbtxt; Dagwood's own models (no limit) keep
      // max_batch_size 0 there, which Triton serves with the same answers, request by request.
      const limit = latest.batching?.max;
      await this.repository.writeConfig(
        name,
        latest.signature,
        config,
        limit !== undefined && Number.isFinite(limit) ? limit : undefined,
      );
      installed = this.install(name, all, primary);
      await this.saveState();
      installed.commit();
      return installed.model;
    } catch (e) {
      if (installed) {
        installed.rollback();
        // Another model's state write may have recorded this load meanwhile: record what serves now.
        void this.saveState().catch(() => {});
      } else for (const v of fresh) this.retire(v);
      const undo = async (what: string, task: () => Promise<void>) =>
        task().catch((u: Error) => this.log(`undoing the load of ${name}: ${what}: ${u.message}`));
      if (snapshot) await undo("restoring its config", () => this.repository.restoreConfig(name, snapshot!));
      for (const v of written)
        await undo(`removing version ${v}`, () => this.repository.removeVersion(name, v));
      throw e;
    }
  }

  /**
   * Uploaded versions (already decoded): validate and warm all, write them, then serve them. A
   * version already on disk is never overwritten: the same bytes are a no-op (idempotent), other
   * bytes a 409. The highest uploaded version becomes the primary unless `keepPrimary`.
   */
  loadFiles(
    name: string,
    files: Map<number, Uint8Array>,
    config?: unknown,
    keepPrimary = false,
  ): Promise<ServedModel> {
    checkModelName(name);
    return this.exclusive(name, async () => {
      await this.checkCase(name);
      const parsed = await this.configFor(name, config);
      const current = this.models.get(name);
      const onDisk = new Set(await this.repository.versions(name));
      const hashes = new Map<number, string>();
      for (const [version, bytes] of files) {
        const sha256 = sha256Hex(bytes);
        hashes.set(version, sha256);
        if (!onDisk.has(version)) continue;
        const existing = await this.repository.sha256(name, version);
        if (existing !== sha256) {
          throw new RequestError(
            `version ${version} of ${name} already exists with other bytes (sha256 ${existing}); upload it as a new version`,
            409,
          );
        }
      }
      const fresh: LoadedVersion[] = [];
      const reused: LoadedVersion[] = [];
      const written: number[] = [];
      try {
        for (const [version, bytes] of files) {
          const loaded = current?.versions.get(version);
          if (loaded && loaded.sha256 === hashes.get(version) && reusable(loaded, parsed, bytes))
            reused.push(loaded);
          else fresh.push({ ...(await createSession(bytes, parsed)), version });
        }
        for (const v of fresh) {
          if (onDisk.has(v.version)) continue; // the same bytes are there already
          await this.repository.writeModel(name, v.version, files.get(v.version)!);
          written.push(v.version);
        }
      } catch (e) {
        for (const v of fresh) this.retire(v);
        for (const v of written) await this.repository.removeVersion(name, v).catch(() => {});
        throw e;
      }
      const highest = Math.max(...files.keys());
      return this.commitLoad(name, fresh, reused, keepPrimary ? "keep" : highest, config, written);
    });
  }

  /** Loads a version from disk: the given one, else the highest; it becomes the primary unless `keepPrimary`. */
  loadFromDisk(name: string, version?: number, config?: unknown, keepPrimary = false): Promise<ServedModel> {
    checkModelName(name);
    return this.exclusive(name, async () => {
      await this.checkCase(name);
      const onDisk = await this.repository.versions(name);
      if (onDisk.length === 0) throw new RequestError(`no model ${name} in the repository`, 404);
      const parsed = await this.configFor(name, config);
      const chosen = version ?? onDisk[onDisk.length - 1]!;
      if (!onDisk.includes(chosen))
        throw new RequestError(`model ${name} has no version ${chosen} on disk`, 404);
      const bytes = await this.repository.readModel(name, chosen);
      const current = this.models.get(name)?.versions.get(chosen);
      const reuse =
        current && current.sha256 === sha256Hex(bytes) && reusable(current, parsed, bytes)
          ? current
          : undefined;
      const fresh = reuse ? [] : [{ ...(await createSession(bytes, parsed)), version: chosen }];
      return this.commitLoad(name, fresh, reuse ? [reuse] : [], keepPrimary ? "keep" : chosen, config, []);
    });
  }

  unload(name: string): Promise<void> {
    checkModelName(name);
    return this.exclusive(name, async () => {
      const model = this.models.get(name);
      if (!model) throw new RequestError(`model ${name} is not loaded`, 404);
      this.models.delete(name);
      for (const v of model.versions.values()) this.retire(v);
      await this.saveState();
    });
  }

  /**
   * Replaces the traffic policy; versions it names that are on disk but not
   * loaded are loaded first. The state is saved once, at the end; if a
   * version fails to load or the state cannot be saved, the previous policy
   * and versions stay (in memory and on disk).
   */
  setPolicy(name: string, policy: TrafficPolicy): Promise<TrafficPolicy> {
    checkModelName(name);
    return this.exclusive(name, async () => {
      const model = this.models.get(name);
      if (!model) throw new RequestError(`model ${name} is not loaded`, 404);
      const named = new Set(
        [policy.primary, policy.canary?.version, policy.shadow?.version].filter(
          (v): v is number => v !== undefined,
        ),
      );
      const fresh: LoadedVersion[] = [];
      try {
        const onDisk = await this.repository.versions(name);
        const missing = [...named].filter((v) => !model.versions.has(v));
        const config = missing.length > 0 ? await this.configFor(name) : undefined;
        for (const v of missing) {
          if (!onDisk.includes(v)) throw new RequestError(`model ${name} has no version ${v} on disk`, 404);
          fresh.push({
            ...(await createSession(await this.repository.readModel(name, v), config)),
            version: v,
          });
        }
      } catch (e) {
        for (const v of fresh) this.retire(v);
        throw e;
      }
      const previousVersions = model.versions;
      const previousPolicy = model.policy;
      const versions = new Map(model.versions);
      for (const v of fresh) versions.set(v.version, v);
      model.versions = versions;
      model.policy = { ...policy };
      try {
        await this.saveState();
      } catch (e) {
        model.versions = previousVersions;
        model.policy = previousPolicy;
        for (const v of fresh) this.retire(v);
        void this.saveState().catch(() => {});
        throw e;
      }
      return policy;
    });
  }

  primaryVersion(model: ServedModel): number {
    const pinned = model.policy.primary;
    if (pinned !== undefined && model.versions.has(pinned)) return pinned;
    return Math.max(...model.versions.keys());
  }

  /** Which version answers an infer request (and which one shadows it). */
  route(name: string, version: number | undefined, requestId: string | undefined): Route {
    const model = this.models.get(name);
    if (!model) throw new RequestError(`unknown model ${name} (not loaded)`, 404);
    if (version !== undefined) {
      const target = model.versions.get(version);
      if (!target) throw new RequestError(`model ${name} has no version ${version} loaded`, 404);
      return { target, role: "direct" };
    }
    const { canary, shadow } = model.policy;
    let route: Route = { target: model.versions.get(this.primaryVersion(model))!, role: "primary" };
    const canaryVersion = canary ? model.versions.get(canary.version) : undefined;
    if (canary && canaryVersion) {
      const draw = requestId !== undefined ? bucketOf(requestId) : Math.random() * 100;
      if (draw < canary.percent) route = { target: canaryVersion, role: "canary" };
    }
    const shadowVersion = shadow ? model.versions.get(shadow.version) : undefined;
    if (shadowVersion && shadowVersion !== route.target) route.shadow = shadowVersion;
    return route;
  }

  /** Keeps a version's session alive (even if retired meanwhile) until `release` is called. */
  hold(loaded: LoadedVersion): void {
    loaded.active++;
  }

  release(loaded: LoadedVersion): void {
    loaded.active--;
    if (loaded.retired && loaded.active === 0) void loaded.session.release().catch(() => {});
  }

  /**
   * Runs a session, keeping a retired version alive until the run ends. Call
   * it in the tick of `route`. For a version that batches (`batching`: its
   * config's max_batch_size, or Dagwood's metadata), requests that arrive in
   * one event-loop turn are run as one batch (rows concatenated, outputs
   * split back), as Triton's dynamic batcher does: onnxruntime's fixed cost
   * per run is paid once. Tree and linear outputs do not depend on the batch;
   * a dense network's may differ in the last float bit.
   */
  run(
    loaded: LoadedVersion,
    feeds: Record<string, ort.Tensor>,
    outputs: string[],
  ): Promise<ort.InferenceSession.ReturnType> {
    this.hold(loaded);
    // A queued request's hold is released by runQueued as its answer settles.
    if (this.batching && loaded.batching && loaded.batching.max > 1)
      return this.enqueue(loaded, feeds, outputs);
    return loaded.session.run(feeds, outputs).finally(() => this.release(loaded));
  }

  private enqueue(
    loaded: LoadedVersion,
    feeds: Record<string, ort.Tensor>,
    outputs: string[],
  ): Promise<ort.InferenceSession.ReturnType> {
    return new Promise((resolve, reject) => {
      let queue = this.queues.get(loaded);
      if (!queue) {
        queue = [];
        this.queues.set(loaded, queue);
        setImmediate(() => {
          this.queues.delete(loaded);
          void this.runQueued(loaded, queue!);
        });
      }
      queue.push({ feeds, outputs, resolve, reject });
    });
  }

  private async runQueued(loaded: LoadedVersion, queue: Queued[]): Promise<void> {
    // Small requests with the same outputs share a run, up to MAX_BATCH_ROWS rows (and the model's
    // max_batch_size); a large request runs alone.
    const limit = Math.min(MAX_BATCH_ROWS, loaded.batching?.max ?? 1);
    const batches: Queued[][] = [];
    const open = new Map<string, { group: Queued[]; rows: number }>();
    for (const q of queue) {
      let rows = limit;
      for (const name in q.feeds) {
        rows = q.feeds[name]!.dims[0] ?? limit;
        break;
      }
      if (rows >= limit) {
        batches.push([q]);
        continue;
      }
      const key = q.outputs.join("\u0000");
      let current = open.get(key);
      if (!current || current.rows + rows > limit) {
        current = { group: [], rows: 0 };
        open.set(key, current);
        batches.push(current.group);
      }
      current.group.push(q);
      current.rows += rows;
    }
    const settle = (q: Queued, result?: ort.InferenceSession.ReturnType, error?: unknown) => {
      this.release(loaded);
      if (result) q.resolve(result);
      else q.reject(error);
    };
    for (const group of batches) {
      const batch = group.length > 1 ? concatFeeds(group.map((q) => q.feeds)) : undefined;
      if (batch) {
        try {
          const result = await loaded.session.run(batch.feeds, group[0]!.outputs);
          const parts = splitOutputs(result, batch.rows);
          if (parts) {
            for (let i = 0; i < group.length; i++) settle(group[i]!, parts[i]!);
            continue;
          }
        } catch {
          // One bad request fails the batch: run them one by one so each gets its own answer.
        }
      }
      for (const q of group) {
        loaded.session.run(q.feeds, q.outputs).then(
          (result) => settle(q, result),
          (error: unknown) => settle(q, undefined, error),
        );
      }
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.locks.values()]);
    await this.stateWrite;
    for (const model of this.models.values()) for (const v of model.versions.values()) this.retire(v);
    this.models.clear();
  }
}
