import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { defineConfig } from "@playwright/test";

/** Debian's Chromium (`npx playwright install` cannot download here); a local Chrome elsewhere. */
const CHROMIUM =
  process.env.DAGWOOD_CHROMIUM ?? ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find(existsSync);

/** The Electron project runs only where the Electron binary was installed. */
function electronBinary(): string | undefined {
  try {
    const path = createRequire(import.meta.url)("electron") as unknown;
    return typeof path === "string" && existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

export default defineConfig({
  testDir: "e2e",
  globalSetup: "./e2e/global-setup.ts",
  outputDir: "test-results/e2e",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  reporter: [["list"], ["html", { open: "never", outputFolder: "test-results/e2e-report" }]],
  use: {
    // The smallest window the app is laid out for (e2e/layout.spec.ts also tries 1366×768 and 1920×1080).
    viewport: { width: 1280, height: 720 },
    screenshot: "only-on-failure",
    trace: "retain-on-failure",
    launchOptions: {
      ...(CHROMIUM ? { executablePath: CHROMIUM } : {}),
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
      ],
    },
  },
  projects: [
    { name: "browser", testIgnore: /perf\.spec\.ts/ },
    { name: "perf", testMatch: /perf\.spec\.ts/ },
    ...(electronBinary()
      ? [{ name: "electron", metadata: { electron: true }, testIgnore: /perf\.spec\.ts/ }]
      : []),
  ],
});
