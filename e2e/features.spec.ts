/**
 * The Features view on a project with a feature store (e2e/features-fixture.ts):
 * it lists the views, the entity and the service; Apply records a version (and
 * again after the definition changes); Materialize writes rows and the history
 * shows them; the lookup box finds a key (PRESENT, the late duplicate row
 * winning), says an unknown key is NOT_FOUND and an old one OUTSIDE_MAX_AGE;
 * a broken definition shows its file and JSON path. A project without
 * features says how to start. All at 1280×720, with no sideways scroll.
 * `DAGWOOD_SCREENSHOTS=1` also writes renderer/docs/features*.png.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Page, TestInfo } from "@playwright/test";
import { DRIVERS, registerRankerModel, writeFeatureProject } from "./features-fixture";
import { copyExample, expect, test } from "./fixtures";
import { shot } from "./steps";

const SHOTS = join(import.meta.dirname, "..", "test-results", "shots");

async function snap(app: Page, testInfo: TestInfo, name: string) {
  await shot(app, testInfo, name);
  mkdirSync(SHOTS, { recursive: true });
  await app.screenshot({ path: join(SHOTS, `${name}.png`) });
}

async function expectNoSidewaysScroll(app: Page) {
  const sizes = await app.evaluate(() => {
    const page = document.scrollingElement!;
    const detail = document.querySelector("[data-testid=features-detail]");
    return {
      page: [page.scrollWidth, window.innerWidth],
      detail: detail ? [detail.scrollWidth, detail.clientWidth] : [0, 0],
    };
  });
  expect(sizes.page[0]).toBeLessThanOrEqual(sizes.page[1]!);
  expect(sizes.detail[0]).toBeLessThanOrEqual(sizes.detail[1]!);
}

async function openFeatures(app: Page) {
  await app.getByTestId("view-features").click();
  await expect(app.getByTestId("features-view")).toBeVisible();
  await expect(app.locator(".view-loading")).toHaveCount(0);
}

async function lookUp(app: Page, key: string | number) {
  await app.getByTestId("lookup-key-driver_id").fill(String(key));
  await app.getByTestId("lookup-go").click();
  await expect(app.getByTestId("lookup-answer")).toBeVisible();
}

const withFeatures = test.extend({
  // biome-ignore lint/correctness/noEmptyPattern: Playwright's fixture signature
  projectDir: async ({}, use) => {
    const dir = copyExample();
    writeFeatureProject(dir);
    await use(dir);
    rmSync(dir, { recursive: true, force: true });
  },
});

test("a project without features says how to start", async ({ app }, testInfo) => {
  await openFeatures(app);
  const empty = app.getByTestId("features-empty");
  await expect(empty).toContainText("No feature definitions yet");
  await expect(empty).toContainText("features/drivers.json");
  await expect(empty).toContainText("dagwood features apply");
  await expect(empty).toContainText("README.md → Feature store");
  await expect(app.getByTestId("features-apply")).toBeDisabled();
  await expect(app.getByTestId("features-materialize")).toBeDisabled();
  await expect(app.getByTestId("online-store")).toContainText("SQLite");
  await expectNoSidewaysScroll(app);
  await snap(app, testInfo, "features-empty");
});

withFeatures(
  "views, apply, materialise, history and lookups of a feature store",
  async ({ app, projectDir }, testInfo) => {
    await openFeatures(app);
    // The list: both views (never applied), the service and the entity.
    await expect(app.getByTestId("feature-view-driver_stats")).toContainText("new");
    await expect(app.getByTestId("feature-view-driver_ratings")).toBeVisible();
    await expect(app.getByTestId("feature-service-ranker")).toBeVisible();
    await expect(app.getByTestId("feature-entity-driver")).toContainText("driver_id");
    const detail = app.getByTestId("view-detail-driver_stats");
    await expect(detail).toBeVisible();
    await expect(app.getByTestId("view-version")).toHaveText("not applied");
    await expect(app.getByTestId("view-source")).toContainText("data/driver_stats.csv");
    await expect(app.getByTestId("view-schema")).toContainText("conv_rate");
    await expect(app.getByTestId("view-schema")).toContainText("Float64");
    await expect(detail).toContainText("ml-platform@example.com");
    await expect(detail).toContainText("team: ranking");
    await expect(detail).toContainText("1 day");
    await expect(app.getByTestId("view-newest-event")).toContainText("UTC");

    // Apply records version 1 of both views.
    await app.getByTestId("view-apply").click();
    await expect(app.getByTestId("toast").first()).toContainText("driver_stats v1");
    await expect(app.getByTestId("view-version")).toHaveText("v1");
    await expect(app.getByTestId("view-changed")).toHaveCount(0);
    await expect(app.getByTestId("view-freshness")).toHaveText("not materialised");
    await expect(app.getByTestId("view-no-history")).toBeVisible();
    await snap(app, testInfo, "features-view");

    // Materialise a window ending 90 minutes ago: 3 drivers of driver_stats go online, and the view is
    // stale (its source has rows of an hour ago).
    await app.getByTestId("features-materialize").click();
    await app.getByTestId("materialize-window").click();
    const end = await app.evaluate(() => {
      const d = new Date(Date.now() - 90 * 60_000);
      const p = (n: number) => String(n).padStart(2, "0");
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
    });
    await app.getByTestId("materialize-end").fill(end);
    await app.getByTestId("materialize-go").click();
    await expect(app.getByTestId("toast").filter({ hasText: "Materialised" })).toContainText(
      "driver_stats 3 rows",
    );
    await expect(app.getByTestId("materialize-form")).toHaveCount(0);
    await expect(app.getByTestId("view-freshness")).toHaveText("stale");
    await expect(app.getByTestId("view-last-materialized")).toContainText("3 rows");
    await expect(app.getByTestId("history-chart")).toBeVisible();
    await expect(app.getByTestId("history-row")).toHaveCount(1);

    // The view's own Materialize, incrementally to now: the two drivers with newer rows; fresh again.
    await app.getByTestId("view-materialize").click();
    await expect(app.getByTestId("materialize-form")).toContainText("Materialize driver_stats");
    await expect(app.getByTestId("materialize-incremental")).toBeChecked();
    await app.getByTestId("materialize-go").click();
    await expect(app.getByTestId("toast").filter({ hasText: "Materialised 2 rows" })).toContainText(
      "driver_stats 2 rows",
    );
    await expect(app.getByTestId("view-freshness")).toHaveText("fresh");
    await expect(app.getByTestId("history-row")).toHaveCount(2);
    await expect(app.getByTestId("history-row").first()).toContainText("2");

    // A key with rows: its latest row (the late duplicate, created later, wins).
    await lookUp(app, 1002);
    await expect(app.getByTestId("lookup-conv_rate")).toContainText("0.77");
    await expect(app.getByTestId("lookup-trips")).toContainText("99");
    await expect(app.getByTestId("lookup-status")).toHaveText(["PRESENT", "PRESENT", "PRESENT"]);
    await expectNoSidewaysScroll(app);
    await snap(app, testInfo, "features-lookup");
    // A key in no source: NOT_FOUND, and what to do.
    await lookUp(app, DRIVERS.unknown);
    await expect(app.getByTestId("lookup-status")).toHaveText(["NOT_FOUND", "NOT_FOUND", "NOT_FOUND"]);
    await expect(app.getByTestId("lookup-not-found")).toContainText(`driver_id = ${DRIVERS.unknown}`);
    // A value that is not an Int64 is refused before it is sent.
    await app.getByTestId("lookup-key-driver_id").fill("abc");
    await expect(app.getByTestId("lookup-go")).toBeDisabled();
    await expect(app.getByTestId("lookup-box")).toContainText("driver_id: a whole number");

    // Another view's page looks up in that view.
    await app.getByTestId("feature-view-driver_ratings").click();
    await expect(app.getByTestId("lookup-target")).toHaveValue("view:driver_ratings");
    await expect(app.getByTestId("lookup-answer")).toHaveCount(0);

    // The service: its features by view; an old driver is outside driver_stats' 1-day TTL but not ratings' 7 days.
    await app.getByTestId("feature-service-ranker").click();
    const service = app.getByTestId("service-detail-ranker");
    await expect(service.getByTestId("service-features")).toContainText("conv_rate, trips");
    await expect(service.getByTestId("service-models")).toContainText("No registered model");
    await lookUp(app, DRIVERS.old);
    await expect(app.getByTestId("lookup-driver_stats__conv_rate")).toContainText("OUTSIDE_MAX_AGE");
    await expect(app.getByTestId("lookup-driver_ratings__rating")).toContainText("PRESENT");
    await snap(app, testInfo, "features-service");

    // Every run of every view: driver_stats twice, driver_ratings once.
    await app.getByTestId("feature-history").click();
    await expect(app.getByTestId("history-detail")).toBeVisible();
    await expect(app.getByTestId("history-row")).toHaveCount(3);
    await expect(app.getByTestId("history-detail")).toContainText("driver_ratings");
    await snap(app, testInfo, "features-history");

    // The definition changes: the view says so, and Apply records version 2.
    const file = join(projectDir, "features", "drivers.json");
    const defs = JSON.parse(readFileSync(file, "utf8"));
    defs.featureViews[0].ttl = "2d";
    writeFileSync(file, JSON.stringify(defs, null, 2));
    await app.getByTestId("feature-view-driver_stats").click();
    await app.getByTestId("features-refresh").click();
    await expect(app.getByTestId("view-changed")).toContainText("changed since apply");
    await expect(app.getByTestId("feature-view-driver_stats")).toContainText("v1*");
    await app.getByTestId("view-apply").click();
    await expect(app.getByTestId("view-version")).toHaveText("v2");
    await expect(app.getByTestId("view-changed")).toHaveCount(0);
    await expect(app.getByTestId("view-detail-driver_stats")).toContainText("2 days");
  },
);

withFeatures(
  "a broken definition shows its file, JSON path and what to do",
  async ({ app, projectDir }, testInfo) => {
    writeFileSync(
      join(projectDir, "features", "riders.json"),
      JSON.stringify({
        format: "dagwood.features/1",
        featureViews: [
          {
            name: "rider_stats",
            entities: ["rider"],
            ttl: "1 fortnight",
            source: { path: "data/riders.csv", timestampField: "ts" },
            features: [{ name: "trips", type: "Int64" }],
          },
        ],
      }),
    );
    await openFeatures(app);
    const problems = app.getByTestId("features-problems");
    await expect(problems).toContainText("features/riders.json");
    await expect(problems).toContainText("featureViews[0].ttl");
    await expect(problems).toContainText('a duration, e.g. "1d"');
    // What could still be read is listed.
    await expect(app.getByTestId("feature-view-driver_stats")).toBeVisible();
    // Apply refuses, saying where.
    await app.getByTestId("features-apply").click();
    await expect(app.getByTestId("features-apply-error")).toContainText("Apply refused");
    await expect(app.getByTestId("toast").filter({ hasText: "Apply refused" })).toBeVisible();
    await expectNoSidewaysScroll(app);
    await snap(app, testInfo, "features-problems");

    // Fixed but naming an unknown entity: that problem, at its path.
    const riders = JSON.parse(readFileSync(join(projectDir, "features", "riders.json"), "utf8"));
    riders.featureViews[0].ttl = "14d";
    writeFileSync(join(projectDir, "features", "riders.json"), JSON.stringify(riders));
    await app.getByTestId("features-refresh").click();
    await expect(problems).toContainText("featureViews[0].entities[0]");
    await expect(problems).toContainText('unknown entity "rider"');
    await expect(problems).not.toContainText("featureViews[0].ttl");
  },
);

const redisAway = test.extend({
  // biome-ignore lint/correctness/noEmptyPattern: Playwright's fixture signature
  projectDir: async ({}, use) => {
    const dir = copyExample();
    writeFeatureProject(dir);
    const settings = JSON.parse(readFileSync(join(dir, "dagwood.json"), "utf8"));
    // Port 1: nothing listens there, so the connection is refused at once.
    settings.online = { kind: "redis", url: "redis://127.0.0.1:1" };
    writeFileSync(join(dir, "dagwood.json"), JSON.stringify(settings, null, 2));
    await use(dir);
    rmSync(dir, { recursive: true, force: true });
  },
});

redisAway("an online store that cannot be reached says so, and what still works", async ({ app }) => {
  await openFeatures(app);
  await expect(app.getByTestId("online-store")).toContainText("Redis");
  await expect(app.getByTestId("online-store")).toContainText("unreachable");
  const banner = app.getByTestId("online-store-error");
  await expect(banner).toContainText("cannot be reached");
  await expect(banner).toContainText("redis://127.0.0.1:1");
  // The definitions still read; materialising is not offered; a lookup says why it failed.
  await expect(app.getByTestId("view-schema")).toContainText("conv_rate");
  // What was materialised cannot be read from the store: not known, rather than "never".
  await expect(app.getByTestId("view-freshness")).toHaveText("store unreachable");
  await expect(app.getByTestId("view-last-materialized")).toContainText("not known");
  await expect(app.getByTestId("features-materialize")).toBeDisabled();
  await expect(app.getByTestId("view-materialize")).toBeDisabled();
  await lookUpFails(app);
});

async function lookUpFails(app: Page) {
  await app.getByTestId("lookup-key-driver_id").fill("1001");
  await app.getByTestId("lookup-go").click();
  await expect(app.getByTestId("lookup-error")).toContainText("redis://127.0.0.1:1");
  await expect(app.getByTestId("lookup-answer")).toHaveCount(0);
}

const withModel = test.extend({
  // biome-ignore lint/correctness/noEmptyPattern: Playwright's fixture signature
  projectDir: async ({}, use) => {
    const dir = copyExample();
    writeFeatureProject(dir);
    registerRankerModel(dir);
    await use(dir);
    rmSync(dir, { recursive: true, force: true });
  },
});

withModel(
  "a service lists the models registered with it; a click opens the model, and its service link comes back",
  async ({ app }) => {
    await openFeatures(app);
    await app.getByTestId("feature-service-ranker").click();
    const models = app.getByTestId("service-models");
    await expect(models).toContainText("driver_ranker v1");
    await expect(models).toContainText("@champion");
    await expect(app.getByTestId("feature-service-ranker")).toContainText("1 model");
    await models.getByRole("button", { name: "driver_ranker v1" }).click();
    await expect(app.getByTestId("models-frame")).toBeVisible();
    await expect(app.getByTestId("models-frame")).toContainText("driver_ranker");
    // And back: the version's feature service opens the service in the Features view.
    await app.getByTestId("lineage-feature-service").getByRole("button", { name: "ranker" }).click();
    await expect(app.getByTestId("features-view")).toBeVisible();
    await expect(app.getByTestId("service-detail-ranker")).toBeVisible();
  },
);
