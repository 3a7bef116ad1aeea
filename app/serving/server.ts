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
 *   POST /v2/models/{name}/feedback                      (token)
 *   GET  /v2/logs/models/{name}?limit=&since=            (token)
 *   GET  /v2/logs/models/{name}/feedback?limit=&since=   (token)
 *
 * The routes are a table (`routes.ts`); this file checks what every route
 * declares before its handler runs: the Host and Origin, the token its auth
 * asks for, the body within its limit (`app/net/http-guard.ts`, shared with
 * the browser-mode bridge).
 *
 * Errors are `{"error": "..."}` with 400 (bad request), 401 (token), 403
 * (a foreign Host or Origin), 404 (unknown model, version or route), 405,
 * 409, 413 (body over the limit), 500 or 503 (restoring).
 */
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { join, resolve } from "node:path";
import {
  answerFailure,
  BodyTooLarge,
  bearerToken,
  findRoute,
  HostGuard,
  isLoopback,
  listenHttp,
  readBody,
  Token,
} from "../net/http-guard";
import { FeedbackStore } from "./feedback";
import { ModelManager } from "./models";
import { InferenceLog, LogSampler, ServerMetrics } from "./observability";
import { ModelRepository } from "./repository";
import { type Call, type EntityInputsFn, SERVE_ROUTES, type ServeRoute, type ServeState } from "./routes";
import { RequestError } from "./tensors";

export { CONTROL_BODY_LIMIT, EXTENSIONS } from "./routes";
export { isLoopback };

export interface ServeOptions {
  /** The model repository folder (Triton layout). */
  repository: string;
  /** Bearer token for the repository, traffic, log and feedback endpoints; without it those are refused. */
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
  /** Bytes of log entries kept in memory per model (their JSON text at 2 bytes a character; default 64 MiB). */
  logMaxBytes?: number;
  /**
   * Log every inference, whole: sample rate 1, no per-second cap, no row
   * truncation (overrides logSampleRate, logMaxPerSecond and logMaxRows).
   */
  logAll?: boolean;
  /** Rows logged per tensor (default 100; Infinity: all). */
  logMaxRows?: number;
  /** Bytes of inference log on disk per model; past it the oldest segment is deleted (default 128 MiB). */
  logMaxDiskBytes?: number;
  /** The clock the inference log's retention counts back from (epoch ms; tests set it). */
  logClock?: () => number;
  /** Where restore problems and shadow failures are reported; default stderr. */
  log?: (message: string) => void;
  /** More routes served beside V2: the feature server's (`featureServeRoutes`, app/features/server.ts). */
  routes?: readonly ServeRoute[];
  /** Fills infer inputs from entity keys for models registered with a feature service (app/features/server.ts). */
  entityInputs?: EntityInputsFn;
}

export interface DagwoodServer {
  listen(port?: number, host?: string): Promise<string>;
  close(): Promise<void>;
  /** http://host:port once listening. */
  readonly url: string;
  readonly manager: ModelManager;
}

const MiB = 1024 * 1024;

function serverVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "package.json"), "utf8"));
    return String(pkg.version);
  } catch {
    return "0.0.0";
  }
}

/** The 413 for a route's body: the infer and load limits are options, the others fixed. */
function tooLarge(limit: number, what: string): RequestError {
  return new RequestError(
    what === "infer" || what === "load"
      ? `the ${what} body is larger than ${limit} bytes; raise the limit with --max-${what}-bytes`
      : `the ${what} body is larger than ${limit} bytes, the limit for ${what} requests`,
    413,
  );
}

/** The path's segments, percent-decoded (so an encoded "../x" is seen as such and refused). */
function segments(pathname: string): string[] {
  const parts = pathname.split("/").slice(1);
  if (!pathname.includes("%")) return parts;
  try {
    return parts.map(decodeURIComponent);
  } catch {
    throw new RequestError("malformed percent-encoding in the URL");
  }
}

const NO_TOKEN =
  "this server has no token, so repository, traffic, log and feedback calls are refused; start it with --token or DAGWOOD_SERVE_TOKEN";
const WRONG_TOKEN = "missing or wrong bearer token (Authorization: Bearer <token>)";

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
  const metrics = new ServerMetrics();
  const logAll = opts.logAll === true;
  const inferenceLog = new InferenceLog({
    capacity: opts.logCapacity,
    maxBytes: opts.logMaxBytes,
    maxRows: logAll ? Number.POSITIVE_INFINITY : opts.logMaxRows,
    maxDiskBytes: opts.logMaxDiskBytes,
    repository: repository.dir,
    onDrop: (model, entries) => metrics.logDropped.inc({ model }, entries),
    ...(opts.logClock ? { now: opts.logClock } : {}),
    log,
    // Counts and times only: never a logged value.
    onRetention: (model, r) =>
      log(`inference log of ${model}: retention removed ${r.entries} entries at or before ${r.cutoff}`),
  });
  const state: ServeState = {
    manager: new ModelManager(repository, log),
    repository,
    metrics,
    inferenceLog,
    feedback: new FeedbackStore(repository.dir),
    logging: logAll
      ? {
          mode: "all",
          sampleRate: 1,
          maxPerSecond: null,
          maxRows: null,
          maxDiskBytes: inferenceLog.maxDiskBytes,
        }
      : {
          mode: "sampled",
          sampleRate: opts.logSampleRate,
          maxPerSecond: Number.isFinite(opts.logMaxPerSecond) ? opts.logMaxPerSecond : null,
          maxRows: Number.isFinite(inferenceLog.maxRows) ? inferenceLog.maxRows : null,
          maxDiskBytes: inferenceLog.maxDiskBytes,
        },
    sampler: logAll
      ? new LogSampler(1, Number.POSITIVE_INFINITY)
      : new LogSampler(opts.logSampleRate, opts.logMaxPerSecond),
    version: serverVersion(),
    limits: { infer: opts.maxInferBytes, load: opts.maxLoadBytes },
    ready: false,
    restoring: false,
    log,
    ...(opts.entityInputs ? { entityInputs: opts.entityInputs } : {}),
  };
  const token = opts.token ? new Token(opts.token) : undefined;
  const routes = opts.routes ? [...SERVE_ROUTES, ...opts.routes] : SERVE_ROUTES;
  /** Any Host until listening; then, bound to loopback, only loopback names of the port. */
  let hosts = new HostGuard();
  let url = "";

  function authorize(req: IncomingMessage, auth: ServeRoute["auth"]): void {
    if (auth === "none" || (auth === "read" && !opts.inferToken)) return;
    if (!token) throw new RequestError(NO_TOKEN, 401);
    if (!token.matches(bearerToken(req.headers.authorization))) throw new RequestError(WRONG_TOKEN, 401);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const host = req.headers.host;
    // Bound to loopback, the server answers only requests addressed to it by a loopback name: a web
    // page that rebinds its own host name to 127.0.0.1 (DNS rebinding) cannot read models or answers.
    if (!hosts.hostAllowed(host)) {
      throw new RequestError(
        `unknown Host ${JSON.stringify(host ?? "")}: a server bound to loopback answers only requests for ${hosts.names.join(", ")}`,
        403,
      );
    }
    // A web page can send "simple" cross-origin requests (a form, or fetch with text/plain) without a
    // CORS preflight, blind but with effect (an infer, a load on a server without a token). Browsers
    // name the page's origin in Origin; programs (curl, SDKs, the deploy client) send none. This
    // server sends no CORS headers, so no page could read an answer anyway: refuse them all.
    const origin = req.headers.origin;
    if (!hosts.originAllowed(origin, host)) {
      throw new RequestError(
        `cross-origin request refused: Origin ${JSON.stringify(origin)} is not this server; call the API from a program (curl, an SDK), not from a web page`,
        403,
      );
    }
    const rawUrl = req.url ?? "/";
    const queryAt = rawUrl.indexOf("?");
    // The raw path, not a URL's pathname: URL resolves "..", which would hide a traversal attempt.
    const path = segments(queryAt < 0 ? rawUrl : rawUrl.slice(0, queryAt));
    const method = req.method ?? "GET";
    const found = findRoute(routes, path, method);
    if (!found) throw new RequestError("no such route", 404);
    if (!found.route) {
      throw Object.assign(
        new RequestError(`${method} is not allowed here; use ${found.allowed.join(" or ")}`, 405),
        { allow: found.allowed.join(", ") },
      );
    }
    const route = found.route;
    const call: Call<never> = {
      req,
      res,
      params: found.params as never,
      method,
      query: queryAt < 0 ? "" : rawUrl.slice(queryAt + 1),
      body: Buffer.alloc(0),
      started: performance.now(),
    };
    try {
      authorize(req, route.auth);
      const limit = typeof route.bodyLimit === "number" ? route.bodyLimit : state.limits[route.bodyLimit];
      try {
        call.body = await readBody(req, limit);
      } catch (e) {
        throw e instanceof BodyTooLarge ? tooLarge(limit, route.name) : e;
      }
      await route.handle(state, call);
    } catch (e) {
      route.failed?.(state, call, e);
      throw e;
    }
  }

  const http = createHttpServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const status = e instanceof RequestError ? e.status : 500;
      if (status === 500) log(`internal error on ${req.method} ${req.url}: ${(e as Error).stack ?? e}`);
      answerFailure(req, res, status, e);
    });
  });
  http.keepAliveTimeout = 65_000;

  return {
    manager: state.manager,
    get url() {
      return url;
    },
    async listen(port = opts.port, host = opts.host) {
      await repository.init();
      await state.inferenceLog.init();
      ({ url, hosts } = await listenHttp(http, port, host));
      // Live at once; ready once what was serving before is serving again.
      state.restoring = true;
      try {
        await state.manager.restore();
      } finally {
        state.restoring = false;
      }
      state.ready = true;
      return url;
    },
    async close() {
      state.ready = false;
      await new Promise<void>((resolvePromise) => {
        http.close(() => resolvePromise());
        http.closeIdleConnections();
        // Requests in flight get a few seconds to finish; then their connections are cut.
        setTimeout(() => http.closeAllConnections(), 5000).unref();
      });
      await state.manager.close();
      await state.inferenceLog.close();
      await state.feedback.close();
    },
  };
}
