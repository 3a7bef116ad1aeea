import { createHash } from "node:crypto";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BodyTooLarge,
  bearerToken,
  findRoute,
  HostGuard,
  hostHeader,
  InvalidJson,
  isLoopback,
  parseJsonBody,
  type RouteSpec,
  readBody,
  Token,
} from "./http-guard";

const LIMIT = 1000;

/** A server whose only job is readBody: 200 with the byte count and sha256, or 413. */
describe("readBody", () => {
  let server: Server;
  let port: number;
  const seen: { bytesReceivedBeforeRefusal?: number } = {};

  beforeAll(async () => {
    server = createServer((req, res) => {
      readBody(req, LIMIT).then(
        (body) => {
          res.writeHead(200, { "content-type": "application/json" });
          res.end(
            JSON.stringify({ bytes: body.length, sha256: createHash("sha256").update(body).digest("hex") }),
          );
        },
        (e: unknown) => {
          seen.bytesReceivedBeforeRefusal = req.socket.bytesRead;
          res.writeHead(e instanceof BodyTooLarge ? 413 : 500, { connection: "close" });
          res.end(e instanceof BodyTooLarge ? `limit ${e.limit}` : String(e));
          res.on("finish", () => req.destroy());
        },
      );
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** A raw POST: `chunks` written one by one (chunked unless content-length is given). */
  function post(
    chunks: Buffer[],
    headers: Record<string, string> = {},
  ): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port, method: "POST", path: "/", headers }, (res) => {
        let text = "";
        res.on("data", (d) => {
          text += d;
        });
        res.on("end", () => resolve({ status: res.statusCode!, text }));
      });
      // The server may close before the whole body is sent: that is the point.
      req.on("error", (e: NodeJS.ErrnoException) => {
        if (e.code !== "ECONNRESET" && e.code !== "EPIPE") reject(e);
      });
      for (const c of chunks) req.write(c);
      req.end();
    });
  }

  it("returns the body whole, in one chunk or many, up to the limit exactly", async () => {
    const body = Buffer.alloc(LIMIT, 7);
    const expected = createHash("sha256").update(body).digest("hex");
    const whole = await post([body], { "content-length": String(LIMIT) });
    expect(whole.status).toBe(200);
    expect(JSON.parse(whole.text)).toEqual({ bytes: LIMIT, sha256: expected });
    const pieces = await post([body.subarray(0, 300), body.subarray(300, 301), body.subarray(301)]);
    expect(JSON.parse(pieces.text)).toEqual({ bytes: LIMIT, sha256: expected });
    const empty = await post([]);
    expect(JSON.parse(empty.text)).toEqual({
      bytes: 0,
      sha256: createHash("sha256").update("").digest("hex"),
    });
  });

  it("refuses a declared Content-Length over the limit before reading it", async () => {
    const res = await new Promise<number>((resolve, reject) => {
      // Declares 10 MB, sends only the headers: the answer must not wait for the body.
      const req = request(
        {
          host: "127.0.0.1",
          port,
          method: "POST",
          path: "/",
          headers: { "content-length": String(10_000_000) },
        },
        (r) => resolve(r.statusCode!),
      );
      req.on("error", reject);
      req.flushHeaders();
    });
    expect(res).toBe(413);
  });

  it("refuses an undeclared (chunked) body once it passes the limit, and stops reading", async () => {
    const chunk = Buffer.alloc(400, 1);
    const res = await post([chunk, chunk, chunk, chunk, chunk]);
    expect(res).toEqual({ status: 413, text: `limit ${LIMIT}` });
    const big = await post(Array.from({ length: 200 }, () => Buffer.alloc(64 * 1024, 2)));
    expect(big.status).toBe(413);
    // Far less than the 12.5 MiB sent was read before the answer.
    expect(seen.bytesReceivedBeforeRefusal).toBeLessThan(4 * 1024 * 1024);
  });
});

describe("parseJsonBody", () => {
  it("parses JSON, treats an empty or blank body as none, and names the parser's complaint", () => {
    expect(parseJsonBody(Buffer.from('{"a":[1,2]}'))).toEqual({ a: [1, 2] });
    expect(parseJsonBody(Buffer.from(""))).toBeUndefined();
    expect(parseJsonBody(Buffer.from(" \n\t"))).toBeUndefined();
    expect(() => parseJsonBody(Buffer.from("{nope"))).toThrow(InvalidJson);
    expect(() => parseJsonBody(Buffer.from('{"a":1'))).toThrow(/JSON/);
    // A parser of the caller's choice (the bridge's NaN-aware one).
    expect(parseJsonBody(Buffer.from("[1]"), (t) => ({ parsed: t }))).toEqual({ parsed: "[1]" });
  });
});

describe("Token", () => {
  it("matches only the exact token, whatever the length offered", () => {
    const token = new Token("s3cret-token");
    expect(token.matches("s3cret-token")).toBe(true);
    for (const wrong of ["s3cret-tokem", "s3cret-token ", "S3CRET-TOKEN", "s3cret", "", "x".repeat(10_000)]) {
      expect(token.matches(wrong)).toBe(false);
    }
    expect(token.matches(undefined)).toBe(false);
    expect(token.matches(null)).toBe(false);
    expect(() => new Token("")).toThrow(/empty/);
  });

  it("reads a bearer token from an Authorization header", () => {
    expect(bearerToken("Bearer abc")).toBe("abc");
    expect(bearerToken("bearer   abc  ")).toBe("abc");
    expect(bearerToken("Basic abc")).toBeUndefined();
    expect(bearerToken("Bearer")).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});

describe("HostGuard", () => {
  it("on loopback accepts only loopback names of its port, in any case", () => {
    const guard = HostGuard.loopback(8000);
    for (const host of ["127.0.0.1:8000", "localhost:8000", "LocalHost:8000", "[::1]:8000"]) {
      expect(guard.hostAllowed(host)).toBe(true);
    }
    for (const host of ["evil.example:8000", "127.0.0.1:8001", "localhost", "127.0.0.1", "", undefined]) {
      expect(guard.hostAllowed(host)).toBe(false);
    }
    expect(guard.names).toEqual(["127.0.0.1:8000", "localhost:8000", "[::1]:8000"]);
  });

  it("without an allow-list accepts any Host", () => {
    const guard = new HostGuard();
    expect(guard.hostAllowed("evil.example:1")).toBe(true);
    expect(guard.hostAllowed(undefined)).toBe(true);
    expect(guard.names).toEqual([]);
  });

  it("accepts no Origin, or the server's own (the Host the request was sent to); refuses any other", () => {
    const guard = HostGuard.loopback(8000);
    expect(guard.originAllowed(undefined, "127.0.0.1:8000")).toBe(true);
    expect(guard.originAllowed("http://127.0.0.1:8000", "127.0.0.1:8000")).toBe(true);
    expect(guard.originAllowed("HTTP://LOCALHOST:8000", "localhost:8000")).toBe(true);
    expect(guard.originAllowed("http://[::1]:8000", "[::1]:8000")).toBe(true);
    // The Origin must name the Host the request was sent to, not another loopback name.
    expect(guard.originAllowed("http://[::1]:8000", "127.0.0.1:8000")).toBe(false);
    expect(guard.originAllowed("http://localhost:8000", "127.0.0.1:8000")).toBe(false);
    expect(guard.originAllowed("https://evil.example", "127.0.0.1:8000")).toBe(false);
    expect(guard.originAllowed("null", "127.0.0.1:8000")).toBe(false);
    // Another port on the same machine is another origin.
    expect(guard.originAllowed("http://127.0.0.1:3000", "127.0.0.1:8000")).toBe(false);
    // A rebound page's Origin matches its own Host, which is not on the list.
    expect(guard.originAllowed("http://evil.example:8000", "evil.example:8000")).toBe(false);
    expect(guard.originAllowed("http://127.0.0.1:8000", undefined)).toBe(false);
    // Bound beyond loopback: the Origin must still name the Host.
    const open = new HostGuard();
    expect(open.originAllowed("http://10.0.0.5:8000", "10.0.0.5:8000")).toBe(true);
    expect(open.originAllowed("http://evil.example", "10.0.0.5:8000")).toBe(false);
  });

  it("names loopback addresses and writes Host headers as clients send them", () => {
    for (const a of ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "::ffff:127.0.0.1", "localhost"]) {
      expect(isLoopback(a)).toBe(true);
    }
    expect(isLoopback("::FFFF:127.0.0.2")).toBe(true);
    // A host name that starts like a loopback address may resolve anywhere.
    for (const a of [
      "0.0.0.0",
      "::",
      "10.0.0.1",
      "128.0.0.1",
      "localhost.evil.example",
      "127.0.0.1.evil.example",
      "127.evil.example",
      "::ffff:10.0.0.1",
    ]) {
      expect(isLoopback(a)).toBe(false);
    }
    expect(hostHeader("127.0.0.1", 80)).toBe("127.0.0.1:80");
    expect(hostHeader("::1", 80)).toBe("[::1]:80");
  });
});

describe("findRoute", () => {
  type Route = RouteSpec<"none" | "token", string>;
  const routes: Route[] = [
    {
      name: "a",
      methods: ["GET"],
      path: "/a",
      match: (s) => (s.join("/") === "a" ? {} : undefined),
      auth: "none",
      bodyLimit: 1,
      handle: "get a",
    },
    {
      name: "a",
      methods: ["POST", "PUT"],
      path: "/a",
      match: (s) => (s.join("/") === "a" ? {} : undefined),
      auth: "token",
      bodyLimit: 10,
      handle: "set a",
    },
    {
      name: "item",
      methods: ["GET"],
      path: "/items/{id}",
      match: (s) => (s.length === 2 && s[0] === "items" ? { id: s[1] } : undefined),
      auth: "none",
      bodyLimit: 1,
      handle: "item",
    },
  ];

  it("finds the route for the method and path, with its params", () => {
    expect(findRoute(routes, ["a"], "GET")?.route?.handle).toBe("get a");
    expect(findRoute(routes, ["a"], "PUT")?.route?.handle).toBe("set a");
    expect(findRoute(routes, ["items", "7"], "GET")).toEqual({ route: routes[2], params: { id: "7" } });
  });

  it("tells a known path with a wrong method (405, every allowed method) from an unknown path (404)", () => {
    const wrong = findRoute(routes, ["a"], "DELETE");
    expect(wrong?.route).toBeUndefined();
    expect(wrong && !wrong.route ? wrong.allowed : []).toEqual(["GET", "POST", "PUT"]);
    expect(wrong && !wrong.route ? wrong.routes.map((r) => r.handle) : []).toEqual(["get a", "set a"]);
    expect(findRoute(routes, ["b"], "GET")).toBeUndefined();
    expect(findRoute(routes, ["items"], "GET")).toBeUndefined();
  });
});
