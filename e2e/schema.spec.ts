/**
 * Schemas propagated without running (app/engine/schema.ts): in a fresh copy
 * of the example project, with no run yet, the column pickers already offer
 * the columns the SQL makes, and a typo is named before anything runs.
 */
import type { Page } from "@playwright/test";
import { expect, test } from "./fixtures";

test.use({ pipeline: "weather-model.dag.json" });

/** The values the column picker of a text field offers (its datalist). */
async function offered(app: Page, param: string): Promise<string[]> {
  const input = app.getByTestId(`param-${param}`);
  const list = await input.getAttribute("list");
  if (!list) return [];
  return app
    .locator(`datalist[id="${list}"] option`)
    .evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value));
}

test("the target picker lists the columns before any run, and a typo is a problem at once", async ({
  app,
}) => {
  await expect(app.getByTestId("node-gbdt")).toBeVisible();
  // No run: the node has produced nothing.
  await expect(app.getByTestId("node-gbdt")).not.toHaveAttribute("data-state", "done");
  await app.getByTestId("node-gbdt").click();

  // The columns of split.train, which come from the SQL node's query over the CSV's sniffed schema.
  const columns = ["month", "precipitation", "temp_max", "temp_min", "wind", "weather"];
  await expect.poll(() => offered(app, "target")).toEqual(columns);

  const target = app.getByTestId("param-target");
  await target.fill("weathr");
  const message =
    'target "weathr" is not a column of split.train (columns: month, precipitation, temp_max, temp_min, wind, weather; did you mean "weather"?)';
  // Beside the field, on the node, and in Problems.
  await expect(app.getByTestId("field-target")).toContainText(message);
  // (Zoomed out to fit the whole graph, the node is drawn compact: marked, without the count.)
  await expect(app.getByTestId("node-gbdt")).toHaveClass(/has-problems/);
  // Open Problems unless it is the open tab already (a click on the open tab folds the panel).
  if ((await app.getByTestId("tab-problems").getAttribute("aria-pressed")) !== "true") {
    await app.getByTestId("tab-problems").click();
  }
  await expect(app.getByTestId("problems-panel")).toContainText(message);

  // Fixed: the problem goes.
  await target.fill("weather");
  await expect(app.getByTestId("field-target")).not.toContainText("is not a column");
  await expect(app.getByTestId("problems-panel")).not.toContainText("is not a column");
});

test("a stratify column picker follows an edit of the SQL upstream, still without a run", async ({ app }) => {
  await app.getByTestId("node-features").click();
  const query = app.getByTestId("param-query");
  await query.fill("SELECT month(date) AS month, precipitation, wind, weather AS sky FROM input");
  await app.getByTestId("node-split").click();
  await expect.poll(() => offered(app, "column")).toEqual(["month", "precipitation", "wind", "sky"]);
  // split's "weather" is gone from its input: named at once.
  await expect(app.getByTestId("field-column")).toContainText(
    'column "weather" is not a column of features.out',
  );
});
