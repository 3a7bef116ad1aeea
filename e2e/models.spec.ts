import { expect, test } from "./fixtures";

test.use({ pipeline: "penguins-model.dag.json" });

test("an evaluation report is charted and a model is summarised", async ({ app }) => {
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
  await expect(app.getByTestId("loss-chart")).toBeVisible();
});
