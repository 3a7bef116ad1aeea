/**
 * Data tests in the app: a validate.expectations node whose suite fails in
 * warn mode shows the warning and "1 of 3 failed" on the node; its report
 * lists the failed expectation first with its unexpected values; "Create
 * expectations" on a profile saves a suite and inserts a node that uses it
 * (undo takes it away); quarantine says how many rows it moved out.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Page, TestInfo } from "@playwright/test";
import { test as base, expect } from "./fixtures";
import { shot as attachShot } from "./steps";

/**
 * Eight expectations on the penguins (344 rows): the species set leaves out
 * Chinstrap (68 rows), sex has 10 nulls, the longest beak is 59.6 mm, and
 * beak_width_mm does not exist: four fail. The sex set passes within mostly
 * (one "." value).
 */
const SPECIES_SUITE = {
  expectation_suite_name: "penguins-species",
  expectations: [
    { expectation_type: "expect_table_row_count_to_be_between", kwargs: { min_value: 300, max_value: 400 } },
    {
      expectation_type: "expect_column_values_to_be_in_set",
      kwargs: { column: "species", value_set: ["Adelie", "Gentoo"] },
    },
    {
      expectation_type: "expect_column_values_to_be_between",
      kwargs: { column: "flipper_length_mm", min_value: 150, max_value: 250 },
    },
    {
      expectation_type: "expect_column_values_to_be_in_set",
      kwargs: { column: "sex", value_set: ["MALE", "FEMALE"], mostly: 0.99 },
    },
    { expectation_type: "expect_column_values_to_not_be_null", kwargs: { column: "sex" } },
    {
      expectation_type: "expect_column_mean_to_be_between",
      kwargs: { column: "body_mass_g", min_value: 4000, max_value: 4500 },
    },
    {
      expectation_type: "expect_column_max_to_be_between",
      kwargs: { column: "beak_length_mm", min_value: 30, max_value: 55 },
    },
    { expectation_type: "expect_column_values_to_not_be_null", kwargs: { column: "beak_width_mm" } },
  ],
  meta: {},
};

/** Row-level only, so quarantine can fix it: the 68 Chinstrap rows go to `rejected`. */
const QUARANTINE_SUITE = {
  expectation_suite_name: "penguins-quarantine",
  expectations: SPECIES_SUITE.expectations.slice(0, 3),
};

const pipeline = (onFailure: "warn" | "quarantine") => ({
  format: "dagwood.pipeline/1",
  name: `penguins-${onFailure}`,
  params: {},
  nodes: [
    { id: "penguins", block: "ingest.file", params: { path: "data/penguins.csv" } },
    {
      id: "validate",
      block: "validate.expectations",
      params: {
        suite:
          onFailure === "warn"
            ? { path: "expectations/penguins-species.json" }
            : { inline: QUARANTINE_SUITE },
        onFailure,
      },
    },
    { id: "profile", block: "analyze.profile", params: {} },
  ],
  edges: [
    { from: "penguins.out", to: "validate.in" },
    { from: "penguins.out", to: "profile.in" },
  ],
  layout: {
    penguins: { x: 0, y: 0 },
    validate: { x: 300, y: -80 },
    profile: { x: 300, y: 120 },
  },
});

const test = base.extend({
  projectDir: async ({ projectDir }, use) => {
    mkdirSync(join(projectDir, "expectations"), { recursive: true });
    writeFileSync(
      join(projectDir, "expectations", "penguins-species.json"),
      JSON.stringify(SPECIES_SUITE, null, 2),
    );
    writeFileSync(join(projectDir, "warn.dag.json"), JSON.stringify(pipeline("warn"), null, 2));
    writeFileSync(join(projectDir, "quarantine.dag.json"), JSON.stringify(pipeline("quarantine"), null, 2));
    await use(projectDir);
  },
});
test.use({ pipeline: "warn.dag.json", viewport: { width: 1280, height: 720 } });

/** The docs' screenshot (steps.ts), also written beside the test's output with DAGWOOD_VALIDATION_SHOT=1 to look at. */
async function shot(app: Page, testInfo: TestInfo, name: string) {
  await attachShot(app, testInfo, name);
  if (process.env.DAGWOOD_VALIDATION_SHOT) await app.screenshot({ path: testInfo.outputPath(`${name}.png`) });
}

async function run(app: Page) {
  await app.getByTestId("run-button").click();
  await expect(app.getByTestId("status-run")).toHaveAttribute("data-run-status", "succeeded", {
    timeout: 45_000,
  });
}

/** Every node in view (the inserted node is brought into view, which can push the others out). */
async function fitView(app: Page) {
  await app.locator(".react-flow__pane").click({ position: { x: 5, y: 5 } });
  await app.keyboard.press("Shift+F");
}

async function showData(app: Page, node: string, port: string) {
  await app.getByTestId(`node-${node}`).click({ position: { x: 12, y: 8 } });
  const drawer = app.getByTestId("data-drawer");
  if (!(await drawer.isVisible())) await app.getByTestId("tab-data").click();
  await app.getByTestId(`data-port-${port}`).click();
}

test("a suite that fails in warn mode: the node warns and says so; the report shows the failed expectation first", async ({
  app,
}, testInfo) => {
  await expect(app.getByTestId("node-validate")).toBeVisible();
  await run(app);
  await expect(app.getByTestId("status-run")).toHaveText(/succeeded with 4 warnings/);
  await expect(app.getByTestId("warnings-validate")).toHaveText("⚠ 4");
  await expect(app.getByTestId("warnings-validate")).toHaveAttribute(
    "title",
    /expect_column_values_to_be_in_set/,
  );
  const headline = app.getByTestId("headline-validate");
  await expect(headline).toHaveText("4 of 8 failed");
  await expect(headline).toHaveAttribute("title", /4 of 8 expectations passed/);
  await expect(headline).toHaveAttribute("title", /onFailure is warn/);

  // The inspector's suite picker names the file and what it holds.
  await app.getByTestId("node-validate").click({ position: { x: 12, y: 8 } });
  await expect(app.getByTestId("param-suite")).toHaveValue("expectations/penguins-species.json");
  await expect(app.getByTestId("suite-summary")).toContainText("penguins-species: 8 expectations");

  await showData(app, "validate", "report");
  const view = app.getByTestId("validation-view");
  await expect(view).toBeVisible();
  await expect(app.getByTestId("validation-summary")).toHaveText("4 of 8 expectations passed");
  // Failed first, in suite order: the species set (index 1) heads the list, with 68 of 344 unexpected.
  const rows = view.locator("tbody.vr-result");
  await expect(rows).toHaveCount(8);
  const order = await rows.evaluateAll((els) => els.map((e) => e.getAttribute("data-testid")));
  expect(order).toEqual([1, 4, 6, 7, 0, 2, 3, 5].map((i) => `expectation-${i}`));
  const first = rows.first();
  await expect(first).toHaveAttribute("data-status", "failed");
  await expect(first).toContainText("values in set");
  await expect(first).toContainText("species");
  await expect(app.getByTestId("unexpected-1")).toHaveText("68 (19.8 %)");
  await app.getByTestId("examples-toggle-1").click();
  await expect(app.getByTestId("examples-1")).toContainText('"Chinstrap" ×20');
  // Passed within mostly: one "." of 334 non-null values.
  await expect(app.getByTestId("expectation-3")).toHaveAttribute("data-status", "passed");
  await expect(app.getByTestId("unexpected-3")).toContainText("mostly 99 %");
  // An aggregate shows what it observed; an expectation that could not run says why, in red.
  await expect(app.getByTestId("expectation-6")).toContainText("59.6");
  await expect(app.getByTestId("expectation-7")).toHaveAttribute("data-status", "error");
  await expect(app.getByTestId("exception-7")).toContainText("beak_width_mm");
  await shot(app, testInfo, "validation-report");
  await app.getByTestId("validation-filter-failed").click();
  await expect(rows).toHaveCount(4);
  await app.getByTestId("validation-filter-all").click();
  await expect(rows).toHaveCount(8);

  // Switched to inline, the suite starts as a copy of the file's, to edit in the pipeline.
  await app.getByTestId("param-suite").selectOption({ label: "Inline suite (JSON in the pipeline)" });
  await expect(app.getByTestId("param-suite-inline")).toHaveValue(
    /"expectation_suite_name": "penguins-species"/,
  );
  await expect(app.getByTestId("param-suite-inline")).toHaveValue(/expect_column_max_to_be_between/);
});

test("Create expectations from a profile saves a suite and inserts a node using it; undo removes it", async ({
  app,
  projectDir,
}, testInfo) => {
  await expect(app.getByTestId("node-profile")).toBeVisible();
  await run(app);
  await showData(app, "profile", "report");
  await expect(app.getByTestId("profile-view")).toBeVisible();

  await app.getByTestId("create-expectations-button").click();
  const dialog = app.getByTestId("create-expectations");
  // Named after the file the profiled table came from; the example has a penguins suite already, so another name.
  await expect(app.getByTestId("suite-name")).toHaveValue("penguins");
  await app.getByTestId("suite-name").fill("penguins-profiled");
  const items = dialog.locator("[data-testid^=suggested-]:not([data-testid=suggested-expectations])");
  await expect(items.first()).toBeVisible();
  const suggested = await items.count();
  expect(suggested).toBeGreaterThan(3);
  await shot(app, testInfo, "validation-create");
  // Leave one out: the saved suite has one fewer.
  await app.getByTestId("suggested-0").uncheck();
  await app.getByTestId("save-suite").click();
  await expect(app.getByTestId("suite-saved")).toContainText("expectations/penguins-profiled.json");
  const file = join(projectDir, "expectations", "penguins-profiled.json");
  expect(existsSync(file)).toBe(true);
  const saved = JSON.parse(readFileSync(file, "utf8"));
  expect(saved.expectation_suite_name).toBe("penguins-profiled");
  expect(saved.expectations).toHaveLength(suggested - 1);

  // The new node is selected (the panel now shows it, so the dialog closes): its suite is the file just saved.
  await app.getByTestId("insert-validate").click();
  await expect(dialog).toHaveCount(0);
  const added = await app.getByTestId("node-id-input").inputValue();
  expect(["validate", "profile", "penguins"]).not.toContain(added);
  await expect(app.getByTestId(`node-${added}`)).toBeVisible();
  await expect(app.getByTestId(`node-${added}`)).toContainText("validate.expectations");
  await expect(app.getByTestId("param-suite")).toHaveValue("expectations/penguins-profiled.json");
  await expect(app.getByTestId("toast").filter({ hasText: `Added ${added} after penguins` })).toHaveCount(1);

  // Saving again under the same name asks before replacing the file.
  await fitView(app);
  await showData(app, "profile", "report");
  await app.getByTestId("create-expectations-button").click();
  await expect(app.getByTestId("suggested-0")).toBeVisible();
  await app.getByTestId("suite-name").fill("penguins-profiled");
  await app.getByTestId("save-suite").click();
  await expect(app.getByTestId("overwrite-question")).toContainText(
    "expectations/penguins-profiled.json exists",
  );
  await app.getByTestId("overwrite-suite").click();
  await expect(app.getByTestId("suite-saved")).toBeVisible();
  expect(JSON.parse(readFileSync(file, "utf8")).expectations).toHaveLength(suggested);
  await app.getByTestId("close-create").click();

  // Undo takes the inserted node (and its edge) away.
  await app.locator(".react-flow__pane").click({ position: { x: 5, y: 5 } });
  await app.keyboard.press("Control+z");
  await expect(app.getByTestId(`node-${added}`)).toHaveCount(0);
  await app.getByTestId("node-profile").click({ position: { x: 12, y: 8 } });
  await expect(app.getByTestId("node-id-input")).toHaveValue("profile");
});

test.describe("quarantine", () => {
  test.use({ pipeline: "quarantine.dag.json" });
  test("rows that break a row-level expectation are moved out, and the node and report say how many", async ({
    app,
  }, testInfo) => {
    await expect(app.getByTestId("node-validate")).toBeVisible();
    await run(app);
    await expect(app.getByTestId("headline-validate")).toHaveText("1 of 3 failed · 68 rejected");
    await showData(app, "validate", "report");
    await expect(app.getByTestId("validation-summary")).toHaveText(
      "2 of 3 expectations passed · 68 rows rejected",
    );
    await expect(app.getByTestId("data-port-out")).toContainText("276 rows");
    await shot(app, testInfo, "validation-quarantine");
    await app.getByTestId("data-port-rejected").click();
    await expect(app.getByTestId("table-caption")).toHaveText("validate · rejected · 68 rows");
    // The rejected rows say which expectation each broke, and why.
    await expect(app.getByTestId("data-drawer")).toContainText("failed_expectation");
    await expect(app.getByTestId("data-drawer")).toContainText("expect_column_values_to_be_in_set");

    // The inline suite is edited as JSON in the inspector; an unknown type is named as it is typed.
    const inline = app.getByTestId("param-suite-inline");
    await expect(inline).toContainText('"expectation_suite_name": "penguins-quarantine"');
    const text = await inline.inputValue();
    await inline.fill(
      text.replace("expect_table_row_count_to_be_between", "expect_table_row_count_to_be_betwen"),
    );
    await expect(app.getByTestId("suite-problem")).toContainText(
      "expectations[0]: unknown expectation type expect_table_row_count_to_be_betwen",
    );
    await inline.fill(text.replace('"expectations"', '"expectations" oops'));
    await expect(app.getByTestId("field-suite")).toContainText("Not JSON yet");
  });
});

test("the pipeline's purpose, review date and deprecation are edited in the inspector, and undone", async ({
  app,
}, testInfo) => {
  await expect(app.getByTestId("node-validate")).toBeVisible();
  await app.locator(".react-flow__pane").click({ position: { x: 5, y: 5 } });
  await app.getByTestId("pipeline-purpose").fill("Checks the penguins before training");
  await app.getByTestId("pipeline-reviewBy").fill("2027-03-31");
  await app.getByTestId("pipeline-deprecated").check();
  await app.getByTestId("pipeline-deprecated-reason").fill("superseded");
  await app.getByTestId("pipeline-deprecated-replacement").fill("penguins-v2.dag.json");
  await expect(app.getByTestId("pipeline-deprecated-replacement")).toHaveValue("penguins-v2.dag.json");
  await shot(app, testInfo, "pipeline-governance");
  await app.locator(".react-flow__pane").click({ position: { x: 5, y: 5 } });
  await app.keyboard.press("Control+z");
  await expect(app.getByTestId("pipeline-deprecated-replacement")).toHaveValue("");
  await expect(app.getByTestId("pipeline-deprecated-reason")).toHaveValue("superseded");
});

test.describe("a suite attached to a dataset", () => {
  const attached = test.extend({
    projectDir: async ({ projectDir }, use) => {
      const file = join(projectDir, "dagwood.json");
      const settings = JSON.parse(readFileSync(file, "utf8"));
      settings.datasets = {
        penguins: {
          path: "data/penguins.csv",
          suites: ["expectations/penguins-species.json"],
          onFailure: "warn",
        },
      };
      writeFileSync(file, JSON.stringify(settings, null, 2));
      await use(projectDir);
    },
  });
  attached(
    "every ingest.file reading it runs the suite, and a failure warns on that node",
    async ({ app }) => {
      await expect(app.getByTestId("node-penguins")).toBeVisible();
      await run(app);
      const badge = app.getByTestId("warnings-penguins");
      await expect(badge).toHaveText(/⚠ \d+/);
      await expect(badge).toHaveAttribute("title", /expect_column_values_to_be_in_set/);
      await expect(app.getByTestId("headline-penguins")).toHaveText("344 rows");
    },
  );
});

test("a suite file's owner and deprecation are set in the inspector and written to its meta.dagwood", async ({
  app,
  projectDir,
}, testInfo) => {
  // The suite as Great Expectations writes it, with its own meta keys: they stay as they are.
  const file = join(projectDir, "expectations", "penguins-species.json");
  const geMeta = {
    great_expectations_version: "0.18.8",
    notes: { format: "markdown", content: ["Penguins"] },
  };
  writeFileSync(file, JSON.stringify({ ...SPECIES_SUITE, data_asset_type: null, meta: geMeta }, null, 2));
  await app.getByTestId("node-validate").click({ position: { x: 12, y: 8 } });
  await expect(app.getByTestId("param-suite")).toHaveValue("expectations/penguins-species.json");
  await expect(app.getByTestId("suite-gov-owner")).toHaveText("No owner");
  await app.getByTestId("suite-gov-edit").click();
  await app.getByTestId("suite-gov-owner-input").fill("data-team@example.com");
  // A date that does not exist: the core refuses it, the form stays open with the reason, the file is unchanged.
  await app.getByTestId("suite-gov-reviewBy-input").fill("2027-02-30");
  await app.getByTestId("suite-gov-save").click();
  await expect(app.getByTestId("suite-gov-error")).toContainText("not a calendar date");
  expect(JSON.parse(readFileSync(file, "utf8")).meta).toEqual(geMeta);
  // Deprecating needs a reason.
  await app.getByTestId("suite-gov-reviewBy-input").fill("2027-03-31");
  await app.getByTestId("suite-gov-deprecated-input").check();
  await app.getByTestId("suite-gov-save").click();
  await expect(app.getByTestId("suite-gov-error")).toContainText("Say why it is deprecated");
  await app.getByTestId("suite-gov-reason-input").fill("Chinstrap joins the colony");
  await app.getByTestId("suite-gov-replacement-input").fill("expectations/penguins-v2.json");
  await app.getByTestId("suite-gov-save").click();
  await expect(app.getByTestId("suite-gov-form")).toHaveCount(0);
  await expect(app.getByTestId("suite-gov-owner")).toHaveText("Owner: data-team@example.com");
  await expect(app.getByTestId("suite-gov-reviewBy")).toContainText("review by 2027-03-31");
  await expect(app.getByTestId("suite-gov-deprecated")).toContainText(
    "Chinstrap joins the colony · use expectations/penguins-v2.json",
  );
  await expect(app.getByTestId("suite-summary")).toContainText(
    "deprecated → use expectations/penguins-v2.json",
  );
  await shot(app, testInfo, "suite-governance");

  const saved = JSON.parse(readFileSync(file, "utf8"));
  expect(saved.meta.dagwood).toEqual({
    owner: "data-team@example.com",
    reviewBy: "2027-03-31",
    deprecated: {
      reason: "Chinstrap joins the colony",
      replacement: "expectations/penguins-v2.json",
      since: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
    },
  });
  // Only meta.dagwood changed: Great Expectations' fields and the expectations are the ones written, in order.
  expect(saved.meta.great_expectations_version).toBe("0.18.8");
  expect(saved.meta.notes).toEqual(geMeta.notes);
  expect(saved.data_asset_type).toBeNull();
  expect(saved.expectation_suite_name).toBe("penguins-species");
  expect(saved.expectations).toEqual(SPECIES_SUITE.expectations);
});
