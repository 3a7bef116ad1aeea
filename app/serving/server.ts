/**
 * `dagwood serve`: the KServe Open Inference Protocol (V2) over REST on
 * node:http, with Triton's model-repository extension for pushing models,
 * and two Dagwood extensions: traffic (canary / shadow) and the inference
 * log. Routes:
 *
 *   GET  /v2/health/live | /v2/health/ready | /v2 | /metrics
 *   GET  /v2/models/{name}[/versions/{v}][/ready]
 *   POST /v2/models/{name}[/versions/{v}]/infer          (token if inferToken)
 *   POST /v2/repository/index                            (token)
 *   POST /v2/repository/models/{name}/load | unload      (token)
 *   GET|POST /v2/repository/models/{name}/traffic        (token)
 *   GET  /v2/logs/models/{name}?limit=&since=            (token)
 *
 * Errors are `{"error": "..."}` with 400 (bad request), 401 (token), 403
 * (a foreign Host or Origin), 404 (unknown model, version or route), 405,
 * 409, 413 (body over the limit), 500 or 503 (restoring).
 */
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { parseModelConfig } from "./config";
import { type LoadedVersion, ModelManager, type Route } from "./models";
import {
  InferenceLog,
  type InferenceLogEntry,
  LOG_MAX_ROWS,
  LogSampler,
  ServerMetrics,
} from "./observability";
import { checkModelName, ModelRepository, parseVersion, type TrafficPolicy } from "./repository";
import { feedsToV2, parseInputs, RequestError, requestedOutputs, toV2 } from "./tensors";

export interface ServeOptions {
  /** The model repository folder (Triton layout). */
  repository: string;
  /** Bearer token for the repository, traffic and log endpoints; without it those are refused. */
  token?: string;
  /** Require the token for infer too. */
  inferToken?: boolean;
  host?: string;
  port?: number;
  maxLoadBytes?: number;
  maxInferBytes?: number;
  /** Share of inferences written to the inference log, 0..1. */
  logSampleRate?: number;
  /** At most this many log entries per model and second (default 100; Infinity: no cap). */
  logMaxPerSecond?: number;
  /** Entries kept in memory per model. */
  logCapacity?: number;
  /** Bytes of log entries kept in memory per model (estimated from tensor sizes; default 64 MiB). */
  logMaxBytes?: number;
  /** Where restore problems and shadow failures are reported; default stderr. */
  log?: (message: string) => void;
}

export interface DagwoodServer {
  listen(port?: number, host?: string): Promise<string>;
  close(): Promise<void>;
  /** http://host:port once listening. */
  readonly url: string;
  readonly manager: ModelManager;
}

export const EXTENSIONS = ["model_repository", "dagwood_traffic", "dagwood_inference_log"];
const MiB = 1024 * 1024;
const STARTING = "the server is starting (restoring models)";

function serverVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "package.json"), "utf8"));
    return String(pkg.version);
  } catch {
    return "0.0.0";
  }
}

/** Bodies of the small control calls (index, unload, traffic): far below the infer and load limits. */
export const CONTROL_BODY_LIMIT = 64 * 1024;

class TooLarge extends RequestError {
  constructor(limit: number, what: string) {
    super(
      what === "infer" || what === "load"
        ? `the ${what} body is larger than ${limit} bytes; raise the limit with --max-${what}-bytes`
        : `the ${what} body is larger than ${limit} bytes, the limit for ${what} requests`,
      413,
    );
  }
}

/** Reads a body up to `limit` bytes; past it, stops reading and throws a 413. */
function readBody(req: IncomingMessage, limit: number, what: string): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new TooLarge(limit, what));
  return new Promise((resolvePromise, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off("data", onData);
        req.pause();
        reject(new TooLarge(limit, what));
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.on("end", () => resolvePromise(Buffer.concat(chunks, size)));
    req.on("error", reject);
  });
}

function parseJson(body: Buffer, optional: boolean): unknown {
  const text = body.toString("utf8");
  if (text.trim() === "") {
    if (optional) return undefined;
    throw new RequestError("the request needs a JSON body");
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new RequestError(`malformed JSON: ${(e as Error).message}`);
  }
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/** The path's segments, percent-decoded (so an encoded "../x" is seen as such and refused). */
function segments(pathname: string): string[] {
  try {
    return pathname.split("/").slice(1).map(decodeURIComponent);
  } catch {
    throw new RequestError("malformed percent-encoding in the URL");
  }
}

/**
 * Splits `/v2/models/<name…>/[versions/<v>/][ready|infer]` (after the
 * prefix): a name spanning several segments (`../x`, `a/b`) is a 400.
 */
function splitModelPath(
  rest: string[],
  actions: string[],
): { name: string; version?: number; action: string } {
  const parts = [...rest];
  let action = "";
  if (parts.length > 1 && actions.includes(parts[parts.length - 1]!)) action = parts.pop()!;
  let version: number | undefined;
  if (parts.length > 2 && parts[parts.length - 2] === "versions") {
    version = parseVersion(parts.pop()!);
    parts.pop();
  }
  if (parts.length === 0 || parts[0] === "") throw new RequestError("no such route", 404);
  const name = parts.join("/");
  checkModelName(name);
  return version === undefined ? { name, action } : { name, version, action };
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

/** Whether an Origin header names this server itself (the scheme and the Host the request was sent to). */
function isOwnOrigin(origin: string, host: string | undefined): boolean {
  if (!host) return false;
  const o = origin.toLowerCase();
  const h = host.toLowerCase();
  return o === `http://${h}` || o === `https://${h}`;
}

/** A loopback address or host name (127.0.0.0/8, ::1, its IPv4-mapped form, localhost). */
export function isLoopback(address: string): boolean {
  const a = address.replace(/^\[(.*)\]$/, "$1");
  return /^127\./.test(a) || a === "::1" || a === "::ffff:127.0.0.1" || a === "localhost";
}

export function createServer(options: ServeOptions): DagwoodServer {
  const opts = {
    host: "127.0.0.1",
    port: 8000,
    maxLoadBytes: 256 * MiB,
    maxInferBytes: 8 * MiB,
    logSampleRate: 1,
    logMaxPerSecond: 100,
    inferToken: false,
    ...options,
  };
  const log = opts.log ?? ((m: string) => process.stderr.write(`dagwood serve: ${m}\n`));
  const repository = new ModelRepository(resolve(opts.repository));
  const manager = new ModelManager(repository, log);
  const metrics = new ServerMetrics();
  const inferenceLog = new InferenceLog({
    capacity: opts.logCapacity,
    maxBytes: opts.logMaxBytes,
    repository: repository.dir,
  });
  const sampler = new LogSampler(opts.logSampleRate, opts.logMaxPerSecond);
  const version = serverVersion();
  const tokenDigest = opts.token ? digest(opts.token) : undefined;
  let ready = false;
  /** From listen until the saved state is restored. */
  let restoring = false;
  let url = "";

  function checkToken(req: IncomingMessage): void {
    if (!tokenDigest) {
      throw new RequestError(
        "this server has no token, so repository, traffic and log calls are refused; start it with --token or DAGWOOD_SERVE_TOKEN",
        401,
      );
    }
    const match = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "");
    // Compare digests: equal lengths, constant time, whatever the token's length.
    if (!match || !timingSafeEqual(digest(match[1]!.trim()), tokenDigest)) {
      throw new RequestError("missing or wrong bearer token (Authorization: Bearer <token>)", 401);
    }
  }

  function send(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  }

  function modelMetadata(name: string, loaded: LoadedVersion, versions: number[]) {
    return {
      name,
      versions: versions.map(String),
      platform: "onnxruntime_onnx",
      inputs: loaded.signature.inputs,
      outputs: loaded.signature.outputs,
      // The identity of the version described (the primary for model metadata).
      parameters: { sha256: loaded.sha256 },
    };
  }

  /** While the saved state is being restored, "not found" may only mean "not yet": a 503. */
  function notYet(e: unknown): unknown {
    return restoring && e instanceof RequestError && e.status === 404 ? new RequestError(STARTING, 503) : e;
  }

  function served(name: string) {
    const model = manager.models.get(name);
    if (!model) throw notYet(new RequestError(`unknown model ${name} (not loaded)`, 404));
    return model;
  }

  async function infer(req: IncomingMessage, res: ServerResponse, name: string, version?: number) {
    const started = performance.now();
    let answered: LoadedVersion | undefined;
    const known = manager.models.has(name);
    try {
      if (opts.inferToken) checkToken(req);
      const body = parseJson(await readBody(req, opts.maxInferBytes, "infer"), false) as Record<
        string,
        unknown
      >;
      if (typeof body !== "object" || body === null || Array.isArray(body)) {
        throw new RequestError("the request must be a JSON object with an inputs array");
      }
      if (body.id !== undefined && typeof body.id !== "string")
        throw new RequestError('"id" must be a string');
      const id = body.id as string | undefined;
      // Route, parse and start the run in one tick, so the routed version cannot be released in between.
      let route: Route;
      try {
        route = manager.route(name, version, id);
      } catch (e) {
        throw notYet(e);
      }
      const target = route.target;
      const feeds = parseInputs(body, target.signature.inputs, target.batching?.max);
      const wanted = requestedOutputs(body, target.signature.outputs);
      const runStarted = performance.now();
      const result = await manager.run(target, feeds, wanted);
      const runMs = performance.now() - runStarted;
      answered = target;
      const outputs = wanted.map((o) => toV2(o, result[o]!));
      send(
        res,
        200,
        {
          model_name: name,
          model_version: String(target.version),
          ...(id !== undefined ? { id } : {}),
          outputs,
        },
        { "x-dagwood-model-version": String(target.version) },
      );
      const v = String(target.version);
      metrics.requests.inc({ model: name, version: v, code: "200" });
      metrics.latency.observe(
        { model: name, version: v, role: route.role },
        (performance.now() - started) / 1000,
      );

      const sampled = sampler.take(name);
      const requestId = id ?? (sampled ? randomUUID() : "");
      const entry = (loaded: LoadedVersion, role: InferenceLogEntry["role"], ms: number, out: unknown) => ({
        time: new Date().toISOString(),
        requestId,
        model: name,
        version: loaded.version,
        role,
        latencyMs: Math.round(ms * 1000) / 1000,
        inputs: feedsToV2(feeds, LOG_MAX_ROWS),
        outputs: out as InferenceLogEntry["outputs"],
      });
      if (sampled) inferenceLog.add(entry(target, route.role, runMs, outputs));
      if (route.shadow && !route.shadow.retired) {
        const shadow = route.shadow;
        // Held from here (the tick it is still in service) until its run ends, on every path.
        manager.hold(shadow);
        // After the response: the shadow's answer is only logged, and its failure only counted.
        setImmediate(async () => {
          const t0 = performance.now();
          try {
            const all = shadow.signature.outputs.map((o) => o.name);
            const shadowResult = await manager.run(shadow, feeds, all);
            const ms = performance.now() - t0;
            metrics.latency.observe(
              { model: name, version: String(shadow.version), role: "shadow" },
              ms / 1000,
            );
            if (sampled) {
              inferenceLog.add(
                entry(
                  shadow,
                  "shadow",
                  ms,
                  all.map((o) => toV2(o, shadowResult[o]!)),
                ),
              );
            }
          } catch (e) {
            metrics.errors.inc({ model: name, version: String(shadow.version), kind: "shadow" });
            log(`shadow run of ${name} version ${shadow.version} failed: ${(e as Error).message}`);
          } finally {
            manager.release(shadow);
          }
        });
      }
    } catch (e) {
      const status = e instanceof RequestError ? e.status : 500;
      const labels = { model: known ? name : "", version: answered ? String(answered.version) : "" };
      metrics.requests.inc({ ...labels, code: String(status) });
      metrics.errors.inc({ ...labels, kind: status >= 500 ? "server" : "client" });
      throw e;
    }
  }

  async function load(req: IncomingMessage, res: ServerResponse, name: string) {
    const body = parseJson(await readBody(req, opts.maxLoadBytes, "load"), true) as
      | { parameters?: Record<string, unknown> }
      | undefined;
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
    let model: Awaited<ReturnType<typeof manager.loadFromDisk>>;
    if (files.size > 0) model = await manager.loadFiles(name, files, config, keepPrimary);
    else {
      const v = parameters.version;
      const chosen = v === undefined ? undefined : parseVersion(String(v));
      model = await manager.loadFromDisk(name, chosen, config, keepPrimary);
    }
    send(res, 200, {
      name,
      versions: [...model.versions.keys()].sort((a, b) => a - b).map(String),
      serving: String(manager.primaryVersion(model)),
    });
  }

  async function index(req: IncomingMessage, res: ServerResponse) {
    const body = parseJson(await readBody(req, CONTROL_BODY_LIMIT, "index"), true) as
      | { ready?: unknown }
      | undefined;
    const onlyReady = body?.ready === true;
    const rows: { name: string; version: string; state: string; reason: string; sha256: string }[] = [];
    for (const name of await repository.modelNames()) {
      const loaded = manager.models.get(name)?.versions;
      for (const v of await repository.versions(name)) {
        const isReady = loaded?.has(v) ?? false;
        if (onlyReady && !isReady) continue;
        const sha256 = loaded?.get(v)?.sha256 ?? (await repository.sha256(name, v).catch(() => ""));
        rows.push({
          name,
          version: String(v),
          state: isReady ? "READY" : "UNAVAILABLE",
          reason: isReady ? "" : "unloaded",
          sha256,
        });
      }
    }
    send(res, 200, rows);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Bound to loopback, the server answers only requests addressed to it by a loopback name: a web
    // page that rebinds its own host name to 127.0.0.1 (DNS rebinding) cannot read models or answers.
    if (loopbackHosts && !loopbackHosts.has((req.headers.host ?? "").toLowerCase())) {
      throw new RequestError(
        `unknown Host ${JSON.stringify(req.headers.host ?? "")}: a server bound to loopback answers only requests for ${[...loopbackHosts].join(", ")}`,
        403,
      );
    }
    // A web page can send "simple" cross-origin requests (a form, or fetch with text/plain) without a
    // CORS preflight, blind but with effect (an infer, a load on a server without a token). Browsers
    // name the page's origin in Origin; programs (curl, SDKs, the deploy client) send none. This
    // server sends no CORS headers, so no page could read an answer anyway: refuse them all.
    const origin = req.headers.origin;
    if (origin !== undefined && !isOwnOrigin(origin, req.headers.host)) {
      throw new RequestError(
        `cross-origin request refused: Origin ${JSON.stringify(origin)} is not this server; call the API from a program (curl, an SDK), not from a web page`,
        403,
      );
    }
    const rawUrl = req.url ?? "/";
    const queryAt = rawUrl.indexOf("?");
    // The raw path, not a URL's pathname: URL resolves "..", which would hide a traversal attempt.
    const path = segments(queryAt < 0 ? rawUrl : rawUrl.slice(0, queryAt));
    const query = new URLSearchParams(queryAt < 0 ? "" : rawUrl.slice(queryAt + 1));
    const method = req.method ?? "GET";
    const allow = (...methods: string[]) => {
      if (!methods.includes(method)) {
        throw Object.assign(
          new RequestError(`${method} is not allowed here; use ${methods.join(" or ")}`, 405),
          {
            allow: methods.join(", "),
          },
        );
      }
    };
    const [root, section, ...rest] = path;
    if (root === "metrics" && path.length === 1) {
      allow("GET");
      res.writeHead(200, { "content-type": metrics.registry.contentType });
      res.end(await metrics.registry.metrics());
      return;
    }
    if (root !== "v2") throw new RequestError("no such route", 404);
    if (section === undefined || (section === "" && rest.length === 0)) {
      allow("GET");
      return send(res, 200, { name: "dagwood", version, extensions: EXTENSIONS });
    }
    if (section === "health" && rest.length === 1 && (rest[0] === "live" || rest[0] === "ready")) {
      allow("GET");
      if (rest[0] === "ready" && !ready)
        return send(res, 503, { error: restoring ? STARTING : "the server is shutting down" });
      return send(res, 200, rest[0] === "live" ? { live: true } : { ready: true });
    }
    if (section === "models") {
      const { name, version: v, action } = splitModelPath(rest, ["ready", "infer"]);
      if (action === "infer") {
        allow("POST");
        return infer(req, res, name, v);
      }
      allow("GET");
      if (opts.inferToken) checkToken(req);
      const model = served(name);
      const loaded =
        v === undefined ? model.versions.get(manager.primaryVersion(model))! : model.versions.get(v);
      if (!loaded) throw notYet(new RequestError(`model ${name} has no version ${v} loaded`, 404));
      if (action === "ready")
        return send(res, 200, { name, ...(v ? { version: String(v) } : {}), ready: true });
      const versions = [...model.versions.keys()].sort((a, b) => a - b);
      return send(res, 200, modelMetadata(name, loaded, v === undefined ? versions : [v]));
    }
    if (section === "repository") {
      if (rest[0] === "index" && rest.length === 1) {
        allow("POST");
        checkToken(req);
        return index(req, res);
      }
      if (rest[0] === "models") {
        const { name, version: v, action } = splitModelPath(rest.slice(1), ["load", "unload", "traffic"]);
        if (!action || v !== undefined) throw new RequestError("no such route", 404);
        allow(...(action === "traffic" ? ["GET", "POST"] : ["POST"]));
        checkToken(req);
        if (action === "load") return load(req, res, name);
        if (action === "unload") {
          await readBody(req, CONTROL_BODY_LIMIT, "unload");
          await manager.unload(name);
          return send(res, 200, {});
        }
        if (method === "GET") return send(res, 200, { name, policy: served(name).policy });
        const body = parseJson(await readBody(req, CONTROL_BODY_LIMIT, "traffic"), true);
        const policy = await manager.setPolicy(name, parsePolicy(body));
        return send(res, 200, { name, policy, primary: String(manager.primaryVersion(served(name))) });
      }
    }
    if (section === "logs" && rest[0] === "models" && rest.length === 2) {
      allow("GET");
      checkToken(req);
      const name = checkModelName(rest[1]!);
      if (!manager.models.has(name) && !inferenceLog.has(name))
        throw new RequestError(`unknown model ${name}`, 404);
      const limitText = query.get("limit");
      const limit = limitText === null ? 100 : Number(limitText);
      if (!Number.isSafeInteger(limit) || limit < 1)
        throw new RequestError("limit must be a positive integer");
      const sinceText = query.get("since");
      let since: { seq?: number; time?: number } | undefined;
      if (sinceText !== null) {
        // A bare integer below 1e11 is a seq number; larger, epoch ms; otherwise an ISO time.
        const n = Number(sinceText);
        const time = Number.isFinite(n) ? n : Date.parse(sinceText);
        if (Number.isNaN(time))
          throw new RequestError("since must be a seq number, epoch milliseconds or an ISO time");
        since = Number.isInteger(n) && n < 1e11 ? { seq: n } : { time };
      }
      return send(res, 200, { model_name: name, entries: inferenceLog.read(name, { limit, since }) });
    }
    throw new RequestError("no such route", 404);
  }

  /** The Host headers accepted while bound to loopback; any while bound to another address. */
  let loopbackHosts: Set<string> | undefined;
  const http = createHttpServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const status = e instanceof RequestError ? e.status : 500;
      if (status === 500) log(`internal error on ${req.method} ${req.url}: ${(e as Error).stack ?? e}`);
      const headers: Record<string, string> = {};
      const allowHeader = (e as { allow?: string }).allow;
      if (allowHeader) headers.allow = allowHeader;
      // A body left unread (413, or refused before reading: 401…) is not drained: answer, then close.
      const unread = !req.complete;
      if (unread) headers.connection = "close";
      if (res.headersSent) {
        res.destroy();
        return;
      }
      send(res, status, { error: (e as Error).message }, headers);
      if (unread) res.on("finish", () => req.destroy());
    });
  });
  http.keepAliveTimeout = 65_000;

  return {
    manager,
    get url() {
      return url;
    },
    async listen(port = opts.port, host = opts.host) {
      await repository.init();
      await inferenceLog.init();
      await new Promise<void>((resolvePromise, reject) => {
        http.once("error", reject);
        http.listen(port, host, () => {
          http.off("error", reject);
          resolvePromise();
        });
      });
      const address = http.address() as AddressInfo;
      const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
      url = `http://${shownHost}:${address.port}`;
      loopbackHosts = isLoopback(address.address)
        ? new Set([`127.0.0.1:${address.port}`, `localhost:${address.port}`, `[::1]:${address.port}`])
        : undefined;
      // Live at once; ready once what was serving before is serving again.
      restoring = true;
      try {
        await manager.restore();
      } finally {
        restoring = false;
      }
      ready = true;
      return url;
    },
    async close() {
      ready = false;
      await new Promise<void>((resolvePromise) => {
        http.close(() => resolvePromise());
        http.closeIdleConnections();
        // Requests in flight get a few seconds to finish; then their connections are cut.
        setTimeout(() => http.closeAllConnections(), 5000).unref();
      });
      await manager.close();
      await inferenceLog.close();
    },
  };
}
