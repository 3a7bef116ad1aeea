/**
 * The retraining loop against a real `dagwood serve` on loopback and a real
 * registry: the champion (trained before the world shifted) serves, traffic
 * and feedback labels of the shifted world arrive, the monitor's performance
 * breaches, and the loop retrains (a fake pipeline runner that registers a
 * real model trained on the shifted world, or a worse one), gates, deploys a
 * canary or waits for approval, and promotes or keeps the champion. Expected
 * figures are counted here from the labels sent and the models' own answers.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeAudit } from "../api/audit";
import { RunStoppedError } from "../api/handlers/loops";
import { SqlSession } from "../data/sql";
import { deployCanary, promoteCanary } from "../deploy/canary";
import { deployVersion } from "../deploy/deploy";
import { rowsFor } from "../deploy/heldout";
import { DeployError } from "../deploy/targets";
import { testRows } from "../deploy/testing";
import { outputHeadline } from "../engine/headline";
import type { DagwoodModel } from "../ml/model";
import { predictTable } from "../ml/model";
import { readProjectSettings } from "../project/project";
import { createServer, type DagwoodServer } from "../serving/server";
import { inferTestRow, trainTestModel } from "../serving/testing";
import { createTempStore } from "../store/metadata";
import { lineageGraph } from "../tracking/lineage";
import { startTestRun } from "../tracking/testing";
import {
  acknowledgeAlert,
  advanceLoop,
  approveChallenger,
  getLoop,
  LoopNotFoundError,
  LoopStateError,
  listLoops,
  type RunPipeline,
  rejectChallenger,
  runMonitor,
} from "./loop";
import { checkMonitor, type MonitorProject } from "./monitors";
import { writeTestReferenceProfile } from "./testing";

const TOKEN = "loop-token";
const tokens = { env: { DAGWOOD_TOKEN_SRV: TOKEN }, platform: "aix" as const };
const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
const COLORS = ["red", "green", "blue"];
const DAY = 86400e3;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Just after today's 1-day window ends: the traffic sent now is in the latest complete window. */
const tomorrow = () => Math.floor(Date.now() / DAY) * DAY + DAY + 1;
/** The world after the shift: trainTestModel's boundary moved by 2 (what a model trained with shift 2 learns). */
const truth = (x: number, color: string) => (x + (color === "red" ? 3 : 0) > 7 ? "high" : "low");
/** The world shifted back: the champion's boundary is right again, a challenger's trained on `truth` is not. */
const shiftedBack = (x: number, color: string) => (x + (color === "red" ? 3 : 0) > 5 ? "high" : "low");

let server: DagwoodServer;
let url: string;
let repo: string;
const savedToken = process.env.DAGWOOD_TOKEN_SRV;
const models = new Map<number, { model: DagwoodModel; bytes: Uint8Array }>();

async function trained(shift: number) {
  let m = models.get(shift);
  if (!m) {
    m = await trainTestModel({ task: "classification", shift });
    models.set(shift, m);
  }
  return m;
}

beforeAll(async () => {
  repo = mkdtempSync(join(tmpdir(), "dagwood-loop-serve-"));
  server = createServer({ repository: repo, token: TOKEN, log: () => {}, logAll: true });
  url = await server.listen(0, "127.0.0.1");
  process.env.DAGWOOD_TOKEN_SRV = TOKEN;
}, 60_000);

afterAll(async () => {
  if (savedToken === undefined) delete process.env.DAGWOOD_TOKEN_SRV;
  else process.env.DAGWOOD_TOKEN_SRV = savedToken;
  await server?.close();
  rmSync(repo, { recursive: true, force: true });
});

interface World {
  project: MonitorProject;
  name: string;
  /** Requests sent, what answered, and the label sent. */
  sent: { id: string; x: number; color: string; version: number; said: string; label: string }[];
  /** Registers a model trained with `shift` from run `runId` (the same fingerprint as a version before: that version answers). */
  register(
    shift: number,
    runId: string,
    tags?: Record<string, string>,
    fingerprint?: string,
  ): Promise<number>;
  cleanup(): void;
}

let worlds = 0;

/** A project whose model (champion v1, trained before the shift) serves on `srv`, and a monitor of it. */
async function world(monitor: Record<string, unknown>): Promise<World> {
  const temp = createTempStore();
  const name = `m${++worlds}`;
  const staging = join(temp.dir, "staging");
  mkdirSync(staging);
  await writeTestReferenceProfile(temp.dir, staging);

  const register = async (
    shift: number,
    runId: string,
    tags: Record<string, string> = {},
    fingerprint = `shift-${shift}-${runId}`,
  ) => {
    const { model, bytes } = await trained(shift);
    const files = {
      native: join(staging, "model.json"),
      onnx: join(staging, "model.onnx"),
      profile: join(staging, "reference-profile.json"),
      heldout: join(staging, "heldout.json"),
    };
    writeFileSync(files.native, JSON.stringify(model));
    writeFileSync(files.onnx, bytes);
    writeFileSync(files.heldout, JSON.stringify(rowsFor(model, testRows())));
    if (!temp.store.getRun(runId)) {
      startTestRun(temp.store, runId);
      temp.store.setTags(runId, tags);
    }
    const { version } = temp.store.registry.registerVersion({
      name,
      runId,
      nodeId: "train",
      modelFingerprint: fingerprint,
      estimator: model.estimator,
      task: model.task,
      signature: model.signature,
      metrics: { accuracy: 0.95 },
      parity: null,
      files,
      lineage: {
        run: {
          id: runId,
          pipeline: "retrain",
          pipelinePath: null,
          pipelineHash: null,
          startedAt: "",
          user: null,
        },
        nodeId: "train",
        datasets: [],
        params: {},
        environment: {},
      },
      actor: "tester",
    });
    return version.version;
  };
  await register(0, "run-champion");
  temp.store.finishRun("run-champion", "succeeded");
  temp.store.registry.setAlias(name, "champion", 1, "tester");
  const settings = {
    targets: { srv: { url, kind: "dagwood" } },
    monitors: {
      watch: {
        model: `${name}@champion`,
        target: "srv",
        window: "1d",
        minRows: 30,
        performance: { metric: "accuracy", tolerance: 0.05 },
        action: "retrain",
        retrain: { pipeline: "retrain.dag.json", params: { depth: 3 } },
        gate: { holdout: 0.3, minRows: 20 },
        promote: { mode: "canary", percent: 50, window: "1h", minRows: 10, tolerance: 0.02 },
        ...monitor,
      },
    },
  };
  writeFileSync(join(temp.dir, "dagwood.json"), JSON.stringify(settings));
  const project: MonitorProject = {
    dir: temp.dir,
    metadata: temp.store,
    settings: readProjectSettings(temp.dir),
  };
  await deployVersion({
    project: { dir: temp.dir, settings: project.settings, registry: temp.store.registry },
    target: "srv",
    name,
    ref: 1,
    actor: "tester",
    tokens,
  });
  return { project, name, sent: [], register, cleanup: temp.cleanup };
}

/** `n` requests of the shifted world, each labelled with the truth (those answered by `labelled` versions only, when given). */
async function traffic(
  w: World,
  prefix: string,
  n: number,
  world = truth,
  labelled?: (version: number) => boolean,
): Promise<void> {
  const labels: { id: string; label: string }[] = [];
  for (let i = 0; i < n; i++) {
    const id = `${prefix}-${i}`;
    const x = ((i * 37 + prefix.length * 11) % 100) / 10;
    const color = COLORS[i % 3]!;
    const res = await inferTestRow(url, w.name, id, x, color);
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      model_version: string;
      outputs: { name: string; data: unknown[] }[];
    };
    const said = String(body.outputs.find((o) => o.name === "label")!.data[0]);
    const label = world(x, color);
    w.sent.push({ id, x, color, version: Number(body.model_version), said, label });
    if (!labelled || labelled(Number(body.model_version))) labels.push({ id, label });
  }
  await sendLabels(w, labels);
}

/** Feedback labels, as a batch to `dagwood serve`. */
async function sendLabels(w: World, labels: { id: string; label: string }[]): Promise<void> {
  const res = await fetch(`${url}/v2/models/${w.name}/feedback`, {
    method: "POST",
    headers: auth,
    body: JSON.stringify({ feedback: labels }),
  });
  expect(res.status, await res.clone().text()).toBe(200);
}

/** A fake pipeline runner: records a run with the tags and registers a real model trained with `shift`. */
function runner(w: World, shift: number | null, opts: { fail?: string; throwAfter?: boolean } = {}) {
  const calls: Parameters<RunPipeline>[0][] = [];
  const run: RunPipeline = async (req) => {
    calls.push(req);
    const runId = `retrain-${w.name}-${calls.length}`;
    if (shift !== null) await w.register(shift, runId, req.tags);
    else {
      startTestRun(w.project.metadata, runId);
      w.project.metadata.setTags(runId, req.tags);
    }
    w.project.metadata.finishRun(runId, opts.fail ? "failed" : "succeeded", opts.fail ?? null);
    if (opts.throwAfter) throw new Error("the engine crashed after the run");
    return opts.fail ? { runId, status: "failed", error: opts.fail } : { runId, status: "succeeded" };
  };
  return { run, calls };
}

/**
 * A fake pipeline runner whose model is one registered before (same fingerprint): the registry answers
 * that version (created: false), and the run's register node keeps it as its output, as the engine does.
 */
function sameModelRunner(w: World, shift: number, fingerprint: string) {
  const calls: string[] = [];
  const run: RunPipeline = async (req) => {
    const runId = `retrain-${w.name}-${calls.length + 1}`;
    calls.push(runId);
    const version = await w.register(shift, runId, req.tags, fingerprint);
    const value = {
      type: "modelVersion" as const,
      data: { name: w.name, version, created: false, modelFingerprint: fingerprint },
      fingerprint: "register-output",
    };
    w.project.metadata.recordNodeRun({
      runId,
      nodeId: "register",
      block: "register",
      blockVersion: 1,
      status: "ran",
      reason: null,
      cacheKey: null,
      paramsHash: null,
      inputsHash: null,
      ms: 1,
      error: null,
      outputs: {
        version: { type: value.type, fingerprint: value.fingerprint, headline: outputHeadline(value) },
      },
      inputs: {},
    });
    w.project.metadata.finishRun(runId, "succeeded");
    return { runId, status: "succeeded" };
  };
  return { run, calls };
}

/** A fake pipeline runner stopped by the app's closing: it leaves run stopped-run canceled, as the app's runner does, and throws. */
function stoppingRunner(w: World, message: string): RunPipeline {
  return async (req) => {
    startTestRun(w.project.metadata, "stopped-run");
    w.project.metadata.setTags("stopped-run", req.tags);
    w.project.metadata.finishRun("stopped-run", "canceled");
    throw new RunStoppedError(message);
  };
}

/** A later breach of the monitor watch (a window in 2099), raised while v1 is the champion. */
function laterLoop(w: World) {
  return w.project.metadata.createMonitorLoop({
    monitor: "watch",
    model: w.name,
    target: "srv",
    action: "retrain",
    window: { start: "2099-01-01T00:00:00.000Z", end: "2099-01-02T00:00:00.000Z" },
    reasons: ["later"],
    champion: 1,
    message: "alert: later",
    auditId: null,
  })!;
}

/** Runs `test` in a new world of `monitor` (see world), cleaned up afterwards whatever the test's outcome. */
async function withWorld(monitor: Record<string, unknown>, test: (w: World) => Promise<void>): Promise<void> {
  const w = await world(monitor);
  try {
    await test(w);
  } finally {
    w.cleanup();
  }
}

/** Advances loop `id` of `w`'s project one tick, retraining with `run`. */
const advance = (w: World, id: number, run: RunPipeline) =>
  advanceLoop(w.project, id, { runPipeline: run, tokens });

/** The target's traffic policy for a model, as the server answers it. */
async function policyOf(
  name: string,
): Promise<{ primary?: number; canary?: { version: number; percent: number } }> {
  const res = await fetch(`${url}/v2/repository/models/${name}/traffic`, { headers: auth });
  return (
    (await res.json()) as { policy: { primary?: number; canary?: { version: number; percent: number } } }
  ).policy;
}

/** Accuracy counted by hand: the share of rows whose answer equals the label. */
const accuracyOf = (rows: { said: string; label: string }[]) =>
  rows.filter((r) => r.said === r.label).length / rows.length;

const audits = (w: World, prefix: string) =>
  w.project.metadata.registry
    .audit({ model: w.name, limit: 1000 })
    .filter((e) => (prefix.endsWith(".") ? e.action.startsWith(prefix) : e.action === prefix))
    .reverse();

/** Breaches the monitor (the champion answers the shifted world) and answers the new loop. */
async function breach(w: World) {
  await traffic(w, "day", 100);
  const check = await checkMonitor(w.project, "watch", { now: tomorrow() });
  expect([check.breached, check.alerted]).toEqual([true, true]);
  expect(check.loop).not.toBeNull();
  return getLoop(w.project.metadata, check.loop!)!;
}

/** Breaches the monitor and advances its loop until a challenger trained on the shifted world serves as a canary. */
async function toCanary(w: World) {
  const loop = await breach(w);
  const atCanary = await advance(w, loop.id, runner(w, 2).run);
  expect(atCanary.stage, JSON.stringify(atCanary.history, null, 1)).toBe("canary");
  return { loop, atCanary };
}

describe("the retraining loop over dagwood serve", () => {
  it("alert → retrain on the fresh labelled rows → gate → canary → promoted, every step recorded", async () => {
    await withWorld({}, async (w) => {
      const loop = await breach(w);
      expect(loop).toMatchObject({
        stage: "alerted",
        status: "open",
        champion: 1,
        action: "retrain",
        model: w.name,
      });
      const { run, calls } = runner(w, 2);

      // Advanced with the real clock, so the canary's window starts now.
      const atCanary = await advance(w, loop.id, run);
      expect(atCanary.stage, JSON.stringify(atCanary.history, null, 1)).toBe("canary");
      expect(calls).toHaveLength(1);
      // The run got the fresh rows' file and the tags that tie it to the alert.
      const alertAudit = audits(w, "monitor.alert")[0]!;
      expect(calls[0]).toEqual({
        pipeline: "retrain.dag.json",
        params: { depth: 3, freshData: `monitoring/loops/${loop.id}/fresh.parquet` },
        tags: {
          "dagwood.monitor": "watch",
          "dagwood.loop": String(loop.id),
          "dagwood.alert": String(alertAudit.id),
        },
      });
      // fresh.parquet: the oldest 70 of the 100 labelled rows, the model's inputs and its target `y`; gate.parquet: the freshest 30.
      const instance = await DuckDBInstance.create(":memory:");
      const sql = new SqlSession(await instance.connect());
      const fresh = await sql.all<{ x: number; color: string; y: string }>(
        `SELECT * FROM read_parquet('${join(w.project.dir, "monitoring", "loops", String(loop.id), "fresh.parquet")}')`,
      );
      const gateRows = await sql.all<{ x: number; color: string; y: string }>(
        `SELECT * FROM read_parquet('${join(w.project.dir, "monitoring", "loops", String(loop.id), "gate.parquet")}')`,
      );
      sql.connection.closeSync();
      instance.closeSync();
      const day = w.sent.filter((s) => s.id.startsWith("day-"));
      expect(fresh.map((r) => [r.x, r.color, r.y])).toEqual(
        day.slice(0, 70).map((s) => [s.x, s.color, s.label]),
      );
      expect(gateRows.map((r) => [r.x, r.color, r.y])).toEqual(
        day.slice(70).map((s) => [s.x, s.color, s.label]),
      );

      // The gate's figures, counted by hand: the champion's answers on the gate rows, the challenger's own predictions.
      const challengerModel = (await trained(2)).model;
      const predicted = predictTable(challengerModel, {
        rows: 30,
        columns: [
          {
            name: "x",
            kind: "numeric",
            type: "DOUBLE",
            values: Float64Array.from(day.slice(70), (s) => s.x),
          },
          {
            name: "color",
            kind: "categorical",
            type: "VARCHAR",
            codes: Int32Array.from(day.slice(70), (s) => COLORS.indexOf(s.color)),
            dictionary: COLORS,
          },
        ],
      }).label!;
      const championAccuracy = accuracyOf(day.slice(70));
      const challengerAccuracy = accuracyOf(
        day.slice(70).map((s, i) => ({ said: String(predicted[i]), label: s.label })),
      );
      expect(championAccuracy).toBeLessThan(challengerAccuracy);
      expect(atCanary.gate).toEqual({
        metric: "accuracy",
        higherIsBetter: true,
        champion: expect.closeTo(championAccuracy, 12),
        challenger: expect.closeTo(challengerAccuracy, 12),
        margin: 0,
        rows: 30,
        passed: true,
      });
      expect(atCanary).toMatchObject({ runId: `retrain-${w.name}-1`, challenger: 2 });
      expect(atCanary.canary).toMatchObject({
        target: "srv",
        version: 2,
        percent: 50,
        metric: "accuracy",
        held: null,
      });
      expect(w.project.metadata.registry.getVersion(w.name, "challenger")?.version).toBe(2);
      expect(w.project.metadata.registry.getVersion(w.name, "champion")?.version).toBe(1);

      // Before the window ends, nothing happens; a second advance never runs the pipeline again.
      expect((await advance(w, loop.id, run)).stage).toBe("canary");
      expect(calls).toHaveLength(1);

      // After its window but with no canary traffic yet: it waits for labelled rows, saying so once.
      const after = Date.parse(atCanary.canary!.until) + 1000;
      const idle = await advanceLoop(w.project, loop.id, { runPipeline: run, tokens, now: after });
      expect([idle.stage, idle.history.at(-1)?.message]).toEqual([
        "canary",
        `waiting for labelled rows: canary 0 of 10 (0 answered by v2), primary 0 of 10 (0 answered) since ${atCanary.canary!.since}`,
      ]);
      expect(
        (await advanceLoop(w.project, loop.id, { runPipeline: run, tokens, now: after })).history,
      ).toHaveLength(idle.history.length);

      // Canary traffic, then judged after its window: the canary answers better than the primary.
      await pause(5); // the canary's span starts after the ms its deploy was recorded in
      await traffic(w, "canary", 80);
      const done = await advanceLoop(w.project, loop.id, { runPipeline: run, tokens, now: after });
      expect(done.stage, JSON.stringify(done.history, null, 1)).toBe("promoted");
      expect(done.status).toBe("closed");
      const canaryRows = w.sent.filter((s) => s.id.startsWith("canary-"));
      const byCanary = canaryRows.filter((s) => s.version === 2);
      const byPrimary = canaryRows.filter((s) => s.version === 1);
      expect(byCanary.length).toBeGreaterThan(10);
      expect(done.canary).toMatchObject({
        held: true,
        canary: {
          version: 2,
          rows: byCanary.length,
          labelled: byCanary.length,
          value: expect.closeTo(accuracyOf(byCanary), 12),
        },
        primary: {
          version: 1,
          rows: byPrimary.length,
          labelled: byPrimary.length,
          value: expect.closeTo(accuracyOf(byPrimary), 12),
        },
      });
      expect(done.outcome).toMatch(/^promoted v2: accuracy /);
      expect(w.project.metadata.registry.getVersion(w.name, "champion")?.version).toBe(2);
      // The server: v2 is the primary now, no canary.
      expect(await policyOf(w.name)).toEqual({ primary: 2 });
      expect(audits(w, "monitor.").map((e) => e.action)).toEqual([
        "monitor.alert",
        "monitor.retrain",
        "monitor.gate",
        "monitor.canary",
        "monitor.canary",
        "monitor.promoted",
      ]);
      expect(
        audits(w, "monitor.")
          .slice(1)
          .every((e) => e.details.loop === loop.id),
      ).toBe(true);
      // The model's history in words (app/api/audit.ts), as the app and `dagwood models history` show it.
      const words = audits(w, "monitor.")
        .slice(1)
        .map((e) => describeAudit(e));
      expect(words[0]).toBe(
        `loop ${loop.id} of monitor watch: retraining run retrain-${w.name}-1 registered v2`,
      );
      expect(words[1]).toMatch(
        new RegExp(`^loop ${loop.id}: v2 passed the gate: accuracy [\\d.]+ vs champion [\\d.]+ on 30 rows$`),
      );
      expect(words[2]).toBe(`loop ${loop.id}: v2 serves 50 % of srv as a canary`);
      expect(words[3]).toBe(`loop ${loop.id}: canary v2 held on srv`);
      expect(words[4]).toMatch(new RegExp(`^loop ${loop.id}: v2 promoted \\(promoted v2: accuracy `));
      expect(audits(w, "deployment.canary")).toHaveLength(1);
      expect(done.history.map((h) => h.stage)).toEqual([
        "alerted",
        "retraining",
        "retraining",
        "gating",
        "canary",
        "canary",
        "canary",
        "canary",
        "promoted",
      ]);
      expect(listLoops(w.project.metadata, { status: "open" })).toEqual([]);

      // Lineage ties them: v1 (serving when the breach was seen) → the alert → the retraining run → v2 → its canary
      // and its promotion on srv (app/tracking/lineage.ts, as the Lineage view draws it).
      const g = lineageGraph(w.project.metadata, { model: w.name });
      const alertNode = `alert:${loop.id}`;
      const retrainRun = `run:retrain-${w.name}-1`;
      const edges = g.edges.map((e) => `${e.from} → ${e.to}`);
      expect(edges).toEqual(
        expect.arrayContaining([
          `model:${w.name}:v1 → ${alertNode}`,
          `${alertNode} → ${retrainRun}`,
          `${retrainRun} → model:${w.name}:v2`,
        ]),
      );
      expect(g.nodes.find((n) => n.id === alertNode)).toMatchObject({
        kind: "alert",
        label: "alert · watch",
        detail: {
          loop: loop.id,
          stage: "promoted",
          champion: 1,
          challenger: 2,
          runId: `retrain-${w.name}-1`,
          auditId: alertAudit.id,
        },
      });
      const fromV2 = g.edges
        .filter((e) => e.from === `model:${w.name}:v2`)
        .map((e) => g.nodes.find((n) => n.id === e.to)!.label);
      expect(fromV2.sort()).toEqual(["canary 50% → srv", "canary promoted → srv", "succeeded → srv"]);
    });
  }, 120_000);

  it("promote.mode approve: waits for a person; approving deploys the challenger (once, even when resumed) and moves the champion alias", async () => {
    await withWorld({ promote: { mode: "approve" } }, async (w) => {
      const loop = await breach(w);
      const { run } = runner(w, 2);
      const waiting = await advance(w, loop.id, run);
      expect(waiting.stage).toBe("awaiting-approval");
      expect(waiting.gate?.passed).toBe(true);
      expect(await policyOf(w.name)).toEqual({ primary: 1 });
      // Waiting stays waiting; an acknowledgement is not for a challenger.
      expect((await advance(w, loop.id, run)).stage).toBe("awaiting-approval");
      expect(() => acknowledgeAlert(w.project, loop.id, { actor: "ana" })).toThrow(LoopStateError);
      // A later breach of the same monitor waits while this loop holds the challenger.
      const later = laterLoop(w);
      const held = await advance(w, later.id, run);
      expect([held.stage, held.history.at(-1)?.message]).toEqual([
        "alerted",
        `waiting for loop ${loop.id} of watch (awaiting-approval) to end before retraining`,
      ]);

      // The deploy succeeds but the process stops before recording it: approving again does not deploy twice.
      let deploys = 0;
      const crashing = {
        deployVersion: async (o: Parameters<typeof deployVersion>[0]) => {
          deploys++;
          await deployVersion(o);
          throw new Error("the process stopped after the deploy");
        },
      };
      await expect(
        approveChallenger(w.project, loop.id, { actor: "ana", tokens, deploys: crashing }),
      ).rejects.toThrow(/stopped after the deploy/);
      // v2 serves now: rejecting it would record "champion kept" while it serves, so it is refused.
      await expect(rejectChallenger(w.project, loop.id, { actor: "bo", tokens })).rejects.toThrow(
        `loop ${loop.id}: v2 was approved and already serves on srv (its process stopped before recording it); finish the approval with dagwood monitor approve ${loop.id}, then roll back with dagwood deploy rollback ${w.name} --target srv --to 1 if it should not serve`,
      );
      expect(getLoop(w.project.metadata, loop.id)?.stage).toBe("awaiting-approval");
      const approved = await approveChallenger(w.project, loop.id, {
        actor: "ana",
        tokens,
        deploys: crashing,
      });
      expect(deploys).toBe(1);
      expect(approved).toMatchObject({ stage: "promoted", status: "closed" });
      expect(approved.outcome).toMatch(
        /^promoted v2 \(approved by ana\): accuracy [\d.]+ vs [\d.]+ \(champion v1\) on 30 gate rows$/,
      );
      expect(await policyOf(w.name)).toEqual({ primary: 2 });
      expect(w.project.metadata.registry.getVersion(w.name, "champion")?.version).toBe(2);
      expect(audits(w, "deployment.succeeded").map((e) => e.version)).toEqual([1, 2]);
      expect(audits(w, "monitor.approved").map((e) => [e.actor, e.version])).toEqual([["ana", 2]]);

      // A loop that is not awaiting approval: a clear refusal, nothing changes.
      await expect(approveChallenger(w.project, loop.id, { actor: "ana", tokens })).rejects.toThrow(
        /loop \d+ is promoted, not awaiting approval/,
      );
      await expect(rejectChallenger(w.project, loop.id, { actor: "ana", tokens })).rejects.toThrow(
        LoopStateError,
      );
    });
  }, 120_000);

  it("a challenger that loses the gate is not deployed: champion kept, with the figures", async () => {
    await withWorld({}, async (w) => {
      const loop = await breach(w);
      // Trained on a world shifted the other way: worse than the champion on the fresh rows.
      const { run } = runner(w, -3);
      const kept = await advance(w, loop.id, run);
      expect(kept).toMatchObject({ stage: "kept", status: "closed", challenger: 2, canary: null });
      expect(kept.gate?.passed).toBe(false);
      expect(kept.gate!.challenger!).toBeLessThan(kept.gate!.champion!);
      expect(kept.outcome).toBe(
        `champion kept: accuracy ${Math.round(kept.gate!.challenger! * 1e4) / 1e4} (challenger v2) vs ${Math.round(kept.gate!.champion! * 1e4) / 1e4} (champion v1) on 30 rows`,
      );
      expect(audits(w, "monitor.").map((e) => e.action)).toEqual([
        "monitor.alert",
        "monitor.retrain",
        "monitor.gate",
        "monitor.kept",
      ]);
      expect(audits(w, "deployment.canary")).toEqual([]);
      expect(w.project.metadata.registry.getVersion(w.name, "challenger")).toBeUndefined();
      expect(await policyOf(w.name)).toEqual({ primary: 1 });
    });
  }, 120_000);

  it("gate.margin: a better challenger that does not win by the margin is not promoted", async () => {
    await withWorld({ gate: { holdout: 0.3, minRows: 20, margin: 0.9 } }, async (w) => {
      const loop = await breach(w);
      const kept = await advance(w, loop.id, runner(w, 2).run);
      expect(kept.stage).toBe("kept");
      expect(kept.gate).toMatchObject({ margin: 0.9, passed: false });
      // Better, but by less than 0.9.
      expect(kept.gate!.challenger!).toBeGreaterThan(kept.gate!.champion!);
      expect(kept.outcome).toMatch(/ on 30 rows \(the challenger must win by 0\.9\)$/);
    });
  }, 120_000);

  it("a gate metric the task does not have fails the loop, naming the ones it has; nothing is deployed", async () => {
    await withWorld({ gate: { holdout: 0.3, minRows: 20, metric: "rmse" } }, async (w) => {
      const loop = await breach(w);
      const failed = await advance(w, loop.id, runner(w, 2).run);
      expect(failed).toMatchObject({ stage: "failed", status: "open", challenger: 2, gate: null });
      expect(failed.outcome).toMatch(
        /^the gate could not score the versions: the gate's metric "rmse" is not one the gate computes for this task: accuracy, f1_macro.*; set gate.metric of the monitor in dagwood.json to one of them$/,
      );
      expect(audits(w, "deployment.canary")).toEqual([]);
      expect(await policyOf(w.name)).toEqual({ primary: 1 });
    });
  }, 120_000);

  it("a failed retraining run: the alert stays open, nothing is deployed; a person acknowledges it", async () => {
    await withWorld({}, async (w) => {
      const loop = await breach(w);
      const { run, calls } = runner(w, null, { fail: "node train: out of memory" });
      const failed = await advance(w, loop.id, run);
      expect(failed).toMatchObject({
        stage: "failed",
        status: "open",
        runId: `retrain-${w.name}-1`,
        challenger: null,
      });
      expect(failed.outcome).toBe(
        `the retraining run retrain-${w.name}-1 failed: node train: out of memory; the alert stays open and nothing was deployed`,
      );
      expect(audits(w, "monitor.failed").map((e) => e.details.error)).toEqual(["node train: out of memory"]);
      expect(audits(w, "deployment.succeeded").map((e) => e.version)).toEqual([1]);
      expect(audits(w, "deployment.canary")).toEqual([]);
      expect(await policyOf(w.name)).toEqual({ primary: 1 });
      // A failed loop does not run again by itself.
      expect((await advance(w, loop.id, run)).stage).toBe("failed");
      expect(calls).toHaveLength(1);
      const acked = acknowledgeAlert(w.project, loop.id, { actor: "ana" });
      expect(acked).toMatchObject({ stage: "acknowledged", status: "closed" });
      expect(audits(w, "monitor.acknowledged").map((e) => e.actor)).toEqual(["ana"]);
      expect(() => acknowledgeAlert(w.project, loop.id, { actor: "ana" })).toThrow(
        /is acknowledged: only an alert/,
      );
    });
  }, 120_000);

  it("a retraining run stopped before it ended (its process died: interrupted) runs again, unclaimed between; after 3 such runs the loop fails", async () => {
    await withWorld({}, async (w) => {
      const loop = await breach(w);
      const calls: string[] = [];
      const dying: RunPipeline = async (req) => {
        const runId = `dead-run-${calls.length + 1}`;
        calls.push(runId);
        startTestRun(w.project.metadata, runId);
        w.project.metadata.setTags(runId, req.tags);
        // As markInterruptedRuns leaves a run whose process ended.
        w.project.metadata.finishRun(runId, "interrupted");
        throw new Error("the process running the pipeline was killed");
      };
      await expect(advance(w, loop.id, dying)).rejects.toThrow(/killed/);
      // No outcome taken: still retraining, and no process holds it.
      expect(getLoop(w.project.metadata, loop.id)).toMatchObject({ stage: "retraining", runId: null });
      expect(w.project.metadata.monitorLoopClaim(loop.id)).toBeNull();
      await expect(advance(w, loop.id, dying)).rejects.toThrow(/killed/);
      expect(calls).toEqual(["dead-run-1", "dead-run-2"]);
      expect(getLoop(w.project.metadata, loop.id)!.history.map((h) => h.message)).toContain(
        "the retraining run dead-run-1 was interrupted (its process ended) before the loop took its outcome: running it again (attempt 2 of 3)",
      );
      await expect(advance(w, loop.id, dying)).rejects.toThrow(/killed/);
      const failed = await advance(w, loop.id, dying);
      expect(calls).toHaveLength(3);
      expect(failed).toMatchObject({ stage: "failed", status: "open", runId: null });
      expect(failed.outcome).toBe(
        `the retraining was stopped before it ended 3 times (run dead-run-1 was interrupted (its process ended), run dead-run-2 was interrupted (its process ended), run dead-run-3 was interrupted (its process ended)); the loop does not run it again by itself: the alert stays open and nothing was deployed; look at the runs' logs, then acknowledge the alert (dagwood monitor ack ${loop.id})`,
      );
      expect(audits(w, "monitor.failed").map((e) => e.details.runIds)).toEqual([
        ["dead-run-3", "dead-run-2", "dead-run-1"],
      ]);
      expect(await policyOf(w.name)).toEqual({ primary: 1 });
      // Failed for good: no fourth run.
      expect((await advance(w, loop.id, dying)).stage).toBe("failed");
      expect(calls).toHaveLength(3);
    });
  }, 120_000);

  it("the app closing mid-retraining (the runner's RunStoppedError) leaves the loop retraining, unclaimed; the next tick runs it again and the loop goes on", async () => {
    await withWorld({}, async (w) => {
      const loop = await breach(w);
      const stopping = stoppingRunner(
        w,
        "the retraining run stopped-run was stopped: the app closed while it ran; the loop takes it up when the project opens again",
      );
      const tick = await runMonitor(w.project, "watch", { now: tomorrow(), runPipeline: stopping, tokens });
      expect(tick.error).toBe(
        `loop ${loop.id}: the retraining run stopped-run was stopped: the app closed while it ran; the loop takes it up when the project opens again`,
      );
      expect(tick.loops.map((l) => [l.id, l.stage, l.runId])).toEqual([[loop.id, "retraining", null]]);
      expect(w.project.metadata.monitorLoopClaim(loop.id)).toBeNull();
      expect(audits(w, "monitor.failed")).toEqual([]);

      const { run, calls } = runner(w, 2);
      const on = await advance(w, loop.id, run);
      expect(calls).toHaveLength(1);
      expect(on).toMatchObject({ stage: "canary", runId: `retrain-${w.name}-1`, challenger: 2 });
      expect(on.history.map((h) => h.message)).toContain(
        "the retraining run stopped-run was canceled (the app closed) before the loop took its outcome: running it again (attempt 2 of 3)",
      );
    });
  }, 120_000);

  it("a loop whose retraining run the app's closing stopped can be acknowledged while it waits to run again; nothing runs afterwards", async () => {
    await withWorld({}, async (w) => {
      const loop = await breach(w);
      const stopping = stoppingRunner(
        w,
        "the retraining run stopped-run was stopped: the app closed while it ran",
      );
      await expect(advance(w, loop.id, stopping)).rejects.toThrow(RunStoppedError);
      const acked = acknowledgeAlert(w.project, loop.id, { actor: "ana" });
      expect(acked).toMatchObject({ stage: "acknowledged", status: "closed", runId: null });
      const { run, calls } = runner(w, 2);
      expect((await advance(w, loop.id, run)).stage).toBe("acknowledged");
      expect(calls).toEqual([]);
    });
  }, 120_000);

  it("a person's cancel of the retraining run (the runner answers canceled) fails the loop: the alert stays open, nothing deployed, no run again", async () => {
    await withWorld({}, async (w) => {
      const loop = await breach(w);
      const calls: string[] = [];
      const canceled: RunPipeline = async (req) => {
        calls.push(req.pipeline);
        startTestRun(w.project.metadata, "canceled-run");
        w.project.metadata.setTags("canceled-run", req.tags);
        w.project.metadata.finishRun("canceled-run", "canceled");
        return { runId: "canceled-run", status: "canceled" };
      };
      const failed = await advance(w, loop.id, canceled);
      expect(failed).toMatchObject({ stage: "failed", status: "open", runId: "canceled-run" });
      expect(failed.outcome).toBe(
        "the retraining run canceled-run was canceled; the alert stays open and nothing was deployed",
      );
      expect((await advance(w, loop.id, canceled)).stage).toBe("failed");
      expect(calls).toHaveLength(1);
      expect(await policyOf(w.name)).toEqual({ primary: 1 });
    });
  }, 120_000);

  it("a loop that waited behind an earlier loop which promoted a new champion ends superseded: no retraining against the old champion", async () => {
    await withWorld({ promote: { mode: "approve" } }, async (w) => {
      const first = await breach(w);
      const { run, calls } = runner(w, 2);
      expect((await advance(w, first.id, run)).stage).toBe("awaiting-approval");
      // A later breach of the same monitor, raised while v1 was the champion, waits for the first loop.
      const later = laterLoop(w);
      expect((await advance(w, later.id, run)).stage).toBe("alerted");
      await approveChallenger(w.project, first.id, { actor: "ana", tokens });
      expect(w.project.metadata.registry.getVersion(w.name, "champion")?.version).toBe(2);

      const ended = await advance(w, later.id, run);
      const reason = `superseded: v2 was promoted by loop ${first.id} after this alert (raised on v1); the next breach of v2 starts a new loop`;
      expect(ended).toMatchObject({
        stage: "kept",
        status: "closed",
        outcome: reason,
        runId: null,
        challenger: null,
        gate: null,
      });
      // Nothing ran nor deployed for it: v2 still serves, alone.
      expect(calls).toHaveLength(1);
      expect(await policyOf(w.name)).toEqual({ primary: 2 });
      const kept = audits(w, "monitor.kept").at(-1)!;
      expect(kept).toMatchObject({ version: 2, details: { loop: later.id, superseded: true, by: first.id } });
      expect(describeAudit(kept)).toBe(`loop ${later.id}: ${reason}`);
    });
  }, 120_000);

  it("a champion moved by a person while the loop retrained: the gate does not judge against the old one, the loop ends superseded", async () => {
    await withWorld({}, async (w) => {
      const loop = await breach(w);
      // A version registered by hand beforehand; a person makes it the champion while the retraining runs.
      await w.register(-3, "run-by-hand");
      const { run: retrain } = runner(w, 2);
      const run: RunPipeline = async (req) => {
        const r = await retrain(req);
        w.project.metadata.registry.setAlias(w.name, "champion", 2, "ana");
        return r;
      };
      const ended = await advance(w, loop.id, run);
      expect(ended).toMatchObject({ stage: "kept", challenger: 3, gate: null, canary: null });
      expect(ended.outcome).toBe(
        `superseded: v2 became the champion of ${w.name} after this alert (raised on v1); the challenger v3 was not gated; the next breach of v2 starts a new loop`,
      );
      expect(audits(w, "monitor.gate")).toEqual([]);
      expect(audits(w, "deployment.canary")).toEqual([]);
    });
  }, 120_000);

  it("a retraining run that produced the champion's own model again (register answered v1, created: false) ends kept, nothing to promote", async () => {
    await withWorld({}, async (w) => {
      const loop = await breach(w);
      const { run, calls } = sameModelRunner(w, 0, "shift-0-run-champion");
      const kept = await advance(w, loop.id, run);
      expect(calls).toEqual([`retrain-${w.name}-1`]);
      expect(w.project.metadata.registry.listVersions(w.name).map((v) => v.version)).toEqual([1]);
      expect(kept).toMatchObject({
        stage: "kept",
        status: "closed",
        runId: `retrain-${w.name}-1`,
        challenger: null,
        outcome: "the retraining produced the champion's own model (v1) again: nothing to promote",
      });
      expect(kept.history.map((h) => h.message)).toContain(
        `run retrain-${w.name}-1 answered ${w.name} v1, the champion (the same model, registered by run run-champion)`,
      );
      expect(audits(w, "monitor.").map((e) => e.action)).toEqual([
        "monitor.alert",
        "monitor.retrain",
        "monitor.kept",
      ]);
      expect(describeAudit(audits(w, "monitor.retrain")[0]!)).toBe(
        `loop ${loop.id} of monitor watch: retraining run retrain-${w.name}-1 answered the existing v1`,
      );
      expect(await policyOf(w.name)).toEqual({ primary: 1 });
    });
  }, 120_000);

  it("a retraining run whose model is another existing version (register answered v2, created: false) gates that version as the challenger", async () => {
    await withWorld({}, async (w) => {
      // v2: trained on the shifted world, registered by an earlier run and never served.
      expect(await w.register(2, "run-earlier")).toBe(2);
      const loop = await breach(w);
      const { run, calls } = sameModelRunner(w, 2, "shift-2-run-earlier");
      const atCanary = await advance(w, loop.id, run);
      expect(calls).toHaveLength(1);
      expect(
        w.project.metadata.registry
          .listVersions(w.name)
          .map((v) => v.version)
          .sort(),
      ).toEqual([1, 2]);
      expect(atCanary, JSON.stringify(atCanary.history, null, 1)).toMatchObject({
        stage: "canary",
        runId: `retrain-${w.name}-1`,
        challenger: 2,
      });
      expect(atCanary.gate).toMatchObject({ passed: true, rows: 30 });
      expect(atCanary.history.map((h) => h.message)).toContain(
        `run retrain-${w.name}-1 answered the existing ${w.name} v2 (the same model, registered by run run-earlier): it is the challenger`,
      );
      expect((await policyOf(w.name)).canary).toEqual({ version: 2, percent: 50 });
    });
  }, 120_000);

  it("a retraining run that registers no version of the model fails the loop, saying what to add", async () => {
    await withWorld({}, async (w) => {
      const loop = await breach(w);
      const failed = await advance(w, loop.id, runner(w, null).run);
      expect(failed.stage).toBe("failed");
      expect(failed.outcome).toBe(
        `the retraining pipeline registered no version of ${w.name}: add a register block with name ${w.name}`,
      );
    });
  }, 120_000);

  it("a retraining pipeline outside the project is refused before anything runs, and the loop goes on once it is fixed", async () => {
    await withWorld({ retrain: { pipeline: "../elsewhere/retrain.dag.json" } }, async (w) => {
      const loop = await breach(w);
      const { run, calls } = runner(w, 2);
      const tick = await runMonitor(w.project, "watch", { now: tomorrow(), runPipeline: run, tokens });
      expect(tick.error).toBe(
        `loop ${loop.id}: monitor watch: retrain.pipeline "../elsewhere/retrain.dag.json" is not a *.dag.json file inside the project; set it in dagwood.json to the project-relative path of the retraining pipeline, e.g. "pipelines/retrain.dag.json"`,
      );
      expect(calls).toEqual([]);
      expect(getLoop(w.project.metadata, loop.id)).toMatchObject({ stage: "retraining", runId: null });
      w.project.settings.monitors.watch!.retrain!.pipeline = "retrain.dag.json";
      expect((await advance(w, loop.id, run)).stage).toBe("canary");
      expect(calls).toHaveLength(1);
    });
  }, 120_000);

  it("too few labelled rows: waits (said once), starts no run, and goes on once labels arrive", async () => {
    await withWorld({ gate: { holdout: 0.3, minRows: 40 } }, async (w) => {
      const loop = await breach(w);
      // Labels for request ids the server never answered: counted and left out, not fatal.
      await sendLabels(
        w,
        ["nobody-1", "nobody-2", "nobody-3"].map((id) => ({ id, label: "high" })),
      );
      const { run, calls } = runner(w, 2);
      const waiting = await advance(w, loop.id, run);
      expect(waiting.stage).toBe("retraining");
      expect(waiting.history.at(-1)?.message).toBe(
        `waiting for labels: 30 of 40 for the gate (100 labelled rows since ${loop.window.start}, 134 needed: the gate keeps the freshest 30 %; 3 labels of request ids not logged since then left out)`,
      );
      const again = await advance(w, loop.id, run);
      expect(again.history).toHaveLength(waiting.history.length);
      expect(calls).toEqual([]);
      // 50 more labelled rows: 150, of which the freshest 45 gate.
      await traffic(w, "later", 50);
      const on = await advance(w, loop.id, run);
      expect(calls).toHaveLength(1);
      expect(on.gate?.rows).toBe(45);
      expect(on.history.find((h) => h.message.startsWith("retraining run started"))?.message).toBe(
        `retraining run started: retrain.dag.json on 105 labelled rows (monitoring/loops/${loop.id}/fresh.parquet); 45 kept for the gate; 3 labels of request ids not logged since ${loop.window.start} left out`,
      );
    });
  }, 120_000);

  it("a loop waiting for labels can be acknowledged by a person: it starts no run afterwards", async () => {
    await withWorld({ gate: { holdout: 0.3, minRows: 40 } }, async (w) => {
      const loop = await breach(w);
      const { run, calls } = runner(w, 2);
      expect((await advance(w, loop.id, run)).stage).toBe("retraining");
      const acked = acknowledgeAlert(w.project, loop.id, { actor: "ana" });
      expect(acked).toMatchObject({ stage: "acknowledged", status: "closed", runId: null });
      await traffic(w, "later", 50);
      expect((await advance(w, loop.id, run)).stage).toBe("acknowledged");
      expect(calls).toEqual([]);
    });
  }, 120_000);

  it("resumes after a stop at each step: the pipeline runs once and the canary is deployed once", async () => {
    await withWorld({}, async (w) => {
      const loop = await breach(w);
      const { run, calls } = runner(w, 2, { throwAfter: true });
      const stops = { canary: 0, promote: 0 };
      const deploys = {
        deployCanary: async (o: Parameters<typeof deployCanary>[0]) => {
          const r = await deployCanary(o);
          if (stops.canary++ === 0) throw new Error("stopped after deploying the canary");
          return r;
        },
        promoteCanary: async (o: Parameters<typeof promoteCanary>[0]) => {
          const r = await promoteCanary(o);
          if (stops.promote++ === 0) throw new Error("stopped after promoting the canary");
          return r;
        },
      };
      const opts = { runPipeline: run, tokens, deploys };
      await expect(advanceLoop(w.project, loop.id, opts)).rejects.toThrow(/crashed after the run/);
      expect(getLoop(w.project.metadata, loop.id)?.stage).toBe("retraining");
      await expect(advanceLoop(w.project, loop.id, opts)).rejects.toThrow(
        /stopped after deploying the canary/,
      );
      expect(calls).toHaveLength(1);
      const atCanary = await advanceLoop(w.project, loop.id, opts);
      expect(atCanary).toMatchObject({ stage: "canary", runId: `retrain-${w.name}-1`, challenger: 2 });
      expect(calls).toHaveLength(1);
      expect(stops.canary).toBe(2);
      expect(audits(w, "deployment.canary")).toHaveLength(1);
      expect((await policyOf(w.name)).canary).toEqual({ version: 2, percent: 50 });

      await pause(5);
      await traffic(w, "canary", 60);
      const after = { ...opts, now: Date.parse(atCanary.canary!.until) + 1000 };
      await expect(advanceLoop(w.project, loop.id, after)).rejects.toThrow(/stopped after promoting/);
      const done = await advanceLoop(w.project, loop.id, after);
      expect(done.stage).toBe("promoted");
      expect(stops.promote).toBe(2);
      expect(audits(w, "deployment.canaryEnded")).toHaveLength(1);
      expect(audits(w, "monitor.promoted")).toHaveLength(1);
      expect(await policyOf(w.name)).toEqual({ primary: 2 });
    });
  }, 120_000);

  it("a canary that falls behind the primary live is removed: champion kept, with the figures", async () => {
    await withWorld({}, async (w) => {
      const { loop, atCanary } = await toCanary(w);
      await pause(5);
      await traffic(w, "back", 80, shiftedBack);
      const kept = await advanceLoop(w.project, loop.id, {
        tokens,
        now: Date.parse(atCanary.canary!.until) + 1,
      });
      const rows = w.sent.filter((s) => s.id.startsWith("back-"));
      const canaryValue = accuracyOf(rows.filter((s) => s.version === 2));
      const primaryValue = accuracyOf(rows.filter((s) => s.version === 1));
      expect(canaryValue).toBeLessThan(primaryValue - 0.02);
      expect(kept).toMatchObject({ stage: "kept", status: "closed" });
      expect(kept.canary).toMatchObject({
        held: false,
        canary: { version: 2, value: expect.closeTo(canaryValue, 12) },
        primary: { version: 1, value: expect.closeTo(primaryValue, 12) },
      });
      expect(kept.outcome).toMatch(/^champion kept: the canary fell behind by more than 0\.02: accuracy /);
      expect(await policyOf(w.name)).toEqual({ primary: 1 });
      expect(w.project.metadata.registry.getVersion(w.name, "champion")?.version).toBe(1);
      expect(audits(w, "deployment.canaryEnded").map((e) => e.details.outcome)).toEqual(["removed"]);
    });
  }, 120_000);

  it("a canary that falls behind but cannot be taken out fails the loop, saying how to take it out", async () => {
    await withWorld({}, async (w) => {
      const { loop, atCanary } = await toCanary(w);
      await pause(5);
      await traffic(w, "back", 80, shiftedBack);
      const unreachable = async (): Promise<never> => {
        throw new DeployError("target srv did not answer", "unreachable");
      };
      const failed = await advanceLoop(w.project, loop.id, {
        tokens,
        now: Date.parse(atCanary.canary!.until) + 1,
        deploys: { removeCanary: unreachable },
      });
      expect(failed).toMatchObject({ stage: "failed", status: "open" });
      expect(failed.canary?.held).toBe(false);
      expect(failed.outcome).toMatch(
        new RegExp(
          `^taking the canary v2 out of srv failed: target srv did not answer; it may still take 50 % of the requests: take it out with dagwood deploy canary remove ${w.name} --target srv --version 2 --reason "champion kept: the canary fell behind by more than 0\\.02: accuracy [^"]+"$`,
        ),
      );
      expect((await policyOf(w.name)).canary).toEqual({ version: 2, percent: 50 });
      expect(w.project.metadata.registry.getVersion(w.name, "champion")?.version).toBe(1);
    });
  }, 120_000);

  it("a person rejects a canary: it is removed, the champion keeps serving", async () => {
    await withWorld({}, async (w) => {
      const { loop } = await toCanary(w);
      expect(() => acknowledgeAlert(w.project, loop.id, { actor: "ana" })).toThrow(
        `loop ${loop.id} is canary: only an alert (alerted), a loop waiting for labels or a failed loop can be acknowledged; approve or reject its challenger instead (dagwood monitor approve|reject ${loop.id})`,
      );
      const kept = await rejectChallenger(w.project, loop.id, {
        actor: "ana",
        reason: "not this week",
        tokens,
      });
      expect(kept).toMatchObject({
        stage: "kept",
        status: "closed",
        outcome: "champion kept: v2 rejected by ana: not this week",
      });
      expect(await policyOf(w.name)).toEqual({ primary: 1 });
      expect(audits(w, "deployment.canaryEnded").map((e) => e.details.outcome)).toEqual(["removed"]);
      expect(w.project.metadata.registry.getVersion(w.name, "champion")?.version).toBe(1);
    });
  }, 120_000);

  it("a canary is judged only against a labelled primary: with the primary's answers unlabelled it waits, serving as a canary", async () => {
    await withWorld({}, async (w) => {
      const { loop, atCanary } = await toCanary(w);
      await pause(5);
      // Labels arrive for the canary's answers only.
      await traffic(w, "canary", 80, truth, (version) => version === 2);
      const rows = w.sent.filter((s) => s.id.startsWith("canary-"));
      const byCanary = rows.filter((s) => s.version === 2);
      const byPrimary = rows.filter((s) => s.version === 1);
      expect(byCanary.length).toBeGreaterThanOrEqual(10);
      expect(byPrimary.length).toBeGreaterThanOrEqual(10);
      const now = Date.parse(atCanary.canary!.until) + 1000;
      const waiting = await advanceLoop(w.project, loop.id, { tokens, now });
      expect([waiting.stage, waiting.history.at(-1)?.message]).toEqual([
        "canary",
        `waiting for labelled rows: canary ${byCanary.length} of 10 (${byCanary.length} answered by v2), primary 0 of 10 (${byPrimary.length} answered) since ${atCanary.canary!.since}`,
      ]);
      expect(waiting.canary?.held).toBeNull();
      expect((await policyOf(w.name)).canary).toEqual({ version: 2, percent: 50 });
      expect(audits(w, "monitor.promoted")).toEqual([]);
      expect(w.project.metadata.registry.getVersion(w.name, "champion")?.version).toBe(1);

      // The primary's labels arrive: judged on both arms.
      await sendLabels(
        w,
        byPrimary.map((s) => ({ id: s.id, label: s.label })),
      );
      const done = await advanceLoop(w.project, loop.id, { tokens, now });
      expect(done.stage).toBe("promoted");
      expect(done.canary).toMatchObject({
        held: true,
        primary: { version: 1, labelled: byPrimary.length, value: expect.closeTo(accuracyOf(byPrimary), 12) },
        canary: { version: 2, labelled: byCanary.length, value: expect.closeTo(accuracyOf(byCanary), 12) },
      });
    });
  }, 120_000);

  it("a promotion the target refuses fails the loop and takes the canary out of the traffic; if that fails too, says how", async () => {
    const refused = new DeployError("the target answered 503 Service Unavailable", "rejected");
    const refusing = async (): Promise<never> => {
      throw refused;
    };
    for (const removable of [true, false]) {
      const w = await world({});
      try {
        const { loop, atCanary } = await toCanary(w);
        await pause(5);
        await traffic(w, "canary", 80);
        const now = Date.parse(atCanary.canary!.until) + 1000;
        const deploys = removable
          ? { promoteCanary: refusing }
          : { promoteCanary: refusing, removeCanary: refusing };
        const failed = await advanceLoop(w.project, loop.id, { tokens, now, deploys });
        expect(failed).toMatchObject({ stage: "failed", status: "open" });
        expect(w.project.metadata.registry.getVersion(w.name, "champion")?.version).toBe(1);
        expect(audits(w, "monitor.promoted")).toEqual([]);
        expect(audits(w, "monitor.failed").map((e) => e.details.reason)).toEqual([failed.outcome]);
        if (removable) {
          expect(failed.outcome).toBe(
            "promoting the canary v2 failed: the target answered 503 Service Unavailable; the canary v2 was taken out of the traffic, the primary serves all the requests",
          );
          expect(await policyOf(w.name)).toEqual({ primary: 1 });
          expect(audits(w, "deployment.canaryEnded").map((e) => e.details.outcome)).toEqual(["removed"]);
        } else {
          expect(failed.outcome).toBe(
            `promoting the canary v2 failed: the target answered 503 Service Unavailable; the canary v2 could not be taken out (the target answered 503 Service Unavailable): take it out with dagwood deploy canary remove ${w.name} --target srv --version 2 --reason "promotion failed"`,
          );
          expect((await policyOf(w.name)).canary).toEqual({ version: 2, percent: 50 });
        }
        // A failed loop takes no further step by itself.
        expect((await advanceLoop(w.project, loop.id, { tokens, now })).stage).toBe("failed");
        expect(audits(w, "deployment.succeeded").map((e) => e.version)).toEqual([1]);
      } finally {
        w.cleanup();
      }
    }
  }, 120_000);

  it("rejecting a canary whose deploy never happened (its process stopped first) keeps the champion, deploying nothing", async () => {
    await withWorld({}, async (w) => {
      const loop = await breach(w);
      const stopping = {
        deployCanary: async (): Promise<never> => {
          throw new Error("the process stopped before deploying the canary");
        },
      };
      await expect(
        advanceLoop(w.project, loop.id, { runPipeline: runner(w, 2).run, tokens, deploys: stopping }),
      ).rejects.toThrow(/stopped before deploying/);
      expect(getLoop(w.project.metadata, loop.id)?.stage).toBe("canary");
      const kept = await rejectChallenger(w.project, loop.id, { actor: "ana", tokens });
      expect(kept).toMatchObject({
        stage: "kept",
        status: "closed",
        outcome: "champion kept: v2 rejected by ana",
      });
      // The stopped deploy step is not taken again after the rejection.
      expect((await advanceLoop(w.project, loop.id, { tokens })).stage).toBe("kept");
      expect(audits(w, "deployment.canary")).toEqual([]);
      expect(await policyOf(w.name)).toEqual({ primary: 1 });
    });
  }, 120_000);

  it("an alert recorded without its loop (its process stopped between the two) gets its loop at the next check, alerted once", async () => {
    await withWorld({ action: "alert" }, async (w) => {
      await traffic(w, "day", 100);
      const start = new Date(Math.floor(Date.now() / DAY) * DAY).toISOString();
      const alert = w.project.metadata.registry.appendAudit({
        actor: "monitor:watch",
        action: "monitor.alert",
        model: w.name,
        version: 1,
        details: { monitor: "watch", target: "srv", window: start, reasons: ["accuracy fell"] },
      });
      const check = await checkMonitor(w.project, "watch", { now: tomorrow() });
      expect(check.window.start).toBe(start);
      expect(check).toMatchObject({ breached: true, alerted: false, alreadyAlerted: true, webhook: null });
      expect(check.loop).not.toBeNull();
      const loop = getLoop(w.project.metadata, check.loop!)!;
      expect(loop).toMatchObject({ stage: "alerted", status: "open", window: check.window, champion: 1 });
      expect(loop.history[0]?.auditId).toBe(alert.id);
      expect(audits(w, "monitor.alert")).toHaveLength(1);
      const again = await checkMonitor(w.project, "watch", { now: tomorrow() });
      expect([again.alerted, again.alreadyAlerted, again.loop]).toEqual([false, true, null]);
      expect(listLoops(w.project.metadata, { monitor: "watch" }).map((l) => l.id)).toEqual([loop.id]);
    });
  }, 120_000);

  it("action alert: runMonitor alerts once and the loop waits for a person; unknown loop ids are refused", async () => {
    await withWorld({ action: "alert" }, async (w) => {
      await traffic(w, "day", 100);
      const tick = await runMonitor(w.project, "watch", { now: tomorrow(), tokens });
      expect(tick.error).toBeNull();
      expect(tick.check?.alerted).toBe(true);
      expect(tick.loops.map((l) => [l.stage, l.action])).toEqual([["alerted", "alert"]]);
      const second = await runMonitor(w.project, "watch", { now: tomorrow(), tokens });
      expect(second.check?.alreadyAlerted).toBe(true);
      expect(second.loops.map((l) => l.id)).toEqual([tick.loops[0]!.id]);
      expect(listLoops(w.project.metadata, { monitor: "watch" })).toHaveLength(1);

      await expect(advanceLoop(w.project, 999, {})).rejects.toThrow(LoopNotFoundError);
      await expect(approveChallenger(w.project, 999, {})).rejects.toThrow(
        /no monitor loop 999 in this project/,
      );
      await expect(rejectChallenger(w.project, 999, {})).rejects.toThrow(LoopNotFoundError);
      expect(() => acknowledgeAlert(w.project, 999, { actor: null })).toThrow(LoopNotFoundError);
      await expect(approveChallenger(w.project, tick.loops[0]!.id, {})).rejects.toThrow(
        /is alerted, not awaiting approval/,
      );
      expect(acknowledgeAlert(w.project, tick.loops[0]!.id, { actor: "ana" }).status).toBe("closed");
    });
  }, 120_000);
});
