/**
 * The CLI attached to a running engine: an engine started as `dagwood ui`
 * starts it (createCoreApi, the loopback bridge, .dagwood/engine.json) holds
 * a copy of the starter project, and `dagwood run` runs in it.
 */
import { spawn, spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer, request, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { catalog } from "../../nodes/index";
import { type CoreApi, createCoreApi } from "../api/core";
import { type Advertised, advertiseEngine } from "../api/engine-advert";
import { type HttpBridge, startHttpBridge } from "../api/http";
import { createDeployProject, registerTestVersion } from "../deploy/testing";
import type { Catalog } from "../engine/block";
import type { RunEvent } from "../engine/events";
import { engineFilePath, readEngineFile, writeEngineFile } from "../project/engine-file";
import { currentProcess } from "../store/liveness";
import { EngineLostError, findEngine, runAttached } from "./attach";
import { type Io, main } from "./main";

const STARTER = join(import.meta.dirname, "..", "..", "resources", "examples", "starter");

/** Runs `dagwood <args>` in this process, capturing what it prints. */
async function dagwood(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io = {
    stdout: {
      write: (s: string) => {
        stdout += s;
        return true;
      },
    },
    stderr: {
      write: (s: string) => {
        stderr += s;
        return true;
      },
    },
  } as unknown as Io;
  const code = await main(args, io, catalog);
  return { code, stdout, stderr };
}

interface Engine {
  api: CoreApi;
  bridge: HttpBridge;
  advertised: Advertised;
  events: RunEvent[];
  close(): Promise<void>;
}

/** The engine as `dagwood ui` starts it, on `dir`. */
async function startEngine(dir: string, blocks: Catalog = catalog): Promise<Engine> {
  const api = await createCoreApi({ catalog: blocks, projectDir: dir });
  const bridge = await startHttpBridge({ api, host: "127.0.0.1", port: 0 });
  const advertised = advertiseEngine(api, { host: "127.0.0.1", port: bridge.port, token: bridge.token });
  const events: RunEvent[] = [];
  api.onEvent((e) => events.push(e));
  let closed = false;
  return {
    api,
    bridge,
    advertised,
    events,
    async close() {
      if (closed) return;
      closed = true;
      advertised.stop();
      await bridge.close();
      await api.close();
    },
  };
}

/** POST /api/<method> to the bridge with `token` (or none), as any local program could. */
function post(port: number, method: string, token: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        method: "POST",
        path: `/api/${method}`,
        agent: false,
        headers: {
          host: `127.0.0.1:${port}`,
          "content-type": "application/json",
          ...(token === undefined ? {} : { "x-dagwood-token": token }),
        },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end("{}");
  });
}

/**
 * An engine in another process (the project lock is per process), as `dagwood
 * ui` runs it: the core with the block catalog, the bridge, engine.json. It
 * stops (and removes its file) when its stdin closes.
 */
async function startChildEngine(dir: string): Promise<{ pid: number; stop(): Promise<void> }> {
  const script = join(tmpdir(), `dagwood-attach-engine-${process.pid}-${Date.now()}.mts`);
  const src = (...p: string[]) => JSON.stringify(join(import.meta.dirname, "..", "..", ...p));
  writeFileSync(
    script,
    [
      `import { catalog } from ${src("nodes", "index.ts")};`,
      `import { createCoreApi } from ${src("app", "api", "core.ts")};`,
      `import { startHttpBridge } from ${src("app", "api", "http.ts")};`,
      `import { advertiseEngine } from ${src("app", "api", "engine-advert.ts")};`,
      `const api = await createCoreApi({ catalog, projectDir: ${JSON.stringify(dir)} });`,
      "const bridge = await startHttpBridge({ api, port: 0 });",
      `const advertised = advertiseEngine(api, { host: "127.0.0.1", port: bridge.port, token: bridge.token });`,
      `process.stdout.write("ready\\n");`,
      "process.stdin.on('end', async () => { advertised.stop(); await bridge.close(); await api.close(); process.exit(0); }).resume();",
    ].join("\n"),
  );
  const child = spawn(process.execPath, ["--import", "tsx", script], { stdio: ["pipe", "pipe", "inherit"] });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (d) => String(d).includes("ready") && resolve());
    child.once("exit", (code) => reject(new Error(`the engine exited with ${code}`)));
  });
  return {
    pid: child.pid!,
    async stop() {
      child.stdin.end();
      await exited;
      rmSync(script, { force: true });
    },
  };
}

const runIdOf = (stdout: string) => /\(run ([^)]+)\)/.exec(stdout)?.[1];

/**
 * A bridge that answers as an engine holding `dir` would, scripted: `onStart`
 * is given the event stream's writer when startRun arrives and says what
 * startRun answers, and when (the events it writes first go out before it).
 */
async function startFakeEngine(
  dir: string,
  onStart: (send: (e: object) => void, streams: ServerResponse[]) => Promise<object>,
): Promise<{ close(): Promise<void>; calls: string[]; openCalls: Set<unknown> }> {
  const streams: ServerResponse[] = [];
  const calls: string[] = [];
  /** Calls whose connection the client has not closed. */
  const openCalls = new Set<unknown>();
  const send = (e: object) => {
    for (const s of streams) s.write(`data: ${JSON.stringify(e)}\n\n`);
  };
  const server = createServer((req, res) => {
    if (req.url?.startsWith("/api/events")) {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(": connected\n\n");
      streams.push(res);
      return;
    }
    const method = req.url?.slice("/api/".length) ?? "";
    calls.push(method);
    openCalls.add(req);
    req.socket.on("close", () => openCalls.delete(req));
    req.resume();
    req.on("end", async () => {
      const result =
        method === "getProject" ? { dir } : method === "startRun" ? await onStart(send, streams) : {};
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ result }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  writeEngineFile(dir, { host: "127.0.0.1", port, token: "f".repeat(32) });
  return {
    calls,
    openCalls,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const PENGUINS_NODES = ["penguins", "clean", "split", "profile"];

/** A pipeline whose one SQL node runs for minutes unless canceled. */
const SLOW = {
  format: "dagwood.pipeline/1",
  name: "slow",
  nodes: [
    { id: "penguins", block: "ingest.file", params: { path: "data/penguins.csv" } },
    {
      id: "spin",
      block: "transform.sql",
      params: {
        query:
          "SELECT sum(hash(a.range * b.range)) AS s FROM range(200000) a, range(200000) b, (SELECT count(*) FROM input) c",
      },
    },
  ],
  edges: [{ from: "penguins.out", to: "spin.in" }],
};

describe("dagwood run attached to the project's engine", { timeout: 120_000 }, () => {
  let dir: string;
  let engine: Engine | undefined;
  const pipeline = () => join(dir, "penguins.dag.json");

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-attach-"));
    cpSync(STARTER, dir, { recursive: true, filter: (src) => !src.includes(".dagwood") });
  });
  afterEach(async () => {
    await engine?.close();
    engine = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs in the engine: progress printed, the run visible through the engine's Api and its events", async () => {
    engine = await startEngine(dir);
    const r = await dagwood("run", pipeline(), "--project", dir);
    expect(r.stderr).toContain(`Running in Dagwood (PID ${process.pid})`);
    expect(r.code).toBe(0);
    // The same progress lines as an in-process run: the run's start and each node.
    expect(r.stderr).toMatch(/Running penguins \(4 nodes, run /);
    for (const node of ["penguins", "clean", "split", "profile"]) expect(r.stderr).toContain(`▶ ${node}`);
    const runId = runIdOf(r.stdout);
    expect(runId).toBeDefined();
    expect(r.stdout).toMatch(/succeeded in .* \(run /);

    const runs = await engine.api.listRuns({});
    expect(runs.map((x) => x.id)).toContain(runId);
    const detail = await engine.api.getRun({ runId: runId! });
    expect(detail.run.status).toBe("succeeded");
    // Recorded as an in-process run records it: relative to the project.
    expect(detail.run.pipelinePath).toBe("penguins.dag.json");
    expect(detail.nodes.map((n) => n.nodeId).sort()).toEqual(["clean", "penguins", "profile", "split"]);
    // Whoever listens to the engine (the app's window) saw the run from start to end.
    const mine = engine.events.filter((e) => e.runId === runId).map((e) => e.type);
    expect(mine[0]).toBe("run.started");
    expect(mine.at(-1)).toBe("run.finished");

    // --json: the summary the engine's record holds, node for node; a second run is all cached.
    const again = await dagwood("run", pipeline(), "--project", dir, "--json", "--param", "seed=7");
    expect(again.code).toBe(0);
    const summary = JSON.parse(again.stdout);
    const second = await engine.api.getRun({ runId: summary.runId });
    expect(summary.status).toBe("succeeded");
    expect(summary.nodes.map((n: { id: string; status: string }) => [n.id, n.status]).sort()).toEqual(
      second.nodes.map((n) => [n.nodeId, n.status]).sort(),
    );
    expect(summary.nodes.every((n: { status: string }) => n.status === "cached")).toBe(true);
    expect(second.resolvedParams["split.seed"]).toBe(7);

    // --full-refresh goes to the engine with the run (startRun's fullRefresh): that node runs anew.
    const refreshed = await dagwood(
      "run",
      pipeline(),
      "--project",
      dir,
      "--json",
      "--param",
      "seed=7",
      "--full-refresh",
      "penguins",
    );
    expect(refreshed.code).toBe(0);
    const byId = Object.fromEntries(
      JSON.parse(refreshed.stdout).nodes.map((n: { id: string; status: string; reason?: string }) => [
        n.id,
        n.reason ? `${n.status}: ${n.reason}` : n.status,
      ]),
    );
    expect(byId).toEqual({
      penguins: "ran: full refresh",
      profile: "cached",
      clean: "cached",
      split: "cached",
    });
    await expect(
      engine.api.startRun({
        document: JSON.parse(readFileSync(pipeline(), "utf8")),
        fullRefresh: ["nope"],
      }),
    ).rejects.toThrow('Full refresh: no node "nope" in the pipeline');
  });

  it("a deprecated pipeline run in the engine warns on stderr and in the summary, as in process", async () => {
    engine = await startEngine(dir);
    const doc = JSON.parse(readFileSync(pipeline(), "utf8"));
    doc.deprecated = { reason: "superseded", replacement: "penguins-v2.dag.json" };
    writeFileSync(pipeline(), JSON.stringify(doc));
    const r = await dagwood("run", pipeline(), "--project", dir, "--json");
    expect(r.code).toBe(0);
    const message = `Pipeline "${doc.name}" is deprecated: superseded. Use penguins-v2.dag.json instead.`;
    expect(r.stderr).toContain(`warning: ${message}`);
    const summary = JSON.parse(r.stdout);
    expect(summary.runWarnings).toEqual([message]);
    expect(summary.warnings).toBe(
      1 + summary.nodes.reduce((n: number, x: { warnings: number }) => n + x.warnings, 0),
    );
    expect(engine.events.filter((e) => e.type === "run.warning" && e.runId === summary.runId)).toHaveLength(
      1,
    );
  });

  it("keeps exit codes: a node that fails in the engine exits 1, an invalid pipeline exits 2 before reaching it", async () => {
    engine = await startEngine(dir);
    const bad = join(dir, "bad.dag.json");
    writeFileSync(
      bad,
      JSON.stringify({
        format: "dagwood.pipeline/1",
        name: "bad",
        nodes: [{ id: "gone", block: "ingest.file", params: { path: "data/no-such.csv" } }],
        edges: [],
      }),
    );
    const failed = await dagwood("run", bad, "--project", dir);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/failed in .* \(run /);
    const runId = runIdOf(failed.stdout)!;
    expect((await engine.api.getRun({ runId })).run.status).toBe("failed");

    const before = (await engine.api.listRuns({})).length;
    const invalid = await dagwood("run", pipeline(), "--project", dir, "--target", "nope");
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('--target: no node "nope"');
    expect((await engine.api.listRuns({})).length).toBe(before);
  });

  it("--no-attach refuses while the project is open, naming the process and what to do", async () => {
    engine = await startEngine(dir);
    const r = await dagwood("run", pipeline(), "--project", dir, "--no-attach");
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `The project ${dir} is open in Dagwood (PID ${process.pid}). Close it there, or drop --no-attach to run in it.\n`,
    );
    expect(await engine.api.listRuns({})).toEqual([]);
    const help = await dagwood("run", "--help");
    expect(help.stdout).toContain("[--no-attach]");
    expect(help.stdout).toContain("run starts the run there");
    // With no engine, --no-attach runs in this process as usual.
    await engine.close();
    expect(existsSync(engineFilePath(dir))).toBe(false);
    const alone = await dagwood("run", pipeline(), "--project", dir, "--no-attach");
    expect(alone.code).toBe(0);
    expect(alone.stderr).not.toContain("Running in Dagwood");
  });

  it("ignores a stale engine.json (process gone, nothing listening) and runs in this process", async () => {
    const owner = currentProcess();
    // A pid that was just used and has ended.
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid;
    const write = (record: object) =>
      writeFileSync(engineFilePath(dir), JSON.stringify(record), { mode: 0o600 });
    const base = { host: "127.0.0.1", port: 9, token: "x".repeat(32), startedAt: new Date().toISOString() };
    mkdirSync(join(dir, ".dagwood"), { recursive: true });

    // Its process has ended (another start time under the same pid would count as ended too).
    write({ ...base, pid: dead, owner: { ...owner, pid: dead, start: "1" } });
    expect(await findEngine(dir)).toMatchObject({
      state: "stale",
      reason: `its process (PID ${dead}) has ended`,
    });
    const first = await dagwood("run", pipeline(), "--project", dir);
    expect(first.code).toBe(0);
    expect(first.stderr).not.toContain("Running in Dagwood");

    // Its process runs (this one) but nothing listens on its port.
    write({ ...base, pid: process.pid, owner });
    expect(await findEngine(dir)).toMatchObject({ state: "stale" });
    const second = await dagwood("run", pipeline(), "--project", dir);
    expect(second.code).toBe(0);

    // Not an engine file at all.
    writeFileSync(engineFilePath(dir), "{ torn");
    expect(await findEngine(dir)).toEqual({ state: "none" });
    expect((await dagwood("run", pipeline(), "--project", dir)).code).toBe(0);
  });

  it("ignores an engine.json with a wrong token, and says what holds the project when it cannot lock it", async () => {
    const child = await startChildEngine(dir);
    try {
      const real = readEngineFile(dir)!;
      expect(real.pid).toBe(child.pid);
      expect((await findEngine(dir)).state).toBe("live");
      writeFileSync(engineFilePath(dir), JSON.stringify({ ...real, token: "y".repeat(32) }), { mode: 0o600 });
      expect(await findEngine(dir)).toMatchObject({
        state: "stale",
        reason: expect.stringContaining("refused the token"),
      });
      const r = await dagwood("run", pipeline(), "--project", dir);
      // The engine still holds the project's lock: refused, saying which process and what to do.
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`is using the project ${dir}`);
      expect(r.stderr).toContain("Wait for it to finish, or stop it");
      expect(r.stderr).toContain("refused the token");
    } finally {
      await child.stop();
    }
  });

  it("runs in an engine in another process; runs and models read the store beside it", async () => {
    const child = await startChildEngine(dir);
    try {
      const r = await dagwood("run", pipeline(), "--project", dir);
      expect(r.stderr).toContain(`Running in Dagwood (PID ${child.pid})`);
      expect(r.code).toBe(0);
      const runId = runIdOf(r.stdout)!;
      // runs and models open only the metadata store (SQLite, WAL), which the engine shares.
      const list = await dagwood("runs", "list", "--project", dir, "--json");
      expect(list.code, list.stderr).toBe(0);
      expect(JSON.parse(list.stdout).runs.map((x: { id: string }) => x.id)).toContain(runId);
      const show = await dagwood("runs", "show", runId, "--project", dir, "--json");
      expect(show.code, show.stderr).toBe(0);
      expect(JSON.parse(show.stdout).run).toMatchObject({ id: runId, status: "succeeded" });
      const models = await dagwood("models", "list", "--project", dir, "--json");
      expect(models.code, models.stderr).toBe(0);
      expect(JSON.parse(models.stdout)).toEqual([]);
    } finally {
      await child.stop();
    }
    // The engine closed: its file is gone, and the CLI runs in this process again.
    expect(existsSync(engineFilePath(dir))).toBe(false);
    const alone = await dagwood("run", pipeline(), "--project", dir);
    expect(alone.code).toBe(0);
    expect(alone.stderr).not.toContain("Running in Dagwood");
  });

  it("writes engine.json 0600, moves it with the open project, removes it on close; the bridge wants its token", async () => {
    engine = await startEngine(dir);
    const file = engineFilePath(dir);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const record = JSON.parse(readFileSync(file, "utf8"));
    expect(record).toMatchObject({ pid: process.pid, host: "127.0.0.1", port: engine.bridge.port });
    expect(record.token).toBe(engine.bridge.token);
    expect(Number.isNaN(Date.parse(record.startedAt))).toBe(false);

    expect(await post(engine.bridge.port, "listRuns", engine.bridge.token)).toBe(200);
    expect(await post(engine.bridge.port, "listRuns", "z".repeat(32))).toBe(401);
    expect(await post(engine.bridge.port, "listRuns", undefined)).toBe(401);

    const other = mkdtempSync(join(tmpdir(), "dagwood-attach-other-"));
    try {
      await engine.api.openProject({ dir: other });
      expect(existsSync(file)).toBe(false);
      expect(readEngineFile(other)?.token).toBe(engine.bridge.token);
      expect(statSync(engineFilePath(other)).mode & 0o777).toBe(0o600);
      // The CLI on the first project no longer finds an engine, and runs in this process.
      expect(await findEngine(dir)).toEqual({ state: "none" });
      await engine.close();
      expect(existsSync(engineFilePath(other))).toBe(false);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it("prints --json and --junit as an in-process run does, and forwards --target and --param", async () => {
    const args = (junit: string) => [
      "run",
      pipeline(),
      "--project",
      dir,
      "--json",
      "--no-cache",
      "--target",
      "split",
      "--param",
      "seed=3",
      "--junit",
      junit,
    ];
    const alone = await dagwood(...args(join(dir, "alone.xml")));
    expect(alone.code, alone.stderr).toBe(0);
    engine = await startEngine(dir);
    const attached = await dagwood(...args(join(dir, "attached.xml")));
    expect(attached.code, attached.stderr).toBe(0);
    expect(attached.stderr).toContain("Running in Dagwood");
    // Equal but for run ids, times and the (per-run) table names.
    const normal = (text: string) =>
      text
        .replace(/"table": "t_[0-9a-f]+_/g, '"table": "t__')
        .replace(/"(runId|ms)": "?[^",\n]+"?/g, '"$1": _')
        .replace(/(id|time)="[^"]*"/g, '$1="_"');
    const first = JSON.parse(alone.stdout);
    const second = JSON.parse(attached.stdout);
    expect(second.nodes.map((n: { id: string }) => n.id)).toEqual(["penguins", "clean", "split"]);
    expect(normal(attached.stdout)).toBe(normal(alone.stdout));
    expect(normal(readFileSync(join(dir, "attached.xml"), "utf8"))).toBe(
      normal(readFileSync(join(dir, "alone.xml"), "utf8")),
    );
    expect(readFileSync(join(dir, "attached.xml"), "utf8")).toContain(`id="${second.runId}"`);
    // The engine ran the same three nodes with the same parameter.
    const detail = await engine.api.getRun({ runId: second.runId });
    expect(detail.nodes.map((n) => n.nodeId).sort()).toEqual(["clean", "penguins", "split"]);
    expect(detail.resolvedParams["split.seed"]).toBe(3);
    expect(first.runId).not.toBe(second.runId);
  });

  it("exits 2 when only the engine finds the pipeline invalid (its block list lacks one), saying why", async () => {
    const fewer: Catalog = new Map([...catalog].filter(([kind]) => kind !== "analyze.profile"));
    engine = await startEngine(dir, fewer);
    const r = await dagwood("run", pipeline(), "--project", dir, "--json");
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(
      `Dagwood (PID ${process.pid}) did not run the pipeline: The pipeline has problems`,
    );
    expect(r.stderr).toContain("analyze.profile");
    expect(await engine.api.listRuns({})).toEqual([]);
  });

  it("follows its own run only, taking the events that arrive before startRun answers", async () => {
    const mine = "run-mine";
    const fake = await startFakeEngine(dir, async (send) => {
      // Another run's whole life, then this run's, all before startRun answers.
      send({ type: "run.started", runId: "run-other", pipeline: "other", nodes: ["x"] });
      send({ type: "run.finished", runId: "run-other", status: "failed", ms: 5 });
      send({ type: "run.started", runId: mine, pipeline: "penguins", nodes: PENGUINS_NODES });
      for (const id of [...PENGUINS_NODES].reverse()) {
        send({ type: "node.started", runId: mine, nodeId: id });
        send({ type: "node.metric", runId: mine, nodeId: id, name: "m", value: 1 });
        send({
          type: "node.finished",
          runId: mine,
          nodeId: id,
          block: "b",
          status: "ran",
          ms: 1,
          outputs: {},
        });
      }
      send({
        type: "node.finished",
        runId: "run-other",
        nodeId: "x",
        block: "b",
        status: "failed",
        ms: 1,
        outputs: {},
      });
      send({ type: "run.finished", runId: mine, status: "succeeded", ms: 42 });
      await new Promise((resolve) => setTimeout(resolve, 50));
      return { runId: mine };
    });
    try {
      const r = await dagwood("run", pipeline(), "--project", dir, "--json");
      expect(r.code, r.stderr).toBe(0);
      const summary = JSON.parse(r.stdout);
      expect(summary).toMatchObject({ runId: mine, pipeline: "penguins", status: "succeeded", ms: 42 });
      // In plan order, whatever order they finished in; nothing of the other run.
      expect(summary.nodes.map((n: { id: string }) => n.id)).toEqual(PENGUINS_NODES);
      expect(summary.metrics.map((m: { node: string }) => m.node)).toEqual([...PENGUINS_NODES].reverse());
      expect(fake.calls).toEqual(["getProject", "startRun"]);
    } finally {
      await fake.close();
    }
  });

  it("says the engine was lost and exits 1 when it dies mid-run", async () => {
    const fake = await startFakeEngine(dir, async (send, streams) => {
      send({ type: "run.started", runId: "run-1", pipeline: "penguins", nodes: PENGUINS_NODES });
      send({ type: "node.started", runId: "run-1", nodeId: "penguins" });
      // The engine's process ends a moment after it answered.
      setTimeout(() => {
        for (const s of streams) s.destroy();
      }, 100);
      return { runId: "run-1" };
    });
    try {
      const r = await dagwood("run", pipeline(), "--project", dir);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("▶ penguins");
      expect(r.stderr).toContain(
        `Lost the Dagwood engine (PID ${process.pid}) during run run-1: the engine closed its event stream`,
      );
      expect(r.stderr).toContain("dagwood runs show run-1");
    } finally {
      await fake.close();
    }
  });

  it("does not wait for ever on an engine that hangs, before or after startRun answers", async () => {
    const signal = new AbortController().signal;
    const options = { document: {}, onEvent: () => undefined, signal };
    // Answers startRun, then says nothing more (no event, no ping).
    const silent = await startFakeEngine(dir, async () => ({ runId: "run-2" }));
    try {
      const found = await findEngine(dir, { eventsIdleMs: 300 });
      if (found.state !== "live") throw new Error(`no engine found: ${JSON.stringify(found)}`);
      const err = await runAttached(found.link, options).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EngineLostError);
      expect((err as Error).message).toMatch(/during run run-2: no word from the engine in 300 ms/);
    } finally {
      await silent.close();
    }
    // Never answers startRun.
    const stuck = await startFakeEngine(dir, () => new Promise<object>(() => undefined));
    try {
      const found = await findEngine(dir, { eventsIdleMs: 300 });
      if (found.state !== "live") throw new Error(`no engine found: ${JSON.stringify(found)}`);
      const err = await runAttached(found.link, options).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EngineLostError);
      expect((err as Error).message).toMatch(/before it started the run: no word from the engine/);
      // The unanswered startRun is dropped too: an open connection would keep the CLI from exiting.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(stuck.calls).toEqual(["getProject", "startRun"]);
      expect(stuck.openCalls.size).toBe(0);
    } finally {
      await stuck.close();
    }
  });

  it("Ctrl+C cancels the attached run in the engine, and exits 1 with the canceled summary", async () => {
    engine = await startEngine(dir);
    const file = join(dir, "slow.dag.json");
    writeFileSync(file, JSON.stringify(SLOW));
    const spinning = new Promise<void>((resolve) => {
      engine!.api.onEvent((e) => {
        if (e.type === "node.started" && e.nodeId === "spin") resolve();
      });
    });
    const running = dagwood("run", file, "--project", dir);
    await spinning;
    // Into its SQL statement: an abort while a block prepares, before DuckDB runs anything, is not
    // what this test is about (DuckDB's interrupt() stops a statement that runs).
    await new Promise((resolve) => setTimeout(resolve, 1000));
    process.emit("SIGINT");
    const r = await running;
    expect(r.stderr).toContain("Canceling the run in Dagwood");
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/canceled in .* \(run /);
    const runId = runIdOf(r.stdout)!;
    const detail = await engine.api.getRun({ runId });
    expect(detail.run.status).toBe("canceled");
    // Nothing of it is left running in the engine.
    expect(await engine.api.cancelRun({ runId })).toEqual({ canceled: false });
  });
});

describe("dagwood gc while the app has the project open", { timeout: 120_000 }, () => {
  it("cleans the cache through the engine, refuses while a run is in progress, and --no-attach refuses", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dagwood-attach-gc-"));
    cpSync(STARTER, dir, { recursive: true, filter: (src) => !src.includes(".dagwood") });
    const engine = await startEngine(dir);
    try {
      const pipeline = join(dir, "penguins.dag.json");
      const first = await dagwood("run", pipeline, "--project", dir);
      expect(first.code).toBe(0);
      // A second run with another seed leaves the first run's split outputs unused by the latest run.
      const second = await dagwood("run", pipeline, "--project", dir, "--param", "seed=8");
      expect(second.code, second.stderr).toBe(0);

      const refused = await dagwood("gc", "--project", dir, "--no-attach");
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`is open in Dagwood (PID ${process.pid})`);

      // A run in progress: gc refuses rather than drop what it reads.
      writeFileSync(join(dir, "slow.dag.json"), JSON.stringify(SLOW));
      const { runId } = await engine.api.startRun({ document: SLOW });
      const busy = await dagwood("gc", "--project", dir, "--keep-runs", "1");
      expect(busy.code).toBe(1);
      expect(busy.stderr).toContain("1 run is in progress in this project; clean the cache once it ends.");
      await engine.api.cancelRun({ runId });

      const r = await dagwood("gc", "--project", dir, "--keep-runs", "1");
      expect(r.stderr).toContain(`Through Dagwood (PID ${process.pid}), which has the project open`);
      expect(r.code, r.stderr).toBe(0);
      const dropped = /dropped (\d+) cache entr(?:y|ies) and (\d+) table\(s\)/.exec(r.stdout);
      expect(dropped, r.stdout).not.toBeNull();
      expect(Number(dropped![2])).toBeGreaterThan(0);
      // The latest run's outputs are still cached; the first run's split is gone and runs again.
      const latest = await dagwood("run", pipeline, "--project", dir, "--param", "seed=8");
      expect(latest.code).toBe(0);
      expect(latest.stderr).not.toContain("▶ split");
      const older = await dagwood("run", pipeline, "--project", dir);
      expect(older.code).toBe(0);
      expect(older.stderr).toContain("▶ split");
    } finally {
      await engine.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("dagwood deploy to the app's built-in local target", { timeout: 120_000 }, () => {
  it("goes through the engine that has the project open; --no-attach refuses", async () => {
    const project = createDeployProject();
    let engine: Engine | undefined;
    try {
      await registerTestVersion(project);
      engine = await startEngine(project.dir);
      const refused = await dagwood(
        "deploy",
        "m:1",
        "--target",
        "local",
        "--project",
        project.dir,
        "--no-attach",
      );
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`is open in Dagwood (PID ${process.pid})`);

      const r = await dagwood("deploy", "m:1", "--target", "local", "--project", project.dir, "--json");
      expect(r.stderr).toContain(
        `Through Dagwood (PID ${process.pid}), which runs the built-in "local" target`,
      );
      expect(r.code, r.stderr).toBe(0);
      const record = JSON.parse(r.stdout);
      expect(record).toMatchObject({ status: "succeeded", model: "m", version: 1, target: "local" });
      expect(record.parity.labelMismatches).toBe(0);
      // The engine's built-in server serves it, and the registry's audit log has the deployment.
      const local = (await engine.api.deploymentStatus({})).find((t) => t.name === "local");
      expect(local?.models.find((m) => m.name === "m")?.serving).toBe(1);
      const audit = await engine.api.auditLog({ model: "m" });
      expect(audit.find((a) => a.id === record.auditId)?.action).toBe("deployment.succeeded");
    } finally {
      await engine?.close();
      project.close();
    }
  });
});
