/**
 * Experiment tracking and the registry, as an analyst meets them: run a
 * pipeline twice with a param changed, compare the runs, then move the
 * champion alias between the two registered versions and read it in the
 * history. `DAGWOOD_SCREENSHOTS=1` also writes the README's pictures
 * (renderer/docs/compare.png, models.png, lineage.png).
 */
import type { Page } from "@playwright/test";
import { expect, test } from "./fixtures";
import { openPipeline, runThenRerunAtDepth2, shot, TREE_PIPELINE } from "./steps";

/** The ids of the runs the table shows, top to bottom. */
async function runIds(app: Page): Promise<string[]> {
  const rows = app.getByTestId("runs-table").locator('tbody tr[data-testid^="run-row-"]');
  const ids = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-testid")!.slice(8)));
  return ids;
}

test("empty views say what to do", async ({ app }) => {
  await app.getByTestId("view-experiments").click();
  await expect(app.getByTestId("runs-empty")).toContainText("Run a pipeline to see it here");
  await expect(app.getByTestId("compare-button")).toBeDisabled();
  await app.getByTestId("view-models").click();
  await expect(app.getByTestId("models-empty")).toContainText("No registered model yet");
  await app.getByTestId("view-lineage").click();
  await expect(app.getByTestId("lineage-empty")).toContainText("run a pipeline with a");
  // The view is kept in the URL, so a reload comes back to it.
  await app.reload();
  await expect(app.getByTestId("lineage-view")).toBeVisible();
  await app.getByTestId("view-editor").click();
  await expect(app.getByTestId("canvas")).toBeVisible();
});

test("two runs with a param changed compare side by side; the champion alias moves with confirmation", async ({
  app,
  projectDir,
}, testInfo) => {
  test.setTimeout(150_000);
  await openPipeline(app, projectDir, TREE_PIPELINE, "penguins-tree.dag.json");

  // Run once, change the tree's depth in the inspector, run again.
  await runThenRerunAtDepth2(app);

  // Both runs are in the Experiments view.
  await app.getByTestId("view-experiments").click();
  await expect(app.getByTestId("runs-table")).toBeVisible();
  await expect(app.getByTestId("runs-total")).toContainText("of 2 runs");
  const [newest, older] = await runIds(app);
  expect(newest && older).toBeTruthy();

  // A filter on a key the runs do not have says so, and what to write instead.
  const filter = app.getByTestId("runs-filter");
  await filter.fill("tree.depth > 3");
  await filter.press("Enter");
  await expect(app.getByTestId("runs-filter-error")).toContainText(
    '"tree.depth" is neither a param nor a metric',
  );
  // A filter on the param keeps only the matching run.
  await filter.fill("tree.maxDepth = 2");
  await filter.press("Enter");
  await expect(app.getByTestId("runs-total")).toContainText("of 1 runs");
  await expect(app.getByTestId(`run-row-${newest}`)).toBeVisible();
  await expect(app.getByTestId(`run-row-${older}`)).toHaveCount(0);
  await filter.fill("");
  await filter.press("Enter");
  await expect(app.getByTestId("runs-total")).toContainText("of 2 runs");

  // Sorting by duration twice flips the order.
  await app.getByTestId("runs-sort-duration").click();
  // The sorted page replaces the table when it arrives: read the order once both rows are drawn
  // and two reads a moment apart agree (reading at once could catch the table mid-update).
  let once: string[] = [];
  await expect
    .poll(async () => {
      const first = await runIds(app);
      await new Promise((r) => setTimeout(r, 150));
      const second = await runIds(app);
      once = second;
      return first.length === 2 && first.join() === second.join();
    })
    .toBe(true);
  await app.getByTestId("runs-sort-duration").click();
  await expect.poll(() => runIds(app)).toEqual([...once].reverse());

  // A run's detail: metrics, environment, the editable note and tags.
  await app.getByTestId(`run-row-${newest}`).click();
  const detail = app.getByTestId("run-detail");
  await expect(detail.getByTestId("run-metrics")).toContainText("eval.accuracy");
  await expect(detail.getByTestId("run-environment")).toContainText("tfjs backend");
  await expect(detail.getByTestId("run-datasets")).toContainText("penguins.csv");
  await detail.getByTestId("run-tag-input").fill("depth=shallow");
  await detail.getByTestId("run-tag-input").press("Enter");
  await expect(detail.getByTestId("run-tag-depth")).toContainText("depth=shallow");
  await detail.getByTestId("run-tag-input").fill("no equals sign");
  await detail.getByTestId("run-tag-input").press("Enter");
  await expect(detail).toContainText("Write a tag as key=value");
  await detail.getByTestId("run-note").fill("max depth 2: does a shallow tree hold up?");
  await detail.getByTestId("run-note-save").click();
  await expect(app.getByTestId("toast").filter({ hasText: "Note saved" })).toBeVisible();
  await detail.getByTestId("run-tag-input").fill("");
  await app.getByTestId(`run-select-${older}`).check();
  await app.getByTestId(`run-select-${newest}`).check();
  await shot(app, testInfo, "experiments");
  await app.getByTestId(`run-select-${older}`).uncheck();
  await app.getByTestId(`run-select-${newest}`).uncheck();
  await app.getByTestId("run-detail-close").click();

  // Compare the two: the depth differs, the tree node is marked, the rest is folded.
  await app.getByTestId(`run-select-${newest}`).check();
  await expect(app.getByTestId("compare-button")).toBeDisabled();
  await app.getByTestId(`run-select-${older}`).check();
  await app.getByTestId("compare-button").click();
  const compare = app.getByTestId("compare-view");
  await expect(compare).toBeVisible();
  const depthRow = compare.getByTestId("param-diff-tree.maxDepth");
  await expect(depthRow).toHaveAttribute("data-differs", "true");
  await expect(depthRow).toHaveClass(/differs/);
  await expect(compare.getByTestId("param-diff-split.seed")).toHaveCount(0);
  await compare.getByTestId("toggle-equal-params").click();
  await expect(compare.getByTestId("param-diff-split.seed")).toHaveAttribute("data-differs", "false");
  await expect(compare.getByTestId("compare-graph-node-tree")).toHaveAttribute("data-differs", "true");
  await expect(compare.getByTestId("compare-graph-node-split")).toHaveAttribute("data-differs", "false");
  await expect(compare.getByTestId("compare-metrics").getByTestId("metric-bar").first()).toBeVisible();
  await expect(compare.getByTestId("parallel-coordinates")).toContainText("tree.maxDepth");
  await expect(compare.getByTestId(`compare-eval-${newest}`).getByTestId("confusion-matrix")).toBeVisible();
  await expect(compare.getByTestId(`compare-eval-${older}`).getByTestId("roc-chart")).toBeVisible();
  await compare.getByTestId("toggle-equal-params").click();
  await shot(app, testInfo, "compare");

  // Models: both trees were registered, as v1 and v2, with the dataset's digest in their lineage.
  await app.getByTestId("view-models").click();
  await expect(app.getByTestId("model-penguins-tree")).toBeVisible();
  const v1 = app.getByTestId("version-1");
  const v2 = app.getByTestId("version-2");
  await expect(v1).toBeVisible();
  await expect(v2).toBeVisible();
  await expect(app.getByTestId("version-lineage-2").getByTestId("lineage-datasets")).toContainText(
    "penguins.csv",
  );
  await expect(app.getByTestId("version-lineage-2").getByTestId("dataset-digest")).toHaveText(
    /^[0-9a-f]{16}…$/,
  );

  // Set champion on v1, then move it to v2; each asks first.
  await app.getByTestId("set-alias-1").click();
  const dialog = app.getByTestId("alias-dialog");
  await dialog.getByTestId("alias-input").fill("champion");
  await expect(dialog.getByTestId("confirm-question")).toHaveText("Set champion on v1?");
  await dialog.getByTestId("confirm").click();
  await expect(v1.getByTestId("alias-champion")).toBeVisible();

  // A bad alias name is refused before anything is sent.
  await app.getByTestId("set-alias-2").click();
  await dialog.getByTestId("alias-input").fill("3rd");
  await expect(dialog.getByTestId("confirm")).toBeDisabled();
  await expect(dialog.getByTestId("confirm-question")).toContainText("An alias starts with a letter");
  // Cancel leaves the alias where it was.
  await dialog.getByTestId("cancel").click();
  await expect(dialog).toHaveCount(0);
  await expect(v1.getByTestId("alias-champion")).toBeVisible();

  await app.getByTestId("set-alias-2").click();
  await dialog.getByTestId("alias-input").fill("champion");
  await expect(dialog.getByTestId("confirm-question")).toHaveText(
    "champion now points at v1; move it to v2?",
  );
  await dialog.getByTestId("confirm").click();
  await expect(v2.getByTestId("alias-champion")).toBeVisible();
  await expect(v1.getByTestId("alias-champion")).toHaveCount(0);
  await expect(app.getByTestId("audit-entry").first()).toContainText("alias champion moved v1 → v2");
  await expect(app.getByTestId("audit-timeline")).toContainText("alias champion set on v1");

  // Export v2 says where it was written.
  await app.getByTestId("export-2").click();
  await expect(app.getByTestId("export-result")).toContainText("penguins-tree");
  await shot(app, testInfo, "models");

  // Archiving v1 asks first, and the history records it.
  await app.getByTestId("archive-1").click();
  await expect(app.getByTestId("confirm-dialog").getByTestId("confirm-question")).toContainText(
    "Archive penguins-tree v1?",
  );
  await app.getByTestId("confirm-dialog").getByTestId("confirm").click();
  await expect(v1).toContainText("archived");
  await expect(app.getByTestId("audit-entry").first()).toContainText("v1 archived");

  // Lineage: dataset → run → version, and a click shows a node's details.
  await app.getByTestId("view-lineage").click();
  const datasets = app.locator('[data-kind="dataset"]');
  await expect(datasets.first()).toBeVisible();
  await expect(app.locator('[data-kind="modelVersion"]')).toHaveCount(2);
  await datasets.first().click();
  await expect(app.getByTestId("lineage-detail")).toContainText("dataset");
  await shot(app, testInfo, "lineage");
  await app.getByTestId("lineage-node-model:penguins-tree:v2").click();
  await expect(app.getByTestId("lineage-detail")).toContainText("penguins-tree v2");
  await app.getByTestId("lineage-open-model").click();
  await expect(app.getByTestId("model-detail")).toContainText("penguins-tree");
});

test.describe("comparing models of an example", () => {
  test.use({ pipeline: "penguins-model.dag.json" });

  test("compare shows the task's metrics without overflow, and complexity against accuracy with the Pareto front", async ({
    app,
  }, testInfo) => {
    test.setTimeout(180_000);
    const run = async () => {
      await app.getByTestId("run-button").click();
      await expect(app.getByTestId("status-run")).toHaveAttribute("data-run-status", "succeeded", {
        timeout: 60_000,
      });
    };
    // Two runs of the example's five models: the second with a shallower tree.
    await expect(app.getByTestId("node-tree")).toBeVisible();
    await run();
    await app.getByTestId("node-tree").click();
    const depth = app.getByTestId("param-maxDepth");
    await depth.fill("2");
    await depth.blur();
    await run();

    await app.getByTestId("view-experiments").click();
    // The second click on Run may find the status still "succeeded" from the first run: wait for
    // both runs to be listed as succeeded (the table reloads when a run ends).
    await expect(app.getByTestId("runs-total")).toContainText("of 2 runs", { timeout: 60_000 });
    const [newest, older] = await runIds(app);
    await expect(app.getByTestId(`run-row-${newest}`)).toContainText("succeeded", { timeout: 60_000 });
    // A metric column says which block and model its node is.
    await expect(app.getByTestId("runs-table").locator("thead")).toContainText("evaluate of forest");
    await app.getByTestId(`run-select-${older}`).check();
    await app.getByTestId(`run-select-${newest}`).check();
    await app.getByTestId("compare-button").click();
    const compare = app.getByTestId("compare-view");

    // Metrics: the classification metrics, one chart each; ONNX bookkeeping only by choice.
    const metrics = compare.getByTestId("compare-metrics");
    for (const name of ["accuracy", "f1_macro", "roc_auc", "log_loss"])
      await expect(metrics.getByTestId(`metric-chart-${name}`)).toBeVisible();
    await expect(metrics.getByTestId("metric-chart-onnx_max_abs_diff")).toHaveCount(0);
    await expect(metrics.getByTestId("metric-chart-brier")).toHaveCount(0);
    // Ten bars per chart: five evaluate nodes × two runs; the node's label names its model in a tooltip.
    await expect(metrics.getByTestId("metric-chart-accuracy").getByTestId("metric-bar")).toHaveCount(10);
    const label = metrics.getByTestId("metric-chart-accuracy").getByTestId("metric-group-label").first();
    await expect(label.locator("title")).toHaveText("eval_forest — evaluate of forest");
    await metrics.getByTestId("metric-chooser-button").click();
    await metrics.getByTestId("metric-choice-brier").check();
    await expect(metrics.getByTestId("metric-chart-brier")).toBeVisible();
    // Nothing is wider than the window at 1280×720: no page scroll, every chart inside the view.
    expect(await app.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
    const view = (await compare.boundingBox())!;
    for (const figure of await metrics.locator("figure").all()) {
      const box = (await figure.boundingBox())!;
      expect(box.x + box.width).toBeLessThanOrEqual(view.x + view.width + 0.5);
    }
    // The choice is remembered for the next comparison.
    await compare.getByTestId("compare-back").click();
    await app.getByTestId("compare-button").click();
    await expect(compare.getByTestId("metric-chart-brier")).toBeVisible();

    // Complexity against accuracy: a point per model and run on each plot, the front drawn.
    await compare.getByTestId("compare-tab-complexity").click();
    const complexity = compare.getByTestId("complexity-view");
    await expect(complexity.getByTestId("complexity-metric")).toHaveValue("accuracy");
    for (const axis of ["bytes", "latency"]) {
      const plot = complexity.getByTestId(`complexity-plot-${axis}`);
      const points = plot.getByTestId("complexity-point");
      await expect(points).toHaveCount(10);
      for (const model of ["forest", "gbdt", "logistic", "mlp", "tree"])
        await expect(plot.locator(`[data-model="${model}"]`)).toHaveCount(2);
      await expect(plot.getByTestId("pareto-front")).toHaveAttribute("d", /^M/);
      // The front marked is the one the definition gives: no other point as small and as accurate.
      const read = await points.evaluateAll((gs) =>
        gs.map((g) => ({
          x: Number(g.getAttribute("data-cost")),
          y: Number(g.getAttribute("data-metric")),
          front: g.getAttribute("data-front") === "true",
        })),
      );
      const dominated = (p: { x: number; y: number }) =>
        read.some((q) => q !== p && q.x <= p.x && q.y >= p.y && (q.x < p.x || q.y > p.y));
      expect(read.map((p) => p.front)).toEqual(read.map((p) => !dominated(p)));
      expect(read.some((p) => p.front)).toBe(true);
      // In words, a model the second run took cached (only the tree changed) is named once, with both runs.
      const words = (await plot.getByTestId("pareto-list").textContent()) ?? "";
      for (const model of ["forest", "gbdt", "logistic", "mlp"])
        expect(
          words.split(" → ").filter((e) => e.startsWith(`${model} (`)).length,
          words,
        ).toBeLessThanOrEqual(1);
    }
    // Sizes of a tree and a forest span orders of magnitude: a log axis, with units.
    await expect(complexity.getByTestId("complexity-plot-bytes")).toContainText("log scale");
    await expect(complexity.getByTestId("complexity-plot-latency")).toContainText("µs");
    await complexity.getByTestId("complexity-size").selectOption("learned");
    await expect(complexity.getByTestId("complexity-plot-learned")).toContainText(
      "leaves (trees) or weights",
    );
    await shot(app, testInfo, "complexity");

    // A visit to another view leaves the compare page as it was: its tab and the complexity choices.
    await complexity.getByTestId("complexity-metric").selectOption("f1_macro");
    await app.getByTestId("view-editor").click();
    await expect(compare).toHaveCount(0);
    await app.getByTestId("view-experiments").click();
    await expect(compare.getByTestId("compare-tab-complexity")).toHaveAttribute("aria-selected", "true");
    await expect(complexity.getByTestId("complexity-metric")).toHaveValue("f1_macro");
    await expect(complexity.getByTestId("complexity-plot-learned")).toBeVisible();
    await expect(complexity.getByTestId("complexity-plot-latency")).toContainText("f1_macro");

    // A point opens its run (here from the keyboard).
    const tree = complexity
      .getByTestId("complexity-plot-latency")
      .locator(`[data-model="tree"][data-run="${older}"]`);
    await tree.focus();
    await tree.press("Enter");
    const stamp = /^\d{8}T(\d{6}-\w+)$/.exec(older!)?.[1] ?? older!;
    await expect(app.getByTestId("run-detail")).toContainText(stamp);
  });
});
