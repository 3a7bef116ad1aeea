/**
 * The monitors' Api through the core (createCoreApi over a real project
 * folder): listMonitors, runMonitorsNow, monitorLoops and a person's
 * decisions, with their bad inputs; the scheduler running a due monitor on a
 * fake clock; and the pipeline runner a loop's retraining uses (events,
 * tags, runs in progress).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { catalog } from "../../../nodes/index";
import { rowsFor } from "../../deploy/heldout";
import { testRows } from "../../deploy/testing";
import type { RunEvent } from "../../engine/events";
import type { SchedulerClock } from "../../monitoring/scheduler";
import {
  testVersionInput,
  writeServedLog,
  writeStepReferenceProfile,
  writeStepTraffic,
  writeTestModelFiles,
  writeTestReferenceProfile,
} from "../../monitoring/testing";
import { Project } from "../../project/project";
import { trainTestModel } from "../../serving/testing";
import { SqliteMetadataStore } from "../../store/metadata";
import { MonitorLoop } from "../../values/loop";
import { ApiError } from "../api";
import { type CoreApi, createCoreApi } from "../core";
import { projectRunPipeline, RunStoppedError } from "./loops";
import { createCoreState } from "./state";

const START = Date.parse("2026-12-06T00:00:00Z");
/** A check at 00:45 looks at the window 00:00–00:30. */
const CHECK_AT = START + 45 * 60e3;
let dir: string;

/** 60 one-row requests 20 s apart from START; x = i mod 10 as trained, or shifted to 10…19 with every label "low" (as app/monitoring/monitors.test.ts). */
function writeTraffic(shifted: boolean) {
  writeStepTraffic(dir, START, shifted);
}

const monitor = (extra: Record<string, unknown> = {}) => ({
  model: "m@champion",
  target: "local",
  window: "30m",
  minRows: 10,
  drift: { shareThreshold: 0.5 },
  performance: { metric: "accuracy", tolerance: 0.05 },
  action: "alert",
  ...extra,
});

function writeSettings(settings: unknown) {
  writeFileSync(
    join(dir, "dagwood.json"),
    typeof settings === "string" ? settings : JSON.stringify(settings),
  );
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "dagwood-loops-api-"));
  mkdirSync(join(dir, ".dagwood"), { recursive: true });
  const store = new SqliteMetadataStore(join(dir, ".dagwood", "metadata.sqlite"), { projectDir: dir });
  mkdirSync(join(dir, "out"));
  await writeStepReferenceProfile(dir, join(dir, "out"));
  const files = writeTestModelFiles(join(dir, "out"), { classes: ["high", "low"] }, "onnx-bytes");
  store.registry.registerVersion(testVersionInput({ files, metrics: { accuracy: 0.92, f1_macro: 0.9 } }));
  store.close();
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const status = async (p: Promise<unknown>): Promise<[number, string]> => {
  try {
    await p;
  } catch (e) {
    if (e instanceof ApiError) return [e.status, e.message];
    throw e;
  }
  throw new Error("expected an ApiError");
};

describe("the monitors' Api", () => {
  let api: CoreApi;
  afterAll(async () => api?.close());

  it("lists dagwood.json's monitors with their schedule, next run and no check yet", async () => {
    writeTraffic(true);
    writeSettings({
      monitors: {
        watch: monitor({ schedule: "*/15 * * * *" }),
        manual: monitor({ deployedModel: "m", window: "1h" }),
      },
    });
    api = await createCoreApi({ catalog, projectDir: dir });
    const before = Date.now();
    const r = await api.listMonitors({});
    expect(r.scheduler).toBe(true);
    const [manual, watch] = [...r.monitors].sort((a, b) => a.name.localeCompare(b.name));
    expect(watch).toEqual({
      name: "watch",
      model: "m",
      ref: "champion",
      target: "local",
      deployedModel: null,
      window: "30m",
      minRows: 10,
      metric: "accuracy",
      tolerance: 0.05,
      action: "alert",
      schedule: "*/15 * * * *",
      nextRunAt: expect.any(String),
      lastCheck: null,
      lastError: null,
      openAlerts: 0,
    });
    // The next quarter hour after now.
    const next = Date.parse(watch!.nextRunAt!);
    expect(next).toBeGreaterThan(before);
    expect(next - before).toBeLessThanOrEqual(15 * 60e3);
    expect(new Date(next).getUTCMinutes() % 15).toBe(0);
    expect(manual).toMatchObject({
      name: "manual",
      deployedModel: "m",
      window: "1h",
      schedule: null,
      nextRunAt: null,
    });
  });

  it("runMonitorsNow refuses unknown monitors, naming them and the known ones", async () => {
    const [code, message] = await status(api.runMonitorsNow({ names: ["watch", "nope", "gone"] }));
    expect(code).toBe(400);
    expect(message).toBe('No monitors "nope", "gone" in dagwood.json; its monitors: watch, manual');
    expect(await status(api.call("runMonitorsNow", { names: "watch" }))).toEqual([
      400,
      expect.stringMatching(/^Invalid arguments for runMonitorsNow: names:/),
    ]);
    // Nothing ran.
    expect(await api.monitorLoops({})).toEqual([]);
  });

  it("runMonitorsNow checks a monitor as of now, and listMonitors shows that check", async () => {
    // The window checked is the latest complete one before now: the traffic is stamped relative to now.
    const r = await api.runMonitorsNow({ names: ["watch"] });
    expect(r.ticks).toHaveLength(1);
    const t = r.ticks[0]!;
    expect(t.monitor).toBe("watch");
    // The traffic is far in the past or future of this real clock's latest window: the check says so, no error.
    expect(t.error).toBeNull();
    expect([t.breached, t.alerted]).toEqual([false, false]);
    const listed = (await api.listMonitors({})).monitors.find((m) => m.name === "watch")!;
    expect(listed.lastCheck).toMatchObject({ tested: false, breached: false, rows: 0, reasons: [] });
    expect(Date.parse(listed.lastCheck!.at)).toBeLessThanOrEqual(Date.now());
    expect(listed.lastError).toBeNull();
  });

  it("a check that fails is reported per monitor, not as a failed call", async () => {
    writeSettings({
      monitors: {
        watch: monitor({ schedule: "*/15 * * * *" }),
        manual: monitor({ deployedModel: "m", window: "1h" }),
        elsewhere: monitor({ target: "nowhere" }),
      },
    });
    const r = await api.runMonitorsNow({ names: ["elsewhere"] });
    expect(r.ticks[0]).toMatchObject({ monitor: "elsewhere", breached: false, alerted: false, loops: [] });
    expect(r.ticks[0]!.error).toMatch(/No deploy target "nowhere"/);
    const listed = (await api.listMonitors({})).monitors.find((m) => m.name === "elsewhere")!;
    expect(listed.lastError).toMatch(/No deploy target "nowhere"/);
    expect(listed.lastCheck).toBeNull();
  });

  it("a dagwood.json edited into invalid settings: listMonitors and runMonitorsNow answer 400 with the reason", async () => {
    writeSettings({ monitors: { watch: monitor({ schedule: "every hour" }) } });
    const [code, message] = await status(api.listMonitors({}));
    expect(code).toBe(400);
    expect(message).toMatch(
      /dagwood\.json has invalid settings: monitors\.watch\.schedule: a cron schedule has 5 fields/,
    );
    expect((await status(api.runMonitorsNow({})))[0]).toBe(400);
    writeSettings("{ not json");
    expect(await status(api.listMonitors({}))).toEqual([400, expect.stringMatching(/is not valid JSON/)]);
  });
});

describe("a breach through the core, and a person's decisions on its loop", () => {
  let api: CoreApi;
  afterAll(async () => api?.close());

  it("the scheduler runs a due monitor at its time (fake clock); the alert is an open loop", async () => {
    writeTraffic(true);
    writeSettings({ monitors: { watch: monitor({ schedule: "*/15 * * * *" }), manual: monitor() } });
    // A clock at 00:40 whose timers fire when the test moves it.
    const clock = manualClock(START + 40 * 60e3);
    api = await createCoreApi({ catalog, projectDir: dir, monitorScheduler: { clock: clock.scheduler } });
    const listed = await api.listMonitors({});
    expect(listed.monitors.find((m) => m.name === "watch")!.nextRunAt).toBe("2026-12-06T00:45:00.000Z");
    // The monitor's latest alert stands in for a check before any ran (none yet).
    expect(listed.monitors.every((m) => m.lastCheck === null)).toBe(true);

    clock.fire(CHECK_AT);
    await vi.waitFor(
      async () => {
        const w = (await api.listMonitors({})).monitors.find((m) => m.name === "watch")!;
        expect(w.lastCheck).not.toBeNull();
      },
      { timeout: 20_000, interval: 50 },
    );
    const after = await api.listMonitors({});
    const watch = after.monitors.find((m) => m.name === "watch")!;
    expect(watch.lastCheck).toEqual({
      at: "2026-12-06T00:45:00.000Z",
      window: { start: "2026-12-06T00:00:00.000Z", end: "2026-12-06T00:30:00.000Z" },
      rows: 60,
      tested: true,
      breached: true,
      reasons: ["dataset drift: 2 of 2 columns (100 %) ≥ 50 %", "accuracy 0 < registered 0.92 − 0.05"],
    });
    expect([watch.lastError, watch.openAlerts, watch.nextRunAt]).toEqual([
      null,
      1,
      "2026-12-06T01:00:00.000Z",
    ]);
    // The monitor without a schedule did not run.
    expect(after.monitors.find((m) => m.name === "manual")!.lastCheck).toBeNull();

    const loops = await api.monitorLoops({ monitor: "watch" });
    expect(loops).toHaveLength(1);
    const loop = MonitorLoop.parse(loops[0]);
    expect(loop).toMatchObject({
      monitor: "watch",
      model: "m",
      target: "local",
      action: "alert",
      status: "open",
      stage: "alerted",
      window: { start: "2026-12-06T00:00:00.000Z", end: "2026-12-06T00:30:00.000Z" },
    });
    expect(await api.monitorLoops({ status: "closed" })).toEqual([]);
    expect(await api.monitorLoops({ model: "other" })).toEqual([]);
  });

  it("a new core (the app reopened) shows the latest alert from the audit history as the last check", async () => {
    await api.close();
    api = await createCoreApi({ catalog, projectDir: dir, monitorScheduler: false });
    const r = await api.listMonitors({});
    expect(r.scheduler).toBe(false);
    const watch = r.monitors.find((m) => m.name === "watch")!;
    expect(watch.nextRunAt).toBeNull();
    expect(watch.lastCheck).toMatchObject({
      window: { start: "2026-12-06T00:00:00.000Z", end: "2026-12-06T00:30:00.000Z" },
      tested: true,
      breached: true,
      reasons: ["dataset drift: 2 of 2 columns (100 %) ≥ 50 %", "accuracy 0 < registered 0.92 − 0.05"],
    });
    expect(watch.lastError).toBeNull();
    expect(watch.openAlerts).toBe(1);
  });

  it("refuses an unknown loop (404) and a decision its stage does not allow (409, naming the stage)", async () => {
    const [loop] = await api.monitorLoops({ status: "open" });
    expect(await status(api.approveChallenger({ loopId: 999 }))).toEqual([
      404,
      expect.stringMatching(/^No monitor loop 999 in this project/),
    ]);
    expect(await status(api.acknowledgeAlert({ loopId: 999 }))).toEqual([404, expect.any(String)]);
    const [code, message] = await status(api.approveChallenger({ loopId: loop!.id }));
    expect(code).toBe(409);
    expect(message).toContain('is at stage "alerted"');
    expect(message).toContain('"awaiting-approval"');
    expect((await status(api.rejectChallenger({ loopId: loop!.id, reason: "no" })))[0]).toBe(409);
    expect(await status(api.call("approveChallenger", { loopId: "one" }))).toEqual([400, expect.any(String)]);
    // Nothing changed.
    expect((await api.monitorLoops({}))[0]).toEqual(loop);
  });

  it("acknowledges the alert as the app's user: the loop closes, a second acknowledgement is a 409", async () => {
    const [loop] = await api.monitorLoops({ status: "open" });
    const done = await api.acknowledgeAlert({ loopId: loop!.id });
    expect(done).toMatchObject({ id: loop!.id, stage: "acknowledged", status: "closed" });
    expect(done.history.at(-1)!.message).toMatch(/^acknowledged by /);
    expect((await api.listMonitors({})).monitors.find((m) => m.name === "watch")!.openAlerts).toBe(0);
    expect(await api.monitorLoops({ status: "open" })).toEqual([]);
    const [code, message] = await status(api.acknowledgeAlert({ loopId: loop!.id }));
    expect(code).toBe(409);
    expect(message).toContain('is at stage "acknowledged"');
  });
});

describe("the scheduler follows the open project", () => {
  it("stops with its project when another opens, starts for that one, and close() waits for a tick in flight", async () => {
    const other = mkdtempSync(join(tmpdir(), "dagwood-loops-other-"));
    try {
      writeFileSync(
        join(other, "dagwood.json"),
        JSON.stringify({ monitors: { often: monitor({ schedule: "*/5 * * * *" }) } }),
      );
      // A monitor whose window was never alerted: its tick records a new loop.
      writeSettings({ monitors: { switch: monitor({ schedule: "*/15 * * * *" }) } });
      const clock = manualClock(START + 40 * 60e3);
      const { timers } = clock;
      const api = await createCoreApi({
        catalog,
        projectDir: dir,
        monitorScheduler: { clock: clock.scheduler },
      });
      expect(timers.size).toBe(1);
      await api.openProject({ dir: other });
      // The first project's timer is gone; the second's plans its own monitor.
      expect(timers.size).toBe(1);
      const r = await api.listMonitors({});
      expect(r.scheduler).toBe(true);
      expect(r.monitors.map((m) => [m.name, m.nextRunAt])).toEqual([["often", "2026-12-06T00:45:00.000Z"]]);
      // Back to the first: a tick starts at 00:45; close() right after waits for it to end.
      await api.openProject({ dir });
      clock.fire(CHECK_AT);
      // The tick starts in the next turn (a close() in this one would stop it starting at all).
      await new Promise((r) => setImmediate(r));
      await api.close();
      expect(timers.size).toBe(0);
      // The tick had ended when close() did: its alert and loop are in the store.
      const store = new SqliteMetadataStore(join(dir, ".dagwood", "metadata.sqlite"), { projectDir: dir });
      try {
        expect(store.monitorLoops({ monitor: "switch" }).map((l) => [l.stage, l.window.start])).toEqual([
          ["alerted", "2026-12-06T00:00:00.000Z"],
        ]);
      } finally {
        store.close();
      }
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});

/** A clock at `start` whose timers fire only when the test calls `fire` (after moving `now`). */
function manualClock(start: number) {
  const timers = new Set<{ at: number; fn: () => void }>();
  const clock: {
    now: number;
    timers: typeof timers;
    fire(t: number): void;
    scheduler: SchedulerClock;
  } = {
    now: start,
    timers,
    /** Moves to `t` and fires the timers due by then. */
    fire(t: number) {
      clock.now = t;
      for (const x of [...timers].sort((a, b) => a.at - b.at))
        if (x.at <= t) {
          timers.delete(x);
          x.fn();
        }
    },
    scheduler: {
      now: () => clock.now,
      setTimeout: (fn: () => void, ms: number) => {
        const x = { at: clock.now + ms, fn };
        timers.add(x);
        return x;
      },
      clearTimeout: (h: unknown) => void timers.delete(h as { at: number; fn: () => void }),
    },
  };
  return clock;
}

/** A loopback server whose requests hang until `release()`, then answer 503; `calls` counts them. */
async function heldServer() {
  let release!: () => void;
  const held = new Promise<void>((r) => {
    release = r;
  });
  const server = createServer((_req, res) => {
    h.calls++;
    void held.then(() => res.writeHead(503).end("the target is down"));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const h = {
    calls: 0,
    release,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  return h;
}

describe("the scheduler and a project opened again, closed, or decided on", () => {
  it("keeps running the monitors of a project opened again from the same folder", async () => {
    writeTraffic(true);
    writeSettings({ monitors: { again: monitor({ schedule: "*/15 * * * *" }) } });
    const clock = manualClock(START + 40 * 60e3);
    const api = await createCoreApi({
      catalog,
      projectDir: dir,
      monitorScheduler: { clock: clock.scheduler },
    });
    try {
      // The same folder: a new Project object, and no project change for the scheduler to follow.
      await api.openProject({ dir });
      clock.fire(CHECK_AT);
      await vi.waitFor(
        async () => {
          const again = (await api.listMonitors({})).monitors.find((m) => m.name === "again")!;
          expect(again.lastCheck).toMatchObject({ at: "2026-12-06T00:45:00.000Z", breached: true });
        },
        { timeout: 10_000, interval: 50 },
      );
      expect((await api.monitorLoops({ monitor: "again" })).map((l) => l.stage)).toEqual(["alerted"]);
    } finally {
      await api.close();
    }
  });

  it("close() cancels a check waiting behind the monitor's tick in flight: it never starts", async () => {
    const held = await heldServer();
    writeSettings({
      targets: { remote: { url: held.url } },
      monitors: { slow: monitor({ target: "remote", schedule: "*/15 * * * *" }) },
    });
    const clock = manualClock(START + 40 * 60e3);
    const api = await createCoreApi({
      catalog,
      projectDir: dir,
      monitorScheduler: { clock: clock.scheduler },
    });
    // The scheduled tick at 00:45 hangs reading the remote target's log.
    clock.fire(CHECK_AT);
    await vi.waitFor(() => expect(held.calls).toBe(1), { timeout: 10_000, interval: 20 });
    const queued = status(api.runMonitorsNow({ names: ["slow"] }));
    // Waiting counts as a run in progress: another project is not opened under it.
    expect((await status(api.openProject({ dir: tmpdir() })))[0]).toBe(409);
    const closing = api.close();
    held.release();
    await closing;
    expect(await queued).toEqual([409, expect.stringMatching(/canceled: the app is closing/)]);
    // Only the scheduled tick's requests: the queued check never ran.
    const calls = held.calls;
    expect(calls).toBeGreaterThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 50));
    expect(held.calls).toBe(calls);
    await held.close();
  });
});

/**
 * A project whose champion r v1 (a real model on x and color) served traffic
 * whose x moved far out of its training range, every request labelled; a
 * retraining monitor on the built-in local target, and a retraining pipeline
 * that reads the fresh rows and then fails.
 */
async function retrainProject(
  opts: { monitor?: Record<string, unknown>; awaitingApproval?: boolean } = {},
): Promise<{ dir: string; loopId: number | null }> {
  const p = mkdtempSync(join(tmpdir(), "dagwood-loops-retrain-"));
  // The champion: a real model on x and color, with the reference profile of its training columns.
  mkdirSync(join(p, ".dagwood"), { recursive: true });
  mkdirSync(join(p, "out"));
  const store = new SqliteMetadataStore(join(p, ".dagwood", "metadata.sqlite"), { projectDir: p });
  await writeTestReferenceProfile(p, join(p, "out"));
  const { model, bytes } = await trainTestModel({ task: "classification" });
  const files = writeTestModelFiles(join(p, "out"), model, bytes);
  // The rows a deploy's parity check runs the model on.
  writeFileSync(join(p, "out", "heldout.json"), JSON.stringify(rowsFor(model, testRows())));
  const register = (version: number) =>
    store.registry.registerVersion({
      name: "r",
      runId: `run-${version}`,
      nodeId: "train",
      modelFingerprint: `f-r${version}`,
      estimator: model.estimator,
      task: model.task,
      signature: model.signature,
      metrics: { accuracy: 0.95 },
      parity: null,
      files: { ...files, heldout: join(p, "out", "heldout.json") },
      lineage: {
        run: {
          id: `run-${version}`,
          pipeline: "p",
          pipelinePath: null,
          pipelineHash: "h",
          startedAt: "",
          user: null,
        },
        nodeId: "train",
        datasets: [],
        params: {},
        environment: {},
      },
      ...(version === 1 ? { alias: "champion" } : {}),
      actor: "ana",
    });
  register(1);
  let loopId: number | null = null;
  if (opts.awaitingApproval) {
    // A challenger that passed its gate and waits for a person (promote.mode "approve").
    register(2);
    const loop = store.createMonitorLoop({
      monitor: "drifting",
      model: "r",
      target: "local",
      action: "retrain",
      window: { start: new Date(START).toISOString(), end: new Date(START + 30 * 60e3).toISOString() },
      reasons: ["dataset drift"],
      champion: 1,
      message: "alerted",
      auditId: null,
    })!;
    store.updateMonitorLoop(
      loop.id,
      { stage: "alerted" },
      { stage: "awaiting-approval", challenger: 2, event: { message: "v2 passed the gate" } },
    );
    loopId = loop.id;
  }
  store.close();
  // Served traffic whose x moved far out of the training range (drift), every request labelled.
  const entries = Array.from({ length: 60 }, (_, i) => ({
    seq: i + 1,
    time: new Date(START + i * 20e3 + 1000).toISOString(),
    requestId: `q${i}`,
    model: "r",
    version: 1,
    role: "primary",
    latencyMs: 1,
    inputs: [
      { name: "x", datatype: "FP64", shape: [1, 1], data: [50 + (i % 10)] },
      { name: "color", datatype: "BYTES", shape: [1, 1], data: [["red", "green", "blue"][i % 3]] },
    ],
    outputs: [{ name: "label", datatype: "BYTES", shape: [1], data: ["high"] }],
  }));
  const feedback = entries.map((e, i) => ({
    id: e.requestId,
    label: i % 2 ? "high" : "low",
    seq: i + 1,
    time: new Date(START + 25 * 60e3).toISOString(),
  }));
  writeServedLog(p, "r", entries, feedback);
  // The retraining pipeline reads the fresh rows, then fails on a column they do not have.
  mkdirSync(join(p, "pipelines"));
  writeFileSync(
    join(p, "pipelines", "retrain.dag.json"),
    JSON.stringify({
      format: "dagwood.pipeline/1",
      name: "retrain",
      params: { freshData: "none.parquet" },
      nodes: [
        { id: "fresh", block: "ingest.file", params: { path: "${freshData}" } },
        { id: "fit", block: "transform.sql", params: { query: "SELECT no_such_column FROM input" } },
      ],
      edges: [{ from: "fresh.out", to: "fit.in" }],
    }),
  );
  writeFileSync(
    join(p, "dagwood.json"),
    JSON.stringify({
      monitors: {
        drifting: {
          model: "r@champion",
          target: "local",
          window: "30m",
          minRows: 10,
          drift: { shareThreshold: 0.5 },
          schedule: "*/15 * * * *",
          action: "retrain",
          retrain: { pipeline: "pipelines/retrain.dag.json" },
          gate: { holdout: 0.3, minRows: 10 },
          ...opts.monitor,
        },
      },
    }),
  );

  return { dir: p, loopId };
}

describe("a retraining loop run by the app's scheduler", () => {
  it("runs the retraining pipeline in the app (events out, the run tagged); a failed run leaves the alert open", async () => {
    let p = "";
    try {
      p = (await retrainProject()).dir;
      const clock = manualClock(START + 40 * 60e3);
      const api = await createCoreApi({
        catalog,
        projectDir: p,
        monitorScheduler: { clock: clock.scheduler },
      });
      const events: RunEvent[] = [];
      api.onEvent((e) => events.push(e));
      try {
        // 00:45: the tick checks 00:00–00:30, alerts, writes the fresh rows and runs the pipeline.
        clock.fire(CHECK_AT);
        let loop: MonitorLoop | undefined;
        await vi.waitFor(
          async () => {
            [loop] = await api.monitorLoops({ monitor: "drifting" });
            expect(loop?.stage).toBe("failed");
          },
          { timeout: 60_000, interval: 100 },
        );
        expect(loop!.status).toBe("open");
        expect(loop!.runId).toEqual(expect.any(String));
        expect(loop!.outcome).toMatch(/no_such_column/);
        expect(loop!.challenger).toBeNull();
        // The run showed live in the app, and carries the loop's tags (alert → run).
        const runEvents = events.filter((e) => e.runId === loop!.runId).map((e) => e.type);
        expect(runEvents[0]).toBe("run.started");
        expect(runEvents.at(-1)).toBe("run.finished");
        const { run } = await api.getRun({ runId: loop!.runId! });
        expect(run.status).toBe("failed");
        expect(run.tags).toMatchObject({
          "dagwood.monitor": "drifting",
          "dagwood.loop": String(loop!.id),
          "dagwood.alert": String(loop!.history[0]!.auditId),
        });
        // The fresh rows it was given: the loop's file in the project.
        expect(run.params).toMatchObject({ freshData: `monitoring/loops/${loop!.id}/fresh.parquet` });
        const listed = (await api.listMonitors({})).monitors[0]!;
        expect([listed.openAlerts, listed.lastCheck?.breached]).toEqual([1, true]);
      } finally {
        await api.close();
      }
    } finally {
      if (p) rmSync(p, { recursive: true, force: true });
    }
  });
});

/** A core (no scheduler) over a project whose loop's challenger v2 awaits a person's approval. */
async function withAwaitingApproval(fn: (api: CoreApi, loopId: number) => Promise<void>) {
  let p = "";
  let api: CoreApi | null = null;
  try {
    const made = await retrainProject({ monitor: { promote: { mode: "approve" } }, awaitingApproval: true });
    p = made.dir;
    api = await createCoreApi({ catalog, projectDir: p, monitorScheduler: false });
    await fn(api, made.loopId!);
  } finally {
    await api?.close();
    if (p) rmSync(p, { recursive: true, force: true });
  }
}

describe("a person's approval in the app", () => {
  it("deploys the challenger to the built-in local server (started for it) and makes it the champion", () =>
    withAwaitingApproval(async (api, loopId) => {
      // A challenger awaiting approval is not an alert to acknowledge.
      expect((await status(api.acknowledgeAlert({ loopId })))[0]).toBe(409);
      const done = await api.approveChallenger({ loopId });
      expect(done).toMatchObject({ stage: "promoted", status: "closed", challenger: 2 });
      expect(done.outcome).toMatch(/^promoted v2 \(approved by /);
      expect((await api.getModelVersion({ name: "r", ref: "champion" })).version).toBe(2);
      // The built-in server was started for the deploy and serves v2.
      const local = (await api.deploymentStatus({})).find((t) => t.name === "local")!;
      expect(local.running).toBe(true);
      expect(local.models.find((m) => m.name === "r")?.serving).toBe(2);
      expect((await status(api.approveChallenger({ loopId })))[0]).toBe(409);
    }));
});

describe("a person's rejection in the app", () => {
  it("keeps the champion with the reason given, deploying nothing", () =>
    withAwaitingApproval(async (api, loopId) => {
      const kept = await api.rejectChallenger({ loopId, reason: "not on a Friday" });
      expect(kept).toMatchObject({ stage: "kept", status: "closed", challenger: 2 });
      expect(kept.outcome).toMatch(/^champion kept: v2 rejected by .*: not on a Friday$/);
      expect((await api.getModelVersion({ name: "r", ref: "champion" })).version).toBe(1);
      expect((await api.auditLog({ model: "r" })).some((e) => e.action.startsWith("deployment."))).toBe(
        false,
      );
      expect(await status(api.rejectChallenger({ loopId }))).toEqual([
        409,
        expect.stringContaining('is at stage "kept"'),
      ]);
    }));
});

describe("a person's decision and the monitor's tick", () => {
  it("a rejection waits for the tick of the loop's monitor in flight, then goes through", async () => {
    let p = "";
    let api: CoreApi | null = null;
    const held = await heldServer();
    try {
      const made = await retrainProject({ awaitingApproval: true });
      p = made.dir;
      // The monitor now reads a remote target whose log hangs: its tick stays in flight.
      writeFileSync(
        join(p, "dagwood.json"),
        JSON.stringify({
          targets: { remote: { url: held.url } },
          monitors: {
            drifting: {
              model: "r@champion",
              target: "remote",
              window: "30m",
              minRows: 10,
              schedule: "*/15 * * * *",
              action: "retrain",
              retrain: { pipeline: "pipelines/retrain.dag.json" },
              promote: { mode: "approve" },
            },
          },
        }),
      );
      const clock = manualClock(START + 40 * 60e3);
      api = await createCoreApi({ catalog, projectDir: p, monitorScheduler: { clock: clock.scheduler } });
      clock.fire(CHECK_AT);
      await vi.waitFor(() => expect(held.calls).toBe(1), { timeout: 10_000, interval: 20 });
      let settled = false;
      const rejecting = api.rejectChallenger({ loopId: made.loopId!, reason: "too soon" }).finally(() => {
        settled = true;
      });
      await new Promise((r) => setTimeout(r, 100));
      expect(settled).toBe(false);
      expect((await api.monitorLoops({}))[0]!.stage).toBe("awaiting-approval");
      held.release();
      expect(await rejecting).toMatchObject({ stage: "kept", status: "closed" });
      // The tick ended first: its failed check is recorded.
      const listed = (await api.listMonitors({})).monitors[0]!;
      expect(listed.lastError).toMatch(/503|down/);
    } finally {
      held.release();
      await api?.close();
      await held.close();
      if (p) rmSync(p, { recursive: true, force: true });
    }
  });
});

describe("the pipeline runner of a loop's retraining", () => {
  it("runs a project pipeline with params as startRun does: events out, tags on the run, counted while it runs", async () => {
    const p = mkdtempSync(join(tmpdir(), "dagwood-loops-run-"));
    try {
      mkdirSync(join(p, "data"));
      mkdirSync(join(p, "pipelines"));
      writeFileSync(join(p, "data", "a.csv"), "x\n1\n2\n3\n");
      writeFileSync(
        join(p, "pipelines", "retrain.dag.json"),
        JSON.stringify({
          format: "dagwood.pipeline/1",
          name: "retrain",
          params: { freshData: "data/none.csv" },
          nodes: [
            { id: "fresh", block: "ingest.file", params: { path: "${freshData}" } },
            { id: "count", block: "transform.sql", params: { query: "SELECT count(*) AS n FROM input" } },
          ],
          edges: [{ from: "fresh.out", to: "count.in" }],
        }),
      );
      const project = await Project.open(p);
      const state = createCoreState(catalog, project);
      const events: RunEvent[] = [];
      // Whether the run counted as in progress while it ran (close and cancel wait for what is there).
      const activeWhileRunning: boolean[] = [];
      state.onEvent((e) => {
        events.push(e);
        if (e.type === "node.finished") activeWhileRunning.push(state.active.has(e.runId));
      });
      const run = projectRunPipeline(state, project);
      const pending = run({
        pipeline: "pipelines/retrain.dag.json",
        params: { freshData: "data/a.csv" },
        tags: { "dagwood.loop": "7" },
      });
      const r = await pending;
      expect(activeWhileRunning).toEqual([true, true]);
      expect(r).toEqual({ runId: expect.any(String), status: "succeeded" });
      expect(state.active.size).toBe(0);
      expect(events.filter((e) => e.runId === r.runId).map((e) => e.type)).toEqual(
        expect.arrayContaining(["run.started", "node.finished", "run.finished"]),
      );
      const record = project.metadata.getRun(r.runId)!;
      expect(record.tags).toMatchObject({ "dagwood.loop": "7" });
      expect(record.params).toMatchObject({ freshData: "data/a.csv" });

      // A run that fails resolves with its error; a pipeline that cannot be planned or found throws.
      const failed = await run({ pipeline: "pipelines/retrain.dag.json", params: {}, tags: {} });
      expect(failed.status).toBe("failed");
      expect(failed.error).toMatch(/^node fresh: .*none\.csv/);
      await expect(run({ pipeline: "pipelines/absent.dag.json", params: {}, tags: {} })).rejects.toThrow(
        /no pipeline pipelines\/absent\.dag\.json/,
      );
      await expect(run({ pipeline: "../outside.dag.json", params: {}, tags: {} })).rejects.toThrow(ApiError);
      await expect(
        run({ pipeline: "pipelines/retrain.dag.json", params: { nope: 1 }, tags: {} }),
      ).rejects.toThrow(/has problems/);
      // Stopped with the tick that started it (the app closing) while it runs: no outcome for the
      // loop to record (it is taken up again), where a person's cancel is the run's outcome.
      const tick = new AbortController();
      let stop = (_id: string) => tick.abort();
      const off = state.onEvent((e) => {
        if (e.type === "run.started") queueMicrotask(() => stop(e.runId));
      });
      const args = { pipeline: "pipelines/retrain.dag.json", params: { freshData: "data/a.csv" }, tags: {} };
      await expect(projectRunPipeline(state, project, tick.signal)(args)).rejects.toThrow(RunStoppedError);
      expect(state.active.size).toBe(0);
      stop = (id) => state.active.get(id)?.controller.abort();
      expect(await projectRunPipeline(state, project, new AbortController().signal)(args)).toEqual({
        runId: expect.any(String),
        status: "canceled",
      });
      off();
      // Canceled with the tick that started it (the app closing): not started at all.
      const closing = new AbortController();
      closing.abort();
      await expect(
        projectRunPipeline(
          state,
          project,
          closing.signal,
        )({ pipeline: "pipelines/retrain.dag.json", params: {}, tags: {} }),
      ).rejects.toThrow(/canceled/);
      project.close();
    } finally {
      rmSync(p, { recursive: true, force: true });
    }
  });
});
