import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "./fixtures";
import { shot } from "./steps";

test.use({ pipeline: "penguins-model.dag.json" });

test("an evaluation report is charted and a model is summarised", async ({ app }, testInfo) => {
  await app.getByTestId("run-button").click();
  await expect(app.getByTestId("status-run")).toHaveAttribute("data-run-status", "succeeded", {
    timeout: 45_000,
  });
  await app.getByTestId("node-eval_gbdt").click();
  const drawer = app.getByTestId("data-drawer");
  if (!(await drawer.isVisible())) await app.getByTestId("tab-data").click();
  await expect(app.getByTestId("evaluation-view")).toBeVisible();
  await expect(app.getByTestId("confusion-matrix")).toBeVisible();
  await expect(app.getByTestId("roc-chart")).toBeVisible();
  await expect(app.getByTestId("metric-accuracy")).toBeVisible();

  await app.getByTestId("node-gbdt").click();
  await expect(app.getByTestId("model-view")).toBeVisible();
  await expect(app.getByTestId("model-signature")).toContainText("beak_length_mm");
  // The served model takes FP64 numbers, and the signature says which column each comes from.
  await expect(app.getByTestId("model-signature")).toContainText("FP64");
  await expect(app.getByTestId("model-signature")).toContainText("VARCHAR");
  await expect(app.getByTestId("loss-chart")).toBeVisible();
  await shot(app, testInfo, "model");
});

test("an explanation report is charted", async ({ app, projectDir }) => {
  // The example project has no explain node: this test adds one after gbdt in its own copy.
  const pipeline = JSON.parse(readFileSync(join(projectDir, "penguins-model.dag.json"), "utf8"));
  pipeline.name = "penguins-explain";
  pipeline.nodes.push({ id: "explain", block: "explain", params: {} });
  pipeline.edges.push(
    { from: "gbdt.model", to: "explain.model" },
    { from: "split.test", to: "explain.data" },
  );
  pipeline.layout.explain = { x: 780, y: -260 };
  writeFileSync(join(projectDir, "penguins-explain.dag.json"), JSON.stringify(pipeline, null, 2));
  const url = new URL(app.url());
  url.searchParams.set("pipeline", "penguins-explain.dag.json");
  await app.goto(url.toString());

  await app.getByTestId("run-button").click();
  await expect(app.getByTestId("status-run")).toHaveAttribute("data-run-status", "succeeded", {
    timeout: 45_000,
  });
  await app.getByTestId("node-explain").click();
  const drawer = app.getByTestId("data-drawer");
  if (!(await drawer.isVisible())) await app.getByTestId("tab-data").click();
  await expect(app.getByTestId("explanation-view")).toBeVisible();
  await expect(app.getByTestId("importance-chart")).toBeVisible();
  await expect(app.getByTestId("importance-chart")).toContainText("beak_length_mm");
  await expect(app.getByTestId("model-importance-chart")).toContainText("split gain");
  await expect(app.getByTestId("pd-chart")).toHaveCount(3);
  await expect(app.getByTestId("pd-chart").first()).toBeVisible();
});
