/**
 * The data preview masks personal columns: a customers file whose email and
 * age are tagged pii at the ingest node shows them masked under a lock, and
 * "Show values" asks first (a focus-trapped dialog saying it is audited),
 * then shows them in clear and the audit log has the entry.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "@playwright/test";
import { SqliteMetadataStore } from "../app/store/metadata";
import { test as base, expect } from "./fixtures";
import { shot } from "./steps";

const CUSTOMERS = [
  "email,age,region,spend",
  ...Array.from(
    { length: 40 },
    (_, i) => `person${i}@example.com,${20 + i},${i % 2 ? "north" : "south"},${i * 3}`,
  ),
].join("\n");

const PIPELINE = {
  format: "dagwood.pipeline/1",
  name: "customers",
  params: {},
  nodes: [
    {
      id: "customers",
      block: "ingest.file",
      params: {
        path: "data/customers.csv",
        columnTags: { email: ["pii"], age: ["pii"], region: ["internal"] },
      },
    },
  ],
  edges: [],
  layout: { customers: { x: 0, y: 0 } },
};

/** A churn model trained on a sensitive text column: its model files hold that column's categories. */
const CHURN = [
  "segment,spend,churn",
  ...Array.from(
    { length: 60 },
    (_, i) =>
      `${["gold", "silver", "bronze"][i % 3]},${(i * 37) % 100},${(i * 37) % 100 < 40 ? "yes" : "no"}`,
  ),
].join("\n");

const CHURN_PIPELINE = {
  format: "dagwood.pipeline/1",
  name: "churn",
  params: {},
  nodes: [
    {
      id: "churn",
      block: "ingest.file",
      params: { path: "data/churn.csv", columnTags: { segment: ["sensitive"] } },
    },
    { id: "split", block: "split", params: { strategy: "random", testFraction: 0.25, seed: 3 } },
    { id: "tree", block: "train.tree", params: { target: "churn", features: ["segment", "spend"], seed: 1 } },
    { id: "register", block: "register", params: { name: "churn" } },
  ],
  edges: [
    { from: "churn.out", to: "split.in" },
    { from: "split.train", to: "tree.train" },
    { from: "tree.model", to: "register.model" },
    { from: "split.test", to: "register.data" },
  ],
  layout: {
    churn: { x: 0, y: 0 },
    split: { x: 250, y: 0 },
    tree: { x: 500, y: 0 },
    register: { x: 750, y: 0 },
  },
};

const test = base.extend({
  projectDir: async ({ projectDir }, use) => {
    mkdirSync(join(projectDir, "data"), { recursive: true });
    writeFileSync(join(projectDir, "data", "customers.csv"), `${CUSTOMERS}\n`);
    writeFileSync(join(projectDir, "customers.dag.json"), JSON.stringify(PIPELINE, null, 2));
    writeFileSync(join(projectDir, "data", "churn.csv"), `${CHURN}\n`);
    writeFileSync(join(projectDir, "churn.dag.json"), JSON.stringify(CHURN_PIPELINE, null, 2));
    await use(projectDir);
  },
});
test.use({ pipeline: "customers.dag.json", viewport: { width: 1280, height: 720 } });

async function showData(app: Page) {
  await app.getByTestId("node-customers").click({ position: { x: 12, y: 8 } });
  const drawer = app.getByTestId("data-drawer");
  if (!(await drawer.isVisible())) await app.getByTestId("tab-data").click();
}

function unmaskedEntries(projectDir: string) {
  const store = new SqliteMetadataStore(join(projectDir, ".dagwood", "metadata.sqlite"), { projectDir });
  try {
    return store.registry.audit({ actions: ["privacy.unmasked"] });
  } finally {
    store.close();
  }
}

test("personal columns are masked in the preview; Show values asks, shows them, and is audited", async ({
  app,
  projectDir,
}, testInfo) => {
  await expect(app.getByTestId("node-customers")).toBeVisible();
  await app.getByTestId("run-button").click();
  await expect(app.getByTestId("status-run")).toHaveAttribute("data-run-status", "succeeded", {
    timeout: 45_000,
  });
  await showData(app);
  const table = app.getByTestId("data-table");
  await expect(app.getByTestId("data-row-count")).toContainText("40");
  // The tagged columns' headers carry a lock; the user's own tag does not mask.
  await expect(app.getByTestId("column-email")).toHaveAttribute("data-personal", "true");
  await expect(app.getByTestId("column-age")).toHaveAttribute("data-personal", "true");
  await expect(app.getByTestId("column-region")).not.toHaveAttribute("data-personal", "true");
  await expect(app.getByTestId("column-email").locator(".lock-icon")).toBeVisible();
  await expect(app.getByTestId("masked-note")).toHaveText("2 personal columns masked");
  await expect(table.locator(".table-cell.masked").first()).toHaveText("***");
  await expect(table).not.toContainText("@example.com");
  await expect(table).toContainText("south");
  await shot(app, testInfo, "privacy-masked-preview");

  // The profile of the table masks them too: its most frequent values are values.
  await app.getByTestId("data-tab-profile").click();
  await expect(app.getByTestId("profile-view")).toBeVisible();
  await expect(app.getByTestId("profile-view")).not.toContainText("@example.com");
  await shot(app, testInfo, "privacy-masked-profile");
  await app.getByTestId("data-tab-rows").click();

  // Asking shows a dialog that says it is recorded; focus stays in it; Cancel keeps the mask.
  await app.getByTestId("show-values").click();
  const dialog = app.getByTestId("unmask-dialog");
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText("email, age");
  await expect(dialog).toContainText("audit log");
  for (let i = 0; i < 4; i++) {
    await app.keyboard.press("Tab");
    expect(await dialog.evaluate((d) => d.contains(document.activeElement))).toBe(true);
  }
  await shot(app, testInfo, "privacy-unmask-dialog");
  await dialog.getByTestId("cancel").click();
  await expect(dialog).toHaveCount(0);
  await expect(table).not.toContainText("@example.com");
  expect(unmaskedEntries(projectDir)).toEqual([]);

  // Confirmed: the values show in clear, and the audit log says who saw which columns.
  await app.getByTestId("show-values").click();
  await app.getByTestId("unmask-dialog").getByTestId("confirm").click();
  await expect(table).toContainText("person0@example.com");
  await expect(app.getByTestId("masked-note")).toHaveText("personal data shown");
  await expect(table.locator(".table-cell.masked")).toHaveCount(0);
  await shot(app, testInfo, "privacy-unmasked-preview");
  const entries = unmaskedEntries(projectDir);
  expect(entries.length).toBeGreaterThanOrEqual(1);
  expect(entries[0]).toMatchObject({
    action: "privacy.unmasked",
    model: "*",
    details: { what: "table preview", columns: ["email", "age"] },
  });

  // Hide values masks them again.
  await app.getByTestId("hide-values").click();
  await expect(table).not.toContainText("@example.com");
});

test("exporting a model that holds personal categories asks first, then exports in clear and audits it", async ({
  app,
  projectDir,
}, testInfo) => {
  const url = new URL(app.url());
  url.searchParams.set("pipeline", "churn.dag.json");
  await app.goto(url.toString());
  await app.getByTestId("run-button").click();
  await expect(app.getByTestId("status-run")).toHaveAttribute("data-run-status", "succeeded", {
    timeout: 45_000,
  });
  await app.getByTestId("view-models").click();
  await expect(app.getByTestId("version-1")).toBeVisible();
  await app.getByTestId("export-1").click();
  const dialog = app.getByTestId("unmask-export-dialog");
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText("fitted categories of segment (3 values");
  await expect(dialog).toContainText("audit log");
  await shot(app, testInfo, "privacy-export-dialog");
  // Cancel exports nothing.
  await dialog.getByTestId("cancel").click();
  await expect(dialog).toHaveCount(0);
  await expect(app.getByTestId("export-result")).toHaveCount(0);
  expect(unmaskedEntries(projectDir)).toEqual([]);

  await app.getByTestId("export-1").click();
  await app.getByTestId("unmask-export-dialog").getByTestId("confirm").click();
  await expect(app.getByTestId("export-result")).toContainText("exports/churn-v1");
  expect(readFileSync(join(projectDir, "exports", "churn-v1", "model.json"), "utf8")).toContain('"gold"');
  expect(unmaskedEntries(projectDir)[0]).toMatchObject({
    model: "churn",
    version: 1,
    details: { what: "models export", where: "exports/churn-v1", columns: ["segment"] },
  });
});
