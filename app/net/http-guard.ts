/**
 * The checks every Dagwood HTTP server makes before a handler runs, written
 * once for the model server (`app/serving/server.ts`), the feature server
 * (`app/features/server.ts`) and the browser-mode bridge (`app/api/http.ts`): the Host allow-list and the Origin check (DNS
 * rebinding, a web page's blind requests), the token compared in constant
 * time, a body read up to a limit, and a route table that makes each route
 * declare its methods, auth and body limit so a new route cannot forget them.
 *
 * Each server keeps its own error texts: the guards answer yes or no, or
 * throw `BodyTooLarge` / `InvalidJson`, and the server words the answer;
 * the model and feature servers send a failure the same way (answerFailure).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A loopback address or host name (127.0.0.0/8, ::1, their IPv4-mapped
 * forms, localhost). Only an address literal: a name such as
 * 127.0.0.1.example.com may resolve anywhere.
 */
export function isLoopback(address: string): boolean {
  const a = address.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return /^(::ffff:)?127(\.\d{1,3}){3}$/.test(a) || a === "::1" || a === "localhost";
}

/** `host:port` with brackets around an IPv6 address, as a Host header names it. */
export function hostHeader(address: string, port: number): string {
  return `${address.includes(":") ? `[${address}]` : address}:${port}`;
}

/**
 * The Host and Origin a server accepts. With an allow-list (a server bound to
 * loopback), only requests whose Host header names one of its entries pass:
 * a page that rebinds its own name to 127.0.0.1 sends its own name as Host.
 * Without one (bound to another address), any Host passes.
 *
 * An Origin header, sent by browsers only, must name the server itself: the
 * scheme and the Host the request was sent to. Programs (curl, SDKs, the
 * deploy client, the CLI) send none.
 */
export class HostGuard {
  private readonly hosts: ReadonlySet<string> | undefined;

  /** `hosts`: the accepted `host:port` names (compared case-insensitively); undefined accepts any. */
  constructor(hosts?: Iterable<string>) {
    this.hosts = hosts ? new Set([...hosts].map((h) => h.toLowerCase())) : undefined;
  }

  /** The loopback names of a port: 127.0.0.1, localhost and [::1]. */
  static loopback(port: number): HostGuard {
    return new HostGuard([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
  }

  /** The names accepted, for an error message; empty when any is. */
  get names(): string[] {
    return this.hosts ? [...this.hosts] : [];
  }

  hostAllowed(host: string | undefined): boolean {
    return this.hosts === undefined || this.hosts.has((host ?? "").toLowerCase());
  }

  /** Whether a request's Origin (if any) is the server's own origin, the Host it was sent to. */
  originAllowed(origin: string | undefined, host: string | undefined): boolean {
    if (origin === undefined) return true;
    if (!host || !this.hostAllowed(host)) return false;
    const o = origin.toLowerCase();
    const h = host.toLowerCase();
    return o === `http://${h}` || o === `https://${h}`;
  }
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/** A secret token, compared in constant time whatever the length of what is offered. */
export class Token {
  private readonly digest: Buffer;

  constructor(readonly value: string) {
    if (value === "") throw new Error("a token cannot be empty");
    this.digest = digest(value);
  }

  /** Compares sha256 digests: equal lengths, so timingSafeEqual runs, and no length is leaked. */
  matches(given: string | undefined | null): boolean {
    return typeof given === "string" && timingSafeEqual(digest(given), this.digest);
  }
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(.+)$/i.exec(header ?? "");
  return match ? match[1]!.trim() : undefined;
}

/** A body over its route's limit; the server words the 413. */
export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`the request body is larger than ${limit} bytes`);
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * Reads a request body of at most `limit` bytes. A larger declared
 * Content-Length is refused before anything is read; an undeclared (chunked)
 * body is read until it passes the limit, then reading stops. Either way it
 * throws `BodyTooLarge`, and the body is left unread: answer, then close the
 * connection (`req.complete` is false).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(new BodyTooLarge(limit));
  return new Promise((resolve, reject) => {
    let first: Buffer | undefined;
    let chunks: Buffer[] | undefined;
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off("data", onData);
        req.pause();
        reject(new BodyTooLarge(limit));
        return;
      }
      // Most bodies arrive in one chunk: keep it as it is, without a concat.
      if (first === undefined) first = chunk;
      else {
        chunks ??= [first];
        chunks.push(chunk);
      }
    };
    req.on("data", onData);
    req.once("end", () => resolve(chunks ? Buffer.concat(chunks, size) : (first ?? EMPTY)));
    req.once("error", reject);
  });
}

/** A body that is not JSON; `message` is the parser's. */
export class InvalidJson extends Error {}

/** Parses a JSON body (with `parse`, default JSON.parse); undefined for an empty or blank body. */
export function parseJsonBody(body: Buffer, parse: (text: string) => unknown = JSON.parse): unknown {
  const text = body.toString("utf8");
  if (text.trim() === "") return undefined;
  try {
    return parse(text);
  } catch (e) {
    throw new InvalidJson((e as Error).message);
  }
}

/**
 * One entry of a route table. `A` is the server's kinds of auth, `H` its
 * handler type. `auth` and `bodyLimit` are required: a route says who may
 * call it and how much it may send, or it does not typecheck.
 */
export interface RouteSpec<A extends string, H> {
  /** Short name, used in messages ("the infer body is larger than …") and tests. */
  name: string;
  methods: readonly string[];
  /** The path, for people: `{x}` one segment, `[...]` optional. */
  path: string;
  /**
   * Params when the path (percent-decoded segments after the leading "/")
   * is this route's, else undefined. May throw for a path that is this
   * route's but malformed (a bad model name).
   */
  match(segments: string[]): unknown;
  auth: A;
  /** Largest body read, in bytes (a name the server resolves, e.g. a configured limit). */
  bodyLimit: number | string;
  handle: H;
}

export type RouteMatch<R> =
  | { route: R; params: unknown }
  /** The path is known (to `routes`), the method is not one of `allowed`. */
  | { route: undefined; allowed: string[]; routes: R[] }
  | undefined;

/**
 * The route for a method and path: the first whose `match` accepts the path
 * and whose methods include the method; if routes accept the path but none
 * the method, the methods they allow (a 405); undefined for no route (404).
 */
export function findRoute<R extends RouteSpec<string, unknown>>(
  routes: readonly R[],
  segments: string[],
  method: string,
): RouteMatch<R> {
  const known: R[] = [];
  for (const route of routes) {
    const params = route.match(segments);
    if (params === undefined) continue;
    if (route.methods.includes(method)) return { route, params };
    known.push(route);
  }
  if (known.length === 0) return undefined;
  return { route: undefined, allowed: [...new Set(known.flatMap((r) => r.methods))], routes: known };
}

/** JSON already written out as text (a hot path's answer built by hand), sent as it is by sendJson. */
export class JsonText {
  constructor(readonly text: string) {}
}

/** Answers `body` as JSON with its length (`undefined`: an empty body; a JsonText: its text). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = body === undefined ? "" : body instanceof JsonText ? body.text : JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/**
 * Answers a handler's failure as `{"error": message}` with `status`, the
 * error's `allow` (a 405's methods) as the Allow header. A response already
 * begun is cut. A body left unread (413, or refused before reading: 401…) is
 * not drained: answered, then the connection closed.
 */
export function answerFailure(req: IncomingMessage, res: ServerResponse, status: number, e: unknown): void {
  const headers: Record<string, string> = {};
  const allow = (e as { allow?: string }).allow;
  if (allow) headers.allow = allow;
  const unread = !req.complete;
  if (unread) headers.connection = "close";
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, { error: (e as Error).message }, headers);
  if (unread) res.on("finish", () => req.destroy());
}

/**
 * Listens on `host:port`; answers the URL the server is reached at and the
 * host guard it needs: bound to loopback, it answers only requests naming
 * its own loopback names (DNS rebinding); elsewhere any.
 */
export async function listenHttp(
  http: Server,
  port: number,
  host: string,
): Promise<{ url: string; hosts: HostGuard }> {
  await new Promise<void>((resolvePromise, reject) => {
    http.once("error", reject);
    http.listen(port, host, () => {
      http.off("error", reject);
      resolvePromise();
    });
  });
  const address = http.address() as AddressInfo;
  const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}`,
    hosts: isLoopback(address.address) ? HostGuard.loopback(address.port) : new HostGuard(),
  };
}
