/**
 * Steps the tracking and deploy tests share: the small tree pipeline, opening
 * a pipeline document in the editor, running it to success, and screenshots.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Page, TestInfo } from "@playwright/test";
import { expect } from "./fixtures";

const DOCS = join(import.meta.dirname, "..", "renderer", "docs");

/** A small, fast pipeline: penguins → split → decision tree → evaluate → register. */
export const TREE_PIPELINE = {
  format: "dagwood.pipeline/1",
  name: "penguins-tree",
  description: "A decision tree on the penguins, evaluated and registered",
  params: { seed: 7 },
  nodes: [
    { id: "penguins", block: "ingest.file", params: { path: "data/penguins.csv" } },
    {
      id: "split",
      block: "split",
      params: { column: "species", seed: "${seed}", strategy: "stratified", testFraction: 0.25 },
    },
    { id: "tree", block: "train.tree", params: { maxDepth: 4, seed: "${seed}", target: "species" } },
    { id: "eval", block: "evaluate", params: {} },
    { id: "register", block: "register", params: { name: "penguins-tree" } },
  ],
  edges: [
    { from: "penguins.out", to: "split.in" },
    { from: "split.train", to: "tree.train" },
    { from: "tree.model", to: "eval.model" },
    { from: "split.test", to: "eval.data" },
    { from: "tree.model", to: "register.model" },
    { from: "eval.report", to: "register.report" },
  ],
  layout: {
    penguins: { x: 0, y: 0 },
    split: { x: 260, y: 0 },
    tree: { x: 520, y: 0 },
    eval: { x: 780, y: -120 },
    register: { x: 780, y: 120 },
  },
};

/** Writes `doc` into the project as `file` and opens it in the editor. */
export async function openPipeline(app: Page, projectDir: string, doc: object, file: string) {
  writeFileSync(join(projectDir, file), JSON.stringify(doc, null, 2));
  const url = new URL(app.url());
  url.searchParams.set("pipeline", file);
  url.searchParams.delete("view");
  await app.goto(url.toString());
  await expect(app.getByTestId("node-tree")).toBeVisible();
}

async function runAndWait(app: Page) {
  await app.getByTestId("run-button").click();
  await expect(app.getByTestId("status-run")).toHaveAttribute("data-run-status", "succeeded", {
    timeout: 45_000,
  });
}

/** Runs the open tree pipeline, sets the tree's depth to 2 in the inspector, and runs it again. */
export async function runThenRerunAtDepth2(app: Page) {
  await runAndWait(app);
  await app.getByTestId("node-tree").click();
  const depth = app.getByTestId("param-maxDepth");
  await depth.fill("2");
  await depth.blur();
  await runAndWait(app);
}

/** Attaches a screenshot to the test; with DAGWOOD_SCREENSHOTS=1 also writes renderer/docs/<name>.png. */
export async function shot(app: Page, testInfo: TestInfo, name: string) {
  // Toasts of earlier steps would cover the picture.
  const toasts = app.getByTestId("toast").getByRole("button", { name: "Dismiss" });
  while ((await toasts.count()) > 0)
    await toasts
      .first()
      .click({ timeout: 1000 })
      .catch(() => undefined);
  const body = await app.screenshot();
  await testInfo.attach(name, { body, contentType: "image/png" });
  if (process.env.DAGWOOD_SCREENSHOTS) writeFileSync(join(DOCS, `${name}.png`), body);
}
