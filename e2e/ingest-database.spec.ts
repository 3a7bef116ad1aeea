/**
 * Reading a database: a project whose dagwood.json names a SQLite connection; an `ingest.database`
 * node added from the palette; the connection picked and tested; the catalog browsed to a table,
 * its columns and their types, the first rows previewed before any run; some columns chosen; the
 * pipeline run and the table it read shown. Then the errors in words: a query that is not
 * read-only, a table that is gone. All at 1280×720.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Page, TestInfo } from "@playwright/test";
import Database from "better-sqlite3";
import { expect, test } from "./fixtures";
import { shot } from "./steps";

const ROOT = join(import.meta.dirname, "..");

/** The screenshot attached to the report, and kept as a file in the test's output folder to look at. */
async function picture(page: Page, testInfo: TestInfo, name: string) {
  await shot(page, testInfo, name);
  await page.screenshot({ path: testInfo.outputPath(`${name}.png`) });
}

interface Penguin {
  Species: string;
  Island: string;
  "Beak Length (mm)": number | null;
  "Body Mass (g)": number | null;
  Sex: string | null;
}

/** data/shop.sqlite: vega-datasets' penguins as a table, and a view of the Gentoo. */
function writeShop(projectDir: string): number {
  const penguins = JSON.parse(
    readFileSync(join(ROOT, "node_modules", "vega-datasets", "data", "penguins.json"), "utf8"),
  ) as Penguin[];
  const db = new Database(join(projectDir, "data", "shop.sqlite"));
  db.exec(`CREATE TABLE penguins (id INTEGER PRIMARY KEY, species TEXT NOT NULL, island TEXT,
             beak_length_mm REAL, body_mass_g INTEGER, sex TEXT);
           CREATE VIEW gentoo AS SELECT * FROM penguins WHERE species = 'Gentoo';`);
  const insert = db.prepare("INSERT INTO penguins VALUES (?, ?, ?, ?, ?, ?)");
  db.transaction(() => {
    penguins.forEach((p, i) => {
      insert.run(i + 1, p.Species, p.Island, p["Beak Length (mm)"], p["Body Mass (g)"], p.Sex);
    });
  })();
  db.close();
  const settingsFile = join(projectDir, "dagwood.json");
  const settings = JSON.parse(readFileSync(settingsFile, "utf8"));
  settings.connections = {
    shop: { kind: "sqlite", path: "data/shop.sqlite" },
    // Nothing listens on port 1: the test fails in words, quickly.
    warehouse: { kind: "postgres", host: "127.0.0.1", port: 1, database: "dw", user: "analyst" },
  };
  writeFileSync(settingsFile, JSON.stringify(settings, null, 2));
  return penguins.length;
}

const SECRET = "pw-e2e-never-shown";
test.use({ appEnv: { DAGWOOD_SECRET_WAREHOUSE: SECRET } });

test("an ingest.database node is set up from the database's catalog, previewed and run", async ({
  app: page,
  projectDir,
}, testInfo) => {
  await page.setViewportSize({ width: 1280, height: 720 });
  const rows = writeShop(projectDir);
  writeFileSync(
    join(projectDir, "shop.dag.json"),
    JSON.stringify({ format: "dagwood.pipeline/1", name: "shop", nodes: [], edges: [], layout: {} }),
  );
  const url = new URL(page.url());
  url.searchParams.set("pipeline", "shop.dag.json");
  await page.goto(url.toString());

  // The block is in the palette (the catalog lists it); dropped on the canvas it is a node.
  await page.getByTestId("palette-search").fill("database");
  const item = page.getByTestId("palette-item-ingest.database");
  await expect(item).toBeVisible();
  await item.dragTo(page.getByTestId("canvas"), { targetPosition: { x: 200, y: 120 } });
  const node = page.locator(".react-flow__node").first();
  await expect(node).toBeVisible();
  await node.click();

  // The connection: chosen from dagwood.json's, and tested.
  const source = page.getByTestId("db-source");
  await expect(source).toBeVisible();
  // A new node: the connection is asked for once, in the source panel (not again in the generic form).
  await expect(page.getByTestId("field-connection")).toHaveCount(1);
  await expect(source.getByTestId("db-connection").locator("option")).toHaveText([
    "— choose —",
    "shop (sqlite)",
    "warehouse (postgres)",
  ]);
  await picture(page, testInfo, "ingest-database-0-new");
  // A server that does not answer: the test says so in words; the password's source, never the password.
  await source.getByTestId("db-connection").selectOption("warehouse");
  await expect(source).toContainText("Password from DAGWOOD_SECRET_WAREHOUSE");
  await source.getByTestId("db-test").click();
  await expect(source.getByTestId("db-test-result")).toContainText("127.0.0.1:1");
  await expect(source.getByTestId("db-catalog-error")).toContainText("127.0.0.1:1");
  await picture(page, testInfo, "ingest-database-0-unreachable");
  expect(await page.locator("body").textContent()).not.toContain(SECRET);
  await source.getByTestId("db-connection").selectOption("shop");
  await expect(source).toContainText("data/shop.sqlite");
  await source.getByTestId("db-test").click();
  const version = (new Database(":memory:").prepare("SELECT sqlite_version() AS v").get() as { v: string }).v;
  await expect(source.getByTestId("db-test-result")).toContainText(`Connected: SQLite ${version}`);

  // The catalog: the table and the view; a click reads the table; its columns with both types.
  await expect(source.getByTestId("db-table-penguins")).toBeVisible();
  await expect(source.getByTestId("db-table-gentoo")).toContainText("view");
  await source.getByTestId("db-table-penguins").click();
  await expect(source.getByTestId("db-table-penguins")).toHaveAttribute("aria-selected", "true");
  const columns = source.getByTestId("db-columns");
  await expect(columns).toContainText("All 6 columns");
  await expect(columns.locator("label", { hasText: "beak_length_mm" })).toContainText("REAL → DOUBLE");
  await expect(columns.locator("label", { hasText: "body_mass_g" })).toContainText("INTEGER → BIGINT");

  // The first rows, before any run.
  const preview = source.getByTestId("db-preview");
  await expect(preview).toContainText("Adelie");
  await expect(preview.getByTestId("db-preview-count")).toContainText("The first 50 rows; more follow");
  await preview.scrollIntoViewIfNeeded();
  await picture(page, testInfo, "ingest-database-1-browse");

  // A filter: the preview follows; cleared again.
  await source.getByTestId("db-where").fill("species = 'Gentoo'");
  await source.getByTestId("db-where").blur();
  await expect(preview).not.toContainText("Adelie");
  await expect(preview).toContainText("Gentoo");
  await source.getByTestId("db-where").fill("");
  await source.getByTestId("db-where").blur();
  await expect(preview).toContainText("Adelie");

  // Two columns fewer: the preview follows.
  await source.getByTestId("db-column-island").uncheck();
  await source.getByTestId("db-column-sex").uncheck();
  await expect(columns).toContainText("4 of 6 columns");
  await expect(preview.getByTestId("db-preview-column-island")).toHaveCount(0);
  await expect(preview.getByTestId("db-preview-column-species")).toBeVisible();

  // Incremental: the cursor is chosen from the columns read; the full refresh is one click.
  await source.getByTestId("db-mode-incremental").check();
  await expect(source.getByTestId("db-cursor").locator("option")).toContainText([
    "id",
    "species",
    "beak_length_mm",
    "body_mass_g",
  ]);
  await source.getByTestId("db-cursor").selectOption("id");
  await source.getByTestId("db-refresh").click();
  await expect(source.getByTestId("db-refresh-armed")).toContainText("reads everything again");
  await picture(page, testInfo, "ingest-database-2-incremental");

  // Run: the node reads every row; its output is the table read.
  await page.getByTestId("run-button").click();
  await expect(page.getByTestId("status-run")).toHaveAttribute("data-run-status", "succeeded", {
    timeout: 45_000,
  });
  await expect(page.getByTestId("run-log")).toContainText(
    "Full refresh: the rows read before from shop/penguins",
  );
  // The full refresh was for that run only: an option of the run, not a param, so the node is not
  // stale after it, and the next run takes it from the cache.
  await expect(source.getByTestId("db-refresh")).toBeVisible();
  const nodeState = node.locator("[data-state]").first();
  await expect(nodeState).toHaveAttribute("data-state", "done");
  await page.waitForTimeout(1500);
  await expect(nodeState).not.toHaveAttribute("data-state", "stale");
  await page.getByTestId("run-button").click();
  await expect(page.getByTestId("status-run")).toHaveAttribute("data-run-status", "succeeded", {
    timeout: 45_000,
  });
  await expect(nodeState).toHaveAttribute("data-state", "cached");
  await node.click();
  const drawer = page.getByTestId("data-drawer");
  await drawer.waitFor({ timeout: 2000 }).catch(() => undefined);
  if (!(await drawer.isVisible())) await page.getByTestId("tab-data").click();
  await expect(page.getByTestId("data-row-count")).toContainText(String(rows));
  await expect(page.getByTestId("data-table")).toContainText("Adelie");
  await expect(page.getByTestId("column-body_mass_g")).toBeVisible();
  await expect(page.getByTestId("column-island")).toHaveCount(0);
  await picture(page, testInfo, "ingest-database-3-ran");

  // A query that would write is refused before it is sent, in words.
  await source.getByTestId("db-mode-full").check();
  await source.getByTestId("db-source-query").click();
  await source.getByTestId("db-query").fill("DELETE FROM penguins");
  await source.getByTestId("db-query").blur();
  await expect(source.getByTestId("db-preview-error")).toContainText("refused before it is sent");
  await source.getByTestId("db-query").fill("SELECT species, count(*) AS n FROM penguins GROUP BY species");
  await source.getByTestId("db-query").blur();
  await expect(source.getByTestId("db-preview")).toContainText("Chinstrap");
  await expect(source.getByTestId("db-preview-count")).toContainText("The first 3 rows (all of them)");
  await picture(page, testInfo, "ingest-database-4-query");

  // No sideways scroll at 1280×720.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
});
