import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "./fixtures";
import { openPipeline, runThenRerunAtDepth2, shot, TREE_PIPELINE } from "./steps";

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

test("Alias… starts empty and Enter never moves an alias; lineage fits the panel and reads in words", async ({
  app,
  projectDir,
}, testInfo) => {
  test.setTimeout(180_000);
  await openPipeline(app, projectDir, TREE_PIPELINE, "penguins-tree.dag.json");
  await runThenRerunAtDepth2(app);
  await app.getByTestId("view-models").click();
  const v1 = app.getByTestId("version-1");
  const v2 = app.getByTestId("version-2");
  await expect(v2).toBeVisible();

  // At 1280×720 the versions table fits its column (the history goes below it): each row's actions
  // are on screen without scrolling the table sideways.
  const versions = app.locator(".versions-scroll");
  expect(await versions.evaluate((el) => el.scrollWidth - el.clientWidth)).toBeLessThanOrEqual(0);
  const column = (await versions.boundingBox())!;
  for (const action of ["set-alias-2", "deploy-button-2", "export-2", "archive-2"]) {
    const box = (await app.getByTestId(action).boundingBox())!;
    expect(box.x + box.width, action).toBeLessThanOrEqual(column.x + column.width + 0.5);
  }

  // The field starts empty: Enter on it sets nothing.
  await app.getByTestId("set-alias-2").click();
  const dialog = app.getByTestId("alias-dialog");
  const input = dialog.getByTestId("alias-input");
  await expect(input).toHaveValue("");
  await expect(dialog.getByTestId("confirm")).toBeDisabled();
  await input.press("Enter");
  await expect(dialog).toBeVisible();
  // The keyboard stays in the dialog: Tab and Shift+Tab go round its controls, never to the page
  // behind; Escape closes it and gives the focus back to the Alias… that opened it.
  const focusInDialog = () => dialog.evaluate((d) => d.contains(document.activeElement));
  for (const key of ["Tab", "Tab", "Tab", "Tab", "Shift+Tab", "Shift+Tab", "Shift+Tab"]) {
    await app.keyboard.press(key);
    expect(await focusInDialog(), key).toBe(true);
  }
  await app.keyboard.press("Escape");
  await expect(dialog).toHaveCount(0);
  await expect(app.getByTestId("set-alias-2")).toBeFocused();
  await app.getByTestId("set-alias-2").press("Enter");
  await expect(input).toBeFocused();
  // A new alias is set with Enter.
  await input.fill("champion");
  await expect(dialog.getByTestId("confirm-question")).toHaveText("Set champion on v2?");
  await input.press("Enter");
  await expect(v2.getByTestId("alias-champion")).toBeVisible();

  // On the older version the field is empty again; moving champion back asks, and Enter alone does not move it.
  await app.getByTestId("set-alias-1").click();
  await expect(input).toHaveValue("");
  await expect(dialog.getByTestId("confirm-question")).toContainText("champion → v2");
  await input.fill("champion");
  await expect(dialog.getByTestId("confirm-question")).toHaveText(
    "champion now points at v2; move it to v1?",
  );
  await expect(dialog.getByTestId("confirm")).toHaveText("Move alias");
  await input.press("Enter");
  await expect(dialog.getByTestId("confirm-question")).toContainText("Click Move alias to move it.");
  await expect(dialog).toBeVisible();
  await dialog.getByTestId("cancel").click();
  await expect(dialog).toHaveCount(0);
  await expect(v2.getByTestId("alias-champion")).toBeVisible();
  await expect(v1.getByTestId("alias-champion")).toHaveCount(0);

  // Lineage: fitted into its panel on open, the version node shows its alias.
  await app.getByTestId("view-lineage").click();
  const canvas = app.getByTestId("lineage-canvas");
  const version2 = app.getByTestId("lineage-node-model:penguins-tree:v2");
  await expect(version2).toHaveAttribute("data-aliases", "champion");
  await expect(version2).toContainText("champion");
  const panel = (await canvas.boundingBox())!;
  const nodes = app.locator('[data-testid^="lineage-node-"]');
  // One dataset (both runs read the same bytes), two runs, two versions.
  await expect(nodes).toHaveCount(5);
  for (const node of await nodes.all()) {
    const b = (await node.boundingBox())!;
    expect(b.x).toBeGreaterThanOrEqual(panel.x);
    expect(b.y).toBeGreaterThanOrEqual(panel.y);
    expect(b.x + b.width).toBeLessThanOrEqual(panel.x + panel.width + 0.5);
    expect(b.y + b.height).toBeLessThanOrEqual(panel.y + panel.height + 0.5);
  }
  expect(await app.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);

  // A run node's id reads as written elsewhere (the kind word alone is upper-cased).
  const runId = app.locator('[data-testid^="lineage-node-run:"] .lg-id').first();
  await expect(runId).toHaveCSS("text-transform", "none");
  await expect(runId).toHaveText(/^ [0-9]{6}-[0-9a-f]{6}$/);

  // Zoom in, then Fit brings the whole graph back.
  const fitted = Number(await canvas.getAttribute("data-zoom"));
  await app.getByTestId("lineage-zoom-in").click();
  await expect.poll(async () => Number(await canvas.getAttribute("data-zoom"))).toBeGreaterThan(fitted);
  await app.getByTestId("lineage-fit").click();
  await expect.poll(async () => Number(await canvas.getAttribute("data-zoom"))).toBeCloseTo(fitted, 3);

  // The detail reads in words, with the neighbours named; hashes are short, and copied whole.
  await version2.click();
  const detail = app.getByTestId("lineage-detail");
  await expect(detail).toContainText("Trained by run");
  await expect(detail).toContainText("penguins.csv");
  await expect(detail).toContainText("Aliases");
  await expect(detail).not.toContainText("createdAt");
  await detail.getByRole("button", { name: "penguins.csv" }).click();
  await expect(detail).toContainText("Rows");
  await expect(detail).toContainText("Read by runs");
  const hash = detail.getByTestId("lineage-hash").first();
  await expect(hash).toHaveText(/^[0-9a-f]{12}$/);
  const full = await hash.getAttribute("title");
  expect(full).toMatch(/^[0-9a-f]{64}$/);
  expect(full!.startsWith((await hash.textContent())!)).toBe(true);
  await app.context().grantPermissions(["clipboard-read", "clipboard-write"]);
  await detail.getByTestId("lineage-copy-hash").first().click();
  await expect.poll(() => app.evaluate(() => navigator.clipboard.readText())).toBe(full);
  await shot(app, testInfo, "lineage-detail");
});

test("production lists its requirements and moves without them only with a reason, which the version's history shows", async ({
  app,
  projectDir,
}, testInfo) => {
  test.setTimeout(120_000);
  // The tree pipeline with a gate between the evaluation and the registration: the gate passes.
  const gated = {
    ...TREE_PIPELINE,
    name: "penguins-gated",
    nodes: [
      ...TREE_PIPELINE.nodes,
      { id: "gate", block: "gate", params: { metric: "accuracy", op: ">=", threshold: 0.5 } },
    ],
    edges: [
      ...TREE_PIPELINE.edges.filter((e) => e.to !== "register.report"),
      { from: "eval.report", to: "gate.report" },
      { from: "gate.report", to: "register.report" },
    ],
    layout: { ...TREE_PIPELINE.layout, gate: { x: 1040, y: -120 } },
  };
  await openPipeline(app, projectDir, gated, "penguins-gated.dag.json");
  await app.getByTestId("run-button").click();
  await expect(app.getByTestId("status-run")).toHaveAttribute("data-run-status", "succeeded", {
    timeout: 45_000,
  });
  await app.getByTestId("view-models").click();
  await app.getByTestId("set-alias-1").click();
  const dialog = app.getByTestId("alias-dialog");
  await dialog.getByTestId("alias-input").fill("production");
  // The gate passed; no deploy to staging: the dialog says so and asks for a reason.
  const requirements = dialog.getByTestId("production-requirement");
  await expect(requirements).toHaveCount(2);
  await expect(requirements.nth(0)).toHaveAttribute("data-met", "true");
  await expect(requirements.nth(0)).toContainText("accuracy");
  await expect(requirements.nth(0)).toContainText(">= 0.5 — passed (node gate)");
  await expect(requirements.nth(1)).toHaveAttribute("data-met", "false");
  await expect(requirements.nth(1)).toContainText("never deployed there");
  const confirm = dialog.getByTestId("confirm");
  await expect(confirm).toHaveText("Override and set");
  await expect(confirm).toBeDisabled();
  // Enter in the alias field does not skip the reason.
  await dialog.getByTestId("alias-input").press("Enter");
  await expect(dialog).toBeVisible();
  await dialog.getByTestId("override-reason").fill("   ");
  await expect(confirm).toBeDisabled();
  await dialog.getByTestId("override-reason").fill("demo for the review board");
  await shot(app, testInfo, "production-override");
  await confirm.click();
  await expect(dialog).toHaveCount(0);
  const v1 = app.getByTestId("version-1");
  await expect(v1.getByTestId("alias-production")).toBeVisible();
  // The model's history says it was an override, with the reason.
  await expect(app.getByTestId("audit-timeline")).toContainText(
    'alias production set on v1 (override: "demo for the review board")',
  );
  // The version's page lists its production history with what was recorded.
  const history = app.getByTestId("production-history-1");
  if (!(await history.isVisible())) await v1.click();
  await expect(history.getByTestId("production-change")).toHaveCount(1);
  await expect(history).toContainText("production set on v1");
  await expect(history.getByTestId("production-override")).toContainText("demo for the review board");
  await expect(history).toContainText("penguins-gated.dag.json");
  await expect(history).toContainText("data/penguins.csv");
  await expect(history).toContainText("never deployed there");
  expect(await app.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);

  // Taking production away needs a reason too: Remove stays disabled until one is typed.
  await v1.getByTestId("alias-remove-production").click();
  const remove = app.getByTestId("confirm-dialog");
  await expect(remove.getByTestId("confirm-question")).toContainText("needs a reason");
  await expect(remove.getByTestId("confirm")).toBeDisabled();
  await remove.getByTestId("production-reason-input").fill("the review board withdrew the demo");
  await remove.getByTestId("confirm").click();
  await expect(v1.getByTestId("alias-production")).toHaveCount(0);
  await expect(app.getByTestId("audit-timeline")).toContainText(
    'alias production removed from v1 (reason: "the review board withdrew the demo")',
  );
  await expect(history.getByTestId("production-change")).toHaveCount(2);
  await expect(history.getByTestId("production-reason")).toContainText("the review board withdrew the demo");
});
