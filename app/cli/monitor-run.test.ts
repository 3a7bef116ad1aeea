/**
 * `dagwood monitor loops` and `dagwood monitor approve|reject|ack` through
 * the real CLI, on loops recorded in a temp project's store: the listing,
 * acknowledging an alert, and the refusals (unknown id, a loop at a stage
 * that does not allow the decision, a bad id) with exit 2 and what to do.
 * The loop run itself is proved end to end in monitor-loop.test.ts.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { catalog } from "../../nodes/index";
import { createCoreApi } from "../api/core";
import { advertiseEngine } from "../api/engine-advert";
import { startHttpBridge } from "../api/http";
import { createTempStore, SqliteMetadataStore } from "../store/metadata";
import type { MonitorLoop } from "../values/loop";
import { pipelineRunner } from "./monitor-run";
import { ROOT, startDagwood } from "./testing";

let temp: ReturnType<typeof createTempStore>;
const run = (...args: string[]) => startDagwood(["monitor", ...args, "--project", temp.dir]).done;

beforeAll(() => {
  temp = createTempStore();
  writeFileSync(
    join(temp.dir, "dagwood.json"),
    JSON.stringify({ monitors: { watch: { model: "m@champion", target: "local", window: "1h" } } }),
  );
  for (const start of ["2026-12-01T00:00:00.000Z", "2026-12-01T01:00:00.000Z"])
    temp.store.createMonitorLoop({
      monitor: "watch",
      model: "m",
      target: "local",
      action: "alert",
      window: { start, end: "x" },
      reasons: ["dataset drift: 2 of 2 columns (100 %) ≥ 50 %"],
      champion: 1,
      message: "alert: dataset drift: 2 of 2 columns (100 %) ≥ 50 %",
      auditId: null,
    });
  // The second loop waits for an approval.
  temp.store.updateMonitorLoop(2, { stage: "alerted" }, { stage: "awaiting-approval", challenger: 2 });
  // The store is closed while the CLI writes to it.
  temp.store.close();
});

afterAll(() => temp.cleanup());

describe("dagwood monitor loops | ack | approve | reject", () => {
  it("lists the loops, newest first; --json and --open", async () => {
    const list = await run("loops");
    expect([list.code, list.stderr]).toEqual([0, ""]);
    expect(list.stdout.split("\n").filter(Boolean)).toEqual([
      "! 2  awaiting-approval watch: m v1 → v2 on local, window 2026-12-01T01:00:00.000Z — alert: dataset drift: 2 of 2 columns (100 %) ≥ 50 %",
      "! 1  alerted           watch: m v1 on local, window 2026-12-01T00:00:00.000Z — alert: dataset drift: 2 of 2 columns (100 %) ≥ 50 %",
    ]);
    const json = JSON.parse((await run("loops", "--json")).stdout) as MonitorLoop[];
    expect(json.map((l) => [l.id, l.stage, l.status])).toEqual([
      [2, "awaiting-approval", "open"],
      [1, "alerted", "open"],
    ]);
    const none = await run("loops", "--monitor", "other");
    expect([none.code, none.stdout]).toEqual([0, "No monitor loops of other.\n"]);
  });

  it("acknowledges an alert once; refuses unknown ids and decisions the stage does not allow (exit 2)", async () => {
    const ack = await run("ack", "1");
    expect([ack.code, ack.stderr]).toEqual([0, ""]);
    expect(ack.stdout).toMatch(/^· 1 {2}acknowledged {6}watch: m v1 on local/);
    const again = await run("ack", "1");
    expect([again.code, again.stderr]).toEqual([
      2,
      "loop 1 is acknowledged: only an alert (alerted), a loop waiting for labels or a failed loop can be acknowledged\n",
    ]);
    const open = JSON.parse((await run("loops", "--open", "--json")).stdout) as MonitorLoop[];
    expect(open.map((l) => l.id)).toEqual([2]);

    const unknown = await run("approve", "99");
    expect([unknown.code, unknown.stderr]).toEqual([
      2,
      "no monitor loop 99 in this project; list them with: dagwood monitor loops\n",
    ]);
    const notWaiting = await run("approve", "1");
    expect(notWaiting.code).toBe(2);
    expect(notWaiting.stderr).toMatch(/^loop 1 is acknowledged, not awaiting approval/);
    const rejectAlert = await run("reject", "1", "--reason", "no");
    expect(rejectAlert.code).toBe(2);
    expect(rejectAlert.stderr).toMatch(
      /only a challenger awaiting approval or serving as a canary can be rejected/,
    );

    const rejected = await run("reject", "2", "--reason", "not this week");
    expect([rejected.code, rejected.stderr]).toEqual([0, ""]);
    expect(rejected.stdout).toMatch(/^· 2 {2}kept .* — champion kept: v2 rejected by .*: not this week\n$/);

    const bad = await run("approve", "abc");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/monitor approve takes one loop id/);
    const badAt = await run("run", "--once", "--at", "yesterday");
    expect(badAt.code).toBe(2);
    expect(badAt.stderr).toMatch(/--at takes an ISO 8601 time, e\.g\. 2026-12-01T06:00:00Z; got "yesterday"/);
    const reasonForAck = await run("ack", "2", "--reason", "x");
    expect(reasonForAck.code).toBe(2);
    expect(reasonForAck.stderr).toMatch(/--reason is for monitor reject/);
  });
});

describe("the retraining runs of dagwood monitor run (pipelineRunner)", () => {
  let dir: string;
  const tags = { "dagwood.monitor": "watch", "dagwood.loop": "7", "dagwood.alert": "12" };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "dagwood-monitor-runner-"));
    cpSync(join(ROOT, "resources", "examples", "starter"), dir, {
      recursive: true,
      filter: (src) => !src.includes(".dagwood"),
    });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("runs the project's pipeline in this process with the params, tagged as the loop's", async () => {
    const run = pipelineRunner(dir);
    const r = await run({ pipeline: "penguins.dag.json", params: { seed: 3 }, tags });
    expect(r).toEqual({ runId: expect.any(String), status: "succeeded" });
    const store = new SqliteMetadataStore(join(dir, ".dagwood", "metadata.sqlite"));
    try {
      expect(store.getRun(r.runId)?.tags).toMatchObject(tags);
      expect(store.getRun(r.runId)?.pipelinePath).toBe("penguins.dag.json");
      expect(store.resolvedParams(r.runId)["split.seed"]).toBe(3);
    } finally {
      store.close();
    }
    await expect(run({ pipeline: "penguins.dag.json", params: { nope: 1 }, tags })).rejects.toThrow(
      /the retraining pipeline penguins\.dag\.json: .*the pipeline has no parameter "nope"/,
    );
    await expect(run({ pipeline: "missing.dag.json", params: {}, tags })).rejects.toThrow(
      /the retraining pipeline missing\.dag\.json: /,
    );
  }, 120_000);

  it("sends the run to the engine that has the project open (the app), tagged", async () => {
    const api = await createCoreApi({ catalog, projectDir: dir });
    const bridge = await startHttpBridge({ api, host: "127.0.0.1", port: 0 });
    const advertised = advertiseEngine(api, { host: "127.0.0.1", port: bridge.port, token: bridge.token });
    try {
      const r = await pipelineRunner(dir)({ pipeline: "penguins.dag.json", params: { seed: 5 }, tags });
      expect(r.status).toBe("succeeded");
      const detail = await api.getRun({ runId: r.runId });
      expect(detail.run.tags).toMatchObject(tags);
      expect(detail.resolvedParams["split.seed"]).toBe(5);
    } finally {
      advertised.stop();
      await bridge.close();
      await api.close();
    }
  }, 120_000);
});
