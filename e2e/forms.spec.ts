/**
 * The params form as the block declares it (app/pipeline/param-ui.ts): the
 * fields in order of importance with the rest folded under Advanced, params
 * that do nothing for the chosen options left out, an optional section whose
 * required fields count only once it is on, messages that say what to do, and
 * no sideways scroll at 1280×720.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "@playwright/test";
import { expect, test } from "./fixtures";

const doc = {
  format: "dagwood.pipeline/1",
  name: "forms",
  nodes: [
    { id: "weather", block: "ingest.file", params: { path: "data/seattle-weather.csv" } },
    { id: "ridge", block: "train.linear", params: {} },
    { id: "gbdt", block: "train.gbdt", params: { target: "weather" } },
  ],
  edges: [
    { from: "weather.out", to: "ridge.train" },
    { from: "weather.out", to: "gbdt.train" },
  ],
  layout: { weather: { x: 0, y: 0 }, ridge: { x: 260, y: -80 }, gbdt: { x: 260, y: 80 } },
};

async function open(app: Page, projectDir: string) {
  writeFileSync(join(projectDir, "forms.dag.json"), JSON.stringify(doc, null, 2));
  const url = new URL(app.url());
  url.searchParams.set("pipeline", "forms.dag.json");
  await app.goto(url.toString());
  await expect(app.getByTestId("node-ridge")).toBeVisible();
}

/** The params of the form, top to bottom, as drawn. */
const drawnFields = (app: Page) =>
  app
    .locator(".schema-form > [data-testid^='field-'], .schema-form > [data-testid^='group-']")
    .evaluateAll((els) => els.map((e) => e.getAttribute("data-testid")?.replace(/^(field|group)-/, "")));

test("a train form: target first, advanced folded, unused params hidden, search on demand", async ({
  app,
  projectDir,
}) => {
  await open(app, projectDir);
  await app.getByTestId("node-ridge").click();

  // What to do, in the form and in Problems, rather than zod's "expected string, received undefined".
  await expect(app.getByTestId("field-target")).toContainText("Choose the target column");
  await expect(app.getByText("Choose the target column").first()).toBeVisible();
  expect((await drawnFields(app)).slice(0, 4)).toEqual(["target", "features", "task", "l2"]);

  // Ridge is solved in closed form: no seed, no maxIter, even with Advanced open.
  await expect(app.getByTestId("param-onnxOpset.default")).toHaveCount(0);
  await app.getByTestId("advanced-toggle-params").click();
  await expect(app.getByTestId("group-onnxOpset")).toBeVisible();
  await expect(app.getByTestId("param-seed")).toHaveCount(0);
  await expect(app.getByTestId("param-maxIter")).toHaveCount(0);

  // The search section is off, with no required marks; on, its required fields ask for a value.
  const search = app.getByTestId("group-search");
  await expect(search.locator(".required")).toHaveCount(0);
  await app.getByTestId("section-search").check();
  await expect(app.getByTestId("field-search.strategy").locator(".required")).toBeVisible();
  await expect(app.getByTestId("field-search.strategy")).toContainText("Choose the strategy");
  // Its folds are seeded with the block's seed, which now shows.
  await expect(app.getByTestId("param-seed")).toBeVisible();
  await app.getByTestId("section-search").uncheck();
  await expect(app.getByTestId("param-search.strategy")).toHaveCount(0);
  await expect(app.getByTestId("param-seed")).toHaveCount(0);

  const inspector = app.locator(".inspector");
  expect(await inspector.evaluate((e) => e.scrollWidth - e.clientWidth)).toBeLessThanOrEqual(0);

  // Gradient boosting: validationFraction and patience only with early stopping.
  await app.getByTestId("node-gbdt").click();
  await expect(app.getByTestId("param-patience")).toHaveCount(0);
  await app.getByTestId("param-earlyStopping").selectOption("true");
  await expect(app.getByTestId("param-patience")).toBeVisible();
  await expect(app.getByTestId("param-validationFraction")).toBeVisible();
  expect(await inspector.evaluate((e) => e.scrollWidth - e.clientWidth)).toBeLessThanOrEqual(0);
});
