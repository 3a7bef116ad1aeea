/**
 * Performance figures of the Experiments view with 10,000 runs of 50 params
 * and 20 metrics (printed; a missed goal prints MISSED rather than failing,
 * as in perf.spec.ts): the first page of the runs table, a sort by a metric,
 * a filter, the next page, and comparing a page of 50 runs.
 */
import { join } from "node:path";
import type { Page } from "@playwright/test";
import { type MetricRecord, SqliteMetadataStore } from "../app/store/metadata";
import { expect, test } from "./fixtures";

// No Playwright trace here: recording one snapshots the whole DOM around every action, inside the
// page, which on a page of thousands of elements adds more time than the app takes (measured: compare
// 50 runs 1,130 ms with the trace, 230 ms without; the 300-node open 520 to 850 ms against 415 to 440).
test.use({ trace: "off" });

const RUNS = 10_000;
const verdict = (ok: boolean) => (ok ? "ok" : "MISSED");

/**
 * Waits for the frame in which every selector matches, checking on each
 * animation frame: expect's polling backs off to 500 ms steps, which would
 * add up to half a second to the figure.
 */
async function drawn(page: Page, ...selectors: string[]) {
  await page.waitForFunction((s) => s.every((q) => document.querySelector(q)), selectors, {
    polling: "raf",
    timeout: 30_000,
  });
}

/** Seeds the project's store as 10,000 finished runs would leave it. */
function seed(projectDir: string) {
  const store = new SqliteMetadataStore(join(projectDir, ".dagwood", "metadata.sqlite"), { projectDir });
  let batch: MetricRecord[] = [];
  const start = Date.UTC(2026, 0, 1);
  for (let i = 0; i < RUNS; i++) {
    const id = `sweep-${String(i).padStart(5, "0")}`;
    const resolvedParams: Record<string, unknown> = {};
    for (let k = 0; k < 50; k++) resolvedParams[`n${Math.floor(k / 5)}.p${k % 5}`] = (i * 7 + k * 13) % 97;
    store.startRun({
      id,
      pipeline: `sweep-${i % 5}`,
      pipelinePath: null,
      pipelineHash: null,
      pipelineText: null,
      params: {},
      resolvedParams,
      startedAt: new Date(start + i * 60_000).toISOString(),
      environment: {},
      user: "perf",
    });
    for (let m = 0; m < 20; m++)
      batch.push({
        runId: id,
        nodeId: "eval",
        name: `m${m}`,
        value: ((i * 31 + m * 17) % 1000) / 1000,
        step: null,
      });
    if (batch.length >= 20_000) {
      store.logMetrics(batch);
      batch = [];
    }
  }
  store.logMetrics(batch);
  for (let i = 0; i < RUNS; i++) store.finishRun(`sweep-${String(i).padStart(5, "0")}`, "succeeded");
  store.close();
}

test("the runs table pages, sorts, filters and compares 10,000 runs quickly", async ({ app, projectDir }) => {
  test.setTimeout(180_000);
  seed(projectDir);
  const url = new URL(app.url());
  url.searchParams.set("view", "experiments");

  let t0 = Date.now();
  await app.goto(url.toString());
  await expect(app.getByTestId("runs-total")).toContainText("of 10,000 runs", { timeout: 30_000 });
  const firstPageMs = Date.now() - t0;

  const firstRow = () =>
    app
      .getByTestId("runs-table")
      .locator('tbody tr[data-testid^="run-row-"]')
      .first()
      .getAttribute("data-testid");
  const before = await firstRow();
  t0 = Date.now();
  await app.getByTestId("runs-sort-metric:eval.m1").click();
  await expect.poll(firstRow).not.toBe(before);
  const sortMs = Date.now() - t0;

  t0 = Date.now();
  await app.getByTestId("runs-filter").fill("eval.m5 > 0.9 and n2.p1 < 50");
  await app.getByTestId("runs-filter").press("Enter");
  await expect(app.getByTestId("runs-total")).not.toContainText("of 10,000 runs");
  const filterMs = Date.now() - t0;
  const filtered = await app.getByTestId("runs-total").textContent();

  t0 = Date.now();
  await app.getByTestId("runs-next").click();
  await expect(app.getByTestId("runs-total")).toContainText("51–");
  const nextMs = Date.now() - t0;

  await app.getByRole("checkbox", { name: "Select the runs of this page" }).check();
  t0 = Date.now();
  await app.getByTestId("compare-button").click();
  await drawn(
    app,
    '[data-testid="compare-params"]',
    '[data-testid="compare-metrics"] [data-testid="metric-bar"]',
  );
  const compareMs = Date.now() - t0;

  const lines = [
    `Experiments view, ${RUNS.toLocaleString()} runs × 50 params × 20 metrics (headless Chromium, browser mode):`,
    `  first page of 50 runs:   ${firstPageMs} ms (goal < 1000) ${verdict(firstPageMs < 1000)}`,
    `  sort by a metric:        ${sortMs} ms (goal < 500) ${verdict(sortMs < 500)}`,
    `  filter (2 conditions):   ${filterMs} ms (goal < 500) ${verdict(filterMs < 500)} → ${filtered}`,
    `  next page:               ${nextMs} ms (goal < 500) ${verdict(nextMs < 500)}`,
    `  compare 50 runs, drawn:  ${compareMs} ms (goal < 1000) ${verdict(compareMs < 1000)}`,
  ];
  console.log(lines.join("\n"));
});
