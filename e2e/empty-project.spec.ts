/**
 * An empty project (no pipeline yet): the start it offers (New pipeline with
 * its shortcut, a template on one of the project's data files, Open…), a
 * block dropped on the empty canvas, the ingest path field's data files, and
 * nodes named after what feeds them.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Locator, Page, TestInfo } from "@playwright/test";
import { copyExample, expect, test as withExample } from "./fixtures";

/** The example project without its pipelines. */
const test = withExample.extend({
  // biome-ignore lint/correctness/noEmptyPattern: Playwright's fixture signature
  projectDir: async ({}, use) => {
    const dir = copyExample();
    for (const f of readdirSync(dir)) if (f.endsWith(".dag.json")) rmSync(join(dir, f));
    await use(dir);
    rmSync(dir, { recursive: true, force: true });
  },
});

test.use({ viewport: { width: 1280, height: 720 } });

const nodesIn = (file: string) =>
  (JSON.parse(readFileSync(file, "utf8")).nodes as { id: string; block: string }[]).map(
    (n) => `${n.id}:${n.block}`,
  );

async function shot(page: Page, testInfo: TestInfo, name: string) {
  const body = await page.screenshot();
  await testInfo.attach(name, { body, contentType: "image/png" });
  writeFileSync(join(testInfo.outputDir, `${name}.png`), body);
}

/** Drags a connection from one port handle to another, as a person does with the mouse. */
async function connect(page: Page, from: Locator, to: Locator) {
  const a = (await from.boundingBox())!;
  const b = (await to.boundingBox())!;
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move((a.x + b.x) / 2, (a.y + b.y) / 2, { steps: 5 });
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 5 });
  await page.mouse.up();
}

test("an empty project offers New pipeline (with its shortcut), a template on its data files, and Open…", async ({
  app: page,
  projectDir,
}, testInfo) => {
  const empty = page.getByTestId("empty-state");
  await expect(empty).toBeVisible();
  await expect(page.getByTestId("empty-open")).toBeVisible();
  // Problems does not call a pipeline that is not there valid.
  await expect(page.getByTestId("problems-panel")).toContainText("No pipeline is open");
  await expect(page.getByTestId("problems-panel")).not.toContainText("valid");
  await shot(page, testInfo, "01-empty-project");

  // New pipeline: the button and its shortcut, shown in the tooltip and the command palette.
  const newButton = page.getByTestId("empty-new-pipeline");
  await expect(newButton).toHaveAttribute("title", "New pipeline… (Ctrl+Alt+N)");
  await newButton.click();
  await expect(page.getByTestId("path-dialog")).toBeVisible();
  await page.getByTestId("path-input").press("Escape");
  await expect(page.getByTestId("path-dialog")).toBeHidden();
  await page.keyboard.press("Control+Alt+n");
  await expect(page.getByTestId("path-dialog")).toBeVisible();
  await page.getByTestId("path-input").press("Escape");
  await page.keyboard.press("Control+k");
  await expect(page.getByTestId("command-new")).toContainText("Ctrl+Alt+N");
  await page.keyboard.press("Escape");

  // The template, on a data file of the project (its data folder's files are offered too).
  const file = page.getByTestId("template-file");
  await expect(file.locator("optgroup[label=Project] option[value='data/seattle-weather.csv']")).toHaveCount(
    1,
  );
  await expect(
    file.locator("optgroup[label^='Data folder'] option[value$='vega-datasets/data/cars.json']"),
  ).toHaveCount(1);
  await file.selectOption("data/seattle-weather.csv");
  await page.getByTestId("template-create").click();
  for (const id of ["seattle-weather", "profile", "split", "gbdt", "eval_gbdt"])
    await expect(page.getByTestId(`node-${id}`)).toBeVisible();
  await expect(empty).toBeHidden();
  await expect(page.getByTestId("pipeline-select")).toHaveValue("seattle-weather-model.dag.json");
  const saved = join(projectDir, "seattle-weather-model.dag.json");
  expect(nodesIn(saved)).toEqual([
    "eval_gbdt:evaluate",
    "gbdt:train.gbdt",
    "profile:analyze.profile",
    "seattle-weather:ingest.file",
    "split:split",
  ]);
  // The core finds one thing left to do, the target, and the train node is selected for it.
  await expect(page.getByTestId("node-id-input")).toHaveValue("gbdt");
  const problems = page.locator("[data-testid^=problem-]");
  await expect(problems).toHaveCount(1);
  await expect(problems.first()).toContainText("gbdt");
  await expect(problems.first()).toContainText("target");
  await shot(page, testInfo, "02-template");
});

test("a block dropped on the empty canvas starts a new pipeline holding it", async ({
  app: page,
  projectDir,
}) => {
  await expect(page.getByTestId("empty-state")).toBeVisible();
  await page.getByTestId("palette-search").fill("split");
  // Dropped on the empty state's card, in the middle of the canvas: the card takes drops too.
  await page.getByTestId("palette-item-split").dragTo(page.getByTestId("empty-state"));
  await expect(page.getByTestId("node-split")).toBeVisible();
  await expect(page.getByTestId("empty-state")).toBeHidden();
  await expect(page.getByTestId("pipeline-select")).toHaveValue("untitled.dag.json");
  await expect(page.getByTestId("dirty-indicator")).toBeVisible();
  const file = join(projectDir, "untitled.dag.json");
  expect(existsSync(file)).toBe(true);
  await page.keyboard.press("Control+s");
  await expect(page.getByTestId("dirty-indicator")).toBeHidden();
  expect(nodesIn(file)).toEqual(["split:split"]);
});

test("the ingest path field offers the project's data files, and typing stays possible", async ({
  app: page,
  projectDir,
}, testInfo) => {
  writeFileSync(
    join(projectDir, "read.dag.json"),
    JSON.stringify({
      format: "dagwood.pipeline/1",
      name: "read",
      nodes: [{ id: "read", block: "ingest.file", params: { path: "data/penguins.csv" } }],
      edges: [],
    }),
  );
  // Found when the project is read again (the page reloaded): the only pipeline, it opens.
  await page.reload();
  await page.getByTestId("node-read").click();
  const path = page.getByTestId("param-path");
  await expect(path).toHaveValue("data/penguins.csv");
  await page.getByTestId("param-path-files").click();
  const list = page.getByTestId("path-file-list");
  await expect(list.getByTestId("path-file-data/seattle-weather.csv")).toBeVisible();
  await expect(list.getByTestId("path-file-data/cars.json")).toBeVisible();
  await shot(page, testInfo, "03-path-files");
  // Data-folder files come as paths the block reads; the project's own state and pipelines never.
  await expect(list.locator("[data-testid$='vega-datasets/data/penguins.json']")).toHaveCount(1);
  await expect(list.locator("[data-testid*='.dagwood']")).toHaveCount(0);
  await expect(list.locator("[data-testid$='.dag.json']")).toHaveCount(0);
  await list.getByTestId("path-file-data/seattle-weather.csv").click();
  await expect(list).toBeHidden();
  await expect(path).toHaveValue("data/seattle-weather.csv");
  // The browser offers the same files while typing.
  await expect(page.locator("datalist option[value='data/cars.json']")).toHaveCount(1);
  await path.fill("data/my-own.csv");
  await expect(path).toHaveValue("data/my-own.csv");
  await page.keyboard.press("Control+s");
  await expect
    .poll(() => JSON.parse(readFileSync(join(projectDir, "read.dag.json"), "utf8")).nodes[0].params.path)
    .toBe("data/my-own.csv");
});

test("a node is named after the model that feeds it", async ({ app: page, projectDir }, testInfo) => {
  await page.getByTestId("empty-state").waitFor();
  await page.getByTestId("template-file").selectOption("data/penguins.csv");
  await page.getByTestId("template-create").click();
  await expect(page.getByTestId("node-eval_gbdt")).toBeVisible();

  // A second model and an evaluate for it: the evaluate takes the model's name when connected.
  await page.getByTestId("palette-search").fill("logistic");
  await page
    .getByTestId("palette-item-train.logistic")
    .dragTo(page.getByTestId("canvas"), { targetPosition: { x: 60, y: 40 } });
  await page.getByTestId("palette-search").fill("evaluate");
  await page
    .getByTestId("palette-item-evaluate")
    .dragTo(page.getByTestId("canvas"), { targetPosition: { x: 620, y: 40 } });
  await expect(page.getByTestId("node-logistic")).toBeVisible();
  await expect(page.getByTestId("node-evaluate")).toBeVisible();
  // Laid out and fitted, so every port is on screen to drag from.
  await page.getByTestId("layout-button").click();
  await settled(page.getByTestId("node-evaluate"));

  // A train block fed by the split keeps its short name.
  await connect(page, page.getByTestId("handle-split-train"), page.getByTestId("handle-logistic-train"));
  await expect(page.getByTestId("node-logistic")).toBeVisible();
  await connect(page, page.getByTestId("handle-logistic-model"), page.getByTestId("handle-evaluate-model"));
  await expect(page.getByTestId("node-eval_logistic")).toBeVisible();
  await expect(page.getByTestId("node-evaluate")).toHaveCount(0);
  // Undo takes back the edge and the name in one step.
  await page.keyboard.press("Control+z");
  await expect(page.getByTestId("node-evaluate")).toBeVisible();

  // A connection dragged from gbdt's model output and let go on the empty canvas offers the blocks that
  // take a model; the one picked joins it, named after it.
  const from = (await page.getByTestId("handle-gbdt-model").boundingBox())!;
  const free = await emptyPanePoint(page);
  await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
  await page.mouse.down();
  await page.mouse.move(free.x, free.y, { steps: 8 });
  await page.mouse.up();
  await expect(page.getByTestId("quick-add")).toBeVisible();
  await expect(page.getByTestId("quick-add-predict")).toBeVisible();
  await expect(page.getByTestId("quick-add-split")).toHaveCount(0);
  await shot(page, testInfo, "04-quick-add-from-port");
  await page.getByTestId("quick-add-predict").click();
  await expect(page.getByTestId("node-predict_gbdt")).toBeVisible();
  await page.keyboard.press("Control+s");
  await expect(page.getByTestId("dirty-indicator")).toBeHidden();
  const saved = JSON.parse(readFileSync(join(projectDir, "penguins-model.dag.json"), "utf8"));
  expect(saved.edges).toContainEqual({ from: "gbdt.model", to: "predict_gbdt.model" });
});

/** Waits until an element stops moving (the view's fit animation has ended). */
async function settled(locator: Locator) {
  let last = "";
  await expect
    .poll(async () => {
      const now = JSON.stringify(await locator.boundingBox());
      const same = now === last;
      last = now;
      return same;
    })
    .toBe(true);
}

/** A point of the canvas where nothing is drawn (the pane itself), away from the nodes. */
async function emptyPanePoint(page: Page): Promise<{ x: number; y: number }> {
  const box = (await page.locator(".react-flow__pane").boundingBox())!;
  const found = await page.evaluate((b) => {
    for (let y = b.y + b.height - 60; y > b.y + 20; y -= 20)
      for (let x = b.x + b.width / 2; x < b.x + b.width - 200; x += 20) {
        const free = [-30, 0, 30].every((dx) =>
          [-30, 0, 30].every((dy) =>
            document.elementFromPoint(x + dx, y + dy)?.classList.contains("react-flow__pane"),
          ),
        );
        if (free) return { x, y };
      }
    return null;
  }, box);
  if (!found) throw new Error("No empty spot on the canvas");
  return found;
}

test("Run to here follows the selection when one click swaps an edge for a node", async ({ app: page }) => {
  await page.getByTestId("empty-state").waitFor();
  await page.getByTestId("template-file").selectOption("data/penguins.csv");
  await page.getByTestId("template-create").click();
  await expect(page.getByTestId("node-eval_gbdt")).toBeVisible();
  const runToHere = page.getByTestId("run-to-here-button");
  await expect(runToHere).toBeEnabled();

  // One edge selected, no node: nothing to run to.
  await page.locator(".react-flow__pane").click({ position: { x: 5, y: 5 } });
  await expect(runToHere).toBeDisabled();
  const edge = page.locator(".react-flow__edge[data-id='split.test->eval_gbdt.data']");
  const box = (await edge.boundingBox())!;
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  await expect(edge).toHaveClass(/selected/);
  await expect(runToHere).toBeDisabled();

  // A problem's row selects its node in one step (the edge let go): Run to here is ready at once.
  await page.getByTestId("problem-0").click();
  await expect(page.getByTestId("node-id-input")).toHaveValue("gbdt");
  await expect(runToHere).toBeEnabled();
});
