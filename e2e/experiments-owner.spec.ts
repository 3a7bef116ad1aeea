/**
 * Whose run is whose in a shared store: runs by several users on several machines (written into
 * the store directly, as a team store holds runs others started elsewhere) show user@machine in
 * the runs table and in full in the run's detail, and "only my runs" keeps the app user's own
 * runs, across a reload. At the 1280×720 window.
 */
import type { Page } from "@playwright/test";
import { OWNED_RUNS, seedOwnedRuns } from "../app/api/run-owner-testing";
import { expect, test } from "./fixtures";
import { shot } from "./steps";

// The app's engine records runs as ana: "mine" means ana's runs, on whichever machine.
test.use({ appEnv: { DAGWOOD_USER: "ana" } });

/** Someone with a long name on a machine with a long name: the column must not grow with them. */
const LONG = {
  id: "r6-carla-ci",
  user: "carla.lindqvist",
  host: "build-agent-0042.ci.eu-west-1.compute.internal",
};

async function shownIds(app: Page): Promise<string[]> {
  const rows = app.getByTestId("runs-table").locator('tbody tr[data-testid^="run-row-"]');
  return rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-testid")!.slice("run-row-".length)));
}

test("the runs table shows who ran each run where, and filters to my runs", async ({
  app,
  projectDir,
}, testInfo) => {
  seedOwnedRuns(projectDir, [...OWNED_RUNS, LONG]);
  const url = new URL(app.url());
  url.searchParams.set("view", "experiments");
  await app.goto(url.toString());
  await expect(app.getByTestId("runs-total")).toContainText("of 6 runs");

  // user@machine, the machine cut to its first label; the full names in the tooltip.
  const r1 = app.getByTestId("run-owner-r1-ana-ws1");
  await expect(r1).toHaveText("ana@ws-1");
  await expect(r1).toHaveAttribute("title", "ana on ws-1.lab.example");
  await expect(app.getByTestId("run-owner-r3-ben-ws2")).toHaveText("ben@ws-2");
  await expect(app.getByTestId("run-owner-r5-nobody")).toHaveText("—");
  const long = app.getByTestId("run-owner-r6-carla-ci");
  await expect(long).toHaveAttribute("title", `${LONG.user} on ${LONG.host}`);
  // The long one is cut with an ellipsis rather than widening the table past the window.
  const cut = await long.evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
  expect(cut.scroll).toBeGreaterThan(cut.client);
  expect(cut.client).toBeLessThan(200);
  expect(await app.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
  const toggle = app.getByTestId("runs-mine");
  await expect(toggle).toBeVisible();
  await expect(toggle).toBeInViewport();
  await expect(toggle).not.toBeChecked();
  await expect(app.locator("label", { has: toggle })).toHaveAttribute(
    "title",
    /started by ana \(on any machine\)/,
  );
  await shot(app, testInfo, "owner-table");

  // Only my runs: ana's, from both of her machines, newest first.
  await toggle.check();
  await expect(app.getByTestId("runs-total")).toContainText("of 2 runs");
  expect(await shownIds(app)).toEqual(["r2-ana-gpu", "r1-ana-ws1"]);
  await shot(app, testInfo, "owner-mine");

  // The choice is kept: after a reload the table still shows only ana's runs.
  await app.reload();
  await expect(app.getByTestId("runs-mine")).toBeChecked();
  await expect(app.getByTestId("runs-total")).toContainText("of 2 runs");

  // It combines with the other filters; with nothing left, the empty state says how to widen it.
  await app.getByTestId("runs-filter").fill("train.depth > 100");
  await app.getByTestId("runs-filter").press("Enter");
  await expect(app.getByTestId("runs-empty")).toContainText("untick “only my runs”");
  await app.getByTestId("runs-filter").fill("");
  await app.getByTestId("runs-filter").press("Enter");

  // The run's detail names the user and the whole machine name.
  await app.getByTestId("run-row-r2-ana-gpu").click();
  await expect(app.getByTestId("run-owner")).toHaveText("by ana on gpu-7");
  await expect(app.getByTestId("run-owner")).toBeInViewport();
  await shot(app, testInfo, "owner-detail");

  // Unticked, everyone's runs are back, and another user's detail reads as theirs.
  await app.getByTestId("runs-mine").uncheck();
  await expect(app.getByTestId("runs-total")).toContainText("of 6 runs");
  await app.getByTestId("run-row-r6-carla-ci").click();
  await expect(app.getByTestId("run-owner")).toHaveText(`by ${LONG.user} on ${LONG.host}`);
  await shot(app, testInfo, "owner-detail-long");
  expect(await app.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
});
