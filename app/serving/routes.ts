/**
 * The model server's routes, one table: each declares its methods, path,
 * auth and body limit, and `server.ts` checks them before any handler runs,
 * so a route cannot forget the token or read an unbounded body.
 *
 * auth: "none" (health, server metadata, /metrics), "read" (infer, model
 * metadata and ready: the token only with --infer-token), "write" (the
 * repository, traffic, log and feedback calls: always the token, refused on a server
 * without one).
 */
import { randomUUID } from "node:crypto";
import { mkdir, readFile, rm, rmdir } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { InvalidJson, parseJsonBody, type RouteSpec } from "../net/http-guard";
import { parseModelConfig } from "./config";
import { FEEDBACK_BODY_LIMIT, type FeedbackStore, parseFeedback } from "./feedback";
import type { LoadedVersion, ModelManager, Role } from "./models";
import {
  type InferenceLog,
  type InferenceLogEntry,
  type LogSampler,
  type LogSince,
  type ServerMetrics,
  windowComplete,
} from "./observability";
import {
  LOG_POLICY_PARAMETER,
  mergePrivacy,
  PRIVACY_FILE,
  PRIVACY_PARAMETER,
  type PrivacyParameter,
  parsePrivacyParameter,
  parseServedPrivacy,
  type ServedPrivacy,
  writePrivacyText,
  writeServedPrivacy,
} from "./privacy";
import { checkModelName, type ModelRepository, parseVersion, type TrafficPolicy } from "./repository";
import {
  feedsToV2,
  parseInputs,
  RequestError,
  requestedOutputs,
  type TensorMeta,
  toV2,
  type V2Tensor,
} from "./tensors";

export const EXTENSIONS = ["model_repository", "dagwood_traffic", "dagwood_inference_log"];

/** Bodies of the small control calls (index, unload, traffic) and of GETs: far below the infer and load limits. */
export const CONTROL_BODY_LIMIT = 64 * 1024;

const STARTING = "the server is starting (restoring models)";

export type ServeAuth = "none" | "read" | "write";

/** What the handlers of one server share. */
export interface ServeState {
  manager: ModelManager;
  repository: ModelRepository;
  metrics: ServerMetrics;
  inferenceLog: InferenceLog;
  sampler: LogSampler;
  feedback: FeedbackStore;
  /** How the log keeps inferences, as GET /v2 and the log API tell it (null: no limit). */
  logging: {
    mode: "all" | "sampled";
    sampleRate: number;
    maxPerSecond: number | null;
    maxRows: number | null;
    maxDiskBytes: number;
  };
  /** The server's version, for GET /v2. */
  version: string;
  limits: { infer: number; load: number };
  /** Listening and restored. */
  ready: boolean;
  /** From listen until the saved state is restored. */
  restoring: boolean;
  log: (message: string) => void;
  /** Fills an infer's inputs from entity keys (`dagwood serve --project`): app/features/server.ts `entityInputs`. */
  entityInputs?: EntityInputsFn;
}

export type EntityInputsFn = (
  featureService: string,
  inputs: readonly TensorMeta[],
  entities: unknown,
  given: ReadonlySet<string>,
) => Promise<{ inputs: V2Tensor[]; parameters: Record<string, string> }>;

/** One request, once its route's checks passed. */
export interface Call<P> {
  req: IncomingMessage;
  res: ServerResponse;
  params: P;
  method: string;
  /** The raw query string, without "?". */
  query: string;
  /** The body, read within the route's limit. */
  body: Buffer;
  /** performance.now() when the request was routed. */
  started: number;
}

type Handler = (s: ServeState, call: Call<never>) => Promise<void> | void;

export interface ServeRoute extends RouteSpec<ServeAuth, Handler> {
  bodyLimit: number | "infer" | "load";
  /** Called with any error once the route and method matched (auth, body or handler). */
  failed?: (s: ServeState, call: Call<never>, error: unknown) => void;
}

/** A table row with its handler's params typed by its matcher. */
function route<P>(r: {
  name: string;
  methods: readonly string[];
  path: string;
  match: (segments: string[]) => P | undefined;
  auth: ServeAuth;
  bodyLimit: number | "infer" | "load";
  handle: (s: ServeState, call: Call<P>) => Promise<void> | void;
  failed?: (s: ServeState, call: Call<P>, error: unknown) => void;
}): ServeRoute {
  return r as unknown as ServeRoute;
}

export function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  version?: string,
  requestId?: string,
): void {
  const text = JSON.stringify(body);
  const headers: Record<string, string | number> = {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  };
  if (version !== undefined) headers["x-dagwood-model-version"] = version;
  if (requestId !== undefined) headers["x-dagwood-request-id"] = requestId;
  res.writeHead(status, headers);
  res.end(text);
}

/** A request's JSON body: malformed JSON, or none where one is needed, is a 400 saying so. */
export function parseJson(body: Buffer, optional: boolean): unknown {
  let value: unknown;
  try {
    value = parseJsonBody(body);
  } catch (e) {
    if (e instanceof InvalidJson) throw new RequestError(`malformed JSON: ${e.message}`);
    throw e;
  }
  if (value === undefined && !optional) throw new RequestError("the request needs a JSON body");
  return value;
}

interface ModelPath {
  name: string;
  version?: number;
  action: string;
}

/**
 * Splits `<name…>/[versions/<v>/][action]` (after the prefix): a name
 * spanning several segments (`../x`, `a/b`) is a 400.
 */
function splitModelPath(rest: string[], actions: readonly string[]): ModelPath {
  let end = rest.length;
  let action = "";
  if (end > 1 && actions.includes(rest[end - 1]!)) action = rest[--end]!;
  let version: number | undefined;
  if (end > 2 && rest[end - 2] === "versions") {
    version = parseVersion(rest[end - 1]!);
    end -= 2;
  }
  if (end === 0 || rest[0] === "") throw new RequestError("no such route", 404);
  const name = end === 1 ? rest[0]! : rest.slice(0, end).join("/");
  checkModelName(name);
  return version === undefined ? { name, action } : { name, version, action };
}

const MODEL_ACTIONS = ["ready", "infer", "feedback"] as const;
const REPOSITORY_ACTIONS = ["load", "unload", "traffic"] as const;

/** `/v2/models/{name}[/versions/{v}][/action]` with this action ("" for metadata). */
function modelPath(action: "" | (typeof MODEL_ACTIONS)[number]) {
  return (s: string[]): ModelPath | undefined => {
    if (s[0] !== "v2" || s[1] !== "models") return undefined;
    const p = splitModelPath(s.slice(2), MODEL_ACTIONS);
    return p.action === action ? p : undefined;
  };
}

/** `/v2/repository/models/{name}/{action}` (no version). */
function repositoryPath(action: (typeof REPOSITORY_ACTIONS)[number]) {
  return (s: string[]): { name: string } | undefined => {
    if (s[0] !== "v2" || s[1] !== "repository" || s[2] !== "models") return undefined;
    const p = splitModelPath(s.slice(3), REPOSITORY_ACTIONS);
    return p.action === action && p.version === undefined ? { name: p.name } : undefined;
  };
}

function exactly(...path: string[]) {
  return (s: string[]): object | undefined =>
    s.length === path.length && path.every((p, i) => s[i] === p) ? {} : undefined;
}

/** While the saved state is being restored, "not found" may only mean "not yet": a 503. */
function notYet(s: ServeState, e: unknown): unknown {
  return s.restoring && e instanceof RequestError && e.status === 404 ? new RequestError(STARTING, 503) : e;
}

function served(s: ServeState, name: string) {
  const model = s.manager.models.get(name);
  if (!model) throw notYet(s, new RequestError(`unknown model ${name} (not loaded)`, 404));
  return model;
}

function decodeBase64(text: unknown, key: string): Uint8Array {
  const compact = typeof text === "string" ? text.replace(/\s+/g, "") : "";
  if (compact.length === 0 || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) {
    throw new RequestError(`parameter "${key}" is not base64-encoded model bytes`);
  }
  return Buffer.from(compact, "base64");
}

function parsePolicy(body: unknown): TrafficPolicy {
  const b = (body ?? {}) as Record<string, unknown>;
  if (typeof b !== "object" || Array.isArray(b))
    throw new RequestError("the traffic policy must be an object");
  const unknown = Object.keys(b).filter((k) => !["primary", "canary", "shadow"].includes(k));
  if (unknown.length > 0) throw new RequestError(`unknown traffic keys ${unknown.join(", ")}`);
  const version = (v: unknown, where: string) => {
    if (!Number.isSafeInteger(v) || (v as number) < 1) {
      throw new RequestError(`${where} must be a positive integer version`);
    }
    return v as number;
  };
  const policy: TrafficPolicy = {};
  if (b.primary !== undefined) policy.primary = version(b.primary, "primary");
  if (b.canary !== undefined) {
    const c = b.canary as { version?: unknown; percent?: unknown };
    const percent = c?.percent;
    if (typeof percent !== "number" || !(percent >= 0 && percent <= 100)) {
      throw new RequestError("canary.percent must be a number from 0 to 100");
    }
    policy.canary = { version: version(c.version, "canary.version"), percent };
  }
  if (b.shadow !== undefined) {
    policy.shadow = { version: version((b.shadow as { version?: unknown })?.version, "shadow.version") };
  }
  return policy;
}

function logEntry(
  s: ServeState,
  model: string,
  requestId: string,
  loaded: LoadedVersion,
  role: Role,
  ms: number,
  feeds: Parameters<typeof feedsToV2>[0],
  outputs: InferenceLogEntry["outputs"],
): Omit<InferenceLogEntry, "seq"> {
  return {
    time: new Date().toISOString(),
    requestId,
    model,
    version: loaded.version,
    role,
    latencyMs: Math.round(ms * 1000) / 1000,
    inputs: feedsToV2(feeds, s.inferenceLog.maxRows),
    outputs,
  };
}

/** Runs the shadow after the response: its answer is only logged, its failure only counted. */
function runShadow(
  s: ServeState,
  name: string,
  shadow: LoadedVersion,
  feeds: Parameters<typeof feedsToV2>[0],
  requestId: string,
  sampled: boolean,
): void {
  // Held from here (the tick it is still in service) until its run ends, on every path.
  s.manager.hold(shadow);
  setImmediate(async () => {
    const t0 = performance.now();
    try {
      const all = shadow.signature.outputs.map((o) => o.name);
      const result = await s.manager.run(shadow, feeds, all);
      const ms = performance.now() - t0;
      s.metrics.latency.observe({ model: name, version: String(shadow.version), role: "shadow" }, ms / 1000);
      if (sampled) {
        const outputs = all.map((o) => toV2(o, result[o]!));
        s.inferenceLog.add(logEntry(s, name, requestId, shadow, "shadow", ms, feeds, outputs));
      }
    } catch (e) {
      s.metrics.errors.inc({ model: name, version: String(shadow.version), kind: "shadow" });
      s.log(`shadow run of ${name} version ${shadow.version} failed: ${(e as Error).message}`);
    } finally {
      s.manager.release(shadow);
    }
  });
}

/**
 * The answer's outputs, the `probabilities` of a classifier carrying its class
 * names in the output's `parameters` (V2's $response_output has an optional
 * `parameters` object; a parameter value is a string, a number or a boolean —
 * kserve/open-inference-protocol, inference_rest.md and inference_grpc.md
 * "Parameters" — so the names travel as a JSON array in a string). A label
 * decided by a threshold carries `decision_threshold` and `positive_class`.
 */
function withClassNames(
  outputs: V2Tensor[],
  version: LoadedVersion,
): (V2Tensor & { parameters?: Record<string, string | number> })[] {
  const { classNames, decision } = version;
  if (!classNames && !decision) return outputs;
  return outputs.map((o): V2Tensor & { parameters?: Record<string, string | number> } => {
    if (o.name === "probabilities" && classNames) return { ...o, parameters: { class_names: classNames } };
    // A label decided by a threshold says which (the version's model.onnx decides so, app/ml/onnx/decision.ts).
    if (o.name === "label" && decision)
      return {
        ...o,
        parameters: { decision_threshold: decision.threshold, positive_class: decision.positiveClass },
      };
    return o;
  });
}

type InferCall = Call<ModelPath> & { answered?: LoadedVersion };

/**
 * An infer by entity (`parameters: {"entities": {key: [values]}}`) on a model
 * registered with a feature service: its inputs looked up in the feature
 * store before routing (the lookup awaits; routing and running stay in one
 * tick), with the request's own inputs kept.
 */
async function inputsFromEntities(
  s: ServeState,
  name: string,
  body: Record<string, unknown>,
): Promise<{ body: Record<string, unknown>; parameters: Record<string, string> } | undefined> {
  const parameters = body.parameters;
  if (parameters === undefined || parameters === null) return undefined;
  if (typeof parameters !== "object" || Array.isArray(parameters))
    throw new RequestError('"parameters" must be an object');
  const entities = (parameters as Record<string, unknown>).entities;
  if (entities === undefined) return undefined;
  const model = served(s, name);
  const featureService = model.versions.get(s.manager.primaryVersion(model))?.featureService;
  if (!featureService)
    throw new RequestError(
      `model ${name} is not registered with a feature service, so it cannot be called by entity; load it with the config {"parameters": {"feature_service": {"string_value": "<service>"}}}`,
    );
  if (!s.entityInputs)
    throw new RequestError(
      `this server has no feature store, so model ${name} cannot be called by entity; start it with --project DIR`,
    );
  const given = body.inputs ?? [];
  if (!Array.isArray(given)) throw new RequestError('"inputs" must be an array');
  const names = new Set(given.map((i) => String((i as { name?: unknown })?.name)));
  const signature = model.versions.get(s.manager.primaryVersion(model))!.signature.inputs;
  const filled = await s.entityInputs(featureService, signature, entities, names);
  return { body: { ...body, inputs: [...given, ...filled.inputs] }, parameters: filled.parameters };
}

async function infer(s: ServeState, call: InferCall): Promise<void> {
  const { name, version } = call.params;
  const body = parseJson(call.body, false) as Record<string, unknown>;
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new RequestError("the request must be a JSON object with an inputs array");
  }
  if (body.id !== undefined && typeof body.id !== "string") throw new RequestError('"id" must be a string');
  const id = body.id as string | undefined;
  const byEntity = await inputsFromEntities(s, name, body);
  // Route, parse and start the run in one tick, so the routed version cannot be released in between.
  let routed: ReturnType<ModelManager["route"]>;
  try {
    routed = s.manager.route(name, version, id);
  } catch (e) {
    throw notYet(s, e);
  }
  const target = routed.target;
  const feeds = parseInputs(byEntity?.body ?? body, target.signature.inputs, target.batching?.max);
  const wanted = requestedOutputs(body, target.signature.outputs);
  const runStarted = performance.now();
  const result = await s.manager.run(target, feeds, wanted);
  const runMs = performance.now() - runStarted;
  call.answered = target;
  const outputs = wanted.map((o) => toV2(o, result[o]!));
  const v = String(target.version);
  const answer = withClassNames(outputs, target);
  // A logged request without an id gets one, told in x-dagwood-request-id: the key for its feedback.
  const sampled = s.sampler.take(name);
  const requestId = id ?? (sampled ? randomUUID() : "");
  send(
    call.res,
    200,
    {
      model_name: name,
      model_version: v,
      ...(id !== undefined ? { id } : {}),
      ...(byEntity ? { parameters: byEntity.parameters } : {}),
      outputs: answer,
    },
    v,
    sampled && id === undefined ? requestId : undefined,
  );
  s.metrics.requests.inc({ model: name, version: v, code: "200" });
  s.metrics.latency.observe(
    { model: name, version: v, role: routed.role },
    (performance.now() - call.started) / 1000,
  );

  if (sampled) s.inferenceLog.add(logEntry(s, name, requestId, target, routed.role, runMs, feeds, outputs));
  if (routed.shadow && !routed.shadow.retired) runShadow(s, name, routed.shadow, feeds, requestId, sampled);
}

function inferFailed(s: ServeState, call: InferCall, e: unknown): void {
  const status = e instanceof RequestError ? e.status : 500;
  const name = call.params.name;
  const labels = {
    model: s.manager.models.has(name) ? name : "",
    version: call.answered ? String(call.answered.version) : "",
  };
  s.metrics.requests.inc({ ...labels, code: String(status) });
  s.metrics.errors.inc({ ...labels, kind: status >= 500 ? "server" : "client" });
}

function modelVersion(s: ServeState, { name, version }: ModelPath): LoadedVersion {
  const model = served(s, name);
  const loaded =
    version === undefined
      ? model.versions.get(s.manager.primaryVersion(model))!
      : model.versions.get(version);
  if (!loaded) throw notYet(s, new RequestError(`model ${name} has no version ${version} loaded`, 404));
  return loaded;
}

async function load(s: ServeState, call: Call<{ name: string }>): Promise<void> {
  const { name } = call.params;
  const body = parseJson(call.body, true) as { parameters?: Record<string, unknown> } | undefined;
  const parameters = body?.parameters ?? {};
  if (typeof parameters !== "object" || Array.isArray(parameters)) {
    throw new RequestError('"parameters" must be an object');
  }
  let config: unknown;
  if (parameters.config !== undefined) {
    if (typeof parameters.config !== "string") {
      throw new RequestError(
        'parameter "config" must be a string holding the JSON config, e.g. "{\\"max_batch_size\\": 0}"',
      );
    }
    try {
      config = JSON.parse(parameters.config);
    } catch (e) {
      throw new RequestError(`parameter "config" is not JSON: ${(e as Error).message}`);
    }
    parseModelConfig(config, name); // a bad config is a 400 before anything is decoded or loaded
  }
  const files = new Map<number, Uint8Array>();
  for (const [key, value] of Object.entries(parameters)) {
    if (!key.startsWith("file:")) continue;
    const match = /^file:([^/]+)\/model\.onnx$/.exec(key);
    if (!match)
      throw new RequestError(`unsupported file parameter ${key}; expected "file:<version>/model.onnx"`);
    files.set(parseVersion(match[1]!), decodeBase64(value, key));
  }
  const keep = parameters.dagwood_keep_primary;
  if (keep !== undefined && keep !== true && keep !== false && keep !== "true" && keep !== "false") {
    throw new RequestError('parameter "dagwood_keep_primary" must be true or false');
  }
  const keepPrimary = keep === true || keep === "true";
  const privacy =
    parameters[PRIVACY_PARAMETER] === undefined
      ? undefined
      : parsePrivacyParameter(parameters[PRIVACY_PARAMETER]);
  const { manager } = s;
  const v = parameters.version;
  const chosen = files.size > 0 || v === undefined ? undefined : parseVersion(String(v));
  // The policy is in place before the versions serve, so no entry of theirs is logged without it;
  // a failed load puts the previous one back.
  const restorePrivacy = privacy
    ? await installPrivacy(s, checkModelName(name), privacy, files.size > 0 ? [...files.keys()] : chosen)
    : undefined;
  let model: Awaited<ReturnType<typeof manager.loadFromDisk>>;
  try {
    if (files.size > 0) model = await manager.loadFiles(name, files, config, keepPrimary);
    else model = await manager.loadFromDisk(name, chosen, config, keepPrimary);
  } catch (e) {
    await restorePrivacy?.().catch((r: Error) =>
      s.log(`undoing the load of ${name}: restoring its privacy file: ${r.message}`),
    );
    throw e;
  }
  send(call.res, 200, {
    name,
    versions: [...model.versions.keys()].sort((a, b) => a - b).map(String),
    serving: String(manager.primaryVersion(model)),
  });
}

function logPolicyParameter(s: ServeState, name: string, version: number): Record<string, string> {
  const shown = s.inferenceLog.privacy.describe(name, version);
  return shown ? { [LOG_POLICY_PARAMETER]: JSON.stringify(shown) } : {};
}

/**
 * Writes a load's privacy (app/serving/privacy.ts) for `versions` (undefined: the versions on
 * disk, as a load from disk takes them) and puts it in force; answers how to undo it.
 */
async function installPrivacy(
  s: ServeState,
  name: string,
  given: PrivacyParameter,
  versions: number[] | number | undefined,
): Promise<() => Promise<void>> {
  const dir = s.repository.modelDir(name);
  // A folder made here for a load that fails goes again: a failed load leaves no model behind.
  const made = (await mkdir(dir, { recursive: true })) !== undefined;
  const text = await readFile(join(dir, PRIVACY_FILE), "utf8").catch(() => undefined);
  let before: ServedPrivacy | undefined;
  try {
    before = text === undefined ? undefined : parseServedPrivacy(text);
  } catch {
    // Unreadable: this load's privacy replaces it; a failed load puts the text back, and with it
    // the log's keeping no input of the model (InferenceLog.init).
  }
  const list = typeof versions === "number" ? [versions] : (versions ?? (await s.repository.versions(name)));
  const next = mergePrivacy(before, given, list);
  await writeServedPrivacy(dir, next);
  s.inferenceLog.privacy.set(name, next);
  return async () => {
    if (before) {
      s.inferenceLog.privacy.set(name, before);
      await writeServedPrivacy(dir, before);
    } else if (text !== undefined) {
      s.inferenceLog.privacy.setUnreadable(name);
      await writePrivacyText(dir, text);
    } else {
      s.inferenceLog.privacy.set(name, undefined);
      await rm(join(dir, PRIVACY_FILE), { force: true });
    }
    if (made) await rmdir(dir).catch(() => {});
  };
}

async function index(s: ServeState, call: Call<object>): Promise<void> {
  const body = parseJson(call.body, true) as { ready?: unknown } | undefined;
  const onlyReady = body?.ready === true;
  const rows: { name: string; version: string; state: string; reason: string; sha256: string }[] = [];
  for (const name of await s.repository.modelNames()) {
    const loaded = s.manager.models.get(name)?.versions;
    for (const v of await s.repository.versions(name)) {
      const isReady = loaded?.has(v) ?? false;
      if (onlyReady && !isReady) continue;
      const sha256 = loaded?.get(v)?.sha256 ?? (await s.repository.sha256(name, v).catch(() => ""));
      rows.push({
        name,
        version: String(v),
        state: isReady ? "READY" : "UNAVAILABLE",
        reason: isReady ? "" : "unloaded",
        sha256,
      });
    }
  }
  send(call.res, 200, rows);
}

/** `limit` and `since` of a log query; `since`: a bare integer below 1e11 is a seq number, larger epoch ms, else an ISO time. */
function logQuery(query: string, maxLimit: number): { limit: number; since?: LogSince } {
  const params = new URLSearchParams(query);
  const limitText = params.get("limit");
  const limit = limitText === null ? 100 : Number(limitText);
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > maxLimit)
    throw new RequestError(`limit must be an integer from 1 to ${maxLimit}`);
  const sinceText = params.get("since");
  if (sinceText === null) return { limit };
  const n = Number(sinceText);
  const time = Number.isFinite(n) ? n : Date.parse(sinceText);
  if (sinceText.trim() === "" || Number.isNaN(time))
    throw new RequestError("since must be a seq number, epoch milliseconds or an ISO time");
  return { limit, since: Number.isInteger(n) && n < 1e11 ? { seq: n } : { time } };
}

/** Entries read in one call at most (also about 16 MiB of JSON). */
const LOG_PAGE_LIMIT = 10_000;

/**
 * Without `since`: the newest `limit` entries in memory. With `since`: the
 * entries after it, oldest first, from disk (`more`: call again with
 * `since` = `next`). Both say what the byte budget deleted.
 */
async function readLog(s: ServeState, call: Call<{ name: string }>): Promise<void> {
  const name = checkModelName(call.params.name);
  const known = s.manager.models.has(name) || s.inferenceLog.has(name);
  if (!known && !(await s.repository.modelNames()).includes(name))
    throw new RequestError(`unknown model ${name}`, 404);
  const { limit, since } = logQuery(call.query, LOG_PAGE_LIMIT);
  const dropped = await s.inferenceLog.dropped(name);
  if (since === undefined) {
    send(call.res, 200, {
      model_name: name,
      entries: s.inferenceLog.read(name, { limit }),
      dropped,
      logging: s.logging,
    });
    return;
  }
  const page = await s.inferenceLog.readForward(name, { since, limit });
  const last = page.entries[page.entries.length - 1];
  send(call.res, 200, {
    model_name: name,
    entries: page.entries,
    more: page.more,
    ...(last ? { next: last.seq } : {}),
    dropped,
    // False when the window reaches back before what the budget kept: its oldest entries are gone.
    complete: windowComplete(dropped, since),
    logging: s.logging,
  });
}

/** A model this server serves or has files for (feedback may arrive after an unload). */
async function knownModel(s: ServeState, name: string): Promise<void> {
  if (s.manager.models.has(name) || (await s.repository.modelNames()).includes(name)) return;
  throw notYet(s, new RequestError(`unknown model ${name}`, 404));
}

async function feedback(s: ServeState, call: Call<ModelPath>): Promise<void> {
  const { name } = call.params;
  const items = parseFeedback(parseJson(call.body, false));
  await knownModel(s, name);
  const known = await s.inferenceLog.knownIds(name);
  const answer = await s.feedback.add(name, items, known);
  send(call.res, 200, { model_name: name, ...answer });
}

async function readFeedback(s: ServeState, call: Call<{ name: string }>): Promise<void> {
  const name = checkModelName(call.params.name);
  await knownModel(s, name);
  const { limit, since } = logQuery(call.query, LOG_PAGE_LIMIT);
  const page = await s.feedback.read(name, { limit, ...(since ? { since } : {}) });
  const last = page.feedback[page.feedback.length - 1];
  send(call.res, 200, {
    model_name: name,
    feedback: page.feedback,
    more: page.more,
    ...(last ? { next: last.seq } : {}),
  });
}

/** Every route of `dagwood serve`, infer first (the hot path is matched first). */
export const SERVE_ROUTES: readonly ServeRoute[] = [
  route({
    name: "infer",
    methods: ["POST"],
    path: "/v2/models/{name}[/versions/{v}]/infer",
    match: modelPath("infer"),
    auth: "read",
    bodyLimit: "infer",
    handle: infer,
    failed: inferFailed,
  }),
  route({
    name: "model ready",
    methods: ["GET"],
    path: "/v2/models/{name}[/versions/{v}]/ready",
    match: modelPath("ready"),
    auth: "read",
    bodyLimit: CONTROL_BODY_LIMIT,
    handle(s, { res, params }) {
      modelVersion(s, params);
      const { name, version } = params;
      send(res, 200, { name, ...(version ? { version: String(version) } : {}), ready: true });
    },
  }),
  route({
    name: "model metadata",
    methods: ["GET"],
    path: "/v2/models/{name}[/versions/{v}]",
    match: modelPath(""),
    auth: "read",
    bodyLimit: CONTROL_BODY_LIMIT,
    handle(s, { res, params }) {
      const loaded = modelVersion(s, params);
      const { name, version } = params;
      const model = served(s, name);
      const versions = version === undefined ? [...model.versions.keys()].sort((a, b) => a - b) : [version];
      send(res, 200, {
        name,
        versions: versions.map(String),
        platform: "onnxruntime_onnx",
        inputs: loaded.signature.inputs,
        outputs: loaded.signature.outputs,
        // The identity of the version described (the primary for model metadata), and a classifier's
        // class names in the order of its probabilities' columns (a JSON array in a string).
        parameters: {
          sha256: loaded.sha256,
          ...(loaded.classNames ? { class_names: loaded.classNames } : {}),
          ...(loaded.decision
            ? { decision_threshold: loaded.decision.threshold, positive_class: loaded.decision.positiveClass }
            : {}),
          // What the inference log keeps of the version's personal inputs (policy and names; never the key).
          ...logPolicyParameter(s, name, loaded.version),
        },
      });
    },
  }),
  route({
    name: "live",
    methods: ["GET"],
    path: "/v2/health/live",
    match: exactly("v2", "health", "live"),
    auth: "none",
    bodyLimit: CONTROL_BODY_LIMIT,
    handle: (_s, { res }) => send(res, 200, { live: true }),
  }),
  route({
    name: "ready",
    methods: ["GET"],
    path: "/v2/health/ready",
    match: exactly("v2", "health", "ready"),
    auth: "none",
    bodyLimit: CONTROL_BODY_LIMIT,
    handle(s, { res }) {
      if (s.ready) send(res, 200, { ready: true });
      else send(res, 503, { error: s.restoring ? STARTING : "the server is shutting down" });
    },
  }),
  route({
    name: "server metadata",
    methods: ["GET"],
    path: "/v2[/]",
    match: (p) => (p[0] === "v2" && (p.length === 1 || (p.length === 2 && p[1] === "")) ? {} : undefined),
    auth: "none",
    bodyLimit: CONTROL_BODY_LIMIT,
    handle: (s, { res }) =>
      send(res, 200, {
        name: "dagwood",
        version: s.version,
        extensions: EXTENSIONS,
        // The dagwood_inference_log extension's settings (per model, the log API says what was dropped).
        inference_log: s.logging,
      }),
  }),
  route({
    name: "metrics",
    methods: ["GET"],
    path: "/metrics",
    match: exactly("metrics"),
    auth: "none",
    bodyLimit: CONTROL_BODY_LIMIT,
    async handle(s, { res }) {
      const text = await s.metrics.registry.metrics();
      res.writeHead(200, { "content-type": s.metrics.registry.contentType });
      res.end(text);
    },
  }),
  route({
    name: "index",
    methods: ["POST"],
    path: "/v2/repository/index",
    match: exactly("v2", "repository", "index"),
    auth: "write",
    bodyLimit: CONTROL_BODY_LIMIT,
    handle: index,
  }),
  route({
    name: "load",
    methods: ["POST"],
    path: "/v2/repository/models/{name}/load",
    match: repositoryPath("load"),
    auth: "write",
    bodyLimit: "load",
    handle: load,
  }),
  route({
    name: "unload",
    methods: ["POST"],
    path: "/v2/repository/models/{name}/unload",
    match: repositoryPath("unload"),
    auth: "write",
    bodyLimit: CONTROL_BODY_LIMIT,
    async handle(s, { res, params }) {
      await s.manager.unload(params.name);
      send(res, 200, {});
    },
  }),
  route({
    name: "traffic",
    methods: ["GET"],
    path: "/v2/repository/models/{name}/traffic",
    match: repositoryPath("traffic"),
    auth: "write",
    bodyLimit: CONTROL_BODY_LIMIT,
    handle: (s, { res, params }) =>
      send(res, 200, { name: params.name, policy: served(s, params.name).policy }),
  }),
  route({
    name: "traffic",
    methods: ["POST"],
    path: "/v2/repository/models/{name}/traffic",
    match: repositoryPath("traffic"),
    auth: "write",
    bodyLimit: CONTROL_BODY_LIMIT,
    async handle(s, { res, params, body }) {
      const { name } = params;
      const policy = await s.manager.setPolicy(name, parsePolicy(parseJson(body, true)));
      send(res, 200, { name, policy, primary: String(s.manager.primaryVersion(served(s, name))) });
    },
  }),
  route({
    name: "log",
    methods: ["GET"],
    path: "/v2/logs/models/{name}",
    match: (p) =>
      p.length === 4 && p[0] === "v2" && p[1] === "logs" && p[2] === "models" ? { name: p[3]! } : undefined,
    auth: "write",
    bodyLimit: CONTROL_BODY_LIMIT,
    handle: readLog,
  }),
  route({
    name: "feedback",
    methods: ["POST"],
    path: "/v2/models/{name}/feedback",
    match: (segments) => {
      const p = modelPath("feedback")(segments);
      return p && p.version === undefined ? p : undefined;
    },
    auth: "write",
    bodyLimit: FEEDBACK_BODY_LIMIT,
    handle: feedback,
  }),
  route({
    name: "feedback log",
    methods: ["GET"],
    path: "/v2/logs/models/{name}/feedback",
    match: (p) =>
      p.length === 5 && p[0] === "v2" && p[1] === "logs" && p[2] === "models" && p[4] === "feedback"
        ? { name: p[3]! }
        : undefined,
    auth: "write",
    bodyLimit: CONTROL_BODY_LIMIT,
    handle: readFeedback,
  }),
];
