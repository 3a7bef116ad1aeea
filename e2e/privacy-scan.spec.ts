/**
 * The profile's "Personal data" section: an analyze.profile node over a
 * customers file lists the columns with personal data, their kinds, the share
 * of values that match and masked examples, readable at 1280x720; a card
 * column where half the numbers fail the Luhn check shows 50 %.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test as base, expect } from "./fixtures";
import { shot } from "./steps";

const CUSTOMERS = [
  "email,card,surname,spend",
  ...Array.from(
    { length: 40 },
    // 4242… passes Luhn, 4241… does not: half the cards are cards.
    (_, i) =>
      `person${i}@example.com,${i % 2 ? "4242 4242 4242 4242" : "4242 4242 4242 4241"},Doe${i},${i * 3}`,
  ),
].join("\n");

const PIPELINE = {
  format: "dagwood.pipeline/1",
  name: "customers",
  params: {},
  nodes: [
    { id: "customers", block: "ingest.file", params: { path: "data/customers.csv" } },
    { id: "profile", block: "analyze.profile", params: {} },
  ],
  edges: [{ from: "customers.out", to: "profile.in" }],
  layout: { customers: { x: 0, y: 0 }, profile: { x: 320, y: 0 } },
};

const test = base.extend({
  projectDir: async ({ projectDir }, use) => {
    mkdirSync(join(projectDir, "data"), { recursive: true });
    writeFileSync(join(projectDir, "data", "customers.csv"), `${CUSTOMERS}\n`);
    writeFileSync(join(projectDir, "customers.dag.json"), JSON.stringify(PIPELINE, null, 2));
    await use(projectDir);
  },
});
test.use({ pipeline: "customers.dag.json", viewport: { width: 1280, height: 720 } });

test("the profile lists the personal data found, with shares and masked examples", async ({
  app,
}, testInfo) => {
  await expect(app.getByTestId("node-profile")).toBeVisible();
  await app.getByTestId("run-button").click();
  await expect(app.getByTestId("status-run")).toHaveAttribute("data-run-status", "succeeded", {
    timeout: 45_000,
  });
  await app.getByTestId("node-profile").click({ position: { x: 12, y: 8 } });
  const drawer = app.getByTestId("data-drawer");
  if (!(await drawer.isVisible())) await app.getByTestId("tab-data").click();
  const section = app.getByTestId("personal-data");
  await expect(section).toBeVisible();
  await expect(section).toContainText("3 of 4 columns");
  await expect(app.getByTestId("personal-data-email-email")).toContainText(
    /email\s*e-mail\s*100 %\s*p\*\*\*@e\*\*\*\.com/,
  );
  await expect(app.getByTestId("personal-data-card-card")).toContainText(
    /card number\s*50\.0 %\s*\*\*\*\* \*\*\*\* \*\*\*\* 4242/,
  );
  await expect(app.getByTestId("personal-data-surname-personal_name")).toContainText(
    /personal\s*by name\s*D\*\*\*/,
  );
  await expect(section).toContainText("Scanned all 40 rows");
  await expect(section).not.toContainText("@example.com,");
  await expect(section).not.toContainText("person0");
  // Readable at 1280x720: the table fits the drawer's width.
  const box = await section.boundingBox();
  expect(box!.x + box!.width).toBeLessThanOrEqual(1280);
  await shot(app, testInfo, "privacy-profile-personal-data");
});
