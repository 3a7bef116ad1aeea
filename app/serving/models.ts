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
import { checkModelName, type ModelRepository, type ServingState, type TrafficPolicy } from "./repository";
import { RequestError, sessionSignature, type TensorMeta, warmupFeeds } from "./tensors";

export interface LoadedVersion {
  version: number;
  session: ort.InferenceSession;
  signature: { inputs: TensorMeta[]; outputs: TensorMeta[] };
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

const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  // Requests run concurrently on libuv's pool; one thread per run keeps single-row latency low.
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  graphOptimizationLevel: "all",
};

/** Creates a session from model bytes and warms it with one row of zeros; a refusal is a 400. */
export async function createWarmSession(bytes: Uint8Array): Promise<Omit<LoadedVersion, "version">> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, SESSION_OPTIONS);
  } catch (e) {
    throw new RequestError(`onnxruntime could not load the model: ${(e as Error).message}`);
  }
  try {
    const signature = sessionSignature(session);
    await session.run(warmupFeeds(signature.inputs));
    return { session, signature, active: 0, retired: false };
  } catch (e) {
    await session.release().catch(() => {});
    throw new RequestError(`the model failed its warm-up run: ${(e as Error).message}`);
  }
}

const MAX_BATCH_ROWS = 256;

interface Queued {
  feeds: Record<string, ort.Tensor>;
  outputs: string[];
  resolve: (result: ort.InferenceSession.ReturnType) => void;
  reject: (error: unknown) => void;
}

/** The requests' feeds concatenated along the first (batch) dimension, or undefined if they cannot be. */
function concatFeeds(
  all: Record<string, ort.Tensor>[],
): { feeds: Record<string, ort.Tensor>; rows: number[] } | undefined {
  const names = Object.keys(all[0]!);
  const rows = all.map((f) => f[names[0]!]!.dims[0] ?? 0);
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of names) {
    const tensors = all.map((f) => f[name]!);
    const first = tensors[0]!;
    const inner = first.dims.slice(1);
    if (first.dims.length === 0) return undefined;
    const total = tensors.reduce((n, t, i) => {
      if (t.type !== first.type || t.dims[0] !== rows[i] || t.dims.slice(1).join() !== inner.join())
        return Number.NaN;
      return n + t.dims[0]!;
    }, 0);
    if (Number.isNaN(total)) return undefined;
    const datas = tensors.map((t) => t.data);
    let data: ort.Tensor["data"];
    if (first.type === "string") data = (datas as string[][]).flat();
    else {
      const Ctor = (first.data as Float32Array).constructor as new (n: number) => Float32Array;
      const out = new Ctor(datas.reduce((n, d) => n + d.length, 0));
      let at = 0;
      for (const d of datas as Float32Array[]) {
        out.set(d, at);
        at += d.length;
      }
      data = out;
    }
    feeds[name] = new ort.Tensor(first.type as "float32", data as Float32Array, [total, ...inner]);
  }
  return { feeds, rows };
}

/** A batch's outputs cut back into one result per request, or undefined if an output is not per row. */
function splitOutputs(
  result: ort.InferenceSession.ReturnType,
  rows: number[],
): ort.InferenceSession.ReturnType[] | undefined {
  const total = rows.reduce((a, b) => a + b, 0);
  const parts: Record<string, ort.Tensor>[] = rows.map(() => ({}));
  for (const [name, tensor] of Object.entries(result)) {
    if (tensor.dims[0] !== total) return undefined;
    const inner = tensor.dims.slice(1);
    const width = inner.reduce((a, b) => a * b, 1);
    const data = tensor.data as Float32Array | string[];
    let at = 0;
    rows.forEach((n, i) => {
      parts[i]![name] = new ort.Tensor(
        tensor.type as "float32",
        data.slice(at * width, (at + n) * width) as Float32Array,
        [n, ...inner],
      );
      at += n;
    });
  }
  return parts;
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
  private exclusive<T>(name: string, task: () => Promise<T>): Promise<T> {
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
        for (const version of entry.versions) {
          const loaded = await createWarmSession(await this.repository.readModel(name, version));
          model.versions.set(version, { ...loaded, version });
        }
        if (model.versions.size > 0) this.models.set(name, model);
      } catch (e) {
        this.log(`not restoring model ${name}: ${(e as Error).message}`);
      }
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
   * other loaded versions are retired.
   */
  private install(name: string, added: LoadedVersion[]): ServedModel {
    const model: ServedModel = this.models.get(name) ?? { name, versions: new Map(), policy: {} };
    const keep = new Set<number>(added.map((v) => v.version));
    const previous = this.models.has(name) ? this.primaryVersion(model) : undefined;
    if (previous !== undefined) keep.add(previous);
    for (const v of [model.policy.primary, model.policy.canary?.version, model.policy.shadow?.version]) {
      if (v !== undefined) keep.add(v);
    }
    const versions = new Map(model.versions);
    for (const v of added) {
      const replaced = versions.get(v.version);
      if (replaced) this.retire(replaced);
      versions.set(v.version, v);
    }
    for (const [v, loaded] of versions) {
      if (!keep.has(v)) {
        this.retire(loaded);
        versions.delete(v);
      }
    }
    // One assignment: requests see the old map or the new one.
    model.versions = versions;
    this.models.set(name, model);
    return model;
  }

  private retire(loaded: LoadedVersion): void {
    loaded.retired = true;
    if (loaded.active === 0) void loaded.session.release().catch(() => {});
  }

  /** Uploaded versions (already decoded): validate and warm all, write them, then serve them. */
  loadFiles(name: string, files: Map<number, Uint8Array>, config?: unknown): Promise<ServedModel> {
    checkModelName(name);
    return this.exclusive(name, async () => {
      const loaded: LoadedVersion[] = [];
      try {
        for (const [version, bytes] of files) loaded.push({ ...(await createWarmSession(bytes)), version });
        for (const v of loaded) await this.repository.writeModel(name, v.version, files.get(v.version)!);
        const latest = loaded.reduce((a, b) => (b.version > a.version ? b : a));
        await this.repository.writeConfig(name, latest.signature, config);
      } catch (e) {
        for (const v of loaded) await v.session.release().catch(() => {});
        throw e;
      }
      const model = this.install(name, loaded);
      await this.saveState();
      return model;
    });
  }

  /** Loads a version from disk: the given one, else the highest. */
  loadFromDisk(name: string, version?: number, config?: unknown): Promise<ServedModel> {
    checkModelName(name);
    return this.exclusive(name, () => this.loadFromDiskNow(name, version, config));
  }

  private async loadFromDiskNow(name: string, version?: number, config?: unknown): Promise<ServedModel> {
    const onDisk = await this.repository.versions(name);
    if (onDisk.length === 0) throw new RequestError(`no model ${name} in the repository`, 404);
    const chosen = version ?? onDisk[onDisk.length - 1]!;
    if (!onDisk.includes(chosen))
      throw new RequestError(`model ${name} has no version ${chosen} on disk`, 404);
    const loaded = {
      ...(await createWarmSession(await this.repository.readModel(name, chosen))),
      version: chosen,
    };
    await this.repository.writeConfig(name, loaded.signature, config);
    const model = this.install(name, [loaded]);
    await this.saveState();
    return model;
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

  /** Replaces the traffic policy; versions it names that are on disk but not loaded are loaded first. */
  setPolicy(name: string, policy: TrafficPolicy): Promise<TrafficPolicy> {
    checkModelName(name);
    return this.exclusive(name, async () => {
      if (!this.models.has(name)) throw new RequestError(`model ${name} is not loaded`, 404);
      const named = [policy.primary, policy.canary?.version, policy.shadow?.version].filter(
        (v): v is number => v !== undefined,
      );
      const previous = this.models.get(name)!.policy;
      this.models.get(name)!.policy = { ...policy };
      try {
        for (const v of named) {
          if (!this.models.get(name)!.versions.has(v)) await this.loadFromDiskNow(name, v);
        }
      } catch (e) {
        this.models.get(name)!.policy = previous;
        throw e;
      }
      await this.saveState();
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
   * it in the tick of `route`. Requests for the same version that arrive in
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
    const done = (
      this.batching ? this.enqueue(loaded, feeds, outputs) : loaded.session.run(feeds, outputs)
    ).finally(() => this.release(loaded));
    return done;
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
    // Small requests with the same outputs share a run, up to MAX_BATCH_ROWS rows; a large request runs alone.
    const batches: Queued[][] = [];
    const open = new Map<string, { group: Queued[]; rows: number }>();
    for (const q of queue) {
      const rows = Object.values(q.feeds)[0]?.dims[0] ?? MAX_BATCH_ROWS;
      if (rows >= MAX_BATCH_ROWS) {
        batches.push([q]);
        continue;
      }
      const key = q.outputs.join("\u0000");
      let current = open.get(key);
      if (!current || current.rows + rows > MAX_BATCH_ROWS) {
        current = { group: [], rows: 0 };
        open.set(key, current);
        batches.push(current.group);
      }
      current.group.push(q);
      current.rows += rows;
    }
    for (const group of batches) {
      const batch = group.length > 1 ? concatFeeds(group.map((q) => q.feeds)) : undefined;
      if (batch) {
        try {
          const result = await loaded.session.run(batch.feeds, group[0]!.outputs);
          const parts = splitOutputs(result, batch.rows);
          if (parts) {
            for (const [i, q] of group.entries()) q.resolve(parts[i]!);
            continue;
          }
        } catch {
          // One bad request fails the batch: run them one by one so each gets its own answer.
        }
      }
      for (const q of group) loaded.session.run(q.feeds, q.outputs).then(q.resolve, q.reject);
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.locks.values()]);
    await this.stateWrite;
    for (const model of this.models.values()) for (const v of model.versions.values()) this.retire(v);
    this.models.clear();
  }
}
