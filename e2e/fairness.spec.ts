import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "./fixtures";
import { shot } from "./steps";

/** Penguins' sex from body measurements, evaluated by island: Torgersen's few test rows fall below minGroupSize. */
const FAIR_PIPELINE = {
  format: "dagwood.pipeline/1",
  name: "penguins-fair",
  params: {},
  nodes: [
    { id: "penguins", block: "ingest.file", params: { path: "data/penguins.csv" } },
    {
      id: "sexed",
      block: "transform.sql",
      params: { query: "SELECT * FROM input WHERE sex IN ('MALE', 'FEMALE')" },
    },
    { id: "split", block: "split", params: { testFraction: 0.3, seed: 7 } },
    { id: "gbdt", block: "train.gbdt", params: { target: "sex", seed: 7, trees: 40 } },
    {
      id: "eval",
      block: "evaluate",
      params: { groupBy: ["island"], minGroupSize: 20, bootstrapResamples: 500 },
    },
  ],
  edges: [
    { from: "penguins.out", to: "sexed.in" },
    { from: "sexed.out", to: "split.in" },
    { from: "split.train", to: "gbdt.train" },
    { from: "gbdt.model", to: "eval.model" },
    { from: "split.test", to: "eval.data" },
  ],
  layout: {
    penguins: { x: 0, y: 0 },
    sexed: { x: 240, y: 0 },
    split: { x: 480, y: 0 },
    gbdt: { x: 720, y: -80 },
    eval: { x: 960, y: 0 },
  },
};

test("the fairness panel shows the gaps with their intervals, the conventions and the groups left out", async ({
  app,
  projectDir,
}, testInfo) => {
  writeFileSync(join(projectDir, "penguins-fair.dag.json"), JSON.stringify(FAIR_PIPELINE, null, 2));
  const url = new URL(app.url());
  url.searchParams.set("pipeline", "penguins-fair.dag.json");
  await app.goto(url.toString());
  await app.getByTestId("run-button").click();
  await expect(app.getByTestId("status-run")).toHaveAttribute("data-run-status", "succeeded", {
    timeout: 60_000,
  });
  await app.getByTestId("node-eval").click();
  const drawer = app.getByTestId("data-drawer");
  if (!(await drawer.isVisible())) await app.getByTestId("tab-data").click();
  // Maximised, the panel shows the fairness part at 1280×720 without the canvas above it.
  await app.getByTestId("maximize-drawer").click();
  const view = app.getByTestId("fairness-view");
  await expect(view).toBeVisible();
  await view.scrollIntoViewIfNeeded();

  // In words: which conventions, which group was left out and why.
  await expect(app.getByTestId("fairness-conventions")).toContainText("Fairlearn's conventions");
  await expect(app.getByTestId("fairness-left-out")).toContainText("fewer than 20 rows: Torgersen");

  // The gaps as bars with whiskers: one bar per gap, an error bar on each defined one.
  const chart = app.getByTestId("fairness-gap-chart");
  await expect(chart).toBeVisible();
  await expect(chart).toContainText("equalized odds diff.");
  await expect(chart).toContainText("95 % bootstrap intervals (500 resamples)");
  await expect(chart.locator(".recharts-bar-rectangle")).toHaveCount(7);
  await expect(chart.locator(".recharts-errorBar")).toHaveCount(7);
  // Beside the chart, each gap with its interval.
  await expect(app.getByTestId("gap-equalized_odds_difference")).toContainText(
    /equalized odds difference[\d.]+ \[[\d.]+, [\d.]+\]/,
  );
  await expect(app.getByTestId("gap-false_positive_rate_difference")).toBeVisible();

  // The per-group table marks the small group.
  const rows = app.getByTestId("fairness-group-row");
  await expect(rows).toHaveCount(3);
  await expect(rows.filter({ hasText: "Torgersen" })).toContainText("small · left out");
  await expect(rows.filter({ hasText: "Biscoe" })).not.toContainText("small");

  // At 1280×720 the gap chart and the gaps list are on screen side by side, inside the panel.
  await chart.scrollIntoViewIfNeeded();
  const box = (await chart.boundingBox())!;
  const panel = (await app.getByTestId("evaluation-view").boundingBox())!;
  expect(box.x + box.width).toBeLessThanOrEqual(panel.x + panel.width + 0.5);
  const gaps = (await app.getByTestId("fairness-gaps").boundingBox())!;
  expect(gaps.x + gaps.width).toBeLessThanOrEqual(panel.x + panel.width + 0.5);
  await shot(app, testInfo, "fairness");
  await testInfo.attach("fairness-panel", { body: await view.screenshot(), contentType: "image/png" });
});
