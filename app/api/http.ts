import { randomBytes, timingSafeEqual } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize, sep } from "node:path";
import { ApiError } from "./api";
import type { CoreApi } from "./core";
import { CONTENT_SECURITY_POLICY } from "./csp";
import { parseNumbers, stringifyNumbers } from "./json-numbers";

/** Largest request body the bridge reads (a 300-node pipeline is ~100 KB). */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;

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

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  // NaN and ±Infinity are tagged, not turned into null; the renderer's client decodes them.
  const text = stringifyNumbers(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > MAX_BODY_BYTES) throw new ApiError(413, `Request body over ${MAX_BODY_BYTES} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, `Request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (!text.trim()) return {};
  try {
    return parseNumbers(text);
  } catch {
    throw new ApiError(400, "The request body is not valid JSON");
  }
}

/**
 * Browser mode's bridge: the Api over HTTP (POST /api/<method>) and its
 * events as server-sent events (GET /api/events). Bound to loopback; every
 * request must carry the token (header, cookie set by the first page load, or
 * the URL's ?token=); a request from another Origin or for another Host is
 * refused, so neither another site nor DNS rebinding can reach it.
 */
export async function startHttpBridge(opts: HttpBridgeOptions): Promise<HttpBridge> {
  const host = opts.host ?? "127.0.0.1";
  const token = opts.token ?? randomBytes(24).toString("base64url");
  let origins = new Set<string>();
  let hosts = new Set<string>();
  const sse = new Set<ServerResponse>();
  const unsubscribe = opts.api.onEvent((e) => {
    const frame = `data: ${stringifyNumbers(e)}\n\n`;
    for (const res of sse) res.write(frame);
  });

  const serveStatic = async (res: ServerResponse, pathname: string) => {
    if (!opts.staticDir) return sendJson(res, 404, { error: "No UI is built: run `npm run build`" });
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      return sendJson(res, 400, { error: "Malformed URL" });
    }
    const rel = normalize(decoded).replace(/^([/\\])+/, "");
    const file = join(opts.staticDir, rel === "" ? "index.html" : rel);
    if (!file.startsWith(opts.staticDir + sep) && file !== opts.staticDir)
      return sendJson(res, 404, { error: "Not found" });
    const found = await stat(file).catch(() => null);
    const target = found?.isFile() ? file : join(opts.staticDir, "index.html");
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
  };

  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? "/", "http://localhost");
      if (!hosts.has(req.headers.host ?? "")) return sendJson(res, 403, { error: "Unknown Host" });
      const origin = req.headers.origin;
      if (origin !== undefined && !origins.has(origin))
        return sendJson(res, 403, { error: `Origin ${origin} is not allowed` });
      // The page lives under /<token>/ (its assets load by relative URLs, so
      // they carry it); API calls send it as a header, the event stream (an
      // EventSource cannot set headers) as ?token=. No cookie: cookies ignore
      // ports, so one would reach every other server on this host.
      const page = url.pathname.startsWith(`/${token}/`) || url.pathname === `/${token}`;
      const given = page ? token : (req.headers["x-dagwood-token"] ?? url.searchParams.get("token"));
      if (typeof given !== "string" || !safeEqual(given, token)) {
        return sendJson(res, 401, {
          error: "Missing or wrong token: open the URL that `dagwood ui` printed",
        });
      }

      if (url.pathname === "/api/events" && req.method === "GET") {
        res.writeHead(200, {
          "content-type": "text/event-stream",
          "cache-control": "no-store",
          connection: "keep-alive",
        });
        res.write(": connected\n\n");
        sse.add(res);
        const ping = setInterval(() => res.write(": ping\n\n"), 15_000);
        req.on("close", () => {
          clearInterval(ping);
          sse.delete(res);
        });
        return;
      }
      if (url.pathname.startsWith("/api/")) {
        if (req.method !== "POST") return sendJson(res, 405, { error: "Use POST" });
        const type = req.headers["content-type"] ?? "";
        if (!type.startsWith("application/json"))
          return sendJson(res, 415, { error: "Send application/json" });
        const method = url.pathname.slice("/api/".length);
        const args = await readBody(req);
        const result = await opts.api.call(method, args);
        return sendJson(res, 200, { result: result ?? null });
      }
      if (req.method !== "GET" && req.method !== "HEAD")
        return sendJson(res, 405, { error: "Method not allowed" });
      if (!page) return sendJson(res, 404, { error: "Not found" });
      if (url.pathname === `/${token}`) {
        res.writeHead(308, { location: `/${token}/${url.search}` });
        return res.end();
      }
      return await serveStatic(res, url.pathname.slice(token.length + 1));
    } catch (e) {
      if (e instanceof ApiError) return sendJson(res, e.status, { error: e.message });
      return sendJson(res, 500, { error: (e as Error).message });
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  hosts = new Set([`${shownHost}:${port}`, `localhost:${port}`]);
  origins = new Set([...hosts].map((h) => `http://${h}`));
  const origin = `http://${shownHost}:${port}`;
  return {
    url: `${origin}/${token}/`,
    origin,
    token,
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
