import { randomBytes } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize, sep } from "node:path";
import {
  BodyTooLarge,
  findRoute,
  HostGuard,
  hostHeader,
  InvalidJson,
  parseJsonBody,
  type RouteSpec,
  readBody,
  Token,
} from "../net/http-guard";
import { ApiError } from "./api";
import type { CoreApi } from "./core";
import { CONTENT_SECURITY_POLICY } from "./csp";
import { parseNumbers, stringifyNumbers } from "./json-numbers";

/** Largest request body the bridge reads (a 300-node pipeline is ~100 KB). */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;
/** Largest body of a GET (the page, the event stream): they carry none. */
const GET_BODY_BYTES = 64 * 1024;

const MIME: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
  ".map": "application/json",
};

export interface HttpBridgeOptions {
  api: CoreApi;
  /** Loopback by default; anything else must be asked for. */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Random when not given. */
  token?: string;
  /** The built renderer (index.html and assets), served at "/". */
  staticDir?: string;
}

export interface HttpBridge {
  /** The URL to open: the page lives under a path made of the token. */
  url: string;
  origin: string;
  token: string;
  port: number;
  close(): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  // NaN and ±Infinity are tagged, not turned into null; the renderer's client decodes them.
  const text = stringifyNumbers(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "cache-control": "no-store",
    ...headers,
  });
  res.end(text);
}

/**
 * auth "token": the request carries the token, as the `x-dagwood-token`
 * header (API calls) or `?token=` (the event stream: an EventSource cannot
 * set headers). auth "path": the path starts with `/<token>` (the page: its
 * assets load by relative URLs, so they carry it); the route's `match`
 * compares it. No cookie: cookies ignore ports, so one would reach every
 * other server on this host.
 */
export type BridgeAuth = "token" | "path";

/** One request, once its route's checks passed. */
interface BridgeCall<P> {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: P;
  /** The body, read within the route's limit (empty for GETs). */
  body: Buffer;
}

type BridgeHandler = (call: BridgeCall<never>) => Promise<void> | void;

export interface BridgeRoute extends RouteSpec<BridgeAuth, BridgeHandler> {
  bodyLimit: number;
  /** The Content-Type a body must have (checked before it is read): 415 otherwise. */
  contentType?: string;
}

function bridgeRoute<P>(r: {
  name: string;
  methods: readonly string[];
  path: string;
  match: (segments: string[]) => P | undefined;
  auth: BridgeAuth;
  bodyLimit: number;
  contentType?: string;
  handle: (call: BridgeCall<P>) => Promise<void> | void;
}): BridgeRoute {
  return r as unknown as BridgeRoute;
}

/** What the bridge's routes use: the Api, the event streams, the token and the built UI. */
export interface Bridge {
  api: CoreApi;
  token: Token;
  sse: Set<ServerResponse>;
  staticDir?: string;
}

async function serveStatic(staticDir: string | undefined, res: ServerResponse, pathname: string) {
  if (!staticDir) return sendJson(res, 404, { error: "No UI is built: run `npm run build`" });
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return sendJson(res, 400, { error: "Malformed URL" });
  }
  const rel = normalize(decoded).replace(/^([/\\])+/, "");
  const file = join(staticDir, rel === "" ? "index.html" : rel);
  if (!file.startsWith(staticDir + sep) && file !== staticDir)
    return sendJson(res, 404, { error: "Not found" });
  const found = await stat(file).catch(() => null);
  const target = found?.isFile() ? file : join(staticDir, "index.html");
  const body = await readFile(target).catch(() => null);
  if (!body) return sendJson(res, 404, { error: "Not found" });
  res.writeHead(200, {
    "content-type": MIME[extname(target)] ?? "application/octet-stream",
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": target.includes(`${sep}assets${sep}`) ? "max-age=31536000, immutable" : "no-store",
  });
  res.end(body);
}

/** The bridge's routes: the event stream, the Api's methods, the page. */
export function bridgeRoutes(bridge: Bridge): BridgeRoute[] {
  return [
    bridgeRoute({
      name: "events",
      methods: ["GET"],
      path: "/api/events?token={token}",
      match: (s) => (s.length === 2 && s[0] === "api" && s[1] === "events" ? {} : undefined),
      auth: "token",
      bodyLimit: GET_BODY_BYTES,
      handle({ res }) {
        res.writeHead(200, {
          "content-type": "text/event-stream",
          "cache-control": "no-store",
          connection: "keep-alive",
        });
        res.write(": connected\n\n");
        bridge.sse.add(res);
        const ping = setInterval(() => res.write(": ping\n\n"), 15_000);
        // On the response: the request's "close" did not come when the client went away (Node 20),
        // so the ping timer outlived the stream and kept `dagwood ui` from exiting.
        res.on("close", () => {
          clearInterval(ping);
          bridge.sse.delete(res);
        });
      },
    }),
    bridgeRoute({
      name: "call",
      methods: ["POST"],
      path: "/api/{method}",
      match: (s) => (s.length >= 2 && s[0] === "api" ? { method: s.slice(1).join("/") } : undefined),
      auth: "token",
      bodyLimit: MAX_BODY_BYTES,
      contentType: "application/json",
      async handle({ res, params, body }) {
        let args: unknown;
        try {
          args = parseJsonBody(body, parseNumbers) ?? {};
        } catch (e) {
          if (e instanceof InvalidJson) throw new ApiError(400, "The request body is not valid JSON");
          throw e;
        }
        const result = await bridge.api.call(params.method, args);
        sendJson(res, 200, { result: result ?? null });
      },
    }),
    bridgeRoute({
      name: "page",
      methods: ["GET", "HEAD"],
      path: "/{token}[/{file}]",
      match: (s) => (s.length >= 1 && bridge.token.matches(s[0]) ? { bare: s.length === 1 } : undefined),
      auth: "path",
      bodyLimit: GET_BODY_BYTES,
      handle({ res, url, params }) {
        const prefix = `/${bridge.token.value}`;
        if (params.bare) {
          res.writeHead(308, { location: `${prefix}/${url.search}` });
          res.end();
          return;
        }
        return serveStatic(bridge.staticDir, res, url.pathname.slice(prefix.length));
      },
    }),
  ];
}

const OPEN_URL = "open the URL that `dagwood ui` printed";
const WRONG_TOKEN = `Missing or wrong token: ${OPEN_URL}`;

/**
 * Browser mode's bridge: the Api over HTTP (POST /api/<method>) and its
 * events as server-sent events (GET /api/events), and the page under
 * /<token>/. Bound to loopback; every request must carry the token (see
 * `BridgeAuth`); a request from another Origin or for another Host is
 * refused, so neither another site nor DNS rebinding can reach it. The
 * checks are `app/net/http-guard.ts`, shared with `dagwood serve`.
 */
export async function startHttpBridge(opts: HttpBridgeOptions): Promise<HttpBridge> {
  const host = opts.host ?? "127.0.0.1";
  const token = new Token(opts.token ?? randomBytes(24).toString("base64url"));
  /** Until listening no Host is known, so none is accepted. */
  let hosts = new HostGuard([]);
  const sse = new Set<ServerResponse>();
  const unsubscribe = opts.api.onEvent((e) => {
    const frame = `data: ${stringifyNumbers(e)}\n\n`;
    for (const res of sse) res.write(frame);
  });
  const routes = bridgeRoutes({ api: opts.api, token, sse, staticDir: opts.staticDir });

  const authorized = (auth: BridgeAuth, req: IncomingMessage, url: URL): boolean => {
    if (auth === "path") return true; // the route matched: its path starts with the token
    const given = req.headers["x-dagwood-token"] ?? url.searchParams.get("token");
    return token.matches(typeof given === "string" ? given : undefined);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (!hosts.hostAllowed(req.headers.host))
      return sendJson(res, 403, {
        error: `Unknown Host ${JSON.stringify(req.headers.host ?? "")}: ${OPEN_URL}`,
      });
    const origin = req.headers.origin;
    if (!hosts.originAllowed(origin, req.headers.host))
      return sendJson(res, 403, {
        error: `Origin ${origin} is not allowed: the bridge answers only its own page; ${OPEN_URL}`,
      });
    const method = req.method ?? "GET";
    const found = findRoute(routes, url.pathname.split("/").slice(1), method);
    // Without the token nothing is told, not even whether a path exists.
    const auth = found ? (found.route ?? found.routes[0]!).auth : "token";
    if (!authorized(auth, req, url)) return sendJson(res, 401, { error: WRONG_TOKEN });
    if (!found) return sendJson(res, 404, { error: "Not found" });
    if (!found.route) {
      const allow = found.allowed.join(", ");
      const error = found.allowed.length === 1 ? `Use ${found.allowed[0]}` : "Method not allowed";
      return sendJson(res, 405, { error }, { allow });
    }
    const route = found.route;
    if (route.contentType && !(req.headers["content-type"] ?? "").startsWith(route.contentType))
      return sendJson(res, 415, { error: `Send ${route.contentType}` });
    let body: Buffer;
    try {
      body = await readBody(req, route.bodyLimit);
    } catch (e) {
      if (e instanceof BodyTooLarge) throw new ApiError(413, `Request body over ${route.bodyLimit} bytes`);
      throw e;
    }
    await route.handle({ req, res, url, params: found.params as never, body });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // A body left unread (413) is not drained: answer, then close the connection.
      const unread = !req.complete;
      const status = e instanceof ApiError ? e.status : 500;
      sendJson(res, status, { error: (e as Error).message }, unread ? { connection: "close" } : {});
      if (unread) res.on("finish", () => req.destroy());
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  hosts = new HostGuard([hostHeader(host, port), `localhost:${port}`]);
  const origin = `http://${hostHeader(host, port)}`;
  return {
    url: `${origin}/${token.value}/`,
    origin,
    token: token.value,
    port,
    async close() {
      unsubscribe();
      for (const res of sse) res.end();
      sse.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
