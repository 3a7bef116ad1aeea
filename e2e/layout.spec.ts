/**
 * The app at the window sizes people have (a 1280×720 laptop up to 1920×1080):
 * no sideways page scroll, nothing in the bars cut off, Run and the panel
 * toggles on screen; the palette, inspector and bottom panel fold, resize and
 * are remembered; the status bar and data drawer speak of what the user sees.
 */
import type { Page } from "@playwright/test";
import { expect, test } from "./fixtures";
import { openPipeline, TREE_PIPELINE } from "./steps";

const SIZES = [
  { width: 1280, height: 720 },
  { width: 1366, height: 768 },
  { width: 1920, height: 1080 },
];

/** Everything about the page's width and the boxes that must be inside the window. */
async function layoutProblems(page: Page, mustBeOnScreen: string[]): Promise<string[]> {
  return page.evaluate((selectors) => {
    const problems: string[] = [];
    const { innerWidth: w, innerHeight: h } = window;
    const page = document.scrollingElement!;
    if (page.scrollWidth > w) problems.push(`the page scrolls sideways: ${page.scrollWidth} px in ${w}`);
    if (page.scrollHeight > h) problems.push(`the page scrolls down: ${page.scrollHeight} px in ${h}`);
    const bar = document.querySelector(".top-bar")!;
    if (bar.scrollWidth > bar.clientWidth + 1)
      problems.push(`the top bar hides ${bar.scrollWidth - bar.clientWidth} px of its content`);
    const boxes = [
      ...Array.from(
        document.querySelectorAll<HTMLElement>(
          ".top-bar button, .top-bar select, .status-bar button, .status-bar .status-item",
        ),
      ),
      ...selectors.map((s) => {
        const el = document.querySelector<HTMLElement>(s);
        if (!el) problems.push(`${s} is missing`);
        return el;
      }),
    ];
    for (const el of boxes) {
      if (!el) continue;
      const r = el.getBoundingClientRect();
      const name = el.dataset.testid ?? el.textContent?.trim().slice(0, 30);
      if (r.width === 0 || r.height === 0) problems.push(`${name} has no size`);
      else if (r.left < 0 || r.top < 0 || r.right > w + 0.5 || r.bottom > h + 0.5)
        problems.push(
          `${name} is cut off: ${Math.round(r.left)}..${Math.round(r.right)} × ${Math.round(r.top)}..${Math.round(r.bottom)} in ${w}×${h}`,
        );
    }
    return problems;
  }, mustBeOnScreen);
}

const EDITOR_CONTROLS = [
  "[data-testid=run-button]",
  "[data-testid=stop-button]",
  "[data-testid=commands-button]",
  "[data-testid=toggle-palette]",
  "[data-testid=toggle-inspector]",
  "[data-testid=toggle-drawer]",
  "[data-testid=maximize-drawer]",
];

const width = (page: Page, testId: string) =>
  page.getByTestId(testId).evaluate((el) => el.getBoundingClientRect().width);

for (const size of SIZES) {
  test(`at ${size.width}×${size.height} every view fits the window`, async ({ app }) => {
    await app.setViewportSize(size);
    await expect(app.getByTestId("node-penguins")).toBeVisible();
    expect(await layoutProblems(app, EDITOR_CONTROLS)).toEqual([]);

    // A node's form: focusing its fields must not scroll the app sideways.
    await app.getByTestId("node-split").click();
    const paletteBefore = await app.getByTestId("palette").boundingBox();
    const fields = app.getByTestId("inspector").locator("input, select, textarea");
    expect(await fields.count()).toBeGreaterThan(0);
    for (let i = 0; i < (await fields.count()); i++) await fields.nth(i).focus();
    expect(await app.getByTestId("palette").boundingBox()).toEqual(paletteBefore);
    expect(await layoutProblems(app, EDITOR_CONTROLS)).toEqual([]);

    for (const view of ["data", "features", "experiments", "models", "lineage", "deployments"]) {
      await app.getByTestId(`view-${view}`).click();
      await expect(app.getByTestId(`${view}-frame`)).toBeVisible();
      await expect(app.locator(".view-loading")).toHaveCount(0);
      expect(await layoutProblems(app, [`[data-testid=view-${view}]`]), view).toEqual([]);
    }
  });
}

test("the palette, inspector and bottom panel fold, unfold, resize and keep their sizes", async ({ app }) => {
  await expect(app.getByTestId("node-penguins")).toBeVisible();
  const canvas0 = await width(app, "canvas");

  // Palette: folded to a rail by its button, unfolded by the shortcut.
  const palette0 = await width(app, "palette");
  expect(palette0).toBeGreaterThan(150);
  await app.getByTestId("toggle-palette").click();
  await expect(app.getByTestId("palette")).toHaveAttribute("data-collapsed", "true");
  await expect(app.getByTestId("palette-search")).toHaveCount(0);
  expect(await width(app, "palette")).toBeLessThan(40);
  expect(await width(app, "canvas")).toBeGreaterThan(canvas0 + 100);
  await app.getByTestId("canvas").click({ position: { x: 5, y: 5 } });
  await app.keyboard.press("Control+b");
  await expect(app.getByTestId("palette")).toHaveAttribute("data-collapsed", "false");
  expect(await width(app, "palette")).toBe(palette0);

  // Inspector: folded and unfolded by its button.
  const inspector0 = await app.locator(".inspector-frame").evaluate((el) => el.getBoundingClientRect().width);
  await app.getByTestId("toggle-inspector").click();
  await expect(app.getByTestId("inspector")).toHaveCount(0);
  expect(
    await app.locator(".inspector-frame").evaluate((el) => el.getBoundingClientRect().width),
  ).toBeLessThan(40);
  await app.getByTestId("toggle-inspector").click();
  await expect(app.getByTestId("inspector")).toBeVisible();
  expect(await app.locator(".inspector-frame").evaluate((el) => el.getBoundingClientRect().width)).toBe(
    inspector0,
  );

  // Bottom panel: the chevron folds it to its tab row, which says so; clicking a tab unfolds it.
  const panel = app.getByTestId("bottom-panel");
  await expect(panel).toHaveAttribute("data-state", "open");
  await app.getByTestId("toggle-drawer").click();
  await expect(panel).toHaveAttribute("data-state", "collapsed");
  await expect(panel).toContainText("Panel folded");
  expect(await width(app, "canvas")).toBeGreaterThan(0);
  await app.getByTestId("tab-log").click();
  await expect(panel).toHaveAttribute("data-state", "open");
  // Clicking the active tab folds it too, and the chevron brings it back.
  await app.getByTestId("tab-log").click();
  await expect(panel).toHaveAttribute("data-state", "collapsed");
  await app.getByTestId("toggle-drawer").click();
  await expect(panel).toHaveAttribute("data-state", "open");

  // Maximised, it fills the centre and the canvas is out of sight; restored, both are back.
  await app.getByTestId("maximize-drawer").click();
  await expect(panel).toHaveAttribute("data-state", "maximized");
  await expect(app.getByTestId("canvas")).toBeHidden();
  const centre = await app.locator("main.center").evaluate((el) => el.getBoundingClientRect().height);
  expect((await panel.boundingBox())!.height).toBeCloseTo(centre, 0);
  await app.getByTestId("maximize-drawer").click();
  await expect(panel).toHaveAttribute("data-state", "open");
  await expect(app.getByTestId("canvas")).toBeVisible();
  // Shift+M on the canvas maximises it as well.
  await app.getByTestId("canvas").click({ position: { x: 5, y: 5 } });
  await app.keyboard.press("Shift+M");
  await expect(panel).toHaveAttribute("data-state", "maximized");
  await app.keyboard.press("Shift+M");
  await expect(panel).toHaveAttribute("data-state", "open");

  // Drag handles: the palette 80 px wider, the bottom panel 60 px taller.
  const drag = async (testId: string, dx: number, dy: number) => {
    const box = (await app.getByTestId(testId).boundingBox())!;
    const x = box.x + box.width / 2;
    const y = box.y + box.height / 2;
    await app.mouse.move(x, y);
    await app.mouse.down();
    await app.mouse.move(x + dx / 2, y + dy / 2, { steps: 3 });
    await app.mouse.move(x + dx, y + dy, { steps: 3 });
    await app.mouse.up();
  };
  const height0 = (await panel.boundingBox())!.height;
  await drag("palette-resizer", 80, 0);
  await drag("bottom-resizer", 0, -60);
  expect(await width(app, "palette")).toBeCloseTo(palette0 + 80, -1);
  expect((await panel.boundingBox())!.height).toBeCloseTo(height0 + 60, -1);

  // Kept for the next start.
  await app.getByTestId("toggle-inspector").click();
  await app.reload();
  await expect(app.getByTestId("node-penguins")).toBeVisible();
  expect(await width(app, "palette")).toBeCloseTo(palette0 + 80, -1);
  expect((await panel.boundingBox())!.height).toBeCloseTo(height0 + 60, -1);
  await expect(app.getByTestId("inspector")).toHaveCount(0);
  expect(await layoutProblems(app, EDITOR_CONTROLS)).toEqual([]);
});

test("a side panel's stored width gives way on a narrow window", async ({ app }) => {
  await expect(app.getByTestId("node-penguins")).toBeVisible();
  await app.evaluate(() =>
    localStorage.setItem("dagwood.layout", JSON.stringify({ paletteWidth: 420, inspectorWidth: 640 })),
  );
  await app.reload();
  await expect(app.getByTestId("node-penguins")).toBeVisible();
  expect(await layoutProblems(app, EDITOR_CONTROLS)).toEqual([]);
  expect(await width(app, "canvas")).toBeGreaterThan(300);
});

test("the status bar shows the editor's selection and file only in the editor", async ({ app }) => {
  await app.getByTestId("node-penguins").click();
  const bar = app.getByTestId("status-bar");
  await expect(app.getByTestId("status-selection")).toHaveText("1 selected");
  await expect(bar).toContainText("penguins.dag.json");
  for (const view of ["data", "features", "experiments", "models", "lineage", "deployments"]) {
    await app.getByTestId(`view-${view}`).click();
    await expect(bar).toHaveAttribute("data-view", view);
    await expect(bar).not.toContainText("selected");
    await expect(bar).not.toContainText(".dag.json");
    await expect(app.getByTestId("status-problems")).toHaveCount(0);
    await expect(app.getByTestId("status-context")).toContainText("starter");
  }
});

test("the data drawer names a table by node and port, with its rows", async ({ app, projectDir }) => {
  await openPipeline(app, projectDir, TREE_PIPELINE, "tree.dag.json");
  await app.getByTestId("run-button").click();
  await expect(app.getByTestId("status-run")).toHaveAttribute("data-run-status", "succeeded", {
    timeout: 45_000,
  });
  await app.getByTestId("node-penguins").click();
  // Selecting a node that has run opens its data; open the tab only if that did not happen.
  const drawer = app.getByTestId("data-drawer");
  await drawer.waitFor({ timeout: 2000 }).catch(() => undefined);
  if (!(await drawer.isVisible())) await app.getByTestId("tab-data").click();
  // data/penguins.csv: a header and 344 rows.
  await expect(app.getByTestId("table-caption")).toHaveText("penguins · out · 344 rows");
  await expect(app.getByTestId("data-drawer")).not.toContainText(/\bt_[0-9a-f]/);
});

test("Export JSON in the browser says which file went to the downloads", async ({ app }) => {
  await expect(app.getByTestId("node-penguins")).toBeVisible();
  const download = app.waitForEvent("download");
  await app.getByTestId("commands-button").click();
  await app.getByTestId("command-export-json").click();
  expect((await download).suggestedFilename()).toBe("penguins.dag.json");
  await expect(app.getByTestId("toast")).toContainText(
    "Exported penguins.dag.json to the browser's downloads",
  );
});

test("the minimap is left out where it would cover the pipeline, and back when the canvas has room", async ({
  app,
}) => {
  await expect(app.getByTestId("node-penguins")).toBeVisible();
  // 1280×720 with the bottom panel open: the canvas is about 740×390, a 200×150 minimap would hide a node.
  await expect(app.locator(".react-flow__minimap")).toHaveCount(0);
  // Folded, the canvas (about 740×616) is still too small for it to stay clear of a fitted pipeline.
  await app.getByTestId("toggle-drawer").click();
  await expect(app.locator(".react-flow__minimap")).toHaveCount(0);
  await app.getByTestId("toggle-drawer").click();
  await app.setViewportSize({ width: 1920, height: 1080 });
  await expect(app.locator(".react-flow__minimap")).toBeVisible();
  // Where it shows, no node is under it once the pipeline is fitted into view.
  await app.locator(".react-flow__controls-fitview").click();
  const map = (await app.locator(".react-flow__minimap").boundingBox())!;
  for (const node of await app.locator(".react-flow__node").all()) {
    const b = (await node.boundingBox())!;
    const overlaps =
      b.x < map.x + map.width && b.x + b.width > map.x && b.y < map.y + map.height && b.y + b.height > map.y;
    expect(overlaps, (await node.getAttribute("data-id")) ?? "a node").toBe(false);
  }
});

test("every control in every view has a name a screen reader can say", async ({ app }) => {
  await expect(app.getByTestId("node-penguins")).toBeVisible();
  /** Buttons and fields on screen whose accessible name is missing or only a symbol (placeholders do not count). */
  const unnamed = () =>
    app.evaluate(() =>
      Array.from(
        document.querySelectorAll<HTMLElement>("button, [role=button], [role=tab], input, select, textarea"),
      )
        .filter((el) => el.getBoundingClientRect().width > 0 && (el as HTMLInputElement).type !== "hidden")
        .filter((el) => {
          const labelled = el.getAttribute("aria-labelledby")
            ? document.getElementById(el.getAttribute("aria-labelledby")!)?.textContent
            : "";
          const labels = (el as HTMLInputElement).labels;
          const name = [
            el.getAttribute("aria-label"),
            labelled,
            labels?.length ? labels[0]!.textContent : "",
            el.getAttribute("title"),
            el instanceof HTMLSelectElement || el instanceof HTMLInputElement ? "" : el.textContent,
          ].join(" ");
          return !/[A-Za-z0-9]{2,}/.test(name);
        })
        .map((el) => el.dataset.testid ?? el.outerHTML.slice(0, 80)),
    );
  expect(await unnamed(), "editor").toEqual([]);
  await app.getByTestId("node-penguins").click();
  expect(await unnamed(), "editor with a node's form").toEqual([]);
  for (const view of ["data", "features", "experiments", "models", "lineage", "deployments"]) {
    await app.getByTestId(`view-${view}`).click();
    await expect(app.getByTestId(`${view}-frame`)).toBeVisible();
    await expect(app.locator(".view-loading")).toHaveCount(0);
    expect(await unnamed(), view).toEqual([]);
  }
});

test("the panels' drag handles are splitters the keyboard resizes too", async ({ app }) => {
  await expect(app.getByTestId("node-penguins")).toBeVisible();
  const height = (testId: string) =>
    app.getByTestId(testId).evaluate((el) => el.getBoundingClientRect().height);
  const cases = [
    { handle: "palette-resizer", size: () => width(app, "palette"), grow: "ArrowRight", shrink: "ArrowLeft" },
    {
      handle: "inspector-resizer",
      size: () => app.locator(".inspector-frame").evaluate((el) => el.getBoundingClientRect().width),
      grow: "ArrowLeft",
      shrink: "ArrowRight",
    },
    { handle: "bottom-resizer", size: () => height("bottom-panel"), grow: "ArrowUp", shrink: "ArrowDown" },
  ];
  for (const c of cases) {
    const handle = app.getByTestId(c.handle);
    await expect(handle).toHaveAttribute("role", "separator");
    await expect(handle).toHaveAttribute("aria-label", /^Resize the /);
    const before = await c.size();
    await handle.focus();
    await expect(handle).toBeFocused();
    await handle.press(c.grow);
    await expect.poll(c.size, c.handle).toBeCloseTo(before + 16, 0);
    await expect(handle).toHaveAttribute("aria-valuenow", String(Math.round(before + 16)));
    await handle.press(`Shift+${c.shrink}`);
    await expect.poll(c.size, c.handle).toBeCloseTo(before + 16 - 64, 0);
    await handle.press(c.grow);
    await handle.press(c.grow);
    await handle.press(c.grow);
    await expect.poll(c.size, c.handle).toBeCloseTo(before, 0);
  }
  expect(await layoutProblems(app, EDITOR_CONTROLS)).toEqual([]);
});

// A pipeline wider and taller than the canvas at 100% (nodes above y = 0 too): unfitted, it shows in part.
test.describe("a large pipeline", () => {
  test.use({ pipeline: "weather-model.dag.json" });

  test("a pipeline opened while another view shows is fitted into the canvas when the editor first shows", async ({
    app,
  }) => {
    await expect(app.getByTestId("node-weather")).toBeVisible();
    // The app loaded on Experiments (the view is in the URL): the canvas is drawn later, pipeline open.
    await app.getByTestId("view-experiments").click();
    await app.reload();
    await expect(app.getByTestId("experiments-frame")).toBeVisible();
    // The pipeline is open (its name is in the window's title) before the editor is first drawn.
    await expect(app).toHaveTitle("weather-model — Dagwood");
    await app.getByTestId("view-editor").click();
    await expect(app.getByTestId("node-weather")).toBeVisible();
    const canvas = (await app.getByTestId("canvas").boundingBox())!;
    const nodes = app.locator(".react-flow__node");
    expect(await nodes.count()).toBeGreaterThan(1);
    await expect
      .poll(async () => {
        const outside: string[] = [];
        for (const node of await nodes.all()) {
          const b = (await node.boundingBox())!;
          if (
            b.x < canvas.x ||
            b.y < canvas.y ||
            b.x + b.width > canvas.x + canvas.width ||
            b.y + b.height > canvas.y + canvas.height
          )
            outside.push((await node.getAttribute("data-id"))!);
        }
        return outside;
      })
      .toEqual([]);
  });
});

test("the canvas keeps its zoom and pan across a visit to another view", async ({ app }) => {
  await expect(app.getByTestId("node-penguins")).toBeVisible();
  const viewport = () =>
    app.locator(".react-flow__viewport").evaluate((el) => (el as HTMLElement).style.transform);
  const fitted = await viewport();
  await app.locator(".react-flow__controls-zoomin").click();
  await app.locator(".react-flow__controls-zoomin").click();
  await expect.poll(viewport).not.toBe(fitted);
  const zoomed = await viewport();
  for (const view of ["models", "experiments"]) {
    await app.getByTestId(`view-${view}`).click();
    await expect(app.getByTestId(`${view}-frame`)).toBeVisible();
    await app.getByTestId("view-editor").click();
    await expect(app.getByTestId("node-penguins")).toBeVisible();
    await expect.poll(viewport, view).toBe(zoomed);
  }
  // A reload opens the pipeline anew: fitted again.
  await app.reload();
  await expect(app.getByTestId("node-penguins")).toBeVisible();
  await expect.poll(viewport).toBe(fitted);
});
