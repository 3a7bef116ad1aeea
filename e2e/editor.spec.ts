import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Locator, Page } from "@playwright/test";
import { expect, test } from "./fixtures";

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

/** Selecting a node that has run opens its data; open the tab only if that did not happen. */
async function showData(page: Page) {
  const drawer = page.getByTestId("data-drawer");
  await drawer.waitFor({ timeout: 2000 }).catch(() => undefined);
  if (!(await drawer.isVisible())) await page.getByTestId("tab-data").click();
  await expect(drawer).toBeVisible();
}

const edgesOf = (file: string) =>
  (JSON.parse(readFileSync(file, "utf8")).edges as { from: string; to: string }[]).map(
    (e) => `${e.from}->${e.to}`,
  );

test("a new user builds, runs, inspects, saves and reopens a pipeline", async ({
  app: page,
  projectDir,
}, testInfo) => {
  const shot = async (name: string) => {
    const body = await page.screenshot();
    await testInfo.attach(name, { body, contentType: "image/png" });
    writeFileSync(join(testInfo.outputDir, `${name}.png`), body);
  };
  const file = join(projectDir, "penguins.dag.json");

  // The example opens with its four nodes.
  for (const id of ["penguins", "profile", "clean", "split"])
    await expect(page.getByTestId(`node-${id}`)).toBeVisible();
  await shot("01-opened");
  // In a 1280×720 window the canvas has room below the example once the bottom panel is folded.
  await page.getByTestId("toggle-drawer").click();

  // Add a block from the palette by dragging it onto the canvas.
  await page.getByTestId("palette-search").fill("shuffle");
  await page
    .getByTestId("palette-item-shuffle")
    .dragTo(page.getByTestId("canvas"), { targetPosition: { x: 420, y: 440 } });
  const shuffle = page.getByTestId("node-shuffle");
  await expect(shuffle).toBeVisible();

  // Connect split.train → shuffle.in.
  await connect(page, page.getByTestId("handle-split-train"), page.getByTestId("handle-shuffle-in"));
  await expect(page.getByTestId("dirty-indicator")).toBeVisible();

  // A report cannot feed a table: the connection is refused, with the reason.
  await page.getByTestId("palette-search").fill("select");
  await page
    .getByTestId("palette-item-select.features")
    .dragTo(page.getByTestId("canvas"), { targetPosition: { x: 120, y: 440 } });
  await expect(page.getByTestId("node-features")).toBeVisible();
  await connect(page, page.getByTestId("handle-profile-report"), page.getByTestId("handle-features-in"));
  await expect(
    page.getByTestId("toast").filter({ hasText: /report output cannot feed a table input/i }),
  ).toBeVisible();

  // Edit a param of the new node; undo and redo it.
  await shuffle.click();
  const seed = page.getByTestId("param-seed");
  await seed.fill("42");
  await seed.blur();
  await expect(seed).toHaveValue("42");
  await page.getByTestId("undo-button").click();
  await expect(seed).not.toHaveValue("42");
  await page.getByTestId("redo-button").click();
  await expect(seed).toHaveValue("42");

  // The dangling select.features has no input: remove it, so the pipeline is valid.
  await page.getByTestId("node-features").click();
  await page.keyboard.press("Delete");
  await expect(page.getByTestId("node-features")).toHaveCount(0);
  await expect(page.getByTestId("status-problems")).toContainText(/no problems/i);

  // Run: every node finishes.
  await page.getByTestId("run-button").click();
  await expect(page.getByTestId("status-run")).toHaveAttribute("data-run-status", "succeeded", {
    timeout: 30_000,
  });
  // The run opened its log over the canvas's lower part: fit the graph into what is left.
  await page.locator(".react-flow__controls-fitview").click();
  for (const id of ["penguins", "profile", "clean", "split", "shuffle"]) {
    await expect(page.getByTestId(`node-${id}`)).toHaveAttribute("data-state", /^(done|cached)$/);
  }

  // Look at the data a node produced.
  await page.getByTestId("node-clean").click();
  await showData(page);
  await expect(page.getByTestId("data-row-count")).toContainText("344");
  await expect(page.getByTestId("data-table")).toContainText("Adelie");
  await shot("02-ran-with-data");
  await page.getByTestId("data-tab-profile").click();
  await expect(page.getByTestId("profile-view")).toBeVisible();
  await shot("03-profile");

  // Save: the file on disk now has the new node and edge, in canonical form.
  await page.getByTestId("save-button").click();
  await expect(page.getByTestId("dirty-indicator")).toHaveCount(0);
  const saved = readFileSync(file, "utf8");
  expect(edgesOf(file)).toContain("split.train->shuffle.in");
  expect(JSON.parse(saved).nodes.find((n: { id: string }) => n.id === "shuffle").params).toEqual({
    seed: 42,
  });

  // Reopen: the same pipeline comes back, and saving it again gives the same bytes.
  await page.reload();
  await expect(page.getByTestId("node-shuffle")).toBeVisible();
  await page.getByTestId("node-shuffle").click();
  await expect(page.getByTestId("param-seed")).toHaveValue("42");
  await page.keyboard.press("Control+s");
  await expect(page.getByTestId("toast").filter({ hasText: "Saved" })).toBeVisible();
  expect(readFileSync(file, "utf8")).toBe(saved);
});

test("a failed node shows its error while the others stay inspectable", async ({ app: page, projectDir }) => {
  const file = join(projectDir, "penguins.dag.json");
  const doc = JSON.parse(readFileSync(file, "utf8"));
  doc.nodes.find((n: { id: string }) => n.id === "split").params.column = "speciez";
  writeFileSync(file, JSON.stringify(doc));
  await page.reload();
  await page.getByTestId("run-button").click();
  await expect(page.getByTestId("status-run")).toHaveAttribute("data-run-status", "failed", {
    timeout: 30_000,
  });
  await expect(page.getByTestId("node-split")).toHaveAttribute("data-state", "failed");
  await expect(page.getByTestId("node-split")).toContainText(/speciez/);
  await expect(page.getByTestId("node-clean")).toHaveAttribute("data-state", "done");
  await page.getByTestId("node-clean").click();
  await showData(page);
  await expect(page.getByTestId("data-row-count")).toContainText("344");
});

test("a file that is not a pipeline is shown, not lost; unknown blocks are kept", async ({
  app: page,
  projectDir,
}) => {
  writeFileSync(join(projectDir, "broken.dag.json"), "{ this is not json");
  const future = JSON.parse(readFileSync(join(projectDir, "penguins.dag.json"), "utf8"));
  future.nodes.push({ id: "later", block: "from.the.future", params: { knob: [1, 2, 3] } });
  writeFileSync(join(projectDir, "future.dag.json"), JSON.stringify(future));

  await page.goto(`${page.url().split("?")[0]}?pipeline=broken.dag.json`);
  await expect(page.getByTestId("unreadable-file")).toBeVisible();
  await expect(page.getByTestId("problems-panel")).toContainText(/Not valid JSON/);
  await expect(page.getByTestId("save-button")).toBeDisabled();
  expect(readFileSync(join(projectDir, "broken.dag.json"), "utf8")).toBe("{ this is not json");

  await page.goto(`${page.url().split("?")[0]}?pipeline=future.dag.json`);
  await expect(page.getByTestId("node-later")).toContainText("unknown block");
  await expect(page.getByTestId("problems-panel")).toContainText(/Unknown block "from\.the\.future"/);
  // Move a node and save: the move lands in the file, and the unknown block and its params survive.
  const before = readFileSync(join(projectDir, "future.dag.json"), "utf8");
  const box = (await page.getByTestId("node-penguins").boundingBox())!;
  await page.mouse.move(box.x + 40, box.y + 10);
  await page.mouse.down();
  await page.mouse.move(box.x + 140, box.y + 210, { steps: 10 });
  await page.mouse.up();
  await expect(page.getByTestId("dirty-indicator")).toBeVisible();
  await page.getByTestId("save-button").click();
  await expect(page.getByTestId("toast").filter({ hasText: "Saved" })).toBeVisible();
  await expect(page.getByTestId("dirty-indicator")).toHaveCount(0);
  const text = readFileSync(join(projectDir, "future.dag.json"), "utf8");
  expect(text).not.toBe(before);
  const saved = JSON.parse(text);
  expect(saved.layout.penguins).not.toEqual(JSON.parse(before).layout.penguins);
  expect(saved.nodes.find((n: { id: string }) => n.id === "later")).toEqual({
    id: "later",
    block: "from.the.future",
    params: { knob: [1, 2, 3] },
  });
  // canonical: nodes sorted by id, two-space indent, trailing newline
  expect(saved.nodes.map((n: { id: string }) => n.id)).toEqual(
    [...saved.nodes.map((n: { id: string }) => n.id)].sort(),
  );
  expect(text.endsWith("}\n")).toBe(true);
});

test("New pipeline never replaces a file; Save As asks before it does", async ({ app: page, projectDir }) => {
  const file = join(projectDir, "penguins.dag.json");
  const before = readFileSync(file, "utf8");
  await expect(page.getByTestId("node-penguins")).toBeVisible();
  await page.keyboard.press("Control+k");
  await page.getByTestId("command-new").click();
  await page.getByTestId("path-input").fill("penguins");
  await page.getByTestId("path-submit").click();
  await expect(page.getByTestId("toast").filter({ hasText: /already exists/ })).toBeVisible();
  expect(readFileSync(file, "utf8")).toBe(before);

  await page.getByTestId("path-input").fill("fresh");
  await page.getByTestId("path-submit").click();
  await expect(page.getByTestId("pipeline-select")).toHaveValue("fresh.dag.json");
  expect(JSON.parse(readFileSync(join(projectDir, "fresh.dag.json"), "utf8")).nodes).toEqual([]);

  // Save As onto an existing file: declining the question leaves it alone.
  page.once("dialog", (d) => void d.dismiss());
  await page.keyboard.press("Control+k");
  await page.getByTestId("command-save-as").click();
  await page.getByTestId("path-input").fill("penguins.dag.json");
  await page.getByTestId("path-submit").click();
  await expect(page.getByTestId("path-dialog")).toBeVisible();
  expect(readFileSync(file, "utf8")).toBe(before);
});
