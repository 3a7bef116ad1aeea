/**
 * What deploy shows of its secrets: the token's value and a URL's user name
 * and password never appear in a message, a status, a record or the audit
 * log; everything else the server said stays readable; a refused token is
 * told apart from a server that does not answer.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createHttpServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type DagwoodServer } from "../serving/server";
import { V2Client } from "./client";
import { deploymentStatus, deployVersion } from "./deploy";
import {
  type DeployError,
  hasUrlCredentials,
  listTargets,
  maskUrlCredentials,
  resolveTarget,
  targetUrl,
} from "./targets";
import { caught, createDeployProject, registerTestVersion } from "./testing";

/** A server that answers every request with `status` and an error echoing the Authorization header. */
async function startEchoServer(status: number): Promise<{
  url: string;
  requests: IncomingHttpHeaders[];
  close: () => Promise<void>;
}> {
  const requests: IncomingHttpHeaders[] = [];
  const server = createHttpServer((req, res) => {
    requests.push(req.headers);
    req.resume();
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: `credentials not accepted: ${req.headers.authorization ?? "none"}` }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createHttpServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("URLs with a user name or password", () => {
  // Each case is checked against WHATWG URL parsing (Node's URL), not against the functions' own rules.
  const cases = [
    "http://ana:hunter2@127.0.0.1:8000",
    "https://ana:hunter2@models.example.test/base/",
    "http://ana@127.0.0.1:8000/v2",
    "http://:hunter2@127.0.0.1:8000",
    "http://ana:p%40ss@h:1/x?y=1#z",
    "http://a@b:hunter2@h:1/",
    "http://127.0.0.1:8000",
    "http://127.0.0.1:8000/path@with-at",
    "http://h:1/?q=user:pw@x",
    "http://evil\\@h/",
  ];

  it("strips them from a target's URL and keeps its host, port and path", () => {
    for (const url of cases) {
      const before = new URL(url);
      const after = new URL(targetUrl(url));
      expect(hasUrlCredentials(url), url).toBe(before.username !== "" || before.password !== "");
      expect([after.username, after.password], url).toEqual(["", ""]);
      expect(after.host, url).toBe(before.host);
      expect(after.pathname.replace(/\/+$/, ""), url).toBe(before.pathname.replace(/\/+$/, ""));
      expect(after.search, url).toBe(before.search);
      expect(targetUrl(url)).not.toMatch(/\/$/);
    }
  });

  it("masks them in any text, leaving the rest as it was", () => {
    const text =
      'fetch failed for http://ana:hunter2@127.0.0.1:8000/v2 and "https://bo@h/x", not for http://h:1/a@b or mailto:me@h';
    expect(maskUrlCredentials(text)).toBe(
      'fetch failed for http://***@127.0.0.1:8000/v2 and "https://***@h/x", not for http://h:1/a@b or mailto:me@h',
    );
  });

  it("a target whose URL has them is refused before any request, listed and shown without them", async () => {
    const server = await startEchoServer(200);
    const withPassword = server.url.replace("http://", "http://ana:hunter2@");
    const project = createDeployProject({ staging: { url: withPassword, kind: "dagwood" } });
    try {
      const tokens = { env: { DAGWOOD_TOKEN_STAGING: "tok-value-1" }, platform: "aix" as const };
      const refused = (() => {
        try {
          resolveTarget(project.settings, "staging", tokens);
        } catch (e) {
          return e as DeployError;
        }
        throw new Error("expected a DeployError");
      })();
      expect(refused.code).toBe("invalid");
      expect(refused.message).toBe(
        `The URL of target "staging" in dagwood.json has a user name or password in it (http://***@${server.url.slice(7)}). dagwood.json is shared and committed, so credentials do not go there: remove them from the URL and set the target's token in DAGWOOD_TOKEN_STAGING or the keychain entry (service dagwood, target staging).`,
      );

      const [listed] = listTargets(project.settings, tokens);
      expect(listed).toMatchObject({ name: "staging", url: server.url, token: null });
      expect(listed!.tokenError).toBe(refused.message);

      const [status] = await deploymentStatus(project, { tokens });
      expect(status).toMatchObject({
        url: server.url,
        health: { live: false, ready: false, errorCode: "invalid" },
      });

      await registerTestVersion(project);
      const deploy = await caught(
        deployVersion({ project, target: "staging", name: "m", ref: 1, actor: null, tokens }),
      );
      expect(deploy.code).toBe("invalid");
      for (const shown of [refused.message, JSON.stringify(status), deploy.message]) {
        expect(shown).not.toContain("hunter2");
        expect(shown).not.toContain("ana:");
      }
      expect(server.requests).toEqual([]);
      expect(JSON.stringify(project.registry.audit({ limit: 100 }))).not.toContain("hunter2");
    } finally {
      project.close();
      await server.close();
    }
  });

  it("an audit entry recorded with them (before this check) is shown without them in the status", async () => {
    const repo = mkdtempSync(join(tmpdir(), "dagwood-secrets-repo-"));
    const server: DagwoodServer = createServer({ repository: repo, token: "srv-token", log: () => {} });
    const url = await server.listen(0, "127.0.0.1");
    const project = createDeployProject({ staging: { url, kind: "dagwood" } });
    try {
      project.registry.appendAudit({
        actor: null,
        action: "deployment.failed",
        model: "m",
        version: 1,
        details: { target: "staging", url: url.replace("http://", "http://ana:hunter2@"), reason: "old" },
      });
      const [status] = await deploymentStatus(project, {
        tokens: { env: { DAGWOOD_TOKEN_STAGING: "srv-token" }, platform: "aix" },
      });
      const m = status!.models.find((x) => x.name === "m");
      expect(m?.deployments[0]?.details).toMatchObject({ url, reason: "old" });
      expect(JSON.stringify(status)).not.toContain("hunter2");
    } finally {
      project.close();
      await server.close();
      rmSync(repo, { recursive: true, force: true });
    }
  });
});

describe("a refused token", () => {
  let repo: string;
  let server: DagwoodServer;
  let url: string;
  beforeAll(async () => {
    repo = mkdtempSync(join(tmpdir(), "dagwood-secrets-repo-"));
    server = createServer({ repository: repo, token: "right-token", log: () => {} });
    url = await server.listen(0, "127.0.0.1");
  });
  afterAll(async () => {
    await server.close();
    rmSync(repo, { recursive: true, force: true });
  });

  it("keeps the server's message whole and says which token to set", async () => {
    const target = resolveTarget({ targets: { staging: { url, kind: "dagwood" } } }, "staging", {
      env: { DAGWOOD_TOKEN_STAGING: "wrong-token-value" },
      platform: "aix",
    });
    const error = await caught(new V2Client(target).repositoryIndex());
    expect(error.code).toBe("unauthorized");
    expect(error.message).toBe(
      `The target "staging" refused the token (401, from the environment variable DAGWOOD_TOKEN_STAGING): set DAGWOOD_TOKEN_STAGING or the keychain entry (service dagwood, target staging) to the server's token. (POST ${url}/v2/repository/index answered: missing or wrong bearer token (Authorization: Bearer <token>))`,
    );
    expect(error.message).not.toContain("wrong-token-value");
    expect(error.message).not.toMatch(/redacted|unreachable|Cannot reach/);
  });

  it("blanks out the token's value when the server echoes it, and only that (401, 403, other errors)", async () => {
    for (const status of [401, 403, 500]) {
      const echo = await startEchoServer(status);
      try {
        const client = new V2Client({
          name: "t",
          url: echo.url,
          token: "Tok-3cho-value",
          tokenSource: "keychain",
        });
        const error = await caught(client.live());
        expect(error.code).toBe(status === 500 ? "rejected" : "unauthorized");
        expect(error.message).toContain("credentials not accepted: Bearer [redacted]");
        expect(error.message).not.toContain("Tok-3cho-value");
        if (status !== 500) {
          expect(error.message).toMatch(
            new RegExp(
              `^The target "t" refused the token \\(${status}, from the keychain \\(service dagwood, target t\\)\\): set DAGWOOD_TOKEN_T or the keychain entry`,
            ),
          );
        }
        expect(echo.requests[0]?.authorization).toBe("Bearer Tok-3cho-value");
      } finally {
        await echo.close();
      }
    }
  });

  it("is told apart from a server that does not answer, in errors and in the status", async () => {
    const port = await closedPort();
    const down = await caught(
      new V2Client({ name: "d", url: `http://127.0.0.1:${port}`, token: null }).live(),
    );
    expect(down.code).toBe("unreachable");
    expect(down.message).toMatch(/^Cannot reach target "d"/);

    const guarded = await startEchoServer(401);
    const project = createDeployProject({
      guarded: { url: guarded.url, kind: "triton" },
      down: { url: `http://127.0.0.1:${port}`, kind: "dagwood" },
    });
    try {
      const statuses = await deploymentStatus(project, { tokens: { env: {}, platform: "aix" } });
      const byName = Object.fromEntries(statuses.map((s) => [s.name, s.health]));
      expect(byName.guarded).toMatchObject({ live: false, errorCode: "unauthorized" });
      expect(byName.guarded!.error).toMatch(
        /^The target "guarded" refused the request \(401\): no token is set for it\. Set DAGWOOD_TOKEN_GUARDED or the keychain entry/,
      );
      expect(byName.down).toMatchObject({ live: false, errorCode: "unreachable" });
    } finally {
      project.close();
      await guarded.close();
    }
  });
});
