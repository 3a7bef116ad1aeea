/**
 * Monitors over a real project store: a registered version with its
 * reference profile and metrics, a served model's log and feedback in the
 * project's serving folder (as `dagwood serve` writes them), checked by
 * checkMonitor and by `dagwood monitor run --once`, with a webhook received
 * by a local HTTP server.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeAudit } from "../api/audit";
import { startDagwood } from "../cli/testing";
import { cronProblem, ProjectSettingsError, readProjectSettings } from "../project/project";
import { createTempStore } from "../store/metadata";
import { checkMonitor, MonitorError, postWebhook } from "./monitors";
import {
  testVersionInput,
  writeStepReferenceProfile,
  writeStepTraffic,
  writeTestModelFiles,
} from "./testing";

const START = Date.parse("2026-12-06T00:00:00Z");
let temp: ReturnType<typeof createTempStore>;
let hook: Server;
let hookUrl = "";
const received: unknown[] = [];

/**
 * 60 one-row requests 20 s apart from `start`; x = i mod 10 (as trained), or
 * shifted to 10…19. The model says "high" for x ≥ 5; the labels agree with it
 * unshifted and say "low" for every shifted row (accuracy 0.5 → 0 … well below 1).
 */
function writeTraffic(start: number, shifted: boolean) {
  writeStepTraffic(temp.dir, start, shifted);
}

const monitor = (extra: Record<string, unknown> = {}) => ({
  model: "m@champion",
  target: "local",
  window: "30m",
  minRows: 10,
  drift: { shareThreshold: 0.5 },
  performance: { metric: "accuracy", tolerance: 0.05 },
  schedule: "*/15 * * * *",
  action: "alert",
  ...extra,
});

function writeSettings(monitors: Record<string, unknown>) {
  writeFileSync(join(temp.dir, "dagwood.json"), JSON.stringify({ monitors }));
}

const alerts = () => temp.store.registry.audit({ model: "m" }).filter((e) => e.action === "monitor.alert");

beforeAll(async () => {
  temp = createTempStore();
  const { dir, store } = temp;
  mkdirSync(join(dir, "out"));
  await writeStepReferenceProfile(dir, join(dir, "out"));
  const files = writeTestModelFiles(join(dir, "out"), { classes: ["high", "low"] }, "onnx-bytes");
  store.registry.registerVersion(testVersionInput({ files, metrics: { accuracy: 0.92, f1_macro: 0.9 } }));
  hook = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => {
      body += d;
    });
    req.on("end", () => {
      received.push({ contentType: req.headers["content-type"], method: req.method, body: JSON.parse(body) });
      res.end("ok");
    });
  });
  await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
});
afterAll(async () => {
  await new Promise((r) => hook?.close(r));
  temp?.cleanup();
});

const check = (name: string, now = START + 45 * 60e3) =>
  checkMonitor({ dir: temp.dir, metadata: temp.store, settings: readProjectSettings(temp.dir) }, name, {
    now,
  });

describe("checkMonitor", () => {
  it("unshifted traffic: the latest complete window is tested and does not breach", async () => {
    writeSettings({ watch: monitor({ webhook: hookUrl }) });
    writeTraffic(START, false);
    const c = await check("watch");
    expect(c.window).toEqual({ start: "2026-12-06T00:00:00.000Z", end: "2026-12-06T00:30:00.000Z" });
    expect([c.rows, c.tested, c.breached, c.reasons, c.alerted]).toEqual([60, true, false, [], false]);
    expect(c.summary.metric).toEqual({ name: "accuracy", value: 1, registered: 0.92 });
    expect(alerts()).toEqual([]);
    expect(received).toEqual([]);
  });

  it("shifted traffic breaches: the alert is in the audit history and the webhook gets {text}; the same window is not alerted twice", async () => {
    writeTraffic(START, true);
    const c = await check("watch");
    expect(c.breached).toBe(true);
    // Both x and the model's answer drifted; every shifted row is labelled "low" and predicted "high".
    expect(c.reasons).toEqual([
      "dataset drift: 2 of 2 columns (100 %) ≥ 50 %",
      "accuracy 0 < registered 0.92 − 0.05",
    ]);
    expect([c.alerted, c.alreadyAlerted, c.webhook]).toEqual([true, false, { sent: true, status: 200 }]);
    const [entry, ...more] = alerts();
    expect(more).toEqual([]);
    expect([entry!.actor, entry!.version]).toEqual(["monitor:watch", 1]);
    expect(entry!.details).toEqual({
      monitor: "watch",
      target: "local",
      window: "2026-12-06T00:00:00.000Z",
      windowEnd: "2026-12-06T00:30:00.000Z",
      reasons: c.reasons,
    });
    expect(describeAudit(entry!)).toBe(
      "monitor watch alerted on v1 for the window from 2026-12-06T00:00:00.000Z: dataset drift: 2 of 2 columns (100 %) ≥ 50 %; accuracy 0 < registered 0.92 − 0.05",
    );
    expect(received).toHaveLength(1);
    const got = received[0] as { contentType: string; method: string; body: Record<string, unknown> };
    expect([got.method, got.contentType, Object.keys(got.body)]).toEqual([
      "POST",
      "application/json",
      ["text"],
    ]);
    expect(got.body.text).toMatch(
      /^Dagwood monitor watch: m v1 on local breached in the window 2026-12-06T00:00:00\.000Z/,
    );
    expect(got.body.text).toContain("accuracy 0 < registered 0.92 − 0.05");

    // A second check of the same window: still breached, but no new alert or webhook.
    const again = await check("watch", START + 50 * 60e3);
    expect([again.breached, again.alerted, again.alreadyAlerted, again.webhook]).toEqual([
      true,
      false,
      true,
      null,
    ]);
    expect(alerts()).toHaveLength(1);
    expect(received).toHaveLength(1);

    // The next window has no rows: nothing to test, nothing to alert.
    const later = await check("watch", START + 65 * 60e3);
    expect([later.window.start, later.rows, later.tested, later.breached]).toEqual([
      "2026-12-06T00:30:00.000Z",
      0,
      false,
      false,
    ]);
  });

  it("a webhook that is down: the alert is still recorded and the failure reported", async () => {
    // A port nothing listens on: one just released.
    const free = createServer();
    await new Promise<void>((r) => free.listen(0, "127.0.0.1", r));
    const port = (free.address() as AddressInfo).port;
    await new Promise((r) => free.close(r));
    writeTraffic(START, true);
    writeSettings({ down: monitor({ webhook: `http://127.0.0.1:${port}/hook` }) });
    const c = await check("down");
    expect([c.breached, c.alerted]).toEqual([true, true]);
    expect(c.webhook).toMatchObject({ sent: false });
    expect((c.webhook as { error: string }).error).toMatch(
      /^the webhook could not be reached: .*ECONNREFUSED/,
    );
    expect(alerts().filter((e) => e.details.monitor === "down")).toHaveLength(1);
  });

  it("a monitor on drift only: its share threshold is the bound (100 % reached by 2 of 2 columns); no metric is watched", async () => {
    writeTraffic(START, true);
    writeSettings({
      strict: monitor({ performance: undefined, drift: { shareThreshold: 1 } }),
    });
    const c = await check("strict");
    expect(c.reasons).toEqual(["dataset drift: 2 of 2 columns (100 %) ≥ 100 %"]);
    expect(c.summary.metric).toBeNull();
  });

  it("a monitor on performance only does not watch drift", async () => {
    writeTraffic(START, true);
    writeSettings({
      perf: monitor({ drift: undefined, performance: { metric: "accuracy", tolerance: 0.1 } }),
    });
    const c = await check("perf");
    expect(c.reasons).toEqual(["accuracy 0 < registered 0.92 − 0.1"]);
    expect(c.summary.metric).toEqual({ name: "accuracy", value: 0, registered: 0.92 });
  });

  it("an unknown model or monitor is a MonitorError that says what to fix", async () => {
    writeSettings({ ghost: monitor({ model: "nope@champion" }) });
    await expect(check("ghost")).rejects.toThrow(MonitorError);
    await expect(check("ghost")).rejects.toThrow(/monitor ghost \(nope@champion on local\): .*nope/);
    await expect(check("other")).rejects.toThrow(/no monitor "other" in dagwood\.json; its monitors: ghost/);
  });
});

describe("postWebhook", () => {
  it("reports an error answer and a webhook that does not answer in time, without throwing", async () => {
    const replies: ServerResponse[] = [];
    const server = createServer((req, res) => {
      if (req.url === "/fail") {
        res.statusCode = 500;
        res.end("no");
      } else replies.push(res); // never answered until the test ends
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      expect(await postWebhook(`${base}/fail`, "x")).toEqual({
        sent: false,
        error: "the webhook answered HTTP 500",
      });
      expect(await postWebhook(`${base}/slow`, "x", fetch, 200)).toEqual({
        sent: false,
        error: "the webhook could not be reached: no answer within 0.2 s",
      });
    } finally {
      for (const r of replies) r.end();
      await new Promise((r) => server.close(r));
    }
  });
});

describe("monitor settings", () => {
  it("validates cron schedules field by field", () => {
    for (const ok of ["*/15 * * * *", "0 6 * * 1-5", "0,30 8-18/2 1 jan,jul sun", "5 4 * * 7"])
      expect(cronProblem(ok), ok).toBeNull();
    expect(cronProblem("* * * *")).toMatch(/5 fields .* got 4/);
    expect(cronProblem("61 * * * *")).toMatch(/the minute field "61" is not valid: use \*, a value 0–59/);
    expect(cronProblem("* 5-2 * * *")).toMatch(/the hour field "5-2"/);
    expect(cronProblem("* * 0 * *")).toMatch(/the day of month field "0"/);
    expect(cronProblem("* * * * */0")).toMatch(/the day of week field/);
    expect(cronProblem("* * * foo *")).toMatch(/the month field "foo"/);
  });

  it("refuses a bad cron, action retrain without its pipeline and a bad webhook in dagwood.json", () => {
    writeSettings({ a: monitor({ schedule: "61 * * * *", action: "retrain", webhook: "ftp://x" }) });
    let error: unknown;
    try {
      readProjectSettings(temp.dir);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ProjectSettingsError);
    const message = (error as Error).message;
    expect(message).toContain('monitors.a.schedule: the minute field "61" is not valid');
    expect(message).toContain(
      'monitors.a.retrain: action "retrain" needs "retrain": { "pipeline": "pipelines/retrain.dag.json" }',
    );
    expect(message).toContain("monitors.a.webhook: an http:// or https:// URL");
  });
});

describe("dagwood monitor run --once", () => {
  const DAY = 86400e3;
  const run = (...args: string[]) => startDagwood(["monitor", "run", "--project", temp.dir, ...args]).done;

  it("one line per monitor; exit 1 on a breach, 0 when none; a second run does not alert again", async () => {
    // Yesterday (UTC) is the latest complete window of a 1-day monitor.
    const yesterday = Math.floor(Date.now() / DAY) * DAY - DAY;
    writeSettings({ daily: monitor({ window: "1d", webhook: hookUrl }) });
    writeTraffic(yesterday, false);
    const calm = await run("--once");
    expect([calm.code, calm.stderr]).toEqual([0, ""]);
    expect(calm.stdout).toMatch(/^✓ daily: m v1 on local, window .* 60 rows: no breach\n$/);

    writeTraffic(yesterday, true);
    const before = received.length;
    const first = await run("--once");
    expect([first.code, first.stderr]).toEqual([1, ""]);
    expect(first.stdout).toMatch(
      /^✗ daily: .* 60 rows: dataset drift: 2 of 2 columns \(100 %\) ≥ 50 %; accuracy 0 < registered 0\.92 − 0\.05 — alert recorded, webhook sent \(HTTP 200\)\n$/,
    );
    expect(received.length).toBe(before + 1);
    const second = await run("--once", "--json");
    expect(second.code).toBe(1);
    const out = JSON.parse(second.stdout) as { checks: { alerted: boolean; alreadyAlerted: boolean }[] };
    expect(out.checks.map((c) => [c.alerted, c.alreadyAlerted])).toEqual([[false, true]]);
    expect(received.length).toBe(before + 1);
    expect(alerts().filter((e) => e.details.monitor === "daily")).toHaveLength(1);
  });

  it("bad settings exit 2 with what to fix", async () => {
    writeSettings({ a: monitor({ schedule: "*/15 * * *", action: "retrain" }) });
    const bad = await run("--once");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/monitors\.a\.schedule: a cron schedule has 5 fields/);
    expect(bad.stderr).toMatch(/monitors\.a\.retrain: action "retrain" needs "retrain"/);

    writeSettings({ ghost: monitor({ model: "nope@champion" }) });
    const ghost = await run("--once");
    expect([ghost.code, ghost.stdout]).toEqual([2, ""]);
    expect(ghost.stderr).toMatch(/^! monitor ghost \(nope@champion on local\): /);

    writeSettings({});
    const none = await run("--once");
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/declares no monitors/);

    const noOnce = await run();
    expect(noOnce.code).toBe(2);
    expect(noOnce.stderr).toMatch(/pass --once/);
  });
});
