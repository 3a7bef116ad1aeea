import { spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer as createNetServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { deployVersion } from "./deploy";
import {
  createLocalServers,
  hasServedState,
  type LocalServers,
  projectServeToken,
  serverLockFile,
  servingRepository,
  tokenFile,
} from "./embedded";
import { createDeployProject, registerTestVersion, type TestDeployProject } from "./testing";

const posix = process.platform !== "win32";
const modeOf = (file: string) => statSync(file).mode & 0o777;

async function infer(url: string, model: string): Promise<Response> {
  return fetch(`${url}/v2/models/${model}/infer`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      inputs: [
        { name: "x", datatype: "FP64", shape: [1, 1], data: [2] },
        { name: "color", datatype: "BYTES", shape: [1, 1], data: ["red"] },
      ],
    }),
  });
}

describe("the built-in local server (embedded)", { timeout: 60_000 }, () => {
  let project: TestDeployProject;
  const open: LocalServers[] = [];
  const servers = (port = 0) => {
    const s = createLocalServers({ port, log: () => {} });
    open.push(s);
    return s;
  };

  beforeAll(async () => {
    project = createDeployProject();
    await registerTestVersion(project);
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });
  afterAll(() => project.close());

  it("starts on 127.0.0.1 with a token kept in .dagwood/serve-token (0600); concurrent starts share one", async () => {
    const local = servers();
    const [a, b] = await Promise.all([local.start(project.dir), local.start(project.dir)]);
    expect(a).toBe(b);
    expect(a.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(a.repository).toBe(servingRepository(project.dir));
    expect(local.running(project.dir)).toBe(a);
    expect(readFileSync(tokenFile(project.dir), "utf8").trim()).toBe(a.token);
    expect(a.token).toMatch(/^[\w-]{43}$/);
    if (posix) expect(modeOf(tokenFile(project.dir))).toBe(0o600);
    expect((await fetch(`${a.url}/v2/health/ready`)).status).toBe(200);
    // The repository calls need the token.
    const index = (token: string) =>
      fetch(`${a.url}/v2/repository/index`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
      });
    expect((await index(a.token)).status).toBe(200);
    expect((await index("wrong")).status).toBe(401);
  });

  it("restarts with the same token and serves again what it served", async () => {
    const first = servers();
    const server = await first.start(project.dir);
    const record = await deployVersion({
      project,
      target: "local",
      name: "m",
      ref: 1,
      actor: null,
      tokens: { builtin: { url: server.url, token: server.token }, env: {}, platform: "aix" },
    });
    expect(record).toMatchObject({ status: "succeeded", target: "local", url: server.url });
    expect(hasServedState(project.dir)).toBe(true);
    await first.close();
    expect(first.running(project.dir)).toBeNull();
    await expect(fetch(`${server.url}/v2/health/live`)).rejects.toThrow();

    const again = await servers().start(project.dir);
    expect(again.token).toBe(server.token);
    const answer = await infer(again.url, "m");
    expect(answer.status).toBe(200);
    expect(answer.headers.get("x-dagwood-model-version")).toBe("1");
  });

  it("serves the project's features beside the models; definitions that do not load are logged, the models still serve", async () => {
    const messages: string[] = [];
    const local = createLocalServers({ port: 0, log: (m) => messages.push(m) });
    open.push(local);
    // Without features/: no feature routes.
    const plain = await local.start(project.dir);
    const lookup = (url: string) =>
      fetch(`${url}/get-online-features`, {
        method: "POST",
        body: JSON.stringify({ features: ["shop_stats:x"], entities: { shop_id: [1] } }),
      });
    expect((await lookup(plain.url)).status).toBe(404);
    await local.stop(project.dir);

    mkdirSync(join(project.dir, "features"), { recursive: true });
    writeFileSync(
      join(project.dir, "features", "shops.json"),
      JSON.stringify({
        format: "dagwood.features/1",
        entities: [{ name: "shop", joinKeys: ["shop_id"] }],
        featureViews: [
          {
            name: "shop_stats",
            entities: ["shop"],
            ttl: "1d",
            source: { path: "data/shops.parquet", timestampField: "ts" },
            features: [{ name: "x", type: "Float64" }],
          },
        ],
      }),
    );
    try {
      const withFeatures = await local.start(project.dir);
      const answer = await lookup(withFeatures.url);
      expect(answer.status).toBe(200);
      // Nothing materialised yet: the key is not found, as Feast answers it.
      expect(((await answer.json()) as { results: { statuses: string[] }[] }).results[1]!.statuses).toEqual([
        "NOT_FOUND",
      ]);
      await local.stop(project.dir);

      writeFileSync(join(project.dir, "features", "shops.json"), "{ not json");
      const broken = await local.start(project.dir);
      expect((await lookup(broken.url)).status).toBe(404);
      expect((await fetch(`${broken.url}/v2/health/ready`)).status).toBe(200);
      expect(messages).toEqual([
        expect.stringMatching(
          /^the local server serves no features: The feature definitions have 1 problem:[\s\S]*features\/shops\.json: not valid JSON[\s\S]*\(fix features\/\*\.json, then stop and start the local server\)$/,
        ),
      ]);
    } finally {
      rmSync(join(project.dir, "features"), { recursive: true, force: true });
      rmSync(join(project.dir, ".dagwood", "online.sqlite"), { force: true });
    }
  });

  it("takes an ephemeral port when the first one is busy", async () => {
    const busy: Server = createNetServer();
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", () => r()));
    const port = (busy.address() as { port: number }).port;
    try {
      const server = await servers(port).start(project.dir);
      const used = Number(new URL(server.url).port);
      expect(used).not.toBe(port);
      expect(used).toBeGreaterThan(0);
      expect((await fetch(`${server.url}/v2/health/live`)).status).toBe(200);
    } finally {
      await new Promise<void>((r) => busy.close(() => r()));
    }
  });

  it("reads DAGWOOD_LOCAL_SERVE_PORT (0: ephemeral) and refuses a bad one", async () => {
    const saved = process.env.DAGWOOD_LOCAL_SERVE_PORT;
    try {
      process.env.DAGWOOD_LOCAL_SERVE_PORT = "0";
      const local = createLocalServers({ log: () => {} });
      open.push(local);
      expect((await local.start(project.dir)).url).toMatch(/:\d+$/);
      process.env.DAGWOOD_LOCAL_SERVE_PORT = "port";
      const bad = createLocalServers({ log: () => {} });
      open.push(bad);
      await expect(bad.start(project.dir)).rejects.toThrow(/DAGWOOD_LOCAL_SERVE_PORT must be a port number/);
    } finally {
      if (saved === undefined) delete process.env.DAGWOOD_LOCAL_SERVE_PORT;
      else process.env.DAGWOOD_LOCAL_SERVE_PORT = saved;
    }
  });

  it("stop remembers it was stopped; close stops every server and refuses new starts", async () => {
    const local = servers();
    const server = await local.start(project.dir);
    await local.stop(project.dir);
    expect(local.running(project.dir)).toBeNull();
    expect(local.stoppedByUser(project.dir)).toBe(true);
    await expect(fetch(`${server.url}/v2/health/live`)).rejects.toThrow();
    const restarted = await local.start(project.dir);
    expect(local.stoppedByUser(project.dir)).toBe(false);
    await local.close();
    await expect(fetch(`${restarted.url}/v2/health/live`)).rejects.toThrow();
    await expect(local.start(project.dir)).rejects.toThrow(/closing/);
  });

  it.runIf(posix)(
    "replaces a token file others can read by a NEW token (0600); replaces one holding no token",
    async () => {
      const first = await projectServeToken(project.dir);
      chmodSync(tokenFile(project.dir), 0o644);
      // The old token may have leaked: a new one, not just a chmod.
      const second = await projectServeToken(project.dir);
      expect(second).not.toBe(first);
      expect(readFileSync(tokenFile(project.dir), "utf8").trim()).toBe(second);
      expect(modeOf(tokenFile(project.dir))).toBe(0o600);
      expect(await projectServeToken(project.dir)).toBe(second);
      writeFileSync(tokenFile(project.dir), "has a space\n");
      const replaced = await projectServeToken(project.dir);
      expect(replaced).not.toBe(second);
      expect(replaced).toMatch(/^[\w-]{43}$/);
      expect(modeOf(tokenFile(project.dir))).toBe(0o600);
      // Written through a temp file renamed into place: none left behind.
      expect(readdirSync(join(project.dir, ".dagwood")).filter((f) => f.includes(".tmp"))).toEqual([]);
    },
  );

  it.runIf(posix)(
    "refuses a token file that is a symbolic link, touching neither it nor its target",
    async () => {
      const p = createDeployProject();
      try {
        const victim = join(p.dir, "bashrc");
        writeFileSync(victim, "export PATH=/usr/bin\n", { mode: 0o644 });
        chmodSync(victim, 0o644);
        symlinkSync(victim, tokenFile(p.dir));
        await expect(projectServeToken(p.dir)).rejects.toThrow(
          new RegExp(`${tokenFile(p.dir).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is a symbolic link`),
        );
        await expect(servers().start(p.dir)).rejects.toThrow(/serve-token is a symbolic link/);
        expect(readFileSync(victim, "utf8")).toBe("export PATH=/usr/bin\n");
        expect(modeOf(victim)).toBe(0o644);
        expect(lstatSync(tokenFile(p.dir)).isSymbolicLink()).toBe(true);
        // A dangling link is not created through either.
        rmSync(tokenFile(p.dir));
        symlinkSync(join(p.dir, "created-through-link"), tokenFile(p.dir));
        await expect(projectServeToken(p.dir)).rejects.toThrow(/is a symbolic link/);
        expect(existsSync(join(p.dir, "created-through-link"))).toBe(false);
        // Nor a folder in its place.
        rmSync(tokenFile(p.dir));
        mkdirSync(tokenFile(p.dir));
        await expect(projectServeToken(p.dir)).rejects.toThrow(/serve-token is a folder/);
      } finally {
        p.close();
      }
    },
  );

  it.runIf(posix)("refuses a .dagwood that is a symbolic link", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dagwood-embedded-link-"));
    const elsewhere = mkdtempSync(join(tmpdir(), "dagwood-embedded-elsewhere-"));
    try {
      symlinkSync(elsewhere, join(dir, ".dagwood"));
      await expect(projectServeToken(dir)).rejects.toThrow(/\.dagwood is a symbolic link/);
      expect(readdirSync(elsewhere)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it.runIf(posix && process.getuid?.() === 0)("refuses a token file owned by another user", async () => {
    const p = createDeployProject();
    try {
      const token = await projectServeToken(p.dir);
      chownSync(tokenFile(p.dir), 4321, 4321);
      await expect(projectServeToken(p.dir)).rejects.toThrow(
        /serve-token belongs to another user \(uid 4321/,
      );
      expect(readFileSync(tokenFile(p.dir), "utf8").trim()).toBe(token);
      expect(statSync(tokenFile(p.dir)).uid).toBe(4321);
    } finally {
      p.close();
    }
  });

  it("has no served state when the saved state loads no model", () => {
    const p = createDeployProject();
    try {
      expect(hasServedState(p.dir)).toBe(false);
      mkdirSync(servingRepository(p.dir), { recursive: true });
      const state = join(servingRepository(p.dir), ".dagwood-state.json");
      writeFileSync(state, JSON.stringify({ format: "dagwood.serve-state/1", models: {} }));
      expect(hasServedState(p.dir)).toBe(false);
      writeFileSync(
        state,
        JSON.stringify({ format: "dagwood.serve-state/1", models: { m: { versions: [], policy: {} } } }),
      );
      expect(hasServedState(p.dir)).toBe(false);
      writeFileSync(
        state,
        JSON.stringify({ format: "dagwood.serve-state/1", models: { m: { versions: [1], policy: {} } } }),
      );
      expect(hasServedState(p.dir)).toBe(true);
    } finally {
      p.close();
    }
  });

  it("locks the project's server: another process holding it is named; a dead one's lock is replaced", async () => {
    const p = createDeployProject();
    try {
      const lock = serverLockFile(p.dir);
      const first = servers();
      const server = await first.start(p.dir);
      expect(JSON.parse(readFileSync(lock, "utf8"))).toMatchObject({ pid: process.pid, url: server.url });
      // A second set of servers (as a second app would) does not start a second server.
      await expect(servers().start(p.dir)).rejects.toThrow(/already running in this Dagwood process at http/);
      await first.stop(p.dir);
      expect(existsSync(lock)).toBe(false);

      // Another live process (our parent) holds it.
      writeFileSync(lock, JSON.stringify({ pid: process.ppid, url: "http://127.0.0.1:8123", id: "x" }));
      await expect(servers().start(p.dir)).rejects.toThrow(
        `the built-in server of this project is running in another Dagwood process (pid ${process.ppid}) at http://127.0.0.1:8123`.replace(
          /^t/,
          "T",
        ),
      );
      expect(readFileSync(lock, "utf8")).toContain('"id":"x"');

      // A process that is gone: its lock is replaced, and the lock goes with close().
      const dead = spawnSync(process.execPath, ["-e", "process.pid"]).pid!;
      writeFileSync(lock, JSON.stringify({ pid: dead, url: "http://127.0.0.1:8123", id: "y" }));
      const again = servers();
      const restarted = await again.start(p.dir);
      expect(JSON.parse(readFileSync(lock, "utf8"))).toMatchObject({ pid: process.pid, url: restarted.url });
      await again.close();
      expect(existsSync(lock)).toBe(false);
    } finally {
      p.close();
    }
  });

  it("a start during a stop waits for the stop, then starts a new server", async () => {
    const p = createDeployProject();
    try {
      const local = servers();
      const before = await local.start(p.dir);
      const stopping = local.stop(p.dir);
      const starting = local.start(p.dir);
      await stopping;
      const after = await starting;
      expect(after).not.toBe(before);
      expect(local.running(p.dir)).toBe(after);
      expect(local.stoppedByUser(p.dir)).toBe(false);
      expect((await fetch(`${after.url}/v2/health/live`)).status).toBe(200);
      expect(JSON.parse(readFileSync(serverLockFile(p.dir), "utf8"))).toMatchObject({ url: after.url });
    } finally {
      p.close();
    }
  });
});
