/**
 * The Monitoring view on a model deployed to the built-in `local` target: a
 * tree trained on the penguins is registered as champion and deployed from
 * the Models view; a monitor with 15-second windows watches it. Penguins are
 * sent to the server with the project's token, then the same penguins with
 * their measurements shifted, each labelled through /feedback. The heatmap
 * marks the shifted features drifted, a cell opens the two distributions
 * overlaid, Check now raises an alert and Acknowledge closes it. Two days
 * of hourly windows (written as the server logs them) show the latest page
 * first. With action "retrain", Check now runs the retraining pipeline in the
 * app: a challenger that loses the gate is not deployed (the loop's run and
 * version open in Experiments and Models); one that wins waits for approval,
 * and Approve, confirmed, deploys it.
 * `DAGWOOD_SCREENSHOTS=1` also writes renderer/docs/monitoring*.png.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "@playwright/test";
import { projectServeToken, servingRepository } from "../app/deploy/embedded";
import { LOG_FILE } from "../app/serving/observability";
import { expect, test } from "./fixtures";
import { openPipeline, shot, TREE_PIPELINE } from "./steps";

const MODEL = "penguins-tree";
/** The monitor's window: short, so the test fills one window and then the next. */
const WINDOW_MS = 15_000;

test.use({ appEnv: { DAGWOOD_LOCAL_SERVE_PORT: "0" } });

/** The tree pipeline, registering the champion with held-out rows for the deploy's parity check. */
const PIPELINE = {
  ...TREE_PIPELINE,
  description: "A decision tree on the penguins, registered as champion",
  nodes: TREE_PIPELINE.nodes.map((n) =>
    n.id === "register" ? { ...n, params: { name: MODEL, alias: "champion" } } : n,
  ),
  edges: [...TREE_PIPELINE.edges, { from: "split.test", to: "register.data" }],
};

function addMonitor(projectDir: string) {
  const file = join(projectDir, "dagwood.json");
  const settings = JSON.parse(readFileSync(file, "utf8"));
  settings.monitors = {
    "penguins-watch": {
      model: `${MODEL}@champion`,
      target: "local",
      window: "0.25m",
      minRows: 30,
      drift: { shareThreshold: 0.3 },
      performance: { metric: "accuracy", tolerance: 0.05 },
      action: "alert",
    },
  };
  writeFileSync(file, JSON.stringify(settings, null, 2));
}

type Penguin = Record<string, string | number>;

/** The penguins without missing values, as the CSV has them. */
function penguins(projectDir: string): Penguin[] {
  const [head, ...lines] = readFileSync(join(projectDir, "data", "penguins.csv"), "utf8")
    .trim()
    .split("\n");
  const names = head!.split(",");
  return lines
    .map((l) => l.split(","))
    .filter((cells) => cells.every((c) => c !== "" && c !== "NA"))
    .map((cells) =>
      Object.fromEntries(cells.map((c, i) => [names[i]!, Number.isNaN(Number(c)) ? c : Number(c)])),
    );
}

/** Sends each penguin as a one-row V2 infer, then its species as feedback; the request ids. */
async function sendTraffic(url: string, token: string, rows: Penguin[]) {
  const meta = (await (await fetch(`${url}/v2/models/${MODEL}`)).json()) as {
    inputs: { name: string; datatype: string }[];
  };
  const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const feedback: { id: string; label: string }[] = [];
  for (const row of rows) {
    const res = await fetch(`${url}/v2/models/${MODEL}/infer`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({
        inputs: meta.inputs.map((i) => ({
          name: i.name,
          datatype: i.datatype,
          shape: [1, 1],
          data: [row[i.name]],
        })),
      }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    const id = res.headers.get("x-dagwood-request-id");
    expect(id).toBeTruthy();
    feedback.push({ id: id!, label: String(row.species) });
  }
  const res = await fetch(`${url}/v2/models/${MODEL}/feedback`, {
    method: "POST",
    headers: auth,
    body: JSON.stringify({ feedback }),
  });
  expect(res.status, await res.clone().text()).toBe(200);
}

/** Waits until the next window of WINDOW_MS starts (plus a margin against clock jitter). */
async function nextWindow(margin = 300) {
  const wait = WINDOW_MS - (Date.now() % WINDOW_MS) + margin;
  await new Promise((done) => setTimeout(done, wait));
}

async function train(app: Page, projectDir: string) {
  await openPipeline(app, projectDir, PIPELINE, "penguins-tree.dag.json");
  await app.getByTestId("run-button").click();
  await expect(app.getByTestId("status-run")).toHaveAttribute("data-run-status", "succeeded", {
    timeout: 45_000,
  });
}

async function deploy(app: Page): Promise<string> {
  await app.getByTestId("view-models").click();
  await app.getByTestId("deploy-button-1").click();
  const dialog = app.getByTestId("deploy-dialog");
  await dialog.getByTestId("deploy-target-local").check();
  await dialog.getByTestId("confirm").click();
  const result = dialog.getByTestId("deploy-result");
  await expect(result).toBeVisible({ timeout: 60_000 });
  await expect(result).toHaveAttribute("data-status", "succeeded");
  const inferUrl = (await dialog.getByTestId("deploy-infer-url").textContent()) ?? "";
  await dialog.getByTestId("deploy-close").click();
  return inferUrl.replace(new RegExp(`/v2/models/${MODEL}/infer$`), "");
}

test("the Monitoring view says what to do when nothing is deployed or watched", async ({ app }, testInfo) => {
  await app.getByTestId("view-monitoring").click();
  const empty = app.getByTestId("monitoring-empty");
  await expect(empty).toContainText("No model is deployed");
  await expect(empty).toContainText("No monitors in dagwood.json");
  await expect(empty).toContainText('"monitors"');
  await shot(app, testInfo, "monitoring-empty");
});

test("drift per feature, the two distributions of a cell, an alert raised and acknowledged", async ({
  app,
  projectDir,
}, testInfo) => {
  test.setTimeout(240_000);
  await train(app, projectDir);
  addMonitor(projectDir);

  // Watched before it is deployed: no traffic yet, and what to do.
  await app.getByTestId("view-monitoring").click();
  await expect(app.getByTestId("monitoring-no-traffic")).toContainText(`/v2/models/${MODEL}/infer`);
  await expect(app.getByTestId("monitor-facts")).toContainText("penguins-watch");

  const url = await deploy(app);
  const token = await projectServeToken(projectDir);

  // One window of penguins as they are, the next with longer beaks, longer flippers and heavier bodies.
  const all = penguins(projectDir);
  const sample = all.filter((_, i) => i % 7 === 0).slice(0, 40);
  await nextWindow();
  await sendTraffic(url, token, sample);
  await nextWindow();
  await sendTraffic(
    url,
    token,
    sample.map((p) => ({
      ...p,
      beak_length_mm: Number(p.beak_length_mm) + 12,
      flipper_length_mm: Number(p.flipper_length_mm) + 25,
      body_mass_g: Number(p.body_mass_g) * 1.4,
    })),
  );
  await nextWindow();

  // The Deployments view links to the model's Monitoring page.
  await app.getByTestId("view-deployments").click();
  await app.getByTestId(`monitoring-link-${MODEL}`).click();
  await expect(app.getByTestId("monitoring-view")).toBeVisible();
  const heatmap = app.getByTestId("drift-heatmap");
  await expect(heatmap).toBeVisible();
  const drifted = heatmap.locator('[data-kind="drifted"]');
  await expect(drifted.first()).toBeVisible();
  // The shifted measurements drift in the last window; not in the one before (the deploy's parity rows come earlier).
  const cells = heatmap.locator('[data-testid^="cell-beak_length_mm-"]');
  await expect(cells.nth(-2)).toHaveAttribute("data-kind", "ok");
  await expect(cells.nth(-1)).toHaveAttribute("data-kind", "drifted");
  await expect(heatmap.locator('[data-testid^="cell-island-"]').nth(-1)).toHaveAttribute("data-kind", "ok");
  await expect(app.getByTestId("heatmap-legend")).toContainText("schema drift");

  // A cell: the reference and the current distribution overlaid, the test in words.
  await cells.nth(-1).click();
  await expect(app.getByTestId("distribution-chart")).toBeVisible();
  await expect(app.getByTestId("distribution-words")).toContainText(
    /beak_length_mm, .*Kolmogorov-Smirnov.*→ drifted/,
  );
  await expect(app.getByTestId("prediction-chart")).toBeVisible();
  await expect(app.getByTestId("performance-chart")).toBeVisible();
  await shot(app, testInfo, "monitoring");

  // Check now: the latest complete window breached, an alert is raised and listed with why.
  await expect(app.getByTestId("alerts-none")).toBeVisible();
  await app.getByTestId("monitoring-check").click();
  const alert = app.locator('[data-testid^="alert-"][data-stage="alerted"]');
  await expect(alert).toHaveCount(1, { timeout: 30_000 });
  await expect(alert).toContainText("dataset drift");
  await expect(app.getByTestId("monitoring-check")).toBeEnabled();
  await shot(app, testInfo, "monitoring-alert");
  await alert.getByRole("button", { name: "Acknowledge" }).click();
  await expect(app.getByTestId("alerts-none")).toBeVisible();
  await expect(app.getByTestId("loop-history")).toContainText("acknowledged");
  await app.getByTestId("loop-history").scrollIntoViewIfNeeded();
  await shot(app, testInfo, "monitoring-history");
});

/**
 * Two days of hourly traffic written as the server logs it (so the test
 * need not wait for hours to pass): the body mass creeps up from hour 30,
 * the sex is no longer sent from hour 42 (nothing to test), hour 10 has too few
 * rows to test, and the answers turn wrong as the penguins grow.
 */
function writeTwoDaysOfTraffic(projectDir: string, rows: Penguin[]) {
  const HOUR = 3_600_000;
  const first = Math.floor(Date.now() / HOUR) * HOUR - 48 * HOUR;
  const log: string[] = [];
  const feedback: string[] = [];
  let seq = 0;
  for (let h = 0; h < 48; h++) {
    const n = h === 10 ? 5 : 36;
    for (let k = 0; k < n; k++) {
      // A spread of the penguins every hour (the file is sorted by species).
      const p = rows[((h * 36 + k) * 97) % rows.length]!;
      const grown = h >= 30 ? 1 + (h - 29) * 0.02 : 1;
      const inputs = Object.entries(p)
        .filter(([name]) => name !== "species" && !(name === "sex" && h >= 42))
        .map(([name, v]) => ({
          name,
          datatype: typeof v === "number" ? "FP64" : "BYTES",
          shape: [1, 1],
          data: [name === "body_mass_g" ? Number(v) * grown : v],
        }));
      const wrong = h >= 30 && k % 3 === 0;
      const answer = wrong ? (p.species === "Gentoo" ? "Adelie" : "Gentoo") : String(p.species);
      seq += 1;
      const time = new Date(first + h * HOUR + k * 60_000 + 1000).toISOString();
      const requestId = `h${h}-${k}`;
      log.push(
        JSON.stringify({
          seq,
          time,
          requestId,
          model: MODEL,
          version: 1,
          role: "primary",
          latencyMs: 1,
          inputs,
          outputs: [{ name: "label", datatype: "BYTES", shape: [1], data: [answer] }],
        }),
      );
      feedback.push(JSON.stringify({ seq, time, id: requestId, label: String(p.species) }));
    }
  }
  const dir = join(servingRepository(projectDir), MODEL);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, LOG_FILE), `${log.join("\n")}\n`);
  writeFileSync(join(dir, "feedback.jsonl"), `${feedback.join("\n")}\n`);
}

test("two days of hourly windows: the latest shown first, untested cells and small windows marked", async ({
  app,
  projectDir,
}, testInfo) => {
  test.setTimeout(120_000);
  await train(app, projectDir);
  const file = join(projectDir, "dagwood.json");
  const settings = JSON.parse(readFileSync(file, "utf8"));
  settings.monitors = {
    "penguins-hourly": {
      model: `${MODEL}@champion`,
      target: "local",
      window: "1h",
      performance: { metric: "accuracy", tolerance: 0.05 },
    },
  };
  writeFileSync(file, JSON.stringify(settings, null, 2));
  writeTwoDaysOfTraffic(projectDir, penguins(projectDir));

  await app.getByTestId("view-monitoring").click();
  const heatmap = app.getByTestId("drift-heatmap");
  await expect(heatmap).toBeVisible();
  // 48 windows: the latest 20 first, the earlier ones a page back.
  await expect(app.getByTestId("heatmap-pager")).toContainText("windows 29–48 of 48");
  const sex = heatmap.locator('[data-testid^="cell-sex-"]');
  await expect(sex).toHaveCount(20);
  // No sex logged in the last hours: nothing to test, marked so (not as drift, not as a crash).
  await expect(sex.last()).toHaveAttribute("data-kind", "untested");
  await expect(sex.last()).toHaveText("–");
  await expect(heatmap.locator('[data-testid^="cell-body_mass_g-"]').last()).toHaveAttribute(
    "data-kind",
    "drifted",
  );
  await sex.last().click();
  await expect(app.getByTestId("distribution-words")).toContainText("sex, ");
  await expect(app.getByTestId("distribution-words")).toContainText("not tested");
  await expect(app.getByTestId("distribution-panel")).toContainText(
    "No value of sex was logged in this window",
  );
  await heatmap.locator('[data-testid^="cell-body_mass_g-"]').last().click();
  await expect(app.getByTestId("distribution-chart")).toBeVisible();
  await shot(app, testInfo, "monitoring-days");
  await app.getByTestId("performance-chart").scrollIntoViewIfNeeded();
  await shot(app, testInfo, "monitoring-days-charts");

  await app.getByRole("button", { name: "← Earlier" }).click();
  await expect(app.getByTestId("heatmap-pager")).toContainText("windows 9–28 of 48");
  // Hour 10 had 5 rows: under minRows, not tested.
  await expect(heatmap.locator('[data-kind="empty"]')).toHaveCount(7);
});

/** The example's retraining pipeline (resources/examples/monitoring), registering this test's model. */
function addRetrainPipeline(projectDir: string) {
  const example = JSON.parse(
    readFileSync(
      join(import.meta.dirname, "..", "resources", "examples", "monitoring", "pipelines", "retrain.dag.json"),
      "utf8",
    ),
  );
  for (const n of example.nodes) if (n.id === "register") n.params.name = MODEL;
  writeFileSync(join(projectDir, "retrain.dag.json"), JSON.stringify(example, null, 2));
}

test("a breach retrains; a challenger that does not beat the champion is not deployed; the loop links its run and version", async ({
  app,
  projectDir,
}, testInfo) => {
  test.setTimeout(300_000);
  await train(app, projectDir);
  addRetrainPipeline(projectDir);
  const file = join(projectDir, "dagwood.json");
  const settings = JSON.parse(readFileSync(file, "utf8"));
  settings.monitors = {
    "penguins-retrain": {
      model: `${MODEL}@champion`,
      target: "local",
      window: "0.25m",
      minRows: 30,
      drift: { shareThreshold: 0.25 },
      performance: { metric: "accuracy", tolerance: 0.05 },
      action: "retrain",
      retrain: { pipeline: "retrain.dag.json", params: {}, dataParam: "freshData" },
      gate: { metric: "accuracy", margin: 0, holdout: 0.3, minRows: 10 },
      promote: { mode: "canary" },
    },
  };
  writeFileSync(file, JSON.stringify(settings, null, 2));
  const url = await deploy(app);
  const token = await projectServeToken(projectDir);

  // A new field team measures the bills in centimetres (as in resources/examples/monitoring).
  const sample = penguins(projectDir)
    .filter((_, i) => i % 5 === 0)
    .slice(0, 60);
  await nextWindow();
  await sendTraffic(
    url,
    token,
    sample.map((p) => ({
      ...p,
      beak_length_mm: Number(p.beak_length_mm) / 10,
      beak_depth_mm: Number(p.beak_depth_mm) / 10,
    })),
  );
  await nextWindow();

  await app.getByTestId("view-monitoring").click();
  await app.getByTestId("monitoring-check").click();
  await expect(app.getByTestId("monitoring-check")).toContainText("Checking");
  // The check alerts, runs the retraining pipeline in the app, registers v2 and gates it on the freshest
  // labelled rows: the centimetre bills do not fool the champion's flipper splits, so v2 does not beat it.
  const loop = app.locator('[data-testid^="loop-"]').first();
  await expect(loop).toContainText("champion kept", { timeout: 180_000 });
  await expect(app.getByTestId("monitoring-check")).toContainText("Check now");
  await expect(loop).toContainText("lost the gate");
  await expect(app.getByTestId("alerts-none")).toBeVisible();
  await expect(loop.locator("summary")).toContainText(
    /champion kept: accuracy [\d.]+ \(challenger v2\) vs [\d.]+ \(champion v1\)/,
  );
  await loop.scrollIntoViewIfNeeded();
  await shot(app, testInfo, "monitoring-loop");

  // The loop's run opens in Experiments, its version in Models; v1 still serves.
  await loop.getByRole("button", { name: /^run / }).click();
  await expect(app.getByTestId("experiments-frame")).toBeVisible();
  await app.getByTestId("view-monitoring").click();
  await app.locator('[data-testid^="loop-"]').first().getByRole("button", { name: "v2" }).click();
  await expect(app.getByTestId("version-2")).toBeVisible();
  await app.getByTestId("view-deployments").click();
  await expect(app.getByTestId(`serving-${MODEL}`)).toHaveAttribute("data-version", "1");
});

test("a challenger that beats the champion waits for approval; Approve, confirmed, deploys it", async ({
  app,
  projectDir,
}, testInfo) => {
  test.setTimeout(300_000);
  await train(app, projectDir);
  addRetrainPipeline(projectDir);
  const file = join(projectDir, "dagwood.json");
  const settings = JSON.parse(readFileSync(file, "utf8"));
  settings.monitors = {
    "penguins-approve": {
      model: `${MODEL}@champion`,
      target: "local",
      window: "0.25m",
      minRows: 30,
      drift: { shareThreshold: 0.25 },
      performance: { metric: "accuracy", tolerance: 0.05 },
      action: "retrain",
      retrain: { pipeline: "retrain.dag.json", params: {}, dataParam: "freshData" },
      gate: { metric: "accuracy", margin: 0, holdout: 0.3, minRows: 10 },
      promote: { mode: "approve" },
    },
  };
  writeFileSync(file, JSON.stringify(settings, null, 2));
  const url = await deploy(app);
  const token = await projectServeToken(projectDir);

  // Bills in centimetres and flippers measured 30 mm shorter, the species mixed in time (the gate keeps the
  // freshest rows, so a file sorted by species would gate on one species).
  const all = penguins(projectDir);
  const sample = Array.from({ length: 60 }, (_, k) => all[(k * 97) % all.length]!);
  await nextWindow();
  await sendTraffic(
    url,
    token,
    sample.map((p) => ({
      ...p,
      beak_length_mm: Number(p.beak_length_mm) / 10,
      beak_depth_mm: Number(p.beak_depth_mm) / 10,
      flipper_length_mm: Number(p.flipper_length_mm) - 30,
    })),
  );
  await nextWindow();

  await app.getByTestId("view-monitoring").click();
  await app.getByTestId("monitoring-check").click();
  const waiting = app.locator('[data-testid^="alert-"][data-stage="awaiting-approval"]');
  await expect(waiting).toHaveCount(1, { timeout: 180_000 });
  await expect(waiting).toContainText(
    /Gate on \d+ fresh labelled rows: accuracy challenger [\d.]+ vs champion [\d.]+ .* passed/,
  );
  await expect(waiting.getByRole("button", { name: "Reject" })).toBeVisible();
  await shot(app, testInfo, "monitoring-approve");

  // Approve asks first: it changes what serves.
  await waiting.getByRole("button", { name: "Approve v2" }).click();
  await expect(app.getByTestId("confirm-question")).toContainText(
    `Deploy ${MODEL} v2 on local, replacing v1`,
  );
  await app.getByTestId("confirm").click();
  await expect(app.getByTestId("alerts-none")).toBeVisible({ timeout: 120_000 });
  await expect(app.locator('[data-testid^="loop-"]').first()).toContainText("promoted");
  await app.getByTestId("view-deployments").click();
  await expect(app.getByTestId(`serving-${MODEL}`)).toHaveAttribute("data-version", "2");
});
