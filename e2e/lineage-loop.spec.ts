/**
 * The retraining loop in the Lineage view: the project's store is seeded as
 * a promoted loop leaves it (app/monitoring/loop.ts: the loop record, the
 * champion v1 deployed, the retraining run registering v2, v2's canary and
 * its promotion as deployment.* audit entries), and the graph reads
 * v1 → alert → run → v2 → canary; the alert's pane says why it was raised,
 * the gate's figures and the canary, and links its version and run.
 * `DAGWOOD_SCREENSHOTS=1` also writes renderer/docs/lineage-loop.png.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SqliteMetadataStore } from "../app/store/metadata";
import type { DatasetRecord } from "../app/store/types";
import { expect, test } from "./fixtures";
import { shot } from "./steps";

const TRAIN_RUN = "20261201T100000-aaaaaa";
const RETRAIN_RUN = "20261203T120000-bbbbbb";

function seed(projectDir: string): { loopId: number } {
  const store = new SqliteMetadataStore(join(projectDir, ".dagwood", "metadata.sqlite"), { projectDir });
  const data = (name: string, digit: string): DatasetRecord => ({
    digest: digit.repeat(64),
    source: `data/${name}`,
    schema: [{ name: "bill_length_mm", type: "DOUBLE" }],
    rows: 300,
    fingerprint: `fp-${name}`,
  });
  const run = (id: string, pipeline: string, d: DatasetRecord, startedAt: string) => {
    store.startRun({
      id,
      pipeline,
      pipelinePath: `${pipeline}.dag.json`,
      pipelineHash: "e".repeat(64),
      pipelineText: `{"format":"dagwood.pipeline/1","name":"${pipeline}"}`,
      params: {},
      resolvedParams: {},
      startedAt,
      environment: {},
      user: "ana",
    });
    store.recordDataset(id, "load", d);
    store.finishRun(id, "succeeded");
    const folder = join(projectDir, ".dagwood", "artifacts", id, "train");
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, "model.onnx"), Buffer.from([0x08, 0x08]));
    writeFileSync(join(folder, "model.json"), JSON.stringify({ kind: "dagwood.model/1" }));
    store.registry.registerVersion({
      name: "penguins",
      runId: id,
      nodeId: "train",
      modelFingerprint: `fp-${id}`,
      estimator: "tree",
      task: "multiclass",
      signature: {
        inputs: [{ name: "bill_length_mm", dtype: "FP32", shape: [-1, 1] }],
        outputs: [{ name: "label", dtype: "BYTES", shape: [-1] }],
      },
      metrics: { accuracy: 0.91 },
      parity: { rows: 3, maxAbsDiff: 0, labelAgreement: 1 },
      files: { native: join(folder, "model.json"), onnx: join(folder, "model.onnx") },
      lineage: {
        run: {
          id,
          pipeline,
          pipelinePath: `${pipeline}.dag.json`,
          pipelineHash: "e".repeat(64),
          startedAt,
          user: "ana",
        },
        nodeId: "train",
        datasets: [d],
        params: {},
        environment: {},
      },
      alias: id === TRAIN_RUN ? "champion" : undefined,
      actor: "ana",
    });
  };
  const audit = (
    action: "monitor.alert" | "deployment.succeeded" | "deployment.canary" | "deployment.canaryEnded",
    version: number,
    details: Record<string, unknown>,
  ) => store.registry.appendAudit({ actor: "dagwood", action, model: "penguins", version, details });

  run(TRAIN_RUN, "penguins", data("penguins.csv", "a"), "2026-12-01T10:00:00.000Z");
  audit("deployment.succeeded", 1, { target: "local" });
  const reasons = ["drift: 3 of 4 columns drifted (share 0.75 ≥ 0.5)"];
  const entry = audit("monitor.alert", 1, { monitor: "penguins-shift", target: "local", reasons });
  const loop = store.createMonitorLoop({
    monitor: "penguins-shift",
    model: "penguins",
    target: "local",
    action: "retrain",
    window: { start: "2026-12-03T11:00:00.000Z", end: "2026-12-03T12:00:00.000Z" },
    reasons,
    champion: 1,
    message: "drift on penguins v1",
    auditId: entry.id,
  })!;
  run(RETRAIN_RUN, "penguins-retrain", data("fresh.csv", "b"), "2026-12-03T12:00:10.000Z");
  store.updateMonitorLoop(loop.id, { stage: "alerted" }, { stage: "retraining", runId: RETRAIN_RUN });
  store.updateMonitorLoop(
    loop.id,
    { stage: "retraining" },
    {
      stage: "gating",
      challenger: 2,
      gate: {
        metric: "accuracy",
        higherIsBetter: true,
        champion: 0.71,
        challenger: 0.93,
        margin: 0,
        rows: 40,
        passed: true,
      },
    },
  );
  audit("deployment.canary", 2, { target: "local", percent: 20, previous: 1 });
  store.updateMonitorLoop(loop.id, { stage: "gating" }, { stage: "canary" });
  audit("deployment.canaryEnded", 2, { target: "local", previous: 1, outcome: "promoted" });
  store.updateMonitorLoop(
    loop.id,
    { stage: "canary" },
    { stage: "promoted", outcome: "promoted v2: accuracy 0.93 vs 0.71 on 40 labelled rows" },
  );
  store.close();
  return { loopId: loop.id };
}

test("the lineage graph reads v1 → alert → retraining run → v2 → canary", async ({
  app,
  projectDir,
}, testInfo) => {
  const { loopId } = seed(projectDir);
  const url = new URL(app.url());
  url.searchParams.set("view", "lineage");
  await app.goto(url.toString());

  const alert = app.getByTestId(`lineage-node-alert:${loopId}`);
  await expect(alert).toBeVisible();
  await expect(alert).toHaveAttribute("data-kind", "alert");
  await expect(alert.locator(".lg-kind")).toHaveText(`alert #${loopId}`);
  await expect(alert.locator(".lg-label")).toHaveText("penguins-shift · promoted");
  // Its own colour: the soft danger hue, not a run's or a version's.
  await expect(alert.locator("rect")).toHaveCSS("fill", "rgb(253, 239, 238)");
  await expect(app.locator('[data-testid^="lineage-node-deployment:"]')).toHaveCount(3);
  await expect(app.locator('[data-testid^="lineage-node-deployment:"] .lg-label')).toContainText([
    "canary 20% → local",
  ]);

  // Left to right: v1, the alert, the retraining run, v2, its canary.
  const x = async (id: string) => (await app.getByTestId(`lineage-node-${id}`).boundingBox())!.x;
  const order = [
    await x("model:penguins:v1"),
    await x(`alert:${loopId}`),
    await x(`run:${RETRAIN_RUN}`),
    await x("model:penguins:v2"),
  ];
  expect([...order].sort((a, b) => a - b)).toEqual(order);
  expect(new Set(order).size).toBe(4);

  await alert.click();
  const detail = app.getByTestId("lineage-detail");
  await expect(detail).toContainText("penguins-shift · promoted");
  await expect(detail).toContainText("Raised on version");
  await expect(detail).toContainText("drift: 3 of 4 columns drifted (share 0.75 ≥ 0.5)");
  await expect(detail).toContainText(
    "accuracy: challenger 0.93 vs champion 0.71 on 40 labelled rows: passed",
  );
  await expect(detail).toContainText("promoted v2: accuracy 0.93 vs 0.71 on 40 labelled rows");
  await shot(app, testInfo, "lineage-loop");

  // The alert's run is one click away, and from it the version it registered.
  await detail.getByRole("button", { name: "penguins-retrain · 120000-bbbbbb" }).click();
  await expect(detail).toContainText("Started by alert");
  await detail.getByRole("button", { name: "penguins v2" }).click();
  await expect(detail).toContainText("penguins v2");
  await detail.getByRole("button", { name: "canary 20% → local" }).click();
  await expect(detail).toContainText("Traffic share");
  await expect(detail).toContainText("20 %");

  // From the alert, its monitor opens in the Monitoring view.
  await alert.click();
  await detail.getByTestId("lineage-open-monitoring").click();
  await expect(app.getByTestId("lineage-view")).toBeHidden();
});
