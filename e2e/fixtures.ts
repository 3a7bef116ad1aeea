/**
 * Each test gets a fresh copy of the example project and its own app: the
 * browser-mode bridge in this process with a page on it, or, in the
 * "electron" project, the desktop app on the same project.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { _electron, test as base, type Page } from "@playwright/test";
import { createCoreApi } from "../app/api/core";
import { startHttpBridge } from "../app/api/http";
import { catalog } from "../nodes/index";

const ROOT = join(import.meta.dirname, "..");
export const EXAMPLE = join(ROOT, "resources", "examples", "starter");

/** A copy of the example project, with its data folder made absolute. */
export function copyExample(): string {
  const dir = mkdtempSync(join(tmpdir(), "dagwood-e2e-"));
  cpSync(EXAMPLE, dir, { recursive: true, filter: (src) => !src.includes(".dagwood") });
  const settings = JSON.parse(readFileSync(join(dir, "dagwood.json"), "utf8"));
  settings.dataFolders = [join(ROOT, "node_modules", "vega-datasets", "data")];
  writeFileSync(join(dir, "dagwood.json"), JSON.stringify(settings, null, 2));
  const flights = JSON.parse(readFileSync(join(dir, "flights.dag.json"), "utf8"));
  flights.nodes.find((n: { id: string }) => n.id === "flights").params.path = join(
    ROOT,
    "node_modules",
    "vega-datasets",
    "data",
    "flights-3m.parquet",
  );
  writeFileSync(join(dir, "flights.dag.json"), JSON.stringify(flights, null, 2));
  return dir;
}

export const test = base.extend<{
  projectDir: string;
  pipeline: string;
  appEnv: Record<string, string>;
  app: Page;
}>({
  /** The pipeline the editor opens first. */
  pipeline: ["penguins.dag.json", { option: true }],
  /**
   * Environment variables of the app's core (e.g. a deploy target's DAGWOOD_TOKEN_<TARGET>): the
   * Electron process's, or in browser mode this process's while the test runs.
   */
  appEnv: [{}, { option: true }],
  // biome-ignore lint/correctness/noEmptyPattern: Playwright's fixture signature
  projectDir: async ({}, use) => {
    const dir = copyExample();
    await use(dir);
    rmSync(dir, { recursive: true, force: true });
  },
  app: async ({ page, projectDir, pipeline, appEnv }, use, testInfo) => {
    if (testInfo.project.metadata?.electron) {
      // @ts-expect-error: a plain ESM script without types
      const { electronSqliteBinding } = await import("../bin/electron-native.mjs");
      const binding: string | undefined = electronSqliteBinding();
      if (!binding) throw new Error("better-sqlite3 could not be built for Electron");
      const electronApp = await _electron.launch({
        args: [join(ROOT, "dist", "main", "main.mjs"), `--project=${projectDir}`, `--pipeline=${pipeline}`],
        env: {
          ...process.env,
          ...appEnv,
          ELECTRON_DISABLE_SECURITY_WARNINGS: "1",
          DAGWOOD_SQLITE_BINDING: binding,
        },
      });
      const window = await electronApp.firstWindow();
      await use(window);
      await electronApp.close();
      return;
    }
    // The browser-mode core runs in this process: it reads its environment here.
    const saved = Object.fromEntries(Object.keys(appEnv).map((k) => [k, process.env[k]]));
    Object.assign(process.env, appEnv);
    const api = await createCoreApi({ catalog, projectDir });
    const bridge = await startHttpBridge({ api, staticDir: join(ROOT, "dist", "renderer") });
    await page.goto(`${bridge.url}?pipeline=${encodeURIComponent(pipeline)}`);
    await use(page);
    await bridge.close();
    await api.close();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  },
});

export { expect } from "@playwright/test";
