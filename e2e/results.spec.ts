/**
 * Seeing results on the canvas: a node that warned shows an amber count (also
 * once DONE, and again when a later run takes it from the cache), a click on it
 * shows the run log with that node's lines, the run says "succeeded with N
 * warnings", and nodes show their headline (rows, accuracy, parity, version).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test as base, expect } from "./fixtures";
import { shot } from "./steps";

/** Penguins → split → a logistic regression stopped after one L-BFGS iteration (it warns) → evaluate, register. */
const WARN_PIPELINE = {
  format: "dagwood.pipeline/1",
  name: "penguins-warn",
  params: {},
  nodes: [
    { id: "penguins", block: "ingest.file", params: { path: "data/penguins.csv" } },
    {
      id: "split",
      block: "split",
      params: { column: "species", seed: 7, strategy: "stratified", testFraction: 0.25 },
    },
    { id: "logistic", block: "train.logistic", params: { target: "species", maxIter: 1 } },
    { id: "eval", block: "evaluate", params: {} },
    { id: "register", block: "register", params: { name: "penguins-warn" } },
  ],
  edges: [
    { from: "penguins.out", to: "split.in" },
    { from: "split.train", to: "logistic.train" },
    { from: "logistic.model", to: "eval.model" },
    { from: "split.test", to: "eval.data" },
    { from: "logistic.model", to: "register.model" },
  ],
  layout: {
    penguins: { x: 0, y: 0 },
    split: { x: 250, y: 0 },
    logistic: { x: 500, y: -90 },
    eval: { x: 750, y: 0 },
    register: { x: 750, y: -190 },
  },
};

const test = base.extend({
  projectDir: async ({ projectDir }, use) => {
    writeFileSync(join(projectDir, "warn.dag.json"), JSON.stringify(WARN_PIPELINE, null, 2));
    await use(projectDir);
  },
});
test.use({ pipeline: "warn.dag.json", viewport: { width: 1280, height: 720 } });

test("a warning shows on its node and in the run's outcome; nodes show their headline", async ({
  app,
}, testInfo) => {
  const logistic = app.getByTestId("node-logistic");
  await expect(logistic).toBeVisible();
  await app.getByTestId("run-button").click();
  const status = app.getByTestId("status-run");
  await expect(status).toHaveAttribute("data-run-status", "succeeded", { timeout: 45_000 });
  await expect(status).toHaveText("Last run succeeded with 1 warning");
  await expect(app.getByTestId("run-log-summary")).toHaveText(/^Run succeeded with 1 warning in \d/);

  // The badge: amber count on a DONE node, its tooltip listing the message; only that node warned.
  await expect(logistic).toHaveAttribute("data-state", "done");
  const badge = app.getByTestId("warnings-logistic");
  await expect(badge).toHaveText("⚠ 1");
  await expect(badge).toHaveAttribute(
    "title",
    /1 warning — .*\n• Logistic regression did not converge within maxIter \(1\)/,
  );
  await expect(app.locator("[data-testid^=warnings-]")).toHaveCount(1);
  // The node's form lists its warnings whole (the run log cuts a long line at the panel's width).
  await logistic.click({ position: { x: 12, y: 8 } });
  const noted = app.getByTestId("inspector-warnings");
  await expect(noted).toContainText("⚠ 1 warning");
  await expect(noted).toContainText("Logistic regression did not converge within maxIter (1)");
  await app.getByTestId("node-penguins").click({ position: { x: 12, y: 8 } });
  await expect(noted).toHaveCount(0);

  // Headlines: rows out for tables, accuracy for evaluate, parity for train, the registered version.
  await expect(app.getByTestId("headline-penguins")).toHaveText("344 rows");
  await expect(app.getByTestId("headline-split")).toHaveText("258 / 86 rows");
  await expect(app.getByTestId("headline-eval")).toHaveText(/^accuracy 0\.\d{1,4}$/);
  await expect(app.getByTestId("headline-eval")).toHaveAttribute("title", /on 86 rows$/);
  await expect(app.getByTestId("headline-logistic")).toHaveText("parity ok");
  await expect(app.getByTestId("headline-register")).toHaveText("penguins-warn v1");

  // A click on the badge shows the run log with the node's lines only; Show all brings the rest back.
  await app.getByTestId("tab-problems").click();
  await badge.click();
  const log = app.getByTestId("run-log");
  await expect(log).toBeVisible();
  await expect(app.getByTestId("run-log-filter")).toHaveText(/Showing logistic only/);
  await expect(log.locator(".log-line.level-warn")).toHaveCount(1);
  await expect(log.locator(".log-line.level-warn")).toContainText("did not converge");
  const nodesShown = await log.locator(".log-node").allTextContents();
  expect(new Set(nodesShown)).toEqual(new Set(["logistic"]));
  await shot(app, testInfo, "results-warnings");
  if (process.env.DAGWOOD_RESULTS_SHOT)
    await app.screenshot({ path: testInfo.outputPath("results-warnings.png") });
  await app.getByTestId("run-log-show-all").click();
  await expect(app.getByTestId("run-log-filter")).toHaveCount(0);
  await expect(log.locator(".log-node", { hasText: "split" }).first()).toBeVisible();

  // Run again: everything is cached, the model still did not converge, and the node still says so.
  await app.getByTestId("run-button").click();
  // The node goes from DONE to CACHED (queued between), so this waits for the second run's end.
  await expect(logistic).toHaveAttribute("data-state", "cached", { timeout: 45_000 });
  await expect(status).toHaveAttribute("data-run-status", "succeeded", { timeout: 45_000 });
  await expect(badge).toHaveText("⚠ 1");
  await expect(status).toHaveText("Last run succeeded with 1 warning");
  await expect(app.getByTestId("headline-eval")).toHaveText(/^accuracy 0\.\d{1,4}$/);
  await expect(app.getByTestId("headline-split")).toHaveText("258 / 86 rows");

  // Zoomed out below 50%, the node is drawn compact: the same box, its id and headline in large type.
  const split = app.getByTestId("node-split");
  const height = () =>
    split.evaluate((el) => {
      const viewport = document.querySelector(".react-flow__viewport")!;
      const zoom = new DOMMatrixReadOnly(getComputedStyle(viewport).transform).a;
      return el.getBoundingClientRect().height / zoom;
    });
  const full = await height();
  const canvas = (await app.getByTestId("canvas").boundingBox())!;
  await app.mouse.move(canvas.x + canvas.width / 2, canvas.y + canvas.height / 3);
  for (let i = 0; i < 20 && !(await split.getAttribute("class"))?.includes("compact"); i++) {
    await app.mouse.wheel(0, 400);
    await app.waitForTimeout(50);
  }
  await expect(split).toHaveClass(/compact/);
  await expect(app.getByTestId("headline-split")).toHaveCount(0);
  await expect(app.getByTestId("compact-headline-split")).toHaveText("258 / 86 rows");
  await expect(app.getByTestId("warnings-logistic")).toHaveCount(0);
  await expect(app.getByTestId("node-logistic")).toContainText("⚠ 1");
  expect(await height()).toBeCloseTo(full, 0);

  // A new session on the same project: the nodes are cached, with the headline and warnings of their outputs.
  await app.reload();
  await expect(logistic).toHaveAttribute("data-state", "cached", { timeout: 15_000 });
  await expect(badge).toHaveText("⚠ 1");
  await expect(badge).toHaveAttribute("title", /did not converge/);
  await expect(app.getByTestId("headline-eval")).toHaveText(/^accuracy 0\.\d{1,4}$/);
  await expect(app.getByTestId("headline-logistic")).toHaveText("parity ok");
  await expect(app.locator("[data-testid^=warnings-]")).toHaveCount(1);
  // This session's log is empty: the badge's click says where the warnings come from, and lists them.
  await badge.click();
  await expect(app.getByTestId("run-log-filter")).toHaveText(/Showing logistic only/);
  await expect(app.getByTestId("run-log-earlier")).toContainText("logged 1 warning:");
  await expect(app.getByTestId("run-log-earlier")).toContainText(
    "(cached) Logistic regression did not converge",
  );
});
