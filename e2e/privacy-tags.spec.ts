/**
 * Tagging columns (privacy, issue 19), the analyst's journey at 1280×720: the
 * Data view's customers dataset is scanned (its e-mail column found, with its
 * share and masked examples), the column tagged pii from the scan (into
 * dagwood.json; Undo takes it out again) and from the "+ tag" field (a bad
 * name refused with the reason); a pipeline derives email_domain in SQL and
 * trains on it: the SQL node's inspector shows email_domain tagged pii
 * "← email (dataset customers)", the nodes carry the personal-data mark, the
 * train node warns, and the registered version says "Uses personal data".
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Page, TestInfo } from "@playwright/test";
import { expect, test } from "./fixtures";
import { shot } from "./steps";

const SHOTS = join(import.meta.dirname, "..", "test-results", "shots");

/** 60 customers: an e-mail (its domain tells churn apart), a phone, a name, age, spend, churned. */
function customersCsv(): string {
  const domains = ["example.com", "mail.test", "corp.test"];
  const first = ["ana", "ben", "chloe", "dev", "emma", "femi", "gus", "hana", "ivan", "jo"];
  const lines = ["id,name,email,phone,age,spend,churned"];
  for (let i = 0; i < 60; i++) {
    const domain = domains[i % 3]!;
    const name = first[i % 10]!;
    const phone = `+44 20 7946 ${String(1000 + i * 7).slice(-4)}`;
    const age = 20 + ((i * 7) % 50);
    const spend = (50 + ((i * 37) % 400)).toFixed(2);
    const churned = domain === "mail.test" || (i % 7 === 0 && domain !== "corp.test") ? "yes" : "no";
    lines.push(
      `${i + 1},${name} ${String.fromCharCode(65 + (i % 26))},${name}.${i}@${domain},${phone},${age},${spend},${churned}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

const PIPELINE = {
  format: "dagwood.pipeline/1",
  name: "churn",
  description: "Churn from the customers' e-mail domain, age and spend",
  nodes: [
    { id: "customers", block: "ingest.file", params: { path: "data/customers.csv" } },
    {
      id: "domain",
      block: "transform.sql",
      params: { query: "SELECT split_part(email, '@', 2) AS email_domain, age, spend, churned FROM input" },
    },
    { id: "tree", block: "train.tree", params: { maxDepth: 3, seed: 7, target: "churned" } },
    { id: "register", block: "register", params: { name: "churn" } },
  ],
  edges: [
    { from: "customers.out", to: "domain.in" },
    { from: "domain.out", to: "tree.train" },
    { from: "tree.model", to: "register.model" },
  ],
  layout: {
    customers: { x: 0, y: 0 },
    domain: { x: 260, y: 0 },
    tree: { x: 520, y: 0 },
    register: { x: 780, y: 0 },
  },
};

test.use({ pipeline: "churn.dag.json" });

const withCustomers = test.extend({
  projectDir: async ({ projectDir }, use) => {
    writeFileSync(join(projectDir, "data", "customers.csv"), customersCsv());
    const settingsFile = join(projectDir, "dagwood.json");
    const settings = JSON.parse(readFileSync(settingsFile, "utf8"));
    settings.datasets = {
      ...settings.datasets,
      customers: {
        path: "data/customers.csv",
        owner: "crm@example.com",
        purpose: "Customers the churn model learns from",
      },
      // An entry whose file is not there (yet): its scan says so.
      leads: { path: "data/leads.csv", owner: "crm@example.com" },
    };
    writeFileSync(settingsFile, JSON.stringify(settings, null, 2));
    writeFileSync(join(projectDir, "churn.dag.json"), JSON.stringify(PIPELINE, null, 2));
    await use(projectDir);
  },
});

/** The picture for the README (with DAGWOOD_SCREENSHOTS=1), also in test-results/shots/. */
async function snap(app: Page, testInfo: TestInfo, name: string) {
  await shot(app, testInfo, name);
  mkdirSync(SHOTS, { recursive: true });
  await app.screenshot({ path: join(SHOTS, `${name}.png`) });
}

/** dagwood.json's tags of the customers' columns, as the file now says. */
const columnsOf = (projectDir: string) =>
  JSON.parse(readFileSync(join(projectDir, "dagwood.json"), "utf8")).datasets.customers.columns as
    | Record<string, { tags: string[] }>
    | undefined;

withCustomers(
  "a scanned column tagged pii travels through SQL to the model, with where it came from",
  async ({ app, projectDir }, testInfo) => {
    test.setTimeout(180_000);
    await expect(app.getByTestId("node-customers")).toBeVisible();

    // The Data view: the customers entry, not read yet; its page scans the file itself.
    await app.getByTestId("view-data").click();
    const row = app.getByTestId("dataset-customers");
    await expect(row).toBeVisible();
    await row.getByRole("button", { name: "customers" }).click();
    await expect(app.getByTestId("dataset-page")).toBeVisible();
    const columns = app.getByTestId("dataset-columns");
    await expect(columns.getByTestId("columns-empty")).toBeVisible();

    await columns.getByTestId("scan-button").click();
    await expect(columns.getByTestId("scan-sample")).toContainText("scanned all 60 rows");
    const email = columns.getByTestId("scan-email");
    await expect(email.getByTestId("scan-kind-email")).toContainText("e-mail");
    await expect(email.getByTestId("scan-kind-email")).toContainText("100%");
    // Examples are masked: the local part and the domain keep their first letter only.
    const examples = await email.locator(".scan-examples").textContent();
    expect(examples).toMatch(/^[a-z]\*+@[a-z]\*+\.[a-z]+/);
    expect(examples).not.toContain("example.com");
    expect(examples).not.toMatch(/ana\.0|ben\.1/);
    await expect(columns.getByTestId("scan-phone").getByTestId("scan-kind-phone")).toBeVisible();
    await expect(columns.getByTestId("scan-age")).toContainText("nothing found");
    await expect(columns.getByTestId("scan-accept-age")).toHaveCount(0);
    expect(columnsOf(projectDir)).toBeUndefined();

    // Tag as pii: the chip shows and dagwood.json has the tag; Undo takes it out again.
    await columns.getByTestId("scan-accept-email").click();
    await expect(columns.getByTestId("column-tags-email").getByTestId("tag-chip-pii")).toBeVisible();
    await expect.poll(() => columnsOf(projectDir)?.email?.tags).toEqual(["pii"]);
    await expect(columns.getByTestId("column-email")).toContainText("✓ tagged pii");
    await snap(app, testInfo, "privacy-dataset-columns");
    await columns.getByTestId("undo-tags").getByRole("button", { name: "Undo" }).click();
    await expect(columns.getByTestId("column-tags-email").getByTestId("tag-chip-pii")).toHaveCount(0);
    await expect.poll(() => columnsOf(projectDir)?.email).toBeUndefined();

    // The "+ tag" field: a name that is not a tag is refused with the reason, nothing saved.
    await columns.getByTestId("tag-add-email").click();
    const input = columns.getByTestId("tag-input-email");
    await input.fill("Personal Data");
    await input.press("Enter");
    await expect(columns.getByTestId("tag-error-email")).toContainText("is not a tag: lower-case letters");
    expect(columnsOf(projectDir)?.email).toBeUndefined();
    await input.fill("pii");
    await input.press("Enter");
    await expect(columns.getByTestId("column-tags-email").getByTestId("tag-chip-pii")).toBeVisible();
    await expect.poll(() => columnsOf(projectDir)?.email?.tags).toEqual(["pii"]);
    // A chip's × removes just that tag; Undo brings it back.
    await columns.getByRole("button", { name: "Remove pii from email" }).click();
    await expect.poll(() => columnsOf(projectDir)?.email).toBeUndefined();
    await columns.getByTestId("undo-tags").getByRole("button", { name: "Undo" }).click();
    await expect.poll(() => columnsOf(projectDir)?.email?.tags).toEqual(["pii"]);
    await expect(columns.getByTestId("column-tags-email").getByTestId("tag-chip-pii")).toBeVisible();
    const page = await app.getByTestId("data-view").evaluate((el) => el.scrollWidth - el.clientWidth);
    expect(page).toBeLessThanOrEqual(0);

    // The pipeline derives email_domain from the tagged e-mail and trains on it.
    await app.getByTestId("view-editor").click();
    await app.getByTestId("run-button").click();
    await expect(app.getByTestId("status-run")).toHaveAttribute("data-run-status", "succeeded", {
      timeout: 60_000,
    });

    // The SQL node: its output's email_domain carries pii, from the customers' email.
    await expect(app.getByTestId("personal-domain")).toBeVisible();
    await expect(app.getByTestId("personal-customers")).toBeVisible();
    await expect(app.getByTestId("personal-domain")).toHaveAttribute("title", /email_domain \(pii ← email\)/);
    await app.getByTestId("node-domain").click({ position: { x: 12, y: 8 } });
    const derived = app.getByTestId("output-column-email_domain");
    await expect(derived.getByTestId("tag-chip-pii")).toBeVisible();
    await expect(derived.getByTestId("tag-chip-pii")).toHaveAttribute(
      "title",
      /email_domain ← email \(dataset customers\)/,
    );
    await derived.getByTestId("tag-origin-toggle-email_domain").click();
    await expect(app.getByTestId("tag-origins-email_domain")).toContainText(
      "email_domain ← email (dataset customers)",
    );
    await expect(app.getByTestId("output-column-age")).toHaveCount(0);
    const inspector = app.locator(".inspector");
    expect(await inspector.evaluate((e) => e.scrollWidth - e.clientWidth)).toBeLessThanOrEqual(0);
    await snap(app, testInfo, "privacy-inspector-origin");

    // The ingest node: a file with a dataset entry is tagged on its page, which the inspector says.
    await app.getByTestId("node-customers").click({ position: { x: 12, y: 8 } });
    await expect(app.getByTestId("output-column-email").getByTestId("tag-chip-pii")).toHaveAttribute(
      "title",
      "pii: email (dataset customers)",
    );
    await expect(app.getByTestId("column-tags-dataset")).toContainText("This file is the dataset customers");

    // The train node warns as nodes warn: its badge, and the message whole in its form.
    const badge = app.getByTestId("warnings-tree");
    await expect(badge).toBeVisible();
    await expect(badge).toHaveAttribute("title", /personal data/);
    await app.getByTestId("node-tree").click({ position: { x: 12, y: 8 } });
    await expect(app.getByTestId("inspector-warnings")).toContainText("email_domain ← email");

    // The registered version says what personal data it uses.
    await app.getByTestId("view-models").click();
    await expect(app.getByTestId("version-personal-1")).toHaveText("personal data");
    // The newest version opens with its lineage.
    const uses = app.getByTestId("personal-data");
    await expect(uses).toContainText("Uses personal data: email_domain ← email");
    await expect(uses.getByTestId("personal-data-email_domain")).toContainText("(dataset customers)");
    await snap(app, testInfo, "privacy-model-version");

    // Back on the dataset page, the columns come from the version the run read, with their types.
    await app.getByTestId("view-data").click();
    const columnsNow = app.getByTestId("dataset-columns");
    await expect(columnsNow.getByTestId("column-email")).toContainText("VARCHAR");
    await expect(columnsNow.getByTestId("column-tags-email").getByTestId("tag-chip-pii")).toBeVisible();
    await expect(columnsNow.getByTestId("column-age")).toContainText("BIGINT");
    await expect(columnsNow.locator("tbody tr")).toHaveCount(7);
    // The list says which datasets hold personal columns.
    await app.getByTestId("data-back").click();
    await expect(app.getByTestId("dataset-customers").getByTestId("dataset-personal")).toHaveText(
      "1 personal",
    );
    await expect(app.getByTestId("dataset-leads").getByTestId("dataset-personal")).toHaveCount(0);
    await snap(app, testInfo, "privacy-dataset-list");
  },
);

withCustomers(
  "a file with no dataset entry is tagged on its ingest node, by hand or from a scan of its output, and undone with the editor",
  async ({ app, projectDir }, testInfo) => {
    test.setTimeout(120_000);
    // The same customers under a file name dagwood.json has no entry for: the node's columnTags tag it.
    writeFileSync(join(projectDir, "data", "contacts.csv"), customersCsv());
    const doc = JSON.parse(readFileSync(join(projectDir, "churn.dag.json"), "utf8"));
    doc.nodes[0].params.path = "data/contacts.csv";
    doc.nodes = doc.nodes.slice(0, 1);
    doc.edges = [];
    writeFileSync(join(projectDir, "churn.dag.json"), JSON.stringify(doc, null, 2));
    await app.reload();
    await app.getByTestId("node-customers").click({ position: { x: 12, y: 8 } });
    const param = app.getByTestId("column-tags-param");
    await expect(app.getByTestId("column-tags-dataset")).toHaveCount(0);
    await param.getByTestId("column-tags-column").fill("phone");
    await param.getByTestId("column-tags-tag").fill("Bad Tag");
    await param.getByRole("button", { name: "Tag" }).click();
    await expect(app.getByTestId("column-tags-error")).toContainText("is not a tag");
    await param.getByTestId("column-tags-tag").fill("sensitive");
    await param.getByRole("button", { name: "Tag" }).click();
    await expect(param.getByTestId("param-tags-phone").getByTestId("tag-chip-sensitive")).toBeVisible();
    // The editor's undo takes the edit back, redo puts it again.
    await app.keyboard.press("Control+z");
    await expect(param.getByTestId("param-tags-phone")).toHaveCount(0);
    await app.keyboard.press("Control+Shift+z");
    await expect(param.getByTestId("param-tags-phone").getByTestId("tag-chip-sensitive")).toBeVisible();

    // Run: the output column carries the tag, its origin the node.
    await app.getByTestId("run-button").click();
    await expect(app.getByTestId("status-run")).toHaveAttribute("data-run-status", "succeeded", {
      timeout: 45_000,
    });
    await expect(app.getByTestId("output-column-phone").getByTestId("tag-chip-sensitive")).toHaveAttribute(
      "title",
      "sensitive: phone (node customers)",
    );
    await expect(app.getByTestId("personal-customers")).toHaveAttribute("title", /phone \(sensitive\)/);

    // The scan of the node's output finds the e-mails; Tag as pii puts them in the param.
    await param.getByTestId("scan-output-button").click();
    await expect(param.getByTestId("scan-output-sample")).toContainText("scanned all 60 rows");
    await expect(param.getByTestId("scan-output-email")).toContainText("e-mail");
    await param.getByTestId("scan-output-accept-email").click();
    await expect(param.getByTestId("param-tags-email").getByTestId("tag-chip-pii")).toBeVisible();
    await expect(param.getByTestId("scan-output-email")).toContainText("✓ tagged pii");
    const inspector = app.locator(".inspector");
    expect(await inspector.evaluate((e) => e.scrollWidth - e.clientWidth)).toBeLessThanOrEqual(0);
    await snap(app, testInfo, "privacy-ingest-column-tags");
    // Saved with the pipeline: the document's node has both.
    await app.getByRole("button", { name: "Save" }).click();
    await expect
      .poll(
        () => JSON.parse(readFileSync(join(projectDir, "churn.dag.json"), "utf8")).nodes[0].params.columnTags,
      )
      .toEqual({ phone: ["sensitive"], email: ["pii"] });
  },
);

withCustomers(
  "a scan of a dataset whose file is missing says which file and changes nothing",
  async ({ app, projectDir }) => {
    const before = readFileSync(join(projectDir, "dagwood.json"), "utf8");
    await app.getByTestId("view-data").click();
    await app.getByTestId("dataset-leads").getByRole("button", { name: "leads" }).click();
    const columns = app.getByTestId("dataset-columns");
    await columns.getByTestId("scan-button").click();
    await expect(columns.getByTestId("scan-error")).toContainText("data/leads.csv");
    await expect(columns.getByTestId("columns-table")).toHaveCount(0);
    await expect(columns.getByTestId("scan-button")).toHaveText("Scan for personal data");
    expect(readFileSync(join(projectDir, "dagwood.json"), "utf8")).toBe(before);
  },
);

/** A 200-column file: id, email and 198 numeric features. */
function wideCsv(): string {
  const names = ["id", "email", ...Array.from({ length: 198 }, (_, i) => `f${String(i).padStart(3, "0")}`)];
  const lines = [names.join(",")];
  for (let r = 0; r < 20; r++)
    lines.push([r + 1, `user${r}@example.com`, ...names.slice(2).map((_, i) => (r * i) % 97)].join(","));
  return `${lines.join("\n")}\n`;
}

const withWide = test.extend({
  projectDir: async ({ projectDir }, use) => {
    writeFileSync(join(projectDir, "data", "wide.csv"), wideCsv());
    const settingsFile = join(projectDir, "dagwood.json");
    const settings = JSON.parse(readFileSync(settingsFile, "utf8"));
    settings.datasets = { ...settings.datasets, wide: { path: "data/wide.csv", owner: "crm@example.com" } };
    writeFileSync(settingsFile, JSON.stringify(settings, null, 2));
    writeFileSync(join(projectDir, "churn.dag.json"), JSON.stringify(PIPELINE, null, 2));
    await use(projectDir);
  },
});

withWide(
  "a 200-column dataset: the Columns section filters by name or tag and stays in its box at 1280×720",
  async ({ app, projectDir }) => {
    await app.getByTestId("view-data").click();
    await app.getByTestId("dataset-wide").getByRole("button", { name: "wide" }).click();
    const columns = app.getByTestId("dataset-columns");
    await columns.getByTestId("scan-button").click();
    await expect(columns.getByTestId("scan-sample")).toContainText("1 with personal data");
    await expect(columns.locator("tbody tr")).toHaveCount(200);
    // The list scrolls inside its box, the page does not widen.
    const box = await columns.locator(".columns-scroll").boundingBox();
    expect(box!.height).toBeLessThanOrEqual(360);
    const filter = columns.getByTestId("columns-filter");
    await filter.fill("f19");
    await expect(columns.locator("tbody tr")).toHaveCount(8); // f190 … f197
    await expect(columns.getByTestId("columns-count")).toHaveText("8 of 200 columns");
    // Tag one found by the filter, from the keyboard: Tab to its "+ tag", type, Enter.
    await filter.fill("f193");
    await filter.press("Tab");
    await expect(columns.getByTestId("tag-add-f193")).toBeFocused();
    await app.keyboard.press("Enter");
    await app.keyboard.type("sensitive");
    await app.keyboard.press("Enter");
    await expect
      .poll(() => JSON.parse(readFileSync(join(projectDir, "dagwood.json"), "utf8")).datasets.wide.columns)
      .toEqual({ f193: { tags: ["sensitive"] } });
    // Filtering by a tag name finds the tagged columns.
    await filter.fill("sensitive");
    await expect(columns.locator("tbody tr")).toHaveCount(1);
    await expect(columns.getByTestId("column-f193")).toBeVisible();
    await filter.fill("nothing-like-this");
    await expect(columns.getByTestId("columns-none")).toContainText("No column matches");
    const page = await app.getByTestId("data-view").evaluate((el) => el.scrollWidth - el.clientWidth);
    expect(page).toBeLessThanOrEqual(0);
  },
);

withWide(
  "200 tagged output columns: the inspector lists the first tagged ones and the rest on request",
  async ({ app, projectDir }) => {
    test.setTimeout(120_000);
    const settingsFile = join(projectDir, "dagwood.json");
    const settings = JSON.parse(readFileSync(settingsFile, "utf8"));
    const names = readFileSync(join(projectDir, "data", "wide.csv"), "utf8")
      .split("\n")[0]!
      .split(",");
    settings.datasets.wide.columns = Object.fromEntries(names.map((n) => [n, { tags: ["pii"] }]));
    writeFileSync(settingsFile, JSON.stringify(settings, null, 2));
    const doc = {
      ...PIPELINE,
      nodes: [{ id: "customers", block: "ingest.file", params: { path: "data/wide.csv" } }],
      edges: [],
    };
    writeFileSync(join(projectDir, "churn.dag.json"), JSON.stringify(doc, null, 2));
    await app.reload();
    await app.getByTestId("run-button").click();
    await expect(app.getByTestId("status-run")).toHaveAttribute("data-run-status", "succeeded", {
      timeout: 60_000,
    });
    await app.getByTestId("node-customers").click({ position: { x: 12, y: 8 } });
    const out = app.getByTestId("output-columns-out");
    await expect(out).toContainText("200 columns · 200 tagged, 200 personal");
    await expect(out.locator(".output-column")).toHaveCount(20);
    await out.getByRole("button", { name: "+180 more tagged" }).click();
    await expect(out.locator(".output-column")).toHaveCount(200);
    await expect(out.getByTestId("output-column-f197").getByTestId("tag-chip-pii")).toBeVisible();
    const inspector = app.locator(".inspector");
    expect(await inspector.evaluate((e) => e.scrollWidth - e.clientWidth)).toBeLessThanOrEqual(0);
  },
);
