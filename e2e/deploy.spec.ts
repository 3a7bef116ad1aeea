/**
 * Deploying from the app to a `dagwood serve` the test starts itself: two
 * registered versions of a small model are deployed one after the other
 * from the Models view, parity passes, the server answers over V2 with the
 * new version, the Deployments view rolls back to the first, and the server
 * answers with it again. A second target sits behind a proxy that can
 * corrupt the server's answers: a deploy there fails parity, is rolled back
 * and is recorded as failed. With no target at all, the built-in `local`
 * target (the app's own server, on an ephemeral port here) takes a deploy
 * in one click. `DAGWOOD_SCREENSHOTS=1` also writes
 * renderer/docs/deployments.png.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "@playwright/test";
import { createServer, type DagwoodServer } from "../app/serving/server";
import { expect, test } from "./fixtures";
import { openPipeline, runThenRerunAtDepth2, shot, TREE_PIPELINE } from "./steps";

const TOKEN = "e2e-deploy-token-0123456789";
const MODEL = "penguins-tree";

// The built-in local server takes an ephemeral port, so the tests never depend on 8000 being free.
test.use({
  appEnv: { DAGWOOD_TOKEN_LOCAL: TOKEN, DAGWOOD_TOKEN_FLAKY: TOKEN, DAGWOOD_LOCAL_SERVE_PORT: "0" },
});

/** The tree pipeline, registering its test rows with the version for the deploy's parity check. */
const HELD_OUT_TREE_PIPELINE = {
  ...TREE_PIPELINE,
  description: "A decision tree on the penguins, registered with held-out rows",
  edges: [...TREE_PIPELINE.edges, { from: "split.test", to: "register.data" }],
};

interface Serving {
  server: DagwoodServer;
  url: string;
  repository: string;
  close(): Promise<void>;
}

async function startServe(): Promise<Serving> {
  const repository = mkdtempSync(join(tmpdir(), "dagwood-e2e-serve-"));
  const server = createServer({ repository, token: TOKEN, log: () => {} });
  const url = await server.listen(0, "127.0.0.1");
  return {
    server,
    url,
    repository,
    async close() {
      await server.close();
      rmSync(repository, { recursive: true, force: true });
    },
  };
}

/**
 * A V2 server that answers differently from the registry: a proxy in front
 * of a real one that, once `corrupt` is set, shifts every number an infer
 * returns and renames every label (loads, readiness and traffic pass through).
 */
async function startCorruptingProxy(upstream: string) {
  const state = { corrupt: false };
  const server: Server = createHttpServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const headers: Record<string, string> = {};
    if (req.headers.authorization) headers.authorization = req.headers.authorization;
    if (req.headers["content-type"]) headers["content-type"] = req.headers["content-type"];
    const body = chunks.length ? Buffer.concat(chunks) : undefined;
    const answer = await fetch(`${upstream}${req.url}`, {
      method: req.method,
      headers,
      ...(body && req.method !== "GET" ? { body } : {}),
    });
    let text = await answer.text();
    if (state.corrupt && answer.ok && req.url?.endsWith("/infer")) {
      const parsed = JSON.parse(text) as { outputs: { data: unknown[] }[] };
      for (const o of parsed.outputs)
        o.data = o.data.map((v) => (typeof v === "number" ? v + 0.5 : `not-${String(v)}`));
      text = JSON.stringify(parsed);
    }
    res.writeHead(answer.status, {
      "content-type": answer.headers.get("content-type") ?? "application/json",
    });
    res.end(text);
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return {
    state,
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}

function addTarget(projectDir: string, name: string, url: string) {
  const file = join(projectDir, "dagwood.json");
  const settings = JSON.parse(readFileSync(file, "utf8"));
  settings.targets = { ...settings.targets, [name]: { url, kind: "dagwood" } };
  writeFileSync(file, JSON.stringify(settings, null, 2));
}

/** Runs the tree pipeline twice, depth 4 then 2: versions 1 and 2 of the model. */
async function registerTwoVersions(app: Page, projectDir: string) {
  await openPipeline(app, projectDir, HELD_OUT_TREE_PIPELINE, "penguins-tree.dag.json");
  await runThenRerunAtDepth2(app);
}

/** Deploy… on a version in the Models view, to a target; returns the result box once it shows. */
async function deployFromModels(app: Page, version: number, target: string) {
  await app.getByTestId("view-models").click();
  await expect(app.getByTestId(`version-${version}`)).toBeVisible();
  await app.getByTestId(`deploy-button-${version}`).click();
  const dialog = app.getByTestId("deploy-dialog");
  await dialog.getByTestId(`deploy-target-${target}`).check();
  await dialog.getByTestId("confirm").click();
  const result = dialog.getByTestId("deploy-result");
  await expect(result).toBeVisible({ timeout: 60_000 });
  return result;
}

const closeDialog = (app: Page) => app.getByTestId("deploy-dialog").getByTestId("deploy-close").click();

/** One penguin through V2 infer (by model: the traffic policy picks); the version that answered. */
async function inferVersion(url: string): Promise<string> {
  const meta = (await (await fetch(`${url}/v2/models/${MODEL}`)).json()) as {
    inputs: { name: string; datatype: string }[];
  };
  const row: Record<string, string | number> = {
    island: "Torgersen",
    beak_length_mm: 39.1,
    beak_depth_mm: 18.7,
    flipper_length_mm: 181,
    body_mass_g: 3750,
    sex: "MALE",
  };
  const inputs = meta.inputs.map((i) => ({
    name: i.name,
    datatype: i.datatype,
    shape: [1, 1],
    data: [row[i.name] ?? (i.datatype === "BYTES" ? "" : 0)],
  }));
  const res = await fetch(`${url}/v2/models/${MODEL}/infer`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ inputs }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { model_version: string; outputs: { name: string; data: unknown[] }[] };
  expect(body.outputs.find((o) => o.name === "label")?.data[0]).toBe("Adelie");
  expect(res.headers.get("x-dagwood-model-version")).toBe(body.model_version);
  return body.model_version;
}

test("the Deployments view says how to add a target, and how to start one that does not answer", async ({
  app,
  projectDir,
}) => {
  await app.getByTestId("view-deployments").click();
  await expect(app.getByTestId("deployments-empty")).toContainText('"targets"');
  await expect(app.getByTestId("deployments-empty")).toContainText("DAGWOOD_TOKEN_LOCAL");
  // Port 9 (discard) refuses the connection.
  addTarget(projectDir, "down", "http://127.0.0.1:9");
  await app.getByTestId("deployments-refresh").click();
  const target = app.getByTestId("target-down");
  await expect(target).toHaveAttribute("data-health", "down");
  await expect(target).toContainText("Cannot reach");
  await expect(target).toContainText("dagwood serve --port 9");
  await expect(target).toContainText("set DAGWOOD_TOKEN_DOWN");
});

test("deploy two versions from the app, query them over V2, roll back from the Deployments view", async ({
  app,
  projectDir,
}, testInfo) => {
  test.setTimeout(180_000);
  const serve = await startServe();
  try {
    await registerTwoVersions(app, projectDir);
    addTarget(projectDir, "local", serve.url);

    const first = await deployFromModels(app, 1, "local");
    await expect(first).toHaveAttribute("data-status", "succeeded");
    await expect(first).toContainText("parity passed");
    await expect(first).toContainText("held-out rows");
    await closeDialog(app);
    expect(await inferVersion(serve.url)).toBe("1");

    const second = await deployFromModels(app, 2, "local");
    await expect(second).toHaveAttribute("data-status", "succeeded");
    await expect(second).toContainText("parity passed");
    await closeDialog(app);
    expect(await inferVersion(serve.url)).toBe("2");
    // The model's history has both deployments.
    await expect(app.getByTestId("audit-timeline")).toContainText("v2 deployed to local");

    // The lineage graph ends in the deployments.
    await app.getByTestId("view-lineage").click();
    await expect(app.locator('[data-testid^="lineage-node-"][data-kind="deployment"]').first()).toBeVisible();

    // The Deployments view: health, what serves, the history; then roll back to v1.
    await app.getByTestId("view-deployments").click();
    const target = app.getByTestId("target-local");
    await expect(target).toHaveAttribute("data-health", "ready");
    await expect(target).toContainText("DAGWOOD_TOKEN_LOCAL");
    const serving = app.getByTestId(`serving-${MODEL}`);
    await expect(serving).toHaveAttribute("data-version", "2");
    await expect(serving.getByTestId("deployment-entry")).toHaveCount(2);
    await app.getByTestId(`rollback-${MODEL}-1`).click();
    await expect(app.getByTestId("confirm-question")).toContainText(`Make ${MODEL} v1 serve on local again`);
    await app.getByTestId("confirm").click();
    await expect(serving).toHaveAttribute("data-version", "1", { timeout: 30_000 });
    await expect(serving.getByTestId("deployment-entry").first()).toHaveAttribute(
      "data-action",
      "deployment.rolledBack",
    );
    expect(await inferVersion(serve.url)).toBe("1");

    // A canary share: half the requests to v2.
    await app.getByTestId(`canary-version-${MODEL}`).selectOption("2");
    await app.getByTestId(`canary-slider-${MODEL}`).fill("50");
    await app.getByTestId(`traffic-apply-${MODEL}`).click();
    await expect(app.getByTestId(`serving-version-${MODEL}`)).toHaveText("v1 (canary 50 % → v2)");
    const answered = new Set<string>();
    for (let i = 0; i < 40; i++) answered.add(await inferVersion(serve.url));
    expect([...answered].sort()).toEqual(["1", "2"]);
    // The traffic shows up in the charts (from /metrics) at the next refresh.
    await app.getByTestId("deployments-refresh").click();
    await expect(app.getByTestId(`traffic-${MODEL}`)).toBeVisible();
    await shot(app, testInfo, "deployments");
  } finally {
    await serve.close();
  }
});

test("a deploy whose parity fails is rolled back and recorded as failed", async ({ app, projectDir }) => {
  test.setTimeout(180_000);
  const serve = await startServe();
  const proxy = await startCorruptingProxy(serve.url);
  try {
    await registerTwoVersions(app, projectDir);
    addTarget(projectDir, "flaky", proxy.url);

    const first = await deployFromModels(app, 1, "flaky");
    await expect(first).toHaveAttribute("data-status", "succeeded");
    await closeDialog(app);

    proxy.state.corrupt = true;
    const failed = await deployFromModels(app, 2, "flaky");
    await expect(failed).toHaveAttribute("data-status", "failed");
    await expect(failed).toContainText("Parity failed: v2 was rolled back on flaky");
    await expect(failed).toContainText(`${MODEL} v1 serves again on flaky`);
    await closeDialog(app);
    proxy.state.corrupt = false;
    expect(await inferVersion(serve.url)).toBe("1");

    await app.getByTestId("view-deployments").click();
    const serving = app.getByTestId(`serving-${MODEL}`);
    await expect(serving).toHaveAttribute("data-version", "1");
    const latest = serving.getByTestId("deployment-entry").first();
    await expect(latest).toHaveAttribute("data-action", "deployment.failed");
    await expect(latest).toContainText("parity failed");
    await expect(latest).toContainText("rolled back to v1");
  } finally {
    await proxy.close();
    await serve.close();
  }
});

test("with no target, one click deploys to the built-in local server, which answers V2 infer", async ({
  app,
  projectDir,
}, testInfo) => {
  test.setTimeout(180_000);
  const settings = JSON.parse(readFileSync(join(projectDir, "dagwood.json"), "utf8"));
  expect(settings.targets ?? {}).toEqual({});
  await registerTwoVersions(app, projectDir);

  // The Deployments view lists the built-in target, stopped, with Start.
  await app.getByTestId("view-deployments").click();
  const card = app.getByTestId("target-local");
  await expect(card).toHaveAttribute("data-builtin", "true");
  await expect(card).toHaveAttribute("data-running", "false");
  await expect(card.getByTestId("local-start")).toBeVisible();

  // Deploy → local (built in): the dialog starts the server, then deploys and checks parity.
  await app.getByTestId("view-models").click();
  await app.getByTestId("deploy-button-1").click();
  const dialog = app.getByTestId("deploy-dialog");
  await expect(dialog.getByTestId("deploy-target-local").locator("..")).toContainText("local (built in)");
  await dialog.getByTestId("deploy-target-local").check();
  await dialog.getByTestId("confirm").click();
  const result = dialog.getByTestId("deploy-result");
  await expect(result).toBeVisible({ timeout: 60_000 });
  await expect(result).toHaveAttribute("data-status", "succeeded");
  await expect(result).toContainText("parity passed");
  await expect(result).toContainText("serves on local (built in)");
  const inferUrl = await dialog.getByTestId("deploy-infer-url").textContent();
  expect(inferUrl).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/v2/models/${MODEL}/infer$`));
  await closeDialog(app);

  // The Deployments view: running, its URL and how to call it; V2 infer on that URL answers, no token needed.
  await app.getByTestId("view-deployments").click();
  await expect(card).toHaveAttribute("data-running", "true");
  await expect(card).toHaveAttribute("data-health", "ready");
  const url = (await card.getByTestId("local-url").textContent()) ?? "";
  expect(inferUrl).toBe(`${url}/v2/models/${MODEL}/infer`);
  await expect(app.getByTestId(`serving-${MODEL}`)).toHaveAttribute("data-version", "1");
  expect(await inferVersion(url)).toBe("1");

  // The request shown beside the model works as pasted: a real held-out row, each input explained.
  const snippet = app.getByTestId(`infer-curl-${MODEL}`);
  await expect(snippet).toBeVisible();
  await expect(snippet).toContainText(`curl -s -X POST ${url}/v2/models/${MODEL}/infer`);
  await expect(app.getByTestId(`infer-snippet-${MODEL}`)).toContainText("a real held-out row");
  await expect(app.getByTestId("infer-input-island")).toContainText("a category, as a string");
  await expect(app.getByTestId("infer-input-island")).toContainText(/"(Biscoe|Dream|Torgersen)"/);
  await expect(app.getByTestId("infer-input-body_mass_g")).toContainText("a number");
  await expect(app.getByTestId(`infer-outputs-${MODEL}`)).toContainText("Adelie, Chinstrap, Gentoo");
  const pasted = (await snippet.textContent()) ?? "";
  // Copy puts that very text on the clipboard, and says so.
  await app.context().grantPermissions(["clipboard-read", "clipboard-write"]);
  await app.getByRole("button", { name: `Copy the curl command for ${MODEL}` }).click();
  await expect(app.getByTestId("toast")).toContainText("Curl command copied");
  expect(await app.evaluate(() => navigator.clipboard.readText())).toBe(pasted);
  // The exact text, run by a shell with curl, and the HTTP status written after the answer.
  // Run asynchronously: the app's server answers from this very process.
  const ran = await new Promise<string>((resolve, reject) =>
    execFile("sh", ["-c", `${pasted} -w '\\n%{http_code}'`], { timeout: 30_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
    ),
  );
  const status = ran.slice(ran.lastIndexOf("\n") + 1);
  const answer = JSON.parse(ran.slice(0, ran.lastIndexOf("\n"))) as {
    model_version: string;
    outputs: { name: string; data: unknown[]; parameters?: Record<string, unknown> }[];
  };
  expect(status, ran).toBe("200");
  expect(answer.model_version).toBe("1");
  // The probabilities name their columns: the penguin species (V2 parameters carry the list as JSON text).
  const probabilities = answer.outputs.find((o) => o.name === "probabilities")!;
  const names = JSON.parse(String(probabilities.parameters?.class_names)) as string[];
  expect(names).toEqual(["Adelie", "Chinstrap", "Gentoo"]);
  const label = answer.outputs.find((o) => o.name === "label")!.data[0];
  const probs = probabilities.data as number[];
  expect(label).toBe(names[probs.indexOf(Math.max(...probs))]);
  await shot(app, testInfo, "deployments-local");

  // Stop, then Start: the same model serves again from the project's .dagwood/serving.
  await card.getByTestId("local-stop").click();
  await expect(card).toHaveAttribute("data-running", "false");
  await expect(fetch(`${url}/v2/health/live`)).rejects.toThrow();
  await card.getByTestId("local-start").click();
  await expect(card).toHaveAttribute("data-running", "true", { timeout: 30_000 });
  const restarted = (await card.getByTestId("local-url").textContent()) ?? "";
  expect(await inferVersion(restarted)).toBe("1");
});
