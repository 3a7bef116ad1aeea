/**
 * The Data view: a dataset with a suite attached in dagwood.json is read by a
 * pipeline twice, its file changing in between; the Data view lists it, and
 * its page shows both versions, the schema change, the test strip with a pass
 * and a fail (the fail opens the expectation that broke and its examples);
 * owner, deprecation and suites edited on the page land in dagwood.json, a
 * refused value says why beside its field, and a file read with no entry is
 * named from its page. All at 1280×720, with no sideways scroll.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Page, TestInfo } from "@playwright/test";
import { expect, test } from "./fixtures";
import { shot } from "./steps";

const SHOTS = join(import.meta.dirname, "..", "test-results", "shots");

const PIPELINE = {
  format: "dagwood.pipeline/1",
  name: "readings",
  description: "Reads the sensor readings",
  nodes: [
    { id: "readings", block: "ingest.file", params: { path: "data/readings.csv" } },
    { id: "penguins", block: "ingest.file", params: { path: "data/penguins.csv" } },
    { id: "weather", block: "ingest.file", params: { path: "data/seattle-weather.csv" } },
  ],
  edges: [],
  layout: { readings: { x: 0, y: 0 }, penguins: { x: 0, y: 160 }, weather: { x: 0, y: 320 } },
};

/** Great Expectations suite JSON, as a user would bring it. */
const SUITE = {
  expectation_suite_name: "readings",
  expectations: [
    { expectation_type: "expect_column_values_to_not_be_null", kwargs: { column: "sensor" } },
    {
      expectation_type: "expect_column_values_to_be_between",
      kwargs: { column: "celsius", min_value: -40, max_value: 60 },
    },
    { expectation_type: "expect_table_row_count_to_be_between", kwargs: { min_value: 1, max_value: 1000 } },
  ],
  meta: { great_expectations_version: "0.18.8" },
};

/** A suite the example's penguins pass. */
const PENGUINS_SUITE = {
  expectation_suite_name: "penguins",
  expectations: [
    {
      expectation_type: "expect_column_values_to_be_in_set",
      kwargs: { column: "species", value_set: ["Adelie", "Chinstrap", "Gentoo"] },
    },
    { expectation_type: "expect_table_row_count_to_be_between", kwargs: { min_value: 300, max_value: 400 } },
  ],
};

/** Version 1: every reading in range, `code` a number. */
const V1 = "sensor,celsius,code\na,21.5,1\nb,19.0,2\nc,22.25,3\nd,-3.5,4\n";
/** Version 2: two readings out of range, `code` now text, a new column `site`. */
const V2 = "sensor,celsius,code,site\na,21.5,x1,n\nb,99.5,x2,n\nc,22.25,x3,s\nd,-55,x4,s\ne,20,x5,s\n";

async function runAndWait(app: Page) {
  await app.getByTestId("run-button").click();
  await expect(app.getByTestId("status-run")).toHaveAttribute("data-run-status", "succeeded", {
    timeout: 45_000,
  });
}

/** The picture for the README (renderer/docs/<name>.png with DAGWOOD_SCREENSHOTS=1), also in test-results/shots/. */
async function snap(app: Page, testInfo: TestInfo, name: string) {
  await shot(app, testInfo, name);
  mkdirSync(SHOTS, { recursive: true });
  await app.screenshot({ path: join(SHOTS, `${name}.png`) });
}

/** Nothing on the view is wider than the window. */
async function expectNoSidewaysScroll(app: Page) {
  const widths = await app.getByTestId("data-view").evaluate((el) => ({
    scroll: el.scrollWidth,
    client: el.clientWidth,
    page: document.documentElement.scrollWidth,
  }));
  expect(widths.scroll).toBeLessThanOrEqual(widths.client);
  expect(widths.page).toBeLessThanOrEqual(1280);
}

/** Buttons and fields on screen with no name a screen reader can say (as e2e/layout.spec.ts checks the views). */
const unnamedControls = (app: Page) =>
  app.evaluate(() =>
    Array.from(
      document.querySelectorAll<HTMLElement>(".data-view button, .data-view input, .data-view select"),
    )
      .filter((el) => el.getBoundingClientRect().width > 0)
      .filter((el) => {
        const labels = (el as HTMLInputElement).labels;
        const name = [
          el.getAttribute("aria-label"),
          labels?.length ? labels[0]!.textContent : "",
          el.getAttribute("title"),
          el instanceof HTMLSelectElement || el instanceof HTMLInputElement ? "" : el.textContent,
        ].join(" ");
        return !/[A-Za-z0-9]{2,}/.test(name);
      })
      .map((el) => el.dataset.testid ?? el.outerHTML.slice(0, 80)),
  );

test.use({ pipeline: "readings.dag.json" });

/** The example project plus the data file, its suite, the dataset entry attaching it, and a pipeline reading it. */
const withReadings = test.extend({
  projectDir: async ({ projectDir }, use) => {
    writeFileSync(join(projectDir, "data", "readings.csv"), V1);
    mkdirSync(join(projectDir, "expectations"), { recursive: true });
    writeFileSync(join(projectDir, "expectations", "readings.json"), JSON.stringify(SUITE, null, 2));
    writeFileSync(join(projectDir, "expectations", "penguins.json"), JSON.stringify(PENGUINS_SUITE, null, 2));
    const settingsFile = join(projectDir, "dagwood.json");
    const settings = JSON.parse(readFileSync(settingsFile, "utf8"));
    settings.datasets = {
      readings: {
        path: "data/readings.csv",
        suites: ["expectations/readings.json"],
        purpose: "Sensor readings the heating model trains on",
      },
      penguins: {
        path: "data/penguins.csv",
        suites: ["expectations/penguins.json"],
        owner: "ana@example.com",
        purpose: "Palmer penguins: the species classifier's training data",
        reviewBy: "2027-06-30",
      },
      "readings-2025": {
        path: "data/readings-2025.csv",
        owner: "ops@example.com",
        purpose: "Last year's readings, before the sensors were recalibrated",
        deprecated: { reason: "the sensors were recalibrated", replacement: "readings" },
      },
    };
    writeFileSync(settingsFile, JSON.stringify(settings, null, 2));
    writeFileSync(join(projectDir, "readings.dag.json"), JSON.stringify(PIPELINE, null, 2));
    await use(projectDir);
  },
});

withReadings(
  "the Data view shows a dataset's versions, schema change and tests, and edits its owner",
  async ({ app, projectDir }, testInfo) => {
    test.setTimeout(180_000);
    await expect(app.getByTestId("node-readings")).toBeVisible();
    const settingsFile = join(projectDir, "dagwood.json");
    const settings = JSON.parse(readFileSync(settingsFile, "utf8"));

    // Two runs, the file changing in between: two versions, the second failing its suite (a warning).
    await runAndWait(app);
    writeFileSync(join(projectDir, "data", "readings.csv"), V2);
    await runAndWait(app);

    await app.getByTestId("view-data").click();
    const row = app.getByTestId("dataset-readings");
    await expect(row).toBeVisible();
    await expect(row.getByTestId("last-test")).toContainText("✗ 1 failed");
    await expect(row).toContainText("Sensor readings the heating model trains on");
    await expect(row).toContainText("5 rows");
    await expect(row.getByTestId("rows-sparkline")).toHaveAttribute(
      "aria-label",
      /Rows over 2 versions: 4, 5/,
    );
    await expect(app.getByTestId("dataset-penguins").getByTestId("last-test")).toContainText("✓ passed");
    await expect(app.getByTestId("dataset-penguins")).toContainText("344 rows");
    const old = app.getByTestId("dataset-readings-2025");
    await expect(old.getByTestId("deprecated-chip")).toHaveText("deprecated → readings");
    await expect(old).toContainText("not read yet");
    // The filter keeps what matches a name, path, owner or purpose; Escape clears it.
    await app.getByTestId("data-search").fill("recalibrated");
    await expect(app.getByTestId("datasets-table").locator("tbody tr")).toHaveCount(1);
    await app.getByTestId("data-search").press("Escape");
    // A file read with no dagwood.json entry is listed under its file name.
    const weather = app
      .getByTestId("datasets-table")
      .locator("tbody tr")
      .filter({ hasText: "seattle-weather.csv" });
    await expect(weather).toContainText("not in dagwood.json");
    await expect(weather).toContainText("1,461 rows");
    await expect(app.getByTestId("datasets-table").locator("tbody tr")).toHaveCount(4);
    await expectNoSidewaysScroll(app);
    await snap(app, testInfo, "data-list");
    expect(await unnamedControls(app)).toEqual([]);

    // The page: two versions, newest first.
    await row.getByRole("button", { name: "readings" }).press("Enter");
    await expect(app.getByTestId("dataset-page")).toBeVisible();
    const versions = app.getByTestId("dataset-versions");
    await expect(versions.locator("tbody tr")).toHaveCount(2);
    await expect(app.getByTestId("dataset-version-2")).toContainText("5");
    await expect(app.getByTestId("dataset-version-1")).toContainText("4");

    // The schema diff defaults to the latest two: code retyped, site added.
    const diff = app.getByTestId("schema-diff");
    await expect(diff.getByTestId("diff-retyped")).toHaveCount(1);
    await expect(diff.getByTestId("diff-retyped")).toContainText("code");
    await expect(diff.getByTestId("diff-retyped")).toContainText("BIGINT → VARCHAR");
    await expect(diff.getByTestId("diff-added")).toContainText("site");
    await expect(diff.getByTestId("diff-removed")).toHaveCount(0);
    await expect(diff.getByTestId("diff-summary")).toHaveText("1 added, 1 retyped");

    // The strip: a pass on v1, then a fail on v2 (newest right).
    const cells = app.getByTestId("strip-cell");
    await expect(cells).toHaveCount(2);
    await expect(cells.nth(0)).toHaveAttribute("data-state", "pass");
    await expect(cells.nth(1)).toHaveAttribute("data-state", "fail");
    await expectNoSidewaysScroll(app);
    await snap(app, testInfo, "dataset-page");
    expect(await unnamedControls(app)).toEqual([]);

    // The fail opens what broke: the range expectation, its kwargs, 2 of 5 rows and the two readings.
    await cells.nth(1).click();
    const detail = app.getByTestId("test-detail");
    await expect(detail).toContainText("2 of 3 passed");
    const failed = detail.getByTestId("failed-expectation");
    await expect(failed).toHaveCount(1);
    await expect(failed).toContainText("expect_column_values_to_be_between");
    await expect(failed).toContainText('column="celsius"');
    await expect(failed.getByTestId("unexpected")).toHaveText("2 rows (40 %)");
    await expect(failed.getByTestId("unexpected-examples")).toContainText("99.5");
    await expect(failed.getByTestId("unexpected-examples")).toContainText("-55");
    // The passing cell says so.
    await cells.nth(0).click();
    await expect(detail).toContainText("Every expectation passed.");
    await cells.nth(1).click();
    await detail.scrollIntoViewIfNeeded();
    await snap(app, testInfo, "dataset-failure");

    // The owner, edited in place with the keyboard, is saved in dagwood.json (other keys kept).
    await app.getByTestId("gov-owner").focus();
    await app.keyboard.press("Enter");
    await app.getByTestId("gov-owner-input").fill("ana@example.com");
    await app.keyboard.press("Enter");
    await expect(app.getByTestId("gov-owner")).toHaveText("ana@example.com");
    await expect(app.getByTestId("undo-owner")).toBeVisible();
    const saved = JSON.parse(readFileSync(settingsFile, "utf8"));
    expect(saved.datasets.readings).toMatchObject({
      owner: "ana@example.com",
      path: "data/readings.csv",
      suites: ["expectations/readings.json"],
      purpose: "Sensor readings the heating model trains on",
    });
    expect(saved.name).toBe(settings.name);

    // A date the core refuses shows its reason next to the field, and nothing is written.
    await app.getByTestId("gov-reviewBy").click();
    await app.getByTestId("gov-reviewBy-input").fill("next spring");
    await app.keyboard.press("Enter");
    await expect(app.getByTestId("gov-reviewBy-error")).toContainText("YYYY-MM-DD");
    await app.keyboard.press("Escape");
    expect(JSON.parse(readFileSync(settingsFile, "utf8")).datasets.readings.reviewBy).toBeUndefined();

    // Undo puts the owner back (absent, as it was).
    await app.getByTestId("undo-owner").getByRole("button", { name: "Undo" }).click();
    await expect(app.getByTestId("gov-owner")).toHaveText(/no owner/);
    await expect
      .poll(() => JSON.parse(readFileSync(settingsFile, "utf8")).datasets.readings.owner)
      .toBeUndefined();

    // Deprecated with a reason and a replacement: the banner names it, dagwood.json keeps it, and it can be taken back.
    await app.getByTestId("gov-deprecate").click();
    await app.getByTestId("deprecation-form").getByRole("button", { name: "Save" }).click();
    await expect(app.getByTestId("gov-deprecated-error")).toContainText("Say why");
    await app.getByTestId("gov-deprecated-reason").fill("moved to the new sensors");
    await app.getByTestId("gov-deprecated-replacement").fill("penguins");
    await app.getByTestId("gov-deprecated-reason").press("Enter");
    await expect(app.getByTestId("deprecated-banner")).toContainText("moved to the new sensors");
    await expect(app.getByTestId("deprecated-banner")).toContainText("Use penguins instead.");
    expect(JSON.parse(readFileSync(settingsFile, "utf8")).datasets.readings.deprecated).toMatchObject({
      reason: "moved to the new sensors",
      replacement: "penguins",
    });
    await app.getByTestId("gov-undeprecate").click();
    await expect(app.getByTestId("deprecated-banner")).toHaveCount(0);
    await expect
      .poll(() => JSON.parse(readFileSync(settingsFile, "utf8")).datasets.readings.deprecated)
      .toBeUndefined();

    // A run that read a version opens in Experiments; the pipeline that used it opens in the editor.
    await app.getByTestId("dataset-version-2").getByTestId("version-run").first().click();
    await expect(app.getByTestId("experiments-frame")).toBeVisible();
    await expect(app.getByTestId("run-detail")).toBeVisible();
    await app.getByTestId("view-data").click();
    await expect(app.getByTestId("dataset-page")).toBeVisible();
    await app.getByTestId("used-by-pipeline").filter({ hasText: "readings" }).click();
    await expect(app.getByTestId("pipeline-select")).toHaveValue("readings.dag.json");
    await expect(app.getByTestId("node-readings")).toBeVisible();

    // A suite attached from the project's suites, then detached: dagwood.json follows.
    await app.getByTestId("view-data").click();
    await app.getByTestId("suite-add").selectOption("expectations/penguins.json");
    await expect(app.getByTestId("suite-penguins")).toBeVisible();
    expect(JSON.parse(readFileSync(settingsFile, "utf8")).datasets.readings.suites).toEqual([
      "expectations/readings.json",
      "expectations/penguins.json",
    ]);
    await app.getByRole("button", { name: "Detach expectations/penguins.json" }).click();
    await expect(app.getByTestId("suite-penguins")).toHaveCount(0);
    await expect
      .poll(() => JSON.parse(readFileSync(settingsFile, "utf8")).datasets.readings.suites)
      .toEqual(["expectations/readings.json"]);

    // What a failing suite does to the read: warn (the default) or fail, saved in dagwood.json.
    await expect(app.getByTestId("suite-on-failure")).toHaveValue("warn");
    await app.getByTestId("suite-on-failure").selectOption("fail");
    await expect
      .poll(() => JSON.parse(readFileSync(settingsFile, "utf8")).datasets.readings.onFailure)
      .toBe("fail");
    await expect(app.getByTestId("suite-on-failure")).toHaveValue("fail");
    await app.getByTestId("suite-on-failure").selectOption("warn");
    await expect
      .poll(() => JSON.parse(readFileSync(settingsFile, "utf8")).datasets.readings.onFailure)
      .toBe("warn");

    // The file with no entry is named from its page: the entry is created and the page is the named dataset's.
    await app.getByTestId("data-back").click();
    await app.getByTestId("datasets-table").getByRole("button", { name: "seattle-weather.csv" }).click();
    await expect(app.getByTestId("gov-owner")).toBeDisabled();
    await expect(app.getByTestId("name-dataset-input")).toHaveValue("seattle-weather");
    await app.getByTestId("name-dataset-input").fill("weather");
    await app.getByTestId("name-dataset-input").press("Enter");
    await expect(app.getByTestId("dataset-title")).toHaveText("weather");
    await expect(app.getByTestId("name-dataset")).toHaveCount(0);
    await expect(app.getByTestId("dataset-versions").locator("tbody tr")).toHaveCount(1);
    expect(JSON.parse(readFileSync(settingsFile, "utf8")).datasets.weather.path).toMatch(
      /seattle-weather\.csv$/,
    );
    await app.getByTestId("data-back").click();
    await expect(app.getByTestId("dataset-weather")).toBeVisible();
  },
);

/** The example project with no dataset entry (whatever its dagwood.json comes to hold). */
const withNoDatasets = test.extend({
  projectDir: async ({ projectDir }, use) => {
    const file = join(projectDir, "dagwood.json");
    const settings = JSON.parse(readFileSync(file, "utf8"));
    delete settings.datasets;
    writeFileSync(file, JSON.stringify(settings, null, 2));
    await use(projectDir);
  },
});

withNoDatasets(
  "with no dataset read yet, the Data view says how datasets appear and how to attach a suite",
  async ({ app }) => {
    await app.getByTestId("view-data").click();
    const empty = app.getByTestId("data-empty");
    await expect(empty).toContainText("ingest.file");
    await expect(empty).toContainText("dagwood.json");
    await expect(empty).toContainText('"suites"');
  },
);

withReadings(
  "the Data view shows what another pipeline's run read (dagwood run attached to the app) without a refresh",
  async ({ app }) => {
    test.setTimeout(90_000);
    await expect(app.getByTestId("node-readings")).toBeVisible();
    await app.getByTestId("view-data").click();
    await expect(app.getByTestId("dataset-readings")).toContainText("not read yet");
    const rows = app.getByTestId("datasets-table").locator("tbody tr");
    await expect(rows.filter({ hasText: "seattle-weather.csv" })).toHaveCount(0);
    // A run of a pipeline the editor does not show, started through the Api as `dagwood run` does.
    const status = await app.evaluate(async () => {
      const token = /^\/([\w-]{16,})\//.exec(window.location.pathname)?.[1] ?? "";
      const res = await fetch("/api/startRun", {
        method: "POST",
        headers: { "content-type": "application/json", "x-dagwood-token": token },
        body: JSON.stringify({
          document: {
            format: "dagwood.pipeline/1",
            name: "weather-only",
            nodes: [{ id: "weather", block: "ingest.file", params: { path: "data/seattle-weather.csv" } }],
            edges: [],
          },
        }),
      });
      return res.status;
    });
    expect(status).toBe(200);
    await expect(rows.filter({ hasText: "seattle-weather.csv" })).toContainText("1,461 rows", {
      timeout: 30_000,
    });
  },
);
