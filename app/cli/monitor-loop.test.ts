/**
 * The retraining loop end to end, on loopback, with no person involved, all
 * through the real CLI as a user (or cron) runs it: the example project
 * resources/examples/monitoring copied to a temp folder, `dagwood serve
 * --log-all` with a token, `dagwood run pipelines/train.dag.json` (the
 * champion), `dagwood deploy penguins@champion --target serve`, the example's
 * traffic script (penguins whose bills turn to centimetres a third of the
 * way in, with their true species as feedback), then `dagwood monitor run
 * --once --at …` as of the end of the traffic's window.
 *
 * One traffic window serves three monitors, declared one at a time in the
 * copy's dagwood.json (each alerts the window once under its own name): a
 * retraining pipeline that fails (the alert stays open, nothing deployed), a
 * challenger that sees only the penguin's sex (it loses the gate, the
 * champion keeps serving), and the example's own monitor (retrained on the
 * fresh rows, gated, canaried at 30 %, promoted).
 *
 * Windows: the monitor's window is 15 s; the traffic is sent early in a
 * window and `--at` is that window's end, so no run can straddle a
 * boundary; the canary's traffic is sent after that time. No timing is
 * asserted. The tests tell one story and run in order.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseWindow } from "../monitoring/windows";
import type { MonitorLoop } from "../values/loop";
import { type CliResult, ROOT, startDagwood } from "./testing";

const EXAMPLE = join(ROOT, "resources", "examples", "monitoring");
const TRAFFIC = join(EXAMPLE, "traffic.mjs");
const TOKEN = "monitor-loop-token";
const exec = promisify(execFile);

interface TrafficSummary {
  sent: number;
  shifted: number;
  prefix: string;
  first: string;
  last: string;
  versions: Record<string, number>;
  correct: Record<string, number>;
  feedback: { accepted: number; unknownIds: number };
}

interface RunRecord {
  id: string;
  status: string;
  tags: Record<string, string>;
}

interface AuditEntry {
  id: number;
  action: string;
  version: number | null;
  details: Record<string, unknown>;
}

let dir: string;
let url: string;
let serve: ReturnType<typeof startDagwood> | undefined;
const env = { ...process.env, DAGWOOD_SERVE_TOKEN: TOKEN, DAGWOOD_TOKEN_SERVE: TOKEN, DAGWOOD_USER: "e2e" };
const settings = () => JSON.parse(readFileSync(join(dir, "dagwood.json"), "utf8"));
const shipped = JSON.parse(readFileSync(join(EXAMPLE, "dagwood.json"), "utf8"));
const WINDOW = parseWindow(shipped.monitors["penguins-shift"].window);
/** The end of the window the first traffic was sent in: every `monitor run --at` of the alert is as of then. */
let at: number;

const dagwood = (...args: string[]): Promise<CliResult> => startDagwood(args, { cwd: dir, env }).done;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function traffic(...args: string[]): Promise<TrafficSummary> {
  const { stdout } = await exec(process.execPath, [TRAFFIC, "--url", url, "--json", ...args], { env });
  return JSON.parse(stdout) as TrafficSummary;
}

async function policy(): Promise<{ primary?: number; canary?: { version: number; percent: number } }> {
  const res = await fetch(`${url}/v2/repository/models/penguins/traffic`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { policy: { primary?: number } }).policy;
}

async function audit(): Promise<AuditEntry[]> {
  const r = await dagwood("models", "show", "penguins", "--json");
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { audit: AuditEntry[] }).audit.toSorted((a, b) => a.id - b.id);
}

/** `dagwood monitor run --once --at ISO`: exit 1 while a monitor breached. */
const monitorRun = (when: number) =>
  dagwood("monitor", "run", "--once", "--at", new Date(when).toISOString());

async function loopsOf(monitor: string): Promise<MonitorLoop[]> {
  const r = await dagwood("monitor", "loops", "--json", "--monitor", monitor);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as MonitorLoop[];
}

async function runs(): Promise<RunRecord[]> {
  const r = await dagwood("runs", "list", "--json", "--limit", "100");
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { runs: RunRecord[] }).runs;
}

/**
 * The accuracy of version `v` on the loop's gate rows, counted here: the
 * file's penguins scored by `dagwood predict`, their label compared with
 * the species the feedback gave.
 */
async function gateAccuracy(loop: MonitorLoop, v: number): Promise<{ rows: number; accuracy: number }> {
  const out = join(dir, `gate-${loop.id}-v${v}.csv`);
  const r = await dagwood(
    "predict",
    "--model",
    `penguins:${v}`,
    "--input",
    `monitoring/loops/${loop.id}/gate.parquet`,
    "--output",
    out,
  );
  expect(r.code, r.stderr).toBe(0);
  const [head, ...lines] = readFileSync(out, "utf8").trim().split("\n");
  const names = head!.split(",");
  const species = names.indexOf("species");
  const label = names.indexOf("label");
  const right = lines.filter((l) => {
    const cells = l.split(",");
    return cells[species] === cells[label];
  }).length;
  return { rows: lines.length, accuracy: right / lines.length };
}

/** The audit actions recorded after entry `after`, oldest first. */
const actionsSince = (entries: AuditEntry[], after: number) =>
  entries.filter((e) => e.id > after).map((e) => e.action);

/** dagwood.json's monitors replaced by one: the example's monitor under `name`, with `retrain.params` (and `promote`) set. */
function declareMonitor(name: string, params: Record<string, unknown>, promote?: Record<string, unknown>) {
  const s = settings();
  const m = structuredClone(shipped.monitors["penguins-shift"]);
  m.retrain.params = params;
  if (promote) m.promote = promote;
  s.monitors = { [name]: m };
  writeFileSync(join(dir, "dagwood.json"), JSON.stringify(s, null, 2));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "dagwood-monitor-loop-"));
  cpSync(EXAMPLE, dir, { recursive: true, filter: (src) => !src.includes(".dagwood") });
  serve = startDagwood(["serve", "--port", "0", "--repository", join(dir, "model-repository"), "--log-all"], {
    cwd: dir,
    env,
  });
  url = await new Promise<string>((resolve, reject) => {
    let out = "";
    serve!.child.stdout!.on("data", (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    void serve!.done.then((r) => reject(new Error(`dagwood serve exited (${r.code}): ${r.stderr}`)));
  });
  const s = settings();
  s.targets.serve.url = url;
  writeFileSync(join(dir, "dagwood.json"), JSON.stringify(s, null, 2));
}, 60_000);

afterAll(async () => {
  if (serve) {
    serve.child.kill("SIGTERM");
    await serve.done;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the monitoring example, end to end", () => {
  it("trains and deploys the champion, and the traffic is answered and labelled", async () => {
    const train = await dagwood("run", "pipelines/train.dag.json", "--no-attach", "--json");
    expect(train.code, train.stderr).toBe(0);
    const deploy = await dagwood("deploy", "penguins@champion", "--target", "serve", "--json");
    expect(deploy.code, deploy.stderr).toBe(0);
    expect(await policy()).toEqual({ primary: 1 });

    // Sent early in a window (waiting for the next one when less than half of it is left).
    const left = WINDOW - (Date.now() % WINDOW);
    if (left < WINDOW / 2) await sleep(left + 20);
    const first = await traffic("--count", "300", "--shift-after", "100", "--seed", "1", "--prefix", "a");
    const window = Math.floor(Date.parse(first.first) / WINDOW);
    if (Math.floor(Date.parse(first.last) / WINDOW) !== window)
      throw new Error(
        `the traffic (${first.first} – ${first.last}) crossed a window boundary although it started with half a ${WINDOW} ms window left: the machine is too busy for this test`,
      );
    at = (window + 1) * WINDOW;
    expect(first).toMatchObject({
      sent: 300,
      shifted: 200,
      versions: { "1": 300 },
      feedback: { accepted: 300, unknownIds: 0 },
    });
  }, 90_000);

  it("a retraining run that fails leaves the alert open and deploys nothing, and is not run again", async () => {
    declareMonitor("penguins-broken", { target: "no_such_column" });
    const before = (await audit()).at(-1)!.id;
    const r = await monitorRun(at);
    expect(r.code, r.stderr + r.stdout).toBe(1);
    const [loop, ...others] = await loopsOf("penguins-broken");
    expect(others).toEqual([]);
    expect(loop).toMatchObject({
      monitor: "penguins-broken",
      model: "penguins",
      status: "open",
      stage: "failed",
      champion: 1,
      challenger: null,
      gate: null,
      canary: null,
    });
    expect(loop!.outcome).toContain(`the retraining run ${loop!.runId} failed`);
    // The run's own error, so the person who reads the alert knows what to fix.
    expect(loop!.outcome).toContain('Column "no_such_column" in target does not exist');
    const run = (await runs()).find((x) => x.id === loop!.runId);
    expect(run).toMatchObject({ status: "failed", tags: { "dagwood.monitor": "penguins-broken" } });
    const actions = actionsSince(await audit(), before);
    expect(actions[0]).toBe("monitor.alert");
    expect(actions).toContain("monitor.failed");
    expect(actions.filter((a) => a.startsWith("deployment."))).toEqual([]);
    expect(await policy()).toEqual({ primary: 1 });

    // Checked again: the window was alerted, and the failed loop waits for a person (no second run).
    const runsBefore = (await runs()).length;
    expect((await monitorRun(at)).code).toBe(1);
    expect(await loopsOf("penguins-broken")).toMatchObject([
      { id: loop!.id, stage: "failed", runId: loop!.runId },
    ]);
    expect((await runs()).length).toBe(runsBefore);

    // A person closes the alert: acknowledged, closed; a second ack is refused, saying why.
    const ack = await dagwood("monitor", "ack", String(loop!.id), "--json");
    expect(ack.code, ack.stderr).toBe(0);
    expect(JSON.parse(ack.stdout)).toMatchObject({ id: loop!.id, stage: "acknowledged", status: "closed" });
    const again = await dagwood("monitor", "ack", String(loop!.id));
    expect(again.code).toBe(2);
    expect(again.stderr).not.toBe("");
    expect((await audit()).at(-1)).toMatchObject({
      action: "monitor.acknowledged",
      details: { loop: loop!.id },
    });
  }, 90_000);

  it("with promote mode approve the challenger waits for a person; rejected, nothing is deployed", async () => {
    // A shallower tree than the example's, so its challenger is a model of its own (the same bytes would be the same version).
    declareMonitor("penguins-approve", { maxDepth: 4 }, { mode: "approve" });
    const r = await monitorRun(at);
    expect(r.code, r.stderr + r.stdout).toBe(1);
    const [loop] = await loopsOf("penguins-approve");
    expect(loop).toMatchObject({ status: "open", stage: "awaiting-approval", canary: null });
    expect(loop!.gate!.passed).toBe(true);
    const challenger = await dagwood("models", "show", "penguins@challenger", "--json");
    expect(JSON.parse(challenger.stdout).version).toBe(loop!.challenger);
    expect(await policy()).toEqual({ primary: 1 });

    const reject = await dagwood("monitor", "reject", String(loop!.id), "--reason", "not before the audit");
    expect(reject.code, reject.stderr).toBe(0);
    const [done] = await loopsOf("penguins-approve");
    expect(done).toMatchObject({ status: "closed", stage: "kept" });
    expect(done!.outcome).toContain("not before the audit");
    expect(await policy()).toEqual({ primary: 1 });
    const champion = await dagwood("models", "show", "penguins@champion", "--json");
    expect(JSON.parse(champion.stdout).version).toBe(1);
    // Unknown loop ids are refused with a clear message.
    const unknown = await dagwood("monitor", "approve", "999");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/999/);
  }, 90_000);

  it("a worse challenger loses the gate: the champion still serves, and the reason is recorded", async () => {
    declareMonitor("penguins-sex-only", { features: ["sex"] });
    const before = (await audit()).at(-1)!.id;
    const r = await monitorRun(at);
    expect(r.code, r.stderr + r.stdout).toBe(1);
    const [loop] = await loopsOf("penguins-sex-only");
    expect(loop).toMatchObject({ status: "closed", stage: "kept", champion: 1, canary: null });
    const gate = loop!.gate!;
    expect(gate).toMatchObject({ metric: "accuracy", higherIsBetter: true, passed: false, margin: 0 });
    // The gate's figures, counted here on the gate rows the loop kept aside.
    const champion = await gateAccuracy(loop!, 1);
    const challenger = await gateAccuracy(loop!, loop!.challenger!);
    expect(gate.rows).toBe(champion.rows);
    expect(gate.champion).toBeCloseTo(champion.accuracy, 12);
    expect(gate.challenger).toBeCloseTo(challenger.accuracy, 12);
    expect(challenger.accuracy).toBeLessThan(champion.accuracy);
    expect(loop!.outcome).toMatch(/^champion kept: accuracy /);
    const entries = (await audit()).filter((e) => e.id > before);
    const actions = entries.map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(["monitor.alert", "monitor.gate", "monitor.kept"]));
    expect(actions.filter((a) => a.startsWith("deployment."))).toEqual([]);
    expect(entries.find((e) => e.action === "monitor.kept")!.details).toMatchObject({
      loop: loop!.id,
      reason: loop!.outcome,
    });
    expect(await policy()).toEqual({ primary: 1 });
    const show = await dagwood("models", "show", "penguins@champion", "--json");
    expect(JSON.parse(show.stdout).version).toBe(1);
  }, 90_000);

  it("the shift is noticed, retrained on, gated, canaried and promoted", async () => {
    declareMonitor("penguins-shift", {});
    const before = (await audit()).at(-1)!.id;
    const alert = await monitorRun(at);
    expect(alert.code, alert.stderr + alert.stdout).toBe(1);
    const [loop] = await loopsOf("penguins-shift");
    expect(loop).toMatchObject({ status: "open", stage: "canary", champion: 1 });
    expect(loop!.reasons.join("; ")).toMatch(/dataset drift: .*accuracy/);
    const v = loop!.challenger!;
    expect(v).toBeGreaterThan(1);
    const gate = loop!.gate!;
    expect(gate.passed).toBe(true);
    const champion = await gateAccuracy(loop!, 1);
    const challenger = await gateAccuracy(loop!, v);
    expect(gate.champion).toBeCloseTo(champion.accuracy, 12);
    expect(gate.challenger).toBeCloseTo(challenger.accuracy, 12);
    expect(challenger.accuracy).toBeGreaterThan(champion.accuracy);
    // Lineage: the alert → the retraining run (tagged with its monitor, loop and alert) → the challenger.
    const alertEntry = (await audit()).find(
      (e) => e.id > before && e.action === "monitor.alert" && e.details.monitor === "penguins-shift",
    )!;
    const run = (await runs()).find((x) => x.id === loop!.runId);
    expect(run).toMatchObject({
      status: "succeeded",
      tags: {
        "dagwood.monitor": "penguins-shift",
        "dagwood.loop": String(loop!.id),
        "dagwood.alert": String(alertEntry.id),
      },
    });
    const version = await dagwood("models", "show", `penguins:${v}`, "--json");
    expect(JSON.parse(version.stdout).runId).toBe(loop!.runId);
    expect(await policy()).toEqual({ primary: 1, canary: { version: v, percent: 30 } });
    // Run again before the canary's window ends (cron comes back): the loop waits, nothing is deployed twice.
    expect((await monitorRun(at)).code).toBe(1);
    expect(await loopsOf("penguins-shift")).toMatchObject([{ id: loop!.id, stage: "canary" }]);
    const canaries = (await audit()).filter((e) => e.id > before && e.action === "deployment.canary");
    expect(canaries.map((e) => e.version)).toEqual([v]);

    // The canary's share of the next penguins (every one in centimetres) is answered by the challenger.
    // Its window starts at `at` (the loop's now): the canary traffic is sent after it.
    await sleep(Math.max(0, at - Date.now() + 20));
    const canary = await traffic("--count", "200", "--shift-after", "0", "--seed", "2", "--prefix", "b");
    expect(Object.keys(canary.versions).sort()).toEqual(["1", String(v)]);
    // Which ids the canary takes is fixed by the id: sha256's first 4 bytes mod 100 below the percent.
    const bucket = (id: string) => createHash("sha256").update(id).digest().readUInt32BE(0) % 100;
    const expected = Array.from({ length: 200 }, (_, i) => `b-${i}`).filter((id) => bucket(id) < 30).length;
    expect(canary.versions[v]).toBe(expected);
    expect(canary.feedback).toEqual({ accepted: 200, unknownIds: 0 });

    // Judged as of the end of the canary's window.
    const promote = await monitorRun(Date.parse(loop!.canary!.until) + 1);
    expect(promote.code, promote.stderr + promote.stdout).toBe(0);
    const [done] = await loopsOf("penguins-shift");
    expect(done).toMatchObject({ status: "closed", stage: "promoted", challenger: v });
    // The arms' live figures, as the traffic script counted them from the answers it got.
    const arm = (version: number) => ({
      version,
      rows: canary.versions[version],
      labelled: canary.versions[version],
    });
    expect(done!.canary).toMatchObject({ held: true, primary: arm(1), canary: arm(v) });
    expect(done!.canary!.canary!.value).toBeCloseTo((canary.correct[v] ?? 0) / canary.versions[v]!, 12);
    expect(done!.canary!.primary!.value).toBeCloseTo((canary.correct[1] ?? 0) / canary.versions[1]!, 12);
    expect(done!.outcome).toMatch(new RegExp(`^promoted v${v}: accuracy `));

    expect(await policy()).toEqual({ primary: v });
    const show = await dagwood("models", "show", "penguins@champion", "--json");
    expect(JSON.parse(show.stdout).version).toBe(v);
    const after = await traffic("--count", "20", "--seed", "3", "--prefix", "c");
    expect(after.versions).toEqual({ [v]: 20 });

    // The model's audit history tells the loop in order.
    const actions = actionsSince(await audit(), before);
    const steps = [
      "monitor.alert",
      "monitor.retrain",
      "monitor.gate",
      "deployment.canary",
      "monitor.promoted",
    ];
    const order = steps.map((a) => actions.indexOf(a));
    expect(
      order.every((i) => i >= 0),
      actions.join(", "),
    ).toBe(true);
    expect(order).toEqual([...order].sort((a, b) => a - b));
  }, 90_000);
});

describe("the example's traffic script", () => {
  const script = (args: string[], scriptEnv: NodeJS.ProcessEnv) =>
    exec(process.execPath, [TRAFFIC, ...args], { env: scriptEnv }).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );

  it("says what is wrong with its arguments, its token or the server, and exits 2", async () => {
    const { DAGWOOD_TOKEN_SERVE: _, ...noToken } = env;
    expect(await script([], noToken)).toEqual({
      code: 2,
      stderr: "traffic: set DAGWOOD_TOKEN_SERVE to the server's token (feedback needs it)\n",
    });
    expect(await script(["--count", "0"], env)).toEqual({
      code: 2,
      stderr: "traffic: --count must be 1 to 100000, got 0\n",
    });
    const down = await script(["--url", "http://127.0.0.1:9"], env);
    expect(down.code).toBe(2);
    expect(down.stderr).toMatch(
      /^traffic: http:\/\/127\.0\.0\.1:9 did not answer \(.+\): start it with dagwood serve, or pass --url\n$/,
    );
  });
});
